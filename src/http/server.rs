//! `HttpServer`: the listening dispatcher and the handler chain.

use std::cell::{Cell, RefCell};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::Token;
use slab::Slab;

use super::access_log::AccessLogger;
use super::{Handler, HttpChannel, HttpConfig, RateHistory};
use crate::chat::AsyncChat;
use crate::reactor::{
    listener, Context, Dispatcher, ListenSocket, Listener, Peer, Stream, TimerId, TlsStream,
};

/// Counters for the status page (Medusa kept the same ones).
#[derive(Debug, Default)]
pub struct HttpStats {
    /// Connections accepted since start.
    pub connections_total: Cell<u64>,
    /// Connections open now.
    pub connections_open: Cell<u64>,
    /// Connections refused because `max_connections` were open and none
    /// of them was an idle keep-alive connection.
    pub connections_refused: Cell<u64>,
    /// Idle keep-alive connections closed to make room for a new one at
    /// `max_connections` (what nginx does with its reusable connections).
    pub connections_evicted: Cell<u64>,
    /// Requests answered (including error responses).
    pub requests: Cell<u64>,
    /// Request bytes received (heads and bodies).
    pub bytes_in: Cell<u64>,
    /// Response bytes queued for sending (heads and bodies).
    pub bytes_out: Cell<u64>,
    /// Responses with a 4xx or 5xx status.
    pub errors: Cell<u64>,
    /// Handler panics.
    pub panics: Cell<u64>,
    /// TLS handshakes completed, by version.
    pub tls13_handshakes: Cell<u64>,
    /// TLS 1.2 handshakes completed.
    pub tls12_handshakes: Cell<u64>,
    /// TLS handshakes that failed (a bad or plain-HTTP client, an
    /// unacceptable version or cipher).
    pub tls_handshake_failures: Cell<u64>,
    /// Requests answered per interval over the last minutes (the status
    /// page's load graph).
    pub request_history: RateHistory,
    /// Responses with a 4xx or 5xx status per interval, likewise.
    pub error_history: RateHistory,
}

impl HttpStats {
    pub(crate) fn add(cell: &Cell<u64>, n: u64) {
        cell.set(cell.get().wrapping_add(n));
    }
}

/// One open connection, as the status page lists it.
#[derive(Clone, Debug)]
pub struct ChannelInfo {
    /// The client.
    pub peer: Peer,
    /// When it connected.
    pub opened: Instant,
    /// Requests answered on it so far.
    pub requests: u64,
    /// Its dispatcher, once added: how the listener asks it to close.
    pub(crate) token: Option<Token>,
    /// Since when it has been kept alive waiting for its next request.
    pub(crate) idle_since: Option<Instant>,
    /// Set by the listener: close now, if still idle, to make room.
    pub(crate) evicted: bool,
}

/// What the listener and every channel of one server share. One thread, so
/// `Rc` and `RefCell`, no locks.
pub(crate) struct Shared {
    pub(crate) config: HttpConfig,
    pub(crate) handlers: RefCell<Vec<Box<dyn Handler>>>,
    pub(crate) stats: HttpStats,
    pub(crate) started: Instant,
    pub(crate) channels: RefCell<Slab<ChannelInfo>>,
    pub(crate) access_log: RefCell<AccessLogger>,
    /// The dispatcher that flushes the access log when woken (the one that
    /// keeps house), once it is in the reactor.
    pub(crate) log_flusher: Cell<Option<Token>>,
    /// Most connections open at once since memory was last handed back.
    pub(crate) connections_peak: Cell<u64>,
    /// Evicted connections not yet closed: still counted open.
    pub(crate) evicting: Cell<u64>,
    /// When a refusal at `max_connections` was last logged (one warning a
    /// second at most, however many are refused).
    pub(crate) refusal_logged: Cell<Option<Instant>>,
}

impl Shared {
    /// Makes room at `max_connections`: asks the longest-idle kept-alive
    /// connection to close (it does so later in this pass). False when
    /// none is idle. A scan of the open connections, but only at the
    /// limit: the request path pays nothing to keep an index.
    fn evict_idle(&self, cx: &mut Context<'_>) -> bool {
        let mut channels = self.channels.borrow_mut();
        let oldest = channels
            .iter_mut()
            .filter(|(_, info)| !info.evicted && info.token.is_some())
            .filter_map(|(_, info)| Some((info.idle_since?, info)))
            .min_by_key(|(since, _)| *since);
        let Some((_, info)) = oldest else {
            return false;
        };
        let Some(token) = info.token else {
            return false;
        };
        info.idle_since = None;
        info.evicted = true;
        self.evicting.set(self.evicting.get().saturating_add(1));
        HttpStats::add(&self.stats.connections_evicted, 1);
        log::debug!("evicting idle connection from {} to make room", info.peer);
        cx.notify(token);
        true
    }

    fn log_refusal(&self, peer: Peer) {
        let now = Instant::now();
        let quiet = self
            .refusal_logged
            .get()
            .is_some_and(|then| now.duration_since(then) < Duration::from_secs(1));
        // Every refusal at debug; a warning at most once a second, so a
        // flood cannot flood the log.
        log::debug!("refused {peer}: max_connections open and none idle");
        if !quiet {
            self.refusal_logged.set(Some(now));
            log::warn!(
                "refusing {peer}: max_connections ({}) open and none idle \
                 ({} refused so far)",
                self.config.max_connections,
                self.stats.connections_refused.get()
            );
        }
    }
}

/// See [`HttpServer::tls_setting`].
#[derive(Clone)]
pub struct TlsSetting(Rc<RefCell<Option<Arc<rustls::ServerConfig>>>>);

impl TlsSetting {
    /// Replaces the settings for the connections accepted from now on.
    pub fn set(&self, config: Option<Arc<rustls::ServerConfig>>) {
        *self.0.borrow_mut() = config;
    }
}

/// See [`HttpServer::access_log_handle`]: reopens the access log file
/// after a rotation.
#[derive(Clone)]
pub struct AccessLogHandle(Rc<Shared>);

impl AccessLogHandle {
    /// With [`AccessLog::File`](super::AccessLog::File): writes the lines
    /// still buffered to the file open now (under its new name, after
    /// `logrotate` renamed it), then opens the path again, created if
    /// missing, and appends there from now on. No line is lost or written
    /// twice. An error if the path cannot be opened: the old file then
    /// stays in use. Nothing to do for the other sinks.
    ///
    /// A blocking `open()`: call it from a dispatcher or a timer on an
    /// operator's request (a signal), not on every request.
    pub fn reopen(&self) -> io::Result<()> {
        self.0
            .access_log
            .try_borrow_mut()
            .map_err(|_| io::Error::other("the access log is in use"))?
            .reopen()
    }

    /// The file the access log goes to, if it goes to one.
    pub fn path(&self) -> Option<std::path::PathBuf> {
        self.0.access_log.borrow().path().map(Into::into)
    }
}

type AcceptFn = Box<dyn FnMut(Stream, Peer, &mut Context<'_>) -> io::Result<()>>;

/// Medusa's `http_server`: listens, and gives each connection an
/// [`HttpChannel`] that consults the installed handlers.
///
/// ```no_run
/// use medusa::http::{HttpConfig, HttpServer};
/// use medusa::reactor::Reactor;
///
/// let mut reactor = Reactor::new()?;
/// let server = HttpServer::bind("127.0.0.1:8080", HttpConfig::default())?;
/// // server.install_handler(...);
/// println!("serving on {}", server.local_addr()?);
/// reactor.add(server)?;
/// reactor.run()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "http_server")]
pub struct HttpServer {
    listener: Listener<AcceptFn>,
    shared: Rc<Shared>,
    /// Once a second: writes out the buffered access log, and hands freed
    /// memory back to the system after a crowd of connections has gone.
    housekeeping: Option<TimerId>,
    /// Whether this socket's dispatcher does the housekeeping: the first
    /// of a server's sockets does, not those of [`also_listen`](HttpServer::also_listen).
    keeps_house: bool,
    /// TLS settings for what this socket accepts, if it speaks TLS; shared
    /// with the accept function, so a reload takes effect for the next
    /// connection without touching those open.
    tls: Rc<RefCell<Option<Arc<rustls::ServerConfig>>>>,
}

/// The handlers of a running server, from [`HttpServer::handler_chain`].
///
/// A request is matched against the chain as it is when its head arrives
/// (and again when its body is in), so a change applies to the requests
/// that arrive after it; an answer already deferred is not affected.
pub struct HandlerChain(Rc<Shared>);

impl HandlerChain {
    /// Replaces the handlers at `positions` (in match order, as
    /// [`Vec::splice`] does) with `handlers`. Call it from a dispatcher or
    /// a timer, not from inside a handler of this server (whose chain is
    /// in use then: that is refused with an error).
    pub fn splice(
        &self,
        positions: std::ops::Range<usize>,
        handlers: Vec<Box<dyn Handler>>,
    ) -> io::Result<()> {
        let mut chain = self
            .0
            .handlers
            .try_borrow_mut()
            .map_err(|_| io::Error::other("the handler chain is in use"))?;
        if positions.start > positions.end || positions.end > chain.len() {
            return Err(io::Error::other("no such handler positions"));
        }
        chain.splice(positions, handlers);
        Ok(())
    }

    /// How many handlers there are.
    pub fn len(&self) -> usize {
        self.0.handlers.borrow().len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How stale a buffered access log line may get.
const HOUSEKEEPING_PERIOD: Duration = Duration::from_secs(1);

/// Connections that must have closed (below the peak) before freed memory
/// is handed back to the system.
const TRIM_AFTER_CLOSED: u64 = 1000;

impl HttpServer {
    /// Binds `addr` (port 0 picks a free port) with `SO_REUSEADDR` and a
    /// backlog of 1024, and opens the access log file if one is set.
    ///
    /// `addr` is anything [`ToSocketAddrs`] takes: a `SocketAddr`,
    /// `"127.0.0.1:8182"`, `("localhost", 8182)`. A name is looked up here
    /// (a blocking call: make it before the loop runs) and its addresses
    /// are tried in order until one binds; the error is the last one's.
    ///
    /// ```no_run
    /// # use medusa::http::{HttpConfig, HttpServer};
    /// let server = HttpServer::bind("127.0.0.1:8182", HttpConfig::default())?;
    /// let server = HttpServer::bind(("localhost", 0), HttpConfig::default())?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind(addr: impl ToSocketAddrs, config: HttpConfig) -> io::Result<HttpServer> {
        let mut last = None;
        for addr in addr.to_socket_addrs()? {
            match listener::listen(addr) {
                Ok(listener) => return HttpServer::new(listener.into(), config),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "the name has no address")
        }))
    }

    /// Serves on a socket that is already bound and listening, e.g. one
    /// inherited through systemd socket activation. It is made non-blocking.
    pub fn from_listener(
        listener: std::net::TcpListener,
        config: HttpConfig,
    ) -> io::Result<HttpServer> {
        listener.set_nonblocking(true)?;
        HttpServer::new(mio::net::TcpListener::from_std(listener).into(), config)
    }

    /// Binds a Unix-domain socket at `path` (which must not exist: see
    /// `medusad --unix` for replacing a stale one) and serves on it. Peers
    /// are named by their credentials (`SO_PEERCRED`) in the access log.
    #[cfg(unix)]
    pub fn bind_unix(path: &std::path::Path, config: HttpConfig) -> io::Result<HttpServer> {
        HttpServer::new(crate::reactor::listen_unix(path)?.into(), config)
    }

    /// [`from_listener`](HttpServer::from_listener) for a Unix-domain
    /// socket already bound and listening.
    #[cfg(unix)]
    pub fn from_unix_listener(
        listener: std::os::unix::net::UnixListener,
        config: HttpConfig,
    ) -> io::Result<HttpServer> {
        listener.set_nonblocking(true)?;
        HttpServer::new(mio::net::UnixListener::from_std(listener).into(), config)
    }

    fn new(listener: ListenSocket, config: HttpConfig) -> io::Result<HttpServer> {
        let access_log = RefCell::new(AccessLogger::open(
            &config.access_log,
            config.access_log_tag.as_deref(),
        )?);
        let shared = Rc::new(Shared {
            access_log,
            log_flusher: Cell::new(None),
            connections_peak: Cell::new(0),
            evicting: Cell::new(0),
            refusal_logged: Cell::new(None),
            config,
            handlers: RefCell::new(Vec::new()),
            stats: HttpStats::default(),
            started: Instant::now(),
            channels: RefCell::new(Slab::new()),
        });
        Ok(HttpServer::listening(listener, shared, true))
    }

    /// Another listening socket for this same server: the same handlers,
    /// limits, counters, connection list and access log (e.g. a Unix-domain
    /// socket beside a TCP port). Add it to the reactor as well.
    pub fn also_listen(&self, listener: impl Into<ListenSocket>) -> HttpServer {
        HttpServer::listening(listener.into(), self.shared.clone(), false)
    }

    fn listening(listener: ListenSocket, shared: Rc<Shared>, keeps_house: bool) -> HttpServer {
        let tls: Rc<RefCell<Option<Arc<rustls::ServerConfig>>>> = Rc::default();
        let tls_for_accept = tls.clone();
        let for_accept = shared.clone();
        let accept: AcceptFn = Box::new(move |stream, peer, cx| {
            let stats = &for_accept.stats;
            let open = stats
                .connections_open
                .get()
                .saturating_sub(for_accept.evicting.get());
            let max = u64::try_from(for_accept.config.max_connections).unwrap_or(u64::MAX);
            if open >= max && !for_accept.evict_idle(cx) {
                // Closed at once (dropped): better than letting one more
                // connection starve the others of descriptors.
                HttpStats::add(&stats.connections_refused, 1);
                for_accept.log_refusal(peer);
                return Ok(());
            }
            HttpStats::add(&stats.connections_total, 1);
            HttpStats::add(&stats.connections_open, 1);
            let open = stats.connections_open.get();
            if open > for_accept.connections_peak.get() {
                for_accept.connections_peak.set(open);
            }
            let stream = match (stream, tls_for_accept.borrow().as_ref()) {
                (Stream::Tcp(sock), Some(config)) => {
                    Stream::Tls(Box::new(TlsStream::accept(sock, config.clone())?))
                }
                (stream, _) => stream,
            };
            let channel = HttpChannel::new(for_accept.clone(), peer, cx.waker());
            let config = for_accept.config.chat.clone();
            cx.add(AsyncChat::with_config(stream, channel, config))?;
            Ok(())
        });
        HttpServer {
            listener: Listener::from_listener(listener, accept),
            shared,
            housekeeping: None,
            keeps_house,
            tls,
        }
    }

    /// Speaks TLS on this socket from the next connection on (`None`:
    /// plain HTTP again): connections already open keep what they had, so
    /// new certificates can be loaded without dropping anyone. See
    /// [`reactor::tls::server_config`](crate::reactor::tls::server_config)
    /// for settings from PEM files.
    pub fn set_tls(&self, config: Option<Arc<rustls::ServerConfig>>) {
        *self.tls.borrow_mut() = config;
    }

    /// A handle that sets this socket's TLS settings later, once the
    /// server belongs to the reactor (e.g. on SIGHUP, with new files).
    pub fn tls_setting(&self) -> TlsSetting {
        TlsSetting(self.tls.clone())
    }

    /// A handle on this server's access log that stays usable once the
    /// server belongs to the reactor: to reopen its file after a rotation
    /// (medusad: on SIGUSR1). Shared by the sockets of
    /// [`also_listen`](HttpServer::also_listen), which write to one log.
    pub fn access_log_handle(&self) -> AccessLogHandle {
        AccessLogHandle(self.shared.clone())
    }

    /// The TCP address actually bound (an error for a Unix-domain
    /// socket).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Medusa's `install_handler`: puts `handler` at the *front*, so it is
    /// asked before those installed earlier.
    pub fn install_handler(&self, handler: impl Handler + 'static) {
        self.shared
            .handlers
            .borrow_mut()
            .insert(0, Box::new(handler));
    }

    /// Puts `handler` at the back: asked after all others.
    pub fn add_handler(&self, handler: impl Handler + 'static) {
        self.shared.handlers.borrow_mut().push(Box::new(handler));
    }

    /// A handle on this server's handler chain that stays usable once the
    /// server belongs to the reactor: to change the handlers while it
    /// serves (a configuration reloaded on SIGHUP, say).
    pub fn handler_chain(&self) -> HandlerChain {
        HandlerChain(self.shared.clone())
    }

    /// The server's counters.
    pub fn stats(&self) -> &HttpStats {
        &self.shared.stats
    }

    /// The server's limits.
    pub fn config(&self) -> &HttpConfig {
        &self.shared.config
    }
}

impl Dispatcher for HttpServer {
    fn source(&mut self) -> Option<&mut dyn Source> {
        self.listener.source()
    }

    fn readable(&self) -> bool {
        self.listener.readable()
    }

    fn accepting(&self) -> bool {
        true
    }

    fn handle_accept(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        self.listener.handle_accept(cx)
    }

    fn handle_added(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if self.keeps_house {
            self.housekeeping = Some(cx.set_repeating(HOUSEKEEPING_PERIOD));
            self.shared.log_flusher.set(Some(cx.token()));
        }
        Ok(())
    }

    fn handle_timer(&mut self, cx: &mut Context<'_>, timer: TimerId) -> io::Result<()> {
        if self.housekeeping == Some(timer) {
            self.shared.access_log.borrow_mut().flush();
            let open = self.shared.stats.connections_open.get();
            if self.shared.connections_peak.get() >= open.saturating_add(TRIM_AFTER_CLOSED) {
                self.shared.connections_peak.set(open);
                release_free_memory();
            }
            return Ok(());
        }
        self.listener.handle_timer(cx, timer)
    }

    /// A channel logged the first line of this pass for a sink that is
    /// written at the end of each pass (see `access_log.rs`).
    fn handle_wake(&mut self, _cx: &mut Context<'_>) -> io::Result<()> {
        self.shared.access_log.borrow_mut().flush();
        Ok(())
    }

    fn handle_shutdown(&mut self, cx: &mut Context<'_>) {
        log::info!("http server: no longer accepting connections");
        // Channels still finishing keep logging; the logger flushes the
        // rest when the last of them drops it.
        self.shared.access_log.borrow_mut().flush();
        cx.close();
    }
}

/// Hands the allocator's free pages back to the system. glibc's malloc
/// keeps memory freed in the middle of its heap (thousands of closed
/// connections' buffers) for reuse, so a server's RSS would stay at its
/// peak forever; `malloc_trim` releases the unused pages.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim has no preconditions: it only walks glibc's
        // own free lists and may be called at any time from any thread.
        // With another global allocator it has nothing to trim.
        let released = unsafe { libc::malloc_trim(0) };
        log::debug!("malloc_trim: memory released: {}", released != 0);
    }
}
