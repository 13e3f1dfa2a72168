//! Encoder tests: exact output, escaping, doubles, options and refusals.

use std::collections::BTreeMap;

use super::*;
use crate::xmlrpc::datetime::DateTime;
use crate::xmlrpc::decode::{decode_call, decode_response, DecodeLimits};

fn response_text(value: &Value) -> String {
    let body = encode_response(value, &EncodeOptions::default()).unwrap();
    String::from_utf8(body).unwrap()
}

/// The `<value>` of a response, without the envelope.
fn value_xml(value: &Value) -> String {
    let text = response_text(value);
    let start = text.find("<param>").unwrap() + "<param>".len();
    let end = text.rfind("</param>").unwrap();
    text[start..end].to_string()
}

fn double_text(x: f64) -> String {
    let xml = value_xml(&Value::Double(x));
    xml.trim_start_matches("<value><double>")
        .trim_end_matches("</double></value>")
        .to_string()
}

fn decoded(value: &Value) -> Value {
    let body = encode_response(value, &EncodeOptions::default()).unwrap();
    decode_response(&body, &DecodeLimits::default())
        .unwrap()
        .unwrap()
}

#[test]
fn call_is_compact_with_declaration() {
    let body = encode_call(
        "system.methodHelp",
        &[Value::from("add")],
        &EncodeOptions::default(),
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "<?xml version=\"1.0\"?><methodCall><methodName>system.methodHelp</methodName>\
         <params><param><value><string>add</string></value></param></params></methodCall>"
    );
    let empty = encode_call("ping", &[], &EncodeOptions::default()).unwrap();
    assert!(empty.ends_with(b"<methodName>ping</methodName><params></params></methodCall>"));
}

#[test]
fn every_type_in_its_spec_form() {
    let mut members = BTreeMap::new();
    members.insert("a".to_string(), Value::Int(1));
    members.insert("b".to_string(), Value::Nil);
    let cases = [
        (Value::Int(-7), "<value><int>-7</int></value>"),
        (Value::I8(1 << 40), "<value><i8>1099511627776</i8></value>"),
        (Value::Bool(true), "<value><boolean>1</boolean></value>"),
        (Value::Bool(false), "<value><boolean>0</boolean></value>"),
        (Value::from("x"), "<value><string>x</string></value>"),
        (Value::from(""), "<value><string></string></value>"),
        (Value::Double(2.5), "<value><double>2.5</double></value>"),
        (
            Value::DateTime(DateTime::new(1998, 7, 17, 14, 8, 55).unwrap()),
            "<value><dateTime.iso8601>19980717T14:08:55</dateTime.iso8601></value>",
        ),
        (
            Value::Base64(b"hello world".to_vec()),
            "<value><base64>aGVsbG8gd29ybGQ=</base64></value>",
        ),
        (Value::Base64(vec![]), "<value><base64></base64></value>"),
        (
            Value::Struct(members),
            "<value><struct><member><name>a</name><value><int>1</int></value></member>\
             <member><name>b</name><value><nil/></value></member></struct></value>",
        ),
        (
            Value::Struct(BTreeMap::new()),
            "<value><struct></struct></value>",
        ),
        (
            Value::from(vec![Value::Int(1), Value::from("2")]),
            "<value><array><data><value><int>1</int></value>\
             <value><string>2</string></value></data></array></value>",
        ),
        (
            Value::Array(vec![]),
            "<value><array><data></data></array></value>",
        ),
        (Value::Nil, "<value><nil/></value>"),
    ];
    for (value, xml) in cases {
        assert_eq!(value_xml(&value), xml);
        assert_eq!(decoded(&value), value, "{xml}");
    }
}

#[test]
fn text_is_escaped_and_cr_survives() {
    assert_eq!(
        value_xml(&Value::from("a<b>&c]]>\r\n\t\"'")),
        "<value><string>a&lt;b&gt;&amp;c]]&gt;&#13;\n\t\"'</string></value>"
    );
    let tricky = Value::from("x\r\ny\rz &amp; <![CDATA[ ]]> ☃ 𝄞 \u{7f}\u{85}");
    assert_eq!(decoded(&tricky), tricky);
    let mut members = BTreeMap::new();
    members.insert("<&>".to_string(), Value::Int(1));
    assert!(value_xml(&Value::Struct(members)).contains("<name>&lt;&amp;&gt;</name>"));
}

#[test]
fn characters_xml_cannot_carry_are_refused() {
    for c in [
        '\0', '\u{1}', '\u{8}', '\u{b}', '\u{c}', '\u{1f}', '\u{fffe}', '\u{ffff}',
    ] {
        let err =
            encode_response(&Value::from(format!("a{c}b")), &EncodeOptions::default()).unwrap_err();
        assert_eq!(err, EncodeError::InvalidXmlChar(c));
        assert!(err.to_string().contains("XML 1.0 does not allow it"));
    }
    let mut members = BTreeMap::new();
    members.insert("\u{0}".to_string(), Value::Int(1));
    assert_eq!(
        encode_response(&Value::Struct(members), &EncodeOptions::default()),
        Err(EncodeError::InvalidXmlChar('\0'))
    );
    // The neighbours that are allowed.
    for c in [
        '\t',
        '\n',
        '\r',
        ' ',
        '\u{fffd}',
        '\u{10000}',
        '\u{10ffff}',
        '\u{e000}',
    ] {
        let v = Value::from(format!("a{c}b"));
        assert_eq!(decoded(&v), v, "U+{:04X}", c as u32);
    }
}

#[test]
fn doubles_are_plain_decimal_and_exact() {
    assert_eq!(double_text(0.1), "0.1");
    assert_eq!(double_text(2.0), "2.0");
    assert_eq!(double_text(-0.0), "-0.0");
    assert_eq!(double_text(0.0), "0.0");
    assert_eq!(double_text(123456789.125), "123456789.125");
    assert_eq!(double_text(-1.5e-5), "-0.000015");
    assert_eq!(double_text(1e21), format!("1{}.0", "0".repeat(21)));
    assert_eq!(double_text(1e300), format!("1{}.0", "0".repeat(300)));
    assert_eq!(double_text(1e-300), format!("0.{}1", "0".repeat(299)));
    for x in [
        0.1,
        1.0 / 3.0,
        1e300,
        1e-300,
        f64::MAX,
        f64::MIN_POSITIVE,
        5e-324,
        -123456789.125,
    ] {
        let text = double_text(x);
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-'),
            "{text}"
        );
        assert_eq!(
            text.parse::<f64>().unwrap().to_bits(),
            x.to_bits(),
            "{text}"
        );
    }
    let Value::Double(neg_zero) = decoded(&Value::Double(-0.0)) else {
        panic!("not a double")
    };
    assert!(neg_zero == 0.0 && neg_zero.is_sign_negative());
}

#[test]
fn nan_and_infinity_cannot_be_encoded() {
    for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let err = encode_response(&Value::Double(x), &EncodeOptions::default()).unwrap_err();
        assert!(matches!(err, EncodeError::NonFiniteDouble(_)));
        assert!(err.to_string().contains("XML-RPC has no NaN or infinity"));
        let fault = Fault::from(err);
        assert_eq!(fault.code, Fault::INTERNAL_ERROR);
    }
}

#[test]
fn options_turn_extensions_off() {
    let plain = EncodeOptions {
        nil: false,
        i8: false,
    };
    assert_eq!(
        encode_response(&Value::Nil, &plain),
        Err(EncodeError::NilNotAllowed)
    );
    let deep_nil = Value::from(vec![Value::Int(1), Value::Nil]);
    assert_eq!(
        encode_response(&deep_nil, &plain),
        Err(EncodeError::NilNotAllowed)
    );
    let small = encode_response(&Value::I8(-5), &plain).unwrap();
    assert!(String::from_utf8(small)
        .unwrap()
        .contains("<value><int>-5</int></value>"));
    assert_eq!(
        encode_response(&Value::I8(1 << 31), &plain),
        Err(EncodeError::I8NotAllowed(1 << 31))
    );
    assert!(encode_response(&Value::I8(1 << 31), &EncodeOptions::default()).is_ok());
}

#[test]
fn method_names_follow_the_spec() {
    for name in ["add", "system.listMethods", "a_b:c/d", "X9"] {
        assert!(
            encode_call(name, &[], &EncodeOptions::default()).is_ok(),
            "{name}"
        );
    }
    for name in ["", "a b", "a<b", "añ", "a-b", "a\n"] {
        let err = encode_call(name, &[], &EncodeOptions::default()).unwrap_err();
        assert_eq!(err, EncodeError::InvalidMethodName(name.to_string()));
    }
}

#[test]
fn calls_round_trip_through_the_decoder() {
    let params = vec![
        Value::Int(40),
        Value::from("two & <three>"),
        Value::from(vec![Value::Nil, Value::Double(-0.5)]),
    ];
    let body = encode_call("math.add", &params, &EncodeOptions::default()).unwrap();
    let call = decode_call(&body, &DecodeLimits::default()).unwrap();
    assert_eq!(call.method, "math.add");
    assert_eq!(call.params, params);
}

#[test]
fn faults_always_encode() {
    let body = encode_fault(&Fault::new(-32601, "no method 'x<y>'\u{0}!"));
    let text = String::from_utf8(body.clone()).unwrap();
    assert_eq!(
        text,
        "<?xml version=\"1.0\"?><methodResponse><fault><value><struct>\
         <member><name>faultCode</name><value><int>-32601</int></value></member>\
         <member><name>faultString</name><value><string>no method 'x&lt;y&gt;'\u{FFFD}!\
         </string></value></member></struct></value></fault></methodResponse>"
    );
    let decoded = decode_response(&body, &DecodeLimits::default()).unwrap();
    assert_eq!(
        decoded,
        Err(Fault::new(-32601, "no method 'x<y>'\u{FFFD}!"))
    );
}

#[test]
fn encode_errors_become_internal_error_faults() {
    let fault = Fault::from(EncodeError::NilNotAllowed);
    assert_eq!(fault.code, Fault::INTERNAL_ERROR);
    assert_eq!(fault.message, "cannot encode nil: the nil extension is off");
}

#[test]
fn a_large_document_is_written_into_one_buffer_of_its_size() {
    let big = "a".repeat(1 << 20);
    let values = [
        Value::String(big.clone()),
        Value::Base64(vec![7; 1 << 20]),
        Value::Array(vec![Value::String(big.clone()), Value::Int(1)]),
        Value::Struct(BTreeMap::from([("text".to_string(), Value::String(big))])),
    ];
    for value in &values {
        for body in [
            encode_response(value, &EncodeOptions::default()).unwrap(),
            encode_call(
                "echo",
                std::slice::from_ref(value),
                &EncodeOptions::default(),
            )
            .unwrap(),
        ] {
            // Grown by doubling it would be up to twice the length.
            let spare = body.capacity() - body.len();
            assert!(spare < 512, "{} spare bytes for {}", spare, body.len());
        }
    }
}

/// What the encoder wrote before zmij: `Display`'s digits, `.0` added to
/// integral values.
fn display_double(x: f64) -> String {
    let text = format!("{x}");
    if text.contains('.') {
        text
    } else {
        text + ".0"
    }
}

#[test]
fn doubles_print_as_display_did_at_the_edges_of_zmij_fixed_range() {
    // zmij switches to an exponent below 1e-5 and from 1e16; the encoder
    // turns those back into plain decimal.
    for x in [
        1e-5,
        9.999999999999999e-6,
        1.5e-7,
        -1.2345e-10,
        1e15,
        9.999999999999998e15,
        1e16,
        1.2345678901234567e16,
        12345678901234567e4,
        1.7976931348623157e308,
        5e-324,
        2.2250738585072014e-308,
        -1e22,
    ] {
        assert_eq!(double_text(x), display_double(x), "{x:e}");
    }
    // Ties (…354.625 is exactly halfway between two 17-digit candidates):
    // zmij rounds to even, Display up; the encoder keeps Display's.
    for x in [
        -1_484_436_213_234_837.0 / 8.0,
        3_737_425_668_880_777.0 / 4.0,
        8_532_581_009_466_789.0 / 4.0,
    ] {
        assert_ne!(zmij::Buffer::new().format_finite(x), format!("{x}"));
        assert_eq!(double_text(x), display_double(x), "{x:e}");
    }
}

/// Ints and dateTimes as `Display` writes them, now without `core::fmt`.
#[test]
fn ints_and_datetimes_print_as_display_does() {
    for n in [0, 7, -7, i32::MIN, i32::MAX, 1_000_000] {
        assert_eq!(
            value_xml(&Value::Int(n)),
            format!("<value><int>{n}</int></value>")
        );
    }
    for n in [0, -1, i64::MIN, i64::MAX, 1 << 40] {
        assert_eq!(
            value_xml(&Value::I8(n)),
            format!("<value><i8>{n}</i8></value>")
        );
    }
    let base = DateTime::new(7, 1, 2, 3, 4, 5).unwrap();
    let zoned = [
        base,
        base.with_offset(0).unwrap(),
        base.with_offset(-330).unwrap(),
        base.with_offset(23 * 60 + 59).unwrap(),
        base.with_nanosecond(5).unwrap().with_offset(61).unwrap(),
        base.with_nanosecond(123_000_000).unwrap(),
        DateTime::new(9999, 12, 31, 23, 59, 59).unwrap(),
    ];
    let expected = [
        "00070102T03:04:05",
        "00070102T03:04:05Z",
        "00070102T03:04:05-05:30",
        "00070102T03:04:05+23:59",
        "00070102T03:04:05.000000005+01:01",
        "00070102T03:04:05.123",
        "99991231T23:59:59",
    ];
    for (dt, text) in zoned.iter().zip(expected) {
        assert_eq!(dt.to_string(), text);
        assert_eq!(
            value_xml(&Value::DateTime(*dt)),
            format!("<value><dateTime.iso8601>{text}</dateTime.iso8601></value>")
        );
    }
}

proptest::proptest! {
    /// Every finite double prints exactly as `Display` printed it: any bit
    /// pattern (mostly far outside zmij's fixed range) and everyday values.
    #[test]
    fn doubles_print_as_display_did(
        bits in proptest::prelude::any::<u64>(),
        cents in -10_000_000_000i64..10_000_000_000,
        scale in -30i32..30,
    ) {
        for x in [f64::from_bits(bits), cents as f64 / 100.0, cents as f64 * 10f64.powi(scale)] {
            if x.is_finite() {
                proptest::prop_assert_eq!(double_text(x), display_double(x), "{:e}", x);
            }
        }
    }
}

proptest::proptest! {
    /// `<base64>` is written with base64-simd: the same text as the base64
    /// crate's STANDARD engine wrote, at every length around its blocks.
    #[test]
    fn base64_is_written_as_the_base64_crate_wrote_it(
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
    ) {
        use base64::Engine as _;
        let expected = base64::engine::general_purpose::STANDARD.encode(&bytes);
        proptest::prop_assert_eq!(
            value_xml(&Value::Base64(bytes)),
            format!("<value><base64>{expected}</base64></value>")
        );
    }
}
