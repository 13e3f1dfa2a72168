//! The one URL parser of both clients, and the request head both send:
//!
//! - `http://[user[:password]@]host[:port][/path]`, as Python's
//!   `ServerProxy` takes it;
//! - `unix://[user[:password]@]/path/to/socket`, as supervisor's
//!   `serverurl` (`unix:///var/run/supervisor.sock`): an HTTP server on a
//!   Unix-domain socket, always posted to at `/RPC2`;
//! - `http+unix://[user[:password]@]%2Fpath%2Fto%2Fsocket[/path]`, as
//!   requests-unixsocket (and docker-py, httpie) spell it: the socket's
//!   path %-encoded where the host goes, so that any request path can
//!   follow.
//!
//! The user info becomes HTTP Basic credentials (Python's
//! `Transport.get_host`). They are kept only as the finished header value,
//! which no `Debug` output and no error message shows: errors name the part
//! of the URL that is wrong, never echo it.

// Peer-controlled sizes and counts: arithmetic here must say what happens
// at the edges (checked, saturating), never wrap silently in release.
#![warn(clippy::arithmetic_side_effects)]

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, ToSocketAddrs};
#[cfg(unix)]
use std::path::PathBuf;

use base64::Engine as _;

use super::error::ClientError;
use crate::http::percent_decode;

/// The request path of a `unix://` URL, and the default of the others.
const DEFAULT_PATH: &str = "/RPC2";

/// Where a connection goes: one address of a server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Address {
    /// A TCP address.
    Ip(SocketAddr),
    /// A Unix-domain socket's path.
    #[cfg(unix)]
    Unix(PathBuf),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Ip(addr) => write!(f, "{addr}"),
            #[cfg(unix)]
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// The server a URL names (no secrets: the credentials are elsewhere).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Endpoint {
    /// A name to resolve, or an IP literal (without brackets), and a port.
    Tcp { host: String, port: u16 },
    /// A Unix-domain socket.
    #[cfg(unix)]
    Unix(PathBuf),
}

/// Where a URL points: what to connect to and what to send.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Target {
    endpoint: Endpoint,
    /// Which server: the key of its connections, and how errors name it.
    /// `host:port` (an IPv6 literal in brackets), or `unix:/path` for a
    /// Unix-domain socket (one socket, one key, however the URL spelled
    /// it); no user info.
    pub(crate) key: String,
    /// The request target, `/RPC2` unless the URL names one.
    pub(crate) path: String,
    /// `Basic base64(user:password)` when the URL has user info.
    authorization: Option<String>,
    /// `https://`: TLS to the host, whose certificate must name it.
    pub(crate) secure: bool,
    /// `host:port` as the `Host` header says it.
    host_header: String,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("server", &self.key)
            .field("path", &self.path)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

fn bad(problem: &str) -> ClientError {
    ClientError::Url(problem.to_string())
}

impl Target {
    /// The URL as logs and faults may show it: the server and path, never
    /// the user info.
    pub(crate) fn shown(&self) -> String {
        if self.secure || self.key.starts_with("unix:") {
            format!("{}{}", self.key, self.path)
        } else {
            format!("http://{}{}", self.key, self.path)
        }
    }

    /// Parses a URL of any of the three forms (see the module docs). For
    /// `http://` and `http+unix://` the path defaults to `/RPC2`, a query
    /// is kept and a fragment dropped; `http://`'s port defaults to 80.
    pub(crate) fn parse(url: &str) -> Result<Target, ClientError> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            bad("no scheme (expected http://host[:port]/path or unix:///path/to/socket)")
        })?;
        if scheme.eq_ignore_ascii_case("https") {
            let (authority, path) = split_authority_path(rest);
            let mut target = Target::with_port(authority, &path, 443)?;
            target.secure = true;
            // Its connections are not the plain ones to the same port.
            target.key = format!("https://{}", target.key);
            return Ok(target);
        }
        if scheme.eq_ignore_ascii_case("unix") {
            return Target::parse_unix(rest);
        }
        if scheme.eq_ignore_ascii_case("http+unix") {
            let (authority, path) = split_authority_path(rest);
            return Target::http_unix(authority, &path);
        }
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(bad(
                "unsupported scheme (only http://, https://, unix:// and http+unix://)",
            ));
        }
        let (authority, path) = split_authority_path(rest);
        Target::from_authority(authority, &path)
    }

    /// `[user[:password]@]host[:port]` (what Python's `Transport.request`
    /// takes as `host`) and a path.
    pub(crate) fn from_authority(authority: &str, path: &str) -> Result<Target, ClientError> {
        Target::with_port(authority, path, 80)
    }

    fn with_port(authority: &str, path: &str, default_port: u16) -> Result<Target, ClientError> {
        check_path(path)?;
        let (authorization, hostport) = split_userinfo(authority)?;
        let (host, port) = split_host_port(hostport, default_port)?;
        let key = match host.parse::<Ipv6Addr>() {
            Ok(_) => format!("[{host}]:{port}"),
            Err(_) => format!("{host}:{port}"),
        };
        Ok(Target {
            endpoint: Endpoint::Tcp { host, port },
            secure: false,
            host_header: key.clone(),
            key,
            path: path.to_string(),
            authorization,
        })
    }

    /// What follows `unix://`: `[user[:password]@]` (the host is empty), then
    /// the socket's absolute path, as it is (not %-decoded, as supervisor
    /// reads it). No query or fragment: the request path is `/RPC2`.
    fn parse_unix(rest: &str) -> Result<Target, ClientError> {
        let Some(slash) = rest.find('/') else {
            return Err(bad(
                "no socket path (expected unix:///path/to/socket, three slashes)",
            ));
        };
        let (authority, socket) = rest.split_at(slash);
        let (authorization, host) = split_userinfo(authority)?;
        if !host.is_empty() {
            // Not echoed: it may be a password (unix://ann:secret/...).
            return Err(bad(
                "a unix:// URL has no host: the socket's absolute path follows \
                 the third slash (unix:///path/to/socket)",
            ));
        }
        if socket.contains(['?', '#']) {
            return Err(bad(
                "a unix:// URL names only the socket and always posts to /RPC2; \
                 for another path use http+unix://%2Fpath%2Fto%2Fsocket/path",
            ));
        }
        Target::unix(socket.as_bytes().to_vec(), DEFAULT_PATH, authorization)
    }

    /// `http+unix://`'s `[user[:password]@]%-encoded-socket-path` and path.
    fn http_unix(authority: &str, path: &str) -> Result<Target, ClientError> {
        check_path(path)?;
        let (authorization, host) = split_userinfo(authority)?;
        if host.is_empty() {
            return Err(bad(
                "no socket path: http+unix:// takes it %-encoded where the host \
                 goes (http+unix://%2Fpath%2Fto%2Fsocket/RPC2)",
            ));
        }
        let socket =
            percent_decode(host).ok_or_else(|| bad("malformed %-escape in the socket path"))?;
        Target::unix(socket, path, authorization)
    }

    #[cfg(unix)]
    fn unix(
        socket: Vec<u8>,
        path: &str,
        authorization: Option<String>,
    ) -> Result<Target, ClientError> {
        use std::os::unix::ffi::OsStringExt;

        if socket.contains(&0) {
            return Err(bad("NUL in the socket path"));
        }
        let socket = PathBuf::from(std::ffi::OsString::from_vec(socket));
        Ok(Target {
            key: format!("unix:{}", socket.display()),
            endpoint: Endpoint::Unix(socket),
            path: path.to_string(),
            authorization,
            secure: false,
            host_header: "localhost".to_string(),
        })
    }

    #[cfg(not(unix))]
    fn unix(_: Vec<u8>, _: &str, _: Option<String>) -> Result<Target, ClientError> {
        Err(bad("Unix-domain sockets need a Unix-like system"))
    }

    /// What errors call the server: its host name, or its socket.
    fn name(&self) -> &str {
        match &self.endpoint {
            Endpoint::Tcp { host, .. } => host,
            #[cfg(unix)]
            Endpoint::Unix(_) => &self.key,
        }
    }

    /// The addresses to try, in order. An IP literal is used as it is,
    /// without asking the resolver, and so is a socket path; a name goes
    /// to the system resolver, which blocks.
    pub(crate) fn addresses(&self) -> io::Result<Vec<Address>> {
        match self.literal_address() {
            Some(addr) => Ok(vec![addr]),
            None => Ok(self
                .resolved(self.lookup())?
                .into_iter()
                .map(Address::Ip)
                .collect()),
        }
    }

    /// The address, when no lookup is needed: an IP literal's, or the
    /// socket's path.
    pub(crate) fn literal_address(&self) -> Option<Address> {
        match &self.endpoint {
            Endpoint::Tcp { host, port } => {
                let ip = host.parse::<IpAddr>().ok()?;
                Some(Address::Ip(SocketAddr::new(ip, *port)))
            }
            #[cfg(unix)]
            Endpoint::Unix(path) => Some(Address::Unix(path.clone())),
        }
    }

    /// Asks the system resolver (getaddrinfo: blocks), as it answers.
    pub(crate) fn lookup(&self) -> io::Result<Vec<SocketAddr>> {
        match &self.endpoint {
            Endpoint::Tcp { host, port } => Ok((host.as_str(), *port).to_socket_addrs()?.collect()),
            #[cfg(unix)]
            Endpoint::Unix(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a Unix-domain socket is not looked up",
            )),
        }
    }

    /// A lookup's answer as the clients report it: an error names the
    /// host, and no address at all is an error too.
    pub(crate) fn resolved(
        &self,
        answer: io::Result<Vec<SocketAddr>>,
    ) -> io::Result<Vec<SocketAddr>> {
        let addrs = answer.map_err(|e| {
            io::Error::new(e.kind(), format!("cannot resolve {}: {e}", self.name()))
        })?;
        if addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} has no address", self.name()),
            ));
        }
        Ok(addrs)
    }

    /// The `Host` header: the URL's `host:port`, or `localhost` for a
    /// Unix-domain socket (as supervisor and curl send).
    fn host_header(&self) -> &str {
        &self.host_header
    }

    /// The name TLS checks the certificate against (`https://` only).
    pub(crate) fn server_name(
        &self,
    ) -> Result<rustls::pki_types::ServerName<'static>, ClientError> {
        match &self.endpoint {
            Endpoint::Tcp { host, .. } => rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|_| bad("the host is not a name TLS can check")),
            #[cfg(unix)]
            Endpoint::Unix(_) => Err(bad("TLS over a Unix-domain socket is not supported")),
        }
    }

    /// The HTTP/1.1 request posting `body`, with the credentials if any.
    pub(crate) fn request(&self, user_agent: &str, body: &[u8]) -> Vec<u8> {
        let mut request = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {user_agent}\r\n\
             Content-Type: text/xml\r\nAccept-Encoding: gzip\r\nContent-Length: {}\r\n",
            self.path,
            self.host_header(),
            body.len()
        );
        if let Some(authorization) = &self.authorization {
            request.push_str("Authorization: ");
            request.push_str(authorization);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        let mut request = request.into_bytes();
        request.extend_from_slice(body);
        request
    }
}

/// What follows `scheme://` in an `http://` or `http+unix://` URL: the
/// authority, and the path (`/RPC2` if none; a query alone gets `/`); a
/// fragment is dropped.
fn split_authority_path(rest: &str) -> (&str, String) {
    let rest = rest.split('#').next().unwrap_or("");
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let path = match path {
        "" => DEFAULT_PATH.to_string(),
        p if p.starts_with('?') => format!("/{p}"),
        p => p.to_string(),
    };
    (authority, path)
}

/// The path goes into the request line as it is: nothing that could end
/// the line or the target.
fn check_path(path: &str) -> Result<(), ClientError> {
    if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(bad("space or control character in the path"));
    }
    Ok(())
}

/// `[user[:password]@]rest`: the credentials, if any, and the rest. User
/// info cannot hold a raw '@' (RFC 3986), so the last one ends it.
fn split_userinfo(authority: &str) -> Result<(Option<String>, &str), ClientError> {
    match authority.rsplit_once('@') {
        Some((userinfo, rest)) => Ok((Some(basic_authorization(userinfo)?), rest)),
        None => Ok((None, authority)),
    }
}

impl Target {
    /// Sends `user`/`password` (as given, not %-decoded) as Basic
    /// credentials, instead of any the URL had.
    pub(crate) fn set_credentials(&mut self, user: &str, password: &str) {
        let credentials = format!("{user}:{password}");
        self.authorization = Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        ));
    }
}

/// `user[:password]`, percent-decoded, as a Basic `Authorization` value. A
/// user without a password gets an empty one (RFC 7617 wants the colon).
fn basic_authorization(userinfo: &str) -> Result<String, ClientError> {
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let decode =
        |s: &str| percent_decode(s).ok_or_else(|| bad("malformed %-escape in the user info"));
    let mut credentials = decode(user)?;
    credentials.push(b':');
    credentials.extend_from_slice(&decode(password)?);
    Ok(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    ))
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; the port defaults to 80.
fn split_host_port(hostport: &str, default_port: u16) -> Result<(String, u16), ClientError> {
    let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
        let (v6, after) = bracketed
            .split_once(']')
            .ok_or_else(|| bad("unclosed '[' in the host"))?;
        if v6.parse::<Ipv6Addr>().is_err() {
            return Err(bad("not an IPv6 address between '[' and ']'"));
        }
        let port = match after {
            "" => None,
            a => Some(
                a.strip_prefix(':')
                    .ok_or_else(|| bad("unexpected text after ']' (expected :port)"))?,
            ),
        };
        (v6, port)
    } else if hostport.matches(':').count() > 1 {
        return Err(bad("an IPv6 address needs brackets: http://[::1]:port/"));
    } else {
        match hostport.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    if !hostport.starts_with('[') {
        // A name or an IPv4 literal: anything else would only surface later
        // as a confusing resolver error (or end up in the Host header).
        if let Some(c) = host
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
        {
            return Err(ClientError::Url(format!(
                "invalid character {c:?} in the host"
            )));
        }
    }
    let port = match port {
        // RFC 3986 allows an empty port: the default.
        None | Some("") => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
            // The value is not echoed: in `http://user:secret` the "port"
            // is a password.
            _ => return Err(bad("the port is not a number from 1 to 65535")),
        },
    };
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(url: &str) -> (String, String) {
        let t = Target::parse(url).unwrap();
        (t.key, t.path)
    }

    fn error(url: &str) -> String {
        Target::parse(url).unwrap_err().to_string()
    }

    #[test]
    fn hosts_ports_and_paths() {
        let s = |a: &str, p: &str| (a.to_string(), p.to_string());
        assert_eq!(
            parts("http://127.0.0.1:8182/RPC2"),
            s("127.0.0.1:8182", "/RPC2")
        );
        assert_eq!(parts("http://example.com"), s("example.com:80", "/RPC2"));
        assert_eq!(parts("HTTP://example.com:/x"), s("example.com:80", "/x"));
        assert_eq!(parts("http://[::1]:9000/x"), s("[::1]:9000", "/x"));
        assert_eq!(parts("http://[::1]"), s("[::1]:80", "/RPC2"));
        assert_eq!(parts("http://h?a=1#frag"), s("h:80", "/?a=1"));
        assert_eq!(parts("http://h/p?q#f"), s("h:80", "/p?q"));
        // An '@' in the path is not user info.
        assert_eq!(parts("http://h/a@b"), s("h:80", "/a@b"));
        let t = Target::parse("http://[::1]:9000/").unwrap();
        assert_eq!(
            t.endpoint,
            Endpoint::Tcp {
                host: "::1".into(),
                port: 9000
            }
        );
        assert_eq!(
            t.addresses().unwrap(),
            vec![Address::Ip("[::1]:9000".parse().unwrap())]
        );
    }

    #[test]
    fn bad_urls_name_the_problem() {
        assert!(error("https://x:0/").contains("port"));
        assert!(error("ftp://x/").contains("unsupported scheme"));
        assert!(error("unix+http://x/").contains("unsupported scheme"));
        assert!(error("localhost:8080/RPC2").contains("no scheme"));
        assert!(error("http:///RPC2").contains("no host"));
        assert!(error("http://:80/RPC2").contains("no host"));
        assert!(error("http://h:abc/").contains("port"));
        assert!(error("http://h:65536/").contains("port"));
        assert!(error("http://h:0/").contains("port"));
        assert!(error("http://h:+80/").contains("port"));
        assert!(error("http://[::1/").contains("unclosed"));
        assert!(error("http://[nope]:80/").contains("IPv6"));
        assert!(error("http://[::1]x/").contains("after ']'"));
        assert!(error("http://::1/").contains("brackets"));
        assert!(error("http://ex ample/").contains("' '"));
        assert!(error("http://h\r\nX-Injected: 1/").contains("invalid character"));
        assert!(error("http://h/a b").contains("path"));
        assert!(error("http://u:%zz@h/").contains("%-escape"));
    }

    #[test]
    fn user_info_is_basic_auth_and_never_shown() {
        let t = Target::parse("http://ann:s3cr%3At%40x@127.0.0.1:8/RPC2").unwrap();
        assert_eq!(t.key, "127.0.0.1:8");
        // base64("ann:s3cr:t@x")
        assert_eq!(t.authorization.as_deref(), Some("Basic YW5uOnMzY3I6dEB4"));
        let request = String::from_utf8(t.request("ua", b"<x/>")).unwrap();
        assert!(request.contains("\r\nAuthorization: Basic YW5uOnMzY3I6dEB4\r\n"));
        assert!(request.contains("\r\nHost: 127.0.0.1:8\r\n"));
        let debug = format!("{t:?}");
        assert!(
            !debug.contains("YW5u") && !debug.contains("s3cr"),
            "{debug}"
        );
        // No password: an empty one.
        let t = Target::parse("http://ann@h/").unwrap();
        assert_eq!(t.authorization.as_deref(), Some("Basic YW5uOg=="));
        // Errors never echo the URL: here the password is where a port goes.
        let e = error("http://ann:s3cret");
        assert!(!e.contains("s3cret"), "{e}");
    }

    #[cfg(unix)]
    fn unix_parts(url: &str) -> (PathBuf, String, String) {
        let t = Target::parse(url).unwrap();
        let Endpoint::Unix(socket) = &t.endpoint else {
            panic!("{url}: not a Unix-domain socket");
        };
        (socket.clone(), t.key.clone(), t.path.clone())
    }

    /// `unix:///path` (supervisor's form) always posts to /RPC2;
    /// `http+unix://%2Fpath/...` (requests-unixsocket's) to any path. One
    /// socket is one key, whichever form named it.
    #[cfg(unix)]
    #[test]
    fn unix_socket_urls() {
        let s = |socket: &str, path: &str| {
            (
                PathBuf::from(socket),
                format!("unix:{socket}"),
                path.to_string(),
            )
        };
        assert_eq!(
            unix_parts("unix:///var/run/supervisor.sock"),
            s("/var/run/supervisor.sock", "/RPC2")
        );
        // Taken as it is, as supervisor does: no %-decoding.
        assert_eq!(unix_parts("UNIX:///tmp/a%20b"), s("/tmp/a%20b", "/RPC2"));
        assert_eq!(
            unix_parts("http+unix://%2Frun%2Fapp.sock/api/RPC2?x=1#f"),
            s("/run/app.sock", "/api/RPC2?x=1")
        );
        assert_eq!(
            unix_parts("http+unix://%2frun%2fapp.sock"),
            s("/run/app.sock", "/RPC2")
        );
        assert_eq!(
            unix_parts("http+unix://%2Frun%2Fapp.sock?q"),
            s("/run/app.sock", "/?q")
        );
        // A relative path, as requests-unixsocket allows.
        assert_eq!(
            unix_parts("http+unix://app.sock/RPC2"),
            s("app.sock", "/RPC2")
        );
        let t = Target::parse("unix:///run/app.sock").unwrap();
        assert_eq!(
            t.addresses().unwrap(),
            vec![Address::Unix("/run/app.sock".into())]
        );
        assert_eq!(
            t.literal_address(),
            Some(Address::Unix("/run/app.sock".into()))
        );
        assert!(t.lookup().is_err());
        let request = String::from_utf8(t.request("ua", b"<x/>")).unwrap();
        assert!(
            request.starts_with("POST /RPC2 HTTP/1.1\r\nHost: localhost\r\n"),
            "{request}"
        );
        assert!(!request.contains("Authorization"), "{request}");
    }

    #[cfg(unix)]
    #[test]
    fn unix_socket_urls_carry_basic_auth_and_never_show_it() {
        for url in [
            "unix://ann:s3cr%3At%40x@/run/app.sock",
            "http+unix://ann:s3cr%3At%40x@%2Frun%2Fapp.sock/RPC2",
        ] {
            let t = Target::parse(url).unwrap();
            assert_eq!(t.key, "unix:/run/app.sock");
            assert_eq!(t.authorization.as_deref(), Some("Basic YW5uOnMzY3I6dEB4"));
            let request = String::from_utf8(t.request("ua", b"")).unwrap();
            assert!(request.contains("\r\nAuthorization: Basic YW5uOnMzY3I6dEB4\r\n"));
            assert!(request.contains("\r\nHost: localhost\r\n"));
            let debug = format!("{t:?}");
            assert!(
                !debug.contains("YW5u") && !debug.contains("s3cr"),
                "{debug}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn bad_unix_socket_urls_name_the_problem() {
        assert!(error("unix://").contains("no socket path"));
        assert!(error("unix://run.sock").contains("no socket path"));
        assert!(error("unix://run/app.sock").contains("has no host"));
        // The "host" is not echoed: here it is a password.
        let e = error("unix://ann:s3cret/run/app.sock");
        assert!(e.contains("has no host") && !e.contains("s3cret"), "{e}");
        assert!(error("unix:///run/app.sock?x").contains("http+unix://"));
        assert!(error("unix:///run/app.sock#x").contains("always posts to /RPC2"));
        assert!(error("unix://u:%zz@/run/app.sock").contains("%-escape"));
        assert!(error("unix:///run/a\0b").contains("NUL"));
        assert!(error("http+unix:///run/app.sock").contains("no socket path"));
        assert!(error("http+unix://%2Frun%zz/").contains("%-escape in the socket path"));
        assert!(error("http+unix://%2Frun%00x/").contains("NUL"));
        assert!(error("http+unix://%2Frun/a b").contains("path"));
        let e = error("http+unix://ann:s3cret@/x");
        assert!(e.contains("no socket path") && !e.contains("s3cret"), "{e}");
    }
}
