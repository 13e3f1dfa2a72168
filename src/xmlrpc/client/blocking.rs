//! The blocking client: Python's `xmlrpclib.ServerProxy`/`Transport`, and
//! `dumps`/`loads`.
//!
//! ```no_run
//! use medusa::xmlrpc::{Client, Value};
//!
//! let mut client = Client::new("http://127.0.0.1:8182/RPC2")?;
//! let answer = client.call("add", vec![Value::Int(40), Value::Int(2)])?;
//! println!("The answer is: {answer}");
//! # Ok::<(), medusa::xmlrpc::ClientError>(())
//! ```
//!
//! The URL may also name a Unix-domain socket: `unix:///run/app.sock`
//! (see [`Client::new`]).
//!
//! Like Python's client it speaks HTTP/1.1, keeps the connection alive
//! between calls, sends `Accept-Encoding: gzip`, and retries a call once
//! when a kept-alive connection turns out to have been closed by the server
//! (a stale connection fails before any byte of the answer arrives; then
//! the request cannot have been processed... unless it was: XML-RPC calls
//! are assumed safe to retry once, as Python assumes).
//!
//! The recipe's lower level is here too: [`Transport::request`] takes a
//! host, a path and a body made by [`dumps`], and returns the response's
//! values, as `xmlrpclib.Transport.request` does.

// Peer-controlled sizes and counts: arithmetic here must say what happens
// at the edges (checked, saturating), never wrap silently in release.
#![warn(clippy::arithmetic_side_effects)]

use std::fmt;
use std::io::{self, BufRead, BufReader, Write};
use std::time::Duration;

use super::answer::{
    decode_answer, response_reader, response_xml, unreadable, DEFAULT_MAX_RESPONSE_BYTES,
    USER_AGENT,
};
use super::error::ClientError;
use super::tls::TlsConfig;
use super::url::Target;
use crate::http::codec::ResponseHead;
use crate::xmlrpc::decode::{decode_call, decode_response, DecodeLimits};
use crate::xmlrpc::encode::{encode_call, EncodeError, EncodeOptions};
use crate::xmlrpc::fault::Fault;
use crate::xmlrpc::value::Value;

/// Python's `xmlrpclib.dumps(params, methodname)`: the body of a call.
pub fn dumps(params: &[Value], method: &str) -> Result<Vec<u8>, EncodeError> {
    encode_call(method, params, &EncodeOptions::default())
}

/// Python's `xmlrpclib.loads(data)`: the values of a call or a response,
/// with the method name for a call. A fault response is `Err`.
pub fn loads(body: &[u8]) -> Result<(Vec<Value>, Option<String>), Fault> {
    let limits = DecodeLimits::default();
    let head = &body[..body.len().min(512)];
    if head.windows(11).any(|w| w == b"<methodCall") {
        let call = decode_call(body, &limits)?;
        return Ok((call.params, Some(call.method)));
    }
    let value = decode_response(body, &limits)??;
    Ok((vec![value], None))
}

use super::socket::Socket;

/// A kept-alive connection to one server.
struct Connection {
    /// The server's key (`host:port` or `unix:/path`), without user info.
    key: String,
    /// Read through the buffer, written through `get_mut` (one object:
    /// TLS cannot be split into a reader and a writer).
    stream: BufReader<Socket>,
}

/// Python's `xmlrpclib.Transport`: sends bodies over HTTP/1.1 and keeps the
/// connection for the next request to the same host.
pub struct Transport {
    connection: Option<Connection>,
    timeout: Option<Duration>,
    user_agent: String,
    max_response_bytes: usize,
    tls: TlsConfig,
}

impl Default for Transport {
    fn default() -> Transport {
        Transport::new()
    }
}

impl Transport {
    /// A transport with a 30-second timeout for connecting, sending and
    /// each read.
    pub fn new() -> Transport {
        Transport {
            connection: None,
            timeout: Some(Duration::from_secs(30)),
            user_agent: USER_AGENT.to_string(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            tls: TlsConfig::default(),
        }
    }

    /// Whose certificates `https://` servers must have (default: the
    /// system's roots); e.g. `transport.tls_mut().add_ca_file(path)`.
    pub fn tls_mut(&mut self) -> &mut TlsConfig {
        self.connection = None;
        &mut self.tls
    }

    /// Sets the largest response accepted, as sent and once gunzipped
    /// (default 10 MiB, as [`AsyncClientConfig`](crate::xmlrpc::AsyncClientConfig)).
    pub fn set_max_response_bytes(&mut self, limit: usize) {
        self.max_response_bytes = limit;
    }

    /// Sets the timeout (`None`: wait forever).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
        self.connection = None;
    }

    /// Python's `Transport.request(host, handler, request_body)`: posts
    /// `body` to `path` on `host` (`"host:port"`, or `"user:password@host:port"`
    /// for Basic auth) and returns the values of the response (one, for a
    /// successful call).
    pub fn request(
        &mut self,
        host: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Vec<Value>, ClientError> {
        let xml = self.post(host, path, body)?;
        Ok(vec![decode_answer(&xml, self.max_response_bytes)?])
    }

    /// Posts `body` and returns the response body (gunzipped), retrying
    /// once on a stale kept-alive connection. `host` as for
    /// [`request`](Transport::request).
    pub fn post(&mut self, host: &str, path: &str, body: &[u8]) -> Result<Vec<u8>, ClientError> {
        self.post_to(&Target::from_authority(host, path)?, body)
    }

    fn post_to(&mut self, target: &Target, body: &[u8]) -> Result<Vec<u8>, ClientError> {
        let reused = matches!(&self.connection, Some(c) if c.key == target.key);
        match self.post_once(target, body) {
            Err(Attempt::Stale(e)) if reused => {
                log::debug!("stale connection to {} ({e}); retrying once", target.key);
                self.connection = None;
                self.post_once(target, body).map_err(Attempt::into_error)
            }
            other => other.map_err(Attempt::into_error),
        }
    }

    fn connect(&mut self, target: &Target) -> Result<&mut Connection, ClientError> {
        if !matches!(&self.connection, Some(c) if c.key == target.key) {
            self.connection = None;
            let mut last = None;
            let mut socket = None;
            for addr in target.addresses()? {
                match Socket::connect(&addr, self.timeout) {
                    Ok(s) => {
                        socket = Some(s);
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            let socket = match (socket, last) {
                (Some(socket), _) => socket,
                (None, Some(e)) => return Err(e.into()),
                (None, None) => unreachable!("addresses() is never empty"),
            };
            let socket = match target.secure {
                true => socket.secure(target, &mut self.tls)?,
                false => socket,
            };
            self.connection = Some(Connection {
                key: target.key.clone(),
                stream: BufReader::new(socket),
            });
        }
        Ok(self.connection.as_mut().expect("connected above"))
    }

    fn post_once(&mut self, target: &Target, body: &[u8]) -> Result<Vec<u8>, Attempt> {
        let (limit, timeout) = (self.max_response_bytes, self.timeout);
        let request = target.request(&self.user_agent, body);
        let connection = self.connect(target).map_err(Attempt::Failed)?;
        // A write or an empty read on a reused connection means the server
        // closed it while idle: stale, safe to retry. A write that timed
        // out is not: the server is there, only slow.
        let written = connection.stream.get_mut().write_all(&request);
        written.map_err(|e| match timed_out(e, timeout, "sending the request") {
            e if e.kind() == io::ErrorKind::TimedOut => Attempt::Failed(e.into()),
            e => Attempt::Stale(e),
        })?;
        let result = read_response(&mut connection.stream, limit, timeout);
        if !matches!(&result, Ok((head, _)) if head.keep_alive()) {
            self.connection = None;
        }
        let (head, body) = result?;
        response_xml(&head, body, limit).map_err(Attempt::Failed)
    }
}

/// How one attempt failed: `Stale` may be retried on a fresh connection.
enum Attempt {
    Stale(io::Error),
    Failed(ClientError),
}

impl Attempt {
    fn into_error(self) -> ClientError {
        match self {
            Attempt::Stale(e) => ClientError::Io(e),
            Attempt::Failed(e) => e,
        }
    }
}

/// Reads one response with the codec, straight from the socket's buffer.
/// A kept-alive connection the server closed fails before the first byte:
/// that is `Stale`.
fn read_response(
    stream: &mut impl BufRead,
    limit: usize,
    timeout: Option<Duration>,
) -> Result<(ResponseHead, Vec<u8>), Attempt> {
    let mut reader = response_reader(limit);
    let mut got_any = false;
    loop {
        let data = match stream.fill_buf() {
            Ok(data) => data,
            Err(e) if !got_any && e.kind() == io::ErrorKind::ConnectionReset => {
                return Err(Attempt::Stale(e))
            }
            Err(e) => {
                let e = timed_out(e, timeout, "waiting for the response");
                return Err(Attempt::Failed(e.into()));
            }
        };
        if data.is_empty() {
            if !got_any {
                return Err(Attempt::Stale(io::ErrorKind::UnexpectedEof.into()));
            }
            reader
                .end_of_input()
                .map_err(|e| Attempt::Failed(unreadable(e, limit)))?;
            return reader.take_message().ok_or_else(|| {
                Attempt::Failed(ClientError::Protocol("connection closed early".into()))
            });
        }
        got_any = true;
        let (used, event) = reader
            .feed(data)
            .map_err(|e| Attempt::Failed(unreadable(e, limit)))?;
        stream.consume(used);
        if event.is_some() {
            if let Some(message) = reader.take_message() {
                return Ok(message);
            }
        }
    }
}

/// A blocking socket's read or write timeout running out is `WouldBlock`
/// (EAGAIN) on Unix, whose text, "Resource temporarily unavailable", hides
/// what happened: it becomes `TimedOut`, "timed out after 500ms waiting
/// for the response" (`doing` says which). Other errors pass unchanged.
fn timed_out(e: io::Error, timeout: Option<Duration>, doing: &str) -> io::Error {
    match (e.kind(), timeout) {
        (io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut, Some(t)) => io::Error::new(
            io::ErrorKind::TimedOut,
            format!("timed out after {t:?} {doing}"),
        ),
        _ => e,
    }
}

/// Python's `ServerProxy`, with one explicit `call` method.
pub struct Client {
    target: Target,
    transport: Transport,
    encode: EncodeOptions,
}

/// Shows where the client points, never its credentials.
impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `url`:
    ///
    /// - `http://[user[:password]@]host[:port][/path]`: the path defaults
    ///   to `/RPC2`, the port to 80;
    /// - `unix:///path/to/socket` (Unix only): an HTTP server on a
    ///   Unix-domain socket, as supervisor's `unix:///var/run/supervisor.sock`;
    ///   the request path is always `/RPC2` and `Host` is `localhost`;
    /// - `http+unix://%2Fpath%2Fto%2Fsocket[/path]` (Unix only): the same
    ///   socket with any request path (default `/RPC2`), the socket's path
    ///   %-encoded where the host goes, as requests-unixsocket spells it.
    ///
    /// User info (`unix://user:password@/path/to/socket`, %-escaped as in
    /// any URL) is sent as HTTP Basic credentials with every call. A URL
    /// that cannot be used is a [`ClientError::Url`], naming what is wrong
    /// without repeating the URL.
    ///
    /// ```no_run
    /// # #[cfg(unix)] {
    /// use medusa::xmlrpc::{Client, Value};
    ///
    /// let mut client = Client::new("unix:///run/app.sock")?;
    /// let answer = client.call("add", vec![Value::Int(40), Value::Int(2)])?;
    /// # }
    /// # Ok::<(), medusa::xmlrpc::ClientError>(())
    /// ```
    pub fn new(url: &str) -> Result<Client, ClientError> {
        Ok(Client {
            target: Target::parse(url)?,
            transport: Transport::new(),
            encode: EncodeOptions::default(),
        })
    }

    /// Sets the timeout for connecting, sending and each read.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.transport.set_timeout(timeout);
    }

    /// Whose certificates an `https://` server must have: the system's
    /// roots unless told (`client.tls_mut().add_ca_file(path)` for a
    /// private CA). The certificate must name the URL's host.
    pub fn tls_mut(&mut self) -> &mut TlsConfig {
        self.transport.tls_mut()
    }

    /// Sets the largest response accepted, as sent and once gunzipped
    /// (default 10 MiB); a larger one fails with "response too large".
    pub fn set_max_response_bytes(&mut self, limit: usize) {
        self.transport.set_max_response_bytes(limit);
    }

    /// Sets what the encoder may send (turn `<nil/>`/`<i8>` off for strict
    /// servers).
    pub fn set_encode_options(&mut self, options: EncodeOptions) {
        self.encode = options;
    }

    /// Sends HTTP Basic credentials with every call (instead of any the
    /// URL carried), taken as they are, without %-decoding.
    pub fn set_credentials(&mut self, user: &str, password: &str) {
        self.target.set_credentials(user, password);
    }

    /// Calls `method` with `params`: the result, or why there is none.
    pub fn call(&mut self, method: &str, params: Vec<Value>) -> Result<Value, ClientError> {
        let xml = self.call_raw(method, &params)?;
        decode_answer(&xml, self.transport.max_response_bytes)
    }

    /// Calls `method` and returns the `methodResponse` document as it came
    /// (gunzipped), undecoded: for tools that show the wire.
    pub fn call_raw(&mut self, method: &str, params: &[Value]) -> Result<Vec<u8>, ClientError> {
        let body = encode_call(method, params, &self.encode).map_err(ClientError::Encode)?;
        self.transport.post_to(&self.target, &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dumps_and_loads_round_trip() {
        let body = dumps(&[Value::Int(40), Value::Int(2)], "add").unwrap();
        let (params, method) = loads(&body).unwrap();
        assert_eq!(
            (params, method.as_deref()),
            (vec![Value::Int(40), Value::Int(2)], Some("add"))
        );
    }
}
