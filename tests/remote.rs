//! Remote XML-RPC servers mounted behind prefixes in a real `medusad`
//! (`[[endpoint.remote]]`), with real servers behind them: Python's
//! `SimpleXMLRPCServer` (HTTP/1.0, a connection per call, introspection
//! without multicall), another medusad (killed mid-test and started
//! again), and a raw socket server that hangs, answers garbage, or drops
//! a call's first attempt; over HTTP, HTTPS and a Unix-domain socket. Python's
//! `xmlrpc.client` is the caller.

mod util;

use std::path::Path;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use util::daemon::{Daemon, RpcConnection};
use util::python::PythonServer;
use util::python_lines;
use util::tls::TestPki;

/// `SimpleXMLRPCServer` with introspection but not multicall, as most
/// Python services run it.
const PY_REMOTE: &str = r#"
from xmlrpc.server import SimpleXMLRPCServer
server = SimpleXMLRPCServer(("127.0.0.1", 0), logRequests=False, allow_none=True)
server.register_introspection_functions()
def count(items):
    "Counts the items."
    return len(items)
def boom():
    raise ValueError("kaput")
server.register_function(count)
server.register_function(boom)
server.register_function(lambda: None, "nothing")
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

/// A raw HTTP server (a thread per connection): `hang` is never answered
/// (and leaves a file `hang-*` in the folder argv[1], so a test knows it
/// arrived),
/// `garbage` gets a 200 that is not XML-RPC, `get` and `put` lose their
/// first attempt for each argument (the connection closes unanswered) and
/// answer the next; `system.*` is a fault (no introspection).
const RAW_REMOTE: &str = r#"
import os, re, socketserver, sys, threading, time
seen = set()
lock = threading.Lock()
def answer(value):
    body = ("<?xml version='1.0'?><methodResponse><params><param><value><string>%s</string>"
            "</value></param></params></methodResponse>" % value).encode()
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
FAULT = (b"<?xml version='1.0'?><methodResponse><fault><value><struct><member><name>faultCode</name>"
         b"<value><int>-32601</int></value></member><member><name>faultString</name><value>"
         b"<string>no introspection</string></value></member></struct></value></fault></methodResponse>")
class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                byte = self.rfile.read(1)
                if not byte:
                    return
                head += byte
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            body = self.rfile.read(length)
            method = re.search(rb"<methodName>([^<]*)</methodName>", body).group(1).decode()
            arg = re.search(rb"<string>([^<]*)</string>", body)
            arg = arg.group(1).decode() if arg else ""
            if method == "hang":
                open(os.path.join(sys.argv[1], "hang-%d" % time.time_ns()), "w").close()
                self.rfile.read()
                return
            if method == "garbage":
                self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/xml\r\n\r\nthis is not xml")
                return
            if method.startswith("system."):
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n%s" % (len(FAULT), FAULT))
                continue
            with lock:
                first = (method, arg) not in seen
                seen.add((method, arg))
            if first:
                return
            self.wfile.write(answer("%s:%s" % (method, arg)))
class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

/// The front medusad's config: the demo, a program method, and the
/// remotes at these URLs.
fn front_config(dir: &Path, remotes: &[(&str, String, &str)]) -> String {
    let mut text = String::from(
        r#"
[server]
access-log = "off"

[[endpoint]]
path = "/RPC2"
demo = true

[[endpoint.method]]
name = "local.sum"
command = ["python3", "-c", "import json,sys; print(json.dumps(sum(json.load(sys.stdin))))"]
"#,
    );
    for (prefix, url, extra) in remotes {
        text.push_str(&format!(
            "\n[[endpoint.remote]]\nprefix = \"{prefix}\"\nurl = \"{url}\"\n{extra}\n"
        ));
    }
    let path = dir.join("front.toml");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

/// Runs a Python snippet with the front's URL as `u`; its printed lines.
fn py(script: &str, front: &Daemon) -> Vec<String> {
    let url = format!("http://{}/RPC2", front.addr);
    python_lines(
        &format!(
            "import sys, xmlrpc.client as x\nu = sys.argv[1]\np = x.ServerProxy(u, allow_none=True)\n\
             def fault(f):\n    try:\n        return repr(f())\n    except x.Fault as e:\n        return 'fault %d %s' % (e.faultCode, e.faultString)\n{script}"
        ),
        &[&url],
    )
}

/// The status page's text.
fn status(front: &Daemon) -> String {
    fetch(front, "/status")
}

/// A page of the front's, as text.
fn fetch(front: &Daemon, path: &str) -> String {
    let url = format!("http://{}{path}", front.addr);
    python_lines(
        "import sys, urllib.request\nprint(urllib.request.urlopen(sys.argv[1]).read().decode())",
        &[&url],
    )
    .join("\n")
}

/// Waits until the status page contains `needle` (the remotes' method
/// lists are read just after startup, on the loop).
fn wait_for_status(front: &Daemon, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page = status(front);
        if page.contains(needle) || Instant::now() > deadline {
            return page;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Python's `SimpleXMLRPCServer` and another medusad behind prefixes:
/// their methods merged into introspection, results and faults as the
/// remotes give them, a multicall across local methods, a program and
/// both remotes answered in order, and their health on `/status`.
#[test]
fn python_and_medusad_remotes_behind_prefixes() {
    let python = PythonServer::start(PY_REMOTE, &[] as &[&str]);
    let back = Daemon::start(&["--access-log", "off"]);
    let dir = TempDir::new().unwrap();
    let config = front_config(
        dir.path(),
        &[
            ("py.", format!("http://127.0.0.1:{}/RPC2", python.port), ""),
            ("back.", format!("http://{}/RPC2", back.addr), ""),
        ],
    );
    let front = Daemon::start(&["--config", &config]);
    let page = wait_for_status(&front, "3 methods");
    assert!(page.contains("remote py.: up"), "{page}");
    let metrics = fetch(&front, "/status/metrics");
    let labels = format!(
        "path=\"/RPC2\",prefix=\"py.\",url=\"http://127.0.0.1:{}/RPC2\"",
        python.port
    );
    for line in [
        "# TYPE medusa_xmlrpc_remote_up gauge".to_string(),
        format!("medusa_xmlrpc_remote_up{{{labels}}} 1"),
        format!("medusa_xmlrpc_remote_methods{{{labels}}} 3"),
        format!("medusa_xmlrpc_remote_down_seconds{{{labels}}} 0"),
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }

    let out = py(
        r#"
names = p.system.listMethods()
print(all(n in names for n in ["add", "local.sum", "py.count", "py.boom", "py.nothing", "back.add", "back.echo"]))
print("back.system.listMethods" in names, "py.system.listMethods" in names)
print(p.system.methodHelp("py.count"))
print(p.system.methodSignature("back.add"))
print(p.py.count([1, 2, 3]), p.back.add(40, 2), p.py.nothing(), p.back.echo({"a": [1, None]}))
print(fault(lambda: p.py.boom()))
print(fault(lambda: p.back.nope()))
m = x.MultiCall(p)
m.back.add(1, 1); m.py.count("abcd"); m.add(2, 3); m.local.sum(1, 2, 3); m.py.boom(); m.back.echo("e")
print(list(m().results))
"#,
        &front,
    );
    assert_eq!(out[0], "True", "{out:?}");
    assert_eq!(out[1], "False False");
    assert_eq!(out[2], "Counts the items.");
    assert!(out[3].starts_with("[["), "back.add's signature: {}", out[3]);
    assert_eq!(out[4], "3 42 None {'a': [1, None]}");
    assert_eq!(out[5], "fault 1 <class 'ValueError'>:kaput");
    assert!(out[6].starts_with("fault -32601 "), "{}", out[6]);
    assert_eq!(
        out[7],
        "[[2], [4], [5], [6], {'faultCode': 1, 'faultString': \"<class 'ValueError'>:kaput\"}, ['e']]"
    );
    back.terminate("back medusad");
}

/// A remote killed mid-test: its calls get a clear fault naming it, the
/// rest of the endpoint carries on, `/status` says it is down; started
/// again on the same port, it is called again.
#[test]
fn a_remote_killed_and_started_again() {
    let mut back = Daemon::start(&["--access-log", "off"]);
    let port = back.addr.port().to_string();
    let dir = TempDir::new().unwrap();
    let url = format!("http://{}/RPC2", back.addr);
    let config = front_config(dir.path(), &[("back.", url.clone(), "timeout = 5")]);
    let front = Daemon::start(&["--config", &config]);
    assert_eq!(py("print(p.back.add(1, 2))", &front), ["3"]);

    back.child.kill().unwrap();
    back.child.wait().unwrap();
    let out = py(
        "print(fault(lambda: p.back.add(1, 2)))\nprint(p.add(2, 2), p.local.sum(5, 5))\n\
         print('back.add' in p.system.listMethods(), p.system.methodHelp('back.add') != '')",
        &front,
    );
    assert!(
        out[0].starts_with(&format!("fault -32300 remote back. ({url}): unreachable: ")),
        "{out:?}"
    );
    assert_eq!(out[1], "4 10");
    // Introspection still answers, from the remote's last list.
    assert_eq!(out[2], "True True");
    let page = status(&front);
    assert!(page.contains("remote back.: DOWN"), "{page}");
    let metrics = fetch(&front, "/status/metrics");
    let down =
        format!("medusa_xmlrpc_remote_up{{path=\"/RPC2\",prefix=\"back.\",url=\"{url}\"}} 0");
    assert!(metrics.lines().any(|l| l == down), "{down} in\n{metrics}");

    let again = Daemon::start(&["--access-log", "off", "--port", &port]);
    assert_eq!(py("print(p.back.add(20, 22))", &front), ["42"]);
    assert!(status(&front).contains("remote back.: up"));
    again.terminate("back medusad, again");
}

/// A remote that hangs, answers garbage, or drops a first attempt: a
/// timeout fault, a garbage fault, a retry only for the method marked
/// idempotent, and a call refused as busy once the remote's connection
/// and waiting place are taken; other calls are answered meanwhile.
#[test]
fn slow_garbage_and_flaky_remotes() {
    let dir = TempDir::new().unwrap();
    let raw = PythonServer::start(RAW_REMOTE, &[dir.path()]);
    let url = format!("http://127.0.0.1:{}/RPC2", raw.port);
    let config = front_config(
        dir.path(),
        &[(
            "raw.",
            url.clone(),
            "timeout = 1.5\nidempotent = [\"get\"]\nmax-concurrent = 1\nmax-waiting = 1",
        )],
    );
    let front = Daemon::start(&["--config", &config]);
    let name = format!("remote raw. ({url})");

    let out = py(
        r#"
print(fault(lambda: p.raw.garbage()))
print(fault(lambda: p.raw.get("a")))
print(fault(lambda: p.raw.put("a")))
print(fault(lambda: p.raw.put("a")))
"#,
        &front,
    );
    assert!(
        out[0].starts_with(&format!(
            "fault -32300 {name}: answered something that is not XML-RPC"
        )),
        "{out:?}"
    );
    // Retried: the first attempt was dropped, the second answered.
    assert_eq!(out[1], "'get:a'");
    // Not idempotent: not retried, so the dropped attempt is a fault...
    assert!(
        out[2].starts_with(&format!("fault -32300 {name}: ")),
        "{out:?}"
    );
    // ...and the remote did see it (the next one is answered).
    assert_eq!(out[3], "'put:a'");

    // One call hangs on the only connection, one waits, the third is
    // refused at once; local calls are answered throughout. The first is
    // known to hang once the remote has seen it (it leaves a file).
    let addr = front.addr;
    let hang = || {
        std::thread::spawn(move || {
            let mut connection = RpcConnection::connect(addr).unwrap();
            let body = "<?xml version=\"1.0\"?><methodCall><methodName>raw.hang</methodName><params/></methodCall>";
            connection.call(body, "").unwrap()
        })
    };
    let hung = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let seen = std::fs::read_dir(dir.path())
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .starts_with("hang-")
                })
                .count();
            if seen >= n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the remote did not see {n} hanging calls"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let started = Instant::now();
    let first = hang();
    hung(1);
    let second = hang();
    // The second waits in the front for the only connection (nothing to
    // see from outside): give its request time to arrive.
    std::thread::sleep(Duration::from_millis(300));
    let out = py(
        "print(fault(lambda: p.raw.hang()))\nprint(sum(p.add(i, 1) for i in range(20)))",
        &front,
    );
    assert!(
        out[0].starts_with(&format!("fault -32500 {name} is busy")),
        "{out:?}"
    );
    assert_eq!(out[1], "210");
    assert!(
        !first.is_finished() || started.elapsed() >= Duration::from_millis(1500),
        "the hanging call ended before its timeout"
    );
    for call in [first, second] {
        let answer = call.join().unwrap();
        assert_eq!(answer.int, Some(-32300), "{answer:?}");
    }
    // The timeout's fault says so.
    let out = py("print(fault(lambda: p.raw.hang()))", &front);
    assert_eq!(
        out,
        [format!("fault -32300 {name}: no answer within 1.5 s")]
    );
}

/// SIGHUP with the remote moved to another prefix: the new prefix is
/// served, the old one is gone.
#[test]
fn reload_moves_a_remote() {
    let python = PythonServer::start(PY_REMOTE, &[] as &[&str]);
    let dir = TempDir::new().unwrap();
    let url = format!("http://127.0.0.1:{}/RPC2", python.port);
    let config = front_config(dir.path(), &[("py.", url.clone(), "")]);
    let mut front = Daemon::start(&["--config", &config]);
    assert_eq!(py("print(p.py.count([1]))", &front), ["1"]);

    front_config(dir.path(), &[("python.", url, "refresh = 1")]);
    front.signal(libc::SIGHUP);
    front.wait_for("reloaded");
    let out = py(
        "print(p.python.count([1, 2]))\nprint(fault(lambda: p.py.count([1])))",
        &front,
    );
    assert_eq!(out[0], "2");
    assert!(out[1].starts_with("fault -32601 "), "{out:?}");
    wait_for_status(&front, "remote python.: up");
}

/// Remotes over HTTPS (a medusad with a certificate from a private CA,
/// trusted through `ca-file`) and over a Unix-domain socket; the same
/// HTTPS remote with nothing to check its certificate against is a fault
/// saying why, at every call.
#[test]
fn https_and_unix_socket_remotes() {
    let dir = TempDir::new().unwrap();
    let pki = TestPki::new(dir.path(), "", &["localhost", "127.0.0.1"]);
    let tls_back = Daemon::start(&[
        "--access-log",
        "off",
        "--tls-cert",
        pki.cert.to_str().unwrap(),
        "--tls-key",
        pki.key.to_str().unwrap(),
    ]);
    let sock = dir.path().join("back.sock");
    let mut unix_back = Daemon::spawn(&[
        "--access-log",
        "off",
        "--no-tcp",
        "--unix",
        sock.to_str().unwrap(),
    ]);
    unix_back.wait_for("listening on unix:");
    let https = format!("https://localhost:{}/RPC2", tls_back.addr.port());
    let config = front_config(
        dir.path(),
        &[
            ("tls.", https.clone(), &format!("ca-file = {:?}", pki.ca)),
            ("sock.", format!("unix://{}", sock.display()), ""),
            ("untrusted.", https.clone(), "no-system-roots = true"),
        ],
    );
    let front = Daemon::start(&["--config", &config]);
    wait_for_status(&front, "remote sock.: up");
    let out = py(
        r#"
print(p.tls.add(1, 2), p.sock.add(2, 3), p.tls.echo([None]), p.sock.echo("s"))
names = p.system.listMethods()
print("tls.echo" in names, "sock.echo" in names)
print(fault(lambda: p.untrusted.add(1, 1)))
print(fault(lambda: p.untrusted.add(1, 1)))
"#,
        &front,
    );
    assert_eq!(out[0], "3 5 [None] s");
    assert_eq!(out[1], "True True");
    assert!(
        out[2].starts_with(&format!(
            "fault -32300 remote untrusted. ({https}): unreachable: "
        )) && out[2].contains("no root certificates"),
        "{out:?}"
    );
    assert_eq!(out[3], out[2], "the same reason the second time");
}
