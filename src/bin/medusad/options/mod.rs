//! The command line: every flag, its default, and the checks made on it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use medusa::handlers::XmlRpcConfig;
use medusa::http::{AccessLog, HttpConfig};

use crate::tls::TlsFiles;

pub const USAGE: &str = "\
usage: medusad [OPTIONS]

  --host ADDR               address to listen on (default 127.0.0.1)
  --port PORT               port, 0 = any free port (default 8182)
  --unix PATH               also serve on a Unix-domain socket at PATH
                            (repeatable); a stale socket file left by a dead
                            process is replaced, a live one is not; removed
                            on a clean exit
  --unix-mode MODE          permissions of the --unix sockets, octal
                            (default 0660: owner and group may connect)
  --unix-owner USER[:GROUP] owner (and group) of the --unix sockets, by name
                            or number (needs root)
  --no-tcp                  serve only on the --unix sockets, no TCP port
  --tls-cert FILE           speak HTTPS on the TCP port: the certificate chain
                            (PEM); re-read with the key on SIGHUP
  --tls-key FILE            its private key (PEM: PKCS#8, RSA or EC)
  --tls-handshake-timeout SECONDS
                            time a TLS client has to finish its handshake
                            (default 10)
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
  --cors-origin ORIGIN      let web pages from ORIGIN (e.g.
                            https://app.example; repeatable; '*' for any)
                            call from a browser: preflights are answered,
                            answers name the origin
  --allowed-host NAME       a name TCP clients may send in Host (repeatable;
                            '*' for any); others get 421. Default: on a
                            loopback address, localhost and the loopback
                            addresses only (against DNS rebinding); else any
  --trusted-proxy ADDR      believe X-Forwarded-For from this proxy IP in the
                            access log (repeatable)
  --help                    this text
  --version                 the version

Logging: RUST_LOG (default info; without --access-log, the access log is
target medusa::access).
Socket activation: with LISTEN_PID/LISTEN_FDS (systemd), serves on fd 3
instead of binding --host/--port.";

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
    pub grace: Duration,
    pub http: HttpConfig,
    pub rpc_paths: Vec<String>,
    pub users: HashMap<String, String>,
    pub public: Vec<String>,
    pub xmlrpc: XmlRpcConfig,
}

/// What `parse_options` wants the process to do.
pub enum Parsed {
    Serve(Box<Options>),
    Exit(String, ExitCode),
}

pub fn parse_options(args: impl Iterator<Item = String>) -> Result<Parsed, String> {
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
    let mut unix = Vec::new();
    let mut unix_mode = 0o660;
    let mut unix_owner = None;
    let mut tcp = true;
    let mut tls_cert = None;
    let mut tls_key = None;
    let mut args = args.peekable();
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--help" | "-h" => return Ok(Parsed::Exit(USAGE.to_string(), ExitCode::SUCCESS)),
            "--version" | "-V" => {
                let version = format!("medusad {}", env!("CARGO_PKG_VERSION"));
                return Ok(Parsed::Exit(version, ExitCode::SUCCESS));
            }
            "--no-tcp" => {
                tcp = false;
                continue;
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
            "--unix" if value.is_empty() => return Err("--unix needs a path".to_string()),
            "--unix" => unix.push(PathBuf::from(value)),
            "--unix-mode" => {
                unix_mode = u32::from_str_radix(&value, 8)
                    .ok()
                    .filter(|m| *m <= 0o777)
                    .ok_or(format!(
                        "--unix-mode: not an octal mode like 0660: {value:?}"
                    ))?
            }
            "--unix-owner" => unix_owner = Some(owner(&value)?),
            "--tls-cert" => tls_cert = Some(PathBuf::from(value)),
            "--tls-key" => tls_key = Some(PathBuf::from(value)),
            "--tls-handshake-timeout" => http.handshake_timeout = seconds(&flag, &value)?,
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
            "--allowed-host" if value.is_empty() => {
                return Err("--allowed-host needs a name".to_string())
            }
            "--allowed-host" => http.allowed_hosts.push(value),
            "--cors-origin" if value == "*" || value.contains("://") => http
                .cors
                .origins
                .push(value.trim_end_matches('/').to_string()),
            "--cors-origin" => {
                return Err(format!(
                    "--cors-origin: expected scheme://host[:port] or '*': {value:?}"
                ))
            }
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
    let addr: SocketAddr = format!("{bracketed}:{port}")
        .parse()
        .map_err(|_| format!("bad address {bracketed}:{port}"))?;
    if http.allowed_hosts.is_empty() && addr.ip().is_loopback() {
        http.allowed_hosts = medusa::http::loopback_names();
        http.allowed_hosts.push(addr.ip().to_string());
    }
    if !tcp && unix.is_empty() {
        return Err("--no-tcp needs at least one --unix PATH".to_string());
    }
    let tls = match (tls_cert, tls_key) {
        (Some(cert), Some(key)) if tcp => Some(TlsFiles { cert, key }),
        (Some(_), Some(_)) => {
            return Err("--tls-cert is for the TCP port: not with --no-tcp".into())
        }
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together".to_string()),
    };
    if rpc_paths.is_empty() {
        rpc_paths.push("/RPC2".to_string());
    }
    // The decoder must accept what the HTTP layer lets in, decoded.
    let decoded = http.gunzip_limits().max_output;
    let decoded = usize::try_from(decoded).unwrap_or(usize::MAX);
    xmlrpc.decode.max_size = xmlrpc.decode.max_size.max(decoded);
    Ok(Parsed::Serve(Box::new(Options {
        addr: tcp.then_some(addr),
        unix,
        unix_mode,
        unix_owner,
        tls,
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

/// `USER` or `USER:GROUP`, each a name or a number. Names are looked up
/// now, so that a typo fails at startup, not at the chown.
fn owner(value: &str) -> Result<(u32, Option<u32>), String> {
    use nix::unistd::{Group, User};
    let (user, group) = match value.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (value, None),
    };
    let uid = id("user", user, |name| {
        User::from_name(name).map(|u| u.map(|u| u.uid.as_raw()))
    })?;
    let gid = group
        .map(|group| {
            id("group", group, |name| {
                Group::from_name(name).map(|g| g.map(|g| g.gid.as_raw()))
            })
        })
        .transpose()?;
    Ok((uid, gid))
}

/// A numeric id, or the id `find` gives the name.
fn id(
    kind: &str,
    value: &str,
    find: impl FnOnce(&str) -> nix::Result<Option<u32>>,
) -> Result<u32, String> {
    if let Ok(id) = value.parse() {
        return Ok(id);
    }
    match find(value) {
        Ok(Some(id)) => Ok(id),
        Ok(None) => Err(format!("--unix-owner: no {kind} {value:?}")),
        Err(e) => Err(format!("--unix-owner: looking up {kind} {value:?}: {e}")),
    }
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
        assert_eq!(o.addr, Some("127.0.0.1:8182".parse().unwrap()));
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
            "--tls-handshake-timeout",
            "4",
            "--max-connections",
            "3",
            "--grace",
            "0.25",
            "--access-log",
            "/tmp/a.log",
        ]) else {
            panic!("serves")
        };
        assert_eq!(o.addr, Some("[::1]:0".parse().unwrap()));
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
        assert_eq!(o.http.handshake_timeout, Duration::from_secs(4));
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
    fn unix_socket_flags() {
        let Ok(Parsed::Serve(o)) = parse(&[
            "--unix",
            "/run/a.sock",
            "--unix",
            "/run/b.sock",
            "--unix-mode",
            "0600",
            "--unix-owner",
            "1000:27",
            "--no-tcp",
        ]) else {
            panic!("serves")
        };
        assert_eq!(
            o.unix,
            [PathBuf::from("/run/a.sock"), PathBuf::from("/run/b.sock")]
        );
        assert_eq!(
            (o.unix_mode, o.unix_owner, o.addr),
            (0o600, Some((1000, Some(27))), None)
        );
        let Ok(Parsed::Serve(o)) = parse(&["--unix", "/run/a.sock"]) else {
            panic!("serves")
        };
        assert_eq!((o.unix_mode, o.addr.is_some()), (0o660, true));
        // Names, looked up (root and its group exist everywhere).
        let Ok(Parsed::Serve(o)) = parse(&["--unix", "/s", "--unix-owner", "root:root"]) else {
            panic!("serves")
        };
        assert_eq!(o.unix_owner, Some((0, Some(0))));
        let Err(e) = parse(&["--unix", "/s", "--unix-owner", "no-such-user-medusa"]) else {
            panic!("an unknown user is an error")
        };
        assert!(e.contains("no user \"no-such-user-medusa\""), "{e}");
        let Err(e) = parse(&["--unix", "/s", "--unix-owner", "0:no-such-group-medusa"]) else {
            panic!("an unknown group is an error")
        };
        assert!(e.contains("no group"), "{e}");
        for bad in [
            &["--no-tcp"][..],
            &["--unix", "/s", "--unix-mode", "999"],
            &["--unix", "/s", "--unix-mode", "rw"],
            &["--unix", ""],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
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
