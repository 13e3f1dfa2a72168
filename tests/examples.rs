//! The example programs, run as real processes and spoken to over TCP, the
//! way a newcomer following the README would.

mod util;

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use util::daemon::Daemon;
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
