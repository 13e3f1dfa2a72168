//! The listening sockets medusad serves: bound here (`--host/--port`,
//! `--unix`), or inherited (systemd socket activation, or a worker's from
//! its master), and the master's way of passing them down to its workers.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::RawFd;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::process::Command;

use socket2::SockRef;

use crate::options::Options;
use crate::unix::UnixSocket;
use crate::worker::LISTEN_FD_ENV;

/// One listening socket, blocking as std makes it (the server makes it
/// non-blocking when it takes it).
#[derive(Debug)]
pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Listener {
    /// Where it listens, for the log: `127.0.0.1:8182` or `unix:/run/x.sock`.
    pub fn describe(&self) -> String {
        match self {
            Listener::Tcp(l) => match l.local_addr() {
                Ok(addr) => addr.to_string(),
                Err(e) => format!("(a TCP socket: {e})"),
            },
            Listener::Unix(l) => match l
                .local_addr()
                .ok()
                .and_then(|a| a.as_pathname().map(|p| p.display().to_string()))
            {
                Some(path) => format!("unix:{path}"),
                None => "unix:(unnamed)".to_string(),
            },
        }
    }

    fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Unix(l) => l.as_fd(),
        }
    }
}

/// Binds what the options ask for, in order: the TCP address (unless
/// `--no-tcp`), then each `--unix` path. The socket files are returned as
/// well: whoever holds them removes the files when it drops them.
pub fn bind_all(options: &Options) -> io::Result<(Vec<Listener>, Vec<UnixSocket>)> {
    bind(options, true)
}

/// [`bind_all`] without the TCP address (when `--reuseport` binds it once
/// per worker instead: [`bind_reuseport`]).
pub fn bind_unix(options: &Options) -> io::Result<(Vec<Listener>, Vec<UnixSocket>)> {
    bind(options, false)
}

fn bind(options: &Options, tcp: bool) -> io::Result<(Vec<Listener>, Vec<UnixSocket>)> {
    let mut listeners = Vec::new();
    if let Some(addr) = options.addr.filter(|_| tcp) {
        listeners.push(Listener::Tcp(bind_tcp(addr)?));
    }
    let mut files = Vec::new();
    for path in &options.unix {
        let (file, listener) = UnixSocket::bind(path, options.unix_mode, options.unix_owner)?;
        files.push(file);
        listeners.push(Listener::Unix(listener));
    }
    Ok((listeners, files))
}

/// Binds and listens on `addr` (port 0 picks a free port), as a single
/// process would (`SO_REUSEADDR`, not `SO_REUSEPORT`). The error of a port
/// in use names `addr` and has kind `AddrInUse`.
fn bind_tcp(addr: SocketAddr) -> io::Result<TcpListener> {
    let listener = medusa::reactor::listen(addr)?;
    Ok(TcpListener::from(OwnedFd::from(listener)))
}

/// `--reuseport`: `count` sockets listening on `addr` with `SO_REUSEPORT`,
/// one per worker, among which the kernel spreads new connections (by a
/// hash of the addresses and ports, not by who is free). The first one
/// resolves port 0; the others take its port. The master keeps them all,
/// so a worker's replacement accepts what was queued on its socket; but a
/// stopped worker holds its share, and any process of the same user may
/// bind the port with `SO_REUSEPORT` and take a share too.
#[cfg(target_os = "linux")]
pub fn bind_reuseport(addr: SocketAddr, count: usize) -> io::Result<Vec<TcpListener>> {
    let one = |addr| -> io::Result<TcpListener> {
        let listener = medusa::reactor::listen_reuseport(addr)?;
        Ok(TcpListener::from(OwnedFd::from(listener)))
    };
    let first = one(addr)?;
    let addr = first.local_addr()?;
    let mut all = vec![first];
    for _ in 1..count {
        all.push(one(addr)?);
    }
    Ok(all)
}

/// `SO_REUSEPORT` spreads connections this way on Linux only.
#[cfg(not(target_os = "linux"))]
pub fn bind_reuseport(_addr: SocketAddr, _count: usize) -> io::Result<Vec<TcpListener>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "--reuseport is for Linux only",
    ))
}

/// The listening sockets the master holds while its workers come and go;
/// every worker inherits all the shared ones and accepts on each, and with
/// `--reuseport` its own TCP socket too.
///
/// One socket per address, not one `SO_REUSEPORT` socket per worker: a
/// port shared that way can be joined by any process of the same user, so
/// a second instance on the same port would start silently and take half
/// of the connections. A plain listening socket makes any other bind fail
/// with `EADDRINUSE`; and a killed worker takes no queued connection with
/// it, since the queue belongs to the socket, not to a worker. A Unix
/// socket has no other way to be shared at all.
#[derive(Debug)]
pub struct Listening {
    listeners: Vec<Listener>,
    /// `--reuseport`: worker slot `i`'s own TCP socket is `own[i]`.
    own: Vec<Listener>,
}

impl Listening {
    /// Shares `listeners` (bound and listening: bound by this process, or
    /// inherited by socket activation) with the workers: they stop being
    /// close-on-exec, so every worker started from now on inherits them
    /// under the same descriptor numbers.
    pub fn share(listeners: Vec<Listener>) -> io::Result<Listening> {
        for listener in &listeners {
            SockRef::from(&listener.fd()).set_cloexec(false)?;
        }
        Ok(Listening {
            listeners,
            own: Vec::new(),
        })
    }

    /// Gives worker slot `i` the socket `own[i]` besides the shared ones
    /// (`--reuseport`).
    pub fn with_own(mut self, own: Vec<Listener>) -> io::Result<Listening> {
        for listener in &own {
            SockRef::from(&listener.fd()).set_cloexec(false)?;
        }
        self.own = own;
        Ok(self)
    }

    /// Where the workers serve, for the log.
    pub fn describe(&self) -> String {
        let mut all: Vec<String> = Vec::new();
        if let Some(first) = self.own.first() {
            all.push(format!("{} (a socket per worker)", first.describe()));
        }
        all.extend(self.listeners.iter().map(Listener::describe));
        all.join(", ")
    }

    /// Tells the command of worker slot `slot` where its listening sockets
    /// are: their descriptor numbers, comma-separated, in the order served
    /// (its own socket first, with `--reuseport`). Its siblings' sockets
    /// are inherited too (none is close-on-exec, and dropping that flag for
    /// one child only would need code between fork and exec) but never
    /// named, so never polled: what the kernel queues on a socket is taken
    /// only by the worker that accepts on it, and they cost one descriptor
    /// each.
    pub fn configure(&self, command: &mut Command, slot: usize) {
        let mine = self.own.get(slot).into_iter().chain(&self.listeners);
        command.env(LISTEN_FD_ENV, numbers(mine));
    }

    /// The descriptors, comma-separated: the shared sockets', and the
    /// per-worker ones' in slot order (for a new master: `upgrade`).
    pub fn descriptors(&self) -> (String, String) {
        (numbers(&self.listeners), numbers(&self.own))
    }
}

/// Reads a list that [`Listening::configure`] or [`Listening::descriptors`]
/// wrote: descriptor numbers, comma-separated (empty: none). `None` if one
/// is not a number, or is named twice (it would be taken, and closed,
/// twice).
pub fn parse_fds(list: &str) -> Option<Vec<RawFd>> {
    let fds = list
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|fd| fd.parse().ok())
        .collect::<Option<Vec<RawFd>>>()?;
    distinct(&fds).then_some(fds)
}

/// No number twice.
pub fn distinct(fds: &[RawFd]) -> bool {
    let mut sorted = fds.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sorted.len() == fds.len()
}

fn numbers<'a>(listeners: impl IntoIterator<Item = &'a Listener>) -> String {
    let fds: Vec<String> = listeners
        .into_iter()
        .map(|l| l.fd().as_raw_fd().to_string())
        .collect();
    fds.join(",")
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
        let listener = bind_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        assert_ne!(addr.port(), 0);

        let intruder = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        intruder.set_reuse_address(true).unwrap();
        // (socket2 has no SO_REUSEPORT on Solaris and illumos.)
        #[cfg(not(any(target_os = "solaris", target_os = "illumos")))]
        intruder.set_reuse_port(true).unwrap();
        let e = intruder.bind(&addr.into()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        let e = bind_tcp(addr).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        assert!(e.to_string().contains(&addr.to_string()), "{e}");

        let client = TcpStream::connect(addr).unwrap();
        listener.set_nonblocking(false).unwrap();
        let (_accepted, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
    }

    /// A worker is told every descriptor's number, in order (that they
    /// survive exec is what tests/workers.rs shows: the workers serve).
    #[test]
    fn workers_are_told_the_descriptors() {
        let dir = tempfile::tempdir().unwrap();
        let tcp = bind_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
        let unix = UnixListener::bind(dir.path().join("s.sock")).unwrap();
        let fds = format!("{},{}", tcp.as_raw_fd(), unix.as_raw_fd());
        let listening = Listening::share(vec![Listener::Tcp(tcp), Listener::Unix(unix)]).unwrap();
        let mut command = Command::new("true");
        listening.configure(&mut command, 0);
        let envs: Vec<_> = command.get_envs().collect();
        assert_eq!(
            envs,
            [(
                std::ffi::OsStr::new(LISTEN_FD_ENV),
                Some(std::ffi::OsStr::new(&fds))
            )]
        );
        assert!(
            listening.describe().ends_with("s.sock"),
            "{}",
            listening.describe()
        );
    }

    /// `--reuseport`: one port, a socket per worker, each worker told its
    /// own first and then the shared ones.
    #[cfg(target_os = "linux")]
    #[test]
    fn reuseport_gives_each_worker_its_own_socket() {
        let own = bind_reuseport("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        let port = own[0].local_addr().unwrap().port();
        assert!(own.iter().all(|l| l.local_addr().unwrap().port() == port));
        let fds: Vec<i32> = own.iter().map(|l| l.as_raw_fd()).collect();
        let dir = tempfile::tempdir().unwrap();
        let unix = UnixListener::bind(dir.path().join("s.sock")).unwrap();
        let unix_fd = unix.as_raw_fd();
        let listening = Listening::share(vec![Listener::Unix(unix)])
            .unwrap()
            .with_own(own.into_iter().map(Listener::Tcp).collect())
            .unwrap();
        for (slot, fd) in fds.iter().enumerate() {
            let mut command = Command::new("true");
            listening.configure(&mut command, slot);
            let value = command
                .get_envs()
                .find_map(|(_, v)| v)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            assert_eq!(value, format!("{fd},{unix_fd}"));
        }
        assert!(listening.describe().contains("(a socket per worker)"));
    }
}
