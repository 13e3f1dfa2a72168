//! `DateTime`: the value of a `<dateTime.iso8601>` (Python's
//! `xmlrpc.client.DateTime`).
//!
//! XML-RPC's date type has no time zone: the spec's example is
//! `19980717T14:08:55`, and the two ends agree (or not) on what zone it is
//! in. So this is a plain calendar date and wall-clock time, validated so
//! that February 30th cannot exist.
//!
//! # Differences from Python
//!
//! Python's `DateTime` keeps whatever string arrived and only fails when
//! someone converts it to a `datetime`. Here an impossible or unreadable date
//! is refused when the document is decoded. Accepted forms: the basic
//! `YYYYMMDDTHH:MM:SS` (what we send), the extended `YYYY-MM-DDTHH:MM:SS`,
//! `HHMMSS` without colons, each optionally followed by `Z` (accepted and
//! dropped: there is nowhere to keep a zone).

use std::fmt;
use std::str::FromStr;

use super::ValueError;

/// A date and time without a zone, as carried by `<dateTime.iso8601>`.
///
/// Fields are checked on construction: month 1–12, a day that exists in
/// that month (leap years included), hour 0–23, minute and second 0–59
/// (no leap seconds). Years run from 0 to 9999, the four digits the format
/// has room for. Ordering is chronological.
///
/// ```
/// use medusa::xmlrpc::DateTime;
///
/// let dt: DateTime = "1998-07-17T14:08:55Z".parse().unwrap();
/// assert_eq!(dt.to_string(), "19980717T14:08:55");
/// assert_eq!(dt, DateTime::new(1998, 7, 17, 14, 8, 55).unwrap());
/// assert!("19990229T00:00:00".parse::<DateTime>().is_err()); // not a leap year
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    // Field order is significant: the derived `Ord` is chronological.
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

impl DateTime {
    /// A date and time, or an error naming the field that is out of range.
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

/// Reads exactly `N` ASCII digits from the front of `s`.
fn digits<const N: usize>(s: &mut &[u8]) -> Option<u16> {
    if s.len() < N || !s[..N].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = s[..N]
        .iter()
        .fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
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

impl FromStr for DateTime {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<DateTime, ValueError> {
        let malformed = || {
            ValueError::new(format!(
                "'{text}' is not a date: expected YYYYMMDDTHH:MM:SS"
            ))
        };
        let mut s = text.as_bytes();
        let year = digits::<4>(&mut s).ok_or_else(malformed)?;
        // One dash after the year means the extended form: both dashes.
        let dashes = optional(&mut s, b'-');
        let month = digits::<2>(&mut s).ok_or_else(malformed)?;
        if dashes && !optional(&mut s, b'-') {
            return Err(malformed());
        }
        let day = digits::<2>(&mut s).ok_or_else(malformed)?;
        if !optional(&mut s, b'T') {
            return Err(malformed());
        }
        let hour = digits::<2>(&mut s).ok_or_else(malformed)?;
        let colons = optional(&mut s, b':');
        let minute = digits::<2>(&mut s).ok_or_else(malformed)?;
        if colons && !optional(&mut s, b':') {
            return Err(malformed());
        }
        let second = digits::<2>(&mut s).ok_or_else(malformed)?;
        optional(&mut s, b'Z');
        if !s.is_empty() {
            return Err(malformed());
        }
        // Two-digit fields are at most 99, so they fit in u8.
        DateTime::new(
            year,
            month as u8,
            day as u8,
            hour as u8,
            minute as u8,
            second as u8,
        )
        .map_err(|e| ValueError::new(format!("'{text}' is not a date: {e}")))
    }
}

impl fmt::Display for DateTime {
    /// The basic form the spec shows: `19980717T14:08:55`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}{:02}{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<DateTime, String> {
        s.parse::<DateTime>().map_err(|e| e.to_string())
    }

    #[test]
    fn accepts_basic_extended_and_zulu_forms() {
        let expected = DateTime::new(1998, 7, 17, 14, 8, 55).unwrap();
        for s in [
            "19980717T14:08:55",
            "1998-07-17T14:08:55",
            "19980717T14:08:55Z",
            "1998-07-17T14:08:55Z",
            "19980717T140855",
        ] {
            assert_eq!(parse(s), Ok(expected), "{s}");
        }
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
            "19980717T14:08:55+01:00",
            "19980717T14:08:55.123",
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
    fn orders_chronologically() {
        let a: DateTime = "19991231T23:59:59".parse().unwrap();
        let b: DateTime = "20000101T00:00:00".parse().unwrap();
        assert!(a < b);
    }
}
