//! asyncore's classic echo server: every byte a client sends comes back.
//!
//! ```text
//! cargo run --example echo_server -- --host 127.0.0.1 --port 8007
//! nc 127.0.0.1 8007
//! ```
//!
//! Ctrl-C (SIGINT) or SIGTERM stops accepting, lets connections finish
//! sending what they owe, and exits 0; if it has to drop connections to
//! stop (a second signal, or `--grace` over), it logs "forced shutdown"
//! and exits 1.

#[path = "common/args.rs"]
mod args;
#[path = "common/shutdown.rs"]
mod shutdown;

use std::process::ExitCode;

use medusa::chat::{AsyncChat, EchoHandler};
use medusa::reactor::{Listener, Reactor};

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let (addr, grace) = args::server_options("echo_server", 8007);

    shutdown::main_exit("echo_server", || {
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
        shutdown::run_to_exit("echo server", &mut reactor)
    })
}
