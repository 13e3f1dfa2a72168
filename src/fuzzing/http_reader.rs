//! The `http_reader` fuzz target's invariants: the one HTTP/1.1 message
//! reader, read whole, split and by terminators, must agree with itself
//! and with httparse.

/// The `http_reader` target: the one HTTP/1.1 message reader, driven with
/// no socket.
pub(super) mod message_reader {
    // Every sum here is of positions in a fuzzer's input: written so that
    // none can wrap, and the lint keeps it so.
    #![warn(clippy::arithmetic_side_effects)]

    use std::fmt::Debug;

    use crate::chat::{next_piece, Terminator};
    use crate::http::codec::{Event, Head, MessageLimits, MessageReader, ResponseHead};
    use crate::http::{Request, Version};

    /// A head as the reader produced it, for comparing readings.
    trait Described: Head + Debug {
        /// The body runs to the end of the input.
        fn close_delimited(&self) -> bool;
    }

    impl Described for Request {
        fn close_delimited(&self) -> bool {
            false
        }
    }

    impl Described for ResponseHead {
        fn close_delimited(&self) -> bool {
            self.close_delimited
        }
    }

    /// One message as read: the head (its `Debug` form), the body, and
    /// where in the stream the head and the message ended.
    #[derive(Debug, PartialEq, Eq)]
    struct Message {
        head: String,
        body: Vec<u8>,
        head_end: usize,
        end: usize,
        close_delimited: bool,
    }

    /// Everything a reading of a stream produced: the messages in order,
    /// then the refusal that stopped it (status, and the version it would
    /// be answered with), if one did.
    #[derive(Debug, Default, PartialEq, Eq)]
    struct Reading {
        messages: Vec<Message>,
        error: Option<(u16, Version)>,
    }

    /// Collects messages as the reader completes them, checking each.
    struct Collector<H> {
        reader: MessageReader<H>,
        limits: MessageLimits,
        reading: Reading,
        head_end: usize,
    }

    impl<H: Described> Collector<H> {
        fn new(limits: MessageLimits) -> Collector<H> {
            Collector {
                reader: MessageReader::new(limits),
                limits,
                reading: Reading::default(),
                head_end: 0,
            }
        }

        /// An event at stream position `at`.
        fn event(&mut self, event: Option<Event>, at: usize) {
            match event {
                None => {}
                Some(Event::Head) => {
                    self.head_end = at;
                    if !self.reader.body_follows() {
                        self.take(at);
                    } else {
                        assert!(
                            self.reader.take_message().is_none(),
                            "a message before its body"
                        );
                    }
                }
                Some(Event::Body) => self.take(at),
            }
        }

        fn take(&mut self, at: usize) {
            let (head, body) = self
                .reader
                .take_message()
                .expect("an event that completes a message, and no message");
            assert!(self.reader.is_idle(), "not idle after take_message");
            let len = u64::try_from(body.len()).unwrap_or(u64::MAX);
            assert!(
                len <= self.limits.max_body_bytes,
                "a {len}-byte body, over the {}-byte limit",
                self.limits.max_body_bytes
            );
            self.reading.messages.push(Message {
                head: format!("{head:?}"),
                body,
                head_end: self.head_end,
                end: at,
                close_delimited: head.close_delimited(),
            });
        }

        fn refused(mut self, status: u16) -> Reading {
            self.reading.error = Some((status, self.reader.version()));
            self.reading
        }

        /// The peer closed after `len` bytes.
        fn finish(mut self, len: usize) -> Reading {
            match self.reader.end_of_input() {
                Err(error) => return self.refused(error.status),
                Ok(Some(Event::Body)) => self.take(len),
                Ok(Some(Event::Head)) => panic!("a head at the end of input"),
                Ok(None) => {}
            }
            self.reading
        }
    }

    /// Reads `pieces` (consecutive parts of one stream) with
    /// [`MessageReader::feed`], as the blocking client does.
    fn by_feed<H: Described>(pieces: &[&[u8]], limits: MessageLimits) -> Reading {
        let mut collector = Collector::<H>::new(limits);
        let mut at = 0usize;
        for piece in pieces {
            let mut rest: &[u8] = piece;
            while !rest.is_empty() {
                let (used, event) = match collector.reader.feed(rest) {
                    Ok(fed) => fed,
                    Err(error) => return collector.refused(error.status),
                };
                assert!(
                    used <= rest.len(),
                    "feed used {used} of {} bytes",
                    rest.len()
                );
                match event {
                    None => assert_eq!(used, rest.len(), "no event, yet bytes left unused"),
                    Some(_) => assert!(used > 0, "an event from no new bytes"),
                }
                rest = rest.get(used..).unwrap_or_default();
                at = at.saturating_add(used);
                collector.event(event, at);
            }
        }
        collector.finish(at)
    }

    /// Reads `pieces` by terminators, as a channel's `Chat` does: the
    /// reader names its terminator, the unconsumed input is kept and
    /// scanned again under each new one.
    fn by_terminators<H: Described>(pieces: &[&[u8]], limits: MessageLimits) -> Reading {
        let mut collector = Collector::<H>::new(limits);
        let mut live = collector.reader.terminator();
        let mut buffer: Vec<u8> = Vec::new();
        let mut at = 0usize;
        for piece in pieces {
            buffer.extend_from_slice(piece);
            while !buffer.is_empty() {
                let step = next_piece(&buffer, &mut live);
                assert!(step.data <= step.consumed && step.consumed <= buffer.len());
                if step.data > 0 {
                    let data = buffer.get(..step.data).unwrap_or_default();
                    if let Err(error) = collector.reader.collect_incoming_data(data) {
                        return collector.refused(error.status);
                    }
                }
                buffer.drain(..step.consumed);
                at = at.saturating_add(step.consumed);
                if !step.found {
                    break;
                }
                match collector.reader.found_terminator() {
                    Ok(event) => collector.event(event, at),
                    Err(error) => return collector.refused(error.status),
                }
                live = collector.reader.terminator();
            }
        }
        // What is held is a partial terminator, which the close leaves
        // unread.
        debug_assert!(matches!(live, Terminator::Bytes(_)) || buffer.is_empty());
        collector.finish(at.saturating_add(buffer.len()))
    }

    /// The fuzz target. The first five bytes choose: byte 0 bit 0 a
    /// response reader (else a request reader), bits 3 to 7 the
    /// header limit (1..=32); byte 1 the body limit (0..=255 bytes); byte 2 the
    /// head limit (8..=1028 bytes); bytes 3 and 4 where to cut the rest,
    /// the stream. Panics if an invariant breaks:
    ///
    /// - the same messages (head, body, where each head and message ends)
    ///   and the same refusal (status and version) whether the stream is
    ///   read whole, in two or three pieces, or a byte at a time, by
    ///   `feed` or by terminators as a channel reads;
    /// - no body over the limit; `feed` never uses more than it is given,
    ///   uses all of it unless it stops at an event, and makes an event of
    ///   at least one new byte;
    /// - every body is the bytes after its head, as they were sent or
    ///   de-chunked, up to where the message ended, and a close-delimited
    ///   one ends the stream;
    /// - for requests, httparse alone ends every accepted head at the same
    ///   byte and reads the same request line, and the body is framed as
    ///   its `Transfer-Encoding` or `Content-Length` says.
    pub fn http_reader(data: &[u8]) {
        let [flags, body, head, cut_a, cut_b, ..] = *data else {
            return;
        };
        let stream = data.get(5..).unwrap_or_default();
        let limits = MessageLimits {
            max_head_bytes: usize::from(head).saturating_mul(4).saturating_add(8),
            max_headers: usize::from(flags >> 3).saturating_add(1),
            max_body_bytes: u64::from(body),
        };
        let reading = if flags & 1 == 0 {
            readings::<Request>(stream, cut_a, cut_b, limits)
        } else {
            readings::<ResponseHead>(stream, cut_a, cut_b, limits)
        };
        let mut start = 0;
        for message in &reading.messages {
            check_body(stream, message, start);
            if flags & 1 == 0 {
                check_request_head(stream, message, start);
            }
            start = message.end;
        }
    }

    /// Reads `stream` every way and asserts the readings agree; returns
    /// the whole one.
    fn readings<H: Described>(
        stream: &[u8],
        cut_a: u8,
        cut_b: u8,
        limits: MessageLimits,
    ) -> Reading {
        // At most len * 255 / 256 < len: in range, and no overflow for any
        // input a fuzzer gives (len * 255 fits a usize).
        let cut = |byte: u8| stream.len().saturating_mul(usize::from(byte)) / 256;
        let (first, second) = (cut(cut_a.min(cut_b)), cut(cut_a.max(cut_b)));
        let (a, rest) = stream.split_at(first);
        let (b, c) = rest.split_at(second.saturating_sub(first));
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();

        let whole = by_feed::<H>(&[stream], limits);
        let others = [
            ("feed, cut in two", by_feed::<H>(&[a, rest], limits)),
            ("feed, cut in three", by_feed::<H>(&[a, b, c], limits)),
            ("feed, a byte at a time", by_feed::<H>(&bytes, limits)),
            ("terminators, whole", by_terminators::<H>(&[stream], limits)),
            (
                "terminators, cut in three",
                by_terminators::<H>(&[a, b, c], limits),
            ),
            (
                "terminators, a byte at a time",
                by_terminators::<H>(&bytes, limits),
            ),
        ];
        for (how, other) in others {
            assert_eq!(
                whole, other,
                "{how} ({first}, {second}) differs from feed, whole"
            );
        }
        whole
    }

    /// The body is the bytes right after the head (a length, or to the
    /// close) or their de-chunking, and ends where the message did.
    fn check_body(stream: &[u8], message: &Message, start: usize) {
        assert!(start <= message.head_end && message.head_end <= message.end);
        assert!(message.end <= stream.len());
        let after = stream
            .get(message.head_end..message.end)
            .unwrap_or_default();
        let plain = after == message.body.as_slice();
        let chunked = || {
            dechunk(stream.get(message.head_end..).unwrap_or_default())
                == Some((message.body.clone(), after.len()))
        };
        assert!(
            plain || chunked(),
            "the body is not the bytes after its head"
        );
        if message.close_delimited {
            assert_eq!(
                message.end,
                stream.len(),
                "a close-delimited body before the close"
            );
        }
    }

    /// A request's head, read by httparse alone: it ends at the same byte,
    /// and says how the body was framed.
    fn check_request_head(stream: &[u8], message: &Message, start: usize) {
        let framed = stream.get(start..message.head_end).unwrap_or_default();
        // Stray CRLFs before a request are skipped (RFC 9112 §2.2).
        let skip = framed
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(framed.len());
        let raw = framed.get(skip..).unwrap_or_default();
        let mut headers = vec![httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(raw) {
            Ok(httparse::Status::Complete(n)) if n == raw.len() => {}
            other => panic!(
                "the reader took a {}-byte head that httparse reads as {other:?}",
                raw.len()
            ),
        }
        let version = if request.version == Some(0) {
            Version::Http10
        } else {
            Version::Http11
        };
        let line = format!(
            "method: {:?}, uri: {:?}",
            request.method.unwrap_or_default(),
            request.path.unwrap_or_default()
        );
        let version = format!("version: {version:?}");
        assert!(
            message.head.contains(&version),
            "{version} not in {}",
            message.head
        );
        assert!(
            message.head.contains(&line),
            "{line} not in {}",
            message.head
        );

        let after = stream
            .get(message.head_end..message.end)
            .unwrap_or_default();
        let named = |name: &str| {
            request
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.value)
        };
        if named("Transfer-Encoding").is_some() {
            let rest = stream.get(message.head_end..).unwrap_or_default();
            assert_eq!(
                dechunk(rest),
                Some((message.body.clone(), after.len())),
                "a chunked request not read as its chunks"
            );
        } else {
            let length = named("Content-Length")
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(|v| v.split(',').next())
                .map_or(Some(0), |v| v.trim().parse::<usize>().ok());
            assert_eq!(
                length,
                Some(after.len()),
                "Content-Length not the body read"
            );
            assert_eq!(after, message.body.as_slice());
        }
    }

    /// A lenient de-chunking of the start of `s` (for bodies the reader
    /// accepted): the body and the bytes it spans, chunks and trailers.
    fn dechunk(s: &[u8]) -> Option<(Vec<u8>, usize)> {
        let line = |at: usize| -> Option<(&[u8], usize)> {
            let rest = s.get(at..)?;
            let len = memchr::memmem::find(rest, b"\r\n")?;
            Some((rest.get(..len)?, at.checked_add(len)?.checked_add(2)?))
        };
        let mut body = Vec::new();
        let mut at = 0;
        loop {
            let (size_line, next) = line(at)?;
            let size = std::str::from_utf8(size_line).ok()?;
            let size = size.split(';').next()?.trim_matches([' ', '\t']);
            let size = usize::from_str_radix(size, 16).ok()?;
            at = next;
            if size == 0 {
                break;
            }
            let end = at.checked_add(size)?;
            body.extend_from_slice(s.get(at..end)?);
            if s.get(end..end.checked_add(2)?)? != b"\r\n" {
                return None;
            }
            at = end.checked_add(2)?;
        }
        loop {
            let (trailer, next) = line(at)?;
            at = next;
            if trailer.is_empty() {
                return Some((body, at));
            }
        }
    }
}
