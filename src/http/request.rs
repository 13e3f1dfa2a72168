//! `Request`: one parsed HTTP request (Medusa's `http_request`); its head
//! is parsed in `codec/request_head.rs`.

use std::borrow::Cow;

use super::codec::{content_decoded, has_token, header, persistent};
use super::{HttpConfig, HttpError};
use crate::reactor::Peer;

/// HTTP version of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0 (RFC 1945).
    Http10,
    /// HTTP/1.1, which real clients (curl, Python's xmlrpc.client) send.
    Http11,
}

impl Version {
    /// As it appears in a status line.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// One request, complete with its body, handed to a handler.
#[doc(alias = "http_request")]
#[derive(Clone, Debug)]
pub struct Request {
    /// `GET`, `POST`, ... exactly as sent (methods are case-sensitive).
    pub method: String,
    /// The request target as sent, e.g. `/RPC2` or `/a%20b?x=1`.
    pub uri: String,
    /// The path part of the target (before `?`), still percent-encoded.
    pub path: String,
    /// The query (after `?`), if any, still percent-encoded.
    pub query: Option<String>,
    /// Protocol version.
    pub version: Version,
    /// Header fields in order of arrival; names as sent.
    pub headers: Vec<(String, String)>,
    /// The body (empty when there is none).
    pub body: Vec<u8>,
    /// Who sent it.
    pub peer: Option<Peer>,
    /// The authenticated user, set by the auth handler, for the access log.
    pub user: Option<String>,
}

impl Request {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// Whether a comma-separated header (e.g. `Connection`) lists `token`.
    pub fn header_has_token(&self, name: &str, token: &str) -> bool {
        has_token(&self.headers, name, token)
    }

    /// Medusa's persistence rule: 1.1 stays open unless `Connection:
    /// close`; 1.0 only with `Connection: keep-alive`.
    pub fn wants_keep_alive(&self) -> bool {
        persistent(self.version, &self.headers)
    }

    /// The body with its `Content-Encoding` undone (gzip, x-gzip or
    /// identity), within the server's limits (`max_decoded_body_bytes`,
    /// `max_gzip_members`): what a handler that reads bodies should use.
    /// Errors carry their status: 400 for a corrupt stream, 413 over a
    /// limit, 501 for a coding not supported.
    pub fn decoded_body(&self, config: &HttpConfig) -> Result<Cow<'_, [u8]>, HttpError> {
        content_decoded(&self.headers, &self.body, config.gunzip_limits())
    }

    /// [`decoded_body`](Self::decoded_body), taking the body out of the
    /// request: without a coding the buffer itself, with gzip the inflated
    /// bytes (the compressed ones freed). A handler done with the body once
    /// it has read it then holds a large body once, not twice.
    pub fn take_decoded_body(&mut self, config: &HttpConfig) -> Result<Vec<u8>, HttpError> {
        let body = std::mem::take(&mut self.body);
        let inflated = match content_decoded(&self.headers, &body, config.gunzip_limits())? {
            Cow::Borrowed(_) => None,
            Cow::Owned(inflated) => Some(inflated),
        };
        Ok(inflated.unwrap_or(body))
    }

    /// The request line, for logs: `GET /path HTTP/1.1`.
    pub fn request_line(&self) -> String {
        format!("{} {} {}", self.method, self.uri, self.version.as_str())
    }
}
