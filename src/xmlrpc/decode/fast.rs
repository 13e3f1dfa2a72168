//! The fast reader: a tokenizer for the plain XML that XML-RPC peers
//! actually send, so the common case does not pay for a general parser.
//!
//! xml-rs is correct and general, and therefore slow for our purpose: it
//! builds an owned name and a namespace map for every element and an owned
//! string for every run of text, about 9 µs for the 178-byte `add(40, 2)`
//! call. XML-RPC needs none of that. This reader handles a strict subset of
//! XML: an optional simple XML declaration, elements without attributes
//! whose names are XML-RPC's (optionally with the `ex:` prefix), text with
//! the five predefined entities and character references, and nothing else.
//!
//! It never decides that a document is bad. On anything outside its subset
//! or anything wrong (an attribute, a comment, CDATA, a mismatched end tag,
//! a forbidden character, trailing garbage) it gives up with [`Bail`], and
//! the caller decodes the whole document again with xml-rs, which then
//! either accepts it or produces the canonical error. So the fast reader
//! only has to be right about the documents it accepts: on those, the
//! events it yields are exactly xml-rs's. The `xmlrpc_differential` fuzz
//! target and the codec property tests check that claim.

// Index arithmetic only: positions into one in-memory document, never
// past its length (< isize::MAX), so `+ 1`/`+ 2` cannot overflow, and each
// difference takes an earlier position from a later one it was found
// after. Peer-chosen numbers (sizes, counts, character codes) are checked
// where they are parsed.
#![allow(clippy::arithmetic_side_effects)]

use std::borrow::Cow;

use memchr::memmem;

use super::grammar::Event;
use super::tag::Tag;
use crate::xmlrpc::xml_text::find_special;

/// "Outside my subset, ask xml-rs." Carries no reason: the reason, if the
/// document is really wrong, comes from xml-rs.
#[derive(Debug)]
pub(super) struct Bail;

pub(super) struct FastReader<'a> {
    text: &'a str,
    pos: usize,
    /// Raw names of the open elements, to check each end tag against its
    /// start tag byte for byte (`<ex:int>` is not closed by `</int>`).
    open: Vec<&'a str>,
    /// The end of a `<tag/>` just reported as a start.
    pending_end: Option<Tag>,
    /// The root element has been opened.
    started: bool,
    /// Whether the `ex:` prefix may be used undeclared (see `ex_allowed`).
    ex_allowed: Option<bool>,
}

impl<'a> FastReader<'a> {
    /// A reader for `text`, whose root element starts at `root`; `None` if
    /// the prolog is anything but whitespace and a simple XML declaration.
    pub(super) fn new(text: &'a str, root: usize) -> Option<FastReader<'a>> {
        if !simple_prolog(&text[..root]) {
            return None;
        }
        Some(FastReader {
            text,
            pos: root,
            // One allocation for the depth of nearly every call (`add`'s
            // is 5), not three as the stack grows.
            open: Vec::with_capacity(8),
            pending_end: None,
            started: false,
            ex_allowed: None,
        })
    }

    pub(super) fn next(&mut self) -> Result<Event<'a>, Bail> {
        if let Some(tag) = self.pending_end.take() {
            return Ok(Event::End(tag));
        }
        let bytes = self.text.as_bytes();
        if self.started && self.open.is_empty() {
            // After the root: only whitespace may follow.
            return if bytes[self.pos..].iter().all(|&b| is_space(b)) {
                self.pos = bytes.len();
                Ok(Event::Eof)
            } else {
                Err(Bail)
            };
        }
        match bytes.get(self.pos) {
            Some(b'<') => self.markup(),
            Some(_) if self.started => self.text(),
            _ => Err(Bail),
        }
    }

    /// A start tag, an empty-element tag or an end tag; anything else that
    /// begins with `<` (comment, CDATA, processing instruction) bails.
    fn markup(&mut self) -> Result<Event<'a>, Bail> {
        let bytes = self.text.as_bytes();
        let mut at = self.pos + 1;
        let closing = bytes.get(at) == Some(&b'/');
        if closing {
            at += 1;
        }
        let mut name_end = at;
        let mut colon = None;
        while let Some(&b) = bytes.get(name_end) {
            if !NAME_BYTE[usize::from(b)] {
                break;
            }
            if b == b':' {
                colon = Some(name_end - at);
            }
            name_end += 1;
        }
        let raw = &self.text[at..name_end];
        let tag = self.tag_of(raw, colon)?;
        at = name_end;
        while bytes.get(at).is_some_and(|&b| is_space(b)) {
            at += 1;
        }
        if closing {
            if bytes.get(at) != Some(&b'>') || self.open.pop() != Some(raw) {
                return Err(Bail);
            }
            self.pos = at + 1;
            return Ok(Event::End(tag));
        }
        if self.started && self.open.is_empty() {
            return Err(Bail);
        }
        match (bytes.get(at), bytes.get(at + 1)) {
            (Some(b'>'), _) => {
                self.open.push(raw);
                self.pos = at + 1;
            }
            (Some(b'/'), Some(b'>')) => {
                self.pending_end = Some(tag);
                self.pos = at + 2;
            }
            _ => return Err(Bail),
        }
        self.started = true;
        Ok(Event::Start(tag))
    }

    /// XML-RPC's element names, bare or with the `ex:` prefix (allowed only
    /// where xml-rs would get a declaration for it spliced in).
    fn tag_of(&mut self, raw: &'a str, colon: Option<usize>) -> Result<Tag, Bail> {
        let local = match colon {
            None => raw,
            Some(2) if raw.starts_with("ex:") && self.ex_allowed() => &raw[3..],
            Some(_) => return Err(Bail),
        };
        Tag::from_local_name(local).ok_or(Bail)
    }

    /// The xml-rs path declares `ex` on the root only when the document
    /// never mentions `xmlns:ex`; a document that does is left to xml-rs.
    fn ex_allowed(&mut self) -> bool {
        *self
            .ex_allowed
            .get_or_insert_with(|| memmem::find(self.text.as_bytes(), b"xmlns:ex").is_none())
    }

    /// A run of text up to the next `<`, unescaped. Borrowed when it holds
    /// no reference and no carriage return, which is nearly always.
    fn text(&mut self) -> Result<Event<'a>, Bail> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let mut plain = true;
        let mut at = start;
        loop {
            at = find_special(bytes, at);
            match bytes.get(at) {
                None => return Err(Bail),
                Some(b'<') => break,
                Some(b'&' | b'\r') => plain = false,
                // `]]>` may not appear in text.
                Some(b'>') if at >= start + 2 && &bytes[at - 2..at] == b"]]" => return Err(Bail),
                Some(b'>') => {}
                // U+FFFE and U+FFFF are not XML characters.
                Some(0xEF) if matches!(bytes.get(at + 1..at + 3), Some([0xBF, 0xBE | 0xBF])) => {
                    return Err(Bail)
                }
                Some(0xEF) => {}
                // Control characters other than tab, LF and CR.
                Some(_) => return Err(Bail),
            }
            at += 1;
        }
        self.pos = at;
        let raw = &self.text[start..at];
        if plain {
            Ok(Event::Text(Cow::Borrowed(raw)))
        } else {
            unescape(raw).map(|text| Event::Text(Cow::Owned(text)))
        }
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Bytes of the names we accept: XML-RPC's names are ASCII letters, digits,
/// `.` (`dateTime.iso8601`) and the `ex:` prefix (`-` and `_` as well).
/// Any other byte ends the name, and the caller bails unless it is
/// whitespace, `>` or `/>`. A table: one load per byte of every tag.
static NAME_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b':');
        b += 1;
    }
    table
};

/// Line ends normalised (CR LF and a lone CR become LF, as XML requires)
/// and references replaced. A reference that is unknown, malformed or
/// names a character XML forbids bails.
fn unescape(raw: &str) -> Result<String, Bail> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find(['&', '\r']) {
        out.push_str(&rest[..i]);
        if rest.as_bytes()[i] == b'\r' {
            out.push('\n');
            rest = &rest[i + 1..];
            rest = rest.strip_prefix('\n').unwrap_or(rest);
            continue;
        }
        let after = &rest[i + 1..];
        let semi = after.find(';').filter(|&n| n <= 10).ok_or(Bail)?;
        let name = &after[..semi];
        let c = match name {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => char_reference(name)?,
        };
        out.push(c);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `#123` or `#x7B`, for a character XML allows.
fn char_reference(name: &str) -> Result<char, Bail> {
    let code = if let Some(hex) = name.strip_prefix("#x") {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Bail);
        }
        u32::from_str_radix(hex, 16)
    } else if let Some(dec) = name.strip_prefix('#') {
        if dec.is_empty() || !dec.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Bail);
        }
        dec.parse()
    } else {
        return Err(Bail);
    }
    .map_err(|_| Bail)?;
    let allowed =
        matches!(code, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x1_0000..=0x10_FFFF);
    if !allowed {
        return Err(Bail);
    }
    char::from_u32(code).ok_or(Bail)
}

/// Whitespace, or an XML declaration of the plain kind clients send
/// (`<?xml version="1.0" encoding="UTF-8"?>`) and whitespace. Anything
/// else (comments, processing instructions, odd declarations) is left to
/// xml-rs.
fn simple_prolog(prolog: &str) -> bool {
    let prolog = prolog.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
    if prolog.is_empty() {
        return true;
    }
    let Some(decl) = prolog
        .strip_prefix("<?xml")
        .and_then(|d| d.strip_suffix("?>"))
    else {
        return false;
    };
    let Some(("1.0", mut rest)) = attribute(decl, "version") else {
        return false;
    };
    if let Some((label, tail)) = attribute(rest, "encoding") {
        let known = ["utf-8", "utf8", "us-ascii", "iso-8859-1"]
            .iter()
            .any(|known| label.eq_ignore_ascii_case(known));
        if !known {
            return false;
        }
        rest = tail;
    }
    if let Some((value, tail)) = attribute(rest, "standalone") {
        if !matches!(value, "yes" | "no") {
            return false;
        }
        rest = tail;
    }
    rest.trim_start_matches([' ', '\t', '\r', '\n']).is_empty()
}

/// ` name="value"` (whitespace first, either quote) at the start of `decl`:
/// the value and what follows.
fn attribute<'s>(decl: &'s str, name: &str) -> Option<(&'s str, &'s str)> {
    let after_space = decl.trim_start_matches([' ', '\t', '\r', '\n']);
    if after_space.len() == decl.len() {
        return None;
    }
    let after = after_space.strip_prefix(name)?.strip_prefix('=')?;
    let quote = after.chars().next().filter(|&q| q == '"' || q == '\'')?;
    after[1..].split_once(quote)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prologs() {
        for ok in [
            "",
            "  \n",
            "<?xml version='1.0'?>\n",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n",
            "<?xml version=\"1.0\" encoding=\"iso-8859-1\" standalone=\"yes\" ?>",
        ] {
            assert!(simple_prolog(ok), "{ok:?}");
        }
        for bail in [
            "<?xml version='1.1'?>",
            "<?xml version='1.0' encoding='koi8-r'?>",
            "<?xml version='1.0'?><!-- c -->",
            "<?xml version='1.0' standalone='maybe'?>",
            "<?xml version='1.0'encoding='utf-8'?>",
            "<?xml-stylesheet href='a'?>",
        ] {
            assert!(!simple_prolog(bail), "{bail:?}");
        }
    }

    #[test]
    fn unescaping() {
        assert_eq!(unescape("a&lt;b&gt;&amp;&quot;&apos;").unwrap(), "a<b>&\"'");
        assert_eq!(unescape("&#65;&#x42;&#x1F600;").unwrap(), "AB\u{1F600}");
        assert_eq!(unescape("a\r\nb\rc").unwrap(), "a\nb\nc");
        assert_eq!(unescape("&#13;").unwrap(), "\r");
        for bad in [
            "&nbsp;", "&#0;", "&#xFFFE;", "&#xD800;", "&", "&#;", "&#x;", "&lt", "&#x+41;",
            "&#+65;", "&#x-41;", "&#-65;", "&#X41;",
        ] {
            assert!(unescape(bad).is_err(), "{bad:?}");
        }
    }

    fn events(doc: &str) -> Result<Vec<String>, Bail> {
        let mut reader = FastReader::new(doc, 0).ok_or(Bail)?;
        let mut out = Vec::new();
        loop {
            let event = reader.next()?;
            let eof = matches!(event, Event::Eof);
            out.push(event.to_string());
            if eof {
                return Ok(out);
            }
        }
    }

    #[test]
    fn tokenizes_the_subset() {
        let seen =
            events("<methodCall><methodName>a&amp;b</methodName><params/></methodCall>\n").unwrap();
        assert_eq!(
            seen,
            [
                "<methodCall>",
                "<methodName>",
                "text 'a&b'",
                "</methodName>",
                "<params>",
                "</params>",
                "</methodCall>",
                "the end of the document"
            ]
        );
    }

    #[test]
    fn bails_outside_the_subset() {
        for doc in [
            "<methodCall a='1'></methodCall>",
            "<methodCall><!-- c --></methodCall>",
            "<methodCall><![CDATA[x]]></methodCall>",
            "<methodCall><?pi x?></methodCall>",
            "<methodCall><value></values></methodCall>",
            "<methodCall><ex:int>1</int></methodCall>",
            "<methodCall></methodCall>x",
            "<methodCall></methodCall><methodCall></methodCall>",
            "<methodCall>\u{1}</methodCall>",
            "<methodCall>a]]>b</methodCall>",
            "<methodCall>\u{FFFE}</methodCall>",
            "<methodCall><bogus/></methodCall>",
            "<methodCall><xx:int/></methodCall>",
            "<methodCall xmlns:ex='u'><ex:nil/></methodCall>",
            "<methodCall>",
            "<methodCall><value",
        ] {
            assert!(events(doc).is_err(), "{doc:?}");
        }
    }
}
