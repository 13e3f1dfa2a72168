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
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::access_log::Entry;
use super::codec::{Event, MessageReader};
use super::deferred::{self, Slot};
use super::server::{ChannelInfo, HttpStats, Shared};
use super::{HttpError, Request, Response};
use crate::chat::{Chat, ChatHandler, Terminator};
use crate::reactor::{Context, DispatchError, Peer, TimerId, Waker};
use mio::Token;

mod dispatch;
mod send;

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
    peer: Peer,
    /// Who the access log names for the current request: `peer`, or the
    /// client a trusted proxy forwarded for (with the proxy's port).
    client: Peer,
    state: State,
    /// The connection's first bytes have come (so a TLS handshake is
    /// done, and counted).
    greeted: bool,
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
    /// The request's `Origin`, when CORS is on (to name it on the answer).
    origin: Option<String>,
}

impl HttpChannel {
    pub(crate) fn new(shared: Rc<Shared>, peer: Peer, waker: Waker) -> HttpChannel {
        let slot = shared.channels.borrow_mut().insert(ChannelInfo {
            peer,
            opened: Instant::now(),
            requests: 0,
            token: None,
            idle_since: None,
            evicted: false,
        });
        let reader = MessageReader::new(shared.config.message_limits());
        log::debug!("{peer}: connection opened");
        HttpChannel {
            slot,
            token: Token(usize::MAX),
            waker,
            deferred: RefCell::new(None),
            awaiting: None,
            shared,
            peer,
            client: peer,
            state: State::Idle,
            greeted: false,
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
    /// timeout is acted on at most half a timeout late. The handshake
    /// timeout counts only while a TLS handshake is going on, so that it
    /// does not make every kept-alive connection's timer fire more often.
    fn check_period(&self, chat: &Chat) -> Duration {
        let config = self.config();
        let mut shortest = config
            .idle_timeout
            .min(config.request_timeout)
            .min(config.response_timeout);
        if handshaking(chat) {
            shortest = shortest.min(config.handshake_timeout);
        }
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
        self.send(chat, None, response, false, false, log);
        self.state = State::Closing;
        self.since = Instant::now();
        chat.close_when_done();
    }
}

impl HttpChannel {
    /// Counts a completed TLS handshake by its version.
    fn count_handshake(&self, chat: &Chat) {
        let stats = &self.shared.stats;
        match chat.stream().tls().and_then(|tls| tls.protocol_version()) {
            Some(rustls::ProtocolVersion::TLSv1_3) => HttpStats::add(&stats.tls13_handshakes, 1),
            Some(rustls::ProtocolVersion::TLSv1_2) => HttpStats::add(&stats.tls12_handshakes, 1),
            _ => {}
        }
    }
}

impl ChatHandler for HttpChannel {
    fn collect_incoming_data(&mut self, chat: &mut Chat, data: &[u8]) {
        HttpStats::add(&self.shared.stats.bytes_in, data.len() as u64);
        if !self.greeted {
            self.greeted = true;
            self.count_handshake(chat);
        }
        match self.state {
            State::Idle | State::Reading => {
                if self.state == State::Idle {
                    self.mark_idle(None);
                    self.state = State::Reading;
                    self.client = self.peer;
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
            Ok(response) => response,
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
        self.timer = Some(cx.set_timer(self.check_period(chat)));
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
        // No request can start before the handshake ends; `since` is still
        // the accept's time then (nothing was read).
        let handshaking = handshaking(chat);
        let limit = if handshaking {
            self.config().handshake_timeout
        } else if waiting_on_reader {
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
                .min(self.check_period(chat));
            self.timer = Some(cx.set_timer(next));
            return Ok(());
        }
        if handshaking {
            log::debug!(
                "{}: TLS handshake not done in {elapsed:?}, closing",
                self.peer
            );
            HttpStats::add(&self.shared.stats.tls_handshake_failures, 1);
            chat.close();
        } else if self.state == State::Waiting {
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

    /// A TLS connection that fails before its handshake is done is a
    /// failed handshake (plain HTTP on the TLS port, a bad client).
    fn handle_error(&mut self, chat: &mut Chat, _error: &DispatchError) {
        if handshaking(chat) {
            HttpStats::add(&self.shared.stats.tls_handshake_failures, 1);
        }
    }

    fn handle_shutdown(&mut self, chat: &mut Chat, _cx: &mut Context<'_>) {
        // A request half received may still be finished and answered (with
        // Connection: close); an idle connection closes now.
        if self.state == State::Idle {
            chat.close_when_done();
        }
    }
}

/// Whether the connection is TLS and its handshake is not done yet.
fn handshaking(chat: &Chat) -> bool {
    chat.stream().tls().is_some_and(|tls| tls.is_handshaking())
}

impl Drop for HttpChannel {
    fn drop(&mut self) {
        self.take_eviction();
        let open = &self.shared.stats.connections_open;
        open.set(open.get().saturating_sub(1));
        if let Some(info) = self.shared.channels.borrow_mut().try_remove(self.slot) {
            log::debug!(
                "{}: connection closed after {:?}, {} requests",
                self.peer,
                info.opened.elapsed(),
                info.requests
            );
        }
    }
}
