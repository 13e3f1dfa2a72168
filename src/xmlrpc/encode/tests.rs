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
