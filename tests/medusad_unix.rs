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

/// A supervisor-style `xmlrpc.client.Transport` over `AF_UNIX` (what
/// supervisor's `SupervisorTransport` does), calling `add(40, 2)` and
/// `system.listMethods`, and `http.client` fetching `/status`.
const PYTHON_CLIENT: &str = r#"
import http.client, socket, sys, xmlrpc.client

class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)

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
    util::python_lines(PYTHON_CLIENT, &[path.to_str().unwrap()])
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
