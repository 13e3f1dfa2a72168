//! What the blocking `Client` and the reactor's `AsyncClient` must agree on,
//! each checked for both over real sockets: URLs (user info as Basic
//! credentials, clear errors for bad ones) and response size limits.

mod util;

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use medusa::handlers::{AuthHandler, XmlRpcHandler};
use medusa::http::{HttpConfig, HttpServer};
use medusa::reactor::Reactor;
use medusa::xmlrpc::{
    AsyncClient, AsyncClientConfig, CallResult, Client, ClientError, Registry, Value,
};
use util::daemon::Daemon;
use util::*;

/// The password of the tests' Basic-auth user: every character that needs
/// %-escaping in a URL's user info.
const PASSWORD: &str = "s3:cr@t/%?#";
const PASSWORD_IN_URL: &str = "s3%3Acr%40t%2F%25%3F%23";

/// `add` behind Basic auth for `ann` with [`PASSWORD`], on 127.0.0.1.
fn auth_server() -> TestServer {
    TestServer::start(|reactor| {
        let mut registry = Registry::new();
        registry.register("add", |a: i32, b: i32| a.wrapping_add(b));
        let users = HashMap::from([("ann".to_string(), PASSWORD.to_string())]);
        let server = HttpServer::bind(localhost(), HttpConfig::default())?;
        server.install_handler(AuthHandler::new(
            "test",
            users,
            XmlRpcHandler::new("/RPC2", registry),
        ));
        let addr = server.local_addr()?;
        reactor.add(server)?;
        Ok(addr)
    })
}

/// One call with a fresh `AsyncClient` on a fresh loop.
fn async_call(
    config: AsyncClientConfig,
    url: &str,
    method: &str,
    params: Vec<Value>,
) -> CallResult {
    let mut reactor = Reactor::new().unwrap();
    let client = AsyncClient::new(&mut reactor, config).unwrap();
    let result: Rc<RefCell<Option<CallResult>>> = Rc::default();
    let slot = result.clone();
    client.call(url, method, params, move |r| *slot.borrow_mut() = Some(r));
    client.close();
    let deadline = Instant::now() + Duration::from_secs(30);
    while result.borrow().is_none() {
        assert!(Instant::now() < deadline, "no answer after 30 s");
        reactor.run_once(Some(Duration::from_millis(50))).unwrap();
    }
    let answer = result.borrow_mut().take().unwrap();
    answer
}

fn blocking_call(url: &str, method: &str, params: Vec<Value>) -> Result<Value, ClientError> {
    let mut client = Client::new(url)?;
    client.set_timeout(Some(Duration::from_secs(10)));
    client.call(method, params)
}

fn add_args() -> Vec<Value> {
    vec![Value::Int(40), Value::Int(2)]
}

fn assert_401(result: Result<Value, ClientError>) {
    match result {
        Err(ClientError::Http { status: 401, .. }) => {}
        other => panic!("expected HTTP 401, got {other:?}"),
    }
}

/// `http://user:password@host/` (Python's `ServerProxy` form) sends Basic
/// credentials, %-decoded, with every call; wrong or missing ones get 401.
#[test]
fn user_info_in_the_url_is_basic_auth_for_both_clients() {
    let server = auth_server();
    let port = server.addr.port();
    let good = format!("http://ann:{PASSWORD_IN_URL}@127.0.0.1:{port}/RPC2");
    let wrong = format!("http://ann:nope@127.0.0.1:{port}/RPC2");
    let none = format!("http://127.0.0.1:{port}/RPC2");

    let mut client = Client::new(&good).unwrap();
    client.set_timeout(Some(Duration::from_secs(10)));
    for _ in 0..3 {
        // Each call on the kept-alive connection carries the credentials.
        assert_eq!(client.call("add", add_args()).unwrap(), Value::Int(42));
    }
    assert_401(blocking_call(&wrong, "add", add_args()));
    assert_401(blocking_call(&none, "add", add_args()));

    let config = AsyncClientConfig::default;
    assert_eq!(
        async_call(config(), &good, "add", add_args()).unwrap(),
        Value::Int(42)
    );
    assert_401(async_call(config(), &wrong, "add", add_args()));
    assert_401(async_call(config(), &none, "add", add_args()));
}

/// Neither client, nor any error, shows the password: not as typed, not
/// %-escaped, not in the base64 of the header.
#[test]
fn credentials_never_show_in_debug_or_errors() {
    let server = auth_server();
    let port = server.addr.port();
    let secrets = [PASSWORD, PASSWORD_IN_URL, "YW5uOnMzOmNyQHQvJT8j"];
    let assert_hidden = |what: &str, text: String| {
        for secret in secrets {
            assert!(!text.contains(secret), "{what} shows {secret:?}: {text}");
        }
    };
    let good = format!("http://ann:{PASSWORD_IN_URL}@127.0.0.1:{port}/RPC2");
    let client = Client::new(&good).unwrap();
    assert_hidden("Client's Debug", format!("{client:?}"));

    let mut reactor = Reactor::new().unwrap();
    let async_client = AsyncClient::new(&mut reactor, AsyncClientConfig::default()).unwrap();
    async_client.call(&good, "add", add_args(), |_| {});
    assert_hidden("AsyncClient's Debug", format!("{async_client:?}"));
    drop(reactor);

    // URLs that fail to parse after the user info, or inside it.
    for url in [
        format!("http://ann:{PASSWORD_IN_URL}@127.0.0.1:bad/RPC2"),
        format!("http://ann:{PASSWORD_IN_URL}@/RPC2"),
        format!("http://ann:{PASSWORD_IN_URL}@127.0.0.1:{port}/a b"),
        format!("http://ann:{PASSWORD_IN_URL}%zz@127.0.0.1:{port}/RPC2"),
        // The host left out: the password is where the port would be.
        format!("http://ann:{PASSWORD_IN_URL}"),
    ] {
        let e = Client::new(&url).unwrap_err();
        assert_hidden("a URL error", format!("{e} {e:?}"));
        let e = async_call(AsyncClientConfig::default(), &url, "add", add_args()).unwrap_err();
        assert_hidden("a URL error", format!("{e} {e:?}"));
    }
    // A refusal by the server.
    let wrong = format!("http://ann:{PASSWORD_IN_URL}x@127.0.0.1:{port}/RPC2");
    let e = blocking_call(&wrong, "add", add_args()).unwrap_err();
    assert_hidden("an HTTP error", format!("{e} {e:?}"));
    let e = async_call(AsyncClientConfig::default(), &wrong, "add", add_args()).unwrap_err();
    assert_hidden("an HTTP error", format!("{e} {e:?}"));
}

/// medusad's `--auth-user`, from both clients.
#[test]
fn both_clients_pass_medusad_auth_user() {
    let daemon = Daemon::start(&["--auth-user", "ann:p@ss w:rd"]);
    let port = daemon.addr.port();
    let good = format!("http://ann:p%40ss%20w%3Ard@127.0.0.1:{port}/RPC2");
    assert_eq!(
        blocking_call(&good, "add", add_args()).unwrap(),
        Value::Int(42)
    );
    let answer = async_call(AsyncClientConfig::default(), &good, "add", add_args());
    assert_eq!(answer.unwrap(), Value::Int(42));
    let wrong = format!("http://ann:p%40ss@127.0.0.1:{port}/RPC2");
    assert_401(blocking_call(&wrong, "add", add_args()));
    assert_401(async_call(
        AsyncClientConfig::default(),
        &wrong,
        "add",
        add_args(),
    ));
}

/// Bad URLs fail at once with what is wrong, from both clients, rather
/// than as a resolver error at connect time.
#[test]
fn bad_urls_name_the_problem_in_both_clients() {
    let cases = [
        ("http://127.0.0.1:notaport/RPC2", "port"),
        ("http://127.0.0.1:70000/RPC2", "port"),
        ("http://[::1/RPC2", "'['"),
        ("http://[127.0.0.1]:80/RPC2", "IPv6"),
        ("http://bad host:80/RPC2", "' '"),
        ("http:///RPC2", "no host"),
        ("https://127.0.0.1:0/RPC2", "port"),
        ("127.0.0.1:80/RPC2", "scheme"),
        ("http://127.0.0.1:80/a b", "path"),
        ("http://ann:%zz@127.0.0.1:80/RPC2", "%-escape"),
    ];
    for (url, problem) in cases {
        let message = match Client::new(url) {
            Err(e @ ClientError::Url(_)) => e.to_string(),
            Err(other) => panic!("{url}: not a URL error: {other}"),
            Ok(_) => panic!("{url}: accepted"),
        };
        assert!(message.contains(problem), "{url}: {message}");
        assert!(!message.contains("lookup"), "{url}: {message}");
        let message = match async_call(AsyncClientConfig::default(), url, "add", add_args()) {
            Err(e @ ClientError::Url(_)) => e.to_string(),
            other => panic!("{url}: expected a URL error, got {other:?}"),
        };
        assert!(message.contains(problem), "{url}: {message}");
    }
}

/// The port defaults to 80: a refused connection to 127.0.0.1:80 says so,
/// where a parse or resolver failure would not. (Skipped if something
/// listens on port 80.)
#[test]
fn default_port_is_80_in_both_clients() {
    if std::net::TcpStream::connect("127.0.0.1:80").is_ok() {
        eprintln!("something listens on 127.0.0.1:80; skipping");
        return;
    }
    for url in ["http://127.0.0.1/RPC2", "http://127.0.0.1"] {
        match blocking_call(url, "add", add_args()) {
            Err(ClientError::Io(e)) => {
                assert_eq!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionRefused,
                    "{url}: {e}"
                )
            }
            other => panic!("{url}: expected a refused connection, got {other:?}"),
        }
        match async_call(AsyncClientConfig::default(), url, "add", add_args()) {
            Err(ClientError::Io(e)) => {
                assert_eq!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionRefused,
                    "{url}: {e}"
                )
            }
            other => panic!("{url}: expected a refused connection, got {other:?}"),
        }
    }
}

/// A server (own thread, 127.0.0.1) that answers every POST with the same
/// prepared response, whatever was asked: bodies no `Registry` would make.
struct CannedServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl CannedServer {
    fn start(response: Arc<Vec<u8>>) -> CannedServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let response = response.clone();
                std::thread::spawn(move || serve_canned(stream, &response));
            }
        });
        CannedServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for CannedServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop to see the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads requests (head, then `Content-Length` bytes) and answers each
/// with `response`, until the client closes or stalls.
fn serve_canned(stream: TcpStream, response: &[u8]) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() || writer.write_all(response).is_err() {
            return;
        }
    }
}

const MIB: usize = 1024 * 1024;

/// A `methodResponse` whose string is `n` bytes of letters.
fn big_answer(n: usize) -> Vec<u8> {
    let mut xml = b"<?xml version=\"1.0\"?><methodResponse><params><param><value><string>".to_vec();
    xml.extend(b"abcdefghijklmnopqrstuvwxyz".iter().cycle().take(n));
    xml.extend_from_slice(b"</string></value></param></params></methodResponse>");
    xml
}

/// An HTTP/1.1 200 response carrying `body`, gzipped if `gzip`.
fn http_response(body: &[u8], gzip: bool) -> Arc<Vec<u8>> {
    let body = if gzip {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(body).unwrap();
        encoder.finish().unwrap()
    } else {
        body.to_vec()
    };
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n{}\r\n",
        body.len(),
        if gzip {
            "Content-Encoding: gzip\r\n"
        } else {
            ""
        }
    )
    .into_bytes();
    response.extend_from_slice(&body);
    Arc::new(response)
}

/// A 12 MiB answer, as it is and gzipped (made once: compressing it takes
/// a while in a debug build).
fn twelve_mib(gzip: bool) -> Arc<Vec<u8>> {
    static PLAIN: OnceLock<Arc<Vec<u8>>> = OnceLock::new();
    static GZIPPED: OnceLock<Arc<Vec<u8>>> = OnceLock::new();
    let cell = if gzip { &GZIPPED } else { &PLAIN };
    cell.get_or_init(|| http_response(&big_answer(12 * MIB), gzip))
        .clone()
}

/// The limit cases both clients must get right: (gzipped?, limit or the
/// default, whether the 12 MiB answer is accepted).
const LIMIT_CASES: [(bool, Option<usize>, bool); 6] = [
    (false, Some(16 * MIB), true),
    (false, None, false),
    (false, Some(MIB), false),
    (true, Some(16 * MIB), true),
    // Small on the wire, over the limit once inflated.
    (true, None, false),
    (true, Some(MIB), false),
];

fn check_limit_case(what: &str, result: Result<Value, ClientError>, accepted: bool) {
    match result {
        Ok(Value::String(s)) if accepted => assert_eq!(s.len(), 12 * MIB, "{what}"),
        Err(e @ ClientError::Protocol(_)) if !accepted => {
            assert!(e.to_string().contains("too large"), "{what}: {e}")
        }
        other => panic!(
            "{what}: accepted={accepted} expected, got {:?}",
            other.map(|_| "a value")
        ),
    }
}

/// `max_response_bytes` bounds the answer as sent and as inflated, in both
/// directions: above the 10 MiB default a 12 MiB answer decodes, below it
/// the call fails saying the response is too large.
#[test]
fn async_client_max_response_bytes_applies_to_body_gunzip_and_decode() {
    for (gzip, limit, accepted) in LIMIT_CASES {
        let server = CannedServer::start(twelve_mib(gzip));
        let mut config = AsyncClientConfig::default();
        if let Some(limit) = limit {
            config.max_response_bytes = limit;
        }
        let url = format!("http://{}/RPC2", server.addr);
        let result = async_call(config, &url, "big", vec![]);
        check_limit_case(&format!("gzip={gzip} limit={limit:?}"), result, accepted);
    }
}

/// The same for the blocking client's `set_max_response_bytes`.
#[test]
fn blocking_client_max_response_bytes_applies_to_body_gunzip_and_decode() {
    for (gzip, limit, accepted) in LIMIT_CASES {
        let server = CannedServer::start(twelve_mib(gzip));
        let mut client = Client::new(&format!("http://{}/RPC2", server.addr)).unwrap();
        client.set_timeout(Some(Duration::from_secs(20)));
        if let Some(limit) = limit {
            client.set_max_response_bytes(limit);
        }
        let result = client.call("big", vec![]);
        check_limit_case(&format!("gzip={gzip} limit={limit:?}"), result, accepted);
    }
}

/// A chunk size near `usize::MAX` is "too large", not an overflow (a panic
/// in a debug build, a wrapped length check in a release one).
#[test]
fn huge_chunk_sizes_are_too_large_in_both_clients() {
    let response = Arc::new(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\n<?xml\r\nffffffffffffffff\r\n"
            .to_vec(),
    );
    let server = CannedServer::start(response);
    let url = format!("http://{}/RPC2", server.addr);
    for result in [
        blocking_call(&url, "x", vec![]),
        async_call(AsyncClientConfig::default(), &url, "x", vec![]),
    ] {
        match result {
            Err(e @ ClientError::Protocol(_)) => {
                assert!(e.to_string().contains("too large"), "{e}")
            }
            other => panic!("expected too large, got {other:?}"),
        }
    }
}
