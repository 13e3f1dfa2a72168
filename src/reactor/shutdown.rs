//! Graceful shutdown: SIGINT/SIGTERM as loop events, `handle_shutdown`, then force-close.
//!
//! asyncore's `close_all()` closed every socket at once. A server owes its
//! clients the replies already under way, so [`Reactor::shutdown`] asks every
//! dispatcher to wind down (`handle_shutdown`: listeners stop accepting,
//! channels finish their output) and closes by force whatever is still open
//! when the grace period ends. [`Reactor::catch_signals`] makes SIGINT and
//! SIGTERM start that from inside the loop (nothing runs in the signal
//! handler but a pipe write); a second signal closes everything at once.
//! [`Reactor::forced_shutdown`] tells afterwards whether anything had to
//! be closed by force, so a program can say so in its exit status.

use std::io;
use std::time::{Duration, Instant};

use mio::Interest;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use super::socket_map::SIGNALS;
use super::Reactor;

/// A graceful shutdown cut short: what [`Reactor::forced_shutdown`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForcedShutdown {
    /// What ended the grace period.
    pub cause: ForceCause,
    /// Dispatchers still open then, closed by force (for a server, the
    /// connections whose requests or replies were cut off).
    pub closed: usize,
    /// The grace period the shutdown had.
    pub grace: Duration,
}

/// The log line's words: `forced shutdown (signal 15 during the shutdown):
/// 2 connection(s) dropped`, or `(--grace 5s over)`: the flag every server
/// here takes, named so an operator knows what to raise.
impl std::fmt::Display for ForcedShutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.cause {
            ForceCause::Signal(signal) => {
                write!(f, "forced shutdown (signal {signal} during the shutdown)")?
            }
            ForceCause::GraceExpired => {
                write!(f, "forced shutdown (--grace {:?} over)", self.grace)?
            }
        }
        write!(f, ": {} connection(s) dropped", self.closed)
    }
}

/// Why a graceful shutdown was cut short.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForceCause {
    /// A second SIGINT/SIGTERM (this one) during the shutdown.
    Signal(i32),
    /// The grace period ran out.
    GraceExpired,
}

impl Reactor {
    /// Whether a graceful shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.core.shutdown_deadline.is_some()
    }

    /// The last SIGINT/SIGTERM caught, if any.
    pub fn last_signal(&self) -> Option<i32> {
        self.last_signal
    }

    /// `Some` once a graceful shutdown had to close dispatchers by force (a
    /// second signal, or the grace period over with some still open);
    /// `None` while every one closed by itself. Ask after
    /// [`run`](Reactor::run) returns: "all connections closed" is true only
    /// if this is `None`.
    pub fn forced_shutdown(&self) -> Option<ForcedShutdown> {
        self.forced
    }

    /// Begins a graceful shutdown: every dispatcher's `handle_shutdown` is
    /// called (listeners stop accepting, channels finish their output), and
    /// whatever is still open after `grace` is closed by force. `run` then
    /// returns because the socket map is empty.
    pub fn shutdown(&mut self, grace: Duration) {
        if self.core.shutdown_deadline.is_some() {
            return;
        }
        self.core.shutdown_deadline = Some(Instant::now() + grace);
        // The one this shutdown has, for `ForcedShutdown` to report.
        self.shutdown_grace = grace;
        for token in self.core.live_tokens() {
            self.core.dispatch(token, |d, cx| {
                d.handle_shutdown(cx);
                Ok(())
            });
        }
    }

    /// Delivers SIGINT and SIGTERM as loop events: the first starts
    /// [`shutdown(grace)`](Reactor::shutdown), a second closes everything
    /// at once.
    pub fn catch_signals(&mut self, grace: Duration) -> io::Result<()> {
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        self.poll
            .registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        self.signals = Some(signals);
        self.shutdown_grace = grace;
        Ok(())
    }

    pub(super) fn handle_signals(&mut self) {
        let caught: Vec<i32> = match self.signals.as_mut() {
            Some(signals) => signals.pending().collect(),
            None => return,
        };
        for signal in caught {
            self.last_signal = Some(signal);
            if self.is_shutting_down() {
                log::warn!("signal {signal} during shutdown: closing everything now");
                self.force_close(ForceCause::Signal(signal));
            } else {
                log::info!("signal {signal}: shutting down gracefully");
                self.shutdown(self.shutdown_grace);
            }
        }
    }

    pub(super) fn enforce_shutdown_deadline(&mut self) {
        if let Some(deadline) = self.core.shutdown_deadline {
            if Instant::now() >= deadline && self.core.live > 0 {
                log::warn!(
                    "shutdown grace period over: closing {} dispatcher(s)",
                    self.core.live
                );
                self.force_close(ForceCause::GraceExpired);
            }
        }
    }

    /// Closes every dispatcher now, and records it if any was still open
    /// (the first cause is kept; a later signal adds what it closed).
    fn force_close(&mut self, cause: ForceCause) {
        let closed = self.core.live;
        self.core.close_all();
        if closed == 0 {
            return;
        }
        let forced = self.forced.get_or_insert(ForcedShutdown {
            cause,
            closed: 0,
            grace: self.shutdown_grace,
        });
        forced.closed += closed;
    }
}
