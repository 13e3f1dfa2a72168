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

use medusa::reactor::Reactor;
use medusa::xmlrpc::{AsyncClient, AsyncClientConfig, Value};

struct Options {
    url: String,
    connections: usize,
    duration: Duration,
    method: String,
    params: Vec<Value>,
}

fn options() -> Options {
    let mut o = Options {
        url: "http://127.0.0.1:8182/RPC2".to_string(),
        connections: 50,
        duration: Duration::from_secs(10),
        method: "add".to_string(),
        params: vec![Value::Int(40), Value::Int(2)],
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage(&flag));
        match flag.as_str() {
            "--url" => o.url = value,
            "--connections" | "-c" => {
                o.connections = value.parse().unwrap_or_else(|_| usage(&flag))
            }
            "--duration" | "-d" => {
                let secs: f64 = value.parse().unwrap_or_else(|_| usage(&flag));
                o.duration = Duration::try_from_secs_f64(secs).unwrap_or_else(|_| usage(&flag));
            }
            "--method" => o.method = value,
            "--params" => {
                o.params = value
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        p.trim()
                            .parse()
                            .map(Value::Int)
                            .unwrap_or_else(|_| usage(&flag))
                    })
                    .collect()
            }
            _ => usage(&flag),
        }
    }
    o
}

fn usage(bad: &str) -> ! {
    eprintln!(
        "bad argument {bad:?}; usage: loadgen [--url URL] [--connections N] [--duration SECS] \
         [--method NAME] [--params 1,2,...]"
    );
    std::process::exit(2);
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
    client.call(&o.url, &o.method, o.params.clone(), move |result| {
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
    let o = Rc::new(options());
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
