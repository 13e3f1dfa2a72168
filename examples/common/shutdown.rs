//! How an example server stops: `--grace SECONDS`, the time allowed to
//! finish on SIGINT/SIGTERM (default 5); [`run_to_exit`], which runs
//! the loop and then says how it ended, with the exit status to match; and
//! [`main_exit`], which says why a server could not run (its port taken).
//! The log lines are medusad's (`src/bin/medusad/main.rs`), so a server's
//! log reads the same whichever program it is. Included by each example
//! with `#[path = "common/shutdown.rs"] mod shutdown;` (`args.rs` needs it
//! too).

use std::io;
use std::process::ExitCode;
use std::time::Duration;

use medusa::reactor::Reactor;

/// The `--grace` flag, for a program's own clap options to flatten.
#[derive(clap::Args)]
pub struct Grace {
    /// On SIGINT/SIGTERM, time allowed to finish
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = seconds)]
    pub grace: Duration,
}

/// Runs `reactor` until its socket map is empty (after SIGINT/SIGTERM, if
/// [`Reactor::catch_signals`] was called with `grace`), then logs as
/// `name` how the run ended: every connection closed by itself is exit
/// status 0; some closed by force (a second signal, or `grace` over) is
/// "forced shutdown" with how many, and 1, so that whoever stopped the
/// server can tell replies were cut off.
pub fn run_to_exit(name: &str, reactor: &mut Reactor) -> io::Result<ExitCode> {
    reactor.run()?;
    let Some(forced) = reactor.forced_shutdown() else {
        log::info!("{name}: all connections closed, exiting");
        return Ok(ExitCode::SUCCESS);
    };
    log::error!("{name}: {forced}, exiting");
    Ok(ExitCode::FAILURE)
}

/// Runs `serve`, the body of the program `name`'s `main`, and returns
/// its exit status; an error (the port already taken, say) is printed as
/// one line, `NAME: cannot listen on 127.0.0.1:8182: address already in
/// use`, and is status 1, a failure at run time (clap's 2 means usage).
/// `main` returning the `io::Result` itself would print its Debug form.
pub fn main_exit(name: &str, serve: impl FnOnce() -> io::Result<ExitCode>) -> ExitCode {
    serve().unwrap_or_else(|e| {
        eprintln!("{name}: {e}");
        ExitCode::FAILURE
    })
}

/// Seconds, fractions allowed, not negative.
fn seconds(value: &str) -> Result<Duration, String> {
    let seconds: f64 = value.parse().map_err(|_| "not a number".to_string())?;
    Duration::try_from_secs_f64(seconds).map_err(|_| "not a finite number >= 0".to_string())
}
