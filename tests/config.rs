//! `medusad --config FILE` against the real daemon: endpoints with program
//! methods and their own credentials and limits, flags over the file's
//! keys, `--check-config`, errors that name the file, line and key, and
//! SIGHUP reloading the endpoints (a file with an error keeps the old
//! ones). Python's `xmlrpc.client` is the caller.

mod util;

use std::path::Path;

use tempfile::TempDir;
use util::daemon::Daemon;
use util::python::PythonServer;
use util::python_lines;

/// Writes `text` as `medusad.toml` in `dir`, with a script `sum.py` beside
/// it (a program method: sums its parameters).
fn write_config(dir: &Path, text: &str) -> String {
    let script = dir.join("sum.py");
    std::fs::write(
        &script,
        "#!/bin/sh\nexec python3 -c 'import json,sys; print(json.dumps(sum(json.load(sys.stdin))))'\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.join("medusad.toml");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

const CONFIG: &str = r#"
[server]
access-log = "off"
max-depth = 40

[[endpoint]]
path = "/RPC2"
demo = true

[[endpoint]]
path = "/ops"
auth-user = ["ops:secret"]
max-body-bytes = 2000

[[endpoint.method]]
name = "math.sum"
command = ["./sum.py"]
help = "Sums its parameters."
signature = ["int", "int", "int"]
timeout = 5
"#;

/// Runs a Python snippet with `url` as argv[1]; its printed lines.
fn py(script: &str, url: &str) -> Vec<String> {
    python_lines(
        &format!("import sys, xmlrpc.client as x\nu = sys.argv[1]\n{script}"),
        &[url],
    )
}

#[test]
fn endpoints_from_a_file_serve_programs_with_their_own_credentials() {
    let dir = TempDir::new().unwrap();
    let file = write_config(dir.path(), CONFIG);
    let daemon = Daemon::start(&["--config", &file]);
    let base = format!("http://{}", daemon.addr);

    let demo = py(
        "print(x.ServerProxy(u).add(40, 2))",
        &format!("{base}/RPC2"),
    );
    assert_eq!(demo, ["42"]);

    let ops = format!("http://ops:secret@{}/ops", daemon.addr);
    let lines = py(
        concat!(
            "p = x.ServerProxy(u)\n",
            "print(p.math.sum(1, 2, 39))\n",
            "print(p.system.methodHelp('math.sum'))\n",
            "print(p.system.methodSignature('math.sum'))\n",
            "print(sorted(p.system.listMethods()))\n",
        ),
        &ops,
    );
    assert_eq!(lines[0], "42");
    assert_eq!(lines[1], "Sums its parameters.");
    assert_eq!(lines[2], "[['int', 'int', 'int']]");
    assert!(
        lines[3].contains("'math.sum'") && !lines[3].contains("'add'"),
        "{lines:?}"
    );

    // Without the endpoint's credentials: 401; the demo's names are not here.
    let refused = py(
        "try:\n  x.ServerProxy(u).math.sum(1)\nexcept x.ProtocolError as e:\n  print(e.errcode)",
        &format!("{base}/ops"),
    );
    assert_eq!(refused, ["401"]);
    // The endpoint's own body limit: a call over 2000 bytes is 413.
    let big = py(
        "try:\n  x.ServerProxy(u).math.sum(*range(500))\nexcept x.ProtocolError as e:\n  print(e.errcode)",
        &ops,
    );
    assert_eq!(big, ["413"]);
    daemon.terminate("medusad --config");
}

#[test]
fn flags_override_the_file_and_check_config_says_what_is_served() {
    let dir = TempDir::new().unwrap();
    let file = write_config(
        dir.path(),
        &format!(
            "[server]\nport = 1\nhost = \"127.0.0.1\"\n{}",
            &CONFIG[CONFIG.find("[[endpoint]]").unwrap()..]
        ),
    );
    // --port 0 (Daemon's) wins over the file's port 1.
    let daemon = Daemon::start(&["--config", &file]);
    assert_ne!(daemon.addr.port(), 1);
    daemon.terminate("medusad --config with --port");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_medusad"))
        .args(["--check-config", &file])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("listen: http://127.0.0.1:1"), "{text}");
    assert!(text.contains("endpoint /ops"), "{text}");
    assert!(text.contains("its own: users ops"), "{text}");
    assert!(
        text.contains("method math.sum -> program [\"./sum.py\"]"),
        "{text}"
    );
    assert!(!text.contains("secret"), "a password in the report: {text}");
}

#[test]
fn errors_name_the_file_line_and_key() {
    let dir = TempDir::new().unwrap();
    let cases = [
        ("[server]\nport = 70000\n", ":2: server.port: 70000"),
        ("\n[server]\nbogus = 1\n", ":3: server.bogus: no such key"),
        ("[[endpoint]]\npath = \"/x\"\nmystery = 1\n", ":3: unknown field `mystery`"),
        (
            "[[endpoint]]\npath = \"/x\"\n[[endpoint.method]]\nname = \"a\"\ncommand = [\"no-such-program-here\"]\n",
            ":5: endpoint.method.command: no-such-program-here: not found in PATH",
        ),
        (
            "[[endpoint]]\npath = \"/x\"\n[[endpoint]]\npath = \"/x\"\n",
            ":4: endpoint.path: /x is served by an earlier endpoint",
        ),
    ];
    for (text, expected) in cases {
        let file = write_config(dir.path(), text);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_medusad"))
            .args(["--config", &file])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {stderr}");
        assert!(
            stderr.contains(&format!("{file}{expected}")),
            "{text}: {stderr}"
        );
    }
}

#[test]
fn sighup_reloads_endpoints_and_keeps_them_when_the_file_is_broken() {
    let dir = TempDir::new().unwrap();
    let file = write_config(dir.path(), CONFIG);
    let mut daemon = Daemon::start(&["--config", &file]);
    let ops = format!("http://ops:secret@{}/ops", daemon.addr);
    let list = "print(sorted(x.ServerProxy(u).system.listMethods()))";
    assert!(py(list, &ops)[0].contains("'math.sum'"));

    // A new method name: served after SIGHUP.
    write_config(dir.path(), &CONFIG.replace("math.sum", "math.total"));
    daemon.signal(libc::SIGHUP);
    daemon.wait_for("reloaded: 2 endpoint(s)");
    let after = py(list, &ops);
    assert!(
        after[0].contains("'math.total'") && !after[0].contains("'math.sum'"),
        "{after:?}"
    );
    assert_eq!(py("print(x.ServerProxy(u).math.total(2, 3))", &ops), ["5"]);

    // A broken file: the error is logged and the endpoints stay.
    write_config(
        dir.path(),
        &format!("{CONFIG}\n[[endpoint]]\npath = \"no-slash\"\n"),
    );
    daemon.signal(libc::SIGHUP);
    let line = daemon.wait_for("keeping the configuration that is running");
    assert!(line.contains("endpoint.path"), "{line}");
    assert_eq!(py("print(x.ServerProxy(u).math.total(2, 3))", &ops), ["5"]);
    daemon.terminate("medusad after reloads");
}

#[test]
fn the_example_in_the_docs_is_served() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/config.md")).unwrap();
    let section = doc
        .find("## A complete example")
        .expect("the example's section");
    let start =
        section + doc[section..].find("```toml\n").expect("a toml example") + "```toml\n".len();
    let example = &doc[start..start + doc[start..].find("```").unwrap()];
    // The example's remote, a Python server, where the example says.
    let legacy = PythonServer::start(
        r#"
from xmlrpc.server import SimpleXMLRPCServer
server = SimpleXMLRPCServer(("127.0.0.1", 0), logRequests=False)
server.register_function(lambda name: name.upper(), "lookup")
print(server.server_address[1], flush=True)
server.serve_forever()
"#,
        &[] as &[&str],
    );
    let url = "http://127.0.0.1:9000/RPC2";
    assert!(example.contains(url));
    let example = example.replace(url, &format!("http://127.0.0.1:{}/RPC2", legacy.port));
    let dir = TempDir::new().unwrap();
    let file = write_config(dir.path(), &example);
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_medusad"))
        .args(["--check-config", &file])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let daemon = Daemon::start(&["--config", &file]);
    let ops = format!("http://ops:change-me@{}/ops", daemon.addr);
    let lines = py(
        "p = x.ServerProxy(u)\nprint(len(p.host.date()))\nprint(p.host.uptime() > 0)\nprint(p.legacy.lookup('abc'))",
        &ops,
    );
    assert_eq!(lines, ["19", "True", "ABC"]);
    daemon.terminate("medusad with the docs' example");
}

/// With `--workers` and a file, SIGHUP to the master checks the file and
/// recycles the workers one at a time: the fresh workers serve the new
/// method (and not the removed one) and apply the file's changed
/// `[server]` keys too (a smaller body limit); a broken file is refused
/// and the running workers stay.
#[test]
fn sighup_to_the_master_recycles_every_worker() {
    use util::daemon::RpcConnection;
    let dir = TempDir::new().unwrap();
    let config = |name: &str, prints: &str, server: &str| {
        format!(
            "[server]\naccess-log = \"off\"\n{server}\n[[endpoint]]\npath = \"/RPC2\"\n\n\
             [[endpoint.method]]\nname = \"{name}\"\ncommand = [\"/bin/echo\", \"{prints}\"]\n"
        )
    };
    let file = write_config(dir.path(), &config("m.one", "1", ""));
    let mut daemon = Daemon::start(&["--workers", "2", "--config", &file]);
    let old = daemon.worker_pids(2);
    for pid in &old {
        daemon.wait_for_seen(&format!("pid={pid}] medusad listening on"));
    }
    let call = |name: &str| {
        format!("<?xml version=\"1.0\"?><methodCall><methodName>{name}</methodName><params/></methodCall>")
    };

    write_config(dir.path(), &config("m.two", "2", "max-body-bytes = 200"));
    daemon.signal(libc::SIGHUP);
    daemon.wait_for("recycling the 2 workers one at a time");
    let fresh = daemon.worker_pids(4)[2..].to_vec();
    for pid in &fresh {
        daemon.wait_for_seen(&format!("pid={pid}] medusad listening on"));
        assert!(!old.contains(pid));
    }
    for pid in &old {
        daemon.wait_for_seen(&format!("worker {pid} recycled"));
    }
    // Fresh connections until both fresh workers have answered (on a busy
    // machine one may take hundreds in a row: a deadline, not a count).
    let mut answered_by = std::collections::BTreeSet::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        let mut connection = RpcConnection::connect(daemon.addr).unwrap();
        let answer = connection.call(&call("m.two"), "").unwrap();
        assert_eq!(answer.int, Some(2), "{answer:?}");
        let gone = connection.call(&call("m.one"), "").unwrap();
        assert_eq!(gone.int, Some(-32601), "m.one is gone: {gone:?}");
        let big = format!("{}<!--{}-->", call("m.two"), "x".repeat(300));
        let refused = connection.call(&big, "").unwrap();
        assert_eq!(refused.status, 413, "the new [server] limit");
        answered_by.insert(answer.worker.expect("X-Medusa-Worker"));
        if answered_by.len() == 2 {
            break;
        }
    }
    assert_eq!(
        answered_by,
        fresh.iter().copied().collect(),
        "both fresh workers serve"
    );

    // A broken file: refused, the workers stay.
    write_config(dir.path(), "[server]\nport = 70000\n");
    daemon.signal(libc::SIGHUP);
    let line = daemon.wait_for("keeping the workers that are running");
    assert!(line.contains("70000"), "{line}");
    let mut connection = RpcConnection::connect(daemon.addr).unwrap();
    let answer = connection.call(&call("m.two"), "").unwrap();
    assert_eq!(answer.int, Some(2));
    assert!(fresh.contains(&answer.worker.unwrap()));
    daemon.terminate("medusad --workers after SIGHUP");
}
