//! Handlers: what gets installed on an [`HttpServer`](crate::http::HttpServer)
//! (Medusa's `default_handler`, `status_handler`, `auth_handler`; the
//! XML-RPC handler joins them with the XML-RPC layer).
//!
//! This folder sits at the top of the repository because it is the
//! pluggable, user-facing part; it is compiled into the library from
//! `src/lib.rs`. Each handler implements [`Handler`](crate::http::Handler):
//! `matches(request)` (Medusa's `match`) and `handle_request`.

mod auth;
mod beneath;
mod favicon;
mod file;
mod landing;
mod listing;
mod status;
mod xmlrpc;

pub use crate::http::percent_decode;
pub use auth::AuthHandler;
pub use favicon::FaviconHandler;
pub use file::{content_type, FileHandler};
pub use landing::LandingHandler;
pub use status::StatusHandler;
pub use xmlrpc::{XmlRpcConfig, XmlRpcHandler};
