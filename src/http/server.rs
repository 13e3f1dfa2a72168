//! `HttpServer`: the listening dispatcher and the handler chain.

use std::cell::{Cell, RefCell};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::net::TcpStream;
use slab::Slab;

use super::access_log::AccessLogger;
use super::{Handler, HttpChannel, HttpConfig};
use crate::chat::AsyncChat;
use crate::reactor::{listener, Context, Dispatcher, Listener, TimerId};

/// Counters for the status page (Medusa kept the same ones).
#[derive(Debug, Default)]
pub struct HttpStats {
    /// Connections accepted since start.
    pub connections_total: Cell<u64>,
    /// Connections open now.
    pub connections_open: Cell<u64>,
    /// Connections refused because `max_connections` were open.
    pub connections_refused: Cell<u64>,
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
    pub peer: SocketAddr,
    /// When it connected.
    pub opened: Instant,
    /// Requests answered on it so far.
    pub requests: u64,
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
    /// Most connections open at once since memory was last handed back.
    pub(crate) connections_peak: Cell<u64>,
}

type AcceptFn = Box<dyn FnMut(TcpStream, SocketAddr, &mut Context<'_>) -> io::Result<()>>;

/// Medusa's `http_server`: listens, and gives each connection an
/// [`HttpChannel`] that consults the installed handlers.
///
/// ```no_run
/// use medusa::http::{HttpConfig, HttpServer};
/// use medusa::reactor::Reactor;
///
/// let mut reactor = Reactor::new()?;
/// let server = HttpServer::bind("127.0.0.1:8080".parse().unwrap(), HttpConfig::default())?;
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
}

/// How stale a buffered access log line may get.
const HOUSEKEEPING_PERIOD: Duration = Duration::from_secs(1);

/// Connections that must have closed (below the peak) before freed memory
/// is handed back to the system.
const TRIM_AFTER_CLOSED: u64 = 1000;

impl HttpServer {
    /// Binds `addr` (port 0 picks a free port) with `SO_REUSEADDR` and a
    /// backlog of 1024, and opens the access log file if one is set.
    pub fn bind(addr: SocketAddr, config: HttpConfig) -> io::Result<HttpServer> {
        HttpServer::new(listener::listen(addr)?, config)
    }

    /// Serves on a socket that is already bound and listening, e.g. one
    /// inherited through systemd socket activation. It is made non-blocking.
    pub fn from_listener(
        listener: std::net::TcpListener,
        config: HttpConfig,
    ) -> io::Result<HttpServer> {
        listener.set_nonblocking(true)?;
        HttpServer::new(mio::net::TcpListener::from_std(listener), config)
    }

    fn new(listener: mio::net::TcpListener, config: HttpConfig) -> io::Result<HttpServer> {
        let access_log = RefCell::new(AccessLogger::open(&config.access_log, config.worker_pid)?);
        let shared = Rc::new(Shared {
            access_log,
            connections_peak: Cell::new(0),
            config,
            handlers: RefCell::new(Vec::new()),
            stats: HttpStats::default(),
            started: Instant::now(),
            channels: RefCell::new(Slab::new()),
        });
        let for_accept = shared.clone();
        let accept: AcceptFn = Box::new(move |stream, peer, cx| {
            let stats = &for_accept.stats;
            if stats.connections_open.get() >= for_accept.config.max_connections as u64 {
                // Closed at once (dropped): better than letting one more
                // connection starve the others of descriptors.
                HttpStats::add(&stats.connections_refused, 1);
                log::debug!("refusing {peer}: max_connections reached");
                return Ok(());
            }
            HttpStats::add(&stats.connections_total, 1);
            HttpStats::add(&stats.connections_open, 1);
            let open = stats.connections_open.get();
            if open > for_accept.connections_peak.get() {
                for_accept.connections_peak.set(open);
            }
            let channel = HttpChannel::new(for_accept.clone(), peer, cx.waker());
            let config = for_accept.config.chat.clone();
            cx.add(AsyncChat::with_config(stream, channel, config))?;
            Ok(())
        });
        Ok(HttpServer {
            listener: Listener::from_listener(listener, accept),
            shared,
            housekeeping: None,
        })
    }

    /// The address actually bound.
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
        self.housekeeping = Some(cx.set_repeating(HOUSEKEEPING_PERIOD));
        Ok(())
    }

    fn handle_timer(&mut self, cx: &mut Context<'_>, timer: TimerId) -> io::Result<()> {
        if self.housekeeping == Some(timer) {
            self.shared.access_log.borrow_mut().flush();
            let open = self.shared.stats.connections_open.get();
            if self.shared.connections_peak.get() >= open + TRIM_AFTER_CLOSED {
                self.shared.connections_peak.set(open);
                release_free_memory();
            }
            return Ok(());
        }
        self.listener.handle_timer(cx, timer)
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
