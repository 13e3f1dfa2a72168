//! systemd socket activation: serving on a listening socket the process
//! inherited instead of binding one (`sd_listen_fds(3)`).
//!
//! The protocol: the service manager binds and listens, starts us with the
//! socket as descriptor 3 (`SD_LISTEN_FDS_START`), `LISTEN_FDS` = how many
//! sockets, and `LISTEN_PID` = our pid, so that a child that inherited the
//! environment does not claim sockets that are not its own.

use std::io;
use std::net::TcpListener;
use std::os::fd::{FromRawFd, RawFd};

/// The first inherited descriptor, by the protocol.
pub const LISTEN_FDS_START: RawFd = 3;

/// The inherited listening socket, if this process was socket-activated.
///
/// Reads and removes `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES`
/// (whatever they say), so that a second call, or a child process, finds
/// nothing. Only the first socket is used; medusad listens on one.
/// Must be called while the process is single-threaded (it changes the
/// environment), and before anything else could claim descriptor 3.
pub fn listen_fds() -> io::Result<Option<TcpListener>> {
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(name);
    }
    let ours = pid.and_then(|p| p.parse::<u32>().ok()) == Some(std::process::id());
    let count = fds.and_then(|n| n.parse::<u32>().ok()).unwrap_or(0);
    if !ours || count == 0 {
        return Ok(None);
    }
    // SAFETY: by the protocol just checked (LISTEN_PID is our pid,
    // LISTEN_FDS >= 1), descriptor 3 is an open socket handed to this
    // process and owned by nobody else in it: the variables are removed
    // above, so this is the only place that takes it, once.
    let listener = unsafe { inherited(LISTEN_FDS_START) };
    listener.map(Some)
}

/// Takes descriptor `fd`, which the master passed down to a worker (see
/// `worker::LISTEN_FD_ENV`), as a listening socket.
///
/// # Safety
///
/// `fd` must be an open descriptor that nothing else in this process owns
/// or will close.
pub unsafe fn inherited(fd: RawFd) -> io::Result<TcpListener> {
    // SAFETY: the caller guarantees `fd` is open and ours alone.
    let listener = unsafe { TcpListener::from_raw_fd(fd) };
    // A descriptor that is not a listening TCP socket (a misconfigured
    // unit) fails here with a clear error instead of at the first accept.
    let socket = socket2::SockRef::from(&listener);
    if socket.r#type()? != socket2::Type::STREAM || !is_listener(&socket)? {
        return Err(io::Error::other(format!(
            "inherited descriptor {fd} is not a listening stream socket"
        )));
    }
    listener.local_addr()?;
    Ok(listener)
}

/// Whether `socket` is listening (`SO_ACCEPTCONN`), where socket2 can ask.
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "fuchsia"
))]
fn is_listener(socket: &socket2::SockRef<'_>) -> io::Result<bool> {
    socket.is_listener()
}

/// Elsewhere socket2 does not offer `SO_ACCEPTCONN`: a stream socket that
/// is not listening is taken, and fails at its first accept instead.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "fuchsia"
)))]
fn is_listener(_socket: &socket2::SockRef<'_>) -> io::Result<bool> {
    Ok(true)
}
