//! `medusad`, the medusa daemon: an HTTP server on the reactor with an
//! XML-RPC demo service at `/RPC2` (`add`, `echo` and the `system.*`
//! methods), the status page at `/status` (and Prometheus metrics at
//! `/status/metrics`) and, with `--root DIR`, a directory of files.
//!
//! Logging goes through `env_logger` (`RUST_LOG`, default `info`) to
//! stderr: a startup line with the bound address, and so on. The access
//! log goes to stderr too, buffered (see `AccessLog::Stderr`; RUST_LOG's
//! target `medusa::access` turns it on or off), unless `--access-log FILE`
//! sends it to a file (reopened on SIGUSR1, for `logrotate`). On SIGINT/SIGTERM it stops
//! accepting, finishes the requests in flight, and exits 0; if it has to
//! drop connections to stop (a second signal, or `--grace` over), it says
//! so and exits 1. A bad command line exits 2.
//!
//! One reactor serves one core. To use more, `medusad --workers N` runs N
//! copies of itself, each a single-threaded reactor accepting on the
//! master's listening socket, and a small master that starts them,
//! restarts the ones that die and relays SIGTERM/SIGINT (and SIGHUP, to
//! reload, and SIGUSR1, to reopen the access log file after a rotation).
//! This is Apache prefork's model (and nginx's without `reuseport`), not a
//! home-made cluster: whichever worker is free accepts the next
//! connection. Log lines then carry the pid, and responses say which
//! worker answered (`X-Medusa-Worker`). Started by systemd socket activation
//! (`LISTEN_FDS`), it serves the inherited socket instead of binding (the
//! workers share it). See `docs/deploying.md`.
//!
//! The modules: the command line (`options`), the demo service (`demo`),
//! the master (`prefork`), the worker's side of its contract (`worker`),
//! SIGHUP's reload (`reload`), SIGUSR1's reopening of the access log
//! (`reopen`), restart delays (`backoff`), the listening sockets the
//! master holds and passes down to its workers (`listening`), systemd
//! socket activation (`activation`) and systemd's readiness and watchdog
//! notifications (`notify`). Everything here is built on the library's
//! public API.

mod activation;
mod backoff;
mod config;
mod demo;
mod endpoints;
mod listening;
mod notify;
mod options;
mod prefork;
mod reload;
mod reopen;
mod tls;
mod unix;
mod upgrade;
mod worker;

use std::io::Write;
use std::process::{Command, ExitCode};

use medusa::handlers::{AuthHandler, FaviconHandler, FileHandler, LandingHandler, StatusHandler};
use medusa::http::{
    AccessLog, Handler, HandlerStatus, HttpServer, Outcome, Request, Response, ServerView,
};
use medusa::reactor::Reactor;

use backoff::Backoff;
use listening::{Listener, Listening};
use notify::{Notifier, Watchdog};
use options::{parse_options, Options, OptionsError};
use prefork::{Master, MasterExit};
use unix::UnixSocket;
use worker::Worker;

fn main() -> ExitCode {
    // First, while single-threaded: both change the environment.
    let worker = Worker::from_env();
    let activated = match worker {
        Some(_) => Ok(Vec::new()),
        None => activation::listen_fds(),
    };
    let notifier = notify::Notifier::from_env(worker.is_some());
    let options = match parse_options(std::env::args_os()) {
        Ok(options) => options,
        // --help and --version too: clap prints each where it belongs
        // (stdout, or stderr for an error) and knows its status (0 or 2).
        Err(OptionsError::Usage(e)) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(USAGE_ERROR));
        }
        Err(OptionsError::Config(e)) => {
            eprintln!("medusad: {e}");
            return ExitCode::from(USAGE_ERROR);
        }
    };
    if options.check_only {
        print!("{}", config::report(&options));
        return ExitCode::SUCCESS;
    }
    init_logging(worker.is_some() || options.workers > 1);
    let activated = match activated {
        Ok(listeners) => listeners,
        Err(e) => {
            eprintln!("medusad: socket activation: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Without it the service still runs; systemd then says why it never
    // became ready.
    let notifier = notifier.unwrap_or_else(|e| {
        log::error!("medusad: NOTIFY_SOCKET: {e}; not notifying");
        None
    });
    if let Some(worker) = worker {
        return run_worker(worker, *options, notifier);
    }
    let exposed = options.addr.filter(|addr| !addr.ip().is_loopback());
    if let (true, Some(addr), true) = (options.users.is_empty(), exposed, activated.is_empty()) {
        log::warn!(
            "medusad: NO AUTHENTICATION on {addr}, which is not a loopback address: \
             anyone who can reach it may call every method and read /status; \
             use --auth-user or --auth-file"
        );
    }
    if options.reuseport && options.workers <= 1 {
        log::warn!("--reuseport has no effect without --workers N (N > 1)");
    }
    if options.workers > 1 {
        return match run_master(&options, activated, notifier) {
            Ok(MasterExit::Stopped | MasterExit::Upgraded) => ExitCode::SUCCESS,
            Ok(_) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("medusad: {e}");
                ExitCode::FAILURE
            }
        };
    }
    // Inherited sockets are served instead of binding any.
    let (listeners, files) = if activated.is_empty() {
        match listening::bind_all(&options) {
            Ok(bound) => bound,
            Err(e) => {
                eprintln!("medusad: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        (activated, Vec::new())
    };
    match serve(*options, listeners, files, notifier) {
        Ok(()) => ExitCode::SUCCESS,
        // Logged by `serve`: some clients lost their requests.
        Err(Failure::Forced) => ExitCode::FAILURE,
        Err(Failure::Startup(e) | Failure::Running(e)) => {
            eprintln!("medusad: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `env_logger`'s usual format; with workers, the pid after the target, so
/// every line (access log included) says which process wrote it.
fn init_logging(with_pid: bool) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    if with_pid {
        let pid = std::process::id();
        builder.format(move |buf, record| {
            writeln!(
                buf,
                "[{} {:<5} {} pid={pid}] {}",
                buf.timestamp(),
                record.level(),
                record.target(),
                record.args()
            )
        });
    }
    builder.init();
}

/// Exit status of a bad command line (clap says 2; the fallback is the same).
/// 1 (`ExitCode::FAILURE`) is a runtime error or a forced shutdown.
const USAGE_ERROR: u8 = 2;

/// Why `serve` failed: before serving (the configuration) or while, or its
/// graceful shutdown was cut short with connections still open.
enum Failure {
    Startup(std::io::Error),
    Running(std::io::Error),
    Forced,
}

/// A worker: dies with the master, serves beside the other workers, and
/// tells the master with its exit status whether it could start at all.
fn run_worker(mut worker: Worker, mut options: Options, notifier: Option<Notifier>) -> ExitCode {
    if let Err(e) = worker.die_with_master() {
        eprintln!("medusad worker: {e}");
        return ExitCode::FAILURE;
    }
    let pid = std::process::id();
    options
        .http
        .extra_headers
        .push(("X-Medusa-Worker".to_string(), pid.to_string()));
    options.http.access_log_tag = Some(format!("pid={pid}"));
    let listeners = match worker.shared_listeners() {
        Ok(listeners) => listeners,
        Err(e) => {
            eprintln!("medusad worker {pid}: {e}");
            return ExitCode::from(worker::STARTUP_FAILED);
        }
    };
    // The master holds the --unix socket files, and removes them.
    match serve(options, listeners, Vec::new(), notifier) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Startup(e)) => {
            eprintln!("medusad worker {pid}: {e}");
            ExitCode::from(worker::STARTUP_FAILED)
        }
        Err(Failure::Running(e)) => {
            eprintln!("medusad worker {pid}: {e}");
            ExitCode::FAILURE
        }
        // Logged by `serve`; the master reports the worker's status.
        Err(Failure::Forced) => ExitCode::FAILURE,
    }
}

/// The master of `--workers N`: holds the listening sockets (and the
/// `--unix` socket files), starts the workers as new executions of this
/// program with the same arguments, and supervises them
/// (`prefork::Master`).
fn run_master(
    options: &Options,
    activated: Vec<Listener>,
    notifier: Option<Notifier>,
) -> std::io::Result<MasterExit> {
    let exe = std::env::current_exe()?;
    // As given, not as UTF-8: a --root path need not be.
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    // Held by the master until it stops: the port (and socket files) stay
    // ours while workers restart.
    let reuseport = options.reuseport && activated.is_empty();
    if options.reuseport && !reuseport {
        log::warn!("--reuseport: ignored for sockets inherited from systemd");
    }
    // A new master of an upgrade serves what the old one handed down.
    let handed_down = upgrade::handed_down()?;
    let (listeners, files, own) = match (handed_down, activated.is_empty(), reuseport) {
        (Some((shared, own)), _, _) => (shared, Vec::new(), own),
        (None, false, _) => (activated, Vec::new(), Vec::new()),
        (None, true, false) => {
            let (listeners, files) = listening::bind_all(options)?;
            (listeners, files, Vec::new())
        }
        (None, true, true) => {
            let (listeners, files) = listening::bind_unix(options)?;
            let own = match options.addr {
                Some(addr) => listening::bind_reuseport(addr, options.workers)?
                    .into_iter()
                    .map(Listener::Tcp)
                    .collect(),
                None => Vec::new(),
            };
            (listeners, files, own)
        }
    };
    let listening = Listening::share(listeners)?.with_own(own)?;
    log::info!(
        "medusad master {}: {} workers on {}",
        std::process::id(),
        options.workers,
        listening.describe()
    );
    let master = Master::new(options.workers, Backoff::default(), || {
        let mut command = Command::new(&exe);
        command.args(&args);
        command
    })
    .sharing(listening)
    .upgrading(exe.clone(), args.clone());
    let master = match &options.config {
        // What a new worker will read: the same command line, the file as
        // it is now.
        Some(_) => master.reloading(move || match parse_options(std::env::args_os()) {
            Ok(_) => Ok(()),
            Err(OptionsError::Usage(e)) => Err(e.to_string().trim_end().to_string()),
            Err(OptionsError::Config(e)) => Err(e.to_string()),
        }),
        None => master,
    };
    let master = match notifier {
        Some(notifier) => master.notifying(notifier),
        None => master,
    };
    let outcome = master.run();
    if matches!(outcome, Ok(MasterExit::Upgraded)) {
        // The new master serves the socket files: they must stay. (It did
        // not make them, so nobody removes them when it stops; the next
        // start replaces them as stale.)
        for file in files {
            file.keep();
        }
        log::info!("medusad master: handed over to the new master; all old workers stopped");
        return outcome;
    }
    // The workers are gone: now the socket files may go.
    drop(files);
    log::info!("medusad master: all workers stopped");
    outcome
}

fn serve(
    options: Options,
    listeners: Vec<Listener>,
    files: Vec<UnixSocket>,
    notifier: Option<Notifier>,
) -> Result<(), Failure> {
    raise_fd_limit(options.http.max_connections);
    let root = match &options.root {
        Some(root) => format!(" (files from {})", root.display()),
        None => String::new(),
    };
    let rpc = endpoints::paths(&options.endpoints).join(", ");
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    // Said once the servers are set up, not before: then they answer.
    let announcements: Vec<[String; 2]> = listeners
        .iter()
        .map(|listener| match listener {
            Listener::Tcp(_) => {
                let addr = listener.describe();
                [
                    format!("medusad listening on {addr}{root}"),
                    format!("XML-RPC: {scheme}://{addr}{rpc}; status page: {scheme}://{addr}/status"),
                ]
            }
            Listener::Unix(_) => {
                let name = listener.describe();
                let path = name.trim_start_matches("unix:");
                [
                    format!("medusad listening on {name}{root}"),
                    format!("XML-RPC: unix://{path} (path {rpc}; curl --unix-socket {path} http://localhost/status)"),
                ]
            }
        })
        .collect();
    let (mut reactor, servers) = setup(&options, listeners).map_err(Failure::Startup)?;
    for line in announcements.iter().flatten() {
        log::info!("{line}");
    }
    for server in servers {
        reactor.add(server).map_err(Failure::Startup)?;
    }
    // Ready: the sockets are listening and the loop is about to serve them.
    if let Some(notifier) = notifier {
        notifier.ready();
        reactor
            .add(Watchdog::new(notifier))
            .map_err(Failure::Startup)?;
    }
    reactor.run().map_err(Failure::Running)?;
    // The socket files go now, before the exit is announced.
    drop(files);
    if let Some(forced) = reactor.forced_shutdown() {
        log::error!("medusad: {forced}, exiting");
        return Err(Failure::Forced);
    }
    log::info!("medusad: all connections closed, exiting");
    Ok(())
}

/// The reactor and the servers (one per listening socket, sharing one set
/// of handlers), not yet running.
fn setup(
    options: &Options,
    listeners: Vec<Listener>,
) -> std::io::Result<(Reactor, Vec<HttpServer>)> {
    let mut reactor = Reactor::new()?;
    // Before announcing the address: from then on a SIGTERM must mean a
    // graceful shutdown, not the default action (death).
    reactor.catch_signals(options.grace)?;
    // As early: SIGHUP's default action would end the process.
    let mut reloader = reload::Reloader::new()?;
    // And SIGUSR1's (logrotate's postrotate may send it at any time).
    let mut reopener = reopen::Reopener::new()?;
    // And SIGUSR2's, meant for a master (binary upgrade).
    let not_here = upgrade::NotHere::new()?;

    let mut http = options.http.clone();
    // The default sink, stderr, is the access log of RUST_LOG's target
    // `medusa::access`: RUST_LOG decides whether it is written at all.
    if http.access_log == AccessLog::Stderr
        && !log::log_enabled!(target: "medusa::access", log::Level::Info)
    {
        http.access_log = AccessLog::Off;
    }
    let mut listeners = listeners.into_iter();
    let server = match listeners.next() {
        Some(Listener::Tcp(listener)) => HttpServer::from_listener(listener, http)?,
        Some(Listener::Unix(listener)) => HttpServer::from_unix_listener(listener, http)?,
        None => return Err(std::io::Error::other("no socket to serve on")),
    };
    // The sockets of `also_listen` share this server's access log.
    reopener.watch(server.access_log_handle());
    let mut servers = vec![server];
    for listener in listeners {
        let also = match listener {
            Listener::Tcp(listener) => {
                listener.set_nonblocking(true)?;
                servers[0].also_listen(mio::net::TcpListener::from_std(listener))
            }
            Listener::Unix(listener) => {
                listener.set_nonblocking(true)?;
                servers[0].also_listen(mio::net::UnixListener::from_std(listener))
            }
        };
        servers.push(also);
    }
    // HTTPS on the TCP sockets; a Unix-domain socket stays plain (its
    // peers are on this machine, and the file's permissions guard it).
    if let Some(files) = &options.tls {
        let config = files.load()?;
        for server in servers.iter().filter(|s| s.local_addr().is_ok()) {
            server.set_tls(Some(config.clone()));
            reloader.watch(files.clone(), server.tls_setting());
        }
    }
    let server = &servers[0];
    // With credentials configured, every handler is behind them (and a
    // last one answers unknown paths, so they ask for credentials too)
    // except the paths opened with --public.
    let guard = |server: &HttpServer, handler: Box<dyn Handler>, front: bool| {
        let handler: Box<dyn Handler> = if options.users.is_empty() {
            handler
        } else {
            Box::new(
                AuthHandler::new("medusad", options.users.clone(), handler)
                    .with_public(&options.public),
            )
        };
        if front {
            server.install_handler(handler);
        } else {
            server.add_handler(handler);
        }
    };
    if let Some(root) = &options.root {
        let mut files = FileHandler::new(root).map_err(|e| {
            std::io::Error::new(e.kind(), format!("--root {}: {e}", root.display()))
        })?;
        if !options.listings {
            files = files.without_listings();
        }
        guard(server, Box::new(files), false);
    } else {
        // Without files, `/` says what is here and the browser's icon
        // request is answered (a root serves its own).
        guard(server, Box::new(FaviconHandler::new()), false);
        let mut links: Vec<(String, String)> = endpoints::paths(&options.endpoints)
            .iter()
            .map(|path| {
                (
                    path.clone(),
                    "XML-RPC endpoint (POST calls; GET lists the methods)".to_string(),
                )
            })
            .collect();
        links.push(("/status".to_string(), "status page".to_string()));
        links.push((
            "/status/metrics".to_string(),
            "Prometheus metrics".to_string(),
        ));
        links.push((
            "/status/health".to_string(),
            "health check (503 while shutting down)".to_string(),
        ));
        guard(
            server,
            Box::new(LandingHandler::new("medusad", links)),
            false,
        );
    }
    if !options.users.is_empty() {
        guard(server, Box::new(NotFound), false);
    }
    guard(server, Box::new(StatusHandler::new()), true);
    // The endpoints at the front of the chain, in the file's order: a
    // reload replaces exactly these.
    let defaults = endpoints::Defaults::new(options);
    let built = endpoints::build(&options.endpoints, &defaults, &mut reactor)?;
    let count = built.len();
    let chain = server.handler_chain();
    chain.splice(0..0, built)?;
    if let Some((file, keys)) = &options.config {
        reloader.watch_endpoints(reload::Endpoints {
            file: file.clone(),
            keys: keys.clone(),
            chain,
            count,
            defaults,
        });
    }
    reactor.add(reloader)?;
    reactor.add(reopener)?;
    reactor.add(not_here)?;
    Ok((reactor, servers))
}

/// The last handler when credentials are required: what no other handler
/// takes is a 404, but only to someone who has logged in.
struct NotFound;

impl Handler for NotFound {
    fn matches(&self, _request: &Request) -> bool {
        true
    }

    fn handle_request(&mut self, _request: &mut Request, _server: &ServerView<'_>) -> Outcome {
        Response::error(404, "no handler for this URL").into()
    }

    fn status(&self) -> HandlerStatus {
        HandlerStatus {
            name: "not found (every other path)".to_string(),
            facts: Vec::new(),
        }
    }
}

/// One descriptor per connection: lift the soft limit toward the hard one
/// so `max_connections` is reachable, and say so when it is not.
fn raise_fd_limit(max_connections: usize) {
    let wanted = max_connections as u64 + 64;
    match rlimit::increase_nofile_limit(wanted) {
        Ok(got) if got < wanted => {
            log::warn!("open-file limit is {got}; fewer than --max-connections {max_connections} connections fit")
        }
        Ok(_) => {}
        Err(e) => log::warn!("cannot raise the open-file limit: {e}"),
    }
}
