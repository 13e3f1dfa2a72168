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
