//! The command line: every flag, its default, and the checks made on it.
//!
//! `cli` declares the flags for clap (and so `--help`), `values` checks
//! each value; here they become the `Options` the daemon runs with.

mod cli;
mod values;

use std::collections::HashMap;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use medusa::handlers::XmlRpcConfig;
use medusa::http::HttpConfig;

use crate::tls::TlsFiles;
use cli::Cli;

/// Everything the command line can set.
pub struct Options {
    /// `None` with `--no-tcp`.
    pub addr: Option<SocketAddr>,
    pub unix: Vec<PathBuf>,
    pub unix_mode: u32,
    pub unix_owner: Option<(u32, Option<u32>)>,
    pub tls: Option<TlsFiles>,
    pub workers: usize,
    pub root: Option<PathBuf>,
    pub listings: bool,
    pub grace: Duration,
    pub http: HttpConfig,
    pub rpc_paths: Vec<String>,
    pub users: HashMap<String, String>,
    pub public: Vec<String>,
    pub xmlrpc: XmlRpcConfig,
}

/// Parses the command line (`args` starts with the program name). The
/// error is clap's, to be printed with its exit code: `--help` and
/// `--version` (0, on stdout) or a usage error (2, on stderr).
pub fn parse_options<I, T>(args: I) -> Result<Box<Options>, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    Ok(Box::new(Options::from(Cli::try_parse_from(args)?)))
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
        if let Some(log) = cli.access_log {
            http.access_log = log;
        }
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
        Options {
            addr: (!cli.no_tcp).then_some(addr),
            unix: cli.unix,
            unix_mode: cli.unix_mode,
            unix_owner: cli.unix_owner,
            tls,
            workers: cli.workers,
            root: cli.root,
            listings: !cli.no_listings,
            grace: cli.grace.0,
            http,
            rpc_paths,
            users,
            public: cli.public,
            xmlrpc,
        }
    }
}

#[cfg(test)]
mod tests;
