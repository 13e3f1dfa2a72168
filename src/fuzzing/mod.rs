//! Entry points for the fuzz targets in `fuzz/`: thin wrappers that reach
//! crate-private parsers, and a whole HTTP exchange over loopback. Not a
//! stable API; hidden from the docs.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use slab::Slab;

use crate::chat::{scan, Scan};
use crate::handlers::{XmlRpcConfig, XmlRpcHandler};
use crate::http::{
    Handler, HttpConfig, HttpServer, HttpStats, Outcome, Request, Response, ServerView, Version,
};
use crate::reactor::Reactor;
use crate::xmlrpc::{Registry, Value};

/// Parses a request head (without the blank line ending it): the request
/// line on success, the status it would be refused with otherwise.
pub fn http_head(head: &[u8]) -> Result<String, u16> {
    crate::http::parse_head(head, &HttpConfig::default().message_limits())
        .map(|(request, _)| request.request_line())
        .map_err(|e| e.status)
}

/// The framing invariant: when the server accepts the first head of
/// `stream` (up to its first CRLFCRLF), httparse on its own ends that head
/// exactly where the framing did, so no bytes fall between two readings
/// of where the message ends.
pub fn head_framing_agrees(stream: &[u8]) -> bool {
    let Some(end) = memchr::memmem::find(stream, b"\r\n\r\n") else {
        return true;
    };
    let framed = &stream[..end + 4];
    if crate::http::parse_terminated_head(framed, &HttpConfig::default().message_limits()).is_err()
    {
        return true;
    }
    let start = framed
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(framed.len());
    let raw = &framed[start..];
    let mut headers = vec![httparse::EMPTY_HEADER; 512];
    let mut request = httparse::Request::new(&mut headers);
    matches!(request.parse(raw), Ok(httparse::Status::Complete(n)) if n == raw.len())
}

/// Splits `stream` into messages at `terminator`, feeding it in the given
/// pieces as a channel would; returns the messages and what is left over.
pub fn split_messages(pieces: &[&[u8]], terminator: &[u8]) -> (Vec<Vec<u8>>, Vec<u8>) {
    let mut messages = Vec::new();
    let mut message = Vec::new();
    let mut held: Vec<u8> = Vec::new();
    for piece in pieces {
        held.extend_from_slice(piece);
        loop {
            match scan(&held, terminator) {
                Scan::Found { data } => {
                    message.extend_from_slice(&held[..data]);
                    messages.push(std::mem::take(&mut message));
                    held.drain(..data + terminator.len());
                }
                Scan::NotFound { data } => {
                    message.extend_from_slice(&held[..data]);
                    held.drain(..data);
                    break;
                }
            }
        }
    }
    message.extend_from_slice(&held);
    (messages, message)
}

/// A registry with `add` and `echo`, the service the fuzz targets hit.
fn service() -> Registry {
    let mut registry = Registry::new();
    registry.register("add", |a: i32, b: i32| a.wrapping_add(b));
    registry.register("echo", |v: Value| v);
    registry
}

/// Posts `body` to an XML-RPC handler without sockets: (status, body,
/// content-encoding of the answer).
pub fn xmlrpc_post(
    body: &[u8],
    content_encoding: Option<&str>,
    accept_gzip: bool,
) -> (u16, Vec<u8>, Option<String>) {
    let mut handler = XmlRpcHandler::with_paths(&["/RPC2"], service(), XmlRpcConfig::default());
    let mut headers = vec![("Content-Type".to_string(), "text/xml".to_string())];
    if let Some(coding) = content_encoding {
        headers.push(("Content-Encoding".to_string(), coding.to_string()));
    }
    if accept_gzip {
        headers.push(("Accept-Encoding".to_string(), "gzip".to_string()));
    }
    let mut request = Request {
        method: "POST".to_string(),
        uri: "/RPC2".to_string(),
        path: "/RPC2".to_string(),
        query: None,
        version: Version::Http11,
        headers,
        body: body.to_vec(),
        peer: None,
        user: None,
    };
    let config = HttpConfig::default();
    let stats = HttpStats::default();
    let channels = RefCell::new(Slab::new());
    let reactor = Reactor::new().expect("reactor");
    let waker = reactor.waker();
    let deferred = RefCell::new(None);
    let view = ServerView {
        config: &config,
        stats: &stats,
        started: Instant::now(),
        others: [&[], &[]],
        channels: &channels,
        deferral: crate::http::Deferral {
            token: mio::Token(0),
            waker: &waker,
            slot: &deferred,
        },
        shutting_down: false,
    };
    let Outcome::Now(response) = handler.handle_request(&mut request, &view) else {
        // The fuzzed service has no deferred methods.
        return (0, Vec::new(), None);
    };
    let encoding = response.header("Content-Encoding").map(str::to_string);
    let body = match response.body {
        crate::http::Body::Bytes(bytes) => bytes,
        _ => Vec::new(),
    };
    (response.status, body, encoding)
}

/// The fuzzed server's limits: small, so that inputs of a few KiB reach
/// them.
fn fuzz_config() -> HttpConfig {
    HttpConfig {
        max_body_bytes: 4096,
        max_decoded_body_bytes: Some(8192),
        max_gzip_members: 4,
        ..HttpConfig::default()
    }
}

/// What the handlers were given: (request line, body length) for each
/// request, in order.
pub type Seen = Vec<(String, usize)>;

thread_local! {
    static SEEN: RefCell<Seen> = const { RefCell::new(Vec::new()) };
}

/// Installed first; never takes a request. It checks, for every request
/// any handler is asked about, that the body (as sent and decoded) is
/// within the configured limits, and records the request.
struct LimitCheck {
    config: HttpConfig,
}

impl Handler for LimitCheck {
    fn matches(&self, request: &Request) -> bool {
        let len = request.body.len() as u64;
        assert!(
            len <= self.config.max_body_bytes,
            "a handler was offered a {len}-byte body"
        );
        if let Ok(decoded) = request.decoded_body(&self.config) {
            let limit = self.config.gunzip_limits().max_output;
            assert!(
                decoded.len() as u64 <= limit,
                "a body decoded to {} bytes",
                decoded.len()
            );
        }
        SEEN.with(|seen| {
            seen.borrow_mut()
                .push((request.request_line(), request.body.len()))
        });
        false
    }

    fn handle_request(&mut self, _request: &mut Request, _server: &ServerView<'_>) -> Outcome {
        Response::error(500, "LimitCheck never matches").into()
    }
}

/// Sends `pieces` one after another to a real server (XML-RPC at `/RPC2`)
/// over loopback, each piece read by the server before the next is sent,
/// then half-closes. Returns everything the server answered, with the
/// `Date` headers blanked (they change with the clock), and what the
/// handlers were asked about. Panics if a handler is offered a body over
/// the limits.
pub fn http_exchange(pieces: &[&[u8]]) -> (Vec<u8>, Seen) {
    SEEN.with(|seen| seen.borrow_mut().clear());
    let answer = SERVER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let (reactor, addr) = slot.get_or_insert_with(start_server);
        exchange(reactor, *addr, pieces)
    });
    (answer, SEEN.with(|seen| seen.take()))
}

thread_local! {
    /// One server per thread, reused: a fresh listener per exchange would
    /// burn an ephemeral port per exchange (the server's TIME_WAIT sockets
    /// keep it), and they run out within a minute.
    static SERVER: RefCell<Option<(Reactor, std::net::SocketAddr)>> = const { RefCell::new(None) };
}

fn start_server() -> (Reactor, std::net::SocketAddr) {
    let mut reactor = Reactor::new().expect("reactor");
    // The default lingering close matters here: closing with unread input
    // would reset the connection and could destroy an answer not yet read.
    let server = HttpServer::bind("127.0.0.1:0", fuzz_config()).expect("bind");
    server.install_handler(XmlRpcHandler::new("/RPC2", service()));
    server.install_handler(LimitCheck {
        config: fuzz_config(),
    });
    let addr = server.local_addr().expect("address");
    reactor.add(server).expect("add");
    (reactor, addr)
}

fn exchange(reactor: &mut Reactor, addr: std::net::SocketAddr, pieces: &[&[u8]]) -> Vec<u8> {
    let mut client = TcpStream::connect(addr).expect("connect");
    client.set_nonblocking(true).expect("nonblocking");
    let mut answer = Vec::new();
    let pump = |reactor: &mut Reactor, client: &mut TcpStream, answer: &mut Vec<u8>| {
        // Let the server read what was sent (and answer) before going on.
        for _ in 0..4 {
            reactor.run_once(Some(Duration::ZERO)).expect("run_once");
        }
        let mut buf = [0u8; 65536];
        while let Ok(n) = client.read(&mut buf) {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
    };
    for piece in pieces {
        if client.write_all(piece).is_err() {
            break;
        }
        pump(reactor, &mut client, &mut answer);
    }
    let _ = client.shutdown(Shutdown::Write);
    let deadline = Instant::now() + Duration::from_secs(2);
    while reactor.dispatcher_count() > 1 && Instant::now() < deadline {
        pump(reactor, &mut client, &mut answer);
    }
    pump(reactor, &mut client, &mut answer);
    // Close with a reset: the whole answer is read, and a normal close would
    // leave this port in TIME_WAIT; at hundreds of exchanges a second the
    // ephemeral ports run out within a minute.
    let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
    drop(client);
    blank_dates(&answer)
}

fn blank_dates(answer: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(answer.len());
    let mut rest = answer;
    while let Some(i) = memchr::memmem::find(rest, b"\r\nDate: ") {
        out.extend_from_slice(&rest[..i + 8]);
        rest = &rest[i + 8..];
        let end = memchr::memmem::find(rest, b"\r\n").unwrap_or(rest.len());
        out.extend_from_slice(b"-");
        rest = &rest[end..];
    }
    out.extend_from_slice(rest);
    out
}

mod http_reader;
pub use http_reader::message_reader::http_reader;
