//! Handlers: what gets installed on a server (Medusa's `default_handler`,
//! `status_handler`, `auth_handler`, `xmlrpc_handler`).
//!
//! This folder sits at the top of the repository because it is the
//! pluggable, user-facing part; it is compiled into the library from
//! `src/lib.rs`. The HTTP server and its handlers are built on the reactor
//! and chat layers; until they land this module is empty.
