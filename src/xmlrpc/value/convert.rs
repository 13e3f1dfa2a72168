//! Conversions between [`Value`] and Rust types: `From` builds a value,
//! `TryFrom` takes one apart and says what was expected and what arrived.
//!
//! This is Python's marshalling of native objects (`int`, `str`, `dict`,
//! `list`, `None`) done one type at a time.

use std::collections::{BTreeMap, HashMap};

use super::{Bytes, Value, ValueError};
use crate::xmlrpc::datetime::DateTime;

impl Value {
    /// The error a conversion reports when it finds this value instead of an
    /// `expected` one; quotes at most the first 60 characters of the value.
    fn unexpected(&self, expected: &str) -> ValueError {
        let mut shown = self.to_string();
        if let Some((cut, _)) = shown.char_indices().nth(60) {
            shown.truncate(cut);
            shown.push_str("...");
        }
        ValueError::new(format!(
            "expected {expected}, found {} {shown}",
            self.type_name()
        ))
    }
}

// ---- Rust → Value ----

impl From<i32> for Value {
    fn from(n: i32) -> Value {
        Value::Int(n)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::I8(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<f64> for Value {
    /// A double. NaN and infinities make a `Value` the encoder refuses.
    fn from(x: f64) -> Value {
        Value::Double(x)
    }
}

impl From<DateTime> for Value {
    fn from(dt: DateTime) -> Value {
        Value::DateTime(dt)
    }
}

impl From<Bytes> for Value {
    fn from(bytes: Bytes) -> Value {
        Value::Base64(bytes.0)
    }
}

impl From<()> for Value {
    /// `Nil`, for methods that return nothing (Python's `None`).
    fn from(_: ()) -> Value {
        Value::Nil
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Nil, Into::into)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Value {
        Value::Array(items.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value>> From<BTreeMap<String, T>> for Value {
    fn from(members: BTreeMap<String, T>) -> Value {
        Value::Struct(members.into_iter().map(|(k, v)| (k, v.into())).collect())
    }
}

impl<T: Into<Value>, S> From<HashMap<String, T, S>> for Value {
    fn from(members: HashMap<String, T, S>) -> Value {
        Value::Struct(members.into_iter().map(|(k, v)| (k, v.into())).collect())
    }
}

// ---- Value → Rust ----

impl TryFrom<Value> for i32 {
    type Error = ValueError;

    /// An `<int>`, or an `<i8>` whose value fits.
    fn try_from(v: Value) -> Result<i32, ValueError> {
        match v {
            Value::Int(n) => Ok(n),
            Value::I8(n) => i32::try_from(n)
                .map_err(|_| ValueError::new(format!("i8 {n} does not fit in an int"))),
            other => Err(other.unexpected("int")),
        }
    }
}

impl TryFrom<Value> for i64 {
    type Error = ValueError;

    /// An `<i8>` or an `<int>`.
    fn try_from(v: Value) -> Result<i64, ValueError> {
        match v {
            Value::Int(n) => Ok(n.into()),
            Value::I8(n) => Ok(n),
            other => Err(other.unexpected("int or i8")),
        }
    }
}

impl TryFrom<Value> for bool {
    type Error = ValueError;

    fn try_from(v: Value) -> Result<bool, ValueError> {
        match v {
            Value::Bool(b) => Ok(b),
            other => Err(other.unexpected("boolean")),
        }
    }
}

impl TryFrom<Value> for String {
    type Error = ValueError;

    fn try_from(v: Value) -> Result<String, ValueError> {
        match v {
            Value::String(s) => Ok(s),
            other => Err(other.unexpected("string")),
        }
    }
}

impl TryFrom<Value> for f64 {
    type Error = ValueError;

    /// A `<double>`, or an integer (as Python's `float()` would take it; an
    /// `<i8>` beyond 2^53 is rounded).
    fn try_from(v: Value) -> Result<f64, ValueError> {
        match v {
            Value::Double(x) => Ok(x),
            Value::Int(n) => Ok(n.into()),
            Value::I8(n) => Ok(n as f64),
            other => Err(other.unexpected("double")),
        }
    }
}

impl TryFrom<Value> for DateTime {
    type Error = ValueError;

    fn try_from(v: Value) -> Result<DateTime, ValueError> {
        match v {
            Value::DateTime(dt) => Ok(dt),
            other => Err(other.unexpected("dateTime.iso8601")),
        }
    }
}

impl TryFrom<Value> for Bytes {
    type Error = ValueError;

    fn try_from(v: Value) -> Result<Bytes, ValueError> {
        match v {
            Value::Base64(b) => Ok(Bytes(b)),
            other => Err(other.unexpected("base64")),
        }
    }
}

impl TryFrom<Value> for () {
    type Error = ValueError;

    fn try_from(v: Value) -> Result<(), ValueError> {
        match v {
            Value::Nil => Ok(()),
            other => Err(other.unexpected("nil")),
        }
    }
}

// `Option<T>` for every `T` would collide with the standard library's
// `From<T> for Option<T>` when `T` is `Value`, so the common types are
// listed one by one.
macro_rules! option_try_from {
    ($($t:ty),*) => {
        $(impl TryFrom<Value> for Option<$t> {
            type Error = ValueError;

            /// `None` for `<nil/>`, otherwise the value converted.
            fn try_from(v: Value) -> Result<Option<$t>, ValueError> {
                match v {
                    Value::Nil => Ok(None),
                    other => <$t>::try_from(other).map(Some),
                }
            }
        })*
    };
}

option_try_from!(i32, i64, bool, String, f64, DateTime, Bytes);

impl<T> TryFrom<Value> for Vec<T>
where
    T: TryFrom<Value>,
    T::Error: Into<ValueError>,
{
    type Error = ValueError;

    /// An array whose every element converts; the error names the first
    /// element that does not.
    fn try_from(v: Value) -> Result<Vec<T>, ValueError> {
        match v {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    T::try_from(item).map_err(|e| e.into().context(format!("element {i}")))
                })
                .collect(),
            other => Err(other.unexpected("array")),
        }
    }
}

/// Converts the members of a struct, naming the member that fails.
fn convert_members<T, C>(v: Value) -> Result<C, ValueError>
where
    T: TryFrom<Value>,
    T::Error: Into<ValueError>,
    C: FromIterator<(String, T)>,
{
    match v {
        Value::Struct(members) => members
            .into_iter()
            .map(|(name, item)| match T::try_from(item) {
                Ok(t) => Ok((name, t)),
                Err(e) => Err(e.into().context(format!("member '{name}'"))),
            })
            .collect(),
        other => Err(other.unexpected("struct")),
    }
}

impl<T> TryFrom<Value> for BTreeMap<String, T>
where
    T: TryFrom<Value>,
    T::Error: Into<ValueError>,
{
    type Error = ValueError;

    fn try_from(v: Value) -> Result<BTreeMap<String, T>, ValueError> {
        convert_members(v)
    }
}

impl<T, S> TryFrom<Value> for HashMap<String, T, S>
where
    T: TryFrom<Value>,
    T::Error: Into<ValueError>,
    S: std::hash::BuildHasher + Default,
{
    type Error = ValueError;

    fn try_from(v: Value) -> Result<HashMap<String, T, S>, ValueError> {
        convert_members(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt() -> DateTime {
        DateTime::new(1998, 7, 17, 14, 8, 55).unwrap()
    }

    #[test]
    fn from_picks_the_xmlrpc_type() {
        assert_eq!(Value::from(7), Value::Int(7));
        assert_eq!(Value::from(7i64), Value::I8(7));
        assert_eq!(Value::from(true), Value::Bool(true));
        assert_eq!(Value::from("a"), Value::String("a".into()));
        assert_eq!(Value::from(String::from("a")), Value::String("a".into()));
        assert_eq!(Value::from(0.5), Value::Double(0.5));
        assert_eq!(Value::from(dt()), Value::DateTime(dt()));
        assert_eq!(Value::from(Bytes(vec![1, 2])), Value::Base64(vec![1, 2]));
        assert_eq!(Value::from_bytes(&b"ab"[..]), Value::Base64(b"ab".to_vec()));
        assert_eq!(Value::from(()), Value::Nil);
        assert_eq!(Value::from(None::<i32>), Value::Nil);
        assert_eq!(Value::from(Some(3)), Value::Int(3));
        assert_eq!(
            Value::from(vec![1, 2]),
            Value::Array(vec![Value::Int(1), Value::Int(2)])
        );
        let mut hm = HashMap::new();
        hm.insert("k".to_string(), "v");
        let mut bt = BTreeMap::new();
        bt.insert("k".to_string(), Value::from("v"));
        assert_eq!(Value::from(hm), Value::Struct(bt.clone()));
        assert_eq!(Value::from(bt.clone()), Value::Struct(bt));
    }

    #[test]
    fn integers_convert_across_int_and_i8_when_they_fit() {
        assert_eq!(i32::try_from(Value::Int(-5)), Ok(-5));
        assert_eq!(i32::try_from(Value::I8(-5)), Ok(-5));
        let err = i32::try_from(Value::I8(1 << 40)).unwrap_err();
        assert_eq!(err.to_string(), "i8 1099511627776 does not fit in an int");
        assert_eq!(i64::try_from(Value::Int(5)), Ok(5));
        assert_eq!(i64::try_from(Value::I8(1 << 40)), Ok(1 << 40));
        assert_eq!(f64::try_from(Value::Int(2)), Ok(2.0));
        assert_eq!(f64::try_from(Value::I8(2)), Ok(2.0));
        assert_eq!(f64::try_from(Value::Double(2.5)), Ok(2.5));
    }

    #[test]
    fn conversions_say_what_was_expected_and_what_arrived() {
        let err = i32::try_from(Value::from("forty")).unwrap_err();
        assert_eq!(err.to_string(), "expected int, found string 'forty'");
        let err = bool::try_from(Value::Int(1)).unwrap_err();
        assert_eq!(err.to_string(), "expected boolean, found int 1");
        let err = String::try_from(Value::Nil).unwrap_err();
        assert_eq!(err.to_string(), "expected string, found nil None");
        let err = Bytes::try_from(Value::from("x")).unwrap_err();
        assert!(err.to_string().starts_with("expected base64"));
        let err = DateTime::try_from(Value::Int(0)).unwrap_err();
        assert!(err.to_string().starts_with("expected dateTime.iso8601"));
        let long = Value::from("x".repeat(1000));
        let err = String::try_from(long.clone()).unwrap_or_default();
        assert_eq!(err.len(), 1000);
        let err = i32::try_from(long).unwrap_err().to_string();
        assert!(err.len() < 100 && err.ends_with("..."), "{err}");
    }

    #[test]
    fn containers_name_the_element_that_failed() {
        let v = Value::from(vec![Value::Int(1), Value::from("two")]);
        let err = Vec::<i32>::try_from(v.clone()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "element 1: expected int, found string 'two'"
        );
        assert_eq!(Vec::<Value>::try_from(v).unwrap().len(), 2);

        let mut members = BTreeMap::new();
        members.insert("a".to_string(), Value::Int(1));
        members.insert("b".to_string(), Value::Bool(true));
        let err = BTreeMap::<String, i32>::try_from(Value::Struct(members.clone())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "member 'b': expected int, found boolean True"
        );
        members.remove("b");
        let hm: HashMap<String, i32> = Value::Struct(members).try_into().unwrap();
        assert_eq!(hm["a"], 1);
    }

    #[test]
    fn nil_converts_to_none_and_unit() {
        assert_eq!(Option::<i32>::try_from(Value::Nil), Ok(None));
        assert_eq!(Option::<i32>::try_from(Value::Int(1)), Ok(Some(1)));
        assert_eq!(<()>::try_from(Value::Nil), Ok(()));
        assert!(<()>::try_from(Value::Int(0)).is_err());
    }
}
