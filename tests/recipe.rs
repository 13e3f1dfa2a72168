//! Recipe 13.4 ("Using XML-RPC with Medusa") end to end: the ported server
//! and client as real processes, Python's `xmlrpc.client` as a third-party
//! peer, the validator1 suite, and a panicking method amid busy clients.

mod util;

use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use medusa::handlers::XmlRpcHandler;
use medusa::http::{HttpConfig, HttpServer};
use medusa::xmlrpc::{Client, ClientError, Fault, Registry, Value};
use util::daemon::Daemon;
use util::*;

/// Runs the `xmlrpc_client` example with `args`.
fn run_client(args: &[&str]) -> Output {
    Command::new(example_path("xmlrpc_client"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("xmlrpc_client runs")
}

/// Runs a Python script with the server's port as `sys.argv[1]`; asserts it
/// succeeded and returns its stdout.
fn python(script: &str, port: u16) -> String {
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(port.to_string())
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "python failed:\n{}\nstdout:\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stdout).expect("utf-8 stdout")
}

/// The recipe as printed, run: the client prints exactly the recipe's line,
/// the server logs the call in the recipe's format, and SIGTERM ends the
/// server cleanly.
#[test]
fn recipe_client_gets_the_answer_from_recipe_server() {
    let mut server = Daemon::start_example("xmlrpc_server");
    let port = server.addr.port().to_string();
    let output = run_client(&["--host", "127.0.0.1", "--port", &port]);
    assert!(
        output.status.success(),
        "xmlrpc_client failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "The answer is: 42\n"
    );
    let line = server.wait_for("call method:");
    assert!(
        line.ends_with(r#"call method: "add", params: [40, 2]"#),
        "server logged {line:?}"
    );
    server.terminate("xmlrpc_server");
}

/// With nothing listening, the client prints nothing on stdout, says what
/// failed and where on stderr, and exits 1 (not a panic's 101).
#[test]
fn recipe_client_fails_clearly_without_a_server() {
    // A port that was free a moment ago and has no listener now.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().unwrap().port()
    };
    let output = run_client(&["--port", &port.to_string()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert!(output.stdout.is_empty(), "stdout: {:?}", output.stdout);
    assert!(
        stderr.contains(&format!("add(40, 2) on 127.0.0.1:{port} failed"))
            && stderr.contains("refused"),
        "stderr: {stderr}"
    );
}

/// Python's own client against the ported server: `add` works for the
/// types Python's `+` adds, an unknown method is fault -32601 (not the
/// recipe's "method not found" string), a wrong argument count -32602.
#[test]
fn python_server_proxy_calls_recipe_server() {
    let mut server = Daemon::start_example("xmlrpc_server");
    let out = python(
        r#"
import sys, xmlrpc.client as x
s = x.ServerProxy("http://127.0.0.1:%s/RPC2" % sys.argv[1])
assert s.add(40, 2) == 42
assert s.add(1.5, 2) == 3.5
assert s.add("medu", "sa") == "medusa"
def fault_code(call):
    try:
        call()
    except x.Fault as f:
        return f.faultCode, f.faultString
    raise AssertionError("no fault")
print(s.add(40, 2))
print(*fault_code(lambda: s.mul(6, 7)))
print(fault_code(lambda: s.add(1))[0])
"#,
        server.addr.port(),
    );
    assert_eq!(out, "42\n-32601 method not found: mul\n-32602\n");
    server.wait_for(r#"call method: "add", params: [40, 2]"#);
    server.wait_for(r#"call method: "mul", params: [6, 7]"#);
}

/// All eight validator1 methods, driven by Python's client with realistic
/// input; every expected answer is computed independently in the script.
/// Introspection lists the methods with help and signatures.
#[test]
fn validator1_suite_from_python() {
    let server = Daemon::start_example("validator1");
    let out = python(
        r#"
import sys, random, datetime, xmlrpc.client as x
s = x.ServerProxy("http://127.0.0.1:%s/RPC2" % sys.argv[1], use_builtin_types=True)
v = s.validator1
rnd = random.Random(20000401)
stooge = lambda: {"moe": rnd.randint(-500, 500), "larry": rnd.randint(-500, 500),
                  "curly": rnd.randint(-500, 500)}
checked = 0
def check(got, expected):
    global checked
    assert got == expected, (got, expected)
    checked += 1

# arrayOfStructsTest: sum of curly.
structs = [stooge() for _ in range(40)]
check(v.arrayOfStructsTest(structs), sum(d["curly"] for d in structs))

# countTheEntities: every character XML escapes, among text and non-ASCII.
text = "".join(rnd.choice("<>&'\"abc xyz\u00e9\u2603") for _ in range(2000))
text += "<![CDATA[ & ]]> &amp; &lt;tag attr='1' other=\"2\"&gt;"
check(v.countTheEntities(text), {
    "ctLeftAngleBrackets": text.count("<"), "ctRightAngleBrackets": text.count(">"),
    "ctAmpersands": text.count("&"), "ctApostrophes": text.count("'"),
    "ctQuotes": text.count('"')})

# easyStructTest: moe + larry + curly.
d = stooge()
check(v.easyStructTest(d), d["moe"] + d["larry"] + d["curly"])

# echoStructTest: a struct of every type comes back equal.
echo = {"int": -7, "bool": False, "str": "<&'\">", "double": -12.53125,
        "date": datetime.datetime(1998, 7, 17, 14, 8, 55), "bytes": bytes(range(256)),
        "array": [1, "two", [3.5, True]], "nested": {"substruct": stooge(), "empty": {}}}
check(v.echoStructTest(echo), echo)

# manyTypesTest: the six scalars back as an array.
many = [2**31 - 1, True, "<tag> & 'quote' \"dq\" \u00fcn\u00efc\u00f6d\u00e9 \u2603",
        -12.53125, datetime.datetime(2000, 4, 1, 23, 59, 59), b"\x00\xff binary \r\n"]
check(v.manyTypesTest(*many), many)

# moderateSizeArrayCheck: first + last of 100-200 strings.
strings = ["".join(rnd.choice("abcdefghij<&>") for _ in range(rnd.randint(0, 40)))
           for _ in range(rnd.randint(100, 200))]
strings[0], strings[-1] = "first<" + strings[0], strings[-1] + ">last"
check(v.moderateSizeArrayCheck(strings), strings[0] + strings[-1])

# nestedStructTest: a calendar of three years, every day filled.
calendar = {"%04d" % y: {"%02d" % m: {"%02d" % d: stooge() for d in range(1, 29)}
                         for m in range(1, 13)} for y in (1999, 2000, 2001)}
day = calendar["2000"]["04"]["01"]
check(v.nestedStructTest(calendar), day["moe"] + day["larry"] + day["curly"])

# simpleStructReturnTest: times 10, 100, 1000, up to the edge of <int>.
for n in (0, 7, -13, 2147483, -2147483):
    check(v.simpleStructReturnTest(n), {"times10": n * 10, "times100": n * 100,
                                        "times1000": n * 1000})

# Bad input is a fault, not a crash.
def fault_code(call):
    try:
        call()
    except x.Fault as f:
        return f.faultCode
    raise AssertionError("no fault")
check(fault_code(lambda: v.simpleStructReturnTest(2147484)), -32500)
check(fault_code(lambda: v.moderateSizeArrayCheck([])), -32602)
check(fault_code(lambda: v.nestedStructTest({"2000": {"04": {}}})), -32602)
check(fault_code(lambda: v.easyStructTest({"moe": 1, "larry": 2})), -32602)

# Introspection.
names = ["arrayOfStructsTest", "countTheEntities", "easyStructTest", "echoStructTest",
         "manyTypesTest", "moderateSizeArrayCheck", "nestedStructTest",
         "simpleStructReturnTest"]
listed = s.system.listMethods()
for name in names:
    assert "validator1." + name in listed, (name, listed)
    assert s.system.methodHelp("validator1." + name).strip(), name
check(s.system.methodSignature("validator1.manyTypesTest"),
      [["array", "int", "boolean", "string", "double", "dateTime.iso8601", "base64"]])
check(s.system.methodSignature("validator1.nestedStructTest"), [["int", "struct"]])
print("checked", checked)
"#,
        server.addr.port(),
    );
    assert_eq!(out, "checked 18\n");
    server.terminate("validator1");
}

/// Sets the flag when dropped: the client threads stop looping even if the
/// test fails half-way.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A method that panics costs its caller a -32603 fault and nothing else:
/// 20 concurrent clients calling another method get right answers before,
/// during and after, and the panicking caller's own connection still works.
#[test]
fn a_panicking_method_faults_only_its_caller() {
    const CLIENTS: usize = 20;
    const PANICS: usize = 5;
    let server = TestServer::start(|reactor| {
        let mut registry = Registry::new();
        registry.register("add", |a: i32, b: i32| a + b);
        registry.register("boom", || -> i32 {
            panic!("deliberate panic in a test method")
        });
        let http = HttpServer::bind(localhost(), HttpConfig::default())?;
        http.install_handler(XmlRpcHandler::new("/RPC2", registry));
        let addr = http.local_addr()?;
        reactor.add(http)?;
        Ok(addr)
    });
    let url = format!("http://{}/RPC2", server.addr);

    // Everyone (the clients and this thread) meets here after "before".
    let barrier = Arc::new(Barrier::new(CLIENTS + 1));
    let done = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let (url, barrier, done) = (url.clone(), barrier.clone(), done.clone());
            std::thread::spawn(move || {
                // Errors are collected, not panicked on, so that a failing
                // client still reaches the barrier and nobody hangs.
                let mut errors = Vec::new();
                let mut calls = [0usize; 3];
                let mut client = Client::new(&url).expect("client");
                client.set_timeout(Some(Duration::from_secs(10)));
                let a = i32::try_from(id).unwrap() * 1000;
                let mut call = |client: &mut Client, phase: usize, b: i32| {
                    calls[phase] += 1;
                    match client.call("add", vec![Value::Int(a), Value::Int(b)]) {
                        Ok(Value::Int(sum)) if sum == a + b => {}
                        other => errors.push(format!("client {id} phase {phase}: {other:?}")),
                    }
                };
                for b in 0..5 {
                    call(&mut client, 0, b);
                }
                barrier.wait();
                // At least one call while the panics happen, more if the
                // scheduler lets them overlap.
                let mut b = 5;
                loop {
                    call(&mut client, 1, b);
                    b += 1;
                    if done.load(Ordering::SeqCst) {
                        break;
                    }
                }
                for b in 0..5 {
                    call(&mut client, 2, -b);
                }
                (calls, errors)
            })
        })
        .collect();

    {
        let _stop_clients = SetOnDrop(done.clone());
        barrier.wait();
        let mut caller = Client::new(&url).expect("client");
        caller.set_timeout(Some(Duration::from_secs(10)));
        for _ in 0..PANICS {
            match caller.call("boom", vec![]) {
                Err(ClientError::Fault(fault)) => {
                    assert_eq!(fault.code, Fault::INTERNAL_ERROR, "{fault}");
                    assert!(fault.message.contains("boom"), "{fault}");
                }
                other => panic!("boom should fault -32603, got {other:?}"),
            }
        }
        // The panicking caller's connection is still good.
        let answer = caller.call("add", vec![Value::Int(40), Value::Int(2)]);
        assert!(
            matches!(answer, Ok(Value::Int(42))),
            "after the panics: {answer:?}"
        );
    }

    let mut total = 0;
    for client in clients {
        let (calls, errors) = client.join().expect("client thread");
        assert!(errors.is_empty(), "{errors:#?}");
        assert!(calls[0] == 5 && calls[1] >= 1 && calls[2] == 5, "{calls:?}");
        total += calls.iter().sum::<usize>();
    }
    assert!(total >= CLIENTS * 11, "{total} calls");
    server.stop().expect("reactor ran cleanly");
}
