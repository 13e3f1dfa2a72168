//! XML-RPC over Unix-domain sockets, with real peers both ways: our two
//! clients (`unix:///path`, supervisor's form, and
//! `http+unix://%2Fpath/...`) against our own server on
//! `HttpServer::bind_unix`; Python's `http.client` and `xmlrpc.client`
//! (with a supervisor-style transport) and curl against it; our clients
//! against Python's `SimpleXMLRPCServer` on a Unix socket; and the
//! stale-connection retry over a Unix socket.
//!
//! A test that needs python3 or curl is skipped, loudly, when it is
//! missing, except under `CI=1`, where it fails.
#![cfg(unix)]

mod util;

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use medusa::handlers::{StatusHandler, XmlRpcHandler};
use medusa::http::{AccessLog, HttpConfig, HttpServer};
use medusa::reactor::Reactor;
use medusa::xmlrpc::{
    AsyncClient, AsyncClientConfig, CallResult, Client, ClientError, Registry, Value,
};
use util::curl::curl;
use util::http::read_reply;
use util::*;

/// `add` and `echo`, as every server here has them.
fn registry() -> Registry {
    let mut registry = Registry::new();
    registry.register("add", |a: i32, b: i32| a.wrapping_add(b));
    registry.register("echo", |value: Value| value);
    registry
}

/// Our server on a Unix-domain socket in a temporary directory: the
/// registry at `/RPC2` and at `/other`, the status handler (for the
/// connection count) beside them, and the access log in a file.
struct OurServer {
    dir: tempfile::TempDir,
    socket: PathBuf,
    server: Option<TestServer>,
}

impl OurServer {
    fn start() -> OurServer {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("rpc.sock");
        let config = HttpConfig {
            access_log: AccessLog::File(dir.path().join("access.log")),
            ..HttpConfig::default()
        };
        let path = socket.clone();
        let server = TestServer::start(move |reactor| {
            let server = HttpServer::bind_unix(&path, config)?;
            server.install_handler(StatusHandler::new());
            server.install_handler(XmlRpcHandler::new("/RPC2", registry()));
            server.install_handler(XmlRpcHandler::new("/other", registry()));
            reactor.add(server)?;
            // No TCP address: the tests use the socket's path.
            Ok(localhost())
        });
        OurServer {
            dir,
            socket,
            server: Some(server),
        }
    }

    /// `unix:///path/to/rpc.sock`.
    fn url(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// `http+unix://%2Fpath%2Fto%2Frpc.sock` followed by `path`.
    fn http_unix_url(&self, path: &str) -> String {
        let encoded = self.socket.display().to_string().replace('/', "%2F");
        format!("http+unix://{encoded}{path}")
    }

    /// The server's count of connections accepted so far (this request's
    /// own included), asked on a connection of its own.
    fn connections_total(&self) -> u64 {
        let mut stream = UnixStream::connect(&self.socket).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
            .write_all(
                b"GET /status/metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            )
            .unwrap();
        let reply = read_reply(&mut BufReader::new(stream), false).unwrap();
        assert_eq!(reply.status, 200, "{}", reply.brief());
        reply
            .text()
            .lines()
            .find_map(|l| l.strip_prefix("medusa_connections_total "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no connections_total in {}", reply.brief()))
    }

    /// Stops the server (which writes out the access log) and returns the
    /// log's lines.
    fn stop(&mut self) -> Vec<String> {
        if let Some(server) = self.server.take() {
            server.stop().unwrap();
        }
        std::fs::read_to_string(self.dir.path().join("access.log"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// The access log's name for a process of ours on this machine.
fn local_peer(pid: u32) -> String {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    format!("uid={uid},pid={pid} ")
}

fn add_args() -> Vec<Value> {
    vec![Value::Int(40), Value::Int(2)]
}

/// 1 MB of text.
fn megabyte() -> String {
    "0123456789abcdef".repeat(65_536)
}

/// Calls made one after the other (each waits for the one before, so a
/// kept-alive connection is reused) with one `AsyncClient` on a fresh
/// loop; the results in order.
fn async_calls(url: &str, calls: Vec<(&str, Vec<Value>)>) -> Vec<CallResult> {
    let mut reactor = Reactor::new().unwrap();
    let client = AsyncClient::new(&mut reactor, AsyncClientConfig::default()).unwrap();
    let results: Rc<RefCell<Vec<CallResult>>> = Rc::default();
    let deadline = Instant::now() + Duration::from_secs(30);
    for (i, (method, params)) in calls.into_iter().enumerate() {
        let sink = results.clone();
        client.call(url, method, params, move |r| sink.borrow_mut().push(r));
        while results.borrow().len() <= i {
            assert!(Instant::now() < deadline, "no answer after 30 s");
            reactor.run_once(Some(Duration::from_millis(50))).unwrap();
        }
    }
    client.close();
    let results = results.borrow_mut().drain(..).collect();
    results
}

fn blocking_client(url: &str) -> Client {
    let mut client = Client::new(url).unwrap();
    client.set_timeout(Some(Duration::from_secs(10)));
    client
}

/// `program` is on `PATH`; if not, the test is skipped with a note, or
/// fails under `CI=1`.
fn have(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|dir| dir.join(program).is_file()) {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "`{program}` is missing and CI is set: .ci/run should have installed it"
    );
    eprintln!("\n!!! SKIPPED: `{program}` is not installed. This test checked nothing.\n");
    false
}

/// Both clients, both URL forms, against our server: several calls on one
/// kept-alive connection (the server accepts one connection per client),
/// a 1 MB echo, another request path through `http+unix://`, and the
/// access log naming this process by uid and pid.
#[test]
fn our_clients_call_our_server_over_a_unix_socket() {
    let mut server = OurServer::start();
    let big = Value::String(megabyte());

    let before = server.connections_total();
    let mut client = blocking_client(&server.url());
    for _ in 0..3 {
        assert_eq!(client.call("add", add_args()).unwrap(), Value::Int(42));
    }
    assert_eq!(client.call("echo", vec![big.clone()]).unwrap(), big);
    assert_eq!(client.call("add", add_args()).unwrap(), Value::Int(42));
    // One connection for the five calls, one for this count.
    assert_eq!(server.connections_total() - before, 2, "blocking client");

    let before = server.connections_total();
    let calls = vec![
        ("add", add_args()),
        ("add", add_args()),
        ("echo", vec![big.clone()]),
        ("add", add_args()),
    ];
    let results = async_calls(&server.url(), calls);
    let results: Vec<Value> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        results,
        vec![Value::Int(42), Value::Int(42), big.clone(), Value::Int(42)]
    );
    assert_eq!(server.connections_total() - before, 2, "async client");

    // http+unix:// names the request path; unix:// always posts to /RPC2.
    let other = server.http_unix_url("/other");
    assert_eq!(
        blocking_client(&other).call("add", add_args()).unwrap(),
        Value::Int(42)
    );
    let results = async_calls(&other, vec![("add", add_args())]);
    assert_eq!(results[0].as_ref().unwrap(), &Value::Int(42));
    let default_path = server.http_unix_url("");
    assert_eq!(
        blocking_client(&default_path)
            .call("add", add_args())
            .unwrap(),
        Value::Int(42)
    );
    match blocking_client(&server.http_unix_url("/nowhere")).call("add", add_args()) {
        Err(ClientError::Http { status: 404, .. }) => {}
        other => panic!("expected 404 from /nowhere, got {other:?}"),
    }

    let log = server.stop();
    let me = local_peer(std::process::id());
    let posts: Vec<&String> = log.iter().filter(|l| l.contains("\"POST ")).collect();
    assert_eq!(posts.len(), 13, "{log:#?}");
    for line in &posts {
        assert!(line.starts_with(&me), "{line}");
    }
    for path in ["/RPC2", "/other", "/nowhere"] {
        assert!(
            posts
                .iter()
                .any(|l| l.contains(&format!("\"POST {path} HTTP/1.1\""))),
            "{path}: {log:#?}"
        );
    }
}

/// A missing socket is an I/O error naming it, from both clients; a bad
/// URL is a URL error before any connection.
#[test]
fn a_missing_socket_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("unix://{}/absent.sock", dir.path().display());
    for result in [
        blocking_client(&url).call("add", add_args()),
        async_calls(&url, vec![("add", add_args())]).remove(0),
    ] {
        match result {
            Err(ClientError::Io(e)) => {
                assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
                assert!(e.to_string().contains("absent.sock"), "{e}");
            }
            other => panic!("expected ENOENT, got {other:?}"),
        }
    }
    assert!(matches!(
        Client::new("unix://relative.sock/x"),
        Err(ClientError::Url(_))
    ));
}

/// Python's `http.client` over AF_UNIX (an `HTTPConnection` whose
/// `connect()` opens the socket file) posts two calls on one connection;
/// `xmlrpc.client.ServerProxy` with a transport built as supervisor's
/// `SupervisorTransport` is (URL `http://127.0.0.1`, so the path is
/// `/RPC2`, `Host: localhost`) calls `add`, `system.listMethods` and a
/// 100 KB `echo`. The access log names the Python process.
#[test]
fn python_calls_our_server_over_a_unix_socket() {
    if !have("python3") {
        return;
    }
    let mut server = OurServer::start();
    let script = r#"
import http.client, os, signal, socket, sys
import xmlrpc.client as xc
signal.alarm(25)
PATH = sys.argv[1]
print("pid:", os.getpid())

class UnixStreamHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.socket_path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.socket_path)

body = xc.dumps((40, 2), "add").encode()
c = UnixStreamHTTPConnection(PATH)
for _ in range(2):
    c.request("POST", "/RPC2", body, {"Content-Type": "text/xml"})
    r = c.getresponse()
    data = r.read()
    print("http.client:", r.status, r.getheader("Content-Type"), xc.loads(data)[0][0])
c.close()

class SupervisorTransport(xc.Transport):
    def __init__(self, path):
        super().__init__()
        self.path = path
    def make_connection(self, host):
        if self._connection and self._connection[0] == host:
            return self._connection[1]
        self._connection = host, UnixStreamHTTPConnection(self.path)
        return self._connection[1]

proxy = xc.ServerProxy("http://127.0.0.1", transport=SupervisorTransport(PATH))
print("add:", proxy.add(40, 2))
print("listMethods:", " ".join(sorted(proxy.system.listMethods())))
print("echo:", len(proxy.echo("x" * 100000)))
"#;
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&server.socket)
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let pid: u32 = lines[0].strip_prefix("pid: ").unwrap().parse().unwrap();
    assert_eq!(
        &lines[1..],
        [
            "http.client: 200 text/xml 42",
            "http.client: 200 text/xml 42",
            "add: 42",
            "listMethods: add echo system.getCapabilities system.listMethods \
             system.methodHelp system.methodSignature system.multicall",
            "echo: 100000",
        ]
    );
    let log = server.stop();
    let python = local_peer(pid);
    let posts = log
        .iter()
        .filter(|l| l.starts_with(&python) && l.contains("\"POST /RPC2 HTTP/1.1\" 200 "))
        .count();
    assert_eq!(posts, 5, "{log:#?}");
}

/// `curl --unix-socket PATH http://localhost/RPC2 -d @call.xml`.
#[test]
fn curl_posts_a_call_to_our_server_over_a_unix_socket() {
    if !have("curl") {
        return;
    }
    let mut server = OurServer::start();
    let call = server.dir.path().join("call.xml");
    std::fs::write(&call, medusa::xmlrpc::dumps(&add_args(), "add").unwrap()).unwrap();
    let socket = server.socket.display().to_string();
    let data = format!("@{}", call.display());
    let (status, headers, body) = curl(&[
        "--unix-socket",
        &socket,
        "http://localhost/RPC2",
        "-d",
        &data,
    ]);
    assert_eq!(status, 200, "{headers}");
    assert_eq!(
        util::curl::header(&headers, "content-type"),
        Some("text/xml")
    );
    let (values, _) = medusa::xmlrpc::loads(&body).unwrap();
    assert_eq!(values, vec![Value::Int(42)]);
    let log = server.stop();
    let uid = local_peer(0);
    let uid = uid.split(',').next().unwrap();
    assert!(
        log.iter()
            .any(|l| l.starts_with(&format!("{uid},pid="))
                && l.contains("\"POST /RPC2 HTTP/1.1\" 200 ")),
        "{log:#?}"
    );
}

/// Python's `SimpleXMLRPCServer` on a Unix socket, as people build it
/// (`socketserver.UnixStreamServer` mixed with `SimpleXMLRPCDispatcher`):
/// HTTP/1.0, one connection per call, closed after the answer (gzipped
/// when large). It stops when its stdin closes.
struct PythonUnixServer {
    child: Child,
    _stdin: ChildStdin,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

const PYTHON_UNIX_SERVER: &str = r#"
import os, socketserver, sys, threading
from xmlrpc.server import SimpleXMLRPCDispatcher, SimpleXMLRPCRequestHandler

class Handler(SimpleXMLRPCRequestHandler):
    # No TCP_NODELAY on a Unix-domain socket (EOPNOTSUPP).
    disable_nagle_algorithm = False
    # A Unix-domain peer has no address to log.
    def address_string(self):
        return "unix"

class UnixXMLRPCServer(socketserver.UnixStreamServer, SimpleXMLRPCDispatcher):
    def __init__(self, path):
        self.logRequests = False
        SimpleXMLRPCDispatcher.__init__(self, allow_none=True, encoding=None)
        socketserver.UnixStreamServer.__init__(self, path, Handler)

server = UnixXMLRPCServer(sys.argv[1])
server.register_function(lambda a, b: a + b, "add")
server.register_function(lambda x: x, "echo")
server.register_introspection_functions()
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
print("ready", flush=True)
server.serve_forever()
"#;

impl PythonUnixServer {
    fn start() -> PythonUnixServer {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("py.sock");
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(PYTHON_UNIX_SERVER)
            .arg(&socket)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
        if line.trim() != "ready" {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the Python server did not start: {line:?}");
        }
        let stdin = child.stdin.take().unwrap();
        PythonUnixServer {
            child,
            _stdin: stdin,
            socket,
            _dir: dir,
        }
    }
}

impl Drop for PythonUnixServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Both clients against Python's server on a Unix socket: it answers in
/// HTTP/1.0 and closes, so every call is a connection of its own; a 1 MB
/// echo comes back gzipped; introspection works.
#[test]
fn our_clients_call_python_simplexmlrpcserver_on_a_unix_socket() {
    if !have("python3") {
        return;
    }
    let python = PythonUnixServer::start();
    let url = format!("unix://{}", python.socket.display());
    let big = Value::String(megabyte());

    let mut client = blocking_client(&url);
    for _ in 0..3 {
        assert_eq!(client.call("add", add_args()).unwrap(), Value::Int(42));
    }
    assert_eq!(client.call("echo", vec![big.clone()]).unwrap(), big);
    let methods = client.call("system.listMethods", vec![]).unwrap();
    assert!(
        matches!(&methods, Value::Array(m) if m.contains(&Value::String("add".into()))),
        "{methods:?}"
    );

    let results = async_calls(
        &url,
        vec![
            ("add", add_args()),
            ("add", add_args()),
            ("echo", vec![big.clone()]),
            ("add", add_args()),
        ],
    );
    let results: Vec<Value> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        results,
        vec![Value::Int(42), Value::Int(42), big, Value::Int(42)]
    );
}

/// A server on a Unix socket that answers the first call on each
/// connection (HTTP/1.1, kept alive) and closes the connection, without a
/// word, when a second call arrives on it: a kept-alive connection gone
/// stale between calls, every time.
struct StaleServer {
    socket: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<(usize, usize)>>,
    _dir: tempfile::TempDir,
}

impl StaleServer {
    fn start() -> StaleServer {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("stale.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut connections, mut dropped) = (0, 0);
            let deadline = Instant::now() + Duration::from_secs(30);
            while !stopped.load(Ordering::SeqCst) && Instant::now() < deadline {
                let stream = match listener.accept() {
                    Ok((stream, _)) => stream,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                    Err(e) => panic!("accept: {e}"),
                };
                connections += 1;
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                if read_request(&mut reader).is_none() {
                    continue;
                }
                let response = "<?xml version=\"1.0\"?><methodResponse><params><param>\
                                <value><int>42</int></value></param></params></methodResponse>";
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
                    response.len()
                );
                writer.write_all(head.as_bytes()).unwrap();
                writer.write_all(response.as_bytes()).unwrap();
                // The next call on this connection is read, then dropped
                // with the connection.
                if read_request(&mut reader).is_some() {
                    dropped += 1;
                }
            }
            (connections, dropped)
        });
        StaleServer {
            socket,
            stop,
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// Stops it: (connections accepted, calls dropped unanswered).
    fn stop(mut self) -> (usize, usize) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap()
    }
}

/// Reads one request (head and `Content-Length` body); `None` at the end
/// of input.
fn read_request(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(body)
}

/// Each second call finds its kept-alive connection closed by the server
/// before any byte of the answer: both clients send it again, once, on a
/// fresh connection, and every call succeeds.
#[test]
fn a_stale_kept_alive_unix_connection_is_retried_once() {
    let server = StaleServer::start();
    let url = format!("unix://{}", server.socket.display());
    let mut client = blocking_client(&url);
    for _ in 0..3 {
        assert_eq!(client.call("add", add_args()).unwrap(), Value::Int(42));
    }
    // The server serves one connection at a time: let it see this one end.
    drop(client);
    let results = async_calls(&url, vec![("add", add_args()); 3]);
    for result in results {
        assert_eq!(result.unwrap(), Value::Int(42));
    }
    // Per client: call 1 on connection 1; call 2 on it, dropped, then on
    // connection 2; call 3 likewise on connections 2 and 3.
    assert_eq!(server.stop(), (6, 4));
}
