//! `medusa-call`, the command-line client, against real servers: medusad
//! (over TCP, a Unix socket, HTTPS with a private CA, Basic auth) and
//! Python's `SimpleXMLRPCServer`. Arguments and results are JSON; the exit
//! status is 0 for a result, 1 for a fault, 2 for a transport error or a
//! bad command line.

mod util;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use util::daemon::Daemon;
use util::tls::TestPki;

/// Runs medusa-call with `args`: (exit code, stdout, stderr).
fn call(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_medusa-call"))
        .args(args)
        .output()
        .expect("medusa-call runs");
    (
        output.status.code().expect("exited"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn calls_faults_introspection_and_multicall_against_medusad() {
    let daemon = Daemon::start(&[]);
    let url = format!("http://localhost:{}/RPC2", daemon.addr.port());
    assert_eq!(
        call(&[&url, "add", "40", "2"]),
        (0, "42\n".into(), String::new())
    );
    // Every kind of value, nested, through the echo and back.
    let nested = r#"{"a":[1,null,{"$base64":"aGk="},2.5,true],"big":{"$i8":7},"d":{"$datetime":"20261201T12:00:00"},"s":"x y"}"#;
    let (code, out, err) = call(&[&url, "echo", nested]);
    assert_eq!((code, out.trim(), err.as_str()), (0, nested, ""));
    // A fault: exit 1, `fault CODE: STRING` on stderr, nothing on stdout.
    let (code, out, err) = call(&[&url, "add", "1"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.starts_with("fault -32602: "), "{err}");
    // Introspection.
    let (code, out, _) = call(&[&url, "--list"]);
    assert_eq!(code, 0);
    let names: Vec<&str> = out.lines().collect();
    assert!(
        names.contains(&"add") && names.contains(&"system.multicall"),
        "{out}"
    );
    let (code, out, _) = call(&[&url, "--help", "add"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("add(int, int) -> int\n"), "{out}");
    assert!(out.contains("Adds two numbers"), "{out}");
    // Multicall: results in order, a fault in place; any fault exits 1.
    let (code, out, _) = call(&[
        &url,
        "--multicall",
        "add",
        "[1,2]",
        "echo",
        r#"["x"]"#,
        "nosuch",
        "[]",
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        out.trim(),
        r#"[[3],["x"],{"faultCode":-32601,"faultString":"no method nosuch"}]"#
    );
    // The raw response.
    let (code, out, _) = call(&["--xml", &url, "add", "1", "2"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("<methodResponse><params><param><value><int>3</int>"),
        "{out}"
    );
    // A raw fault: the document on stdout, the fault named on stderr as
    // without --xml, and exit 1.
    let (code, out, err) = call(&["--xml", &url, "add", "1"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("<methodResponse><fault>") && out.contains("<int>-32602</int>"),
        "{out}"
    );
    assert!(
        err.starts_with("fault -32602: ") && err.ends_with('\n'),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // Bad arguments and a dead server: exit 2, saying what.
    let (code, _, err) = call(&[&url, "add", "hello"]);
    assert_eq!(code, 2);
    assert!(err.contains("argument 1 is not JSON"), "{err}");
    let (code, _, err) = call(&["http://bob:secret@127.0.0.1:1/RPC2", "add", "1", "2"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("127.0.0.1:1") && !err.contains("secret"),
        "{err}"
    );
    let (code, _, _) = call(&["--bogus"]);
    assert_eq!(code, 2);
    let (code, out, _) = call(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("--multicall"), "{out}");
    daemon.terminate("medusad for medusa-call");
}

#[test]
fn credentials_unix_sockets_and_https() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path(), "", &["localhost"]);
    let sock = dir.path().join("rpc.sock");
    let daemon = Daemon::start(&[
        "--auth-user",
        "alice:wonder land",
        "--unix",
        sock.to_str().unwrap(),
        "--tls-cert",
        pki.cert.to_str().unwrap(),
        "--tls-key",
        pki.key.to_str().unwrap(),
    ]);
    let https = format!("https://localhost:{}/RPC2", daemon.addr.port());
    let ca = pki.ca.to_str().unwrap();
    // Without credentials: 401, a transport error.
    let (code, _, err) = call(&["--cacert", ca, &https, "add", "1", "2"]);
    assert_eq!(code, 2);
    assert!(err.contains("401"), "{err}");
    let (code, out, err) = call(&[
        "--cacert",
        ca,
        "--user",
        "alice:wonder land",
        &https,
        "add",
        "1",
        "2",
    ]);
    assert_eq!((code, out.as_str()), (0, "3\n"), "{err}");
    // The password from the environment.
    let output = Command::new(env!("CARGO_BIN_EXE_medusa-call"))
        .args(["--cacert", ca, "-u", "alice", &https, "add", "2", "2"])
        .env("MEDUSA_CALL_PASSWORD", "wonder land")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "4\n");
    // Without our CA the certificate is refused.
    let (code, _, err) = call(&["--user", "alice:wonder land", &https, "add", "1", "2"]);
    assert_eq!(code, 2);
    assert!(err.contains("certificate"), "{err}");
    // The Unix socket, credentials in the URL.
    let unix = format!("unix://alice:wonder%20land@{}", sock.display());
    let (code, out, err) = call(&[&unix, "add", "20", "22"]);
    assert_eq!((code, out.as_str()), (0, "42\n"), "{err}");
    daemon.terminate("medusad with auth, a Unix socket and TLS");
}

/// `--timeout` against a server that takes the connection and never
/// answers: exit 2 soon after the timeout, saying it timed out (not
/// EAGAIN's "Resource temporarily unavailable").
#[test]
fn a_silent_server_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/RPC2", listener.local_addr().unwrap());
    // Takes the request and reads until medusa-call hangs up; sends nothing.
    let silent = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut request = Vec::new();
        let _ = stream.read_to_end(&mut request);
        request
    });
    let started = Instant::now();
    let (code, out, err) = call(&["--timeout", "0.5", &url, "add", "1", "2"]);
    let took = started.elapsed();
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert_eq!(
        err,
        format!("medusa-call: {url}: I/O error: timed out after 500ms waiting for the response\n")
    );
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(5),
        "{took:?}"
    );
    let request = silent.join().unwrap();
    assert!(
        request.starts_with(b"POST /RPC2 HTTP/1.1\r\n"),
        "{request:?}"
    );
}

/// Basic credentials in an `http://` URL, over TCP: the right password is
/// answered; a wrong one is the server's 401, exit 2, and the error never
/// repeats the password.
#[test]
fn credentials_in_a_tcp_url() {
    let daemon = Daemon::start(&["--auth-user", "user:pass"]);
    let port = daemon.addr.port();
    let url = format!("http://user:pass@127.0.0.1:{port}/RPC2");
    assert_eq!(
        call(&[&url, "add", "1", "2"]),
        (0, "3\n".into(), String::new())
    );
    let wrong = format!("http://user:wrong@127.0.0.1:{port}/RPC2");
    let (code, out, err) = call(&[&wrong, "add", "1", "2"]);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(err.contains("HTTP error 401 Unauthorized"), "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && !err.contains("wrong"),
        "{err}"
    );
    daemon.terminate("medusad with --auth-user");
}

/// Python's own server, with `allow_none`: nil and nested values both
/// ways, and a Python exception as a fault.
#[test]
fn against_python_simple_xmlrpc_server() {
    let script = r#"
from xmlrpc.server import SimpleXMLRPCServer
server = SimpleXMLRPCServer(("127.0.0.1", 0), logRequests=False, allow_none=True)
server.register_function(lambda *a: list(a), "echo")
def boom():
    raise ValueError("no good")
server.register_function(boom)
server.register_introspection_functions()
print(server.server_address[1], flush=True)
server.serve_forever()
"#;
    let mut python = Command::new("python3")
        .args(["-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut port = String::new();
    BufReader::new(python.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let url = format!("http://127.0.0.1:{}/RPC2", port.trim());
    let (code, out, err) = call(&[
        &url,
        "echo",
        "null",
        r#"{"k":[1,"two",{"$base64":"AAE="}]}"#,
        "1.5",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        r#"[null,{"k":[1,"two",{"$base64":"AAE="}]},1.5]"#
    );
    let (code, _, err) = call(&[&url, "boom"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("fault 1: ") && err.contains("no good"),
        "{err}"
    );
    let (code, out, _) = call(&[&url, "--list"]);
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l == "echo"), "{out}");
    let _ = python.kill();
    let _ = python.wait();
}
