//! A response head, as a client reads it: status, reason, fields, and
//! whether the connection outlives the response.

use std::borrow::Cow;

use super::{body_framing, content_decoded, header, persistent, BodyFraming, Head, MessageLimits};
use super::{GunzipLimits, Role};
use crate::http::{HttpError, Version};

/// Header slots for a response head (a server sends a handful).
const MAX_RESPONSE_HEADERS: usize = 64;

/// The head of a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// Protocol version of the status line.
    pub version: Version,
    /// The status code.
    pub status: u16,
    /// The reason phrase, as sent.
    pub reason: String,
    /// Header fields in order of arrival; names as sent.
    pub headers: Vec<(String, String)>,
    /// The body ends at the close, so the connection cannot be reused.
    pub close_delimited: bool,
}

impl ResponseHead {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// Whether the connection may carry another request after this
    /// response (the persistence rule; never after a close-delimited body).
    pub fn keep_alive(&self) -> bool {
        !self.close_delimited && persistent(self.version, &self.headers)
    }

    /// `body` with its `Content-Encoding` undone, within `limits`.
    pub fn decoded_body<'a>(
        &self,
        body: &'a [u8],
        limits: GunzipLimits,
    ) -> Result<Cow<'a, [u8]>, HttpError> {
        content_decoded(&self.headers, body, limits)
    }
}

impl Head for ResponseHead {
    const NAME: &'static str = "response";

    fn parse(
        head: &[u8],
        limits: &MessageLimits,
    ) -> Result<Option<(ResponseHead, BodyFraming)>, HttpError> {
        let malformed = || HttpError::bad_request("malformed response head");
        let mut slots = [httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
        let slots = &mut slots[..limits.max_headers.min(MAX_RESPONSE_HEADERS)];
        let mut parsed = httparse::Response::new(slots);
        match parsed.parse(head) {
            // As for requests: the head ends where the framing ended it.
            Ok(httparse::Status::Complete(n)) if n == head.len() => {}
            Err(httparse::Error::TooManyHeaders) => {
                return Err(HttpError::new(431, "too many header fields"))
            }
            _ => return Err(malformed()),
        }
        let status = parsed.code.ok_or_else(malformed)?;
        if (100..200).contains(&status) {
            // Interim (100 Continue): the real response follows.
            return Ok(None);
        }
        let version = match parsed.version {
            Some(0) => Version::Http10,
            Some(1) => Version::Http11,
            _ => return Err(malformed()),
        };
        let mut fields = Vec::with_capacity(parsed.headers.len());
        for h in parsed.headers.iter() {
            let value = std::str::from_utf8(h.value).map_err(|_| malformed())?;
            fields.push((h.name.to_string(), value.trim().to_string()));
        }
        let framing = body_framing(
            &fields,
            version,
            Role::Response(status),
            limits.max_body_bytes,
        )?;
        let head = ResponseHead {
            version,
            status,
            reason: parsed.reason.unwrap_or("").to_string(),
            headers: fields,
            close_delimited: framing == BodyFraming::UntilClose,
        };
        Ok(Some((head, framing)))
    }

    fn version(&self) -> Version {
        self.version
    }
}
