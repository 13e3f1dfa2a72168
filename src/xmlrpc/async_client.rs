//! The reactor client: many XML-RPC calls in flight at once, to one or many
//! servers, from the loop's own thread.
//!
//! The recipe's discussion: "the benefits of the asynchronous approach come
//! when a program does several network operations at once". Python's
//! asyncore could do it (`dispatcher.connect`, then read the answer as it
//! arrives) but `xmlrpclib` never did. Here:
//!
//! ```no_run
//! use medusa::reactor::Reactor;
//! use medusa::xmlrpc::{AsyncClient, AsyncClientConfig, Value};
//!
//! let mut reactor = Reactor::new()?;
//! let client = AsyncClient::new(&mut reactor, AsyncClientConfig::default())?;
//! for port in [8001, 8002, 8003] {
//!     let url = format!("http://127.0.0.1:{port}/RPC2");
//!     client.call(&url, "add", vec![Value::Int(40), Value::Int(2)], move |result| {
//!         println!("{port}: {result:?}");
//!     });
//! }
//! reactor.run()?; // until the calls are done and the client is closed
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! How it works: an [`AsyncClient`] is a handle on a *pool*, shared by a
//! socketless hub dispatcher and the connection channels. `call` queues the
//! call and wakes the hub; the hub hands each queued call to an idle
//! kept-alive connection to that server, or opens a new one (asyncore's
//! non-blocking `connect`) while fewer than `max_connections_per_server`
//! are open. A connection channel sends the request, reads the response by
//! terminators as the server channel reads requests, calls the callback,
//! and goes back to the pool. Every failure (refused connection, reset,
//! timeout, HTTP error, fault, garbage) reaches exactly that call's
//! callback; none reaches the loop.
//!
//! Callbacks run on the loop's thread and must not block. To answer a
//! deferred server-side call when the calls it made come back, move its
//! responder into the callbacks (see `examples/fanout.rs`).

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io::{self, Read};
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::time::Duration;

use flate2::read::MultiGzDecoder;
use mio::event::Source;
use mio::Token;

use super::{decode_response, encode_call, ClientError, DecodeLimits, EncodeOptions, Value};
use crate::chat::{AsyncChat, Chat, ChatConfig, ChatHandler, Terminator};
use crate::reactor::{Context, DispatchError, Dispatcher, Reactor, TimerId, Waker};

/// What a completed call gives its callback.
pub type CallResult = Result<Value, ClientError>;

type Callback = Box<dyn FnOnce(CallResult)>;

/// Limits of an [`AsyncClient`].
#[derive(Clone, Debug)]
pub struct AsyncClientConfig {
    /// Open connections per server; further calls wait in a queue.
    /// Default 8.
    pub max_connections_per_server: usize,
    /// From handing a call to a connection (connecting first if need be)
    /// to its complete answer. Default 30 s.
    pub request_timeout: Duration,
    /// How long an unused kept-alive connection stays open. Default 15 s.
    pub idle_timeout: Duration,
    /// Largest response body accepted. Default 10 MiB.
    pub max_response_bytes: usize,
    /// What the encoder may send.
    pub encode: EncodeOptions,
}

impl Default for AsyncClientConfig {
    fn default() -> AsyncClientConfig {
        AsyncClientConfig {
            max_connections_per_server: 8,
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(15),
            max_response_bytes: 10 * 1024 * 1024,
            encode: EncodeOptions::default(),
        }
    }
}

/// One call on its way.
struct Call {
    request: Vec<u8>,
    callback: Callback,
    /// A call retried once on a fresh connection after a stale one.
    retried: bool,
}

/// Per-server state of the pool.
struct Server {
    addr: SocketAddr,
    queue: VecDeque<Call>,
    idle: Vec<Token>,
    open: usize,
}

/// Shared by the hub and every connection.
struct Pool {
    config: AsyncClientConfig,
    servers: HashMap<String, Server>,
    /// Calls handed to idle connections, waiting for their channel's wake-up.
    handed: HashMap<Token, Call>,
    hub: Option<Token>,
    waker: Waker,
    /// A wake-up is on its way to the hub: one per pass is enough (each
    /// costs a system call).
    hub_woken: bool,
    closed: bool,
}

/// A handle on the reactor client's pool; cheap to clone, used on the
/// loop's thread.
#[derive(Clone)]
pub struct AsyncClient {
    pool: Rc<RefCell<Pool>>,
}

impl AsyncClient {
    /// A client whose connections live on `reactor`.
    pub fn new(reactor: &mut Reactor, config: AsyncClientConfig) -> io::Result<AsyncClient> {
        let pool = Rc::new(RefCell::new(Pool {
            config,
            servers: HashMap::new(),
            handed: HashMap::new(),
            hub: None,
            waker: reactor.waker(),
            hub_woken: false,
            closed: false,
        }));
        let hub = reactor.add(Hub { pool: pool.clone() })?;
        pool.borrow_mut().hub = Some(hub);
        Ok(AsyncClient { pool })
    }

    /// Calls `method` on the server at `url` (`http://host:port/path`);
    /// `callback` gets the result on the loop's thread. Never blocks; the
    /// request goes out on the loop's next pass.
    pub fn call(
        &self,
        url: &str,
        method: &str,
        params: Vec<Value>,
        callback: impl FnOnce(CallResult) + 'static,
    ) {
        let mut pool = self.pool.borrow_mut();
        let callback: Callback = Box::new(callback);
        if pool.closed {
            drop(pool);
            return callback(Err(ClientError::Protocol("the client is closed".into())));
        }
        let (authority, path) = match split_url(url) {
            Ok(parts) => parts,
            Err(e) => {
                drop(pool);
                return callback(Err(e));
            }
        };
        let body = match encode_call(method, &params, &pool.config.encode) {
            Ok(body) => body,
            Err(e) => {
                drop(pool);
                return callback(Err(ClientError::Encode(e)));
            }
        };
        let addr = match pool.servers.get(&authority) {
            Some(server) => server.addr,
            None => match authority.to_socket_addrs().ok().and_then(|mut a| a.next()) {
                Some(addr) => addr,
                None => {
                    drop(pool);
                    return callback(Err(ClientError::Io(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("cannot resolve {authority}"),
                    ))));
                }
            },
        };
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: medusa-xmlrpc/{}\r\n\
             Content-Type: text/xml\r\nAccept-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
            env!("CARGO_PKG_VERSION"),
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(&body);
        let server = pool.servers.entry(authority).or_insert_with(|| Server {
            addr,
            queue: VecDeque::new(),
            idle: Vec::new(),
            open: 0,
        });
        server.queue.push_back(Call {
            request,
            callback,
            retried: false,
        });
        pool.wake_hub();
    }

    /// Calls waiting for a connection, plus calls in flight are not counted:
    /// the number queued across all servers.
    pub fn queued(&self) -> usize {
        self.pool
            .borrow()
            .servers
            .values()
            .map(|s| s.queue.len())
            .sum()
    }

    /// Stops taking calls and closes idle connections; calls in flight
    /// finish. When nothing is left the hub leaves the loop, so `run()` can
    /// return.
    pub fn close(&self) {
        let mut pool = self.pool.borrow_mut();
        pool.closed = true;
        pool.wake_hub();
    }
}

impl Pool {
    fn wake_hub(&mut self) {
        if self.hub_woken {
            return;
        }
        if let Some(hub) = self.hub {
            self.hub_woken = true;
            // Only fails if the loop is gone, and then nothing can run.
            let _ = self.waker.wake(hub);
        }
    }

    /// Hands queued calls to idle connections, and says how many new
    /// connections to open (each takes a call from its queue when added).
    fn schedule(&mut self, cx: &mut Context<'_>) -> Vec<(String, SocketAddr)> {
        let cap = self.config.max_connections_per_server.max(1);
        let mut to_open = Vec::new();
        let mut handed = Vec::new();
        for (authority, server) in self.servers.iter_mut() {
            while !server.queue.is_empty() {
                let Some(token) = server.idle.pop() else {
                    break;
                };
                let call = server.queue.pop_front().expect("queue checked non-empty");
                handed.push((token, call));
            }
            let new = server.queue.len().min(cap.saturating_sub(server.open));
            server.open += new;
            to_open.extend(std::iter::repeat_n((authority.clone(), server.addr), new));
        }
        for (token, call) in handed {
            self.handed.insert(token, call);
            cx.notify(token);
        }
        to_open
    }
}

/// The socketless dispatcher that opens connections for queued calls.
struct Hub {
    pool: Rc<RefCell<Pool>>,
}

impl Dispatcher for Hub {
    fn source(&mut self) -> Option<&mut dyn Source> {
        None
    }

    fn handle_wake(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        self.pool.borrow_mut().hub_woken = false;
        let to_open = self.pool.borrow_mut().schedule(cx);
        for (authority, addr) in to_open {
            let channel = Connection {
                pool: self.pool.clone(),
                authority: authority.clone(),
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
            };
            let chat_config = ChatConfig {
                linger: Duration::ZERO,
                ..ChatConfig::default()
            };
            let result =
                AsyncChat::connect(addr, channel, chat_config).and_then(|chat| cx.add(chat));
            if let Err(e) = result {
                // Could not even start: fail the call that wanted it.
                let mut pool = self.pool.borrow_mut();
                let call = pool.servers.get_mut(&authority).and_then(|s| {
                    s.open = s.open.saturating_sub(1);
                    s.queue.pop_front()
                });
                drop(pool);
                if let Some(call) = call {
                    (call.callback)(Err(ClientError::Io(e)));
                }
            }
        }
        let mut pool = self.pool.borrow_mut();
        if pool.closed {
            for server in pool.servers.values_mut() {
                for token in server.idle.drain(..) {
                    cx.notify(token);
                }
            }
            let busy = pool
                .servers
                .values()
                .any(|s| s.open > 0 || !s.queue.is_empty());
            if !busy {
                pool.hub = None;
                cx.close();
            }
        }
        Ok(())
    }

    fn handle_shutdown(&mut self, _cx: &mut Context<'_>) {
        // Calls in flight may be what a server-side reply waits for; close
        // when the pool is drained (see `AsyncClient::close`).
        let mut pool = self.pool.borrow_mut();
        pool.closed = true;
        pool.wake_hub();
    }
}

/// Where a connection is in reading a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReadState {
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
struct Connection {
    pool: Rc<RefCell<Pool>>,
    authority: String,
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
    fn config(&self) -> AsyncClientConfig {
        self.pool.borrow().config.clone()
    }

    /// Starts `call` on this connection.
    fn start(&mut self, call: Call, chat: &mut Chat, cx: &mut Context<'_>) {
        chat.push(&call.request);
        self.call = Some(call);
        self.state = ReadState::Head;
        self.head.clear();
        self.body.clear();
        self.got_bytes = false;
        chat.set_terminator(Terminator::bytes(b"\r\n\r\n"));
        if let Some(timer) = self.timer.take() {
            cx.cancel_timer(timer);
        }
        self.timer = Some(cx.set_timer(self.config().request_timeout));
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
        let length = header("Content-Length").map(str::parse::<u64>);
        let limit = self.config().max_response_bytes as u64;
        match (chunked, length) {
            (true, _) => {
                self.state = ReadState::ChunkSize;
                chat.set_terminator(Terminator::bytes(b"\r\n"));
            }
            (false, Some(Ok(n))) if n > limit => {
                self.fail(chat, ClientError::Protocol("response too large".into()))
            }
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
        let xml = if self.gzip {
            let mut out = Vec::new();
            MultiGzDecoder::new(&body[..])
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| ClientError::Protocol(format!("bad gzip body: {e}")))?;
            out
        } else {
            body
        };
        decode_response(&xml, &DecodeLimits::default())
            .map_err(|fault| ClientError::Protocol(fault.message))?
            .map_err(ClientError::Fault)
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
                if self.head.len() + data.len() > 64 * 1024 {
                    return self.fail(
                        chat,
                        ClientError::Protocol("response head too large".into()),
                    );
                }
                self.head.extend_from_slice(data);
            }
            ReadState::Body | ReadState::ChunkData | ReadState::UntilClose => {
                if self.body.len() + data.len() > limit {
                    return self.fail(chat, ClientError::Protocol("response too large".into()));
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
                let size = std::str::from_utf8(&line).ok().and_then(|l| {
                    u64::from_str_radix(l.split(';').next().unwrap_or("").trim(), 16).ok()
                });
                match size {
                    Some(0) => {
                        self.state = ReadState::Trailers;
                    }
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
            Some(call) => {
                // Pushed now, sent once connected.
                self.call = Some(call);
                self.state = ReadState::Head;
                self.timer = Some(cx.set_timer(self.config().request_timeout));
            }
            None => self.timer = Some(cx.set_timer(self.config().idle_timeout)),
        }
        Ok(())
    }

    fn handle_connect(&mut self, chat: &mut Chat, cx: &mut Context<'_>) -> io::Result<()> {
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
            // A kept-alive connection the server had closed: send again, once.
            Some(call) if stale && !call.retried => {
                if let Some(server) = pool.servers.get_mut(&self.authority) {
                    server.queue.push_front(Call {
                        retried: true,
                        ..call
                    });
                }
                None
            }
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

/// Splits `http://host:port/path` into (`host:port`, `/path`).
fn split_url(url: &str) -> Result<(String, String), ClientError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| ClientError::Protocol(format!("unsupported URL {url:?} (only http://)")))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/RPC2"),
    };
    if authority.is_empty() {
        return Err(ClientError::Protocol(format!("no host in {url:?}")));
    }
    let has_port = match authority.rfind(']') {
        Some(bracket) => authority[bracket..].contains(':'),
        None => authority.contains(':'),
    };
    let authority = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok((authority, path.to_string()))
}
