//! Helpers shared by the socket tests: a reactor running in a background
//! thread, and small blocking-client conveniences.
#![allow(dead_code)] // each test file uses a different subset

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{mpsc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use medusa::chat::{AsyncChat, ChatHandler};
use medusa::reactor::{Listener, Reactor, Waker};

pub mod browser;
pub mod curl;
pub mod daemon;
pub mod http;
pub mod peers;
pub mod python;
pub mod site;
pub mod tls;

/// A reactor running in its own thread. Dropping it stops the loop and joins
/// the thread (re-raising a panic from it).
pub struct TestServer {
    pub addr: SocketAddr,
    pub waker: Waker,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl TestServer {
    /// Runs `setup` on a fresh reactor in a new thread; `setup` adds its
    /// dispatchers and returns the address clients should use.
    pub fn start<S>(setup: S) -> TestServer
    where
        S: FnOnce(&mut Reactor) -> io::Result<SocketAddr> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let mut reactor = Reactor::new()?;
            let addr = setup(&mut reactor)?;
            tx.send((addr, reactor.waker())).expect("test thread waits");
            // Until stopped by the test (the socket map is never empty: the
            // listener stays).
            reactor.run()
        });
        let (addr, waker) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server started");
        TestServer {
            addr,
            waker,
            thread: Some(thread),
        }
    }

    /// A server whose every accepted connection runs `make_handler()`.
    pub fn chat<H, F>(make_handler: F) -> TestServer
    where
        H: ChatHandler + 'static,
        F: Fn() -> H + Send + 'static,
    {
        TestServer::start(move |reactor| {
            let listener = Listener::bind(localhost(), move |stream, _peer, cx| {
                cx.add(AsyncChat::new(stream, make_handler()))?;
                Ok(())
            })?;
            let addr = listener.local_addr()?;
            reactor.add(listener)?;
            Ok(addr)
        })
    }

    /// Stops the loop and waits for its thread; returns what `run` returned.
    pub fn stop(mut self) -> io::Result<()> {
        self.finish()
    }

    fn finish(&mut self) -> io::Result<()> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        let _ = self.waker.stop();
        match thread.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.finish().expect("reactor thread ended with an error");
        }
    }
}

/// 127.0.0.1 on a port the kernel picks.
pub fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A blocking client with a read timeout, so a broken server fails the test
/// instead of hanging it.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Reads exactly `n` bytes.
pub fn read_exact(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    stream.read_exact(&mut buf).expect("read_exact");
    buf
}

/// Reads until the peer closes.
pub fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).expect("read_to_end");
    buf
}

/// Writes everything.
pub fn send(stream: &mut TcpStream, data: &[u8]) {
    stream.write_all(data).expect("write_all");
}

/// Raises the soft open-file limit to the hard one (tests holding thousands
/// of sockets), returning the new soft limit.
pub fn raise_fd_limit() -> u64 {
    let (soft, hard) = rlimit::Resource::NOFILE.get().expect("getrlimit");
    if soft < hard {
        rlimit::Resource::NOFILE.set(hard, hard).expect("setrlimit");
    }
    rlimit::Resource::NOFILE.get().expect("getrlimit").0
}

/// Number of open file descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// A `kB` field (such as `"VmRSS:"`) of `/proc/PID/status`; `pid` may be
/// `"self"`.
pub fn proc_status_kib(pid: impl std::fmt::Display, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

/// Resident memory of process `pid` (`"self"` for this one), KiB.
pub fn rss_kib(pid: impl std::fmt::Display) -> u64 {
    proc_status_kib(pid, "VmRSS:")
}

/// Peak resident memory so far of process `pid` (`"self"` for this one),
/// KiB.
pub fn peak_rss_kib(pid: impl std::fmt::Display) -> u64 {
    proc_status_kib(pid, "VmHWM:")
}

/// Runs the tests that take it one at a time: those that measure what
/// the whole process shares (its descriptor table, memory, time). A test
/// that failed while holding it does not fail the others.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Path of the example binary `name`, building it first if this test run
/// has not (`cargo test --all-targets` builds examples as test harnesses,
/// not as the plain binaries these tests start).
pub fn example_path(name: &str) -> std::path::PathBuf {
    let mut dir = std::env::current_exe().expect("test binary path");
    dir.pop(); // the test binary
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join("examples").join(name);
    let profile_is_release = dir.ends_with("release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut build = std::process::Command::new(cargo);
    build.args(["build", "--quiet", "--example", name]);
    if profile_is_release {
        build.arg("--release");
    }
    // Always ask cargo: it rebuilds a stale binary and is quick otherwise.
    let status = build.status().expect("run cargo build --example");
    assert!(status.success(), "cargo build --example {name} failed");
    assert!(path.exists(), "{} missing after the build", path.display());
    path
}

/// User plus system CPU time so far of process `pid` (`"self"` for this
/// one), from `/proc`: a measure of work that a busy machine does not
/// inflate, unlike wall time.
pub fn cpu_time(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    // The fields after the command name, which may contain spaces.
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

/// Runs a Python script with `args`; its stdout lines. Fails the test,
/// with Python's stderr, if the script does.
pub fn python_lines(script: &str, args: &[&str]) -> Vec<String> {
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}
