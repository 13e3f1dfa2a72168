//! The master of `medusad --workers N`: starts N workers, restarts those
//! that die, relays SIGTERM/SIGINT (and SIGHUP, SIGUSR1), and exits when
//! all have stopped.
//!
//! Workers are started by executing the program again (`Command`), not by
//! `fork()`: a forked child of a process that has threads may only call
//! async-signal-safe functions until it execs, which Rust code cannot
//! promise (the allocator, `log`, a lock held by another thread at the
//! moment of the fork). A fresh exec is a clean process, costs a few
//! milliseconds per start, and needs no `unsafe`.
//!
//! The master does no network I/O. Its loop sleeps in `poll` on a signal
//! pipe (SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1), with a timeout for the
//! next restart.

use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook_mio::v1_0::Signals;

use crate::backoff::Backoff;
use crate::listening::Listening;
use crate::worker::{STARTUP_FAILED, WORKER_ENV};

/// How the master ended.
#[derive(Debug, PartialEq, Eq)]
pub enum MasterExit {
    /// Stopped by SIGTERM/SIGINT; every worker exited cleanly.
    Stopped,
    /// Stopped by a signal, but some worker did not exit cleanly (killed,
    /// or a failure status); the log says which.
    Unclean,
    /// A first worker could not start (its error is on stderr); the others
    /// were stopped.
    StartFailed,
}

/// One worker position: its current process, or when to start the next.
struct Slot {
    child: Option<Child>,
    started: Instant,
    /// Processes started in this slot so far.
    starts: u32,
    restart_at: Option<Instant>,
    backoff: Backoff,
}

/// The master process. `command` builds the command line of one worker;
/// the master adds [`WORKER_ENV`] (and the socket it shares, see
/// [`sharing`](Master::sharing)) and puts the worker in its own process
/// group, so a terminal's Ctrl-C reaches the master alone and each worker
/// gets exactly one SIGTERM or SIGINT, the relayed one (a second signal
/// makes a reactor stop at once instead of gracefully).
pub struct Master<F> {
    command: F,
    listening: Option<Listening>,
    slots: Vec<Slot>,
    stopping: bool,
    outcome: MasterExit,
}

impl<F: FnMut() -> Command> Master<F> {
    /// A master for `workers` workers (at least one), restarting them with
    /// `backoff`.
    pub fn new(workers: usize, backoff: Backoff, command: F) -> Master<F> {
        let slots = (0..workers.max(1))
            .map(|_| Slot {
                child: None,
                started: Instant::now(),
                starts: 0,
                restart_at: Some(Instant::now()),
                backoff: backoff.clone(),
            })
            .collect();
        Master {
            command,
            listening: None,
            slots,
            stopping: false,
            outcome: MasterExit::Stopped,
        }
    }

    /// Gives every worker `listening` to accept on. The master holds it
    /// until it stops, so the port stays taken while workers restart; then
    /// it closes its copy, so that once the workers have closed theirs
    /// (they stop accepting) the socket is gone: queued connections are
    /// reset and new ones refused, instead of waiting in a queue that no
    /// one will accept from until the master exits.
    pub fn sharing(mut self, listening: Listening) -> Master<F> {
        self.listening = Some(listening);
        self
    }

    /// Runs until stopped by SIGTERM/SIGINT (or a failed start) and every
    /// worker has exited.
    pub fn run(mut self) -> io::Result<MasterExit> {
        let mut poll = Poll::new()?;
        // Before the first worker exists: a SIGTERM from now on is relayed,
        // never the default action (which would leave workers behind).
        let mut signals = Signals::new([SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1])?;
        poll.registry()
            .register(&mut signals, Token(0), Interest::READABLE)?;
        let mut events = Events::with_capacity(4);
        loop {
            // SIGCHLD only wakes us; the children are asked one by one, so
            // several deaths in one signal are all seen.
            for index in 0..self.slots.len() {
                self.reap(index);
            }
            if self.stopping && self.slots.iter().all(|s| s.child.is_none()) {
                return Ok(self.outcome);
            }
            let now = Instant::now();
            for index in 0..self.slots.len() {
                if self.slots[index].restart_at.is_some_and(|at| at <= now) {
                    self.start(index);
                }
            }
            let timeout = self
                .slots
                .iter()
                .filter_map(|s| s.restart_at)
                .min()
                .map(|at| at.saturating_duration_since(Instant::now()));
            match poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            for signal in signals.pending() {
                if signal == SIGTERM || signal == SIGINT {
                    log::info!("master: signal {signal}: stopping the workers");
                    self.stop(signal);
                } else if signal == SIGHUP || signal == SIGUSR1 {
                    // The workers reload (SIGHUP: their TLS files and
                    // endpoints) or reopen the access log file they write
                    // (SIGUSR1, after a rotation). The master itself holds
                    // nothing to reload and writes no file: its log is
                    // stderr.
                    let name = if signal == SIGHUP {
                        "SIGHUP"
                    } else {
                        "SIGUSR1"
                    };
                    log::info!("master: {name}: relayed to the workers");
                    for child in self.slots.iter().filter_map(|s| s.child.as_ref()) {
                        send_signal(child, signal);
                    }
                }
            }
        }
    }

    /// Starts the worker of slot `index`.
    fn start(&mut self, index: usize) {
        let slot = &mut self.slots[index];
        slot.restart_at = None;
        slot.starts += 1;
        // Spawned from the master's only thread: on Linux a worker's
        // parent-death signal (`worker::Worker::die_with_master`) fires when
        // the thread that created it ends, so that must be the thread that
        // lives as long as the master.
        let mut command = (self.command)();
        command
            .env(WORKER_ENV, std::process::id().to_string())
            .process_group(0);
        if let Some(listening) = &self.listening {
            listening.configure(&mut command, index);
        }
        match command.spawn() {
            Ok(child) => {
                log::info!("master: worker {} started (slot {index})", child.id());
                slot.child = Some(child);
                slot.started = Instant::now();
            }
            Err(e) if slot.starts == 1 => {
                log::error!("master: cannot start a worker: {e}");
                self.fail();
            }
            Err(e) => {
                let delay = slot.backoff.next_delay(Duration::ZERO);
                log::error!("master: cannot start a worker: {e}; retrying in {delay:?}");
                slot.restart_at = Some(Instant::now() + delay);
            }
        }
    }

    /// Collects slot `index`'s worker if it exited, and schedules its
    /// replacement unless stopping.
    fn reap(&mut self, index: usize) {
        let slot = &mut self.slots[index];
        let Some(child) = slot.child.as_mut() else {
            return;
        };
        let status = match child.try_wait() {
            Ok(Some(status)) => status,
            Ok(None) => return,
            Err(e) => {
                log::error!("master: waiting for worker {}: {e}", child.id());
                return;
            }
        };
        let pid = child.id();
        slot.child = None;
        if self.stopping {
            // Killed by the relayed signal itself: it had not yet set up its
            // handler, so it had taken no connection either.
            let relayed = matches!(status.signal(), Some(SIGTERM | SIGINT));
            if status.success() || relayed {
                log::info!("master: worker {pid} stopped");
            } else {
                log::warn!("master: worker {pid} stopped: {}", describe(status));
                if self.outcome == MasterExit::Stopped {
                    self.outcome = MasterExit::Unclean;
                }
            }
            return;
        }
        let start_failed = status.code() == Some(i32::from(STARTUP_FAILED));
        if start_failed && slot.starts == 1 {
            log::error!("master: worker {pid} could not start; stopping");
            return self.fail();
        }
        let delay = slot.backoff.next_delay(slot.started.elapsed());
        log::warn!(
            "master: worker {pid} {}; restarting it in {delay:?}",
            if start_failed {
                "could not start".to_string()
            } else {
                describe(status)
            }
        );
        slot.restart_at = Some(Instant::now() + delay);
    }

    /// Stops everything because the configuration cannot work.
    fn fail(&mut self) {
        self.outcome = MasterExit::StartFailed;
        self.stop(SIGTERM);
    }

    /// Relays `signal` to every worker and cancels pending restarts.
    fn stop(&mut self, signal: i32) {
        self.stopping = true;
        // No worker starts from now on (see `sharing`).
        self.listening = None;
        for slot in &mut self.slots {
            slot.restart_at = None;
            if let Some(child) = &slot.child {
                send_signal(child, signal);
            }
        }
    }
}

fn send_signal(child: &Child, signal: i32) {
    let Ok(pid) = libc::pid_t::try_from(child.id()) else {
        return;
    };
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    // The pid is our own unreaped child (it is reaped only in `reap`,
    // which clears the slot), so it cannot have been reused by another
    // process.
    let rc = unsafe { libc::kill(pid, signal) };
    if rc != 0 {
        log::warn!(
            "master: signalling worker {pid}: {}",
            io::Error::last_os_error()
        );
    }
}

/// "exited with status 1", "was killed by signal 9".
fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        _ => format!("ended: {status}"),
    }
}
