//! Producers: output that is generated a piece at a time. Port of Medusa's
//! `producers.py` (and asynchat's `simple_producer`).
//!
//! A channel keeps a fifo of producers and asks the one at the front for
//! `more()` whenever its socket can take more bytes; an empty answer means
//! that producer is exhausted and the next one starts. A large file or a
//! long listing is thus never held in memory whole, and nothing is produced
//! faster than the peer reads it.
//!
//! # Differences from Python
//!
//! - `more()` returns `io::Result<Vec<u8>>`: a file producer can fail, and
//!   the channel then closes the connection instead of sending a truncated
//!   reply that looks complete.
//! - Python's `scanning_producer` and `escaping_producer` are not ported;
//!   their jobs are done by the code that builds the output.
//! - [`SendfileProducer`] is new: a part of a file that the channel sends
//!   with `sendfile(2)`, so its bytes never pass through user space
//!   (nginx's `sendfile on`). See [`Producer::file_region`].

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;

/// asynchat/Medusa producer protocol: `more()` until it returns empty.
#[doc(alias = "producer")]
pub trait Producer {
    /// The next piece of output; an empty `Vec` means exhausted.
    fn more(&mut self) -> io::Result<Vec<u8>>;

    /// Zero copy: the part of a file this producer still has to send, if
    /// it is one. The channel sends what the socket takes of it with
    /// `sendfile(2)` and reports each amount through
    /// [`region_sent`](Producer::region_sent); once the region is empty it
    /// calls [`more`](Producer::more) as usual, which then reports the end.
    /// A producer that transforms its input (chunked coding) must not pass
    /// its inner producer's region on.
    fn file_region(&mut self) -> Option<FileRegion<'_>> {
        None
    }

    /// The channel sent `n` bytes of the [`file_region`](Producer::file_region).
    fn region_sent(&mut self, _n: u64) {}
}

/// A part of an open file: `len` bytes from `offset`.
#[derive(Debug)]
pub struct FileRegion<'a> {
    /// The file (read with `sendfile`, its position is not used).
    pub file: &'a File,
    /// Where the part still to send begins.
    pub offset: u64,
    /// How many bytes are still to send.
    pub len: u64,
}

/// Bytes already in memory act as a producer that yields them once (asynchat
/// accepts a plain string in `push_with_producer` the same way).
impl Producer for Vec<u8> {
    fn more(&mut self) -> io::Result<Vec<u8>> {
        Ok(std::mem::take(self))
    }
}

impl<P: Producer + ?Sized> Producer for Box<P> {
    fn more(&mut self) -> io::Result<Vec<u8>> {
        (**self).more()
    }

    fn file_region(&mut self) -> Option<FileRegion<'_>> {
        (**self).file_region()
    }

    fn region_sent(&mut self, n: u64) {
        (**self).region_sent(n)
    }
}

/// `simple_producer`: hands out `data` in pieces of at most `buffer_size`.
#[doc(alias = "simple_producer")]
pub struct SimpleProducer {
    data: Vec<u8>,
    offset: usize,
    buffer_size: usize,
}

impl SimpleProducer {
    /// Python's default `buffer_size` is 1024.
    pub fn new(data: impl Into<Vec<u8>>, buffer_size: usize) -> SimpleProducer {
        SimpleProducer {
            data: data.into(),
            offset: 0,
            buffer_size: buffer_size.max(1),
        }
    }
}

impl Producer for SimpleProducer {
    fn more(&mut self) -> io::Result<Vec<u8>> {
        let end = (self.offset + self.buffer_size).min(self.data.len());
        let piece = self.data[self.offset..end].to_vec();
        self.offset = end;
        Ok(piece)
    }
}

/// `lines_producer`: each line followed by CRLF, up to 50 lines a piece.
#[doc(alias = "lines_producer")]
pub struct LinesProducer {
    lines: VecDeque<Vec<u8>>,
}

impl LinesProducer {
    /// Lines without their terminators.
    pub fn new<I, L>(lines: I) -> LinesProducer
    where
        I: IntoIterator<Item = L>,
        L: Into<Vec<u8>>,
    {
        LinesProducer {
            lines: lines.into_iter().map(Into::into).collect(),
        }
    }
}

impl Producer for LinesProducer {
    fn more(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        for line in self.lines.drain(..self.lines.len().min(50)) {
            out.extend_from_slice(&line);
            out.extend_from_slice(b"\r\n");
        }
        Ok(out)
    }
}

/// `composite_producer`: runs a fifo of producers one after another.
#[doc(alias = "composite_producer")]
#[derive(Default)]
pub struct CompositeProducer {
    producers: VecDeque<Box<dyn Producer>>,
}

impl CompositeProducer {
    /// An empty composite; add producers with [`push`](CompositeProducer::push).
    pub fn new() -> CompositeProducer {
        CompositeProducer::default()
    }

    /// Appends a producer to the end of the fifo.
    pub fn push(&mut self, producer: impl Producer + 'static) {
        self.producers.push_back(Box::new(producer));
    }
}

impl Producer for CompositeProducer {
    fn more(&mut self) -> io::Result<Vec<u8>> {
        while let Some(front) = self.producers.front_mut() {
            let piece = front.more()?;
            if !piece.is_empty() {
                return Ok(piece);
            }
            self.producers.pop_front();
        }
        Ok(Vec::new())
    }
}

/// `globbing_producer`: gathers small pieces from the inner producer into
/// pieces of at least `buffer_size` bytes (fewer, larger writes).
#[doc(alias = "globbing_producer")]
pub struct GlobbingProducer<P> {
    producer: P,
    buffer_size: usize,
}

impl<P: Producer> GlobbingProducer<P> {
    /// Medusa's default `buffer_size` is 1 << 16.
    pub fn new(producer: P, buffer_size: usize) -> GlobbingProducer<P> {
        GlobbingProducer {
            producer,
            buffer_size,
        }
    }
}

impl<P: Producer> Producer for GlobbingProducer<P> {
    fn more(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        while out.len() < self.buffer_size {
            let piece = self.producer.more()?;
            if piece.is_empty() {
                break;
            }
            if out.is_empty() {
                out = piece;
            } else {
                out.extend_from_slice(&piece);
            }
        }
        Ok(out)
    }
}

/// `hooked_producer`: calls `function(total_bytes)` once, when the inner
/// producer is exhausted. The HTTP access log uses it to learn a response's
/// size.
#[doc(alias = "hooked_producer")]
pub struct HookedProducer<P, F> {
    producer: P,
    function: Option<F>,
    bytes: u64,
}

impl<P: Producer, F: FnOnce(u64)> HookedProducer<P, F> {
    /// Wraps `producer`; `function` receives the number of bytes produced.
    pub fn new(producer: P, function: F) -> HookedProducer<P, F> {
        HookedProducer {
            producer,
            function: Some(function),
            bytes: 0,
        }
    }
}

impl<P: Producer, F: FnOnce(u64)> Producer for HookedProducer<P, F> {
    fn more(&mut self) -> io::Result<Vec<u8>> {
        if self.function.is_none() {
            return Ok(Vec::new());
        }
        let piece = self.producer.more()?;
        self.bytes += piece.len() as u64;
        if piece.is_empty() {
            if let Some(function) = self.function.take() {
                function(self.bytes);
            }
        }
        Ok(piece)
    }

    fn file_region(&mut self) -> Option<FileRegion<'_>> {
        // Past the end (the hook has run): nothing more to send.
        self.function.as_ref()?;
        self.producer.file_region()
    }

    fn region_sent(&mut self, n: u64) {
        self.bytes += n;
        self.producer.region_sent(n);
    }
}

/// `chunked_producer`: HTTP/1.1 chunked transfer coding of the inner
/// producer's output, ending with the last-chunk, optional trailer lines
/// (`footers`, each without CRLF) and the final CRLF.
#[doc(alias = "chunked_producer")]
pub struct ChunkedProducer<P> {
    producer: Option<P>,
    footers: Vec<Vec<u8>>,
}

impl<P: Producer> ChunkedProducer<P> {
    /// Encodes `producer`'s output; `footers` are trailer header lines.
    pub fn new(producer: P, footers: Vec<Vec<u8>>) -> ChunkedProducer<P> {
        ChunkedProducer {
            producer: Some(producer),
            footers,
        }
    }
}

impl<P: Producer> Producer for ChunkedProducer<P> {
    fn more(&mut self) -> io::Result<Vec<u8>> {
        let Some(producer) = self.producer.as_mut() else {
            return Ok(Vec::new());
        };
        let data = producer.more()?;
        if data.is_empty() {
            self.producer = None;
            let mut last = b"0\r\n".to_vec();
            for footer in &self.footers {
                last.extend_from_slice(footer);
                last.extend_from_slice(b"\r\n");
            }
            last.extend_from_slice(b"\r\n");
            return Ok(last);
        }
        let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
        chunk.reserve(data.len() + 2);
        chunk.extend_from_slice(&data);
        chunk.extend_from_slice(b"\r\n");
        Ok(chunk)
    }
}

/// `file_producer`: reads a file in blocks (Medusa's block size is 32 KiB;
/// ours 64 KiB, the loop's read size).
#[doc(alias = "file_producer")]
pub struct FileProducer<R = File> {
    file: Option<R>,
    block_size: usize,
}

impl<R: Read> FileProducer<R> {
    /// Produces everything `file` reads, `block_size` bytes at a time.
    pub fn new(file: R, block_size: usize) -> FileProducer<R> {
        FileProducer {
            file: Some(file),
            block_size: block_size.max(1),
        }
    }
}

impl<R: Read> Producer for FileProducer<R> {
    fn more(&mut self) -> io::Result<Vec<u8>> {
        let Some(file) = self.file.as_mut() else {
            return Ok(Vec::new());
        };
        let mut block = Vec::with_capacity(self.block_size);
        file.by_ref()
            .take(self.block_size as u64)
            .read_to_end(&mut block)?;
        if block.is_empty() {
            // Close the file as soon as it is exhausted, not when the
            // connection goes away.
            self.file = None;
        }
        Ok(block)
    }
}

/// `len` bytes of a file from its start, sent by the channel with
/// `sendfile(2)` (zero copy: the kernel moves page-cache pages to the
/// socket). Where a channel asks for [`more`](Producer::more) instead, it
/// reads `block_size` bytes at a time, like [`FileProducer`].
///
/// `len` is what the `Content-Length` promised: a file that shrinks while
/// it is being sent is an error (the connection closes), never a short
/// reply that looks complete.
pub struct SendfileProducer {
    file: Option<File>,
    offset: u64,
    end: u64,
    block_size: usize,
}

impl SendfileProducer {
    /// Sends the first `len` bytes of `file`.
    pub fn new(file: File, len: u64, block_size: usize) -> SendfileProducer {
        SendfileProducer {
            file: Some(file),
            offset: 0,
            end: len,
            block_size: block_size.max(1),
        }
    }
}

impl Producer for SendfileProducer {
    fn more(&mut self) -> io::Result<Vec<u8>> {
        let Some(file) = &self.file else {
            return Ok(Vec::new());
        };
        let want = (self.end - self.offset).min(self.block_size as u64) as usize;
        if want == 0 {
            // Close the file as soon as it is sent.
            self.file = None;
            return Ok(Vec::new());
        }
        let mut block = vec![0; want];
        let n = file.read_at(&mut block, self.offset)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while being sent",
            ));
        }
        block.truncate(n);
        self.offset += n as u64;
        Ok(block)
    }

    fn file_region(&mut self) -> Option<FileRegion<'_>> {
        let file = self.file.as_ref()?;
        Some(FileRegion {
            file,
            offset: self.offset,
            len: self.end - self.offset,
        })
    }

    fn region_sent(&mut self, n: u64) {
        self.offset = (self.offset + n).min(self.end);
    }
}

/// Drains a producer to the end (tests and small in-memory uses).
pub fn produce_all(producer: &mut dyn Producer) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let piece = producer.more()?;
        if piece.is_empty() {
            return Ok(out);
        }
        out.extend_from_slice(&piece);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(bytes: &[u8]) -> File {
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, bytes).unwrap();
        file
    }

    #[test]
    fn sendfile_producer_reads_blocks_where_sendfile_is_not_used() {
        let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let mut producer = SendfileProducer::new(temp_file(&data), 9_000, 4096);
        assert_eq!(produce_all(&mut producer).unwrap(), &data[..9_000]);
        assert!(producer.file_region().is_none(), "file closed at the end");
    }

    #[test]
    fn sendfile_producer_region_advances_with_what_was_sent() {
        let mut producer = SendfileProducer::new(temp_file(&[1; 100]), 100, 64);
        let region = producer.file_region().unwrap();
        assert_eq!((region.offset, region.len), (0, 100));
        producer.region_sent(60);
        let region = producer.file_region().unwrap();
        assert_eq!((region.offset, region.len), (60, 40));
        // The rest by more(), from where sendfile stopped.
        assert_eq!(producer.more().unwrap().len(), 40);
        assert!(producer.more().unwrap().is_empty());
    }

    #[test]
    fn sendfile_producer_fails_on_a_file_shorter_than_promised() {
        let mut producer = SendfileProducer::new(temp_file(&[1; 10]), 20, 64);
        assert_eq!(producer.more().unwrap().len(), 10);
        let err = producer.more().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn hooked_producer_counts_region_bytes_and_passes_the_region_on() {
        let counted = std::rc::Rc::new(std::cell::Cell::new(0));
        let c = counted.clone();
        let inner = SendfileProducer::new(temp_file(&[2; 50]), 50, 64);
        let mut hooked = HookedProducer::new(inner, move |n| c.set(n));
        assert_eq!(hooked.file_region().map(|r| r.len), Some(50));
        hooked.region_sent(30);
        assert_eq!(hooked.more().unwrap().len(), 20);
        assert!(hooked.more().unwrap().is_empty());
        assert_eq!(counted.get(), 50, "sendfile bytes and read bytes");
        // Chunked coding must not let the raw region through.
        let inner = SendfileProducer::new(temp_file(&[2; 50]), 50, 64);
        let mut chunked = ChunkedProducer::new(inner, Vec::new());
        assert!(chunked.file_region().is_none());
    }
    use std::cell::Cell;
    use std::rc::Rc;

    fn pieces(producer: &mut dyn Producer) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| {
            let piece = producer.more().expect("in-memory producers do not fail");
            (!piece.is_empty()).then_some(piece)
        })
        .collect()
    }

    #[test]
    fn simple_producer_yields_buffer_sized_pieces() {
        let mut p = SimpleProducer::new(b"hello world".to_vec(), 4);
        assert_eq!(
            pieces(&mut p),
            vec![b"hell".to_vec(), b"o wo".to_vec(), b"rld".to_vec()]
        );
        assert!(p.more().unwrap().is_empty(), "stays exhausted");
    }

    #[test]
    fn vec_is_a_one_shot_producer() {
        let mut v = b"abc".to_vec();
        assert_eq!(pieces(&mut v), vec![b"abc".to_vec()]);
    }

    #[test]
    fn lines_producer_terminates_each_line_and_batches_fifty() {
        let lines: Vec<String> = (0..120).map(|i| i.to_string()).collect();
        let mut p = LinesProducer::new(lines);
        let got = pieces(&mut p);
        assert_eq!(got.len(), 3);
        assert!(got[0].starts_with(b"0\r\n1\r\n"));
        let all: Vec<u8> = got.concat();
        let expected: String = (0..120).map(|i| format!("{i}\r\n")).collect();
        assert_eq!(all, expected.into_bytes());
    }

    #[test]
    fn composite_runs_producers_in_order_skipping_empty_ones() {
        let mut c = CompositeProducer::new();
        c.push(SimpleProducer::new(b"ab".to_vec(), 1));
        c.push(Vec::new());
        c.push(b"cd".to_vec());
        assert_eq!(produce_all(&mut c).unwrap(), b"abcd");
    }

    #[test]
    fn globbing_coalesces_small_pieces() {
        let inner = SimpleProducer::new(vec![7u8; 100], 3);
        let mut g = GlobbingProducer::new(inner, 40);
        let got = pieces(&mut g);
        assert_eq!(
            got.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![42, 42, 16]
        );
    }

    #[test]
    fn hooked_reports_total_bytes_exactly_once() {
        let seen = Rc::new(Cell::new(None));
        let seen2 = seen.clone();
        let calls = Rc::new(Cell::new(0));
        let calls2 = calls.clone();
        let mut h = HookedProducer::new(SimpleProducer::new(vec![1u8; 2500], 1000), move |n| {
            seen2.set(Some(n));
            calls2.set(calls2.get() + 1);
        });
        assert_eq!(produce_all(&mut h).unwrap().len(), 2500);
        assert!(h.more().unwrap().is_empty());
        assert_eq!(seen.get(), Some(2500));
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn chunked_encodes_with_hex_sizes_and_trailers() {
        let inner = SimpleProducer::new(vec![b'x'; 20], 16);
        let mut c = ChunkedProducer::new(inner, vec![b"X-Sum: 20".to_vec()]);
        let out = produce_all(&mut c).unwrap();
        let expected = [
            b"10\r\n".as_slice(),
            &[b'x'; 16],
            b"\r\n4\r\nxxxx\r\n0\r\nX-Sum: 20\r\n\r\n",
        ]
        .concat();
        assert_eq!(out, expected);
        assert!(c.more().unwrap().is_empty());
    }

    #[test]
    fn chunked_empty_body_is_just_the_last_chunk() {
        let mut c = ChunkedProducer::new(Vec::new(), vec![]);
        assert_eq!(produce_all(&mut c).unwrap(), b"0\r\n\r\n");
    }

    #[test]
    fn file_producer_reads_blocks_to_the_end() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut f = FileProducer::new(io::Cursor::new(data.clone()), 4096);
        let got = pieces(&mut f);
        assert_eq!(
            got.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![4096, 4096, 1808]
        );
        assert_eq!(got.concat(), data);
    }

    #[test]
    fn file_producer_passes_read_errors_on() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let mut f = FileProducer::new(Broken, 10);
        assert!(f.more().is_err());
    }
}
