//! One kept-alive connection of the reactor client's pool: sends a call,
//! reads the answer with the HTTP message reader (the server's own, by
//! terminators), hands the result to the callback, and goes back to the
//! pool.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use mio::Token;

use super::{AsyncClientConfig, Call, CallResult, Pool};
use crate::chat::{Chat, ChatHandler};
use crate::http::codec::{MessageReader, ResponseHead};
use crate::reactor::{Context, DispatchError, TimerId};
use crate::xmlrpc::client::answer::{decode_answer, response_reader, response_xml, unreadable};
use crate::xmlrpc::client::error::ClientError;

/// One kept-alive connection to a server.
pub(super) struct Connection {
    pool: Rc<RefCell<Pool>>,
    key: String,
    /// Which of the server's addresses it connects to.
    addr_index: usize,
    /// The connect succeeded (a failure before then moves the call on to
    /// the next address).
    connected: bool,
    /// The call in flight; `None` while idle in the pool.
    call: Option<Call>,
    reader: MessageReader<ResponseHead>,
    /// Has completed a call before (so a silent close means stale).
    used: bool,
    got_bytes: bool,
    timer: Option<TimerId>,
    token: Option<Token>,
    /// Why the channel failed, if it did (refused, reset...), for the call.
    error: Option<io::Error>,
}

impl Connection {
    pub(super) fn new(pool: Rc<RefCell<Pool>>, key: String, addr_index: usize) -> Connection {
        let reader = response_reader(pool.borrow().config.max_response_bytes);
        Connection {
            pool,
            key,
            addr_index,
            connected: false,
            call: None,
            reader,
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
        self.got_bytes = false;
        chat.set_terminator(self.reader.terminator());
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
            .get_mut(&self.key)
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
                if let (Some(server), Some(token)) = (pool.servers.get_mut(&self.key), self.token) {
                    server.idle.push(token);
                }
                let idle = pool.config.idle_timeout;
                drop(pool);
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

    /// The whole response is in: decode, answer the callback, move on.
    fn response_done(
        &mut self,
        head: ResponseHead,
        body: Vec<u8>,
        chat: &mut Chat,
        cx: &mut Context<'_>,
    ) {
        let limit = self.config().max_response_bytes;
        let result = response_xml(&head, body, limit).and_then(|xml| decode_answer(&xml, limit));
        self.used = true;
        if let Some(timer) = self.timer.take() {
            cx.cancel_timer(timer);
        }
        self.complete(result);
        if head.keep_alive() {
            self.next(chat, cx);
        } else {
            chat.close();
        }
    }

    /// The call fails and the connection closes (its framing is lost).
    fn fail(&mut self, chat: &mut Chat, error: ClientError) {
        self.complete(Err(error));
        chat.close();
    }
}

impl ChatHandler for Connection {
    fn collect_incoming_data(&mut self, chat: &mut Chat, data: &[u8]) {
        self.got_bytes = true;
        if self.call.is_none() {
            // Bytes nobody asked for: the framing cannot be trusted.
            return chat.close();
        }
        if let Err(error) = self.reader.collect_incoming_data(data) {
            let limit = self.config().max_response_bytes;
            self.fail(chat, unreadable(error, limit));
        }
    }

    fn found_terminator(&mut self, chat: &mut Chat, cx: &mut Context<'_>) -> io::Result<()> {
        if self.call.is_none() {
            return Ok(());
        }
        match self.reader.found_terminator() {
            Err(error) => {
                let limit = self.config().max_response_bytes;
                self.fail(chat, unreadable(error, limit));
            }
            Ok(_) => match self.reader.take_message() {
                Some((head, body)) => self.response_done(head, body, chat, cx),
                None => chat.set_terminator(self.reader.terminator()),
            },
        }
        Ok(())
    }

    fn handle_added(&mut self, _chat: &mut Chat, cx: &mut Context<'_>) -> io::Result<()> {
        self.token = Some(cx.token());
        // The connection was opened for the call at the head of the queue.
        let call = {
            let mut pool = self.pool.borrow_mut();
            pool.servers
                .get_mut(&self.key)
                .and_then(|s| s.queue.pop_front())
        };
        match call {
            Some(mut call) => {
                // Sent once connected.
                let left = call.time_left(self.config().request_timeout);
                self.call = Some(call);
                self.timer = Some(cx.set_timer(left));
            }
            None => self.timer = Some(cx.set_timer(self.config().idle_timeout)),
        }
        Ok(())
    }

    fn handle_connect(&mut self, chat: &mut Chat, cx: &mut Context<'_>) -> io::Result<()> {
        self.connected = true;
        if let Some(server) = self.pool.borrow_mut().servers.get_mut(&self.key) {
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
        // The end of a body that runs to the close; any other end of input
        // is for Drop to report (or to retry, on a stale connection).
        if self.call.is_some() && matches!(self.reader.end_of_input(), Ok(Some(_))) {
            if let Some((head, body)) = self.reader.take_message() {
                self.response_done(head, body, chat, cx);
            }
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
            Some(call) if self.call.is_none() => self.start(call, chat, cx),
            Some(call) => {
                // Busy after all: back to the head of the queue.
                let mut pool = self.pool.borrow_mut();
                if let Some(server) = pool.servers.get_mut(&self.key) {
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
        if let Some(server) = pool.servers.get_mut(&self.key) {
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
                if let Some(server) = pool.servers.get_mut(&self.key) {
                    server.queue.push_front(Call {
                        retried: true,
                        deadline: None,
                        ..call
                    });
                }
                None
            }
            // Refused, unreachable...: the next address, if any is left.
            Some(call) if !self.connected => pool.try_next_addr(&self.key, call),
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
