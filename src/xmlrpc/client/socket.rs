//! The blocking client's socket: TCP, Unix-domain or TLS, with the
//! transport's timeouts, and writes that never raise SIGPIPE.

// Peer-controlled sizes: arithmetic must say what happens at the edges.
#![warn(clippy::arithmetic_side_effects)]

use std::io::{self, Read, Write};
use std::net::TcpStream;
#[cfg(unix)]
use std::os::unix::net::UnixStream;
#[cfg(unix)]
use std::path::Path;
use std::time::Duration;

use super::error::ClientError;
use super::tls::TlsConfig;
use super::url::{Address, Target};

/// A connected socket, TCP or Unix-domain, blocking, with the
/// transport's timeouts.
pub(super) enum Socket {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
    /// `https://`: rustls over the TCP socket, blocking.
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Socket {
    /// Connects to `addr` within `timeout` (`None`: as long as it takes).
    pub(super) fn connect(addr: &Address, timeout: Option<Duration>) -> io::Result<Socket> {
        let socket = match addr {
            Address::Ip(addr) => {
                let stream = match timeout {
                    Some(t) => TcpStream::connect_timeout(addr, t)?,
                    None => TcpStream::connect(addr)?,
                };
                stream.set_nodelay(true)?;
                Socket::Tcp(stream)
            }
            #[cfg(unix)]
            Address::Unix(path) => Socket::Unix(
                connect_unix(path, timeout)
                    .map_err(|e| io::Error::new(e.kind(), format!("{addr}: {e}")))?,
            ),
        };
        socket.set_timeouts(timeout)?;
        Ok(socket)
    }

    fn set_timeouts(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Socket::Tcp(s) => {
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(timeout)
            }
            Socket::Tls(s) => {
                s.sock.set_read_timeout(timeout)?;
                s.sock.set_write_timeout(timeout)
            }
            #[cfg(unix)]
            Socket::Unix(s) => {
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(timeout)
            }
        }
    }

    /// The TLS side over a TCP socket, for `https://`.
    pub(super) fn secure(
        self,
        target: &Target,
        tls: &mut TlsConfig,
    ) -> Result<Socket, ClientError> {
        let Socket::Tcp(tcp) = self else {
            return Ok(self);
        };
        let config = tls.rustls_config()?;
        let conn = rustls::ClientConnection::new(config, target.server_name()?)
            .map_err(|e| ClientError::Io(io::Error::other(e)))?;
        Ok(Socket::Tls(Box::new(rustls::StreamOwned::new(conn, tcp))))
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.read(buf),
            // A server that closes without close_notify (medusad closing an
            // idle kept-alive connection, Python's ssl servers after every
            // answer) is an UnexpectedEof error to rustls. For HTTP, whose
            // messages frame themselves, it is an end of input like any
            // other, as the reactor's TlsStream reads it: before any byte
            // of an answer that means a stale connection to retry, not a
            // failed call.
            Socket::Tls(s) => match s.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
            #[cfg(unix)]
            Socket::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            // std sends with MSG_NOSIGNAL where there is one.
            Socket::Tcp(s) => s.write(buf),
            Socket::Tls(s) => s.write(buf),
            #[cfg(unix)]
            // Without SIGPIPE: a stale kept-alive connection's EPIPE is an
            // error, for the retry.
            Socket::Unix(s) => crate::reactor::send_without_sigpipe(&*s, buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Connects to the Unix-domain socket at `path`. Such a connect completes
/// at once, or fails at once, or (Linux, the listener's backlog full)
/// waits for room, as long as the send timeout allows: set it first.
#[cfg(unix)]
fn connect_unix(path: &Path, timeout: Option<Duration>) -> io::Result<UnixStream> {
    use socket2::{Domain, SockAddr, Socket as RawSocket, Type};

    let socket = RawSocket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.set_write_timeout(timeout)?;
    #[cfg(target_vendor = "apple")]
    socket.set_nosigpipe(true)?;
    socket.connect(&SockAddr::unix(path)?)?;
    Ok(socket.into())
}
