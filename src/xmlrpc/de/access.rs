//! What `Value`'s deserializer hands a visitor for the values that are
//! not scalars: a struct's members one at a time, a `DateTime` in its
//! tagged form, an enum's variant and contents.

use serde::de::value::StringDeserializer;
use serde::de::{self, IntoDeserializer, Visitor};

use crate::xmlrpc::datetime::DateTime;
use crate::xmlrpc::ser::DATETIME_TOKEN;
use crate::xmlrpc::value::{Value, ValueError};

/// Hands a struct's members to a visitor, one at a time.
pub(super) struct MemberAccess {
    pub(super) members: std::collections::btree_map::IntoIter<String, Value>,
    pub(super) value: Option<Value>,
}

impl<'de> de::MapAccess<'de> for MemberAccess {
    type Error = ValueError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ValueError> {
        match self.members.next() {
            Some((name, value)) => {
                self.value = Some(value);
                let key: StringDeserializer<ValueError> = name.into_deserializer();
                seed.deserialize(key).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ValueError> {
        let value = self
            .value
            .take()
            .ok_or_else(|| ValueError::new("a member value was asked for before its name"))?;
        seed.deserialize(value)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.members.len())
    }
}

/// A `DateTime` seen through `deserialize_any`: a one-member map whose key
/// is [`DATETIME_TOKEN`], so that `Value` itself (and `DateTime`) can tell
/// it from a string. This is how the toml crate carries its dates.
pub(super) struct DateTimeAccess(pub(super) Option<DateTime>);

impl<'de> de::MapAccess<'de> for DateTimeAccess {
    type Error = ValueError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ValueError> {
        if self.0.is_none() {
            return Ok(None);
        }
        seed.deserialize(DATETIME_TOKEN.into_deserializer())
            .map(Some)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ValueError> {
        let dt = self
            .0
            .take()
            .ok_or_else(|| ValueError::new("a DateTime was read twice"))?;
        seed.deserialize(Value::String(dt.to_string()))
    }
}

/// An enum: a variant name (unit variant), or a one-member struct whose
/// member is named after the variant.
pub(super) struct VariantAccess {
    pub(super) name: String,
    pub(super) value: Option<Value>,
}

impl<'de> de::EnumAccess<'de> for VariantAccess {
    type Error = ValueError;
    type Variant = VariantValue;

    fn variant_seed<V: de::DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, VariantValue), ValueError> {
        let name: StringDeserializer<ValueError> = self.name.into_deserializer();
        Ok((seed.deserialize(name)?, VariantValue(self.value)))
    }
}

/// What follows an enum variant's name.
pub(super) struct VariantValue(Option<Value>);

impl<'de> de::VariantAccess<'de> for VariantValue {
    type Error = ValueError;

    fn unit_variant(self) -> Result<(), ValueError> {
        match self.0 {
            None | Some(Value::Nil) => Ok(()),
            Some(other) => Err(ValueError::new(format!(
                "a unit variant carries no value, found {}",
                other.type_name()
            ))),
        }
    }

    fn newtype_variant_seed<T: de::DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, ValueError> {
        seed.deserialize(self.0.unwrap_or(Value::Nil))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        de::Deserializer::deserialize_seq(self.0.unwrap_or(Value::Nil), visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        de::Deserializer::deserialize_map(self.0.unwrap_or(Value::Nil), visitor)
    }
}
