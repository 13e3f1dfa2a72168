//! `medusad`, the medusa daemon: an HTTP server on the reactor with an
//! XML-RPC demo service at `/RPC2` (`add`, `echo` and the `system.*`
//! methods), the status page at `/status` (and Prometheus metrics at
//! `/status/metrics`) and, with `--root DIR`, a directory of files.
//!
//! Logging goes through `env_logger` (`RUST_LOG`, default `info`): a
//! startup line with the bound address, then the access log (target
//! `medusa::access`), unless `--access-log FILE` sends it to a file. On SIGINT/SIGTERM it stops accepting, finishes the
//! requests in flight, and exits 0.
//!
//! With `--workers N` it is a master (`medusa::daemon::prefork`) that runs
//! N copies of itself as workers, all accepting on the one socket the
//! master bound; log lines then carry the pid, and responses say which
//! worker answered (`X-Medusa-Worker`). Started by systemd socket
//! activation (`LISTEN_FDS`), it serves the inherited socket instead of
//! binding (the workers share it). See `docs/deploying.md`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use std::collections::HashMap;

use medusa::daemon::{activation, worker, Backoff, Listening, Master, MasterExit, Worker};
use medusa::handlers::{AuthHandler, FileHandler, StatusHandler, XmlRpcConfig, XmlRpcHandler};
use medusa::http::{
    AccessLog, Handler, HandlerStatus, HttpConfig, HttpServer, Request, Response, ServerView,
};
use medusa::reactor::Reactor;
use medusa::xmlrpc::{Fault, Registry, Value};

const USAGE: &str = "\
usage: medusad [OPTIONS]

  --host ADDR               address to listen on (default 127.0.0.1)
  --port PORT               port, 0 = any free port (default 8182)
  --root DIR                also serve the files under DIR
  --rpc-path PATH           where the XML-RPC service answers (default /RPC2;
                            repeat for several paths)
  --auth-user NAME:PASSWORD require HTTP Basic auth on every path (repeatable);
                            a request with a body and no valid credentials
                            is refused before its body is read
  --auth-file FILE          the same, one NAME:PASSWORD per line
  --public PATH             serve PATH without credentials even with auth
                            (repeatable; a PATH ending in / is a prefix),
                            e.g. --public /status/metrics
  --max-depth N             XML-RPC value nesting (default 128)
  --gzip-threshold BYTES    gzip larger responses when accepted (default 1400)
  --no-extensions           never send <nil/> or <i8> (strict peers)
  --grace SECONDS           on SIGINT/SIGTERM, time allowed to finish (default 10)
  --max-header-bytes N      request line + headers (default 16384)
  --max-headers N           header fields per request (default 100)
  --max-body-bytes N        request body as sent (default 10485760)
  --max-decoded-bytes N     request body once gunzipped (default: the
                            --max-body-bytes value)
  --max-gzip-members N      gzip members in one request body (default 16)
  --idle-timeout SECONDS    keep-alive idle limit (default 30)
  --request-timeout SECONDS time to receive a whole request (default 30)
  --max-connections N       open connections (default 10000)
  --access-log FILE         append the access log to FILE, buffered and
                            flushed every second (much cheaper than the
                            default, the log below); 'off' for none
  --workers N|auto          worker processes on the same port (default 1;
                            auto = one per CPU); a master restarts them
  --trusted-proxy ADDR      believe X-Forwarded-For from this proxy IP in the
                            access log (repeatable)
  --help                    this text
  --version                 the version

Logging: RUST_LOG (default info; without --access-log, the access log is
target medusa::access).
Socket activation: with LISTEN_PID/LISTEN_FDS (systemd), serves on fd 3
instead of binding --host/--port.";

/// Everything the command line can set.
struct Options {
    addr: SocketAddr,
    workers: usize,
    root: Option<PathBuf>,
    grace: Duration,
    http: HttpConfig,
    rpc_paths: Vec<String>,
    users: HashMap<String, String>,
    public: Vec<String>,
    xmlrpc: XmlRpcConfig,
}

/// What `parse_options` wants the process to do.
enum Parsed {
    Serve(Box<Options>),
    Exit(String, ExitCode),
}

fn parse_options(args: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let mut host = "127.0.0.1".to_string();
    let mut port: u16 = 8182;
    let mut root = None;
    let mut grace = Duration::from_secs(10);
    let mut http = HttpConfig::default();
    let mut rpc_paths = Vec::new();
    let mut users = HashMap::new();
    let mut public = Vec::new();
    let mut xmlrpc = XmlRpcConfig::default();
    let mut workers = 1;
    let mut args = args.peekable();
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--help" | "-h" => return Ok(Parsed::Exit(USAGE.to_string(), ExitCode::SUCCESS)),
            "--version" | "-V" => {
                let version = format!("medusad {}", env!("CARGO_PKG_VERSION"));
                return Ok(Parsed::Exit(version, ExitCode::SUCCESS));
            }
            "--no-extensions" => {
                xmlrpc.encode.nil = false;
                xmlrpc.encode.i8 = false;
                continue;
            }
            _ => {}
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--host" => host = value,
            "--port" => port = number(&flag, &value)?,
            "--root" => root = Some(PathBuf::from(value)),
            "--rpc-path" if value.starts_with('/') => rpc_paths.push(value),
            "--rpc-path" => return Err(format!("--rpc-path must start with '/': {value:?}")),
            "--auth-user" => add_user(&mut users, &value)?,
            "--auth-file" => {
                let text = std::fs::read_to_string(&value)
                    .map_err(|e| format!("--auth-file {value}: {e}"))?;
                for line in text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                {
                    add_user(&mut users, line)?;
                }
            }
            "--public" if value.starts_with('/') => public.push(value),
            "--public" => return Err(format!("--public must start with '/': {value:?}")),
            "--max-depth" => xmlrpc.decode.max_depth = number(&flag, &value)?,
            "--gzip-threshold" => xmlrpc.gzip_threshold = number(&flag, &value)?,
            "--grace" => grace = seconds(&flag, &value)?,
            "--max-header-bytes" => http.max_header_bytes = number(&flag, &value)?,
            "--max-headers" => http.max_headers = number(&flag, &value)?,
            "--max-body-bytes" => http.max_body_bytes = number(&flag, &value)?,
            "--max-decoded-bytes" => http.max_decoded_body_bytes = Some(number(&flag, &value)?),
            "--max-gzip-members" => http.max_gzip_members = number(&flag, &value)?,
            "--idle-timeout" => http.idle_timeout = seconds(&flag, &value)?,
            "--request-timeout" => http.request_timeout = seconds(&flag, &value)?,
            "--max-connections" => http.max_connections = number(&flag, &value)?,
            "--access-log" if value == "off" => http.access_log = AccessLog::Off,
            "--access-log" => http.access_log = AccessLog::File(PathBuf::from(value)),
            "--workers" => workers = worker_count(&value)?,
            "--trusted-proxy" => http.trusted_proxies.push(
                value
                    .parse()
                    .map_err(|_| format!("--trusted-proxy: not an IP address: {value:?}"))?,
            ),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    let bracketed = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let addr = format!("{bracketed}:{port}")
        .parse()
        .map_err(|_| format!("bad address {bracketed}:{port}"))?;
    if rpc_paths.is_empty() {
        rpc_paths.push("/RPC2".to_string());
    }
    // The decoder must accept what the HTTP layer lets in, decoded.
    let decoded = http.gunzip_limits().max_output;
    let decoded = usize::try_from(decoded).unwrap_or(usize::MAX);
    xmlrpc.decode.max_size = xmlrpc.decode.max_size.max(decoded);
    Ok(Parsed::Serve(Box::new(Options {
        addr,
        workers,
        root,
        grace,
        http,
        rpc_paths,
        users,
        public,
        xmlrpc,
    })))
}

fn worker_count(value: &str) -> Result<usize, String> {
    if value == "auto" {
        return Ok(std::thread::available_parallelism().map_or(1, |n| n.get()));
    }
    match value.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("--workers: a number >= 1 or auto, not {value:?}")),
    }
}

fn add_user(users: &mut HashMap<String, String>, entry: &str) -> Result<(), String> {
    match entry.split_once(':') {
        Some((name, password)) if !name.is_empty() => {
            users.insert(name.to_string(), password.to_string());
            Ok(())
        }
        _ => Err("--auth-user wants NAME:PASSWORD".to_string()),
    }
}

/// The demo service: `add` and `echo`, plus the registry's `system.*`.
fn demo_service() -> Registry {
    let mut registry = Registry::new();
    registry
        .register_raw("add", |params| match params.as_slice() {
            [a, b] => add(a, b),
            _ => Err(Fault::invalid_params(format!("add takes 2 parameters, got {}", params.len()))),
        })
        .help("Adds two numbers: ints give an int (an i8 if it does not fit in 32 bits), doubles a double.")
        .signature(&["int", "int", "int"])
        .signature(&["double", "double", "double"]);
    registry
        .register("echo", |value: Value| value)
        .help("Returns its argument unchanged, whatever its type.");
    registry
}

fn add(a: &Value, b: &Value) -> Result<Value, Fault> {
    let integer = |v: &Value| match v {
        Value::Int(i) => Some(i64::from(*i)),
        Value::I8(i) => Some(*i),
        _ => None,
    };
    let double = |v: &Value| match v {
        Value::Double(d) => Some(*d),
        other => integer(other).map(|i| i as f64),
    };
    if let (Some(x), Some(y)) = (integer(a), integer(b)) {
        let sum = x
            .checked_add(y)
            .ok_or_else(|| Fault::application_error("integer overflow"))?;
        return Ok(i32::try_from(sum).map_or(Value::I8(sum), Value::Int));
    }
    match (double(a), double(b)) {
        (Some(x), Some(y)) => Ok(Value::Double(x + y)),
        _ => Err(Fault::invalid_params(format!(
            "add takes numbers, got {} and {}",
            a.type_name(),
            b.type_name()
        ))),
    }
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag}: not a number: {value:?}"))
}

fn seconds(flag: &str, value: &str) -> Result<Duration, String> {
    value
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or(format!("{flag}: not a number of seconds: {value:?}"))
}

fn main() -> ExitCode {
    // First, while single-threaded: both change the environment.
    let worker = Worker::from_env();
    let activated = match worker {
        Some(_) => Ok(None),
        None => activation::listen_fds(),
    };
    let options = match parse_options(std::env::args().skip(1)) {
        Ok(Parsed::Serve(options)) => options,
        Ok(Parsed::Exit(text, code)) => {
            println!("{text}");
            return code;
        }
        Err(message) => {
            eprintln!("medusad: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    init_logging(worker.is_some() || options.workers > 1);
    let activated = match activated {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("medusad: socket activation: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(worker) = worker {
        return run_worker(worker, *options);
    }
    if options.users.is_empty() && !options.addr.ip().is_loopback() && activated.is_none() {
        log::warn!(
            "medusad: NO AUTHENTICATION on {}, which is not a loopback address: \
             anyone who can reach it may call every method and read /status; \
             use --auth-user or --auth-file",
            options.addr
        );
    }
    if options.workers > 1 {
        return match run_master(&options, activated) {
            Ok(MasterExit::Stopped) => ExitCode::SUCCESS,
            Ok(_) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("medusad: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let listen = match activated {
        Some(listener) => Listen::Inherited(listener),
        None => Listen::Bind(options.addr),
    };
    match serve(*options, listen) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("medusad: {}", e.error());
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

/// Where the server's listening socket comes from.
enum Listen {
    /// Bind this address (one process).
    Bind(SocketAddr),
    /// Already listening: socket activation, or a worker's from the master.
    Inherited(std::net::TcpListener),
}

/// Why `serve` failed: before serving (the configuration) or while.
enum Failure {
    Startup(std::io::Error),
    Running(std::io::Error),
}

impl Failure {
    fn error(&self) -> &std::io::Error {
        match self {
            Failure::Startup(e) | Failure::Running(e) => e,
        }
    }
}

/// A worker: dies with the master, serves beside the other workers, and
/// tells the master with its exit status whether it could start at all.
fn run_worker(mut worker: Worker, mut options: Options) -> ExitCode {
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
    let listen = match worker.shared_listener() {
        Ok(listener) => Listen::Inherited(listener),
        Err(e) => {
            eprintln!("medusad worker {pid}: {e}");
            return ExitCode::from(worker::STARTUP_FAILED);
        }
    };
    match serve(options, listen) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Startup(e)) => {
            eprintln!("medusad worker {pid}: {e}");
            ExitCode::from(worker::STARTUP_FAILED)
        }
        Err(Failure::Running(e)) => {
            eprintln!("medusad worker {pid}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The master of `--workers N`: holds the address, starts the workers as
/// new executions of this program with the same arguments, and supervises
/// them (`medusa::daemon::Master`).
fn run_master(
    options: &Options,
    activated: Option<std::net::TcpListener>,
) -> std::io::Result<MasterExit> {
    let exe = std::env::current_exe()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Held by the master until it stops: the port (or socket) stays ours
    // while workers restart.
    let listening = match activated {
        Some(listener) => Listening::share(listener)?,
        None => Listening::bind(options.addr)?,
    };
    log::info!(
        "medusad master {}: {} workers on {}",
        std::process::id(),
        options.workers,
        listening.local_addr()?
    );
    let master = Master::new(options.workers, Backoff::default(), || {
        let mut command = Command::new(&exe);
        command.args(&args);
        command
    })
    .sharing(listening);
    let outcome = master.run();
    log::info!("medusad master: all workers stopped");
    outcome
}

fn serve(options: Options, listen: Listen) -> Result<(), Failure> {
    raise_fd_limit(options.http.max_connections);
    let (mut reactor, server) = setup(&options, listen).map_err(Failure::Startup)?;
    let addr = server.local_addr().map_err(Failure::Startup)?;
    match &options.root {
        Some(root) => log::info!(
            "medusad listening on {addr} (files from {})",
            root.display()
        ),
        None => log::info!("medusad listening on {addr}"),
    }
    log::info!(
        "XML-RPC: http://{addr}{}; status page: http://{addr}/status",
        options.rpc_paths.join(", ")
    );
    reactor.add(server).map_err(Failure::Startup)?;
    reactor.run().map_err(Failure::Running)?;
    log::info!("medusad: all connections closed, exiting");
    Ok(())
}

/// The reactor and the server with its handlers, not yet running.
fn setup(options: &Options, listen: Listen) -> std::io::Result<(Reactor, HttpServer)> {
    let mut reactor = Reactor::new()?;
    // Before announcing the address: from then on a SIGTERM must mean a
    // graceful shutdown, not the default action (death).
    reactor.catch_signals(options.grace)?;

    let http = options.http.clone();
    let server = match listen {
        Listen::Bind(addr) => HttpServer::bind(addr, http),
        Listen::Inherited(listener) => HttpServer::from_listener(listener, http),
    }?;
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
        let files = FileHandler::new(root).map_err(|e| {
            std::io::Error::new(e.kind(), format!("--root {}: {e}", root.display()))
        })?;
        guard(&server, Box::new(files), false);
    }
    if !options.users.is_empty() {
        guard(&server, Box::new(NotFound), false);
    }
    guard(&server, Box::new(StatusHandler::new()), true);
    let paths: Vec<&str> = options.rpc_paths.iter().map(String::as_str).collect();
    let rpc = XmlRpcHandler::with_paths(&paths, demo_service(), options.xmlrpc.clone());
    guard(&server, Box::new(rpc), true);
    Ok((reactor, server))
}

/// The last handler when credentials are required: what no other handler
/// takes is a 404, but only to someone who has logged in.
struct NotFound;

impl Handler for NotFound {
    fn matches(&self, _request: &Request) -> bool {
        true
    }

    fn handle_request(&mut self, _request: &mut Request, _server: &ServerView<'_>) -> Response {
        Response::error(404, "no handler for this URL")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Parsed, String> {
        parse_options(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults() {
        let Ok(Parsed::Serve(o)) = parse(&[]) else {
            panic!("serves")
        };
        assert_eq!(o.addr, "127.0.0.1:8182".parse().unwrap());
        assert!(o.root.is_none());
        assert_eq!(o.http.max_body_bytes, 10 * 1024 * 1024);
    }

    #[test]
    fn every_limit_is_a_flag() {
        let Ok(Parsed::Serve(o)) = parse(&[
            "--host",
            "::1",
            "--port",
            "0",
            "--root",
            "/tmp",
            "--max-header-bytes",
            "100",
            "--max-headers",
            "5",
            "--max-body-bytes",
            "7",
            "--idle-timeout",
            "1.5",
            "--request-timeout",
            "2",
            "--max-connections",
            "3",
            "--grace",
            "0.25",
            "--access-log",
            "/tmp/a.log",
        ]) else {
            panic!("serves")
        };
        assert_eq!(o.addr, "[::1]:0".parse().unwrap());
        assert_eq!(o.root, Some(PathBuf::from("/tmp")));
        assert_eq!(
            (
                o.http.max_header_bytes,
                o.http.max_headers,
                o.http.max_body_bytes
            ),
            (100, 5, 7)
        );
        assert_eq!(o.http.idle_timeout, Duration::from_millis(1500));
        assert_eq!(o.http.request_timeout, Duration::from_secs(2));
        assert_eq!(o.http.max_connections, 3);
        assert_eq!(o.grace, Duration::from_millis(250));
        assert_eq!(o.http.access_log, AccessLog::File("/tmp/a.log".into()));
        let Ok(Parsed::Serve(o)) = parse(&["--access-log", "off"]) else {
            panic!("serves")
        };
        assert_eq!(o.http.access_log, AccessLog::Off);
    }

    #[test]
    fn xmlrpc_flags() {
        let Ok(Parsed::Serve(o)) = parse(&[
            "--rpc-path",
            "/a",
            "--rpc-path",
            "/b",
            "--auth-user",
            "u:p:w",
            "--max-depth",
            "9",
            "--gzip-threshold",
            "10",
            "--no-extensions",
        ]) else {
            panic!("serves")
        };
        assert_eq!(o.rpc_paths, ["/a", "/b"]);
        assert_eq!(o.users.get("u").map(String::as_str), Some("p:w"));
        assert_eq!(
            (o.xmlrpc.decode.max_depth, o.xmlrpc.gzip_threshold),
            (9, 10)
        );
        assert!(!o.xmlrpc.encode.nil && !o.xmlrpc.encode.i8);
        let Ok(Parsed::Serve(o)) = parse(&[]) else {
            panic!("serves")
        };
        assert_eq!(o.rpc_paths, ["/RPC2"]);
        assert!(parse(&["--rpc-path", "RPC2"]).is_err());
        assert!(parse(&["--auth-user", "nopassword"]).is_err());
    }

    #[test]
    fn workers_and_trusted_proxies() {
        let Ok(Parsed::Serve(o)) = parse(&[]) else {
            panic!("serves")
        };
        assert_eq!(o.workers, 1);
        assert!(o.http.trusted_proxies.is_empty());
        let Ok(Parsed::Serve(o)) = parse(&[
            "--workers",
            "3",
            "--trusted-proxy",
            "10.0.0.1",
            "--trusted-proxy",
            "::1",
        ]) else {
            panic!("serves")
        };
        assert_eq!(o.workers, 3);
        assert_eq!(
            o.http.trusted_proxies,
            [
                "10.0.0.1".parse::<std::net::IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        let Ok(Parsed::Serve(o)) = parse(&["--workers", "auto"]) else {
            panic!("serves")
        };
        assert!(o.workers >= 1);
        assert!(parse(&["--workers", "0"]).is_err());
        assert!(parse(&["--workers", "many"]).is_err());
        assert!(parse(&["--trusted-proxy", "nginx"]).is_err());
    }

    #[test]
    fn demo_add_handles_ints_doubles_and_overflow() {
        assert_eq!(add(&Value::Int(40), &Value::Int(2)), Ok(Value::Int(42)));
        assert_eq!(
            add(&Value::Int(i32::MAX), &Value::Int(1)),
            Ok(Value::I8(i64::from(i32::MAX) + 1))
        );
        assert_eq!(
            add(&Value::Double(0.5), &Value::Int(2)),
            Ok(Value::Double(2.5))
        );
        assert_eq!(
            add(&Value::I8(i64::MAX), &Value::Int(1)).unwrap_err().code,
            Fault::APPLICATION_ERROR
        );
        assert_eq!(
            add(&Value::from("x"), &Value::Int(1)).unwrap_err().code,
            Fault::INVALID_PARAMS
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(parse(&["--port"]).is_err());
        assert!(parse(&["--port", "99999"]).is_err());
        assert!(parse(&["--idle-timeout", "-1"]).is_err());
        assert!(parse(&["--bogus", "1"]).is_err());
        assert!(parse(&["--host", "not an address"]).is_err());
    }

    #[test]
    fn help_and_version_exit_cleanly() {
        assert!(
            matches!(parse(&["--help"]), Ok(Parsed::Exit(t, _)) if t.contains("--max-body-bytes"))
        );
        assert!(
            matches!(parse(&["--version"]), Ok(Parsed::Exit(t, _)) if t.starts_with("medusad "))
        );
    }
}
