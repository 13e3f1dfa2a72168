//! Recipe 13.4 of the Python Cookbook, "Using XML-RPC with Medusa": the
//! client, ported. Start `examples/xmlrpc_server.rs` first.
//!
//! ```text
//! cargo run --example xmlrpc_server &
//! cargo run --example xmlrpc_client -- --host 127.0.0.1 --port 8182
//! The answer is: 42
//! ```
//!
//! Like the recipe it uses the client library one level down: not a proxy
//! object, but the `Transport` and `dumps` that a proxy is built from, so
//! the HTTP request and the XML body are in plain sight.
//!
//! # The recipe, line by line
//!
//! | `xmlrpc_client.py` | here |
//! | --- | --- |
//! | `from xmlrpclib import Transport, dumps` | `use medusa::xmlrpc::{dumps, Transport}` |
//! | `class xmlrpc_connection:` | `struct XmlrpcConnection` |
//! | `def __init__(self, host=None, port=8182):` | `XmlrpcConnection::new(host, port)` |
//! | `host = gethostname()` | `--host`, default `127.0.0.1` (the server's default) |
//! | `self.host = "%s:%s" % (host, port)` | `format!("{host}:{port}")` (IPv6 hosts in brackets) |
//! | `self.transport = Transport()` | `Transport::new()` |
//! | `def remote(self, method, params=()):` | `XmlrpcConnection::remote(method, params)` |
//! | `self.transport.request(self.host, '/RPC2', dumps(params, method))` | `self.transport.request(&self.host, "/RPC2", &dumps(params, method)?)` |
//! | `(answer,) = connection.remote("add", (40, 2))` | `let [answer] = <[Value; 1]>::try_from(values)` |
//! | `print "The answer is:", answer` | `println!("The answer is: {answer}")` |
//!
//! # Differences from the recipe
//!
//! - Failure is an exit status, not a traceback: if the server cannot be
//!   reached, answers with a fault, or answers nonsense, the client says
//!   which on stderr and exits 1.
//! - `dumps` can fail (a NaN, a string XML cannot carry); Python raises,
//!   here `remote` returns the error.

use clap::Parser;
use medusa::xmlrpc::{dumps, ClientError, Transport, Value};

/// The recipe's `xmlrpc_connection`: a transport and the server it talks to.
#[doc(alias = "xmlrpc_connection")]
struct XmlrpcConnection {
    /// `host:port`, as `Transport::request` wants it.
    host: String,
    transport: Transport,
}

impl XmlrpcConnection {
    fn new(host: &str, port: u16) -> XmlrpcConnection {
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        XmlrpcConnection {
            host: format!("{host}:{port}"),
            transport: Transport::new(),
        }
    }

    /// Invokes the server with the method name and an optional set of
    /// parameters. The return value is always a list (the recipe's tuple):
    /// one value for a successful call.
    fn remote(&mut self, method: &str, params: &[Value]) -> Result<Vec<Value>, ClientError> {
        let body = dumps(params, method).map_err(ClientError::Encode)?;
        self.transport.request(&self.host, "/RPC2", &body)
    }
}

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let Options { host, port } = Options::parse();

    let mut connection = XmlrpcConnection::new(&host, port);
    let values = match connection.remote("add", &[Value::from(40), Value::from(2)]) {
        Ok(values) => values,
        Err(e) => fail(&format!("add(40, 2) on {} failed: {e}", connection.host)),
    };
    // `(answer,) = ...`: exactly one value, or the unpacking fails.
    let [answer] = <[Value; 1]>::try_from(values).unwrap_or_else(|values| {
        fail(&format!(
            "add(40, 2) on {} returned {} values, expected 1",
            connection.host,
            values.len()
        ))
    });
    println!("The answer is: {answer}");
}

fn fail(message: &str) -> ! {
    eprintln!("xmlrpc_client: {message}");
    std::process::exit(1);
}

/// The recipe's client: calls add(40, 2) on the recipe's server and prints
/// the answer.
#[derive(Parser)]
struct Options {
    /// The server's host name or IP address (IPv6 as ::1)
    #[arg(short = 'H', long, default_value = "127.0.0.1")]
    #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
    host: String,

    /// The server's port
    #[arg(short, long, default_value_t = 8182)]
    port: u16,
}
