//! The command line every example server shares: `--host ADDR` (default
//! 127.0.0.1), `--port PORT` (0 picks a free port; the log says which) and
//! `--grace SECONDS` (time allowed to finish on SIGINT/SIGTERM, default 5).
//! Included by each example with `#[path = "common/args.rs"] mod args;`.

use std::net::SocketAddr;
use std::time::Duration;

/// Parses the command line of the example `name`; exits 2 on a bad argument.
pub fn server_options(name: &str, default_port: u16) -> (SocketAddr, Duration) {
    let usage = |bad: &str| -> ! {
        eprintln!(
            "bad argument {bad:?}; usage: {name} [--host ADDR] [--port PORT] [--grace SECONDS]"
        );
        std::process::exit(2);
    };
    let mut host = "127.0.0.1".to_string();
    let mut port = default_port;
    let mut grace = Duration::from_secs(5);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--host", Some(h)) => host = h,
            ("--port", Some(p)) => port = p.parse().unwrap_or_else(|_| usage(&arg)),
            ("--grace", Some(g)) => {
                grace = g
                    .parse()
                    .ok()
                    .and_then(|s| Duration::try_from_secs_f64(s).ok())
                    .unwrap_or_else(|| usage(&arg))
            }
            _ => usage(&arg),
        }
    }
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let addr = format!("{host}:{port}")
        .parse()
        .unwrap_or_else(|_| usage("--host"));
    (addr, grace)
}
