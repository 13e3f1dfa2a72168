//! `ProgramRun`: one run of a program, as a dispatcher on the loop.
//!
//! asyncore's `file_dispatcher` watched one descriptor; a run has three
//! (the program's stdin, stdout and stderr), so [`Pipes`] registers all of
//! them under the run's one token and every readiness event pumps them
//! all: write what stdin will take, read what stdout and stderr have, each
//! until `WouldBlock`. Timers give the run its timeout and, once both
//! output pipes are closed, poll `try_wait` until the child is reaped
//! (no SIGCHLD handler: the reactor's signal pipe is for shutdown, and a
//! child closing its output is about to exit anyway).

use std::io::{self, Read, Write};
use std::os::unix::process::ExitStatusExt as _;
use std::process::{Child, ExitStatus};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::unix::pipe::{Receiver, Sender};
use mio::{Interest, Registry, Token};

use super::output::{self, Tail};
use super::{Limits, Permit};
use crate::reactor::{Context, Dispatcher, TimerId, READ_BUFFER_SIZE};
use crate::xmlrpc::fault::Fault;
use crate::xmlrpc::server::service::XmlRpcResponder;
use crate::xmlrpc::value::Value;

/// Reads of one pipe per hook before the others get a turn (the loop's
/// other dispatchers too: the rest waits for a `reschedule`).
const READS_PER_TURN: usize = 16;
/// First wait between `try_wait`s once the output pipes are closed; it
/// doubles up to `MAX_REAP_DELAY`.
const FIRST_REAP_DELAY: Duration = Duration::from_millis(1);
const MAX_REAP_DELAY: Duration = Duration::from_millis(100);

/// The program's three pipes, polled under one token; each is `None` once
/// closed (stdin: written or refused; stdout, stderr: at end of file).
/// Closing a pipe drops it, which takes it out of epoll.
#[derive(Debug, Default)]
struct Pipes {
    stdin: Option<Sender>,
    stdout: Option<Receiver>,
    stderr: Option<Receiver>,
}

impl Pipes {
    fn outputs_closed(&self) -> bool {
        self.stdout.is_none() && self.stderr.is_none()
    }
}

impl Source for Pipes {
    /// Each pipe for its own direction, whatever the dispatcher's interest
    /// (`ProgramRun` asks for reading only, so it is never re-registered).
    fn register(&mut self, registry: &Registry, token: Token, _: Interest) -> io::Result<()> {
        if let Some(stdin) = &mut self.stdin {
            registry.register(stdin, token, Interest::WRITABLE)?;
        }
        for output in [&mut self.stdout, &mut self.stderr].into_iter().flatten() {
            registry.register(output, token, Interest::READABLE)?;
        }
        Ok(())
    }

    fn reregister(&mut self, registry: &Registry, token: Token, _: Interest) -> io::Result<()> {
        if let Some(stdin) = &mut self.stdin {
            registry.reregister(stdin, token, Interest::WRITABLE)?;
        }
        for output in [&mut self.stdout, &mut self.stderr].into_iter().flatten() {
            registry.reregister(output, token, Interest::READABLE)?;
        }
        Ok(())
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        let mut result = Ok(());
        if let Some(stdin) = &mut self.stdin {
            result = result.and(registry.deregister(stdin));
        }
        for output in [&mut self.stdout, &mut self.stderr].into_iter().flatten() {
            result = result.and(registry.deregister(output));
        }
        result
    }
}

/// How the child ended, once reaped.
#[derive(Debug)]
enum Exit {
    Status(ExitStatus),
    /// `try_wait` failed (ECHILD: someone else reaped it, e.g. under
    /// `SIGCHLD` ignored); its status is unknown.
    Lost(String),
}

/// One run of a program method: its child, pipes, output and answer.
pub(super) struct ProgramRun {
    limits: Arc<Limits>,
    /// `None` once reaped (or handed to a reaper thread).
    child: Option<Child>,
    exit: Option<Exit>,
    /// The process group was sent SIGKILL.
    killed: bool,
    pipes: Pipes,
    input: Vec<u8>,
    written: usize,
    stdout: Vec<u8>,
    stderr: Tail,
    /// `None` once answered.
    responder: Option<XmlRpcResponder>,
    /// Held until the child is reaped.
    permit: Option<Permit>,
    /// When the child was started: the timeout counts from there.
    started: Instant,
    timeout_timer: Option<TimerId>,
    reap_timer: Option<TimerId>,
    reap_delay: Duration,
}

impl ProgramRun {
    /// The run of `child`, started at `started`; `None` if its pipes
    /// cannot be made non-blocking (it is then killed, reaped and answered
    /// a fault).
    pub(super) fn new(
        limits: Arc<Limits>,
        mut child: Child,
        input: Vec<u8>,
        responder: XmlRpcResponder,
        permit: Permit,
        started: Instant,
    ) -> Option<ProgramRun> {
        let pipes = Pipes {
            stdin: child.stdin.take().map(Sender::from),
            stdout: child.stdout.take().map(Receiver::from),
            stderr: child.stderr.take().map(Receiver::from),
        };
        let max_stderr = limits.max_stderr;
        let mut run = ProgramRun {
            limits,
            child: Some(child),
            exit: None,
            killed: false,
            pipes,
            input,
            written: 0,
            stdout: Vec::new(),
            stderr: Tail::new(max_stderr),
            responder: Some(responder),
            permit: Some(permit),
            started,
            timeout_timer: None,
            reap_timer: None,
            reap_delay: FIRST_REAP_DELAY,
        };
        let nonblocking = (|| {
            if let Some(p) = &run.pipes.stdin {
                p.set_nonblocking(true)?;
            }
            for p in [&run.pipes.stdout, &run.pipes.stderr].into_iter().flatten() {
                p.set_nonblocking(true)?;
            }
            io::Result::Ok(())
        })();
        if let Err(e) = nonblocking {
            let why = format!("cannot watch {}: {e}", run.limits.method);
            run.respond(Err(Fault::internal_error(why)));
            return None; // Drop kills and reaps
        }
        Some(run)
    }

    fn method(&self) -> &str {
        &self.limits.method
    }

    fn respond(&mut self, result: Result<Value, Fault>) {
        if let Some(responder) = self.responder.take() {
            if let Err(fault) = &result {
                // {:?}: the string may hold what the program printed.
                log::info!(
                    "{}: fault {}: {:?}",
                    self.method(),
                    fault.code,
                    fault.message
                );
            }
            responder.respond(result);
        }
    }

    /// Everything a readiness event may concern: stdin, stdout, stderr.
    fn pump(&mut self, cx: &mut Context<'_>) {
        self.write_input();
        let more = self.read_outputs(cx);
        if self.stdout.len() > self.limits.max_stdout {
            let why = format!(
                "{}: its output is over {} bytes; killed",
                self.method(),
                self.limits.max_stdout
            );
            self.kill_group();
            self.pipes = Pipes::default();
            self.respond(Err(Fault::new(self.limits.fault_code, why)));
        } else if more {
            cx.reschedule();
        }
        if self.pipes.outputs_closed() {
            self.try_reap(cx);
        }
    }

    fn write_input(&mut self) {
        while let Some(stdin) = &mut self.pipes.stdin {
            let rest = self.input.get(self.written..).unwrap_or_default();
            if rest.is_empty() {
                // Closing stdin is the end of the parameters.
                self.pipes.stdin = None;
                self.input = Vec::new();
                break;
            }
            match stdin.write(rest) {
                Ok(0) => self.pipes.stdin = None,
                Ok(n) => self.written = self.written.saturating_add(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // EPIPE: it exited or closed stdin without reading it all;
                // its exit will say whether that was a failure.
                Err(_) => self.pipes.stdin = None,
            }
        }
    }

    /// Reads stdout and stderr until `WouldBlock`, end of file, stdout over
    /// its limit, or `READS_PER_TURN` reads; true if one stopped at the
    /// last (more to read later).
    fn read_outputs(&mut self, cx: &mut Context<'_>) -> bool {
        let mut buf = cx.take_read_buffer();
        if buf.len() < READ_BUFFER_SIZE {
            buf.resize(READ_BUFFER_SIZE, 0);
        }
        let max_stdout = self.limits.max_stdout;
        let stdout = &mut self.stdout;
        let more_out = drain(&mut self.pipes.stdout, &mut buf, |data| {
            // One byte over the limit is enough to know.
            let room = max_stdout.saturating_add(1).saturating_sub(stdout.len());
            stdout.extend_from_slice(&data[..data.len().min(room)]);
            stdout.len() <= max_stdout
        });
        let stderr = &mut self.stderr;
        let more_err = drain(&mut self.pipes.stderr, &mut buf, |data| {
            stderr.push(data);
            true
        });
        cx.put_read_buffer(buf);
        more_out || more_err
    }

    /// Reaps the child if it has exited, else polls again later.
    fn try_reap(&mut self, cx: &mut Context<'_>) {
        let Some(child) = &mut self.child else {
            return;
        };
        match child.try_wait() {
            Ok(Some(status)) => self.reaped(Exit::Status(status)),
            Ok(None) => {
                if self.reap_timer.is_none() {
                    self.reap_timer = Some(cx.set_timer(self.reap_delay));
                    self.reap_delay = self.reap_delay.saturating_mul(2).min(MAX_REAP_DELAY);
                }
                return;
            }
            Err(e) => self.reaped(Exit::Lost(e.to_string())),
        }
        self.finish(cx);
    }

    fn reaped(&mut self, exit: Exit) {
        self.child = None;
        self.exit = Some(exit);
        // Given back before the answer, so that the client's next call
        // finds the slot free.
        self.permit = None;
    }

    /// The child is reaped: answer (unless done already) and leave the loop.
    fn finish(&mut self, cx: &mut Context<'_>) {
        let result = match &self.exit {
            Some(Exit::Status(status)) => output::answer(
                self.method(),
                self.limits.fault_code,
                *status,
                &self.stdout,
                self.stderr.bytes(),
            ),
            Some(Exit::Lost(why)) => Err(Fault::internal_error(format!(
                "{}: cannot learn how it ended: {why}",
                self.method()
            ))),
            None => return,
        };
        if self.responder.is_some() {
            self.respond(result);
        }
        self.pipes = Pipes::default();
        cx.close();
    }

    /// The timeout: kill the group, and answer from what is known.
    fn time_out(&mut self, cx: &mut Context<'_>) {
        if self.child.is_none() {
            return;
        }
        self.kill_group();
        // What the pipes hold was written before the kill; read it, then
        // stop reading (a grandchild may hold them open for a moment more).
        self.read_outputs(cx);
        self.pipes = Pipes::default();
        if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
            self.reaped(Exit::Status(status));
            // A status of its own (not our SIGKILL): it had exited, and only
            // its output pipes were held open by a process it left behind.
            if status.signal() != Some(libc::SIGKILL) {
                return self.finish(cx);
            }
        }
        let why = format!(
            "{} timed out after {:?} and was killed",
            self.method(),
            self.limits.timeout
        );
        self.respond(Err(Fault::new(self.limits.fault_code, why)));
        if self.child.is_none() {
            cx.close();
        } else {
            self.reap_delay = FIRST_REAP_DELAY;
            self.try_reap(cx);
        }
    }

    /// SIGKILL to the child's process group: it and whatever it started.
    /// Only while the child is unreaped, so the group's id is still its.
    fn kill_group(&mut self) {
        let Some(child) = &mut self.child else {
            return;
        };
        if self.killed {
            return;
        }
        self.killed = true;
        // The child leads its group (`process_group(0)`): pgid == pid. Never
        // 0 or 1, which `kill` would read as "my group" or "everyone".
        match i32::try_from(child.id()) {
            Ok(pgid) if pgid > 1 => {
                // SAFETY: kill(2) takes plain integers and touches no memory.
                if unsafe { libc::kill(-pgid, libc::SIGKILL) } == 0 {
                    return;
                }
                log::warn!(
                    "{}: cannot kill process group {pgid}: {}",
                    self.limits.method,
                    io::Error::last_os_error()
                );
            }
            _ => {}
        }
        let _ = child.kill();
    }
}

/// Reads `pipe` into `sink` until `WouldBlock`, end of file (the pipe is
/// then closed), `sink` saying stop, or `READS_PER_TURN` reads; true at
/// the last.
fn drain(pipe: &mut Option<Receiver>, buf: &mut [u8], mut sink: impl FnMut(&[u8]) -> bool) -> bool {
    let Some(reader) = pipe else {
        return false;
    };
    for _ in 0..READS_PER_TURN {
        match reader.read(buf) {
            Ok(0) => {
                *pipe = None;
                return false;
            }
            Ok(n) => {
                if !sink(&buf[..n]) {
                    return false;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                log::debug!("reading a program's output: {e}");
                *pipe = None;
                return false;
            }
        }
    }
    true
}

impl Dispatcher for ProgramRun {
    fn source(&mut self) -> Option<&mut dyn Source> {
        Some(&mut self.pipes)
    }

    fn handle_added(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let left = self.limits.timeout.saturating_sub(self.started.elapsed());
        self.timeout_timer = Some(cx.set_timer(left));
        self.pump(cx);
        Ok(())
    }

    fn handle_read(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        self.pump(cx);
        Ok(())
    }

    fn handle_write(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        self.pump(cx);
        Ok(())
    }

    /// A pipe's hang-up or error (the other end closed): not the end of
    /// the run, which ends when the child is reaped. Read what is left.
    fn handle_close(&mut self, cx: &mut Context<'_>) {
        self.pump(cx);
    }

    fn handle_timer(&mut self, cx: &mut Context<'_>, timer: TimerId) -> io::Result<()> {
        if self.reap_timer == Some(timer) {
            self.reap_timer = None;
            self.try_reap(cx);
        } else if self.timeout_timer == Some(timer) {
            self.timeout_timer = None;
            self.time_out(cx);
        }
        Ok(())
    }

    /// A request in flight: the run goes on (its timeout still holds), and
    /// the shutdown's grace decides how long it may; then `Drop` cleans up.
    fn handle_shutdown(&mut self, _cx: &mut Context<'_>) {}
}

impl Drop for ProgramRun {
    /// Closed early (the loop force-closed or dropped it, or a hook failed):
    /// kill the group, reap, answer.
    fn drop(&mut self) {
        if self.child.is_some() {
            self.kill_group();
            self.pipes = Pipes::default();
            if let Some(mut child) = self.child.take() {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => {}
                    // Dying, not dead yet: a thread waits the moment it takes
                    // rather than the loop (or a zombie left behind).
                    Ok(None) => {
                        let permit = self.permit.take();
                        let spawned = std::thread::Builder::new()
                            .name("medusa-reaper".to_string())
                            .spawn(move || {
                                let _ = child.wait();
                                drop(permit);
                            });
                        if let Err(e) = spawned {
                            log::error!("cannot start a thread to reap a killed program: {e}");
                        }
                    }
                }
            }
        }
        let why = format!(
            "{} was stopped before it finished: the server closed it",
            self.limits.method
        );
        self.respond(Err(Fault::internal_error(why)));
    }
}
