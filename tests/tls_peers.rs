//! TLS with third-party peers that `tests/tls.rs` does not cover: both of
//! our clients against Python's `SimpleXMLRPCServer` wrapped in `ssl`
//! (HTTP/1.0, a close after every answer) and against a Python peer that
//! closes kept-alive connections; the blocking and the reactor client
//! keeping one TLS connection alive to medusad, and recovering when
//! medusad closed it while idle; `openssl s_client` against medusad (TLS
//! 1.3 and 1.2, ALPN, a real ClientHello cut short). Certificates are made at test time
//! (`tests/util/tls.rs`); medusad's counters are read in plain HTTP on a
//! `--unix` socket beside the TLS port (one server, one set of counters).

mod util;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use medusa::reactor::Reactor;
use medusa::xmlrpc::{AsyncClient, AsyncClientConfig, CallResult, Client, ClientError, Value};

use util::daemon::Daemon;
use util::python::PythonServer;
use util::tls::TestPki;

/// Python's `SimpleXMLRPCServer` with its listening socket wrapped by
/// `ssl` (so each accepted connection does the handshake in `accept`):
/// `add`, `echo`, and `boom`, which raises. Prints its port.
const PYTHON_TLS_SERVER: &str = r#"
import ssl, sys, xmlrpc.server
cert, key = sys.argv[1], sys.argv[2]
server = xmlrpc.server.SimpleXMLRPCServer(("127.0.0.1", 0), logRequests=False)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
server.register_function(lambda a, b: a + b, "add")
server.register_function(lambda s: s, "echo")
def boom():
    raise ValueError("boom")
server.register_function(boom, "boom")
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

impl PythonServer {
    fn url(&self) -> String {
        format!("https://localhost:{}/RPC2", self.port)
    }
}

fn add(a: i32, b: i32) -> Vec<Value> {
    vec![Value::Int(a), Value::Int(b)]
}

/// A string of about 1 MiB, for a large echo.
fn big() -> Value {
    Value::String("0123456789abcdef".repeat(1 << 16))
}

/// A blocking client for `url` believing `ca`.
fn blocking(url: &str, ca: &Path) -> Client {
    let mut client = Client::new(url).unwrap();
    client.tls_mut().add_ca_file(ca).unwrap();
    client
}

/// A reactor client believing `ca`, on a reactor of its own.
fn reactor_client(ca: &Path) -> (Reactor, AsyncClient) {
    let mut reactor = Reactor::new().unwrap();
    let mut config = AsyncClientConfig::default();
    config.tls.add_ca_file(ca).unwrap();
    let client = AsyncClient::new(&mut reactor, config).unwrap();
    (reactor, client)
}

/// Makes `calls` (url, method, params) all at once on `client` and runs
/// the loop until each has its answer; the answers in the calls' order.
fn run_calls(
    reactor: &mut Reactor,
    client: &AsyncClient,
    calls: Vec<(String, &str, Vec<Value>)>,
) -> Vec<CallResult> {
    let results: Rc<RefCell<Vec<Option<CallResult>>>> =
        Rc::new(RefCell::new(calls.iter().map(|_| None).collect()));
    for (i, (url, method, params)) in calls.into_iter().enumerate() {
        let sink = results.clone();
        client.call(&url, method, params, move |r| {
            sink.borrow_mut()[i] = Some(r)
        });
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while results.borrow().iter().any(Option::is_none) {
        assert!(Instant::now() < deadline, "calls unanswered after 60 s");
        reactor.run_once(Some(Duration::from_millis(50))).unwrap();
    }
    let answers = results.borrow_mut().drain(..).map(Option::unwrap).collect();
    answers
}

/// One call on the reactor client, run to its answer.
fn run_call(
    reactor: &mut Reactor,
    client: &AsyncClient,
    url: &str,
    method: &str,
    params: Vec<Value>,
) -> CallResult {
    let mut answers = run_calls(reactor, client, vec![(url.to_string(), method, params)]);
    answers.pop().unwrap()
}

/// The fault of a call that should have raised in Python.
fn python_fault(result: Result<Value, ClientError>) -> (i32, String) {
    match result {
        Err(ClientError::Fault(fault)) => (fault.code, fault.message),
        other => panic!("a fault, not {other:?}"),
    }
}

/// The error of a call refused over TLS, as text.
fn refused(result: Result<Value, ClientError>) -> String {
    match result {
        Err(e) => e.to_string(),
        Ok(value) => panic!("the certificate was accepted: {value:?}"),
    }
}

/// Our clients against Python's `SimpleXMLRPCServer` over `ssl`: it
/// answers in HTTP/1.0 and closes every connection, so each call is a new
/// connection and handshake; results, a fault and a 1 MiB echo arrive
/// whole, and the server goes on after a client refused its certificate.
#[test]
fn both_clients_call_python_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path(), "", &["localhost"]);
    let server = PythonServer::start(PYTHON_TLS_SERVER, &[&pki.cert, &pki.key]);
    let url = server.url();

    let mut client = blocking(&url, &pki.ca);
    for i in 0..5 {
        assert_eq!(client.call("add", add(40, i)).unwrap(), Value::Int(40 + i));
    }
    let (code, message) = python_fault(client.call("boom", vec![]));
    assert_eq!(code, 1, "Python's code for an exception");
    assert!(
        message.contains("ValueError") && message.contains("boom"),
        "{message}"
    );
    assert_eq!(client.call("add", add(1, 2)).unwrap(), Value::Int(3));
    let big = big();
    assert_eq!(client.call("echo", vec![big.clone()]).unwrap(), big);

    let (mut reactor, async_client) = reactor_client(&pki.ca);
    let mut calls: Vec<(String, &str, Vec<Value>)> =
        (0..5).map(|i| (url.clone(), "add", add(40, i))).collect();
    calls.push((url.clone(), "boom", vec![]));
    calls.push((url.clone(), "echo", vec![big.clone()]));
    let mut answers = run_calls(&mut reactor, &async_client, calls);
    assert_eq!(answers.pop().unwrap().unwrap(), big);
    let (code, message) = python_fault(answers.pop().unwrap());
    assert_eq!(code, 1);
    assert!(message.contains("boom"), "{message}");
    for (i, answer) in (0..).zip(answers) {
        assert_eq!(answer.unwrap(), Value::Int(40 + i));
    }
    // Sequential calls too, each after the last connection was closed.
    for i in 0..3 {
        let answer = run_call(&mut reactor, &async_client, &url, "add", add(i, i));
        assert_eq!(answer.unwrap(), Value::Int(2 * i));
    }
    async_client.close();
}

/// A Python server whose certificate names another host, or comes from a
/// CA the client was not given, is refused by both clients, the error
/// naming the certificate; the good server is still called after.
#[test]
fn both_clients_refuse_a_python_server_with_the_wrong_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let good = TestPki::new(dir.path(), "", &["localhost"]);
    let other = TestPki::new(dir.path(), "other-", &["example.invalid"]);
    let wrong_name = PythonServer::start(PYTHON_TLS_SERVER, &[&other.cert, &other.key]);
    let good_server = PythonServer::start(PYTHON_TLS_SERVER, &[&good.cert, &good.key]);

    // Its CA is believed, but the leaf is for example.invalid.
    let error = refused(blocking(&wrong_name.url(), &other.ca).call("add", add(1, 1)));
    assert!(error.contains("certificate"), "{error}");
    assert!(error.contains("name"), "the name is what is wrong: {error}");
    // Only the good server's CA is believed.
    let error = refused(blocking(&wrong_name.url(), &good.ca).call("add", add(1, 1)));
    assert!(error.contains("certificate"), "{error}");
    assert!(error.contains("UnknownIssuer"), "{error}");

    let (mut r1, by_other_ca) = reactor_client(&other.ca);
    let error = refused(run_call(
        &mut r1,
        &by_other_ca,
        &wrong_name.url(),
        "add",
        add(1, 1),
    ));
    assert!(
        error.contains("certificate") && error.contains("name"),
        "{error}"
    );
    let (mut r2, by_good_ca) = reactor_client(&good.ca);
    let error = refused(run_call(
        &mut r2,
        &by_good_ca,
        &wrong_name.url(),
        "add",
        add(1, 1),
    ));
    assert!(
        error.contains("certificate") && error.contains("UnknownIssuer"),
        "{error}"
    );

    // The refusals cost the Python servers nothing; the right CA works.
    let answer = run_call(&mut r2, &by_good_ca, &good_server.url(), "add", add(40, 2));
    assert_eq!(answer.unwrap(), Value::Int(42));
    let mut client = blocking(&good_server.url(), &good.ca);
    assert_eq!(client.call("add", add(40, 2)).unwrap(), Value::Int(42));
    by_other_ca.close();
    by_good_ca.close();
}

/// medusad over TLS with `extra` flags and a plain `--unix` socket beside
/// the TLS port, for reading its counters.
struct TlsDaemon {
    daemon: Daemon,
    sock: PathBuf,
    url: String,
}

fn start_medusad(pki: &TestPki, dir: &Path, extra: &[&str]) -> TlsDaemon {
    let sock = dir.join("plain.sock");
    let mut args = vec![
        "--tls-cert",
        pki.cert.to_str().unwrap(),
        "--tls-key",
        pki.key.to_str().unwrap(),
        "--unix",
        sock.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let mut daemon = Daemon::start(&args);
    daemon.wait_for("listening on unix:");
    let url = format!("https://localhost:{}/RPC2", daemon.addr.port());
    TlsDaemon { daemon, sock, url }
}

impl TlsDaemon {
    /// `/status/metrics`, fetched in plain HTTP on the Unix socket (itself
    /// one connection, never a TLS one).
    fn metrics(&self) -> Metrics {
        let mut conn = UnixStream::connect(&self.sock).expect("connect to --unix");
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn.write_all(b"GET /status/metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        conn.read_to_string(&mut text).unwrap();
        assert!(text.starts_with("HTTP/1.0 200"), "{text}");
        Metrics(text)
    }

    /// Waits (polling the counters, 15 s at most) until only the
    /// connection reading them is open: medusad closed every other.
    fn wait_all_closed(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let metrics = self.metrics();
            if metrics.get("medusa_connections_open") == 1 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "medusad kept connections open past its --idle-timeout: {}",
                metrics.0
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

struct Metrics(String);

impl Metrics {
    /// The value of the sample named exactly `name` (labels included).
    fn get(&self, name: &str) -> u64 {
        self.0
            .lines()
            .filter_map(|l| l.rsplit_once(' '))
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {}", self.0))
    }

    /// TLS connections whose handshake completed, either version.
    fn handshakes(&self) -> u64 {
        self.get("medusa_tls_handshakes_total{version=\"1.3\"}")
            + self.get("medusa_tls_handshakes_total{version=\"1.2\"}")
    }
}

/// The blocking client makes 20 calls and a 1 MiB echo to medusad on one
/// TCP connection with one TLS handshake (medusad counts one TLS
/// connection accepted, and it is still open afterwards).
#[test]
fn blocking_client_keeps_one_tls_connection_alive() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path(), "", &["localhost"]);
    let medusad = start_medusad(&pki, dir.path(), &[]);
    let before = medusad.metrics();
    assert_eq!(before.handshakes(), 0);

    let mut client = blocking(&medusad.url, &pki.ca);
    for i in 0..20 {
        assert_eq!(client.call("add", add(i, 1)).unwrap(), Value::Int(i + 1));
    }
    let big = big();
    assert_eq!(client.call("echo", vec![big.clone()]).unwrap(), big);
    let after = medusad.metrics();
    assert_eq!(after.handshakes(), 1, "one TLS connection for 21 calls");
    // Accepted since `before`: the TLS connection and this second read.
    let accepted = after.get("medusa_connections_total") - before.get("medusa_connections_total");
    assert_eq!(accepted, 2, "{}", after.0);
    assert_eq!(
        after.get("medusa_connections_open"),
        2,
        "the client's is open"
    );
    assert_eq!(after.get("medusa_tls_handshake_failures_total"), 0);
    medusad
        .daemon
        .terminate("medusad after 20 kept-alive calls");
}

/// The reactor client's sequential calls to medusad (20, and a 1 MiB
/// echo) reuse its one pooled TLS connection.
#[test]
fn reactor_client_reuses_its_tls_connection_for_sequential_calls() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path(), "", &["localhost"]);
    let medusad = start_medusad(&pki, dir.path(), &[]);
    let before = medusad.metrics();

    let (mut reactor, client) = reactor_client(&pki.ca);
    for i in 0..20 {
        let answer = run_call(&mut reactor, &client, &medusad.url, "add", add(i, 2));
        assert_eq!(answer.unwrap(), Value::Int(i + 2));
    }
    let big = big();
    let answer = run_call(
        &mut reactor,
        &client,
        &medusad.url,
        "echo",
        vec![big.clone()],
    );
    assert_eq!(answer.unwrap(), big);
    let after = medusad.metrics();
    assert_eq!(after.handshakes(), 1, "one TLS connection for 21 calls");
    let accepted = after.get("medusa_connections_total") - before.get("medusa_connections_total");
    assert_eq!(accepted, 2, "{}", after.0);
    assert_eq!(
        after.get("medusa_connections_open"),
        2,
        "the pooled one is open"
    );
    client.close();
    medusad
        .daemon
        .terminate("medusad after the reactor client's calls");
}

/// medusad (`--idle-timeout 1`) closes the blocking client's kept-alive
/// TLS connection while it is idle; the next call does not fail: the
/// client finds the connection closed and sends again on a new one.
#[test]
fn blocking_client_retries_when_medusad_closed_the_tls_connection() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path(), "", &["localhost"]);
    let medusad = start_medusad(&pki, dir.path(), &["--idle-timeout", "1"]);

    let mut client = blocking(&medusad.url, &pki.ca);
    assert_eq!(client.call("add", add(40, 2)).unwrap(), Value::Int(42));
    medusad.wait_all_closed();
    assert_eq!(client.call("add", add(1, 2)).unwrap(), Value::Int(3));
    assert_eq!(client.call("add", add(3, 4)).unwrap(), Value::Int(7));
    let metrics = medusad.metrics();
    assert_eq!(
        metrics.handshakes(),
        2,
        "one new TLS connection for the retry"
    );
    assert_eq!(metrics.get("medusa_connections_open"), 2, "{}", metrics.0);
    medusad
        .daemon
        .terminate("medusad after a stale TLS connection");
}

/// The same for the reactor client: medusad closes its pooled TLS
/// connection while the loop is not even running; the next call is
/// answered on a new connection.
#[test]
fn reactor_client_recovers_when_medusad_closed_the_tls_connection() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path(), "", &["localhost"]);
    let medusad = start_medusad(&pki, dir.path(), &["--idle-timeout", "1"]);

    let (mut reactor, client) = reactor_client(&pki.ca);
    let answer = run_call(&mut reactor, &client, &medusad.url, "add", add(40, 2));
    assert_eq!(answer.unwrap(), Value::Int(42));
    medusad.wait_all_closed();
    let answer = run_call(&mut reactor, &client, &medusad.url, "add", add(1, 2));
    assert_eq!(answer.unwrap(), Value::Int(3));
    let metrics = medusad.metrics();
    assert_eq!(metrics.handshakes(), 2, "one new TLS connection");
    client.close();
    medusad
        .daemon
        .terminate("medusad after the reactor client's stale connection");
}

/// A keep-alive HTTP/1.1 XML-RPC peer over `ssl` that answers the first
/// request on each connection and closes the connection when the second
/// arrives, unanswered: a kept-alive connection found closed just as a
/// call is sent, every time. Each answer is the number of connections
/// accepted so far. `eof` closes without close_notify (what rustls calls
/// an unexpected EOF), `notify` sends close_notify first.
const PYTHON_CLOSES_KEPT_ALIVE: &str = r#"
import socket, ssl, sys
cert, key, mode = sys.argv[1], sys.argv[2], sys.argv[3]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
listener = socket.create_server(("127.0.0.1", 0))
print(listener.getsockname()[1], flush=True)

def request(f):
    if not f.readline():
        return False
    length = 0
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    f.read(length)
    return True

accepted = 0
while True:
    raw, _ = listener.accept()
    try:
        conn = ctx.wrap_socket(raw, server_side=True)
    except OSError:
        continue
    accepted += 1
    f = conn.makefile("rb")
    if request(f):
        body = (b"<?xml version='1.0'?><methodResponse><params><param>"
                b"<value><int>%d</int></value></param></params></methodResponse>" % accepted)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        request(f)
    f.close()
    if mode == "notify":
        conn.settimeout(10)
        try:
            conn.unwrap()
        except OSError:
            pass
    conn.close()
"#;

/// Over TLS, a kept-alive connection the server closed (with or without
/// close_notify) just as a call went out: both clients send the call again,
/// once, on a new connection, and the caller only sees the answer. Call
/// `n` is answered by connection `n`: each call after the first was
/// retried exactly once.
#[test]
fn both_clients_retry_once_when_a_kept_alive_tls_connection_was_closed() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path(), "", &["localhost"]);
    for mode in ["eof", "notify"] {
        let blocking_peer = PythonServer::start(
            PYTHON_CLOSES_KEPT_ALIVE,
            &[&pki.cert, &pki.key, Path::new(mode)],
        );
        let mut client = blocking(&blocking_peer.url(), &pki.ca);
        for n in 1..=4 {
            let answer = client.call("add", add(1, 1));
            assert_eq!(answer.unwrap(), Value::Int(n), "blocking client, {mode}");
        }

        let reactor_peer = PythonServer::start(
            PYTHON_CLOSES_KEPT_ALIVE,
            &[&pki.cert, &pki.key, Path::new(mode)],
        );
        let (mut reactor, client) = reactor_client(&pki.ca);
        for n in 1..=4 {
            let answer = run_call(&mut reactor, &client, &reactor_peer.url(), "add", add(1, 1));
            assert_eq!(answer.unwrap(), Value::Int(n), "reactor client, {mode}");
        }
        client.close();
    }
}

/// What `openssl s_client` printed (stdout, then stderr) and whether it
/// exited with success.
struct SClient {
    output: String,
    success: bool,
}

/// Runs `openssl s_client` against 127.0.0.1:`port` with `args`, an HTTP
/// request on its stdin; `-ign_eof` keeps it reading after its stdin ends,
/// until the server closes (the request says `Connection: close`).
///
/// medusad ends the connection after `Connection: close` with a
/// close_notify; without one, openssl 3 reports "unexpected eof while
/// reading" and exits 1.
fn s_client(port: u16, args: &[&str]) -> SClient {
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-servername", "localhost", "-ign_eof"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl runs (it is required for these tests)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let reader = |mut from: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = from.read_to_string(&mut text);
            text
        })
    };
    let stdout = reader(Box::new(child.stdout.take().unwrap()));
    let stderr = reader(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("openssl s_client still running after 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = stdout.join().unwrap() + &stderr.join().unwrap();
    SClient {
        output,
        success: status.success(),
    }
}

/// `openssl s_client` with TLS 1.3 only, then TLS 1.2 only: the
/// certificate verifies against the test CA for the name localhost, the
/// version asked for is the one negotiated, ALPN picks http/1.1, and the
/// request is answered with a 200. With a CA that did not sign the
/// certificate, openssl reports a verify failure (the setup's sanity).
#[test]
fn openssl_s_client_speaks_tls_1_3_and_1_2_with_alpn() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path(), "", &["localhost"]);
    let stranger = TestPki::new(dir.path(), "stranger-", &["localhost"]);
    let medusad = start_medusad(&pki, dir.path(), &[]);
    let port = medusad.daemon.addr.port();
    let ca = pki.ca.to_str().unwrap();
    for (flag, version) in [("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")] {
        let run = s_client(
            port,
            &[
                "-CAfile",
                ca,
                "-verify_hostname",
                "localhost",
                "-alpn",
                "http/1.1",
                flag,
            ],
        );
        let out = &run.output;
        assert!(out.contains("Verify return code: 0 (ok)"), "{flag}: {out}");
        // The close was announced (close_notify), not a truncation.
        assert!(
            run.success && !out.contains("unexpected eof"),
            "{flag}: {out}"
        );
        assert!(
            out.contains(&format!("New, {version}, Cipher is ")),
            "{out}"
        );
        assert!(out.contains(&format!("Protocol  : {version}")), "{out}");
        assert!(out.contains("ALPN protocol: http/1.1"), "{flag}: {out}");
        assert!(out.contains("\nHTTP/1.1 200 OK\r\n"), "{flag}: {out}");
        assert!(
            out.contains("<title>medusa status</title>"),
            "{flag}: {out}"
        );
    }
    let metrics = medusad.metrics();
    assert_eq!(
        metrics.get("medusa_tls_handshakes_total{version=\"1.3\"}"),
        1
    );
    assert_eq!(
        metrics.get("medusa_tls_handshakes_total{version=\"1.2\"}"),
        1
    );

    let run = s_client(
        port,
        &[
            "-CAfile",
            stranger.ca.to_str().unwrap(),
            "-verify_return_error",
            "-tls1_3",
        ],
    );
    assert!(!run.success, "{}", run.output);
    assert!(
        run.output.contains("Verify return code: "),
        "{}",
        run.output
    );
    assert!(
        !run.output.contains("Verify return code: 0 (ok)"),
        "{}",
        run.output
    );
    assert!(!run.output.contains("HTTP/1.1 200"), "{}", run.output);
    medusad.daemon.terminate("medusad after openssl s_client");
}

/// The first TLS record a real `openssl s_client` sends (its ClientHello),
/// read by a plain TCP listener of ours.
fn real_client_hello() -> Vec<u8> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut openssl = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-servername", "localhost", "-alpn", "http/1.1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl runs (it is required for these tests)");
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut conn = loop {
        match listener.accept() {
            Ok((conn, _)) => break conn,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("accept: {e}"),
        }
        if let Some(status) = openssl.try_wait().unwrap() {
            panic!("openssl s_client exited ({status}) without connecting");
        }
        assert!(Instant::now() < deadline, "openssl did not connect");
        std::thread::sleep(Duration::from_millis(20));
    };
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut record = vec![0; 5];
    conn.read_exact(&mut record).unwrap();
    assert_eq!(record[0], 0x16, "a handshake record: {record:?}");
    let length = usize::from(u16::from_be_bytes([record[3], record[4]]));
    record.resize(5 + length, 0);
    conn.read_exact(&mut record[5..]).unwrap();
    assert_eq!(record[5], 0x01, "a ClientHello");
    drop(conn);
    let _ = openssl.kill();
    let _ = openssl.wait();
    record
}

/// A connection that sends the first half of a real ClientHello and
/// stalls gets no ServerHello, and is closed by medusad's
/// `--idle-timeout` (1 s here; 15 s allowed); `openssl s_client` is served
/// meanwhile.
#[test]
fn a_stalled_real_client_hello_is_closed_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path(), "", &["localhost"]);
    let hello = real_client_hello();
    let medusad = start_medusad(&pki, dir.path(), &["--idle-timeout", "1"]);

    let mut stalled = TcpStream::connect(medusad.daemon.addr).unwrap();
    // The record header and part of the ClientHello: a handshake that
    // cannot go on until the rest comes.
    stalled.write_all(&hello[..hello.len() / 2]).unwrap();

    let run = s_client(
        medusad.daemon.addr.port(),
        &["-CAfile", pki.ca.to_str().unwrap(), "-tls1_3"],
    );
    assert!(
        run.output.contains("Verify return code: 0 (ok)"),
        "{}",
        run.output
    );
    assert!(
        run.output.contains("\nHTTP/1.1 200 OK\r\n"),
        "{}",
        run.output
    );

    stalled
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stalled.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the stalled handshake was not closed within 15 s: {e}"),
        }
    }
    assert!(
        got.is_empty() || got[0] == 0x15,
        "nothing, or an alert, never a ServerHello: {got:?}"
    );
    let metrics = medusad.metrics();
    assert_eq!(metrics.handshakes(), 1, "openssl's");
    assert_eq!(metrics.get("medusa_connections_open"), 1, "{}", metrics.0);
    medusad
        .daemon
        .terminate("medusad after a stalled ClientHello");
}
