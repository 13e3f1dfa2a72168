//! Request-head parsing microbenchmarks: the heads the load tests send,
//! through the server's own parser.
//!
//! ```text
//! cargo bench --bench http
//! cargo bench --bench http -- --quick
//! ```
//!
//! The parser is crate-private; `medusa::fuzzing::http_head` (hidden from
//! the docs, there for the fuzz targets) runs it on a head without its
//! closing blank line, exactly as the channel hands it over, with the
//! default `HttpConfig`. It then formats the request line for its result:
//! one small `format!` more than the server does per request, included in
//! the figures.
//!
//! Heads, captured from the real clients:
//!
//! - `python_xmlrpc`: Python 3.11's `xmlrpc.client.ServerProxy`, whose
//!   requests the interop tests and `SimpleXMLRPCServer` comparisons use;
//! - `wrk`: `wrk -s post_add.lua`, the load generator of every req/s figure;
//! - `wrk_close`: the same with `-H "Connection: close"`
//!   (connection-per-request runs);
//! - `browser_get`: a browser's `GET` of a static file, with the dozen
//!   headers browsers send, for the file handler's path.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use medusa::fuzzing::http_head;

const HEADS: &[(&str, &str)] = &[
    (
        "python_xmlrpc",
        "POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1:8182\r\nAccept-Encoding: gzip\r\n\
         Content-Type: text/xml\r\nUser-Agent: Python-xmlrpc/3.11\r\nContent-Length: 188",
    ),
    (
        "wrk",
        "POST /RPC2 HTTP/1.1\r\nContent-Length: 178\r\nContent-Type: text/xml\r\n\
         Host: 127.0.0.1:8182",
    ),
    (
        "wrk_close",
        "POST /RPC2 HTTP/1.1\r\nConnection: close\r\nContent-Length: 178\r\n\
         Content-Type: text/xml\r\nHost: 127.0.0.1:8182",
    ),
    (
        "browser_get",
        "GET /files/index.html?lang=en HTTP/1.1\r\nHost: localhost:8182\r\n\
         User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
         Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
         Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n\
         Connection: keep-alive\r\nUpgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\n\
         Sec-Fetch-Mode: navigate\r\nSec-Fetch-Site: none\r\nSec-Fetch-User: ?1\r\n\
         If-Modified-Since: Wed, 25 Nov 2026 12:00:00 GMT\r\nPriority: u=0, i",
    ),
];

fn parse_heads(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_head");
    for (name, head) in HEADS {
        let head = head.as_bytes();
        let line = http_head(head).unwrap_or_else(|status| panic!("{name}: refused with {status}"));
        assert!(line.ends_with("HTTP/1.1"), "{name}: {line}");
        group.throughput(Throughput::Bytes(head.len() as u64));
        group.bench_function(*name, |b| b.iter(|| http_head(black_box(head))));
    }
    group.finish();
}

criterion_group!(benches, parse_heads);
criterion_main!(benches);
