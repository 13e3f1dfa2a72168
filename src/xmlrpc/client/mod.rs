//! The client layer: calls to other XML-RPC servers.
//!
//! Python's `xmlrpclib.ServerProxy` blocks on one call at a time; the
//! reactor client runs many at once on the loop's own thread. Both parse
//! URLs the same way and read responses with the same limits. They use the
//! codec (the files above this folder), `crate::http` (body framing,
//! gunzip), `crate::handlers::percent_decode` (the URL's user info), and
//! the reactor client `crate::reactor` and `crate::chat`.
//!
//! | file | concept |
//! | --- | --- |
//! | `blocking.rs` | [`Client`](crate::xmlrpc::Client), [`Transport`](crate::xmlrpc::Transport), `dumps`/`loads`, and the response checks both clients share |
//! | `async_client/` | [`AsyncClient`](crate::xmlrpc::AsyncClient): the reactor client, a hub and pooled connections |
//! | `url.rs` | the one URL parser of both clients |

pub(super) mod async_client;
pub(super) mod blocking;
mod url;
