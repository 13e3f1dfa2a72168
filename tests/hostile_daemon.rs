//! Hostile peers against the real `medusad` binary: the cases an outside
//! attack suite found (issue 12), each checked on what comes back, then on
//! the process's memory, descriptors and CPU time from `/proc`, and on a
//! normal call still being answered.
#![cfg(target_os = "linux")]

mod util;

use std::io::{self, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use util::daemon::{add_call, Daemon};
use util::http::{gzip, post, read_reply, Reply};
use util::rss_kib;

// ---- What /proc says about the daemon ----

fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("proc fd")
        .count()
}

/// CPU time of the daemon so far, in milliseconds.
fn cpu_ms(pid: u32) -> u64 {
    u64::try_from(util::cpu_time(&pid.to_string()).as_millis()).unwrap_or(u64::MAX)
}

// ---- A raw HTTP client ----

struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    /// A connection whose reads give up after `timeout`: a server that
    /// hangs fails the test instead of stalling it.
    fn open(addr: SocketAddr, timeout: Duration) -> Conn {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(timeout)).unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Conn {
            reader: BufReader::new(stream),
        }
    }

    fn new(addr: SocketAddr) -> Conn {
        Conn::open(addr, Duration::from_secs(10))
    }

    fn send(&mut self, data: &[u8]) {
        self.reader.get_mut().write_all(data).expect("send");
    }

    fn reply(&mut self) -> io::Result<Reply> {
        read_reply(&mut self.reader, false)
    }

    /// Whether the server has closed: EOF or reset, not a timeout, and no
    /// further byte.
    fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        match self.reader.read(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
            ),
        }
    }
}

/// Sends `request` on a new connection and reads one reply.
fn exchange(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut conn = Conn::new(addr);
    conn.send(request);
    conn.reply().expect("a reply")
}

/// The daemon still answers `add(40, 2)` on a fresh connection.
fn assert_serves(daemon: &Daemon, extra: &str, after: &str) {
    let reply = exchange(daemon.addr, &post(add_call(40, 2).as_bytes(), extra));
    assert_eq!(reply.status, 200, "after {after}: {}", reply.brief());
    assert!(
        reply.text().contains("<int>42</int>"),
        "after {after}: {}",
        reply.brief()
    );
}

/// Writes up to `total` bytes of filler, stopping at the first error (the
/// server closed). Returns how many were written.
fn flood(conn: &mut Conn, total: usize) -> usize {
    let chunk = vec![b'A'; 256 * 1024];
    let mut sent = 0;
    while sent < total {
        match conn.reader.get_mut().write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    sent
}

// ---- 1. The chunk-size limit cannot wrap ----

const WRAPPING_CHUNKS: &[u8] =
    b"POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nA\r\nffffffffffffffff\r\n";

/// `1 + 0xffffffffffffffff` wrapped past `max_body_bytes`: the server then
/// stored whatever followed. Now the size is 413 at once, and memory stays
/// where it was while the client goes on sending.
#[test]
fn a_chunk_size_that_would_wrap_the_limit_is_413_and_nothing_is_stored() {
    for args in [&[][..], &["--auth-user", "alice:secret"][..]] {
        let daemon = Daemon::start(args);
        let pid = daemon.pid();
        let rss_before = rss_kib(pid);
        let mut conn = Conn::new(daemon.addr);
        conn.send(WRAPPING_CHUNKS);
        let reply = conn.reply().expect("an answer, not silence");
        // Without credentials the body is refused before it is read.
        let expected = if args.is_empty() { 413 } else { 401 };
        assert_eq!(reply.status, expected, "{args:?}: {}", reply.brief());
        let sent = flood(&mut conn, 128 << 20);
        let grown = rss_kib(pid).saturating_sub(rss_before);
        assert!(
            grown < 16 * 1024,
            "{args:?}: RSS grew by {grown} KiB while the client sent {sent} more bytes"
        );
        drop(conn);
        let extra = if args.is_empty() {
            ""
        } else {
            "Authorization: Basic YWxpY2U6c2VjcmV0\r\n"
        };
        assert_serves(&daemon, extra, "the wrapping chunk size");
        daemon.terminate("medusad");
    }
}

// ---- 3. Empty gzip members: work bounded like a plain body's ----

/// 524,083 empty gzip members (10 MiB) held the loop for seconds, where a
/// plain body of that size costs milliseconds. Now the member count is
/// limited (413), and the gzip body costs no more CPU than a plain one of
/// the same size (within a wide margin: the plain body is parsed, the
/// members are only counted).
#[test]
fn many_empty_gzip_members_cost_no_more_than_a_plain_body() {
    const MEMBER: [u8; 20] = [
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x03, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    let members = MEMBER.repeat(524_083);
    let daemon = Daemon::start(&[]);
    let pid = daemon.pid();

    // A plain body of the same size: ten megabytes of one big string.
    let mut plain = b"<?xml version=\"1.0\"?><methodCall><methodName>echo</methodName><params><param><value><string>".to_vec();
    let tail = b"</string></value></param></params></methodCall>";
    plain.resize(members.len() - tail.len(), b'a');
    plain.extend_from_slice(tail);
    let before = cpu_ms(pid);
    let reply = exchange(daemon.addr, &post(&plain, ""));
    let plain_ms = cpu_ms(pid) - before;
    assert_eq!(reply.status, 200);

    let before = cpu_ms(pid);
    let reply = exchange(daemon.addr, &post(&members, "Content-Encoding: gzip\r\n"));
    let gzip_ms = cpu_ms(pid) - before;
    assert_eq!(reply.status, 413, "{}", reply.brief());
    assert!(reply.text().contains("members"), "{}", reply.brief());
    assert!(
        gzip_ms <= plain_ms * 2 + 100,
        "524,083 empty members cost {gzip_ms} ms of CPU; a plain body of the same size {plain_ms} ms"
    );
    assert_serves(&daemon, "", "the gzip members");
    daemon.terminate("medusad");
}

// ---- 4. The decoded size has its own limit ----

/// A 9 KB gzip body that inflates to 9 MiB got past `--max-body-bytes
/// 65536`. The decoded size is limited too: by default to the body
/// limit, or to `--max-decoded-bytes`.
#[test]
fn a_gzip_body_is_limited_by_its_decoded_size() {
    let mut call = b"<?xml version=\"1.0\"?><methodCall><methodName>echo</methodName><params><param><value><string>".to_vec();
    call.resize(9 << 20, b'a');
    call.extend_from_slice(b"</string></value></param></params></methodCall>");
    let body = gzip(&call);
    assert!(body.len() < 65536, "the body is small on the wire");
    let request = post(&body, "Content-Encoding: gzip\r\n");

    let daemon = Daemon::start(&["--max-body-bytes", "65536"]);
    let reply = exchange(daemon.addr, &request);
    assert_eq!(reply.status, 413, "{}", reply.brief());
    assert!(reply.text().contains("inflates"), "{}", reply.brief());
    assert_serves(&daemon, "", "a gzip body over the decoded limit");
    daemon.terminate("medusad");

    let daemon = Daemon::start(&[
        "--max-body-bytes",
        "65536",
        "--max-decoded-bytes",
        "16777216",
    ]);
    let reply = exchange(daemon.addr, &request);
    assert_eq!(reply.status, 200);
    assert!(reply.body.len() > 9 << 20, "the echo came back whole");
    daemon.terminate("medusad");
}

// ---- 5. Bare LF: the framing and the parser agree ----

/// The head parser took a bare LF as a line end, the framing did not, and
/// the bytes between them were dropped: the declared body was then served
/// as a request of its own. Now such a head is one 400, and the
/// connection closes.
#[test]
fn a_bare_lf_head_is_one_400_and_smuggles_nothing() {
    let daemon = Daemon::start(&[]);
    let mut conn = Conn::new(daemon.addr);
    conn.send(
        b"POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nX: y\n\r\nContent-Length: 41\r\n\r\n\
          GET /status/metrics HTTP/1.1\r\nHost: localhost\r\n\r\n",
    );
    let reply = conn.reply().expect("an answer");
    assert_eq!(reply.status, 400, "{}", reply.brief());
    assert!(conn.is_closed(), "a second answer followed the 400");

    // A head that uses bare LF only: a prompt 400, not a 408 after the
    // request timeout (30 s; this connection gives up after 5).
    let mut conn = Conn::open(daemon.addr, Duration::from_secs(5));
    conn.send(b"GET /status HTTP/1.1\nHost: localhost\n\n");
    let reply = conn.reply().expect("a prompt answer");
    assert_eq!(reply.status, 400, "{}", reply.brief());
    assert_serves(&daemon, "", "bare LF heads");
    daemon.terminate("medusad");
}

// ---- 6. Host ----

#[test]
fn host_is_required_once_in_http_1_1() {
    let daemon = Daemon::start(&[]);
    let cases: [(&[u8], u16); 7] = [
        (b"GET /status HTTP/1.1\r\n\r\n", 400),
        (b"GET /status HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET /status HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
        (b"GET /status HTTP/1.0\r\n\r\n", 200),
        (b"GET /status HTTP/1.1\r\nHost: localhost:8182\r\n\r\n", 200),
        // Bound to loopback: names other than its own are refused (DNS
        // rebinding), and `--allowed-host` is how to add one.
        (b"GET /status HTTP/1.1\r\nHost: a\r\n\r\n", 421),
        (
            b"GET /status HTTP/1.1\r\nHost: evil.example:8182\r\n\r\n",
            421,
        ),
    ];
    for (request, status) in cases {
        let reply = exchange(daemon.addr, request);
        assert_eq!(
            reply.status,
            status,
            "{:?}: {}",
            String::from_utf8_lossy(request),
            reply.brief()
        );
    }
    daemon.terminate("medusad");
}

// ---- 8. Credentials guard every path ----

const ALICE: &str = "Authorization: Basic YWxpY2U6c2VjcmV0\r\n";

fn get(addr: SocketAddr, path: &str, extra: &str) -> Reply {
    exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}Connection: close\r\n\r\n")
            .as_bytes(),
    )
}

/// `--auth-user` protected only XML-RPC: the status page (every client's
/// address, the document root, the pid), the metrics and the files were
/// open. Now every path asks, unknown ones too, except those opened with
/// `--public`; and a body without credentials is refused before it is read.
#[test]
fn credentials_guard_every_path_but_the_public_ones() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("file.txt"), "private\n").unwrap();
    let root_arg = root.path().to_str().unwrap();
    let daemon = Daemon::start(&[
        "--auth-user",
        "alice:secret",
        "--root",
        root_arg,
        "--public",
        "/status/metrics",
    ]);
    for path in ["/status", "/file.txt", "/nothing-here", "/RPC2"] {
        let reply = get(daemon.addr, path, "");
        assert_eq!(reply.status, 401, "{path} without credentials");
        assert!(reply.header("WWW-Authenticate").is_some(), "{path}");
        assert!(!reply.text().contains("private"), "{path}");
    }
    assert_eq!(get(daemon.addr, "/status/metrics", "").status, 200);
    assert_eq!(get(daemon.addr, "/status", ALICE).status, 200);
    let file = get(daemon.addr, "/file.txt", ALICE);
    assert_eq!((file.status, file.text().as_str()), (200, "private\n"));
    assert_eq!(get(daemon.addr, "/nothing-here", ALICE).status, 404);

    // A 5 MB body announced without credentials: 401 at once, without
    // waiting for (or reading) the body.
    let mut conn = Conn::open(daemon.addr, Duration::from_secs(5));
    conn.send(b"POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000000\r\n\r\n");
    let reply = conn.reply().expect("401 before the body");
    assert_eq!(reply.status, 401);
    assert_serves(&daemon, ALICE, "requests without credentials");
    daemon.terminate("medusad");
}

/// Serving without credentials on an address other than loopback is
/// logged as a warning at startup. (It binds 0.0.0.0 and sends nothing.)
#[test]
fn no_auth_on_a_public_address_warns_at_startup() {
    let mut daemon = Daemon::start(&["--host", "0.0.0.0"]);
    let warning = daemon
        .seen
        .iter()
        .find(|l| l.contains("NO AUTHENTICATION"))
        .cloned();
    assert!(warning.is_some(), "log: {:?}", daemon.seen);
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(Duration::from_secs(20)).success());

    let daemon = Daemon::start(&[]);
    assert!(
        !daemon.seen.iter().any(|l| l.contains("NO AUTHENTICATION")),
        "loopback needs no warning"
    );
    daemon.terminate("medusad");
}

// ---- 9. SIGTERM answers what is already on the wire ----

/// Keep-alive calls sent just before SIGTERM got a close with no answer.
/// Now each idle connection's input is read before it closes, and what is
/// there is answered (with `Connection: close`) before the close.
#[test]
fn sigterm_answers_requests_already_sent_on_idle_connections() {
    for round in 0..3 {
        let mut daemon = Daemon::start(&[]);
        let mut conns: Vec<Conn> = (0..50).map(|_| Conn::new(daemon.addr)).collect();
        let call = post(add_call(40, 2).as_bytes(), "");
        for conn in &mut conns {
            conn.send(&call);
            assert_eq!(conn.reply().unwrap().status, 200);
        }
        for conn in &mut conns {
            conn.send(&call);
        }
        daemon.signal(libc::SIGTERM);
        let mut unanswered = 0;
        for conn in &mut conns {
            match conn.reply() {
                Ok(reply) => {
                    assert_eq!(reply.status, 200);
                    assert!(reply.text().contains("<int>42</int>"));
                    // Answered during the shutdown (with Connection:
                    // close) or just before it; closed either way.
                    assert!(conn.is_closed(), "round {round}: left open");
                }
                Err(_) => unanswered += 1,
            }
        }
        assert_eq!(
            unanswered, 0,
            "round {round}: calls sent before SIGTERM dropped"
        );
        assert!(daemon.wait_exit(Duration::from_secs(20)).success());
    }
}

// ---- 10. At max_connections, idle keep-alive connections make room ----

fn metric(addr: SocketAddr, name: &str) -> u64 {
    let text = get(addr, "/status/metrics", "").text();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in {text}"))
}

/// At `--max-connections` the next client was reset though the open
/// connections were idle keep-alives. Now the longest-idle one is closed
/// to make room; a client is refused (counted, logged) only when none is
/// idle.
#[test]
fn the_longest_idle_connection_makes_room_at_the_limit() {
    let daemon = Daemon::start(&["--max-connections", "10"]);
    let call = post(add_call(40, 2).as_bytes(), "");
    let mut idle: Vec<Conn> = (0..10).map(|_| Conn::new(daemon.addr)).collect();
    for conn in &mut idle {
        conn.send(&call);
        assert_eq!(conn.reply().unwrap().status, 200);
    }
    // An eleventh client is served; the oldest idle connection goes.
    let reply = exchange(daemon.addr, &call);
    assert_eq!(reply.status, 200, "the newcomer is served");
    assert!(
        idle[0].is_closed(),
        "the longest-idle connection was closed"
    );
    for conn in &mut idle[1..] {
        conn.send(&call);
        assert_eq!(conn.reply().unwrap().status, 200, "the others stay");
    }
    assert!(metric(daemon.addr, "medusa_connections_evicted_total") >= 1);
    assert_eq!(metric(daemon.addr, "medusa_connections_refused_total"), 0);
    drop(idle);
    daemon.terminate("medusad");

    // Every connection busy (a head half sent): nothing to evict, so the
    // newcomer is refused, and that is logged.
    let mut daemon = Daemon::start(&["--max-connections", "5"]);
    let mut busy: Vec<Conn> = (0..5).map(|_| Conn::new(daemon.addr)).collect();
    for conn in &mut busy {
        conn.send(b"GET /status HTTP/1.1\r\nHost: localhost\r\n");
    }
    std::thread::sleep(Duration::from_millis(200));
    let mut refused = Conn::new(daemon.addr);
    assert!(refused.is_closed(), "no room: refused");
    daemon.wait_for("max_connections (5) open and none idle");
    busy[0].send(b"\r\n");
    assert_eq!(
        busy[0].reply().unwrap().status,
        200,
        "the busy ones are served"
    );
    drop(busy);
    daemon.terminate("medusad");
}

// ---- The process after a mix of the above ----

/// After hostile clients are gone the daemon holds no more descriptors
/// than before, and its memory has not run away.
#[test]
fn hostile_clients_leave_no_descriptors_behind() {
    let daemon = Daemon::start(&["--max-body-bytes", "65536"]);
    let pid = daemon.pid();
    assert_serves(&daemon, "", "start");
    let fds = fd_count(pid);
    let rss = rss_kib(pid);
    for _ in 0..20 {
        let mut conn = Conn::new(daemon.addr);
        conn.send(WRAPPING_CHUNKS);
        let _ = conn.reply();
        let mut conn = Conn::new(daemon.addr);
        conn.send(b"GET /status HTTP/1.1\nHost: localhost\n\n");
        let _ = conn.reply();
        let mut conn = Conn::new(daemon.addr);
        conn.send(&post(
            &gzip(&vec![b' '; 8 << 20]),
            "Content-Encoding: gzip\r\n",
        ));
        assert_eq!(conn.reply().unwrap().status, 413);
    }
    // Closed connections linger up to 2 s (the default) before their
    // descriptors go.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while fd_count(pid) > fds && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        fd_count(pid) <= fds,
        "descriptors: {} before, {} after",
        fds,
        fd_count(pid)
    );
    let grown = rss_kib(pid).saturating_sub(rss);
    assert!(grown < 32 * 1024, "RSS grew by {grown} KiB");
    assert_serves(&daemon, "", "the mix");
    daemon.terminate("medusad");
}

/// `--allowed-host` replaces the loopback defaults; `*` allows any name.
#[test]
fn allowed_host_flags_choose_the_names() {
    let daemon = Daemon::start(&["--allowed-host", "rpc.example"]);
    let status = |daemon: &Daemon, host: &str| {
        let request = format!("GET /status HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        exchange(daemon.addr, request.as_bytes()).status
    };
    assert_eq!(status(&daemon, "rpc.example:8182"), 200);
    assert_eq!(status(&daemon, "localhost"), 421);
    drop(daemon);
    let daemon = Daemon::start(&["--allowed-host", "*"]);
    assert_eq!(status(&daemon, "anything.example"), 200);
}
