//! The fan-out example as processes: a coordinator that calls its workers
//! concurrently from its own loop answers exactly what a local computation
//! gives, with 1 and with 4 workers, and faults clearly when a worker fails.

mod util;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use medusa::xmlrpc::{Client, ClientError, Fault, Value};

/// A running example process, killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `fanout ARGS --port 0` and returns it with the address of the
/// server it logs as `what` ("coordinator" or "worker").
fn start(args: &[&str], what: &str) -> (Running, SocketAddr) {
    let mut child = Command::new(util::example_path("fanout"))
        .args(args)
        .args(["--port", "0"])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the fanout example");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let needle = format!("{what} listening on ");
    let addr = loop {
        let line = lines.next().expect("fanout exited early").unwrap();
        if let Some((_, addr)) = line.split_once(&needle) {
            break addr.trim().parse().unwrap();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    (Running(child), addr)
}

fn sum_of_squares(n: i64) -> i64 {
    (1..=n).map(|k| k * k).sum()
}

fn ask(addr: SocketAddr, n: i32) -> Result<Value, ClientError> {
    Client::new(&format!("http://{addr}/RPC2"))
        .unwrap()
        .call("sum_of_squares", vec![Value::Int(n)])
}

/// With 1 and with 4 workers (threads of the example), the coordinator's
/// answer equals the local sum, for several n.
#[test]
fn coordinator_matches_local_sum_with_1_and_4_workers() {
    for workers in ["1", "4"] {
        let (_coordinator, addr) = start(&["--workers", workers], "coordinator");
        for n in [0, 1, 7, 1000, 123_457] {
            assert_eq!(
                ask(addr, n).unwrap(),
                Value::I8(sum_of_squares(n.into())),
                "n={n}, {workers} workers"
            );
        }
    }
}

/// Workers in their own processes, named with --worker.
#[test]
fn coordinator_with_worker_processes() {
    let (_w1, a1) = start(&["--role", "worker"], "worker");
    let (_w2, a2) = start(&["--role", "worker"], "worker");
    let (_c, addr) = start(
        &["--worker", &a1.to_string(), "--worker", &a2.to_string()],
        "coordinator",
    );
    assert_eq!(
        ask(addr, 99_999).unwrap(),
        Value::I8(sum_of_squares(99_999))
    );
}

/// A worker that is not there: a clear fault naming it, not a hang.
#[test]
fn a_failed_worker_is_a_fault() {
    let (_w, good) = start(&["--role", "worker"], "worker");
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let (_c, addr) = start(
        &["--worker", &good.to_string(), "--worker", &dead.to_string()],
        "coordinator",
    );
    match ask(addr, 100) {
        Err(ClientError::Fault(fault)) => {
            assert_eq!(fault.code, Fault::APPLICATION_ERROR);
            assert!(
                fault.message.contains(&dead.to_string()),
                "{}",
                fault.message
            );
        }
        other => panic!("expected a fault, got {other:?}"),
    }
}
