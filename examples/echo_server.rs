//! asyncore's classic echo server: every byte a client sends comes back.
//!
//! ```text
//! cargo run --example echo_server -- --host 127.0.0.1 --port 8007
//! nc 127.0.0.1 8007
//! ```
//!
//! Ctrl-C (SIGINT) or SIGTERM stops accepting, lets connections finish
//! sending what they owe, and exits 0.

use std::net::SocketAddr;
use std::time::Duration;

use medusa::chat::{AsyncChat, EchoHandler};
use medusa::reactor::{Listener, Reactor};

fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let (addr, grace) = options_from_args(8007);

    let mut reactor = Reactor::new()?;
    // Before announcing the address: from then on a SIGTERM must mean a
    // graceful shutdown, not the default action (death).
    reactor.catch_signals(grace)?;
    let listener = Listener::bind(addr, |stream, _peer, cx| {
        cx.add(AsyncChat::new(stream, EchoHandler))?;
        Ok(())
    })?;
    log::info!("echo server listening on {}", listener.local_addr()?);
    reactor.add(listener)?;
    reactor.run()?;
    log::info!("echo server: all connections closed, exiting");
    Ok(())
}

/// `--host H` (default 127.0.0.1), `--port P`, `--grace SECONDS` (time
/// allowed to finish sending on SIGINT/SIGTERM, default 5).
fn options_from_args(default_port: u16) -> (SocketAddr, Duration) {
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

fn usage(bad: &str) -> ! {
    eprintln!(
        "bad argument {bad:?}; usage: echo_server [--host ADDR] [--port PORT] [--grace SECONDS]"
    );
    std::process::exit(2);
}
