//! The `Date` header, formatted at most once per second.
//!
//! Every response carries `Date`; formatting an IMF-fixdate per request is
//! measurable at tens of thousands of requests a second. The loop is one
//! thread, so a thread-local cache needs no lock.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

thread_local! {
    static CACHE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// The current time as an HTTP-date (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn http_date_now() -> String {
    with_http_date(str::to_string)
}

/// Calls `f` with the current HTTP-date, without copying it.
pub(crate) fn with_http_date<T>(f: impl FnOnce(&str) -> T) -> T {
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.0 != second {
            *cache = (second, httpdate::fmt_http_date(now));
        }
        f(&cache.1)
    })
}

thread_local! {
    static CLF_CACHE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// Calls `f` with the current time in Common Log Format
/// (`10/Oct/2000:13:55:36 +0000`), without copying it.
pub(crate) fn with_clf_date<T>(f: impl FnOnce(&str) -> T) -> T {
    let second = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    CLF_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.0 != second {
            *cache = (second, clf_date(second));
        }
        f(&cache.1)
    })
}

/// Formats seconds since the epoch (UTC) as a CLF date.
// Our own clock, not a peer's number: days since 1970 as u64 seconds / 86400
// fit i64 with room to spare, and the civil-date arithmetic stays in range
// for any such day count.
#[allow(clippy::arithmetic_side_effects)]
fn clf_date(epoch_seconds: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = (epoch_seconds / 86_400) as i64;
    let secs = epoch_seconds % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clf_dates_match_known_instants() {
        assert_eq!(clf_date(0), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(clf_date(971_186_136), "10/Oct/2000:13:55:36 +0000");
        assert_eq!(clf_date(951_782_400), "29/Feb/2000:00:00:00 +0000");
        assert_eq!(clf_date(1_795_000_000), "18/Nov/2026:11:06:40 +0000");
    }

    #[test]
    fn date_is_an_imf_fixdate_that_parses_back() {
        let date = http_date_now();
        assert!(date.ends_with(" GMT"), "{date}");
        let parsed = httpdate::parse_http_date(&date).expect("parses");
        let skew = SystemTime::now().duration_since(parsed).unwrap_or_default();
        assert!(skew.as_secs() <= 2, "{date} is the current time");
    }
}
