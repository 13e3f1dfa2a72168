//! `HttpConfig`: every limit of the HTTP server in one place.

use std::net::IpAddr;
use std::time::Duration;

use super::AccessLog;
use crate::chat::ChatConfig;

/// Limits and settings of an [`HttpServer`](super::HttpServer). The defaults
/// suit a public-facing XML-RPC server; `docs/http.md` explains each.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Request line plus headers, in bytes. Over it: 431. Default 16 KiB.
    pub max_header_bytes: usize,
    /// Number of header fields. Over it: 431. Default 100.
    pub max_headers: usize,
    /// Request body, in bytes (decoded size for chunked bodies). Over it:
    /// 413, answered before the body is read. Default 10 MiB.
    pub max_body_bytes: u64,
    /// A request body's size once its `Content-Encoding` (gzip) is
    /// undone, for handlers that decode it (the XML-RPC handler does, with
    /// [`Request::decoded_body`](super::Request::decoded_body)). Over it:
    /// 413. `None` (the default): the same as `max_body_bytes`, so a small
    /// gzip body cannot inflate past what a plain one may be.
    pub max_decoded_body_bytes: Option<u64>,
    /// Most gzip members in one encoded body; each costs a fresh inflate
    /// state, so a body of thousands of empty members is work out of
    /// proportion to its size. Over it: 413. Default 16.
    pub max_gzip_members: usize,
    /// How long a kept-alive connection may sit between requests before it
    /// is closed (quietly: no request is pending). Default 30 s.
    pub idle_timeout: Duration,
    /// Time a TLS client has, from the accept, to finish its handshake;
    /// one that has not is closed and counted as a failed handshake. Short
    /// by default: a handshake is a few round trips, and a stalled one
    /// holds a connection slot and rustls' state. Default 10 s.
    pub handshake_timeout: Duration,
    /// Time allowed to receive a whole request, from its first byte to the
    /// end of its body. Slower senders get 408 and are cut off. Default 30 s.
    pub request_timeout: Duration,
    /// How long a deferred reply (see [`Responder`](super::Responder)) may
    /// take before the request is answered 504 and the connection closed.
    /// Default 60 s.
    pub response_timeout: Duration,
    /// Open connections; a connection accepted beyond it is closed at once.
    /// Default 10,000.
    pub max_connections: usize,
    /// Value of the `Server` header.
    pub server_name: String,
    /// Buffering and backpressure of each connection.
    pub chat: ChatConfig,
    /// Where the access log goes. Default: the `log` crate, target
    /// `medusa::access`. [`AccessLog::File`] and [`AccessLog::Stderr`] are
    /// much cheaper per request.
    pub access_log: AccessLog,
    /// Proxies whose `X-Forwarded-For` is believed: a request from one of
    /// them is logged under the client address the header gives (see
    /// `forwarded.rs`). Empty (the default): the header is ignored.
    pub trusted_proxies: Vec<IpAddr>,
    /// Header fields added to every response, e.g. medusad's
    /// `X-Medusa-Worker`. Default none.
    pub extra_headers: Vec<(String, String)>,
    /// Text appended, after a space, to each line an [`AccessLog::File`]
    /// or [`AccessLog::Stderr`] gets, e.g. `pid=4242` from each of
    /// medusad's workers (`--workers`),
    /// so that processes sharing one file say which served what. The
    /// `log` sink's lines are `log` records, which the program's logger
    /// formats (medusad's puts the pid there). No control characters
    /// (a line break would forge lines): the server refuses them when
    /// created. Default none.
    pub access_log_tag: Option<String>,
    /// The names a TCP client may put in `Host` (without the port): others
    /// get 421, so a web page whose name an attacker points at 127.0.0.1
    /// (DNS rebinding) cannot call the server from a browser. `*` allows
    /// any. Empty (the default): any. Unix-domain peers are not checked
    /// (no browser reaches them). See `host_allowed`.
    pub allowed_hosts: Vec<String>,
    /// Browser callers from other origins (CORS). Default: none.
    pub cors: super::CorsConfig,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            max_body_bytes: 10 * 1024 * 1024,
            max_decoded_body_bytes: None,
            max_gzip_members: super::DEFAULT_GZIP_MEMBERS,
            idle_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            response_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            server_name: concat!("medusa/", env!("CARGO_PKG_VERSION")).to_string(),
            chat: ChatConfig::default(),
            access_log: AccessLog::default(),
            trusted_proxies: Vec::new(),
            extra_headers: Vec::new(),
            access_log_tag: None,
            allowed_hosts: Vec::new(),
            cors: super::CorsConfig {
                origins: Vec::new(),
                max_age: Duration::from_secs(600),
            },
        }
    }
}

impl HttpConfig {
    /// The limits the channel's message reader enforces on a request.
    pub fn message_limits(&self) -> super::MessageLimits {
        super::MessageLimits {
            max_head_bytes: self.max_header_bytes,
            max_headers: self.max_headers,
            max_body_bytes: self.max_body_bytes,
        }
    }

    /// The limits a request body's gzip decoding works within.
    pub fn gunzip_limits(&self) -> super::GunzipLimits {
        super::GunzipLimits {
            max_output: self.max_decoded_body_bytes.unwrap_or(self.max_body_bytes),
            max_members: self.max_gzip_members,
        }
    }
}
