//! JSON ⇄ XML-RPC values: how a [`Value`] is written as JSON and read back,
//! with nothing lost either way (`docs/json.md` has the same table).
//!
//! Program-backed methods (`server/program/`) speak JSON on their stdin
//! and stdout, because every scripting language reads and writes it; this
//! is the mapping they use, public for anyone else bridging the two.
//!
//! | XML-RPC | JSON, as [`to_json`] writes it | also read by [`from_json`] |
//! | --- | --- | --- |
//! | `<int>` | an integer | any integer that fits in 32 bits |
//! | `<i8>` | an integer when it does not fit in 32 bits, else `{"$i8": 5}` | an integer that fits in 64 bits but not 32; `{"$i8": n}` for any 64-bit `n` |
//! | `<boolean>` | `true`, `false` | |
//! | `<string>` | a string | |
//! | `<double>` | a number with a fraction or exponent (`1.0`, `1e300`); `{"$double": "NaN"}`, `"Infinity"`, `"-Infinity"` for the values JSON has no number for | any number written with `.` or an exponent; `{"$double": n}` for any number `n` |
//! | `<dateTime.iso8601>` | `{"$datetime": "20261201T12:00:00"}`, the text the XML codec sends (fraction and offset kept: `…12:00:00.5+02:00`) | any form the XML decoder accepts |
//! | `<base64>` | `{"$base64": "aGk="}`, standard alphabet, padded | the same, strictly |
//! | `<struct>` | an object; `{"$struct": {…}}` when its only member's name starts with `$` | |
//! | `<array>` | an array | |
//! | `<nil/>` | `null` | |
//!
//! **Tags.** An object with exactly one member whose name starts with `$`
//! is a tagged value, never a struct; the names above are the tags, and
//! any other `$` name alone in an object is an error (the names are kept
//! for later tags). An object with two or more members is always a struct,
//! whatever its names. So a struct whose only member is named `$base64`
//! (or `$anything`) is written inside `$struct`, whose object is taken as
//! the members as they are: `{"$struct": {"$base64": "not a tag"}}`.
//!
//! **Errors** ([`JsonError`]) name the JSON path of the element at fault,
//! from `$`, the value given: `$[0].when`, `$["odd key"][2]`. JSON has
//! integers beyond 64 bits: one beyond `i64` is an error naming it (JSON's
//! unsigned 64-bit range above `i64::MAX` included). serde_json reads an
//! integer literal beyond `u64` as a double; such a number arrives as
//! `<double>`.
//!
//! ```
//! use medusa::xmlrpc::json::{from_json, to_json};
//! use medusa::xmlrpc::Value;
//! use serde_json::json;
//!
//! let value = Value::Array(vec![Value::Int(1), Value::I8(1 << 40), Value::Base64(b"hi".to_vec()), Value::Nil]);
//! let json = to_json(&value);
//! assert_eq!(json, json!([1, 1099511627776_i64, {"$base64": "aGk="}, null]));
//! assert_eq!(from_json(json).unwrap(), value);
//!
//! let err = from_json(json!([{"when": {"$datetime": "tomorrow"}}])).unwrap_err();
//! assert_eq!(err.path(), "$[0].when");
//! ```

use std::collections::BTreeMap;
use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{Map, Number, Value as Json};

use super::datetime::DateTime;
use super::value::Value;

/// The tag of a `<base64>`: `{"$base64": "aGk="}`.
pub const BASE64: &str = "$base64";
/// The tag of a `<dateTime.iso8601>`: `{"$datetime": "20261201T12:00:00"}`.
pub const DATETIME: &str = "$datetime";
/// The tag of an `<i8>` that fits in 32 bits: `{"$i8": 5}`.
pub const I8: &str = "$i8";
/// The tag of a `<double>` JSON has no number for: `{"$double": "NaN"}`.
pub const DOUBLE: &str = "$double";
/// The escape of a struct whose only member's name starts with `$`.
pub const STRUCT: &str = "$struct";

/// `value` as JSON (see the module's table). Never fails: every value has
/// a JSON form.
pub fn to_json(value: &Value) -> Json {
    match value {
        Value::Int(n) => Json::from(*n),
        Value::I8(n) if i32::try_from(*n).is_ok() => tagged(I8, Json::from(*n)),
        Value::I8(n) => Json::from(*n),
        Value::Bool(b) => Json::Bool(*b),
        Value::String(s) => Json::String(s.clone()),
        Value::Double(x) => match Number::from_f64(*x) {
            Some(n) => Json::Number(n),
            None => tagged(DOUBLE, Json::from(non_finite_name(*x))),
        },
        Value::DateTime(dt) => tagged(DATETIME, Json::String(dt.to_string())),
        Value::Base64(bytes) => tagged(BASE64, Json::String(STANDARD.encode(bytes))),
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Struct(members) => {
            let object: Map<String, Json> = members
                .iter()
                .map(|(name, v)| (name.clone(), to_json(v)))
                .collect();
            // Alone, a `$` name would read back as a tag.
            let looks_tagged = members.len() == 1 && members.keys().all(|k| k.starts_with('$'));
            if looks_tagged {
                tagged(STRUCT, Json::Object(object))
            } else {
                Json::Object(object)
            }
        }
        Value::Nil => Json::Null,
    }
}

/// The XML-RPC value `json` stands for (see the module's table), or an
/// error naming the path of the first element that stands for none.
pub fn from_json(json: Json) -> Result<Value, JsonError> {
    match json {
        Json::Null => Ok(Value::Nil),
        Json::Bool(b) => Ok(Value::Bool(b)),
        Json::String(s) => Ok(Value::String(s)),
        Json::Number(n) => number(&n),
        Json::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| from_json(item).map_err(|e| e.within(Segment::Index(i))))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Json::Object(mut object) => {
            if object.len() == 1 {
                let tag = object.keys().find(|name| name.starts_with('$')).cloned();
                if let Some((tag, inner)) = tag.and_then(|tag| object.remove_entry(&tag)) {
                    return from_tagged(&tag, inner);
                }
            }
            members(object).map(Value::Struct)
        }
    }
}

fn tagged(tag: &str, inner: Json) -> Json {
    let mut object = Map::new();
    object.insert(tag.to_string(), inner);
    Json::Object(object)
}

fn non_finite_name(x: f64) -> &'static str {
    if x.is_nan() {
        "NaN"
    } else if x > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

fn number(n: &Number) -> Result<Value, JsonError> {
    if let Some(i) = n.as_i64() {
        return Ok(i32::try_from(i).map_or(Value::I8(i), Value::Int));
    }
    if n.is_u64() {
        return Err(JsonError::new(format!(
            "the integer {n} does not fit in 64 bits (<i8>, the widest XML-RPC integer)"
        )));
    }
    // Without serde_json's arbitrary_precision every other number is an f64.
    n.as_f64()
        .map(Value::Double)
        .ok_or_else(|| JsonError::new(format!("the number {n} is out of range")))
}

fn members(object: Map<String, Json>) -> Result<BTreeMap<String, Value>, JsonError> {
    object
        .into_iter()
        .map(|(name, v)| match from_json(v) {
            Ok(v) => Ok((name, v)),
            Err(e) => Err(e.within(Segment::Key(name))),
        })
        .collect()
}

/// `{tag: inner}`; an error inside `inner` is placed under the tag's key.
fn from_tagged(tag: &str, inner: Json) -> Result<Value, JsonError> {
    let under_tag = |e: JsonError| e.within(Segment::Key(tag.to_string()));
    match tag {
        BASE64 => match inner {
            Json::String(text) => STANDARD
                .decode(text.as_bytes())
                .map(Value::Base64)
                .map_err(|e| JsonError::new(format!("{BASE64}: not standard padded base64: {e}"))),
            other => Err(JsonError::new(format!(
                "{BASE64} takes a string of base64, not {}",
                kind(&other)
            ))),
        },
        DATETIME => match inner {
            Json::String(text) => text
                .parse::<DateTime>()
                .map(Value::DateTime)
                .map_err(|e| JsonError::new(format!("{DATETIME}: {e}"))),
            other => Err(JsonError::new(format!(
                "{DATETIME} takes a string such as \"20261201T12:00:00\", not {}",
                kind(&other)
            ))),
        },
        I8 => match inner.as_i64() {
            Some(n) => Ok(Value::I8(n)),
            None => Err(JsonError::new(format!(
                "{I8} takes an integer that fits in 64 bits, not {}",
                describe(&inner)
            ))),
        },
        DOUBLE => match &inner {
            Json::Number(n) => n
                .as_f64()
                .map(Value::Double)
                .ok_or_else(|| JsonError::new(format!("{DOUBLE}: {n} is out of range"))),
            Json::String(s) if s == "NaN" => Ok(Value::Double(f64::NAN)),
            Json::String(s) if s == "Infinity" => Ok(Value::Double(f64::INFINITY)),
            Json::String(s) if s == "-Infinity" => Ok(Value::Double(f64::NEG_INFINITY)),
            other => Err(JsonError::new(format!(
                "{DOUBLE} takes a number, \"NaN\", \"Infinity\" or \"-Infinity\", not {}",
                describe(other)
            ))),
        },
        STRUCT => match inner {
            Json::Object(object) => members(object).map(Value::Struct).map_err(under_tag),
            other => Err(JsonError::new(format!(
                "{STRUCT} takes an object, not {}",
                kind(&other)
            ))),
        },
        _ => Err(JsonError::new(format!(
            "unknown tag {tag}: an object whose only member's name starts with $ must be one of \
             {BASE64}, {DATETIME}, {I8}, {DOUBLE}, {STRUCT} (write a struct like this one as \
             {{\"{STRUCT}\": {{...}}}})"
        ))),
    }
}

/// What kind of JSON value `json` is, for messages.
fn kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// `kind`, with the value itself for scalars (which are short, or cut).
fn describe(json: &Json) -> String {
    match json {
        Json::Number(n) => format!("the number {n}"),
        Json::String(s) => {
            let mut shown: String = s.chars().take(40).collect();
            if shown.len() < s.len() {
                shown.push('…');
            }
            format!("the string {}", Json::String(shown))
        }
        other => kind(other).to_string(),
    }
}

/// One step of a JSON path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Index(usize),
    Key(String),
}

/// A JSON value that stands for no XML-RPC value: what is wrong, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    /// The path from the element at fault up to the root, innermost first
    /// (errors are built on the way back out of the recursion).
    segments: Vec<Segment>,
    message: String,
}

impl JsonError {
    fn new(message: String) -> JsonError {
        JsonError {
            segments: Vec::new(),
            message,
        }
    }

    fn within(mut self, segment: Segment) -> JsonError {
        self.segments.push(segment);
        self
    }

    /// The element's JSON path: `$` for the value given, then `[i]` for an
    /// array item and `.name` (or `["name"]` when it is not a plain
    /// identifier) for a member: `$[0].when`.
    pub fn path(&self) -> String {
        let mut path = String::from("$");
        for segment in self.segments.iter().rev() {
            match segment {
                Segment::Index(i) => path.push_str(&format!("[{i}]")),
                Segment::Key(name) if is_identifier(name) => {
                    path.push('.');
                    path.push_str(name);
                }
                Segment::Key(name) => {
                    path.push('[');
                    path.push_str(&Json::String(name.clone()).to_string());
                    path.push(']');
                }
            }
        }
        path
    }

    /// What is wrong with the element.
    pub fn message(&self) -> &str {
        &self.message
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}: {}", self.path(), self.message)
    }
}

impl std::error::Error for JsonError {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn both_ways(value: Value, json: Json) {
        assert_eq!(to_json(&value), json, "to_json({value:?})");
        assert_eq!(from_json(json.clone()).unwrap(), value, "from_json({json})");
        // And through text, as a program sees it.
        let text = serde_json::to_string(&json).unwrap();
        let parsed: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(from_json(parsed).unwrap(), value, "from text {text}");
    }

    fn struct_of(members: &[(&str, Value)]) -> Value {
        Value::Struct(
            members
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn int_row() {
        both_ways(Value::Int(0), json!(0));
        both_ways(Value::Int(i32::MAX), json!(2147483647));
        both_ways(Value::Int(i32::MIN), json!(-2147483648));
    }

    #[test]
    fn i8_row() {
        both_ways(Value::I8(i64::from(i32::MAX) + 1), json!(2147483648_i64));
        both_ways(Value::I8(i64::MIN), json!(i64::MIN));
        both_ways(Value::I8(i64::MAX), json!(i64::MAX));
        // Small enough for <int>: tagged, to come back as <i8>.
        both_ways(Value::I8(5), json!({"$i8": 5}));
        assert_eq!(
            from_json(json!({"$i8": 1_i64 << 40})).unwrap(),
            Value::I8(1 << 40)
        );
    }

    #[test]
    fn integers_beyond_64_bits_are_errors_naming_them() {
        let err = from_json(json!([1, {"n": u64::MAX}])).unwrap_err();
        assert_eq!(err.path(), "$[1].n");
        assert!(err.message().contains("18446744073709551615"), "{err}");
        let err = from_json(json!({"$i8": 1.5})).unwrap_err();
        assert!(err.message().contains("$i8"), "{err}");
        assert!(from_json(json!({"$i8": u64::MAX})).is_err());
    }

    #[test]
    fn boolean_string_nil_rows() {
        both_ways(Value::Bool(true), json!(true));
        both_ways(Value::Bool(false), json!(false));
        both_ways(Value::from("héllo <&> \"q\""), json!("héllo <&> \"q\""));
        both_ways(Value::from(""), json!(""));
        both_ways(Value::Nil, json!(null));
    }

    #[test]
    fn double_row() {
        both_ways(Value::Double(1.0), json!(1.0));
        both_ways(Value::Double(-2.5), json!(-2.5));
        both_ways(Value::Double(1e300), json!(1e300));
        both_ways(Value::Double(5e-324), json!(5e-324));
        // A number written with an exponent or a fraction is a double.
        assert_eq!(
            from_json(serde_json::from_str("1e2").unwrap()).unwrap(),
            Value::Double(100.0)
        );
        assert_eq!(
            from_json(json!({"$double": 3})).unwrap(),
            Value::Double(3.0)
        );
        let negative_zero = from_json(serde_json::from_str("-0.0").unwrap()).unwrap();
        assert!(matches!(negative_zero, Value::Double(x) if x == 0.0 && x.is_sign_negative()));
    }

    #[test]
    fn non_finite_doubles_are_tagged() {
        assert_eq!(to_json(&Value::Double(f64::NAN)), json!({"$double": "NaN"}));
        both_ways(Value::Double(f64::INFINITY), json!({"$double": "Infinity"}));
        both_ways(
            Value::Double(f64::NEG_INFINITY),
            json!({"$double": "-Infinity"}),
        );
        assert!(matches!(from_json(json!({"$double": "NaN"})), Ok(Value::Double(x)) if x.is_nan()));
        let err = from_json(json!({"$double": "nan"})).unwrap_err();
        assert!(err.message().contains("\"nan\""), "{err}");
    }

    #[test]
    fn datetime_row() {
        let plain = DateTime::new(2026, 12, 1, 12, 0, 0).unwrap();
        both_ways(
            Value::DateTime(plain),
            json!({"$datetime": "20261201T12:00:00"}),
        );
        let detailed = plain
            .with_nanosecond(500_000_000)
            .unwrap()
            .with_offset(120)
            .unwrap();
        let json = to_json(&Value::DateTime(detailed));
        assert_eq!(json, json!({"$datetime": "20261201T12:00:00.5+02:00"}));
        assert_eq!(from_json(json).unwrap(), Value::DateTime(detailed));
        // Any spelling the XML decoder reads.
        assert_eq!(
            from_json(json!({"$datetime": "2026-12-01T12:00:00"})).unwrap(),
            Value::DateTime(plain)
        );
        let err = from_json(json!({"when": {"$datetime": "20261301T12:00:00"}})).unwrap_err();
        assert_eq!(err.path(), "$.when");
        assert!(err.message().starts_with("$datetime: "), "{err}");
        assert!(from_json(json!({"$datetime": 20261201})).is_err());
    }

    #[test]
    fn base64_row() {
        both_ways(Value::Base64(b"hi".to_vec()), json!({"$base64": "aGk="}));
        both_ways(Value::Base64(Vec::new()), json!({"$base64": ""}));
        both_ways(
            Value::Base64(vec![0, 255, 254, 1]),
            json!({"$base64": "AP/+AQ=="}),
        );
        // Strict: padding required, no other alphabet.
        assert!(from_json(json!({"$base64": "aGk"})).is_err());
        assert!(from_json(json!({"$base64": "AP_-AQ=="})).is_err());
        assert!(from_json(json!({"$base64": ["aGk="]})).is_err());
    }

    #[test]
    fn struct_row() {
        both_ways(
            struct_of(&[("a", Value::Int(1)), ("b", Value::from("x"))]),
            json!({"a": 1, "b": "x"}),
        );
        both_ways(Value::Struct(BTreeMap::new()), json!({}));
        both_ways(struct_of(&[("plain", Value::Nil)]), json!({"plain": null}));
        // Several members: a struct, `$` names or not.
        both_ways(
            struct_of(&[("$base64", Value::Int(1)), ("other", Value::Int(2))]),
            json!({"$base64": 1, "other": 2}),
        );
    }

    #[test]
    fn a_struct_whose_only_member_looks_like_a_tag_is_escaped() {
        for name in [
            "$base64",
            "$datetime",
            "$struct",
            "$i8",
            "$double",
            "$other",
            "$",
        ] {
            let value = struct_of(&[(name, Value::from("not a tag"))]);
            let mut inner = Map::new();
            inner.insert(name.to_string(), json!("not a tag"));
            both_ways(value, json!({"$struct": Json::Object(inner)}));
        }
        // Nested escapes.
        let inner = struct_of(&[("$struct", Value::Int(1))]);
        both_ways(
            struct_of(&[("$struct", inner)]),
            json!({"$struct": {"$struct": {"$struct": {"$struct": 1}}}}),
        );
        // The members under $struct are taken as they are.
        assert_eq!(
            from_json(json!({"$struct": {"$base64": "aGk="}})).unwrap(),
            struct_of(&[("$base64", Value::from("aGk="))])
        );
    }

    #[test]
    fn unknown_tags_are_errors() {
        let err = from_json(json!([[{"$nope": 1}]])).unwrap_err();
        assert_eq!(err.path(), "$[0][0]");
        assert!(err.message().contains("unknown tag $nope"), "{err}");
        assert!(from_json(json!({"$struct": [1]})).is_err());
    }

    #[test]
    fn array_row() {
        both_ways(
            Value::Array(vec![Value::Int(1), Value::Nil, Value::Array(vec![])]),
            json!([1, null, []]),
        );
    }

    #[test]
    fn paths_name_the_element() {
        let err = from_json(json!({"odd key": [0, {"x y": {"$base64": "!"}}]})).unwrap_err();
        assert_eq!(err.path(), "$[\"odd key\"][1][\"x y\"]");
        assert!(err
            .to_string()
            .starts_with("at $[\"odd key\"][1][\"x y\"]: $base64"));
        let err = from_json(json!({"$struct": {"$x": {"$i8": "1"}}})).unwrap_err();
        assert_eq!(err.path(), "$[\"$struct\"][\"$x\"]");
        let err = from_json(json!({"$base64": 1})).unwrap_err();
        assert_eq!(err.path(), "$");
    }
}
