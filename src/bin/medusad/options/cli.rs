//! The flags as clap sees them: names, help, defaults, and which value
//! parser (`values`) checks each. `--help` is generated from this.

// The fields' doc comments are --help text, plain and as the user reads
// it (`<nil/>`, `[::1]`, URLs), not markdown for rustdoc.
#![allow(
    rustdoc::bare_urls,
    rustdoc::broken_intra_doc_links,
    rustdoc::invalid_html_tags
)]

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;
use medusa::handlers::XmlRpcConfig;
use medusa::http::{AccessLog, HttpConfig};

use super::values::{self, whole, CredentialsFile, Seconds};

/// The notes after the flags in `--help`, one line per paragraph (a `\`
/// joins source lines): clap wraps them to the terminal.
const AFTER_HELP: &str = "\
Logging: RUST_LOG (default info) on stderr; without --access-log, the access \
log goes there too, in Common Log Format, and RUST_LOG's target medusa::access \
turns it on or off.
Signals: SIGTERM/SIGINT stop gracefully; SIGHUP reloads the TLS files and \
--config endpoints; SIGUSR1 reopens the --access-log file (after logrotate \
renamed it: see docs/deploying.md). With --workers, signal the master: it \
relays them to every worker.
Socket activation: with LISTEN_PID/LISTEN_FDS (systemd), serves on the \
inherited sockets (fd 3, 4...) instead of binding --host/--port and --unix.

Exit status:
  0  clean shutdown (SIGINT/SIGTERM; every connection finished)
  1  runtime error (cannot listen, a bad --root or TLS file...), or a \
forced shutdown: a second signal, or --grace over with connections still \
open (the log says how many were dropped)
  2  bad command line or configuration file (unknown flag or key, bad \
value, unreadable --auth-file)";

/// A Medusa-style HTTP and XML-RPC server: the demo service at /RPC2, the
/// status page at /status and, with --root, a directory of files.
#[derive(Parser, Debug)]
#[command(
    name = "medusad",
    version,
    after_help = AFTER_HELP,
    // A flag given twice: the last one counts (as before clap, and as
    // tests and wrappers that append to a default command line expect).
    args_override_self = true,
    // So that `--idle-timeout -1` is refused as negative, not taken for a
    // flag.
    allow_negative_numbers = true
)]
pub struct Cli {
    /// Read settings and XML-RPC endpoints from FILE (TOML; see
    /// docs/config.md); flags given here override its [server] keys. Its
    /// endpoints are read again on SIGHUP
    #[arg(short, long, value_name = "FILE", conflicts_with = "check_config")]
    pub config: Option<PathBuf>,

    /// Check FILE as --config would read it, print what it would serve,
    /// and exit (0: it is good, 2: it is not)
    #[arg(long, value_name = "FILE")]
    pub check_config: Option<PathBuf>,

    /// Address or host name to listen on (a name is resolved at startup:
    /// its first IPv4 address, else its first one); IPv6 as ::1 or [::1]
    #[arg(short = 'H', long, value_name = "ADDR", value_parser = medusa::reactor::parse_host)]
    #[arg(default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// TCP port; 0 = any free port (the log says which)
    #[arg(short, long, default_value_t = 8182, value_parser = values::port)]
    pub port: u16,

    /// Also serve on a Unix-domain socket at PATH (repeatable); a stale
    /// socket file left by a dead process is replaced, a live one is not;
    /// removed on a clean exit
    #[arg(long, value_name = "PATH", value_parser = values::path)]
    pub unix: Vec<PathBuf>,

    /// Permissions of the --unix sockets, octal (0660: owner and group may
    /// connect)
    #[arg(long, value_name = "MODE", default_value = "0660", value_parser = values::unix_mode)]
    pub unix_mode: u32,

    /// Owner (and group) of the --unix sockets, by name or number (needs
    /// root)
    #[arg(long, value_name = "USER[:GROUP]", value_parser = values::owner)]
    pub unix_owner: Option<(u32, Option<u32>)>,

    /// Serve only on the --unix sockets, no TCP port
    #[arg(long, requires = "unix")]
    pub no_tcp: bool,

    /// Speak HTTPS on the TCP port: the certificate chain (PEM); re-read
    /// with the key on SIGHUP
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        conflicts_with = "no_tcp"
    )]
    pub tls_cert: Option<PathBuf>,

    /// Its private key (PEM: PKCS#8, RSA or EC)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Time a TLS client has to finish its handshake
    #[arg(long, value_name = "SECONDS", default_value_t = Seconds(http().handshake_timeout))]
    pub tls_handshake_timeout: Seconds,

    /// Also serve the files under DIR
    #[arg(short, long, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// With --root: answer a directory without index.html with 404
    /// instead of a listing of its files
    #[arg(long)]
    pub no_listings: bool,

    /// Where the XML-RPC service answers (repeatable) [default: /RPC2]
    #[arg(long, value_name = "PATH", value_parser = values::url_path)]
    pub rpc_path: Vec<String>,

    /// Require HTTP Basic auth on every path (repeatable); a request with a
    /// body and no valid credentials is refused before its body is read
    #[arg(long, value_name = "NAME:PASSWORD", value_parser = values::credentials)]
    pub auth_user: Vec<(String, String)>,

    /// The same, one NAME:PASSWORD per line (repeatable; blank and #
    /// lines skipped)
    #[arg(long, value_name = "FILE", value_parser = values::credentials_file)]
    pub auth_file: Vec<CredentialsFile>,

    /// Serve PATH without credentials even with auth (repeatable; a PATH
    /// ending in / is a prefix), e.g. --public /status/metrics
    #[arg(long, value_name = "PATH", value_parser = values::url_path)]
    pub public: Vec<String>,

    /// XML-RPC value nesting
    #[arg(long, value_name = "N", value_parser = whole::<usize>)]
    #[arg(default_value_t = xmlrpc().decode.max_depth)]
    pub max_depth: usize,

    /// Gzip larger responses when the client accepts it
    #[arg(long, value_name = "BYTES", value_parser = whole::<usize>)]
    #[arg(default_value_t = xmlrpc().gzip_threshold)]
    pub gzip_threshold: usize,

    /// Never send <nil/> or <i8> (strict peers)
    #[arg(long)]
    pub no_extensions: bool,

    /// On SIGINT/SIGTERM, time allowed to finish the requests in flight
    #[arg(
        long,
        value_name = "SECONDS",
        default_value = "10",
        allow_negative_numbers = true
    )]
    pub grace: Seconds,

    /// Request line + headers
    #[arg(long, value_name = "N", value_parser = whole::<usize>)]
    #[arg(default_value_t = http().max_header_bytes)]
    pub max_header_bytes: usize,

    /// Header fields per request
    #[arg(long, value_name = "N", value_parser = whole::<usize>)]
    #[arg(default_value_t = http().max_headers)]
    pub max_headers: usize,

    /// Request body as sent
    #[arg(long, value_name = "N", value_parser = whole::<u64>)]
    #[arg(default_value_t = http().max_body_bytes)]
    pub max_body_bytes: u64,

    /// Request body once gunzipped [default: the --max-body-bytes value]
    #[arg(long, value_name = "N", value_parser = whole::<u64>)]
    pub max_decoded_bytes: Option<u64>,

    /// Gzip members in one request body
    #[arg(long, value_name = "N", value_parser = whole::<usize>)]
    #[arg(default_value_t = http().max_gzip_members)]
    pub max_gzip_members: usize,

    /// Keep-alive idle limit
    #[arg(long, value_name = "SECONDS", default_value_t = Seconds(http().idle_timeout))]
    pub idle_timeout: Seconds,

    /// Time to receive a whole request
    #[arg(long, value_name = "SECONDS", default_value_t = Seconds(http().request_timeout))]
    pub request_timeout: Seconds,

    /// Open connections
    #[arg(long, value_name = "N", value_parser = whole::<usize>)]
    #[arg(default_value_t = http().max_connections)]
    pub max_connections: usize,

    /// Append the access log to FILE, buffered and flushed every second;
    /// 'off' for none. Without it, lines go to stderr, buffered and written
    /// at the end of each pass of the loop (RUST_LOG=medusa::access=off
    /// turns them off). SIGUSR1 reopens FILE (for logrotate's `create`),
    /// losing no line
    #[arg(long, value_name = "FILE", value_parser = values::access_log)]
    pub access_log: Option<AccessLog>,

    /// Worker processes on the same port (auto = one per CPU); a master
    /// restarts them
    #[arg(short, long, value_name = "N|auto", default_value = "1", value_parser = values::workers)]
    pub workers: usize,

    /// With --workers: a socket per worker on the port (SO_REUSEPORT, Linux)
    /// instead of one they share, the kernel spreading connections among
    /// them; a stopped worker then holds its share, and any process of the
    /// same user may join the port (see docs/deploying.md)
    #[arg(long, conflicts_with = "no_tcp")]
    pub reuseport: bool,

    /// Let web pages from ORIGIN (e.g. https://app.example; repeatable; '*'
    /// for any) call from a browser: preflights are answered, answers name
    /// the origin
    #[arg(long, value_name = "ORIGIN", value_parser = values::cors_origin)]
    pub cors_origin: Vec<String>,

    /// A name TCP clients may send in Host (repeatable; '*' for any);
    /// others get 421. Default: on a loopback address, localhost and the
    /// loopback addresses only (against DNS rebinding); else any
    #[arg(long, value_name = "NAME", value_parser = values::allowed_host)]
    pub allowed_host: Vec<String>,

    /// Believe X-Forwarded-For from this proxy IP in the access log
    /// (repeatable)
    #[arg(long, value_name = "ADDR", value_parser = values::ip)]
    pub trusted_proxy: Vec<IpAddr>,
}

/// The library's defaults, shown by `--help` and used when a flag is absent.
fn http() -> HttpConfig {
    HttpConfig::default()
}

fn xmlrpc() -> XmlRpcConfig {
    XmlRpcConfig::default()
}
