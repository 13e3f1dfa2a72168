//! The general reader: xml-rs, for every document the fast reader leaves
//! alone (comments, CDATA, attributes, namespaces, odd declarations) and
//! for the canonical error message of every document that is wrong.

// Index arithmetic only: positions into one in-memory document, never
// past its length (< isize::MAX), so `+ 1`/`+ 2` cannot overflow, and each
// difference takes an earlier position from a later one it was found
// after. Peer-chosen numbers (sizes, counts, character codes) are checked
// where they are parsed.
#![allow(clippy::arithmetic_side_effects)]

use std::borrow::Cow;
use std::io::{Chain, Read};
use std::sync::OnceLock;

use memchr::memmem;
use xml::reader::{EventReader, ParserConfig, XmlEvent};

use super::grammar::Event;
use super::tag::tag_of;
use super::{EX_DECLARATION, MAX_NAMESPACES};
use crate::xmlrpc::fault::Fault;

/// What xml-rs reads: the document, possibly with a namespace declaration
/// spliced into the root tag (see [`XmlReader::new`]).
type Source<'a> = Chain<Chain<&'a [u8], &'a [u8]>, &'a [u8]>;

/// The parser settings, built once: text in all its forms (whitespace,
/// CDATA) arrives as one `Characters` event per run, comments vanish, and
/// the bytes are read as UTF-8 whatever the declaration says (they have
/// been checked to be UTF-8 already).
fn parser_config() -> ParserConfig {
    static CONFIG: OnceLock<ParserConfig> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            ParserConfig::new()
                .trim_whitespace(false)
                .whitespace_to_characters(true)
                .cdata_to_characters(true)
                .coalesce_characters(true)
                .ignore_comments(true)
                .ignore_root_level_whitespace(true)
                .allow_multiple_root_elements(false)
                .override_encoding(Some(xml::Encoding::Utf8))
                .ignore_invalid_encoding_declarations(true)
        })
        .clone()
}

pub(super) struct XmlReader<'a> {
    events: EventReader<Source<'a>>,
}

impl<'a> XmlReader<'a> {
    /// Starts xml-rs on `text`, whose root element starts at `root`.
    pub(super) fn new(text: &'a str, root: usize) -> XmlReader<'a> {
        let body = text.as_bytes();
        // `<ex:nil/>` is often sent without declaring the `ex` prefix, which
        // xml-rs (rightly) calls an error; declare it on the root for them,
        // right after the root's name.
        let undeclared_ex = body.get(root) == Some(&b'<')
            && memmem::find(body, b"<ex:").is_some()
            && memmem::find(body, b"xmlns:ex").is_none();
        let (head, splice, tail): (&[u8], &[u8], &[u8]) = if undeclared_ex {
            let name_len = body[root..]
                .iter()
                .position(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'/' | b'>'))
                .unwrap_or(body.len() - root);
            let (head, tail) = body.split_at(root + name_len);
            (head, EX_DECLARATION, tail)
        } else {
            (body, b"", b"")
        };
        let source = head.chain(splice).chain(tail);
        XmlReader {
            events: EventReader::new_with_config(source, parser_config()),
        }
    }

    pub(super) fn next(&mut self) -> Result<Event<'a>, Fault> {
        loop {
            return match self.events.next() {
                Ok(XmlEvent::StartElement {
                    name, namespace, ..
                }) => {
                    if namespace.0.len() > MAX_NAMESPACES {
                        return Err(Fault::parse_error(format!(
                            "more than {} namespace declarations in scope",
                            MAX_NAMESPACES - 3
                        )));
                    }
                    Ok(Event::Start(tag_of(&name)?))
                }
                Ok(XmlEvent::EndElement { name }) => Ok(Event::End(tag_of(&name)?)),
                Ok(
                    XmlEvent::Characters(text) | XmlEvent::Whitespace(text) | XmlEvent::CData(text),
                ) => Ok(Event::Text(Cow::Owned(text))),
                Ok(XmlEvent::EndDocument) => Ok(Event::Eof),
                // `root_offset` refuses these before parsing; this is the
                // backstop should the two ever disagree.
                Ok(XmlEvent::Doctype { .. }) => Err(Fault::parse_error(
                    "DOCTYPE declarations are not allowed in XML-RPC",
                )),
                Ok(
                    XmlEvent::StartDocument { .. }
                    | XmlEvent::ProcessingInstruction { .. }
                    | XmlEvent::Comment(_),
                ) => continue,
                Err(e) => Err(Fault::parse_error(format!("XML is not well-formed: {e}"))),
            };
        }
    }
}
