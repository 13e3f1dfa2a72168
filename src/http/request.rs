//! `Request`: one parsed HTTP request (Medusa's `http_request`), and the
//! parsing of its head.
//!
//! The request line and headers are parsed by `httparse`; this module adds
//! the framing rules on top: which body length applies, which requests are
//! refused before their body is read, and which errors close the connection.

use std::borrow::Cow;
use std::mem::MaybeUninit;
use std::net::SocketAddr;

use super::{gunzip, HttpConfig, HttpError};

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
    pub peer: Option<SocketAddr>,
    /// The authenticated user, set by the auth handler, for the access log.
    pub user: Option<String>,
}

impl Request {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether a comma-separated header (e.g. `Connection`) lists `token`.
    pub fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// Medusa's persistence rule: 1.1 stays open unless `Connection:
    /// close`; 1.0 only with `Connection: keep-alive`.
    pub fn wants_keep_alive(&self) -> bool {
        match self.version {
            Version::Http11 => !self.header_has_token("Connection", "close"),
            Version::Http10 => self.header_has_token("Connection", "keep-alive"),
        }
    }

    /// The body with its `Content-Encoding` undone (gzip, x-gzip or
    /// identity), within the server's limits (`max_decoded_body_bytes`,
    /// `max_gzip_members`): what a handler that reads bodies should use.
    /// Errors carry their status: 400 for a corrupt stream, 413 over a
    /// limit, 501 for a coding not supported.
    pub fn decoded_body(&self, config: &HttpConfig) -> Result<Cow<'_, [u8]>, HttpError> {
        match self.header("Content-Encoding").map(str::trim) {
            None | Some("") => Ok(Cow::Borrowed(&self.body)),
            Some(c) if c.eq_ignore_ascii_case("identity") => Ok(Cow::Borrowed(&self.body)),
            Some(c) if c.eq_ignore_ascii_case("gzip") || c.eq_ignore_ascii_case("x-gzip") => {
                gunzip(&self.body, config.gunzip_limits())
                    .map(Cow::Owned)
                    .map_err(|e| HttpError::new(e.status(), &e.to_string()))
            }
            // 501, as Python's SimpleXMLRPCServer answers.
            Some(other) => Err(HttpError::new(
                501,
                &format!("unsupported Content-Encoding {other:?}"),
            )),
        }
    }

    /// The request line, for logs: `GET /path HTTP/1.1`.
    pub fn request_line(&self) -> String {
        format!("{} {} {}", self.method, self.uri, self.version.as_str())
    }
}

/// How the body of a parsed head is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    /// No body follows.
    None,
    /// `Content-Length` bytes follow.
    Length(u64),
    /// `Transfer-Encoding: chunked` follows.
    Chunked,
}

/// Header slots httparse gets on the stack; a larger `max_headers` puts
/// them on the heap.
const STACK_HEADERS: usize = 128;

/// Parses a request head (request line and headers, without the blank line
/// that ended it) and decides how its body is framed.
pub(crate) fn parse_head(
    head: &[u8],
    config: &HttpConfig,
) -> Result<(Request, BodyFraming), HttpError> {
    let mut raw = Vec::with_capacity(head.len().saturating_add(4));
    raw.extend_from_slice(head);
    raw.extend_from_slice(b"\r\n\r\n");
    parse_terminated_head(&raw, config)
}

/// [`parse_head`] for a head that still ends with its blank line
/// (`\r\n\r\n`): what the channel has, so nothing is copied.
pub(crate) fn parse_terminated_head(
    head: &[u8],
    config: &HttpConfig,
) -> Result<(Request, BodyFraming), HttpError> {
    // Clients may send stray CRLFs between requests (RFC 9112 §2.2).
    let start = head
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(head.len());
    let raw = &head[start..];

    // Uninitialised slots: httparse writes only those it fills, so a
    // limit of 100 headers costs nothing for a request with 3.
    let mut on_stack = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; STACK_HEADERS];
    let mut on_heap = Vec::new();
    let slots: &mut [MaybeUninit<httparse::Header<'_>>] = if config.max_headers <= STACK_HEADERS {
        &mut on_stack[..config.max_headers]
    } else {
        on_heap.resize_with(config.max_headers, MaybeUninit::uninit);
        &mut on_heap
    };
    let mut parsed = httparse::Request::new(&mut []);
    match parsed.parse_with_uninit_headers(raw, slots) {
        // The head must end exactly where the framing says it does: a
        // parser that stops earlier (a bare LF line end) would leave bytes
        // that another reading takes for a request of their own.
        Ok(httparse::Status::Complete(n)) if n == raw.len() => {}
        Ok(httparse::Status::Complete(_)) => {
            return Err(HttpError::bad_request(
                "the head ends before its blank line (bare LF)",
            ))
        }
        Ok(httparse::Status::Partial) => {
            return Err(HttpError::bad_request("incomplete request head"))
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HttpError::new(431, "too many header fields"));
        }
        Err(httparse::Error::Version) => {
            return Err(HttpError::new(505, "HTTP version not supported"));
        }
        Err(e) => return Err(HttpError::bad_request(&format!("malformed request: {e}"))),
    }
    let version = match parsed.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => return Err(HttpError::new(505, "HTTP version not supported")),
    };
    let method = parsed.method.unwrap_or_default().to_string();
    let uri = parsed.path.unwrap_or_default().to_string();
    let mut fields = Vec::with_capacity(parsed.headers.len());
    for h in parsed.headers.iter() {
        let value = std::str::from_utf8(h.value)
            .map_err(|_| HttpError::bad_request("header value is not UTF-8"))?;
        fields.push((h.name.to_string(), value.trim().to_string()));
    }
    let (path, query) = split_target(&uri)?;
    check_host(&fields, version)?;

    let request = Request {
        method,
        uri,
        path,
        query,
        version,
        headers: fields,
        body: Vec::new(),
        peer: None,
        user: None,
    };
    let framing = body_framing(&request, config)?;
    Ok((request, framing))
}

/// RFC 9112 §3.2: a 1.1 request without Host, any request with more than
/// one, or with a malformed one, is a 400 (a server that picks one of two
/// Hosts disagrees with some proxy about where the request goes).
fn check_host(fields: &[(String, String)], version: Version) -> Result<(), HttpError> {
    let mut hosts = fields
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("Host"))
        .map(|(_, value)| value.as_str());
    let first = hosts.next();
    if hosts.next().is_some() {
        return Err(HttpError::bad_request("more than one Host header"));
    }
    match first {
        None if version == Version::Http11 => {
            Err(HttpError::bad_request("HTTP/1.1 request without Host"))
        }
        Some(host) if !host.bytes().all(is_host_byte) => {
            Err(HttpError::bad_request("malformed Host header"))
        }
        _ => Ok(()),
    }
}

/// Bytes of `uri-host [":" port]` (RFC 3986: reg-name, IP literals,
/// percent-encoding); a comma would make it a list.
fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~%!$&'()*+;=:[]".contains(&b)
}

/// Splits a request target into path and query. Absolute-form targets
/// (`http://host/path`) are reduced to their path.
fn split_target(uri: &str) -> Result<(String, Option<String>), HttpError> {
    let origin = if uri.starts_with('/') || uri == "*" {
        uri
    } else if let Some(rest) = uri
        .strip_prefix("http://")
        .or_else(|| uri.strip_prefix("https://"))
    {
        rest.find('/').map_or("/", |i| &rest[i..])
    } else {
        return Err(HttpError::bad_request("bad request target"));
    };
    let origin = origin.split('#').next().unwrap_or(origin);
    Ok(match origin.split_once('?') {
        Some((path, query)) => (path.to_string(), Some(query.to_string())),
        None => (origin.to_string(), None),
    })
}

/// The framing rules that keep one request from being misread as another.
fn body_framing(request: &Request, config: &HttpConfig) -> Result<BodyFraming, HttpError> {
    let transfer_encodings: Vec<&str> = request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Transfer-Encoding"))
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    let lengths: Vec<&str> = request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .collect();

    if !transfer_encodings.is_empty() {
        if request.version == Version::Http10 {
            return Err(HttpError::bad_request(
                "Transfer-Encoding in an HTTP/1.0 request",
            ));
        }
        if !lengths.is_empty() {
            // Both framings at once is the request-smuggling pattern.
            return Err(HttpError::bad_request(
                "both Transfer-Encoding and Content-Length",
            ));
        }
        if transfer_encodings.len() == 1 && transfer_encodings[0].eq_ignore_ascii_case("chunked") {
            return Ok(BodyFraming::Chunked);
        }
        return Err(HttpError::new(501, "unsupported Transfer-Encoding"));
    }

    let mut length: Option<u64> = None;
    for value in lengths {
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HttpError::bad_request("bad Content-Length"));
        }
        // Digits only, so the one failure left is a number over u64.
        let n = super::content_length(value)
            .ok_or_else(|| HttpError::new(413, "Content-Length too large"))?;
        if length.is_some_and(|l| l != n) {
            return Err(HttpError::bad_request("conflicting Content-Length values"));
        }
        length = Some(n);
    }
    match length {
        Some(n) if n > config.max_body_bytes => Err(HttpError::new(413, "request body too large")),
        Some(0) | None => Ok(BodyFraming::None),
        Some(n) => Ok(BodyFraming::Length(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(head: &str) -> Result<(Request, BodyFraming), HttpError> {
        parse_head(head.as_bytes(), &HttpConfig::default())
    }

    fn status(head: &str) -> u16 {
        parse(head).expect_err("should be refused").status
    }

    #[test]
    fn parses_a_python_xmlrpc_client_request() {
        let (r, framing) = parse(
            "POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1:8182\r\nAccept-Encoding: gzip\r\n\
             Content-Type: text/xml\r\nUser-Agent: Python-xmlrpc/3.11\r\nContent-Length: 178",
        )
        .unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/RPC2");
        assert_eq!(r.version, Version::Http11);
        assert_eq!(r.header("content-type"), Some("text/xml"));
        assert_eq!(framing, BodyFraming::Length(178));
        assert!(r.wants_keep_alive());
    }

    #[test]
    fn persistence_follows_medusa_rules() {
        let keep = |h: &str| parse(h).unwrap().0.wants_keep_alive();
        assert!(keep("GET / HTTP/1.1\r\nHost: x"));
        assert!(!keep("GET / HTTP/1.1\r\nHost: x\r\nConnection: close"));
        assert!(!keep("GET / HTTP/1.0"));
        assert!(keep("GET / HTTP/1.0\r\nConnection: Keep-Alive"));
    }

    #[test]
    fn splits_query_and_absolute_form() {
        let (r, _) = parse("GET /a%20b?x=1&y=2 HTTP/1.0").unwrap();
        assert_eq!(
            (r.path.as_str(), r.query.as_deref()),
            ("/a%20b", Some("x=1&y=2"))
        );
        let (r, _) = parse("GET http://example.com/x?q HTTP/1.1\r\nHost: x").unwrap();
        assert_eq!((r.path.as_str(), r.query.as_deref()), ("/x", Some("q")));
    }

    #[test]
    fn leading_blank_lines_are_ignored() {
        let (r, _) = parse("\r\n\r\nGET / HTTP/1.1\r\nHost: x").unwrap();
        assert_eq!(r.method, "GET");
    }

    #[test]
    fn malformed_heads_are_400() {
        assert_eq!(status("GARBAGE"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: x\r\nNo colon here"), 400);
        assert_eq!(status("GET\0 / HTTP/1.1\r\nHost: x"), 400);
        assert_eq!(status("GET nopath HTTP/1.1\r\nHost: x"), 400);
        assert_eq!(status(""), 400);
    }

    #[test]
    fn unknown_versions_are_505() {
        assert_eq!(status("GET / HTTP/2.0"), 505);
    }

    #[test]
    fn bad_content_lengths_are_400() {
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc"),
            400
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5"),
            400
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6"),
            400
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6"),
            400
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5"),
            400
        );
    }

    #[test]
    fn repeated_equal_content_lengths_are_accepted() {
        let (_, framing) =
            parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5").unwrap();
        assert_eq!(framing, BodyFraming::Length(5));
    }

    #[test]
    fn oversize_bodies_are_413_before_reading() {
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999"),
            413
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999999999999999"),
            413
        );
    }

    #[test]
    fn transfer_encodings() {
        let (_, framing) =
            parse("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked").unwrap();
        assert_eq!(framing, BodyFraming::Chunked);
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked"),
            501
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3"),
            400
        );
        assert_eq!(status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked"), 400);
    }

    #[test]
    fn too_many_headers_is_431() {
        let mut head = "GET / HTTP/1.1\r\nHost: x".to_string();
        for i in 0..101 {
            head.push_str(&format!("\r\nX-{i}: y"));
        }
        assert_eq!(status(&head), 431);
    }

    /// The limit holds whether the slots live on the stack (up to 128) or
    /// on the heap, and exactly the limit is allowed.
    #[test]
    fn header_limit_is_exact_on_stack_and_heap() {
        for limit in [1, 5, STACK_HEADERS, STACK_HEADERS + 1, 300] {
            let config = HttpConfig {
                max_headers: limit,
                ..HttpConfig::default()
            };
            let head = |n: usize| {
                let mut head = "GET / HTTP/1.0".to_string();
                for i in 0..n {
                    head.push_str(&format!("\r\nX-{i}: y"));
                }
                head
            };
            let (request, _) = parse_head(head(limit).as_bytes(), &config).unwrap();
            assert_eq!(request.headers.len(), limit);
            assert_eq!(request.header(&format!("x-{}", limit - 1)), Some("y"));
            let err = parse_head(head(limit + 1).as_bytes(), &config).unwrap_err();
            assert_eq!(err.status, 431, "limit {limit}");
        }
    }

    #[test]
    fn host_is_required_once_in_1_1() {
        assert_eq!(status("GET / HTTP/1.1"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a\r\nHost: a"), 400);
        assert_eq!(status("GET / HTTP/1.0\r\nHost: a\r\nhost: b"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a, b"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a/b"), 400);
        assert!(parse("GET / HTTP/1.0").is_ok());
        assert!(parse("GET / HTTP/1.1\r\nHost: [::1]:8182").is_ok());
        assert!(parse("GET / HTTP/1.1\r\nHost: ").is_ok());
    }

    #[test]
    fn a_head_must_end_where_its_blank_line_is() {
        let config = HttpConfig::default();
        let framed = b"POST / HTTP/1.1\r\nHost: x\r\nX: y\n\r\nContent-Length: 4\r\n\r\n";
        let err = parse_terminated_head(framed, &config).unwrap_err();
        assert_eq!(err.status, 400);
        let good = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n";
        assert!(parse_terminated_head(good, &config).is_ok());
    }
}
