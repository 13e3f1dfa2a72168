//! `docs/deploying.md`'s HAProxy configuration, run: two medusad
//! instances behind a real HAProxy with health checks on `/status/health`;
//! one is stopped gracefully under a steady load, and no call is lost.

mod util;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use util::daemon::{add_call, Daemon, RpcConnection};
use util::peers::{doc_block, peer, substitute, wait_for_count};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// HAProxy in the foreground; killed when dropped.
struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What one client thread saw.
struct Report {
    answered: usize,
    errors: Vec<String>,
}

#[test]
fn documented_haproxy_config_drains_an_instance_without_losing_a_call() {
    let Some(binary) = peer("haproxy") else {
        return;
    };
    // The access log on stderr (the default): the test sees b serve.
    let a = Daemon::start(&[]);
    let mut b = Daemon::start(&[]);
    let port = free_port();
    let config = doc_block("deploying.md", "", "haproxy");
    let config = substitute(&config, "127.0.0.1:8182", &a.addr.to_string());
    let config = substitute(&config, "127.0.0.1:8183", &b.addr.to_string());
    let config = substitute(&config, "bind :80", &format!("bind 127.0.0.1:{port}"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("haproxy.cfg");
    std::fs::write(&file, config).unwrap();
    let check = Command::new(&binary)
        .arg("-c")
        .arg("-f")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "haproxy -c: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let child = Command::new(&binary)
        .arg("-db")
        .arg("-f")
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("run haproxy");
    let _haproxy = Haproxy(child);
    let front: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(front).is_err() {
        assert!(Instant::now() < deadline, "haproxy is not listening");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Both instances marked up (rise 2: two good checks each).
    std::thread::sleep(Duration::from_millis(1500));

    // A steady load: 8 keep-alive clients calling add(i, 1) until told.
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let (stop, total) = (stop.clone(), total.clone());
            std::thread::spawn(move || {
                let mut report = Report {
                    answered: 0,
                    errors: Vec::new(),
                };
                let mut conn = RpcConnection::connect(front).expect("connect to haproxy");
                let mut i = c * 1_000_000;
                while !stop.load(Ordering::SeqCst) {
                    match conn.call(&add_call(i, 1), "") {
                        Ok(answer)
                            if answer.status == 200 && answer.int == Some(i64::from(i) + 1) =>
                        {
                            report.answered += 1;
                            total.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(answer) => report.errors.push(format!("add({i}, 1): {answer:?}")),
                        Err(e) => {
                            report.errors.push(format!("add({i}, 1): {e:?}"));
                            conn = RpcConnection::connect(front).expect("reconnect");
                        }
                    }
                    i += 1;
                }
                report
            })
        })
        .collect();
    wait_for_count(&total, 500);
    b.wait_for("\"POST /RPC2 HTTP/1.1\" 200");
    // Stop b gracefully, as systemctl stop would, mid-load.
    b.signal(libc::SIGTERM);
    assert!(
        b.wait_exit(Duration::from_secs(30)).success(),
        "b stopped cleanly"
    );
    let at_stop = total.load(Ordering::SeqCst);
    wait_for_count(&total, at_stop + 500);
    stop.store(true, Ordering::SeqCst);
    let reports: Vec<Report> = clients.into_iter().map(|t| t.join().unwrap()).collect();
    let errors: Vec<&String> = reports.iter().flat_map(|r| &r.errors).collect();
    assert!(errors.is_empty(), "calls lost or wrong: {errors:?}");
    let answered: usize = reports.iter().map(|r| r.answered).sum();
    assert!(answered >= at_stop + 500, "{answered}");
    a.terminate("medusad a");
}
