//! SIGUSR2: replacing the binary without refusing a connection, as nginx
//! and unicorn do it.
//!
//! The master (`--workers`) starts a new master from the binary on disk,
//! with the same arguments, handing it its listening sockets (they are
//! inherited: the master keeps them without close-on-exec for its
//! workers) under the numbers named in [`SHARED_ENV`] and [`OWN_ENV`].
//! The new master serves them instead of binding, starts its workers, and
//! says `READY=1` once they all are, over systemd's readiness protocol:
//! the old master is its service manager for the moment, listening on a
//! [`Relay`] named in its `NOTIFY_SOCKET`. Then the old master stops its
//! own workers gracefully (they finish what they started; the sockets'
//! queues belong to the sockets, which the new workers accept from) and
//! exits. A new master that exits first, or is not ready within
//! [`READY_WITHIN`], is a failed upgrade: the old one keeps serving.

use std::io;
use std::os::fd::RawFd;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::activation;
use crate::listening::{self, Listener, Listening};
use crate::notify::Relay;

/// Set by the old master for the new one: the shared listening sockets'
/// descriptors, comma-separated.
pub const SHARED_ENV: &str = "MEDUSAD_UPGRADE_SHARED";
/// Likewise the per-worker sockets of `--reuseport`, in slot order.
pub const OWN_ENV: &str = "MEDUSAD_UPGRADE_OWN";

/// How long the new master has to start its workers and say so.
pub const READY_WITHIN: Duration = Duration::from_secs(60);

/// The sockets an old master handed down, if this process is a new master
/// started by an upgrade: (shared, per worker). Reads and removes the
/// variables; call it while single-threaded.
pub fn handed_down() -> io::Result<Option<(Vec<Listener>, Vec<Listener>)>> {
    let shared = std::env::var(SHARED_ENV).ok();
    let own = std::env::var(OWN_ENV).ok();
    std::env::remove_var(SHARED_ENV);
    std::env::remove_var(OWN_ENV);
    let Some(shared) = shared else {
        return Ok(None);
    };
    let bad = || io::Error::other(format!("{SHARED_ENV}/{OWN_ENV}: not a list of descriptors"));
    let shared = listening::parse_fds(&shared).ok_or_else(bad)?;
    let own = listening::parse_fds(own.as_deref().unwrap_or("")).ok_or_else(bad)?;
    if !listening::distinct(&[shared.as_slice(), own.as_slice()].concat()) {
        return Err(io::Error::other(format!(
            "{SHARED_ENV}/{OWN_ENV}: a descriptor named twice"
        )));
    }
    let take = |fds: Vec<RawFd>| -> io::Result<Vec<Listener>> {
        fds.into_iter()
            // SAFETY: the old master named these descriptors: the
            // listening sockets it holds without close-on-exec
            // (`Listening::share`), so this process, its child, has them
            // open under those numbers; the variables were removed above,
            // so nothing else here takes them, and no number is named
            // twice (checked above).
            .map(|fd| unsafe { activation::inherited(fd) })
            .collect()
    };
    Ok(Some((take(shared)?, take(own)?)))
}

/// An upgrade under way, seen from the old master.
pub struct Upgrade {
    child: Child,
    relay: Relay,
    deadline: Instant,
}

/// Where an upgrade stands.
pub enum Progress {
    Waiting,
    /// The new master and its workers serve.
    Ready(u32),
    /// It will not: why. The old master keeps serving.
    Failed(String),
}

impl Upgrade {
    /// Starts `binary` (the path the running binary was started from,
    /// where a new version may have been put) with `args`, handing it
    /// `listening`.
    pub fn start(
        binary: &Path,
        args: &[std::ffi::OsString],
        listening: &Listening,
    ) -> io::Result<Upgrade> {
        let relay = Relay::bind()?;
        let (shared, own) = listening.descriptors();
        let mut command = Command::new(binary);
        command
            .args(args)
            .env(SHARED_ENV, shared)
            .env(OWN_ENV, own)
            // (WATCHDOG_USEC and WATCHDOG_PID left this process's
            // environment at its start: `Notifier::from_env`.)
            .env("NOTIFY_SOCKET", &relay.name);
        let child = command.spawn()?;
        Ok(Upgrade {
            child,
            relay,
            deadline: Instant::now() + READY_WITHIN,
        })
    }

    /// The new master's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Looks at the new master: ready, gone, late, or not yet.
    pub fn progress(&mut self) -> Progress {
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.relay.socket.recv(&mut buf) {
            let datagram = buf.get(..n).unwrap_or_default();
            if datagram
                .split(|&b| b == b'\n')
                .any(|line| line == b"READY=1")
            {
                return Progress::Ready(self.child.id());
            }
        }
        match self.child.try_wait() {
            Ok(Some(status)) => {
                return Progress::Failed(format!(
                    "the new master exited ({status}) before it was ready"
                ))
            }
            Ok(None) => {}
            Err(e) => return Progress::Failed(format!("cannot wait for the new master: {e}")),
        }
        if Instant::now() >= self.deadline {
            let _ = self.child.kill();
            let _ = self.child.wait();
            return Progress::Failed(format!(
                "the new master was not ready within {READY_WITHIN:?}: killed"
            ));
        }
        Progress::Waiting
    }
}

/// In a serving process (one medusad without a master, or a worker):
/// SIGUSR2 is caught and ignored with a line in the log, rather than
/// having its default action (the end of the process). An upgrade is the
/// master's.
pub struct NotHere {
    signals: signal_hook_mio::v1_0::Signals,
}

impl NotHere {
    pub fn new() -> io::Result<NotHere> {
        Ok(NotHere {
            signals: signal_hook_mio::v1_0::Signals::new([signal_hook::consts::SIGUSR2])?,
        })
    }
}

impl medusa::reactor::Dispatcher for NotHere {
    fn source(&mut self) -> Option<&mut dyn mio::event::Source> {
        Some(&mut self.signals)
    }

    fn handle_read(&mut self, _cx: &mut medusa::reactor::Context<'_>) -> io::Result<()> {
        if self.signals.pending().count() > 0 {
            log::warn!(
                "SIGUSR2: ignored: a binary upgrade is done by the master of medusad --workers N"
            );
        }
        Ok(())
    }

    fn handle_shutdown(&mut self, cx: &mut medusa::reactor::Context<'_>) {
        cx.close();
    }
}
