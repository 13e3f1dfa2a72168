//! Where an HTTP/1.1 body ends, decided once for the server and both
//! clients: the rules of RFC 9112 §6.3, and the numbers they read (a
//! `Content-Length` value, a chunk-size line), read strictly.
//!
//! Rust's `str::parse` and `from_str_radix` accept a leading `+`, which no
//! HTTP grammar allows; a parser that takes `+5` where a proxy refuses it
//! disagrees with that proxy about where a message ends.

use super::header;
use crate::http::{HttpError, Version};

/// How the body of a parsed head is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body follows.
    None,
    /// `Content-Length` bytes follow.
    Length(u64),
    /// `Transfer-Encoding: chunked` follows.
    Chunked,
    /// The body ends when the peer closes (responses only).
    UntilClose,
}

/// Which side of the conversation a message comes from: the rules differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A request, read by the server.
    Request,
    /// A response with this status, read by a client (to a POST).
    Response(u16),
}

/// The framing rules that keep one message from being misread as another.
/// A server refuses every ambiguity (the request-smuggling patterns); a
/// client follows RFC 9112 §6.3 (chunked overrides a length; no length
/// reads to the close).
pub fn body_framing(
    fields: &[(String, String)],
    version: Version,
    role: Role,
    max_body: u64,
) -> Result<BodyFraming, HttpError> {
    let name = match role {
        Role::Request => "request",
        Role::Response(_) => "response",
    };
    if let Role::Response(status) = role {
        if (100..200).contains(&status) || status == 204 || status == 304 {
            return Ok(BodyFraming::None);
        }
    }
    let transfer_encodings: Vec<&str> = fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Transfer-Encoding"))
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    let has_length = header(fields, "Content-Length").is_some();

    // The field's presence decides, not its codings: an empty
    // `Transfer-Encoding:` is still one whose last coding is not chunked
    // (RFC 9112 §6.3), and a peer that reads it as chunked, or refuses it,
    // must not see this side frame the body by a length instead.
    if header(fields, "Transfer-Encoding").is_some() {
        let chunked_last = transfer_encodings
            .last()
            .is_some_and(|t| t.eq_ignore_ascii_case("chunked"));
        if role != Role::Request {
            return Ok(if chunked_last {
                BodyFraming::Chunked
            } else {
                BodyFraming::UntilClose
            });
        }
        if version == Version::Http10 {
            return Err(HttpError::bad_request(
                "Transfer-Encoding in an HTTP/1.0 request",
            ));
        }
        if has_length {
            // Both framings at once is the request-smuggling pattern.
            return Err(HttpError::bad_request(
                "both Transfer-Encoding and Content-Length",
            ));
        }
        if transfer_encodings.len() == 1 && chunked_last {
            return Ok(BodyFraming::Chunked);
        }
        return Err(HttpError::new(501, "unsupported Transfer-Encoding"));
    }

    let mut length: Option<u64> = None;
    let values = fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim);
    for value in values {
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HttpError::bad_request("bad Content-Length"));
        }
        // Digits only, so the one failure left is a number over u64.
        let n =
            content_length(value).ok_or_else(|| HttpError::new(413, "Content-Length too large"))?;
        if length.is_some_and(|l| l != n) {
            return Err(HttpError::bad_request("conflicting Content-Length values"));
        }
        length = Some(n);
    }
    match length {
        Some(n) if n > max_body => Err(HttpError::new(413, &format!("{name} body too large"))),
        Some(0) => Ok(BodyFraming::None),
        Some(n) => Ok(BodyFraming::Length(n)),
        None if role == Role::Request => Ok(BodyFraming::None),
        None => Ok(BodyFraming::UntilClose),
    }
}

/// A `Content-Length` value: ASCII digits only (RFC 9110 §8.6). `None` for
/// anything else, and for a number over `u64` (which no limit admits).
pub fn content_length(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// The size on a chunk-size line (RFC 9112 §7.1): 1–16 hex digits, then
/// optionally `;` and extensions, which are ignored. `None` for anything
/// else.
pub fn chunk_size(line: &[u8]) -> Option<u64> {
    let line = std::str::from_utf8(line).ok()?;
    let size = line
        .split(';')
        .next()
        .unwrap_or("")
        .trim_matches([' ', '\t']);
    if size.is_empty() || size.len() > 16 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(size, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_lengths_are_digits_only() {
        assert_eq!(content_length("0"), Some(0));
        assert_eq!(content_length("178"), Some(178));
        for bad in [
            "",
            "+5",
            "-5",
            " 5",
            "5 ",
            "0x10",
            "1e3",
            "99999999999999999999",
        ] {
            assert_eq!(content_length(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn chunk_sizes_are_hex_digits_only() {
        assert_eq!(chunk_size(b"0"), Some(0));
        assert_eq!(chunk_size(b"1a"), Some(26));
        assert_eq!(chunk_size(b"ffffffffffffffff"), Some(u64::MAX));
        assert_eq!(chunk_size(b"10;name=value"), Some(16));
        assert_eq!(chunk_size(b"10 ;x"), Some(16));
        for bad in [
            &b""[..],
            b"+a",
            b"-1",
            b"0x10",
            b"g",
            b"1ffffffffffffffff",
            b";x",
            b"\xff",
        ] {
            assert_eq!(chunk_size(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
