//! The master's hold on the workers' address, and how it is passed down.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::process::Command;

use socket2::{Domain, Protocol, SockRef, Socket, Type};

use super::worker::LISTEN_FD_ENV;

/// What the master keeps open while its workers come and go.
pub enum Listening {
    /// The address, bound with `SO_REUSEPORT` but not listening: each
    /// worker binds and listens on its own socket beside it.
    Reserved {
        /// Held open for the reservation.
        socket: Socket,
        /// Its address, port 0 resolved.
        addr: SocketAddr,
    },
    /// A listening socket the master inherited (socket activation): the
    /// workers inherit it in turn and all accept on it.
    Shared(TcpListener),
}

impl Listening {
    /// Binds `addr` with `SO_REUSEPORT` without listening: the port is
    /// ours (port 0 becomes a concrete one for the workers to share, and
    /// no other program can take it while all workers are down), yet the
    /// socket is offered no connections, since only listening sockets are.
    pub fn reserve(addr: SocketAddr) -> io::Result<Listening> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket
            .bind(&addr.into())
            .map_err(|e| io::Error::new(e.kind(), format!("bind {addr}: {e}")))?;
        let addr = socket
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("not an IP socket"))?;
        Ok(Listening::Reserved { socket, addr })
    }

    /// Shares `listener` with the workers: it stops being close-on-exec,
    /// so every worker started from now on inherits it under the same
    /// descriptor number.
    pub fn share(listener: TcpListener) -> io::Result<Listening> {
        SockRef::from(&listener).set_cloexec(false)?;
        Ok(Listening::Shared(listener))
    }

    /// The address the workers serve.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Listening::Reserved { addr, .. } => Ok(*addr),
            Listening::Shared(listener) => listener.local_addr(),
        }
    }

    /// Tells a worker's command line where to listen: `--port` with the
    /// reserved port (the last `--port` wins), or the shared descriptor.
    pub fn configure(&self, command: &mut Command) {
        match self {
            Listening::Reserved { addr, .. } => {
                command.arg("--port").arg(addr.port().to_string());
            }
            Listening::Shared(listener) => {
                command.env(LISTEN_FD_ENV, listener.as_raw_fd().to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;

    /// The reservation resolves port 0, takes no connections itself, and
    /// does not keep a SO_REUSEPORT listener from taking all of them.
    #[test]
    fn a_reserved_port_is_shared_but_gets_no_connections() {
        let reserved = Listening::reserve("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = reserved.local_addr().unwrap();
        assert_ne!(addr.port(), 0);
        let refused = TcpStream::connect(addr).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);

        let worker = crate::reactor::listener::listen(addr, true).unwrap();
        let worker = std::net::TcpListener::from(std::os::fd::OwnedFd::from(worker));
        worker.set_nonblocking(false).unwrap();
        for _ in 0..20 {
            let client = TcpStream::connect(addr).expect("the worker's socket takes it");
            let (accepted, peer) = worker.accept().unwrap();
            assert_eq!(peer, client.local_addr().unwrap());
            drop(accepted);
        }
    }

    /// A port held by a socket without SO_REUSEPORT cannot be reserved.
    #[test]
    fn a_port_in_plain_use_cannot_be_reserved() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let Err(e) = Listening::reserve(taken.local_addr().unwrap()) else {
            panic!("reserved a port in use");
        };
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
    }
}
