//! Raw HTTP/1.1 for tests that send bytes by hand: a response reader, and
//! the XML-RPC requests they send.

use std::io::{self, BufRead, Write};

/// One parsed response.
#[derive(Debug)]
pub struct Reply {
    /// `HTTP/1.1` or `HTTP/1.0`, as the status line says.
    pub version: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The start of the body, for failure messages (a body may be
    /// megabytes).
    pub fn brief(&self) -> String {
        self.text().chars().take(300).collect()
    }
}

/// Reads one response: the body by `Content-Length`, chunked, or to the
/// close when neither is given; no body for `head_only` (an answer to HEAD) and
/// for 1xx, 204 and 304.
pub fn read_reply(reader: &mut impl BufRead, head_only: bool) -> io::Result<Reply> {
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let mut parts = line.split_whitespace();
    let version = parts.next().unwrap_or_default().to_string();
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("bad header {line:?}")))?;
        headers.push((name.to_string(), value.trim().to_string()));
    }
    let mut reply = Reply {
        version,
        status,
        headers,
        body: Vec::new(),
    };
    if head_only || status < 200 || [204, 304].contains(&status) {
        return Ok(reply);
    }
    match reply.header("Content-Length") {
        Some(length) => {
            let length = length
                .parse()
                .map_err(|_| bad(format!("bad length {length}")))?;
            reply.body = vec![0; length];
            reader.read_exact(&mut reply.body)?;
        }
        None if reply.header("Transfer-Encoding") == Some("chunked") => loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim(), 16)
                .map_err(|_| bad(format!("bad chunk size {size:?}")))?;
            let mut chunk = vec![0; size.saturating_add(2)];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            reply.body.extend_from_slice(&chunk[..size]);
        },
        None => {
            reader.read_to_end(&mut reply.body)?;
        }
    }
    Ok(reply)
}

/// The bytes of a `POST /RPC2` (`text/xml`) carrying `body`; `extra` is
/// more header lines, each ending in CRLF (`""` for none).
pub fn post(body: &[u8], extra: &str) -> Vec<u8> {
    let mut request = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// `data` gzipped, for `Content-Encoding: gzip` request bodies.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}
