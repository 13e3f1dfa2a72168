//! The example programs, run as real processes and spoken to over TCP, the
//! way a newcomer following the README would.

mod util;

use std::io::Read;
use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

use medusa::xmlrpc::{Client, Value};
use util::daemon::{listening_addr, Daemon, RpcConnection};
use util::*;

/// Starts an example on a free port and reads the address it logged.
fn start(name: &str) -> Daemon {
    Daemon::start_example(name)
}

/// Reads until `needle` has arrived (or fails after 10 s).
fn read_until(stream: &mut TcpStream, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(needle) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {needle:?}; got {:?}",
            String::from_utf8_lossy(&got)
        );
        let n = stream.read(&mut buf).expect("read");
        assert!(
            n > 0,
            "closed while waiting for {needle:?}; got {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got).expect("utf-8")
}

/// The echo example sends every byte back and exits 0 on SIGTERM.
#[test]
fn echo_server_example_echoes() {
    let example = start("echo_server");
    let mut client = connect(example.addr);
    let message: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let writer = {
        let mut client = client.try_clone().unwrap();
        let message = message.clone();
        std::thread::spawn(move || {
            send(&mut client, &message);
            client.shutdown(std::net::Shutdown::Write).unwrap();
        })
    };
    assert_eq!(read_to_end(&mut client), message);
    writer.join().unwrap();

    example.terminate("echo_server");
}

/// Two callers of the chat example see each other's lines, `/who` and
/// `[left]`, as in Medusa's chat_server.py.
#[test]
fn chat_server_example_relays_lines_between_callers() {
    let example = start("chat_server");
    let mut alice = connect(example.addr);
    read_until(&mut alice, "nickname?: ");
    send(&mut alice, b"alice\n");
    read_until(&mut alice, "only caller");

    let mut bob = connect(example.addr);
    read_until(&mut bob, "nickname?: ");
    send(&mut bob, b"bob\r\n");
    let greeting = read_until(&mut bob, "alice\r\n");
    assert!(
        greeting.contains("[There are 1 other callers]"),
        "{greeting}"
    );
    read_until(&mut alice, "bob: [joined]\r\n");

    send(&mut bob, b"hello alice\n");
    read_until(&mut alice, "bob: hello alice\r\n");
    send(&mut alice, b"/who\n");
    read_until(&mut alice, "alice bob\r\n");

    send(&mut alice, b"/quit\n");
    read_until(&mut alice, "Goodbye!\r\n");
    assert_eq!(read_to_end(&mut alice), b"", "closed after goodbye");
    read_until(&mut bob, "alice: [left]\r\n");
}

/// `--help` prints the flags, with the example's own default port, and
/// exits 0; a bad flag exits 2.
#[test]
fn example_help_exits_zero() {
    let run = |arg: &str| {
        std::process::Command::new(example_path("echo_server"))
            .arg(arg)
            .output()
            .expect("echo_server runs")
    };
    let help = run("--help");
    assert!(help.status.success(), "{}", help.status);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("--grace <SECONDS>"), "{text}");
    assert!(text.contains("[default: 8007]"), "{text}");
    let bad = run("--no-such-flag");
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("unexpected argument"), "{stderr}");
}

/// Starts example `name` with `args` and a connection holding half a
/// request head (a request begun is not idle), then sends SIGTERM: a
/// graceful shutdown that this connection holds open.
fn example_with_a_request_in_flight(name: &str, args: &[&str]) -> (Daemon, TcpStream) {
    let mut example = Daemon::start_example_with(name, args);
    let mut stream = connect(example.addr);
    send(&mut stream, b"POST /RPC2 HTTP/1.1\r\nHost: local");
    // Until the server has read it; then the signal finds it mid-request.
    std::thread::sleep(Duration::from_millis(200));
    example.signal(libc::SIGTERM);
    example.wait_for("shutting down gracefully");
    (example, stream)
}

/// `--grace` over with a request still arriving: every HTTP example (and
/// fanout's worker) closes it by force, says so as medusad does, and
/// exits 1, not "all connections closed" and 0.
#[test]
fn a_forced_shutdown_is_logged_and_exits_1() {
    for (example, args, name) in [
        ("xmlrpc_server", &[][..], "xmlrpc server"),
        ("validator1", &[], "validator1"),
        ("fanout", &["--role", "worker"], "worker"),
    ] {
        let args = [args, &["--grace", "0.2"]].concat();
        let (mut daemon, mut stream) = example_with_a_request_in_flight(example, &args);
        let status = daemon.wait_exit(Duration::from_secs(10));
        let log = daemon.rest_of_log().join("\n");
        assert_eq!(status.code(), Some(1), "{example}: {log}");
        let line = format!(
            "{name}: forced shutdown (--grace 200ms over): 1 connection(s) dropped, exiting"
        );
        assert!(log.contains(&line), "{example}: {log}");
        assert!(!log.contains("all connections closed"), "{example}: {log}");
        // The half request got no answer: the connection was cut.
        assert_eq!(read_to_end(&mut stream), b"", "{example}");
    }
}

/// A second SIGTERM during the drain is a forced shutdown too.
#[test]
fn a_second_signal_is_a_forced_shutdown_exit_1() {
    let (mut example, _stream) =
        example_with_a_request_in_flight("xmlrpc_server", &["--grace", "60"]);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        example.child.try_wait().unwrap().is_none(),
        "it waits for the request"
    );
    example.signal(libc::SIGTERM);
    let status = example.wait_exit(Duration::from_secs(10));
    let log = example.rest_of_log().join("\n");
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains("xmlrpc server: forced shutdown (signal 15 during the shutdown): 1 connection(s) dropped, exiting"),
        "{log}"
    );
}

/// With only idle connections open, SIGTERM closes them and the example
/// exits 0 saying so, well within `--grace`: a keep-alive HTTP client after
/// its answer, an echo client, a chat caller at the nickname prompt.
#[test]
fn a_clean_shutdown_is_logged_and_exits_0() {
    let call = "<?xml version=\"1.0\"?><methodCall><methodName>add</methodName><params>\
                <param><value><int>40</int></value></param>\
                <param><value><int>2</int></value></param></params></methodCall>";
    for (example, name) in [
        ("xmlrpc_server", "xmlrpc server"),
        ("echo_server", "echo server"),
        ("chat_server", "chat server"),
    ] {
        let mut daemon = Daemon::start_example_with(example, &["--grace", "0.2"]);
        let mut stream = connect(daemon.addr);
        match example {
            "xmlrpc_server" => {
                let request = format!(
                    "POST /RPC2 HTTP/1.1\r\nHost: local\r\nContent-Type: text/xml\r\n\
                     Content-Length: {}\r\n\r\n{call}",
                    call.len()
                );
                send(&mut stream, request.as_bytes());
                read_until(&mut stream, "</methodResponse>");
            }
            "echo_server" => {
                send(&mut stream, b"hello\n");
                read_until(&mut stream, "hello\n");
            }
            _ => {
                read_until(&mut stream, "nickname?: ");
            }
        }
        daemon.signal(libc::SIGTERM);
        // The server half-closes and lingers until the peer closes too (a
        // client reading on would see the end): that is this client's part.
        assert_eq!(read_to_end(&mut stream), b"", "{example}: closed");
        drop(stream);
        let status = daemon.wait_exit(Duration::from_secs(10));
        let log = daemon.rest_of_log().join("\n");
        assert_eq!(status.code(), Some(0), "{example}: {log}");
        assert!(
            log.contains(&format!("{name}: all connections closed, exiting")),
            "{example}: {log}"
        );
        assert!(!log.contains("forced shutdown"), "{example}: {log}");
    }
}

/// `--host` takes a name as medusad's does (`medusa::reactor::parse_host`):
/// `localhost` listens on 127.0.0.1 and answers there, for the shared
/// example options and fanout's own.
#[test]
fn examples_listen_on_a_host_name() {
    let sum = ("sum_of_squares_range", vec![Value::I8(1), Value::I8(3)]);
    for (example, args, (method, params), want) in [
        (
            "xmlrpc_server",
            &[][..],
            ("add", vec![Value::Int(40), Value::Int(2)]),
            Value::Int(42),
        ),
        ("fanout", &["--role", "worker"], sum, Value::I8(14)),
    ] {
        let mut command = std::process::Command::new(example_path(example));
        command
            .args(["--host", "localhost", "--port", "0"])
            .args(args);
        let mut daemon = Daemon::spawn_command(command);
        let line = daemon.wait_for("listening on ");
        let addr = listening_addr(&line);
        assert_eq!(addr.ip(), Ipv4Addr::LOCALHOST, "{example}: {line}");
        let mut client = Client::new(&format!("http://{addr}/RPC2")).expect("a URL");
        let answer = client.call(method, params);
        assert_eq!(answer.ok(), Some(want), "{example}");
        daemon.terminate(example);
    }
}

/// A port already taken is one plain line on stderr, `NAME: cannot listen
/// on ADDR: address already in use`, and exit status 1 (a run-time
/// failure; 2 is for usage), from every example server: not the Debug
/// form of an `io::Error` that a `main` returning it prints.
#[test]
fn a_port_in_use_is_one_clean_line_and_exit_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("local_addr");
    let port = addr.port().to_string();
    for (example, args) in [
        ("echo_server", &[][..]),
        ("chat_server", &[]),
        ("xmlrpc_server", &[]),
        ("validator1", &[]),
        ("fanout", &["--workers", "1"]),
        ("fanout", &["--role", "worker"]),
    ] {
        let out = std::process::Command::new(example_path(example))
            .args(["--host", "127.0.0.1", "--port", &port])
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run the example");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{example} {args:?}: {stderr}");
        let line = format!("{example}: cannot listen on {addr}: address already in use");
        // Its last line: fanout's coordinator logs its workers first.
        assert_eq!(
            stderr.lines().last(),
            Some(&*line),
            "{example} {args:?}: {stderr}"
        );
        assert!(!stderr.contains("Custom {"), "{example} {args:?}: {stderr}");
    }
}

/// What a peer chose (a method name, a chat line or nickname) is logged
/// quoted, control characters escaped: a newline in it cannot start a
/// forged log line, nor a terminal escape reach whoever reads the log.
#[test]
fn peer_text_is_logged_escaped() {
    let mut server = start("xmlrpc_server");
    let call = "<?xml version=\"1.0\"?><methodCall><methodName>evil&#10;[fake] line\
                </methodName><params/></methodCall>";
    let mut rpc = RpcConnection::connect(server.addr).expect("connect");
    let answer = rpc.call(call, "").expect("an answer");
    assert_eq!(answer.status, 200, "a fault, in a 200");
    let line = server.wait_for("call method: ");
    assert!(
        line.ends_with(r#"call method: "evil\n[fake] line", params: []"#),
        "{line}"
    );
    // Every line the server logs, to its exit: none begins "[fake]".
    server.signal(libc::SIGTERM);
    assert!(server.wait_exit(Duration::from_secs(10)).success());
    server.rest_of_log();
    assert!(
        !server.seen.iter().any(|l| l.starts_with("[fake]")),
        "{:?}",
        server.seen
    );

    let mut chat = start("chat_server");
    let mut caller = connect(chat.addr);
    read_until(&mut caller, "nickname?: ");
    send(&mut caller, b"bob\x1b[31m\n");
    read_until(&mut caller, "only caller");
    send(&mut caller, b"hi\x1b[2J\rthere\n");
    let line = chat.wait_for("there");
    assert!(
        line.ends_with(r#""bob\u{1b}[31m": "hi\u{1b}[2J\rthere""#),
        "{line:?}"
    );
    assert!(
        !chat
            .seen
            .iter()
            .any(|l| l.contains('\x1b') || l.contains('\r')),
        "{:?}",
        chat.seen
    );
}
