//! Any `serde::Serialize` type to a [`Value`]: [`to_value`].
//!
//! Python marshals any object whose type it knows; in Rust, serde's data
//! model plays that part. A method can return its own struct and have it
//! arrive as an XML-RPC `<struct>`.
//!
//! How serde's types map:
//!
//! | serde | Value |
//! | --- | --- |
//! | `bool` | `Bool` |
//! | `i8`, `i16`, `i32`, `u8`, `u16` | `Int` |
//! | `u32` | `Int` if it fits, else `I8` |
//! | `i64`, `u64` | `I8` (a `u64` beyond `i64::MAX` is an error) |
//! | `f32`, `f64` | `Double` |
//! | `char`, `str` | `String` |
//! | bytes (`Bytes`, `serde_bytes`) | `Base64` |
//! | [`DateTime`](super::DateTime) | `DateTime` |
//! | `None`, `()`, unit struct | `Nil` |
//! | `Some(x)`, newtype struct | `x` |
//! | sequence, tuple | `Array` |
//! | map, struct | `Struct` (map keys: strings, chars or integers) |
//! | enum unit variant | `String`, the variant's name |
//! | other enum variants | `Struct` with one member named after the variant |
//!
//! This is serde_json's mapping, with XML-RPC's types in place of JSON's.
//!
//! Here: [`to_value`], `Serialize` for [`Value`], [`DateTime`] and
//! [`Bytes`], and the serializer of scalars; `compound.rs` collects arrays,
//! structs and enum variants, `member_name.rs` makes map keys into member
//! names.

use std::collections::BTreeMap;

use serde::ser::{self, Serialize};

use super::datetime::DateTime;
use super::value::{Bytes, Value, ValueError};

mod compound;
mod member_name;

use compound::{SerializeArray, SerializeStruct, SerializeVariant};

/// The newtype-struct name under which [`DateTime`] serializes, so that
/// [`to_value`] can recognise it (other serializers just see its string).
pub(crate) const DATETIME_TOKEN: &str = "$__medusa_xmlrpc_datetime";

/// Converts any serializable value into a [`Value`].
///
/// ```
/// use medusa::xmlrpc::{to_value, Value};
/// use serde::Serialize;
///
/// #[derive(Serialize)]
/// struct Point { x: i32, y: i32, label: Option<String> }
///
/// let v = to_value(&Point { x: 1, y: 2, label: None }).unwrap();
/// assert_eq!(v.to_string(), "{'label': None, 'x': 1, 'y': 2}");
/// ```
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, ValueError> {
    value.serialize(ValueSerializer)
}

impl ser::Error for ValueError {
    fn custom<T: std::fmt::Display>(msg: T) -> ValueError {
        ValueError::new(msg.to_string())
    }
}

impl Serialize for Value {
    /// Each variant as the serde type that [`to_value`] maps back to it, so
    /// `to_value(&v) == Ok(v)`.
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use ser::{SerializeMap, SerializeSeq};
        match self {
            Value::Int(n) => serializer.serialize_i32(*n),
            Value::I8(n) => serializer.serialize_i64(*n),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::String(s) => serializer.serialize_str(s),
            Value::Double(x) => serializer.serialize_f64(*x),
            Value::DateTime(dt) => dt.serialize(serializer),
            Value::Base64(bytes) => serializer.serialize_bytes(bytes),
            Value::Struct(members) => {
                let mut map = serializer.serialize_map(Some(members.len()))?;
                for (name, member) in members {
                    map.serialize_entry(name, member)?;
                }
                map.end()
            }
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Nil => serializer.serialize_unit(),
        }
    }
}

impl Serialize for DateTime {
    /// The basic-form string, wrapped in a newtype struct whose name tells
    /// [`to_value`] to make a `<dateTime.iso8601>` of it.
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_struct(DATETIME_TOKEN, &self.to_string())
    }
}

impl Serialize for Bytes {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

/// The serde `Serializer` whose output is a [`Value`].
struct ValueSerializer;

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = ValueError;
    type SerializeSeq = SerializeArray;
    type SerializeTuple = SerializeArray;
    type SerializeTupleStruct = SerializeArray;
    type SerializeTupleVariant = SerializeVariant<SerializeArray>;
    type SerializeMap = SerializeStruct;
    type SerializeStruct = SerializeStruct;
    type SerializeStructVariant = SerializeVariant<SerializeStruct>;

    fn serialize_bool(self, v: bool) -> Result<Value, ValueError> {
        Ok(Value::Bool(v))
    }

    fn serialize_i8(self, v: i8) -> Result<Value, ValueError> {
        Ok(Value::Int(v.into()))
    }

    fn serialize_i16(self, v: i16) -> Result<Value, ValueError> {
        Ok(Value::Int(v.into()))
    }

    fn serialize_i32(self, v: i32) -> Result<Value, ValueError> {
        Ok(Value::Int(v))
    }

    fn serialize_i64(self, v: i64) -> Result<Value, ValueError> {
        Ok(Value::I8(v))
    }

    fn serialize_u8(self, v: u8) -> Result<Value, ValueError> {
        Ok(Value::Int(v.into()))
    }

    fn serialize_u16(self, v: u16) -> Result<Value, ValueError> {
        Ok(Value::Int(v.into()))
    }

    fn serialize_u32(self, v: u32) -> Result<Value, ValueError> {
        Ok(i32::try_from(v).map_or(Value::I8(v.into()), Value::Int))
    }

    fn serialize_u64(self, v: u64) -> Result<Value, ValueError> {
        i64::try_from(v)
            .map(Value::I8)
            .map_err(|_| ValueError::new(format!("{v} is too large for XML-RPC (max i64)")))
    }

    fn serialize_f32(self, v: f32) -> Result<Value, ValueError> {
        Ok(Value::Double(v.into()))
    }

    fn serialize_f64(self, v: f64) -> Result<Value, ValueError> {
        Ok(Value::Double(v))
    }

    fn serialize_char(self, v: char) -> Result<Value, ValueError> {
        Ok(Value::String(v.to_string()))
    }

    fn serialize_str(self, v: &str) -> Result<Value, ValueError> {
        Ok(Value::String(v.to_string()))
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Value, ValueError> {
        Ok(Value::Base64(v.to_vec()))
    }

    fn serialize_none(self) -> Result<Value, ValueError> {
        Ok(Value::Nil)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, ValueError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Value, ValueError> {
        Ok(Value::Nil)
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, ValueError> {
        Ok(Value::Nil)
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, ValueError> {
        Ok(Value::String(variant.to_string()))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        let inner = value.serialize(self)?;
        if name != DATETIME_TOKEN {
            return Ok(inner);
        }
        match inner {
            Value::String(s) => s.parse().map(Value::DateTime),
            other => Err(ValueError::new(format!(
                "a DateTime serialized as {}",
                other.type_name()
            ))),
        }
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        let mut members = BTreeMap::new();
        members.insert(variant.to_string(), value.serialize(self)?);
        Ok(Value::Struct(members))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<SerializeArray, ValueError> {
        Ok(SerializeArray(Vec::with_capacity(len.unwrap_or(0))))
    }

    fn serialize_tuple(self, len: usize) -> Result<SerializeArray, ValueError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SerializeArray, ValueError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SerializeVariant<SerializeArray>, ValueError> {
        Ok(SerializeVariant {
            variant,
            inner: self.serialize_seq(Some(len))?,
        })
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<SerializeStruct, ValueError> {
        Ok(SerializeStruct {
            members: BTreeMap::new(),
            key: None,
        })
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SerializeStruct, ValueError> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SerializeVariant<SerializeStruct>, ValueError> {
        Ok(SerializeVariant {
            variant,
            inner: self.serialize_map(Some(len))?,
        })
    }
}
