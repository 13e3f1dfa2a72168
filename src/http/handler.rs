//! The `Handler` trait: what gets installed on an `HttpServer`.
//!
//! Medusa's handlers are duck-typed objects with `match(request)` and
//! `handle_request(request)`, plus an optional `status()` for the status
//! page. `match` is a Rust keyword, hence `matches`.

use std::time::Instant;

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use mio::Token;
use slab::Slab;

use super::deferred::{Later, Outcome, Responder, Slot};
use super::metrics::HandlerMetrics;
use super::server::{ChannelInfo, HttpStats};
use super::{HttpConfig, Request, Response};
use crate::reactor::Waker;

/// A handler's line on the status page: its name and a few facts.
#[derive(Clone, Debug, Default)]
pub struct HandlerStatus {
    /// What it is, e.g. `file handler (/srv/www)`.
    pub name: String,
    /// Its own counters, e.g. `("hits", "42")`.
    pub facts: Vec<(String, String)>,
}

/// What a handler may see of the server it is installed on.
pub struct ServerView<'a> {
    /// The server's limits.
    pub config: &'a HttpConfig,
    /// The server's counters.
    pub stats: &'a HttpStats,
    /// When the server started.
    pub started: Instant,
    /// The other installed handlers (before and after this one).
    pub(crate) others: [&'a [Box<dyn Handler>]; 2],
    pub(crate) channels: &'a RefCell<Slab<ChannelInfo>>,
    /// The asking connection, for deferred replies.
    pub(crate) deferral: Deferral<'a>,
    /// A graceful shutdown has begun (see [`ServerView::is_shutting_down`]).
    pub(crate) shutting_down: bool,
}

/// What [`ServerView::defer`] needs to reach the asking connection later.
pub(crate) struct Deferral<'a> {
    pub(crate) token: Token,
    pub(crate) waker: &'a Waker,
    pub(crate) slot: &'a RefCell<Option<Slot>>,
}

impl ServerView<'_> {
    /// Whether the server is draining: a graceful shutdown has begun, it no
    /// longer accepts connections, and this request came on one already
    /// open. `/status/health` answers 503 then, so that a load balancer
    /// stops sending here before the process goes.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down
    }

    /// Promises a later answer to the current request: keep the
    /// [`Responder`], return [`Outcome::Later`] with the [`Later`] from
    /// `handle_request`, and call [`Responder::respond`] when the answer is
    /// ready (from this thread or another).
    pub fn defer(&self) -> (Responder, Later) {
        let slot: Slot = Arc::new(Mutex::new(None));
        *self.deferral.slot.borrow_mut() = Some(slot.clone());
        let responder = Responder::new(slot, self.deferral.waker.clone(), self.deferral.token);
        (responder, Later::new())
    }

    /// Status of the other installed handlers, in match order (computed on
    /// demand: only the status page asks).
    pub fn handler_statuses(&self) -> Vec<HandlerStatus> {
        self.others
            .iter()
            .flat_map(|hs| hs.iter())
            .map(|h| h.status())
            .collect()
    }

    /// Metrics of the other installed handlers that keep them, in match
    /// order (computed on demand: only the status handler asks).
    pub fn handler_metrics(&self) -> Vec<HandlerMetrics> {
        self.others
            .iter()
            .flat_map(|hs| hs.iter())
            .filter_map(|h| h.metrics())
            .collect()
    }

    /// The open connections, oldest first, at most `limit` of them.
    pub fn open_channels(&self, limit: usize) -> Vec<ChannelInfo> {
        let channels = self.channels.borrow();
        let mut list: Vec<ChannelInfo> = channels.iter().map(|(_, c)| c.clone()).collect();
        list.sort_by_key(|c| c.opened);
        list.truncate(limit);
        list
    }
}

/// Something installed on an [`HttpServer`](super::HttpServer) that answers
/// the requests it [`matches`](Handler::matches).
///
/// ```
/// use medusa::http::{Handler, Outcome, Request, Response, ServerView};
///
/// /// Answers `/hello` with a greeting.
/// struct Hello;
///
/// impl Handler for Hello {
///     fn matches(&self, request: &Request) -> bool {
///         request.path == "/hello"
///     }
///     fn handle_request(&mut self, request: &mut Request, _server: &ServerView<'_>) -> Outcome {
///         match request.method.as_str() {
///             "GET" | "HEAD" => Response::ok("text/plain", "hello\n").into(),
///             _ => Response::method_not_allowed(&["GET", "HEAD"]).into(),
///         }
///     }
/// }
/// ```
#[doc(alias = "default_handler")]
pub trait Handler {
    /// Medusa's `match(request)`: whether this handler takes the request.
    /// The first installed handler that says yes gets it.
    fn matches(&self, request: &Request) -> bool;

    /// Medusa's `handle_request(request)`: answer it, now
    /// (`response.into()`) or [later](ServerView::defer). A panic here
    /// becomes a 500 for this request only.
    fn handle_request(&mut self, request: &mut Request, server: &ServerView<'_>) -> Outcome;

    /// Asked with the head of a request that has a body, before the body
    /// is read: `Err(response)` answers now and closes the connection, so
    /// a request that will be refused anyway (no credentials, say) cannot
    /// make the server read and hold its body. Medusa read every body
    /// first. The default admits everything.
    fn admit(&mut self, _request: &mut Request) -> Result<(), Response> {
        Ok(())
    }

    /// Medusa's `status()`: a line for the status page.
    fn status(&self) -> HandlerStatus {
        HandlerStatus {
            name: std::any::type_name::<Self>().to_string(),
            facts: Vec::new(),
        }
    }

    /// Per-operation counts and latencies for the status page and
    /// `/status/metrics`, for a handler that keeps them (the XML-RPC
    /// handler does, per method). The default keeps none.
    fn metrics(&self) -> Option<HandlerMetrics> {
        None
    }
}

/// A boxed handler is a handler, so wrappers such as the auth handler can
/// take handlers chosen at run time.
impl<H: Handler + ?Sized> Handler for Box<H> {
    fn matches(&self, request: &Request) -> bool {
        (**self).matches(request)
    }

    fn handle_request(&mut self, request: &mut Request, server: &ServerView<'_>) -> Outcome {
        (**self).handle_request(request, server)
    }

    fn admit(&mut self, request: &mut Request) -> Result<(), Response> {
        (**self).admit(request)
    }

    fn status(&self) -> HandlerStatus {
        (**self).status()
    }

    fn metrics(&self) -> Option<HandlerMetrics> {
        (**self).metrics()
    }
}
