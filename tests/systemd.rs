//! medusad under systemd's readiness protocol, with the test as the
//! service manager: `NOTIFY_SOCKET` names the test's datagram socket,
//! `WATCHDOG_USEC` asks for pings. And docs/deploying.md's units, checked
//! by `systemd-analyze verify` where it exists.

mod util;

use std::io::{Read, Write};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use util::daemon::{listening_addr, Daemon};

/// 200 ms: pings every 100 ms.
const WATCHDOG_USEC: &str = "200000";

/// The test's end of the protocol.
struct Manager {
    socket: UnixDatagram,
    path: std::path::PathBuf,
    _dir: TempDir,
}

impl Manager {
    fn new() -> Manager {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        Manager {
            socket,
            path,
            _dir: dir,
        }
    }

    /// medusad with `args`, told to notify us.
    fn start(&self, args: &[&str]) -> Daemon {
        let mut command = Command::new(env!("CARGO_BIN_EXE_medusad"));
        command
            .args(["--port", "0"])
            .args(args)
            .env("NOTIFY_SOCKET", &self.path)
            .env("WATCHDOG_USEC", WATCHDOG_USEC);
        Daemon::spawn_command(command)
    }

    /// The next message, within `limit`.
    fn next(&self, limit: Duration) -> Option<String> {
        self.socket
            .set_read_timeout(Some(limit))
            .expect("a read timeout");
        let mut datagram = [0u8; 1024];
        let n = self.socket.recv(&mut datagram).ok()?;
        Some(String::from_utf8_lossy(&datagram[..n]).into_owned())
    }

    /// The first message containing `line`, within 20 s; panics with the
    /// others otherwise.
    fn wait_for(&self, line: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut others = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.next(left) {
                Some(message) if message.lines().any(|l| l == line) => return message,
                Some(message) => others.push(message),
                None => break,
            }
        }
        panic!("no {line:?}; received {others:?}");
    }

    /// Every message for `period`.
    fn collect(&self, period: Duration) -> Vec<String> {
        let end = Instant::now() + period;
        let mut messages = Vec::new();
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.next(left.max(Duration::from_millis(1))) {
                Some(message) => messages.push(message),
                None => break,
            }
        }
        messages
    }
}

fn pings(messages: &[String]) -> usize {
    messages
        .iter()
        .filter(|m| m.as_str() == "WATCHDOG=1")
        .count()
}

/// One GET on a fresh connection: the status line.
fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = util::connect(addr);
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("send");
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    reply.lines().next().unwrap_or("").to_string()
}

/// Checks the ready message, the pings and STOPPING=1 of a daemon whose
/// `processes` serving processes must all be listening before READY=1.
fn readiness_and_watchdog(args: &[&str], processes: usize) {
    let manager = Manager::new();
    let mut daemon = manager.start(args);
    let ready = manager.wait_for("READY=1");
    assert!(
        ready
            .lines()
            .any(|l| l == format!("MAINPID={}", daemon.pid())),
        "READY=1 names the pid to signal, medusad's (the master's): {ready:?}"
    );
    // Sent after every listening line was written (each serving process
    // logs its own before it is ready).
    for _ in 0..processes {
        daemon.wait_for("listening on ");
    }
    let addr = listening_addr(daemon.seen.last().expect("a listening line"));
    // Ready means served.
    assert!(get(addr, "/status/health").contains(" 200 "));

    let second = manager.collect(Duration::from_secs(1));
    assert!(
        pings(&second) >= 4,
        "pings every 100 ms, several in a second: {second:?}"
    );
    assert!(
        second.iter().all(|m| m.as_str() == "WATCHDOG=1"),
        "nothing but pings while serving (READY=1 once, no worker's own messages): {second:?}"
    );

    daemon.signal(libc::SIGTERM);
    manager.wait_for("STOPPING=1");
    let status = daemon.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "medusad exited with {status}");
}

#[test]
fn ready_pings_and_stopping() {
    readiness_and_watchdog(&[], 1);
}

#[test]
fn with_workers_ready_once_after_every_worker_listens() {
    readiness_and_watchdog(&["--workers", "2"], 2);
}

/// The point of pinging from the loop: a worker whose loop stops (here
/// SIGSTOP) stops the master's pings to systemd; they resume with it.
#[test]
fn a_frozen_worker_stops_the_pings() {
    let manager = Manager::new();
    let mut daemon = manager.start(&["--workers", "2"]);
    manager.wait_for("READY=1");
    let pids = daemon.worker_pids(2);
    assert!(pings(&manager.collect(Duration::from_millis(500))) >= 2);

    util::daemon::signal_pid(pids[0], libc::SIGSTOP);
    // Within the interval (200 ms) plus a check (100 ms) the pings stop.
    manager.collect(Duration::from_millis(400));
    let frozen = manager.collect(Duration::from_millis(600));
    util::daemon::signal_pid(pids[0], libc::SIGCONT);
    assert_eq!(pings(&frozen), 0, "pinged for a frozen worker: {frozen:?}");
    daemon.wait_for("has not pinged");

    let thawed = manager.collect(Duration::from_secs(1));
    assert!(pings(&thawed) >= 2, "pings resume: {thawed:?}");
    daemon.terminate("medusad --workers 2");
}

/// A ```ini block of docs/deploying.md that starts with `first_line`.
fn documented_unit(first_line: &str) -> String {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/deploying.md");
    let text = std::fs::read_to_string(&doc).expect("docs/deploying.md");
    text.split("```ini\n")
        .skip(1)
        .filter_map(|block| block.split_once("```").map(|(unit, _)| unit))
        .find(|unit| unit.starts_with(first_line))
        .unwrap_or_else(|| panic!("no ```ini block starting {first_line:?}"))
        .to_string()
}

/// `systemd-analyze verify` on the documented service and socket, with
/// ExecStart pointing at the medusad just built (verify checks that the
/// program exists). Skipped, saying so, where systemd-analyze is missing.
#[test]
fn documented_units_pass_systemd_analyze_verify() {
    let service = documented_unit("[Unit]\nDescription=medusa XML-RPC server\n");
    let socket = documented_unit("[Unit]\nDescription=medusa XML-RPC server socket\n");
    assert!(service.contains("Type=notify") && service.contains("WatchdogSec="));
    let Ok(analyze) = which("systemd-analyze") else {
        eprintln!("SKIPPED: systemd-analyze is not installed (Debian package systemd)");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let service = service.replace("/usr/local/bin/medusad", env!("CARGO_BIN_EXE_medusad"));
    std::fs::write(dir.path().join("medusad.service"), service).expect("write");
    std::fs::write(dir.path().join("medusad.socket"), socket).expect("write");
    let output = Command::new(analyze)
        .arg("verify")
        .arg(dir.path().join("medusad.service"))
        .arg(dir.path().join("medusad.socket"))
        // Without a running systemd (a container), verify still loads
        // and checks the units offline.
        .env("SYSTEMD_LOG_LEVEL", "warning")
        .output()
        .expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Lines about our units only: verify also loads the system's own
    // units (network.target...), whose warnings are not ours to judge.
    let ours: Vec<&str> = stderr.lines().filter(|l| l.contains("medusad.")).collect();
    assert!(
        output.status.success() && ours.is_empty(),
        "systemd-analyze verify: {}\n{stderr}",
        output.status
    );
}

fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .ok_or(())
}
