//! medusa: a Medusa-style, single-threaded, event-loop network server, and
//! the XML-RPC stack on top of it.
//!
//! Sam Rushing's Medusa (the origin of Python's `asyncore` and `asynchat`)
//! showed that one thread and one `select` loop can serve thousands of
//! clients. This crate ports that idea to Rust on mio, and keeps it readable
//! enough to study beside the Python.
//!
//! # Layout
//!
//! Read in this order; each layer only uses the ones above it.
//!
//! | module | ports | concept |
//! | --- | --- | --- |
//! | [`reactor`] | `asyncore` | the socket map, the loop, dispatchers, timers, waker, signals |
//! | [`producers`] | `producers.py` | output generated a piece at a time |
//! | [`chat`] | `asynchat` | buffered channels: terminators in, producers out |
//! | [`http`] | `http_server.py` | HTTP server, channel, request, response, `Handler` |
//! | [`handlers`] | Medusa's `*_handler.py` | what gets installed on a server |
//! | [`xmlrpc`] | `xmlrpc.client` (`xmlrpclib`) | values, faults, decoding and encoding XML-RPC documents |
//!
//! `docs/architecture.md` has the full table of Python names and their Rust
//! counterparts; `docs/readiness.md` explains what edge-triggered readiness
//! changes about the asyncore model.

#![warn(missing_docs)]

pub mod chat;
pub mod daemon;
pub mod http;
pub mod producers;
pub mod reactor;
pub mod xmlrpc;

#[path = "../handlers/mod.rs"]
pub mod handlers;

#[doc(hidden)]
pub mod fuzzing;
