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
//! Read in this order: each row uses only rows above it (its last column
//! says which). [`xmlrpc`] spans three rows, its folders being its layers:
//! the codec at its top uses nothing else in the crate, `server/` sits on
//! [`http`] (and the reactor, for program-backed methods' pipes), and
//! `client/` on [`http`]'s codec and the reactor.
//!
//! | module | ports | concept | uses |
//! | --- | --- | --- | --- |
//! | [`reactor`] | `asyncore` | the socket map, the loop, dispatchers, timers, waker, signals | — |
//! | [`producers`] | `producers.py` | output generated a piece at a time | — |
//! | [`chat`] | `asynchat` | buffered channels: terminators in, producers out | reactor, producers |
//! | [`http`] | `http_server.py` | HTTP server, channel, request, response, `Handler` | reactor, producers, chat |
//! | [`xmlrpc`], its codec | `xmlrpc.client` (`xmlrpclib`) | values, faults, decoding and encoding XML-RPC documents | — |
//! | [`xmlrpc`], `server/` | Medusa's `xmlrpc_handler`, `SimpleXMLRPCServer` | the service trait, registries, worker threads, program-backed methods, answering | codec, http, reactor |
//! | [`xmlrpc`], `client/` | `xmlrpclib.ServerProxy` | the blocking client and the reactor client | reactor, chat, http (its codec), codec |
//! | [`handlers`] | Medusa's `*_handler.py` | what gets installed on a server, the XML-RPC service among them | producers, http, xmlrpc (codec, server) |
//!
//! The daemon, `medusad`, is not part of the library: it is the binary in
//! `src/bin/medusad/` (its command line, the master and workers of
//! `--workers N`, restart backoff, systemd socket activation), built on
//! the public API above ([`HttpServer::from_listener`](http::HttpServer::from_listener)
//! for a socket it inherited, [`reactor::listen`] for one it holds for its
//! workers, [`HttpConfig::access_log_tag`](http::HttpConfig::access_log_tag)
//! for their shared access log).
//!
//! `docs/architecture.md` has the full table of Python names and their Rust
//! counterparts; `docs/readiness.md` explains what edge-triggered readiness
//! changes about the asyncore model.

#![warn(missing_docs)]

pub mod chat;
pub mod http;
pub mod producers;
pub mod reactor;
pub mod xmlrpc;

#[path = "../handlers/mod.rs"]
pub mod handlers;

#[doc(hidden)]
pub mod fuzzing;

/// Every code block of the docs, compiled and run as a doctest, so that
/// what a reader copies works (untagged blocks count as Rust: tag the
/// others `sh`, `text`, ...).
#[cfg(doctest)]
mod docs {
    #[doc = include_str!("../README.md")]
    mod readme {}
    #[doc = include_str!("../docs/architecture.md")]
    mod architecture {}
    #[doc = include_str!("../docs/async.md")]
    mod async_ {}
    #[doc = include_str!("../docs/benchmarks.md")]
    mod benchmarks {}
    #[doc = include_str!("../docs/config.md")]
    mod config {}
    #[doc = include_str!("../docs/deploying.md")]
    mod deploying {}
    #[doc = include_str!("../docs/http.md")]
    mod http {}
    #[doc = include_str!("../docs/json.md")]
    mod json {}
    #[doc = include_str!("../docs/readiness.md")]
    mod readiness {}
    #[doc = include_str!("../docs/security.md")]
    mod security {}
    #[doc = include_str!("../docs/xmlrpc.md")]
    mod xmlrpc {}
}
