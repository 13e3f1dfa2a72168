//! Reading a `<dateTime.iso8601>`'s text: the forms accepted (see the
//! module docs of `datetime`) and what a refusal says.

use std::str::FromStr;

use super::{DateTime, ValueError};

/// Reads exactly `N` ASCII digits from the front of `s`; `N` is at most
/// 4, so the value fits in `u16`.
fn digits<const N: usize>(s: &mut &[u8]) -> Option<u16> {
    if s.len() < N || !s[..N].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = s[..N].iter().try_fold(0u16, |n, &d| {
        n.checked_mul(10)?.checked_add(u16::from(d - b'0'))
    })?;
    *s = &s[N..];
    Some(n)
}

/// Consumes `sep` from the front of `s` if it is there.
fn optional(s: &mut &[u8], sep: u8) -> bool {
    if s.first() == Some(&sep) {
        *s = &s[1..];
        true
    } else {
        false
    }
}

/// Consumes either spelling of a letter (`T`/`t`, `Z`/`z`), as RFC 3339
/// allows.
fn letter(s: &mut &[u8], upper: u8) -> bool {
    optional(s, upper) || optional(s, upper.to_ascii_lowercase())
}

/// Why a date's text was refused: its shape, or a field out of range.
enum Refusal {
    Malformed,
    Field(String),
}

/// The fraction after the `.`: its value in nanoseconds and its digits.
fn fraction(s: &mut &[u8]) -> Result<(u32, u8), Refusal> {
    let count = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if count == 0 {
        return Err(Refusal::Malformed);
    }
    // Nanoseconds are the finest a u32 holds below one second; longer
    // fractions are refused rather than silently cut.
    let digits = u8::try_from(count)
        .ok()
        .filter(|&d| d <= 9)
        .ok_or_else(|| Refusal::Field(format!("fraction has more than 9 digits ({count})")))?;
    let value = s[..count]
        .iter()
        .try_fold(0u32, |n, &d| {
            n.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        })
        .ok_or(Refusal::Malformed)?;
    let nanos = 10u32
        .checked_pow(u32::from(9 - digits))
        .and_then(|scale| value.checked_mul(scale))
        .ok_or(Refusal::Malformed)?;
    *s = &s[count..];
    Ok((nanos, digits))
}

/// An offset after the time: `Z`, `±HH:MM`, `±HHMM` or `±HH`; `None` if
/// there is none.
fn offset(s: &mut &[u8]) -> Result<Option<i16>, Refusal> {
    if letter(s, b'Z') {
        return Ok(Some(0));
    }
    let negative = match s.first() {
        Some(b'+') => false,
        Some(b'-') => true,
        _ => return Ok(None),
    };
    *s = &s[1..];
    let hours = digits::<2>(s).ok_or(Refusal::Malformed)?;
    let minutes = if optional(s, b':') {
        digits::<2>(s).ok_or(Refusal::Malformed)?
    } else {
        digits::<2>(s).unwrap_or(0)
    };
    if hours > 23 || minutes > 59 {
        let sign = if negative { '-' } else { '+' };
        return Err(Refusal::Field(format!(
            "offset {sign}{hours:02}:{minutes:02} is beyond ±23:59"
        )));
    }
    // At most 23 * 60 + 59, so no overflow in i16.
    let total = i16::try_from(hours * 60 + minutes).map_err(|_| Refusal::Malformed)?;
    Ok(Some(if negative { -total } else { total }))
}

fn parse(text: &str) -> Result<DateTime, Refusal> {
    let mut s = text.as_bytes();
    let s = &mut s;
    let field = |r: Option<u16>| r.ok_or(Refusal::Malformed);
    let year = field(digits::<4>(s))?;
    // One dash after the year means the extended form: both dashes.
    let dashes = optional(s, b'-');
    let month = field(digits::<2>(s))?;
    if dashes && !optional(s, b'-') {
        return Err(Refusal::Malformed);
    }
    let day = field(digits::<2>(s))?;
    if !letter(s, b'T') {
        return Err(Refusal::Malformed);
    }
    let hour = field(digits::<2>(s))?;
    let colons = optional(s, b':');
    let minute = field(digits::<2>(s))?;
    if colons && !optional(s, b':') {
        return Err(Refusal::Malformed);
    }
    let second = field(digits::<2>(s))?;
    let (nanos, fraction_digits) = if optional(s, b'.') {
        fraction(s)?
    } else {
        (0, 0)
    };
    let offset = offset(s)?;
    if !s.is_empty() {
        return Err(Refusal::Malformed);
    }
    // Two-digit fields are at most 99, so they fit in u8.
    let date = DateTime::new(
        year,
        month as u8,
        day as u8,
        hour as u8,
        minute as u8,
        second as u8,
    )
    .map_err(|e| Refusal::Field(e.to_string()))?;
    Ok(DateTime {
        nanos,
        fraction_digits,
        offset,
        ..date
    })
}

impl FromStr for DateTime {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<DateTime, ValueError> {
        parse(text).map_err(|refusal| {
            let why = match refusal {
                Refusal::Malformed => {
                    "expected YYYYMMDDTHH:MM:SS, optionally with .fraction and Z or ±HH:MM"
                        .to_string()
                }
                Refusal::Field(why) => why,
            };
            // A peer's text, quoted: at most 40 characters of it.
            let quoted = crate::xmlrpc::decode::shorten(text);
            ValueError::new(format!("'{quoted}' is not a date: {why}"))
        })
    }
}
