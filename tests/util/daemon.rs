//! `medusad` as a child process, and a keep-alive XML-RPC client that
//! reports which worker answered.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running `medusad` (with `--port 0` unless the arguments say another);
/// killed, with its workers, if the test fails before it exits.
pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
    log: mpsc::Receiver<String>,
    /// Every log line read so far.
    pub seen: Vec<String>,
}

impl Daemon {
    /// Starts medusad and waits for its first "listening on" line.
    pub fn start(args: &[&str]) -> Daemon {
        let mut daemon = Daemon::spawn(args);
        let line = daemon.wait_for("listening on ");
        daemon.addr = listening_addr(&line);
        daemon
    }

    /// [`start`](Daemon::start) with environment variables set (e.g. `RUST_LOG`).
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let mut command = Command::new(env!("CARGO_BIN_EXE_medusad"));
        command
            .args(["--port", "0"])
            .args(args)
            .envs(env.iter().copied());
        let mut daemon = Daemon::spawn_command(command);
        let line = daemon.wait_for("listening on ");
        daemon.addr = listening_addr(&line);
        daemon
    }

    /// Starts the example program `name` on a free port (built on demand,
    /// see `example_path`) and waits for the address it logs.
    pub fn start_example(name: &str) -> Daemon {
        Daemon::start_example_with(name, &[])
    }

    /// [`start_example`](Daemon::start_example) with more arguments.
    pub fn start_example_with(name: &str, args: &[&str]) -> Daemon {
        let mut command = Command::new(super::example_path(name));
        command
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(args);
        let mut daemon = Daemon::spawn_command(command);
        let line = daemon.wait_for("listening on ");
        daemon.addr = listening_addr(&line);
        daemon
    }

    /// Sends SIGTERM and asserts a clean exit (status 0) within 20 s.
    pub fn terminate(mut self, name: &str) {
        self.signal(libc::SIGTERM);
        let status = self.wait_exit(Duration::from_secs(20));
        assert!(status.success(), "{name} exited with {status} on SIGTERM");
    }

    /// Starts medusad without waiting for anything.
    pub fn spawn(args: &[&str]) -> Daemon {
        let mut command = Command::new(env!("CARGO_BIN_EXE_medusad"));
        command.args(["--port", "0"]).args(args);
        Daemon::spawn_command(command)
    }

    /// Runs `command` (whose stderr is medusad's log), with `RUST_LOG=info`
    /// unless the command sets it.
    pub fn spawn_command(mut command: Command) -> Daemon {
        if !command.get_envs().any(|(name, _)| name == "RUST_LOG") {
            command.env("RUST_LOG", "info");
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn medusad");
        let (tx, log) = mpsc::channel();
        let stderr = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Daemon {
            child,
            addr: "127.0.0.1:0".parse().unwrap(),
            log,
            seen: Vec::new(),
        }
    }

    /// The first log line (from now on) containing `needle`, within 20 s.
    pub fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no log line containing {needle:?}; log so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Like `wait_for`, but a line already read counts too: the order of
    /// lines from different processes (master, workers) is not fixed.
    pub fn wait_for_seen(&mut self, needle: &str) -> String {
        match self.seen.iter().find(|l| l.contains(needle)) {
            Some(line) => line.clone(),
            None => self.wait_for(needle),
        }
    }

    /// Every log line until the log closes (all processes holding it
    /// exited), within 20 s; also appended to `seen`.
    pub fn rest_of_log(&mut self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!("the log did not close"),
            }
        }
        self.seen.extend(lines.iter().cloned());
        lines
    }

    /// The pids in the master's "worker PID started" lines, waiting until
    /// there are `n` (counting those already seen).
    pub fn worker_pids(&mut self, n: usize) -> Vec<u32> {
        loop {
            let pids: Vec<u32> = self.seen.iter().filter_map(|l| started_pid(l)).collect();
            if pids.len() >= n {
                return pids;
            }
            self.wait_for("started (slot");
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, signal: i32) {
        signal_pid(self.pid(), signal);
    }

    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "medusad did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // Workers go with the master (their parent-death signal).
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The address in a "listening on ADDR" line.
pub fn listening_addr(line: &str) -> SocketAddr {
    line.split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
}

/// The pid in a master's "worker PID started" line.
pub fn started_pid(line: &str) -> Option<u32> {
    let rest = line.split("master: worker ").nth(1)?;
    let (pid, tail) = rest.split_once(' ')?;
    tail.starts_with("started").then(|| pid.parse().ok())?
}

pub fn signal_pid(pid: u32, signal: i32) {
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    let rc = unsafe { libc::kill(pid as libc::pid_t, signal) };
    assert_eq!(rc, 0, "kill({pid}, {signal})");
}

/// Whether `pid` is a live process (a zombie counts as dead: it no longer
/// runs, it only waits for its parent to collect it).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
        Err(_) => false,
    }
}

/// Waits up to `limit` for `pid` to be gone.
pub fn wait_gone(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while alive(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// The XML-RPC request body of `add(a, b)`.
pub fn add_call(a: i32, b: i32) -> String {
    format!(
        "<?xml version=\"1.0\"?><methodCall><methodName>add</methodName><params>\
         <param><value><int>{a}</int></value></param>\
         <param><value><int>{b}</int></value></param></params></methodCall>"
    )
}

/// One answered call.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// The `<int>` in the response, if any.
    pub int: Option<i64>,
    /// `X-Medusa-Worker`, if sent.
    pub worker: Option<u32>,
    /// The server will close the connection after this response.
    pub close: bool,
}

/// How a call failed.
#[derive(Debug)]
pub enum CallError {
    /// The connection ended (EOF or reset) before any byte of a response:
    /// the request may not have been taken.
    Unanswered(io::Error),
    /// It ended, or sent garbage, after part of a response: never fine.
    Broken(String),
}

/// A keep-alive HTTP/1.1 connection making XML-RPC calls one at a time.
pub struct RpcConnection {
    reader: BufReader<TcpStream>,
    host: SocketAddr,
    /// The worker that sent the last answer.
    pub last_worker: Option<u32>,
}

impl RpcConnection {
    pub fn connect(addr: SocketAddr) -> io::Result<RpcConnection> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        stream.set_write_timeout(Some(Duration::from_secs(20)))?;
        Ok(RpcConnection {
            reader: BufReader::new(stream),
            host: addr,
            last_worker: None,
        })
    }

    /// POSTs `body` to `/RPC2` with `extra` header lines and reads the
    /// answer.
    pub fn call(&mut self, body: &str, extra: &str) -> Result<Answer, CallError> {
        let request = format!(
            "POST /RPC2 HTTP/1.1\r\nHost: {}\r\nContent-Type: text/xml\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        if let Err(e) = self.reader.get_mut().write_all(request.as_bytes()) {
            return Err(CallError::Unanswered(e));
        }
        let mut status_line = String::new();
        match self.reader.read_line(&mut status_line) {
            Ok(0) => {
                return Err(CallError::Unanswered(io::ErrorKind::UnexpectedEof.into()));
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                return Err(CallError::Unanswered(e))
            }
            Err(e) => return Err(CallError::Broken(format!("reading the status line: {e}"))),
        }
        let broken = |what: &str| CallError::Broken(format!("{what} after {status_line:?}"));
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| broken("bad status line"))?;
        let (mut length, mut worker, mut close) = (None, None, false);
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) | Err(_) => return Err(broken("head cut short")),
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(broken("bad header line"));
            };
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse::<usize>().ok(),
                "x-medusa-worker" => worker = value.parse().ok(),
                "connection" => close = value.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        let length = length.ok_or_else(|| broken("no Content-Length"))?;
        let mut body = vec![0; length];
        self.reader
            .read_exact(&mut body)
            .map_err(|e| broken(&format!("body cut short: {e}")))?;
        let body = String::from_utf8_lossy(&body);
        let int = body
            .split("<int>")
            .nth(1)
            .and_then(|rest| rest.split("</int>").next())
            .and_then(|n| n.parse().ok());
        if worker.is_some() {
            self.last_worker = worker;
        }
        Ok(Answer {
            status,
            int,
            worker,
            close,
        })
    }
}
