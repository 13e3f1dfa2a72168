//! The text of scalar values: `<int>`, `<boolean>`, `<double>`, `<base64>`.

use base64::engine::general_purpose::{GeneralPurpose, PAD_INDIFFERENT};
use base64::{alphabet, Engine as _};

use super::grammar::{is_xml_space, shorten};
use super::tag::Tag;
use crate::xmlrpc::fault::Fault;

// base64 as found in the wild: padding optional, stray trailing bits kept
// (Python's decoder allows both). Whitespace is removed before decoding.
const LIBERAL_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    PAD_INDIFFERENT.with_decode_allow_trailing_bits(true),
);

/// `<int>`, `<i4>` or `<i8>` text: an optional sign and decimal digits,
/// surrounding whitespace allowed, within `min..=max`.
pub(super) fn parse_int(tag: Tag, text: &str, min: i64, max: i64) -> Result<i64, Fault> {
    use std::num::IntErrorKind;
    let trimmed = text.trim_matches(is_xml_space);
    let out_of_range = || {
        Fault::invalid_xmlrpc(format!(
            "<{}> '{}' is out of range ({min}..={max})",
            tag.name(),
            shorten(trimmed)
        ))
    };
    match trimmed.parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(_) => Err(out_of_range()),
        Err(e)
            if matches!(
                e.kind(),
                IntErrorKind::PosOverflow | IntErrorKind::NegOverflow
            ) =>
        {
            Err(out_of_range())
        }
        Err(_) => Err(Fault::invalid_xmlrpc(format!(
            "<{}> '{}' is not an integer",
            tag.name(),
            shorten(trimmed)
        ))),
    }
}

pub(super) fn parse_bool(text: &str) -> Result<bool, Fault> {
    let trimmed = text.trim_matches(is_xml_space);
    match trimmed {
        "1" => Ok(true),
        "0" => Ok(false),
        t if t.eq_ignore_ascii_case("true") => Ok(true),
        t if t.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(Fault::invalid_xmlrpc(format!(
            "<boolean> '{}' is not 0 or 1",
            shorten(trimmed)
        ))),
    }
}

pub(super) fn parse_double(text: &str) -> Result<f64, Fault> {
    let trimmed = text.trim_matches(is_xml_space);
    // Rust's parser also takes "inf" and "NaN"; the finiteness check below
    // refuses those along with overflow such as "1e400".
    match trimmed.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        Ok(_) => Err(Fault::invalid_xmlrpc(format!(
            "<double> '{}' is not finite (XML-RPC has no NaN or infinity)",
            shorten(trimmed)
        ))),
        Err(_) => Err(Fault::invalid_xmlrpc(format!(
            "<double> '{}' is not a number",
            shorten(trimmed)
        ))),
    }
}

pub(super) fn parse_base64(text: &str) -> Result<Vec<u8>, Fault> {
    let decoded = if text.bytes().any(|b| b.is_ascii_whitespace()) {
        let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        LIBERAL_BASE64.decode(compact)
    } else {
        LIBERAL_BASE64.decode(text)
    };
    decoded.map_err(|e| Fault::invalid_xmlrpc(format!("<base64> is not valid base64: {e}")))
}
