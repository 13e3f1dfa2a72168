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
//! Here: the type, [`Bytes`] and [`ValueError`]; the conversions are in
//! `convert.rs`, the Python-`repr`-like `Display` in `repr.rs`.
//!
//! # Differences from Python
//!
//! - `<int>` and `<i8>` stay distinct ([`Value::Int`], [`Value::I8`]) so that
//!   a value decoded and re-encoded keeps its wire type; Python folds both
//!   into `int`. Conversions accept either where the number fits.
//! - Bytes are never a plain `Vec<u8>` (which would be ambiguous with an
//!   array of numbers): use [`Bytes`], Python's `Binary`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;

use super::datetime::DateTime;
use super::fault::Fault;

mod convert;
mod repr;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_error_becomes_an_invalid_params_fault() {
        let fault = Fault::from(ValueError::new("bad"));
        assert_eq!(fault, Fault::invalid_params("bad"));
    }
}
