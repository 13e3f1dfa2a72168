//! Encoding `<methodCall>` and `<methodResponse>` documents (Python's
//! `xmlrpc.client.dumps`).
//!
//! XML-RPC documents are small and regular, so they are written straight
//! into a `Vec<u8>`: no DOM, no XML writer. Strict in what we send: only the
//! spec's own forms, no whitespace between elements, every string in a
//! `<string>`, doubles without exponents, `<nil/>` and `<i8>` only when
//! [`EncodeOptions`] allows them.
//!
//! # Differences from Python
//!
//! - Python writes a double with `repr()`, which gives `1e+300`; the spec
//!   allows only digits, `.` and `-`. We write the shortest digits that read
//!   back to the same double, in plain decimal (`1e300` is a 1 and 300
//!   zeros), so every finite double round-trips exactly.
//! - Python sends NaN and infinities (`nan`, `inf`), which no peer can read,
//!   and characters XML 1.0 forbids (most C0 controls), which make the whole
//!   document unreadable. Both are an [`EncodeError`] here. A [`Fault`]'s
//!   message is the exception: forbidden characters become U+FFFD so that a
//!   fault can always be sent.
//! - Python leaves `\r` as is; XML parsers turn it into `\n`. We send
//!   `&#13;` so it survives.
//! - Method names are checked against the spec's alphabet (letters, digits,
//!   `_ . : /`).

use std::borrow::Cow;
use std::fmt;
use std::io::Write as _;

use crate::xmlrpc::fault::Fault;
use crate::xmlrpc::value::Value;
use crate::xmlrpc::xml_text::find_special;

/// Which extensions the encoder may use.
///
/// Both default to on: Python's `xmlrpc.client` reads `<nil/>` and `<i8>`
/// (it needs `allow_none=True` only to send `None`), and so does Apache's.
/// Turn them off for peers that know only the original spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Send [`Value::Nil`] as `<nil/>`; when off, a `Nil` is an error.
    pub nil: bool,
    /// Send [`Value::I8`] as `<i8>`; when off, an `I8` that fits in 32 bits
    /// is sent as `<int>` and a larger one is an error.
    pub i8: bool,
}

impl Default for EncodeOptions {
    fn default() -> EncodeOptions {
        EncodeOptions {
            nil: true,
            i8: true,
        }
    }
}

/// A value that cannot be put into an XML-RPC document.
#[derive(Clone, Debug, PartialEq)]
pub enum EncodeError {
    /// NaN or an infinity: XML-RPC's `<double>` has no form for them.
    NonFiniteDouble(f64),
    /// A character XML 1.0 does not allow, even escaped (a C0 control other
    /// than tab, newline and carriage return, or U+FFFE/U+FFFF), in a string
    /// or a member name.
    InvalidXmlChar(char),
    /// [`Value::Nil`] with [`EncodeOptions::nil`] off.
    NilNotAllowed,
    /// An [`Value::I8`] beyond 32 bits with [`EncodeOptions::i8`] off.
    I8NotAllowed(i64),
    /// A method name that is empty or has characters outside the spec's
    /// `A-Z a-z 0-9 _ . : /`.
    InvalidMethodName(String),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::NonFiniteDouble(x) => {
                write!(f, "cannot encode {x}: XML-RPC has no NaN or infinity")
            }
            EncodeError::InvalidXmlChar(c) => write!(
                f,
                "cannot encode character U+{:04X}: XML 1.0 does not allow it",
                *c as u32
            ),
            EncodeError::NilNotAllowed => {
                f.write_str("cannot encode nil: the nil extension is off")
            }
            EncodeError::I8NotAllowed(n) => {
                write!(
                    f,
                    "cannot encode {n}: beyond <int> and the i8 extension is off"
                )
            }
            EncodeError::InvalidMethodName(name) => write!(
                f,
                "invalid method name {name:?}: use A-Z, a-z, 0-9, '_', '.', ':', '/'"
            ),
        }
    }
}

impl std::error::Error for EncodeError {}

impl From<EncodeError> for Fault {
    /// An internal-error fault (-32603): a server whose result cannot be
    /// encoded has failed, not its client.
    fn from(err: EncodeError) -> Fault {
        Fault::internal_error(err.to_string())
    }
}

const DECLARATION: &[u8] = b"<?xml version=\"1.0\"?>";

/// Encodes a call of `method` with `params`: what a client sends.
///
/// ```
/// use medusa::xmlrpc::{encode_call, EncodeOptions, Value};
///
/// let body = encode_call("add", &[Value::Int(40), Value::Int(2)], &EncodeOptions::default())
///     .unwrap();
/// assert_eq!(
///     String::from_utf8(body).unwrap(),
///     "<?xml version=\"1.0\"?><methodCall><methodName>add</methodName><params>\
///      <param><value><int>40</int></value></param>\
///      <param><value><int>2</int></value></param></params></methodCall>"
/// );
/// ```
#[doc(alias = "dumps")]
pub fn encode_call(
    method: &str,
    params: &[Value],
    options: &EncodeOptions,
) -> Result<Vec<u8>, EncodeError> {
    check_method_name(method)?;
    let values = params.iter().fold(0, |n: usize, p| {
        n.saturating_add(size_hint(p)).saturating_add(PARAM_TAGS)
    });
    let mut out = Vec::with_capacity(values.saturating_add(128 + method.len()));
    out.extend_from_slice(DECLARATION);
    out.extend_from_slice(b"<methodCall><methodName>");
    out.extend_from_slice(method.as_bytes());
    out.extend_from_slice(b"</methodName><params>");
    for param in params {
        out.extend_from_slice(b"<param>");
        write_value(&mut out, param, options)?;
        out.extend_from_slice(b"</param>");
    }
    out.extend_from_slice(b"</params></methodCall>");
    Ok(out)
}

/// Encodes a successful response carrying `value`: what a server sends.
///
/// ```
/// use medusa::xmlrpc::{encode_response, EncodeOptions, Value};
///
/// let body = encode_response(&Value::Int(42), &EncodeOptions::default()).unwrap();
/// assert!(body.ends_with(b"<params><param><value><int>42</int></value></param>\
///                          </params></methodResponse>"));
/// ```
#[doc(alias = "dumps")]
pub fn encode_response(value: &Value, options: &EncodeOptions) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(size_hint(value).saturating_add(128));
    out.extend_from_slice(DECLARATION);
    out.extend_from_slice(b"<methodResponse><params><param>");
    write_value(&mut out, value, options)?;
    out.extend_from_slice(b"</param></params></methodResponse>");
    Ok(out)
}

/// Encodes a fault response. Never fails: characters XML cannot carry are
/// replaced with U+FFFD in the message.
///
/// ```
/// use medusa::xmlrpc::{encode_fault, Fault};
///
/// let body = encode_fault(&Fault::method_not_found("no method 'mul'"));
/// let text = String::from_utf8(body).unwrap();
/// assert!(text.contains("<name>faultCode</name><value><int>-32601</int></value>"));
/// ```
#[doc(alias = "dumps")]
pub fn encode_fault(fault: &Fault) -> Vec<u8> {
    let message: Cow<str> = if fault.message.chars().all(is_xml_char) {
        Cow::Borrowed(&fault.message)
    } else {
        Cow::Owned(
            fault
                .message
                .chars()
                .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    };
    let mut out = Vec::with_capacity(256 + message.len());
    out.extend_from_slice(DECLARATION);
    out.extend_from_slice(
        b"<methodResponse><fault><value><struct>\
          <member><name>faultCode</name><value><int>",
    );
    write_int(&mut out, fault.code);
    out.extend_from_slice(
        b"</int></value></member>\
          <member><name>faultString</name><value><string>",
    );
    // Cannot fail: every character was checked above.
    let _ = write_escaped(&mut out, &message);
    out.extend_from_slice(
        b"</string></value></member>\
          </struct></value></fault></methodResponse>",
    );
    out
}

/// `<param></param>`.
const PARAM_TAGS: usize = 15;

/// About how many bytes `value` encodes to, so that a document's buffer is
/// reserved once: exact for strings and base64 with nothing to escape, a
/// little over for numbers (an escape or a long double grows it as
/// usual). Without it a 10 MB string grew the buffer by doubling, each
/// step a copy beside the old one, the last to 20 MB.
fn size_hint(value: &Value) -> usize {
    // The tags around each: `<value><string></string></value>` is 32.
    const TAGS: usize = 32;
    // `<int>-2147483648</int>` and the like, dates, `<nil/>`.
    const SCALAR: usize = 48;
    match value {
        Value::String(s) => s.len().saturating_add(TAGS),
        Value::Base64(b) => b.len().div_ceil(3).saturating_mul(4).saturating_add(TAGS),
        // `<member><name></name></member>` is 29.
        Value::Struct(members) => members.iter().fold(TAGS, |n, (name, member)| {
            n.saturating_add(29 + name.len())
                .saturating_add(size_hint(member))
        }),
        Value::Array(items) => items
            .iter()
            .fold(TAGS + 10, |n, item| n.saturating_add(size_hint(item))),
        _ => SCALAR,
    }
}

/// The spec: "The string may only contain identifier characters, upper and
/// lower-case A-Z, the numeric characters, 0-9, underscore, dot, colon and
/// slash."
fn check_method_name(method: &str) -> Result<(), EncodeError> {
    let valid = !method.is_empty()
        && method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'/'));
    if valid {
        Ok(())
    } else {
        Err(EncodeError::InvalidMethodName(method.to_string()))
    }
}

/// XML 1.0's `Char` production. Rust strings hold no surrogates, so what is
/// left to exclude is C0 controls but tab, LF and CR, and U+FFFE/U+FFFF.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Appends `text` with `&`, `<`, `>` escaped, and `\r` as `&#13;` (a raw
/// CR would be read back as `\n`). `>` needs escaping only in `]]>`, but
/// escaping it always is simpler and harmless.
fn write_escaped(out: &mut Vec<u8>, text: &str) -> Result<(), EncodeError> {
    let bytes = text.as_bytes();
    let mut clean = 0; // bytes[clean..at] still to be copied as they are
    let mut at = 0;
    loop {
        at = find_special(bytes, at);
        let Some(&b) = bytes.get(at) else { break };
        let escape: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'\r' => b"&#13;",
            // U+FFFE and U+FFFF are EF BF BE and EF BF BF in UTF-8.
            0xEF => match bytes.get(at + 1..at + 3) {
                Some([0xBF, 0xBE]) => return Err(EncodeError::InvalidXmlChar('\u{FFFE}')),
                Some([0xBF, 0xBF]) => return Err(EncodeError::InvalidXmlChar('\u{FFFF}')),
                _ => {
                    at += 1;
                    continue;
                }
            },
            // The other control characters (find_special skips tab and LF).
            _ => return Err(EncodeError::InvalidXmlChar(char::from(b))),
        };
        out.extend_from_slice(&bytes[clean..at]);
        out.extend_from_slice(escape);
        at += 1;
        clean = at;
    }
    out.extend_from_slice(&bytes[clean..]);
    Ok(())
}

/// Appends an integer's decimal digits.
fn write_int(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends a finite double in plain decimal: the shortest digits that
/// round-trip, as Rust's `Display` prints them, never an exponent, and `.0`
/// on integral values so they read as doubles.
///
/// zmij finds the digits (five times faster than `Display`'s grisu). The
/// two differ only on a tie, a double exactly halfway between two shortest
/// candidates (`185554526654354.625`: zmij rounds to even, `.62`, `Display`
/// up, `.63`); those few go through `Display` so the text stays the same.
fn write_double(out: &mut Vec<u8>, x: f64) -> Result<(), EncodeError> {
    if !x.is_finite() {
        return Err(EncodeError::NonFiniteDouble(x));
    }
    let mut buffer = zmij::Buffer::new();
    let shortest = buffer.format_finite(x).as_bytes();
    let e = shortest.iter().position(|&b| b == b'e');
    let mantissa = &shortest[..e.unwrap_or(shortest.len())];
    if exact_digits_if_tie(x).is_some_and(|n| n == significant_digits(mantissa) + 1) {
        let start = out.len();
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{x}");
        if !out[start..].contains(&b'.') {
            out.extend_from_slice(b".0");
        }
        return Ok(());
    }
    match e {
        None => {
            out.extend_from_slice(shortest);
            if !shortest.contains(&b'.') {
                out.extend_from_slice(b".0");
            }
        }
        Some(e) => write_without_exponent(out, mantissa, &shortest[e + 1..]),
    }
    Ok(())
}

/// Powers of five up to 5^27, the most a tie can involve.
const POW5: [u64; 28] = {
    let mut table = [1u64; 28];
    let mut i = 1;
    while i < table.len() {
        table[i] = table[i - 1] * 5;
        i += 1;
    }
    table
};

/// If `x` may be a tie, the number of significant digits its exact decimal
/// value has. A tie is an exact value of n + 1 significant digits, the
/// last a 5, printed in n; every double's exact value is finite in decimal,
/// but only those of at most 18 digits can be ties (the shortest has at
/// most 17). With `x = m * 2^e`, `m` odd, the exact digits are `m * 5^-e`
/// for `e < 0`; for `e >= 0` they end in 5 only when `5^(e+1)` divides `m`,
/// and are then `m / 5^e`.
fn exact_digits_if_tie(x: f64) -> Option<usize> {
    let bits = x.to_bits();
    let fraction = bits & ((1 << 52) - 1);
    let biased = i32::try_from((bits >> 52) & 0x7FF).unwrap_or(0);
    let (m, e) = match biased {
        0 => (fraction, -1074),
        _ => (fraction | 1 << 52, biased - 1075),
    };
    if m == 0 {
        return None;
    }
    let zeros = m.trailing_zeros();
    let (m, e) = (
        u128::from(m >> zeros),
        e + i32::try_from(zeros).unwrap_or(0),
    );
    let pow5 = |k: i32| {
        usize::try_from(k)
            .ok()
            .and_then(|k| POW5.get(k))
            .map(|&p| u128::from(p))
    };
    let digits = if e < 0 {
        m * pow5(-e)?
    } else if m % pow5(e + 1)? == 0 {
        m / pow5(e)?
    } else {
        return None;
    };
    (digits < 10u128.pow(18)).then(|| digits.ilog10() as usize + 1)
}

/// The significant digits of a mantissa as zmij prints it (`-0.000123`,
/// `1.5`, `100.0`): its digits without leading and trailing zeros.
fn significant_digits(mantissa: &[u8]) -> usize {
    let nonzero = |b: &u8| b.is_ascii_digit() && *b != b'0';
    let first = mantissa.iter().position(nonzero);
    let last = mantissa.iter().rposition(nonzero);
    match (first, last) {
        (Some(first), Some(last)) => {
            let span = &mantissa[first..=last];
            span.len() - usize::from(span.contains(&b'.'))
        }
        _ => 0,
    }
}

/// Appends `mantissa`e`exponent` (zmij's `-d.ddd` and `[+-]NN`, outside
/// 1e-5..1e16) as plain decimal: the digits with the point moved, padded
/// with zeros.
fn write_without_exponent(out: &mut Vec<u8>, mantissa: &[u8], exponent: &[u8]) {
    let (negative, mantissa) = match mantissa.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, mantissa),
    };
    let (exp_negative, exp_digits) = match exponent.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, exponent),
    };
    let magnitude = exp_digits
        .iter()
        .fold(0usize, |n, &d| n * 10 + usize::from(d.saturating_sub(b'0')));
    if negative {
        out.push(b'-');
    }
    // One digit before the point in the mantissa, the rest after it.
    let (lead, fraction) = mantissa.split_at(1.min(mantissa.len()));
    let fraction = fraction.strip_prefix(b".").unwrap_or(fraction);
    if exp_negative {
        // 0.000ddd: magnitude - 1 zeros after the point.
        out.extend_from_slice(b"0.");
        out.resize(out.len() + magnitude.saturating_sub(1), b'0');
        out.extend_from_slice(lead);
        out.extend_from_slice(fraction);
    } else {
        out.extend_from_slice(lead);
        if fraction.len() > magnitude {
            out.extend_from_slice(&fraction[..magnitude]);
            out.push(b'.');
            out.extend_from_slice(&fraction[magnitude..]);
        } else {
            out.extend_from_slice(fraction);
            out.resize(out.len() + (magnitude - fraction.len()), b'0');
            out.extend_from_slice(b".0");
        }
    }
}

/// Appends `<value>...</value>`. Recursion follows the nesting of the
/// value; decoded values are bounded by `DecodeLimits::max_depth`.
fn write_value(
    out: &mut Vec<u8>,
    value: &Value,
    options: &EncodeOptions,
) -> Result<(), EncodeError> {
    out.extend_from_slice(b"<value>");
    match value {
        Value::Int(n) => {
            out.extend_from_slice(b"<int>");
            write_int(out, *n);
            out.extend_from_slice(b"</int>");
        }
        Value::I8(n) if options.i8 => {
            out.extend_from_slice(b"<i8>");
            write_int(out, *n);
            out.extend_from_slice(b"</i8>");
        }
        Value::I8(n) => {
            let small = i32::try_from(*n).map_err(|_| EncodeError::I8NotAllowed(*n))?;
            out.extend_from_slice(b"<int>");
            write_int(out, small);
            out.extend_from_slice(b"</int>");
        }
        Value::Bool(b) => {
            out.extend_from_slice(if *b {
                b"<boolean>1</boolean>"
            } else {
                b"<boolean>0</boolean>"
            });
        }
        Value::String(s) => {
            out.extend_from_slice(b"<string>");
            write_escaped(out, s)?;
            out.extend_from_slice(b"</string>");
        }
        Value::Double(x) => {
            out.extend_from_slice(b"<double>");
            write_double(out, *x)?;
            out.extend_from_slice(b"</double>");
        }
        Value::DateTime(dt) => {
            out.extend_from_slice(b"<dateTime.iso8601>");
            out.extend_from_slice(dt.iso8601().as_bytes());
            out.extend_from_slice(b"</dateTime.iso8601>");
        }
        Value::Base64(bytes) => {
            out.extend_from_slice(b"<base64>");
            // The same bytes as the base64 crate's STANDARD, written
            // straight into the spare capacity (no zeroing first).
            base64_simd::STANDARD.encode_append(bytes, out);
            out.extend_from_slice(b"</base64>");
        }
        Value::Struct(members) => {
            out.extend_from_slice(b"<struct>");
            for (name, member) in members {
                out.extend_from_slice(b"<member><name>");
                write_escaped(out, name)?;
                out.extend_from_slice(b"</name>");
                write_value(out, member, options)?;
                out.extend_from_slice(b"</member>");
            }
            out.extend_from_slice(b"</struct>");
        }
        Value::Array(items) => {
            out.extend_from_slice(b"<array><data>");
            for item in items {
                write_value(out, item, options)?;
            }
            out.extend_from_slice(b"</data></array>");
        }
        Value::Nil if options.nil => out.extend_from_slice(b"<nil/>"),
        Value::Nil => return Err(EncodeError::NilNotAllowed),
    }
    out.extend_from_slice(b"</value>");
    Ok(())
}

#[cfg(test)]
mod tests;
