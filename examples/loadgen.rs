//! An XML-RPC load generator on the reactor client: keeps `--connections`
//! calls in flight against `--url` for `--duration` seconds, then prints
//! throughput and latency percentiles. One thread, no async runtime: the
//! same loop and client any medusa program can use.
//!
//! ```text
//! cargo run --release --example loadgen -- --url http://127.0.0.1:8182/RPC2 \
//!     --connections 50 --duration 10 --method add --params 40,2
//! ```
//!
//! Parameters are integers (`--params 40,2`); each call's answer is checked
//! against the first one, so a server that answers wrongly under load is
//! caught, not counted.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::Parser;
use medusa::reactor::Reactor;
use medusa::xmlrpc::{AsyncClient, AsyncClientConfig, Value};

/// An XML-RPC load generator: keeps calls in flight against a server for a
/// while, then prints throughput and latency percentiles.
#[derive(Parser)]
struct Options {
    /// The XML-RPC endpoint
    #[arg(long, default_value = "http://127.0.0.1:8182/RPC2")]
    url: String,

    /// Calls in flight at once (one connection each)
    #[arg(short, long, value_name = "N", default_value_t = 50)]
    connections: usize,

    /// How long to keep calling
    #[arg(short, long, value_name = "SECS", default_value = "10", value_parser = seconds)]
    duration: Duration,

    /// The method to call
    #[arg(long, value_name = "NAME", default_value = "add")]
    method: String,

    /// Its integer parameters, comma-separated
    #[arg(long, value_name = "1,2,...", default_value = "40,2", value_parser = int_params)]
    params: Params,
}

/// `--params`: one value for clap (a `Vec` field would mean a repeatable
/// flag).
#[derive(Clone)]
struct Params(Vec<Value>);

fn int_params(value: &str) -> Result<Params, String> {
    value
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| p.trim().parse().map(Value::Int))
        .collect::<Result<_, _>>()
        .map(Params)
        .map_err(|e| format!("integers, comma-separated: {e}"))
}

fn seconds(value: &str) -> Result<Duration, String> {
    let seconds: f64 = value.parse().map_err(|_| "not a number".to_string())?;
    Duration::try_from_secs_f64(seconds).map_err(|_| "not a finite number >= 0".to_string())
}

/// What the run has seen so far.
struct Tally {
    deadline: Instant,
    latencies: Vec<Duration>,
    errors: u64,
    wrong: u64,
    expected: Option<Value>,
    in_flight: usize,
}

/// Issues one call; its callback records it and issues the next.
fn issue(client: AsyncClient, tally: Rc<RefCell<Tally>>, o: Rc<Options>) {
    tally.borrow_mut().in_flight += 1;
    let started = Instant::now();
    let (c, t, opts) = (client.clone(), tally.clone(), o.clone());
    client.call(&o.url, &o.method, o.params.0.clone(), move |result| {
        let more = {
            let mut tally = t.borrow_mut();
            tally.in_flight -= 1;
            match result {
                Ok(value) => {
                    tally.latencies.push(started.elapsed());
                    match &tally.expected {
                        None => tally.expected = Some(value),
                        Some(expected) if *expected != value => tally.wrong += 1,
                        Some(_) => {}
                    }
                }
                Err(e) => {
                    if tally.errors == 0 {
                        eprintln!("loadgen: first error: {e}");
                    }
                    tally.errors += 1;
                }
            }
            Instant::now() < tally.deadline
        };
        if more {
            issue(c, t, opts);
        }
    });
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let o = Rc::new(Options::parse());
    let mut reactor = Reactor::new()?;
    let config = AsyncClientConfig {
        max_connections_per_server: o.connections.max(1),
        ..AsyncClientConfig::default()
    };
    let client = AsyncClient::new(&mut reactor, config)?;
    let started = Instant::now();
    let tally = Rc::new(RefCell::new(Tally {
        deadline: started + o.duration,
        latencies: Vec::with_capacity(1 << 20),
        errors: 0,
        wrong: 0,
        expected: None,
        in_flight: 0,
    }));
    for _ in 0..o.connections.max(1) {
        issue(client.clone(), tally.clone(), o.clone());
    }
    // Until the deadline has passed and the last calls are back.
    while tally.borrow().in_flight > 0 {
        reactor.run_once(Some(Duration::from_millis(100)))?;
    }
    let elapsed = started.elapsed();
    client.close();
    let mut tally = tally.borrow_mut();
    tally.latencies.sort();
    let n = tally.latencies.len();
    println!(
        "{} calls in {:.2}s, {:.0} calls/s, {} errors, {} wrong answers ({} connections, {} {})",
        n,
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        tally.errors,
        tally.wrong,
        o.connections,
        o.method,
        o.url
    );
    let l = &tally.latencies;
    println!(
        "latency p50 {:.3}ms  p90 {:.3}ms  p99 {:.3}ms  max {:.3}ms",
        percentile(l, 0.50).as_secs_f64() * 1e3,
        percentile(l, 0.90).as_secs_f64() * 1e3,
        percentile(l, 0.99).as_secs_f64() * 1e3,
        l.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    if tally.errors > 0 || tally.wrong > 0 || n == 0 {
        std::process::exit(1);
    }
    Ok(())
}
