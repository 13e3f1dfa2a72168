//! A [`Value`] to any `serde::Deserialize` type: [`from_value`].
//!
//! The reverse of [`to_value`](super::to_value): a method can take its
//! parameters as its own struct. The mapping is the one in `ser/mod.rs`, read
//! liberally: any integer type takes an `Int` or an `I8` that fits, `f64`
//! takes integers too, `Vec<u8>` and byte buffers take `Base64`, a `String`
//! takes a `DateTime` (as it is sent: the basic form, then its fraction and
//! offset if it has them), and an `Option` field that is missing from a
//! struct is `None`.
//!
//! Here: [`from_value`], and [`Value`] as a serde `Deserializer`;
//! `access.rs` hands a struct's members, a `DateTime` and an enum to a
//! visitor, `visitors.rs` makes [`Value`],
//! [`DateTime`](crate::xmlrpc::DateTime) and [`Bytes`](crate::xmlrpc::Bytes)
//! `Deserialize`.

use std::fmt;

use serde::de::value::SeqDeserializer;
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

use super::ser::DATETIME_TOKEN;
use super::value::{Value, ValueError};

mod access;
mod visitors;

use access::{DateTimeAccess, MemberAccess, VariantAccess};

/// Converts a [`Value`] into any deserializable type.
///
/// ```
/// use medusa::xmlrpc::{from_value, Value};
/// use serde::Deserialize;
/// use std::collections::BTreeMap;
///
/// #[derive(Deserialize, Debug, PartialEq)]
/// struct Point { x: i32, y: f64, label: Option<String> }
///
/// let mut members = BTreeMap::new();
/// members.insert("x".to_string(), Value::Int(1));
/// members.insert("y".to_string(), Value::Int(2)); // an int is a fine f64
/// let p: Point = from_value(Value::Struct(members)).unwrap();
/// assert_eq!(p, Point { x: 1, y: 2.0, label: None });
///
/// let err = from_value::<Point>(Value::from("nope")).unwrap_err();
/// assert_eq!(err.to_string(), "invalid type: string \"nope\", expected struct Point");
/// ```
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ValueError> {
    T::deserialize(value)
}

impl de::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> ValueError {
        ValueError::new(msg.to_string())
    }
}

impl<'de> IntoDeserializer<'de, ValueError> for Value {
    type Deserializer = Value;

    fn into_deserializer(self) -> Value {
        self
    }
}

impl<'de> de::Deserializer<'de> for Value {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Int(n) => visitor.visit_i32(n),
            Value::I8(n) => visitor.visit_i64(n),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::String(s) => visitor.visit_string(s),
            Value::Double(x) => visitor.visit_f64(x),
            Value::DateTime(dt) => visitor.visit_map(DateTimeAccess(Some(dt))),
            Value::Base64(bytes) => visitor.visit_byte_buf(bytes),
            Value::Struct(members) => visitor.visit_map(MemberAccess {
                members: members.into_iter(),
                value: None,
            }),
            // Through SeqDeserializer's own `deserialize_any`, which also checks
            // that the visitor took every element (a 2-tuple from 3 items fails).
            Value::Array(items) => SeqDeserializer::new(items.into_iter()).deserialize_any(visitor),
            Value::Nil => visitor.visit_unit(),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Nil => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::DateTime(dt) => visitor.visit_string(dt.to_string()),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_byte_buf(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Base64(bytes) => visitor.visit_byte_buf(bytes),
            Value::String(s) => visitor.visit_string(s),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            // `Vec<u8>` asks for a sequence; give it base64's bytes.
            Value::Base64(bytes) => {
                SeqDeserializer::new(bytes.into_iter()).deserialize_any(visitor)
            }
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        if name == DATETIME_TOKEN {
            return self.deserialize_string(visitor);
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self {
            Value::String(name) => visitor.visit_enum(VariantAccess { name, value: None }),
            Value::Struct(members) if members.len() == 1 => {
                let mut members = members.into_iter();
                match members.next() {
                    Some((name, value)) => visitor.visit_enum(VariantAccess {
                        name,
                        value: Some(value),
                    }),
                    None => Err(ValueError::new("an enum struct has no member")),
                }
            }
            other => Err(ValueError::new(format!(
                "expected an enum (a string, or a struct with one member), found {}",
                other.type_name()
            ))),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Nil => visitor.visit_unit(),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        drop(self);
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char
        tuple tuple_struct map struct identifier
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde::{Deserialize, Serialize};

    use std::collections::BTreeMap;

    use super::*;
    use crate::xmlrpc::datetime::DateTime;
    use crate::xmlrpc::ser::to_value;
    use crate::xmlrpc::value::Bytes;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    enum Shape {
        Dot,
        Circle(f64),
        Line(i32, i32),
        Rect { w: u16, h: u16 },
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Everything {
        small: i8,
        int: i32,
        big: i64,
        unsigned: u32,
        wide: u64,
        yes: bool,
        ratio: f64,
        name: String,
        letter: char,
        when: DateTime,
        blob: Bytes,
        list: Vec<i32>,
        map: HashMap<String, String>,
        maybe: Option<i32>,
        nothing: Option<i32>,
        unit: (),
        pair: (i32, String),
        shapes: Vec<Shape>,
        any: Value,
    }

    fn everything() -> Everything {
        Everything {
            small: -3,
            int: 40,
            big: 1 << 40,
            unsigned: 3_000_000_000,
            wide: 7,
            yes: true,
            ratio: 0.25,
            name: "medusa".into(),
            letter: 'x',
            when: DateTime::new(1998, 7, 17, 14, 8, 55).unwrap(),
            blob: Bytes(vec![0, 255]),
            list: vec![1, 2],
            map: [("k".to_string(), "v".to_string())].into(),
            maybe: Some(1),
            nothing: None,
            unit: (),
            pair: (2, "two".into()),
            shapes: vec![
                Shape::Dot,
                Shape::Circle(1.5),
                Shape::Line(1, 2),
                Shape::Rect { w: 3, h: 4 },
            ],
            any: Value::Array(vec![
                Value::Int(1),
                Value::I8(2),
                Value::Nil,
                Value::DateTime(DateTime::new(2000, 1, 1, 0, 0, 0).unwrap()),
                Value::Base64(vec![1]),
            ]),
        }
    }

    #[test]
    fn structs_round_trip_through_value() {
        let v = to_value(&everything()).unwrap();
        let back: Everything = from_value(v).unwrap();
        assert_eq!(back, everything());
    }

    #[test]
    fn serde_types_map_to_the_documented_values() {
        let Value::Struct(m) = to_value(&everything()).unwrap() else {
            panic!("not a struct")
        };
        assert_eq!(m["small"], Value::Int(-3));
        assert_eq!(m["int"], Value::Int(40));
        assert_eq!(m["big"], Value::I8(1 << 40));
        assert_eq!(m["unsigned"], Value::I8(3_000_000_000));
        assert_eq!(m["wide"], Value::I8(7));
        assert_eq!(m["letter"], Value::from("x"));
        assert_eq!(
            m["when"],
            Value::DateTime(DateTime::new(1998, 7, 17, 14, 8, 55).unwrap())
        );
        assert_eq!(m["blob"], Value::Base64(vec![0, 255]));
        assert_eq!(m["nothing"], Value::Nil);
        assert_eq!(m["unit"], Value::Nil);
        assert_eq!(m["pair"].to_string(), "[2, 'two']");
        assert_eq!(
            m["shapes"].to_string(),
            "['Dot', {'Circle': 1.5}, {'Line': [1, 2]}, {'Rect': {'h': 4, 'w': 3}}]"
        );
        assert_eq!(to_value(&u32::MAX).unwrap(), Value::I8(u32::MAX.into()));
        assert_eq!(to_value(&7u32).unwrap(), Value::Int(7));
    }

    #[test]
    fn value_round_trips_through_serde_unchanged() {
        let v = everything().any;
        assert_eq!(to_value(&v).unwrap(), v);
        assert_eq!(from_value::<Value>(v.clone()).unwrap(), v);
    }

    #[test]
    fn deserializing_is_liberal_about_numbers_and_dates() {
        assert_eq!(from_value::<i64>(Value::Int(5)).unwrap(), 5);
        assert_eq!(from_value::<i32>(Value::I8(5)).unwrap(), 5);
        assert_eq!(from_value::<u8>(Value::Int(255)).unwrap(), 255);
        assert_eq!(from_value::<f64>(Value::Int(2)).unwrap(), 2.0);
        let dt = DateTime::new(1998, 7, 17, 14, 8, 55).unwrap();
        assert_eq!(
            from_value::<String>(Value::DateTime(dt)).unwrap(),
            "19980717T14:08:55"
        );
        assert_eq!(
            from_value::<DateTime>(Value::from("1998-07-17T14:08:55")).unwrap(),
            dt
        );
        // Offsets and fractions survive the string form serde carries.
        let zoned = dt
            .with_nanosecond(5_000_000)
            .unwrap()
            .with_offset(-330)
            .unwrap();
        assert_eq!(
            from_value::<String>(Value::DateTime(zoned)).unwrap(),
            "19980717T14:08:55.005-05:30"
        );
        assert_eq!(
            from_value::<DateTime>(Value::from("1998-07-17T14:08:55.005-0530")).unwrap(),
            zoned
        );
        assert_eq!(
            from_value::<DateTime>(Value::DateTime(zoned)).unwrap(),
            zoned
        );
        assert_eq!(to_value(&zoned).unwrap(), Value::DateTime(zoned));
        assert_eq!(
            from_value::<Vec<u8>>(Value::Base64(vec![1, 2])).unwrap(),
            vec![1, 2]
        );
        // A missing Option member is None.
        #[derive(Deserialize)]
        struct Opt {
            a: Option<i32>,
        }
        assert_eq!(
            from_value::<Opt>(Value::Struct(BTreeMap::new())).unwrap().a,
            None
        );
    }

    #[test]
    fn errors_say_what_did_not_fit() {
        let err = from_value::<u8>(Value::Int(300)).unwrap_err().to_string();
        assert!(err.contains("300"), "{err}");
        let err = from_value::<i32>(Value::I8(1 << 40))
            .unwrap_err()
            .to_string();
        assert!(err.contains("1099511627776"), "{err}");
        let err = from_value::<bool>(Value::from("yes"))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "invalid type: string \"yes\", expected a boolean");
        let err = from_value::<DateTime>(Value::from("19990229T00:00:00"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("day 29"), "{err}");
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Need {
            x: i32,
        }
        let err = from_value::<Need>(Value::Struct(BTreeMap::new()))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "missing field `x`");
        let err = from_value::<Shape>(Value::Int(1)).unwrap_err().to_string();
        assert!(err.starts_with("expected an enum"), "{err}");
    }
}
