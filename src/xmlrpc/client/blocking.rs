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

use crate::http::{
    chunk_size, content_length, gunzip, GunzipError, GunzipLimits, DEFAULT_GZIP_MEMBERS,
};
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::url::Target;
use crate::xmlrpc::decode::{decode_call, decode_response, DecodeLimits};
use crate::xmlrpc::encode::{encode_call, EncodeError, EncodeOptions};
use crate::xmlrpc::fault::Fault;
use crate::xmlrpc::value::Value;

/// The largest response either client accepts unless told otherwise: the
/// HTTP server's default body limit.
pub(crate) const DEFAULT_MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;

/// The failure of a response over `limit` bytes, as sent or inflated.
pub(crate) fn too_large(limit: usize) -> ClientError {
    ClientError::Protocol(format!(
        "response too large (over the limit of {limit} bytes)"
    ))
}

/// A response body as XML: inflated if `gzip`, and either way at most
/// `limit` bytes.
pub(crate) fn inflate_within(
    body: Vec<u8>,
    gzip: bool,
    limit: usize,
) -> Result<Vec<u8>, ClientError> {
    if !gzip {
        return if body.len() > limit {
            Err(too_large(limit))
        } else {
            Ok(body)
        };
    }
    let limits = GunzipLimits {
        max_output: u64::try_from(limit).unwrap_or(u64::MAX),
        max_members: DEFAULT_GZIP_MEMBERS,
    };
    gunzip(&body, limits).map_err(|e| match e {
        GunzipError::TooLarge { .. } => too_large(limit),
        other => ClientError::Protocol(format!("bad gzip body: {other}")),
    })
}

/// The value of a `methodResponse` of at most `limit` bytes: the decoder's
/// size limit is the response limit (its other limits stay the defaults).
pub(crate) fn decode_answer(xml: &[u8], limit: usize) -> Result<Value, ClientError> {
    let limits = DecodeLimits {
        max_size: limit,
        ..DecodeLimits::default()
    };
    decode_response(xml, &limits)
        .map_err(|fault| ClientError::Protocol(fault.message))?
        .map_err(ClientError::Fault)
}

/// What both clients send as `User-Agent`.
pub(crate) const USER_AGENT: &str = concat!("medusa-xmlrpc/", env!("CARGO_PKG_VERSION"));

/// Largest response head the client reads.
const MAX_HEAD: usize = 64 * 1024;

/// What can go wrong with a call.
#[derive(Debug)]
pub enum ClientError {
    /// The server answered with a fault.
    Fault(Fault),
    /// The server answered with an HTTP error status.
    Http {
        /// The status code.
        status: u16,
        /// The reason phrase.
        reason: String,
    },
    /// The answer could not be read as HTTP or XML-RPC.
    Protocol(String),
    /// The URL is not one the client can use; the message names the part
    /// that is wrong (and never repeats the URL, which may hold a password).
    Url(String),
    /// The parameters could not be encoded.
    Encode(EncodeError),
    /// Connecting, sending or receiving failed (timeouts included).
    Io(io::Error),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Fault(fault) => write!(f, "{fault}"),
            ClientError::Http { status, reason } => write!(f, "HTTP error {status} {reason}"),
            ClientError::Protocol(message) => write!(f, "protocol error: {message}"),
            ClientError::Url(problem) => write!(f, "bad URL: {problem}"),
            ClientError::Encode(e) => write!(f, "cannot encode the call: {e}"),
            ClientError::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> ClientError {
        ClientError::Io(e)
    }
}

impl From<Fault> for ClientError {
    fn from(fault: Fault) -> ClientError {
        ClientError::Fault(fault)
    }
}

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

/// A kept-alive connection to one host.
struct Connection {
    /// `host:port`, without user info.
    authority: String,
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

/// Python's `xmlrpclib.Transport`: sends bodies over HTTP/1.1 and keeps the
/// connection for the next request to the same host.
pub struct Transport {
    connection: Option<Connection>,
    timeout: Option<Duration>,
    user_agent: String,
    max_response_bytes: usize,
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
        }
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
        let reused = matches!(&self.connection, Some(c) if c.authority == target.authority);
        match self.post_once(target, body) {
            Err(Attempt::Stale(e)) if reused => {
                log::debug!(
                    "stale connection to {} ({e}); retrying once",
                    target.authority
                );
                self.connection = None;
                self.post_once(target, body).map_err(Attempt::into_error)
            }
            other => other.map_err(Attempt::into_error),
        }
    }

    fn connect(&mut self, target: &Target) -> io::Result<&mut Connection> {
        if !matches!(&self.connection, Some(c) if c.authority == target.authority) {
            self.connection = None;
            let mut last = None;
            let mut stream = None;
            for addr in target.addresses()? {
                let attempt = match self.timeout {
                    Some(t) => TcpStream::connect_timeout(&addr, t),
                    None => TcpStream::connect(addr),
                };
                match attempt {
                    Ok(s) => {
                        stream = Some(s);
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            let stream = match (stream, last) {
                (Some(stream), _) => stream,
                (None, Some(e)) => return Err(e),
                (None, None) => unreachable!("addresses() is never empty"),
            };
            stream.set_nodelay(true)?;
            stream.set_read_timeout(self.timeout)?;
            stream.set_write_timeout(self.timeout)?;
            self.connection = Some(Connection {
                authority: target.authority.clone(),
                reader: BufReader::new(stream.try_clone()?),
                writer: stream,
            });
        }
        Ok(self.connection.as_mut().expect("connected above"))
    }

    fn post_once(&mut self, target: &Target, body: &[u8]) -> Result<Vec<u8>, Attempt> {
        let limit = self.max_response_bytes;
        let request = target.request(&self.user_agent, body);
        let connection = self
            .connect(target)
            .map_err(|e| Attempt::Failed(e.into()))?;
        // A write or an empty read on a reused connection means the server
        // closed it while idle: stale, safe to retry.
        connection
            .writer
            .write_all(&request)
            .map_err(Attempt::Stale)?;
        let head = read_head(&mut connection.reader)?;
        let result = read_body(&mut connection.reader, &head, limit);
        if result.is_err() || !head.keep_alive {
            self.connection = None;
        }
        let body = result.map_err(Attempt::Failed)?;
        if !(200..300).contains(&head.status) {
            return Err(Attempt::Failed(ClientError::Http {
                status: head.status,
                reason: head.reason,
            }));
        }
        inflate_within(body, head.gzip, limit).map_err(Attempt::Failed)
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

/// The parts of a response head the client needs.
struct Head {
    status: u16,
    reason: String,
    length: Option<u64>,
    chunked: bool,
    gzip: bool,
    keep_alive: bool,
}

fn read_head(reader: &mut BufReader<TcpStream>) -> Result<Head, Attempt> {
    let mut raw = Vec::new();
    loop {
        let before = raw.len();
        let n = reader.read_until(b'\n', &mut raw);
        match n {
            Ok(0) if before == 0 => {
                return Err(Attempt::Stale(io::ErrorKind::UnexpectedEof.into()))
            }
            Err(e) if before == 0 && e.kind() == io::ErrorKind::ConnectionReset => {
                return Err(Attempt::Stale(e))
            }
            Ok(0) => {
                return Err(Attempt::Failed(ClientError::Protocol(
                    "connection closed inside the response head".into(),
                )))
            }
            Ok(_) => {}
            Err(e) => return Err(Attempt::Failed(e.into())),
        }
        if raw.len() > MAX_HEAD {
            return Err(Attempt::Failed(ClientError::Protocol(
                "response head too large".into(),
            )));
        }
        if raw.ends_with(b"\r\n\r\n") || raw.ends_with(b"\n\n") {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&raw) {
                Ok(httparse::Status::Complete(_)) => {}
                _ => {
                    return Err(Attempt::Failed(ClientError::Protocol(
                        "malformed response head".into(),
                    )))
                }
            }
            // Interim 1xx responses (100 Continue) precede the real one.
            if response.code.is_some_and(|c| (100..200).contains(&c)) {
                raw.clear();
                continue;
            }
            return head_from(&response).map_err(Attempt::Failed);
        }
    }
}

fn head_from(response: &httparse::Response<'_, '_>) -> Result<Head, ClientError> {
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(str::trim)
    };
    let length = match header("Content-Length") {
        Some(v) => Some(
            content_length(v)
                .ok_or_else(|| ClientError::Protocol(format!("bad Content-Length {v:?}")))?,
        ),
        None => None,
    };
    let connection = header("Connection").unwrap_or("").to_ascii_lowercase();
    let http11 = response.version == Some(1);
    Ok(Head {
        status: response.code.unwrap_or(0),
        reason: response.reason.unwrap_or("").to_string(),
        length,
        chunked: header("Transfer-Encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")),
        gzip: header("Content-Encoding").is_some_and(|t| t.eq_ignore_ascii_case("gzip")),
        keep_alive: if http11 {
            !connection.contains("close")
        } else {
            connection.contains("keep-alive")
        },
    })
}

/// The body as sent, at most `limit` bytes.
fn read_body(
    reader: &mut BufReader<TcpStream>,
    head: &Head,
    limit: usize,
) -> Result<Vec<u8>, ClientError> {
    let mut body = Vec::new();
    if head.chunked {
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let size = chunk_size(line.trim_end_matches(['\r', '\n']).as_bytes())
                .ok_or_else(|| ClientError::Protocol("bad chunk size".into()))?;
            if size == 0 {
                // Trailers, up to the blank line.
                loop {
                    line.clear();
                    if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                        return Ok(body);
                    }
                }
            }
            let room = limit.saturating_sub(body.len());
            let size = match usize::try_from(size) {
                Ok(size) if size <= room => size,
                _ => return Err(too_large(limit)),
            };
            let start = body.len();
            // start + size <= limit: cannot wrap.
            body.resize(start.saturating_add(size), 0);
            reader.read_exact(&mut body[start..])?;
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf)?;
        }
    }
    match head.length.map(usize::try_from) {
        Some(Ok(n)) if n <= limit => {
            body.resize(n, 0);
            reader.read_exact(&mut body)?;
            Ok(body)
        }
        Some(_) => Err(too_large(limit)),
        None => {
            // Up to the close; one byte past the limit is enough to refuse.
            reader
                .take((limit as u64).saturating_add(1))
                .read_to_end(&mut body)?;
            if body.len() > limit {
                return Err(too_large(limit));
            }
            Ok(body)
        }
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
    /// A client for `url`: `http://[user[:password]@]host[:port][/path]`.
    /// The path defaults to `/RPC2`, the port to 80; user info (%-escaped
    /// as in any URL) is sent as HTTP Basic credentials with every call.
    /// A URL that cannot be used is a [`ClientError::Url`].
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

    /// Calls `method` with `params`: the result, or why there is none.
    pub fn call(&mut self, method: &str, params: Vec<Value>) -> Result<Value, ClientError> {
        let body = encode_call(method, &params, &self.encode).map_err(ClientError::Encode)?;
        let xml = self.transport.post_to(&self.target, &body)?;
        decode_answer(&xml, self.transport.max_response_bytes)
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
