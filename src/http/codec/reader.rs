//! `MessageReader`: one HTTP/1.1 message after another, read by
//! terminators as Medusa's `http_channel` read them: `\r\n\r\n` ends the
//! head; then `Length(n)` reads a body, or the chunked phases read
//! `size\r\n`, `Length(size)`, `\r\n` until a zero-size chunk and the
//! trailers; or, for a response without a length, everything to the close.

use crate::chat::{next_piece, Terminator};
use crate::http::{HttpError, Version};

use super::{chunk_size, BodyFraming, Head, MessageLimits};

/// Head buffer capacity kept between messages (a head is a few hundred
/// bytes; a rare large one is not kept for the life of the connection).
const KEEP_HEAD_CAPACITY: usize = 1024;

/// Longest chunk-size or trailer line of a chunked body.
const MAX_CHUNK_LINE: usize = 4096;

/// Where the reader is in a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Between messages: nothing of the next one yet.
    Idle,
    /// Reading the head.
    Head,
    /// Reading a `Content-Length` body of this many bytes.
    Body(u64),
    /// Reading a chunk-size line.
    ChunkSize,
    /// Reading this many bytes of chunk data.
    ChunkData(u64),
    /// Reading the CRLF after chunk data.
    ChunkEnd,
    /// Reading trailer lines after the last chunk.
    Trailers,
    /// Reading a body that ends at the close.
    UntilClose,
    /// A whole message waits for [`MessageReader::take_message`].
    Done,
}

/// What a `found_terminator` (or a [`feed`](MessageReader::feed)) made of
/// the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A head arrived ([`head_mut`](MessageReader::head_mut)); its body, if
    /// [`body_follows`](MessageReader::body_follows), is still to come, and
    /// otherwise the message is complete.
    Head,
    /// The body is complete: [`take_message`](MessageReader::take_message).
    Body,
}

/// Reads HTTP/1.1 messages of head type `H` ([`Request`](crate::http::Request)
/// on the server, [`ResponseHead`](super::ResponseHead) in a client).
pub struct MessageReader<H> {
    phase: Phase,
    limits: MessageLimits,
    /// The head being read, or a chunk-size/trailer line.
    line: Vec<u8>,
    head: Option<H>,
    body: Vec<u8>,
    /// The version to answer a head that did not parse with.
    guessed: Option<Version>,
    /// [`feed`](Self::feed)'s copy of the terminator, counting down; `None`
    /// until it is needed again (a channel's `Chat` keeps its own).
    live: Option<Terminator>,
    /// [`feed`](Self::feed)'s possible partial terminator.
    held: Vec<u8>,
}

impl<H: Head> MessageReader<H> {
    /// A reader that enforces `limits`.
    pub fn new(limits: MessageLimits) -> MessageReader<H> {
        MessageReader {
            phase: Phase::Idle,
            limits,
            line: Vec::new(),
            head: None,
            body: Vec::new(),
            guessed: None,
            live: None,
            held: Vec::new(),
        }
    }

    /// The terminator the current phase reads up to: what a channel sets
    /// after each `found_terminator`.
    pub fn terminator(&self) -> Terminator {
        match self.phase {
            Phase::Idle | Phase::Head | Phase::Done => Terminator::fixed(b"\r\n\r\n"),
            Phase::Body(n) | Phase::ChunkData(n) => Terminator::Length(n),
            Phase::ChunkSize | Phase::ChunkEnd | Phase::Trailers => Terminator::fixed(b"\r\n"),
            Phase::UntilClose => Terminator::None,
        }
    }

    /// Nothing of a message has arrived since the last one was taken.
    pub fn is_idle(&self) -> bool {
        self.phase == Phase::Idle
    }

    /// A head was read and its body is still arriving.
    pub fn body_follows(&self) -> bool {
        !matches!(self.phase, Phase::Idle | Phase::Head | Phase::Done)
    }

    /// The head read so far, if one was.
    pub fn head_mut(&mut self) -> Option<&mut H> {
        self.head.as_mut()
    }

    /// Takes the head whatever the phase (to log a refused request).
    pub fn take_head(&mut self) -> Option<H> {
        self.head.take()
    }

    /// The complete message, head and body; the reader then waits for the
    /// next one.
    pub fn take_message(&mut self) -> Option<(H, Vec<u8>)> {
        if self.phase != Phase::Done {
            return None;
        }
        self.phase = Phase::Idle;
        self.live = None;
        let head = self.head.take()?;
        Some((head, std::mem::take(&mut self.body)))
    }

    /// The version to answer with: the head's, or a guess from a head that
    /// did not parse (1.0 unless it plainly says 1.1), else 1.1.
    pub fn version(&self) -> Version {
        match (&self.head, self.guessed) {
            (Some(head), _) => head.version(),
            (None, Some(guess)) => guess,
            (None, None) => Version::Http11,
        }
    }

    /// A head is refused: remember which version to answer with.
    fn head_error(&mut self, data: &[u8], error: HttpError) -> HttpError {
        self.guessed = Some(guess_version_split(&self.line, data));
        error
    }

    /// Bytes of the current message (asynchat's `collect_incoming_data`).
    /// Every limit is checked before the bytes are kept.
    pub fn collect_incoming_data(&mut self, data: &[u8]) -> Result<(), HttpError> {
        match self.phase {
            Phase::Idle | Phase::Head => {
                self.phase = Phase::Head;
                // Only the bytes within the limit are looked at: which
                // refusal a head gets (and the version it is answered
                // with) must not depend on how the reads split it, and a
                // read that crosses the limit may or may not reach a
                // later bare LF or the end of the request line.
                let room = self.limits.max_head_bytes.saturating_sub(self.line.len());
                let within = data.get(..room).unwrap_or(data);
                if bare_lf(self.line.last().copied(), within) {
                    // httparse would take a bare LF as a line end where the
                    // framing (CRLFCRLF) does not: refuse at once rather
                    // than let the two disagree, or wait for a timeout.
                    let error = HttpError::bad_request(&format!("bare LF in the {} head", H::NAME));
                    return Err(self.head_error(within, error));
                }
                if data.len() > room {
                    let error = HttpError::new(431, &format!("{} head too large", H::NAME));
                    return Err(self.head_error(within, error));
                }
                self.line.extend_from_slice(data);
            }
            // Lengths were checked against the limit before they were read.
            Phase::Body(_) | Phase::ChunkData(_) => self.body.extend_from_slice(data),
            Phase::UntilClose => {
                if self.body_room() < data.len() as u64 {
                    return Err(self.too_large());
                }
                self.body.extend_from_slice(data);
            }
            Phase::ChunkSize | Phase::ChunkEnd | Phase::Trailers => {
                if self.line.len().saturating_add(data.len()) > MAX_CHUNK_LINE {
                    return Err(HttpError::bad_request("chunk line too long"));
                }
                // The line ends at CRLF (the terminator), so any LF in it
                // is a bare one.
                if memchr::memchr(b'\n', data).is_some() {
                    return Err(HttpError::bad_request("bare LF in a chunked body line"));
                }
                self.line.extend_from_slice(data);
            }
            Phase::Done => {
                return Err(HttpError::bad_request(&format!(
                    "bytes after a complete {}",
                    H::NAME
                )))
            }
        }
        Ok(())
    }

    /// The terminator was reached (asynchat's `found_terminator`).
    pub fn found_terminator(&mut self) -> Result<Option<Event>, HttpError> {
        self.live = None;
        match self.phase {
            // "\r\n\r\n" alone: stray blank lines between messages.
            Phase::Idle | Phase::Done | Phase::UntilClose => Ok(None),
            Phase::Head => self.head_complete(),
            Phase::Body(_) => {
                self.phase = Phase::Done;
                Ok(Some(Event::Body))
            }
            Phase::ChunkSize => {
                let size = chunk_size(&self.line);
                self.line.clear();
                self.phase = match size {
                    None => return Err(HttpError::bad_request("bad chunk size")),
                    Some(0) => Phase::Trailers,
                    // Room left, not body + n: a peer-chosen n near u64::MAX
                    // must not wrap past the limit.
                    Some(n) if n > self.body_room() => return Err(self.too_large()),
                    Some(n) => Phase::ChunkData(n),
                };
                Ok(None)
            }
            Phase::ChunkData(_) => {
                self.phase = Phase::ChunkEnd;
                Ok(None)
            }
            Phase::ChunkEnd if self.line.is_empty() => {
                self.phase = Phase::ChunkSize;
                Ok(None)
            }
            Phase::ChunkEnd => Err(HttpError::bad_request("chunk data longer than its size")),
            Phase::Trailers if self.line.is_empty() => {
                self.phase = Phase::Done;
                Ok(Some(Event::Body))
            }
            Phase::Trailers => {
                // Trailer fields are accepted and ignored.
                self.line.clear();
                Ok(None)
            }
        }
    }

    /// The peer closed: the end of a close-delimited body, or of a message
    /// cut short.
    pub fn end_of_input(&mut self) -> Result<Option<Event>, HttpError> {
        match self.phase {
            Phase::Idle | Phase::Done => Ok(None),
            Phase::UntilClose => {
                self.phase = Phase::Done;
                Ok(Some(Event::Body))
            }
            Phase::Head => Err(HttpError::bad_request(&format!(
                "connection closed inside the {} head",
                H::NAME
            ))),
            _ => Err(HttpError::bad_request(&format!(
                "connection closed inside the {} body",
                H::NAME
            ))),
        }
    }

    /// Without a channel: splits `data` at the terminators itself, up to
    /// the first event. Returns how many bytes of `data` it used; the rest
    /// belongs to what follows the event. A possible partial terminator is
    /// held inside, so every byte before the event counts as used.
    pub fn feed(&mut self, data: &[u8]) -> Result<(usize, Option<Event>), HttpError> {
        let held = std::mem::take(&mut self.held);
        let joined;
        let input: &[u8] = if held.is_empty() {
            data
        } else {
            joined = [held.as_slice(), data].concat();
            &joined
        };
        let mut pos = 0;
        while pos < input.len() {
            let rest = &input[pos..];
            let mut live = match self.live.take() {
                Some(live) => live,
                None => self.terminator(),
            };
            let piece = next_piece(rest, &mut live);
            self.live = Some(live);
            if piece.data > 0 {
                self.collect_incoming_data(&rest[..piece.data])?;
            }
            // Pieces are parts of `input`: pos stays <= input.len().
            pos = pos.saturating_add(piece.consumed);
            if !piece.found {
                self.held = input[pos..].to_vec();
                return Ok((data.len(), None));
            }
            if let Some(event) = self.found_terminator()? {
                // The held bytes could not end a message alone, so an event
                // is always past them, inside `data`.
                return Ok((pos.saturating_sub(held.len()), Some(event)));
            }
        }
        Ok((data.len(), None))
    }

    fn head_complete(&mut self) -> Result<Option<Event>, HttpError> {
        // Put back the blank line the terminator consumed, so the head is
        // parsed where it lies.
        self.line.extend_from_slice(b"\r\n\r\n");
        let parsed = H::parse(&self.line, &self.limits);
        if parsed.is_err() {
            self.guessed = Some(guess_version(&self.line));
        }
        if self.line.capacity() > KEEP_HEAD_CAPACITY {
            self.line = Vec::new();
        } else {
            self.line.clear();
        }
        let Some((head, framing)) = parsed? else {
            // An interim response: the real one follows.
            self.phase = Phase::Idle;
            return Ok(None);
        };
        self.head = Some(head);
        self.phase = match framing {
            BodyFraming::None => Phase::Done,
            BodyFraming::Length(n) => {
                self.body = Vec::with_capacity(n.min(64 * 1024) as usize);
                Phase::Body(n)
            }
            BodyFraming::Chunked => Phase::ChunkSize,
            BodyFraming::UntilClose => Phase::UntilClose,
        };
        Ok(Some(Event::Head))
    }

    /// How many more body bytes the limit allows.
    fn body_room(&self) -> u64 {
        let held = u64::try_from(self.body.len()).unwrap_or(u64::MAX);
        self.limits.max_body_bytes.saturating_sub(held)
    }

    fn too_large(&self) -> HttpError {
        HttpError::new(413, &format!("{} body too large", H::NAME))
    }
}

/// Whether `data`, following the byte `prev`, has an LF not preceded by
/// CR.
fn bare_lf(prev: Option<u8>, data: &[u8]) -> bool {
    memchr::memchr_iter(b'\n', data).any(|i| {
        let before = match i.checked_sub(1) {
            Some(j) => data.get(j).copied(),
            None => prev,
        };
        before != Some(b'\r')
    })
}

/// [`guess_version`] for a head whose first line may straddle what is held
/// and what just arrived: the answer must not depend on where the reads
/// split it.
fn guess_version_split(held: &[u8], data: &[u8]) -> Version {
    if memchr::memchr(b'\n', held).is_some() {
        return guess_version(held);
    }
    let line_end = memchr::memchr(b'\n', data).unwrap_or(data.len());
    guess_version(&[held, &data[..line_end]].concat())
}

/// The version to answer an unparsable head with: 1.0 unless it plainly
/// says 1.1.
fn guess_version(head: &[u8]) -> Version {
    let first_line = head.split(|&b| b == b'\n').next().unwrap_or(b"");
    if first_line.windows(8).any(|w| w == b"HTTP/1.1") {
        Version::Http11
    } else {
        Version::Http10
    }
}

#[cfg(test)]
mod tests;
