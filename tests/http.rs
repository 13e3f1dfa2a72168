//! The HTTP server over real sockets: framing, persistence, pipelining and
//! every error answer, with raw bytes on the wire.

mod util;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::time::Duration;

use medusa::http::{Handler, HttpConfig, HttpServer, Outcome, Request, Response, ServerView};
use util::http::Reply;
use util::*;

/// `/hello` (GET/HEAD), `/echo` (POST: body back), `/panic`, `/stream`
/// (unknown-length body).
struct TestHandler;

impl Handler for TestHandler {
    fn matches(&self, request: &Request) -> bool {
        ["/hello", "/echo", "/panic", "/stream", "/big", "/later"].contains(&request.path.as_str())
    }

    fn handle_request(&mut self, request: &mut Request, server: &ServerView<'_>) -> Outcome {
        let response = match (request.path.as_str(), request.method.as_str()) {
            ("/hello", "GET" | "HEAD") => Response::ok("text/plain", "hello\n"),
            ("/hello", _) => Response::method_not_allowed(&["GET", "HEAD"]),
            ("/echo", "POST") => Response::ok("application/octet-stream", request.body.clone()),
            ("/panic", _) => panic!("handler exploded on purpose"),
            ("/later", _) => {
                // Answered from another thread, after a pause.
                let (responder, later) = server.defer();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(50));
                    responder.respond(|| Response::ok("text/plain", "later\n"));
                });
                return Outcome::Later(later);
            }
            ("/stream", _) => {
                let producer = medusa::producers::SimpleProducer::new(b"0123456789".repeat(100), 7);
                Response::new(200).with_producer(producer, None)
            }
            ("/big", _) => {
                let producer = medusa::producers::SimpleProducer::new(vec![b'x'; 32 << 20], 65536);
                Response::new(200).with_producer(producer, Some(32 << 20))
            }
            _ => Response::error(404, "nope"),
        };
        response.into()
    }
}

fn server_with(config: HttpConfig) -> TestServer {
    TestServer::start(move |reactor| {
        let server = HttpServer::bind(localhost(), config)?;
        server.install_handler(TestHandler);
        let addr = server.local_addr()?;
        reactor.add(server)?;
        Ok(addr)
    })
}

fn server() -> TestServer {
    server_with(HttpConfig::default())
}

/// Reads one response; `head_only` for replies to HEAD.
fn read_reply(reader: &mut BufReader<TcpStream>, head_only: bool) -> Reply {
    util::http::read_reply(reader, head_only).expect("a reply")
}

fn client(server: &TestServer) -> (TcpStream, BufReader<TcpStream>) {
    let stream = connect(server.addr);
    let reader = BufReader::new(stream.try_clone().unwrap());
    (stream, reader)
}

/// Sends `request` on a new connection and reads one reply.
fn exchange(server: &TestServer, request: &[u8]) -> Reply {
    let (mut stream, mut reader) = client(server);
    send(&mut stream, request);
    read_reply(&mut reader, request.starts_with(b"HEAD"))
}

/// After the reply, the server has closed the connection.
fn assert_closed(reader: &mut BufReader<TcpStream>) {
    let mut rest = Vec::new();
    reader
        .read_to_end(&mut rest)
        .expect("clean close, not a reset");
    assert!(
        rest.is_empty(),
        "unexpected bytes after the reply: {rest:?}"
    );
}

/// A GET gets status line, Date, Server and Content-Length, and the body.
#[test]
fn get_has_standard_headers_and_body() {
    let server = server();
    let reply = exchange(&server, b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.version, "HTTP/1.1");
    assert_eq!(reply.body, b"hello\n");
    assert_eq!(reply.header("Content-Length"), Some("6"));
    assert!(reply.header("Server").unwrap().starts_with("medusa/"));
    assert!(httpdate::parse_http_date(reply.header("Date").unwrap()).is_ok());
    assert_eq!(
        reply.header("Connection"),
        None,
        "1.1 keep-alive is implicit"
    );
}

/// HTTP/1.1 connections persist; `Connection: close` is honoured.
#[test]
fn http11_keeps_alive_until_connection_close() {
    let server = server();
    let (mut stream, mut reader) = client(&server);
    for _ in 0..3 {
        send(&mut stream, b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(read_reply(&mut reader, false).body, b"hello\n");
    }
    send(
        &mut stream,
        b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let reply = read_reply(&mut reader, false);
    assert_eq!(reply.header("Connection"), Some("close"));
    assert_closed(&mut reader);
}

/// HTTP/1.0 closes unless it asks for keep-alive, which is then confirmed.
#[test]
fn http10_persistence_rules() {
    let server = server();
    let (mut stream, mut reader) = client(&server);
    send(&mut stream, b"GET /hello HTTP/1.0\r\n\r\n");
    let reply = read_reply(&mut reader, false);
    assert_eq!(reply.version, "HTTP/1.0");
    assert_eq!(reply.header("Connection"), Some("close"));
    assert_closed(&mut reader);

    let (mut stream, mut reader) = client(&server);
    for _ in 0..2 {
        send(
            &mut stream,
            b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        );
        let reply = read_reply(&mut reader, false);
        assert_eq!(reply.header("Connection"), Some("keep-alive"));
        assert_eq!(reply.body, b"hello\n");
    }
}

/// Three pipelined requests in one write are answered in order.
#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = server();
    let (mut stream, mut reader) = client(&server);
    send(
        &mut stream,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none\
          GET /hello HTTP/1.1\r\nHost: x\r\n\r\n\
          POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nthree",
    );
    assert_eq!(read_reply(&mut reader, false).body, b"one");
    assert_eq!(read_reply(&mut reader, false).body, b"hello\n");
    assert_eq!(read_reply(&mut reader, false).body, b"three");
}

/// A handler answers later (`Outcome::Later`, from another thread): the
/// request pipelined behind it waits, and both are answered in order.
#[test]
fn a_deferred_response_keeps_pipelined_order() {
    let server = server();
    let (mut stream, mut reader) = client(&server);
    send(
        &mut stream,
        b"GET /later HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let first = read_reply(&mut reader, false);
    assert_eq!(
        (first.status, first.body.as_slice()),
        (200, &b"later\n"[..])
    );
    assert_eq!(read_reply(&mut reader, false).body, b"hello\n");
}

/// HEAD gets the headers of a GET, with its Content-Length, and no body.
#[test]
fn head_sends_headers_only() {
    let server = server();
    let (mut stream, mut reader) = client(&server);
    send(
        &mut stream,
        b"HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let head = read_reply(&mut reader, true);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Content-Length"), Some("6"));
    // If HEAD had sent a body, this would read it as the next status line.
    let get = read_reply(&mut reader, false);
    assert_eq!((get.status, get.body.as_slice()), (200, &b"hello\n"[..]));
}

/// A body split across many small writes is reassembled.
#[test]
fn body_in_many_pieces_is_reassembled() {
    let server = server();
    let (mut stream, mut reader) = client(&server);
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    send(
        &mut stream,
        format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    for piece in body.chunks(7919) {
        send(&mut stream, piece);
    }
    assert_eq!(read_reply(&mut reader, false).body, body);
}

/// A chunked request body is decoded, extensions and trailers included.
#[test]
fn chunked_request_body_is_decoded() {
    let server = server();
    let (mut stream, mut reader) = client(&server);
    send(
        &mut stream,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n\
          GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(read_reply(&mut reader, false).body, b"hello 0123456789");
    assert_eq!(
        read_reply(&mut reader, false).body,
        b"hello\n",
        "framing intact afterwards"
    );
}

/// `Expect: 100-continue` gets an interim 100 before the body is sent.
#[test]
fn expect_continue_is_answered() {
    let server = server();
    let (mut stream, mut reader) = client(&server);
    send(
        &mut stream,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    );
    assert_eq!(read_reply(&mut reader, false).status, 100);
    send(&mut stream, b"body");
    assert_eq!(read_reply(&mut reader, false).body, b"body");
}

/// An unknown-length body is chunked to 1.1 clients and close-delimited to
/// 1.0 clients.
#[test]
fn streamed_bodies_are_chunked_or_close_delimited() {
    let server = server();
    let expected = b"0123456789".repeat(100);
    let (mut stream, mut reader) = client(&server);
    send(
        &mut stream,
        b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let reply = read_reply(&mut reader, false);
    assert_eq!(reply.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(reply.body, expected);
    assert_eq!(read_reply(&mut reader, false).body, b"hello\n");

    let (mut stream, mut reader) = client(&server);
    send(
        &mut stream,
        b"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    );
    let reply = read_reply(&mut reader, false);
    assert_eq!(reply.header("Connection"), Some("close"));
    assert_eq!(reply.body, expected);
}

/// Every malformed or refused request gets its status and a closed
/// connection, and the server goes on serving.
#[test]
fn error_cases_get_the_right_status() {
    let server = server();
    let long_header = format!(
        "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    let many_headers = format!(
        "GET /hello HTTP/1.1\r\nHost: x\r\n{}\r\n",
        "X-A: b\r\n".repeat(101)
    );
    let cases: Vec<(&[u8], u16)> =
        vec![
        (b"GARBAGE\r\n\r\n", 400),
        (b"\x00\x01\x02 / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n", 400),
        (b"GET /hello HTTP/9.9\r\n\r\n", 505),
        (long_header.as_bytes(), 431),
        (many_headers.as_bytes(), 431),
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400),
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
        (
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
            400,
        ),
        (
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n",
            413,
        ),
        (
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
            501,
        ),
        (
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            400,
        ),
        (
            b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\n",
            417,
        ),
        (b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        (b"DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"GET /panic HTTP/1.1\r\nHost: x\r\n\r\n", 500),
    ];
    for (request, status) in cases {
        let (mut stream, mut reader) = client(&server);
        send(&mut stream, request);
        let reply = read_reply(&mut reader, false);
        let shown = String::from_utf8_lossy(&request[..request.len().min(60)]).to_string();
        assert_eq!(reply.status, status, "for {shown:?}");
        assert!(
            !reply.body.is_empty(),
            "error pages have a short body: {shown:?}"
        );
        if status == 405 {
            assert_eq!(reply.header("Allow"), Some("GET, HEAD"));
        }
        if ![404, 405, 500].contains(&status) {
            assert_eq!(reply.header("Connection"), Some("close"), "{shown:?}");
            assert_closed(&mut reader);
        }
        // The server still answers a normal request.
        assert_eq!(
            exchange(&server, b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").status,
            200
        );
    }
}

/// A 413 is sent as soon as the head is read, before any of the body.
#[test]
fn oversize_body_refused_before_it_is_sent() {
    let config = HttpConfig {
        max_body_bytes: 1000,
        ..HttpConfig::default()
    };
    let server = server_with(config);
    let (mut stream, mut reader) = client(&server);
    send(
        &mut stream,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\nExpect: 100-continue\r\n\r\n",
    );
    let reply = read_reply(&mut reader, false);
    assert_eq!(reply.status, 413);
    assert_closed(&mut reader);
}

/// A panicking handler costs its own request a 500; the same connection and
/// others keep working.
#[test]
fn handler_panic_is_a_500_and_the_connection_survives() {
    let server = server();
    let (mut stream, mut reader) = client(&server);
    send(
        &mut stream,
        b"GET /panic HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(read_reply(&mut reader, false).status, 500);
    assert_eq!(read_reply(&mut reader, false).body, b"hello\n");
}

/// A sender slower than `request_timeout` gets 408 while others are served.
#[test]
fn slow_sender_gets_408() {
    let config = HttpConfig {
        request_timeout: Duration::from_millis(300),
        ..HttpConfig::default()
    };
    let server = server_with(config);
    let (mut slow, mut slow_reader) = client(&server);
    send(&mut slow, b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    for _ in 0..3 {
        assert_eq!(
            exchange(&server, b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").status,
            200
        );
    }
    let reply = read_reply(&mut slow_reader, false);
    assert_eq!(reply.status, 408);
    assert_closed(&mut slow_reader);
}

/// An idle keep-alive connection is closed after `idle_timeout`, quietly.
#[test]
fn idle_connection_is_closed() {
    let config = HttpConfig {
        idle_timeout: Duration::from_millis(200),
        ..HttpConfig::default()
    };
    let server = server_with(config);
    let (mut stream, mut reader) = client(&server);
    send(&mut stream, b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(read_reply(&mut reader, false).status, 200);
    assert_closed(&mut reader);
}

/// Beyond `max_connections`, with none of the open ones idle after a
/// response (one is mid-request, one has sent nothing yet), new
/// connections are closed at once, and served again when others go.
/// (An idle kept-alive connection would be evicted instead: see
/// tests/hostile_daemon.rs.)
#[test]
fn connections_beyond_the_limit_are_closed() {
    let config = HttpConfig {
        max_connections: 2,
        ..HttpConfig::default()
    };
    let server = server_with(config);
    let (mut a, mut a_reader) = client(&server);
    let (_b, _b_reader) = client(&server);
    send(&mut a, b"GET /hello HTTP/1.1\r\nHost: x\r\n");
    std::thread::sleep(Duration::from_millis(50));
    let (mut c, mut c_reader) = client(&server);
    let _ = std::io::Write::write_all(&mut c, b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut rest = Vec::new();
    let _ = c_reader.read_to_end(&mut rest);
    assert!(
        rest.is_empty(),
        "third connection is closed without an answer"
    );
    send(&mut a, b"\r\n");
    assert_eq!(read_reply(&mut a_reader, false).status, 200);
    drop((a, a_reader));
    // Once a slot frees up, connections are served again.
    let mut served = false;
    for _ in 0..50 {
        let (mut d, mut d_reader) = client(&server);
        let _ = std::io::Write::write_all(&mut d, b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        let mut line = String::new();
        if d_reader.read_line(&mut line).is_ok() && line.starts_with("HTTP/1.1 200") {
            served = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(served);
}

/// A client that stops reading a large response is cut off after
/// `idle_timeout` without progress, instead of being held forever.
#[test]
fn stalled_reader_is_cut_off() {
    let config = HttpConfig {
        idle_timeout: Duration::from_millis(300),
        ..HttpConfig::default()
    };
    let server = server_with(config);
    let (mut stream, mut reader) = client(&server);
    send(&mut stream, b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    std::thread::sleep(Duration::from_millis(1000));
    // Drain what the kernel buffered; the server must have closed (EOF or
    // reset), not left the connection hanging until our read timeout.
    let mut buf = vec![0; 1 << 20];
    let mut total = 0usize;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("connection still open after the idle timeout: {e}"),
        }
    }
    assert!(total < 32 << 20, "the whole body cannot have been sent");
}

/// A keep-alive request and the client's end of input arriving together
/// (one write, then `shutdown(Write)`): the answer, then the server closes
/// at once, not after its 30 s idle timeout. (The read that ends a short
/// read's pass is skipped only when the poller reported no end of input;
/// this is the case where it did, in the same event as the data.)
#[test]
fn request_and_end_of_input_together_get_the_answer_then_a_close() {
    let server = server();
    for _ in 0..20 {
        let (mut stream, mut reader) = client(&server);
        send(&mut stream, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let reply = read_reply(&mut reader, false);
        assert!(reply.status > 0);
        // A timeout here would mean the end of input went unnoticed.
        assert_closed(&mut reader);
    }
}
