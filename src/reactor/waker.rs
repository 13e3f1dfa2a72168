//! Handing work to the loop from other threads.
//!
//! asyncore had no answer to this (people wrote to a pipe registered in the
//! socket map). A [`Waker`] is that pipe done once: a queue of closures plus a
//! `mio::Waker` that interrupts `poll`. The loop runs queued closures with
//! `&mut Reactor` between passes, so they can add dispatchers, poke one by
//! token, or stop the loop.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mio::Token;

use super::Reactor;

/// A closure sent to the loop by a [`Waker`].
pub type Task = Box<dyn FnOnce(&mut Reactor) + Send>;

/// The queue shared between the reactor and its wakers.
pub(crate) type TaskQueue = Arc<Mutex<VecDeque<Task>>>;

/// A cloneable, `Send` handle that wakes the reactor and gives it work.
///
/// ```no_run
/// # use medusa::reactor::Reactor;
/// let reactor = Reactor::new()?;
/// let waker = reactor.waker();
/// std::thread::spawn(move || {
///     // ... later, from another thread:
///     waker.stop().ok();
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Waker {
    waker: Arc<mio::Waker>,
    tasks: TaskQueue,
}

impl Waker {
    pub(crate) fn new(waker: Arc<mio::Waker>, tasks: TaskQueue) -> Waker {
        Waker { waker, tasks }
    }

    /// Runs `task` on the loop's thread during its next pass.
    pub fn call(&self, task: impl FnOnce(&mut Reactor) + Send + 'static) -> io::Result<()> {
        // A panic elsewhere while holding the lock leaves the queue itself
        // intact (push/pop are not interrupted), so keep using it.
        self.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(Box::new(task));
        self.waker.wake()
    }

    /// Calls `handle_wake` on the dispatcher registered as `token`.
    pub fn wake(&self, token: Token) -> io::Result<()> {
        self.call(move |reactor| reactor.notify(token))
    }

    /// Stops the loop at once (see [`Reactor::stop`]).
    pub fn stop(&self) -> io::Result<()> {
        self.call(|reactor| reactor.stop())
    }

    /// Starts a graceful shutdown (see [`Reactor::shutdown`]).
    pub fn shutdown(&self, grace: Duration) -> io::Result<()> {
        self.call(move |reactor| reactor.shutdown(grace))
    }
}
