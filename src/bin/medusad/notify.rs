//! systemd's readiness protocol (`sd_notify(3)`), without libsystemd: a
//! datagram of `VAR=value` lines to the Unix socket named by
//! `NOTIFY_SOCKET` (a path, or an abstract name when it starts with `@`).
//!
//! medusad sends `READY=1` once it answers on its sockets, `STOPPING=1`
//! when its graceful shutdown begins, and, when `WATCHDOG_USEC` is set,
//! `WATCHDOG=1` every half of that interval from its event loop (a
//! [`Watchdog`] dispatcher's timer): a loop that freezes stops pinging, and
//! systemd restarts the service.
//!
//! With `--workers`, systemd hears only the master (the main pid:
//! `NotifyAccess=main`). The master is its workers' service manager in
//! turn, over the same protocol: it gives them `NOTIFY_SOCKET` naming a
//! socket of its own ([`Relay`]), says `READY=1` once every worker has, and
//! pings systemd only while every worker pings it (see
//! `prefork::Master::notifying`).

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

use medusa::reactor::{Context, Dispatcher, TimerId};
use mio::event::Source;

/// The line by which a worker names itself to its master: datagrams on the
/// master's socket carry no sender (the workers' sockets are unbound).
pub const WORKER_PID_LINE: &str = "MEDUSAD_WORKER_PID";

/// Where and how to tell the service manager (systemd, or the master).
pub struct Notifier {
    socket: UnixDatagram,
    to: SocketAddr,
    /// `WATCHDOG_USEC`, if it is meant for this process.
    watchdog: Option<Duration>,
    /// `MEDUSAD_WORKER_PID=<pid>` in a worker, added to every message.
    worker_line: Option<String>,
}

impl Notifier {
    /// The notifier `NOTIFY_SOCKET` asks for, if any. Reads and removes
    /// `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`, so that the
    /// processes medusad starts (programs, workers) do not take them for
    /// their own. Call it while the process is single-threaded (it changes
    /// the environment). `worker`: this process is a worker, talking to
    /// its master.
    pub fn from_env(worker: bool) -> io::Result<Option<Notifier>> {
        let socket = std::env::var_os("NOTIFY_SOCKET");
        let usec = std::env::var("WATCHDOG_USEC").ok();
        let watchdog_pid = std::env::var("WATCHDOG_PID").ok();
        for name in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            std::env::remove_var(name);
        }
        let Some(socket) = socket.filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let to = address(&socket)?;
        // WATCHDOG_PID, when set, says which process the interval is for.
        let ours = watchdog_pid
            .map(|pid| pid.parse::<u32>().ok() == Some(std::process::id()))
            .unwrap_or(true);
        let watchdog = usec
            .and_then(|usec| usec.parse::<u64>().ok())
            .filter(|&usec| usec > 0 && ours)
            .map(Duration::from_micros);
        Ok(Some(Notifier {
            socket: UnixDatagram::unbound()?,
            to,
            watchdog,
            worker_line: worker.then(|| format!("{WORKER_PID_LINE}={}", std::process::id())),
        }))
    }

    /// The watchdog interval (`WATCHDOG_USEC`), if the manager wants pings.
    pub fn watchdog(&self) -> Option<Duration> {
        self.watchdog
    }

    /// Sends `state` (`READY=1`, lines separated by `\n`). A manager that
    /// does not listen costs a warning in the log, nothing more.
    pub fn notify(&self, state: &str) {
        let message = match &self.worker_line {
            Some(line) => format!("{state}\n{line}"),
            None => state.to_string(),
        };
        if let Err(e) = self.socket.send_to_addr(message.as_bytes(), &self.to) {
            log::warn!("sd_notify {:?}: {e}", state.replace('\n', " "));
        }
    }

    /// `READY=1`, with `MAINPID` (this process: the one to signal).
    pub fn ready(&self) {
        self.notify(&format!("READY=1\nMAINPID={}", std::process::id()));
    }
}

/// `NOTIFY_SOCKET`'s value as an address: a path, or `@name` for an
/// abstract socket (Linux only).
fn address(socket: &std::ffi::OsStr) -> io::Result<SocketAddr> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = socket.as_bytes();
    if let Some(name) = bytes.strip_prefix(b"@") {
        return abstract_address(name);
    }
    SocketAddr::from_pathname(socket)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn abstract_address(name: &[u8]) -> io::Result<SocketAddr> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    SocketAddr::from_abstract_name(name)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn abstract_address(_name: &[u8]) -> io::Result<SocketAddr> {
    Err(io::Error::other(
        "NOTIFY_SOCKET: abstract sockets (@name) exist only on Linux",
    ))
}

/// On the event loop: `WATCHDOG=1` every half of the watchdog interval
/// (none without one), and `STOPPING=1` when the graceful shutdown begins.
/// Being on the loop is the point: a frozen loop stops pinging.
pub struct Watchdog {
    notifier: Notifier,
    timer: Option<TimerId>,
}

impl Watchdog {
    pub fn new(notifier: Notifier) -> Watchdog {
        Watchdog {
            notifier,
            timer: None,
        }
    }
}

impl Dispatcher for Watchdog {
    fn source(&mut self) -> Option<&mut dyn Source> {
        None
    }

    fn handle_added(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if let Some(interval) = self.notifier.watchdog() {
            self.timer = Some(cx.set_repeating(interval / 2));
        }
        Ok(())
    }

    fn handle_timer(&mut self, _cx: &mut Context<'_>, _timer: TimerId) -> io::Result<()> {
        self.notifier.notify("WATCHDOG=1");
        Ok(())
    }

    fn handle_shutdown(&mut self, cx: &mut Context<'_>) {
        // systemd stops watching once the service stops; the loop may
        // drain for up to --grace without pinging.
        self.notifier.notify("STOPPING=1");
        cx.close();
    }
}

/// The master's socket for its workers' messages: an abstract Unix
/// datagram socket (Linux), named in the workers' `NOTIFY_SOCKET`.
pub struct Relay {
    pub socket: mio::net::UnixDatagram,
    /// `@name`, for the workers' `NOTIFY_SOCKET`.
    pub name: String,
}

impl Relay {
    /// Binds the master's socket, named by its pid (and the time, so that a
    /// name left by nobody else can be told from a reused pid's).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn bind() -> io::Result<Relay> {
        #[cfg(target_os = "android")]
        use std::os::android::net::SocketAddrExt;
        #[cfg(target_os = "linux")]
        use std::os::linux::net::SocketAddrExt;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("medusad-{}-{nanos}", std::process::id());
        let socket = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes())?)?;
        socket.set_nonblocking(true)?;
        Ok(Relay {
            socket: mio::net::UnixDatagram::from_std(socket),
            name: format!("@{name}"),
        })
    }

    /// Elsewhere there is no systemd; the master answers for its workers.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub fn bind() -> io::Result<Relay> {
        Err(io::Error::other("no abstract Unix sockets here"))
    }
}

/// What one worker's datagram says: its pid, and whether it is `READY=1`
/// or `WATCHDOG=1` (other states are of no interest to the master).
#[derive(Debug, PartialEq, Eq)]
pub struct WorkerMessage {
    pub pid: u32,
    pub ready: bool,
    pub watchdog: bool,
}

impl WorkerMessage {
    pub fn parse(datagram: &[u8]) -> Option<WorkerMessage> {
        let text = std::str::from_utf8(datagram).ok()?;
        let mut message = WorkerMessage {
            pid: 0,
            ready: false,
            watchdog: false,
        };
        for line in text.lines() {
            match line.split_once('=') {
                Some((WORKER_PID_LINE, pid)) => message.pid = pid.parse().ok()?,
                Some(("READY", "1")) => message.ready = true,
                Some(("WATCHDOG", "1")) => message.watchdog = true,
                _ => {}
            }
        }
        (message.pid != 0).then_some(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_message_names_its_pid() {
        let ready = WorkerMessage::parse(b"READY=1\nMAINPID=42\nMEDUSAD_WORKER_PID=42");
        assert_eq!(
            ready,
            Some(WorkerMessage {
                pid: 42,
                ready: true,
                watchdog: false
            })
        );
        let ping = WorkerMessage::parse(b"WATCHDOG=1\nMEDUSAD_WORKER_PID=7").expect("parsed");
        assert!(ping.watchdog && !ping.ready && ping.pid == 7);
        // Without a pid (not from a worker), or with a bad one: ignored.
        assert_eq!(WorkerMessage::parse(b"READY=1"), None);
        assert_eq!(WorkerMessage::parse(b"READY=1\nMEDUSAD_WORKER_PID=x"), None);
        assert_eq!(WorkerMessage::parse(&[0xff, 0xfe]), None);
    }

    #[test]
    fn notify_socket_names_a_path_or_an_abstract_socket() {
        let path = address(std::ffi::OsStr::new("/run/systemd/notify")).expect("a path");
        assert_eq!(
            path.as_pathname(),
            Some(std::path::Path::new("/run/systemd/notify"))
        );
        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            let name = address(std::ffi::OsStr::new("@medusad-1")).expect("abstract");
            assert_eq!(name.as_abstract_name(), Some(&b"medusad-1"[..]));
        }
    }
}
