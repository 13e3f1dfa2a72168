//! Recipe 13.4 of the Python Cookbook, "Using XML-RPC with Medusa" (Jeff
//! Bauer): the server, ported. Its client is `examples/xmlrpc_client.rs`.
//!
//! ```text
//! cargo run --example xmlrpc_server                  # 127.0.0.1:8182, path /RPC2
//! cargo run --example xmlrpc_client                  # The answer is: 42
//! python3 -c 'import xmlrpc.client as x; print(x.ServerProxy("http://127.0.0.1:8182/RPC2").add(40, 2))'
//! ```
//!
//! Ctrl-C (SIGINT) or SIGTERM stops accepting, lets calls in flight finish,
//! and exits 0; if it has to drop connections to stop (a second signal, or
//! `--grace` over), it logs "forced shutdown" and exits 1.
//!
//! # The recipe, line by line
//!
//! | `xmlrpc_server.py` | here |
//! | --- | --- |
//! | `from medusa.xmlrpc_handler import xmlrpc_handler` | `use medusa::handlers::XmlRpcHandler` and the [`XmlRpcService`] trait |
//! | `from medusa.http_server import http_server` | `use medusa::http::HttpServer` |
//! | `from medusa import asyncore` | `use medusa::reactor::Reactor` |
//! | `class xmlrpc_server(xmlrpc_handler):` | `struct XmlrpcServer` + `impl XmlRpcService for XmlrpcServer`: a trait instead of a base class |
//! | `def __init__(self, host=None, port=8182):` | `main` and `args::server_options("xmlrpc_server", 8182)`: building the object no longer runs the server |
//! | `host = gethostname()` | `--host`, default `127.0.0.1` (see below) |
//! | `hs = http_server(host, port)` | `HttpServer::bind(addr, HttpConfig::default())` |
//! | *(missing)* `hs.install_handler(self)` | `server.install_handler(XmlRpcHandler::new("/RPC2", XmlrpcServer))` |
//! | `asyncore.loop()` | `reactor.run()` |
//! | `def add(self, op1, op2): return op1 + op2` | `XmlrpcServer::add` |
//! | `def call(self, method, params):` | [`XmlRpcService::call`] |
//! | `print "call method: %s, params: %s" % ...` | `log::info!("call method: {method:?}, params: {}", ...)` |
//! | `if method == 'add': return apply(self.add, params)` | `"add" => match params.as_slice() { [op1, op2] => self.add(op1, op2), ... }` |
//! | `return "method not found: %s" % method` | `Err(Fault::method_not_found(...))`: a fault, not a string |
//! | `if __name__ == '__main__': server = xmlrpc_server()` | `fn main` |
//!
//! # Differences from the recipe
//!
//! - The recipe never installs its handler: `__init__` creates the
//!   `http_server` and loops, but the `hs.install_handler(self)` its own
//!   Discussion describes is missing, so every request would get a 404.
//!   Here the handler is installed.
//! - It listens on `127.0.0.1` unless told otherwise, where the recipe used
//!   `gethostname()`: a demo should not be reachable from the network by
//!   default. `--host 0.0.0.0` restores the recipe's reach.
//! - `params` prints as a list, `[40, 2]`, where Python 2 printed the tuple
//!   `(40, 2)`: Medusa's handler passed `xmlrpclib.loads`'s tuple through,
//!   and here the parameters are a `Vec`.
//! - The method name is logged quoted, `"add"`, its control characters
//!   escaped (the parameters are, by their `repr`-like display): the
//!   caller chose it, and a newline in it must not start a forged line.
//! - Wrong arguments are a -32602 fault, where Medusa turned the `TypeError`
//!   from `apply` into fault code 1.
//! - A result beyond 32 bits is sent as `<i8>`, where Python's marshaller
//!   would refuse it (`OverflowError`) and the client would get a fault.

#[path = "common/args.rs"]
mod args;
#[path = "common/shutdown.rs"]
mod shutdown;

use std::process::ExitCode;

use medusa::handlers::XmlRpcHandler;
use medusa::http::{HttpConfig, HttpServer};
use medusa::reactor::Reactor;
use medusa::xmlrpc::{Fault, Value, XmlRpcService};

/// The recipe's `xmlrpc_server` class: a service with one method, `add`.
#[doc(alias = "xmlrpc_server")]
struct XmlrpcServer;

impl XmlrpcServer {
    /// An example of a method to be exposed via the XML-RPC protocol:
    /// Python's `op1 + op2`, for the XML-RPC types where `+` means
    /// something (numbers add, strings and arrays concatenate).
    fn add(&self, op1: &Value, op2: &Value) -> Result<Value, Fault> {
        match (op1, op2) {
            (Value::Int(_) | Value::I8(_), Value::Int(_) | Value::I8(_)) => {
                let a = i64::try_from(op1.clone())?;
                let b = i64::try_from(op2.clone())?;
                // Python's ints do not overflow; ours are 64 bits at most.
                let sum = a
                    .checked_add(b)
                    .ok_or_else(|| Fault::application_error(format!("{a} + {b} overflows")))?;
                Ok(i32::try_from(sum).map_or(Value::I8(sum), Value::Int))
            }
            (
                Value::Int(_) | Value::I8(_) | Value::Double(_),
                Value::Int(_) | Value::I8(_) | Value::Double(_),
            ) => {
                let a = f64::try_from(op1.clone())?;
                let b = f64::try_from(op2.clone())?;
                Ok(Value::Double(a + b))
            }
            (Value::String(a), Value::String(b)) => Ok(Value::String(format!("{a}{b}"))),
            (Value::Array(a), Value::Array(b)) => Ok(Value::Array([&a[..], &b[..]].concat())),
            // Python's TypeError, as a fault the client can catch.
            _ => Err(Fault::invalid_params(format!(
                "unsupported operand types for +: '{}' and '{}'",
                op1.type_name(),
                op2.type_name()
            ))),
        }
    }
}

/// The parameters as the recipe's log line shows them: `[40, 2]`.
fn param_list(params: &[Value]) -> String {
    let shown: Vec<String> = params.iter().map(Value::to_string).collect();
    format!("[{}]", shown.join(", "))
}

impl XmlRpcService for XmlrpcServer {
    /// The infrastructure ("plumbing") to expose methods.
    fn call(&mut self, method: &str, params: Vec<Value>) -> Result<Value, Fault> {
        // Quoted and escaped: the name is the caller's, and a newline or a
        // terminal escape in it must not forge or garble log lines.
        log::info!("call method: {method:?}, params: {}", param_list(&params));
        match method {
            // `apply(self.add, params)`: Python checks the count when it
            // calls; here the slice pattern does.
            "add" => match params.as_slice() {
                [op1, op2] => self.add(op1, op2),
                _ => Err(Fault::invalid_params(format!(
                    "add() takes 2 arguments ({} given)",
                    params.len()
                ))),
            },
            // The recipe returned the string "method not found: ..." as a
            // successful result, which a client cannot tell apart from a
            // method that returns a string. XML-RPC has faults for errors,
            // and -32601 is the interoperability code for this one: Python's
            // ServerProxy raises it as `xmlrpc.client.Fault`.
            _ => Err(Fault::method_not_found(format!(
                "method not found: {method}"
            ))),
        }
    }
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let (addr, grace) = args::server_options("xmlrpc_server", 8182);

    shutdown::main_exit("xmlrpc_server", || {
        let mut reactor = Reactor::new()?;
        // Before announcing the address: from then on a SIGTERM must mean a
        // graceful shutdown, not the default action (death).
        reactor.catch_signals(grace)?;
        let server = HttpServer::bind(addr, HttpConfig::default())?;
        server.install_handler(XmlRpcHandler::new("/RPC2", XmlrpcServer));
        let local = server.local_addr()?;
        log::info!("xmlrpc server listening on {local}");
        log::info!("POST XML-RPC calls to http://{local}/RPC2");
        reactor.add(server)?;
        shutdown::run_to_exit("xmlrpc server", &mut reactor)
    })
}
