//! Map keys as `<struct>` member names: XML-RPC names are strings, so
//! strings, chars and integers are taken and anything else refused.

use serde::ser::{self, Impossible, Serialize};

use crate::xmlrpc::value::ValueError;

/// Serializes a map key into a member name: strings and chars as they are,
/// integers in decimal (as serde_json does), anything else refused.
pub(super) struct MemberName;

impl MemberName {
    fn refuse(what: &str) -> ValueError {
        ValueError::new(format!("struct member names must be strings, found {what}"))
    }
}

macro_rules! integer_names {
    ($($method:ident: $t:ty),*) => {
        $(fn $method(self, v: $t) -> Result<String, ValueError> {
            Ok(v.to_string())
        })*
    };
}

impl ser::Serializer for MemberName {
    type Ok = String;
    type Error = ValueError;
    type SerializeSeq = Impossible<String, ValueError>;
    type SerializeTuple = Impossible<String, ValueError>;
    type SerializeTupleStruct = Impossible<String, ValueError>;
    type SerializeTupleVariant = Impossible<String, ValueError>;
    type SerializeMap = Impossible<String, ValueError>;
    type SerializeStruct = Impossible<String, ValueError>;
    type SerializeStructVariant = Impossible<String, ValueError>;

    integer_names!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
                   serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64);

    fn serialize_str(self, v: &str) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_char(self, v: char) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, ValueError> {
        Ok(variant.to_string())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, ValueError> {
        value.serialize(self)
    }

    fn serialize_bool(self, _v: bool) -> Result<String, ValueError> {
        Err(Self::refuse("a boolean"))
    }

    fn serialize_f32(self, _v: f32) -> Result<String, ValueError> {
        Err(Self::refuse("a number"))
    }

    fn serialize_f64(self, _v: f64) -> Result<String, ValueError> {
        Err(Self::refuse("a number"))
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<String, ValueError> {
        Err(Self::refuse("bytes"))
    }

    fn serialize_none(self) -> Result<String, ValueError> {
        Err(Self::refuse("None"))
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<String, ValueError> {
        Err(Self::refuse("an Option"))
    }

    fn serialize_unit(self) -> Result<String, ValueError> {
        Err(Self::refuse("()"))
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, ValueError> {
        Err(Self::refuse("a unit struct"))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, ValueError> {
        Err(Self::refuse("an enum"))
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, ValueError> {
        Err(Self::refuse("a sequence"))
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, ValueError> {
        Err(Self::refuse("a tuple"))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, ValueError> {
        Err(Self::refuse("a tuple"))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, ValueError> {
        Err(Self::refuse("an enum"))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, ValueError> {
        Err(Self::refuse("a map"))
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, ValueError> {
        Err(Self::refuse("a struct"))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, ValueError> {
        Err(Self::refuse("an enum"))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::xmlrpc::ser::to_value;

    #[test]
    fn map_keys_must_be_strings_or_integers() {
        let ints: BTreeMap<i32, bool> = [(1, true)].into();
        assert_eq!(to_value(&ints).unwrap().to_string(), "{'1': True}");
        let bad: BTreeMap<(i32, i32), bool> = [((1, 2), true)].into();
        let err = to_value(&bad).unwrap_err().to_string();
        assert_eq!(err, "struct member names must be strings, found a tuple");
    }
}
