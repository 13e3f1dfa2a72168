//! systemd socket activation: serving on the listening sockets the
//! process inherited instead of binding (`sd_listen_fds(3)`).
//!
//! The protocol: the service manager binds and listens, starts us with the
//! sockets as descriptors 3, 4, ... (`SD_LISTEN_FDS_START`), `LISTEN_FDS`
//! = how many, and `LISTEN_PID` = our pid, so that a child that inherited
//! the environment does not claim sockets that are not its own. Each is
//! served as what it is: a TCP port, or a Unix-domain socket (a `.socket`
//! unit's `ListenStream=/run/medusad.sock`).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use crate::listening::Listener;

/// The first inherited descriptor, by the protocol.
pub const LISTEN_FDS_START: RawFd = 3;

/// The most sockets taken from `LISTEN_FDS`: a unit lists a handful; a
/// huge number is a broken environment, not descriptors to wrap.
const MAX_LISTEN_FDS: u32 = 64;

/// The inherited listening sockets, in order (TCP or Unix-domain, each as
/// it is), if this process was socket-activated; empty if not.
///
/// Reads and removes `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES`
/// (whatever they say), so that a second call, or a child process, finds
/// nothing. Must be called while the process is single-threaded (it
/// changes the environment), and before anything else could claim
/// descriptors from 3 on.
pub fn listen_fds() -> io::Result<Vec<Listener>> {
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(name);
    }
    let ours = pid.and_then(|p| p.parse::<u32>().ok()) == Some(std::process::id());
    let count = fds.and_then(|n| n.parse::<u32>().ok()).unwrap_or(0);
    if !ours || count == 0 {
        return Ok(Vec::new());
    }
    if count > MAX_LISTEN_FDS {
        return Err(io::Error::other(format!(
            "LISTEN_FDS={count}: more than {MAX_LISTEN_FDS} sockets"
        )));
    }
    (0..count)
        .map(|i| {
            // (count <= 64: no overflow.)
            let fd = LISTEN_FDS_START + i as RawFd;
            // SAFETY: by the protocol just checked (LISTEN_PID is our pid,
            // LISTEN_FDS = count), descriptors 3 to 3 + count - 1 are open
            // sockets handed to this process and owned by nobody else in
            // it: the variables are removed above, so this is the only
            // place that takes them, once each.
            unsafe { inherited(fd) }
        })
        .collect()
}

/// Takes descriptor `fd`, inherited from systemd or from the master (see
/// `worker::LISTEN_FD_ENV`), as a listening socket: TCP or Unix-domain,
/// by the socket's own address family.
///
/// # Safety
///
/// `fd` must be an open descriptor that nothing else in this process owns
/// or will close.
pub unsafe fn inherited(fd: RawFd) -> io::Result<Listener> {
    // SAFETY: the caller guarantees `fd` is open and ours alone.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // A descriptor that is not a listening stream socket (a misconfigured
    // unit) fails here with a clear error instead of at the first accept.
    let socket = socket2::SockRef::from(&owned);
    let not_listening = || {
        io::Error::other(format!(
            "inherited descriptor {fd} is not a listening stream socket"
        ))
    };
    if socket.r#type().map_err(|_| not_listening())? != socket2::Type::STREAM
        || !is_listener(&socket)?
    {
        return Err(not_listening());
    }
    // Inherited without close-on-exec (that is how it came); set again so
    // that the programs behind program-backed methods do not inherit it:
    // one still running would hold the port open after this process
    // stopped listening, and connections would queue there unanswered
    // instead of being refused. (The master clears it again on its own
    // copies for its workers: `Listening::share`.)
    socket.set_cloexec(true)?;
    let domain = socket.domain()?;
    if domain == socket2::Domain::UNIX {
        Ok(Listener::Unix(owned.into()))
    } else if domain == socket2::Domain::IPV4 || domain == socket2::Domain::IPV6 {
        Ok(Listener::Tcp(owned.into()))
    } else {
        Err(io::Error::other(format!(
            "inherited descriptor {fd} is neither TCP nor a Unix-domain socket"
        )))
    }
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
