//! SIGUSR2 to the master of `medusad --workers 2`: a new master from the
//! binary on disk takes the listening socket over, and the old one hands
//! over once the new one's workers are up. Under a steady load from 50
//! connections no call is lost; a binary that cannot start leaves the old
//! master serving.

mod util;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use util::daemon::{
    add_call, listening_addr, signal_pid, wait_gone, CallError, Daemon, RpcConnection,
};
use util::peers::wait_for_count;

/// A copy of medusad in `dir`, run from there (so the test can replace
/// it on disk, as a package upgrade does).
fn start_from_copy(dir: &Path) -> Daemon {
    let binary = dir.join("medusad");
    std::fs::copy(env!("CARGO_BIN_EXE_medusad"), &binary).unwrap();
    let mut command = Command::new(&binary);
    command.args(["--workers", "2", "--port", "0", "--access-log", "off"]);
    let mut daemon = Daemon::spawn_command(command);
    daemon.addr = listening_addr(&daemon.wait_for("listening on "));
    daemon
}

/// Puts `content` where the binary is, as a new file (a new inode, as a
/// package manager's rename does), executable; its inode.
fn replace_binary(dir: &Path, content: &[u8]) -> u64 {
    let fresh = dir.join("medusad.new");
    std::fs::write(&fresh, content).unwrap();
    std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::rename(&fresh, dir.join("medusad")).unwrap();
    std::fs::metadata(dir.join("medusad")).unwrap().ino()
}

/// The inode of the binary process `pid` runs.
fn exe_inode(pid: u32) -> u64 {
    std::fs::metadata(format!("/proc/{pid}/exe")).unwrap().ino()
}

/// SIGTERMs (then waits for) a process the test did not start itself.
struct Stray(Option<u32>);

impl Drop for Stray {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            // SAFETY: kill(2) takes two integers and touches no memory.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
            wait_gone(pid, Duration::from_secs(20));
        }
    }
}

#[test]
fn an_upgrade_under_load_loses_no_call() {
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = start_from_copy(dir.path());
    let old_workers = daemon.worker_pids(2);
    let old_master = daemon.pid();
    let old_inode = exe_inode(old_master);
    let new_inode = replace_binary(
        dir.path(),
        &std::fs::read(env!("CARGO_BIN_EXE_medusad")).unwrap(),
    );
    assert_ne!(old_inode, new_inode);

    let addr = daemon.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicUsize::new(0));
    let answers = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..50)
        .map(|c| {
            let (stop, total, answers) = (stop.clone(), total.clone(), answers.clone());
            std::thread::spawn(move || {
                let mut broken = Vec::new();
                let mut conn = RpcConnection::connect(addr).expect("connect");
                let mut i = c * 1_000_000;
                while !stop.load(Ordering::SeqCst) {
                    match conn.call(&add_call(i, 1), "") {
                        Ok(answer) => {
                            assert_eq!(answer.int, Some(i64::from(i) + 1), "add({i}, 1)");
                            let worker = answer.worker.expect("X-Medusa-Worker");
                            answers.lock().unwrap().push((i, worker));
                            total.fetch_add(1, Ordering::SeqCst);
                            i += 1;
                        }
                        // The connection was closed before any byte of an
                        // answer (an old worker closing an idle
                        // keep-alive connection): the call was not taken;
                        // send it again on a new connection, as clients do.
                        Err(CallError::Unanswered(_)) => {
                            conn = RpcConnection::connect(addr).expect("reconnect");
                        }
                        Err(CallError::Broken(e)) => {
                            broken.push(format!("add({i}, 1): {e}"));
                            conn = RpcConnection::connect(addr).expect("reconnect");
                            i += 1;
                        }
                    }
                }
                broken
            })
        })
        .collect();
    wait_for_count(&total, 1000);

    daemon.signal(libc::SIGUSR2);
    let line = daemon.wait_for("new master ");
    let new_master: u32 = line
        .split("new master ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {line:?}"));
    let _cleanup = Stray(Some(new_master));
    daemon.wait_for("is ready: stopping the old workers");
    let status = daemon.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "the old master exited {status}");
    for pid in &old_workers {
        assert!(wait_gone(*pid, Duration::from_secs(20)), "old worker {pid}");
    }
    let after = total.load(Ordering::SeqCst);
    wait_for_count(&total, after + 1000);
    stop.store(true, Ordering::SeqCst);
    let broken: Vec<String> = clients
        .into_iter()
        .flat_map(|t| t.join().expect("client"))
        .collect();
    assert!(broken.is_empty(), "calls broken mid-answer: {broken:?}");

    let answers = answers.lock().unwrap();
    let mut calls: Vec<i32> = answers.iter().map(|(i, _)| *i).collect();
    let count = calls.len();
    calls.sort_unstable();
    calls.dedup();
    assert_eq!(calls.len(), count, "a call answered twice");
    let by_new = answers
        .iter()
        .filter(|(_, w)| !old_workers.contains(w))
        .count();
    assert!(by_new >= 1000, "the new workers answered {by_new} calls");
    // The new master runs the new binary.
    assert_eq!(exe_inode(new_master), new_inode);
}

#[test]
fn a_binary_that_cannot_start_leaves_the_old_master_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = start_from_copy(dir.path());
    let workers = daemon.worker_pids(2);
    replace_binary(dir.path(), b"#!/bin/sh\necho 'broken build' >&2\nexit 1\n");
    daemon.signal(libc::SIGUSR2);
    let line = daemon.wait_for("upgrade failed");
    assert!(
        line.contains("exited") && line.contains("the old master keeps serving"),
        "{line}"
    );
    for i in 0..20 {
        let mut conn = RpcConnection::connect(daemon.addr).expect("connect");
        let answer = conn.call(&add_call(i, 1), "").expect("served");
        assert_eq!(answer.int, Some(i64::from(i) + 1));
        assert!(workers.contains(&answer.worker.expect("X-Medusa-Worker")));
    }
    // SIGUSR2 to a worker is not the end of it.
    signal_pid(workers[0], libc::SIGUSR2);
    daemon.wait_for("SIGUSR2: ignored");
    daemon.terminate("the old master, after a failed upgrade");
}
