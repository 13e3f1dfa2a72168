//! The serializer's compound values: sequences and tuples become an
//! `<array>`, maps and structs a `<struct>`, enum variants with contents a
//! one-member `<struct>` named after the variant.

use std::collections::BTreeMap;

use serde::ser::{self, Serialize};

use super::member_name::MemberName;
use super::ValueSerializer;
use crate::xmlrpc::value::{Value, ValueError};

/// Collects a sequence or tuple into a `Value::Array`.
pub(super) struct SerializeArray(pub(super) Vec<Value>);

impl ser::SerializeSeq for SerializeArray {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        let item = value
            .serialize(ValueSerializer)
            .map_err(|e| e.context(format!("element {}", self.0.len())))?;
        self.0.push(item);
        Ok(())
    }

    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Array(self.0))
    }
}

impl ser::SerializeTuple for SerializeArray {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<Value, ValueError> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SerializeArray {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<Value, ValueError> {
        ser::SerializeSeq::end(self)
    }
}

/// Collects a map or struct into a `Value::Struct`.
pub(super) struct SerializeStruct {
    pub(super) members: BTreeMap<String, Value>,
    /// A map key waiting for its value.
    pub(super) key: Option<String>,
}

impl SerializeStruct {
    fn insert<T: Serialize + ?Sized>(&mut self, name: String, value: &T) -> Result<(), ValueError> {
        let member = value
            .serialize(ValueSerializer)
            .map_err(|e| e.context(format!("member '{name}'")))?;
        self.members.insert(name, member);
        Ok(())
    }
}

impl ser::SerializeMap for SerializeStruct {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), ValueError> {
        self.key = Some(key.serialize(MemberName)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        let name = self
            .key
            .take()
            .ok_or_else(|| ValueError::new("a map value came without its key"))?;
        self.insert(name, value)
    }

    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Struct(self.members))
    }
}

impl ser::SerializeStruct for SerializeStruct {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        self.insert(key.to_string(), value)
    }

    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Struct(self.members))
    }
}

/// A tuple or struct variant: its contents, then wrapped in a one-member
/// struct named after the variant.
pub(super) struct SerializeVariant<S> {
    pub(super) variant: &'static str,
    pub(super) inner: S,
}

impl<S> SerializeVariant<S> {
    fn wrap(variant: &str, inner: Value) -> Value {
        let mut members = BTreeMap::new();
        members.insert(variant.to_string(), inner);
        Value::Struct(members)
    }
}

impl ser::SerializeTupleVariant for SerializeVariant<SerializeArray> {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        ser::SerializeSeq::serialize_element(&mut self.inner, value)
    }

    fn end(self) -> Result<Value, ValueError> {
        let inner = ser::SerializeSeq::end(self.inner)?;
        Ok(Self::wrap(self.variant, inner))
    }
}

impl ser::SerializeStructVariant for SerializeVariant<SerializeStruct> {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        ser::SerializeStruct::serialize_field(&mut self.inner, key, value)
    }

    fn end(self) -> Result<Value, ValueError> {
        let inner = ser::SerializeStruct::end(self.inner)?;
        Ok(Self::wrap(self.variant, inner))
    }
}

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use crate::xmlrpc::ser::to_value;

    #[test]
    fn serialize_errors_name_the_member() {
        #[derive(Serialize)]
        struct Huge {
            list: Vec<u64>,
        }
        let err = to_value(&Huge {
            list: vec![1, u64::MAX],
        })
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "member 'list': element 1: 18446744073709551615 is too large for XML-RPC (max i64)"
        );
    }
}
