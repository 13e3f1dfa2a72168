//! A request head: parsed by httparse, then held to the rules that keep
//! one request from being read as two (the head ends at its blank line,
//! one Host, a target the server can route, one framing).

use std::mem::MaybeUninit;

use super::{body_framing, BodyFraming, Head, MessageLimits, Role};
use crate::http::{HttpError, Request, Version};

impl Head for Request {
    const NAME: &'static str = "request";

    fn parse(
        head: &[u8],
        limits: &MessageLimits,
    ) -> Result<Option<(Request, BodyFraming)>, HttpError> {
        parse_terminated_head(head, limits).map(Some)
    }

    fn version(&self) -> Version {
        self.version
    }
}

/// Header slots httparse gets on the stack; a larger `max_headers` puts
/// them on the heap.
const STACK_HEADERS: usize = 128;

/// Parses a request head (request line and headers, without the blank line
/// that ended it) and decides how its body is framed.
pub(crate) fn parse_head(
    head: &[u8],
    limits: &MessageLimits,
) -> Result<(Request, BodyFraming), HttpError> {
    let mut raw = Vec::with_capacity(head.len().saturating_add(4));
    raw.extend_from_slice(head);
    raw.extend_from_slice(b"\r\n\r\n");
    parse_terminated_head(&raw, limits)
}

/// [`parse_head`] for a head that still ends with its blank line
/// (`\r\n\r\n`): what the channel has, so nothing is copied.
pub(crate) fn parse_terminated_head(
    head: &[u8],
    limits: &MessageLimits,
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
    let slots: &mut [MaybeUninit<httparse::Header<'_>>] = if limits.max_headers <= STACK_HEADERS {
        &mut on_stack[..limits.max_headers]
    } else {
        on_heap.resize_with(limits.max_headers, MaybeUninit::uninit);
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
    let framing = body_framing(
        &request.headers,
        version,
        Role::Request,
        limits.max_body_bytes,
    )?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::HttpConfig;

    fn parse(head: &str) -> Result<(Request, BodyFraming), HttpError> {
        parse_head(head.as_bytes(), &HttpConfig::default().message_limits())
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
            let (request, _) =
                parse_head(head(limit).as_bytes(), &config.message_limits()).unwrap();
            assert_eq!(request.headers.len(), limit);
            assert_eq!(request.header(&format!("x-{}", limit - 1)), Some("y"));
            let err = parse_head(head(limit + 1).as_bytes(), &config.message_limits()).unwrap_err();
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
        let config = HttpConfig::default().message_limits();
        let framed = b"POST / HTTP/1.1\r\nHost: x\r\nX: y\n\r\nContent-Length: 4\r\n\r\n";
        let err = parse_terminated_head(framed, &config).unwrap_err();
        assert_eq!(err.status, 400);
        let good = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n";
        assert!(parse_terminated_head(good, &config).is_ok());
    }
}
