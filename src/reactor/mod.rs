//! The event loop: a port of Python's `asyncore` onto mio.
//!
//! asyncore keeps a *socket map* (fd → dispatcher) and a `loop()` that asks
//! `select`/`poll` which sockets are ready, then calls each ready dispatcher's
//! `handle_read` / `handle_write`. That is the whole idea, and it is all here:
//! the socket map is a [`Slab`](slab::Slab) keyed by mio [`Token`], the loop is
//! [`Reactor::run`], one pass of it is [`Reactor::run_once`].
//!
//! Around that core sit what a production server needs and asyncore lacked:
//! timers ordered by deadline, a [`Waker`] for other threads, SIGINT/SIGTERM
//! as loop events with a graceful [`shutdown`](Reactor::shutdown), and
//! isolation: a dispatcher that returns an error or panics is closed, and the
//! loop carries on serving everyone else.
//!
//! # Differences from Python
//!
//! - mio is **edge-triggered**: a dispatcher is told once that its socket
//!   became ready and must drain it (see `docs/readiness.md`). Interest is
//!   recomputed from `readable()`/`writable()` after every hook, and the
//!   socket is re-registered only when that answer changes; asyncore rebuilt
//!   its whole `select` set on every pass.
//! - No global socket map: hooks receive a [`Context`].
//! - `loop(count=n)` becomes calling [`Reactor::run_once`] n times.
//!
//! # Where each part lives
//!
//! This file is the loop (`Reactor`, `run`, `run_once`); `socket_map.rs` the
//! map and its tokens; `readwrite.rs` how a hook is called and isolated;
//! `shutdown.rs` signals and graceful shutdown; `dispatcher.rs`,
//! `context.rs`, `listener.rs`, `timers.rs` and `waker.rs` the rest.

mod context;
mod dispatcher;
pub(crate) mod listener;
mod readwrite;
mod shutdown;
mod socket;
mod socket_map;
mod timers;
pub mod tls;
mod waker;

pub use context::{AddDispatcher, Context};
pub use dispatcher::{DispatchError, Dispatcher};
#[cfg(target_os = "linux")]
pub use listener::listen_reuseport;
pub use listener::{cannot_listen, listen, parse_host, Listener, BACKLOG};
pub use shutdown::{ForceCause, ForcedShutdown};
#[cfg(unix)]
pub use socket::{listen_unix, send_without_sigpipe};
pub use socket::{Credentials, ListenSocket, Peer, Stream};
pub use timers::TimerId;
pub use tls::TlsStream;
pub use waker::{Task, Waker};

use std::collections::VecDeque;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};
use signal_hook_mio::v1_0::Signals;

use readwrite::panic_message;
use socket_map::{Core, SIGNALS, WAKER};
use waker::TaskQueue;

/// Size of the loop's shared read buffer (asynchat's `ac_in_buffer_size`).
pub const READ_BUFFER_SIZE: usize = 64 * 1024;

/// asyncore's socket map and `loop()`, on mio.
///
/// ```no_run
/// use medusa::reactor::Reactor;
/// let mut reactor = Reactor::new()?;
/// // reactor.add(some_dispatcher)?;
/// reactor.catch_signals(std::time::Duration::from_secs(10))?;
/// reactor.run()?; // until no dispatchers are left, or stopped
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Reactor {
    poll: Poll,
    events: Events,
    core: Core,
    tasks: TaskQueue,
    signals: Option<Signals>,
    shutdown_grace: Duration,
    last_signal: Option<i32>,
    forced: Option<ForcedShutdown>,
}

impl Reactor {
    /// A reactor with an empty socket map.
    pub fn new() -> io::Result<Reactor> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let tasks: TaskQueue = Arc::new(Mutex::new(VecDeque::new()));
        let mio_waker = Arc::new(mio::Waker::new(poll.registry(), WAKER)?);
        let waker = Waker::new(mio_waker, tasks.clone());
        Ok(Reactor {
            poll,
            events: Events::with_capacity(1024),
            core: Core::new(registry, waker),
            tasks,
            signals: None,
            shutdown_grace: Duration::from_secs(10),
            last_signal: None,
            forced: None,
        })
    }

    /// Puts a dispatcher in the socket map and registers its socket.
    pub fn add(&mut self, dispatcher: impl Dispatcher + 'static) -> io::Result<Token> {
        self.core.add(Box::new(dispatcher))
    }

    /// A cloneable, `Send` handle for other threads.
    pub fn waker(&self) -> Waker {
        self.core.waker.clone()
    }

    /// Number of dispatchers in the socket map.
    pub fn dispatcher_count(&self) -> usize {
        self.core.live
    }

    /// Number of pending timers (fired one-shots are gone; timers of closed
    /// dispatchers linger until their deadline).
    pub fn timer_count(&self) -> usize {
        self.core.timers.len()
    }

    /// Calls `handle_wake` on `token` during this pass (or the next, if
    /// called between passes).
    pub fn notify(&mut self, token: Token) {
        self.core.notified.push(token);
    }

    /// Makes [`run`](Reactor::run) return after the current pass.
    pub fn stop(&mut self) {
        self.core.stopped = true;
    }

    /// asyncore `loop()`: runs passes until the socket map is empty or
    /// [`stop`](Reactor::stop) is called.
    pub fn run(&mut self) -> io::Result<()> {
        while !self.core.stopped && self.core.live > 0 {
            self.run_once(None)?;
        }
        self.core.stopped = false;
        Ok(())
    }

    /// One pass: wait for readiness (at most `timeout`, less if a timer is
    /// due sooner; `None` = as long as needed), then call the hooks of ready
    /// dispatchers, due timers, queued tasks and notifications.
    pub fn run_once(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let timeout = self.poll_timeout(timeout);
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            // A signal arrived during the wait: just run the pass.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }

        let mut signalled = false;
        for event in self.events.iter() {
            match event.token() {
                WAKER => {} // tasks are drained below whether or not woken
                SIGNALS => signalled = true,
                token => self.core.dispatch_event(token, event),
            }
        }
        if signalled {
            self.handle_signals();
        }
        self.fire_timers();
        self.run_tasks();
        self.run_notifications();
        self.enforce_shutdown_deadline();
        self.core.free_dead();
        Ok(())
    }

    fn poll_timeout(&self, requested: Option<Duration>) -> Option<Duration> {
        if !self.core.notified.is_empty() || !self.core.rescheduled.is_empty() {
            return Some(Duration::ZERO);
        }
        let now = Instant::now();
        let deadlines = [
            self.core.timers.next_deadline(),
            self.core.shutdown_deadline,
        ];
        deadlines
            .into_iter()
            .flatten()
            .map(|deadline| deadline.saturating_duration_since(now))
            .chain(requested)
            .min()
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some((id, timer)) = self.core.timers.pop_expired(now) {
            if timer.period.is_none() {
                self.core.disown_timer(timer.owner, id);
            }
            if self.core.is_live(timer.owner, timer.serial) {
                self.core
                    .dispatch(timer.owner, |d, cx| d.handle_timer(cx, id));
            } else {
                // Its owner closed: drop a repeating timer for good.
                self.core.timers.cancel(id);
            }
        }
    }

    fn run_tasks(&mut self) {
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        for task in tasks {
            if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| task(self))) {
                log::error!(
                    "task sent through a Waker panicked: {}",
                    panic_message(&*payload)
                );
            }
        }
    }

    fn run_notifications(&mut self) {
        for token in std::mem::take(&mut self.core.rescheduled) {
            self.core.dispatch(token, |d, cx| {
                if d.accepting() {
                    d.handle_accept(cx)?;
                } else {
                    d.handle_read(cx)?;
                }
                if !cx.is_closing() {
                    d.handle_write(cx)?;
                }
                Ok(())
            });
        }
        // A wake-up may wake another; follow the chain a few rounds within
        // this pass, and leave the rest for the next (two dispatchers waking
        // each other must not keep the loop here forever).
        for _ in 0..16 {
            if self.core.notified.is_empty() {
                break;
            }
            for token in std::mem::take(&mut self.core.notified) {
                self.core.dispatch(token, |d, cx| d.handle_wake(cx));
            }
        }
    }
}
