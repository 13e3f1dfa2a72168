//! `HttpChannel`: one HTTP connection (Medusa's `http_channel`).
//!
//! It is an asynchat handler, so it reads by terminators exactly as Medusa
//! did; which terminator comes next, and what the bytes mean, is the
//! [`MessageReader`]'s business (the codec, shared with the clients). The
//! channel keeps the conversation: when a head arrives it asks the handler
//! whether to read the body, then dispatches the request to the first
//! matching handler, pushes the response, and waits for the next request
//! on a persistent connection.
//!
//! One timer per connection carries both timeouts: it fires, looks at what
//! the connection is doing and since when, and either acts or re-arms.

use std::cell::RefCell;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::access_log::Entry;
use super::codec::{Event, MessageReader};
use super::deferred::{self, Slot};
use super::forwarded;
use super::handler::Deferral;
use super::request::Version;
use super::response::Framing;
use super::server::{ChannelInfo, HttpStats, Shared};
use super::{Body, HttpError, Request, Response, ServerView};
use crate::chat::{Chat, ChatHandler, Terminator};
use crate::producers::{ChunkedProducer, HookedProducer};
use crate::reactor::{Context, TimerId, Waker};
use mio::Token;

/// Where the channel is in the request cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Between requests (keep-alive idle).
    Idle,
    /// Reading a request: its head or its body.
    Reading,
    /// The handler deferred its reply; further input is held.
    Waiting,
    /// Done: the connection closes once the response is sent.
    Closing,
}

/// Medusa's `http_channel`.
#[doc(alias = "http_channel")]
pub struct HttpChannel {
    shared: Rc<Shared>,
    peer: SocketAddr,
    /// Who the access log names for the current request: `peer`, or the
    /// client a trusted proxy forwarded for.
    client: IpAddr,
    state: State,
    reader: MessageReader<Request>,
    /// When the current request's first byte arrived, or the connection
    /// went idle.
    since: Instant,
    timer: Option<TimerId>,
    /// `chat.bytes_sent()` at the last timer check: output progress counts
    /// as activity, a stalled reader does not.
    sent_mark: u64,
    /// This connection's key in the server's channel list.
    slot: usize,
    /// For deferred replies: how a `Responder` reaches this channel.
    token: Token,
    waker: Waker,
    /// The deferred reply's slot, while one is awaited, and what is needed
    /// to send it.
    deferred: RefCell<Option<Slot>>,
    awaiting: Option<Exchange>,
}

/// What sending a response needs to know about its request.
struct Exchange {
    keep_alive: bool,
    head_only: bool,
    /// Also carries the version, for the status line.
    log: Entry,
}

impl HttpChannel {
    pub(crate) fn new(shared: Rc<Shared>, peer: SocketAddr, waker: Waker) -> HttpChannel {
        let slot = shared.channels.borrow_mut().insert(ChannelInfo {
            peer,
            opened: Instant::now(),
            requests: 0,
            token: None,
            idle_since: None,
            evicted: false,
        });
        let reader = MessageReader::new(shared.config.message_limits());
        HttpChannel {
            slot,
            token: Token(usize::MAX),
            waker,
            deferred: RefCell::new(None),
            awaiting: None,
            shared,
            peer,
            client: peer.ip(),
            state: State::Idle,
            reader,
            since: Instant::now(),
            timer: None,
            sent_mark: 0,
        }
    }

    fn config(&self) -> &super::HttpConfig {
        &self.shared.config
    }

    /// Kept alive after a response (`Some(since)`), or not: the listener
    /// may close the longest-idle connection to make room.
    fn mark_idle(&self, since: Option<Instant>) {
        if let Some(info) = self.shared.channels.borrow_mut().get_mut(self.slot) {
            info.idle_since = since;
        }
    }

    /// Whether the listener evicted this connection; clears the mark, so
    /// the server's count of pending evictions stays right.
    fn take_eviction(&self) -> bool {
        let mut channels = self.shared.channels.borrow_mut();
        match channels.get_mut(self.slot) {
            Some(info) if info.evicted => {
                info.evicted = false;
                let evicting = &self.shared.evicting;
                evicting.set(evicting.get().saturating_sub(1));
                true
            }
            _ => false,
        }
    }

    /// How often the connection's timer looks at it: often enough that a
    /// timeout is acted on at most half a timeout late.
    fn check_period(&self) -> Duration {
        let config = self.config();
        let shortest = config
            .idle_timeout
            .min(config.request_timeout)
            .min(config.response_timeout);
        shortest
            .checked_div(2)
            .unwrap_or(shortest)
            .max(Duration::from_millis(10))
    }

    /// Answers a request that cannot be handled, and closes: after a
    /// framing error the next request's start cannot be known.
    fn refuse(&mut self, chat: &mut Chat, error: &HttpError) {
        log::debug!("{}: {error}", self.peer);
        let response = Response::error(error.status, &error.detail);
        self.refuse_with(chat, response);
    }

    /// [`refuse`](Self::refuse) with a response of the caller's.
    fn refuse_with(&mut self, chat: &mut Chat, response: Response) {
        let version = self.reader.version();
        let (method, uri) = match self.reader.take_head() {
            Some(request) => (request.method, request.uri),
            None => (String::new(), String::new()),
        };
        let log = self.entry(method, uri, version, None);
        self.send(chat, response, false, false, log);
        self.state = State::Closing;
        self.since = Instant::now();
        chat.close_when_done();
    }

    /// Calls the first matching handler, then sends its response.
    fn dispatch(&mut self, chat: &mut Chat, cx: &mut Context<'_>) {
        let Some((mut request, body)) = self.reader.take_message() else {
            return;
        };
        request.body = body;
        request.peer = Some(self.peer);
        let response = self.call_handler(&mut request);
        let keep_alive = request.wants_keep_alive();
        let head_only = request.method == "HEAD";
        let user = request.user.take();
        let log = self.entry(request.method, request.uri, request.version, user);
        let exchange = Exchange {
            keep_alive,
            head_only,
            log,
        };
        let slot = self.deferred.borrow_mut().take();
        if response.is_pending() {
            if slot.is_some() {
                // Hold everything else until the Responder answers.
                *self.deferred.borrow_mut() = slot;
                self.awaiting = Some(exchange);
                self.state = State::Waiting;
                self.since = Instant::now();
                return;
            }
            let error = Response::error(500, "the handler deferred without a responder");
            return self.finish(chat, cx, error, exchange);
        }
        self.finish(chat, cx, response, exchange);
    }

    /// Sends the response to `exchange` and readies the connection for the
    /// next request, or for closing.
    fn finish(
        &mut self,
        chat: &mut Chat,
        cx: &mut Context<'_>,
        response: Response,
        exchange: Exchange,
    ) {
        let keep_alive = exchange.keep_alive && !response.close && !cx.is_shutting_down();
        // Earlier responses still unsent: the peer is not reading, and a new
        // request must not count as activity (only output progress does).
        let backlog = chat.has_output();
        let keep_alive = self.send(chat, response, keep_alive, exchange.head_only, exchange.log);
        if keep_alive {
            self.state = State::Idle;
            if !backlog {
                self.since = Instant::now();
            }
            self.mark_idle(Some(self.since));
            chat.set_terminator(self.reader.terminator());
        } else {
            self.state = State::Closing;
            self.since = Instant::now();
            if exchange.keep_alive {
                // We close (shutdown, handler's choice): the client may
                // already be sending its next request, so linger.
                chat.close_when_done();
            } else {
                // The client asked for the close and sent its whole
                // request: nothing to drain.
                chat.close_when_done_without_linger();
            }
        }
    }

    fn call_handler(&self, request: &mut Request) -> Response {
        let mut handlers = self.shared.handlers.borrow_mut();
        let Some(index) = handlers.iter().position(|h| h.matches(request)) else {
            return Response::error(404, "no handler for this URL");
        };
        let (before, rest) = handlers.split_at_mut(index);
        let (handler, after) = rest.split_first_mut().expect("index is in range");
        let view = ServerView {
            config: &self.shared.config,
            stats: &self.shared.stats,
            started: self.shared.started,
            others: [before, after],
            channels: &self.shared.channels,
            deferral: Deferral {
                token: self.token,
                waker: &self.waker,
                slot: &self.deferred,
            },
        };
        match panic::catch_unwind(AssertUnwindSafe(|| handler.handle_request(request, &view))) {
            Ok(response) => response,
            Err(_) => {
                // The panic message went to stderr through the panic hook.
                log::error!(
                    "{}: handler panicked on {}",
                    self.peer,
                    request.request_line()
                );
                HttpStats::add(&self.shared.stats.panics, 1);
                Response::error(500, "the handler failed")
            }
        }
    }

    /// The access log's view of a request. Strings are moved in, not
    /// copied: the request is done with them.
    fn entry(&self, method: String, uri: String, version: Version, user: Option<String>) -> Entry {
        Entry {
            client: self.client,
            user,
            method,
            uri,
            version,
            status: 0,
        }
    }

    /// Pushes a response: head and (unless `head_only`) body, coalesced,
    /// and logs it (streamed bodies once they are sent). Returns whether
    /// the connection stays open afterwards.
    fn send(
        &self,
        chat: &mut Chat,
        response: Response,
        keep_alive: bool,
        head_only: bool,
        mut log: Entry,
    ) -> bool {
        let version = log.version;
        let mut keep_alive = keep_alive;
        let framing = if !response.status_allows_body() {
            Framing::None
        } else {
            match response.body.len() {
                Some(n) => Framing::Length(n),
                None if version == Version::Http11 => Framing::Chunked,
                None => {
                    keep_alive = false;
                    Framing::UntilClose
                }
            }
        };
        let stats = &self.shared.stats;
        HttpStats::add(&stats.requests, 1);
        if let Some(info) = self.shared.channels.borrow_mut().get_mut(self.slot) {
            info.requests = info.requests.saturating_add(1);
        }
        if response.status >= 400 {
            HttpStats::add(&stats.errors, 1);
        }
        let mut out = Vec::with_capacity(
            256usize.saturating_add(response.body.len().unwrap_or(0).min(64 * 1024) as usize),
        );
        response.write_head(&mut out, version, self.config(), framing, keep_alive);
        let head_len = out.len() as u64;
        log.status = response.status;
        let body = if head_only || framing == Framing::None {
            Body::Empty
        } else {
            response.body
        };
        match body {
            // `finish` never sends a pending response (dispatch checks).
            Body::Empty | Body::Pending => {
                chat.push(&out);
                HttpStats::add(&stats.bytes_out, head_len);
                self.shared.access_log.borrow_mut().record(&log, 0);
            }
            Body::Bytes(bytes) => {
                out.extend_from_slice(&bytes);
                chat.push(&out);
                HttpStats::add(&stats.bytes_out, out.len() as u64);
                self.shared
                    .access_log
                    .borrow_mut()
                    .record(&log, bytes.len() as u64);
            }
            Body::Stream { producer, .. } => {
                chat.push(&out);
                HttpStats::add(&stats.bytes_out, head_len);
                let shared = self.shared.clone();
                // Medusa's way: the byte count reaches the log when the
                // producer is exhausted.
                let hooked = HookedProducer::new(producer, move |n| {
                    HttpStats::add(&shared.stats.bytes_out, n);
                    shared.access_log.borrow_mut().record(&log, n);
                });
                if framing == Framing::Chunked {
                    chat.push_with_producer(ChunkedProducer::new(hooked, Vec::new()));
                } else {
                    chat.push_with_producer(hooked);
                }
            }
        }
        keep_alive
    }

    /// A complete head arrived: check it, then read its body or dispatch.
    fn head_complete(&mut self, chat: &mut Chat, cx: &mut Context<'_>) {
        let body_follows = self.reader.body_follows();
        let Some(request) = self.reader.head_mut() else {
            return;
        };
        let forwarded_for = request
            .headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("X-Forwarded-For"))
            .map(|(_, value)| value.as_str());
        let trusted = &self.shared.config.trusted_proxies;
        self.client = forwarded::client_address(self.peer.ip(), forwarded_for, trusted);
        let version = request.version;
        let expects_continue = request
            .header("Expect")
            .map(|e| e.eq_ignore_ascii_case("100-continue"));
        let refusal = if body_follows {
            admit(&self.shared, request)
        } else {
            None
        };
        if expects_continue == Some(false) {
            return self.refuse(chat, &HttpError::new(417, "unsupported Expect"));
        }
        if let Some(response) = refusal {
            // Before any of the body is read (or, with Expect, sent).
            log::debug!(
                "{}: refused before its body: {}",
                self.peer,
                response.status
            );
            return self.refuse_with(chat, response);
        }
        if !body_follows {
            return self.dispatch(chat, cx);
        }
        if expects_continue == Some(true) && version == Version::Http11 {
            chat.push(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        chat.set_terminator(self.reader.terminator());
    }
}

/// Asks the handler that will take `request` whether its body may be read
/// ([`Handler::admit`](super::Handler::admit)); `Some` is the refusal to
/// send.
fn admit(shared: &Shared, request: &mut Request) -> Option<Response> {
    let mut handlers = shared.handlers.borrow_mut();
    let handler = handlers.iter_mut().find(|h| h.matches(request))?;
    match panic::catch_unwind(AssertUnwindSafe(|| handler.admit(request))) {
        Ok(Ok(())) => None,
        Ok(Err(response)) => Some(response),
        Err(_) => {
            HttpStats::add(&shared.stats.panics, 1);
            Some(Response::error(500, "the handler failed"))
        }
    }
}

impl ChatHandler for HttpChannel {
    fn collect_incoming_data(&mut self, chat: &mut Chat, data: &[u8]) {
        HttpStats::add(&self.shared.stats.bytes_in, data.len() as u64);
        match self.state {
            State::Idle | State::Reading => {
                if self.state == State::Idle {
                    self.mark_idle(None);
                    self.state = State::Reading;
                    self.client = self.peer.ip();
                    self.since = Instant::now();
                }
                if let Err(error) = self.reader.collect_incoming_data(data) {
                    self.refuse(chat, &error);
                }
            }
            // Not fed while waiting (readable() is false).
            State::Waiting | State::Closing => {}
        }
    }

    fn found_terminator(&mut self, chat: &mut Chat, cx: &mut Context<'_>) -> io::Result<()> {
        let terminator_len = match chat.get_terminator() {
            Terminator::Bytes(t) => t.len() as u64,
            _ => 0,
        };
        HttpStats::add(&self.shared.stats.bytes_in, terminator_len);
        if !matches!(self.state, State::Idle | State::Reading) {
            return Ok(());
        }
        match self.reader.found_terminator() {
            Err(error) => self.refuse(chat, &error),
            Ok(None) => chat.set_terminator(self.reader.terminator()),
            Ok(Some(Event::Head)) => self.head_complete(chat, cx),
            Ok(Some(Event::Body)) => self.dispatch(chat, cx),
        }
        Ok(())
    }

    /// While a deferred reply is awaited, pipelined requests wait in the
    /// channel's input buffer (and reading pauses when it fills).
    fn readable(&self) -> bool {
        self.state != State::Waiting
    }

    /// A `Responder` answered (or a stale wake-up: then nothing is waiting).
    fn handle_wake(&mut self, chat: &mut Chat, cx: &mut Context<'_>) -> io::Result<()> {
        if self.take_eviction() {
            // Evicted while idle: close. If a request started meanwhile
            // (same pass), it is served, and the server is one over its
            // limit until this connection closes.
            if self.state == State::Idle {
                log::debug!("{}: idle connection closed to make room", self.peer);
                chat.close();
            }
            return Ok(());
        }
        if self.state != State::Waiting {
            return Ok(());
        }
        let Some(make) = self.deferred.borrow().as_ref().and_then(deferred::take) else {
            return Ok(());
        };
        *self.deferred.borrow_mut() = None;
        let response = match panic::catch_unwind(AssertUnwindSafe(make)) {
            Ok(response) if !response.is_pending() => response,
            Ok(_) => Response::error(500, "a deferred reply cannot itself be pending"),
            Err(_) => {
                HttpStats::add(&self.shared.stats.panics, 1);
                Response::error(500, "the deferred reply failed")
            }
        };
        if let Some(exchange) = self.awaiting.take() {
            self.finish(chat, cx, response, exchange);
        }
        Ok(())
    }

    fn handle_added(&mut self, chat: &mut Chat, cx: &mut Context<'_>) -> io::Result<()> {
        self.token = cx.token();
        if let Some(info) = self.shared.channels.borrow_mut().get_mut(self.slot) {
            info.token = Some(self.token);
        }
        chat.set_terminator(self.reader.terminator());
        self.since = Instant::now();
        self.timer = Some(cx.set_timer(self.check_period()));
        Ok(())
    }

    fn handle_timer(
        &mut self,
        chat: &mut Chat,
        cx: &mut Context<'_>,
        timer: TimerId,
    ) -> io::Result<()> {
        if self.timer != Some(timer) {
            return Ok(());
        }
        // Idle and Closing wait on the peer to read (or send) anything;
        // the others on a request still arriving.
        let waiting_on_reader = matches!(self.state, State::Idle | State::Closing);
        let limit = if waiting_on_reader {
            self.config().idle_timeout
        } else if self.state == State::Waiting {
            self.config().response_timeout
        } else {
            self.config().request_timeout
        };
        if chat.bytes_sent() != self.sent_mark {
            // The peer is reading a long response: that is activity.
            self.sent_mark = chat.bytes_sent();
            if waiting_on_reader {
                self.since = Instant::now();
            }
        }
        let elapsed = self.since.elapsed();
        if elapsed < limit {
            // Activity moved the deadline; sleep until the new one, but no
            // longer than a check period: a request may start meanwhile
            // (collect_incoming_data has no Context to move the timer).
            let next = limit
                .saturating_sub(elapsed)
                .saturating_add(Duration::from_millis(1))
                .min(self.check_period());
            self.timer = Some(cx.set_timer(next));
            return Ok(());
        }
        if self.state == State::Waiting {
            // A late answer finds the slot gone and is dropped.
            *self.deferred.borrow_mut() = None;
            if let Some(exchange) = self.awaiting.take() {
                let exchange = Exchange {
                    keep_alive: false,
                    ..exchange
                };
                let response = Response::error(504, "the reply did not come in time");
                self.finish(chat, cx, response, exchange);
            }
        } else if waiting_on_reader {
            // Idle, or a response the peer stopped reading.
            log::debug!("{}: idle for {elapsed:?}, closing", self.peer);
            chat.close();
        } else {
            let error = HttpError::new(408, "request not received in time");
            self.refuse(chat, &error);
        }
        Ok(())
    }

    fn handle_shutdown(&mut self, chat: &mut Chat, _cx: &mut Context<'_>) {
        // A request half received may still be finished and answered (with
        // Connection: close); an idle connection closes now.
        if self.state == State::Idle {
            chat.close_when_done();
        }
    }
}

impl Drop for HttpChannel {
    fn drop(&mut self) {
        self.take_eviction();
        let open = &self.shared.stats.connections_open;
        open.set(open.get().saturating_sub(1));
        self.shared.channels.borrow_mut().try_remove(self.slot);
    }
}
