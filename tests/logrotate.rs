//! `docs/deploying.md`'s "Log rotation" in practice: a real `logrotate -f`
//! with the configuration in the docs (`create`, then SIGUSR1 from
//! `postrotate`) while clients call medusad, with `--workers 2` and
//! without. The rotated file and the new one together hold exactly one
//! line per call made: none lost, none written twice.

mod util;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use util::daemon::*;
use util::peers::{doc_block, peer};

/// Client threads, each on its own keep-alive connection.
const CLIENTS: usize = 4;
/// Calls made (in all) before the rotation, and again after every process
/// has reopened the file.
const CALLS_EACH_SIDE: usize = 300;

/// The path and the command the docs' configuration has, which the test
/// replaces with its own.
const DOC_PATH: &str = "/var/log/medusad/access.log";
const DOC_SIGNAL: &str = "systemctl kill --kill-who=main --signal=USR1 medusad.service";

/// The logrotate configuration of docs/deploying.md's "Log rotation".
fn doc_config() -> String {
    let config = doc_block("deploying.md", "## Log rotation", "text");
    assert!(config.contains(DOC_PATH), "{config}");
    assert!(config.contains(DOC_SIGNAL), "{config}");
    assert!(config.contains("create"), "{config}");
    assert!(!config.contains("copytruncate"), "{config}");
    config
}

/// Makes calls on `CLIENTS` connections until `stop`, counting each
/// answered one in `made`.
fn load(
    addr: std::net::SocketAddr,
    made: &Arc<AtomicUsize>,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..CLIENTS)
        .map(|client| {
            let (made, stop) = (made.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut conn = RpcConnection::connect(addr).expect("connect");
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let a = i32::try_from(client).unwrap();
                    let answer = conn.call(&add_call(a, n), "").expect("answered");
                    assert_eq!(answer.status, 200);
                    assert_eq!(answer.int, Some(i64::from(a + n)));
                    made.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
            })
        })
        .collect()
}

/// Waits up to 20 s for `done`.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Rotates medusad's access log (started with `args`, whose processes
/// that serve are `servers`) in the middle of a steady load.
fn rotation_loses_no_line(args: &[&str], servers: usize) {
    let Some(logrotate) = peer("logrotate") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let rotated = dir.path().join("access.log.1");
    let mut all = args.to_vec();
    all.extend(["--access-log", log.to_str().unwrap()]);
    let mut daemon = Daemon::start(&all);
    // Every serving process has caught SIGUSR1 (its default action is
    // death) once it has said where it listens.
    for _ in 1..servers {
        daemon.wait_for("listening on ");
    }
    let daemon_workers = if servers > 1 {
        daemon.worker_pids(servers)
    } else {
        Vec::new()
    };
    let config = doc_config()
        .replace(DOC_PATH, log.to_str().unwrap())
        .replace(DOC_SIGNAL, &format!("kill -USR1 {}", daemon.pid()));
    let config_path = dir.path().join("logrotate.conf");
    std::fs::write(&config_path, config).unwrap();

    let made = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let clients = load(daemon.addr, &made, &stop);
    wait_until("calls before the rotation", || {
        made.load(Ordering::Relaxed) >= CALLS_EACH_SIDE
    });
    // `notifempty`: the buffered lines must have reached the file (the
    // once-a-second flush) for logrotate to rotate it.
    wait_until("a non-empty access log", || {
        std::fs::metadata(&log).is_ok_and(|m| m.len() > 0)
    });
    let state = dir.path().join("state");
    let output = Command::new(&logrotate)
        .arg("-f")
        .arg("-s")
        .arg(&state)
        .arg(&config_path)
        .output()
        .expect("run logrotate");
    assert!(
        output.status.success(),
        "logrotate failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // The new file is logrotate's (`create 0640`), not one medusad made.
    let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640, "access.log made by logrotate's create");
    if servers > 1 {
        daemon.wait_for("master: SIGUSR1: relayed to the workers");
    }
    for _ in 0..servers {
        daemon.wait_for("SIGUSR1: access log reopened");
    }
    // Every process has moved to the new file: the old one is complete.
    let before = read(&rotated);
    let at_reopen = made.load(Ordering::Relaxed);
    wait_until("calls after the rotation", || {
        made.load(Ordering::Relaxed) >= at_reopen + CALLS_EACH_SIDE
    });
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().expect("client thread");
    }
    let total = made.load(Ordering::Relaxed);
    // A graceful stop writes out every buffered line.
    daemon.terminate("medusad after the rotation");

    let old = read(&rotated);
    assert_eq!(
        old, before,
        "nothing written to access.log.1 after the reopen"
    );
    let new = read(&log);
    assert!(!old.is_empty(), "access.log.1 is empty");
    assert!(!new.is_empty(), "access.log is empty");
    let lines: Vec<&str> = old.lines().chain(new.lines()).collect();
    for line in &lines {
        assert!(line.contains("\"POST /RPC2 HTTP/1.1\" 200 "), "{line}");
    }
    assert_eq!(
        lines.len(),
        total,
        "one line per call: {} in access.log.1, {} in access.log, {total} calls",
        old.lines().count(),
        new.lines().count()
    );
    if servers > 1 {
        // Each line says which worker wrote it.
        let workers: Vec<String> = daemon_workers
            .iter()
            .map(|pid| format!(" pid={pid}"))
            .collect();
        for line in &lines {
            assert!(workers.iter().any(|w| line.ends_with(w.as_str())), "{line}");
        }
    }
}

#[test]
fn logrotate_create_then_sigusr1_loses_no_line() {
    rotation_loses_no_line(&[], 1);
}

#[test]
fn logrotate_with_workers_signals_the_master_and_loses_no_line() {
    rotation_loses_no_line(&["--workers", "2"], 2);
}

/// A path that cannot be opened again (its directory moved away) costs
/// nothing: the error is logged and the lines keep going to the old file.
#[test]
fn a_failed_reopen_keeps_writing_to_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let log = logs.join("access.log");
    let mut daemon = Daemon::start(&["--access-log", log.to_str().unwrap()]);
    let mut conn = RpcConnection::connect(daemon.addr).expect("connect");
    assert_eq!(conn.call(&add_call(1, 2), "").unwrap().int, Some(3));
    let moved = dir.path().join("moved");
    std::fs::rename(&logs, &moved).unwrap();
    daemon.signal(libc::SIGUSR1);
    let line = daemon.wait_for("SIGUSR1: ");
    assert!(line.contains("still writing to the old file"), "{line}");
    assert!(line.contains("access.log"), "{line}");
    assert_eq!(conn.call(&add_call(3, 4), "").unwrap().int, Some(7));
    drop(conn);
    daemon.terminate("medusad after a failed reopen");
    let text = read(&moved.join("access.log"));
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(!log.exists(), "nothing created at the old path");
}

/// Without a log file (the access log on stderr), SIGUSR1 is harmless
/// and says so.
#[test]
fn sigusr1_without_a_log_file_is_harmless() {
    let mut daemon = Daemon::start(&[]);
    daemon.signal(libc::SIGUSR1);
    daemon.wait_for("SIGUSR1: no log file to reopen");
    let mut conn = RpcConnection::connect(daemon.addr).expect("connect");
    assert_eq!(conn.call(&add_call(1, 2), "").unwrap().int, Some(3));
    drop(conn);
    daemon.terminate("medusad after SIGUSR1");
}
