//! `/status/health` against a real medusad: 200 while serving, 503 on a
//! connection still open while a graceful shutdown drains, new
//! connections refused; the same with `--workers 2`; and the credentials
//! rule (`--public /status/health`).

mod util;

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use util::daemon::Daemon;
use util::http::{read_reply, Reply};

/// A keep-alive connection sending requests by hand.
struct Connection {
    reader: BufReader<TcpStream>,
    /// The `Host` header (medusad checks it).
    host: SocketAddr,
}

impl Connection {
    fn open(addr: SocketAddr) -> Connection {
        Connection {
            reader: BufReader::new(util::connect(addr)),
            host: addr,
        }
    }

    fn send(&mut self, data: &str) {
        self.reader
            .get_mut()
            .write_all(data.as_bytes())
            .expect("send");
    }

    fn reply(&mut self) -> Reply {
        read_reply(&mut self.reader, false).expect("a reply")
    }

    fn get(&mut self, path: &str, extra: &str) -> Reply {
        let host = self.host;
        self.send(&format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n"
        ));
        self.reply()
    }
}

/// A configuration with the demo endpoint and `slow`, a program that says
/// it started (the file `started`) and answers 7 once the file `release`
/// exists: a request that holds a shutdown for as long as the test wants.
struct SlowMethod {
    dir: TempDir,
}

impl SlowMethod {
    fn new() -> SlowMethod {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = format!(
            r#"[[endpoint]]
path = "/RPC2"
demo = true

[[endpoint.method]]
name = "slow"
command = ["/bin/sh", "-c", "touch started; while [ ! -e release ]; do sleep 0.02; done; echo 7"]
cwd = "{}"
"#,
            dir.path().display()
        );
        std::fs::write(dir.path().join("medusad.toml"), config).expect("write the config");
        SlowMethod { dir }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("medusad.toml")
    }

    /// Sends the call on `connection` and waits until the program runs.
    fn call(&self, connection: &mut Connection) {
        let body = "<?xml version=\"1.0\"?><methodCall><methodName>slow</methodName>\
                    <params></params></methodCall>";
        connection.send(&format!(
            "POST /RPC2 HTTP/1.1\r\nHost: {}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
            connection.host,
            body.len()
        ));
        wait_for_file(&self.dir.path().join("started"));
    }

    fn release(&self) {
        std::fs::write(self.dir.path().join("release"), "").expect("write the release file");
    }
}

fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn assert_up(reply: &Reply) {
    assert_eq!(reply.status, 200, "{}", reply.brief());
    assert_eq!(reply.text(), "ok\n");
    assert_eq!(
        reply.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(reply.header("Cache-Control"), Some("no-store"));
}

/// The drain, in `processes` serving processes (1, or the workers of
/// `--workers N`).
fn drain(extra: &[&str], processes: usize) {
    let slow = SlowMethod::new();
    let config = slow.config();
    let mut args = vec!["--config", config.to_str().expect("a UTF-8 path")];
    args.extend_from_slice(extra);
    let mut daemon = Daemon::start(&args);
    for _ in 1..processes {
        daemon.wait_for("listening on ");
    }
    let addr = daemon.addr;

    // Both connections answer once first, so each is known to its server
    // (accepted and registered) before the signal: a connection the
    // shutdown finds idle is closed then, one mid-request is answered.
    let mut held = Connection::open(addr);
    assert_up(&held.get("/status/health", ""));
    let mut checker = Connection::open(addr);
    let reply = checker.get("/status/health", "");
    assert_up(&reply);
    assert_eq!(reply.header("Connection"), None, "kept alive while serving");

    slow.call(&mut held);
    // A balancer's check on its way when the drain begins: the head's
    // first lines are in, its end comes after the signal.
    let host = checker.host;
    checker.send(&format!("GET /status/health HTTP/1.1\r\nHost: {host}\r\n"));
    // On loopback the bytes are in the server's socket when `send`
    // returns, so its loop reads them in the signal's pass at the latest
    // (readiness is handled before signals).
    daemon.signal(libc::SIGTERM);
    for _ in 0..processes {
        daemon.wait_for("no longer accepting connections");
    }

    // New connections are refused once the listening socket is closed
    // (just after the line: the loop closes it when the hook returns).
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect_timeout(&addr, Duration::from_secs(5)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "new connections still accepted while draining"
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    checker.send("\r\n");
    let reply = checker.reply();
    assert_eq!(reply.status, 503, "{}", reply.brief());
    assert_eq!(reply.text(), "draining\n");
    assert_eq!(
        reply.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(reply.header("Connection"), Some("close"));

    // The request that held the shutdown still gets its answer.
    slow.release();
    let answer = held.reply();
    assert_eq!(answer.status, 200, "{}", answer.brief());
    assert!(answer.text().contains("<int>7</int>"), "{}", answer.brief());
    assert_eq!(answer.header("Connection"), Some("close"));

    // Closed by us too: the server's lingering close ends at once.
    drop((held, checker));
    let status = daemon.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "medusad exited with {status}");
}

#[test]
fn health_is_503_on_an_open_connection_while_draining() {
    drain(&[], 1);
}

#[test]
fn health_is_503_while_workers_drain() {
    drain(&["--workers", "2"], 2);
}

#[test]
fn health_answers_head_and_refuses_post() {
    let daemon = Daemon::start(&[]);
    let mut connection = Connection::open(daemon.addr);
    let host = daemon.addr;
    connection.send(&format!(
        "HEAD /status/health HTTP/1.1\r\nHost: {host}\r\n\r\n"
    ));
    let head = read_reply(&mut connection.reader, true).expect("a reply");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Content-Length"), Some("3"));
    connection.send(&format!(
        "POST /status/health HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n\r\n"
    ));
    let post = connection.reply();
    assert_eq!(post.status, 405);
    assert_eq!(post.header("Allow"), Some("GET, HEAD"));
    drop(connection);
    daemon.terminate("medusad");
}

/// With credentials, `/status/health` is behind them like `/status`;
/// `--public /status/health` opens it (and only it) for a balancer.
#[test]
fn health_follows_the_credentials_rule_and_can_be_public() {
    let guarded = Daemon::start(&["--auth-user", "ops:secret"]);
    let mut connection = Connection::open(guarded.addr);
    assert_eq!(connection.get("/status/health", "").status, 401);
    let auth = "Authorization: Basic b3BzOnNlY3JldA==\r\n";
    assert_up(&connection.get("/status/health", auth));
    drop(connection);
    guarded.terminate("medusad");

    let public = Daemon::start(&["--auth-user", "ops:secret", "--public", "/status/health"]);
    let mut connection = Connection::open(public.addr);
    assert_up(&connection.get("/status/health", ""));
    assert_eq!(connection.get("/status", "").status, 401);
    drop(connection);
    public.terminate("medusad");
}
