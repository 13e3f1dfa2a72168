//! Methods backed by programs (`Registry::register_program`), over real
//! sockets: small shell and Python scripts written into a temporary
//! directory, called with our blocking `Client` and Python's
//! `xmlrpc.client.ServerProxy`. What a call answers (results of every type,
//! faults and their strings), what the program gets (parameters, a cleared
//! environment, its directory), and that nothing outlives a run: timeouts
//! and shutdowns kill the whole process group, and every child is reaped.

mod util;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use medusa::handlers::XmlRpcHandler;
use medusa::http::{HttpConfig, HttpServer};
use medusa::xmlrpc::{dumps, Client, ClientError, DateTime, Fault, ProgramMethod, Registry, Value};
use tempfile::TempDir;
use util::*;

/// The Python interpreter itself, not a shim (a pyenv shim needs an
/// environment the programs do not get).
fn python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        python_lines("import sys; print(sys.executable)", &[])
            .pop()
            .expect("python3 names itself")
    })
}

/// A directory of scripts, and the files they leave for the test.
struct Scripts {
    dir: TempDir,
}

impl Scripts {
    fn new() -> Scripts {
        Scripts {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A method running `body` with `sh`. The script is read by the shell,
    /// never executed itself: writing an executable while other test
    /// threads fork risks ETXTBSY.
    fn sh(&self, name: &str, body: &str) -> ProgramMethod {
        let path = self.write(&format!("{name}.sh"), body);
        ProgramMethod::new("/bin/sh").arg(path)
    }

    /// A method running `body` with Python.
    fn py(&self, name: &str, body: &str) -> ProgramMethod {
        let path = self.write(&format!("{name}.py"), body);
        ProgramMethod::new(python()).arg(path)
    }

    fn write(&self, name: &str, body: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, body).expect("write a script");
        path
    }

    /// Waits for the file `name` (scripts write pids to a temporary file
    /// and rename it, so it appears whole).
    fn wait_for(&self, name: &str) -> String {
        let path = self.path(name);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(text) = std::fs::read_to_string(&path) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{} never appeared",
                path.display()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The pids a script wrote to `name`, one per word.
    fn pids(&self, name: &str) -> Vec<u32> {
        self.wait_for(name)
            .split_whitespace()
            .map(|p| p.parse().expect("a pid"))
            .collect()
    }

    fn release(&self, name: &str) {
        std::fs::write(self.path(name), "").expect("write the release file");
    }
}

/// A server with `add` and `ping` (on the loop) and the given program
/// methods.
fn serve(programs: Vec<(&'static str, ProgramMethod)>) -> TestServer {
    TestServer::start(move |reactor| {
        let mut registry = Registry::new();
        registry.register("add", |a: i32, b: i32| a + b);
        registry.register("ping", || "pong");
        for (name, program) in programs {
            registry.register_program(name, program);
        }
        let server = HttpServer::bind(localhost(), HttpConfig::default())?;
        server.install_handler(XmlRpcHandler::new("/RPC2", registry));
        let addr = server.local_addr()?;
        reactor.add(server)?;
        Ok(addr)
    })
}

fn url(server: &TestServer) -> String {
    format!("http://{}/RPC2", server.addr)
}

fn client(server: &TestServer) -> Client {
    let mut client = Client::new(&url(server)).unwrap();
    client.set_timeout(Some(Duration::from_secs(60)));
    client
}

fn fault_of(result: Result<Value, ClientError>) -> Fault {
    match result {
        Err(ClientError::Fault(fault)) => fault,
        other => panic!("expected a fault, got {other:?}"),
    }
}

/// The state letter of process `pid` and its parent, if it exists.
fn process(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let mut fields = after.split(' ');
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Dead: gone, or a zombie (a grandchild's zombie belongs to whoever
/// inherited it; in a container that may be a PID 1 that never reaps).
fn dead(pid: u32) -> bool {
    matches!(process(pid), None | Some(('Z' | 'X', _)))
}

/// Reaped by us: not (or no longer) a process whose parent is this one.
fn reaped(pid: u32) -> bool {
    !matches!(process(pid), Some((_, ppid)) if ppid == std::process::id())
}

/// Waits until `check(pid)` holds for every pid, failing after 20 s.
fn eventually(pids: &[u32], what: &str, check: fn(u32) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    for &pid in pids {
        while !check(pid) {
            assert!(
                Instant::now() < deadline,
                "process {pid} is not {what}: {:?}",
                process(pid)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The direct child (first pid) is reaped, and every pid is dead.
fn all_gone(pids: &[u32]) {
    eventually(&pids[..1], "reaped", reaped);
    eventually(pids, "dead", dead);
}

/// A script that writes its pid and a background child's pid to the file
/// `$1`, then waits for that child forever.
const HANG: &str = r#"
sleep 1000 &
echo "$$ $!" > "$1.tmp" && mv "$1.tmp" "$1"
wait
"#;

/// A script that says it started (its pid in `$1`), then waits for the
/// file `$2` and answers "released".
const HOLD: &str = r#"
echo "$$" > "$1.tmp" && mv "$1.tmp" "$1"
while [ ! -e "$2" ]; do sleep 0.01; done
echo '"released"'
"#;

fn every_type() -> Vec<Value> {
    let when = DateTime::new(2026, 12, 1, 12, 0, 0).unwrap();
    let nested: BTreeMap<String, Value> = [
        (
            "list".to_string(),
            Value::Array(vec![Value::Int(1), Value::Nil]),
        ),
        (
            "inner".to_string(),
            Value::Struct([("deep".to_string(), Value::Bool(false))].into()),
        ),
        ("$base64".to_string(), Value::from("two members: a struct")),
    ]
    .into();
    vec![
        Value::Int(42),
        Value::Int(i32::MIN),
        Value::I8(5),
        Value::I8(1 << 40),
        Value::Bool(true),
        Value::from("héllo <&> \"quoted\" \u{1F600}"),
        Value::from(""),
        Value::Double(1.0),
        Value::Double(-0.0),
        Value::Double(1e300),
        Value::Double(0.1),
        Value::DateTime(when),
        Value::DateTime(
            when.with_nanosecond(123_000_000)
                .unwrap()
                .with_offset(-90)
                .unwrap(),
        ),
        Value::Base64(vec![0, 1, 2, 255, 254]),
        Value::Base64(Vec::new()),
        Value::Nil,
        Value::Struct(nested),
        Value::Struct([("$base64".to_string(), Value::from("not a tag"))].into()),
        Value::Struct([("$struct".to_string(), Value::Int(1))].into()),
        Value::Struct(BTreeMap::new()),
        Value::Array(vec![]),
    ]
}

/// `cat` gives the parameters back as one array: every type survives
/// XML-RPC → JSON → program → JSON → XML-RPC, and the program read them
/// as one JSON array on stdin; help and signature are the method's.
#[test]
fn an_echo_program_gives_every_type_back() {
    let scripts = Scripts::new();
    let echo = scripts
        .sh("echo", "exec cat\n")
        .help("Gives its parameters back as an array.")
        .signature(&["array", "int"]);
    let server = serve(vec![("echo", echo)]);
    let mut client = client(&server);
    let params = every_type();
    let back = client.call("echo", params.clone()).unwrap();
    assert_eq!(back, Value::Array(params));
    assert_eq!(client.call("echo", vec![]).unwrap(), Value::Array(vec![]));
    assert_eq!(
        client
            .call("system.methodHelp", vec![Value::from("echo")])
            .unwrap(),
        Value::from("Gives its parameters back as an array.")
    );
    assert_eq!(
        client
            .call("system.methodSignature", vec![Value::from("echo")])
            .unwrap(),
        Value::Array(vec![Value::Array(vec![
            Value::from("array"),
            Value::from("int")
        ])])
    );
}

/// What the program reads is exactly one JSON array and a newline.
#[test]
fn the_parameters_arrive_as_one_json_array() {
    let scripts = Scripts::new();
    let raw = scripts.py(
        "raw",
        "import json, sys\nprint(json.dumps(sys.stdin.read()))\n",
    );
    let server = serve(vec![("raw", raw)]);
    let got = client(&server)
        .call(
            "raw",
            vec![Value::Int(1), Value::Base64(b"hi".to_vec()), Value::Nil],
        )
        .unwrap();
    assert_eq!(got, Value::from("[1,{\"$base64\":\"aGk=\"},null]\n"));
}

/// Python's ServerProxy, with its own types: base64 (bytes), dateTime,
/// None, nested dicts (one named like a tag), and a fault's code and
/// string.
#[test]
fn python_server_proxy_round_trips_and_sees_faults() {
    let scripts = Scripts::new();
    let echo = scripts.sh("echo", "exec cat\n");
    let fail = scripts
        .sh("fail", "echo 'quota exceeded for alice' >&2\nexit 4\n")
        .fault_code(4004);
    let server = serve(vec![("echo", echo), ("fail", fail)]);
    let lines = python_lines(
        r#"
import sys, datetime, xmlrpc.client
p = xmlrpc.client.ServerProxy(sys.argv[1], allow_none=True, use_builtin_types=True)
args = [1, -2**31, True, "héllo <&>", 1.5, None, b"\x00\xffbytes",
        datetime.datetime(2026, 12, 1, 12, 0, 0),
        {"a": [1, {"b": None}], "$base64": "x"}, {"$base64": "lonely"}, [], {}]
r = p.echo(*args)
print(r == args)
try:
    p.fail()
    print("no fault")
except xmlrpc.client.Fault as f:
    print(f.faultCode)
    print(f.faultString)
"#,
        &[&url(&server)],
    );
    assert_eq!(lines, ["True", "4004", "quota exceeded for alice"]);
}

/// Exit status 0 with stdout that is not JSON, or not an XML-RPC value, or
/// nothing: a fault with the method's fault code naming the method.
#[test]
fn garbage_output_is_a_fault_naming_the_method() {
    let scripts = Scripts::new();
    let garbage = scripts
        .sh("garbage", "echo 'this is not json'\n")
        .fault_code(77);
    let untagged = scripts.sh("untagged", "echo '{\"$nope\": 1}'\n");
    let silent = scripts.sh("silent", "exit 0\n");
    let server = serve(vec![
        ("garbage", garbage),
        ("untagged", untagged),
        ("silent", silent),
    ]);
    let mut client = client(&server);
    let fault = fault_of(client.call("garbage", vec![]));
    assert_eq!(fault.code, 77);
    assert!(
        fault.message.starts_with("garbage: its output is not JSON"),
        "{fault}"
    );
    let fault = fault_of(client.call("untagged", vec![]));
    assert_eq!(fault.code, Fault::APPLICATION_ERROR);
    assert!(fault.message.contains("untagged"), "{fault}");
    assert!(fault.message.contains("unknown tag $nope"), "{fault}");
    let fault = fault_of(client.call("silent", vec![]));
    assert!(fault.message.contains("silent printed nothing"), "{fault}");
}

/// A non-zero exit: the fault string is the last non-empty line of stderr,
/// control characters escaped; without stderr, the status. A signal: the
/// signal. The code is the method's.
#[test]
fn a_failing_program_answers_its_last_stderr_line() {
    let scripts = Scripts::new();
    let fail = scripts
        .sh(
            "fail",
            "echo 'progress: 50%' >&2\nprintf 'disk full: \\033[31m/var\\n\\n  \\n' >&2\nexit 3\n",
        )
        .fault_code(42);
    let quiet = scripts.sh("quiet", "echo '\"ignored\"'\nexit 7\n");
    let signalled = scripts.sh("signalled", "kill -TERM $$\nsleep 5\n");
    let server = serve(vec![
        ("fail", fail),
        ("quiet", quiet),
        ("signalled", signalled),
    ]);
    let mut client = client(&server);
    assert_eq!(
        fault_of(client.call("fail", vec![])),
        Fault::new(42, "disk full: \\u{1b}[31m/var")
    );
    assert_eq!(
        fault_of(client.call("quiet", vec![])),
        Fault::new(-32500, "quiet exited with status 7")
    );
    assert_eq!(
        fault_of(client.call("signalled", vec![])),
        Fault::new(-32500, "signalled was killed by signal 15")
    );
}

/// A program that cannot start is -32603.
#[test]
fn a_program_that_cannot_start_is_an_internal_error() {
    let missing = ProgramMethod::new("/nonexistent/medusa-test-program");
    let server = serve(vec![("missing", missing)]);
    let fault = fault_of(client(&server).call("missing", vec![]));
    assert_eq!(fault.code, Fault::INTERNAL_ERROR);
    assert!(fault.message.starts_with("cannot start missing"), "{fault}");
}

/// A hanging program is killed at its timeout, its whole process group
/// with it (a background child too), and reaped; the answer says so.
#[test]
fn a_hanging_program_times_out_and_its_group_is_killed() {
    let scripts = Scripts::new();
    let hang = scripts
        .sh("hang", HANG)
        .arg(scripts.path("hang.pids"))
        .timeout(Duration::from_millis(500))
        .fault_code(99);
    let server = serve(vec![("hang", hang)]);
    let fault = fault_of(client(&server).call("hang", vec![]));
    assert_eq!(fault.code, 99);
    assert_eq!(fault.message, "hang timed out after 500ms and was killed");
    let pids = scripts.pids("hang.pids");
    assert_eq!(pids.len(), 2);
    all_gone(&pids);
}

/// SIGTERM ignored (by the script and, inherited, its child): SIGKILL
/// does not ask.
#[test]
fn a_program_ignoring_sigterm_is_killed_all_the_same() {
    let scripts = Scripts::new();
    let stubborn = scripts
        .sh("stubborn", &format!("trap '' TERM\n{HANG}"))
        .arg(scripts.path("stubborn.pids"))
        .timeout(Duration::from_millis(500));
    let server = serve(vec![("stubborn", stubborn)]);
    let fault = fault_of(client(&server).call("stubborn", vec![]));
    assert!(fault.message.contains("timed out"), "{fault}");
    all_gone(&scripts.pids("stubborn.pids"));
}

/// A program that exits at once but leaves a child holding its stdout:
/// answered at the timeout at the latest, from its own exit and output,
/// and the child is killed.
#[test]
fn a_background_child_holding_stdout_delays_the_answer_to_the_timeout_only() {
    let scripts = Scripts::new();
    let leaver = scripts
        .sh(
            "leaver",
            "sleep 1000 &\necho \"$$ $!\" > \"$1.tmp\" && mv \"$1.tmp\" \"$1\"\necho '\"done\"'\n",
        )
        .arg(scripts.path("leaver.pids"))
        .timeout(Duration::from_millis(700));
    let server = serve(vec![("leaver", leaver)]);
    assert_eq!(
        client(&server).call("leaver", vec![]).unwrap(),
        Value::from("done")
    );
    all_gone(&scripts.pids("leaver.pids"));
}

/// Megabytes on stderr: read and mostly dropped (only the last 64 KiB are
/// kept), and the call is answered, with the last line when it failed.
#[test]
fn megabytes_on_stderr_are_bounded_and_the_call_still_answers() {
    let scripts = Scripts::new();
    let chatty_ok = scripts.py(
        "chatty_ok",
        "import sys\nfor _ in range(80):\n    sys.stderr.write('x' * 65536 + '\\n')\nprint('\"ok\"')\n",
    );
    let chatty_fail = scripts
        .py(
            "chatty_fail",
            "import sys\nsys.stderr.write('y' * (5 << 20))\nsys.stderr.write('\\nthe last line\\n')\nsys.exit(1)\n",
        )
        .max_stderr(1000);
    let server = serve(vec![("chatty_ok", chatty_ok), ("chatty_fail", chatty_fail)]);
    let mut client = client(&server);
    assert_eq!(client.call("chatty_ok", vec![]).unwrap(), Value::from("ok"));
    assert_eq!(
        fault_of(client.call("chatty_fail", vec![])).message,
        "the last line"
    );
}

/// Stdout over its limit: killed and answered at once.
#[test]
fn too_much_output_is_a_fault_and_the_program_is_killed() {
    let scripts = Scripts::new();
    let flood = scripts
        .py(
            "flood",
            "import os, sys\nopen(sys.argv[1] + '.tmp', 'w').write(str(os.getpid()))\nos.rename(sys.argv[1] + '.tmp', sys.argv[1])\nwhile True:\n    sys.stdout.write('[' * 65536)\n",
        )
        .arg(scripts.path("flood.pids"))
        .max_stdout(100_000);
    let server = serve(vec![("flood", flood)]);
    let fault = fault_of(client(&server).call("flood", vec![]));
    assert_eq!(
        fault.message,
        "flood: its output is over 100000 bytes; killed"
    );
    all_gone(&scripts.pids("flood.pids"));
}

/// The environment is cleared but for the allow-list and the variables
/// set explicitly.
#[test]
fn the_environment_is_cleared_but_the_allow_list() {
    let scripts = Scripts::new();
    let env = scripts
        .py(
            "env",
            "import json, os\nprint(json.dumps(dict(os.environ)))\n",
        )
        .pass_env(["PATH", "CARGO_MANIFEST_DIR", "MEDUSA_SURELY_UNSET"])
        .env("GREETING", "hi there")
        // Set, so that Python does not coerce the C locale into LC_CTYPE.
        .env("LC_ALL", "C.UTF-8");
    let server = serve(vec![("env", env)]);
    let got = client(&server).call("env", vec![]).unwrap();
    let mut expected: BTreeMap<String, Value> = [
        ("GREETING".to_string(), Value::from("hi there")),
        ("LC_ALL".to_string(), Value::from("C.UTF-8")),
    ]
    .into();
    for name in ["PATH", "CARGO_MANIFEST_DIR"] {
        if let Ok(value) = std::env::var(name) {
            expected.insert(name.to_string(), Value::from(value));
        }
    }
    // Nothing else: HOME, CARGO_PKG_NAME and the rest of this process's
    // environment stay behind.
    assert_eq!(got, Value::Struct(expected));
}

/// The working directory applies.
#[test]
fn the_working_directory_applies() {
    let scripts = Scripts::new();
    let workdir = scripts.path("work");
    std::fs::create_dir(&workdir).unwrap();
    let pwd = scripts
        .py("pwd", "import json, os\nprint(json.dumps(os.getcwd()))\n")
        .current_dir(&workdir);
    let server = serve(vec![("pwd", pwd)]);
    let got = client(&server).call("pwd", vec![]).unwrap();
    let expected = workdir.canonicalize().unwrap();
    assert_eq!(got, Value::from(expected.to_str().unwrap()));
}

/// While a program runs (held until the test releases it), the loop
/// answers other calls, methods on the loop and other programs alike;
/// the held call answers only once released.
#[test]
fn the_loop_keeps_answering_while_a_program_runs() {
    let scripts = Scripts::new();
    let hold = scripts
        .sh("hold", HOLD)
        .args([scripts.path("hold.pid"), scripts.path("hold.release")]);
    let echo = scripts.sh("echo", "exec cat\n");
    let server = serve(vec![("hold", hold), ("echo", echo)]);
    let address = url(&server);
    let held = std::thread::spawn(move || {
        let mut client = Client::new(&address).unwrap();
        client.call("hold", vec![])
    });
    scripts.wait_for("hold.pid");
    let mut client = client(&server);
    for i in 0..20 {
        assert_eq!(
            client
                .call("add", vec![Value::Int(i), Value::Int(1)])
                .unwrap(),
            Value::Int(i + 1)
        );
        assert_eq!(
            client.call("echo", vec![Value::Int(i)]).unwrap(),
            Value::Array(vec![Value::Int(i)])
        );
    }
    // Deterministic: the held program cannot have answered yet.
    assert!(!held.is_finished());
    scripts.release("hold.release");
    assert_eq!(held.join().unwrap().unwrap(), Value::from("released"));
}

/// Beyond `max_concurrent` runs, a call is refused at once with "busy";
/// the slot is free again once the run has ended.
#[test]
fn calls_over_the_concurrency_cap_are_refused_at_once() {
    let scripts = Scripts::new();
    let hold = scripts
        .sh("hold", HOLD)
        .args([scripts.path("hold.pid"), scripts.path("hold.release")])
        .max_concurrent(1);
    let server = serve(vec![("hold", hold)]);
    let address = url(&server);
    let held = std::thread::spawn(move || Client::new(&address).unwrap().call("hold", vec![]));
    scripts.wait_for("hold.pid");
    let mut client = client(&server);
    let fault = fault_of(client.call("hold", vec![]));
    assert_eq!(fault.code, Fault::APPLICATION_ERROR);
    assert!(fault.message.starts_with("server busy: hold"), "{fault}");
    assert!(!held.is_finished());
    scripts.release("hold.release");
    assert_eq!(held.join().unwrap().unwrap(), Value::from("released"));
    // Released for good: this run finds the file and answers at once.
    assert_eq!(
        client.call("hold", vec![]).unwrap(),
        Value::from("released")
    );
}

/// A client that disconnects does not leave the program behind: it ends
/// at its timeout, group killed, child reaped.
#[test]
fn a_client_that_disconnects_leaves_no_process_behind() {
    let scripts = Scripts::new();
    let hang = scripts
        .sh("hang", HANG)
        .arg(scripts.path("hang.pids"))
        .timeout(Duration::from_millis(500));
    let server = serve(vec![("hang", hang)]);
    let body = dumps(&[], "hang").unwrap();
    let mut stream = connect(server.addr);
    let head = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body).unwrap();
    let pids = scripts.pids("hang.pids");
    drop(stream);
    all_gone(&pids);
    // And the server is fine.
    assert_eq!(
        client(&server).call("ping", vec![]).unwrap(),
        Value::from("pong")
    );
}

/// A graceful shutdown waits for the run no longer than its grace, then
/// the group is killed and the child reaped; so does a loop that is
/// stopped and dropped.
#[test]
fn shutting_down_kills_and_reaps_running_programs() {
    for graceful in [true, false] {
        let scripts = Scripts::new();
        let hang = scripts
            .sh("hang", HANG)
            .arg(scripts.path("hang.pids"))
            .timeout(Duration::from_secs(600));
        let server = serve(vec![("hang", hang)]);
        let address = url(&server);
        let call = std::thread::spawn(move || Client::new(&address).unwrap().call("hang", vec![]));
        let pids = scripts.pids("hang.pids");
        if graceful {
            server.waker.shutdown(Duration::from_millis(200)).unwrap();
            // At the grace's end the loop closes everything, the call's
            // connection too: an error, not a hang.
            assert!(call.join().unwrap().is_err());
            all_gone(&pids);
            server.stop().unwrap();
        } else {
            server.stop().unwrap();
            all_gone(&pids);
            assert!(call.join().unwrap().is_err());
        }
    }
}

/// The fixtures' own check: `all_gone` sees a live process as alive.
#[test]
fn the_liveness_checks_see_a_live_process() {
    // `sleep` itself, not through a shell that might fork it and leave it
    // holding the test's stdout; no stdio of ours either way.
    let mut child = std::process::Command::new("sleep")
        .arg("1000")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    assert!(!dead(pid));
    assert!(!reaped(pid));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(reaped(pid) && dead(pid));
}
