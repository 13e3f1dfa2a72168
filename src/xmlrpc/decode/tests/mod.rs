//! Decoder tests: real clients' documents, every acceptance rule, and
//! responses; every refusal with its fault code is in `refusals.rs`.

use std::time::{Duration, Instant};

use super::*;
use crate::xmlrpc::datetime::DateTime;

/// Decodes, checking on the way that the answer is xml-rs's alone and
/// that the fast reader, where it accepts the document, agrees.
#[track_caller]
fn call(body: &str) -> Result<MethodCall, Fault> {
    let limits = DecodeLimits::default();
    let decoded = decode_call(body.as_bytes(), &limits);
    assert_eq!(decoded, decode_call_reference(body.as_bytes(), &limits));
    if let Some(fast) = decode_call_fast_only(body.as_bytes(), &limits) {
        assert_eq!(Ok(fast), decoded, "the fast reader disagrees on {body:?}");
    }
    decoded
}

#[track_caller]
fn response(body: &str) -> Result<Result<Value, Fault>, Fault> {
    let limits = DecodeLimits::default();
    let decoded = decode_response(body.as_bytes(), &limits);
    assert_eq!(decoded, decode_response_reference(body.as_bytes(), &limits));
    if let Some(fast) = decode_response_fast_only(body.as_bytes(), &limits) {
        assert_eq!(Ok(fast), decoded, "the fast reader disagrees on {body:?}");
    }
    decoded
}

/// Decodes `xml` (what goes inside `<param>`) as the only parameter of a
/// call.
fn param(xml: &str) -> Result<Value, Fault> {
    let body = format!(
        "<methodCall><methodName>m</methodName><params><param>{xml}</param></params></methodCall>"
    );
    let mut call = call(&body)?;
    assert_eq!(call.params.len(), 1, "{body}");
    Ok(call.params.remove(0))
}

fn string(s: &str) -> Value {
    Value::String(s.to_string())
}

fn members(pairs: &[(&str, Value)]) -> Value {
    Value::Struct(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

/// Asserts `result` is a fault with `code` whose message contains `needle`.
#[track_caller]
fn assert_fault<T: fmt::Debug>(result: Result<T, Fault>, code: i32, needle: &str) {
    match result {
        Ok(v) => panic!("expected fault {code} ({needle}), decoded {v:?}"),
        Err(fault) => {
            assert_eq!(fault.code, code, "{fault}");
            assert!(
                fault.message.contains(needle),
                "{fault} does not mention {needle:?}"
            );
        }
    }
}

// ---- Documents from Python's xmlrpc.client, verbatim ----

/// `xmlrpc.client.dumps((40, 2), "add")` (Python 3.11): the benchmark call.
const PY_ADD: &str = "<?xml version='1.0'?>\n<methodCall>\n<methodName>add</methodName>\n\
<params>\n<param>\n<value><int>40</int></value>\n</param>\n<param>\n<value><int>2</int></value>\n\
</param>\n</params>\n</methodCall>\n";

#[test]
fn decodes_python_add_call() {
    let c = call(PY_ADD).unwrap();
    assert_eq!(c.method, "add");
    assert_eq!(c.params, vec![Value::Int(40), Value::Int(2)]);
    assert_eq!(c.to_string(), "add(40, 2)");
}

#[test]
fn decodes_python_nil_bytes_and_datetime() {
    // dumps((None, b"\x00\x01binary\xff"*10, datetime(1998,7,17,14,8,55)),
    //       "echo", allow_none=True): base64 wrapped at 76 columns.
    let body = "<?xml version='1.0'?>\n<methodCall>\n<methodName>echo</methodName>\n<params>\n\
<param>\n<value><nil/></value></param>\n<param>\n<value><base64>\n\
AAFiaW5hcnn/AAFiaW5hcnn/AAFiaW5hcnn/AAFiaW5hcnn/AAFiaW5hcnn/AAFiaW5hcnn/AAFi\n\
aW5hcnn/AAFiaW5hcnn/AAFiaW5hcnn/AAFiaW5hcnn/\n</base64></value>\n</param>\n<param>\n\
<value><dateTime.iso8601>19980717T14:08:55</dateTime.iso8601></value>\n</param>\n\
</params>\n</methodCall>\n";
    let c = call(body).unwrap();
    assert_eq!(c.method, "echo");
    assert_eq!(
        c.params,
        vec![
            Value::Nil,
            Value::Base64(b"\x00\x01binary\xff".repeat(10)),
            Value::DateTime(DateTime::new(1998, 7, 17, 14, 8, 55).unwrap()),
        ]
    );
}

/// Dates with an offset or a fraction, as Python's `xmlrpc.client.DateTime`
/// (which sends whatever string it was given), xmlrpc-c (`±hhmm`, `±hh`,
/// fractions) and PHP (`Z`, `±hh:mm`, `±hhmm`) send them: both readers
/// keep what came, and we send it back in one spelling.
#[test]
fn decodes_dates_with_offsets_and_fractions() {
    for (text, kept) in [
        ("20261201T12:00:00+02:00", "20261201T12:00:00+02:00"),
        ("20261201T12:00:00.123", "20261201T12:00:00.123"),
        (
            "2026-12-01T12:00:00.123456-05:30",
            "20261201T12:00:00.123456-05:30",
        ),
        ("20261201T12:00:00+0200", "20261201T12:00:00+02:00"),
        ("20010909T00:46:40-01", "20010909T00:46:40-01:00"),
        ("20261201T12:00:00Z", "20261201T12:00:00Z"),
        ("20261201t12:00:00z", "20261201T12:00:00Z"),
    ] {
        for xml in [
            format!("<value><dateTime.iso8601>{text}</dateTime.iso8601></value>"),
            format!("<value><dateTime.iso8601>\n {text}\t</dateTime.iso8601></value>"),
        ] {
            let body = format!(
                "<methodCall><methodName>m</methodName><params><param>{xml}</param></params></methodCall>"
            );
            // Our subset of XML: the fast reader must take it, not bail.
            assert!(
                decode_call_fast_only(body.as_bytes(), &DecodeLimits::default()).is_some(),
                "{body}"
            );
            match param(&xml) {
                Ok(Value::DateTime(dt)) => assert_eq!(dt.to_string(), kept, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}

#[test]
fn decodes_python_nested_struct_with_unicode() {
    // dumps(({"name": "Ünïcödé ☃ 𝄞", "nested": {"list": [1, 2.5, True,
    //        "a<b&c>\r\n"], "empty": {}}, "neg": -0.0, "tiny": 1e-300,
    //        "huge": 1e300},), "store")
    let body = "<?xml version='1.0'?>\n<methodCall>\n<methodName>store</methodName>\n<params>\n\
<param>\n<value><struct>\n<member>\n<name>name</name>\n<value><string>Ünïcödé ☃ 𝄞</string>\
</value>\n</member>\n<member>\n<name>nested</name>\n<value><struct>\n<member>\n<name>list</name>\n\
<value><array><data>\n<value><int>1</int></value>\n<value><double>2.5</double></value>\n\
<value><boolean>1</boolean></value>\n<value><string>a&lt;b&amp;c&gt;\r\n</string></value>\n\
</data></array></value>\n</member>\n<member>\n<name>empty</name>\n<value><struct>\n</struct>\
</value>\n</member>\n</struct></value>\n</member>\n<member>\n<name>neg</name>\n\
<value><double>-0.0</double></value>\n</member>\n<member>\n<name>tiny</name>\n\
<value><double>1e-300</double></value>\n</member>\n<member>\n<name>huge</name>\n\
<value><double>1e+300</double></value>\n</member>\n</struct></value>\n</param>\n</params>\n\
</methodCall>\n";
    let c = call(body).unwrap();
    let expected = members(&[
        ("name", string("Ünïcödé ☃ 𝄞")),
        (
            "nested",
            members(&[
                (
                    "list",
                    Value::Array(vec![
                        Value::Int(1),
                        Value::Double(2.5),
                        Value::Bool(true),
                        // Python sent a raw CR, which XML reads as LF.
                        string("a<b&c>\n"),
                    ]),
                ),
                ("empty", members(&[])),
            ]),
        ),
        ("neg", Value::Double(-0.0)),
        ("tiny", Value::Double(1e-300)),
        ("huge", Value::Double(1e300)),
    ]);
    assert_eq!(c.params, vec![expected]);
    let Value::Struct(m) = &c.params[0] else {
        unreachable!()
    };
    let Value::Double(neg) = m["neg"] else {
        unreachable!()
    };
    assert!(neg.is_sign_negative());
}

#[test]
fn decodes_python_multicall_with_empty_array_and_string() {
    // dumps(([], ""), "system.multicall")
    let body = "<?xml version='1.0'?>\n<methodCall>\n<methodName>system.multicall</methodName>\n\
<params>\n<param>\n<value><array><data>\n</data></array></value>\n</param>\n<param>\n\
<value><string></string></value>\n</param>\n</params>\n</methodCall>\n";
    let c = call(body).unwrap();
    assert_eq!(c.params, vec![Value::Array(vec![]), string("")]);
}

#[test]
fn decodes_python_call_without_params() {
    // dumps((), "system.listMethods")
    let body = "<?xml version='1.0'?>\n<methodCall>\n<methodName>system.listMethods</methodName>\n\
<params>\n</params>\n</methodCall>\n";
    assert_eq!(call(body).unwrap().params, vec![]);
}

#[test]
fn decodes_python_latin1_call() {
    // dumps(("Ünï",), "u", encoding="iso-8859-1"), encoded as Python's
    // Transport does.
    let body = b"<?xml version='1.0' encoding='iso-8859-1'?>\n<methodCall>\n\
<methodName>u</methodName>\n<params>\n<param>\n<value><string>\xdcn\xef</string></value>\n\
</param>\n</params>\n</methodCall>\n";
    let c = decode_call(body, &DecodeLimits::default()).unwrap();
    assert_eq!(c.params, vec![string("Ünï")]);
}

#[test]
fn decodes_python_response_and_fault() {
    // dumps((42,), methodresponse=True)
    let ok = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n\
<value><int>42</int></value>\n</param>\n</params>\n</methodResponse>\n";
    assert_eq!(response(ok), Ok(Ok(Value::Int(42))));
    // dumps(Fault(4, "Too many parameters."), methodresponse=True)
    let fault = "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n<member>\n\
<name>faultCode</name>\n<value><int>4</int></value>\n</member>\n<member>\n\
<name>faultString</name>\n<value><string>Too many parameters.</string></value>\n</member>\n\
</struct></value>\n</fault>\n</methodResponse>\n";
    assert_eq!(
        response(fault),
        Ok(Err(Fault::new(4, "Too many parameters.")))
    );
}

// ---- Acceptance rules ----

#[test]
fn untyped_value_is_a_string_whitespace_and_all() {
    assert_eq!(param("<value>abc</value>"), Ok(string("abc")));
    assert_eq!(param("<value>  a b\n</value>"), Ok(string("  a b\n")));
    assert_eq!(param("<value>   </value>"), Ok(string("   ")));
    assert_eq!(param("<value></value>"), Ok(string("")));
    assert_eq!(param("<value/>"), Ok(string("")));
}

#[test]
fn string_keeps_whitespace_and_empty_forms_are_empty() {
    assert_eq!(param("<value><string/></value>"), Ok(string("")));
    assert_eq!(param("<value><string></string></value>"), Ok(string("")));
    assert_eq!(
        param("<value><string>  </string></value>"),
        Ok(string("  "))
    );
    assert_eq!(
        param("<value><string>\n\tx\n</string></value>"),
        Ok(string("\n\tx\n"))
    );
}

#[test]
fn whitespace_between_elements_is_not_data() {
    let body =
        "\r\n<?xml version=\"1.0\"?>\r\n<methodCall>\r\n\t<methodName> add </methodName>\r\n\
\t<params>\r\n\t\t<param>\r\n\t\t\t<value>\r\n\t\t\t\t<i4>40</i4>\r\n\t\t\t</value>\r\n\
\t\t</param>\r\n\t\t<param> <value> <struct> <member> <name>k</name> <value> <array> <data> \
<value> <int>2</int> </value> </data> </array> </value> </member> </struct> </value> </param>\r\n\
\t</params>\r\n</methodCall>\r\n\r\n";
    let c = call(body).unwrap();
    assert_eq!(c.method, "add");
    assert_eq!(
        c.params,
        vec![
            Value::Int(40),
            members(&[("k", Value::Array(vec![Value::Int(2)]))])
        ]
    );
}

#[test]
fn params_may_be_absent() {
    let c = call("<methodCall><methodName>ping</methodName></methodCall>").unwrap();
    assert_eq!(c.method, "ping");
    assert!(c.params.is_empty());
    assert!(
        call("<methodCall><methodName>p</methodName><params/></methodCall>")
            .unwrap()
            .params
            .is_empty()
    );
}

#[test]
fn method_name_is_trimmed_and_must_not_be_empty() {
    let c = call("<methodCall><methodName>\n  a.b  \n</methodName></methodCall>").unwrap();
    assert_eq!(c.method, "a.b");
    assert_fault(
        call("<methodCall><methodName> </methodName></methodCall>"),
        Fault::INVALID_XMLRPC,
        "<methodName> is empty",
    );
    assert_fault(
        call("<methodCall><params/></methodCall>"),
        Fault::INVALID_XMLRPC,
        "expected <methodName> in <methodCall>, found <params>",
    );
}

#[test]
fn integers_in_all_their_spellings() {
    assert_eq!(param("<value><int>40</int></value>"), Ok(Value::Int(40)));
    assert_eq!(param("<value><i4>-40</i4></value>"), Ok(Value::Int(-40)));
    assert_eq!(param("<value><int>+7</int></value>"), Ok(Value::Int(7)));
    assert_eq!(param("<value><int> 7\n</int></value>"), Ok(Value::Int(7)));
    assert_eq!(
        param("<value><int>-2147483648</int></value>"),
        Ok(Value::Int(i32::MIN))
    );
    assert_eq!(
        param("<value><i8>9223372036854775807</i8></value>"),
        Ok(Value::I8(i64::MAX))
    );
    assert_eq!(
        param("<value><i8>-9223372036854775808</i8></value>"),
        Ok(Value::I8(i64::MIN))
    );
}

#[test]
fn extension_types_with_and_without_the_ex_prefix() {
    assert_eq!(param("<value><nil/></value>"), Ok(Value::Nil));
    assert_eq!(param("<value><nil></nil></value>"), Ok(Value::Nil));
    assert_eq!(param("<value><i8>5</i8></value>"), Ok(Value::I8(5)));
    // Undeclared `ex:`, as some clients send it.
    assert_eq!(param("<value><ex:nil/></value>"), Ok(Value::Nil));
    assert_eq!(param("<value><ex:i8>5</ex:i8></value>"), Ok(Value::I8(5)));
    // Declared, Apache-style, on the root.
    let apache = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><methodResponse \
        xmlns:ex=\"http://ws.apache.org/xmlrpc/namespaces/extensions\"><params><param>\
        <value><ex:nil/></value></param></params></methodResponse>";
    assert_eq!(response(apache), Ok(Ok(Value::Nil)));
    // Any prefix bound to Apache's namespace.
    assert_eq!(
        param(
            "<value><a:i8 xmlns:a=\"http://ws.apache.org/xmlrpc/namespaces/extensions\">1</a:i8>\
             </value>"
        ),
        Ok(Value::I8(1))
    );
    // Unprefixed names are ours whatever the default namespace.
    let c = call("<methodCall xmlns=\"urn:x\"><methodName>m</methodName></methodCall>").unwrap();
    assert_eq!(c.method, "m");
}

#[test]
fn doubles_with_exponents_and_signs() {
    for (text, x) in [
        ("2.5", 2.5),
        ("+1.5", 1.5),
        ("-.5", -0.5),
        ("5.", 5.0),
        ("1e5", 1e5),
        ("1E-3", 1e-3),
        ("1e+300", 1e300),
        (" 3 ", 3.0),
        ("0.1", 0.1),
    ] {
        let xml = format!("<value><double>{text}</double></value>");
        assert_eq!(param(&xml), Ok(Value::Double(x)), "{text}");
    }
}

#[test]
fn base64_wrapped_unpadded_or_empty() {
    assert_eq!(
        param("<value><base64>aGVs\r\n  bG8g\n d29y bGQ=</base64></value>"),
        Ok(Value::Base64(b"hello world".to_vec()))
    );
    assert_eq!(
        param("<value><base64>aGk</base64></value>"),
        Ok(Value::Base64(b"hi".to_vec()))
    );
    assert_eq!(
        param("<value><base64></base64></value>"),
        Ok(Value::Base64(vec![]))
    );
    assert_eq!(param("<value><base64/></value>"), Ok(Value::Base64(vec![])));
}

#[test]
fn booleans_as_digits_or_words() {
    for (text, b) in [
        ("1", true),
        ("0", false),
        (" 1 ", true),
        ("true", true),
        ("False", false),
    ] {
        let xml = format!("<value><boolean>{text}</boolean></value>");
        assert_eq!(param(&xml), Ok(Value::Bool(b)), "{text}");
    }
}

#[test]
fn dates_basic_extended_or_zulu() {
    let plain = DateTime::new(1998, 7, 17, 14, 8, 55).unwrap();
    let utc = plain.with_offset(0).unwrap();
    for (text, dt) in [
        ("19980717T14:08:55", plain),
        ("1998-07-17T14:08:55", plain),
        (" 19980717T14:08:55\n", plain),
        ("19980717T14:08:55Z", utc),
        ("1998-07-17T14:08:55+00:00", utc),
    ] {
        let xml = format!("<value><dateTime.iso8601>{text}</dateTime.iso8601></value>");
        assert_eq!(param(&xml), Ok(Value::DateTime(dt)), "{text}");
    }
}

#[test]
fn cdata_comments_and_references_are_text() {
    assert_eq!(
        param("<value><string>a<![CDATA[<b>&]]>c</string></value>"),
        Ok(string("a<b>&c"))
    );
    assert_eq!(
        param("<value><!-- note --><int>1</int><!-- note --></value>"),
        Ok(Value::Int(1))
    );
    assert_eq!(
        param("<value><string>a<!-- x -->b</string></value>"),
        Ok(string("ab"))
    );
    assert_eq!(
        param("<value>&lt;&gt;&amp;&apos;&quot;&#65;&#x42;&#13;</value>"),
        Ok(string("<>&'\"AB\r"))
    );
}

#[test]
fn repeated_member_names_keep_the_last() {
    let xml = "<value><struct><member><name>a</name><value><int>1</int></value></member>\
               <member><name>a</name><value><int>2</int></value></member></struct></value>";
    assert_eq!(param(xml), Ok(members(&[("a", Value::Int(2))])));
}

#[test]
fn member_names_are_text_and_may_be_empty() {
    let xml = "<value><struct><member><name></name><value>x</value></member>\
               <member><name> sp </name><value/></member></struct></value>";
    assert_eq!(
        param(xml),
        Ok(members(&[("", string("x")), (" sp ", string(""))]))
    );
}

#[test]
fn declaration_is_optional_and_its_encoding_label_is_not_trusted() {
    let body = "<methodCall><methodName>é</methodName></methodCall>";
    assert_eq!(call(body).unwrap().method, "é");
    for label in ["ISO-8859-1", "utf-16", "bogus", "ascii", "UTF-8"] {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"{label}\"?>\
             <methodCall><methodName>é</methodName></methodCall>"
        );
        assert_eq!(call(&body).unwrap().method, "é", "{label}");
    }
    // With a UTF-8 byte order mark.
    let body = "\u{FEFF}<?xml version=\"1.0\"?><methodCall><methodName>m</methodName></methodCall>";
    assert_eq!(call(body).unwrap().method, "m");
}

#[test]
fn attributes_and_processing_instructions_are_ignored() {
    let body = "<?xml version=\"1.0\"?><?app data?><methodCall id=\"1\"><methodName>m\
        </methodName><params><param><value type=\"x\"><int>1</int></value></param></params>\
        </methodCall>";
    assert_eq!(call(body).unwrap().params, vec![Value::Int(1)]);
}

#[test]
fn line_ending_normalization_and_escaped_cr() {
    assert_eq!(param("<value>a\r\nb\rc</value>"), Ok(string("a\nb\nc")));
    assert_eq!(param("<value>a&#13;\nb</value>"), Ok(string("a\r\nb")));
}

#[test]
fn depth_up_to_the_limit_is_fine() {
    let limits = DecodeLimits::default();
    let depth = limits.max_depth;
    let xml = format!(
        "<value>{}<int>1</int>{}</value>",
        "<array><data><value>".repeat(depth),
        "</value></data></array>".repeat(depth)
    );
    let mut v = param(&xml).unwrap();
    for _ in 0..depth {
        let Value::Array(mut items) = v else {
            panic!("not an array")
        };
        v = items.remove(0);
    }
    assert_eq!(v, Value::Int(1));
}

// ---- Responses ----

#[test]
fn response_has_exactly_one_param() {
    assert_fault(
        response(
            "<methodResponse><params><param><value/></param><param><value/></param>\
                  </params></methodResponse>",
        ),
        Fault::INVALID_XMLRPC,
        "exactly one <param>",
    );
    assert_fault(
        response("<methodResponse><params></params></methodResponse>"),
        Fault::INVALID_XMLRPC,
        "expected <param> in <params>, found </params>",
    );
    assert_fault(
        response("<methodResponse></methodResponse>"),
        Fault::INVALID_XMLRPC,
        "expected <params> or <fault> in <methodResponse>",
    );
    assert_fault(
        response("<methodCall><methodName>m</methodName></methodCall>"),
        Fault::INVALID_XMLRPC,
        "expected <methodResponse> in the document",
    );
}

#[test]
fn fault_structs_are_read_liberally() {
    let fault = |inner: &str| {
        response(&format!(
            "<methodResponse><fault><value><struct>{inner}</struct></value></fault></methodResponse>"
        ))
    };
    let code = |v: &str| format!("<member><name>faultCode</name><value>{v}</value></member>");
    let text = |v: &str| format!("<member><name>faultString</name><value>{v}</value></member>");
    assert_eq!(
        fault(&(code("<i4>-32601</i4>") + &text("no such method"))),
        Ok(Err(Fault::method_not_found("no such method")))
    );
    assert_eq!(
        fault(&(code("<i8>7</i8>") + &text("<int>3</int>"))),
        Ok(Err(Fault::new(7, "3")))
    );
    assert_eq!(fault(&code("<int>1</int>")), Ok(Err(Fault::new(1, ""))));
    assert_fault(
        fault(&text("x")),
        Fault::INVALID_XMLRPC,
        "the <fault> struct has no faultCode",
    );
    assert_fault(
        fault(&code("<string>x</string>")),
        Fault::INVALID_XMLRPC,
        "faultCode: expected int, found string 'x'",
    );
    assert_fault(
        response("<methodResponse><fault><value><int>1</int></value></fault></methodResponse>"),
        Fault::INVALID_XMLRPC,
        "a <fault> holds a struct, found int",
    );
}

#[test]
fn namespace_declaration_floods_are_refused_at_once() {
    let declarations: String = (0..4000)
        .map(|i| format!(" xmlns:n{i}=\"urn:{i}\""))
        .collect();
    let body = format!(
        "<methodCall{declarations}><methodName>m</methodName><params>{}</params></methodCall>",
        "<param><value><int>1</int></value></param>".repeat(2000)
    );
    let started = std::time::Instant::now();
    assert_fault(
        decode_call(body.as_bytes(), &DecodeLimits::default()),
        Fault::PARSE_ERROR,
        "namespace",
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "refused quickly"
    );
}

#[test]
fn element_counts_beyond_the_limit_are_refused() {
    let limits = DecodeLimits {
        max_elements: 50,
        ..DecodeLimits::default()
    };
    let body = |n: usize| {
        format!(
            "<methodCall><methodName>m</methodName><params><param><value><array><data>{}</data></array></value></param></params></methodCall>",
            "<value/>".repeat(n)
        )
    };
    // methodCall, methodName, params, param, value, array, data: 7, plus n.
    assert!(decode_call(body(43).as_bytes(), &limits).is_ok());
    assert_fault(
        decode_call(body(44).as_bytes(), &limits),
        Fault::PARSE_ERROR,
        "too many elements",
    );
    // The fast reader's refusal is the one xml-rs gives, not redone by it.
    let over = body(10_000);
    assert_eq!(
        decode_call(over.as_bytes(), &limits).unwrap_err(),
        decode_call_reference(over.as_bytes(), &limits).unwrap_err()
    );
}

mod refusals;
