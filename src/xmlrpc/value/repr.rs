//! `Display` for [`Value`]: Python's `repr`, compact, for logs and errors.

use std::fmt::{self, Write as _};

use super::Value;

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
    use std::collections::BTreeMap;

    use super::*;
    use crate::xmlrpc::datetime::DateTime;

    fn dt() -> DateTime {
        DateTime::new(1998, 7, 17, 14, 8, 55).unwrap()
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
