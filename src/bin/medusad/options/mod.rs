//! The command line: every flag, its default, and the checks made on it.
//!
//! `cli` declares the flags for clap (and so `--help`), `values` checks
//! each value; here they become the `Options` the daemon runs with, merged
//! with a `--config` file's (`crate::config`) when one is given.

mod cli;
pub mod values;

use std::collections::HashMap;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use medusa::handlers::XmlRpcConfig;
use medusa::http::{AccessLog, HttpConfig};

use crate::config::{apply_server_keys, ConfigError, ConfigFile, EndpointSpec, ServerKeys};
use crate::tls::TlsFiles;
pub use cli::Cli;

/// Everything the command line can set.
pub struct Options {
    /// `None` with `--no-tcp`.
    pub addr: Option<SocketAddr>,
    pub unix: Vec<PathBuf>,
    pub unix_mode: u32,
    pub unix_owner: Option<(u32, Option<u32>)>,
    pub tls: Option<TlsFiles>,
    pub workers: usize,
    /// `--reuseport`: a TCP socket per worker.
    pub reuseport: bool,
    pub root: Option<PathBuf>,
    pub listings: bool,
    pub grace: Duration,
    pub http: HttpConfig,
    pub users: HashMap<String, String>,
    pub public: Vec<String>,
    pub xmlrpc: XmlRpcConfig,
    /// The XML-RPC endpoints: the file's, or the demo at `rpc_paths`.
    pub endpoints: Vec<EndpointSpec>,
    /// The `--config` (or `--check-config`) file and the `[server]` keys
    /// read from it, to read it again on SIGHUP.
    pub config: Option<(std::path::PathBuf, ServerKeys)>,
    /// `--check-config`: print what would be served, and exit.
    pub check_only: bool,
}

/// Why the options cannot be had: the command line (clap's error, which
/// knows how to print itself and its exit status) or the file.
#[derive(Debug)]
pub enum OptionsError {
    Usage(clap::Error),
    Config(ConfigError),
}

impl From<clap::Error> for OptionsError {
    fn from(e: clap::Error) -> OptionsError {
        OptionsError::Usage(e)
    }
}

impl From<ConfigError> for OptionsError {
    fn from(e: ConfigError) -> OptionsError {
        OptionsError::Config(e)
    }
}

/// Parses the command line (`args` starts with the program name) and the
/// `--config` file it names. A usage error is clap's, to be printed with
/// its exit code: `--help` and `--version` (0, on stdout) or a usage error
/// (2, on stderr).
pub fn parse_options<I, T>(args: I) -> Result<Box<Options>, OptionsError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let alone = Cli::try_parse_from(&args)?;
    let check_only = alone.check_config.is_some();
    let Some(path) = alone.check_config.or(alone.config) else {
        return Ok(Box::new(Options::from(Cli::try_parse_from(&args)?)));
    };
    let file = ConfigFile::read(&path)?;
    let merged = apply_server_keys(args, &file.server)?;
    let mut options = Options::from(Cli::try_parse_from(merged)?);
    if let Some(endpoints) = file.endpoints {
        options.endpoints = endpoints;
    }
    options.config = Some((path, file.server));
    options.check_only = check_only;
    Ok(Box::new(options))
}

impl From<Cli> for Options {
    fn from(cli: Cli) -> Options {
        let addr = SocketAddr::new(cli.host, cli.port);
        let mut http = HttpConfig {
            max_header_bytes: cli.max_header_bytes,
            max_headers: cli.max_headers,
            max_body_bytes: cli.max_body_bytes,
            max_decoded_body_bytes: cli.max_decoded_bytes,
            max_gzip_members: cli.max_gzip_members,
            idle_timeout: cli.idle_timeout.0,
            handshake_timeout: cli.tls_handshake_timeout.0,
            request_timeout: cli.request_timeout.0,
            max_connections: cli.max_connections,
            trusted_proxies: cli.trusted_proxy,
            allowed_hosts: cli.allowed_host,
            ..HttpConfig::default()
        };
        // Without --access-log: stderr, buffered (the `log` crate's path,
        // the library's default, costs a write per line).
        http.access_log = cli.access_log.unwrap_or(AccessLog::Stderr);
        http.cors.origins = cli.cors_origin;
        if http.allowed_hosts.is_empty() && addr.ip().is_loopback() {
            http.allowed_hosts = medusa::http::loopback_names();
            http.allowed_hosts.push(addr.ip().to_string());
        }
        let mut xmlrpc = XmlRpcConfig::default();
        xmlrpc.decode.max_depth = cli.max_depth;
        xmlrpc.gzip_threshold = cli.gzip_threshold;
        if cli.no_extensions {
            xmlrpc.encode.nil = false;
            xmlrpc.encode.i8 = false;
        }
        // The decoder must accept what the HTTP layer lets in, decoded.
        let decoded = http.gunzip_limits().max_output;
        let decoded = usize::try_from(decoded).unwrap_or(usize::MAX);
        xmlrpc.decode.max_size = xmlrpc.decode.max_size.max(decoded);
        let mut rpc_paths = cli.rpc_path;
        if rpc_paths.is_empty() {
            rpc_paths.push("/RPC2".to_string());
        }
        // clap has checked that both are given, and not with --no-tcp.
        let tls = match (cli.tls_cert, cli.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            _ => None,
        };
        // A name given twice: the last entry wins, --auth-file's after
        // --auth-user's.
        let files = cli.auth_file.into_iter().flat_map(|file| file.0);
        let users = cli.auth_user.into_iter().chain(files).collect();
        let endpoints = vec![EndpointSpec::demo(rpc_paths)];
        Options {
            addr: (!cli.no_tcp).then_some(addr),
            unix: cli.unix,
            unix_mode: cli.unix_mode,
            unix_owner: cli.unix_owner,
            tls,
            workers: cli.workers,
            reuseport: cli.reuseport,
            root: cli.root,
            listings: !cli.no_listings,
            grace: cli.grace.0,
            http,
            users,
            public: cli.public,
            xmlrpc,
            endpoints,
            config: None,
            check_only: false,
        }
    }
}

#[cfg(test)]
mod tests;
