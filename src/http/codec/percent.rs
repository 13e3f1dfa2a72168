//! `%XX` escapes in a request target or a URL's user info, decoded once
//! for the file handler and both clients.

/// Decodes `%XX` escapes (exactly two hex digits); `None` for a malformed
/// escape.
// `i` walks forward through `bytes` and stays below its length, so `i + 3`
// cannot overflow; `high << 4 | low` combines two values under 16.
#[allow(clippy::arithmetic_side_effects)]
pub fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let high = hex_digit(*bytes.get(i + 1)?)?;
            let low = hex_digit(*bytes.get(i + 2)?)?;
            out.push(high << 4 | low);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// The value of one hex digit. Not `from_str_radix`, which also takes a
/// leading `+` ("%+e" would be 0x0e).
fn hex_digit(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("/a%20b").unwrap(), b"/a b");
        assert_eq!(percent_decode("%2e%2E").unwrap(), b"..");
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%aF%Fa%09").unwrap(), [0xaf, 0xfa, 0x09]);
        for bad in ["%+e", "%-e", "%+", "% e", "%e ", "%\u{e9}"] {
            assert_eq!(percent_decode(bad), None, "{bad:?}");
        }
    }
}
