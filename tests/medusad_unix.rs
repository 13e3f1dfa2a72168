//! `medusad --unix PATH`: a real daemon on a Unix-domain socket, called by
//! Python's `xmlrpc.client` through a supervisor-style transport, by
//! `http.client` over `AF_UNIX` and by curl; the stale-socket, live-socket
//! and clean-exit rules; the access log naming the peer by uid and pid.

mod util;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use util::daemon::{listening_addr, Daemon};

/// `http.client` over `AF_UNIX`: what each script below starts with.
const UNIX_CONNECTION: &str = r#"
import http.client, socket, sys, xmlrpc.client

class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)
"#;

/// Runs `script` after [`UNIX_CONNECTION`].
fn python_unix(script: &str, args: &[&str]) -> Vec<String> {
    util::python_lines(&format!("{UNIX_CONNECTION}{script}"), args)
}

/// A supervisor-style `xmlrpc.client.Transport` over `AF_UNIX` (what
/// supervisor's `SupervisorTransport` does), calling `add(40, 2)` and
/// `system.listMethods`, and `http.client` fetching `/status`.
const PYTHON_CLIENT: &str = r#"
class UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path):
        super().__init__()
        self.path = path
    def make_connection(self, host):
        return UnixConnection(self.path)

path = sys.argv[1]
proxy = xmlrpc.client.ServerProxy("http://localhost/RPC2", transport=UnixTransport(path))
print(proxy.add(40, 2))
print("add" in proxy.system.listMethods())
conn = UnixConnection(path)
conn.request("GET", "/status")
print(conn.getresponse().status)
"#;

fn python(path: &Path) -> Vec<String> {
    python_unix(PYTHON_CLIENT, &[path.to_str().unwrap()])
}

fn curl_status(path: &Path) -> Option<String> {
    let output = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--unix-socket",
        ])
        .arg(path)
        .arg("http://localhost/status")
        .output();
    match output {
        Ok(output) => Some(String::from_utf8_lossy(&output.stdout).into_owned()),
        Err(_) if std::env::var_os("CI").is_none() => {
            eprintln!("curl not found: its part of this test is skipped");
            None
        }
        Err(e) => panic!("curl is required under CI: {e}"),
    }
}

#[test]
fn serves_python_and_curl_on_a_unix_socket_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("medusad.sock");
    let log = dir.path().join("access.log");
    // A stale socket file, as a killed server leaves it.
    drop(UnixListener::bind(&sock).unwrap());
    let mut daemon = Daemon::spawn(&[
        "--no-tcp",
        "--unix",
        sock.to_str().unwrap(),
        "--access-log",
        log.to_str().unwrap(),
    ]);
    daemon.wait_for("listening on unix:");
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660, "the default --unix-mode");

    assert_eq!(python(&sock), ["42", "True", "200"]);
    if let Some(status) = curl_status(&sock) {
        assert_eq!(status, "200");
    }

    // A second instance must not take over a live socket.
    let second = Command::new(env!("CARGO_BIN_EXE_medusad"))
        .args(["--no-tcp", "--unix", sock.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("a server is listening there already") && stderr.contains("medusad.sock"),
        "{stderr}"
    );
    assert_eq!(python(&sock)[0], "42", "the first one still serves");

    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(Duration::from_secs(20)).success());
    assert!(!sock.exists(), "the socket file is removed on a clean exit");
    let text = std::fs::read_to_string(&log).unwrap();
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let line = text
        .lines()
        .find(|l| l.contains("POST /RPC2"))
        .expect("a POST line");
    assert!(
        line.starts_with(&format!("uid={uid},pid=")),
        "the peer named by its credentials: {line}"
    );
}

/// `--unix` beside the TCP port: one server, so one set of counters.
#[test]
fn a_unix_socket_beside_tcp_shares_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("side.sock");
    let mut daemon = Daemon::spawn(&["--unix", sock.to_str().unwrap()]);
    let tcp = listening_addr(&daemon.wait_for("listening on 127.0.0.1"));
    daemon.wait_for("listening on unix:");
    assert_eq!(python(&sock)[0], "42");
    let body = {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(tcp).unwrap();
        conn.write_all(b"GET /status/metrics HTTP/1.0\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        conn.read_to_string(&mut text).unwrap();
        text
    };
    // The Unix socket's three requests (two calls and /status) are in the
    // TCP port's counters.
    let requests = body
        .lines()
        .find(|l| l.starts_with("medusa_requests_total "))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .expect("medusa_requests_total");
    assert!(requests >= 3, "{body}");
    daemon.terminate("medusad --unix beside TCP");
    assert!(!sock.exists());
}

/// Fresh connections to the Unix socket at argv[1], each a POST of
/// `add(i, 1)`: one line per call, `STATUS WORKER RESULT`.
const PYTHON_WORKER_CALLS: &str = r#"
for i in range(int(sys.argv[2])):
    conn = UnixConnection(sys.argv[1])
    conn.request("POST", "/RPC2", xmlrpc.client.dumps((i, 1), "add"),
                 {"Content-Type": "text/xml"})
    r = conn.getresponse()
    (result,), _ = xmlrpc.client.loads(r.read())
    print(r.status, r.getheader("X-Medusa-Worker"), result - i)
    conn.close()
"#;

/// Calls `n` times over fresh connections; the workers that answered.
fn worker_calls(sock: &Path, n: usize) -> Vec<u32> {
    let lines = python_unix(
        PYTHON_WORKER_CALLS,
        &[sock.to_str().unwrap(), &n.to_string()],
    );
    assert_eq!(lines.len(), n, "{lines:?}");
    lines
        .iter()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!((fields[0], fields[2]), ("200", "1"), "{line}");
            fields[1]
                .parse()
                .unwrap_or_else(|_| panic!("no worker in {line}"))
        })
        .collect()
}

/// `--unix` with `--workers`: the master binds the socket once and every
/// worker accepts on it (inherited, as the TCP port is); a worker killed
/// with SIGKILL is replaced and the socket keeps serving; the master
/// removes the file when it exits, after its workers.
#[test]
fn workers_share_a_unix_socket_the_master_removes_at_exit() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("workers.sock");
    let mut daemon = Daemon::spawn(&[
        "--no-tcp",
        "--unix",
        sock.to_str().unwrap(),
        "--unix-mode",
        "0600",
        "--workers",
        "2",
    ]);
    let line = daemon.wait_for("workers on unix:");
    assert!(line.contains("workers.sock"), "{line}");
    let pids = daemon.worker_pids(2);
    for pid in &pids {
        daemon.wait_for_seen(&format!("pid={pid}] medusad listening on unix:"));
    }
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    for worker in worker_calls(&sock, 10) {
        assert!(pids.contains(&worker), "{worker} not in {pids:?}");
    }

    util::daemon::signal_pid(pids[0], libc::SIGKILL);
    let pids = daemon.worker_pids(3);
    daemon.wait_for_seen(&format!("pid={}] medusad listening on unix:", pids[2]));
    for worker in worker_calls(&sock, 10) {
        assert!(
            pids[1..].contains(&worker),
            "{worker} not in {:?}",
            &pids[1..]
        );
    }
    assert!(sock.exists(), "a worker's death leaves the file alone");

    daemon.signal(libc::SIGTERM);
    let status = daemon.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{status}");
    assert!(!sock.exists(), "the master removed the socket file");
}

/// systemd's socket activation with two sockets, a Unix one (fd 3, as a
/// `.socket` unit's `ListenStream=/run/x.sock` makes it) and a TCP one
/// (fd 4): medusad serves both, binds neither `--port` nor anything else,
/// and leaves the file (systemd's) in place when it exits.
#[test]
fn socket_activation_of_a_unix_and_a_tcp_socket() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("activated.sock");
    let script = r#"
import os, socket, sys
u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
u.bind(sys.argv[1])
u.listen(128)
t = socket.socket()
t.bind(("127.0.0.1", 0))
t.listen(128)
sys.stderr.write("python listening on 127.0.0.1:%d\n" % t.getsockname()[1])
sys.stderr.flush()
os.dup2(u.fileno(), 3)
os.dup2(t.fileno(), 4)
os.set_inheritable(3, True)
os.set_inheritable(4, True)
os.environ["LISTEN_FDS"] = "2"
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[2], sys.argv[2:])
"#;
    let mut command = Command::new("python3");
    command
        .args(["-c", script])
        .arg(&sock)
        .args([env!("CARGO_BIN_EXE_medusad"), "--port", "1"]);
    let mut daemon = Daemon::spawn_command(command);
    let python_tcp = listening_addr(&daemon.wait_for("python listening on "));
    let line = daemon.wait_for("medusad listening on unix:");
    assert!(line.contains("activated.sock"), "{line}");
    let tcp = listening_addr(&daemon.wait_for("medusad listening on 127.0.0.1"));
    assert_eq!(tcp, python_tcp, "the inherited TCP socket, not --port 1");

    assert_eq!(python(&sock), ["42", "True", "200"]);
    let mut conn = util::daemon::RpcConnection::connect(tcp).expect("connect");
    let answer = conn.call(&util::daemon::add_call(40, 2), "").expect("call");
    assert_eq!((answer.status, answer.int), (200, Some(42)));

    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(Duration::from_secs(20)).success());
    assert!(
        sock.exists(),
        "medusad did not make the file: it does not remove it"
    );
}
