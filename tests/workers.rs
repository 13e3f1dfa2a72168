//! `medusad --workers N`: the master, its workers on one port, restarts,
//! signals, and socket activation.

mod util;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use util::daemon::*;
use util::peers::wait_for_count;

const CONNECTIONS: usize = 50;
const CALLS_PER_CONNECTION: usize = 20;

/// A daemon with `--workers 2` whose two workers are both listening.
fn two_workers(extra: &[&str]) -> (Daemon, Vec<u32>) {
    let mut args = vec!["--workers", "2"];
    args.extend_from_slice(extra);
    let mut daemon = Daemon::start(&args);
    daemon.wait_for("listening on ");
    let pids = daemon.worker_pids(2);
    (daemon, pids)
}

/// What one client connection's thread saw while a worker was killed.
struct ClientReport {
    /// (i, worker) for every answered add(i, 1).
    answered: Vec<(i32, u32)>,
    /// For each failed call: the worker that had been serving its
    /// connection (None: nothing answered on it yet), and whether the kill
    /// had happened already.
    failures: Vec<(Option<u32>, bool)>,
}

/// 1,000 calls from 50 connections on two workers; once every connection
/// has been answered, the worker holding most of them is SIGKILLed
/// mid-load. Only calls on that worker's connections fail, only after the
/// kill, and at most one per connection (the call in flight, or the next
/// one on the reset connection); the client's new connection never fails:
/// the workers share one accept queue, so nothing queued dies with a
/// worker. Every one of the 1,000 calls is answered, correctly, exactly
/// once. The master starts a replacement, which then serves.
#[test]
fn two_workers_share_the_load_and_survive_a_killed_worker() {
    let (mut daemon, pids) = two_workers(&[]);
    let addr = daemon.addr;
    let answered = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    // The worker that first answered each connection (0: none yet).
    let first_worker: Arc<Vec<AtomicU32>> =
        Arc::new((0..CONNECTIONS).map(|_| AtomicU32::new(0)).collect());
    let ready = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|c| {
            let (answered, killed) = (answered.clone(), killed.clone());
            let (first_worker, ready) = (first_worker.clone(), ready.clone());
            std::thread::spawn(move || {
                let mut report = ClientReport {
                    answered: Vec::new(),
                    failures: Vec::new(),
                };
                let mut conn = RpcConnection::connect(addr).expect("connect");
                for k in 0..CALLS_PER_CONNECTION {
                    let i = (c * CALLS_PER_CONNECTION + k) as i32;
                    loop {
                        match conn.call(&add_call(i, 1), "") {
                            Ok(answer) => {
                                assert_eq!(answer.status, 200, "add({i}, 1)");
                                assert_eq!(answer.int, Some(i64::from(i) + 1), "add({i}, 1)");
                                let worker = answer.worker.expect("X-Medusa-Worker");
                                if k == 0 {
                                    first_worker[c].store(worker, Ordering::SeqCst);
                                    ready.fetch_add(1, Ordering::SeqCst);
                                }
                                report.answered.push((i, worker));
                                answered.fetch_add(1, Ordering::SeqCst);
                                break;
                            }
                            Err(e) => {
                                report
                                    .failures
                                    .push((conn.last_worker, killed.load(Ordering::SeqCst)));
                                assert!(report.failures.len() <= 1, "call {i}: {e:?}");
                                conn = RpcConnection::connect(addr).expect("reconnect");
                            }
                        }
                    }
                }
                report
            })
        })
        .collect();

    wait_for_count(&ready, CONNECTIONS);
    wait_for_count(&answered, 300);
    let held = |pid: u32| {
        first_worker
            .iter()
            .filter(|w| w.load(Ordering::SeqCst) == pid)
            .count()
    };
    let victim = if held(pids[0]) >= held(pids[1]) {
        pids[0]
    } else {
        pids[1]
    };
    killed.store(true, Ordering::SeqCst);
    signal_pid(victim, libc::SIGKILL);

    let reports: Vec<ClientReport> = clients
        .into_iter()
        .map(|t| t.join().expect("client thread"))
        .collect();
    let mut calls: Vec<i32> = reports
        .iter()
        .flat_map(|r| r.answered.iter().map(|(i, _)| *i))
        .collect();
    calls.sort_unstable();
    let expected: Vec<i32> = (0..(CONNECTIONS * CALLS_PER_CONNECTION) as i32).collect();
    assert_eq!(calls, expected, "every call answered exactly once");
    // Every connection had been answered before the kill, so each failure
    // knows its worker.
    for report in &reports {
        for (worker, after_kill) in &report.failures {
            assert!(after_kill, "a call failed before any worker was killed");
            assert_eq!(
                *worker,
                Some(victim),
                "a call failed on worker {worker:?}, not the killed {victim}"
            );
        }
    }

    // The master noticed and started a replacement, which serves.
    let line = daemon.wait_for(&format!("worker {victim} was killed by signal 9"));
    assert!(line.contains("restarting it in 0ns"), "{line}");
    let replacement = daemon.worker_pids(3)[2];
    assert!(!pids.contains(&replacement));
    daemon.wait_for_seen(&format!("pid={replacement}] medusad listening on"));
    let mut seen_replacement = false;
    for i in 0..500 {
        let mut conn = RpcConnection::connect(addr).expect("connect after recovery");
        let answer = conn.call(&add_call(i, 1), "").expect("call after recovery");
        assert_eq!(answer.int, Some(i64::from(i) + 1));
        let worker = answer.worker.expect("X-Medusa-Worker");
        assert!(
            pids.contains(&worker) && worker != victim || worker == replacement,
            "{worker}"
        );
        if worker == replacement {
            seen_replacement = true;
            break;
        }
    }
    assert!(
        seen_replacement,
        "the replacement {replacement} never answered"
    );

    daemon.signal(libc::SIGTERM);
    let status = daemon.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "master exit status {status}");
}

/// A second instance on a port in use fails at once, with or without
/// workers on either side: exit status non-zero, and an error that names
/// the address and says it is in use. The first instance is left alone and
/// answers every request. (A second `--workers` instance used to join the
/// first one's SO_REUSEPORT port silently and answer about half of the
/// requests: 404 here, for its other --rpc-path.)
#[test]
fn a_second_instance_on_the_same_port_fails() {
    for (first_workers, second_workers) in
        [(true, true), (true, false), (false, true), (false, false)]
    {
        let mut first = if first_workers {
            two_workers(&[]).0
        } else {
            Daemon::start(&[])
        };
        let addr = first.addr;
        let port = addr.port().to_string();
        let mut args = vec!["--port", &port, "--rpc-path", "/OTHER"];
        if second_workers {
            args.extend(["--workers", "2"]);
        }
        let mut second = Daemon::spawn(&args);
        let status = second.wait_exit(Duration::from_secs(30));
        let log = second.rest_of_log().join("\n");
        let case = format!("first --workers: {first_workers}, second: {second_workers}");
        assert!(!status.success(), "{case}: second exited {status}\n{log}");
        assert!(
            log.contains(&format!("cannot listen on {addr}: address already in use")),
            "{case}: {log}"
        );
        for i in 0..50 {
            let mut conn = RpcConnection::connect(addr).expect("connect");
            let answer = conn.call(&add_call(i, 1), "").expect("call");
            assert_eq!(
                (answer.status, answer.int),
                (200, Some(i64::from(i) + 1)),
                "{case}"
            );
        }
        first.signal(libc::SIGTERM);
        let status = first.wait_exit(Duration::from_secs(30));
        assert!(status.success(), "{case}: first exited {status}");
    }
}

/// Counters are per worker: the metrics a worker serves carry its own
/// pid, the one in the response's X-Medusa-Worker.
#[test]
fn status_and_metrics_describe_the_worker_that_answered() {
    let (mut daemon, pids) = two_workers(&[]);
    let mut seen = HashSet::new();
    // Until both have answered: whichever worker wakes first takes a new
    // connection, and on a busy machine (the rest of the suite running)
    // one may win hundreds in a row.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        let mut stream = util::connect(daemon.addr);
        util::send(&mut stream, b"GET /status/metrics HTTP/1.0\r\n\r\n");
        let reply = String::from_utf8_lossy(&util::read_to_end(&mut stream)).into_owned();
        let header = reply
            .lines()
            .find_map(|l| l.strip_prefix("X-Medusa-Worker: "))
            .and_then(|pid| pid.trim().parse::<u32>().ok())
            .unwrap_or_else(|| panic!("no X-Medusa-Worker in {reply}"));
        let gauge = reply
            .lines()
            .find_map(|l| l.strip_prefix("medusa_worker_pid "))
            .and_then(|pid| pid.trim().parse::<u32>().ok())
            .unwrap_or_else(|| panic!("no medusa_worker_pid in {reply}"));
        assert_eq!(header, gauge, "{reply}");
        assert!(pids.contains(&gauge), "{gauge} not in {pids:?}");
        seen.insert(gauge);
        if seen.len() == 2 {
            break;
        }
    }
    assert_eq!(seen.len(), 2, "only {seen:?} answered");
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(Duration::from_secs(30)).success());
}

/// SIGTERM to the master under load: each worker finishes what it took.
/// Every call a worker logged (it reached the handler) was answered, in
/// full and correctly; a call is allowed to go unanswered only when its
/// connection ended before a single byte of response (the server closed an
/// idle keep-alive connection, or the connection was still in the accept
/// queue when the listener closed), and then it never reached a handler.
/// The master exits 0 and no worker survives it.
#[test]
fn sigterm_to_the_master_under_load_answers_every_accepted_call() {
    let (mut daemon, pids) = two_workers(&[]);
    let addr = daemon.addr;
    let answered = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|c| {
            let answered = answered.clone();
            std::thread::spawn(move || {
                let mut mine = 0;
                let mut i = (c * 100_000) as i32;
                // Until the port refuses connections: both workers stopped.
                while let Ok(mut conn) = RpcConnection::connect(addr) {
                    loop {
                        i += 1;
                        match conn.call(&add_call(i, 1), "") {
                            Ok(answer) => {
                                assert_eq!(answer.status, 200);
                                assert_eq!(answer.int, Some(i64::from(i) + 1));
                                mine += 1;
                                answered.fetch_add(1, Ordering::SeqCst);
                                if answer.close {
                                    break;
                                }
                            }
                            Err(CallError::Unanswered(_)) => break,
                            Err(CallError::Broken(e)) => panic!("call {i}: {e}"),
                        }
                    }
                    assert!(mine < 100_000, "the server never stopped");
                }
                mine
            })
        })
        .collect();

    wait_for_count(&answered, 300);
    daemon.signal(libc::SIGTERM);
    let status = daemon.wait_exit(Duration::from_secs(30));
    let total: usize = clients
        .into_iter()
        .map(|t| t.join().expect("client thread"))
        .sum();
    assert!(status.success(), "master exit status {status}");
    let log = daemon.rest_of_log();
    let logged = daemon
        .seen
        .iter()
        .filter(|l| l.contains("\"POST /RPC2 HTTP/1.1\" 200") && l.contains(" pid="))
        .count();
    assert_eq!(
        logged, total,
        "calls the workers answered vs calls the clients received"
    );
    assert!(
        log.iter().any(|l| l.contains("all workers stopped")),
        "{log:?}"
    );
    for pid in pids {
        assert!(!alive(pid), "worker {pid} outlived the master");
    }
}

/// SIGTERM to the master closes the port at once, though a worker is still
/// finishing a download: the master closes its copy of the shared socket
/// when it stops, the workers theirs when they stop accepting, so a new
/// connection is refused (or reset), not left queued on a socket that no
/// one accepts from until the master exits. The download completes.
#[test]
fn sigterm_to_the_master_closes_the_port_while_a_download_finishes() {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let body: Vec<u8> = (0..8 << 20).map(|i: u32| (i % 249) as u8).collect();
    std::fs::write(dir.path().join("big.bin"), &body).unwrap();
    let (mut daemon, pids) =
        two_workers(&["--root", dir.path().to_str().unwrap(), "--grace", "60"]);

    let mut stream = util::connect(daemon.addr);
    stream.write_all(b"GET /big.bin HTTP/1.0\r\n\r\n").unwrap();
    let mut reader = BufReader::new(stream);
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert!(first.starts_with("HTTP/1.0 200"), "{first}");

    daemon.signal(libc::SIGTERM);
    for pid in &pids {
        daemon.wait_for_seen(&format!("pid={pid}] signal 15: shutting down gracefully"));
    }
    if let Ok(mut late) = std::net::TcpStream::connect(daemon.addr) {
        // Time enough to tell a reset from a connection left waiting; the
        // download holds the master up far longer.
        late.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = late.write_all(b"GET /status HTTP/1.0\r\n\r\n");
        let mut answer = Vec::new();
        let outcome = late.read_to_end(&mut answer);
        assert!(answer.is_empty(), "a connection after SIGTERM was served");
        if let Err(e) = outcome {
            assert!(
                !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "a connection after SIGTERM was left waiting in the queue"
            );
        }
    }

    let mut received = Vec::new();
    reader
        .read_to_end(&mut received)
        .expect("the rest of the download");
    assert!(received.ends_with(&body), "body intact");
    let status = daemon.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "master exit status {status}");
}

/// SIGTERM to one worker recycles it: it exits 0 and the master starts a
/// fresh one at once, which serves.
#[test]
fn sigterm_to_one_worker_recycles_it() {
    let (mut daemon, pids) = two_workers(&[]);
    signal_pid(pids[0], libc::SIGTERM);
    daemon.wait_for(&format!(
        "worker {} exited with status 0; restarting it in 0ns",
        pids[0]
    ));
    let fresh = daemon.worker_pids(3)[2];
    daemon.wait_for_seen(&format!("pid={fresh}] medusad listening on"));
    assert!(alive(pids[1]), "the other worker was left alone");
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(Duration::from_secs(30)).success());
}

/// A SIGKILLed master cannot relay anything; its workers exit anyway (the
/// parent-death signal) instead of holding the port forever.
#[test]
fn workers_exit_when_the_master_is_killed() {
    let (mut daemon, pids) = two_workers(&[]);
    for pid in &pids {
        assert!(alive(*pid));
    }
    daemon.child.kill().expect("SIGKILL the master");
    daemon.child.wait().expect("reap the master");
    for pid in pids {
        assert!(
            wait_gone(pid, Duration::from_secs(20)),
            "worker {pid} outlived its killed master"
        );
    }
}

/// A configuration no worker can start with (here a missing --root) stops
/// the master with a failure status and the worker's error, instead of
/// restarting workers forever.
#[test]
fn a_worker_that_cannot_start_fails_the_master() {
    let mut daemon = Daemon::spawn(&["--workers", "2", "--root", "/nonexistent/medusa-test"]);
    let status = daemon.wait_exit(Duration::from_secs(30));
    assert!(!status.success(), "master exit status {status}");
    daemon.rest_of_log();
    let log = daemon.seen.join("\n");
    assert!(log.contains("--root /nonexistent/medusa-test"), "{log}");
    let starts = daemon
        .seen
        .iter()
        .filter(|l| started_pid(l).is_some())
        .count();
    assert!(starts <= 2, "workers were restarted: {log}");
}

/// A replacement that cannot start (its --root vanished after the first
/// start) is retried with growing delays, not in a tight loop, and serves
/// again once the cause is gone. The delays are the master's own log: it
/// reports each one it chose.
#[test]
fn a_crash_looping_worker_backs_off_then_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("site");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("hello.txt"), "hello\n").unwrap();
    let mut daemon = Daemon::start(&["--workers", "2", "--root", root.to_str().unwrap()]);
    // Both first workers are up before the directory goes.
    daemon.wait_for("medusad listening on ");
    let pids = daemon.worker_pids(2);
    std::fs::remove_dir_all(&root).unwrap();
    signal_pid(pids[0], libc::SIGKILL);
    let mut delays = Vec::new();
    for _ in 0..4 {
        let line = daemon.wait_for("restarting it in ");
        let delay = line.rsplit("restarting it in ").next().unwrap_or("");
        delays.push(delay.to_string());
    }
    assert_eq!(delays, ["0ns", "100ms", "200ms", "400ms"]);
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("hello.txt"), "hello\n").unwrap();
    // The next attempt finds the directory and serves.
    let line = daemon.wait_for("medusad listening on");
    assert!(!line.contains(&format!("pid={}]", pids[1])), "{line}");
    daemon.signal(libc::SIGTERM);
    let status = daemon.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "master exit status {status}");
}

/// The Python stand-in for systemd: bind and listen, put the socket on fd
/// 3, set LISTEN_FDS/LISTEN_PID to its own pid and exec medusad (the pid
/// survives exec). medusad must then announce the inherited socket's
/// address, not `--port 1`'s.
fn socket_activated(extra: &[&str]) -> (Daemon, SocketAddr) {
    let script = r#"
import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(128)
sys.stderr.write("python listening on 127.0.0.1:%d\n" % s.getsockname()[1])
sys.stderr.flush()
if s.fileno() != 3:
    os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[1], sys.argv[1:])
"#;
    let mut command = Command::new("python3");
    command
        .args(["-c", script, env!("CARGO_BIN_EXE_medusad"), "--port", "1"])
        .args(extra);
    let mut daemon = Daemon::spawn_command(command);
    let python = listening_addr(&daemon.wait_for("python listening on "));
    let served = listening_addr(&daemon.wait_for("medusad listening on "));
    assert_eq!(served, python, "medusad serves the inherited socket");
    daemon.addr = served;
    (daemon, served)
}

#[test]
fn socket_activation_serves_the_inherited_socket() {
    let (mut daemon, addr) = socket_activated(&[]);
    let mut conn = RpcConnection::connect(addr).expect("connect");
    let answer = conn.call(&add_call(40, 2), "").expect("call");
    assert_eq!((answer.status, answer.int), (200, Some(42)));
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(Duration::from_secs(30)).success());
}

/// With --workers, the workers share the inherited socket.
#[test]
fn socket_activation_with_workers() {
    let (mut daemon, addr) = socket_activated(&["--workers", "2"]);
    daemon.wait_for("medusad listening on ");
    let pids = daemon.worker_pids(2);
    for i in 0..20 {
        let mut conn = RpcConnection::connect(addr).expect("connect");
        let answer = conn.call(&add_call(i, 1), "").expect("call");
        assert_eq!(answer.int, Some(i64::from(i) + 1));
        let worker = answer.worker.expect("X-Medusa-Worker");
        assert!(pids.contains(&worker), "{worker} not in {pids:?}");
    }
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(Duration::from_secs(30)).success());
}

/// `--workers 2 --access-log FILE`: both workers append to the one file,
/// every line ends with the pid of the worker that served it (the same
/// pid its response named in `X-Medusa-Worker`), and no line is torn.
#[test]
fn workers_sharing_an_access_log_file_tag_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let (mut daemon, pids) = two_workers(&["--access-log", log.to_str().unwrap()]);
    let addr = daemon.addr;
    let threads: Vec<_> = (0..20)
        .map(|c| {
            std::thread::spawn(move || {
                let mut conn = RpcConnection::connect(addr).expect("connect");
                (0..10)
                    .map(|k| {
                        let answer = conn.call(&add_call(c * 10 + k, 1), "").expect("answer");
                        assert_eq!(answer.int, Some(i64::from(c * 10 + k) + 1));
                        answer.worker.expect("X-Medusa-Worker")
                    })
                    .collect::<Vec<u32>>()
            })
        })
        .collect();
    let mut served: Vec<u32> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(Duration::from_secs(20)).success());

    let text = std::fs::read_to_string(&log).unwrap();
    let mut logged: Vec<u32> = Vec::new();
    for line in text.lines() {
        assert!(line.contains("\"POST /RPC2 HTTP/1.1\" 200 "), "{line}");
        let pid = line
            .rsplit_once(" pid=")
            .and_then(|(_, pid)| pid.parse().ok())
            .unwrap_or_else(|| panic!("no pid at the end of {line:?}"));
        assert!(pids.contains(&pid), "{pid} is not a worker ({pids:?})");
        logged.push(pid);
    }
    served.sort_unstable();
    logged.sort_unstable();
    assert_eq!(
        logged, served,
        "one line per call, under the worker that answered"
    );
}

/// `--reuseport`: a socket per worker on one port. Fresh connections are
/// spread among the workers by the kernel; a killed worker's replacement
/// takes over its socket (the master keeps it), so the port keeps
/// answering; and, the documented caveat, another process of the same
/// user can bind the port with SO_REUSEPORT too, while a plain bind is
/// refused.
#[cfg(target_os = "linux")]
#[test]
fn reuseport_gives_each_worker_a_socket() {
    let (mut daemon, pids) = two_workers(&["--reuseport"]);
    let addr = daemon.addr;
    let mut seen = std::collections::BTreeMap::<u32, usize>::new();
    for i in 0..200 {
        let mut conn = RpcConnection::connect(addr).expect("connect");
        let answer = conn.call(&add_call(i, 1), "").expect("answered");
        assert_eq!(answer.int, Some(i64::from(i) + 1));
        *seen
            .entry(answer.worker.expect("X-Medusa-Worker"))
            .or_default() += 1;
    }
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        {
            let mut p = pids.clone();
            p.sort_unstable();
            p
        },
        "both workers took connections: {seen:?}"
    );

    signal_pid(pids[0], libc::SIGKILL);
    daemon.wait_for(&format!("worker {} was killed by signal 9", pids[0]));
    let replacement = daemon.worker_pids(3)[2];
    daemon.wait_for_seen(&format!("pid={replacement}] medusad listening on"));
    let mut answered_by = std::collections::BTreeSet::new();
    for i in 0..200 {
        let mut conn = RpcConnection::connect(addr).expect("connect");
        let answer = conn
            .call(&add_call(i, 2), "")
            .expect("answered after the kill");
        answered_by.insert(answer.worker.expect("X-Medusa-Worker"));
        if answered_by.contains(&replacement) {
            break;
        }
    }
    assert!(
        answered_by.contains(&replacement),
        "the replacement serves the killed worker's socket: {answered_by:?}"
    );

    let plain = std::net::TcpListener::bind(addr);
    assert!(plain.is_err(), "a plain bind of the port is refused");
    let intruder =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    intruder.set_reuse_port(true).unwrap();
    assert!(
        intruder.bind(&addr.into()).is_ok(),
        "the caveat: a SO_REUSEPORT socket of the same user can join"
    );
    drop(intruder);
    daemon.terminate("medusad --workers 2 --reuseport");
}

/// One call on a new connection, waiting at most `limit` for the answer:
/// `Some(worker)` if answered, `None` if nothing came in time.
fn call_within(addr: SocketAddr, limit: Duration) -> Option<u32> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(limit)).unwrap();
    let body = add_call(1, 2);
    let request = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => {}
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            return None
        }
        Err(e) => panic!("reading the answer: {e}"),
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
    text.lines()
        .find_map(|l| l.strip_prefix("X-Medusa-Worker: "))
        .and_then(|pid| pid.trim().parse().ok())
}

/// A SIGSTOPped worker holds nothing with the shared socket (the default):
/// every new connection is taken by the running worker. With
/// `--reuseport`, the documented caveat: connections hashed to the
/// stopped worker's socket wait there until it runs again.
#[cfg(target_os = "linux")]
#[test]
fn a_stopped_worker_holds_connections_only_with_reuseport() {
    for reuseport in [false, true] {
        let extra: &[&str] = if reuseport { &["--reuseport"] } else { &[] };
        let (daemon, pids) = two_workers(extra);
        signal_pid(pids[0], libc::SIGSTOP);
        let answers: Vec<Option<u32>> = (0..20)
            .map(|_| call_within(daemon.addr, Duration::from_millis(1500)))
            .collect();
        signal_pid(pids[0], libc::SIGCONT);
        if reuseport {
            assert!(
                answers.contains(&None),
                "some of 20 connections wait on the stopped worker's socket: {answers:?}"
            );
        } else {
            assert!(
                answers.iter().all(|a| *a == Some(pids[1])),
                "the running worker answers every connection: {answers:?}"
            );
        }
        daemon.terminate("medusad after SIGSTOP/SIGCONT");
    }
}
