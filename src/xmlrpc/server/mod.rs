//! The server layer: what a service implements, and what answers for it.
//!
//! Medusa's `xmlrpc_handler` decoded a request, called the service's
//! `call`, and encoded the result; `SimpleXMLRPCServer` added a registry of
//! functions with `system.*` methods. Here the service hook, the registry,
//! the worker threads for blocking methods and the step from a result to an
//! HTTP response live side by side. They use the codec (the files above this
//! folder) and `crate::http`; `handlers::XmlRpcHandler` installs a service
//! on a server.
//!
//! | file | concept |
//! | --- | --- |
//! | `service.rs` | [`XmlRpcService`](crate::xmlrpc::XmlRpcService), its context and deferred replies |
//! | `registry.rs` | [`Registry`](crate::xmlrpc::Registry): typed methods by name |
//! | `system.rs` | the registry's `system.*` methods: introspection |
//! | `multicall.rs` | `system.multicall`, its deferred calls gathered back in order |
//! | `remote/` | [`Remote`](crate::xmlrpc::Remote): another XML-RPC server mounted behind a prefix, its method list kept |
//! | `method.rs` | [`Method`](crate::xmlrpc::Method), [`IntoReply`](crate::xmlrpc::IntoReply): a typed function's parameters and result |
//! | `signature.rs` | a typed function's signature, inferred from its Rust types |
//! | `workers.rs` | [`WorkerPool`](crate::xmlrpc::WorkerPool): threads for methods that block |
//! | `program/` | [`ProgramMethod`](crate::xmlrpc::ProgramMethod): methods backed by programs, their pipes a dispatcher on the loop |
//! | `answering.rs` | a result (now or later) to its HTTP response, and the handler's counters |
//! | `method_stats.rs` | calls, faults and latency per method name, the names bounded |

pub(super) mod answering;
pub(super) mod method;
mod method_stats;
mod multicall;
pub(super) mod program;
pub(super) mod registry;
pub(super) mod remote;
pub(super) mod service;
mod signature;
pub(super) mod system;
pub(super) mod workers;
