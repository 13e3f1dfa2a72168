//! Content coding: which `Content-Encoding` a body has, and the bounded
//! gunzip, the one place a gzip body (a request's, or a response a client
//! receives) is inflated.
//!
//! A gzip stream may be several members back to back (RFC 1952 §2.2), and
//! each member costs a fresh inflate state whatever its size: 524,083
//! empty 20-byte members (10 MiB) held the loop for seconds where a plain
//! 10 MiB body costs milliseconds. So the work is bounded three ways: the
//! input is the already-limited body, the output stops one byte past
//! `max_output`, and at most `max_members` members are read.

use std::borrow::Cow;
use std::io::{Read, Write};

use flate2::bufread::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use super::header;
use crate::http::HttpError;

/// Limits of one [`gunzip`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GunzipLimits {
    /// Largest inflated size, in bytes.
    pub max_output: u64,
    /// Most gzip members in one stream. Real clients send one.
    pub max_members: usize,
}

/// Members a stream may have unless configured otherwise.
pub const DEFAULT_GZIP_MEMBERS: usize = 16;

/// Why a gzip stream was not inflated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GunzipError {
    /// It inflates to more than `max_output` bytes.
    TooLarge {
        /// The `max_output` exceeded.
        limit: u64,
    },
    /// It has more than `max_members` members.
    TooManyMembers {
        /// The `max_members` exceeded.
        limit: usize,
    },
    /// It is not a valid gzip stream (bad header, data, CRC or length,
    /// truncated, or trailing bytes that are not a member).
    Corrupt(String),
}

impl GunzipError {
    /// The HTTP status for a request body that fails this way: 413 for an
    /// exceeded limit, 400 for a corrupt stream.
    pub fn status(&self) -> u16 {
        match self {
            GunzipError::TooLarge { .. } | GunzipError::TooManyMembers { .. } => 413,
            GunzipError::Corrupt(_) => 400,
        }
    }
}

impl std::fmt::Display for GunzipError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GunzipError::TooLarge { limit } => {
                write!(f, "gzip content inflates to over {limit} bytes")
            }
            GunzipError::TooManyMembers { limit } => {
                write!(f, "gzip content has over {limit} members")
            }
            GunzipError::Corrupt(e) => write!(f, "error decoding gzip content: {e}"),
        }
    }
}

impl std::error::Error for GunzipError {}

/// `body` with the `Content-Encoding` of `fields` undone: gzip or x-gzip
/// inflated within `limits`, identity (or none) as it is. Errors carry
/// their status: 400 corrupt, 413 over a limit, 501 a coding not
/// supported (as Python's `SimpleXMLRPCServer` answers).
pub fn content_decoded<'a>(
    fields: &[(String, String)],
    body: &'a [u8],
    limits: GunzipLimits,
) -> Result<Cow<'a, [u8]>, HttpError> {
    match header(fields, "Content-Encoding").map(str::trim) {
        None | Some("") => Ok(Cow::Borrowed(body)),
        Some(c) if c.eq_ignore_ascii_case("identity") => Ok(Cow::Borrowed(body)),
        Some(c) if c.eq_ignore_ascii_case("gzip") || c.eq_ignore_ascii_case("x-gzip") => {
            gunzip(body, limits)
                .map(Cow::Owned)
                .map_err(|e| HttpError::new(e.status(), &e.to_string()))
        }
        Some(other) => Err(HttpError::new(
            501,
            &format!("unsupported Content-Encoding {other:?}"),
        )),
    }
}

/// Compresses `data` as one gzip member, fast (a response is sent once).
pub fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let capacity = (data.len() / 4).saturating_add(64);
    let mut encoder = GzEncoder::new(Vec::with_capacity(capacity), Compression::fast());
    encoder.write_all(data)?;
    encoder.finish()
}

/// Inflates `data`, every member of it, within `limits`.
pub fn gunzip(data: &[u8], limits: GunzipLimits) -> Result<Vec<u8>, GunzipError> {
    let mut out = Vec::new();
    let mut rest = data;
    let mut members = 0usize;
    // An empty body is an empty stream of members, as MultiGzDecoder has it.
    while !rest.is_empty() {
        if members == limits.max_members {
            return Err(GunzipError::TooManyMembers {
                limit: limits.max_members,
            });
        }
        members = members.saturating_add(1);
        let held = u64::try_from(out.len()).unwrap_or(u64::MAX);
        // One byte more than the room left: reading it proves "too large"
        // without inflating further.
        let room = limits.max_output.saturating_sub(held).saturating_add(1);
        let mut decoder = GzDecoder::new(rest);
        let read = (&mut decoder).take(room).read_to_end(&mut out);
        if let Err(e) = read {
            return Err(GunzipError::Corrupt(e.to_string()));
        }
        if u64::try_from(out.len()).unwrap_or(u64::MAX) > limits.max_output {
            return Err(GunzipError::TooLarge {
                limit: limits.max_output,
            });
        }
        // The bufread decoder consumes exactly its member: what is left
        // is the next one.
        rest = decoder.into_inner();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    const ROOMY: GunzipLimits = GunzipLimits {
        max_output: 1 << 20,
        max_members: 16,
    };

    #[test]
    fn inflates_one_member_and_several() {
        assert_eq!(gunzip(&gzip(b"hello"), ROOMY).unwrap(), b"hello");
        let two = [gzip(b"hel"), gzip(b"lo")].concat();
        assert_eq!(gunzip(&two, ROOMY).unwrap(), b"hello");
        assert_eq!(gunzip(b"", ROOMY).unwrap(), b"");
    }

    #[test]
    fn output_is_limited_exactly() {
        let data = vec![b'a'; 1000];
        let limits = |max_output| GunzipLimits {
            max_output,
            max_members: 16,
        };
        assert_eq!(gunzip(&gzip(&data), limits(1000)).unwrap().len(), 1000);
        assert_eq!(
            gunzip(&gzip(&data), limits(999)),
            Err(GunzipError::TooLarge { limit: 999 })
        );
        // Across members too.
        let two = [gzip(&data[..600]), gzip(&data[600..])].concat();
        assert_eq!(
            gunzip(&two, limits(999)),
            Err(GunzipError::TooLarge { limit: 999 })
        );
    }

    #[test]
    fn members_are_limited() {
        let empty = gzip(b"");
        let many = empty.repeat(17);
        assert_eq!(
            gunzip(&many, ROOMY),
            Err(GunzipError::TooManyMembers { limit: 16 })
        );
        assert_eq!(gunzip(&empty.repeat(16), ROOMY).unwrap(), b"");
    }

    #[test]
    fn corrupt_and_trailing_junk_are_refused() {
        let mut bad = gzip(b"hello");
        let n = bad.len();
        bad[n - 5] ^= 1; // CRC
        assert!(matches!(gunzip(&bad, ROOMY), Err(GunzipError::Corrupt(_))));
        let junk = [gzip(b"hello"), b"junk".to_vec()].concat();
        assert!(matches!(gunzip(&junk, ROOMY), Err(GunzipError::Corrupt(_))));
        let cut = gzip(b"hello");
        assert!(matches!(
            gunzip(&cut[..cut.len() - 3], ROOMY),
            Err(GunzipError::Corrupt(_))
        ));
        assert_eq!(GunzipError::Corrupt(String::new()).status(), 400);
        assert_eq!(GunzipError::TooLarge { limit: 1 }.status(), 413);
    }
}
