//! What a dispatcher may do to the loop while one of its hooks runs.
//!
//! asyncore kept the socket map in a module global, so a dispatcher could
//! call `self.close()` or create new dispatchers from anywhere. Rust wants the
//! borrow made explicit: each hook gets a `Context` that borrows the reactor's
//! core for the duration of the call.

use std::io;
use std::time::{Duration, Instant};

use mio::Token;

use super::socket_map::Core;
use super::timers::Timer;
use super::{Dispatcher, TimerId, Waker};

/// The loop, as seen from inside one dispatcher's hook.
pub struct Context<'a> {
    core: &'a mut Core,
    token: Token,
    closing: bool,
    /// Whether the readiness being handled may include the peer's end of
    /// input: `true` unless a poll event said otherwise.
    read_closed: bool,
}

impl<'a> Context<'a> {
    pub(crate) fn new(core: &'a mut Core, token: Token) -> Context<'a> {
        Context {
            core,
            token,
            closing: false,
            read_closed: true,
        }
    }

    /// The poll event being handled says whether the peer has shut its
    /// side (`EPOLLRDHUP`): see [`Context::peer_may_have_closed`].
    pub(crate) fn note_event(&mut self, read_closed: bool) {
        self.read_closed = read_closed;
    }

    /// `false` only while handling a poll event that reported readable
    /// data and no end of input from the peer: then a read that returns
    /// less than asked has emptied the socket's queue, and another would
    /// only find `EAGAIN` (edge-triggered readiness brings a new event for
    /// new data, or for the end of input). `true` when unknown (a
    /// rescheduled pass, a timer): read until `EAGAIN` then.
    pub fn peer_may_have_closed(&self) -> bool {
        self.read_closed
    }

    /// This dispatcher's token: its key in the socket map.
    pub fn token(&self) -> Token {
        self.token
    }

    /// Adds a new dispatcher to the loop (what asyncore's `dispatcher.__init__`
    /// did by side effect); a listener calls this for each accepted socket.
    pub fn add(&mut self, dispatcher: impl Dispatcher + 'static) -> io::Result<Token> {
        self.core.add(Box::new(dispatcher))
    }

    /// asyncore `close()`: remove this dispatcher once the current hook
    /// returns. Its socket is deregistered and dropped (closed).
    pub fn close(&mut self) {
        self.closing = true;
    }

    /// Whether [`close`](Context::close) was called during this hook.
    pub fn is_closing(&self) -> bool {
        self.closing
    }

    /// Calls this dispatcher's `handle_timer` once, `after` from now.
    pub fn set_timer(&mut self, after: Duration) -> TimerId {
        self.timer(after, None)
    }

    /// Calls this dispatcher's `handle_timer` every `every`, until cancelled
    /// or the dispatcher closes.
    pub fn set_repeating(&mut self, every: Duration) -> TimerId {
        self.timer(every, Some(every))
    }

    fn timer(&mut self, after: Duration, period: Option<Duration>) -> TimerId {
        let serial = self.core.serial_of(self.token);
        let timer = Timer {
            owner: self.token,
            serial,
            period,
        };
        let id = self.core.timers.insert(Instant::now() + after, timer);
        self.core.own_timer(self.token, id);
        id
    }

    /// Cancels a timer; false if it already fired or was cancelled.
    pub fn cancel_timer(&mut self, timer: TimerId) -> bool {
        self.core.disown_timer(self.token, timer);
        self.core.timers.cancel(timer)
    }

    /// Calls `handle_wake` on the dispatcher `token` later in this pass:
    /// how one connection hands work to another on the same thread. Tokens
    /// are reused after a dispatcher closes, so a wake-up can reach a
    /// newcomer: `handle_wake` must treat it as "look for work", not as
    /// proof that work exists.
    pub fn notify(&mut self, token: Token) {
        self.core.notified.push(token);
    }

    /// Delivers this dispatcher's read and write hooks again once the
    /// current events are handled, before the loop sleeps, as if the socket
    /// were reported ready. A dispatcher that stops
    /// short of `WouldBlock` to be fair to others calls this, since an
    /// edge-triggered poll will not report the readiness it left unused.
    pub fn reschedule(&mut self) {
        self.core.rescheduled.push(self.token);
    }

    /// Stops the loop after this pass, leaving dispatchers in place.
    pub fn stop(&mut self) {
        self.core.stopped = true;
    }

    /// Whether a graceful shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.core.shutdown_deadline.is_some()
    }

    /// A handle other threads can use to reach this loop.
    pub fn waker(&self) -> Waker {
        self.core.waker.clone()
    }

    /// Number of dispatchers in the loop, this one included.
    pub fn dispatcher_count(&self) -> usize {
        self.core.live
    }

    /// Borrows the loop's shared read buffer. Channels read into it and
    /// keep only what they could not consume, so an idle connection holds
    /// no input buffer of its own. Give it back with `put_read_buffer`.
    pub fn take_read_buffer(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.core.read_buffer)
    }

    /// Returns the buffer taken by [`take_read_buffer`](Context::take_read_buffer).
    pub fn put_read_buffer(&mut self, buffer: Vec<u8>) {
        self.core.read_buffer = buffer;
    }
}

/// Where new dispatchers can be put: the [`Reactor`](super::Reactor) before
/// or between runs, or a [`Context`] inside a hook (asyncore had one global
/// socket map for both). Code that sets up dispatchers of its own, such as
/// the reactor client's hub, takes either.
pub trait AddDispatcher {
    /// Puts `dispatcher` in the socket map.
    fn add_dispatcher(&mut self, dispatcher: Box<dyn Dispatcher>) -> io::Result<Token>;
    /// The loop's waker.
    fn loop_waker(&self) -> Waker;
}

impl AddDispatcher for Context<'_> {
    fn add_dispatcher(&mut self, dispatcher: Box<dyn Dispatcher>) -> io::Result<Token> {
        self.core.add(dispatcher)
    }

    fn loop_waker(&self) -> Waker {
        self.waker()
    }
}

impl AddDispatcher for super::Reactor {
    fn add_dispatcher(&mut self, dispatcher: Box<dyn Dispatcher>) -> io::Result<Token> {
        self.core.add(dispatcher)
    }

    fn loop_waker(&self) -> Waker {
        self.waker()
    }
}
