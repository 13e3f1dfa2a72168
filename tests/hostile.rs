//! Hostile clients against a real server over 127.0.0.1.
//!
//! The server is the whole stack, in this process: `HttpServer` with the
//! XML-RPC handler (a `Registry` with `add` and `echo`), the status handler
//! and a file handler on a temporary document root. The cases are what a
//! server on the network meets: garbage request lines, oversized and
//! contradictory heads, bodies cut short, chunked bodies good and bad,
//! entity bombs, absurd nesting, invalid UTF-8, every malformed XML-RPC
//! value, path traversal in every encoding, slowloris, and clients that
//! vanish or stop reading.
//!
//! Every case checks the exact status or fault code, then that the server
//! still answers a normal call promptly and that this process's open
//! descriptors are back to their baseline: the server runs here, so a
//! leaked socket or file shows up in `/proc/self/fd`. That table is shared
//! by the whole process, so the tests run one at a time ([`serial`]).

mod util;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use medusa::handlers::{FileHandler, StatusHandler, XmlRpcConfig, XmlRpcHandler};
use medusa::http::{HttpConfig, HttpServer};
use medusa::xmlrpc::{
    decode_response, encode_call, Client, ClientError, DecodeLimits, EncodeOptions, Fault,
    Registry, Value,
};
use util::http::{gzip, post, read_reply, Reply};
use util::site::{Site, SECRET};
use util::*;

/// How long a normal call may take after a hostile case, or while hostile
/// clients are connected. Generous: a debug build answers in about a
/// millisecond.
const PROMPT: Duration = Duration::from_secs(1);

// ---- The server under attack ----

/// The XML-RPC service: `add(int, int)` and `echo(anything)`.
fn service() -> Registry {
    let mut registry = Registry::new();
    registry.register("add", |a: i32, b: i32| a.wrapping_add(b));
    registry.register("echo", |value: Value| value);
    registry
}

/// Defaults, except a short linger so refused connections close quickly.
fn config() -> HttpConfig {
    let mut config = HttpConfig::default();
    config.chat.linger = Duration::from_millis(200);
    config
}

/// A server in this process, its document root, and the descriptor count
/// with the server up and no connection open.
struct Hostile {
    // Field order is drop order: the server stops (closing everything)
    // before the next test may start.
    server: TestServer,
    site: Site,
    baseline: usize,
    _serial: MutexGuard<'static, ()>,
}

impl Hostile {
    fn start() -> Hostile {
        Hostile::with_config(config())
    }

    fn with_config(config: HttpConfig) -> Hostile {
        let serial = serial();
        raise_fd_limit();
        let site = Site::new();
        let root = site.root();
        let server = TestServer::start(move |reactor| {
            let server = HttpServer::bind(localhost(), config)?;
            server.add_handler(FileHandler::new(&root)?);
            server.install_handler(StatusHandler::new());
            server.install_handler(XmlRpcHandler::with_paths(
                &["/RPC2"],
                service(),
                XmlRpcConfig::default(),
            ));
            let addr = server.local_addr()?;
            reactor.add(server)?;
            Ok(addr)
        });
        let baseline = open_fds();
        Hostile {
            server,
            site,
            baseline,
            _serial: serial,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    fn conn(&self) -> Conn {
        Conn::open(self.addr())
    }

    /// A normal call, timed.
    fn normal_call(&self) -> (Result<Value, ClientError>, Duration) {
        let started = Instant::now();
        let mut client = Client::new(&format!("http://{}/RPC2", self.addr())).unwrap();
        client.set_timeout(Some(Duration::from_secs(10)));
        let answer = client.call("add", vec![Value::Int(40), Value::Int(2)]);
        (answer, started.elapsed())
    }

    /// After a case: a normal call is answered promptly, and every
    /// descriptor the case used is closed again.
    fn assert_healthy(&self, case: &str) {
        let (answer, took) = self.normal_call();
        assert!(
            matches!(answer, Ok(Value::Int(42))),
            "{case}: a normal call failed afterwards: {answer:?}"
        );
        assert!(
            took < PROMPT,
            "{case}: a normal call took {took:?} afterwards"
        );
        self.assert_no_leak(case);
    }

    /// Waits (up to 5 s: the server may linger on a refused connection) for
    /// the descriptor count to return to the baseline.
    fn assert_no_leak(&self, case: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let now = open_fds();
            if now <= self.baseline {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{case}: {now} descriptors open, baseline {}; open now: {}",
                    self.baseline,
                    fd_listing()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Connections the server has open, not counting the one asking.
    fn connections_open(&self) -> u64 {
        let mut conn = self.conn();
        conn.send(b"GET /status/metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let reply = conn.reply();
        assert_eq!(reply.status, 200);
        let text = reply.text();
        let line = text
            .lines()
            .find(|l| l.starts_with("medusa_connections_open "))
            .expect("medusa_connections_open in the metrics");
        let open: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        open - 1
    }

    /// Waits (up to `limit`) until the server has no connection open
    /// besides the asker's.
    fn assert_connections_drop_to_zero(&self, case: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let open = self.connections_open();
            if open == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{case}: the server still has {open} connections open after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `/proc/self/fd` targets, for a leak's failure message.
fn fd_listing() -> String {
    let mut targets: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .map(|t| t.display().to_string())
                .collect()
        })
        .unwrap_or_default();
    targets.sort();
    targets.join(", ")
}

// ---- A raw HTTP client ----

/// What the XML-RPC replies carry.
impl Reply {
    /// The fault this 200 `text/xml` reply carries.
    fn fault(&self, case: &str) -> Fault {
        assert_eq!(self.status, 200, "{case}: faults travel in 200 responses");
        assert_eq!(self.header("Content-Type"), Some("text/xml"), "{case}");
        match decode_response(&self.body, &DecodeLimits::default()) {
            Ok(Err(fault)) => fault,
            other => panic!("{case}: expected a fault, got {other:?}"),
        }
    }

    /// The value this 200 `text/xml` reply carries.
    fn value(&self, case: &str) -> Value {
        assert_eq!(self.status, 200, "{case}: {}", self.text());
        match decode_response(&self.body, &DecodeLimits::default()) {
            Ok(Ok(value)) => value,
            other => panic!("{case}: expected a value, got {other:?}"),
        }
    }
}

/// One raw connection: bytes out, parsed replies in.
struct Conn {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: SocketAddr) -> Conn {
        let stream = connect(addr);
        let reader = BufReader::new(stream.try_clone().unwrap());
        Conn { stream, reader }
    }

    fn send(&mut self, data: &[u8]) {
        self.stream.write_all(data).expect("send");
    }

    /// Sends from another thread, ignoring errors: once the server has
    /// refused a request it may stop reading it, and a test must not
    /// deadlock writing what nobody reads.
    fn send_detached(&self, data: Vec<u8>) -> JoinHandle<()> {
        let mut stream = self.stream.try_clone().unwrap();
        std::thread::spawn(move || {
            let _ = stream.write_all(&data);
        })
    }

    fn try_reply(&mut self, head_only: bool) -> io::Result<Reply> {
        read_reply(&mut self.reader, head_only)
    }

    fn reply(&mut self) -> Reply {
        self.try_reply(false).expect("a reply")
    }

    /// The server has closed the connection cleanly after its reply: end
    /// of input, nothing more, within the read timeout.
    fn assert_closed(&mut self, case: &str) {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => assert!(rest.is_empty(), "{case}: bytes after the reply: {rest:?}"),
            Err(e) => panic!("{case}: connection not closed cleanly: {e}"),
        }
    }

    /// The connection is still usable: a second request on it is served.
    fn assert_kept_alive(&mut self, case: &str) {
        self.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        let reply = self
            .try_reply(false)
            .unwrap_or_else(|e| panic!("{case}: connection not kept alive: {e}"));
        assert_eq!(
            (reply.status, reply.body.as_slice()),
            (200, &b"plain text\n"[..]),
            "{case}"
        );
    }

    /// Closes with a reset (SO_LINGER 0) instead of a FIN.
    fn reset(self) {
        let _ = socket2::SockRef::from(&self.stream).set_linger(Some(Duration::ZERO));
    }
}

/// A `methodCall` of `method` with one parameter whose `<value>` holds
/// `value` (raw XML).
fn call_with(method: &str, value: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\"?>\n<methodCall><methodName>{method}</methodName>\
         <params><param><value>{value}</value></param></params></methodCall>"
    )
    .into_bytes()
}

/// `echo` with one parameter: `value` (raw XML).
fn echo_of(value: &str) -> Vec<u8> {
    call_with("echo", value)
}

fn valid_call() -> Vec<u8> {
    encode_call(
        "add",
        &[Value::Int(40), Value::Int(2)],
        &EncodeOptions::default(),
    )
    .unwrap()
}

/// Deterministic junk bytes (xorshift), every value 0..=255 included.
fn junk(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

/// Shows the start of a request in a failure message.
fn shown(request: &[u8]) -> String {
    String::from_utf8_lossy(&request[..request.len().min(70)]).into_owned()
}

// ---- Malformed HTTP ----

/// What one malformed request gets: a status, and whether the connection
/// closes after it (it must whenever the next request's start is unknown).
struct HttpCase {
    name: &'static str,
    request: Vec<u8>,
    status: u16,
    closes: bool,
}

fn http_case(name: &'static str, request: impl Into<Vec<u8>>, status: u16) -> HttpCase {
    HttpCase {
        name,
        request: request.into(),
        status,
        closes: true,
    }
}

fn keep_alive_case(name: &'static str, request: impl Into<Vec<u8>>, status: u16) -> HttpCase {
    HttpCase {
        closes: false,
        ..http_case(name, request, status)
    }
}

/// Sends each case on a new connection and checks the answer, the close,
/// the server's health and the descriptors.
fn run_http_cases(hostile: &Hostile, cases: Vec<HttpCase>) {
    for case in cases {
        let name = format!("{} ({:?})", case.name, shown(&case.request));
        let mut conn = hostile.conn();
        let writer = conn.send_detached(case.request);
        let reply = conn
            .try_reply(false)
            .unwrap_or_else(|e| panic!("{name}: no reply: {e}"));
        assert_eq!(reply.status, case.status, "{name}: {}", reply.text());
        assert!(!reply.body.is_empty(), "{name}: error pages have a body");
        if case.closes {
            assert_eq!(reply.header("Connection"), Some("close"), "{name}");
            conn.assert_closed(&name);
        } else {
            assert_ne!(reply.header("Connection"), Some("close"), "{name}");
            conn.assert_kept_alive(&name);
        }
        writer.join().unwrap();
        drop(conn);
        hostile.assert_healthy(&name);
    }
}

/// Garbage, NUL bytes and binary junk where the request line belongs.
#[test]
fn garbage_and_nul_bytes_in_the_request_line_get_400() {
    let hostile = Hostile::start();
    let mut binary = junk(4000, 1);
    binary.extend_from_slice(b"\r\n\r\n");
    run_http_cases(
        &hostile,
        vec![
            http_case("a word", &b"GARBAGE\r\n\r\n"[..], 400),
            http_case("NULs only", &b"\0\0\0\0\0\0\r\n\r\n"[..], 400),
            http_case(
                "control bytes",
                &b"\x01\x02\x03 / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
                400,
            ),
            http_case(
                "NUL in the method",
                &b"PO\0ST /RPC2 HTTP/1.1\r\nHost: x\r\n\r\n"[..],
                400,
            ),
            http_case(
                "NUL in the target",
                &b"GET /a\0.txt HTTP/1.1\r\nHost: x\r\n\r\n"[..],
                400,
            ),
            http_case("NUL in the version", &b"GET / HTTP/1.1\0\r\n\r\n"[..], 400),
            http_case(
                "NUL in a header value",
                &b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n"[..],
                400,
            ),
            http_case(
                "NUL in a header name",
                &b"GET / HTTP/1.1\r\nHost: x\r\nX\0A: b\r\n\r\n"[..],
                400,
            ),
            http_case("no target", &b"GET HTTP/1.1\r\nHost: x\r\n\r\n"[..], 400),
            http_case(
                "relative target",
                &b"GET ../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n"[..],
                400,
            ),
            http_case(
                "header without colon",
                &b"GET / HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n"[..],
                400,
            ),
            http_case(
                "space before colon",
                &b"GET / HTTP/1.1\r\nHost : x\r\n\r\n"[..],
                400,
            ),
            http_case("binary junk", binary, 400),
            http_case("unknown version", &b"GET / HTTP/9.9\r\n\r\n"[..], 505),
            http_case(
                "HTTP/2 preface",
                &b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..],
                505,
            ),
            http_case(
                "non-UTF-8 header value",
                &b"GET / HTTP/1.1\r\nHost: x\r\nX-A: \xff\xfe\r\n\r\n"[..],
                400,
            ),
        ],
    );

    // A good request, then garbage in the same write: the first is
    // answered, then the garbage gets its 400 and the connection closes.
    let mut conn = hostile.conn();
    conn.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n");
    assert_eq!(conn.reply().status, 200);
    assert_eq!(conn.reply().status, 400);
    conn.assert_closed("good then garbage");
    drop(conn);
    hostile.assert_healthy("good then garbage");
}

/// Header lines and header counts beyond the limits get 431 and a close;
/// a head just inside them is served.
#[test]
fn huge_header_lines_and_counts_get_431() {
    let hostile = Hostile::start();
    let long_line = |len: usize| {
        format!(
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "a".repeat(len)
        )
    };
    let headers = |n: usize| {
        format!(
            "GET /a.txt HTTP/1.1\r\nHost: x\r\n{}\r\n",
            "X-A: b\r\n".repeat(n)
        )
    };
    let mut endless = b"GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Endless: ".to_vec();
    endless.extend(std::iter::repeat_n(b'a', 4 << 20));
    run_http_cases(
        &hostile,
        vec![
            http_case("20 KB header line", long_line(20_000), 431),
            http_case("1 MB header line", long_line(1 << 20), 431),
            http_case("4 MB header, never ended", endless, 431),
            http_case(
                "20 KB request target",
                format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(20_000)),
                431,
            ),
            http_case(
                "20 KB of junk, no line end",
                junk(20_000, 2)
                    .into_iter()
                    .filter(|b| *b != b'\r' && *b != b'\n')
                    .collect::<Vec<u8>>(),
                431,
            ),
            http_case("101 headers", headers(101), 431),
            http_case("3000 headers", headers(3000), 431),
            // Stray blank lines before a request are skipped as they
            // arrive (RFC 9112 section 2.2), so they never accumulate
            // toward the head limit; `idle_timeout` bounds how long.
            keep_alive_case(
                "100 KB of blank lines then a head",
                [
                    &b"\r\n".repeat(50_000)[..],
                    b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
                ]
                .concat(),
                200,
            ),
        ],
    );
    // Just inside both limits.
    let mut conn = hostile.conn();
    let within = format!(
        "GET /a.txt HTTP/1.1\r\nHost: x\r\n{}X-Big: {}\r\n\r\n",
        "X-A: b\r\n".repeat(98),
        "a".repeat(15_000)
    );
    conn.send(within.as_bytes());
    assert_eq!(conn.reply().status, 200, "a head within the limits");
    drop(conn);
    hostile.assert_healthy("a head within the limits");
}

/// Bad, negative, duplicate and huge `Content-Length` (and the framing
/// ambiguities around it) are refused before any body is read.
#[test]
fn bad_content_lengths_are_refused() {
    let hostile = Hostile::start();
    let with = |headers: &str| format!("POST /RPC2 HTTP/1.1\r\nHost: x\r\n{headers}\r\n\r\n");
    run_http_cases(
        &hostile,
        vec![
            http_case("non-numeric", with("Content-Length: abc"), 400),
            http_case("negative", with("Content-Length: -1"), 400),
            http_case("plus sign", with("Content-Length: +5"), 400),
            http_case("decimal point", with("Content-Length: 5.0"), 400),
            http_case("hexadecimal", with("Content-Length: 0x10"), 400),
            http_case("exponent", with("Content-Length: 1e3"), 400),
            http_case("empty", with("Content-Length: "), 400),
            http_case("two values in one field", with("Content-Length: 3, 4"), 400),
            http_case(
                "two different fields",
                with("Content-Length: 3\r\nContent-Length: 4"),
                400,
            ),
            http_case("over max_body_bytes", with("Content-Length: 10485761"), 413),
            http_case("huge", with("Content-Length: 99999999999"), 413),
            http_case(
                "over u64",
                with("Content-Length: 18446744073709551616"),
                413,
            ),
            http_case(
                "absurdly long",
                with(&format!("Content-Length: {}", "9".repeat(5000))),
                413,
            ),
            http_case(
                "Content-Length and Transfer-Encoding",
                with("Content-Length: 5\r\nTransfer-Encoding: chunked"),
                400,
            ),
            http_case(
                "chunked in HTTP/1.0",
                "POST /RPC2 HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                400,
            ),
            http_case(
                "unknown transfer coding",
                with("Transfer-Encoding: gzip"),
                501,
            ),
            http_case(
                "chunked twice",
                with("Transfer-Encoding: chunked, chunked"),
                501,
            ),
            http_case(
                "chunked not last",
                with("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity"),
                501,
            ),
            http_case(
                "folded Transfer-Encoding",
                with("Transfer-Encoding:\r\n chunked"),
                400,
            ),
            http_case(
                "Transfer-Encoding with a space before the colon",
                with("Transfer-Encoding : chunked\r\nContent-Length: 5"),
                400,
            ),
            http_case(
                "unsupported Expect",
                with("Content-Length: 1\r\nExpect: teapot"),
                417,
            ),
        ],
    );

    // The same length twice is not ambiguous: served.
    let body = valid_call();
    let mut conn = hostile.conn();
    let mut request = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: {0}\r\nContent-Length: {0}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    conn.send(&request);
    assert_eq!(conn.reply().value("same length twice"), Value::Int(42));
    drop(conn);
    hostile.assert_healthy("same length twice");
}

/// Clients that vanish mid-request, politely (FIN) or not (RST), at every
/// stage: nothing is answered, nothing leaks.
#[test]
fn bodies_cut_short_leak_nothing() {
    let hostile = Hostile::start();
    let body = valid_call();
    let mut cut_body = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len() + 1000
    )
    .into_bytes();
    cut_body.extend_from_slice(&body);
    let stages: Vec<(&str, Vec<u8>)> = vec![
        ("nothing sent", Vec::new()),
        ("half a request line", b"POST /RP".to_vec()),
        ("half a head", b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Le".to_vec()),
        (
            "head only",
            b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n".to_vec(),
        ),
        ("part of the body", cut_body),
        (
            "inside a chunk",
            b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100\r\n<methodCall>"
                .to_vec(),
        ),
        (
            "inside a chunk-size line",
            b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1".to_vec(),
        ),
        (
            "before the trailers end",
            b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n".to_vec(),
        ),
    ];
    for (stage, bytes) in &stages {
        // FIN: the server sees the end of input, answers nothing, closes.
        let case = format!("FIN after {stage}");
        let mut conn = hostile.conn();
        conn.send(bytes);
        conn.stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = Vec::new();
        conn.reader
            .read_to_end(&mut answer)
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert!(answer.is_empty(), "{case}: answered {:?}", shown(&answer));
        drop(conn);
        hostile.assert_healthy(&case);

        // RST: the server's next read fails.
        let case = format!("RST after {stage}");
        let mut conn = hostile.conn();
        conn.send(bytes);
        conn.reset();
        hostile.assert_healthy(&case);
    }
    assert_eq!(hostile.connections_open(), 0);
}

/// Chunked request bodies: valid ones are decoded (extensions, trailers,
/// one-byte chunks); malformed ones get 400, oversize ones 413, and the
/// connection closes.
#[test]
fn chunked_bodies_valid_malformed_and_oversize() {
    let hostile = Hostile::start();
    let body = valid_call();
    let chunked = |pieces: &[&[u8]], tail: &str| {
        let mut request =
            b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for piece in pieces {
            request.extend_from_slice(format!("{:x};ext=\"x\"\r\n", piece.len()).as_bytes());
            request.extend_from_slice(piece);
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(tail.as_bytes());
        request
    };

    // Valid: three chunks, and then every byte its own chunk; both followed
    // by a pipelined request, which proves the framing ended where it should.
    let (a, rest) = body.split_at(10);
    let (b, c) = rest.split_at(rest.len() / 2);
    let singles: Vec<&[u8]> = body.chunks(1).collect();
    for (case, pieces) in [
        ("three chunks", vec![a, b, c]),
        ("one-byte chunks", singles),
    ] {
        let mut conn = hostile.conn();
        let mut request = chunked(&pieces, "0\r\nX-Trailer: yes\r\n\r\n");
        request.extend_from_slice(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        conn.send(&request);
        assert_eq!(conn.reply().value(case), Value::Int(42));
        assert_eq!(conn.reply().body, b"plain text\n", "{case}");
        drop(conn);
        hostile.assert_healthy(case);
    }

    let head = "POST /RPC2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    let with = |rest: &str| format!("{head}{rest}");
    run_http_cases(
        &hostile,
        vec![
            http_case("chunk size not hex", with("zz\r\nhello\r\n0\r\n\r\n"), 400),
            http_case("negative chunk size", with("-1\r\nhello\r\n0\r\n\r\n"), 400),
            http_case("empty chunk size", with("\r\nhello\r\n0\r\n\r\n"), 400),
            http_case(
                "chunk size with spaces inside",
                with("1 0\r\nhello\r\n"),
                400,
            ),
            http_case(
                "17 hex digits",
                with("00000000000000005\r\nhello\r\n0\r\n\r\n"),
                400,
            ),
            http_case(
                "chunk longer than its size",
                with("3\r\nhello\r\n0\r\n\r\n"),
                400,
            ),
            http_case(
                "no CRLF after the data",
                with("3\r\nabcX\r\n0\r\n\r\n"),
                400,
            ),
            http_case(
                "chunk-size line over 4 KiB",
                with(&format!("5;{}\r\nhello\r\n0\r\n\r\n", "e".repeat(5000))),
                400,
            ),
            http_case(
                "trailer line over 4 KiB",
                with(&format!("0\r\nX-T: {}\r\n\r\n", "t".repeat(5000))),
                400,
            ),
            http_case("one huge chunk", with("ffffffffffffffff\r\n"), 413),
            http_case("chunk over max_body_bytes", with("a00001\r\n"), 413),
        ],
    );
}

/// The decoded size of a chunked body counts against `max_body_bytes`:
/// many chunks that are each small but together too large get 413.
#[test]
fn chunked_body_over_the_limit_in_small_chunks_gets_413() {
    let hostile = Hostile::with_config(HttpConfig {
        max_body_bytes: 64 * 1024,
        ..config()
    });
    let mut request =
        b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..70 {
        request.extend_from_slice(b"400\r\n");
        request.extend(std::iter::repeat_n(b' ', 0x400));
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    run_http_cases(
        &hostile,
        vec![http_case("70 chunks of 1 KiB", request, 413)],
    );
}

// ---- Malformed and malicious XML-RPC ----

/// Posts each body on a new connection: each gets a 200 with the expected
/// fault code, the connection stays usable, the server stays healthy.
fn run_fault_cases(hostile: &Hostile, cases: Vec<(&str, Vec<u8>, i32)>) {
    for (name, body, code) in cases {
        let started = Instant::now();
        let mut conn = hostile.conn();
        let writer = conn.send_detached(post(&body, ""));
        let reply = conn
            .try_reply(false)
            .unwrap_or_else(|e| panic!("{name}: no reply: {e}"));
        let took = started.elapsed();
        let fault = reply.fault(name);
        assert_eq!(fault.code, code, "{name}: {}", fault.message);
        assert!(
            !fault.message.contains("root:"),
            "{name}: a file's contents leaked into the fault: {}",
            fault.message
        );
        // Seconds, not a tight bound: the 8 MB documents are read through
        // a debug build.
        assert!(took < Duration::from_secs(5), "{name}: took {took:?}");
        conn.assert_kept_alive(name);
        writer.join().unwrap();
        drop(conn);
        hostile.assert_healthy(name);
    }
}

/// Every malformed value type gets -32600, with the connection kept.
#[test]
fn every_malformed_value_type_gets_invalid_xmlrpc() {
    let hostile = Hostile::start();
    let many_digits = format!("<int>{}</int>", "9".repeat(5000));
    let cases: Vec<(&str, &str)> = vec![
        ("int above i32", "<int>2147483648</int>"),
        ("i4 below i32", "<i4>-2147483649</i4>"),
        ("i8 above i64", "<i8>9223372036854775808</i8>"),
        ("int of 5000 digits", &many_digits),
        ("int not a number", "<int>12abc</int>"),
        ("int empty", "<int></int>"),
        ("int in hex", "<int>0x10</int>"),
        ("int with a fraction", "<int>1.5</int>"),
        ("double word", "<double>abc</double>"),
        ("double NaN", "<double>NaN</double>"),
        ("double infinity", "<double>inf</double>"),
        ("double overflow", "<double>1e400</double>"),
        ("double empty", "<double></double>"),
        ("boolean 2", "<boolean>2</boolean>"),
        ("boolean yes", "<boolean>yes</boolean>"),
        ("boolean empty", "<boolean></boolean>"),
        ("base64 bad characters", "<base64>!!!!</base64>"),
        ("base64 bad length", "<base64>A</base64>"),
        (
            "date garbage",
            "<dateTime.iso8601>not a date</dateTime.iso8601>",
        ),
        (
            "date month 13",
            "<dateTime.iso8601>20231301T00:00:00</dateTime.iso8601>",
        ),
        (
            "date hour 25",
            "<dateTime.iso8601>20230101T25:00:00</dateTime.iso8601>",
        ),
        (
            "date February 30",
            "<dateTime.iso8601>20230230T00:00:00</dateTime.iso8601>",
        ),
        ("date empty", "<dateTime.iso8601></dateTime.iso8601>"),
        (
            "member without name",
            "<struct><member><value><int>1</int></value></member></struct>",
        ),
        (
            "member without value",
            "<struct><member><name>a</name></member></struct>",
        ),
        ("name outside a member", "<struct><name>a</name></struct>"),
        ("text in a struct", "<struct>hello</struct>"),
        (
            "array without data",
            "<array><value><int>1</int></value></array>",
        ),
        (
            "unknown element in data",
            "<array><data><bogus/></data></array>",
        ),
        ("unknown type", "<foo>1</foo>"),
        (
            "unknown namespaced type",
            "<x:int xmlns:x=\"urn:x\">1</x:int>",
        ),
        ("nil with text", "<nil>x</nil>"),
        ("two values in one", "<int>1</int><int>2</int>"),
        ("text and a type", "abc<int>1</int>"),
        ("value in a value", "<value>1</value>"),
        ("element in a string", "<string><b>x</b></string>"),
        ("param as a type", "<param/>"),
    ];
    let cases = cases
        .into_iter()
        .map(|(name, value)| (name, echo_of(value), Fault::INVALID_XMLRPC))
        .collect();
    run_fault_cases(&hostile, cases);
}

/// Documents that are not XML-RPC calls: parse errors -32700, the wrong
/// shape -32600, unknown methods -32601, bad parameters -32602.
#[test]
fn malformed_documents_get_their_fault_codes() {
    let hostile = Hostile::start();
    let valid = valid_call();
    let cases: Vec<(&str, Vec<u8>, i32)> = vec![
        ("not XML", b"hello".to_vec(), Fault::PARSE_ERROR),
        ("empty body", Vec::new(), Fault::PARSE_ERROR),
        (
            "truncated",
            b"<methodCall><methodName>echo</methodName><params>".to_vec(),
            Fault::PARSE_ERROR,
        ),
        ("trailing garbage", [&valid[..], b"garbage"].concat(), Fault::PARSE_ERROR),
        ("two roots", [&valid[..], b"<methodCall/>"].concat(), Fault::PARSE_ERROR),
        (
            "mismatched tags",
            b"<methodCall><methodName>echo</methodCall>".to_vec(),
            Fault::PARSE_ERROR,
        ),
        ("undefined entity", echo_of("<string>&xxe;</string>"), Fault::PARSE_ERROR),
        ("character reference to NUL", echo_of("<string>&#0;</string>"), Fault::PARSE_ERROR),
        (
            "a response, not a call",
            b"<methodResponse><params><param><value><int>1</int></value></param></params></methodResponse>"
                .to_vec(),
            Fault::INVALID_XMLRPC,
        ),
        (
            "empty methodName",
            b"<methodCall><methodName> </methodName></methodCall>".to_vec(),
            Fault::INVALID_XMLRPC,
        ),
        ("no methodName", b"<methodCall><params/></methodCall>".to_vec(), Fault::INVALID_XMLRPC),
        (
            "element in methodName",
            b"<methodCall><methodName><b>echo</b></methodName></methodCall>".to_vec(),
            Fault::INVALID_XMLRPC,
        ),
        (
            "text in methodCall",
            b"<methodCall><methodName>echo</methodName>text</methodCall>".to_vec(),
            Fault::INVALID_XMLRPC,
        ),
        ("unknown method", call_with("nope", "<int>1</int>"), Fault::METHOD_NOT_FOUND),
        (
            "method name of 100 KB",
            call_with(&"m".repeat(100_000), "<int>1</int>"),
            Fault::METHOD_NOT_FOUND,
        ),
        ("wrong parameter type", call_with("add", "<string>x</string>"), Fault::INVALID_PARAMS),
        ("wrong parameter count", call_with("add", "<int>1</int>"), Fault::INVALID_PARAMS),
    ];
    run_fault_cases(&hostile, cases);
}

/// No DTD is processed: entity bombs and external entities are refused
/// with -32700 at once, and nothing is fetched or expanded.
#[test]
fn entity_bombs_and_external_entities_are_refused() {
    let hostile = Hostile::start();
    let call = |prolog: &str, string: &str| {
        format!(
            "<?xml version=\"1.0\"?>\n{prolog}\n<methodCall><methodName>echo</methodName>\
             <params><param><value><string>{string}</string></value></param></params></methodCall>"
        )
        .into_bytes()
    };
    let mut laughs = String::from("<!DOCTYPE lolz [\n<!ENTITY lol0 \"lol\">\n");
    for i in 1..=9 {
        let refs = format!("&lol{};", i - 1).repeat(10);
        laughs.push_str(&format!("<!ENTITY lol{i} \"{refs}\">\n"));
    }
    laughs.push(']');
    let cases: Vec<(&str, Vec<u8>, i32)> = vec![
        (
            "billion laughs",
            call(&format!("{laughs}>"), "&lol9;"),
            Fault::PARSE_ERROR,
        ),
        (
            "quadratic blowup",
            call(
                &format!("<!DOCTYPE m [<!ENTITY a \"{}\">]>", "a".repeat(50_000)),
                &"&a;".repeat(50_000),
            ),
            Fault::PARSE_ERROR,
        ),
        (
            "external entity (file)",
            call(
                "<!DOCTYPE methodCall [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>",
                "&xxe;",
            ),
            Fault::PARSE_ERROR,
        ),
        (
            "external entity (http)",
            call(
                "<!DOCTYPE methodCall [<!ENTITY xxe SYSTEM \"http://127.0.0.1:1/x\">]>",
                "&xxe;",
            ),
            Fault::PARSE_ERROR,
        ),
        (
            "external parameter entity",
            call(
                "<!DOCTYPE methodCall [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]>",
                "x",
            ),
            Fault::PARSE_ERROR,
        ),
        (
            "external DTD",
            call("<!DOCTYPE methodCall SYSTEM \"file:///etc/passwd\">", "x"),
            Fault::PARSE_ERROR,
        ),
        (
            "lower-case doctype",
            call("<!doctype methodCall>", "x"),
            Fault::PARSE_ERROR,
        ),
        (
            "doctype after a comment",
            call("<!-- hello --><!DOCTYPE methodCall []>", "x"),
            Fault::PARSE_ERROR,
        ),
        (
            "doctype after a processing instruction",
            call("<?pi x?><!DOCTYPE methodCall []>", "x"),
            Fault::PARSE_ERROR,
        ),
    ];
    run_fault_cases(&hostile, cases);
}

/// A gzip bomb is cut off at `max_decoded_body_bytes` (413); a corrupt
/// stream is 400, an unknown coding 501; a real gzip body is served.
#[test]
fn gzip_bombs_and_bad_codings() {
    let hostile = Hostile::start();
    let gzipped = |body: &[u8], coding: &str| {
        let mut request = format!(
            "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Encoding: {coding}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        request
    };
    let bomb = gzip(&vec![b' '; 64 << 20]);
    assert!(bomb.len() < 1 << 20, "the bomb is small on the wire");
    let mut corrupt = gzip(&valid_call());
    let middle = corrupt.len() / 2;
    corrupt[middle] ^= 0xff;
    run_http_cases(
        &hostile,
        vec![
            keep_alive_case("64 MiB of gzipped spaces", gzipped(&bomb, "gzip"), 413),
            keep_alive_case("corrupt gzip", gzipped(&corrupt, "gzip"), 400),
            keep_alive_case("not gzip at all", gzipped(b"plain", "gzip"), 400),
            keep_alive_case("brotli", gzipped(&valid_call(), "br"), 501),
        ],
    );
    let mut conn = hostile.conn();
    conn.send(&gzipped(&gzip(&valid_call()), "gzip"));
    assert_eq!(conn.reply().value("gzipped call"), Value::Int(42));
    drop(conn);
    hostile.assert_healthy("gzipped call");
}

/// 200,000 levels of nesting, in every form, are refused at the depth
/// limit without exhausting the stack; the limit itself is served.
#[test]
fn nesting_200000_deep_is_refused() {
    let hostile = Hostile::start();
    const DEEP: usize = 200_000;
    let arrays = format!(
        "{}<int>1</int>{}",
        "<array><data><value>".repeat(DEEP),
        "</value></data></array>".repeat(DEEP)
    );
    // Closed, these would pass the 10 MiB body limit: the decoder must
    // give up long before it would have seen the end anyway.
    let structs = "<struct><member><name>a</name><value>".repeat(DEEP);
    let unclosed = "<array><data><value>".repeat(DEEP);
    let foreign = format!("<string>{}</string>", "<x>".repeat(DEEP));
    let values = "<value>".repeat(DEEP);
    run_fault_cases(
        &hostile,
        vec![
            (
                "200,000 nested arrays",
                echo_of(&arrays),
                Fault::PARSE_ERROR,
            ),
            (
                "200,000 unclosed structs",
                echo_of(&structs),
                Fault::PARSE_ERROR,
            ),
            (
                "200,000 unclosed arrays",
                echo_of(&unclosed),
                Fault::PARSE_ERROR,
            ),
            (
                "200,000 foreign elements",
                echo_of(&foreign),
                Fault::INVALID_XMLRPC,
            ),
            (
                "200,000 nested values",
                echo_of(&values),
                Fault::INVALID_XMLRPC,
            ),
            (
                "200,000 elements around the call",
                format!(
                    "{}{}",
                    "<a>".repeat(DEEP),
                    String::from_utf8(valid_call()).unwrap()
                )
                .into_bytes(),
                Fault::INVALID_XMLRPC,
            ),
        ],
    );

    // The limit (128) itself is served; one more level is refused.
    let nested = |depth: usize| {
        format!(
            "{}<int>7</int>{}",
            "<array><data><value>".repeat(depth),
            "</value></data></array>".repeat(depth)
        )
    };
    let mut conn = hostile.conn();
    conn.send(&post(&echo_of(&nested(128)), ""));
    let mut value = conn.reply().value("128 deep");
    for _ in 0..128 {
        value = match value {
            Value::Array(mut items) if items.len() == 1 => items.pop().unwrap(),
            other => panic!("128 deep came back as {other:?}"),
        };
    }
    assert_eq!(value, Value::Int(7));
    conn.send(&post(&echo_of(&nested(129)), ""));
    assert_eq!(conn.reply().fault("129 deep").code, Fault::PARSE_ERROR);
    drop(conn);
    hostile.assert_healthy("129 deep");
}

/// Bytes that are not UTF-8: -32702 in a UTF-8 (or undeclared) document,
/// -32701 under another declared encoding; ISO-8859-1 when declared is
/// read as such. In a header value they are an HTTP 400.
#[test]
fn invalid_utf8_gets_the_encoding_faults() {
    let hostile = Hostile::start();
    let raw = |prolog: &[u8], string: &[u8]| {
        [
            prolog,
            b"<methodCall><methodName>echo</methodName><params><param><value><string>",
            string,
            b"</string></value></param></params></methodCall>",
        ]
        .concat()
    };
    let cases: Vec<(&str, Vec<u8>, i32)> = vec![
        (
            "0xFF in a string",
            raw(b"", b"a\xffb"),
            Fault::INVALID_CHARACTER,
        ),
        (
            "declared UTF-8",
            raw(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>", b"\xfe"),
            Fault::INVALID_CHARACTER,
        ),
        (
            "truncated sequence",
            raw(b"", b"\xe2\x82"),
            Fault::INVALID_CHARACTER,
        ),
        (
            "overlong slash",
            raw(b"", b"\xc0\xaf"),
            Fault::INVALID_CHARACTER,
        ),
        (
            "encoded surrogate",
            raw(b"", b"\xed\xa0\x80"),
            Fault::INVALID_CHARACTER,
        ),
        (
            "beyond U+10FFFF",
            raw(b"", b"\xf4\x90\x80\x80"),
            Fault::INVALID_CHARACTER,
        ),
        (
            "in the method name",
            b"<methodCall><methodName>ec\xffho</methodName></methodCall>".to_vec(),
            Fault::INVALID_CHARACTER,
        ),
        (
            "declared Shift_JIS",
            raw(
                b"<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>",
                b"\x82\xa0\xff",
            ),
            Fault::UNSUPPORTED_ENCODING,
        ),
        (
            "UTF-16 with a byte order mark",
            [
                &b"\xff\xfe"[..],
                &"<methodCall/>"
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect::<Vec<u8>>(),
            ]
            .concat(),
            Fault::UNSUPPORTED_ENCODING,
        ),
    ];
    run_fault_cases(&hostile, cases);

    let mut conn = hostile.conn();
    conn.send(&post(
        &raw(
            b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>",
            b"caf\xe9",
        ),
        "",
    ));
    assert_eq!(
        conn.reply().value("declared ISO-8859-1"),
        Value::from("café")
    );
    drop(conn);
    hostile.assert_healthy("declared ISO-8859-1");

    run_http_cases(
        &hostile,
        vec![http_case(
            "non-UTF-8 header value",
            &b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nX-Name: caf\xe9\r\nContent-Length: 0\r\n\r\n"[..],
            400,
        )],
    );
}

/// Every encoding of a way out of the document root is refused, and the
/// secret beside the root never appears in an answer.
#[test]
fn path_traversal_in_every_encoding_is_refused() {
    let hostile = Hostile::start();
    let cases: Vec<(&str, u16)> = vec![
        // Control: inside the root.
        ("/a.txt", 200),
        ("/sub/b.txt", 200),
        ("/sub/../a.txt", 403),
        // Plain dot segments.
        ("/../secret.txt", 403),
        ("/sub/../../secret.txt", 403),
        ("/./a.txt", 403),
        ("/..", 403),
        // Percent-encoded dots and slashes, either case, mixed.
        ("/%2e%2e/secret.txt", 403),
        ("/%2E%2E/secret.txt", 403),
        ("/.%2e/secret.txt", 403),
        ("/%2e./secret.txt", 403),
        ("/..%2fsecret.txt", 403),
        ("/..%2Fsecret.txt", 403),
        ("/%2e%2e%2fsecret.txt", 403),
        ("/sub%2f..%2f..%2fsecret.txt", 403),
        ("/%2fetc%2fpasswd", 403),
        ("/%2e", 403),
        // Backslashes, raw and encoded.
        ("/..\\secret.txt", 400),
        ("/..%5csecret.txt", 400),
        ("/..%5Csecret.txt", 400),
        ("/sub\\..\\..\\secret.txt", 400),
        // NUL, raw-encoded, to cut an extension off.
        ("/a.txt%00.html", 400),
        ("/%00", 400),
        // Double encoding is decoded once only: a file named "%2e%2e".
        ("/%252e%252e/secret.txt", 404),
        ("/%252e%252e%252fsecret.txt", 404),
        // Overlong UTF-8 and look-alike dots are not dots.
        ("/%c0%ae%c0%ae/secret.txt", 404),
        ("/%c0%af..%c0%afsecret.txt", 404),
        ("/%e0%80%ae%e0%80%ae/secret.txt", 404),
        ("/%ef%bc%8e%ef%bc%8e/secret.txt", 404),
        ("/..%c0%afsecret.txt", 404),
        // Other shapes.
        ("/....//secret.txt", 404),
        ("/..;/secret.txt", 404),
        ("//etc/passwd", 404),
        ("/etc/passwd", 404),
        ("/link.txt", 403),
        ("/sub/..%2f..%2flink.txt", 403),
        // Malformed escapes.
        ("/%", 400),
        ("/%zz", 400),
        ("/%2", 400),
        // Absolute-form target with a traversal in its path.
        ("http://test/../secret.txt", 403),
        ("http://test/%2e%2e/secret.txt", 403),
    ];
    for (target, status) in cases {
        for method in ["GET", "HEAD"] {
            let case = format!("{method} {target}");
            let mut conn = hostile.conn();
            conn.send(format!("{method} {target} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes());
            let reply = conn
                .try_reply(method == "HEAD")
                .unwrap_or_else(|e| panic!("{case}: no reply: {e}"));
            assert_eq!(reply.status, status, "{case}: {}", reply.text());
            assert!(!reply.text().contains(SECRET), "{case}: the secret leaked");
            assert_ne!(reply.header("Connection"), Some("close"), "{case}");
            conn.assert_kept_alive(&case);
            drop(conn);
            hostile.assert_no_leak(&case);
        }
    }
    hostile.assert_healthy("path traversal");
}

// ---- Slow and vanishing clients ----

/// 300 slowloris connections dripping a request head one byte every
/// 100 ms do not delay a normal call; `request_timeout` then answers each
/// of them 408 and closes it.
#[test]
fn slowloris_does_not_delay_other_clients() {
    const LORIS: usize = 300;
    let hostile = Hostile::with_config(HttpConfig {
        request_timeout: Duration::from_secs(4),
        ..config()
    });
    let mut loris: Vec<Conn> = (0..LORIS).map(|_| hostile.conn()).collect();
    for conn in &mut loris {
        conn.send(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\n");
    }
    assert_eq!(hostile.connections_open(), LORIS as u64);

    // One thread drips a byte to each connection every 100 ms.
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<TcpStream> = loris
        .iter()
        .map(|c| c.stream.try_clone().unwrap())
        .collect();
    let dripper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let drip = b"X-Slow: loris\r\n";
            let mut writers = writers;
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                for w in &mut writers {
                    let _ = w.write_all(&drip[i % drip.len()..][..1]);
                }
                i += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            i
        })
    };

    // While they drip: normal calls, timed.
    let mut latencies = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(2500) {
        let (answer, took) = hostile.normal_call();
        assert!(matches!(answer, Ok(Value::Int(42))), "{answer:?}");
        latencies.push(took);
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    let drips = dripper.join().unwrap();
    latencies.sort();
    let max = *latencies.last().unwrap();
    let median = latencies[latencies.len() / 2];
    eprintln!(
        "slowloris: {LORIS} connections x {drips} drips; {} normal calls meanwhile, \
         median {median:?}, max {max:?}",
        latencies.len()
    );
    assert!(max < PROMPT, "a normal call took {max:?} during slowloris");
    assert_eq!(
        hostile.connections_open(),
        LORIS as u64,
        "still open meanwhile"
    );

    // Then each gets a 408 and is closed.
    for (i, conn) in loris.iter_mut().enumerate() {
        let case = format!("slowloris {i}");
        let reply = conn
            .try_reply(false)
            .unwrap_or_else(|e| panic!("{case}: no 408: {e}"));
        assert_eq!(reply.status, 408, "{case}");
        conn.assert_closed(&case);
    }
    drop(loris);
    hostile.assert_connections_drop_to_zero("slowloris", Duration::from_secs(5));
    hostile.assert_healthy("slowloris");
}

/// Clients that disconnect in the middle of a 2 MB response (an `echo` of
/// a 2 MB string, or a 2 MB file), by FIN or RST, after reading some or
/// none of it: nothing leaks, neither sockets nor the file being streamed.
#[test]
fn clients_vanishing_mid_response_leak_nothing() {
    let hostile = Hostile::start();
    let file = hostile.site.big_file("big.bin", 2 << 20);
    let big_string = "x".repeat(2 << 20);
    let echo = post(
        &encode_call(
            "echo",
            &[Value::from(big_string.as_str())],
            &EncodeOptions::default(),
        )
        .unwrap(),
        "",
    );
    let get = b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();

    // Sanity: both answers really are over 2 MB when read in full.
    let mut conn = hostile.conn();
    conn.send(&get);
    assert_eq!(conn.reply().body, file);
    conn.send(&echo);
    assert_eq!(
        conn.reply().value("2 MB echo"),
        Value::from(big_string.as_str())
    );
    drop(conn);

    for (what, request) in [("2 MB file", &get), ("2 MB echo", &echo)] {
        for read in [0usize, 1, 64 * 1024, 1 << 20] {
            for rst in [false, true] {
                let case = format!(
                    "{what}: gone after reading {read} bytes ({})",
                    if rst { "RST" } else { "FIN" }
                );
                let mut conn = hostile.conn();
                let writer = conn.send_detached(request.clone());
                if read > 0 {
                    let mut buf = vec![0; read];
                    conn.reader
                        .read_exact(&mut buf)
                        .unwrap_or_else(|e| panic!("{case}: {e}"));
                }
                writer.join().unwrap();
                if rst {
                    conn.reset();
                } else {
                    drop(conn);
                }
                hostile.assert_connections_drop_to_zero(&case, Duration::from_secs(5));
                hostile.assert_healthy(&case);
            }
        }
    }
}

/// Half-closing is not vanishing: a client that sends its request, shuts
/// down its sending side and keeps reading gets the whole answer.
#[test]
fn a_half_closed_client_still_gets_its_whole_answer() {
    let hostile = Hostile::start();
    let file = hostile.site.big_file("big.bin", 2 << 20);
    let mut conn = hostile.conn();
    conn.send(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    conn.stream.shutdown(std::net::Shutdown::Write).unwrap();
    let reply = conn.reply();
    assert_eq!(reply.status, 200);
    assert!(reply.body == file, "the whole file, intact");
    conn.assert_closed("half-closed client");
    drop(conn);
    hostile.assert_healthy("half-closed client");
}

/// Opens a connection whose receive buffer is small, so that a large
/// response backs up in the server rather than in our kernel.
fn connect_small_window(addr: SocketAddr) -> Conn {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    socket.connect(&addr.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let reader = BufReader::new(stream.try_clone().unwrap());
    Conn { stream, reader }
}

/// A client that asks for a large response and never reads it is cut off
/// after `idle_timeout` without progress, not held forever: the server's
/// connection count drops while the client still holds its socket.
#[test]
fn a_client_that_never_reads_is_cut_off() {
    let hostile = Hostile::with_config(HttpConfig {
        idle_timeout: Duration::from_millis(500),
        ..config()
    });
    let file = hostile.site.big_file("huge.bin", 16 << 20);
    let big_string = "y".repeat(8 << 20);
    let echo = post(
        &encode_call(
            "echo",
            &[Value::from(big_string.as_str())],
            &EncodeOptions::default(),
        )
        .unwrap(),
        "",
    );
    let get = b"GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    for (what, request, full) in [
        ("16 MB file", get, file.len()),
        ("8 MB echo", echo, big_string.len()),
    ] {
        let mut conn = connect_small_window(hostile.addr());
        let writer = conn.send_detached(request);
        writer.join().unwrap();
        let started = Instant::now();
        // The server holds the connection while it waits on the reader...
        assert_eq!(hostile.connections_open(), 1, "{what}");
        // ...and gives up on it well before our socket goes anywhere.
        hostile.assert_connections_drop_to_zero(what, Duration::from_secs(5));
        let cut_after = started.elapsed();
        // What we can still read ends early: EOF or reset, never a wait.
        let mut received = 0usize;
        let mut buf = vec![0; 1 << 20];
        loop {
            match conn.reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => received += n,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("{what}: connection still open after the cut-off: {e}"),
            }
        }
        eprintln!(
            "stalled reader ({what}): cut off after {cut_after:?}, {received} bytes had reached it"
        );
        assert!(
            received < full,
            "{what}: the whole response cannot have been sent"
        );
        drop(conn);
        hostile.assert_healthy(what);
    }
}

/// Current resident memory of this process (the server's included), KiB.
/// A client that pipelines requests for a large file and never reads the
/// answers must not make the server open a file (and queue a response)
/// for every request: reading must stop once output backs up.
#[test]
fn pipelining_non_reader_holds_bounded_descriptors() {
    let hostile = Hostile::start();
    hostile.site.big_file("big.bin", 2 << 20);
    let conn = hostile.conn();
    let writer = conn.send_detached(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n".repeat(2000));
    let started = Instant::now();
    let mut most = 0;
    while started.elapsed() < Duration::from_secs(2) {
        // Ours: the client socket. The rest is the server's.
        let held = open_fds().saturating_sub(hostile.baseline + 1);
        most = most.max(held);
        assert!(
            held < 64,
            "the server holds {held} descriptors for one connection that pipelined \
             2000 GETs without reading (a file per queued response)"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("pipelining non-reader: the server held at most {most} descriptors for it");
    let _ = conn.stream.shutdown(std::net::Shutdown::Both);
    writer.join().unwrap();
    drop(conn);
    hostile.assert_healthy("pipelining non-reader (descriptors)");
}

/// The same with memory: behind one streamed response, every pipelined
/// `echo` of 100 KB queues its 100 KB answer. Reading must stop once
/// output backs up, so what the server holds stays near
/// `output_high_water`, not the sum of all answers.
#[test]
fn pipelining_non_reader_holds_bounded_memory() {
    let hostile = Hostile::start();
    hostile.site.big_file("big.bin", 8 << 20);
    let body = encode_call(
        "echo",
        &[Value::from("z".repeat(100_000).as_str())],
        &EncodeOptions::default(),
    )
    .unwrap();
    let echo = post(&body, "");
    let conn = hostile.conn();
    let before = rss_kib("self");
    let mut stream = conn.stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stream.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
        let mut sent = 0;
        while sent < 300 && stream.write_all(&echo).is_ok() {
            sent += 1;
        }
        sent
    });
    let started = Instant::now();
    let mut grown = 0;
    while started.elapsed() < Duration::from_secs(6) && !writer.is_finished() {
        grown = rss_kib("self").saturating_sub(before);
        assert!(
            grown < 12 * 1024,
            "resident memory grew by {grown} KiB while one client pipelined 100 KB \
             calls without reading"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = conn.stream.shutdown(std::net::Shutdown::Both);
    let sent = writer.join().unwrap();
    eprintln!("pipelining non-reader: {sent} calls of 100 KB sent, memory grew {grown} KiB");
    drop(conn);
    hostile.assert_healthy("pipelining non-reader (memory)");
}

/// A client that keeps sending requests but never reads the answers is cut
/// off after `idle_timeout` without output progress, like one that sends a
/// single request: new requests are not progress.
#[test]
fn pipelining_non_reader_is_cut_off() {
    let hostile = Hostile::with_config(HttpConfig {
        idle_timeout: Duration::from_millis(500),
        // Should reading stop mid-request, that request times out too.
        request_timeout: Duration::from_secs(1),
        ..config()
    });
    hostile.site.big_file("huge.bin", 16 << 20);
    let conn = connect_small_window(hostile.addr());
    let mut stream = conn.stream.try_clone().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed)
                && stream
                    .write_all(b"GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n")
                    .is_ok()
            {
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let started = Instant::now();
    let mut open = hostile.connections_open();
    while open > 0 && started.elapsed() < Duration::from_secs(4) {
        std::thread::sleep(Duration::from_millis(50));
        open = hostile.connections_open();
    }
    stop.store(true, Ordering::Relaxed);
    let _ = conn.stream.shutdown(std::net::Shutdown::Both);
    writer.join().unwrap();
    drop(conn);
    assert_eq!(
        open,
        0,
        "a client pipelining a request every 50 ms and reading nothing is still \
         connected after {:?} with idle_timeout 500 ms",
        started.elapsed()
    );
    hostile.assert_healthy("pipelining non-reader (timeout)");
}

/// The XML namespace declarations in scope are copied into every start
/// element by xml-rs: a 100 KB document with 2,000 declarations on its
/// root and 5,000 elements must still be answered (or refused) at once,
/// not keep the single-threaded loop busy for seconds.
#[test]
fn namespace_declaration_bomb_does_not_stall_the_loop() {
    let hostile = Hostile::start();
    let mut doc = String::from("<methodCall");
    for i in 0..2000 {
        doc.push_str(&format!(" xmlns:n{i}=\"urn:n\""));
    }
    doc.push_str("><methodName>echo</methodName><params><param><value><array><data>");
    doc.push_str(&"<value/>".repeat(5000));
    doc.push_str("</data></array></value></param></params></methodCall>");
    let started = Instant::now();
    let mut conn = hostile.conn();
    conn.send(&post(doc.as_bytes(), ""));
    let reply = conn.try_reply(false);
    let took = started.elapsed();
    let reply = reply.unwrap_or_else(|e| {
        panic!(
            "a {}-byte document kept the loop busy: no answer after {took:?} ({e})",
            doc.len()
        )
    });
    eprintln!(
        "namespace bomb of {} bytes: answered {} after {took:?}",
        doc.len(),
        reply.status
    );
    assert_eq!(reply.status, 200);
    assert!(
        took < PROMPT,
        "a {}-byte document kept the loop busy for {took:?}",
        doc.len()
    );
    drop(conn);
    hostile.assert_healthy("namespace bomb");
}

/// A document within every limit (9.6 MB of empty `<value/>`s, under the
/// 10 MiB default) is decoded and its 38 MB answer encoded on the loop's
/// thread: every other client waits meanwhile. It must cost well under a
/// second of the loop's time.
#[test]
fn a_large_document_of_tiny_values_does_not_stall_the_loop() {
    let hostile = Hostile::start();
    let mut doc = String::from(
        "<methodCall><methodName>echo</methodName><params><param><value><array><data>",
    );
    doc.push_str(&"<value/>".repeat(1_200_000));
    doc.push_str("</data></array></value></param></params></methodCall>");
    let mut conn = hostile.conn();
    let cpu_before = cpu_time("self");
    conn.send(&post(doc.as_bytes(), ""));
    let sent = Instant::now();
    let mut status = String::new();
    conn.reader.read_line(&mut status).expect("a status line");
    let took = sent.elapsed();
    let cpu = cpu_time("self").saturating_sub(cpu_before);
    eprintln!(
        "{} bytes of <value/>: answered {status:?} after {took:?}, {cpu:?} of CPU",
        doc.len()
    );
    // CPU time, not wall time: the client thread only waits, so this is
    // the loop's work, and a busy machine does not inflate it.
    assert!(
        cpu < PROMPT,
        "one {}-byte request held the loop for {cpu:?} of CPU",
        doc.len()
    );
    drop(conn);
    hostile.assert_healthy("a large document of tiny values");
}
