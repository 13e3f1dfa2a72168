//! Python's `xmlrpc.client` (and `http.client` for what it hides) against
//! our server: every type both ways, multicall, fault codes, gzip in and
//! out, a gzip bomb, keep-alive, introspection and the HTML page.
//!
//! Each test starts its own server in-process (`TestServer` + `HttpServer` +
//! `XmlRpcHandler` over a `Registry`, with `StatusHandler` beside it for the
//! connection counters) and runs one `python3 -c` script against it. The
//! scripts check Python-side facts themselves (types, `-0.0`, exceptions)
//! and print one line per fact; the Rust side asserts on those lines.

mod util;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use medusa::handlers::{StatusHandler, XmlRpcHandler};
use medusa::http::{HttpConfig, HttpServer};
use medusa::xmlrpc::{Fault, Registry, Value};
use util::*;

/// The methods every test here calls.
fn registry() -> Registry {
    let mut registry = Registry::new();
    registry
        .register("echo", |value: Value| value)
        .help("Returns its argument unchanged.")
        .signature(&["any", "any"]);
    registry
        .register("add", |a: i32, b: i32| a.wrapping_add(b))
        .help("Adds two integers.")
        .signature(&["int", "int", "int"]);
    registry.register("fail", |code: i32| -> Result<(), Fault> {
        Err(Fault::new(
            code,
            format!("failed on purpose with code {code}"),
        ))
    });
    // Beyond 32 bits: only <i8> can carry these. A Value result: no
    // signature can be inferred (the "no signature" check).
    registry.register("big", || {
        Value::Array(vec![Value::I8(1 << 40), Value::I8(-(1 << 40) - 1)])
    });
    // A server-made string with carriage returns (we send them as &#13;).
    registry.register("crlf", || "line1\r\nline2\rend");
    // `n` bytes of compressible text, for the gzip tests.
    registry.register("text", |n: i32| text(n as usize));
    registry.register("length", |s: String| s.len() as i32);
    registry
}

/// `n` bytes of ASCII: digits and letters, repeating.
fn text(n: usize) -> String {
    "0123456789abcdefghijklmnopqrstuvwxyz"
        .bytes()
        .cycle()
        .take(n)
        .map(char::from)
        .collect()
}

/// A server with the registry at `/RPC2` and the status handler at
/// `/status` (metrics at `/status/metrics`).
fn serve() -> TestServer {
    serve_with(HttpConfig::default())
}

fn serve_with(config: HttpConfig) -> TestServer {
    TestServer::start(|reactor| {
        let server = HttpServer::bind(localhost(), config)?;
        server.install_handler(StatusHandler::new());
        server.install_handler(XmlRpcHandler::new("/RPC2", registry()));
        let addr = server.local_addr()?;
        reactor.add(server)?;
        Ok(addr)
    })
}

/// What every script starts with: a 25 s alarm (the script kills itself
/// rather than hang the test), 10 s socket timeouts, imports, and
/// `URL`/`HOST`/`PORT`/`proxy()`/`post()`/`metric()` for this server.
fn prelude(server: &TestServer) -> String {
    format!(
        r#"
import signal, socket
signal.alarm(25)
socket.setdefaulttimeout(10)
import datetime, gzip, http.client, math, sys, time
import xmlrpc.client as xc
HOST, PORT = "127.0.0.1", {port}
URL = "http://%s:%d/RPC2" % (HOST, PORT)

def proxy(**kw):
    return xc.ServerProxy(URL, allow_none=True, use_builtin_types=True, **kw)

def post(body, headers={{}}, path="/RPC2"):
    """POST raw bytes on a fresh connection: (status, headers, body)."""
    c = http.client.HTTPConnection(HOST, PORT)
    h = {{"Content-Type": "text/xml"}}
    h.update(headers)
    c.request("POST", path, body, h)
    r = c.getresponse()
    out = (r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read())
    c.close()
    return out

def metric(name):
    c = http.client.HTTPConnection(HOST, PORT)
    c.request("GET", "/status/metrics")
    text = c.getresponse().read().decode()
    c.close()
    for line in text.splitlines():
        if line.startswith("medusa_%s " % name):
            return int(line.split()[1])
    raise KeyError(name)
"#,
        port = server.addr.port()
    )
}

/// Runs `script` (after the prelude) with python3; fails the test with
/// Python's stderr if the script fails. Returns stdout.
fn python(server: &TestServer, script: &str) -> String {
    let output = run_python(server, script);
    check(&output)
}

fn run_python(server: &TestServer, script: &str) -> Output {
    let source = format!("{}\n{}", prelude(server), script);
    Command::new("python3")
        .arg("-c")
        .arg(&source)
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs")
}

fn check(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "python failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The value printed after `key: ` on its own line.
fn line<'a>(stdout: &'a str, key: &str) -> &'a str {
    let prefix = format!("{key}: ");
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no line {key:?} in:\n{stdout}"))
}

/// Every type Python can send comes back identical (same Python type and
/// value, `-0.0` keeping its sign, bytes staying bytes), including a 1 MB
/// string and a 10,000-element list. Python refuses to *send* an int beyond
/// 32 bits (OverflowError, client-side) but reads our `<i8>`; a CR Python
/// sends raw arrives as LF (XML line-end normalization: Python's escaping,
/// not ours), while a CR our server sends (`&#13;`) survives.
#[test]
fn python_echoes_every_type_identically() {
    let server = serve();
    let stdout = python(
        &server,
        r#"
p = proxy()

def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b

cases = [
    0, 1, -1, 42, 2**31 - 1, -2**31,
    True, False,
    "", "plain", "héllo wörld ✓ 😀 ключ 日本語",
    "<tag attr=\"v\"> & 'apos' ]]> &amp; &#13; <![CDATA[x]]>",
    "tab\there\nnewline\n\n", "  leading and trailing spaces  ", "\t", "\n",
    0.0, -0.0, 0.1, -1.5, 1e300, -1e300, 5e-324, 2.2250738585072014e-308,
    1.7976931348623157e308, 123456789.125, 1e-7,
    None,
    b"", b"\x00\xff\xfe\x80\x81 not utf-8", bytes(range(256)) * 3,
    datetime.datetime(2024, 2, 29, 23, 59, 58), datetime.datetime(1970, 1, 1, 0, 0, 0),
    datetime.datetime(9999, 12, 31, 23, 59, 59),
    [], {}, [[], {}], [[[[[]]]]],
    [1, "two", 3.0, True, None, b"x", datetime.datetime(2000, 1, 2, 3, 4, 5)],
    {"a": [1, {"b": None}], "ключ": "значение", "": "empty key", "x y": {"z": {}}},
    {"nested": {"list": [{"deep": [[1], [2, [3]]]}], "flag": False}},
]
for v in cases:
    out = p.echo(v)
    assert same(v, out), "echo(%r) gave %r" % (v, out)
print("echoed: %d" % len(cases))

big_string = ("0123456789abcdef<&>é ✓" * 60000)[:1000000]
assert len(big_string) == 1000000
assert same(p.echo(big_string), big_string), "1 MB string"
print("1 MB string: ok")

big_list = [i if i % 3 == 0 else str(i) if i % 3 == 1 else i / 7 for i in range(10000)]
out = p.echo(big_list)
assert same(out, big_list), "10,000-element list"
print("10,000 list: ok")

try:
    p.echo(2**31)
    print("send 2**31: sent")
except OverflowError as e:
    print("send 2**31: OverflowError %s" % e)
out = p.big()
print("big: %r %s" % (out, [type(x).__name__ for x in out]))

print("cr from python: %r" % p.echo("a\r\nb\rc"))
print("cr from server: %r" % p.crlf())
"#,
    );
    assert_eq!(line(&stdout, "echoed"), "41");
    assert_eq!(line(&stdout, "1 MB string"), "ok");
    assert_eq!(line(&stdout, "10,000 list"), "ok");
    // Python 3's marshaller refuses ints beyond <int> before sending.
    assert_eq!(
        line(&stdout, "send 2**31"),
        "OverflowError int exceeds XML-RPC limits"
    );
    // ...but reads <i8> as a plain int.
    assert_eq!(
        line(&stdout, "big"),
        "[1099511627776, -1099511627777] ['int', 'int']"
    );
    // Python writes CR raw; any XML parser must read it as LF.
    assert_eq!(line(&stdout, "cr from python"), r"'a\nb\nc'");
    assert_eq!(line(&stdout, "cr from server"), r"'line1\r\nline2\rend'");
}

/// Dates with an offset or a fraction (issue 12, item 15): Python's
/// `xmlrpc.client.DateTime` keeps the string it was given or read, so with
/// the default `use_builtin_types=False` an echo must give the same string
/// back. Posted raw, the echoed element is byte for byte the one sent.
/// Python's own `datetime` objects are still sent and echoed plain.
#[test]
fn python_echoes_dates_with_offsets_and_fractions_unchanged() {
    let server = serve();
    let stdout = python(
        &server,
        r#"
p = xc.ServerProxy(URL)
for text in ["20261201T12:00:00+02:00", "20261201T12:00:00-05:30",
             "20261201T12:00:00Z", "20261201T12:00:00.123",
             "20261201T12:00:00.123456+02:00", "20261201T12:00:00"]:
    out = p.echo(xc.DateTime(text))
    assert isinstance(out, xc.DateTime), "echo(%r) gave %r" % (text, out)
    print("echo %s: %s" % (text, out.value))

# Spellings other than ours come back as the same instant, spelled ±HH:MM.
print("echo +0200: %s" % p.echo(xc.DateTime("20261201T12:00:00+0200")).value)

call = (b"<?xml version='1.0'?><methodCall><methodName>echo</methodName><params>"
        b"<param><value><dateTime.iso8601>20261201T12:00:00+02:00</dateTime.iso8601>"
        b"</value></param></params></methodCall>")
status, headers, body = post(call)
start = body.index(b"<dateTime.iso8601>")
end = body.index(b"</dateTime.iso8601>") + len(b"</dateTime.iso8601>")
print("raw: %d %s" % (status, body[start:end].decode()))

# A naive datetime goes out plain and comes back plain, as a datetime.
out = proxy().echo(datetime.datetime(2026, 12, 1, 12, 0, 0))
print("builtin: %r" % out)
"#,
    );
    for text in [
        "20261201T12:00:00+02:00",
        "20261201T12:00:00-05:30",
        "20261201T12:00:00Z",
        "20261201T12:00:00.123",
        "20261201T12:00:00.123456+02:00",
        "20261201T12:00:00",
    ] {
        assert_eq!(line(&stdout, &format!("echo {text}")), text, "{stdout}");
    }
    assert_eq!(line(&stdout, "echo +0200"), "20261201T12:00:00+02:00");
    assert_eq!(
        line(&stdout, "raw"),
        "200 <dateTime.iso8601>20261201T12:00:00+02:00</dateTime.iso8601>"
    );
    assert_eq!(
        line(&stdout, "builtin"),
        "datetime.datetime(2026, 12, 1, 12, 0)"
    );
}

/// `MultiCall`: one request, several results; the faulting call raises
/// `Fault` with our code when its turn comes, the others are plain values.
#[test]
fn python_multicall_mixes_results_and_faults() {
    let server = serve();
    let stdout = python(
        &server,
        r#"
p = proxy()
mc = xc.MultiCall(p)
mc.add(40, 2)
mc.fail(7)
mc.echo({"k": [None, b"\x00"]})
mc.nope()
mc.add(1)
results = mc()
it = iter(results)
print("first: %r" % next(it))
try:
    next(it)
    print("second: no fault")
except xc.Fault as f:
    print("second: Fault %d %s" % (f.faultCode, f.faultString))
print("third: %r" % results[2])
for i in (3, 4):
    try:
        results[i]
        print("call %d: no fault" % i)
    except xc.Fault as f:
        print("call %d: Fault %d" % (i, f.faultCode))
"#,
    );
    assert_eq!(line(&stdout, "first"), "42");
    assert_eq!(
        line(&stdout, "second"),
        "Fault 7 failed on purpose with code 7"
    );
    assert_eq!(line(&stdout, "third"), r"{'k': [None, b'\x00']}");
    assert_eq!(line(&stdout, "call 3"), "Fault -32601");
    assert_eq!(line(&stdout, "call 4"), "Fault -32602");
}

/// Fault codes as Python sees them: -32601 unknown method, -32602 wrong
/// parameters, the method's own code for an application fault; and a body
/// that is not XML-RPC, posted raw, gets a fault (-32700 for broken XML,
/// -32600 for XML that is not a call) in a 200 `text/xml` response.
#[test]
fn python_sees_fault_codes() {
    let server = serve();
    let stdout = python(
        &server,
        r#"
p = proxy()
def fault(f, *args):
    try:
        f(*args)
        return "no fault"
    except xc.Fault as e:
        return "%d %s" % (e.faultCode, e.faultString)
print("unknown: " + fault(p.nope))
print("too few: " + fault(p.add, 1))
print("wrong type: " + fault(p.add, 1, "two"))
print("application: " + fault(p.fail, 1234))
print("negative: " + fault(p.fail, -5))

def raw(body):
    status, headers, data = post(body)
    try:
        xc.loads(data)
        return "%d no fault" % status
    except xc.Fault as e:
        return "%d %s %d" % (status, headers.get("content-type"), e.faultCode)
print("truncated: " + raw(b"<?xml version='1.0'?><methodCall><methodName>add</methodName><params><param><value><int>1"))
print("not xml: " + raw(b"this is not XML at all"))
print("empty: " + raw(b""))
print("not a call: " + raw(b"<?xml version='1.0'?><foo><bar/></foo>"))
print("still serving: %d" % p.add(2, 3))
"#,
    );
    assert!(line(&stdout, "unknown").starts_with("-32601 "), "{stdout}");
    let too_few = line(&stdout, "too few");
    assert!(too_few.starts_with("-32602 "), "{too_few}");
    let wrong = line(&stdout, "wrong type");
    assert!(
        wrong.starts_with("-32602 ") && wrong.contains("parameter 2"),
        "{wrong}"
    );
    assert_eq!(
        line(&stdout, "application"),
        "1234 failed on purpose with code 1234"
    );
    assert_eq!(
        line(&stdout, "negative"),
        "-5 failed on purpose with code -5"
    );
    assert_eq!(line(&stdout, "truncated"), "200 text/xml -32700");
    assert_eq!(line(&stdout, "not xml"), "200 text/xml -32700");
    assert_eq!(line(&stdout, "empty"), "200 text/xml -32700");
    assert_eq!(line(&stdout, "not a call"), "200 text/xml -32600");
    assert_eq!(line(&stdout, "still serving"), "5");
}

/// A request body over the server's limit (10 MiB by default) is a 413 that
/// Python's client reports as `ProtocolError`, promptly and without a
/// connection reset; the next call works.
#[test]
fn python_oversized_request_gets_413() {
    let server = serve();
    let stdout = python(
        &server,
        r#"
p = proxy()
start = time.monotonic()
try:
    p.length("x" * 11000000)
    print("oversized: no error")
except xc.ProtocolError as e:
    print("oversized: ProtocolError %d" % e.errcode)
print("prompt: %s" % (time.monotonic() - start < 10))
print("next call: %d" % p.add(40, 2))
"#,
    );
    assert_eq!(line(&stdout, "oversized"), "ProtocolError 413");
    assert_eq!(line(&stdout, "prompt"), "True");
    assert_eq!(line(&stdout, "next call"), "42");
}

/// Responses over 1400 bytes are gzipped exactly when the client sends
/// `Accept-Encoding: gzip` (checked with http.client), and Python's
/// ServerProxy, which always sends it, decodes them; small responses are
/// never gzipped.
#[test]
fn python_gets_gzipped_responses_only_when_accepted() {
    let server = serve();
    let stdout = python(
        &server,
        r#"
call = xc.dumps((100000,), "text").encode()
status, headers, body = post(call, {"Accept-Encoding": "gzip"})
print("gzip accepted: %d %s %d" % (status, headers.get("content-encoding"), len(body)))
value = xc.loads(gzip.decompress(body), use_builtin_types=True)[0][0]
print("decoded: %d %s" % (len(value), value[:12]))

status, headers, body = post(call, {"Accept-Encoding": "identity"})
print("identity: %d %s %d" % (status, headers.get("content-encoding"), len(body)))
print("plain: %d" % len(xc.loads(body)[0][0]))

status, headers, body = post(xc.dumps((10,), "text").encode(), {"Accept-Encoding": "gzip"})
print("small: %d %s" % (status, headers.get("content-encoding")))

# ServerProxy sends Accept-Encoding: gzip itself and decodes the answer.
out = proxy().text(300000)
print("proxy: %d %s" % (len(out), out[-6:]))
"#,
    );
    let accepted = line(&stdout, "gzip accepted");
    assert!(accepted.starts_with("200 gzip "), "{accepted}");
    let compressed: usize = accepted.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(
        compressed < 10_000,
        "100 kB of text gzipped to {compressed}"
    );
    assert_eq!(line(&stdout, "decoded"), "100000 0123456789ab");
    let identity = line(&stdout, "identity");
    assert!(identity.starts_with("200 None "), "{identity}");
    assert_eq!(line(&stdout, "plain"), "100000");
    assert_eq!(line(&stdout, "small"), "200 None");
    assert_eq!(
        line(&stdout, "proxy"),
        format!("300000 {}", &text(300000)[300000 - 6..])
    );
}

/// A gzip-encoded request body (Python's Transport with `encode_threshold`
/// set sends `Content-Encoding: gzip`) is decoded; the server received far
/// fewer bytes than the call's size. A corrupt or truncated gzip body is a
/// 400, an unknown content coding a 501.
#[test]
fn python_gzip_request_bodies_and_corrupt_ones() {
    let server = serve();
    let stdout = python(
        &server,
        r#"
before = metric("received_bytes_total")
t = xc.Transport(use_builtin_types=True)
t.encode_threshold = 0   # gzip every request body
p = xc.ServerProxy(URL, transport=t, allow_none=True, use_builtin_types=True)
s = "compress me " * 100000
print("length: %d" % p.length(s))
print("echo: %s" % (p.echo(s) == s))
received = metric("received_bytes_total") - before
print("received under 100 kB: %s (%d)" % (received < 100000, received))

status, headers, body = post(b"\x1f\x8b\x08\x00 this is not deflate data", {"Content-Encoding": "gzip"})
print("corrupt: %d" % status)
good = gzip.compress(xc.dumps((40, 2), "add").encode())
status, headers, body = post(good[:len(good) // 2], {"Content-Encoding": "gzip"})
print("truncated: %d" % status)
status, headers, body = post(good, {"Content-Encoding": "gzip"})
print("good: %d %r" % (status, xc.loads(body)[0]))
status, headers, body = post(xc.dumps((1, 2), "add").encode(), {"Content-Encoding": "deflate"})
print("deflate: %d" % status)
"#,
    );
    assert_eq!(line(&stdout, "length"), "1200000");
    assert_eq!(line(&stdout, "echo"), "True");
    assert!(
        line(&stdout, "received under 100 kB").starts_with("True"),
        "{stdout}"
    );
    assert_eq!(line(&stdout, "corrupt"), "400");
    assert_eq!(line(&stdout, "truncated"), "400");
    assert_eq!(line(&stdout, "good"), "200 (42,)");
    // A coding we do not read is 501, as Python's server answers.
    assert_eq!(line(&stdout, "deflate"), "501");
}

/// A gzip body of several members (RFC 1952 allows a series; Python's
/// `gzip.decompress` and its own server read them all) is decoded whole;
/// bytes after the last member are a corrupt body (400), as in Python.
#[test]
fn python_multi_member_gzip_body_is_decoded_whole() {
    let server = serve();
    let stdout = python(
        &server,
        r#"
call = xc.dumps(("multi member",), "echo").encode()
body = gzip.compress(call[:40]) + gzip.compress(call[40:])
assert gzip.decompress(body) == call
status, headers, data = post(body, {"Content-Encoding": "gzip"})
try:
    print("two members: %d %r" % (status, xc.loads(data)[0]))
except xc.Fault as f:
    print("two members: %d Fault %d %s" % (status, f.faultCode, f.faultString))
status, headers, data = post(gzip.compress(call) + b"trailing garbage", {"Content-Encoding": "gzip"})
print("trailing garbage: %d" % status)
"#,
    );
    assert_eq!(line(&stdout, "two members"), "200 ('multi member',)");
    assert_eq!(line(&stdout, "trailing garbage"), "400");
}

/// Our server closing an idle kept-alive connection (quietly, as
/// `idle_timeout` says) does not trouble Python's client: its next call
/// retries on a new connection and succeeds.
#[test]
fn python_retries_after_our_idle_close() {
    let config = HttpConfig {
        idle_timeout: Duration::from_millis(300),
        ..HttpConfig::default()
    };
    let server = serve_with(config);
    let stdout = python(
        &server,
        r#"
p = proxy()
before = metric("connections_total")
print("first: %d" % p.add(1, 1))
time.sleep(1.0)
print("after idle close: %d" % p.add(40, 2))
print("accepted: %d" % (metric("connections_total") - before))
"#,
    );
    assert_eq!(line(&stdout, "first"), "2");
    assert_eq!(line(&stdout, "after idle close"), "42");
    // Two proxy connections and the second metrics request.
    assert_eq!(line(&stdout, "accepted"), "3");
}

/// A gzip bomb (1 GiB of zeros in a 1 MB body) is refused with 413 in well
/// under the time it would take to inflate it all, and the process's
/// resident memory stays far below the bomb's size; the server carries on.
#[test]
fn python_gzip_bomb_is_refused_promptly() {
    let server = serve();
    let script = r#"
import struct, zlib
zeros = bytes(1 << 20)
c = zlib.compressobj(9, zlib.DEFLATED, -15)
# A full flush makes the block self-contained and byte-aligned, so 1024
# copies of it inflate to 1024 MiB of zeros.
block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
tail = c.flush(zlib.Z_FINISH)
crc = 0
for _ in range(1024):
    crc = zlib.crc32(zeros, crc)
bomb = (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + block * 1024 + tail
        + struct.pack("<II", crc, (1024 << 20) & 0xffffffff))
print("bomb bytes: %d" % len(bomb))
start = time.monotonic()
status, headers, body = post(bomb, {"Content-Encoding": "gzip"})
elapsed = time.monotonic() - start
print("status: %d" % status)
print("prompt: %s (%.2f s)" % (elapsed < 10, elapsed))
print("after: %d" % proxy().add(40, 2))
"#;
    let baseline = rss_kib("self");
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(format!("{}\n{}", prelude(&server), script))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    // Sample our own RSS (the server runs in this process) while Python
    // sends the bomb.
    let mut peak = baseline;
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() && Instant::now() < deadline {
        peak = peak.max(rss_kib("self"));
        std::thread::sleep(Duration::from_millis(5));
    }
    let output = child.wait_with_output().expect("python output");
    let stdout = check(&output);
    let bomb: usize = line(&stdout, "bomb bytes").parse().unwrap();
    assert!(bomb < 2_000_000, "the bomb is small on the wire: {bomb}");
    assert_eq!(line(&stdout, "status"), "413");
    assert!(line(&stdout, "prompt").starts_with("True"), "{stdout}");
    assert_eq!(line(&stdout, "after"), "42");
    let growth_mib = peak.saturating_sub(baseline) / 1024;
    assert!(
        growth_mib < 128,
        "resident memory grew by {growth_mib} MiB while refusing a 1 GiB bomb"
    );
}

/// One ServerProxy making 100 calls uses one TCP connection: the same
/// local port on the Python side, and one accepted connection on ours
/// (`medusa_connections_total`, besides the two metrics requests).
#[test]
fn python_keeps_one_connection_for_100_calls() {
    let server = serve();
    let stdout = python(
        &server,
        r#"
before = metric("connections_total")
p = proxy()
ports = set()
for i in range(100):
    assert p.add(i, 1) == i + 1
    ports.add(p("transport")._connection[1].sock.getsockname()[1])
after = metric("connections_total")
print("local ports: %d" % len(ports))
print("accepted: %d" % (after - before))
"#,
    );
    assert_eq!(line(&stdout, "local ports"), "1");
    // The proxy's connection plus the second metrics request's own.
    assert_eq!(line(&stdout, "accepted"), "2");
}

/// `system.listMethods`, `methodHelp`, `methodSignature` and
/// `getCapabilities` through ServerProxy.
#[test]
fn python_introspection() {
    let server = serve();
    let stdout = python(
        &server,
        r#"
p = proxy()
names = p.system.listMethods()
print("methods: %s" % " ".join(names))
print("help: %s" % p.system.methodHelp("add"))
print("signature: %r" % p.system.methodSignature("add"))
print("no signature: %r" % p.system.methodSignature("big"))
caps = p.system.getCapabilities()
print("capabilities: %s" % " ".join(sorted(caps)))
print("faults_interop: %d" % caps["faults_interop"]["specVersion"])
try:
    p.system.methodHelp("nope")
except xc.Fault as f:
    print("help of unknown: %d" % f.faultCode)
"#,
    );
    let methods: Vec<&str> = line(&stdout, "methods").split(' ').collect();
    for name in [
        "add",
        "big",
        "crlf",
        "echo",
        "fail",
        "length",
        "text",
        "system.getCapabilities",
        "system.listMethods",
        "system.methodHelp",
        "system.methodSignature",
        "system.multicall",
    ] {
        assert!(methods.contains(&name), "{name} missing from {methods:?}");
    }
    assert_eq!(line(&stdout, "help"), "Adds two integers.");
    assert_eq!(line(&stdout, "signature"), "[['int', 'int', 'int']]");
    assert_eq!(line(&stdout, "no signature"), "'undef'");
    assert_eq!(
        line(&stdout, "capabilities"),
        "faults_interop introspect multicall nil xmlrpc"
    );
    assert_eq!(line(&stdout, "faults_interop"), "20010516");
    assert_eq!(line(&stdout, "help of unknown"), "-32601");
}

/// A GET on the endpoint is an HTML page listing the methods with their
/// help and signatures.
#[test]
fn python_get_on_the_endpoint_lists_methods() {
    let server = serve();
    let stdout = python(
        &server,
        r#"
import urllib.request
r = urllib.request.urlopen(URL)
print("status: %d" % r.status)
print("type: %s" % r.headers["Content-Type"])
sys.stdout.write(r.read().decode())
"#,
    );
    assert_eq!(line(&stdout, "status"), "200");
    assert_eq!(line(&stdout, "type"), "text/html; charset=utf-8");
    assert!(stdout.contains("<!DOCTYPE html>"), "{stdout}");
    for needle in [
        "<code>add</code>",
        "Adds two integers.",
        "add(int, int) &rarr; int",
        "<code>echo</code>",
        "<code>system.listMethods</code>",
        "<code>system.multicall</code>",
    ] {
        assert!(
            stdout.contains(needle),
            "{needle:?} missing from:\n{stdout}"
        );
    }
}
