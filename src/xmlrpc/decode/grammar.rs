//! The XML-RPC grammar over a stream of events: `Parser` pulls events from
//! either reader and knows what may follow what; values are built with an
//! explicit stack of open containers (see the module docs of `decode`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use super::fast::FastReader;
use super::scalars::{parse_base64, parse_bool, parse_double, parse_int};
use super::tag::Tag;
use super::xmlrs::XmlReader;
use super::DecodeLimits;
use crate::xmlrpc::datetime::DateTime;
use crate::xmlrpc::fault::Fault;
use crate::xmlrpc::value::Value;

/// One step of the document, as the grammar sees it. Text borrows from
/// the document where the reader can manage it.
#[derive(Debug)]
pub(super) enum Event<'a> {
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
pub(super) fn unexpected(found: &Event<'_>, expected: &str, context: &str) -> Fault {
    Fault::invalid_xmlrpc(format!("expected {expected} in {context}, found {found}"))
}

/// At most 40 characters of peer text, for messages.
pub(crate) fn shorten(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

pub(super) fn is_xml_space(c: char) -> bool {
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
pub(super) enum Reader<'a> {
    Fast(FastReader<'a>),
    Xml(Box<XmlReader<'a>>),
}

pub(super) struct Parser<'a> {
    reader: Reader<'a>,
    max_depth: usize,
    elements_left: usize,
    /// The element limit refused the document: a verdict the other reader
    /// would only repeat, after as much work again.
    pub(super) over_element_limit: bool,
}

impl<'a> Parser<'a> {
    pub(super) fn new(reader: Reader<'a>, limits: &DecodeLimits) -> Parser<'a> {
        Parser {
            reader,
            max_depth: limits.max_depth,
            elements_left: limits.max_elements,
            over_element_limit: false,
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
                self.over_element_limit = true;
                return Err(Fault::parse_error(
                    "too many elements (DecodeLimits::max_elements)",
                ));
            }
            self.elements_left = self.elements_left.saturating_sub(1);
        }
        Ok(event)
    }

    /// The next event that is not whitespace. Other text is an error:
    /// between elements only whitespace is allowed.
    pub(super) fn skip_space(&mut self, context: &str) -> Result<Event<'a>, Fault> {
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

    pub(super) fn expect_start(&mut self, tag: Tag, context: &str) -> Result<(), Fault> {
        match self.skip_space(context)? {
            Event::Start(t) if t == tag => Ok(()),
            other => Err(unexpected(&other, &format!("<{}>", tag.name()), context)),
        }
    }

    pub(super) fn expect_end(&mut self, tag: Tag, context: &str) -> Result<(), Fault> {
        match self.skip_space(context)? {
            Event::End(t) if t == tag => Ok(()),
            other => Err(unexpected(&other, &format!("</{}>", tag.name()), context)),
        }
    }

    /// The text of an element that holds only text, up to its end tag.
    pub(super) fn text_until_end(&mut self, tag: Tag) -> Result<Cow<'a, str>, Fault> {
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
    pub(super) fn finish(&mut self) -> Result<(), Fault> {
        match self.skip_space("the document")? {
            Event::Eof => Ok(()),
            other => Err(unexpected(&other, "the end", "the document")),
        }
    }

    /// Reads one value; its `<value>` has been consumed. Containers are kept
    /// on an explicit stack (see the module docs).
    pub(super) fn value(&mut self) -> Result<Value, Fault> {
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
