//! The HTTP server: a port of Medusa's `http_server.py`.
//!
//! Medusa's `http_server` is a listening dispatcher; each accepted socket
//! becomes an `http_channel` (an `async_chat`) that reads a request head up
//! to the blank line, then its body, and walks the server's *handlers*: the
//! first whose `match(request)` says yes handles it. Handlers are installed
//! with `install_handler`, which puts them at the front.
//!
//! Here: [`HttpServer`] (listening dispatcher, `install_handler`),
//! [`HttpChannel`] (a [`ChatHandler`](crate::chat::ChatHandler) whose
//! terminators, `\r\n\r\n` then `Length(n)` or the chunked ones, come from
//! the sans-IO message reader in [`codec`], which both XML-RPC clients
//! use too), [`Request`], [`Response`], and the [`Handler`] trait.
//!
//! # Differences from Medusa
//!
//! - HTTP/1.1 requests are first-class (persistent by default, chunked
//!   request bodies, `Expect: 100-continue`), since real clients send 1.1.
//! - Every limit is in [`HttpConfig`]; every malformed or oversize request
//!   gets a 4xx answer rather than a dropped connection.
//! - A handler returns a [`Response`] instead of pushing into the request.
//! - A panicking handler costs its own request a 500, nothing more.

// Peer-controlled sizes and counts: arithmetic here must say what happens
// at the edges (checked, saturating), never wrap silently in release.
#![warn(clippy::arithmetic_side_effects)]

mod access_log;
mod allowed_host;
mod channel;
pub mod codec;
mod config;
mod cors;
mod date;
mod deferred;
mod forwarded;
mod handler;
mod histogram;
mod metrics;
mod page;
mod rate_history;
mod request;
mod response;
mod server;

pub use access_log::AccessLog;
pub use allowed_host::{host_allowed, loopback_names};
pub use channel::HttpChannel;
pub use codec::{
    chunk_size, content_length, gunzip, gzip, percent_decode, GunzipError, GunzipLimits,
    MessageLimits, DEFAULT_GZIP_MEMBERS,
};
pub(crate) use codec::{parse_head, parse_terminated_head};
pub use config::HttpConfig;
pub use cors::CorsConfig;
pub use date::http_date_now;
pub use deferred::{Later, Outcome, Responder};
pub use forwarded::client_address;
pub(crate) use handler::Deferral;
pub use handler::{Handler, HandlerStatus, ServerView};
pub use histogram::{Histogram, HistogramSnapshot, LATENCY_BUCKETS};
pub use metrics::{Gauge, HandlerMetrics, OperationStats};
pub use page::{page_start, page_start_with, PAGE_END, PAGE_STYLE};
pub use rate_history::{RateHistory, HISTORY_INTERVAL, HISTORY_SLOTS};
pub use request::{Request, Version};
pub use response::{html_escape, reason_phrase, Body, Response};
pub use server::{AccessLogHandle, ChannelInfo, HandlerChain, HttpServer, HttpStats, TlsSetting};

use std::fmt;

/// A request the server refuses, with the status to answer it with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpError {
    /// 4xx or 5xx.
    pub status: u16,
    /// Short explanation, sent in the error page.
    pub detail: String,
}

impl HttpError {
    /// An error with `status`.
    pub fn new(status: u16, detail: &str) -> HttpError {
        HttpError {
            status,
            detail: detail.to_string(),
        }
    }

    /// A 400.
    pub fn bad_request(detail: &str) -> HttpError {
        HttpError::new(400, detail)
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status,
            reason_phrase(self.status),
            self.detail
        )
    }
}

impl std::error::Error for HttpError {}
