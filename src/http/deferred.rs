//! Deferred replies: a handler that answers later.
//!
//! Medusa's handlers could hold on to the `request` object and call
//! `request.done()` whenever they liked. Here a handler answers with an
//! [`Outcome`]: `Now(response)`, or `Later(later)` with what
//! [`ServerView::defer`](super::ServerView::defer) gave it beside a
//! [`Responder`], on which it later
//! (from a timer, from another connection's event, or from another thread)
//! calls [`Responder::respond`]. Meanwhile the connection waits: further
//! pipelined requests are held, in order, and a reply that takes longer than
//! [`HttpConfig::response_timeout`](super::HttpConfig::response_timeout)
//! is answered with 504.
//!
//! The responder is `Send`: it carries a closure that builds the response
//! on the loop's thread, and wakes the channel through the reactor's
//! [`Waker`].

use std::sync::{Arc, Mutex, PoisonError};

use mio::Token;

use super::Response;
use crate::reactor::Waker;

/// What a handler answers a request with: the one way, at the HTTP level,
/// to say "later". XML-RPC's [`Reply`](crate::xmlrpc::Reply) reuses its
/// [`Later`].
#[must_use]
pub enum Outcome {
    /// The response, now.
    Now(Response),
    /// The response will come through the [`Responder`] that
    /// [`ServerView::defer`](super::ServerView::defer) returned with this.
    Later(Later),
}

impl From<Response> for Outcome {
    fn from(response: Response) -> Outcome {
        Outcome::Now(response)
    }
}

/// The promise of a later answer, as a handler returns it. Only
/// [`ServerView::defer`](super::ServerView::defer) makes one, together
/// with the [`Responder`] that keeps the promise, so "later, with nobody
/// to answer" cannot be written.
#[derive(Debug, PartialEq, Eq)]
pub struct Later(());

impl Later {
    pub(crate) fn new() -> Later {
        Later(())
    }
}

/// Builds the deferred response, on the loop's thread.
pub(crate) type MakeResponse = Box<dyn FnOnce() -> Response + Send>;

/// Where a responder leaves its answer for the channel.
pub(crate) type Slot = Arc<Mutex<Option<MakeResponse>>>;

/// The promise of a response to one request; see the module docs.
pub struct Responder {
    slot: Slot,
    waker: Waker,
    token: Token,
    answered: bool,
}

impl Responder {
    pub(crate) fn new(slot: Slot, waker: Waker, token: Token) -> Responder {
        Responder {
            slot,
            waker,
            token,
            answered: false,
        }
    }

    /// Answers the request: `make` runs on the loop's thread and builds the
    /// response. Callable from any thread.
    pub fn respond(mut self, make: impl FnOnce() -> Response + Send + 'static) {
        self.fill(Box::new(make));
    }

    /// The loop's waker: a deferred method that needs dispatchers of its
    /// own (a program's pipes) adds them through it.
    pub(crate) fn waker(&self) -> &Waker {
        &self.waker
    }

    fn fill(&mut self, make: MakeResponse) {
        self.answered = true;
        *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(make);
        // If the loop is gone there is no one left to answer anyway.
        let _ = self.waker.wake(self.token);
    }
}

impl Drop for Responder {
    /// A responder dropped unanswered (a bug, or a worker that panicked)
    /// still gets its request an answer rather than a hung connection.
    fn drop(&mut self) {
        if !self.answered {
            self.fill(Box::new(|| {
                Response::error(500, "the handler dropped its reply")
            }));
        }
    }
}

/// Takes the answer out of a slot, if it has come.
pub(crate) fn take(slot: &Slot) -> Option<MakeResponse> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}
