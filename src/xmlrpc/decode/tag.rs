//! The element names of XML-RPC, matched once when an event arrives, so
//! the grammar compares small enums rather than strings.

use xml::name::OwnedName;

use super::grammar::shorten;
use super::EXTENSIONS_NAMESPACE;
use crate::xmlrpc::fault::Fault;

/// The elements of XML-RPC. Names are matched once, when an event arrives,
/// so the grammar below compares small enums rather than strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tag {
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
    pub(super) fn from_local_name(name: &str) -> Option<Tag> {
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

    pub(super) fn name(self) -> &'static str {
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
pub(super) fn tag_of(name: &OwnedName) -> Result<Tag, Fault> {
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
