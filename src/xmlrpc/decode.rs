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

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use xml::name::OwnedName;

use super::{DateTime, Fault, Value};
use fast::FastReader;
use prolog::{document_text, root_offset};
use scalars::{parse_base64, parse_bool, parse_double, parse_int};
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
    decode_with(body, limits, read_call)
}

/// Decodes with the fast reader where it can, and with xml-rs where it
/// cannot *or where decoding failed*: any error is produced again by the
/// xml-rs path, so faults are the same whichever reader saw the document
/// first (see `fast.rs`).
fn decode_with<T>(
    body: &[u8],
    limits: &DecodeLimits,
    read: impl Fn(&mut Parser<'_>) -> Result<T, Fault>,
) -> Result<T, Fault> {
    let text = document_text(body, limits)?;
    let root = root_offset(&text)?;
    if let Some(fast) = FastReader::new(&text, root) {
        if let Ok(done) = read(&mut Parser::new(Reader::Fast(fast), limits)) {
            return Ok(done);
        }
    }
    read(&mut Parser::new(
        Reader::Xml(Box::new(XmlReader::new(&text, root))),
        limits,
    ))
}

/// The fast reader's answer alone: `None` where it gave up (or decoding
/// failed) and xml-rs would be asked. For the differential fuzz target and
/// tests.
#[doc(hidden)]
pub fn decode_call_fast_only(body: &[u8], limits: &DecodeLimits) -> Option<MethodCall> {
    let text = document_text(body, limits).ok()?;
    let root = root_offset(&text).ok()?;
    let fast = FastReader::new(&text, root)?;
    read_call(&mut Parser::new(Reader::Fast(fast), limits)).ok()
}

/// [`decode_call`] with xml-rs alone, the reference the fast reader is
/// checked against.
#[doc(hidden)]
pub fn decode_call_reference(body: &[u8], limits: &DecodeLimits) -> Result<MethodCall, Fault> {
    let text = document_text(body, limits)?;
    let root = root_offset(&text)?;
    read_call(&mut Parser::new(
        Reader::Xml(Box::new(XmlReader::new(&text, root))),
        limits,
    ))
}

/// The same pair for responses.
#[doc(hidden)]
pub fn decode_response_fast_only(
    body: &[u8],
    limits: &DecodeLimits,
) -> Option<Result<Value, Fault>> {
    let text = document_text(body, limits).ok()?;
    let root = root_offset(&text).ok()?;
    let fast = FastReader::new(&text, root)?;
    read_response(&mut Parser::new(Reader::Fast(fast), limits)).ok()
}

#[doc(hidden)]
pub fn decode_response_reference(
    body: &[u8],
    limits: &DecodeLimits,
) -> Result<Result<Value, Fault>, Fault> {
    let text = document_text(body, limits)?;
    let root = root_offset(&text)?;
    read_response(&mut Parser::new(
        Reader::Xml(Box::new(XmlReader::new(&text, root))),
        limits,
    ))
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
    decode_with(body, limits, read_response)
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

// ---- The event stream, reduced to what XML-RPC needs ----

/// The elements of XML-RPC. Names are matched once, when an event arrives,
/// so the grammar below compares small enums rather than strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    MethodCall,
    MethodName,
    MethodResponse,
    Params,
    Param,
    Fault,
    Value,
    Int,
    I4,
    I8,
    Boolean,
    String,
    Double,
    DateTime,
    Base64,
    Struct,
    Member,
    Name,
    Array,
    Data,
    Nil,
}

impl Tag {
    fn from_local_name(name: &str) -> Option<Tag> {
        Some(match name {
            "methodCall" => Tag::MethodCall,
            "methodName" => Tag::MethodName,
            "methodResponse" => Tag::MethodResponse,
            "params" => Tag::Params,
            "param" => Tag::Param,
            "fault" => Tag::Fault,
            "value" => Tag::Value,
            "int" => Tag::Int,
            "i4" => Tag::I4,
            "i8" => Tag::I8,
            "boolean" => Tag::Boolean,
            "string" => Tag::String,
            "double" => Tag::Double,
            "dateTime.iso8601" => Tag::DateTime,
            "base64" => Tag::Base64,
            "struct" => Tag::Struct,
            "member" => Tag::Member,
            "name" => Tag::Name,
            "array" => Tag::Array,
            "data" => Tag::Data,
            "nil" => Tag::Nil,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Tag::MethodCall => "methodCall",
            Tag::MethodName => "methodName",
            Tag::MethodResponse => "methodResponse",
            Tag::Params => "params",
            Tag::Param => "param",
            Tag::Fault => "fault",
            Tag::Value => "value",
            Tag::Int => "int",
            Tag::I4 => "i4",
            Tag::I8 => "i8",
            Tag::Boolean => "boolean",
            Tag::String => "string",
            Tag::Double => "double",
            Tag::DateTime => "dateTime.iso8601",
            Tag::Base64 => "base64",
            Tag::Struct => "struct",
            Tag::Member => "member",
            Tag::Name => "name",
            Tag::Array => "array",
            Tag::Data => "data",
            Tag::Nil => "nil",
        }
    }
}

/// Maps an element name to a [`Tag`]. Unprefixed names are ours whatever
/// the default namespace; prefixed ones only with the `ex` prefix or in
/// Apache's extensions namespace.
fn tag_of(name: &OwnedName) -> Result<Tag, Fault> {
    let ours = match (&name.prefix, &name.namespace) {
        (None, _) => true,
        (Some(prefix), _) if prefix == "ex" => true,
        (_, Some(ns)) => ns == EXTENSIONS_NAMESPACE,
        _ => false,
    };
    match Tag::from_local_name(&name.local_name) {
        Some(tag) if ours => Ok(tag),
        _ => {
            let shown = match &name.prefix {
                Some(prefix) => format!("{prefix}:{}", name.local_name),
                None => name.local_name.clone(),
            };
            Err(Fault::invalid_xmlrpc(format!(
                "unknown element <{}>",
                shorten(&shown)
            )))
        }
    }
}

/// One step of the document, as the grammar sees it. Text borrows from
/// the document where the reader can manage it.
#[derive(Debug)]
enum Event<'a> {
    Start(Tag),
    End(Tag),
    Text(Cow<'a, str>),
    Eof,
}

impl fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Start(tag) => write!(f, "<{}>", tag.name()),
            Event::End(tag) => write!(f, "</{}>", tag.name()),
            Event::Text(text) => write!(f, "text '{}'", shorten(text.trim())),
            Event::Eof => f.write_str("the end of the document"),
        }
    }
}

/// "expected X in Y, found Z".
fn unexpected(found: &Event<'_>, expected: &str, context: &str) -> Fault {
    Fault::invalid_xmlrpc(format!("expected {expected} in {context}, found {found}"))
}

/// At most 40 characters of peer text, for messages.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_blank(text: &str) -> bool {
    text.chars().all(is_xml_space)
}

/// A half-read array or struct, waiting for its next element.
enum Open {
    Array(Vec<Value>),
    /// The members so far, and the name of the member being read.
    Struct(BTreeMap<String, Value>, String),
}

/// What the content of a `<value>` turned out to be.
enum Started {
    /// A whole value, its `</value>` consumed.
    Complete(Value),
    /// `<array><data>` consumed.
    Array,
    /// `<struct>` consumed.
    Struct,
}

/// Where the grammar gets its events: the fast reader (the common case)
/// or xml-rs.
enum Reader<'a> {
    Fast(FastReader<'a>),
    Xml(Box<XmlReader<'a>>),
}

struct Parser<'a> {
    reader: Reader<'a>,
    max_depth: usize,
    elements_left: usize,
}

impl<'a> Parser<'a> {
    fn new(reader: Reader<'a>, limits: &DecodeLimits) -> Parser<'a> {
        Parser {
            reader,
            max_depth: limits.max_depth,
            elements_left: limits.max_elements,
        }
    }

    fn next(&mut self) -> Result<Event<'a>, Fault> {
        let event = match &mut self.reader {
            // The message is never shown: a failed fast decode is redone
            // by xml-rs, whose answer is the one returned.
            Reader::Fast(reader) => reader
                .next()
                .map_err(|_| Fault::parse_error("outside the fast reader's subset"))?,
            Reader::Xml(reader) => reader.next()?,
        };
        if let Event::Start(_) = event {
            if self.elements_left == 0 {
                return Err(Fault::parse_error(
                    "too many elements (DecodeLimits::max_elements)",
                ));
            }
            self.elements_left -= 1;
        }
        Ok(event)
    }

    /// The next event that is not whitespace. Other text is an error:
    /// between elements only whitespace is allowed.
    fn skip_space(&mut self, context: &str) -> Result<Event<'a>, Fault> {
        loop {
            match self.next()? {
                Event::Text(text) if is_blank(&text) => continue,
                Event::Text(text) => {
                    return Err(Fault::invalid_xmlrpc(format!(
                        "unexpected text '{}' in {context}",
                        shorten(text.trim())
                    )))
                }
                event => return Ok(event),
            }
        }
    }

    fn expect_start(&mut self, tag: Tag, context: &str) -> Result<(), Fault> {
        match self.skip_space(context)? {
            Event::Start(t) if t == tag => Ok(()),
            other => Err(unexpected(&other, &format!("<{}>", tag.name()), context)),
        }
    }

    fn expect_end(&mut self, tag: Tag, context: &str) -> Result<(), Fault> {
        match self.skip_space(context)? {
            Event::End(t) if t == tag => Ok(()),
            other => Err(unexpected(&other, &format!("</{}>", tag.name()), context)),
        }
    }

    /// The text of an element that holds only text, up to its end tag.
    fn text_until_end(&mut self, tag: Tag) -> Result<Cow<'a, str>, Fault> {
        let mut collected = Cow::Borrowed("");
        loop {
            match self.next()? {
                Event::Text(text) if collected.is_empty() => collected = text,
                Event::Text(text) => collected.to_mut().push_str(&text),
                Event::End(t) if t == tag => return Ok(collected),
                other => {
                    return Err(Fault::invalid_xmlrpc(format!(
                        "<{}> holds only text, found {other}",
                        tag.name()
                    )))
                }
            }
        }
    }

    /// After the root element: nothing but the end of the document (xml-rs
    /// itself refuses a second root or text after the first).
    fn finish(&mut self) -> Result<(), Fault> {
        match self.skip_space("the document")? {
            Event::Eof => Ok(()),
            other => Err(unexpected(&other, "the end", "the document")),
        }
    }

    /// Reads one value; its `<value>` has been consumed. Containers are kept
    /// on an explicit stack (see the module docs).
    fn value(&mut self) -> Result<Value, Fault> {
        let mut stack: Vec<Open> = Vec::new();
        loop {
            // Here we are just inside a `<value>`.
            let mut value = match self.value_content()? {
                Started::Complete(value) => value,
                Started::Array => {
                    self.check_depth(stack.len())?;
                    if self.array_next()? {
                        stack.push(Open::Array(Vec::new()));
                        continue;
                    }
                    Value::Array(Vec::new())
                }
                Started::Struct => {
                    self.check_depth(stack.len())?;
                    if let Some(name) = self.struct_next()? {
                        stack.push(Open::Struct(BTreeMap::new(), name));
                        continue;
                    }
                    Value::Struct(BTreeMap::new())
                }
            };
            // A value is complete: hand it to its container, and close every
            // container that ends with it, until one wants another value.
            loop {
                let Some(mut open) = stack.pop() else {
                    return Ok(value);
                };
                let more = match &mut open {
                    Open::Array(items) => {
                        items.push(value);
                        self.array_next()?
                    }
                    Open::Struct(members, name) => {
                        members.insert(std::mem::take(name), value);
                        self.expect_end(Tag::Member, "<member>")?;
                        match self.struct_next()? {
                            Some(next) => {
                                *name = next;
                                true
                            }
                            None => false,
                        }
                    }
                };
                if more {
                    stack.push(open);
                    break;
                }
                value = match open {
                    Open::Array(items) => Value::Array(items),
                    Open::Struct(members, _) => Value::Struct(members),
                };
            }
        }
    }

    /// `open` is the number of containers around the one just opened.
    fn check_depth(&self, open: usize) -> Result<(), Fault> {
        if open >= self.max_depth {
            return Err(Fault::parse_error(format!(
                "arrays and structs nest deeper than the limit of {}",
                self.max_depth
            )));
        }
        Ok(())
    }

    /// Inside `<data>`: `true` if another `<value>` has begun, `false` if
    /// the array has ended (`</data></array></value>` consumed).
    fn array_next(&mut self) -> Result<bool, Fault> {
        match self.skip_space("<data>")? {
            Event::Start(Tag::Value) => Ok(true),
            Event::End(Tag::Data) => {
                self.expect_end(Tag::Array, "<array>")?;
                self.close_value()?;
                Ok(false)
            }
            other => Err(unexpected(&other, "<value> or </data>", "<data>")),
        }
    }

    /// Inside `<struct>`: the name of the next member if one has begun (its
    /// `<member><name>..</name><value>` consumed), `None` if the struct has
    /// ended (`</struct></value>` consumed).
    fn struct_next(&mut self) -> Result<Option<String>, Fault> {
        match self.skip_space("<struct>")? {
            Event::Start(Tag::Member) => {}
            Event::End(Tag::Struct) => {
                self.close_value()?;
                return Ok(None);
            }
            other => return Err(unexpected(&other, "<member> or </struct>", "<struct>")),
        }
        let name = match self.skip_space("<member>")? {
            Event::Start(Tag::Name) => self.text_until_end(Tag::Name)?.into_owned(),
            Event::Start(Tag::Value) | Event::End(Tag::Member) => {
                return Err(Fault::invalid_xmlrpc("a <member> has no <name>"))
            }
            other => return Err(unexpected(&other, "<name>", "<member>")),
        };
        match self.skip_space("<member>")? {
            Event::Start(Tag::Value) => Ok(Some(name)),
            Event::End(Tag::Member) => Err(Fault::invalid_xmlrpc(format!(
                "<member> '{}' has no <value>",
                shorten(&name)
            ))),
            other => Err(unexpected(&other, "<value>", "<member>")),
        }
    }

    /// After a typed value inside `<value>`: only whitespace, then
    /// `</value>`.
    fn close_value(&mut self) -> Result<(), Fault> {
        match self.skip_space("<value>")? {
            Event::End(Tag::Value) => Ok(()),
            Event::Start(tag) => Err(Fault::invalid_xmlrpc(format!(
                "two values in one <value>: <{}> after the first",
                tag.name()
            ))),
            other => Err(unexpected(&other, "</value>", "<value>")),
        }
    }

    /// Reads what follows `<value>` up to the first container or to the end
    /// of a scalar value.
    fn value_content(&mut self) -> Result<Started, Fault> {
        let mut untyped = Cow::Borrowed("");
        let tag = loop {
            match self.next()? {
                // A `<value>` with text only is a string, whitespace and all.
                Event::Text(text) if untyped.is_empty() => untyped = text,
                Event::Text(text) => untyped.to_mut().push_str(&text),
                Event::End(Tag::Value) => {
                    return Ok(Started::Complete(Value::String(untyped.into_owned())))
                }
                Event::Start(tag) if is_blank(&untyped) => break tag,
                Event::Start(tag) => {
                    return Err(Fault::invalid_xmlrpc(format!(
                        "text '{}' and <{}> mixed in one <value>",
                        shorten(untyped.trim()),
                        tag.name()
                    )))
                }
                other => return Err(unexpected(&other, "a value", "<value>")),
            }
        };
        let value = match tag {
            Tag::Array => {
                self.expect_start(Tag::Data, "<array>")?;
                return Ok(Started::Array);
            }
            Tag::Struct => return Ok(Started::Struct),
            Tag::String => Value::String(self.text_until_end(tag)?.into_owned()),
            Tag::Int | Tag::I4 => {
                let text = self.text_until_end(tag)?;
                let n = parse_int(tag, &text, i32::MIN.into(), i32::MAX.into())?;
                // In range, checked just above.
                Value::Int(n as i32)
            }
            Tag::I8 => {
                let text = self.text_until_end(tag)?;
                Value::I8(parse_int(tag, &text, i64::MIN, i64::MAX)?)
            }
            Tag::Boolean => {
                let text = self.text_until_end(tag)?;
                Value::Bool(parse_bool(&text)?)
            }
            Tag::Double => {
                let text = self.text_until_end(tag)?;
                Value::Double(parse_double(&text)?)
            }
            Tag::DateTime => {
                let text = self.text_until_end(tag)?;
                let trimmed = text.trim_matches(is_xml_space);
                let dt = trimmed
                    .parse::<DateTime>()
                    .map_err(|e| Fault::invalid_xmlrpc(format!("<dateTime.iso8601>: {e}")))?;
                Value::DateTime(dt)
            }
            Tag::Base64 => {
                let text = self.text_until_end(tag)?;
                Value::Base64(parse_base64(&text)?)
            }
            Tag::Nil => {
                let text = self.text_until_end(tag)?;
                if !is_blank(&text) {
                    return Err(Fault::invalid_xmlrpc(format!(
                        "<nil/> must be empty, found text '{}'",
                        shorten(text.trim())
                    )));
                }
                Value::Nil
            }
            other => {
                return Err(Fault::invalid_xmlrpc(format!(
                    "<{}> is not a value type (in <value>)",
                    other.name()
                )))
            }
        };
        self.close_value()?;
        Ok(Started::Complete(value))
    }
}

mod fast;
mod prolog;
mod scalars;
#[cfg(test)]
mod tests;
mod xmlrs;
