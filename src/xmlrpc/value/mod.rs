//! `Value`: one XML-RPC value, and the conversions between it and Rust types.
//!
//! Python's `xmlrpc.client` marshals native objects directly (`int`, `str`,
//! `dict`, `list`, `None`, `bytes` wrapped in `Binary`, `datetime` wrapped in
//! `DateTime`). Rust needs one type to hold "any XML-RPC value": [`Value`],
//! an enum with a variant per XML-RPC type. `From` builds one from a Rust
//! value, `TryFrom` takes one apart with an error that says what was
//! expected and what arrived; [`to_value`](super::to_value) and
//! [`from_value`](super::from_value) do the same for any serde type.
//!
//! # Differences from Python
//!
//! - `<int>` and `<i8>` stay distinct ([`Value::Int`], [`Value::I8`]) so that
//!   a value decoded and re-encoded keeps its wire type; Python folds both
//!   into `int`. Conversions accept either where the number fits.
//! - Bytes are never a plain `Vec<u8>` (which would be ambiguous with an
//!   array of numbers): use [`Bytes`], Python's `Binary`.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::fmt::{self, Write as _};

use super::datetime::DateTime;
use super::fault::Fault;

/// One XML-RPC value.
///
/// ```
/// use medusa::xmlrpc::Value;
///
/// let params = vec![Value::from(40), Value::from(2)];
/// assert_eq!(Value::from(params.clone()).to_string(), "[40, 2]");
/// let sum: i32 = params.into_iter().map(|v| i32::try_from(v).unwrap()).sum();
/// assert_eq!(sum, 42);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `<int>` or `<i4>`: a 32-bit signed integer.
    Int(i32),
    /// `<i8>` (or `<ex:i8>`): a 64-bit signed integer, an extension.
    I8(i64),
    /// `<boolean>`: `0` or `1` on the wire.
    Bool(bool),
    /// `<string>`, or a `<value>` with no type element.
    String(String),
    /// `<double>`. Always finite when decoded; the encoder refuses NaN and
    /// infinities, which XML-RPC cannot express.
    Double(f64),
    /// `<dateTime.iso8601>`.
    DateTime(DateTime),
    /// `<base64>`: raw bytes.
    Base64(Vec<u8>),
    /// `<struct>`: named members. Names are unique; a document that repeats
    /// one keeps the last, as Python's `dict` does.
    Struct(BTreeMap<String, Value>),
    /// `<array>`.
    Array(Vec<Value>),
    /// `<nil/>` (or `<ex:nil/>`): Python's `None`, an extension.
    Nil,
}

impl Value {
    /// The element name of this value's type, as used in error messages:
    /// `int`, `i8`, `boolean`, `string`, `double`, `dateTime.iso8601`,
    /// `base64`, `struct`, `array` or `nil`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::I8(_) => "i8",
            Value::Bool(_) => "boolean",
            Value::String(_) => "string",
            Value::Double(_) => "double",
            Value::DateTime(_) => "dateTime.iso8601",
            Value::Base64(_) => "base64",
            Value::Struct(_) => "struct",
            Value::Array(_) => "array",
            Value::Nil => "nil",
        }
    }

    /// A [`Value::Base64`] holding `bytes`.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Value {
        Value::Base64(bytes.into())
    }

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

/// Bytes destined for `<base64>`: Python's `xmlrpc.client.Binary`.
///
/// A newtype so that `Value::from(Bytes(..))` is unambiguous where
/// `Value::from(vec![1u8, 2])` could mean an array of numbers. It serializes
/// as bytes, so it becomes `<base64>` in a serde struct too.
#[doc(alias = "Binary")]
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Bytes(pub Vec<u8>);

impl From<Vec<u8>> for Bytes {
    fn from(bytes: Vec<u8>) -> Bytes {
        Bytes(bytes)
    }
}

impl From<&[u8]> for Bytes {
    fn from(bytes: &[u8]) -> Bytes {
        Bytes(bytes.to_vec())
    }
}

impl From<Bytes> for Vec<u8> {
    fn from(bytes: Bytes) -> Vec<u8> {
        bytes.0
    }
}

/// Why a [`Value`] could not become the Rust type asked for (or a Rust
/// value could not become a `Value`): a message for a human.
///
/// Converted into a [`Fault`] it is an invalid-params fault (-32602), since
/// that is where conversions of peer data fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueError {
    message: String,
}

impl ValueError {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> ValueError {
        ValueError {
            message: message.into(),
        }
    }

    /// The same error with `context` (such as "element 2") in front.
    pub fn context(self, context: impl fmt::Display) -> ValueError {
        ValueError::new(format!("{context}: {}", self.message))
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ValueError {}

impl From<Infallible> for ValueError {
    // Lets `Vec<Value>: TryFrom<Value>` use the same generic impl as
    // `Vec<i32>`: converting a Value to a Value cannot fail.
    fn from(never: Infallible) -> ValueError {
        match never {}
    }
}

impl From<ValueError> for Fault {
    fn from(err: ValueError) -> Fault {
        Fault::invalid_params(err.message)
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

// ---- Display: Python's repr ----

impl fmt::Display for Value {
    /// A compact, Python-`repr`-like rendering for logs: `[40, 2]`,
    /// `{'a': 'x', 'b': None}`, `True`, `b'\x00'`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(n) => write!(f, "{n}"),
            Value::I8(n) => write!(f, "{n}"),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
            Value::String(s) => write_str_repr(f, s),
            // Debug, not Display: `1.0` and `1e300` as Python prints them
            // (near enough), where Display would spell out 300 digits.
            Value::Double(x) => write!(f, "{x:?}"),
            Value::DateTime(dt) => write!(f, "<DateTime {dt}>"),
            Value::Base64(bytes) => write_bytes_repr(f, bytes),
            Value::Struct(members) => {
                f.write_char('{')?;
                for (i, (name, value)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write_str_repr(f, name)?;
                    write!(f, ": {value}")?;
                }
                f.write_char('}')
            }
            Value::Array(items) => {
                f.write_char('[')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_char(']')
            }
            Value::Nil => f.write_str("None"),
        }
    }
}

/// `'text'` with Python's escapes for quotes, backslashes and control
/// characters, so a log line stays one line.
fn write_str_repr(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('\'')?;
    for c in s.chars() {
        match c {
            '\'' => f.write_str("\\'")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c.is_control() => write!(f, "\\x{:02x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('\'')
}

/// `b'...'`, as Python shows `bytes`.
fn write_bytes_repr(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    f.write_str("b'")?;
    for &b in bytes {
        match b {
            b'\'' => f.write_str("\\'")?,
            b'\\' => f.write_str("\\\\")?,
            b'\n' => f.write_str("\\n")?,
            b'\r' => f.write_str("\\r")?,
            b'\t' => f.write_str("\\t")?,
            0x20..=0x7e => f.write_char(char::from(b))?,
            _ => write!(f, "\\x{b:02x}")?,
        }
    }
    f.write_char('\'')
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

    #[test]
    fn value_error_becomes_an_invalid_params_fault() {
        let fault = Fault::from(ValueError::new("bad"));
        assert_eq!(fault, Fault::invalid_params("bad"));
    }

    #[test]
    fn displays_like_python_repr() {
        let mut members = BTreeMap::new();
        members.insert("name".to_string(), Value::from("it's\n"));
        members.insert("none".to_string(), Value::Nil);
        let v = Value::Array(vec![
            Value::Int(40),
            Value::I8(2),
            Value::Bool(true),
            Value::Double(1.0),
            Value::Double(1e300),
            Value::DateTime(dt()),
            Value::Base64(b"a'\0\xff".to_vec()),
            Value::Struct(members),
            Value::Array(vec![]),
        ]);
        assert_eq!(
            v.to_string(),
            "[40, 2, True, 1.0, 1e300, <DateTime 19980717T14:08:55>, b'a\\'\\x00\\xff', \
             {'name': 'it\\'s\\n', 'none': None}, []]"
        );
    }
}
