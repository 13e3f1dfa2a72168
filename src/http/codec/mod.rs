//! The HTTP/1.1 message codec, with no socket: bytes in, heads and bodies
//! out, in the spirit of httparse itself or rustls' `ServerConnection`.
//!
//! One [`MessageReader`] reads requests for the server channel and
//! responses for both clients, so the framing rules (heads, bodies by
//! `Content-Length`, chunked or close-delimited, trailers, every limit)
//! are written and tested once. It speaks asynchat's contract: it names
//! the [`Terminator`](crate::chat::Terminator) it wants, takes
//! `collect_incoming_data` and `found_terminator`, and so sits under an
//! [`AsyncChat`](crate::chat::AsyncChat) channel as it is; a blocking
//! reader drives it with [`MessageReader::feed`] instead.
//!
//! | file | concept |
//! | --- | --- |
//! | `reader.rs` | the message reader's phases and limits |
//! | `request_head.rs` | a request head: Host, target, framing rules |
//! | `response_head.rs` | a response head, as a client reads it |
//! | `framing.rs` | where a body ends: `Content-Length`, chunk sizes, the rules |
//! | `gzip.rs` | content coding: the one bounded gunzip |
//! | `percent.rs` | `%XX` escapes in targets and URLs |

mod framing;
mod gzip;
mod percent;
mod reader;
mod request_head;
mod response_head;

pub use framing::{body_framing, chunk_size, content_length, BodyFraming, Role};
pub use gzip::{content_decoded, gunzip, gzip, GunzipError, GunzipLimits, DEFAULT_GZIP_MEMBERS};
pub use percent::percent_decode;
pub use reader::{Event, MessageReader};
pub(crate) use request_head::{parse_head, parse_terminated_head};
pub use response_head::ResponseHead;

use super::{HttpError, Version};

/// The limits a [`MessageReader`] enforces; each is checked before the
/// bytes it guards are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageLimits {
    /// Largest head, in bytes (431 for a request beyond it).
    pub max_head_bytes: usize,
    /// Most header fields (431).
    pub max_headers: usize,
    /// Largest body as sent, in bytes (413).
    pub max_body_bytes: u64,
}

/// A message head the reader can parse: a request's or a response's.
pub trait Head: Sized {
    /// `"request"` or `"response"`, for error messages.
    const NAME: &'static str;

    /// Parses a head that ends with its blank line (`\r\n\r\n`), and says
    /// how its body is framed. `Ok(None)` for an interim (1xx) response,
    /// which the real one follows.
    fn parse(head: &[u8], limits: &MessageLimits)
        -> Result<Option<(Self, BodyFraming)>, HttpError>;

    /// The head's protocol version.
    fn version(&self) -> Version;
}

/// The first field called `name` (case-insensitive) of `fields`.
pub(crate) fn header<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Whether the comma-separated fields called `name` list `token`.
pub(crate) fn has_token(fields: &[(String, String)], name: &str, token: &str) -> bool {
    fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Medusa's persistence rule, for requests and responses alike: 1.1 stays
/// open unless `Connection: close`; 1.0 only with `Connection: keep-alive`.
pub(crate) fn persistent(version: Version, fields: &[(String, String)]) -> bool {
    match version {
        Version::Http11 => !has_token(fields, "Connection", "close"),
        Version::Http10 => has_token(fields, "Connection", "keep-alive"),
    }
}
