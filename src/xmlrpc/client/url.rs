//! The one URL parser of both clients: `http://[user[:password]@]host[:port][/path]`,
//! as Python's `ServerProxy` takes it, and the request head both send.
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

use base64::Engine as _;

use super::error::ClientError;
use crate::http::percent_decode;

/// Where a URL points: what to connect to and what to send.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// A name to resolve, or an IP literal (without brackets).
    host: String,
    port: u16,
    /// `host:port` for the `Host` header and as the key of a connection
    /// (an IPv6 literal in brackets); no user info.
    pub(crate) authority: String,
    /// The request target, `/RPC2` unless the URL names one.
    pub(crate) path: String,
    /// `Basic base64(user:password)` when the URL has user info.
    authorization: Option<String>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("authority", &self.authority)
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
    /// Parses `http://[user[:password]@]host[:port][/path][?query]`: the port
    /// defaults to 80, the path to `/RPC2`; a fragment is dropped.
    pub(crate) fn parse(url: &str) -> Result<Target, ClientError> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("no scheme (expected http://host[:port]/path)"))?;
        if scheme.eq_ignore_ascii_case("https") {
            return Err(bad("https is not supported (no TLS); use http://"));
        }
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(bad("unsupported scheme (only http://)"));
        }
        let rest = rest.split('#').next().unwrap_or("");
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        let path = match path {
            "" => "/RPC2".to_string(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_string(),
        };
        Target::from_authority(authority, &path)
    }

    /// `[user[:password]@]host[:port]` (what Python's `Transport.request`
    /// takes as `host`) and a path.
    pub(crate) fn from_authority(authority: &str, path: &str) -> Result<Target, ClientError> {
        // The path goes into the request line as it is: nothing that could
        // end the line or the target.
        if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(bad("space or control character in the path"));
        }
        // User info cannot hold a raw '@' (RFC 3986), so the last one ends it.
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let authorization = userinfo.map(basic_authorization).transpose()?;
        let (host, port) = split_host_port(hostport)?;
        let authority = match host.parse::<Ipv6Addr>() {
            Ok(_) => format!("[{host}]:{port}"),
            Err(_) => format!("{host}:{port}"),
        };
        Ok(Target {
            host,
            port,
            authority,
            path: path.to_string(),
            authorization,
        })
    }

    /// The addresses to try, in order. An IP literal is used as it is,
    /// without asking the resolver; a name goes to the system resolver,
    /// which blocks.
    pub(crate) fn addresses(&self) -> io::Result<Vec<SocketAddr>> {
        match self.literal_address() {
            Some(addr) => Ok(vec![addr]),
            None => self.resolved(self.lookup()),
        }
    }

    /// The address, when the host is an IP literal (no lookup needed).
    pub(crate) fn literal_address(&self) -> Option<SocketAddr> {
        let ip = self.host.parse::<IpAddr>().ok()?;
        Some(SocketAddr::new(ip, self.port))
    }

    /// Asks the system resolver (getaddrinfo: blocks), as it answers.
    pub(crate) fn lookup(&self) -> io::Result<Vec<SocketAddr>> {
        Ok((self.host.as_str(), self.port).to_socket_addrs()?.collect())
    }

    /// A lookup's answer as the clients report it: an error names the
    /// host, and no address at all is an error too.
    pub(crate) fn resolved(
        &self,
        answer: io::Result<Vec<SocketAddr>>,
    ) -> io::Result<Vec<SocketAddr>> {
        let addrs = answer
            .map_err(|e| io::Error::new(e.kind(), format!("cannot resolve {}: {e}", self.host)))?;
        if addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} has no address", self.host),
            ));
        }
        Ok(addrs)
    }

    /// The HTTP/1.1 request posting `body`, with the credentials if any.
    pub(crate) fn request(&self, user_agent: &str, body: &[u8]) -> Vec<u8> {
        let mut request = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {user_agent}\r\n\
             Content-Type: text/xml\r\nAccept-Encoding: gzip\r\nContent-Length: {}\r\n",
            self.path,
            self.authority,
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
fn split_host_port(hostport: &str) -> Result<(String, u16), ClientError> {
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
        None | Some("") => 80,
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
        (t.authority, t.path)
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
        assert_eq!((t.host.as_str(), t.port), ("::1", 9000));
        assert_eq!(
            t.addresses().unwrap(),
            vec!["[::1]:9000".parse::<SocketAddr>().unwrap()]
        );
    }

    #[test]
    fn bad_urls_name_the_problem() {
        assert!(error("https://x/").contains("https is not supported"));
        assert!(error("ftp://x/").contains("unsupported scheme"));
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
        assert_eq!(t.authority, "127.0.0.1:8");
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
}
