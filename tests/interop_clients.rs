//! Our client against a real third-party server, and real third-party
//! clients against our server:
//!
//! - `medusa::xmlrpc::Client` and `Transport` against Python's
//!   `xmlrpc.server.SimpleXMLRPCServer` (a subprocess);
//! - xmlrpc-c, both its command-line tool `xmlrpc` and its C client library
//!   (a small program compiled here), against our server;
//! - curl with hand-written `methodCall` documents, checking the exact
//!   bytes of the `methodResponse`, and `--compressed`.
//!
//! xmlrpc-c comes from Debian's `libxmlrpc-core-c3-dev` (which ships
//! `/usr/bin/xmlrpc`, `xmlrpc-c-config` and the libraries; the package
//! named `xmlrpc-api-utils` does not have the tool); `.ci/run` installs it.
//! Where it is missing the xmlrpc-c tests say so on stderr and pass
//! without checking anything.

mod util;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Seek};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::{Mutex, Once};
use std::time::Duration;

use medusa::handlers::{StatusHandler, XmlRpcHandler};
use medusa::http::{HttpConfig, HttpServer};
use medusa::xmlrpc::{
    dumps, loads, Client, ClientError, DateTime, Fault, Registry, Transport, Value,
};
use util::curl::{curl, header};
use util::*;

// ---------------------------------------------------------------------------
// Our client against Python's SimpleXMLRPCServer.
// ---------------------------------------------------------------------------

/// The Python server. `PROTOCOL`, `IDLE`, `MULTI_MEMBER` and `REQUIRED_AUTH`
/// are filled in: the HTTP version it answers with (1.1 keeps connections
/// alive), how long it lets a kept-alive connection sit idle before closing
/// it, whether it gzips answers as two gzip members instead of one, and the
/// `"user:password"` it wants as Basic credentials (or `None`).
const PYTHON_SERVER: &str = r#"
import base64, datetime, os, signal, socketserver, sys, threading
import xmlrpc.client as xc
from xmlrpc.server import SimpleXMLRPCServer, SimpleXMLRPCRequestHandler

signal.alarm(60)  # never outlive a stuck test
lock = threading.Lock()
counts = {"connections": 0, "gzipped": 0, "idle_closes": 0}

def count(name):
    with lock:
        counts[name] += 1

class Handler(SimpleXMLRPCRequestHandler):
    protocol_version = "HTTP/PROTOCOL"
    timeout = IDLE  # an idle kept-alive connection is closed after this

    def setup(self):
        count("connections")
        super().setup()

    def send_header(self, name, value):
        if name == "Content-Encoding" and value == "gzip":
            count("gzipped")
        super().send_header(name, value)

    def log_message(self, format, *args):
        if "timed out" in format % args:
            count("idle_closes")

    # The standard library has no server-side auth; this is the usual recipe.
    def parse_request(self):
        if not super().parse_request():
            return False
        if REQUIRED_AUTH is None:
            return True
        expected = "Basic " + base64.b64encode(REQUIRED_AUTH.encode()).decode()
        if self.headers.get("Authorization") == expected:
            return True
        self.send_error(401, "wrong or missing credentials")
        return False

class Server(socketserver.ThreadingMixIn, SimpleXMLRPCServer):
    daemon_threads = True

if MULTI_MEMBER:
    # RFC 1952: a gzip body is a series of members; Python's client reads
    # them all. The server calls this module-level name.
    import gzip, xmlrpc.server
    def two_members(data):
        half = len(data) // 2
        return gzip.compress(data[:half]) + gzip.compress(data[half:])
    xmlrpc.server.gzip_encode = two_members

server = Server(("127.0.0.1", 0), requestHandler=Handler, allow_none=True,
                use_builtin_types=True, logRequests=False)

def fault42():
    raise xc.Fault(42, "The answer is not a fault")

def crash():
    raise ValueError("boom")

def types():
    return {
        "int": 7, "min": -2**31, "max": 2**31 - 1,
        "str": "héllo ✓ <&> 😀", "empty_str": "",
        "float": 0.1, "huge": 1e300, "tiny": 5e-324, "negzero": -0.0, "neg": -2.5,
        "true": True, "false": False, "none": None,
        "bytes": xc.Binary(bytes(range(256))), "empty_bytes": b"",
        "when": datetime.datetime(2024, 2, 29, 23, 59, 58),
        "nested": [1, ["two", [3.5, {"deep": []}]], {}],
    }

server.register_function(lambda a, b: a + b, "add")
server.register_function(lambda x: x, "echo")
server.register_function(fault42, "fault42")
server.register_function(crash, "crash")
server.register_function(types, "types")
server.register_function(lambda n: ("0123456789" * (n // 10 + 1))[:n], "text")
server.register_function(lambda name: counts[name], "count")
server.register_introspection_functions()
server.register_multicall_functions()

def exit_when_stdin_closes():
    sys.stdin.read()
    os._exit(0)
threading.Thread(target=exit_when_stdin_closes, daemon=True).start()

print(server.server_address[1], flush=True)
server.serve_forever()
"#;

/// A `SimpleXMLRPCServer` subprocess; killed when dropped (and it exits by
/// itself when our end of its stdin closes, or after 60 s).
struct PythonServer {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
}

impl PythonServer {
    fn start(protocol: &str, idle_seconds: f64) -> PythonServer {
        PythonServer::start_with(protocol, idle_seconds, false)
    }

    fn start_with(protocol: &str, idle_seconds: f64, multi_member: bool) -> PythonServer {
        PythonServer::launch(protocol, idle_seconds, multi_member, None)
    }

    /// An HTTP/1.1 server that wants `user_password` as Basic credentials.
    fn start_with_auth(user_password: &str) -> PythonServer {
        PythonServer::launch("1.1", 5.0, false, Some(user_password))
    }

    fn launch(
        protocol: &str,
        idle_seconds: f64,
        multi_member: bool,
        auth: Option<&str>,
    ) -> PythonServer {
        // A Python string literal (Rust quotes plain ASCII as Python does).
        let auth = auth.map_or("None".to_string(), |a| format!("{a:?}"));
        let script = PYTHON_SERVER
            .replace("PROTOCOL", protocol)
            .replace("IDLE", &idle_seconds.to_string())
            .replace("MULTI_MEMBER", if multi_member { "True" } else { "False" })
            .replace("REQUIRED_AUTH", &auth);
        let mut stderr = tempfile::tempfile().expect("temp file");
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr.try_clone().expect("dup"))
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line);
        let Ok(port) = line.trim().parse() else {
            let _ = child.kill();
            let _ = child.wait();
            let mut errors = String::new();
            let _ = stderr.rewind();
            let _ = stderr.read_to_string(&mut errors);
            panic!("the Python server did not start: {line:?}\n{errors}");
        };
        let stdin = child.stdin.take().expect("stdin");
        PythonServer {
            child,
            _stdin: stdin,
            port,
        }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn url(&self) -> String {
        format!("http://{}/RPC2", self.host())
    }

    fn client(&self) -> Client {
        let mut client = Client::new(&self.url()).expect("client");
        client.set_timeout(Some(Duration::from_secs(10)));
        client
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn count(client: &mut Client, name: &str) -> i32 {
    match client.call("count", vec![Value::from(name)]) {
        Ok(Value::Int(n)) => n,
        other => panic!("count({name}) gave {other:?}"),
    }
}

fn members(pairs: Vec<(&str, Value)>) -> Value {
    Value::Struct(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// What Python sends comes back as the right `Value`s: `<int>`, strings
/// with non-ASCII and XML specials, doubles written with exponents
/// (`1e+300`, `5e-324`) and `-0.0` with its sign, booleans, `<nil/>`,
/// line-wrapped `<base64>` (and the empty one, `<base64>\n</base64>`),
/// `dateTime.iso8601`, nested arrays and structs.
#[test]
fn client_reads_every_python_type() {
    let python = PythonServer::start("1.1", 5.0);
    let mut client = python.client();
    let Value::Struct(got) = client.call("types", vec![]).expect("types()") else {
        panic!("types() is a struct");
    };
    let expected = members(vec![
        ("int", Value::Int(7)),
        ("min", Value::Int(i32::MIN)),
        ("max", Value::Int(i32::MAX)),
        ("str", Value::from("héllo ✓ <&> 😀")),
        ("empty_str", Value::from("")),
        ("float", Value::Double(0.1)),
        ("huge", Value::Double(1e300)),
        ("tiny", Value::Double(5e-324)),
        ("negzero", Value::Double(-0.0)),
        ("neg", Value::Double(-2.5)),
        ("true", Value::Bool(true)),
        ("false", Value::Bool(false)),
        ("none", Value::Nil),
        ("bytes", Value::Base64((0..=255).collect())),
        ("empty_bytes", Value::Base64(Vec::new())),
        (
            "when",
            Value::DateTime(DateTime::new(2024, 2, 29, 23, 59, 58).unwrap()),
        ),
        (
            "nested",
            Value::Array(vec![
                Value::Int(1),
                Value::Array(vec![
                    Value::from("two"),
                    Value::Array(vec![
                        Value::Double(3.5),
                        members(vec![("deep", Value::Array(vec![]))]),
                    ]),
                ]),
                members(vec![]),
            ]),
        ),
    ]);
    let Value::Struct(expected) = expected else {
        unreachable!()
    };
    for (key, want) in &expected {
        assert_eq!(got.get(key), Some(want), "member {key}");
    }
    assert_eq!(got.len(), expected.len(), "{got:?}");
    // PartialEq on f64 says -0.0 == 0.0; the sign must survive too.
    assert!(matches!(got["negzero"], Value::Double(x) if x.is_sign_negative()));
}

/// What we send, Python reads and sends back: each value echoes to itself,
/// except where Python's own marshalling differs (an `<i8>` comes back as
/// `<int>`; one beyond 32 bits cannot be sent back at all; a CR we send as
/// `&#13;` comes back raw and so arrives as LF).
#[test]
fn client_values_echo_through_python() {
    let python = PythonServer::start("1.1", 5.0);
    let mut client = python.client();
    let values = vec![
        Value::Int(0),
        Value::Int(i32::MIN),
        Value::Bool(true),
        Value::from(""),
        Value::from("héllo <tag> & ]]> 'q' \"dq\" \t tab\nnewline ✓ 😀"),
        Value::Double(0.1),
        Value::Double(-0.0),
        Value::Double(1e300),
        Value::Double(5e-324),
        Value::Double(f64::MAX),
        Value::Nil,
        Value::Base64(Vec::new()),
        Value::Base64(vec![0, 0xff, 0xfe, 0x80, b'x']),
        Value::Base64((0..=255).cycle().take(1000).collect()),
        Value::DateTime(DateTime::new(1999, 12, 31, 23, 59, 59).unwrap()),
        Value::Array(vec![]),
        members(vec![]),
        Value::Array(vec![
            Value::Int(1),
            members(vec![(
                "a",
                Value::Array(vec![Value::Nil, Value::from("b")]),
            )]),
        ]),
        members(vec![("ключ", Value::from("значение")), ("", Value::Int(1))]),
    ];
    for value in values {
        let back = client
            .call("echo", vec![value.clone()])
            .unwrap_or_else(|e| panic!("echo({value}) failed: {e}"));
        assert_eq!(back, value, "echo({value})");
        if let (Value::Double(a), Value::Double(b)) = (&value, &back) {
            assert_eq!(a.is_sign_negative(), b.is_sign_negative(), "sign of {a}");
        }
    }
    assert_eq!(
        client.call("echo", vec![Value::I8(5)]).unwrap(),
        Value::Int(5)
    );
    match client.call("echo", vec![Value::I8(1 << 40)]) {
        Err(ClientError::Fault(f)) => {
            assert_eq!(f.code, 1);
            assert!(f.message.contains("OverflowError"), "{}", f.message);
        }
        other => panic!("Python cannot send 2**40 back: {other:?}"),
    }
    assert_eq!(
        client.call("echo", vec![Value::from("a\r\nb\rc")]).unwrap(),
        Value::from("a\nb\nc")
    );
}

/// Faults: Python's `Fault(42, ...)` arrives as `ClientError::Fault` with
/// code 42; an unknown method and an exception in a method are Python's
/// code 1; the connection stays usable after each.
#[test]
fn client_gets_python_faults() {
    let python = PythonServer::start("1.1", 5.0);
    let mut client = python.client();
    match client.call("fault42", vec![]) {
        Err(ClientError::Fault(f)) => {
            assert_eq!(f, Fault::new(42, "The answer is not a fault"))
        }
        other => panic!("expected fault 42, got {other:?}"),
    }
    match client.call("nope", vec![]) {
        Err(ClientError::Fault(f)) => {
            assert_eq!(f.code, 1);
            assert!(
                f.message.contains("\"nope\" is not supported"),
                "{}",
                f.message
            );
        }
        other => panic!("expected fault 1, got {other:?}"),
    }
    match client.call("crash", vec![]) {
        Err(ClientError::Fault(f)) => {
            assert_eq!(f.code, 1);
            assert!(f.message.contains("ValueError") && f.message.contains("boom"));
        }
        other => panic!("expected fault 1, got {other:?}"),
    }
    assert_eq!(
        client
            .call("add", vec![Value::Int(40), Value::Int(2)])
            .unwrap(),
        Value::Int(42)
    );
    assert_eq!(
        count(&mut client, "connections"),
        1,
        "faults kept the connection"
    );
}

/// Python's introspection and multicall, through our client; and a large
/// answer, which Python gzips because we send `Accept-Encoding: gzip`.
#[test]
fn client_uses_python_introspection_multicall_and_gzip() {
    let python = PythonServer::start("1.1", 5.0);
    let mut client = python.client();
    let Value::Array(names) = client.call("system.listMethods", vec![]).unwrap() else {
        panic!("listMethods is an array");
    };
    for name in [
        "add",
        "echo",
        "fault42",
        "system.multicall",
        "system.methodHelp",
    ] {
        assert!(names.contains(&Value::from(name)), "{name} in {names:?}");
    }
    let call = |name: &str, params: Vec<Value>| {
        members(vec![
            ("methodName", Value::from(name)),
            ("params", Value::Array(params)),
        ])
    };
    let calls = Value::Array(vec![
        call("add", vec![Value::Int(1), Value::Int(2)]),
        call("fault42", vec![]),
        call("echo", vec![Value::from("x")]),
    ]);
    let results = client.call("system.multicall", vec![calls]).unwrap();
    assert_eq!(
        results,
        Value::Array(vec![
            Value::Array(vec![Value::Int(3)]),
            members(vec![
                ("faultCode", Value::Int(42)),
                ("faultString", Value::from("The answer is not a fault")),
            ]),
            Value::Array(vec![Value::from("x")]),
        ])
    );

    let text = client.call("text", vec![Value::Int(200_000)]).unwrap();
    let Value::String(text) = text else {
        panic!("a string")
    };
    assert_eq!(text.len(), 200_000);
    assert!(text.starts_with("0123456789012") && text.ends_with("789"));
    assert_eq!(
        count(&mut client, "gzipped"),
        1,
        "Python gzipped the answer"
    );
}

/// A gzipped answer made of two gzip members (valid per RFC 1952; Python's
/// own client decodes it) is read whole.
#[test]
fn client_reads_multi_member_gzip_answers() {
    let python = PythonServer::start_with("1.1", 5.0, true);
    let mut client = python.client();
    let text = client.call("text", vec![Value::Int(20_000)]);
    assert_eq!(
        count(&mut client, "gzipped"),
        1,
        "Python gzipped the answer"
    );
    assert_eq!(text.unwrap(), Value::from("0123456789".repeat(2000)));
}

/// Records what `medusa::xmlrpc` logs, to see the client's retry happen.
struct RecordingLogger;

static LOGGED: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl log::Log for RecordingLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.target().starts_with("medusa::xmlrpc")
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            LOGGED.lock().unwrap().push(record.args().to_string());
        }
    }

    fn flush(&self) {}
}

/// Log lines so far that contain `needle`.
fn logged(needle: &str) -> usize {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        log::set_logger(&RecordingLogger).expect("no other logger in this test binary");
        log::set_max_level(log::LevelFilter::Debug);
    });
    let lines = LOGGED.lock().unwrap();
    lines.iter().filter(|line| line.contains(needle)).count()
}

/// Several calls share one connection; after Python closes it for being
/// idle, the next call still succeeds: the client finds the connection
/// stale (it says so in its debug log) and retries once on a new one.
#[test]
fn client_reuses_connection_and_retries_after_idle_close() {
    let idle = 1.0;
    let python = PythonServer::start("1.1", idle);
    let stale = format!("stale connection to {}", python.host());
    assert_eq!(logged(&stale), 0);
    let mut client = python.client();
    for i in 0..10 {
        assert_eq!(
            client
                .call("add", vec![Value::Int(i), Value::Int(1)])
                .unwrap(),
            Value::Int(i + 1)
        );
    }
    assert_eq!(
        count(&mut client, "connections"),
        1,
        "one connection for 11 calls"
    );

    std::thread::sleep(Duration::from_secs_f64(idle * 2.5));
    // Python has closed our idle connection; the client still holds it.
    assert_eq!(
        client
            .call("add", vec![Value::Int(40), Value::Int(2)])
            .unwrap(),
        Value::Int(42)
    );
    assert_eq!(logged(&stale), 1, "the client retried once");
    assert_eq!(count(&mut client, "idle_closes"), 1, "Python closed it");
    assert_eq!(count(&mut client, "connections"), 2, "one reconnection");
}

/// `http://user:password@host/` as Python's own `ServerProxy` takes it: the
/// %-decoded credentials reach Python's server as Basic auth, on every call
/// of a kept-alive connection; `Transport` takes them in its `host` too.
#[test]
fn client_sends_url_credentials_to_python() {
    let python = PythonServer::start_with_auth("ann:p@ss:w rd");
    let url = format!("http://ann:p%40ss%3Aw%20rd@{}/RPC2", python.host());
    let mut client = Client::new(&url).expect("client");
    client.set_timeout(Some(Duration::from_secs(10)));
    for i in 0..3 {
        assert_eq!(
            client
                .call("add", vec![Value::Int(i), Value::Int(1)])
                .unwrap(),
            Value::Int(i + 1)
        );
    }
    assert_eq!(count(&mut client, "connections"), 1);
    let mut transport = Transport::new();
    transport.set_timeout(Some(Duration::from_secs(10)));
    let body = dumps(&[Value::Int(40), Value::Int(2)], "add").unwrap();
    let host = format!("ann:p%40ss%3Aw%20rd@{}", python.host());
    assert_eq!(
        transport.request(&host, "/RPC2", &body).unwrap(),
        vec![Value::Int(42)]
    );
    let mut wrong = Client::new(&python.url()).expect("client");
    wrong.set_timeout(Some(Duration::from_secs(10)));
    match wrong.call("add", vec![Value::Int(1), Value::Int(1)]) {
        Err(ClientError::Http { status, .. }) => assert_eq!(status, 401),
        other => panic!("expected HTTP 401, got {other:?}"),
    }
}

/// Against an HTTP/1.0 server (Python's default: it closes after every
/// response), every call works on a fresh connection.
#[test]
fn client_against_http_1_0_server() {
    let python = PythonServer::start("1.0", 5.0);
    let mut client = python.client();
    for i in 0..5 {
        assert_eq!(
            client
                .call("add", vec![Value::Int(i), Value::Int(i)])
                .unwrap(),
            Value::Int(2 * i)
        );
    }
    // The count call itself is the sixth connection.
    assert_eq!(count(&mut client, "connections"), 6);
}

/// The recipe's low level: `Transport::request` with a body from `dumps`,
/// to Python's server: values, a fault, and connection reuse.
#[test]
fn transport_request_with_dumps() {
    let python = PythonServer::start("1.1", 5.0);
    let mut transport = Transport::new();
    transport.set_timeout(Some(Duration::from_secs(10)));
    let host = python.host();

    let body = dumps(&[Value::Int(40), Value::Int(2)], "add").unwrap();
    assert_eq!(
        transport.request(&host, "/RPC2", &body).unwrap(),
        vec![Value::Int(42)]
    );
    let body = dumps(&[members(vec![("k", Value::Nil)])], "echo").unwrap();
    assert_eq!(
        transport.request(&host, "/RPC2", &body).unwrap(),
        vec![members(vec![("k", Value::Nil)])]
    );
    match transport.request(&host, "/RPC2", &dumps(&[], "fault42").unwrap()) {
        Err(ClientError::Fault(f)) => assert_eq!(f.code, 42),
        other => panic!("expected fault 42, got {other:?}"),
    }
    // `post` gives the raw response; `loads` reads it.
    let raw = transport
        .post(
            &host,
            "/RPC2",
            &dumps(&[Value::from("count me")], "echo").unwrap(),
        )
        .unwrap();
    assert_eq!(loads(&raw).unwrap(), (vec![Value::from("count me")], None));
    let body = dumps(&[Value::from("connections")], "count").unwrap();
    assert_eq!(
        transport.request(&host, "/RPC2", &body).unwrap(),
        vec![Value::Int(1)],
        "all requests on one connection"
    );
    // Python's server answers on `/` too, and with HTTP 404 elsewhere.
    assert_eq!(
        transport
            .request(&host, "/", &dumps(&[], "fault42").unwrap())
            .map_err(|e| e.to_string()),
        Err("<Fault 42: The answer is not a fault>".to_string())
    );
    // (Last: Python's 404 leaves the request body unread on a kept-alive
    // connection, so that connection is unusable afterwards; Python's own
    // client would trip on it the same way.)
    match transport.request(&host, "/elsewhere", &body) {
        Err(ClientError::Http { status, .. }) => assert_eq!(status, 404),
        other => panic!("expected HTTP 404, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// xmlrpc-c and curl against our server.
// ---------------------------------------------------------------------------

fn registry() -> Registry {
    let mut registry = Registry::new();
    registry.register("add", |a: i32, b: i32| a.wrapping_add(b));
    registry.register("echo", |value: Value| value);
    // What arrived, as text: shows how the server read a parameter.
    registry.register("describe", |value: Value| value.to_string());
    registry.register("type_of", |value: Value| value.type_name());
    registry.register("fail", |code: i32| -> Result<(), Fault> {
        Err(Fault::new(code, format!("failed with code {code}")))
    });
    registry.register("point", |x: i32, y: i32| {
        members(vec![
            ("x", Value::Int(x)),
            ("y", Value::Int(y)),
            ("label", Value::from("p")),
        ])
    });
    registry.register("text", |n: i32| "0123456789".repeat(n as usize / 10));
    registry
}

fn serve() -> TestServer {
    TestServer::start(|reactor| {
        let server = HttpServer::bind(localhost(), HttpConfig::default())?;
        server.install_handler(StatusHandler::new());
        server.install_handler(XmlRpcHandler::new("/RPC2", registry()));
        let addr = server.local_addr()?;
        reactor.add(server)?;
        Ok(addr)
    })
}

/// Path of `program` on `PATH`, or a loud note that the test is skipped.
fn find_program(program: &str, package: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file());
    if found.is_none() {
        eprintln!(
            "\n!!! SKIPPED: `{program}` is not installed (Debian package {package}; \
             .ci/run installs it). This test checked nothing.\n"
        );
    }
    found
}

/// Runs `program` with `args` under a 20-second `timeout`.
fn run(program: &Path, args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("20")
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("program runs")
}

fn text_of(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// xmlrpc-c's command-line tool: `add i/40 i/2` prints 42; strings,
/// 64-bit integers, doubles, booleans, nil and bytes go through `echo`; a
/// struct result is shown member by member; a fault is printed with its
/// code and the tool exits 1.
#[test]
fn xmlrpc_c_tool_calls_our_server() {
    let Some(tool) = find_program("xmlrpc", "libxmlrpc-core-c3-dev") else {
        return;
    };
    let server = serve();
    let url = format!("http://{}/RPC2", server.addr);
    let call = |args: &[&str]| {
        let mut all = vec![url.as_str()];
        all.extend_from_slice(args);
        let output = run(&tool, &all);
        let (stdout, stderr) = text_of(&output);
        (output.status.code(), stdout, stderr)
    };

    let (status, stdout, stderr) = call(&["add", "i/40", "i/2"]);
    assert_eq!(status, Some(0), "{stderr}");
    assert_eq!(stdout, "Result:\n\nInteger: 42\n");

    for (arg, shown) in [
        // The tool prints non-ASCII bytes escaped: the UTF-8 arrived intact.
        (
            "s/héllo <&> wörld",
            r"String: 'h\xc3\xa9llo <&> w\xc3\xb6rld'",
        ),
        ("plain words", "String: 'plain words'"),
        ("I/5000000000", "64-bit integer: 5000000000"),
        ("d/2.5", "Floating Point: 2.500000"),
        ("b/t", "Boolean: TRUE"),
        ("n/", "Nil"),
        ("h/00ff80", "Bit string: 00ff80"),
    ] {
        let (status, stdout, stderr) = call(&["echo", arg]);
        assert_eq!(status, Some(0), "{arg}: {stderr}");
        assert_eq!(stdout.trim_end(), format!("Result:\n\n{shown}"), "{arg}");
    }
    // The types the server read (xmlrpc-c sends <i8> and <nil/>, the
    // extensions, as such).
    for (arg, type_name) in [
        ("I/-5000000000", "i8"),
        ("i/-5", "int"),
        ("n/", "nil"),
        ("h/", "base64"),
        ("d/-0.5", "double"),
        ("b/f", "boolean"),
        ("s/", "string"),
    ] {
        let (_, stdout, _) = call(&["type_of", arg]);
        assert_eq!(
            stdout.trim_end(),
            format!("Result:\n\nString: '{type_name}'"),
            "{arg}"
        );
    }
    let (_, stdout, _) = call(&["describe", "I/-5000000000"]);
    assert_eq!(stdout.trim_end(), "Result:\n\nString: '-5000000000'");

    let (status, stdout, stderr) = call(&["point", "i/3", "i/4"]);
    assert_eq!(status, Some(0), "{stderr}");
    for needle in [
        "Struct of 3 members:",
        "Key:   String: 'x'",
        "Value: Integer: 3",
        "Key:   String: 'label'",
        "Value: String: 'p'",
    ] {
        assert!(stdout.contains(needle), "{needle:?} in:\n{stdout}");
    }

    let (status, stdout, stderr) = call(&["fail", "i/77"]);
    assert_eq!(status, Some(1), "{stdout}");
    assert!(
        stderr.contains("failed with code 77") && stderr.contains("(XML-RPC fault code 77)"),
        "{stderr}"
    );
    let (status, _, stderr) = call(&["nope"]);
    assert_eq!(status, Some(1));
    assert!(stderr.contains("(XML-RPC fault code -32601)"), "{stderr}");
    let (status, _, stderr) = call(&["add", "i/1"]);
    assert_eq!(status, Some(1));
    assert!(stderr.contains("(XML-RPC fault code -32602)"), "{stderr}");
}

/// A client program on xmlrpc-c's C library: `describe` and `echo` with a
/// struct holding an array and a nested struct (with a nil), then a fault.
const XMLRPC_C_CLIENT: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <xmlrpc-c/base.h>
#include <xmlrpc-c/client.h>

static void check(xmlrpc_env *env, const char *what) {
    if (env->fault_occurred) {
        printf("%s: fault %d: %s\n", what, env->fault_code, env->fault_string);
        xmlrpc_env_clean(env);
        xmlrpc_env_init(env);
    }
}

int main(int argc, char **argv) {
    const char *url = argv[1];
    xmlrpc_env env;
    xmlrpc_env_init(&env);
    xmlrpc_client_init2(&env, XMLRPC_CLIENT_NO_FLAGS, "medusa-interop", "1.0", NULL, 0);
    check(&env, "init");

    const char *format = "({s:i,s:s,s:(ibd),s:{s:n}})";
    xmlrpc_value *v = xmlrpc_client_call(&env, url, "describe", format,
        "n", (xmlrpc_int32)7, "name", "h\xc3\xa9llo <&>",
        "list", (xmlrpc_int32)1, (xmlrpc_bool)1, 0.5, "inner", "nothing");
    check(&env, "describe");
    if (v) {
        const char *s;
        xmlrpc_read_string(&env, v, &s);
        check(&env, "read describe");
        printf("describe: %s\n", s);
        free((void *)s);
        xmlrpc_DECREF(v);
    }

    v = xmlrpc_client_call(&env, url, "echo", format,
        "n", (xmlrpc_int32)7, "name", "h\xc3\xa9llo <&>",
        "list", (xmlrpc_int32)1, (xmlrpc_bool)1, 0.5, "inner", "nothing");
    check(&env, "echo");
    if (v) {
        xmlrpc_int32 n, one;
        xmlrpc_bool yes;
        double half;
        const char *name;
        xmlrpc_decompose_value(&env, v, "{s:i,s:s,s:(ibd),s:{s:n,*},*}",
            "n", &n, "name", &name, "list", &one, &yes, &half, "inner", "nothing");
        check(&env, "decompose echo");
        if (!env.fault_occurred) {
            printf("echo: n=%d name=%s list=%d,%d,%g members=%d\n",
                   n, name, one, yes, half, xmlrpc_struct_size(&env, v));
            free((void *)name);
        }
        xmlrpc_DECREF(v);
    }

    v = xmlrpc_client_call(&env, url, "fail", "(i)", (xmlrpc_int32)99);
    check(&env, "fail");
    xmlrpc_env_clean(&env);
    xmlrpc_client_cleanup();
    return 0;
}
"#;

/// xmlrpc-c's C library, for what its tool cannot send (Debian's 1.33 tool
/// has no `struct/` or `array/` syntax): the server reads the struct right
/// (`describe`), xmlrpc-c's parser reads our echo of it member by member,
/// and a fault arrives with its code.
#[test]
fn xmlrpc_c_library_sends_and_reads_structs() {
    let Some(config) = find_program("xmlrpc-c-config", "libxmlrpc-core-c3-dev") else {
        return;
    };
    let Some(cc) = find_program("cc", "gcc") else {
        return;
    };
    let flags = Command::new(&config)
        .args(["client", "--cflags", "--libs"])
        .output()
        .expect("xmlrpc-c-config runs");
    assert!(flags.status.success());
    let flags = String::from_utf8(flags.stdout).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("client.c");
    let binary = dir.path().join("client");
    std::fs::write(&source, XMLRPC_C_CLIENT).unwrap();
    let built = Command::new(&cc)
        .arg(&source)
        .arg("-o")
        .arg(&binary)
        // `-lcurl` is there for static linking; the shared libxmlrpc_client
        // brings libcurl itself, and Debian's package does not pull in
        // libcurl's development files.
        .args(flags.split_whitespace().filter(|flag| *flag != "-lcurl"))
        .output()
        .expect("cc runs");
    assert!(
        built.status.success(),
        "compiling the xmlrpc-c client failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );

    let server = serve();
    let url = format!("http://{}/RPC2", server.addr);
    let output = run(&binary, &[&url]);
    let (stdout, stderr) = text_of(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert_eq!(
        stdout,
        "describe: {'inner': {'nothing': None}, 'list': [1, True, 0.5], 'n': 7, 'name': 'héllo <&>'}\n\
         echo: n=7 name=héllo <&> list=1,1,0.5 members=4\n\
         fail: fault 99: RPC failed at server.  failed with code 99\n"
    );
}

/// Posts `body` from a file with curl, as the recipe's README does.
fn curl_post(server: &TestServer, body: &str, extra: &[&str]) -> (u16, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("call.xml");
    std::fs::write(&file, body).unwrap();
    let data = format!("@{}", file.display());
    let url = format!("http://{}/RPC2", server.addr);
    let mut args = vec![
        "--data-binary",
        data.as_str(),
        "-H",
        "Content-Type: text/xml",
    ];
    args.extend_from_slice(extra);
    args.push(&url);
    let (status, headers, body) = curl(&args);
    (status, headers, String::from_utf8(body).expect("UTF-8"))
}

const DECLARATION: &str = "<?xml version=\"1.0\"?>";

/// Hand-written calls (pretty-printed, `<i4>`, a `<value>` with no type,
/// an encoding label, CRLF line ends) get exactly the `methodResponse` the
/// spec shows, byte for byte, as `text/xml`; faults too.
#[test]
fn curl_hand_written_calls_get_exact_responses() {
    let server = serve();
    let (status, headers, body) = curl_post(
        &server,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n\
         <methodCall>\r\n\
         \x20 <methodName>add</methodName>\r\n\
         \x20 <params>\r\n\
         \x20   <param><value><i4>40</i4></value></param>\r\n\
         \x20   <param>\r\n      <value><int> 2 </int></value>\r\n    </param>\r\n\
         \x20 </params>\r\n\
         </methodCall>\r\n",
        &[],
    );
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "Content-Type"), Some("text/xml"));
    assert_eq!(
        body,
        format!(
            "{DECLARATION}<methodResponse><params><param><value><int>42</int></value>\
             </param></params></methodResponse>"
        )
    );
    assert_eq!(
        header(&headers, "Content-Length"),
        Some(body.len().to_string().as_str())
    );

    let (_, _, body) = curl_post(
        &server,
        "<methodCall><methodName>echo</methodName><params><param><value>\
         <struct><member><name>b</name><value>untyped &amp; &lt;escaped&gt;</value></member>\
         <member><name>a</name><value><array><data><value><boolean>1</boolean></value>\
         <value><double>-1.5e3</double></value><value><nil/></value>\
         <value><base64>aGk=</base64></value>\
         <value><dateTime.iso8601>20240229T23:59:58</dateTime.iso8601></value>\
         </data></array></value></member></struct>\
         </value></param></params></methodCall>",
        &[],
    );
    assert_eq!(
        body,
        format!(
            "{DECLARATION}<methodResponse><params><param><value><struct>\
             <member><name>a</name><value><array><data>\
             <value><boolean>1</boolean></value>\
             <value><double>-1500.0</double></value>\
             <value><nil/></value>\
             <value><base64>aGk=</base64></value>\
             <value><dateTime.iso8601>20240229T23:59:58</dateTime.iso8601></value>\
             </data></array></value></member>\
             <member><name>b</name><value><string>untyped &amp; &lt;escaped&gt;</string></value></member>\
             </struct></value></param></params></methodResponse>"
        )
    );

    let (status, _, body) = curl_post(
        &server,
        "<?xml version=\"1.0\"?><methodCall><methodName>nope</methodName></methodCall>",
        &[],
    );
    assert_eq!(status, 200);
    assert_eq!(
        body,
        format!(
            "{DECLARATION}<methodResponse><fault><value><struct>\
             <member><name>faultCode</name><value><int>-32601</int></value></member>\
             <member><name>faultString</name><value><string>no method nope</string></value></member>\
             </struct></value></fault></methodResponse>"
        )
    );
}

/// Bodies curl sends in other ways: 2 MB with `Expect: 100-continue`
/// (curl waits for the interim `100 Continue`, which the server sends), and
/// a chunked body.
#[test]
fn curl_expect_continue_and_chunked_bodies() {
    let server = serve();
    let big = "x".repeat(2_000_000);
    let call = format!(
        "<?xml version=\"1.0\"?><methodCall><methodName>type_of</methodName>\
         <params><param><value><string>{big}</string></value></param></params></methodCall>"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.xml");
    std::fs::write(&file, &call).unwrap();
    let output = Command::new("curl")
        .args(["-sv", "--max-time", "20", "-H", "Content-Type: text/xml"])
        .args(["-H", "Expect: 100-continue", "--data-binary"])
        .arg(format!("@{}", file.display()))
        .arg(format!("http://{}/RPC2", server.addr))
        .output()
        .expect("curl runs");
    let (stdout, stderr) = text_of(&output);
    assert!(
        stderr.contains("< HTTP/1.1 100 Continue"),
        "no 100 Continue:\n{stderr}"
    );
    assert_eq!(
        stdout,
        format!(
            "{DECLARATION}<methodResponse><params><param><value><string>string</string>\
             </value></param></params></methodResponse>"
        )
    );

    let (status, _, body) = curl_post(
        &server,
        "<methodCall><methodName>add</methodName><params><param><value><int>40</int></value>\
         </param><param><value><int>2</int></value></param></params></methodCall>",
        &["-H", "Transfer-Encoding: chunked"],
    );
    assert_eq!(status, 200);
    assert!(body.contains("<int>42</int>"), "{body}");
}

/// `curl --compressed` (which sends `Accept-Encoding`) gets a large answer
/// gzipped and decodes it to the same bytes as the plain answer.
#[test]
fn curl_compressed_large_response() {
    let server = serve();
    let call = "<?xml version=\"1.0\"?><methodCall><methodName>text</methodName>\
                <params><param><value><int>50000</int></value></param></params></methodCall>";
    let expected = format!(
        "{DECLARATION}<methodResponse><params><param><value><string>{}</string></value>\
         </param></params></methodResponse>",
        "0123456789".repeat(5000)
    );

    let (status, headers, body) = curl_post(&server, call, &["--compressed"]);
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "Content-Encoding"),
        Some("gzip"),
        "{headers}"
    );
    let wire: usize = header(&headers, "Content-Length").unwrap().parse().unwrap();
    assert!(wire < 2000, "50 kB of digits went as {wire} bytes");
    assert_eq!(body, expected);

    let (status, headers, body) = curl_post(&server, call, &[]);
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "Content-Encoding"), None);
    assert_eq!(body, expected);
}
