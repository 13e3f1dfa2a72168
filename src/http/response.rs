//! `Response`: what a handler returns, and how it is put on the wire.
//!
//! Medusa's handlers called `request.push(...)`, `request['Content-Type'] =
//! ...` and `request.done()`. Here a handler returns a `Response` value and
//! the channel does the `done()` part: status line, `Date`, `Server`,
//! framing headers, `Connection`, then the body, coalesced so that a small
//! response is one write.

use super::date::with_http_date;
use super::request::Version;
use super::HttpConfig;
use crate::producers::Producer;

/// A response body.
pub enum Body {
    /// No body.
    Empty,
    /// Bytes in memory.
    Bytes(Vec<u8>),
    /// Output produced as the socket drains (e.g. a file). With a known
    /// `length` it is sent with `Content-Length`; without, chunked to
    /// HTTP/1.1 clients and close-delimited to HTTP/1.0 ones.
    Stream {
        /// The producer.
        producer: Box<dyn Producer>,
        /// Its total length, if known.
        length: Option<u64>,
    },
}

impl Body {
    /// Length when known ahead.
    pub fn len(&self) -> Option<u64> {
        match self {
            Body::Empty => Some(0),
            Body::Bytes(b) => Some(b.len() as u64),
            Body::Stream { length, .. } => *length,
        }
    }

    /// Whether the body is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
}

/// A status, headers and a body.
pub struct Response {
    /// Status code, e.g. 200.
    pub status: u16,
    /// Headers besides those the server adds (`Date`, `Server`,
    /// `Content-Length`/`Transfer-Encoding`, `Connection`).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Body,
    /// Close the connection after this response.
    pub close: bool,
}

impl Response {
    /// An empty response with `status`.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Empty,
            close: false,
        }
    }

    /// A 200 with a body of the given content type.
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response::new(200)
            .with_header("Content-Type", content_type)
            .with_body(body)
    }

    /// Medusa's `request.error(code)`: a short HTML page saying what went
    /// wrong.
    pub fn error(status: u16, detail: &str) -> Response {
        let reason = reason_phrase(status);
        let title = format!("{status} {reason}");
        let mut body = super::page::page_start(&title);
        body.push_str(&format!(
            "<h1>{}</h1>\n<p class=\"detail\">{}</p>\n",
            html_escape(&title),
            html_escape(detail)
        ));
        body.push_str(super::page::PAGE_END);
        Response::new(status)
            .with_header("Content-Type", "text/html; charset=utf-8")
            .with_body(body)
    }

    /// 405 with the `Allow` header listing what the resource supports.
    pub fn method_not_allowed(allow: &[&str]) -> Response {
        Response::error(405, "method not allowed").with_header("Allow", &allow.join(", "))
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets an in-memory body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = Body::Bytes(body.into());
        self
    }

    /// Sets a streamed body.
    pub fn with_producer(
        mut self,
        producer: impl Producer + 'static,
        length: Option<u64>,
    ) -> Response {
        self.body = Body::Stream {
            producer: Box::new(producer),
            length,
        };
        self
    }

    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether this status may carry a body at all (RFC 9110: 1xx, 204, 304
    /// never do).
    pub(crate) fn status_allows_body(&self) -> bool {
        !(self.status < 200 || self.status == 204 || self.status == 304)
    }

    /// Serializes the status line and headers. `chunked` and `keep_alive`
    /// were decided by the channel from the request and the body.
    pub(crate) fn write_head(
        &self,
        out: &mut Vec<u8>,
        version: Version,
        config: &HttpConfig,
        framing: Framing,
        keep_alive: bool,
    ) {
        // Straight into the output buffer: no format machinery, no
        // temporary strings (this runs once per request).
        out.extend_from_slice(version.as_str().as_bytes());
        out.push(b' ');
        push_decimal(out, u64::from(self.status));
        out.push(b' ');
        out.extend_from_slice(reason_phrase(self.status).as_bytes());
        out.extend_from_slice(b"\r\nDate: ");
        with_http_date(|date| out.extend_from_slice(date.as_bytes()));
        out.extend_from_slice(b"\r\nServer: ");
        out.extend_from_slice(config.server_name.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in self.headers.iter().chain(&config.extra_headers) {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            // Values never carry CR/LF into the head (header injection).
            out.extend(value.bytes().filter(|&b| b != b'\r' && b != b'\n'));
            out.extend_from_slice(b"\r\n");
        }
        match framing {
            Framing::Length(n) => {
                out.extend_from_slice(b"Content-Length: ");
                push_decimal(out, n);
                out.extend_from_slice(b"\r\n");
            }
            Framing::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
            Framing::None | Framing::UntilClose => {}
        }
        match (keep_alive, version) {
            (true, Version::Http10) => out.extend_from_slice(b"Connection: keep-alive\r\n"),
            (true, Version::Http11) => {}
            (false, _) => out.extend_from_slice(b"Connection: close\r\n"),
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends `n` in decimal.
// At most 20 digits for a u64: `at` counts down from 20 and stops at 0.
#[allow(clippy::arithmetic_side_effects)]
pub(crate) fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// How a response body is delimited on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body at all (1xx, 204, 304).
    None,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked` (HTTP/1.1 only).
    Chunked,
    /// The body ends when the connection closes (HTTP/1.0, unknown length).
    UntilClose,
}

/// The standard reason phrase of a status code.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_decimal_writes_every_width() {
        for n in [0, 7, 10, 178, 4_294_967_296, u64::MAX] {
            let mut out = b"x".to_vec();
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}").into_bytes());
        }
    }

    #[test]
    fn heads_strip_cr_and_lf_from_values() {
        let response = Response::new(200).with_header("X-A", "one\r\ntwo");
        let mut out = Vec::new();
        let config = HttpConfig {
            server_name: "s".to_string(),
            extra_headers: vec![("X-Extra".to_string(), "e".to_string())],
            ..HttpConfig::default()
        };
        response.write_head(&mut out, Version::Http10, &config, Framing::Length(5), true);
        let head = String::from_utf8(out).unwrap();
        assert!(head.starts_with("HTTP/1.0 200 OK\r\nDate: "), "{head}");
        assert!(head.contains("\r\nServer: s\r\nX-A: onetwo\r\nX-Extra: e\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n"), "{head}");
    }
}
