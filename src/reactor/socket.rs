//! The sockets a dispatcher holds (asyncore's `dispatcher.socket`): a
//! connected [`Stream`] and a [`ListenSocket`], each TCP or Unix-domain,
//! and the [`Peer`] at the other end. One type for each, so every channel
//! (the server's and the clients') and every listener runs over either.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
#[cfg(unix)]
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
#[cfg(unix)]
use std::path::Path;

use mio::event::Source;
use mio::net::{TcpListener, TcpStream};
#[cfg(unix)]
use mio::net::{UnixListener, UnixStream};
use mio::{Interest, Registry, Token};

use super::tls::TlsStream;

/// Who is at the other end of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Peer {
    /// A TCP peer: its address and port.
    Ip(SocketAddr),
    /// A peer on a Unix-domain socket: a process on this machine, named by
    /// its credentials where the system tells them.
    Local(Credentials),
}

/// A local peer's credentials, from `SO_PEERCRED` on Linux (`None` where
/// the system does not say).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Credentials {
    /// The peer process's user id.
    pub uid: Option<u32>,
    /// Its group id.
    pub gid: Option<u32>,
    /// Its process id.
    pub pid: Option<i32>,
}

impl Peer {
    /// The peer's IP address, for a TCP peer.
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        match self {
            Peer::Ip(addr) => Some(addr.ip()),
            Peer::Local(_) => None,
        }
    }
}

/// `127.0.0.1:5000`, or `uid=1000,pid=4242` for a local peer (`unix` when
/// nothing is known): what logs and the status page show.
impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Ip(addr) => write!(f, "{addr}"),
            Peer::Local(c) => {
                let mut parts = Vec::new();
                if let Some(uid) = c.uid {
                    parts.push(format!("uid={uid}"));
                }
                if let Some(pid) = c.pid {
                    parts.push(format!("pid={pid}"));
                }
                if parts.is_empty() {
                    f.write_str("unix")
                } else {
                    f.write_str(&parts.join(","))
                }
            }
        }
    }
}

/// A connected, non-blocking socket.
#[derive(Debug)]
pub enum Stream {
    /// TCP.
    Tcp(TcpStream),
    /// A Unix-domain stream socket.
    #[cfg(unix)]
    Unix(UnixStream),
    /// TLS over TCP.
    Tls(Box<TlsStream>),
}

impl Stream {
    /// Whether a read is one `recv` on the socket (TCP, Unix), so that a
    /// short one means its queue is empty; not for TLS, which decrypts
    /// from records it may have read ahead.
    pub fn reads_directly(&self) -> bool {
        !matches!(self, Stream::Tls(_))
    }
}

impl From<TcpStream> for Stream {
    fn from(stream: TcpStream) -> Stream {
        Stream::Tcp(stream)
    }
}

#[cfg(unix)]
impl From<UnixStream> for Stream {
    fn from(stream: UnixStream) -> Stream {
        Stream::Unix(stream)
    }
}

impl Stream {
    /// Who is at the other end.
    pub fn peer(&self) -> io::Result<Peer> {
        match self {
            Stream::Tcp(s) => s.peer_addr().map(Peer::Ip),
            Stream::Tls(s) => s.sock.peer_addr().map(Peer::Ip),
            #[cfg(unix)]
            Stream::Unix(s) => {
                // Connected (a spurious wake-up of a connect says not).
                s.peer_addr()?;
                Ok(Peer::Local(credentials(s)))
            }
        }
    }

    /// The peer's TCP address; an error for a Unix-domain socket.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Stream::Tcp(s) => s.peer_addr(),
            Stream::Tls(s) => s.sock.peer_addr(),
            #[cfg(unix)]
            Stream::Unix(_) => Err(not_ip()),
        }
    }

    /// Our end's TCP address; an error for a Unix-domain socket.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Stream::Tcp(s) => s.local_addr(),
            Stream::Tls(s) => s.sock.local_addr(),
            #[cfg(unix)]
            Stream::Unix(_) => Err(not_ip()),
        }
    }

    /// Sends FIN (after TLS's `close_notify`): no more output, input still
    /// open.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(Shutdown::Write),
            Stream::Tls(s) => s.shutdown_write(),
            #[cfg(unix)]
            Stream::Unix(s) => s.shutdown(Shutdown::Write),
        }
    }

    /// The pending socket error (`SO_ERROR`), cleared.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self {
            Stream::Tcp(s) => s.take_error(),
            Stream::Tls(s) => s.sock.take_error(),
            #[cfg(unix)]
            Stream::Unix(s) => s.take_error(),
        }
    }

    /// `TCP_NODELAY` on a TCP socket; nothing to do on a Unix one.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nodelay(on),
            Stream::Tls(s) => s.sock.set_nodelay(on),
            #[cfg(unix)]
            Stream::Unix(_) => Ok(()),
        }
    }

    /// Whether `TCP_NODELAY` is on (a Unix socket has no Nagle to turn off:
    /// true).
    pub fn nodelay(&self) -> io::Result<bool> {
        match self {
            Stream::Tcp(s) => s.nodelay(),
            Stream::Tls(s) => s.sock.nodelay(),
            #[cfg(unix)]
            Stream::Unix(_) => Ok(true),
        }
    }

    /// Output the stream itself holds (TLS records the socket had no room
    /// for): the channel keeps write interest, and does not close, while
    /// there is some.
    pub fn has_pending_output(&self) -> bool {
        match self {
            Stream::Tls(s) => s.has_pending(),
            _ => false,
        }
    }

    /// Whether a TLS handshake is still going on (never, without TLS).
    pub fn is_handshaking(&self) -> bool {
        match self {
            Stream::Tls(s) => s.is_handshaking(),
            _ => false,
        }
    }

    /// Writes what [`has_pending_output`](Stream::has_pending_output)
    /// holds, as far as the socket takes it.
    pub fn flush_pending(&mut self) -> io::Result<()> {
        match self {
            Stream::Tls(s) => s.flush_pending(),
            _ => Ok(()),
        }
    }

    /// Whether file regions may go by `sendfile` (plaintext sockets only:
    /// TLS must encrypt every byte in user space).
    pub fn can_sendfile(&self) -> bool {
        !matches!(self, Stream::Tls(_))
    }

    /// The TLS side, if this is a TLS stream.
    pub fn tls(&self) -> Option<&TlsStream> {
        match self {
            Stream::Tls(s) => Some(s),
            _ => None,
        }
    }
}

#[cfg(unix)]
impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Tls(s) => s.sock.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }
}

#[cfg(unix)]
impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Tls(s) => s.sock.as_fd(),
            Stream::Unix(s) => s.as_fd(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            #[cfg(unix)]
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            // std sends TCP with MSG_NOSIGNAL already.
            #[cfg(unix)]
            Stream::Unix(s) => send_without_sigpipe(&*s, buf),
        }
    }

    /// Several buffers in one system call (a response head and its body,
    /// neither copied behind the other). std's and mio's `writev` would
    /// raise SIGPIPE on a closed socket, so it is `sendmsg` with
    /// `MSG_NOSIGNAL`, as `write` does. TLS encrypts them one after the
    /// other anyway.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            #[cfg(unix)]
            Stream::Tcp(s) => send_vectored_without_sigpipe(&*s, bufs),
            #[cfg(not(unix))]
            Stream::Tcp(s) => s.write_vectored(bufs),
            Stream::Tls(s) => s.write_vectored(bufs),
            #[cfg(unix)]
            Stream::Unix(s) => send_vectored_without_sigpipe(&*s, bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Registration goes to whichever socket it is.
macro_rules! delegate_source {
    ($ty:ty, $($variant:ident),+) => {
        impl Source for $ty {
            fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
                match self { $(Self::$variant(s) => s.register(r, t, i),)+ }
            }
            fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
                match self { $(Self::$variant(s) => s.reregister(r, t, i),)+ }
            }
            fn deregister(&mut self, r: &Registry) -> io::Result<()> {
                match self { $(Self::$variant(s) => s.deregister(r),)+ }
            }
        }
    };
}

#[cfg(unix)]
delegate_source!(ListenSocket, Tcp, Unix);
#[cfg(not(unix))]
delegate_source!(ListenSocket, Tcp);

impl Stream {
    /// The socket the poller watches (under TLS, the TCP socket).
    fn source(&mut self) -> &mut dyn Source {
        match self {
            Stream::Tcp(s) => s,
            Stream::Tls(s) => &mut s.sock,
            #[cfg(unix)]
            Stream::Unix(s) => s,
        }
    }
}

impl Source for Stream {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        self.source().register(r, t, i)
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        self.source().reregister(r, t, i)
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        self.source().deregister(r)
    }
}

/// A listening, non-blocking socket.
#[derive(Debug)]
pub enum ListenSocket {
    /// TCP.
    Tcp(TcpListener),
    /// A Unix-domain stream socket.
    #[cfg(unix)]
    Unix(UnixListener),
}

impl From<TcpListener> for ListenSocket {
    fn from(listener: TcpListener) -> ListenSocket {
        ListenSocket::Tcp(listener)
    }
}

#[cfg(unix)]
impl From<UnixListener> for ListenSocket {
    fn from(listener: UnixListener) -> ListenSocket {
        ListenSocket::Unix(listener)
    }
}

impl ListenSocket {
    /// One pending connection and who made it.
    pub fn accept(&self) -> io::Result<(Stream, Peer)> {
        match self {
            ListenSocket::Tcp(l) => {
                let (stream, addr) = l.accept()?;
                Ok((Stream::Tcp(stream), Peer::Ip(addr)))
            }
            #[cfg(unix)]
            ListenSocket::Unix(l) => {
                let (stream, _) = l.accept()?;
                #[cfg(target_vendor = "apple")]
                socket2::SockRef::from(&stream).set_nosigpipe(true)?;
                let peer = Peer::Local(credentials(&stream));
                Ok((Stream::Unix(stream), peer))
            }
        }
    }

    /// The TCP address listened on; an error for a Unix-domain socket.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            ListenSocket::Tcp(l) => l.local_addr(),
            #[cfg(unix)]
            ListenSocket::Unix(_) => Err(not_ip()),
        }
    }

    /// The TCP listener, if it is one.
    pub fn as_tcp(&self) -> Option<&TcpListener> {
        match self {
            ListenSocket::Tcp(l) => Some(l),
            #[cfg(unix)]
            ListenSocket::Unix(_) => None,
        }
    }
}

/// A send on a Unix-domain socket that never raises SIGPIPE when the peer
/// has gone: `EPIPE` comes back as an error instead. std's and mio's
/// `UnixStream` write with plain `write(2)`, and while a Rust program
/// ignores SIGPIPE, a C program embedding this crate may not: the signal
/// would kill it. Apple systems have no `MSG_NOSIGNAL`; there the socket
/// carries `SO_NOSIGPIPE` (set on accept and on connect).
#[cfg(unix)]
pub fn send_without_sigpipe(socket: impl AsFd, buf: &[u8]) -> io::Result<usize> {
    #[cfg(not(target_vendor = "apple"))]
    let flags = libc::MSG_NOSIGNAL;
    #[cfg(target_vendor = "apple")]
    let flags = 0;
    socket2::SockRef::from(&socket).send_with_flags(buf, flags)
}

/// [`send_without_sigpipe`] for several buffers (`sendmsg`).
#[cfg(unix)]
pub fn send_vectored_without_sigpipe(
    socket: impl AsFd,
    bufs: &[io::IoSlice<'_>],
) -> io::Result<usize> {
    #[cfg(not(target_vendor = "apple"))]
    let flags = libc::MSG_NOSIGNAL;
    #[cfg(target_vendor = "apple")]
    let flags = 0;
    socket2::SockRef::from(&socket).send_vectored_with_flags(bufs, flags)
}

/// Binds a Unix-domain listening socket at `path`; an error reads `cannot
/// listen on unix:PATH: REASON`, as [`listen`](super::listen)'s does.
#[cfg(unix)]
pub fn listen_unix(path: &Path) -> io::Result<UnixListener> {
    UnixListener::bind(path).map_err(|e| {
        let place = format!("unix:{}", path.display());
        super::listener::cannot_listen(&place, &e)
    })
}

#[cfg(unix)]
fn not_ip() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "a Unix-domain socket has no IP address",
    )
}

/// The peer's credentials: `SO_PEERCRED` on Linux.
#[cfg(target_os = "linux")]
fn credentials(stream: &UnixStream) -> Credentials {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid, writable and live for the call,
    // `len` holds `cred`'s size, and the descriptor is borrowed from a
    // live socket.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            std::ptr::addr_of_mut!(cred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Credentials::default();
    }
    Credentials {
        uid: Some(cred.uid),
        gid: Some(cred.gid),
        pid: Some(cred.pid),
    }
}

/// Elsewhere the credentials are not asked for.
#[cfg(all(unix, not(target_os = "linux")))]
fn credentials(_stream: &UnixStream) -> Credentials {
    Credentials::default()
}
