//! The `medusad` daemon as a process: flags, files, status page, access
//! log, and a graceful SIGTERM with a download in flight.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use util::daemon::Daemon;
use util::*;

fn get(addr: SocketAddr, path: &str) -> String {
    let mut stream = connect(addr);
    write!(stream, "GET {path} HTTP/1.0\r\n\r\n").unwrap();
    String::from_utf8_lossy(&read_to_end(&mut stream)).into_owned()
}

/// `--root` serves files, `/status` is there, and each request is logged
/// in Common Log Format.
#[test]
fn serves_files_status_and_logs_access() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello from disk\n").unwrap();
    let mut daemon = Daemon::start(&["--root", dir.path().to_str().unwrap()]);

    let reply = get(daemon.addr, "/hello.txt");
    assert!(reply.starts_with("HTTP/1.0 200 OK\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\nhello from disk\n"));
    let line = daemon.wait_for("\"GET /hello.txt HTTP/1.0\"");
    // On stderr, without --access-log: host - user [date] "request" status bytes
    let clf = line.as_str();
    assert!(clf.starts_with("127.0.0.1 - - ["), "{line}");
    assert!(
        clf.ends_with("\"GET /hello.txt HTTP/1.0\" 200 16"),
        "{line}"
    );

    let status = get(daemon.addr, "/status");
    assert!(status.contains("<h1>medusa status</h1>"));
    assert!(get(daemon.addr, "/status/metrics").contains("medusa_requests_total 2"));
    assert!(get(daemon.addr, "/missing").starts_with("HTTP/1.0 404"));
}

/// Only regular files and directories are served: a FIFO or a unix socket
/// under `--root` (directly, as a directory's index.html, or through an
/// absolute symlink, which takes the portable open path) is a 404, at once,
/// and the loop keeps answering others meanwhile. Opening a FIFO used to
/// block the loop until some process opened it for writing, so nothing was
/// answered any more (the clients' read timeout turns that into a failure).
#[test]
fn fifos_and_sockets_under_the_root_are_404_without_blocking_the_loop() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::write(root.join("hello.txt"), "hello\n").unwrap();
    std::fs::create_dir(root.join("piped")).unwrap();
    mkfifo(&root.join("pipe"));
    mkfifo(&root.join("piped/index.html"));
    std::os::unix::fs::symlink(root.join("pipe"), root.join("absolute-pipe")).unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(root.join("sock")).unwrap();
    let daemon = Daemon::start(&["--root", root.to_str().unwrap()]);

    // A FIFO request in flight while another client asks for a file.
    let mut pending = connect(daemon.addr);
    pending.write_all(b"GET /pipe HTTP/1.0\r\n\r\n").unwrap();
    let reply = get(daemon.addr, "/hello.txt");
    assert!(reply.starts_with("HTTP/1.0 200 OK\r\n"), "{reply}");
    let reply = String::from_utf8_lossy(&read_to_end(&mut pending)).into_owned();
    assert!(reply.starts_with("HTTP/1.0 404 "), "{reply}");

    for path in ["/pipe", "/piped/", "/absolute-pipe", "/sock"] {
        let reply = get(daemon.addr, path);
        assert!(reply.starts_with("HTTP/1.0 404 "), "{path}: {reply}");
    }
    assert!(get(daemon.addr, "/hello.txt").ends_with("\r\n\r\nhello\n"));
    daemon.terminate("medusad");
}

fn mkfifo(path: &std::path::Path) {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: mkfifo reads a NUL-terminated path that lives for the call.
    let rc = unsafe { libc::mkfifo(path.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo: {}", std::io::Error::last_os_error());
}

/// Without `--access-log`, lines go to stderr in Common Log Format (buffered,
/// written at the end of the loop's pass), each line whole though many
/// clients are answered in one pass; RUST_LOG's target `medusa::access`
/// turns them off.
#[test]
fn default_access_log_is_stderr_and_rust_log_decides() {
    let mut daemon = Daemon::start(&[]);
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let addr = daemon.addr;
            std::thread::spawn(move || {
                for i in 0..50 {
                    let reply = get(addr, &format!("/status?client={c}&call={i}"));
                    assert!(reply.starts_with("HTTP/1.0 200"), "{reply}");
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(Duration::from_secs(10)).success());
    let lines: Vec<String> = daemon
        .rest_of_log()
        .into_iter()
        .filter(|l| l.contains("GET /status?client="))
        .collect();
    assert_eq!(lines.len(), 200, "{lines:?}");
    for line in &lines {
        assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
        // Whole: the line ends with the byte count, nothing run into it.
        let (_, bytes) = line.rsplit_once(" HTTP/1.0\" 200 ").expect("a whole line");
        assert!(bytes.parse::<u64>().is_ok(), "{line}");
    }

    let mut quiet = Daemon::start_with_env(&[], &[("RUST_LOG", "info,medusa::access=off")]);
    assert!(get(quiet.addr, "/status?quiet").starts_with("HTTP/1.0 200"));
    quiet.signal(libc::SIGTERM);
    assert!(quiet.wait_exit(Duration::from_secs(10)).success());
    let log = quiet.rest_of_log();
    assert!(
        log.iter().any(|l| l.contains("all connections closed")),
        "{log:?}"
    );
    assert!(!log.iter().any(|l| l.contains("/status?quiet")), "{log:?}");
}

/// `--access-log FILE`: lines go to the file (buffered, so they appear
/// within the flush period, not necessarily at once), none to stderr, and
/// every line is on disk when the daemon exits.
#[test]
fn access_log_file_is_flushed_periodically_and_at_exit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let mut daemon = Daemon::start(&["--access-log", path.to_str().unwrap()]);
    assert!(get(daemon.addr, "/status").starts_with("HTTP/1.0 200"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let first = loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if !text.is_empty() {
            break text;
        }
        assert!(Instant::now() < deadline, "the line never reached the file");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(first.starts_with("127.0.0.1 - - ["), "{first}");
    assert!(
        first.contains("\"GET /status HTTP/1.0\" 200 ") && first.ends_with('\n'),
        "{first}"
    );
    for _ in 0..50 {
        assert!(get(daemon.addr, "/missing").starts_with("HTTP/1.0 404"));
    }
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(Duration::from_secs(10)).success());
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 51, "{text}");
    assert_eq!(text.matches("\"GET /missing HTTP/1.0\" 404 ").count(), 50);
    assert!(text.ends_with('\n'));
    // Nothing of it went to stderr.
    for line in daemon.rest_of_log() {
        assert!(!line.contains("GET /"), "access line on stderr: {line}");
    }
}

/// Limits given as flags take effect.
#[test]
fn limit_flags_take_effect() {
    let daemon = Daemon::start(&["--max-header-bytes", "200"]);
    let mut stream = connect(daemon.addr);
    let request = format!(
        "GET /status HTTP/1.1\r\nHost: localhost\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(300)
    );
    stream.write_all(request.as_bytes()).unwrap();
    let reply = String::from_utf8_lossy(&read_to_end(&mut stream)).into_owned();
    assert!(reply.starts_with("HTTP/1.1 431 "), "{reply}");
}

/// On SIGTERM a download in progress completes, new connections are
/// refused, and the daemon exits 0.
#[test]
fn sigterm_finishes_the_download_in_flight_then_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let body: Vec<u8> = (0..8 << 20).map(|i: u32| (i % 249) as u8).collect();
    std::fs::write(dir.path().join("big.bin"), &body).unwrap();
    let mut daemon = Daemon::start(&["--root", dir.path().to_str().unwrap()]);

    let mut stream = connect(daemon.addr);
    stream
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");

    daemon.signal(libc::SIGTERM);
    daemon.wait_for("shutting down gracefully");
    // The listener is closed: a new connection fails or is closed unanswered.
    if let Ok(mut late) = TcpStream::connect(daemon.addr) {
        late.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = late.write_all(b"GET /status HTTP/1.0\r\n\r\n");
        let mut answer = Vec::new();
        let _ = late.read_to_end(&mut answer);
        assert!(answer.is_empty(), "a connection after SIGTERM was served");
    }

    let mut head = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    assert!(head.contains("Content-Length: 8388608"), "{head}");
    let mut received = Vec::new();
    reader
        .read_to_end(&mut received)
        .expect("clean close after the body");
    assert_eq!(received.len(), body.len());
    assert!(received == body, "body intact");
    let status = daemon.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "exit status {status}");
}

/// Runs medusad with `args` to its exit (for those that never serve).
fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_medusad"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// `--help` and `--version` print and exit 0; a bad command line exits 2
/// with a message naming the flag, and without the whole usage text.
#[test]
fn help_version_and_bad_flags() {
    let help = run(&["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for needle in [
        "--max-connections",
        "--tls-cert",
        "-p, --port",
        "Exit status",
    ] {
        assert!(text.contains(needle), "{needle} not in {text}");
    }
    let version = run(&["--version"]);
    assert!(version.status.success());
    let text = String::from_utf8_lossy(&version.stdout);
    assert_eq!(
        text.trim(),
        format!("medusad {}", env!("CARGO_PKG_VERSION"))
    );

    for (args, message) in [
        (
            &["--no-such-flag", "1"][..],
            "unexpected argument '--no-such-flag'",
        ),
        (
            &["--port", "70000"],
            "'--port <PORT>': 70000 is out of range 0-65535",
        ),
        (&["--workers", "0"], "at least 1"),
        (
            &["--auth-file", "/nonexistent"],
            "'/nonexistent' for '--auth-file <FILE>'",
        ),
    ] {
        let out = run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("--max-body-bytes"),
            "the usage text: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// `--port=0` (the `=` form) and `--host localhost` (a name, resolved to
/// 127.0.0.1) serve.
#[test]
fn equals_form_and_host_names_serve() {
    let daemon = Daemon::start(&["--port=0", "--host", "localhost"]);
    assert_eq!(daemon.addr.ip().to_string(), "127.0.0.1");
    assert_ne!(daemon.addr.port(), 0);
    assert!(get(daemon.addr, "/status").starts_with("HTTP/1.0 200"));
    daemon.terminate("medusad --host localhost");
}

/// A port in use is a runtime error (exit 1) that names the address.
#[test]
fn a_port_in_use_exits_1_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = run(&["--port", &port]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let message = format!("cannot listen on 127.0.0.1:{port}: address already in use");
    assert!(stderr.contains(&message), "{stderr}");
}

/// Starts medusad with `grace` and a connection holding half a request
/// (its body is still owed), so a graceful shutdown has to wait for it.
fn daemon_with_a_request_in_flight(grace: &str) -> (Daemon, TcpStream) {
    let mut daemon = Daemon::start(&["--grace", grace]);
    let mut stream = connect(daemon.addr);
    stream
        .write_all(b"POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n<?xml")
        .unwrap();
    // Until the daemon has read it (a request begun is not idle); then
    // the first signal starts a drain that this connection holds open.
    std::thread::sleep(Duration::from_millis(200));
    daemon.signal(libc::SIGTERM);
    daemon.wait_for("shutting down gracefully");
    (daemon, stream)
}

/// A second SIGTERM during the drain drops the connection: the log says
/// so, not "all connections closed", and the exit status is 1.
#[test]
fn a_second_signal_is_a_forced_shutdown_exit_1() {
    let (mut daemon, _stream) = daemon_with_a_request_in_flight("60");
    std::thread::sleep(Duration::from_millis(200));
    assert!(daemon.child.try_wait().unwrap().is_none(), "did not wait");
    daemon.signal(libc::SIGTERM);
    let status = daemon.wait_exit(Duration::from_secs(10));
    let log = daemon.rest_of_log().join("\n");
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains("forced shutdown (signal 15 during the shutdown): 1 connection(s) dropped"),
        "{log}"
    );
    assert!(!log.contains("all connections closed"), "{log}");
}

/// The grace period running out with the connection still open is a
/// forced shutdown as well.
#[test]
fn the_grace_period_over_is_a_forced_shutdown_exit_1() {
    let (mut daemon, _stream) = daemon_with_a_request_in_flight("0.3");
    let status = daemon.wait_exit(Duration::from_secs(10));
    let log = daemon.rest_of_log().join("\n");
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains("forced shutdown (--grace 300ms over): 1 connection(s) dropped"),
        "{log}"
    );
}

/// CPU seconds (user + system) the process `pid` has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// Out of descriptors, the daemon neither spins nor stops: it keeps its
/// open connections served, and accepts again once descriptors free up.
#[test]
fn fd_exhaustion_does_not_spin_and_service_resumes() {
    // A low hard limit (so medusad cannot raise it back), set in a shell.
    let mut command = Command::new("bash");
    command.arg("-c").arg(format!(
        "ulimit -n 40 && exec {} --port 0",
        env!("CARGO_BIN_EXE_medusad")
    ));
    let mut daemon = Daemon::spawn_command(command);
    let line = daemon.wait_for("listening on ");
    daemon.addr = util::daemon::listening_addr(&line);

    // A kept-alive connection opened before the flood.
    let mut keeper = connect(daemon.addr);
    let mut keeper_reader = BufReader::new(keeper.try_clone().unwrap());
    let ask = |stream: &mut TcpStream, reader: &mut BufReader<TcpStream>| {
        stream
            .write_all(b"GET /status/metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.strip_prefix("Content-Length: ") {
                length = v.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        status
    };
    assert!(ask(&mut keeper, &mut keeper_reader).starts_with("HTTP/1.1 200"));

    // Flood: far more connections than descriptors. They queue in the
    // backlog; the daemon hits EMFILE.
    let flood: Vec<TcpStream> = (0..100)
        .filter_map(|_| TcpStream::connect(daemon.addr).ok())
        .collect();
    daemon.wait_for("pausing accepts");
    let cpu_before = cpu_seconds(daemon.child.id());
    std::thread::sleep(Duration::from_secs(1));
    let cpu_used = cpu_seconds(daemon.child.id()) - cpu_before;
    assert!(
        cpu_used < 0.3,
        "spinning: {cpu_used} CPU seconds in 1 s while out of descriptors"
    );
    // The open connection is still served meanwhile.
    assert!(ask(&mut keeper, &mut keeper_reader).starts_with("HTTP/1.1 200"));

    // Free descriptors: new connections are served again.
    drop(flood);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut fresh = connect(daemon.addr);
        let mut reader = BufReader::new(fresh.try_clone().unwrap());
        fresh
            .write_all(b"GET /status/metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let mut status = String::new();
        if reader.read_line(&mut status).is_ok() && status.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "service did not resume");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs a Python script with the daemon's port as `PORT`; returns stdout.
fn python(script: &str, port: u16) -> String {
    let output = Command::new("python3")
        .arg("-c")
        .arg(script.replace("PORT", &port.to_string()))
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Out of the box: the demo service at /RPC2 answers Python's client.
#[test]
fn demo_service_answers_python_xmlrpc_client() {
    let daemon = Daemon::start(&[]);
    let out = python(
        r#"
import xmlrpc.client as x
s = x.ServerProxy("http://127.0.0.1:PORT/RPC2", allow_none=True)
print(s.add(40, 2), s.add(1.5, 2), s.add(2**31 - 1, 0))
print(repr(s.echo({"a": [1, "two", None, 3.5]})))
methods = s.system.listMethods()
print("add" in methods, "echo" in methods, "system.multicall" in methods)
try:
    s.add("x", 1)
except x.Fault as f:
    print("fault", f.faultCode)
try:
    s.nope()
except x.Fault as f:
    print("fault", f.faultCode)
"#,
        daemon.addr.port(),
    );
    assert_eq!(
        out,
        "42 3.5 2147483647\n{'a': [1, 'two', None, 3.5]}\nTrue True True\nfault -32602\nfault -32601\n"
    );
}

/// `--auth-user` puts Basic auth in front of the XML-RPC service.
#[test]
fn auth_user_protects_the_rpc_endpoint() {
    let daemon = Daemon::start(&["--auth-user", "ann:s3cret", "--rpc-path", "/api"]);
    let out = python(
        r#"
import xmlrpc.client as x
print(x.ServerProxy("http://ann:s3cret@127.0.0.1:PORT/api").add(1, 2))
try:
    x.ServerProxy("http://ann:wrong@127.0.0.1:PORT/api").add(1, 2)
except x.ProtocolError as e:
    print("refused", e.errcode)
try:
    x.ServerProxy("http://ann:s3cret@127.0.0.1:PORT/RPC2").add(1, 2)
except x.ProtocolError as e:
    print("no /RPC2", e.errcode)
"#,
        daemon.addr.port(),
    );
    assert_eq!(out, "3\nrefused 401\nno /RPC2 404\n");
}
