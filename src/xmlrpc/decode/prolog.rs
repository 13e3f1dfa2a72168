//! Before xml-rs sees a document: its size, its encoding, and where its
//! root element starts (refusing a DOCTYPE or anything else in the prolog).

// Index arithmetic only: positions into one in-memory document, never
// past its length (< isize::MAX), so `+ 1`/`+ 2` cannot overflow, and each
// difference takes an earlier position from a later one it was found
// after. Peer-chosen numbers (sizes, counts, character codes) are checked
// where they are parsed.
#![allow(clippy::arithmetic_side_effects)]

use std::borrow::Cow;

use super::grammar::is_xml_space;
use super::DecodeLimits;
use crate::xmlrpc::fault::Fault;

/// The `encoding="..."` of an XML declaration at the start of `body`.
pub(super) fn declared_encoding(body: &[u8]) -> Option<&[u8]> {
    let decl = body.strip_prefix(b"<?xml")?;
    let end = decl.windows(2).position(|w| w == b"?>")?;
    let decl = &decl[..end];
    let at = decl.windows(8).position(|w| w == b"encoding")?;
    let rest = &decl[at + 8..];
    let rest = &rest[rest.iter().position(|&b| b == b'"' || b == b'\'')? + 1..];
    let close = rest.iter().position(|&b| b == b'"' || b == b'\'')?;
    Some(&rest[..close])
}

/// Checks the size, and turns the bytes into text: UTF-8 whatever the
/// declaration says (a wrong label is common and harmless), or ISO-8859-1
/// when it says so and the bytes are not UTF-8 (Python's client with
/// `encoding="iso-8859-1"` sends that). Anything else gets one of the two
/// encoding faults.
pub(super) fn document_text<'a>(
    body: &'a [u8],
    limits: &DecodeLimits,
) -> Result<Cow<'a, str>, Fault> {
    if body.len() > limits.max_size {
        return Err(Fault::parse_error(format!(
            "the document is {} bytes, over the limit of {}",
            body.len(),
            limits.max_size
        )));
    }
    // xml-rs, told the encoding is UTF-8, would read a byte order mark as a
    // character. Whitespace before the XML declaration is not allowed, but
    // servers that print a stray newline before it are common (PHP's).
    let original_len = body.len();
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let start = body
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .unwrap_or(body.len());
    let body = &body[start..];
    let skipped = original_len - body.len();
    let err = match std::str::from_utf8(body) {
        Ok(text) => return Ok(Cow::Borrowed(text)),
        Err(e) => e,
    };
    if body.starts_with(b"\xFF\xFE") || body.starts_with(b"\xFE\xFF") {
        return Err(Fault::unsupported_encoding(
            "the document is UTF-16; only UTF-8 and ISO-8859-1 are supported",
        ));
    }
    match declared_encoding(body) {
        Some(label) if is_latin1_label(label) => {
            // Each ISO-8859-1 byte is the code point of the same number.
            Ok(Cow::Owned(body.iter().map(|&b| char::from(b)).collect()))
        }
        Some(label)
            if !label.eq_ignore_ascii_case(b"utf-8") && !label.eq_ignore_ascii_case(b"utf8") =>
        {
            Err(Fault::unsupported_encoding(format!(
                "the document is declared as '{}'; only UTF-8 and ISO-8859-1 are supported",
                String::from_utf8_lossy(label)
            )))
        }
        _ => Err(Fault::invalid_character(format!(
            "the document is not valid UTF-8 (byte {})",
            skipped + err.valid_up_to()
        ))),
    }
}

pub(super) fn is_latin1_label(label: &[u8]) -> bool {
    ["iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1"]
        .iter()
        .any(|name| label.eq_ignore_ascii_case(name.as_bytes()))
}

/// Walks the prolog (XML declaration, comments, processing instructions)
/// and returns the offset of the root element's `<`. Any other `<!` there
/// is a DOCTYPE, the only place xml-rs accepts one, and is refused: that
/// is how we guarantee no DTD is ever processed.
pub(super) fn root_offset(text: &str) -> Result<usize, Fault> {
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(is_xml_space);
        let skip = if rest.starts_with("<?") {
            rest.find("?>").map(|i| i + 2)
        } else if let Some(comment) = rest.strip_prefix("<!--") {
            comment.find("-->").map(|i| 4 + i + 3)
        } else if rest.starts_with("<!") {
            return Err(Fault::parse_error(
                "DOCTYPE declarations are not allowed in XML-RPC \
                 (no DTDs, no entities beyond the predefined five)",
            ));
        } else {
            return Ok(text.len() - rest.len());
        };
        match skip {
            Some(n) => rest = &rest[n..],
            // Unterminated: the parser will report it.
            None => return Ok(text.len()),
        }
    }
}
