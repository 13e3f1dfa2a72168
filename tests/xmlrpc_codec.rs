//! Property tests of the XML-RPC codec: every value survives encoding and
//! decoding exactly (and the JSON mapping of `xmlrpc::json`), and no input,
//! however broken, makes the decoder panic.

use std::collections::BTreeMap;

use medusa::xmlrpc::{
    decode_call, decode_call_fast_only, decode_call_reference, decode_response,
    decode_response_fast_only, decode_response_reference, encode_call, encode_response, from_json,
    from_value, to_json, to_value, DateTime, DecodeLimits, EncodeOptions, Value,
};
use proptest::prelude::*;

/// Characters XML 1.0 can carry, with the ones that need escaping or
/// survive line-ending normalization only when escaped made likely.
fn xml_text() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        4 => any::<char>(),
        1 => prop::sample::select(vec!['&', '<', '>', '\r', '\n', '\t', ' ', ']', '"', '\'']),
    ];
    prop::collection::vec(ch, 0..24).prop_map(|chars| {
        chars
            .into_iter()
            .filter(|&c| {
                matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
            })
            .collect()
    })
}

/// Any finite double, special values included.
fn finite_double() -> impl Strategy<Value = f64> {
    prop_oneof![
        prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO,
        prop::sample::select(vec![0.1, -0.0, 1e300, 1e-300, f64::MAX, f64::MIN, 5e-324]),
    ]
}

/// A date and time without offset or fraction.
fn naive_datetime() -> impl Strategy<Value = DateTime> {
    (0u16..=9999, 1u8..=12, 1u8..=31, 0u8..24, 0u8..60, 0u8..60).prop_map(|(y, mo, d, h, mi, s)| {
        // Clamp the day into the month rather than discard the case.
        (0..4)
            .find_map(|back| DateTime::new(y, mo, d - back.min(d - 1), h, mi, s).ok())
            .unwrap_or_else(|| DateTime::new(y, mo, 28, h, mi, s).unwrap())
    })
}

/// A date and time, with or without an offset (to ±23:59) and a fraction
/// (to the nanosecond), so that every round trip below covers them.
fn datetime() -> impl Strategy<Value = DateTime> {
    let nanos = prop_oneof![
        Just(0u32),
        0u32..1_000_000_000,
        (0u32..1000).prop_map(|ms| ms * 1_000_000),
    ];
    (naive_datetime(), nanos, prop::option::of(-1439i16..=1439)).prop_map(|(dt, nanos, offset)| {
        let dt = dt.with_nanosecond(nanos).unwrap();
        match offset {
            Some(minutes) => dt.with_offset(minutes).unwrap(),
            None => dt,
        }
    })
}

/// A date as peers spell it, with an offset or fraction in any accepted
/// spelling, and the text we keep and send back for it.
fn datetime_spelling() -> impl Strategy<Value = (String, String)> {
    let fraction = prop::option::of("[0-9]{1,9}");
    // (sign, hours, minutes, spelling: 0 `±HH:MM`, 1 `±HHMM`, 2 `±HH`)
    let offset = prop_oneof![
        1 => Just(None),
        1 => prop::sample::select(vec!["Z", "z"]).prop_map(|z| Some((z.to_string(), "Z".to_string()))),
        4 => (prop::bool::ANY, 0u8..24, 0u8..60, 0u8..3).prop_map(|(minus, h, m, style)| {
            let sign = if minus { '-' } else { '+' };
            let sent = match style {
                0 => format!("{sign}{h:02}:{m:02}"),
                2 if m == 0 => format!("{sign}{h:02}"),
                _ => format!("{sign}{h:02}{m:02}"),
            };
            let kept = if h == 0 && m == 0 { "Z".to_string() } else { format!("{sign}{h:02}:{m:02}") };
            Some((sent, kept))
        }),
    ];
    (
        naive_datetime(),
        prop::bool::ANY,
        prop::bool::ANY,
        fraction,
        offset,
    )
        .prop_map(|(dt, dashes, lower_t, fraction, offset)| {
            let basic = dt.to_string();
            let mut sent = if dashes {
                format!("{}-{}-{}", &basic[..4], &basic[4..6], &basic[6..])
            } else {
                basic.clone()
            };
            if lower_t {
                sent = sent.replace('T', "t");
            }
            let mut kept = basic;
            if let Some(digits) = fraction {
                sent.push('.');
                sent.push_str(&digits);
                kept.push('.');
                kept.push_str(&digits);
            }
            if let Some((sent_offset, kept_offset)) = offset {
                sent.push_str(&sent_offset);
                kept.push_str(&kept_offset);
            }
            (sent, kept)
        })
}

fn value() -> impl Strategy<Value = Value> {
    value_with(finite_double(), xml_text)
}

/// Any value whose doubles come from `doubles` and member names from
/// `names()`.
fn value_with<S: Strategy<Value = String> + 'static>(
    doubles: impl Strategy<Value = f64> + 'static,
    names: fn() -> S,
) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i32>().prop_map(Value::Int),
        any::<i64>().prop_map(Value::I8),
        // Small <i8>s: JSON tags them.
        any::<i32>().prop_map(|n| Value::I8(n.into())),
        any::<bool>().prop_map(Value::Bool),
        xml_text().prop_map(Value::String),
        doubles.prop_map(Value::Double),
        datetime().prop_map(Value::DateTime),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::Base64),
        Just(Value::Nil),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(names(), inner.clone(), 0..6).prop_map(Value::Struct),
            // One member: where JSON's tags and the $struct escape matter.
            (names(), inner).prop_map(|(name, v)| Value::Struct([(name, v)].into())),
        ]
    })
}

/// Member names for the JSON mapping: often JSON's tags and other `$`
/// names, which must stay plain member names.
fn json_member_name() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => xml_text(),
        1 => prop::sample::select(vec!["$base64", "$datetime", "$i8", "$double", "$struct", "$", "$x"])
            .prop_map(str::to_string),
        1 => xml_text().prop_map(|t| format!("${t}")),
    ]
}

/// Every double, the ones JSON has no number for included.
fn any_double() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => finite_double(),
        1 => prop::sample::select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY]),
    ]
}

/// Exact equality: doubles compared bit for bit, so `-0.0 != 0.0` here.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Double(x), Value::Double(y)) => x.to_bits() == y.to_bits(),
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same(x, y))
        }
        (Value::Struct(xs), Value::Struct(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .zip(ys)
                    .all(|((kx, x), (ky, y))| kx == ky && same(x, y))
        }
        _ => a == b,
    }
}

/// Pieces of XML-RPC, to assemble documents that get deep into the decoder.
const TOKENS: &[&str] = &[
    "<?xml version=\"1.0\"?>",
    "<methodCall>",
    "</methodCall>",
    "<methodName>",
    "</methodName>",
    "<methodResponse>",
    "</methodResponse>",
    "<params>",
    "</params>",
    "<param>",
    "</param>",
    "<fault>",
    "</fault>",
    "<value>",
    "</value>",
    "<value/>",
    "<int>",
    "</int>",
    "<i4>",
    "</i4>",
    "<i8>",
    "</i8>",
    "<ex:i8>",
    "</ex:i8>",
    "<boolean>",
    "</boolean>",
    "<string>",
    "</string>",
    "<double>",
    "</double>",
    "<dateTime.iso8601>",
    "</dateTime.iso8601>",
    "<base64>",
    "</base64>",
    "<struct>",
    "</struct>",
    "<member>",
    "</member>",
    "<name>",
    "</name>",
    "<array>",
    "</array>",
    "<data>",
    "</data>",
    "<nil/>",
    "<ex:nil/>",
    "<!DOCTYPE x>",
    "<!-- c -->",
    "<![CDATA[",
    "]]>",
    "&amp;",
    "&lt;",
    "&#13;",
    "&bogus;",
    "&#0;",
    "1",
    "-2147483649",
    "1e400",
    "nan",
    "19980717T14:08:55",
    "19990229T00:00:00",
    "20261201T12:00:00.123+02:00",
    "+0200",
    "Z",
    ".5",
    "aGVsbG8=",
    "!!",
    "add",
    " ",
    "\n",
    "\u{0}",
    "\u{FEFF}",
    "\u{FFFF}",
    "é",
    "\u{FF}",
    "<",
    ">",
    "/",
    "=",
    "\"",
    "faultCode",
    "faultString",
];

/// The fast reader (see src/xmlrpc/decode/fast.rs) may only accept what
/// xml-rs accepts, and must then decode the same thing; the public
/// decoders must answer exactly as xml-rs alone does, faults included.
fn readers_agree(body: &[u8]) -> Result<(), TestCaseError> {
    let limits = DecodeLimits::default();
    let reference = decode_call_reference(body, &limits);
    if let Some(fast) = decode_call_fast_only(body, &limits) {
        prop_assert_eq!(
            Ok(fast),
            reference.clone(),
            "fast call reader on {:?}",
            String::from_utf8_lossy(body)
        );
    }
    prop_assert_eq!(decode_call(body, &limits), reference);
    let reference = decode_response_reference(body, &limits);
    if let Some(fast) = decode_response_fast_only(body, &limits) {
        prop_assert_eq!(
            Ok(fast),
            reference.clone(),
            "fast response reader on {:?}",
            String::from_utf8_lossy(body)
        );
    }
    prop_assert_eq!(decode_response(body, &limits), reference);
    Ok(())
}

proptest! {
    /// Whatever a response carries comes back identical.
    #[test]
    fn responses_round_trip(v in value()) {
        let body = encode_response(&v, &EncodeOptions::default()).unwrap();
        let back = decode_response(&body, &DecodeLimits::default()).unwrap().unwrap();
        prop_assert!(same(&v, &back), "{v:?} came back as {back:?}");
        // Our own documents never need the slow path.
        prop_assert!(decode_response_fast_only(&body, &DecodeLimits::default()).is_some());
        readers_agree(&body)?;
    }

    /// Whatever a call carries comes back identical, method name included.
    #[test]
    fn calls_round_trip(
        method in "[A-Za-z0-9_.:/]{1,24}",
        params in prop::collection::vec(value(), 0..4),
    ) {
        let body = encode_call(&method, &params, &EncodeOptions::default()).unwrap();
        let call = decode_call(&body, &DecodeLimits::default()).unwrap();
        prop_assert!(decode_call_fast_only(&body, &DecodeLimits::default()).is_some());
        readers_agree(&body)?;
        prop_assert_eq!(&call.method, &method);
        prop_assert_eq!(call.params.len(), params.len());
        for (a, b) in params.iter().zip(&call.params) {
            prop_assert!(same(a, b), "{a:?} came back as {b:?}");
        }
    }

    /// serde's data model loses nothing either.
    #[test]
    fn serde_round_trips(v in value()) {
        let through = to_value(&v).unwrap();
        prop_assert!(same(&v, &through));
        let back: Value = from_value(v.clone()).unwrap();
        prop_assert!(same(&v, &back));
        let _ = v.to_string();
    }

    /// JSON loses nothing: Value → JSON → Value is the identity, in memory
    /// and through JSON text (what a program reads and writes).
    #[test]
    fn json_round_trips(v in value_with(any_double(), json_member_name)) {
        let json = to_json(&v);
        let back = from_json(json.clone());
        prop_assert!(matches!(&back, Ok(b) if same(&v, b)), "{v:?} came back as {back:?} from {json}");
        let text = serde_json::to_string(&json).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        let back = from_json(parsed);
        prop_assert!(matches!(&back, Ok(b) if same(&v, b)), "{v:?} came back as {back:?} from {text}");
    }

    /// A date with an offset or a fraction, in any spelling peers use,
    /// decodes (both readers agreeing) and is sent back as kept: an echo
    /// gives back what came in.
    #[test]
    fn dates_with_offsets_and_fractions_echo((sent, kept) in datetime_spelling()) {
        let body = format!(
            "<methodCall><methodName>echo</methodName><params><param><value>\
             <dateTime.iso8601>{sent}</dateTime.iso8601></value></param></params></methodCall>"
        );
        readers_agree(body.as_bytes())?;
        prop_assert!(decode_call_fast_only(body.as_bytes(), &DecodeLimits::default()).is_some());
        let call = decode_call(body.as_bytes(), &DecodeLimits::default());
        prop_assert!(call.is_ok(), "{sent}: {call:?}");
        let param = call.unwrap().params.remove(0);
        let reply = encode_response(&param, &EncodeOptions::default()).unwrap();
        let element = format!("<dateTime.iso8601>{kept}</dateTime.iso8601>");
        prop_assert!(
            String::from_utf8_lossy(&reply).contains(&element),
            "{sent} was sent back as {}", String::from_utf8_lossy(&reply)
        );
        let back = decode_response(&reply, &DecodeLimits::default()).unwrap().unwrap();
        prop_assert_eq!(back, param);
    }

    /// Arbitrary bytes never panic the decoder.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        readers_agree(&bytes)?;
    }

    /// Documents assembled from XML-RPC pieces in any order never panic it.
    #[test]
    fn token_soup_never_panics(picks in prop::collection::vec(any::<prop::sample::Index>(), 0..64)) {
        let doc: String = picks.iter().map(|i| TOKENS[i.index(TOKENS.len())]).collect();
        readers_agree(doc.as_bytes())?;
        let wrapped = format!("<methodCall><methodName>m</methodName><params><param>{doc}");
        readers_agree(wrapped.as_bytes())?;
        let closed = format!("{wrapped}</param></params></methodCall>");
        readers_agree(closed.as_bytes())?;
    }

    /// Valid documents with bytes deleted, inserted, replaced or cut never
    /// panic it, and whatever still decodes re-encodes.
    #[test]
    fn mutated_documents_never_panic(
        v in value(),
        edits in prop::collection::vec(
            (0usize..4, any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<u8>()),
            1..6,
        ),
    ) {
        let mut body = encode_call("m", &[v], &EncodeOptions::default()).unwrap();
        for (kind, at, token, byte) in edits {
            let pos = at.index(body.len() + 1);
            match kind {
                0 => {
                    let end = (pos + 1 + usize::from(byte % 16)).min(body.len());
                    body.drain(pos.min(end)..end);
                }
                1 => {
                    let t = TOKENS[token.index(TOKENS.len())].as_bytes();
                    body.splice(pos..pos, t.iter().copied());
                }
                2 if pos < body.len() => body[pos] = byte,
                _ => body.truncate(pos),
            }
        }
        readers_agree(&body)?;
        if let Ok(call) = decode_call(&body, &DecodeLimits::default()) {
            for p in &call.params {
                let _ = encode_response(p, &EncodeOptions::default());
            }
        }
        let _ = decode_response(&body, &DecodeLimits::default());
    }
}

/// Member names and strings made only of whitespace survive: whitespace is
/// data inside `<string>` and `<name>`.
#[test]
fn whitespace_only_text_round_trips() {
    let mut members = BTreeMap::new();
    members.insert(" \r\n\t".to_string(), Value::from(" \r\n\t "));
    let v = Value::Struct(members);
    let body = encode_response(&v, &EncodeOptions::default()).unwrap();
    assert_eq!(decode_response(&body, &DecodeLimits::default()), Ok(Ok(v)));
}
