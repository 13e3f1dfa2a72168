//! Decoding `<methodCall>` and `<methodResponse>` documents (Python's
//! `xmlrpc.client.loads`), on the pull parser of xml-rs.
//!
//! A reader turns bytes into a stream of events (start tag, text, end tag);
//! the grammar below turns that stream into [`Value`]s. There are two
//! readers. The fast one (`fast.rs`) handles the
//! plain subset of XML that clients actually send, about 12 times faster
//! than xml-rs; on anything outside that subset, and on any error, the
//! document is decoded again with xml-rs (`xmlrs.rs`), which stays the
//! reference: every answer and every fault is the one xml-rs alone gives.
//!
//! Files: `prolog.rs` (size, encoding, DOCTYPE, before any reader),
//! `fast.rs` and `xmlrs.rs` (the readers), `tag.rs` (element names),
//! `grammar.rs` (what may follow what, and building values), `scalars.rs`
//! (the text of ints, doubles, booleans, base64); this file has the public
//! entry points and the shape of a call and a response.
//!
//! The grammar walks the events with the XML-RPC rules in hand and builds
//! [`Value`]s. Arrays and structs nest, so values are read with an explicit
//! stack of open containers rather than by recursion: a document nested
//! 200,000 levels deep is refused at [`DecodeLimits::max_depth`] without
//! ever growing the call stack.
//!
//! # What is accepted
//!
//! Be liberal in what you accept: pretty-printed documents (whitespace
//! between elements is not data), `<int>` or `<i4>`, `<i8>`, `<nil/>`, their
//! `ex:` forms (Apache's extensions namespace, declared or not), a `<value>`
//! without a type element (a string), `<params>` left out of a call, doubles
//! with exponents or a leading `+`, base64 broken across lines (padding
//! optional), `<boolean>` as `true`/`false` as well as `1`/`0`, dates with
//! dashes or a trailing `Z`, CDATA sections and comments anywhere, and an
//! XML declaration naming any encoding (or none) as long as the bytes are
//! UTF-8; bytes that are not UTF-8 are read as ISO-8859-1 if the
//! declaration says so.
//!
//! # What is refused, and with which code
//!
//! Every refusal is a [`Fault`] with a message that says what was wrong and
//! where; no input panics or loops.
//!
//! | code | when |
//! | --- | --- |
//! | -32700 [`PARSE_ERROR`](Fault::PARSE_ERROR) | not well-formed XML (xml-rs's message, with line and column), trailing garbage after the root, a DOCTYPE, or a [`DecodeLimits`] limit exceeded: the document was not (fully) read as XML |
//! | -32701 [`UNSUPPORTED_ENCODING`](Fault::UNSUPPORTED_ENCODING) | bytes that are not UTF-8 in a document that declares an encoding other than UTF-8 or ISO-8859-1 (or starts with a UTF-16 byte order mark) |
//! | -32702 [`INVALID_CHARACTER`](Fault::INVALID_CHARACTER) | bytes that are not UTF-8 in a document that declares UTF-8 or nothing |
//! | -32600 [`INVALID_XMLRPC`](Fault::INVALID_XMLRPC) | well-formed XML that is not XML-RPC: unknown or misplaced elements, text where elements belong, a `<member>` without `<name>` or `<value>`, two values in one `<value>`, an out-of-range or non-numeric number, a NaN or infinite double, bad base64, an impossible date |
//!
//! # Differences from Python
//!
//! - Python's `loads` returns `(params, methodname)` for both kinds of
//!   document; here [`decode_call`] and [`decode_response`] each check the
//!   document is the kind expected.
//! - Python uses expat, which expands entities declared in an internal DTD
//!   (and is therefore exposed to "billion laughs"). Any `<!DOCTYPE` is
//!   refused here, before xml-rs sees it: xml-rs 1.x parses internal DTD
//!   subsets and expands the entities they declare, and bounds that
//!   expansion only partly. Without a DTD the only entities are the five
//!   predefined ones and character references; nothing external is fetched.
//! - Doubles must be finite: `nan` and `inf` have no XML-RPC form, and a
//!   value we accept is a value we can send back.
//! - Limits: see [`DecodeLimits`].

// Peer-controlled sizes and counts: arithmetic here must say what happens
// at the edges (checked, saturating), never wrap silently in release.
#![warn(clippy::arithmetic_side_effects)]

use std::fmt;

use crate::xmlrpc::fault::Fault;
use crate::xmlrpc::value::Value;
use fast::FastReader;
pub(crate) use grammar::shorten;
use grammar::{is_xml_space, unexpected, Event, Parser, Reader};
use prolog::{document_text, root_offset};
use tag::Tag;
use xmlrs::XmlReader;

/// The namespace of Apache XML-RPC's extension types (`ex:nil`, `ex:i8`).
pub const EXTENSIONS_NAMESPACE: &str = "http://ws.apache.org/xmlrpc/namespaces/extensions";

/// Spliced into the root tag of documents that use `ex:` undeclared.
const EX_DECLARATION: &[u8] = b" xmlns:ex=\"http://ws.apache.org/xmlrpc/namespaces/extensions\"";

/// Bounds on what a decoder will read, so that hostile input costs a fault
/// rather than memory or time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// How deeply arrays and structs may nest: `[[1]]` is depth 2. Default
    /// 128 (xmlrpc-c allows 64). Deeper documents get a -32700 fault as soon
    /// as the parser reaches the level beyond the limit. Keep it in the
    /// thousands at most: dropping a `Value` recurses once per level.
    pub max_depth: usize,
    /// Size of the whole document in bytes, checked before parsing. Default
    /// 10 MiB, the HTTP server's default body limit. This also bounds every
    /// string and every base64 blob in it.
    pub max_size: usize,
    /// Elements in the document. Default 200,000 (a 10,000-element array
    /// of ints is 20,000). Decoding time grows with the element count, and
    /// the loop serves no one else meanwhile: a 10 MiB document of empty
    /// `<value/>`s would hold it for a second.
    pub max_elements: usize,
}

/// Namespace bindings in scope beyond which a document is refused: xml-rs
/// rebuilds the in-scope map at every element, so thousands of
/// declarations make parsing quadratic. XML-RPC needs at most one (`ex`);
/// three more are predefined.
const MAX_NAMESPACES: usize = 16;

impl Default for DecodeLimits {
    fn default() -> DecodeLimits {
        DecodeLimits {
            max_depth: 128,
            max_size: 10 * 1024 * 1024,
            max_elements: 200_000,
        }
    }
}

/// A decoded `<methodCall>`: what the client asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct MethodCall {
    /// `<methodName>`, with surrounding whitespace removed.
    pub method: String,
    /// The `<param>` values, in order (empty if `<params>` was left out).
    pub params: Vec<Value>,
}

impl fmt::Display for MethodCall {
    /// `add(40, 2)`, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.method)?;
        for (i, param) in self.params.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{param}")?;
        }
        f.write_str(")")
    }
}

/// Decodes a `<methodCall>` document: what a server reads from a request
/// body.
///
/// ```
/// use medusa::xmlrpc::{decode_call, DecodeLimits, Value};
///
/// let body = b"<?xml version='1.0'?>
/// <methodCall>
/// <methodName>add</methodName>
/// <params>
/// <param><value><int>40</int></value></param>
/// <param><value><i4>2</i4></value></param>
/// </params>
/// </methodCall>";
/// let call = decode_call(body, &DecodeLimits::default()).unwrap();
/// assert_eq!(call.method, "add");
/// assert_eq!(call.params, vec![Value::Int(40), Value::Int(2)]);
/// ```
#[doc(alias = "loads")]
pub fn decode_call(body: &[u8], limits: &DecodeLimits) -> Result<MethodCall, Fault> {
    decoded(decode_with(body, limits, Readers::Both, read_call))
}

/// Which reader decodes a document.
#[derive(Clone, Copy)]
enum Readers {
    /// The fast reader where it can, xml-rs where it cannot *or where
    /// decoding failed*: any error is produced again by the xml-rs path, so
    /// faults are the same whichever reader saw the document first (see
    /// `fast.rs`). What the public decoders use.
    Both,
    /// Only the fast reader (`None` where it gave up or decoding failed).
    Fast,
    /// Only xml-rs, the reference the fast reader is checked against.
    XmlRs,
}

/// Decodes `body` with `read` on the readers chosen. `None` only for
/// `Readers::Fast` when the fast reader could not decode the document.
fn decode_with<T>(
    body: &[u8],
    limits: &DecodeLimits,
    readers: Readers,
    read: impl Fn(&mut Parser<'_>) -> Result<T, Fault>,
) -> Option<Result<T, Fault>> {
    let prepared = document_text(body, limits).and_then(|text| {
        let root = root_offset(&text)?;
        Ok((text, root))
    });
    let (text, root) = match prepared {
        Ok(prepared) => prepared,
        Err(_) if matches!(readers, Readers::Fast) => return None,
        Err(fault) => return Some(Err(fault)),
    };
    if !matches!(readers, Readers::XmlRs) {
        let fast = FastReader::new(&text, root).map(|fast| {
            let mut parser = Parser::new(Reader::Fast(fast), limits);
            (read(&mut parser), parser.over_element_limit)
        });
        match (fast, readers) {
            (Some((Ok(done), _)), _) => return Some(Ok(done)),
            // Every element up to the limit was in the fast reader's
            // subset, so xml-rs would count the same and refuse at the
            // same place: 10 times the work (seconds of the loop's time
            // for a 10 MiB document of empty values) for the same fault.
            (Some((Err(fault), true)), Readers::Both) => return Some(Err(fault)),
            (_, Readers::Fast) => return None,
            (_, _) => {}
        }
    }
    let xml = Reader::Xml(Box::new(XmlReader::new(&text, root)));
    Some(read(&mut Parser::new(xml, limits)))
}

/// The fast reader's answer alone: `None` where it gave up (or decoding
/// failed) and xml-rs would be asked. For the differential fuzz target and
/// tests.
#[doc(hidden)]
pub fn decode_call_fast_only(body: &[u8], limits: &DecodeLimits) -> Option<MethodCall> {
    decode_with(body, limits, Readers::Fast, read_call).and_then(Result::ok)
}

/// [`decode_call`] with xml-rs alone, the reference the fast reader is
/// checked against.
#[doc(hidden)]
pub fn decode_call_reference(body: &[u8], limits: &DecodeLimits) -> Result<MethodCall, Fault> {
    decoded(decode_with(body, limits, Readers::XmlRs, read_call))
}

/// The same pair for responses.
#[doc(hidden)]
pub fn decode_response_fast_only(
    body: &[u8],
    limits: &DecodeLimits,
) -> Option<Result<Value, Fault>> {
    decode_with(body, limits, Readers::Fast, read_response).and_then(Result::ok)
}

#[doc(hidden)]
pub fn decode_response_reference(
    body: &[u8],
    limits: &DecodeLimits,
) -> Result<Result<Value, Fault>, Fault> {
    decoded(decode_with(body, limits, Readers::XmlRs, read_response))
}

/// The answer of `decode_with` for the readers that always answer.
fn decoded<T>(answer: Option<Result<T, Fault>>) -> Result<T, Fault> {
    answer.unwrap_or_else(|| Err(Fault::parse_error("no reader answered")))
}

fn read_call(p: &mut Parser<'_>) -> Result<MethodCall, Fault> {
    p.expect_start(Tag::MethodCall, "the document")?;
    p.expect_start(Tag::MethodName, "<methodCall>")?;
    let method = p.text_until_end(Tag::MethodName)?;
    let method = method.trim_matches(is_xml_space);
    if method.is_empty() {
        return Err(Fault::invalid_xmlrpc("<methodName> is empty"));
    }
    let method = method.to_string();

    let mut params = Vec::new();
    match p.skip_space("<methodCall>")? {
        Event::End(Tag::MethodCall) => {}
        Event::Start(Tag::Params) => {
            loop {
                match p.skip_space("<params>")? {
                    Event::Start(Tag::Param) => {
                        p.expect_start(Tag::Value, "<param>")?;
                        params.push(p.value()?);
                        p.expect_end(Tag::Param, "<param>")?;
                    }
                    Event::End(Tag::Params) => break,
                    other => return Err(unexpected(&other, "<param> or </params>", "<params>")),
                }
            }
            p.expect_end(Tag::MethodCall, "<methodCall>")?;
        }
        other => {
            return Err(unexpected(
                &other,
                "<params> or </methodCall>",
                "<methodCall>",
            ))
        }
    }
    p.finish()?;
    Ok(MethodCall { method, params })
}

/// Decodes a `<methodResponse>` document: what a client reads from a
/// response body.
///
/// The outer `Err` means the document could not be decoded; the inner one
/// means it was decoded and is a `<fault>` the server sent.
///
/// ```
/// use medusa::xmlrpc::{decode_response, DecodeLimits, Value};
///
/// let body = b"<methodResponse><params><param><value><int>42</int></value>\
///              </param></params></methodResponse>";
/// let answer = decode_response(body, &DecodeLimits::default()).unwrap();
/// assert_eq!(answer, Ok(Value::Int(42)));
/// ```
#[doc(alias = "loads")]
pub fn decode_response(body: &[u8], limits: &DecodeLimits) -> Result<Result<Value, Fault>, Fault> {
    decoded(decode_with(body, limits, Readers::Both, read_response))
}

fn read_response(p: &mut Parser<'_>) -> Result<Result<Value, Fault>, Fault> {
    p.expect_start(Tag::MethodResponse, "the document")?;
    let answer = match p.skip_space("<methodResponse>")? {
        Event::Start(Tag::Params) => {
            p.expect_start(Tag::Param, "<params>")?;
            p.expect_start(Tag::Value, "<param>")?;
            let value = p.value()?;
            p.expect_end(Tag::Param, "<param>")?;
            match p.skip_space("<params>")? {
                Event::End(Tag::Params) => {}
                Event::Start(Tag::Param) => {
                    return Err(Fault::invalid_xmlrpc(
                        "a <methodResponse> has exactly one <param>, found a second",
                    ))
                }
                other => return Err(unexpected(&other, "</params>", "<params>")),
            }
            Ok(value)
        }
        Event::Start(Tag::Fault) => {
            p.expect_start(Tag::Value, "<fault>")?;
            let value = p.value()?;
            p.expect_end(Tag::Fault, "<fault>")?;
            Err(fault_from_value(value)?)
        }
        other => {
            return Err(unexpected(
                &other,
                "<params> or <fault>",
                "<methodResponse>",
            ))
        }
    };
    p.expect_end(Tag::MethodResponse, "<methodResponse>")?;
    p.finish()?;
    Ok(answer)
}

/// Reads the `{faultCode, faultString}` struct of a `<fault>`. Liberal: an
/// `<i8>` code that fits is taken, and a `faultString` that is not a string
/// (or is missing) is shown as best we can rather than refused.
fn fault_from_value(value: Value) -> Result<Fault, Fault> {
    let Value::Struct(mut members) = value else {
        return Err(Fault::invalid_xmlrpc(format!(
            "a <fault> holds a struct, found {}",
            value.type_name()
        )));
    };
    let code = match members.remove("faultCode") {
        Some(v) => {
            i32::try_from(v).map_err(|e| Fault::invalid_xmlrpc(format!("faultCode: {e}")))?
        }
        None => return Err(Fault::invalid_xmlrpc("the <fault> struct has no faultCode")),
    };
    let message = match members.remove("faultString") {
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    Ok(Fault::new(code, message))
}

mod fast;
mod grammar;
mod prolog;
mod scalars;
mod tag;
#[cfg(test)]
mod tests;
mod xmlrs;
