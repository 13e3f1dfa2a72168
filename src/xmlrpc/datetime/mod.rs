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

use super::value::ValueError;

mod read;
mod write;

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

impl fmt::Display for DateTime {
    /// The basic form the spec shows, `19980717T14:08:55`, then the
    /// fraction and the offset if the value has them: `.123+02:00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.iso8601();
        // Only ASCII digits and `T:.+-Z` are written.
        f.write_str(std::str::from_utf8(text.as_bytes()).map_err(|_| fmt::Error)?)
    }
}

#[cfg(test)]
mod tests;
