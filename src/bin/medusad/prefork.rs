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

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook_mio::v1_0::Signals;

use crate::backoff::Backoff;
use crate::listening::Listening;
use crate::notify::{Notifier, Relay, WorkerMessage};
use crate::upgrade::{Progress, Upgrade};
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
    /// Replaced by a new master (SIGUSR2, `upgrade`), which serves now;
    /// every old worker exited cleanly.
    Upgraded,
}

/// One worker position: its current process, or when to start the next.
struct Slot {
    child: Option<Child>,
    started: Instant,
    /// Processes started in this slot so far.
    starts: u32,
    restart_at: Option<Instant>,
    backoff: Backoff,
    /// Its worker said `READY=1` (see [`Master::notifying`]).
    ready: bool,
    /// Its worker's last `WATCHDOG=1`, or its start.
    pinged: Instant,
    /// Its worker was told to finish so that a fresh one (with the
    /// configuration as it is now) takes its place (SIGHUP).
    recycled: bool,
}

/// The master's side of systemd's readiness protocol, see
/// [`Master::notifying`].
struct Notifying {
    notifier: Notifier,
    /// Where the workers' messages come; `None` where it cannot be made
    /// (then a worker counts as ready, and alive, once started).
    relay: Option<Relay>,
    ready_sent: bool,
    next_ping: Option<Instant>,
    /// A worker was late with its ping at the last check (said once).
    stalled: bool,
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
    notifying: Option<Notifying>,
    /// SIGUSR2: the binary and arguments a new master is started with.
    upgrade_with: Option<(PathBuf, Vec<OsString>)>,
    /// A new master starting.
    upgrade: Option<Upgrade>,
    /// SIGHUP with a configuration file: checks what a new worker would
    /// read (`Err`: why it would not start).
    check_config: Option<Box<dyn Fn() -> Result<(), String>>>,
    /// Slots whose workers are still to be recycled, one at a time.
    to_recycle: VecDeque<usize>,
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
                ready: false,
                pinged: Instant::now(),
                recycled: false,
            })
            .collect();
        Master {
            command,
            listening: None,
            slots,
            stopping: false,
            outcome: MasterExit::Stopped,
            notifying: None,
            upgrade_with: None,
            upgrade: None,
            check_config: None,
            to_recycle: VecDeque::new(),
        }
    }

    /// On SIGHUP, runs `check` (what a new worker would read: the command
    /// line and the `--config` file); if it passes, recycles the workers
    /// one at a time, each finishing its requests while the others serve,
    /// and each replaced by a fresh one that reads the file as it is now
    /// (its `[server]` keys included; the listening addresses and the
    /// number of workers are the master's and need a restart). If it
    /// fails, the error is logged and the workers keep running. Without
    /// it, SIGHUP is relayed to the workers (they reload their TLS files
    /// in place).
    pub fn reloading(mut self, check: impl Fn() -> Result<(), String> + 'static) -> Master<F> {
        self.check_config = Some(Box::new(check));
        self
    }

    /// On SIGUSR2, starts `binary` with `args` as a new master, hands it
    /// the listening sockets, and once it says it is ready stops the old
    /// workers and returns [`MasterExit::Upgraded`] (see `upgrade`).
    pub fn upgrading(mut self, binary: PathBuf, args: Vec<OsString>) -> Master<F> {
        self.upgrade_with = Some((binary, args));
        self
    }

    /// Tells systemd (`notifier`) about the service as a whole: `READY=1`
    /// once every worker of the first generation has said it is ready,
    /// `STOPPING=1` when stopping, and, with a watchdog interval,
    /// `WATCHDOG=1` every half interval as long as every running worker
    /// has pinged within the interval. The workers speak the same protocol
    /// to the master (their `NOTIFY_SOCKET` names its [`Relay`]), each
    /// from its own event loop: one frozen worker stops the master's pings,
    /// and systemd restarts the service.
    pub fn notifying(mut self, notifier: Notifier) -> Master<F> {
        let relay = match Relay::bind() {
            Ok(relay) => Some(relay),
            Err(e) => {
                log::warn!("master: no socket for the workers' readiness ({e}): a worker counts as ready once started");
                None
            }
        };
        self.notifying = Some(Notifying {
            next_ping: notifier.watchdog().map(|_| Instant::now()),
            notifier,
            relay,
            ready_sent: false,
            stalled: false,
        });
        self
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
        let mut signals = Signals::new([SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2])?;
        poll.registry()
            .register(&mut signals, Token(0), Interest::READABLE)?;
        if let Some(relay) = self.notifying.as_mut().and_then(|n| n.relay.as_mut()) {
            poll.registry()
                .register(&mut relay.socket, RELAY, Interest::READABLE)?;
        }
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
            self.tell_systemd();
            self.follow_upgrade();
            self.recycle_next();
            let next_ping = self.notifying.as_ref().and_then(|n| n.next_ping);
            // While a new master starts, look at it every 50 ms.
            let upgrading = self
                .upgrade
                .as_ref()
                .map(|_| Instant::now() + Duration::from_millis(50));
            let timeout = self
                .slots
                .iter()
                .filter_map(|s| s.restart_at)
                .chain(next_ping)
                .chain(upgrading)
                .min()
                .map(|at| at.saturating_duration_since(Instant::now()));
            match poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            self.read_workers_messages();
            for signal in signals.pending() {
                if signal == SIGTERM || signal == SIGINT {
                    log::info!("master: signal {signal}: stopping the workers");
                    self.stop(signal);
                } else if signal == SIGUSR2 {
                    self.start_upgrade();
                } else if signal == SIGHUP && self.check_config.is_some() {
                    self.start_recycling();
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

    /// SIGHUP with a configuration file: checks it, then queues every
    /// worker for recycling (see [`Master::reloading`]).
    fn start_recycling(&mut self) {
        let Some(check) = &self.check_config else {
            return;
        };
        if self.stopping {
            return;
        }
        match check() {
            Err(e) => log::error!("master: SIGHUP: {e}; keeping the workers that are running"),
            Ok(()) => {
                log::info!(
                    "master: SIGHUP: configuration checked: recycling the {} workers one at a time",
                    self.slots.len()
                );
                self.to_recycle = (0..self.slots.len()).collect();
            }
        }
    }

    /// Tells the next worker to finish once the one recycled before it
    /// has a ready replacement.
    fn recycle_next(&mut self) {
        if self.stopping {
            self.to_recycle.clear();
            return;
        }
        let busy = self
            .slots
            .iter()
            .any(|s| s.recycled || s.restart_at.is_some() || (s.child.is_some() && !s.ready));
        if busy {
            return;
        }
        let Some(index) = self.to_recycle.pop_front() else {
            return;
        };
        let slot = &mut self.slots[index];
        if let Some(child) = &slot.child {
            log::info!("master: recycling worker {} (slot {index})", child.id());
            slot.recycled = true;
            send_signal(child, SIGTERM);
        }
    }

    /// SIGUSR2: starts a new master, unless stopping or already upgrading.
    fn start_upgrade(&mut self) {
        let (Some((binary, args)), Some(listening)) = (&self.upgrade_with, &self.listening) else {
            log::warn!("master: SIGUSR2: stopping, no upgrade now");
            return;
        };
        if let Some(upgrade) = &self.upgrade {
            log::warn!(
                "master: SIGUSR2: an upgrade is under way already (new master {})",
                upgrade.pid()
            );
            return;
        }
        match Upgrade::start(binary, args, listening) {
            Ok(upgrade) => {
                log::info!(
                    "master: SIGUSR2: new master {} started from {}",
                    upgrade.pid(),
                    binary.display()
                );
                self.upgrade = Some(upgrade);
            }
            Err(e) => log::error!("master: SIGUSR2: cannot start a new master: {e}; still serving"),
        }
    }

    /// Hands over to a new master once it is ready; keeps serving if it
    /// fails.
    fn follow_upgrade(&mut self) {
        let Some(upgrade) = self.upgrade.as_mut() else {
            return;
        };
        match upgrade.progress() {
            Progress::Waiting => {}
            Progress::Ready(pid) => {
                log::info!("master: new master {pid} is ready: stopping the old workers");
                // Dropped, not waited for: it outlives this process.
                self.upgrade = None;
                self.stop(SIGTERM);
                self.outcome = MasterExit::Upgraded;
            }
            Progress::Failed(why) => {
                log::error!("master: upgrade failed: {why}; the old master keeps serving");
                self.upgrade = None;
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
        let relay = self.notifying.as_ref().and_then(|n| {
            let relay = n.relay.as_ref()?;
            command.env("NOTIFY_SOCKET", &relay.name);
            if let Some(interval) = n.notifier.watchdog() {
                command.env("WATCHDOG_USEC", interval.as_micros().to_string());
            }
            Some(())
        });
        match command.spawn() {
            Ok(child) => {
                log::info!("master: worker {} started (slot {index})", child.id());
                slot.child = Some(child);
                slot.started = Instant::now();
                slot.pinged = slot.started;
                // Without the relay, nothing will say more.
                slot.ready = relay.is_none();
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
        if std::mem::take(&mut slot.recycled) && status.success() {
            log::info!("master: worker {pid} recycled; starting a fresh one");
            slot.restart_at = Some(Instant::now());
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

    /// The workers' datagrams: who is ready, who pinged.
    fn read_workers_messages(&mut self) {
        let Some(relay) = self.notifying.as_ref().and_then(|n| n.relay.as_ref()) else {
            return;
        };
        let mut datagram = [0u8; 512];
        loop {
            let n = match relay.socket.recv(&mut datagram) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    log::warn!("master: reading the workers' messages: {e}");
                    return;
                }
            };
            // Anything else (not from a worker of ours) is ignored.
            let Some(message) = WorkerMessage::parse(&datagram[..n]) else {
                continue;
            };
            let slot = self
                .slots
                .iter_mut()
                .find(|s| s.child.as_ref().is_some_and(|c| c.id() == message.pid));
            if let Some(slot) = slot {
                slot.ready |= message.ready;
                if message.watchdog {
                    slot.pinged = Instant::now();
                }
            }
        }
    }

    /// `READY=1` once every worker is ready; `WATCHDOG=1` when due and
    /// every running worker pinged within the interval.
    fn tell_systemd(&mut self) {
        let Some(notifying) = self.notifying.as_mut() else {
            return;
        };
        if self.stopping {
            return;
        }
        let all_ready = self.slots.iter().all(|s| s.child.is_some() && s.ready);
        if !notifying.ready_sent && all_ready {
            notifying.ready_sent = true;
            log::info!("master: all {} workers ready", self.slots.len());
            notifying.notifier.ready();
        }
        let (Some(interval), Some(due)) = (notifying.notifier.watchdog(), notifying.next_ping)
        else {
            return;
        };
        let now = Instant::now();
        if now < due {
            return;
        }
        notifying.next_ping = Some(now + interval / 2);
        let late = self
            .slots
            .iter()
            .filter(|s| s.child.is_some() && now.duration_since(s.pinged) >= interval)
            .find_map(|s| s.child.as_ref().map(Child::id));
        match late {
            None => {
                notifying.stalled = false;
                notifying.notifier.notify("WATCHDOG=1");
            }
            Some(pid) if !notifying.stalled => {
                notifying.stalled = true;
                log::error!(
                    "master: worker {pid} has not pinged for {interval:?}: no watchdog ping to systemd"
                );
            }
            Some(_) => {}
        }
    }

    /// Relays `signal` to every worker and cancels pending restarts.
    fn stop(&mut self, signal: i32) {
        if !self.stopping {
            if let Some(notifying) = &self.notifying {
                notifying.notifier.notify("STOPPING=1");
            }
        }
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

/// The workers' messages in the master's poll (signals are `Token(0)`).
const RELAY: Token = Token(1);

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
