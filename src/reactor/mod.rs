//! The event loop: a port of Python's `asyncore` onto mio.
//!
//! asyncore keeps a *socket map* (fd → dispatcher) and a `loop()` that asks
//! `select`/`poll` which sockets are ready, then calls each ready dispatcher's
//! `handle_read` / `handle_write`. That is the whole idea, and it is all here:
//! the socket map is a [`Slab`] keyed by mio [`Token`], the loop is
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

mod context;
mod dispatcher;
pub(crate) mod listener;
mod timers;
mod waker;

pub use context::Context;
pub use dispatcher::{DispatchError, Dispatcher};
pub use listener::{listen, Listener, BACKLOG};
pub use timers::TimerId;
pub use waker::{Task, Waker};

use std::any::Any;
use std::collections::VecDeque;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::{Events, Interest, Poll, Registry, Token};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;

use timers::Timers;
use waker::TaskQueue;

/// Token of the cross-thread waker; dispatcher tokens are slab keys, far below.
const WAKER: Token = Token(usize::MAX);
/// Token of the signal pipe.
const SIGNALS: Token = Token(usize::MAX - 1);

/// A token is a slab key in its low half and the entry's generation (its
/// serial, truncated) above it, so a stale token (a wake-up sent to a
/// dispatcher that has since closed) never reaches the newcomer that reuses
/// the key. The top bit stays clear: the reserved tokens above use it.
const KEY_BITS: u32 = usize::BITS / 2;
const KEY_MASK: usize = (1 << KEY_BITS) - 1;
const GENERATION_MASK: u64 = (1 << (usize::BITS - KEY_BITS - 1)) - 1;

fn token_for(key: usize, serial: u64) -> Token {
    Token(((serial & GENERATION_MASK) as usize) << KEY_BITS | key)
}

fn key_of(token: Token) -> usize {
    token.0 & KEY_MASK
}

/// Size of the loop's shared read buffer (asynchat's `ac_in_buffer_size`).
pub const READ_BUFFER_SIZE: usize = 64 * 1024;

/// One slot of the socket map.
struct Entry {
    /// `None` while one of its hooks is running (it is borrowed out).
    dispatcher: Option<Box<dyn Dispatcher>>,
    /// What the socket is registered for; `None` = not registered.
    interest: Option<Interest>,
    /// Unique for the life of the reactor, unlike the slab key, which is
    /// reused: part of the token (see `token_for`), and checked by timers.
    serial: u64,
    /// Closed during this pass; the key is freed at the end of the pass so
    /// an event later in the same batch cannot reach a newcomer.
    closed: bool,
    /// Its pending timers, cancelled when it closes so that a server whose
    /// connections come and go does not hold their timers until they are
    /// due (a connection has one or two; a linear search is fine).
    timers: Vec<TimerId>,
}

/// The loop's state that hooks may touch through a [`Context`].
pub(crate) struct Core {
    registry: Registry,
    entries: Slab<Entry>,
    timers: Timers,
    next_serial: u64,
    /// Live (not closed) dispatchers.
    live: usize,
    dead: Vec<usize>,
    notified: Vec<Token>,
    rescheduled: Vec<Token>,
    stopped: bool,
    shutdown_deadline: Option<Instant>,
    read_buffer: Vec<u8>,
    waker: Waker,
}

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
            core: Core {
                registry,
                entries: Slab::new(),
                timers: Timers::default(),
                next_serial: 0,
                live: 0,
                dead: Vec::new(),
                notified: Vec::new(),
                rescheduled: Vec::new(),
                stopped: false,
                shutdown_deadline: None,
                read_buffer: Vec::new(),
                waker,
            },
            tasks,
            signals: None,
            shutdown_grace: Duration::from_secs(10),
            last_signal: None,
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

    /// Whether a graceful shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.core.shutdown_deadline.is_some()
    }

    /// The last SIGINT/SIGTERM caught, if any.
    pub fn last_signal(&self) -> Option<i32> {
        self.last_signal
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

    fn handle_signals(&mut self) {
        let caught: Vec<i32> = match self.signals.as_mut() {
            Some(signals) => signals.pending().collect(),
            None => return,
        };
        for signal in caught {
            self.last_signal = Some(signal);
            if self.is_shutting_down() {
                log::warn!("signal {signal} during shutdown: closing everything now");
                self.core.close_all();
            } else {
                log::info!("signal {signal}: shutting down gracefully");
                self.shutdown(self.shutdown_grace);
            }
        }
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

    fn enforce_shutdown_deadline(&mut self) {
        if let Some(deadline) = self.core.shutdown_deadline {
            if Instant::now() >= deadline && self.core.live > 0 {
                log::warn!(
                    "shutdown grace period over: closing {} dispatcher(s)",
                    self.core.live
                );
                self.core.close_all();
            }
        }
    }
}

impl Core {
    fn add(&mut self, mut dispatcher: Box<dyn Dispatcher>) -> io::Result<Token> {
        let serial = self.next_serial;
        self.next_serial += 1;
        let key = self.entries.insert(Entry {
            dispatcher: None,
            interest: None,
            serial,
            closed: false,
            timers: Vec::new(),
        });
        let token = token_for(key, serial);
        if let Err(e) = self.update_interest(token, &mut *dispatcher) {
            self.entries.remove(key);
            return Err(e);
        }
        self.entries[key].dispatcher = Some(dispatcher);
        self.live += 1;
        self.dispatch(token, |d, cx| d.handle_added(cx));
        if self.shutdown_deadline.is_some() {
            // Joined during a shutdown: it must hear about it too.
            self.dispatch(token, |d, cx| {
                d.handle_shutdown(cx);
                Ok(())
            });
        }
        Ok(token)
    }

    fn serial_of(&self, token: Token) -> u64 {
        self.entry(token).map_or(u64::MAX, |e| e.serial)
    }

    /// Records a timer as `token`'s, so it is cancelled when `token` closes.
    fn own_timer(&mut self, token: Token, id: TimerId) {
        if let Some(entry) = self.entry_mut(token) {
            entry.timers.push(id);
        }
    }

    /// Forgets a timer that fired (one-shot) or was cancelled.
    fn disown_timer(&mut self, token: Token, id: TimerId) {
        if let Some(entry) = self.entry_mut(token) {
            if let Some(at) = entry.timers.iter().position(|&t| t == id) {
                entry.timers.swap_remove(at);
            }
        }
    }

    fn is_live(&self, token: Token, serial: u64) -> bool {
        matches!(self.entry(token), Some(e) if !e.closed && e.serial == serial)
    }

    /// The entry `token` names, unless its key was reused since.
    fn entry(&self, token: Token) -> Option<&Entry> {
        let entry = self.entries.get(key_of(token))?;
        (token_for(key_of(token), entry.serial) == token).then_some(entry)
    }

    fn entry_mut(&mut self, token: Token) -> Option<&mut Entry> {
        let entry = self.entries.get_mut(key_of(token))?;
        (token_for(key_of(token), entry.serial) == token).then_some(entry)
    }

    fn live_tokens(&self) -> Vec<Token> {
        self.entries
            .iter()
            .filter(|(_, e)| !e.closed)
            .map(|(key, e)| token_for(key, e.serial))
            .collect()
    }

    fn dispatch_event(&mut self, token: Token, event: &Event) {
        let readable = event.is_readable() || event.is_read_closed();
        let writable = event.is_writable();
        // asyncore's poll2 closes on POLLERR/POLLHUP after reading what is left.
        let hangup = event.is_error() || (event.is_read_closed() && event.is_write_closed());
        self.dispatch(token, |d, cx| {
            if readable {
                if d.accepting() {
                    d.handle_accept(cx)?;
                } else {
                    d.handle_read(cx)?;
                }
            }
            if writable && !cx.is_closing() {
                d.handle_write(cx)?;
            }
            if hangup && !cx.is_closing() {
                d.handle_close(cx);
            }
            Ok(())
        });
    }

    /// Runs one hook of `token`'s dispatcher with panics and errors caught,
    /// then re-registers or removes it according to what the hook left.
    fn dispatch<F>(&mut self, token: Token, hook: F)
    where
        F: FnOnce(&mut dyn Dispatcher, &mut Context<'_>) -> io::Result<()>,
    {
        let Some(entry) = self.entry_mut(token) else {
            return;
        };
        if entry.closed {
            return;
        }
        let Some(mut dispatcher) = entry.dispatcher.take() else {
            return;
        };
        let mut cx = Context::new(self, token);
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| hook(&mut *dispatcher, &mut cx)));
        let error = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(DispatchError::Io(e)),
            Err(payload) => Some(DispatchError::Panic(panic_message(&*payload))),
        };
        if let Some(error) = error {
            let handled =
                panic::catch_unwind(AssertUnwindSafe(|| dispatcher.handle_error(&mut cx, error)));
            if handled.is_err() {
                log::error!("dispatcher {token:?}: handle_error panicked; closing it");
                cx.close();
            }
        }
        let closing = cx.is_closing();
        if !closing {
            match self.update_interest(token, &mut *dispatcher) {
                Ok(()) => {
                    self.entries[key_of(token)].dispatcher = Some(dispatcher);
                    return;
                }
                Err(e) => log::warn!("dispatcher {token:?}: cannot register: {e}; closing it"),
            }
        }
        self.remove(token, dispatcher);
    }

    /// Registers, re-registers or deregisters the socket when the answer of
    /// `readable()`/`writable()` has changed since last time.
    fn update_interest(&mut self, token: Token, dispatcher: &mut dyn Dispatcher) -> io::Result<()> {
        let wanted = match (dispatcher.readable(), dispatcher.writable()) {
            (true, true) => Some(Interest::READABLE | Interest::WRITABLE),
            (true, false) => Some(Interest::READABLE),
            (false, true) => Some(Interest::WRITABLE),
            (false, false) => None,
        };
        let entry = &mut self.entries[key_of(token)];
        if wanted == entry.interest {
            return Ok(());
        }
        if let Some(source) = dispatcher.source() {
            match (entry.interest, wanted) {
                (None, Some(interest)) => self.registry.register(source, token, interest)?,
                (Some(_), Some(interest)) => self.registry.reregister(source, token, interest)?,
                (Some(_), None) => self.registry.deregister(source)?,
                (None, None) => {}
            }
        }
        entry.interest = wanted;
        Ok(())
    }

    fn remove(&mut self, token: Token, mut dispatcher: Box<dyn Dispatcher>) {
        let entry = &mut self.entries[key_of(token)];
        let closed_by_drop = cfg!(target_os = "linux") && dispatcher.closes_source_on_drop();
        if entry.interest.is_some() && !closed_by_drop {
            if let Some(source) = dispatcher.source() {
                // The socket is closed right after; nothing to do on failure.
                let _ = self.registry.deregister(source);
            }
        }
        entry.interest = None;
        entry.closed = true;
        for id in std::mem::take(&mut entry.timers) {
            self.timers.cancel(id);
        }
        self.dead.push(key_of(token));
        self.live -= 1;
        if panic::catch_unwind(AssertUnwindSafe(move || drop(dispatcher))).is_err() {
            log::error!("dispatcher {token:?}: panicked while being dropped");
        }
    }

    fn close_all(&mut self) {
        for token in self.live_tokens() {
            if let Some(dispatcher) = self.entries[key_of(token)].dispatcher.take() {
                self.remove(token, dispatcher);
            }
        }
    }

    fn free_dead(&mut self) {
        for key in self.dead.drain(..) {
            self.entries.remove(key);
        }
    }
}

/// The message of a panic payload, for logs.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}
