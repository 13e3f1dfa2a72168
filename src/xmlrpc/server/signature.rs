//! Signatures inferred from a typed method's Rust types, for
//! `system.methodSignature` and the GET page.
//!
//! Parameters: each type's `Deserialize` is run against [`Probe`], a
//! deserializer that holds no data and answers the first `deserialize_*`
//! call with an error naming the XML-RPC type that call stands for
//! (`deserialize_i32` is `int`, `deserialize_struct` is `struct`...). This
//! works for any `DeserializeOwned` type, the user's own structs included,
//! and says what the type asks the codec for, so it cannot disagree with
//! how [`from_value`](crate::xmlrpc::from_value) reads a parameter.
//!
//! Results: serde cannot describe a `Serialize` type without a value to
//! serialize, and stable Rust cannot ask "is this result type also
//! `Deserialize`?" of a generic type. So a result type is named only when
//! it is one of a fixed list of types ([`result_type`]), matched by
//! `TypeId`, whose encoding is the same whatever the value: scalars,
//! `String`, `()`, [`DateTime`], [`Bytes`], and `Vec`, `Option` and
//! string-keyed maps of those. Anything else (your struct, `Value`, a
//! tuple, `Vec<YourStruct>`) leaves the result unknown.
//!
//! A signature is inferred only when every type in it is known; otherwise
//! the method has none, as before (`system.methodSignature` answers
//! `"undef"`), and `.signature(...)` can say it. An explicit signature
//! replaces the inferred one. No name is guessed: a type that takes any
//! value (`Value`, an untagged enum) or whose form depends on the value
//! (an enum: a string or a one-member struct; `u32` as a result: `int` or
//! `i8` by size) is unknown.

use std::any::TypeId;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::de::{self, Deserialize, Visitor};

use crate::xmlrpc::datetime::DateTime;
use crate::xmlrpc::ser::DATETIME_TOKEN;
use crate::xmlrpc::value::{Bytes, Value};

/// The XML-RPC type name of a parameter of type `T`, if the probe can
/// tell. `Option<T>` is `T`'s name: `None` is `<nil/>`, an extension a
/// signature does not spell, and a missing struct member.
pub(crate) fn param_type<T: Deserialize<'static>>() -> Option<&'static str> {
    match T::deserialize(Probe) {
        Err(Probed::Named(name)) => Some(name),
        // The probe never supplies a value, so Ok cannot happen; Unknown
        // and a visitor's own error both mean "cannot tell".
        Ok(_) | Err(Probed::Unknown) => None,
    }
}

/// The XML-RPC type name of a result of type `R`, if `R` is one of the
/// types whose encoding does not depend on the value. The name is the
/// probe's, so a result and a parameter of the same type agree.
pub(crate) fn result_type<R: 'static>() -> Option<&'static str> {
    let id = TypeId::of::<R>();
    macro_rules! known {
        ($($t:ty),* $(,)?) => {
            $(
                if id == TypeId::of::<$t>() {
                    return param_type::<$t>();
                }
                if id == TypeId::of::<Option<$t>>() {
                    return param_type::<$t>();
                }
                // Listed per element type: TypeId has no "any Vec".
                if id == TypeId::of::<Vec<$t>>() {
                    return Some("array");
                }
                if id == TypeId::of::<BTreeMap<String, $t>>()
                    || id == TypeId::of::<HashMap<String, $t>>()
                {
                    return Some("struct");
                }
            )*
        };
    }
    // Not u32 (int or i8 by size), not i128/u128 (not encodable), not
    // Value or anything else whose form varies.
    known!(
        bool,
        i8,
        i16,
        i32,
        i64,
        u8,
        u16,
        u64,
        f32,
        f64,
        char,
        String,
        &'static str,
        Cow<'static, str>,
        DateTime,
        Bytes,
    );
    if id == TypeId::of::<()>() {
        return Some("nil");
    }
    // A Vec or map of values is an array or struct; Value alone is unknown.
    if id == TypeId::of::<Vec<Value>>() {
        return Some("array");
    }
    if id == TypeId::of::<BTreeMap<String, Value>>() || id == TypeId::of::<HashMap<String, Value>>()
    {
        return Some("struct");
    }
    None
}

/// A deserializer with no data: the first request it gets is the answer.
struct Probe;

/// What the probe found: a type name, or nothing it can name.
#[derive(Debug)]
enum Probed {
    Named(&'static str),
    Unknown,
}

impl fmt::Display for Probed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probed::Named(name) => write!(f, "probed: {name}"),
            Probed::Unknown => f.write_str("probed: unknown"),
        }
    }
}

impl std::error::Error for Probed {}

impl de::Error for Probed {
    fn custom<T: fmt::Display>(_msg: T) -> Probed {
        Probed::Unknown
    }
}

macro_rules! named {
    ($($method:ident => $name:literal),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Probed> {
                Err(Probed::Named($name))
            }
        )*
    };
}

macro_rules! unknown {
    ($($method:ident),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Probed> {
                Err(Probed::Unknown)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for Probe {
    type Error = Probed;

    // As the codec encodes each Rust type (ser/mod.rs): up to 32 bits an
    // int, wider an i8; u32 may be either, and as a parameter needs i8 to
    // reach its upper half.
    named! {
        deserialize_bool => "boolean",
        deserialize_i8 => "int",
        deserialize_i16 => "int",
        deserialize_i32 => "int",
        deserialize_u8 => "int",
        deserialize_u16 => "int",
        deserialize_i64 => "i8",
        deserialize_u32 => "i8",
        deserialize_u64 => "i8",
        deserialize_f32 => "double",
        deserialize_f64 => "double",
        deserialize_char => "string",
        deserialize_str => "string",
        deserialize_string => "string",
        deserialize_bytes => "base64",
        deserialize_byte_buf => "base64",
        deserialize_unit => "nil",
        deserialize_seq => "array",
        deserialize_map => "struct",
    }

    // Any value (Value, untagged enums), beyond XML-RPC's integers, or
    // not a value at all.
    unknown! {
        deserialize_any,
        deserialize_i128,
        deserialize_u128,
        deserialize_identifier,
        deserialize_ignored_any,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Probed> {
        // The inner type asks next.
        visitor.visit_some(Probe)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _visitor: V,
    ) -> Result<V::Value, Probed> {
        Err(Probed::Named("nil"))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Probed> {
        if name == DATETIME_TOKEN {
            return Err(Probed::Named("dateTime.iso8601"));
        }
        // A newtype is sent as what it wraps.
        visitor.visit_newtype_struct(Probe)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, Probed> {
        Err(Probed::Named("array"))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, Probed> {
        Err(Probed::Named("array"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Probed> {
        Err(Probed::Named("struct"))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Probed> {
        // A string or a one-member struct, by variant.
        Err(Probed::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[allow(dead_code)]
    #[derive(Deserialize)]
    struct Point {
        x: i32,
        y: i32,
    }

    #[allow(dead_code)]
    #[derive(Deserialize)]
    struct Meters(f64);

    #[allow(dead_code)]
    #[derive(Deserialize)]
    enum Shape {
        Dot,
        Circle(f64),
    }

    #[test]
    fn parameters_are_named_as_the_codec_reads_them() {
        assert_eq!(param_type::<i32>(), Some("int"));
        assert_eq!(param_type::<u16>(), Some("int"));
        assert_eq!(param_type::<i64>(), Some("i8"));
        assert_eq!(param_type::<bool>(), Some("boolean"));
        assert_eq!(param_type::<f64>(), Some("double"));
        assert_eq!(param_type::<String>(), Some("string"));
        assert_eq!(param_type::<Vec<i32>>(), Some("array"));
        assert_eq!(param_type::<(i32, String)>(), Some("array"));
        assert_eq!(param_type::<HashMap<String, i32>>(), Some("struct"));
        assert_eq!(param_type::<Point>(), Some("struct"));
        assert_eq!(param_type::<Option<String>>(), Some("string"));
        assert_eq!(param_type::<Option<Option<Point>>>(), Some("struct"));
        assert_eq!(param_type::<Meters>(), Some("double"));
        assert_eq!(param_type::<Box<i32>>(), Some("int"));
        assert_eq!(param_type::<()>(), Some("nil"));
        assert_eq!(param_type::<DateTime>(), Some("dateTime.iso8601"));
        assert_eq!(param_type::<Bytes>(), Some("base64"));
        // Vec<u8> is read (and sent) as an array of ints.
        assert_eq!(param_type::<Vec<u8>>(), Some("array"));
    }

    #[test]
    fn parameters_taking_any_value_are_unknown() {
        assert_eq!(param_type::<Value>(), None);
        assert_eq!(param_type::<Option<Value>>(), None);
        assert_eq!(param_type::<Shape>(), None);
        assert_eq!(param_type::<i128>(), None);
    }

    #[test]
    fn results_are_named_only_when_fixed_by_their_type() {
        assert_eq!(result_type::<i32>(), Some("int"));
        assert_eq!(result_type::<String>(), Some("string"));
        assert_eq!(result_type::<&'static str>(), Some("string"));
        assert_eq!(result_type::<Option<f64>>(), Some("double"));
        assert_eq!(result_type::<Vec<String>>(), Some("array"));
        assert_eq!(result_type::<BTreeMap<String, i32>>(), Some("struct"));
        assert_eq!(result_type::<HashMap<String, Value>>(), Some("struct"));
        assert_eq!(result_type::<Vec<Value>>(), Some("array"));
        assert_eq!(result_type::<()>(), Some("nil"));
        assert_eq!(result_type::<DateTime>(), Some("dateTime.iso8601"));
        assert_eq!(result_type::<Bytes>(), Some("base64"));
        assert_eq!(result_type::<Value>(), None);
        assert_eq!(result_type::<u32>(), None);
        assert_eq!(result_type::<Point>(), None);
        assert_eq!(result_type::<(i32, i32)>(), None);
    }
}
