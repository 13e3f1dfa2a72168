//! The XML-RPC codec against its peers: for the load tests' documents,
//! medusa's decoder and encoder beside quick-xml reading the same XML
//! (events only: the rate at which a fast XML tokenizer gets through it)
//! and serde_json reading and writing the same values as JSON.
//!
//! ```text
//! cargo bench --bench codec_peers -- --warm-up-time 1 --measurement-time 3
//! cargo bench --bench codec_peers -- --quick structs    # one document
//! ```
//!
//! Documents (`benches/load/ab.py`'s workloads, and a large `<base64>`):
//! `add` (`add(40, 2)`, 178 B), `echo_10k` (a 10 KB string), `structs`
//! (100 structs like ab.py's `record(i)`, 53 KB) and `base64_1mib` (1 MiB
//! of bytes, 1.4 MB of XML), `base64_lines_1mib` (the same with a line
//! break every 76 characters, as Python's `xmlrpc.client` sends it). In
//! each group:
//!
//! - `medusa_decode`: `decode_call`, what the server's handler does with a
//!   request body;
//! - `quick_xml_events`: quick-xml's `read_event` over the same body, no
//!   value built;
//! - `medusa_encode`: `encode_response` of the answer (the echoed value),
//!   what the server writes;
//! - `serde_json_parse`, `serde_json_write`: the same call as JSON
//!   (`{"method": "echo", "params": [...]}`, the values as
//!   `medusa::xmlrpc::json::to_json` writes them) into a
//!   `serde_json::Value`, and that value written to a `Vec`.
//!
//! Throughput is the size of the document each one reads or writes.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use medusa::xmlrpc::json::to_json;
use medusa::xmlrpc::{decode_call, encode_response, DateTime, DecodeLimits, EncodeOptions, Value};
use quick_xml::events::Event;
use quick_xml::Reader;
use std::collections::BTreeMap;

mod common;
use common::Case;

/// ab.py's `echo10k`: 10,000 ASCII bytes, nothing to escape.
fn echo_10k() -> Case {
    let text = "abcdefghijklmnopqrstuvwxyz0123456789"
        .chars()
        .cycle()
        .take(10_000);
    Case::echo("echo_10k", Value::String(text.collect()))
}

/// ab.py's `structs`: 100 of its `record(i)`, every scalar type and an array.
fn structs() -> Case {
    let created = DateTime::new(2026, 12, 1, 12, 0, 0).unwrap();
    let record = |i: i32| {
        Value::Struct(BTreeMap::from([
            ("id".to_string(), Value::Int(i)),
            ("name".to_string(), Value::String(format!("user {i:03}"))),
            ("active".to_string(), Value::Bool(i % 2 == 1)),
            ("score".to_string(), Value::Double(f64::from(i) * 1.25)),
            ("created".to_string(), Value::DateTime(created)),
            (
                "tags".to_string(),
                Value::Array(vec![Value::String(format!("t{}", i % 7))]),
            ),
        ]))
    };
    Case::echo("structs", Value::Array((0..100).map(record).collect()))
}

/// 1 MiB of bytes (every value, unevenly), a 1.4 MB `<base64>`.
fn base64_1mib() -> Case {
    let bytes = (0..1u32 << 20).map(|i| (i * 7 + i / 251) as u8).collect();
    Case::echo("base64_1mib", Value::Base64(bytes))
}

/// The same bytes as Python's `xmlrpc.client` sends them: a line break
/// every 76 characters (`base64.encodebytes`), which the decoder removes.
fn base64_lines_1mib() -> Case {
    let mut case = base64_1mib();
    case.name = "base64_lines_1mib";
    let body = String::from_utf8(case.body).unwrap();
    let (head, rest) = body.split_once("<base64>").unwrap();
    let (text, tail) = rest.split_once("</base64>").unwrap();
    let mut lines = String::with_capacity(text.len() + text.len() / 76 + 1);
    for line in text.as_bytes().chunks(76) {
        lines.push_str(std::str::from_utf8(line).unwrap());
        lines.push('\n');
    }
    case.body = format!("{head}<base64>{lines}</base64>{tail}").into_bytes();
    case
}

/// The call as JSON, the values as the program-backed methods see them.
fn json_call(case: &Case) -> Vec<u8> {
    let params: Vec<_> = case.params.iter().map(to_json).collect();
    serde_json::to_vec(&serde_json::json!({"method": case.method, "params": params})).unwrap()
}

/// Every event of `body`, unescaped nothing: quick-xml's event rate.
fn quick_xml_events(body: &[u8]) -> usize {
    let mut reader = Reader::from_reader(body);
    let mut events = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => return events,
            Ok(event) => {
                black_box(event);
                events += 1;
            }
            Err(e) => panic!("quick-xml: {e}"),
        }
    }
}

fn peers(c: &mut Criterion) {
    let limits = DecodeLimits::default();
    let options = EncodeOptions::default();
    for case in [
        Case::add(),
        echo_10k(),
        structs(),
        base64_1mib(),
        base64_lines_1mib(),
    ] {
        case.check(&limits);
        let response = encode_response(&case.result, &options).unwrap();
        let json = json_call(&case);
        let parsed: serde_json::Value = serde_json::from_slice(&json).unwrap();
        // Criterion reports rates; the sizes turn them back into documents.
        println!(
            "{}: call {} B, response {} B, JSON {} B",
            case.name,
            case.body.len(),
            response.len(),
            json.len()
        );

        let mut group = c.benchmark_group(case.name);
        if case.body.len() > 100_000 {
            group.sample_size(20);
        }
        let bytes = |len: usize| Throughput::Bytes(len as u64);
        group.throughput(bytes(case.body.len()));
        group.bench_function("medusa_decode", |b| {
            b.iter(|| decode_call(black_box(&case.body), &limits).unwrap())
        });
        group.bench_function("quick_xml_events", |b| {
            b.iter(|| quick_xml_events(black_box(&case.body)))
        });
        group.throughput(bytes(response.len()));
        group.bench_function("medusa_encode", |b| {
            b.iter(|| encode_response(black_box(&case.result), &options).unwrap())
        });
        group.throughput(bytes(json.len()));
        group.bench_function("serde_json_parse", |b| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&json)).unwrap())
        });
        group.bench_function("serde_json_write", |b| {
            b.iter(|| {
                let mut out = Vec::new();
                serde_json::to_writer(&mut out, black_box(&parsed)).unwrap();
                out
            })
        });
        group.finish();
    }
}

criterion_group!(benches, peers);
criterion_main!(benches);
