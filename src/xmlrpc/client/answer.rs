//! What both clients make of a response: the limits they read it within,
//! and the XML-RPC answer in it (status, content coding, document).

use crate::http::codec::{MessageReader, ResponseHead};
use crate::http::{GunzipLimits, HttpError, MessageLimits, DEFAULT_GZIP_MEMBERS};
use crate::xmlrpc::decode::{decode_response, DecodeLimits};
use crate::xmlrpc::value::Value;

use super::error::ClientError;

/// The largest response either client accepts unless told otherwise: the
/// HTTP server's default body limit.
pub(crate) const DEFAULT_MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;

/// What both clients send as `User-Agent`.
pub(crate) const USER_AGENT: &str = concat!("medusa-xmlrpc/", env!("CARGO_PKG_VERSION"));

/// Largest response head a client reads.
const MAX_HEAD: usize = 64 * 1024;

/// A reader for responses of at most `limit` body bytes.
pub(crate) fn response_reader(limit: usize) -> MessageReader<ResponseHead> {
    MessageReader::new(MessageLimits {
        max_head_bytes: MAX_HEAD,
        max_headers: 64,
        max_body_bytes: u64::try_from(limit).unwrap_or(u64::MAX),
    })
}

/// The failure of a response over `limit` bytes, as sent or inflated.
pub(crate) fn too_large(limit: usize) -> ClientError {
    ClientError::Protocol(format!(
        "response too large (over the limit of {limit} bytes)"
    ))
}

/// A response the codec could not read, as the caller sees it.
pub(crate) fn unreadable(error: HttpError, limit: usize) -> ClientError {
    match error.status {
        413 => too_large(limit),
        _ => ClientError::Protocol(error.detail),
    }
}

/// The XML of a 2xx response: its body with the content coding undone, at
/// most `limit` bytes either way.
pub(crate) fn response_xml(
    head: &ResponseHead,
    body: Vec<u8>,
    limit: usize,
) -> Result<Vec<u8>, ClientError> {
    if !(200..300).contains(&head.status) {
        return Err(ClientError::Http {
            status: head.status,
            reason: head.reason.clone(),
        });
    }
    let limits = GunzipLimits {
        max_output: u64::try_from(limit).unwrap_or(u64::MAX),
        max_members: DEFAULT_GZIP_MEMBERS,
    };
    match head.decoded_body(&body, limits) {
        // Not encoded: the body itself, already within the limit.
        Ok(std::borrow::Cow::Borrowed(_)) => Ok(body),
        Ok(std::borrow::Cow::Owned(xml)) => Ok(xml),
        Err(error) => Err(unreadable(error, limit)),
    }
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
