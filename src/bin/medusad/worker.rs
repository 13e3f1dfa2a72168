//! The worker's side of the master/worker contract.
//!
//! The master starts each worker as a fresh execution of its own binary
//! (see `prefork`) with [`WORKER_ENV`] set to the master's pid; the worker
//! reads and removes it with [`Worker::from_env`], then calls
//! [`Worker::die_with_master`] before serving.

use std::io;
use std::os::fd::RawFd;

use crate::activation;
use crate::listening::{self, Listener};

/// Set by the master in each worker's environment: the master's pid.
pub const WORKER_ENV: &str = "MEDUSAD_WORKER";

/// Set by the master: the numbers, comma-separated, of the listening
/// sockets it shares with its workers (bound itself, or inherited by
/// socket activation), which workers inherit under those numbers.
pub const LISTEN_FD_ENV: &str = "MEDUSAD_LISTEN_FD";

/// Exit status of a worker that could not start serving (bind error, bad
/// `--root`...). The master treats it as fatal for the first worker of a
/// slot (the configuration is wrong: better to fail loudly) and as one
/// more crash, with backoff, for a replacement.
pub const STARTUP_FAILED: u8 = 3;

/// This process as a worker of a master.
#[derive(Debug, PartialEq, Eq)]
pub struct Worker {
    /// The master's pid.
    pub master: u32,
    /// The shared listening descriptors, until taken (`None` if the
    /// variable was missing or not a list of numbers).
    listen_fds: Option<Vec<RawFd>>,
}

impl Worker {
    /// `Some` if this process was started by a master as a worker. Removes
    /// the variable, so that nothing this process starts mistakes itself
    /// for a worker.
    pub fn from_env() -> Option<Worker> {
        let value = std::env::var(WORKER_ENV).ok()?;
        let listen_fd = std::env::var(LISTEN_FD_ENV).ok();
        // Still single-threaded here (called first thing in main), which
        // is what makes changing the environment safe.
        std::env::remove_var(WORKER_ENV);
        std::env::remove_var(LISTEN_FD_ENV);
        let master = value.parse().ok()?;
        let listen_fds = listen_fd.and_then(|fds| listening::parse_fds(&fds));
        Some(Worker { master, listen_fds })
    }

    /// The listening sockets the master shares with its workers. An error
    /// if the master passed none (or on a second call).
    pub fn shared_listeners(&mut self) -> io::Result<Vec<Listener>> {
        let Some(fds) = self.listen_fds.take().filter(|fds| !fds.is_empty()) else {
            return Err(io::Error::other(format!(
                "no listening socket from the master ({LISTEN_FD_ENV} unset, bad or taken)"
            )));
        };
        fds.into_iter()
            .map(|fd| {
                // SAFETY: the master set LISTEN_FD_ENV to the numbers of the
                // listening sockets it holds without close-on-exec for its
                // workers (`Listening::share`), so this fresh process has
                // them open; nothing else in the process claims them, the
                // numbers are distinct (`from_env`), and `take` above makes
                // this the only time each is wrapped.
                unsafe { activation::inherited(fd) }
            })
            .collect()
    }

    /// Arranges for this process to get SIGTERM when the master dies, even
    /// by SIGKILL, so that workers never outlive it (they would keep the
    /// port with nobody to stop or restart them). Then checks that the
    /// master is still our parent: it may have died before the request,
    /// and the signal would never come.
    ///
    /// On Linux the kernel sends the signal (`PR_SET_PDEATHSIG`). Elsewhere
    /// a thread polls the parent's pid every `MASTER_POLL` and sends the
    /// same SIGTERM when it changes (an orphan is re-parented).
    pub fn die_with_master(&self) -> io::Result<()> {
        sigterm_when_parent_dies(self.master)?;
        if std::os::unix::process::parent_id() != self.master {
            return Err(io::Error::other(
                "the master exited before this worker started",
            ));
        }
        Ok(())
    }
}

/// How often a worker without `PR_SET_PDEATHSIG` checks that the master is
/// still its parent: the longest a worker can outlive a killed master
/// before its graceful shutdown begins.
#[cfg(not(target_os = "linux"))]
pub const MASTER_POLL: std::time::Duration = std::time::Duration::from_millis(500);

#[cfg(target_os = "linux")]
fn sigterm_when_parent_dies(_master: u32) -> io::Result<()> {
    // SAFETY: prctl(PR_SET_PDEATHSIG, sig) takes two integers and
    // touches no memory of ours; the extra arguments are unused by
    // this option and passed as 0 as the man page asks.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGTERM as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The portable fallback: a thread that only sleeps and asks for the
/// parent's pid (no shared state with the reactor); the signal reaches the
/// reactor's handler like the master's own SIGTERM would.
#[cfg(not(target_os = "linux"))]
fn sigterm_when_parent_dies(master: u32) -> io::Result<()> {
    if std::os::unix::process::parent_id() != master {
        // Already orphaned: `die_with_master` says so.
        return Ok(());
    }
    std::thread::Builder::new()
        .name("master-watch".to_string())
        .spawn(move || {
            while std::os::unix::process::parent_id() == master {
                std::thread::sleep(MASTER_POLL);
            }
            log::warn!("worker: the master {master} is gone; stopping");
            if let Err(e) = signal_hook::low_level::raise(signal_hook::consts::SIGTERM) {
                log::error!("worker: cannot signal itself: {e}");
            }
        })?;
    Ok(())
}
