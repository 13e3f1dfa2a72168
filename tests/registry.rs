//! The registry beside a `call`-style service, as Python's
//! `register_instance` puts an instance behind `register_function`s:
//! Python's `xmlrpc.client` calls typed methods, the instance's methods,
//! introspection that lists both, and `system.multicall` across them; a
//! service that describes itself, installed alone, still answers
//! introspection; one that does not still gets a GET page.

mod util;

use std::io::{BufReader, Write};

use medusa::handlers::XmlRpcHandler;
use medusa::http::{HttpConfig, HttpServer};
use medusa::xmlrpc::{Client, Fault, MethodInfo, Registry, Value, XmlRpcService};
use serde::{Deserialize, Serialize};

use util::http::read_reply;
use util::*;

/// A legacy service: `call` by hand; it describes `ping` only (its
/// `legacy.echo` is served but not listed, as a `_dispatch` may do).
struct Legacy;

impl XmlRpcService for Legacy {
    fn call(&mut self, method: &str, params: Vec<Value>) -> Result<Value, Fault> {
        match method {
            "ping" => Ok(Value::from("pong")),
            "legacy.echo" => Ok(Value::Array(params)),
            _ => Err(Fault::method_not_found(format!("legacy: no {method}"))),
        }
    }

    fn describe(&self) -> Option<Vec<MethodInfo>> {
        Some(vec![MethodInfo {
            name: "ping".to_string(),
            help: "Answers pong.".to_string(),
            signatures: vec![vec!["string".to_string()]],
        }])
    }
}

/// Only `call`: no description at all.
struct Mute;

impl XmlRpcService for Mute {
    fn call(&mut self, _method: &str, _params: Vec<Value>) -> Result<Value, Fault> {
        Ok(Value::Nil)
    }
}

const PYTHON: &str = r#"
import sys, urllib.request, xmlrpc.client
base = sys.argv[1]
proxy = xmlrpc.client.ServerProxy(base + "/RPC2")
print(proxy.add(40, 2), proxy.ping(), proxy.legacy.echo(1, "two"))
print(" ".join(proxy.system.listMethods()))
print(proxy.system.methodHelp("ping"), proxy.system.methodSignature("ping"))
multi = xmlrpc.client.MultiCall(proxy)
multi.add(1, 2)
multi.ping()
multi.legacy.echo([3])
multi.nosuch()
results = multi()
print(results[0], results[1], results[2])
try:
    results[3]
except xmlrpc.client.Fault as f:
    print("fault", f.faultCode, f.faultString)
page = urllib.request.urlopen(base + "/mute").read().decode()
print("does not list its methods" in page)
legacy = xmlrpc.client.ServerProxy(base + "/legacy")
print(" ".join(legacy.system.listMethods()), legacy.ping())
print(legacy.system.methodHelp("ping"), legacy.system.methodSignature("ping"))
print(legacy.system.methodSignature("system.methodHelp"))
try:
    legacy.system.methodHelp("nosuch")
except xmlrpc.client.Fault as f:
    print("fault", f.faultCode, f.faultString)
"#;

#[test]
fn python_calls_typed_methods_and_an_instance_side_by_side() {
    let server = TestServer::start(|reactor| {
        let server = HttpServer::bind(localhost(), HttpConfig::default())?;
        let mut registry = Registry::new();
        registry
            .register("add", |a: i32, b: i32| {
                a.checked_add(b)
                    .ok_or(Fault::invalid_params("int overflow"))
            })
            .help("Adds two integers.");
        registry.register_instance(Legacy);
        server.install_handler(XmlRpcHandler::new("/RPC2", registry));
        server.install_handler(XmlRpcHandler::new("/mute", Mute));
        // Described but not in a registry: the handler answers its
        // introspection from the description.
        server.install_handler(XmlRpcHandler::new("/legacy", Legacy));
        let addr = server.local_addr()?;
        reactor.add(server)?;
        Ok(addr)
    });
    let lines = python_lines(PYTHON, &[&format!("http://{}", server.addr)]);
    assert_eq!(
        lines,
        [
            "42 pong [1, 'two']",
            "add ping system.getCapabilities system.listMethods system.methodHelp system.methodSignature system.multicall",
            "Answers pong. [['string']]",
            "3 pong [[3]]",
            "fault -32601 legacy: no nosuch",
            "True",
            "ping system.listMethods system.methodHelp system.methodSignature pong",
            "Answers pong. [['string']]",
            "[['string', 'string']]",
            "fault -32601 no method nosuch",
        ]
    );
    server.stop().unwrap();
}

#[derive(Deserialize, Serialize)]
struct Point {
    x: f64,
    y: f64,
}

/// Typed methods with no `.signature(...)`, but two: one that overrides
/// the inferred signature, and one whose types cannot all be named.
fn typed_server() -> TestServer {
    TestServer::start(|reactor| {
        let server = HttpServer::bind(localhost(), HttpConfig::default())?;
        let mut registry = Registry::new();
        registry.register("add", |a: i32, b: i32| a.wrapping_add(b));
        registry.register("upper", |s: String| s.to_uppercase());
        registry.register("sum", |xs: Vec<i32>| {
            xs.iter().fold(0i32, |a, x| a.wrapping_add(*x))
        });
        registry.register("norm", |p: Point| p.x.hypot(p.y));
        registry.register("greet", |name: Option<String>| {
            format!("hello {}", name.as_deref().unwrap_or("world"))
        });
        registry.register("scale", |on: bool, x: f64| if on { x * 2.0 } else { x });
        registry.register("div", |a: f64, b: f64| {
            if b == 0.0 {
                Err(Fault::application_error("division by zero"))
            } else {
                Ok(a / b)
            }
        });
        // Said by hand: it replaces the inferred [double, double].
        registry
            .register("twice", |x: f64| x * 2.0)
            .signature(&["double", "int"]);
        // A Value parameter takes any type, a struct result is not named.
        registry.register("echo", |v: Value| v);
        registry.register("mirror", |p: Point| Point { x: p.y, y: p.x });
        server.install_handler(XmlRpcHandler::new("/RPC2", registry));
        let addr = server.local_addr()?;
        reactor.add(server)?;
        Ok(addr)
    })
}

/// `[[ret, params...]]` as `system.methodSignature` sends it.
fn signatures(types: &[&str]) -> Value {
    Value::Array(vec![Value::Array(
        types.iter().map(|&t| Value::from(t)).collect(),
    )])
}

#[test]
fn signatures_are_inferred_from_the_rust_types() {
    let server = typed_server();
    let mut client = Client::new(&format!("http://{}/RPC2", server.addr)).unwrap();
    let mut signature_of = |name: &str| {
        client
            .call("system.methodSignature", vec![Value::from(name)])
            .unwrap()
    };
    for (method, types) in [
        ("add", &["int", "int", "int"][..]),
        ("upper", &["string", "string"]),
        ("sum", &["int", "array"]),
        ("norm", &["double", "struct"]),
        // Option<T> is T: nil is an extension a signature does not spell.
        ("greet", &["string", "string"]),
        ("scale", &["double", "boolean", "double"]),
        // Result<T, Fault> is T.
        ("div", &["double", "double", "double"]),
        ("twice", &["double", "int"]),
    ] {
        assert_eq!(signature_of(method), signatures(types), "{method}");
    }
    assert_eq!(signature_of("echo"), Value::from("undef"));
    assert_eq!(signature_of("mirror"), Value::from("undef"));
    // The methods still take what their types say.
    assert_eq!(
        client.call("greet", vec![Value::Nil]).unwrap(),
        Value::from("hello world")
    );

    // The GET page lists the same signatures.
    let mut conn = connect(server.addr);
    conn.write_all(b"GET /RPC2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let page = read_reply(&mut BufReader::new(conn), false).unwrap();
    assert_eq!(page.status, 200);
    let page = page.text();
    for line in [
        "add(int, int) &rarr; int",
        "upper(string) &rarr; string",
        "sum(array) &rarr; int",
        "norm(struct) &rarr; double",
        "greet(string) &rarr; string",
        "scale(boolean, double) &rarr; double",
        "twice(int) &rarr; double",
    ] {
        assert!(page.contains(line), "{line:?} missing from:\n{page}");
    }
    assert!(!page.contains("twice(double)"), "{page}");
    assert!(!page.contains("echo("), "{page}");
    server.stop().unwrap();
}

#[test]
fn python_reads_the_inferred_signatures() {
    let server = typed_server();
    let script = r#"
import sys, xmlrpc.client
proxy = xmlrpc.client.ServerProxy(sys.argv[1] + "/RPC2")
for name in ["add", "upper", "sum", "norm", "greet", "scale", "twice", "echo"]:
    print(name, proxy.system.methodSignature(name))
print(proxy.add(40, 2), proxy.sum([1, 2, 3]), proxy.norm({"x": 3, "y": 4}))
"#;
    let lines = python_lines(script, &[&format!("http://{}", server.addr)]);
    assert_eq!(
        lines,
        [
            "add [['int', 'int', 'int']]",
            "upper [['string', 'string']]",
            "sum [['int', 'array']]",
            "norm [['double', 'struct']]",
            "greet [['string', 'string']]",
            "scale [['double', 'boolean', 'double']]",
            "twice [['double', 'int']]",
            "echo undef",
            "42 6 5.0",
        ]
    );
    server.stop().unwrap();
}
