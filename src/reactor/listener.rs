//! A listening dispatcher: the `accepting` half of asyncore's `dispatcher`.
//!
//! In Python a server is a `dispatcher` that called `listen()` and overrides
//! `handle_accept` (or `handle_accepted(sock, addr)`). `Listener` is that
//! dispatcher with the accept loop written once, correctly for edge-triggered
//! readiness, and a closure in place of the `handle_accepted` override.
//!
//! # Differences from Python
//!
//! - Accepts until `WouldBlock` (bounded per pass, then rescheduled, so a
//!   connection flood cannot starve open connections).
//! - Accepted sockets get `TCP_NODELAY`: a response leaves in one write, and
//!   Nagle plus delayed ACK would otherwise hold it ~40 ms.
//! - Out of file descriptors (`EMFILE`/`ENFILE`) it stops polling the listen
//!   socket for a moment instead of spinning: Medusa busy-looped there.
//! - On graceful shutdown it closes, so no new connections are taken.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use mio::event::Source;
use mio::net::TcpListener;
use socket2::{Domain, Protocol, Socket, Type};

use super::socket::{ListenSocket, Peer, Stream};
use super::{Context, Dispatcher, TimerId};

/// Accepts handled per readiness event before yielding to other dispatchers.
const ACCEPTS_PER_PASS: usize = 256;

/// How long to stop accepting after the process ran out of descriptors.
const FD_EXHAUSTED_BACKOFF: Duration = Duration::from_millis(100);

/// Listen backlog: bursts of thousands of connects should queue, not fail.
pub const BACKLOG: i32 = 1024;

/// A listening socket whose `on_accept(stream, peer, cx)` is called for every
/// accepted connection; usually it calls `cx.add(...)` with a new channel.
pub struct Listener<F> {
    listener: ListenSocket,
    on_accept: F,
    backoff: Option<TimerId>,
    /// Accepted sockets come with TCP_NODELAY already set (see
    /// `from_listener`), saving a system call per connection.
    inherits_nodelay: bool,
}

impl<F> Listener<F>
where
    F: FnMut(Stream, Peer, &mut Context<'_>) -> io::Result<()>,
{
    /// Binds `addr` with `SO_REUSEADDR` and a backlog of [`BACKLOG`]. Port 0
    /// picks a free port; ask [`local_addr`](Listener::local_addr) which.
    pub fn bind(addr: SocketAddr, on_accept: F) -> io::Result<Listener<F>> {
        let listener = listen(addr)?;
        Ok(Listener::from_listener(listener, on_accept))
    }

    /// Binds a Unix-domain socket at `path` (which must not exist) and
    /// listens on it.
    #[cfg(unix)]
    pub fn bind_unix(path: &std::path::Path, on_accept: F) -> io::Result<Listener<F>> {
        let listener = super::socket::listen_unix(path)?;
        Ok(Listener::from_listener(listener, on_accept))
    }

    /// Wraps a listener (TCP or Unix-domain) that is already bound and
    /// listening.
    pub fn from_listener(listener: impl Into<ListenSocket>, on_accept: F) -> Listener<F> {
        let listener = listener.into();
        // Linux copies TCP_NODELAY from a listening socket to the sockets
        // it accepts (tests/output.rs checks accepted channels have it);
        // elsewhere, or if setting it fails, each accepted socket gets it.
        // A Unix-domain socket has no Nagle to turn off.
        let inherits_nodelay = match listener.as_tcp() {
            Some(tcp) => {
                cfg!(target_os = "linux")
                    && socket2::SockRef::from(tcp).set_tcp_nodelay(true).is_ok()
            }
            None => true,
        };
        Listener {
            listener,
            on_accept,
            backoff: None,
            inherits_nodelay,
        }
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

impl<F> Dispatcher for Listener<F>
where
    F: FnMut(Stream, Peer, &mut Context<'_>) -> io::Result<()>,
{
    fn source(&mut self) -> Option<&mut dyn Source> {
        Some(&mut self.listener)
    }

    fn accepting(&self) -> bool {
        true
    }

    fn readable(&self) -> bool {
        self.backoff.is_none()
    }

    fn handle_accept(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if self.backoff.is_some() {
            return Ok(());
        }
        for _ in 0..ACCEPTS_PER_PASS {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    // A failure here concerns that one connection (dropped,
                    // hence closed), never the listener.
                    if !self.inherits_nodelay {
                        if let Err(e) = stream.set_nodelay(true) {
                            log::debug!("accept {peer}: TCP_NODELAY: {e}; dropping it");
                            continue;
                        }
                    }
                    if let Err(e) = (self.on_accept)(stream, peer, cx) {
                        log::warn!("accept {peer}: {e}; dropping it");
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if out_of_resources(&e) => {
                    // The pending connection stays in the backlog; polling
                    // again now would report it again at once, forever.
                    log::warn!("accept: {e}; pausing accepts for {FD_EXHAUSTED_BACKOFF:?}");
                    self.backoff = Some(cx.set_timer(FD_EXHAUSTED_BACKOFF));
                    return Ok(());
                }
                // The peer gave up between SYN and accept: nothing to serve.
                Err(e) if aborted(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        // Budget spent with connections still queued; the edge will not come
        // again for them, so ask for another turn.
        cx.reschedule();
        Ok(())
    }

    fn handle_timer(&mut self, _cx: &mut Context<'_>, timer: TimerId) -> io::Result<()> {
        if self.backoff == Some(timer) {
            // readable() turns true; re-registering reports a waiting
            // connection at once.
            self.backoff = None;
        }
        Ok(())
    }

    fn handle_shutdown(&mut self, cx: &mut Context<'_>) {
        cx.close();
    }
}

/// A host to listen on, as a command line gives it (medusad's `--host`,
/// the examples'): an IP address (an IPv6 one bare or in brackets: `::1`,
/// `[::1]`) or a host name, resolved now by the system resolver. A name
/// with several addresses takes the first IPv4 one, else the first: one
/// socket is bound, and `localhost` must mean 127.0.0.1 (the address its
/// clients try first), not whichever the resolver lists first. The error
/// says why not, for clap to print after "invalid value 'X' for '--host'".
///
/// ```
/// use std::net::{IpAddr, Ipv6Addr};
/// assert_eq!(medusa::reactor::parse_host("[::1]"), Ok(IpAddr::V6(Ipv6Addr::LOCALHOST)));
/// ```
pub fn parse_host(value: &str) -> Result<IpAddr, String> {
    let bare = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value);
    if let Ok(ip) = bare.parse() {
        return Ok(ip);
    }
    let name_like = !bare.is_empty()
        && bare
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if !name_like {
        return Err("not an IP address or a host name".to_string());
    }
    let addrs: Vec<IpAddr> = (bare, 0)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {bare}: {e}"))?
        .map(|a| a.ip())
        .collect();
    addrs
        .iter()
        .find(|ip| ip.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or(format!("{bare} has no address"))
}

/// A non-blocking listening socket on `addr` with `SO_REUSEADDR` (not
/// `SO_REUSEPORT`: no other socket can bind the port while this one
/// listens) and a backlog of [`BACKLOG`]: the socket [`Listener::bind`]
/// and `HttpServer::bind` serve on. An error reads `cannot listen on
/// 127.0.0.1:8182: address already in use`, kind unchanged.
///
/// For a program that must hold the socket before a server takes it, e.g.
/// to hand it to child processes as `medusad --workers` does; serve on it
/// with [`Listener::from_listener`] or `HttpServer::from_listener` (via
/// `std::net::TcpListener::from`).
pub fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = bind_and_listen(addr, false).map_err(|e| cannot_listen(&addr, &e))?;
    Ok(TcpListener::from_std(socket.into()))
}

/// [`listen`] with `SO_REUSEPORT` as well: several such sockets (of one
/// user) may listen on one port, and Linux spreads new connections among
/// them by a hash of the addresses and ports. For a socket per worker
/// process; any other process of the same user may join the port too.
#[cfg(target_os = "linux")]
pub fn listen_reuseport(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = bind_and_listen(addr, true).map_err(|e| cannot_listen(&addr, &e))?;
    Ok(TcpListener::from_std(socket.into()))
}

fn bind_and_listen(addr: SocketAddr, reuse_port: bool) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // Restarting a server must not wait out TIME_WAIT on the old port.
    socket.set_reuse_address(true)?;
    #[cfg(target_os = "linux")]
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    #[cfg(not(target_os = "linux"))]
    let _ = reuse_port;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket)
}

/// `e` as "cannot listen on WHERE: REASON", kind unchanged. The reason is
/// the system's message as a clause ("address already in use"), without
/// std's "(os error 98)" suffix: a line meant for whoever runs the server.
pub fn cannot_listen(place: &dyn std::fmt::Display, e: &io::Error) -> io::Error {
    let text = e.to_string();
    let text = match (e.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(at)) => &text[..at],
        _ => &text,
    };
    let mut chars = text.chars();
    let reason: String = match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    };
    io::Error::new(e.kind(), format!("cannot listen on {place}: {reason}"))
}

fn out_of_resources(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

fn aborted(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    ) || matches!(e.raw_os_error(), Some(libc::EPROTO | libc::EPERM))
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    /// Bracketed IPv6 as well as bare, and names resolved.
    #[test]
    fn hosts_by_address_or_name() {
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        assert_eq!(parse_host("[::1]"), Ok(v6));
        assert_eq!(parse_host("::1"), Ok(v6));
        assert_eq!(
            parse_host("127.0.0.2"),
            Ok(Ipv4Addr::new(127, 0, 0, 2).into())
        );
        // The system resolver, IPv4 first: 127.0.0.1 wherever ::1 is listed too.
        assert_eq!(parse_host("localhost"), Ok(Ipv4Addr::LOCALHOST.into()));
        for bad in ["not an address", "", "[]", "[localhost", "a/b"] {
            assert_eq!(
                parse_host(bad),
                Err("not an IP address or a host name".to_string()),
                "{bad:?}"
            );
        }
        let e = parse_host("no-such-host.invalid").unwrap_err();
        assert!(
            e.starts_with("cannot resolve no-such-host.invalid: "),
            "{e}"
        );
    }
}
