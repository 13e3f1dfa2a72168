//! The command line every example server shares: `--host ADDR` (default
//! 127.0.0.1; a name or `[::1]` too, as medusad takes it), `--port PORT` (0 picks a free port; the log says which) and
//! `--grace SECONDS` (time allowed to finish on SIGINT/SIGTERM, default 5).
//! Included by each example with `#[path = "common/args.rs"] mod args;`,
//! beside `common/shutdown.rs` (which has `--grace`).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};

#[derive(Parser)]
struct ServerArgs {
    /// Address or host name to listen on; IPv6 as ::1 or [::1]
    #[arg(short = 'H', long, value_name = "ADDR", default_value = "127.0.0.1")]
    #[arg(value_parser = medusa::reactor::parse_host)]
    host: IpAddr,

    /// Port to listen on; 0 picks a free one (the log says which)
    #[arg(short, long)]
    port: Option<u16>,

    #[command(flatten)]
    grace: crate::shutdown::Grace,
}

/// Parses the command line of the example `name`: `--help` prints the
/// flags and exits 0, a bad argument says why and exits 2.
pub fn server_options(name: &'static str, default_port: u16) -> (SocketAddr, Duration) {
    // The name and the port's default are each example's own.
    let command = ServerArgs::command().name(name).mut_arg("port", |port| {
        let help = port.get_help().map(ToString::to_string).unwrap_or_default();
        port.help(format!("{help} [default: {default_port}]"))
    });
    let args = ServerArgs::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit());
    let port = args.port.unwrap_or(default_port);
    (SocketAddr::new(args.host, port), args.grace.grace)
}
