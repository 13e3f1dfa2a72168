//! What `RUST_LOG=debug` tells an operator about a real medusad: a line
//! per connection opened and closed (peer, duration, requests), per call
//! (method, duration, fault code) and per refusal, with the names a peer
//! chose escaped, so that no request can forge a log line.

mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

use util::daemon::{add_call, listening_addr, Daemon};

fn post(stream: &mut TcpStream, body: &str) {
    let request = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
}

#[test]
fn debug_lines_for_connections_calls_and_refusals() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_medusad"));
    command
        .args(["--port", "0", "--access-log", "off"])
        .env("RUST_LOG", "debug");
    let mut daemon = Daemon::spawn_command(command);
    let addr = listening_addr(&daemon.wait_for("listening on "));

    // One connection, three calls: a good one, an unknown method whose
    // name holds a line break, and the close.
    let mut stream = TcpStream::connect(addr).unwrap();
    post(&mut stream, &add_call(40, 2));
    let forged = "<?xml version=\"1.0\"?><methodCall><methodName>no\nsuch [forged line]</methodName><params/></methodCall>";
    post(&mut stream, forged);
    stream
        .write_all(b"GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answers = Vec::new();
    stream.read_to_end(&mut answers).unwrap();
    let answers = String::from_utf8_lossy(&answers);
    assert_eq!(answers.matches("HTTP/1.1 200 OK").count(), 3, "{answers}");

    // A refusal: a malformed request line.
    let mut bad = TcpStream::connect(addr).unwrap();
    bad.write_all(b"NOT HTTP\r\n\r\n").unwrap();
    let mut refused = Vec::new();
    bad.read_to_end(&mut refused).unwrap();
    let refused = String::from_utf8_lossy(&refused);
    assert!(refused.starts_with("HTTP/1.0 400 "), "{refused}");

    let line = daemon.wait_for("connection closed after");
    assert!(line.contains("3 requests"), "{line}");
    daemon.wait_for_seen("connection opened");
    let answered = daemon.wait_for_seen("xmlrpc: \"add\" answered in");
    assert!(answered.contains("DEBUG"), "{answered}");
    let fault = daemon.wait_for_seen("fault -32601 in");
    assert!(fault.contains(r#""no\nsuch [forged line]""#), "{fault}");
    let refusal = daemon.wait_for("400");
    assert!(
        refusal.contains("127.0.0.1:"),
        "the peer is named: {refusal}"
    );
    daemon.signal(libc::SIGTERM);
    let rest = daemon.rest_of_log();
    assert!(
        daemon
            .seen
            .iter()
            .chain(&rest)
            .all(|l| !l.starts_with("such [forged line]")),
        "a peer's line break started a log line"
    );
}

/// Connections refused at `--max-connections` get a debug line each (the
/// warning is at most once a second, so a flood cannot flood the log).
#[test]
fn every_refusal_at_max_connections_has_a_debug_line() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_medusad"));
    command
        .args([
            "--port",
            "0",
            "--access-log",
            "off",
            "--max-connections",
            "1",
        ])
        .env("RUST_LOG", "debug");
    let mut daemon = Daemon::spawn_command(command);
    let addr = listening_addr(&daemon.wait_for("listening on "));
    // The one connection allowed, busy (half a request), so not evictable.
    let mut busy = TcpStream::connect(addr).unwrap();
    busy.write_all(b"POST /RPC2 HTTP/1.1\r\nHost: localhost\r\n")
        .unwrap();
    daemon.wait_for("connection opened");
    for _ in 0..3 {
        let mut refused = TcpStream::connect(addr).unwrap();
        let mut rest = Vec::new();
        // Closed at once, unanswered.
        let _ = refused.read_to_end(&mut rest);
    }
    for _ in 0..3 {
        let line = daemon.wait_for("max_connections open and none idle");
        assert!(
            line.contains("DEBUG") && line.contains("refused 127.0.0.1:"),
            "{line}"
        );
    }
    drop(busy);
    daemon.signal(libc::SIGTERM);
    let _ = daemon.rest_of_log();
}
