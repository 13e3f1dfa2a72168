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
//! and goes back to the pool (a Unix-domain socket's server, `unix:///path`,
//! is pooled by its path). A host *name* is resolved once, on a thread
//! of its own (getaddrinfo blocks, and the loop must not): its calls wait
//! in the queue meanwhile, and the answer comes back through the hub's
//! inbox and a wake-up. Every failure (refused connection, reset,
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
use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::Token;

mod connection;
mod hub;
#[cfg(test)]
mod tests;

use connection::Connection;
use hub::Hub;

use super::answer::{DEFAULT_MAX_RESPONSE_BYTES, USER_AGENT};
use super::error::ClientError;
use super::tls::TlsConfig;
use super::url::{Address, Target};
use crate::chat::{AsyncChat, ChatConfig};
use crate::reactor::{AddDispatcher, Context, Dispatcher, TimerId, Waker};
use crate::xmlrpc::encode::{encode_call, EncodeOptions};
use crate::xmlrpc::value::Value;
use rustls::pki_types::ServerName;

/// What a completed call gives its callback.
pub type CallResult = Result<Value, ClientError>;

type Callback = Box<dyn FnOnce(CallResult)>;

/// A lookup's answer, on its way from the resolver thread to the hub.
struct Resolution {
    /// The server's key (`Target::key`).
    key: String,
    /// Which lookup it answers (see `Server::lookup`).
    lookup: u64,
    result: io::Result<Vec<SocketAddr>>,
}

/// Where resolver threads leave their answers for the hub: the only state
/// they share with the loop (the pool itself is not `Send`).
type Inbox = Arc<Mutex<Vec<Resolution>>>;

/// Limits of an [`AsyncClient`].
#[derive(Clone, Debug)]
pub struct AsyncClientConfig {
    /// Open connections per server; further calls wait in a queue.
    /// Default 8.
    pub max_connections_per_server: usize,
    /// From handing a call to a connection (connecting first if need be)
    /// to its complete answer; a call that has to wait for its server's
    /// name to be resolved counts from when it is made, so the lookup is
    /// bounded too. Default 30 s.
    pub request_timeout: Duration,
    /// How long an unused kept-alive connection stays open. Default 15 s.
    pub idle_timeout: Duration,
    /// Largest response accepted, as sent and once gunzipped; a larger one
    /// fails with "response too large". Default 10 MiB.
    pub max_response_bytes: usize,
    /// What the encoder may send.
    pub encode: EncodeOptions,
    /// Whose certificates `https://` servers must have (default: the
    /// system's roots).
    pub tls: TlsConfig,
}

impl Default for AsyncClientConfig {
    fn default() -> AsyncClientConfig {
        AsyncClientConfig {
            max_connections_per_server: 8,
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(15),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            encode: EncodeOptions::default(),
            tls: TlsConfig::default(),
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
    /// What the name resolved to, in the resolver's order (or the IP
    /// literal, or the Unix-domain socket); empty only while `lookup` is
    /// set.
    addrs: Vec<Address>,
    /// The number of the lookup under way, while the name is being
    /// resolved: calls wait in `queue` (each with its deadline running)
    /// and no connection opens. A late answer to another lookup is ignored.
    lookup: Option<u64>,
    /// The address that last took a connection: new calls start there, so
    /// only the first call pays for a refusing address before it.
    preferred: usize,
    queue: VecDeque<Call>,
    idle: Vec<Token>,
    open: usize,
    /// For `https://`: the name the certificate must have, and the TLS
    /// settings.
    tls: Option<(ServerName<'static>, Arc<rustls::ClientConfig>)>,
}

impl Server {
    fn new(addrs: Vec<Address>, lookup: Option<u64>) -> Server {
        Server {
            addrs,
            lookup,
            preferred: 0,
            queue: VecDeque::new(),
            idle: Vec::new(),
            open: 0,
            tls: None,
        }
    }
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
    /// Answers of lookups, waiting for the hub.
    resolved: Inbox,
    /// Numbers the lookups, so an answer is matched to its own.
    lookups: u64,
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
            .field(
                "resolving",
                &pool.servers.values().filter(|s| s.lookup.is_some()).count(),
            )
            .field("closed", &pool.closed)
            .finish_non_exhaustive()
    }
}

impl AsyncClient {
    /// A client whose connections live on `reactor`'s loop (a
    /// [`Reactor`](crate::reactor::Reactor), or the [`Context`] of a hook
    /// running on it).
    pub fn new(
        reactor: &mut impl AddDispatcher,
        config: AsyncClientConfig,
    ) -> io::Result<AsyncClient> {
        // The system's roots are files: read them off the loop's thread,
        // before a first https:// call could need them.
        config.tls.warm_up();
        let pool = Rc::new(RefCell::new(Pool {
            config,
            servers: HashMap::new(),
            handed: HashMap::new(),
            hub: None,
            waker: reactor.loop_waker(),
            hub_woken: false,
            closed: false,
            resolved: Arc::default(),
            lookups: 0,
        }));
        let hub = reactor.add_dispatcher(Box::new(Hub {
            pool: pool.clone(),
            timer: None,
        }))?;
        pool.borrow_mut().hub = Some(hub);
        Ok(AsyncClient { pool })
    }

    /// Calls `method` on the server at `url`
    /// (`http://[user[:password]@]host[:port][/path]`, or on Unix
    /// `unix:///path/to/socket` and `http+unix://%2Fpath%2Fto%2Fsocket/path`,
    /// as for [`Client::new`](crate::xmlrpc::Client::new)); `callback` gets
    /// the result on the loop's thread. The request goes out on the loop's
    /// next pass.
    ///
    /// The first call to a host *name* starts a lookup with the system
    /// resolver on a thread of its own (getaddrinfo blocks; the loop does
    /// not wait for it); calls to that server wait for the answer, within
    /// their `request_timeout`, then go out. The addresses are kept for
    /// later calls; a failed lookup fails the calls that waited for it and
    /// is not kept (the next call looks again). IP literals and
    /// Unix-domain sockets never ask the resolver.
    pub fn call(
        &self,
        url: &str,
        method: &str,
        params: Vec<Value>,
        callback: impl FnOnce(CallResult) + 'static,
    ) {
        self.call_resolving(url, method, params, callback, Target::lookup, false);
    }

    /// [`call`](AsyncClient::call), but never sent twice: a kept-alive
    /// connection that closes without an answer fails the call instead of
    /// sending it again on a fresh one (the server may have run it before
    /// it closed). For calls that are not safe to repeat.
    pub fn call_at_most_once(
        &self,
        url: &str,
        method: &str,
        params: Vec<Value>,
        callback: impl FnOnce(CallResult) + 'static,
    ) {
        self.call_resolving(url, method, params, callback, Target::lookup, true);
    }

    /// [`call`](AsyncClient::call) with `resolve` looking up a new server's
    /// name, on the lookup's thread, instead of the system resolver (tests
    /// give lists no resolver here would, or stall).
    fn call_resolving(
        &self,
        url: &str,
        method: &str,
        params: Vec<Value>,
        callback: impl FnOnce(CallResult) + 'static,
        resolve: impl FnOnce(&Target) -> io::Result<Vec<SocketAddr>> + Send + 'static,
        once: bool,
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
        let mut call = Call::new(target.request(USER_AGENT, &body), callback);
        // Marked as retried already: a stale connection is then not retried.
        call.retried = once;
        let timeout = pool.config.request_timeout;
        match pool.server_for(&target, resolve) {
            Ok(server) => {
                if server.lookup.is_some() {
                    // No connection's timer covers a call waiting for its
                    // lookup: the hub's does, from now.
                    call.deadline = Instant::now().checked_add(timeout);
                }
                server.queue.push_back(call);
            }
            Err(e) => {
                drop(pool);
                return (call.callback)(Err(ClientError::Io(e)));
            }
        }
        pool.wake_hub();
    }

    /// Calls waiting for a connection (or for their server's name to be
    /// resolved), across all servers; calls in flight are not counted.
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
    fn next_addr(&mut self) -> Option<(usize, Address)> {
        let count = self.addrs.len();
        let preferred = self.preferred;
        let call = self.queue.front_mut()?;
        let first = *call.first_addr.get_or_insert(preferred);
        let index = first.checked_add(call.failed_addrs)?.checked_rem(count)?;
        Some((index, self.addrs.get(index)?.clone()))
    }
}

impl Pool {
    /// The pool's entry for `target`'s server, made if new: ready at once
    /// for an IP literal or a Unix-domain socket, resolving (its lookup
    /// started) for a name.
    fn server_for(
        &mut self,
        target: &Target,
        resolve: impl FnOnce(&Target) -> io::Result<Vec<SocketAddr>> + Send + 'static,
    ) -> io::Result<&mut Server> {
        let slot = match self.servers.entry(target.key.clone()) {
            Entry::Occupied(entry) => return Ok(entry.into_mut()),
            Entry::Vacant(slot) => slot,
        };
        // Before the server is kept: one whose TLS cannot be set up must
        // not stay in the pool as a plain-text one.
        let tls = match target.secure {
            true => {
                let name = target
                    .server_name()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
                Some((name, self.config.tls.rustls_config()?))
            }
            false => None,
        };
        let mut server = match target.literal_address() {
            Some(addr) => Server::new(vec![addr], None),
            None => {
                let lookup = self.lookups;
                // Numbers only need to differ from those of lookups still
                // under way, which are few.
                self.lookups = self.lookups.wrapping_add(1);
                let inbox = self.resolved.clone();
                start_lookup(target, resolve, lookup, inbox, self.waker.clone(), self.hub)?;
                Server::new(Vec::new(), Some(lookup))
            }
        };
        server.tls = tls;
        Ok(slot.insert(server))
    }

    /// `call` could not connect to its current address: back at the head of
    /// the queue for the next one, or, once all have failed, handed back
    /// for its callback.
    fn try_next_addr(&mut self, key: &str, mut call: Call) -> Option<Call> {
        let server = self.servers.get_mut(key)?;
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
        for (key, server) in self.servers.iter_mut() {
            if server.lookup.is_some() {
                continue;
            }
            while !server.queue.is_empty() {
                let Some(token) = server.idle.pop() else {
                    break;
                };
                let call = server.queue.pop_front().expect("queue checked non-empty");
                handed.push((token, call));
            }
            let new = server.queue.len().min(cap.saturating_sub(server.open));
            server.open = server.open.saturating_add(new);
            to_open.extend(std::iter::repeat_n(key.clone(), new));
        }
        for (token, call) in handed {
            self.handed.insert(token, call);
            cx.notify(token);
        }
        to_open
    }
}

/// Resolves `target`'s name with `resolve` on a new thread, which leaves
/// the answer in `inbox` and wakes the hub. A thread per name being
/// resolved rather than one shared resolver thread: getaddrinfo answers one
/// name at a time, so a shared thread would make every new name wait behind
/// the slowest; names are resolved once each, so these threads are few and
/// short-lived (as long as the system resolver's own timeouts at most).
fn start_lookup(
    target: &Target,
    resolve: impl FnOnce(&Target) -> io::Result<Vec<SocketAddr>> + Send + 'static,
    lookup: u64,
    inbox: Inbox,
    waker: Waker,
    hub: Option<Token>,
) -> io::Result<()> {
    let target = target.clone();
    let key = target.key.clone();
    let work = move || {
        // A panicking resolver must still answer, or its calls would wait
        // for nothing.
        let answer = panic::catch_unwind(AssertUnwindSafe(|| resolve(&target)))
            .unwrap_or_else(|_| Err(io::Error::other("the resolver panicked")));
        let result = target.resolved(answer);
        inbox
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Resolution {
                key: target.key,
                lookup,
                result,
            });
        if let Some(hub) = hub {
            // Fails only if the loop is gone, and then nobody is waiting.
            let _ = waker.wake(hub);
        }
    };
    std::thread::Builder::new()
        .name("medusa-resolve".into())
        .spawn(work)
        .map(drop)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot start a lookup of {key}: {e}")))
}
