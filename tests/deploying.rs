//! `docs/deploying.md` in practice: its nginx configuration in front of
//! two medusad instances (failover when one stops), and `--trusted-proxy`
//! in the access log.

mod util;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use util::daemon::*;
use util::peers::{doc_block, peer, substitute};

/// The access log line of a request carrying `marker` in its path.
fn access_line(daemon: &mut Daemon, marker: &str) -> String {
    daemon.wait_for(marker)
}

/// The client field (the first word) of an access log line.
fn client_field(line: &str) -> &str {
    line.split_whitespace().next().unwrap_or("")
}

/// A GET with `extra` header lines on a fresh connection; returns the
/// status line.
fn get(addr: SocketAddr, path: &str, extra: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = util::connect(addr);
    write!(stream, "GET {path} HTTP/1.0\r\n{extra}\r\n").unwrap();
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply).into_owned();
    reply.lines().next().unwrap_or("").to_string()
}

/// Without --trusted-proxy, X-Forwarded-For is the client's word and is
/// ignored; with it, a request from the trusted address is logged under
/// the forwarded client.
#[test]
fn access_log_believes_x_forwarded_for_only_from_trusted_proxies() {
    let header = "X-Forwarded-For: 198.51.100.9, 203.0.113.7\r\n";
    let mut plain = Daemon::start(&[]);
    assert!(get(plain.addr, "/status?untrusted", header).contains(" 200 "));
    let line = access_line(&mut plain, "/status?untrusted");
    assert_eq!(client_field(&line), "127.0.0.1", "{line}");

    let mut trusting = Daemon::start(&["--trusted-proxy", "127.0.0.1"]);
    assert!(get(trusting.addr, "/status?trusted", header).contains(" 200 "));
    let line = access_line(&mut trusting, "/status?trusted");
    assert_eq!(client_field(&line), "203.0.113.7", "{line}");
    // No header: the peer itself.
    assert!(get(trusting.addr, "/status?direct", "").contains(" 200 "));
    let line = access_line(&mut trusting, "/status?direct");
    assert_eq!(client_field(&line), "127.0.0.1", "{line}");
    // On one kept-alive connection (nginx multiplexes clients over its
    // upstream connections), each request is logged under its own client.
    let mut conn = RpcConnection::connect(trusting.addr).expect("connect");
    let forwarded = "X-Forwarded-For: 203.0.113.8\r\n";
    assert_eq!(conn.call(&add_call(1, 1), forwarded).unwrap().int, Some(2));
    assert_eq!(conn.call(&add_call(2, 2), "").unwrap().int, Some(4));
    let first = access_line(&mut trusting, "\"POST /RPC2 HTTP/1.1\"");
    assert_eq!(client_field(&first), "203.0.113.8", "{first}");
    let second = access_line(&mut trusting, "\"POST /RPC2 HTTP/1.1\"");
    assert_eq!(client_field(&second), "127.0.0.1", "{second}");
    // Also a request refused before its head was parsed (431), after one
    // that was forwarded.
    assert_eq!(conn.call(&add_call(3, 3), forwarded).unwrap().int, Some(6));
    access_line(&mut trusting, "203.0.113.8 - - [");
    let pad = format!("X-Pad: {}\r\n", "a".repeat(20_000));
    assert_eq!(conn.call(&add_call(4, 4), &pad).unwrap().status, 431);
    let refused = access_line(&mut trusting, "\" 431 ");
    assert_eq!(client_field(&refused), "127.0.0.1", "{refused}");
    // Another trusted hop in the chain is skipped too, but not an
    // address nobody trusts.
    let mut two_hops = Daemon::start(&[
        "--trusted-proxy",
        "127.0.0.1",
        "--trusted-proxy",
        "10.1.1.1",
    ]);
    let chain = "X-Forwarded-For: 203.0.113.7, 10.1.1.1\r\n";
    assert!(get(two_hops.addr, "/status?hops", chain).contains(" 200 "));
    let line = access_line(&mut two_hops, "/status?hops");
    assert_eq!(client_field(&line), "203.0.113.7", "{line}");
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// nginx in the foreground, one process, everything in a scratch folder.
struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
}

impl Nginx {
    fn start(binary: &Path, site: &str, port: u16) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        // What Debian's /etc/nginx/nginx.conf provides around conf.d, made
        // to run unprivileged in a temporary directory.
        let config = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\nevents {{ worker_connections 256; }}\nhttp {{\n\
             access_log off;\nclient_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\nuwsgi_temp_path {d}/uwsgi;\nscgi_temp_path {d}/scgi;\n\
             {site}\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), config).unwrap();
        let mut child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .stdin(Stdio::null())
            .spawn()
            .expect("run nginx");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
                panic!("nginx exited ({status}): {log}");
            }
            assert!(Instant::now() < deadline, "nginx is not listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        Nginx { child, dir }
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// docs/deploying.md's nginx config, run: calls through nginx reach both
/// instances; with one instance stopped every call still succeeds, through
/// the other; and the access log names the client nginx forwarded for.
#[test]
fn documented_nginx_config_balances_and_fails_over() {
    let Some(binary) = peer("nginx") else {
        return;
    };
    let mut a = Daemon::start(&["--trusted-proxy", "127.0.0.1"]);
    let mut b = Daemon::start(&["--trusted-proxy", "127.0.0.1"]);
    let port = free_port();
    let site = doc_block("deploying.md", "", "nginx");
    let site = substitute(&site, "127.0.0.1:8182", &a.addr.to_string());
    let site = substitute(&site, "127.0.0.1:8183", &b.addr.to_string());
    let site = substitute(&site, "listen 80;", &format!("listen 127.0.0.1:{port};"));
    let nginx = Nginx::start(&binary, &site, port);
    let front: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();

    // Through nginx, over one keep-alive connection; both instances serve.
    let mut conn = RpcConnection::connect(front).expect("connect to nginx");
    for i in 0..20 {
        let answer = conn
            .call(&add_call(i, 1), "")
            .unwrap_or_else(|e| panic!("call {i}: {e:?}\n{}", nginx.error_log()));
        assert_eq!((answer.status, answer.int), (200, Some(i64::from(i) + 1)));
    }
    a.wait_for("\"POST /RPC2 HTTP/1.1\" 200");
    b.wait_for("\"POST /RPC2 HTTP/1.1\" 200");

    // Stop b (gracefully, as systemctl stop would): all calls still succeed.
    b.signal(libc::SIGTERM);
    assert!(b.wait_exit(Duration::from_secs(30)).success());
    let forwarded = "X-Forwarded-For: 203.0.113.7\r\n";
    for i in 0..20 {
        let answer = conn
            .call(&add_call(i, 2), forwarded)
            .unwrap_or_else(|e| panic!("call {i} with b stopped: {e:?}\n{}", nginx.error_log()));
        assert_eq!(
            (answer.status, answer.int),
            (200, Some(i64::from(i) + 2)),
            "{}",
            nginx.error_log()
        );
    }
    // a logged them under the client nginx forwarded for (nginx appended
    // 127.0.0.1, our own address, which a trusts and skips).
    let line = a.wait_for("203.0.113.7 - - [");
    assert!(line.contains("\"POST /RPC2 HTTP/1.1\" 200"), "{line}");
}
