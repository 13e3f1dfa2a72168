//! XML-RPC codec microbenchmarks: decoding and encoding the documents the
//! load tests and the validator send, through the public API.
//!
//! ```text
//! cargo bench --bench codec                      # full run
//! cargo bench --bench codec -- --quick add       # a quick look at one group
//! ```
//!
//! Each group is one document: `add` (the load test's `add(40, 2)`, byte for
//! byte `shared/bench/add_body.xml`), `calendar` (validator1's
//! `nestedStructTest`), `string_1mb` (a 1 MB string, what an `echo` carries)
//! and `array_10k` (10,000 ints). In each group:
//!
//! - `decode_call`: what the server does with a request body;
//! - `decode_call_xmlrs`: the same with xml-rs alone (the reference the
//!   fast reader is checked against), to show what the fast reader saves;
//! - `encode_call`: what a client does to send it;
//! - `encode_response`: what the server sends back (`add` → 42, the
//!   calendar → the sum for 2000-04-01, the string and the array echoed).
//!
//! Throughput is the size of the document read or written, so criterion
//! reports MB/s as well as time per call.
//!
//! `cargo test --all-targets` runs each benchmark once, as a test.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use medusa::xmlrpc::{
    decode_call, decode_call_reference, encode_call, encode_response, DecodeLimits, EncodeOptions,
    Value,
};

mod common;
use common::{Case, ADD_BODY};

/// The validator's calendar: years → months → days → {moe, larry, curly},
/// keys zero-padded ("2000", "04", "01") as validator1 sends them. Three
/// whole years (1999–2001, 1,096 days).
fn calendar() -> Value {
    let mut years = BTreeMap::new();
    for year in 1999..=2001u32 {
        let mut months = BTreeMap::new();
        for month in 1..=12u32 {
            let days_in_month = match month {
                2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            let mut days = BTreeMap::new();
            for day in 1..=days_in_month {
                let seed = (year * 10_000 + month * 100 + day) as i32;
                let entry = BTreeMap::from([
                    ("moe".to_string(), Value::Int(seed % 97)),
                    ("larry".to_string(), Value::Int(seed % 89)),
                    ("curly".to_string(), Value::Int(-(seed % 83))),
                ]);
                days.insert(format!("{day:02}"), Value::Struct(entry));
            }
            months.insert(format!("{month:02}"), Value::Struct(days));
        }
        years.insert(year.to_string(), Value::Struct(months));
    }
    Value::Struct(years)
}

/// The answer validator1 computes: moe + larry + curly on 2000-04-01.
fn april_first_2000(calendar: &Value) -> Value {
    let member = |v: &Value, key: &str| match v {
        Value::Struct(members) => members[key].clone(),
        other => panic!("expected a struct, got {other}"),
    };
    let day = member(&member(&member(calendar, "2000"), "04"), "01");
    let sum: i32 = ["moe", "larry", "curly"]
        .iter()
        .map(|k| match member(&day, k) {
            Value::Int(i) => i,
            other => panic!("expected an int, got {other}"),
        })
        .sum();
    Value::Int(sum)
}

fn cases() -> Vec<Case> {
    let cal = calendar();
    let answer = april_first_2000(&cal);
    // Printable ASCII with the characters that need escaping mixed in.
    let text: String = "The quick brown fox <jumps> over the lazy dog & co. \n"
        .chars()
        .cycle()
        .take(1_000_000)
        .collect();
    let array = Value::Array((0..10_000).map(|i| Value::Int(i * 7 - 35_000)).collect());
    vec![
        Case::add(),
        Case::call("calendar", "validator1.nestedStructTest", vec![cal], answer),
        Case::echo("string_1mb", Value::String(text)),
        Case::echo("array_10k", array),
    ]
}

fn codec(c: &mut Criterion) {
    let limits = DecodeLimits::default();
    let options = EncodeOptions::default();
    for case in cases() {
        case.check(&limits);
        let response = encode_response(&case.result, &options).unwrap();

        let mut group = c.benchmark_group(case.name);
        if case.body.len() > 100_000 {
            group.sample_size(20);
        }
        group.throughput(Throughput::Bytes(case.body.len() as u64));
        group.bench_function(BenchmarkId::new("decode_call", case.body.len()), |b| {
            b.iter(|| decode_call(black_box(&case.body), &limits).unwrap())
        });
        // The same with xml-rs alone: what the fast reader saves.
        group.bench_function(
            BenchmarkId::new("decode_call_xmlrs", case.body.len()),
            |b| b.iter(|| decode_call_reference(black_box(&case.body), &limits).unwrap()),
        );
        group.bench_function(BenchmarkId::new("encode_call", case.body.len()), |b| {
            b.iter(|| encode_call(&case.method, black_box(&case.params), &options).unwrap())
        });
        group.throughput(Throughput::Bytes(response.len() as u64));
        group.bench_function(BenchmarkId::new("encode_response", response.len()), |b| {
            b.iter(|| encode_response(black_box(&case.result), &options).unwrap())
        });
        group.finish();
    }
}

/// The embedded `add` body is the kit's, where the kit is checked out
/// beside the repository (it is in CI and on the developers' machines).
fn add_body_matches_kit(_: &mut Criterion) {
    let kit = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/bench/add_body.xml");
    if let Ok(body) = std::fs::read(kit) {
        assert_eq!(
            body, ADD_BODY,
            "{kit} differs from benches/codec.rs ADD_BODY"
        );
    }
}

criterion_group!(benches, add_body_matches_kit, codec);
criterion_main!(benches);
