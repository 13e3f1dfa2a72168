//! One kept-alive connection of the reactor client's pool: sends a call,
//! reads the answer by terminators, hands the result to the callback, and
//! goes back to the pool.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use mio::Token;

use super::{AsyncClientConfig, Call, CallResult, Pool};
use crate::chat::{Chat, ChatHandler, Terminator};
use crate::http::{chunk_size, content_length};
use crate::reactor::{Context, DispatchError, TimerId};
use crate::xmlrpc::client::blocking::{decode_answer, inflate_within, too_large, ClientError};

/// Where a connection is in reading a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ReadState {
    /// No call in flight.
    Idle,
    Head,
    Body,
    ChunkSize,
    ChunkData,
    ChunkEnd,
    Trailers,
    /// No length: the body ends when the server closes.
    UntilClose,
}

/// One kept-alive connection to a server.
pub(super) struct Connection {
    pool: Rc<RefCell<Pool>>,
    authority: String,
    /// Which of the server's addresses it connects to.
    addr_index: usize,
    /// The connect succeeded (a failure before then moves the call on to
    /// the next address).
    connected: bool,
    call: Option<Call>,
    state: ReadState,
    head: Vec<u8>,
    body: Vec<u8>,
    gzip: bool,
    keep_alive: bool,
    status: u16,
    reason: String,
    /// Has completed a call before (so a silent close means stale).
    used: bool,
    got_bytes: bool,
    timer: Option<TimerId>,
    token: Option<Token>,
    /// Why the channel failed, if it did (refused, reset...), for the call.
    error: Option<io::Error>,
}

impl Connection {
    pub(super) fn new(pool: Rc<RefCell<Pool>>, authority: String, addr_index: usize) -> Connection {
        Connection {
            pool,
            authority,
            addr_index,
            connected: false,
            call: None,
            state: ReadState::Idle,
            head: Vec::new(),
            body: Vec::new(),
            gzip: false,
            keep_alive: true,
            status: 0,
            reason: String::new(),
            used: false,
            got_bytes: false,
            timer: None,
            token: None,
            error: None,
        }
    }

    fn config(&self) -> AsyncClientConfig {
        self.pool.borrow().config.clone()
    }

    /// Starts `call` on this connection.
    fn start(&mut self, mut call: Call, chat: &mut Chat, cx: &mut Context<'_>) {
        chat.push(&call.request);
        let left = call.time_left(self.config().request_timeout);
        self.call = Some(call);
        self.state = ReadState::Head;
        self.head.clear();
        self.body.clear();
        self.got_bytes = false;
        chat.set_terminator(Terminator::bytes(b"\r\n\r\n"));
        if let Some(timer) = self.timer.take() {
            cx.cancel_timer(timer);
        }
        self.timer = Some(cx.set_timer(left));
    }

    /// Takes the next queued call for this server, or goes idle.
    fn next(&mut self, chat: &mut Chat, cx: &mut Context<'_>) {
        let mut pool = self.pool.borrow_mut();
        let next = pool
            .servers
            .get_mut(&self.authority)
            .and_then(|s| s.queue.pop_front());
        match next {
            Some(call) => {
                drop(pool);
                self.start(call, chat, cx);
            }
            None => {
                if pool.closed {
                    drop(pool);
                    chat.close();
                    return;
                }
                if let (Some(server), Some(token)) =
                    (pool.servers.get_mut(&self.authority), self.token)
                {
                    server.idle.push(token);
                }
                let idle = pool.config.idle_timeout;
                drop(pool);
                self.state = ReadState::Idle;
                if let Some(timer) = self.timer.take() {
                    cx.cancel_timer(timer);
                }
                self.timer = Some(cx.set_timer(idle));
            }
        }
    }

    /// Ends the call in flight with `result`.
    fn complete(&mut self, result: CallResult) {
        if let Some(call) = self.call.take() {
            (call.callback)(result);
        }
    }

    /// The response head arrived.
    fn head_done(&mut self, chat: &mut Chat, cx: &mut Context<'_>) {
        let raw = std::mem::take(&mut self.head);
        let mut raw = raw;
        raw.extend_from_slice(b"\r\n\r\n");
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        if !matches!(response.parse(&raw), Ok(httparse::Status::Complete(_))) {
            return self.fail(
                chat,
                ClientError::Protocol("malformed response head".into()),
            );
        }
        let status = response.code.unwrap_or(0);
        if (100..200).contains(&status) {
            // An interim response (100 Continue): the real one follows.
            return;
        }
        let header = |name: &str| {
            response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .and_then(|h| std::str::from_utf8(h.value).ok())
                .map(str::trim)
        };
        let connection = header("Connection").unwrap_or("").to_ascii_lowercase();
        self.keep_alive = if response.version == Some(1) {
            !connection.contains("close")
        } else {
            connection.contains("keep-alive")
        };
        self.gzip = header("Content-Encoding").is_some_and(|c| c.eq_ignore_ascii_case("gzip"));
        self.status = status;
        self.reason = response.reason.unwrap_or("").to_string();
        let chunked =
            header("Transfer-Encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked"));
        let length = header("Content-Length").map(|v| content_length(v).ok_or(()));
        let limit = self.config().max_response_bytes;
        match (chunked, length) {
            (true, _) => {
                self.state = ReadState::ChunkSize;
                chat.set_terminator(Terminator::bytes(b"\r\n"));
            }
            (false, Some(Ok(n))) if n > limit as u64 => self.fail(chat, too_large(limit)),
            (false, Some(Ok(0))) => self.body_done(chat, cx),
            (false, Some(Ok(n))) => {
                self.state = ReadState::Body;
                chat.set_terminator(Terminator::Length(n));
            }
            (false, Some(Err(_))) => {
                self.fail(chat, ClientError::Protocol("bad Content-Length".into()))
            }
            (false, None) => {
                self.state = ReadState::UntilClose;
                self.keep_alive = false;
                chat.set_terminator(Terminator::None);
            }
        }
    }

    /// The whole body is in: decode, answer the callback, move on.
    fn body_done(&mut self, chat: &mut Chat, cx: &mut Context<'_>) {
        let body = std::mem::take(&mut self.body);
        let result = self.decode(body);
        self.used = true;
        if let Some(timer) = self.timer.take() {
            cx.cancel_timer(timer);
        }
        self.complete(result);
        if self.keep_alive {
            self.next(chat, cx);
        } else {
            self.state = ReadState::Idle;
            chat.close();
        }
    }

    fn decode(&self, body: Vec<u8>) -> CallResult {
        if !(200..300).contains(&self.status) {
            return Err(ClientError::Http {
                status: self.status,
                reason: self.reason.clone(),
            });
        }
        let limit = self.config().max_response_bytes;
        let xml = inflate_within(body, self.gzip, limit)?;
        decode_answer(&xml, limit)
    }

    /// The call fails and the connection closes (its framing is lost).
    fn fail(&mut self, chat: &mut Chat, error: ClientError) {
        self.complete(Err(error));
        self.state = ReadState::Idle;
        chat.close();
    }
}

impl ChatHandler for Connection {
    fn collect_incoming_data(&mut self, chat: &mut Chat, data: &[u8]) {
        self.got_bytes = true;
        let limit = self.pool.borrow().config.max_response_bytes;
        match self.state {
            ReadState::Head | ReadState::ChunkSize | ReadState::ChunkEnd | ReadState::Trailers => {
                if self.head.len().saturating_add(data.len()) > 64 * 1024 {
                    return self.fail(
                        chat,
                        ClientError::Protocol("response head too large".into()),
                    );
                }
                self.head.extend_from_slice(data);
            }
            ReadState::Body | ReadState::ChunkData | ReadState::UntilClose => {
                if self.body.len().saturating_add(data.len()) > limit {
                    return self.fail(chat, too_large(limit));
                }
                self.body.extend_from_slice(data);
            }
            // Bytes nobody asked for: the framing cannot be trusted.
            ReadState::Idle => chat.close(),
        }
    }

    fn found_terminator(&mut self, chat: &mut Chat, cx: &mut Context<'_>) -> io::Result<()> {
        match self.state {
            ReadState::Head => self.head_done(chat, cx),
            ReadState::Body => self.body_done(chat, cx),
            ReadState::ChunkSize => {
                let line = std::mem::take(&mut self.head);
                let size = chunk_size(&line);
                let limit = self.config().max_response_bytes;
                let room = limit.saturating_sub(self.body.len());
                match size {
                    Some(0) => {
                        self.state = ReadState::Trailers;
                    }
                    // Refused now rather than after reading up to the limit.
                    Some(n) if n > room as u64 => self.fail(chat, too_large(limit)),
                    Some(n) => {
                        self.state = ReadState::ChunkData;
                        chat.set_terminator(Terminator::Length(n));
                    }
                    None => self.fail(chat, ClientError::Protocol("bad chunk size".into())),
                }
            }
            ReadState::ChunkData => {
                self.state = ReadState::ChunkEnd;
                chat.set_terminator(Terminator::bytes(b"\r\n"));
            }
            ReadState::ChunkEnd => {
                self.head.clear();
                self.state = ReadState::ChunkSize;
            }
            ReadState::Trailers => {
                if std::mem::take(&mut self.head).is_empty() {
                    self.body_done(chat, cx);
                }
            }
            ReadState::UntilClose | ReadState::Idle => {}
        }
        Ok(())
    }

    fn handle_added(&mut self, _chat: &mut Chat, cx: &mut Context<'_>) -> io::Result<()> {
        self.token = Some(cx.token());
        // The connection was opened for the call at the head of the queue.
        let call = {
            let mut pool = self.pool.borrow_mut();
            pool.servers
                .get_mut(&self.authority)
                .and_then(|s| s.queue.pop_front())
        };
        match call {
            Some(mut call) => {
                // Sent once connected.
                let left = call.time_left(self.config().request_timeout);
                self.call = Some(call);
                self.state = ReadState::Head;
                self.timer = Some(cx.set_timer(left));
            }
            None => self.timer = Some(cx.set_timer(self.config().idle_timeout)),
        }
        Ok(())
    }

    fn handle_connect(&mut self, chat: &mut Chat, cx: &mut Context<'_>) -> io::Result<()> {
        self.connected = true;
        if let Some(server) = self.pool.borrow_mut().servers.get_mut(&self.authority) {
            server.preferred = self.addr_index;
        }
        match self.call.take() {
            Some(call) => {
                self.start(call, chat, cx);
            }
            None => self.next(chat, cx),
        }
        Ok(())
    }

    fn handle_close(&mut self, chat: &mut Chat, cx: &mut Context<'_>) {
        if self.state == ReadState::UntilClose {
            self.body_done(chat, cx);
        }
        chat.close();
    }

    fn handle_timer(
        &mut self,
        chat: &mut Chat,
        _cx: &mut Context<'_>,
        timer: TimerId,
    ) -> io::Result<()> {
        if self.timer != Some(timer) {
            return Ok(());
        }
        self.timer = None;
        if self.call.is_some() {
            let error = io::Error::new(
                io::ErrorKind::TimedOut,
                "no complete answer within request_timeout",
            );
            self.fail(chat, ClientError::Io(error));
        } else {
            // Idle too long: leave the pool.
            chat.close();
        }
        Ok(())
    }

    fn handle_wake(&mut self, chat: &mut Chat, cx: &mut Context<'_>) -> io::Result<()> {
        let Some(token) = self.token else {
            return Ok(());
        };
        let handed = self.pool.borrow_mut().handed.remove(&token);
        match handed {
            Some(call) if self.state == ReadState::Idle && self.call.is_none() => {
                self.start(call, chat, cx)
            }
            Some(call) => {
                // Busy after all: back to the head of the queue.
                let mut pool = self.pool.borrow_mut();
                if let Some(server) = pool.servers.get_mut(&self.authority) {
                    server.queue.push_front(call);
                }
                pool.wake_hub();
            }
            None if self.pool.borrow().closed && self.call.is_none() => chat.close(),
            None => {}
        }
        Ok(())
    }

    fn handle_shutdown(&mut self, chat: &mut Chat, _cx: &mut Context<'_>) {
        if self.call.is_none() {
            chat.close();
        }
    }

    fn handle_error(&mut self, _chat: &mut Chat, error: &DispatchError) {
        self.error = Some(match error {
            DispatchError::Io(e) => io::Error::new(e.kind(), e.to_string()),
            DispatchError::Panic(message) => io::Error::other(format!("panic: {message}")),
        });
    }
}

impl Drop for Connection {
    /// However the connection ends, its call gets an answer, its slot in the
    /// pool is freed, and queued calls get a chance at a new connection.
    fn drop(&mut self) {
        let stale = self.used && !self.got_bytes;
        let call = self.call.take();
        let mut pool = self.pool.borrow_mut();
        let handed_back = self.token.and_then(|t| pool.handed.remove(&t));
        if let Some(server) = pool.servers.get_mut(&self.authority) {
            server.open = server.open.saturating_sub(1);
            if let Some(token) = self.token {
                server.idle.retain(|t| *t != token);
            }
            if let Some(call) = handed_back {
                server.queue.push_front(call);
            }
        }
        let retry = match call {
            // A kept-alive connection the server had closed: send again, once,
            // with a fresh timeout.
            Some(call) if stale && !call.retried => {
                if let Some(server) = pool.servers.get_mut(&self.authority) {
                    server.queue.push_front(Call {
                        retried: true,
                        deadline: None,
                        ..call
                    });
                }
                None
            }
            // Refused, unreachable...: the next address, if any is left.
            Some(call) if !self.connected => pool.try_next_addr(&self.authority, call),
            other => other,
        };
        pool.wake_hub();
        drop(pool);
        if let Some(call) = retry {
            let error = self.error.take().unwrap_or_else(|| {
                io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "connection closed before the answer",
                )
            });
            (call.callback)(Err(ClientError::Io(error)));
        }
    }
}
