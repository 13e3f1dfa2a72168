//! The `Dispatcher` trait: asyncore's `dispatcher` class as a set of hooks.
//!
//! In Python you subclass `asyncore.dispatcher` and override `handle_read`,
//! `handle_write`, `readable`, `writable` and friends; the loop calls them.
//! In Rust you implement this trait and hand a boxed value to the `Reactor`.
//!
//! # Differences from Python
//!
//! - **Edge-triggered readiness.** `handle_read` is called once when the
//!   socket *becomes* readable, not on every pass while it stays readable. It
//!   must read (or accept) until `WouldBlock`, or stop reading and return
//!   `false` from `readable()` until it wants more. See `docs/readiness.md`.
//! - **Errors are values.** Hooks return `io::Result`; an `Err` (or a panic)
//!   goes to `handle_error`, whose default logs it and closes this dispatcher.
//! - **No globals.** Every hook gets a [`Context`] to add dispatchers, close
//!   itself, set timers or stop the loop; asyncore used a module-level map.

use std::fmt;
use std::io;

use mio::event::Source;

use super::{Context, TimerId};

/// What went wrong inside a dispatcher; given to [`Dispatcher::handle_error`].
#[derive(Debug)]
pub enum DispatchError {
    /// A hook returned an I/O error.
    Io(io::Error),
    /// A hook panicked; the payload's message, when it was a string.
    Panic(String),
}

impl fmt::Display for DispatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DispatchError::Io(e) => write!(f, "I/O error: {e}"),
            DispatchError::Panic(msg) => write!(f, "panic: {msg}"),
        }
    }
}

impl std::error::Error for DispatchError {}

/// One thing the reactor watches: usually one socket.
///
/// Every method has a default except [`source`](Dispatcher::source), so a
/// dispatcher overrides just the events it cares about, as in asyncore.
#[doc(alias = "dispatcher")]
pub trait Dispatcher {
    /// The socket to poll, or `None` for a dispatcher that only has timers
    /// and wake-ups.
    fn source(&mut self) -> Option<&mut dyn Source>;

    /// asyncore `readable()`: whether to poll for readability. Asked after
    /// every hook; the reactor re-registers only when the answer changes.
    fn readable(&self) -> bool {
        true
    }

    /// asyncore `writable()`: whether to poll for writability. Return true
    /// only while output is waiting, or every pass would wake for nothing.
    fn writable(&self) -> bool {
        false
    }

    /// Whether dropping the dispatcher closes the descriptor behind
    /// [`source`](Dispatcher::source): it owns the socket, and no duplicate
    /// of it lives elsewhere. Then, on Linux, the reactor does not
    /// deregister it before dropping it: closing the last descriptor of a
    /// socket removes it from epoll by itself (epoll(7)), and a
    /// connection-per-request server saves a system call per connection.
    /// Default `false` (always deregister), which is always correct.
    fn closes_source_on_drop(&self) -> bool {
        false
    }

    /// asyncore `accepting`: a listening dispatcher gets `handle_accept`
    /// instead of `handle_read` when it becomes readable.
    fn accepting(&self) -> bool {
        false
    }

    /// Called once, right after the dispatcher joins the loop: the place to
    /// set its first timers (asyncore had no equivalent; Python code did it
    /// in `__init__`, with the global map at hand).
    fn handle_added(&mut self, _cx: &mut Context<'_>) -> io::Result<()> {
        Ok(())
    }

    /// A connection is waiting: accept until `WouldBlock`.
    fn handle_accept(&mut self, _cx: &mut Context<'_>) -> io::Result<()> {
        Ok(())
    }

    /// The socket became readable: read until `WouldBlock`, or stop and
    /// report `readable() == false`.
    fn handle_read(&mut self, _cx: &mut Context<'_>) -> io::Result<()> {
        Ok(())
    }

    /// The socket became writable: write until `WouldBlock` or nothing is
    /// left.
    fn handle_write(&mut self, _cx: &mut Context<'_>) -> io::Result<()> {
        Ok(())
    }

    /// The socket reported an error or a hang-up in both directions. The
    /// default closes this dispatcher, as asyncore's does.
    fn handle_close(&mut self, cx: &mut Context<'_>) {
        cx.close();
    }

    /// A hook returned `Err` or panicked. The default logs it and closes this
    /// dispatcher; the loop and every other dispatcher carry on.
    fn handle_error(&mut self, cx: &mut Context<'_>, error: DispatchError) {
        log::warn!("dispatcher {:?}: {error}; closing it", cx.token());
        cx.close();
    }

    /// A timer set through [`Context::set_timer`] or
    /// [`Context::set_repeating`] came due.
    fn handle_timer(&mut self, _cx: &mut Context<'_>, _timer: TimerId) -> io::Result<()> {
        Ok(())
    }

    /// Someone called [`Context::notify`] or [`Waker::wake`](super::Waker::wake)
    /// with this dispatcher's token: new work was handed over.
    fn handle_wake(&mut self, _cx: &mut Context<'_>) -> io::Result<()> {
        Ok(())
    }

    /// The reactor is shutting down gracefully (SIGINT/SIGTERM or
    /// [`Reactor::shutdown`](super::Reactor::shutdown)). Stop taking new work,
    /// finish what is in flight, then close. The default closes at once.
    fn handle_shutdown(&mut self, cx: &mut Context<'_>) {
        cx.close();
    }
}
