//! The client layer: calls to other XML-RPC servers.
//!
//! Python's `xmlrpclib.ServerProxy` blocks on one call at a time; the
//! reactor client runs many at once on the loop's own thread. Both parse
//! URLs the same way and read responses with the same HTTP message reader
//! and limits. They use the XML-RPC codec (the files above this folder),
//! `crate::http::codec` (the message reader, gunzip, %-decoding of the
//! URL's user info), and the reactor client `crate::reactor` and
//! `crate::chat`.
//!
//! | file | concept |
//! | --- | --- |
//! | `blocking.rs` | [`Client`](crate::xmlrpc::Client), [`Transport`](crate::xmlrpc::Transport), `dumps`/`loads` |
//! | `answer.rs` | what both clients make of a response (read by `crate::http::codec`): limits, status, content coding, the answer |
//! | `error.rs` | [`ClientError`](crate::xmlrpc::ClientError) |
//! | `async_client/` | [`AsyncClient`](crate::xmlrpc::AsyncClient): the reactor client, a hub and pooled connections |
//! | `url.rs` | the one URL parser of both clients: `http://`, and `unix://` / `http+unix://` for Unix-domain sockets |

mod answer;
pub(super) mod async_client;
pub(super) mod blocking;
pub(super) mod error;
pub(super) mod socket;
pub(super) mod tls;
pub(crate) mod url;
