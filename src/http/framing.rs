//! The numbers that frame an HTTP/1.1 body, read strictly and once for the
//! server and both clients: a `Content-Length` value and a chunk-size line.
//!
//! Rust's `str::parse` and `from_str_radix` accept a leading `+`, which no
//! HTTP grammar allows; a parser that takes `+5` where a proxy refuses it
//! disagrees with that proxy about where a message ends.

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
