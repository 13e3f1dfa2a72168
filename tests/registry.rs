//! The registry beside a `call`-style service, as Python's
//! `register_instance` puts an instance behind `register_function`s:
//! Python's `xmlrpc.client` calls typed methods, the instance's methods,
//! introspection that lists both, and `system.multicall` across them; a
//! service that does not describe itself still gets a GET page.

mod util;

use medusa::handlers::XmlRpcHandler;
use medusa::http::{HttpConfig, HttpServer};
use medusa::xmlrpc::{Fault, MethodInfo, Registry, Value, XmlRpcService};

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
        ]
    );
    server.stop().unwrap();
}
