//! The workers' one listening socket, held by the master and passed down.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Command;

use socket2::SockRef;

use crate::worker::LISTEN_FD_ENV;

/// The listening socket the master holds while its workers come and go;
/// every worker inherits it and accepts on it.
///
/// One socket, not one `SO_REUSEPORT` socket per worker: a port shared
/// that way can be joined by any process of the same user, so a second
/// instance on the same port would start silently and take half of the
/// connections. A plain listening socket makes any other bind fail with
/// `EADDRINUSE`; and a killed worker takes no queued connection with it,
/// since the queue belongs to the socket, not to a worker.
#[derive(Debug)]
pub struct Listening {
    listener: TcpListener,
}

impl Listening {
    /// Binds and listens on `addr` (port 0 picks a free port), as a single
    /// process would (`SO_REUSEADDR`, not `SO_REUSEPORT`), and shares it.
    /// The error of a port in use names `addr` and has kind `AddrInUse`.
    pub fn bind(addr: SocketAddr) -> io::Result<Listening> {
        let listener = medusa::reactor::listen(addr)?;
        Listening::share(TcpListener::from(OwnedFd::from(listener)))
    }

    /// Shares `listener` (bound and listening: one this process bound, or
    /// inherited by socket activation) with the workers: it stops being
    /// close-on-exec, so every worker started from now on inherits it under
    /// the same descriptor number.
    pub fn share(listener: TcpListener) -> io::Result<Listening> {
        SockRef::from(&listener).set_cloexec(false)?;
        Ok(Listening { listener })
    }

    /// The address the workers serve.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Tells a worker's command where its listening socket is.
    pub fn configure(&self, command: &mut Command) {
        command.env(LISTEN_FD_ENV, self.listener.as_raw_fd().to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::{Domain, Protocol, Socket, Type};
    use std::net::TcpStream;

    /// Port 0 is resolved, the socket takes connections, and nothing else
    /// can bind the port, not even with SO_REUSEPORT (how a second
    /// `medusad --workers` used to join the first one's port).
    #[test]
    fn the_bound_port_is_ours_alone() {
        let listening = Listening::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listening.local_addr().unwrap();
        assert_ne!(addr.port(), 0);

        let intruder = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        intruder.set_reuse_address(true).unwrap();
        // (socket2 has no SO_REUSEPORT on Solaris and illumos.)
        #[cfg(not(any(target_os = "solaris", target_os = "illumos")))]
        intruder.set_reuse_port(true).unwrap();
        let e = intruder.bind(&addr.into()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        let e = Listening::bind(addr).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        assert!(e.to_string().contains(&addr.to_string()), "{e}");

        let client = TcpStream::connect(addr).unwrap();
        listening.listener.set_nonblocking(false).unwrap();
        let (_accepted, peer) = listening.listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
    }

    /// A worker is told the descriptor's number (that it survives exec is
    /// what tests/workers.rs shows: the workers serve).
    #[test]
    fn workers_are_told_the_descriptor() {
        let listening = Listening::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut command = Command::new("true");
        listening.configure(&mut command);
        let fd = listening.listener.as_raw_fd().to_string();
        let envs: Vec<_> = command.get_envs().collect();
        assert_eq!(
            envs,
            [(
                std::ffi::OsStr::new(LISTEN_FD_ENV),
                Some(std::ffi::OsStr::new(&fd))
            )]
        );
    }
}
