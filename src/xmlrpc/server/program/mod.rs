//! Methods backed by programs: a call runs a program, its parameters as
//! JSON on the program's stdin, its result as JSON on its stdout (the
//! mapping of [`xmlrpc::json`](crate::xmlrpc::json), `docs/json.md`).
//!
//! ```no_run
//! use std::time::Duration;
//! use medusa::xmlrpc::{ProgramMethod, Registry};
//!
//! let mut registry = Registry::new();
//! registry.register_program(
//!     "report.build",
//!     ProgramMethod::new("/usr/bin/python3")
//!         .arg("/srv/report/build.py")
//!         .current_dir("/srv/report")
//!         .env("REPORT_DB", "/srv/report/db.sqlite")
//!         .timeout(Duration::from_secs(10))
//!         .max_concurrent(2)
//!         .help("Builds the report for the given month.")
//!         .signature(&["struct", "string"]),
//! );
//! ```
//!
//! # A call
//!
//! 1. Over [`max_concurrent`](ProgramMethod::max_concurrent) runs of this
//!    method still alive (not yet reaped), the call is refused at once
//!    with fault -32500 "server busy", as `register_blocking`'s full queue
//!    is: no queue to size, to time out or to lose at a restart; the client
//!    retries.
//! 2. The program starts: an argument vector, no shell; in its own process
//!    group; with the environment cleared except the variables of
//!    [`pass_env`](ProgramMethod::pass_env) (default: `PATH`) and those set
//!    with [`env`](ProgramMethod::env); in
//!    [`current_dir`](ProgramMethod::current_dir) if given. A program that
//!    cannot start is fault -32603 ("cannot start NAME: ...").
//! 3. The parameters are written to its stdin as one JSON array, then a
//!    newline, then stdin is closed. A program that exits without reading
//!    them is fine.
//! 4. Its stdout is kept up to [`max_stdout`](ProgramMethod::max_stdout)
//!    (default 10 MiB; more is the fault below, and the program is killed),
//!    the *last* [`max_stderr`](ProgramMethod::max_stderr) bytes of its
//!    stderr (default 64 KiB; the front is dropped, so a chatty program
//!    costs no more memory and its last line is kept).
//! 5. When stdout and stderr are closed and the program has exited (it is
//!    reaped then):
//!    - status 0: stdout is read as one JSON value, and that is the result.
//!      Not JSON, or JSON that stands for no XML-RPC value, is a fault naming
//!      the method and what is wrong;
//!    - any other status, or a signal: a fault whose string is the last
//!      non-empty line of stderr (at most 1 KiB, control characters escaped),
//!      or "NAME exited with status N" / "NAME was killed by signal S" when
//!      stderr is empty. A program chooses its fault string with its last
//!      line of stderr, as a Python method does by raising `Fault`.
//! 6. At the [`timeout`](ProgramMethod::timeout) (default 30 s, under the
//!    HTTP response timeout's 60), the whole process group is sent SIGKILL
//!    (a program ignoring SIGTERM is killed all the same), and the answer is
//!    the fault "NAME timed out after T and was killed". If the program had
//!    exited by itself and only a child of its own still holds stdout or
//!    stderr open (a daemon started without closing them), the answer is
//!    made from its exit status and the output so far instead: such a
//!    program is answered at the timeout, not never.
//!
//! Every fault the program causes (exit status, signal, timeout, output not
//! JSON or too large) has the code of
//! [`fault_code`](ProgramMethod::fault_code), default -32500
//! (`APPLICATION_ERROR`).
//!
//! # On the loop, not on a thread
//!
//! The program's pipes are non-blocking and registered on the reactor as
//! one dispatcher (`ProgramRun` in `run.rs`, asyncore's `file_dispatcher` over
//! three descriptors under one token); timers give it its timeout and poll
//! `try_wait` for its exit once both output pipes are closed. The other way,
//! a [`WorkerPool`](crate::xmlrpc::WorkerPool) thread per run blocking in
//! `wait`, would be less code, but a program that hangs would hold a pool
//! thread until its timeout, and a handful of hanging programs would starve
//! every `register_blocking` method sharing the pool. Pipes on the loop cost
//! a descriptor each and no thread, and the loop never waits for a program:
//! it reads what is there and goes back to polling.
//!
//! # No zombies
//!
//! Every child is reaped: when it exits; after the SIGKILL of a timeout
//! or of output over the limit (the reap timer polls until it is gone); when
//! the client has disconnected meanwhile (the run does not depend on the
//! connection: it ends by exit or timeout, and its answer is dropped); when
//! the server shuts down (a graceful shutdown lets the run finish within the
//! grace, like any request in flight; then, or when the loop is dropped,
//! the run's `Drop` kills the group and reaps, handing a child that is not
//! gone at once to a short-lived thread blocked in `wait`). The group is
//! killed only while the direct child is unreaped, so its id cannot have
//! been reused by then.
//!
//! Limits: a process that leaves the group (`setsid`) is not killed with
//! it; after a normal exit the group is left alone (a program may start a
//! daemon on purpose, stdio closed); SIGPIPE must be ignored in the server
//! (Rust's runtime does so) for a program that closes its stdin unread.

mod output;
mod run;

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::xmlrpc::fault::Fault;
use crate::xmlrpc::json::to_json;
use crate::xmlrpc::server::service::XmlRpcResponder;
use crate::xmlrpc::value::Value;
use run::ProgramRun;

/// A method backed by a program: what to run, how, and within which
/// limits. Register it with
/// [`Registry::register_program`](crate::xmlrpc::Registry::register_program);
/// see the module documentation for what a call does.
#[derive(Clone, Debug)]
pub struct ProgramMethod {
    program: OsString,
    args: Vec<OsString>,
    current_dir: Option<PathBuf>,
    pass_env: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    timeout: Duration,
    max_concurrent: usize,
    fault_code: i32,
    max_stdout: usize,
    max_stderr: usize,
    help: String,
    signatures: Vec<Vec<String>>,
}

impl ProgramMethod {
    /// Default [`timeout`](ProgramMethod::timeout): 30 s, so that the
    /// timeout's fault comes before the HTTP response timeout's 504 (60 s).
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    /// The longest [`timeout`](ProgramMethod::timeout): a day, so that a
    /// deadline is always a time the clock can hold.
    pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
    /// Default [`max_concurrent`](ProgramMethod::max_concurrent).
    pub const DEFAULT_MAX_CONCURRENT: usize = 8;
    /// Default [`max_stdout`](ProgramMethod::max_stdout): 10 MiB, the
    /// default request body limit.
    pub const DEFAULT_MAX_STDOUT: usize = 10 * 1024 * 1024;
    /// Default [`max_stderr`](ProgramMethod::max_stderr): 64 KiB.
    pub const DEFAULT_MAX_STDERR: usize = 64 * 1024;

    /// Runs `program` (a path, or a name looked up in the `PATH` the program
    /// gets), with no arguments yet.
    pub fn new(program: impl Into<OsString>) -> ProgramMethod {
        ProgramMethod {
            program: program.into(),
            args: Vec::new(),
            current_dir: None,
            pass_env: vec![OsString::from("PATH")],
            env: Vec::new(),
            timeout: ProgramMethod::DEFAULT_TIMEOUT,
            max_concurrent: ProgramMethod::DEFAULT_MAX_CONCURRENT,
            fault_code: Fault::APPLICATION_ERROR,
            max_stdout: ProgramMethod::DEFAULT_MAX_STDOUT,
            max_stderr: ProgramMethod::DEFAULT_MAX_STDERR,
            help: String::new(),
            signatures: Vec::new(),
        }
    }

    /// Adds an argument (passed as it is: there is no shell).
    pub fn arg(mut self, arg: impl Into<OsString>) -> ProgramMethod {
        self.args.push(arg.into());
        self
    }

    /// Adds arguments.
    pub fn args<I>(mut self, args: I) -> ProgramMethod
    where
        I: IntoIterator,
        I::Item: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The program's working directory (default: the server's).
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> ProgramMethod {
        self.current_dir = Some(dir.into());
        self
    }

    /// The variables of the server's environment the program gets, when
    /// set (it gets no others but those of [`env`](ProgramMethod::env)).
    /// Replaces the list; the default is `PATH` alone.
    pub fn pass_env<I>(mut self, names: I) -> ProgramMethod
    where
        I: IntoIterator,
        I::Item: Into<OsString>,
    {
        self.pass_env = names.into_iter().map(Into::into).collect();
        self
    }

    /// Sets a variable in the program's environment (over a passed one of
    /// the same name).
    pub fn env(mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> ProgramMethod {
        self.env.push((name.into(), value.into()));
        self
    }

    /// How long a run may take before its process group is killed and the
    /// call answered with a timeout fault. Default
    /// [`DEFAULT_TIMEOUT`](ProgramMethod::DEFAULT_TIMEOUT); at most
    /// [`MAX_TIMEOUT`](ProgramMethod::MAX_TIMEOUT) (longer is taken as
    /// that).
    pub fn timeout(mut self, timeout: Duration) -> ProgramMethod {
        self.timeout = timeout.min(ProgramMethod::MAX_TIMEOUT);
        self
    }

    /// Runs of this method alive at once (at least one); a call beyond it
    /// is answered "server busy" (-32500) at once. Default
    /// [`DEFAULT_MAX_CONCURRENT`](ProgramMethod::DEFAULT_MAX_CONCURRENT).
    pub fn max_concurrent(mut self, runs: usize) -> ProgramMethod {
        self.max_concurrent = runs.max(1);
        self
    }

    /// The fault code of a run that fails: non-zero exit, signal, timeout,
    /// output that is not a JSON value or is too large. Default -32500.
    pub fn fault_code(mut self, code: i32) -> ProgramMethod {
        self.fault_code = code;
        self
    }

    /// The most stdout kept; a program writing more is killed and the call
    /// answered with a fault. Default
    /// [`DEFAULT_MAX_STDOUT`](ProgramMethod::DEFAULT_MAX_STDOUT).
    pub fn max_stdout(mut self, bytes: usize) -> ProgramMethod {
        self.max_stdout = bytes;
        self
    }

    /// The most stderr kept: its last bytes, where the last line is. Default
    /// [`DEFAULT_MAX_STDERR`](ProgramMethod::DEFAULT_MAX_STDERR).
    pub fn max_stderr(mut self, bytes: usize) -> ProgramMethod {
        self.max_stderr = bytes;
        self
    }

    /// Help text for `system.methodHelp`.
    pub fn help(mut self, help: &str) -> ProgramMethod {
        self.help = help.to_string();
        self
    }

    /// Adds a signature for `system.methodSignature`: the return type, then
    /// the parameter types.
    pub fn signature(mut self, types: &[&str]) -> ProgramMethod {
        self.signatures
            .push(types.iter().map(|t| t.to_string()).collect());
        self
    }

    pub(crate) fn help_text(&self) -> &str {
        &self.help
    }

    pub(crate) fn signatures(&self) -> &[Vec<String>] {
        &self.signatures
    }

    /// The command for one run: no shell, its own process group, a cleared
    /// environment, three pipes.
    fn command(&self) -> Command {
        use std::os::unix::process::CommandExt as _;
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group, so that a timeout kills what it started too.
            .process_group(0);
        for name in &self.pass_env {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        for (name, value) in &self.env {
            command.env(name, value);
        }
        if let Some(dir) = &self.current_dir {
            command.current_dir(dir);
        }
        command
    }
}

/// What run needs to know of its method: the limits and how to fail.
#[derive(Debug)]
struct Limits {
    /// The method's name, for messages.
    method: String,
    timeout: Duration,
    fault_code: i32,
    max_stdout: usize,
    max_stderr: usize,
}

/// A registered program method: its description and its live runs.
pub(crate) struct Program {
    spec: ProgramMethod,
    limits: Arc<Limits>,
    running: Arc<AtomicUsize>,
}

impl Program {
    pub(crate) fn new(name: &str, spec: ProgramMethod) -> Program {
        let limits = Arc::new(Limits {
            method: name.to_string(),
            timeout: spec.timeout,
            fault_code: spec.fault_code,
            max_stdout: spec.max_stdout,
            max_stderr: spec.max_stderr,
        });
        Program {
            spec,
            limits,
            running: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Starts a run for one call; the answer comes through `responder`.
    /// On the loop's thread: everything here returns at once.
    pub(crate) fn call(&self, params: Vec<Value>, responder: XmlRpcResponder) {
        let name = &self.limits.method;
        let Some(permit) = Permit::take(&self.running, self.spec.max_concurrent) else {
            let busy = format!(
                "server busy: {name} is running {} times already, try again",
                self.spec.max_concurrent
            );
            return responder.respond(Err(Fault::application_error(busy)));
        };
        let Some(waker) = responder.waker() else {
            return; // already answered: cannot happen for a fresh responder
        };
        // serde_json writes any Value; it fails only on non-string map keys.
        let mut input = match serde_json::to_vec(&to_json(&Value::Array(params))) {
            Ok(input) => input,
            Err(e) => {
                let why = format!("cannot write the parameters of {name} as JSON: {e}");
                return responder.respond(Err(Fault::internal_error(why)));
            }
        };
        input.push(b'\n');
        let started = Instant::now();
        let child = match self.spec.command().spawn() {
            Ok(child) => child,
            Err(e) => {
                let why = format!("cannot start {name} ({}): {e}", show(&self.spec.program));
                log::warn!("{why}");
                return responder.respond(Err(Fault::internal_error(why)));
            }
        };
        let limits = self.limits.clone();
        // None: it could not be set up, and has killed, reaped and answered.
        let Some(run) = ProgramRun::new(limits, child, input, responder, permit, started) else {
            return;
        };
        // The method has no Context (the channel's hook is running): the
        // dispatcher joins the loop through its task queue, this same pass.
        // If the loop is gone the task is dropped, and the run's Drop kills
        // and reaps.
        let _ = waker.call(move |reactor| {
            if let Err(e) = reactor.add(run) {
                log::warn!("cannot watch a program's pipes: {e}");
            }
        });
    }
}

/// The program as messages show it.
fn show(program: &OsStr) -> String {
    program.to_string_lossy().into_owned()
}

/// One of a method's `max_concurrent` slots, held until the run's child
/// is reaped.
#[derive(Debug)]
struct Permit(Arc<AtomicUsize>);

impl Permit {
    fn take(running: &Arc<AtomicUsize>, max: usize) -> Option<Permit> {
        running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then(|| n.saturating_add(1))
            })
            .ok()
            .map(|_| Permit(running.clone()))
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_counted_and_given_back() {
        let running = Arc::new(AtomicUsize::new(0));
        let a = Permit::take(&running, 2).unwrap();
        let b = Permit::take(&running, 2).unwrap();
        assert!(Permit::take(&running, 2).is_none());
        drop(a);
        let c = Permit::take(&running, 2).unwrap();
        drop((b, c));
        assert_eq!(running.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn the_command_clears_the_environment_but_the_allow_list() {
        let spec = ProgramMethod::new("/bin/true")
            .args(["a", "b"])
            .pass_env(["PATH", "MEDUSA_SURELY_UNSET_VARIABLE"])
            .env("X", "1");
        let command = spec.command();
        let args: Vec<_> = command.get_args().collect();
        assert_eq!(args, ["a", "b"]);
        let envs: Vec<_> = command.get_envs().collect();
        assert!(envs.contains(&(OsStr::new("X"), Some(OsStr::new("1")))));
        assert!(envs.iter().all(|(k, _)| *k == "X" || *k == "PATH"));
    }
}
