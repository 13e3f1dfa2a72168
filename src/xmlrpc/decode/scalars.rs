//! The text of scalar values: `<int>`, `<boolean>`, `<double>`, `<base64>`.

use base64::engine::general_purpose::{GeneralPurpose, PAD_INDIFFERENT};
use base64::{alphabet, Engine as _};

use super::grammar::{is_xml_space, shorten};
use super::tag::Tag;
use crate::xmlrpc::fault::Fault;
use crate::xmlrpc::xml_text::find_space_or_control;

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

/// What [`LIBERAL_BASE64`] makes of base64 text without whitespace, at
/// SIMD speed where it can: base64-simd's forgiving decoder (WHATWG's
/// forgiving-base64) first, three times as fast. What it accepts, ours
/// accepts too, as the same bytes (`forgiving_accepts_only_what_we_accept`
/// below); it refuses some of what ours takes (`AA=`), and whatever it
/// refuses is decided, error message included, by `LIBERAL_BASE64`. (Its
/// own whitespace removal is a byte loop: ours, below, comes first.)
fn decode_liberal(compact: &[u8]) -> Result<Vec<u8>, base64::DecodeError> {
    match base64_simd::forgiving_decode_to_vec(compact) {
        Ok(bytes) => Ok(bytes),
        Err(_) => LIBERAL_BASE64.decode(compact),
    }
}

/// `<base64>` text, whitespace anywhere (Python's `xmlrpc.client` breaks
/// lines every 76 characters).
pub(super) fn parse_base64(text: &str) -> Result<Vec<u8>, Fault> {
    let bytes = text.as_bytes();
    let mut next = find_space_or_control(bytes, 0);
    let decoded = if next == bytes.len() {
        decode_liberal(bytes)
    } else {
        // One pass: the runs between whitespace copied, whitespace dropped.
        // Other controls stay, for the decoder to refuse.
        let mut compact = Vec::with_capacity(bytes.len());
        let mut run = 0;
        while let Some(&b) = bytes.get(next) {
            compact.extend_from_slice(&bytes[run..next]);
            if !b.is_ascii_whitespace() {
                compact.push(b);
            }
            run = next.saturating_add(1);
            next = find_space_or_control(bytes, run);
        }
        compact.extend_from_slice(&bytes[run..]);
        decode_liberal(&compact)
    };
    decoded.map_err(|e| Fault::invalid_xmlrpc(format!("<base64> is not valid base64: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use proptest::prelude::*;

    /// The whitespace handling before the word scanner, byte at a time.
    fn parse_base64_bytewise(text: &str) -> Result<Vec<u8>, Fault> {
        let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        LIBERAL_BASE64
            .decode(compact)
            .map_err(|e| Fault::invalid_xmlrpc(format!("<base64> is not valid base64: {e}")))
    }

    /// Base64 of random bytes, then bytes inserted (whitespace, controls,
    /// `=`, bytes outside the alphabet) and up to three cut off the end.
    fn base64_text() -> impl Strategy<Value = String> {
        let insert = prop::sample::select(vec![
            ' ', '\n', '\r', '\t', '\u{c}', '\u{b}', '\u{0}', '\u{1f}', '=', '-', '_', '!', 'é',
        ]);
        (
            prop::collection::vec(any::<u8>(), 0..200),
            prop::collection::vec((any::<prop::sample::Index>(), insert), 0..12),
            any::<prop::sample::Index>(),
        )
            .prop_map(|(bytes, inserts, cut)| {
                let mut text: Vec<char> = STANDARD.encode(bytes).chars().collect();
                for (at, c) in inserts {
                    text.insert(at.index(text.len().saturating_add(1)), c);
                }
                let len = text.len();
                text.truncate(len.saturating_sub(cut.index(4)));
                text.into_iter().collect()
            })
    }

    proptest! {
        /// The same bytes or the same fault as removing whitespace a byte
        /// at a time, lines of 76 (Python's) among the inputs.
        #[test]
        fn base64_whitespace_is_removed_as_before(text in base64_text(), width in 1usize..100) {
            prop_assert_eq!(parse_base64(&text), parse_base64_bytewise(&text));
            let lines: String = text
                .as_bytes()
                .chunks(width)
                .flat_map(|line| [std::str::from_utf8(line).unwrap_or("!"), "\n"])
                .collect();
            prop_assert_eq!(parse_base64(&lines), parse_base64_bytewise(&lines));
        }
    }

    proptest! {
        /// base64-simd's forgiving decoder, tried first, never accepts what
        /// the base64 crate's liberal engine (the reference) refuses, and
        /// never decodes to other bytes: on valid base64, and on base64
        /// with bytes inserted, cut or changed.
        #[test]
        fn forgiving_accepts_only_what_we_accept(text in base64_text(), width in 1usize..100) {
            let lines: String = text
                .as_bytes()
                .chunks(width)
                .flat_map(|line| [std::str::from_utf8(line).unwrap_or("!"), "\n"])
                .collect();
            for text in [text, lines] {
                if let Ok(fast) = base64_simd::forgiving_decode_to_vec(text.as_bytes()) {
                    prop_assert_eq!(parse_base64_bytewise(&text), Ok(fast));
                }
            }
        }
    }

    /// Why base64-simd cannot decode alone although it is three times as
    /// fast: it refuses padding short of the full `==` (`AA=`), which
    /// Python's decoder and ours take, in every mode it has (and its
    /// STANDARD also refuses no padding and stray trailing bits).
    #[test]
    fn base64_simd_refuses_what_we_take() {
        assert_eq!(parse_base64("AA="), Ok(vec![0]));
        assert!(base64_simd::STANDARD.decode_to_vec("AA=").is_err());
        assert!(base64_simd::STANDARD_NO_PAD.decode_to_vec("AA=").is_err());
        assert!(base64_simd::forgiving_decode_to_vec(b"AA=").is_err());
        assert_eq!(parse_base64("QR"), Ok(vec![b'A']));
        assert!(base64_simd::STANDARD.decode_to_vec("QR").is_err());
    }
}
