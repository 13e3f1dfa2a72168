//! The socket map: asyncore's `socket_map` (fd → dispatcher), a slab keyed by token.
//!
//! asyncore's `add_channel` put a dispatcher in a module-global dict keyed by
//! file descriptor, and `del_channel` took it out. Here the map is a [`Slab`]
//! owned by the reactor's [`Core`], keyed by mio [`Token`]: a slab key plus a
//! generation, so a key reused by a newcomer is never mistaken for the
//! dispatcher that held it before. Closing deregisters the socket, cancels
//! the dispatcher's timers and frees its key at the end of the pass.
//!
//! Running a dispatcher's hooks is in `readwrite.rs`.

use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

use mio::{Interest, Registry, Token};
use slab::Slab;

use super::timers::Timers;
use super::{Dispatcher, TimerId, Waker};

/// Token of the cross-thread waker; dispatcher tokens are slab keys, far below.
pub(super) const WAKER: Token = Token(usize::MAX);
/// Token of the signal pipe.
pub(super) const SIGNALS: Token = Token(usize::MAX - 1);

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

pub(super) fn key_of(token: Token) -> usize {
    token.0 & KEY_MASK
}

/// One slot of the socket map.
pub(super) struct Entry {
    /// `None` while one of its hooks is running (it is borrowed out).
    pub(super) dispatcher: Option<Box<dyn Dispatcher>>,
    /// What the socket is registered for; `None` = not registered.
    pub(super) interest: Option<Interest>,
    /// Unique for the life of the reactor, unlike the slab key, which is
    /// reused: part of the token (see `token_for`), and checked by timers.
    serial: u64,
    /// Closed during this pass; the key is freed at the end of the pass so
    /// an event later in the same batch cannot reach a newcomer.
    pub(super) closed: bool,
    /// Its pending timers, cancelled when it closes so that a server whose
    /// connections come and go does not hold their timers until they are
    /// due (a connection has one or two; a linear search is fine).
    timers: Vec<TimerId>,
}

/// The loop's state that hooks may touch through a [`Context`](super::Context).
pub(crate) struct Core {
    pub(super) registry: Registry,
    pub(super) entries: Slab<Entry>,
    pub(super) timers: Timers,
    next_serial: u64,
    /// Live (not closed) dispatchers.
    pub(super) live: usize,
    dead: Vec<usize>,
    pub(super) notified: Vec<Token>,
    pub(super) rescheduled: Vec<Token>,
    pub(super) stopped: bool,
    pub(super) shutdown_deadline: Option<Instant>,
    pub(super) read_buffer: Vec<u8>,
    pub(super) waker: Waker,
}

impl Core {
    /// An empty socket map whose sockets are registered with `registry`.
    pub(super) fn new(registry: Registry, waker: Waker) -> Core {
        Core {
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
        }
    }

    /// asyncore `add_channel`: puts a dispatcher in the map and registers
    /// its socket.
    pub(super) fn add(&mut self, mut dispatcher: Box<dyn Dispatcher>) -> io::Result<Token> {
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

    pub(super) fn serial_of(&self, token: Token) -> u64 {
        self.entry(token).map_or(u64::MAX, |e| e.serial)
    }

    /// Records a timer as `token`'s, so it is cancelled when `token` closes.
    pub(super) fn own_timer(&mut self, token: Token, id: TimerId) {
        if let Some(entry) = self.entry_mut(token) {
            entry.timers.push(id);
        }
    }

    /// Forgets a timer that fired (one-shot) or was cancelled.
    pub(super) fn disown_timer(&mut self, token: Token, id: TimerId) {
        if let Some(entry) = self.entry_mut(token) {
            if let Some(at) = entry.timers.iter().position(|&t| t == id) {
                entry.timers.swap_remove(at);
            }
        }
    }

    pub(super) fn is_live(&self, token: Token, serial: u64) -> bool {
        matches!(self.entry(token), Some(e) if !e.closed && e.serial == serial)
    }

    /// The entry `token` names, unless its key was reused since.
    fn entry(&self, token: Token) -> Option<&Entry> {
        let entry = self.entries.get(key_of(token))?;
        (token_for(key_of(token), entry.serial) == token).then_some(entry)
    }

    pub(super) fn entry_mut(&mut self, token: Token) -> Option<&mut Entry> {
        let entry = self.entries.get_mut(key_of(token))?;
        (token_for(key_of(token), entry.serial) == token).then_some(entry)
    }

    pub(super) fn live_tokens(&self) -> Vec<Token> {
        self.entries
            .iter()
            .filter(|(_, e)| !e.closed)
            .map(|(key, e)| token_for(key, e.serial))
            .collect()
    }

    /// asyncore `del_channel` and `close`: deregisters the socket, cancels
    /// the dispatcher's timers and drops it (closing its socket). The key is
    /// freed by [`free_dead`](Core::free_dead) at the end of the pass.
    pub(super) fn remove(&mut self, token: Token, mut dispatcher: Box<dyn Dispatcher>) {
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

    /// asyncore `close_all()`, without the grace: closes every dispatcher now.
    pub(super) fn close_all(&mut self) {
        for token in self.live_tokens() {
            if let Some(dispatcher) = self.entries[key_of(token)].dispatcher.take() {
                self.remove(token, dispatcher);
            }
        }
    }

    pub(super) fn free_dead(&mut self) {
        for key in self.dead.drain(..) {
            self.entries.remove(key);
        }
    }
}
