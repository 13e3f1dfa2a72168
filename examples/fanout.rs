//! Fan-out: one thread that serves XML-RPC and, on the same loop, calls
//! several other XML-RPC servers at once — the "distributed processing
//! system" of the recipe's problem statement.
//!
//! The coordinator serves `sum_of_squares(n)` (1² + 2² + … + n²). It splits
//! 1..=n into one range per worker, calls every worker's
//! `sum_of_squares_range(lo, hi)` concurrently with the reactor client, and
//! answers its caller when all have replied. A worker that fails (refused,
//! reset, timed out, faulted) turns the whole call into a clear fault
//! instead of a hang.
//!
//! ```text
//! cargo run --example fanout -- --port 8182 --workers 4      # workers started here, in threads
//! cargo run --example fanout -- --role worker --port 9001     # a worker on its own
//! cargo run --example fanout -- --port 8182 --worker 127.0.0.1:9001 --worker 127.0.0.1:9002
//! python3 -c 'import xmlrpc.client as x; print(x.ServerProxy("http://127.0.0.1:8182/RPC2").sum_of_squares(1000))'
//! ```
//!
//! Ctrl-C (SIGINT) or SIGTERM stops it as the other example servers stop
//! (`--grace`, exit 1 on a forced shutdown: `examples/common/shutdown.rs`).
//!
//! Read `docs/async.md` for the walk-through.

#[path = "common/shutdown.rs"]
mod shutdown;

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use medusa::handlers::XmlRpcHandler;
use medusa::http::{HttpConfig, HttpServer};
use medusa::reactor::Reactor;
use medusa::xmlrpc::{AsyncClient, AsyncClientConfig, Fault, Registry, Value, XmlRpcResponder};

/// Serves sum_of_squares(n) by calling several workers' ranges at once (or,
/// with --role worker, serves one worker).
#[derive(Parser)]
struct Options {
    /// Address or host name to listen on; IPv6 as ::1 or [::1]
    #[arg(short = 'H', long, value_name = "ADDR", default_value = "127.0.0.1")]
    #[arg(value_parser = medusa::reactor::parse_host)]
    host: IpAddr,

    /// Port to listen on; 0 picks a free one (the log says which)
    #[arg(short, long, default_value_t = 8182)]
    port: u16,

    /// What to serve
    #[arg(long, value_enum, default_value_t = Role::Coordinator)]
    role: Role,

    /// A worker to call, HOST:PORT (repeatable); without any, --workers are
    /// started here, in threads
    #[arg(long, value_name = "HOST:PORT")]
    worker: Vec<String>,

    /// Workers to start in threads when no --worker is given
    #[arg(long, value_name = "N", default_value_t = 4)]
    workers: usize,

    #[command(flatten)]
    grace: shutdown::Grace,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Role {
    Coordinator,
    Worker,
}

/// A worker's one method.
fn worker_registry() -> Registry {
    let mut registry = Registry::new();
    registry
        .register(
            "sum_of_squares_range",
            |lo: i64, hi: i64| -> Result<i64, Fault> {
                if lo < 1 || hi < lo - 1 || hi > 3_000_000 {
                    return Err(Fault::invalid_params("want 1 <= lo <= hi + 1 <= 3000001"));
                }
                Ok((lo..=hi).map(|k| k * k).sum())
            },
        )
        .help("Sum of k*k for k in lo..=hi.")
        .signature(&["i8", "i8", "i8"]);
    registry
}

/// Serves `registry` on `addr` until SIGINT/SIGTERM; logs the address.
fn serve(
    addr: SocketAddr,
    registry: Registry,
    what: &str,
    reactor: &mut Reactor,
) -> std::io::Result<SocketAddr> {
    let server = HttpServer::bind(addr, HttpConfig::default())?;
    server.install_handler(XmlRpcHandler::new("/RPC2", registry));
    let bound = server.local_addr()?;
    reactor.add(server)?;
    log::info!("{what} listening on {bound}");
    Ok(bound)
}

/// Starts a worker in its own thread (its own loop) on a free port.
fn spawn_worker() -> std::io::Result<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let run = || -> std::io::Result<()> {
            let mut reactor = Reactor::new()?;
            let addr = serve(
                "127.0.0.1:0".parse().expect("address"),
                worker_registry(),
                "worker",
                &mut reactor,
            )?;
            let _ = tx.send(Ok(addr.to_string()));
            reactor.run()
        };
        if let Err(e) = run() {
            log::error!("worker: {e}");
        }
    });
    rx.recv()
        .unwrap_or_else(|_| Err(std::io::Error::other("worker thread died")))
}

/// One `sum_of_squares` call in progress: partial sums and the responder.
struct FanOut {
    waiting: usize,
    total: i64,
    responder: Option<XmlRpcResponder>,
}

impl FanOut {
    fn settle(&mut self, result: Result<i64, Fault>) {
        let Some(responder) = self.responder.take() else {
            return; // already answered (a worker failed earlier)
        };
        match result {
            Ok(sum) => {
                self.total += sum;
                self.waiting -= 1;
                if self.waiting == 0 {
                    responder.respond(Ok(Value::I8(self.total)));
                } else {
                    self.responder = Some(responder);
                }
            }
            Err(fault) => responder.respond(Err(fault)),
        }
    }
}

/// The coordinator's `sum_of_squares(n)`: split, call all workers, combine.
fn coordinator_registry(client: AsyncClient, workers: Vec<String>) -> Registry {
    let mut registry = Registry::new();
    registry
        .register_deferred("sum_of_squares", move |params, responder| {
            let n = match params.as_slice() {
                [Value::Int(n)] if *n >= 0 => i64::from(*n),
                [Value::I8(n)] if *n >= 0 => *n,
                _ => {
                    return responder.respond(Err(Fault::invalid_params("sum_of_squares(n >= 0)")))
                }
            };
            if n > 3_000_000 {
                return responder.respond(Err(Fault::invalid_params(
                    "n above 3,000,000 overflows 64 bits",
                )));
            }
            let parts = workers.len() as i64;
            let state = Rc::new(RefCell::new(FanOut {
                waiting: workers.len(),
                total: 0,
                responder: Some(responder),
            }));
            for (i, worker) in workers.iter().enumerate() {
                let i = i as i64;
                let (lo, hi) = (n * i / parts + 1, n * (i + 1) / parts);
                let state = state.clone();
                let name = worker.clone();
                let url = format!("http://{worker}/RPC2");
                let params = vec![Value::I8(lo), Value::I8(hi)];
                client.call(&url, "sum_of_squares_range", params, move |result| {
                    let result = match result {
                        Ok(Value::I8(sum)) => Ok(sum),
                        Ok(Value::Int(sum)) => Ok(i64::from(sum)),
                        Ok(other) => Err(Fault::application_error(format!(
                            "worker {name} answered {other}"
                        ))),
                        Err(e) => Err(Fault::application_error(format!(
                            "worker {name} failed: {e}"
                        ))),
                    };
                    state.borrow_mut().settle(result);
                });
            }
        })
        .help("Sum of k*k for k in 1..=n, computed by the workers in parallel.")
        .signature(&["i8", "int"]);
    registry
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let options = Options::parse();
    shutdown::main_exit("fanout", || run(options))
}

/// Serves as `options.role` says until stopped.
fn run(options: Options) -> std::io::Result<ExitCode> {
    let addr = SocketAddr::new(options.host, options.port);
    let mut reactor = Reactor::new()?;
    let grace = options.grace.grace;
    reactor.catch_signals(grace)?;
    if options.role == Role::Worker {
        serve(addr, worker_registry(), "worker", &mut reactor)?;
        return shutdown::run_to_exit("worker", &mut reactor);
    }
    let mut workers = options.worker;
    if workers.is_empty() {
        for _ in 0..options.workers.max(1) {
            workers.push(spawn_worker()?);
        }
    }
    log::info!("workers: {}", workers.join(", "));
    let config = AsyncClientConfig {
        request_timeout: Duration::from_secs(10),
        ..AsyncClientConfig::default()
    };
    let client = AsyncClient::new(&mut reactor, config)?;
    serve(
        addr,
        coordinator_registry(client, workers),
        "coordinator",
        &mut reactor,
    )?;
    shutdown::run_to_exit("coordinator", &mut reactor)
}
