//! Every refusal of the decoder, with its fault code: not well-formed
//! (-32700), encodings (-32701, -32702), and well-formed XML that is not
//! XML-RPC (-32600).

use super::*;

// ---- Refusals: not well-formed, -32700 ----

#[test]
fn malformed_xml_is_a_parse_error() {
    for body in [
        "",
        "   ",
        "not xml",
        "<methodCall><methodName>m</methodName>",
        "<methodCall><methodName>m</methodCall>",
        "<methodCall><methodName>m</methodName></methodCall",
        "<methodCall><methodName a=>m</methodName></methodCall>",
        "<methodCall><methodName>&bogus;</methodName></methodCall>",
        "<methodCall><methodName>&#0;</methodName></methodCall>",
        // Character references are digits only: no sign, which Rust's
        // integer parsing would take (`&#x+41;` as 'A').
        "<methodCall><methodName>&#x+41;</methodName></methodCall>",
        "<methodCall><methodName>&#+65;</methodName></methodCall>",
        "<methodCall><methodName>&#x-41;</methodName></methodCall>",
        "<methodCall><methodName>m</methodName><params><param><value>&#x+41;</value></param></params></methodCall>",
        "<methodCall><methodName>\u{1}</methodName></methodCall>",
        "<methodCall><methodName>m</methodName><params><param><value><string><![CDATA[x</string>",
    ] {
        let fault = call(body).expect_err(body);
        assert_eq!(fault.code, Fault::PARSE_ERROR, "{body}: {fault}");
        assert!(
            fault.message.starts_with("XML is not well-formed:"),
            "{body}: {fault}"
        );
    }
}

#[test]
fn trailing_garbage_after_the_root_is_refused() {
    let ok = "<methodCall><methodName>m</methodName></methodCall>";
    assert!(call(&format!("{ok}\n \n<!-- fine -->\n")).is_ok());
    for tail in ["junk", "<x/>", "<methodCall/>", "</methodCall>", "<"] {
        let fault = call(&format!("{ok}{tail}")).expect_err(tail);
        assert_eq!(fault.code, Fault::PARSE_ERROR, "{tail}: {fault}");
    }
}

#[test]
fn any_doctype_is_refused() {
    for body in [
        "<!DOCTYPE methodCall><methodCall><methodName>m</methodName></methodCall>",
        "<?xml version=\"1.0\"?>\n<!-- c -->\n<!DOCTYPE methodCall [<!ELEMENT methodCall ANY>]>\
         <methodCall><methodName>m</methodName></methodCall>",
        "<!doctype methodCall><methodCall/>",
    ] {
        assert_fault(call(body), Fault::PARSE_ERROR, "DOCTYPE");
    }
}

#[test]
fn billion_laughs_is_refused_at_once() {
    let mut body =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        body.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    body.push_str("]>\n<methodCall><methodName>&lol9;</methodName></methodCall>");
    let start = Instant::now();
    assert_fault(call(&body), Fault::PARSE_ERROR, "DOCTYPE");
    assert!(start.elapsed() < Duration::from_secs(1));

    // The same through parameter entities, which xml-rs expands inside the
    // DTD itself.
    let pe = "<!DOCTYPE x [<!ENTITY % a \"aaaaaaaaaa\"><!ENTITY % b \"%a;%a;%a;%a;%a;%a;%a;%a;\">\
              <!ENTITY % c \"%b;%b;%b;%b;%b;%b;%b;%b;\">]><methodCall/>";
    assert_fault(call(pe), Fault::PARSE_ERROR, "DOCTYPE");
}

#[test]
fn external_entities_are_refused() {
    let body = "<?xml version=\"1.0\"?><!DOCTYPE m [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\
                <methodCall><methodName>&xxe;</methodName></methodCall>";
    assert_fault(call(body), Fault::PARSE_ERROR, "DOCTYPE");
    let body = "<!DOCTYPE methodCall SYSTEM \"http://example.com/x.dtd\">\
                <methodCall><methodName>m</methodName></methodCall>";
    assert_fault(call(body), Fault::PARSE_ERROR, "DOCTYPE");
}

#[test]
fn oversize_documents_are_refused_before_parsing() {
    let limits = DecodeLimits {
        max_size: 100,
        ..DecodeLimits::default()
    };
    assert!(decode_call(PY_ADD.as_bytes(), &DecodeLimits::default()).is_ok());
    assert_fault(
        decode_call(PY_ADD.as_bytes(), &limits),
        Fault::PARSE_ERROR,
        "the document is 188 bytes, over the limit of 100",
    );
    assert_fault(
        decode_response(PY_ADD.as_bytes(), &limits),
        Fault::PARSE_ERROR,
        "over the limit",
    );
}

#[test]
fn nesting_beyond_the_limit_is_refused() {
    let limits = DecodeLimits {
        max_depth: 3,
        ..DecodeLimits::default()
    };
    let nest = |open: &str, close: &str, depth: usize| {
        format!(
            "<methodCall><methodName>m</methodName><params><param><value>{}<int>1</int>{}\
             </value></param></params></methodCall>",
            open.repeat(depth),
            close.repeat(depth)
        )
    };
    let arrays = |d| nest("<array><data><value>", "</value></data></array>", d);
    let structs = |d| {
        nest(
            "<struct><member><name>k</name><value>",
            "</value></member></struct>",
            d,
        )
    };
    assert!(decode_call(arrays(3).as_bytes(), &limits).is_ok());
    assert!(decode_call(structs(3).as_bytes(), &limits).is_ok());
    assert_fault(
        decode_call(arrays(4).as_bytes(), &limits),
        Fault::PARSE_ERROR,
        "nest deeper than the limit of 3",
    );
    assert_fault(
        decode_call(structs(4).as_bytes(), &limits),
        Fault::PARSE_ERROR,
        "nest deeper than the limit of 3",
    );
    // An empty container counts too.
    let empty = "<methodCall><methodName>m</methodName><params><param><value><array><data>\
        <value><array><data><value><array><data><value><array><data></data></array></value>\
        </data></array></value></data></array></value></data></array></value></param></params>\
        </methodCall>";
    assert_fault(
        decode_call(empty.as_bytes(), &limits),
        Fault::PARSE_ERROR,
        "nest deeper",
    );
}

#[test]
fn two_hundred_thousand_levels_fault_quickly() {
    let start = Instant::now();
    let body = format!(
        "<methodCall><methodName>m</methodName><params><param><value>{}",
        "<array><data><value>".repeat(200_000)
    );
    assert_fault(
        call(&body),
        Fault::PARSE_ERROR,
        "nest deeper than the limit of 128",
    );
    let body = format!(
        "<methodCall><methodName>m</methodName><params><param><value>{}",
        "<struct><member><name>k</name><value>".repeat(200_000)
    );
    assert_fault(call(&body), Fault::PARSE_ERROR, "nest deeper");
    // Not XML-RPC at all: refused at the first unknown element.
    let body = format!("<methodCall>{}", "<a>".repeat(200_000));
    assert_fault(call(&body), Fault::INVALID_XMLRPC, "unknown element <a>");
    let body = format!(
        "<methodCall><methodName>m</methodName><params><param>{}",
        "<value>".repeat(200_000)
    );
    assert_fault(
        call(&body),
        Fault::INVALID_XMLRPC,
        "<value> is not a value type",
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

// ---- Refusals: encoding, -32701 and -32702 ----

#[test]
fn invalid_utf8_is_an_invalid_character_fault() {
    let body = b"<methodCall><methodName>m\xff</methodName></methodCall>";
    assert_fault(
        decode_call(body, &DecodeLimits::default()),
        Fault::INVALID_CHARACTER,
        "not valid UTF-8 (byte 25)",
    );
    let body = b"<?xml version='1.0' encoding='utf-8'?><methodCall><methodName>\xc3</methodName>\
                 </methodCall>";
    assert_fault(
        decode_call(body, &DecodeLimits::default()),
        Fault::INVALID_CHARACTER,
        "not valid UTF-8",
    );
}

#[test]
fn other_encodings_are_unsupported() {
    let body = b"<?xml version='1.0' encoding='windows-1252'?><methodCall><methodName>\x80\
                 </methodName></methodCall>";
    assert_fault(
        decode_call(body, &DecodeLimits::default()),
        Fault::UNSUPPORTED_ENCODING,
        "declared as 'windows-1252'",
    );
    let utf16: Vec<u8> = "\u{FEFF}<methodCall/>"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    assert_fault(
        decode_call(&utf16, &DecodeLimits::default()),
        Fault::UNSUPPORTED_ENCODING,
        "UTF-16",
    );
}

// ---- Refusals: well-formed but not XML-RPC, -32600 ----

#[test]
fn out_of_range_integers() {
    for (xml, needle) in [
        (
            "<int>2147483648</int>",
            "<int> '2147483648' is out of range (-2147483648..=2147483647)",
        ),
        ("<i4>-2147483649</i4>", "<i4> '-2147483649' is out of range"),
        (
            "<i8>9223372036854775808</i8>",
            "<i8> '9223372036854775808' is out of range",
        ),
        ("<int>99999999999999999999999</int>", "is out of range"),
    ] {
        assert_fault(
            param(&format!("<value>{xml}</value>")),
            Fault::INVALID_XMLRPC,
            needle,
        );
    }
}

#[test]
fn non_numeric_integers() {
    for (xml, needle) in [
        ("<int>abc</int>", "<int> 'abc' is not an integer"),
        ("<int>1.5</int>", "<int> '1.5' is not an integer"),
        ("<int></int>", "<int> '' is not an integer"),
        ("<int/>", "<int> '' is not an integer"),
        ("<i4>1 2</i4>", "<i4> '1 2' is not an integer"),
        ("<i8>0x10</i8>", "<i8> '0x10' is not an integer"),
    ] {
        assert_fault(
            param(&format!("<value>{xml}</value>")),
            Fault::INVALID_XMLRPC,
            needle,
        );
    }
}

#[test]
fn bad_doubles_including_nan_and_infinity() {
    for (text, needle) in [
        ("abc", "'abc' is not a number"),
        ("", "'' is not a number"),
        ("1,5", "is not a number"),
        ("nan", "'nan' is not finite"),
        ("NaN", "is not finite"),
        ("inf", "is not finite"),
        ("-infinity", "is not finite"),
        ("1e400", "'1e400' is not finite"),
    ] {
        let xml = format!("<value><double>{text}</double></value>");
        assert_fault(param(&xml), Fault::INVALID_XMLRPC, needle);
    }
}

#[test]
fn bad_booleans() {
    for text in ["2", "yes", "", "-1"] {
        let xml = format!("<value><boolean>{text}</boolean></value>");
        assert_fault(param(&xml), Fault::INVALID_XMLRPC, "is not 0 or 1");
    }
}

#[test]
fn bad_base64() {
    for text in ["!!!!", "aGVsbG8=x", "a", "aGVsbG8==="] {
        let xml = format!("<value><base64>{text}</base64></value>");
        assert_fault(
            param(&xml),
            Fault::INVALID_XMLRPC,
            "<base64> is not valid base64",
        );
    }
}

#[test]
fn bad_dates() {
    for (text, needle) in [
        ("19990229T00:00:00", "day 29 does not exist in 1999-02"),
        ("19980717T25:00:00", "25:00:00 does not exist"),
        ("1998-07-17", "expected YYYYMMDDTHH:MM:SS"),
        ("yesterday", "'yesterday' is not a date"),
        ("", "is not a date"),
        ("20261301T12:00:00+02:00", "month 13 is not 1-12"),
        ("20261201T25:00:00.5", "25:00:00 does not exist"),
        ("20261201T12:00:00+24:00", "offset +24:00 is beyond"),
        ("20261201T12:00:00-02:60", "offset -02:60 is beyond"),
        ("20261201T12:00:00.1234567890", "more than 9 digits"),
        ("20261201T12:00:00+02:00 junk", "expected YYYYMMDDTHH:MM:SS"),
        ("20261201T12:00:00+02:00Z", "expected YYYYMMDDTHH:MM:SS"),
        ("20261201T12:00:00.", "expected YYYYMMDDTHH:MM:SS"),
    ] {
        let xml = format!("<value><dateTime.iso8601>{text}</dateTime.iso8601></value>");
        assert_fault(param(&xml), Fault::INVALID_XMLRPC, needle);
    }
}

#[test]
fn unknown_elements() {
    assert_fault(
        param("<value><float>1</float></value>"),
        Fault::INVALID_XMLRPC,
        "unknown element <float>",
    );
    assert_fault(
        call("<methodCall><methodName>m</methodName><extra/></methodCall>"),
        Fault::INVALID_XMLRPC,
        "unknown element <extra>",
    );
    assert_fault(
        call("<foo/>"),
        Fault::INVALID_XMLRPC,
        "unknown element <foo>",
    );
    // A prefix that is neither `ex` nor Apache's namespace.
    assert_fault(
        param("<value><x:int xmlns:x=\"urn:other\">1</x:int></value>"),
        Fault::INVALID_XMLRPC,
        "unknown element <x:int>",
    );
    assert_fault(
        param("<value><int><b>1</b></int></value>"),
        Fault::INVALID_XMLRPC,
        "unknown element <b>",
    );
}

#[test]
fn misplaced_elements() {
    assert_fault(
        param("<value><int><value/></int></value>"),
        Fault::INVALID_XMLRPC,
        "<int> holds only text, found <value>",
    );
    assert_fault(
        param("<value><value>1</value></value>"),
        Fault::INVALID_XMLRPC,
        "<value> is not a value type",
    );
    assert_fault(
        param("<value><array><value>1</value></array></value>"),
        Fault::INVALID_XMLRPC,
        "expected <data> in <array>, found <value>",
    );
    assert_fault(
        param("<value><array><data><int>1</int></data></array></value>"),
        Fault::INVALID_XMLRPC,
        "expected <value> or </data> in <data>, found <int>",
    );
    assert_fault(
        param("<value><struct><value/></struct></value>"),
        Fault::INVALID_XMLRPC,
        "expected <member> or </struct> in <struct>, found <value>",
    );
    assert_fault(
        param("<int>1</int>"),
        Fault::INVALID_XMLRPC,
        "expected <value> in <param>, found <int>",
    );
    assert_fault(
        param(""),
        Fault::INVALID_XMLRPC,
        "expected <value> in <param>, found </param>",
    );
    assert_fault(
        call("<methodCall><methodName>m</methodName><params><value/></params></methodCall>"),
        Fault::INVALID_XMLRPC,
        "expected <param> or </params> in <params>, found <value>",
    );
    assert_fault(
        call("<methodResponse><params/></methodResponse>"),
        Fault::INVALID_XMLRPC,
        "expected <methodCall> in the document, found <methodResponse>",
    );
    assert_fault(
        param("<value><nil>x</nil></value>"),
        Fault::INVALID_XMLRPC,
        "<nil/> must be empty",
    );
}

#[test]
fn members_need_a_name_and_a_value() {
    assert_fault(
        param("<value><struct><member><value>1</value></member></struct></value>"),
        Fault::INVALID_XMLRPC,
        "a <member> has no <name>",
    );
    assert_fault(
        param("<value><struct><member></member></struct></value>"),
        Fault::INVALID_XMLRPC,
        "a <member> has no <name>",
    );
    assert_fault(
        param("<value><struct><member><name>k</name></member></struct></value>"),
        Fault::INVALID_XMLRPC,
        "<member> 'k' has no <value>",
    );
    assert_fault(
        param("<value><struct><member><name>k</name><value/><value/></member></struct></value>"),
        Fault::INVALID_XMLRPC,
        "expected </member> in <member>, found <value>",
    );
    assert_fault(
        param("<value><struct><member><name>k</name><name>j</name></member></struct></value>"),
        Fault::INVALID_XMLRPC,
        "expected <value> in <member>, found <name>",
    );
}

#[test]
fn two_values_in_one_value() {
    assert_fault(
        param("<value><int>1</int><int>2</int></value>"),
        Fault::INVALID_XMLRPC,
        "two values in one <value>: <int> after the first",
    );
    assert_fault(
        param("<value><array><data/></array><string/></value>"),
        Fault::INVALID_XMLRPC,
        "two values in one <value>: <string>",
    );
    assert_fault(
        param("<value><struct/><nil/></value>"),
        Fault::INVALID_XMLRPC,
        "two values in one <value>: <nil>",
    );
}

#[test]
fn text_where_elements_belong() {
    assert_fault(
        call("<methodCall><methodName>m</methodName><params>junk<param/></params></methodCall>"),
        Fault::INVALID_XMLRPC,
        "unexpected text 'junk' in <params>",
    );
    assert_fault(
        call("<methodCall>junk<methodName>m</methodName></methodCall>"),
        Fault::INVALID_XMLRPC,
        "unexpected text 'junk' in <methodCall>",
    );
    assert_fault(
        param("<value>abc<int>1</int></value>"),
        Fault::INVALID_XMLRPC,
        "text 'abc' and <int> mixed in one <value>",
    );
    assert_fault(
        param("<value><int>1</int>abc</value>"),
        Fault::INVALID_XMLRPC,
        "unexpected text 'abc' in <value>",
    );
    assert_fault(
        param("<value><array><data>x</data></array></value>"),
        Fault::INVALID_XMLRPC,
        "unexpected text 'x' in <data>",
    );
    // Long junk is shortened in the message.
    let junk = "j".repeat(1000);
    let fault = param(&format!("<value><int>{junk}</int></value>")).unwrap_err();
    assert!(fault.message.len() < 100, "{fault}");
}
