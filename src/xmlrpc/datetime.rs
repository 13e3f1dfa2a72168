//! `DateTime`: the value of a `<dateTime.iso8601>` (Python's
//! `xmlrpc.client.DateTime`).
//!
//! The spec's only example is `19980717T14:08:55`, with no zone: the two
//! ends agree (or not) on what zone it is in. Peers in other languages add
//! what ISO 8601 allows: a UTC offset (`Z`, `+02:00`, `+0200`, `-01`) and
//! fractions of a second (`.123`). Python's `DateTime` keeps whatever string
//! arrived, so a Python echo service gives all of that back; so do we. A
//! value keeps its offset and its fraction, digits as sent, and is sent
//! back with them; a value without either is sent in the spec's plain form.
//!
//! # Differences from Python
//!
//! Python only fails when someone converts the string to a `datetime`. Here
//! an impossible or unreadable date is refused when the document is
//! decoded. Accepted: `YYYYMMDD` or `YYYY-MM-DD`, `T` (or `t`), `HH:MM:SS`
//! or `HHMMSS`, then optionally `.` and 1–9 digits, then optionally `Z`
//! (or `z`), `±HH:MM`, `±HHMM` or `±HH`. Sent: `YYYYMMDDTHH:MM:SS`, then
//! the fraction's digits as kept, then `Z` for offset zero or `±HH:MM`.

use std::fmt;
use std::str::FromStr;

use super::value::ValueError;

/// The largest UTC offset, in minutes: `±23:59`, as ISO 8601 and RFC 3339
/// can write it.
const MAX_OFFSET_MINUTES: i16 = 23 * 60 + 59;

/// Nanoseconds in a second.
const NANOS_PER_SECOND: u32 = 1_000_000_000;

/// A date and time as carried by `<dateTime.iso8601>`, with the UTC offset
/// and fraction of a second if they were given.
///
/// Fields are checked on construction: month 1–12, a day that exists in
/// that month (leap years included), hour 0–23, minute and second 0–59
/// (no leap seconds), an offset within ±23:59. Years run from 0 to 9999,
/// the four digits the format has room for.
///
/// Equality and ordering compare what is written: date, time, fraction
/// (`.5` and `.50` differ, as the strings do in Python), then offset (none
/// before any). That is chronological among values with the same offset;
/// values are not converted between offsets, since one without an offset
/// names no instant.
///
/// ```
/// use medusa::xmlrpc::DateTime;
///
/// let dt: DateTime = "1998-07-17T14:08:55".parse().unwrap();
/// assert_eq!(dt.to_string(), "19980717T14:08:55");
/// assert_eq!(dt, DateTime::new(1998, 7, 17, 14, 8, 55).unwrap());
///
/// let zoned: DateTime = "20261201T12:00:00.123+0200".parse().unwrap();
/// assert_eq!(zoned.offset_minutes(), Some(120));
/// assert_eq!(zoned.nanosecond(), 123_000_000);
/// assert_eq!(zoned.to_string(), "20261201T12:00:00.123+02:00");
///
/// let made = DateTime::new(2026, 12, 1, 12, 0, 0)
///     .unwrap()
///     .with_offset(-330)
///     .unwrap();
/// assert_eq!(made.to_string(), "20261201T12:00:00-05:30");
/// assert!("19990229T00:00:00".parse::<DateTime>().is_err()); // not a leap year
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    // Field order is significant: it is the derived `Ord`'s.
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    /// Below `NANOS_PER_SECOND`, and writable in `fraction_digits` digits.
    nanos: u32,
    /// How many digits the fraction is written with; 0 for none.
    fraction_digits: u8,
    /// Minutes east of UTC, within ±`MAX_OFFSET_MINUTES`.
    offset: Option<i16>,
}

impl DateTime {
    /// A date and time without offset or fraction, or an error naming the
    /// field that is out of range.
    pub fn new(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
    ) -> Result<DateTime, ValueError> {
        if year > 9999 {
            return Err(ValueError::new(format!(
                "year {year} has more than 4 digits"
            )));
        }
        if !(1..=12).contains(&month) {
            return Err(ValueError::new(format!("month {month} is not 1-12")));
        }
        let last_day = days_in_month(year, month);
        if day < 1 || day > last_day {
            return Err(ValueError::new(format!(
                "day {day} does not exist in {year:04}-{month:02}"
            )));
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(ValueError::new(format!(
                "time {hour:02}:{minute:02}:{second:02} does not exist"
            )));
        }
        Ok(DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            nanos: 0,
            fraction_digits: 0,
            offset: None,
        })
    }

    /// The same wall-clock time at `minutes` east of UTC (`-330` is
    /// `-05:30`; `0` is sent as `Z`). An error beyond ±23:59.
    pub fn with_offset(self, minutes: i16) -> Result<DateTime, ValueError> {
        if !(-MAX_OFFSET_MINUTES..=MAX_OFFSET_MINUTES).contains(&minutes) {
            return Err(ValueError::new(format!(
                "offset of {minutes} minutes is beyond ±23:59"
            )));
        }
        Ok(DateTime {
            offset: Some(minutes),
            ..self
        })
    }

    /// The same wall-clock time with no offset: sent in the spec's plain
    /// form, for peers that take nothing else (see docs/xmlrpc.md).
    pub fn without_offset(self) -> DateTime {
        DateTime {
            offset: None,
            ..self
        }
    }

    /// The same time with `nanos` nanoseconds, sent with as few digits as
    /// carry them exactly (`500_000_000` as `.5`); `0` removes the
    /// fraction. An error from one second up.
    pub fn with_nanosecond(self, nanos: u32) -> Result<DateTime, ValueError> {
        if nanos >= NANOS_PER_SECOND {
            return Err(ValueError::new(format!(
                "{nanos} nanoseconds is not below one second"
            )));
        }
        let mut digits = 9u8;
        let mut rest = nanos;
        while digits > 0 && rest % 10 == 0 {
            rest /= 10;
            digits -= 1;
        }
        Ok(DateTime {
            nanos,
            fraction_digits: digits,
            ..self
        })
    }

    /// Year, 0–9999.
    pub fn year(&self) -> u16 {
        self.year
    }

    /// Month, 1–12.
    pub fn month(&self) -> u8 {
        self.month
    }

    /// Day of the month, 1–31.
    pub fn day(&self) -> u8 {
        self.day
    }

    /// Hour, 0–23.
    pub fn hour(&self) -> u8 {
        self.hour
    }

    /// Minute, 0–59.
    pub fn minute(&self) -> u8 {
        self.minute
    }

    /// Second, 0–59.
    pub fn second(&self) -> u8 {
        self.second
    }

    /// The fraction of the second in nanoseconds; 0 when there is none.
    pub fn nanosecond(&self) -> u32 {
        self.nanos
    }

    /// How many digits the fraction is written with (as received, or as
    /// few as carry it for [`with_nanosecond`](Self::with_nanosecond));
    /// 0 when there is none.
    pub fn fraction_digits(&self) -> u8 {
        self.fraction_digits
    }

    /// Minutes east of UTC (`Some(120)` for `+02:00`, `Some(0)` for `Z`),
    /// or `None` when the value has no offset, as the spec's form has not.
    pub fn offset_minutes(&self) -> Option<i16> {
        self.offset
    }
}

fn is_leap_year(year: u16) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

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
            let quoted = super::decode::shorten(text);
            ValueError::new(format!("'{quoted}' is not a date: {why}"))
        })
    }
}

impl fmt::Display for DateTime {
    /// The basic form the spec shows, `19980717T14:08:55`, then the
    /// fraction and the offset if the value has them: `.123+02:00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.iso8601();
        // Only ASCII digits and `T:.+-Z` are written.
        f.write_str(std::str::from_utf8(text.as_bytes()).map_err(|_| fmt::Error)?)
    }
}

/// A [`DateTime`] as the text its `Display` shows, written digit by digit
/// (the encoder's dateTime went through `core::fmt`'s zero padding six
/// times per value, a sixth of encoding a struct-heavy response).
pub(crate) struct Iso8601 {
    /// `YYYYMMDDTHH:MM:SS.nnnnnnnnn+HH:MM` at its longest.
    bytes: [u8; 33],
    len: usize,
}

impl Iso8601 {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Appends the last `width` decimal digits of `n`, zero-padded.
    fn digits(&mut self, n: u32, width: usize) {
        let mut rest = n;
        for at in (self.len..self.len + width).rev() {
            // Digits only: rest % 10 < 10.
            self.bytes[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        self.len += width;
    }

    fn byte(&mut self, b: u8) {
        self.bytes[self.len] = b;
        self.len += 1;
    }
}

impl DateTime {
    /// The value's text (see `Display`) without `core::fmt`.
    pub(crate) fn iso8601(&self) -> Iso8601 {
        let mut text = Iso8601 {
            bytes: [0; 33],
            len: 0,
        };
        // The year has at most four digits (checked on construction).
        text.digits(u32::from(self.year), 4);
        text.digits(u32::from(self.month), 2);
        text.digits(u32::from(self.day), 2);
        text.byte(b'T');
        text.digits(u32::from(self.hour), 2);
        text.byte(b':');
        text.digits(u32::from(self.minute), 2);
        text.byte(b':');
        text.digits(u32::from(self.second), 2);
        if self.fraction_digits > 0 {
            // The invariant: nanos is a multiple of this scale.
            let width = self.fraction_digits.min(9);
            let scale = 10u32.pow(u32::from(9 - width));
            text.byte(b'.');
            text.digits(self.nanos / scale, usize::from(width));
        }
        match self.offset {
            None => {}
            Some(0) => text.byte(b'Z'),
            Some(minutes) => {
                text.byte(if minutes < 0 { b'-' } else { b'+' });
                let abs = u32::from(minutes.unsigned_abs());
                text.digits(abs / 60, 2);
                text.byte(b':');
                text.digits(abs % 60, 2);
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<DateTime, String> {
        s.parse::<DateTime>().map_err(|e| e.to_string())
    }

    #[test]
    fn accepts_basic_and_extended_forms() {
        let expected = DateTime::new(1998, 7, 17, 14, 8, 55).unwrap();
        for s in [
            "19980717T14:08:55",
            "1998-07-17T14:08:55",
            "19980717T140855",
            "1998-07-17t14:08:55",
        ] {
            assert_eq!(parse(s), Ok(expected), "{s}");
        }
        // `Z` is kept now: it says the time is UTC.
        let utc = expected.with_offset(0).unwrap();
        assert_eq!(parse("19980717T14:08:55Z"), Ok(utc));
        assert_eq!(parse("1998-07-17T14:08:55Z"), Ok(utc));
    }

    #[test]
    fn constructors_set_offsets_and_fractions() {
        let dt = DateTime::new(2026, 12, 1, 12, 0, 0).unwrap();
        assert_eq!(dt.offset_minutes(), None);
        assert_eq!((dt.nanosecond(), dt.fraction_digits()), (0, 0));

        let east = dt.with_offset(120).unwrap();
        assert_eq!(east.offset_minutes(), Some(120));
        assert_eq!(east.to_string(), "20261201T12:00:00+02:00");
        assert_eq!(
            dt.with_offset(-1439).unwrap().to_string(),
            "20261201T12:00:00-23:59"
        );
        assert_eq!(dt.with_offset(0).unwrap().to_string(), "20261201T12:00:00Z");
        assert_eq!(east.without_offset(), dt);
        for minutes in [1440, -1440, i16::MAX, i16::MIN] {
            let err = dt.with_offset(minutes).unwrap_err().to_string();
            assert!(err.contains("beyond ±23:59"), "{minutes}: {err}");
        }

        for (nanos, text, digits) in [
            (500_000_000, "20261201T12:00:00.5", 1),
            (123_000_000, "20261201T12:00:00.123", 3),
            (120_000, "20261201T12:00:00.00012", 5),
            (1, "20261201T12:00:00.000000001", 9),
            (999_999_999, "20261201T12:00:00.999999999", 9),
            (0, "20261201T12:00:00", 0),
        ] {
            let f = dt.with_nanosecond(nanos).unwrap();
            assert_eq!(f.to_string(), text);
            assert_eq!((f.nanosecond(), f.fraction_digits()), (nanos, digits));
            assert_eq!(parse(text), Ok(f));
        }
        assert!(dt.with_nanosecond(1_000_000_000).is_err());
        assert!(dt.with_nanosecond(u32::MAX).is_err());

        let both = dt
            .with_nanosecond(250_000_000)
            .unwrap()
            .with_offset(-330)
            .unwrap();
        assert_eq!(both.to_string(), "20261201T12:00:00.25-05:30");
        assert_eq!(parse("2026-12-01T12:00:00.25-0530"), Ok(both));
        // Parsed fractions keep their digits: `.120` is not `.12`.
        let sent = parse("20261201T12:00:00.120").unwrap();
        assert_eq!(
            (sent.nanosecond(), sent.fraction_digits()),
            (120_000_000, 3)
        );
        assert_ne!(Ok(sent), parse("20261201T12:00:00.12"));
    }

    #[test]
    fn encodes_the_basic_form() {
        let dt = DateTime::new(5, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(dt.to_string(), "00050102T03:04:05");
        assert_eq!(parse(&dt.to_string()), Ok(dt));
    }

    #[test]
    fn rejects_impossible_dates() {
        for (s, why) in [
            ("19990229T00:00:00", "day 29"),
            ("19000229T00:00:00", "day 29"), // centuries are not leap years...
            ("20000431T00:00:00", "day 31"),
            ("20001301T00:00:00", "month 13"),
            ("20000001T00:00:00", "month 0"),
            ("20000100T00:00:00", "day 0"),
            ("20000101T24:00:00", "24:00:00"),
            ("20000101T23:60:00", "23:60:00"),
            ("20000101T23:59:60", "23:59:60"),
        ] {
            let err = parse(s).unwrap_err();
            assert!(err.contains(why), "{s}: {err}");
        }
        // ...but every fourth century is.
        assert!(parse("20000229T00:00:00").is_ok());
        assert!(parse("20240229T00:00:00").is_ok());
    }

    #[test]
    fn rejects_malformed_text() {
        for s in [
            "",
            "1998",
            "19980717",
            "19980717 14:08:55",
            "1998-0717T14:08:55",
            "199807-17T14:08:55",
            "19980717T14:0855",
            "19980717T14:08:5",
            "+9980717T14:08:55",
            "19980717T14:08:55ZZ",
            "١٩٩٨0717T14:08:55", // non-ASCII digits
        ] {
            let err = parse(s).unwrap_err();
            assert!(err.contains("expected YYYYMMDDTHH:MM:SS"), "{s}: {err}");
        }
    }

    #[test]
    fn keeps_offsets_and_fractions_as_sent() {
        // (what a peer sends, what we keep and send back)
        for (sent, kept) in [
            ("20261201T12:00:00+02:00", "20261201T12:00:00+02:00"),
            ("20261201T12:00:00-05:30", "20261201T12:00:00-05:30"),
            ("20261201T12:00:00+23:59", "20261201T12:00:00+23:59"),
            ("20261201T12:00:00-23:59", "20261201T12:00:00-23:59"),
            ("20261201T12:00:00Z", "20261201T12:00:00Z"),
            ("2026-12-01T12:00:00Z", "20261201T12:00:00Z"),
            // Other spellings of an offset: sent back as ±HH:MM (or Z).
            ("20261201T12:00:00+0200", "20261201T12:00:00+02:00"),
            ("20261201T12:00:00-0530", "20261201T12:00:00-05:30"),
            ("20261201T12:00:00-01", "20261201T12:00:00-01:00"),
            ("20261201T12:00:00+00:00", "20261201T12:00:00Z"),
            ("20261201T12:00:00-00:00", "20261201T12:00:00Z"),
            ("20261201t12:00:00z", "20261201T12:00:00Z"),
            ("2026-12-01t120000", "20261201T12:00:00"),
            // Fractions keep their digits, trailing zeros included.
            ("20261201T12:00:00.123", "20261201T12:00:00.123"),
            ("20261201T12:00:00.120", "20261201T12:00:00.120"),
            ("20261201T12:00:00.0", "20261201T12:00:00.0"),
            ("20261201T12:00:00.123456", "20261201T12:00:00.123456"),
            ("20261201T12:00:00.123456789", "20261201T12:00:00.123456789"),
            ("20261201T120000.5", "20261201T12:00:00.5"),
            (
                "2026-12-01T12:00:00.123+02:00",
                "20261201T12:00:00.123+02:00",
            ),
            ("20261201T12:00:00.000001Z", "20261201T12:00:00.000001Z"),
        ] {
            let dt = parse(sent).unwrap_or_else(|e| panic!("{sent}: {e}"));
            assert_eq!(dt.to_string(), kept, "{sent}");
            // What we send reads back as the same value.
            assert_eq!(parse(kept), Ok(dt), "{kept}");
        }
    }

    #[test]
    fn an_offset_or_fraction_is_part_of_the_value() {
        let plain = parse("20261201T12:00:00").unwrap();
        for other in [
            "20261201T12:00:00Z",
            "20261201T12:00:00+02:00",
            "20261201T12:00:00.5",
            "20261201T12:00:00.0",
        ] {
            assert_ne!(parse(other), Ok(plain), "{other}");
        }
        // Spellings of one offset are one value.
        assert_eq!(
            parse("20261201T12:00:00+0200"),
            parse("2026-12-01T12:00:00+02:00")
        );
        assert_eq!(parse("20261201T12:00:00z"), parse("20261201T12:00:00+00"));
    }

    #[test]
    fn rejects_impossible_offsets_and_fractions() {
        for (s, why) in [
            ("20261201T12:00:00+24:00", "offset +24:00"),
            ("20261201T12:00:00-24:00", "offset -24:00"),
            ("20261201T12:00:00+02:60", "offset +02:60"),
            ("20261201T12:00:00+9959", "offset +99:59"),
            ("20261201T12:00:00.1234567890", "more than 9 digits"),
            ("20261301T12:00:00+02:00", "month 13"),
            ("20261201T25:00:00+02:00", "25:00:00"),
            ("20261232T12:00:00.5", "day 32"),
        ] {
            let err = parse(s).unwrap_err();
            assert!(err.contains(why), "{s}: {err}");
        }
    }

    #[test]
    fn rejects_malformed_offsets_and_fractions() {
        for s in [
            "20261201T12:00:00+",
            "20261201T12:00:00+2:00",
            "20261201T12:00:00+02:0",
            "20261201T12:00:00+02:",
            "20261201T12:00:00+020",
            "20261201T12:00:00+02:00:00",
            "20261201T12:00:00+02:00junk",
            "20261201T12:00:00+02:00Z",
            "20261201T12:00:00Z+02:00",
            "20261201T12:00:00 +02:00",
            "20261201T12:00:00\u{2212}02:00", // a minus sign, not a hyphen
            "20261201T12:00:00.",
            "20261201T12:00:00.Z",
            "20261201T12:00:00..5",
            "20261201T12:00:00.5.5",
            "20261201T12:00:00,5",
            "20261201T12:00:00.+02:00",
            "20261201T12:00:00.a",
            "20261201T12:00+02:00",
            "20261201+02:00",
            "20261201T12:00:00x",
        ] {
            let err = parse(s).unwrap_err();
            assert!(err.contains("expected YYYYMMDDTHH:MM:SS"), "{s}: {err}");
        }
    }

    #[test]
    fn orders_chronologically_within_an_offset() {
        let a: DateTime = "19991231T23:59:59".parse().unwrap();
        let b: DateTime = "20000101T00:00:00".parse().unwrap();
        assert!(a < b);
        let c: DateTime = "19991231T23:59:59.5+02:00".parse().unwrap();
        let d: DateTime = "19991231T23:59:59.75+02:00".parse().unwrap();
        assert!(c < d);
        assert!(a < a.with_offset(0).unwrap());
    }
}
