//! `medusad`, the medusa daemon.
//!
//! Today it serves the echo protocol on the reactor (asyncore's classic
//! example); the HTTP server and the XML-RPC endpoint at `/RPC2` replace it
//! as they land. It already behaves as the daemon will: `--host`/`--port`,
//! logs through `env_logger` (`RUST_LOG`), and on SIGINT/SIGTERM stops
//! accepting, finishes sending what it owes, and exits 0.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use medusa::chat::{AsyncChat, EchoHandler};
use medusa::reactor::{Listener, Reactor};

const USAGE: &str = "usage: medusad [--host ADDR] [--port PORT] [--grace SECONDS]
  --host ADDR      address to listen on (default 127.0.0.1)
  --port PORT      port to listen on, 0 = any free port (default 8182)
  --grace SECONDS  on SIGINT/SIGTERM, time allowed to finish output (default 10)";

struct Options {
    addr: SocketAddr,
    grace: Duration,
}

fn parse_options() -> Result<Options, String> {
    let mut host = "127.0.0.1".to_string();
    let mut port: u16 = 8182;
    let mut grace = Duration::from_secs(10);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--host" => host = value,
            "--port" => port = value.parse().map_err(|_| format!("bad port {value:?}"))?,
            "--grace" => {
                let secs: f64 = value.parse().map_err(|_| format!("bad grace {value:?}"))?;
                grace = Duration::try_from_secs_f64(secs)
                    .map_err(|_| format!("bad grace {value:?}"))?;
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let addr = format!("{host}:{port}")
        .parse()
        .map_err(|_| format!("bad address {host}:{port}"))?;
    Ok(Options { addr, grace })
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("medusad: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match serve(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("medusad: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(options: &Options) -> std::io::Result<()> {
    let mut reactor = Reactor::new()?;
    // Before announcing the address: from then on a SIGTERM must mean a
    // graceful shutdown, not the default action (death).
    reactor.catch_signals(options.grace)?;
    let listener = Listener::bind(options.addr, |stream, _peer, cx| {
        cx.add(AsyncChat::new(stream, EchoHandler))?;
        Ok(())
    })?;
    // Scripts and tests that pass --port 0 read the port from this line.
    log::info!(
        "medusad (echo service) listening on {}",
        listener.local_addr()?
    );
    reactor.add(listener)?;
    reactor.run()?;
    log::info!("medusad: all connections closed, exiting");
    Ok(())
}
