//! Graceful shutdown: SIGTERM/SIGINT against a real server process (the
//! `echo_server` example, the same reactor and signal path as `medusad`), and
//! `Waker::shutdown` in process. In both, a client has sent megabytes
//! without reading, so the server holds a large backlog of echo output when
//! the shutdown begins; it must deliver all of it, then close cleanly.

mod util;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use medusa::chat::{AsyncChat, Chat, ChatHandler};
use medusa::reactor::{Context, Listener, Reactor, Waker};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// More than any loopback connection here buffers: every write beyond what
/// the server reads must eventually stall.
const MAX_FILL: usize = 64 * 1024 * 1024;

/// What the clients send: distinct bytes along the stream (xorshift64*), so
/// a lost, repeated or reordered piece cannot pass for a prefix.
fn content() -> &'static [u8] {
    static DATA: OnceLock<Vec<u8>> = OnceLock::new();
    DATA.get_or_init(|| {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut out = Vec::with_capacity(MAX_FILL + 8);
        while out.len() < MAX_FILL {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            out.extend_from_slice(&x.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
        }
        out.truncate(MAX_FILL);
        out
    })
}

/// Writes `data` without ever reading, until nothing has gone out for a
/// while: the client's send buffer, the server's receive buffer and the
/// echo path back are all full. Returns how much was written.
fn fill_without_reading(stream: &mut TcpStream, data: &[u8]) -> usize {
    stream.set_nonblocking(true).unwrap();
    let mut sent = 0;
    let mut last_progress = Instant::now();
    while last_progress.elapsed() < Duration::from_millis(300) {
        let end = (sent + 64 * 1024).min(data.len());
        assert!(
            sent < end,
            "{sent} bytes accepted and still going: no backpressure"
        );
        match stream.write(&data[sent..end]) {
            Ok(n) => {
                sent += n;
                last_progress = Instant::now();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(10))
            }
            Err(e) => panic!("write: {e}"),
        }
    }
    stream.set_nonblocking(false).unwrap();
    sent
}

/// How a read-until-the-end finished.
#[derive(Debug, PartialEq)]
enum End {
    Eof,
    Reset,
}

/// Reads until the server closes; a read error other than a reset, or 10 s
/// without a byte, fails the test.
fn read_until_closed(stream: &mut TcpStream) -> (Vec<u8>, End) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut received = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (received, End::Eof),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return (received, End::Reset),
            Err(e) => panic!("read after {} bytes: {e}", received.len()),
        }
    }
}

/// `received` is non-empty and exactly the start of `sent`.
fn assert_prefix(received: &[u8], sent: &[u8]) {
    assert!(!received.is_empty(), "nothing came back");
    assert!(received.len() <= sent.len(), "more came back than was sent");
    if let Some(at) = received.iter().zip(sent).position(|(r, s)| r != s) {
        panic!("echo differs from what was sent at byte {at}");
    }
}

/// A connection attempt is refused, or accepted by the kernel and then
/// closed without being served.
fn assert_not_served(addr: SocketAddr) {
    let mut stream = match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Err(e) => {
            assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "connect: {e}");
            return;
        }
        Ok(stream) => stream,
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = stream.write_all(b"ping");
    let mut buf = [0u8; 16];
    match stream.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
        Ok(n) => panic!("served after shutdown: {:?}", &buf[..n]),
        Err(e) => panic!("new connection neither refused nor closed: {e}"),
    }
}

/// The send (`tx`) and receive (`rx`) queue lengths of the IPv4 TCP socket
/// `local` → `remote`, as the kernel reports them in /proc/net/tcp. For an
/// established socket, tx is data not yet acknowledged by the peer and rx is
/// data not yet read by the application.
fn tcp_queues(local: SocketAddr, remote: SocketAddr) -> (usize, usize) {
    fn parse_addr(field: &str) -> SocketAddr {
        let (ip, port) = field.split_once(':').unwrap();
        // The address is the raw network-order word printed as a number.
        let ip = u32::from_str_radix(ip, 16).unwrap().to_ne_bytes();
        let port = u16::from_str_radix(port, 16).unwrap();
        SocketAddr::from((Ipv4Addr::from(ip), port))
    }
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    for line in table.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if parse_addr(fields[1]) == local && parse_addr(fields[2]) == remote {
            let (tx, rx) = fields[4].split_once(':').unwrap();
            let hex = |s| usize::from_str_radix(s, 16).unwrap();
            return (hex(tx), hex(rx));
        }
    }
    panic!("no socket {local} -> {remote} in /proc/net/tcp");
}

/// How many of the client's bytes the server process has read, once the
/// connection has stopped moving: sent, minus what still sits in the
/// client's send queue and the server's receive queue.
fn bytes_read_by_server(client: &TcpStream, sent: usize) -> usize {
    let (here, there) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
    let mut last = None;
    for _ in 0..50 {
        let now = (tcp_queues(here, there), tcp_queues(there, here));
        if last == Some(now) {
            let ((client_tx, client_rx), (server_tx, server_rx)) = now;
            let read = sent.saturating_sub(client_tx + server_rx);
            eprintln!(
                "sent {sent}; server read {read}, of which in flight back {} and \
                 held by the server {}",
                server_tx + client_rx,
                read.saturating_sub(server_tx + client_rx)
            );
            return read;
        }
        last = Some(now);
        thread::sleep(Duration::from_millis(100));
    }
    panic!("the connection never settled: {last:?}");
}

/// An `echo_server` child process, killed if the test fails before it exits.
struct Daemon {
    child: Child,
    /// Set once `wait` has reaped the child.
    exit: Option<ExitStatus>,
    addr: SocketAddr,
    log: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Daemon {
    /// Starts `echo_server --port 0 ARGS` and reads its address from the log.
    fn start(args: &[&str]) -> Daemon {
        let mut child = Command::new(util::example_path("echo_server"))
            .args(["--port", "0"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn echo_server (cargo test builds the examples)");
        let stderr = child.stderr.take().unwrap();
        let (tx, log) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut daemon = Daemon {
            child,
            exit: None,
            addr: util::localhost(),
            log,
            seen: Vec::new(),
        };
        let line = daemon.wait_for_log("listening on ");
        let addr = line.rsplit("listening on ").next().unwrap().trim();
        daemon.addr = addr.parse().expect("address in the log");
        daemon
    }

    /// Waits (up to 10 s) for a log line containing `needle`.
    fn wait_for_log(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("no log line with {needle:?}; log so far: {:#?}", self.seen),
            }
        }
    }

    /// Sends `signal` to the child, which must not have been reaped yet.
    fn signal(&self, signal: libc::c_int) {
        assert!(self.exit.is_none(), "signal after the child was reaped");
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) takes two integers and reads or writes no memory
        // of this process, so no argument value can cause undefined
        // behaviour. (The pid is also the right process: our child, not yet
        // reaped as checked above, so the kernel cannot have reused it.)
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill: {}", io::Error::last_os_error());
    }

    /// Waits up to `limit` for the child to exit.
    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.exit = Some(status);
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server still running after {limit:?}; log: {:#?}",
                self.seen
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------
// The daemon and its signals
// ---------------------------------------------------------------------------

/// On SIGTERM the server stops accepting, sends every byte it had queued (the
/// client gets an exact prefix of what it sent, at least all the server
/// read, then a clean EOF) and exits 0.
#[test]
fn sigterm_delivers_queued_output_then_exits_zero() {
    let mut daemon = Daemon::start(&[]);
    let data = content();
    let mut client = TcpStream::connect(daemon.addr).unwrap();
    let sent = fill_without_reading(&mut client, data);
    let read_by_server = bytes_read_by_server(&client, sent);
    assert!(read_by_server > 0);

    daemon.signal(libc::SIGTERM);
    daemon.wait_for_log("shutting down gracefully");
    assert_not_served(daemon.addr);

    let (received, end) = read_until_closed(&mut client);
    assert_eq!(end, End::Eof, "connection reset instead of closed");
    assert_prefix(&received, &data[..sent]);
    assert!(
        received.len() >= read_by_server,
        "got {} bytes back; the server had read {read_by_server}",
        received.len()
    );
    drop(client);

    let status = daemon.wait(Duration::from_secs(10));
    assert!(status.success(), "exit status {status}");
    daemon.wait_for_log("all connections closed");
}

/// A second SIGINT during a graceful shutdown closes everything at once:
/// the server exits long before its grace period, even though a client that
/// never reads still has output owed to it; the connection it dropped makes
/// it a forced shutdown, logged as such, with exit status 1.
#[test]
fn second_sigint_closes_everything_at_once() {
    let mut daemon = Daemon::start(&["--grace", "60"]);
    let data = content();
    let mut client = TcpStream::connect(daemon.addr).unwrap();
    let sent = fill_without_reading(&mut client, data);

    daemon.signal(libc::SIGINT);
    daemon.wait_for_log("shutting down gracefully");
    // Still owed output (the client is not reading): graceful shutdown waits.
    thread::sleep(Duration::from_millis(200));
    assert!(daemon.child.try_wait().unwrap().is_none(), "exited early");

    let second = Instant::now();
    daemon.signal(libc::SIGINT);
    let status = daemon.wait(Duration::from_secs(5));
    assert_eq!(status.code(), Some(1), "exit status {status}");
    assert!(second.elapsed() < Duration::from_secs(5));
    daemon.wait_for_log("closing everything now");
    daemon.wait_for_log(
        "echo server: forced shutdown (signal 2 during the shutdown): 1 connection(s) dropped",
    );

    // The connection is gone; what did arrive is still a true prefix.
    let (received, _end) = read_until_closed(&mut client);
    assert_prefix(&received, &data[..sent]);
}

/// SIGTERM sent the moment the server has logged its address (what a script
/// that waits for the port does) is a graceful shutdown: exit status 0.
#[test]
fn sigterm_right_after_the_listening_line_exits_zero() {
    // The window is short; a few tries make hitting it near certain.
    for attempt in 0..10 {
        let mut daemon = Daemon::start(&[]);
        daemon.signal(libc::SIGTERM);
        let status = daemon.wait(Duration::from_secs(10));
        assert!(status.success(), "attempt {attempt}: exit status {status}");
    }
}

// ---------------------------------------------------------------------------
// In process: Waker::shutdown
// ---------------------------------------------------------------------------

/// Echo that counts the bytes it read and notes how much output it still
/// owed when the shutdown began.
struct CountingEcho {
    read: Arc<AtomicUsize>,
    owed_at_shutdown: Arc<AtomicUsize>,
}

impl ChatHandler for CountingEcho {
    fn collect_incoming_data(&mut self, chat: &mut Chat, data: &[u8]) {
        self.read.fetch_add(data.len(), Ordering::SeqCst);
        chat.push(data);
    }

    fn found_terminator(&mut self, _chat: &mut Chat, _cx: &mut Context<'_>) -> io::Result<()> {
        Ok(())
    }

    fn handle_shutdown(&mut self, chat: &mut Chat, _cx: &mut Context<'_>) {
        self.owed_at_shutdown
            .store(chat.pending_output(), Ordering::SeqCst);
        chat.close_when_done();
    }
}

/// A reactor serving `CountingEcho` in its own thread; `returned` reports
/// when `run()` comes back by itself (nobody calls stop).
struct InProcess {
    addr: SocketAddr,
    waker: Waker,
    read: Arc<AtomicUsize>,
    owed_at_shutdown: Arc<AtomicUsize>,
    returned: mpsc::Receiver<io::Result<()>>,
}

impl InProcess {
    fn start() -> InProcess {
        let read = Arc::new(AtomicUsize::new(0));
        let owed_at_shutdown = Arc::new(AtomicUsize::new(usize::MAX));
        let (r, o) = (read.clone(), owed_at_shutdown.clone());
        let (started, ready) = mpsc::channel();
        let (finished, returned) = mpsc::channel();
        thread::spawn(move || {
            let mut reactor = Reactor::new().unwrap();
            let listener = Listener::bind(util::localhost(), move |stream, _peer, cx| {
                let handler = CountingEcho {
                    read: r.clone(),
                    owed_at_shutdown: o.clone(),
                };
                cx.add(AsyncChat::new(stream, handler))?;
                Ok(())
            })
            .unwrap();
            started
                .send((listener.local_addr().unwrap(), reactor.waker()))
                .unwrap();
            reactor.add(listener).unwrap();
            let _ = finished.send(reactor.run());
        });
        let (addr, waker) = ready.recv_timeout(Duration::from_secs(10)).unwrap();
        InProcess {
            addr,
            waker,
            read,
            owed_at_shutdown,
            returned,
        }
    }

    /// Waits until the server has stopped reading (its output is backed up).
    fn settled_read_count(&self) -> usize {
        let mut last = usize::MAX;
        for _ in 0..50 {
            let now = self.read.load(Ordering::SeqCst);
            if now == last {
                return now;
            }
            last = now;
            thread::sleep(Duration::from_millis(100));
        }
        panic!("the server never stopped reading");
    }

    /// Waits for the channel's `handle_shutdown`; returns what it owed then.
    fn owed_at_shutdown(&self) -> usize {
        for _ in 0..500 {
            let owed = self.owed_at_shutdown.load(Ordering::SeqCst);
            if owed != usize::MAX {
                return owed;
            }
            thread::sleep(Duration::from_millis(10));
        }
        panic!("handle_shutdown was not called");
    }
}

/// `Waker::shutdown` from another thread while a channel owes a large
/// backlog: the listener closes, the channel sends exactly everything it
/// read, then EOF, and `run()` returns by itself well before the grace.
#[test]
fn waker_shutdown_delivers_pending_output_then_run_returns() {
    let server = InProcess::start();
    let data = content();
    let mut client = TcpStream::connect(server.addr).unwrap();
    let sent = fill_without_reading(&mut client, data);
    let read = server.settled_read_count();

    let grace = Duration::from_secs(20);
    let began = Instant::now();
    server.waker.shutdown(grace).unwrap();
    let owed = server.owed_at_shutdown();
    assert!(owed > 0, "precondition: output was pending at shutdown");
    assert_not_served(server.addr);

    let (received, end) = read_until_closed(&mut client);
    assert_eq!(end, End::Eof, "connection reset instead of closed");
    assert_prefix(&received, &data[..sent]);
    assert_eq!(received.len(), read, "every byte read was echoed, no more");
    drop(client);

    let result = server
        .returned
        .recv_timeout(Duration::from_secs(10))
        .expect("run() returned after the last connection closed");
    result.unwrap();
    assert!(began.elapsed() < grace, "waited out the grace period");
    assert_eq!(
        server.read.load(Ordering::SeqCst),
        read,
        "input after shutdown was not handled"
    );
}

/// A channel whose peer never reads is closed by force when the grace
/// period ends, and `run()` returns then.
#[test]
fn waker_shutdown_force_closes_a_stuck_channel_after_grace() {
    let server = InProcess::start();
    let data = content();
    let mut client = TcpStream::connect(server.addr).unwrap();
    let sent = fill_without_reading(&mut client, data);
    server.settled_read_count();

    let grace = Duration::from_millis(300);
    let began = Instant::now();
    server.waker.shutdown(grace).unwrap();
    let result = server
        .returned
        .recv_timeout(Duration::from_secs(10))
        .expect("run() returned after the grace period");
    result.unwrap();
    let took = began.elapsed();
    assert!(took >= grace, "closed before the grace ran out: {took:?}");
    assert!(took < grace + Duration::from_secs(3), "took {took:?}");
    assert!(server.owed_at_shutdown() > 0);

    let (received, _end) = read_until_closed(&mut client);
    assert_prefix(&received, &data[..sent]);
    assert!(received.len() < server.read.load(Ordering::SeqCst));
}

/// A request that has reached an idle kept-alive connection's socket, but
/// not yet been reported by the poll, when the shutdown begins: it is read
/// and answered (with `Connection: close`), not dropped with the idle
/// connection. The loop is driven by hand, so the window is exact.
#[test]
fn a_request_on_the_wire_when_shutdown_begins_is_answered() {
    use medusa::http::{HttpConfig, HttpServer, Outcome, Request, Response, ServerView};

    struct Hello;
    impl medusa::http::Handler for Hello {
        fn matches(&self, _request: &Request) -> bool {
            true
        }
        fn handle_request(&mut self, _r: &mut Request, _s: &ServerView<'_>) -> Outcome {
            Response::ok("text/plain", "hello\n").into()
        }
    }

    let mut reactor = Reactor::new().unwrap();
    let server = HttpServer::bind((Ipv4Addr::LOCALHOST, 0), HttpConfig::default()).unwrap();
    server.install_handler(Hello);
    let addr = server.local_addr().unwrap();
    reactor.add(server).unwrap();
    let mut client = TcpStream::connect(addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    // Turns the loop until `want` answers have come back (or 5 s pass).
    let mut received = Vec::new();
    let mut pump = |reactor: &mut Reactor, client: &mut TcpStream, want: usize| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while received.windows(8).filter(|w| w == b"HTTP/1.1").count() < want
            && Instant::now() < deadline
        {
            reactor.run_once(Some(Duration::from_millis(10))).unwrap();
            let mut buf = [0u8; 4096];
            match client.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
        }
        String::from_utf8_lossy(&received).into_owned()
    };
    client.write_all(request).unwrap();
    let first = pump(&mut reactor, &mut client, 1);
    assert!(first.contains("hello"), "{first}");
    assert!(!first.contains("Connection: close"), "kept alive: {first}");

    // The next request is in the server's socket; the loop has not polled.
    client.write_all(request).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    reactor.shutdown(Duration::from_secs(5));
    let both = pump(&mut reactor, &mut client, 2);
    let second = &both[first.len()..];
    assert!(second.starts_with("HTTP/1.1 200"), "dropped: {second:?}");
    assert!(second.contains("Connection: close"), "{second}");
    assert!(second.ends_with("hello\n"), "{second}");
}
