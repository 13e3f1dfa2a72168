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
//! non-blocking `connect`, to each of the server's addresses in turn until
//! one takes it) while fewer than `max_connections_per_server`
//! are open. A connection channel sends the request, reads the response by
//! terminators as the server channel reads requests, calls the callback,
//! and goes back to the pool. Every failure (refused connection, reset,
//! timeout, HTTP error, fault, garbage) reaches exactly that call's
//! callback; none reaches the loop.
//!
//! Callbacks run on the loop's thread and must not block. To answer a
//! deferred server-side call when the calls it made come back, move its
//! responder into the callbacks (see `examples/fanout.rs`).

// Peer-controlled sizes and counts: arithmetic here must say what happens
// at the edges (checked, saturating), never wrap silently in release.
#![warn(clippy::arithmetic_side_effects)]

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::Token;

mod connection;
#[cfg(test)]
mod tests;

use connection::Connection;

use super::client::{DEFAULT_MAX_RESPONSE_BYTES, USER_AGENT};
use super::url::Target;
use super::{encode_call, ClientError, EncodeOptions, Value};
use crate::chat::{AsyncChat, ChatConfig};
use crate::reactor::{Context, Dispatcher, Reactor, Waker};

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
    /// Largest response accepted, as sent and once gunzipped; a larger one
    /// fails with "response too large". Default 10 MiB.
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
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
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
    /// The server's address this call tries first (an index into
    /// `Server::addrs`), fixed when it first gets a connection.
    first_addr: Option<usize>,
    /// Addresses that refused it so far; it tries the next one in turn.
    failed_addrs: usize,
    /// When `request_timeout` runs out: set when the call first gets a
    /// connection and kept across addresses, so one timeout covers them all.
    deadline: Option<Instant>,
}

impl Call {
    fn new(request: Vec<u8>, callback: Callback) -> Call {
        Call {
            request,
            callback,
            retried: false,
            first_addr: None,
            failed_addrs: 0,
            deadline: None,
        }
    }

    /// What is left of `timeout` for this call, starting the clock if it
    /// has not started.
    fn time_left(&mut self, timeout: Duration) -> Duration {
        let now = Instant::now();
        match self.deadline {
            Some(deadline) => deadline.saturating_duration_since(now),
            None => {
                // No deadline if it is beyond what Instant holds: the full
                // timeout each time is as good as forever then.
                self.deadline = now.checked_add(timeout);
                timeout
            }
        }
    }
}

/// Per-server state of the pool.
struct Server {
    /// What the name resolved to, in the resolver's order; never empty.
    addrs: Vec<SocketAddr>,
    /// The address that last took a connection: new calls start there, so
    /// only the first call pays for a refusing address before it.
    preferred: usize,
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

/// Shows the servers and the queue; requests (which may carry credentials)
/// are not shown.
impl std::fmt::Debug for AsyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pool = self.pool.borrow();
        let mut servers: Vec<&String> = pool.servers.keys().collect();
        servers.sort();
        f.debug_struct("AsyncClient")
            .field("servers", &servers)
            .field(
                "queued",
                &pool.servers.values().map(|s| s.queue.len()).sum::<usize>(),
            )
            .field("closed", &pool.closed)
            .finish_non_exhaustive()
    }
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

    /// Calls `method` on the server at `url`
    /// (`http://[user[:password]@]host[:port][/path]`, as for
    /// [`Client::new`](super::Client::new)); `callback` gets the result on
    /// the loop's thread. The request goes out on the loop's next pass.
    ///
    /// The first call to a host *name* resolves it here, with the system
    /// resolver, which blocks (`/etc/hosts` is quick, DNS may not be); IP
    /// literals never ask it. The addresses are kept for later calls.
    pub fn call(
        &self,
        url: &str,
        method: &str,
        params: Vec<Value>,
        callback: impl FnOnce(CallResult) + 'static,
    ) {
        self.call_resolving(url, method, params, callback, Target::addresses);
    }

    /// [`call`](AsyncClient::call) with `resolve` giving a new server's
    /// addresses (tests give lists no resolver here would).
    fn call_resolving(
        &self,
        url: &str,
        method: &str,
        params: Vec<Value>,
        callback: impl FnOnce(CallResult) + 'static,
        resolve: impl FnOnce(&Target) -> io::Result<Vec<SocketAddr>>,
    ) {
        let mut pool = self.pool.borrow_mut();
        let callback: Callback = Box::new(callback);
        if pool.closed {
            drop(pool);
            return callback(Err(ClientError::Protocol("the client is closed".into())));
        }
        let target = match Target::parse(url) {
            Ok(target) => target,
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
        let addrs = match pool.servers.get(&target.authority) {
            Some(_) => Vec::new(),
            None => match resolve(&target) {
                Ok(addrs) if !addrs.is_empty() => addrs,
                Ok(_) => {
                    drop(pool);
                    let e = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
                    return callback(Err(ClientError::Io(e)));
                }
                Err(e) => {
                    drop(pool);
                    return callback(Err(ClientError::Io(e)));
                }
            },
        };
        let request = target.request(USER_AGENT, &body);
        let server = pool
            .servers
            .entry(target.authority)
            .or_insert_with(|| Server {
                addrs,
                preferred: 0,
                queue: VecDeque::new(),
                idle: Vec::new(),
                open: 0,
            });
        server.queue.push_back(Call::new(request, callback));
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

impl Server {
    /// The address the call at the head of the queue tries next: its
    /// index and the address.
    fn next_addr(&mut self) -> Option<(usize, SocketAddr)> {
        let count = self.addrs.len();
        let preferred = self.preferred;
        let call = self.queue.front_mut()?;
        let first = *call.first_addr.get_or_insert(preferred);
        let index = first.checked_add(call.failed_addrs)?.checked_rem(count)?;
        Some((index, *self.addrs.get(index)?))
    }
}

impl Pool {
    /// `call` could not connect to its current address: back at the head of
    /// the queue for the next one, or, once all have failed, handed back
    /// for its callback.
    fn try_next_addr(&mut self, authority: &str, mut call: Call) -> Option<Call> {
        let server = self.servers.get_mut(authority)?;
        call.failed_addrs = call.failed_addrs.saturating_add(1);
        if call.failed_addrs >= server.addrs.len() {
            return Some(call);
        }
        server.queue.push_front(call);
        self.wake_hub();
        None
    }

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
    fn schedule(&mut self, cx: &mut Context<'_>) -> Vec<String> {
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
            server.open = server.open.saturating_add(new);
            to_open.extend(std::iter::repeat_n(authority.clone(), new));
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
        for authority in to_open {
            // The call at the head of the queue is the one this connection
            // takes when added (synchronously, in `cx.add`); it says which
            // address is next for it.
            let next = self
                .pool
                .borrow_mut()
                .servers
                .get_mut(&authority)
                .and_then(Server::next_addr);
            let Some((index, addr)) = next else {
                if let Some(server) = self.pool.borrow_mut().servers.get_mut(&authority) {
                    server.open = server.open.saturating_sub(1);
                }
                continue;
            };
            let channel = Connection::new(self.pool.clone(), authority.clone(), index);
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
                let call = call.and_then(|call| pool.try_next_addr(&authority, call));
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
