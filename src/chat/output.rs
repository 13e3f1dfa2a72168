//! A channel's output side: the coalescing buffer, the producer fifo behind
//! it, and the write readiness they are sent with (asynchat's
//! `initiate_send`).

use std::collections::VecDeque;
use std::io;

use super::sendfile;
use crate::producers::Producer;
use crate::reactor::Stream;

/// Output gathered before a write: a response of up to this size is one
/// `write` call.
const SEND_CHUNK: usize = 64 * 1024;

/// An input buffer larger than this is freed, not kept, when it empties:
/// an idle connection should hold no large buffers.
const KEEP_CAPACITY: usize = 4 * 1024;

/// A `push_vec` shorter than this, behind bytes still unsent, is copied
/// behind them; a longer one is not: it waits as `tail`, and both go in
/// one `writev` (a copy of a long body costs more than the second iovec).
pub(crate) const COPIED_BEHIND_HEAD: usize = 4 * 1024;

/// Everything queued for the peer, in order: `buf[sent..]`, `tail`, then
/// the fifo.
pub(super) struct Output {
    /// Coalesced output; `buf[sent..]` is still to be written.
    buf: Vec<u8>,
    sent: usize,
    /// A whole buffer queued right behind `buf` as it is (an HTTP response
    /// body behind its head): written together with `buf` in one system
    /// call, it becomes `buf` once `buf` is sent. Empty when there is none.
    tail: Vec<u8>,
    /// Bytes written since the channel opened.
    bytes_sent: u64,
    /// Producers queued behind `buf` (asynchat's `producer_fifo`).
    fifo: VecDeque<Box<dyn Producer>>,
    /// Edge-triggered: the socket took everything we wrote last time, so a
    /// write may be tried without waiting for an event.
    writable: bool,
}

impl Output {
    pub(super) fn new(writable: bool) -> Output {
        Output {
            buf: Vec::new(),
            sent: 0,
            tail: Vec::new(),
            bytes_sent: 0,
            fifo: VecDeque::new(),
            writable,
        }
    }

    /// Queues a copy of `data` behind everything queued.
    pub(super) fn push(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if self.fifo.is_empty() && self.tail.is_empty() {
            self.buf.extend_from_slice(data);
        } else {
            // Order matters: behind the tail and producers already queued.
            self.fifo.push_back(Box::new(data.to_vec()));
        }
    }

    /// Queues `data` behind everything queued, taking it as the buffer
    /// itself (no copy) when nothing is queued; a long `data` behind bytes
    /// still unsent becomes the tail, not copied either.
    pub(super) fn push_vec(&mut self, data: Vec<u8>) {
        if data.is_empty() {
            return;
        }
        if !self.fifo.is_empty() || !self.tail.is_empty() {
            // Behind what is queued, as `push` would put it, but not copied.
            self.fifo.push_back(Box::new(data));
        } else if self.sent == self.buf.len() {
            self.buf = data;
            self.sent = 0;
        } else if data.len() >= COPIED_BEHIND_HEAD {
            self.tail = data;
        } else {
            self.buf.extend_from_slice(&data);
        }
    }

    pub(super) fn push_producer(&mut self, producer: Box<dyn Producer>) {
        self.fifo.push_back(producer);
    }

    /// Drops everything queued, sent or not.
    pub(super) fn clear(&mut self) {
        self.buf = Vec::new();
        self.sent = 0;
        self.tail = Vec::new();
        self.fifo.clear();
    }

    /// Bytes queued but not yet written, not counting producers.
    pub(super) fn pending(&self) -> usize {
        self.buf
            .len()
            .saturating_sub(self.sent)
            .saturating_add(self.tail.len())
    }

    /// Whether anything (bytes or producers) waits to be sent.
    pub(super) fn has_output(&self) -> bool {
        self.sent < self.buf.len() || !self.tail.is_empty() || !self.fifo.is_empty()
    }

    /// Whether enough waits that the channel should take no more input;
    /// see `Chat::output_backlogged` for why a producer counts by itself.
    pub(super) fn backlogged(&self, high_water: usize) -> bool {
        !self.fifo.is_empty() || self.pending() >= high_water
    }

    pub(super) fn bytes_sent(&self) -> u64 {
        self.bytes_sent
    }

    /// The poll said writable: the next write may succeed.
    pub(super) fn note_writable(&mut self) {
        self.writable = true;
    }

    /// asynchat `initiate_send`: top up the buffer from the producer fifo
    /// and write until the socket would block or nothing is left.
    pub(super) fn send(&mut self, stream: &mut Stream) -> io::Result<()> {
        // Under TLS every byte is encrypted here: no sendfile.
        let sendfile = sendfile::SUPPORTED && stream.can_sendfile();
        loop {
            if sendfile && self.sent == self.buf.len() && self.tail.is_empty() && self.writable {
                match self.send_file_region(stream)? {
                    Some(true) => continue,
                    Some(false) => return Ok(()),
                    None => {}
                }
            }
            if self.sent == self.buf.len() && !self.tail.is_empty() {
                self.buf = std::mem::take(&mut self.tail);
                self.sent = 0;
            }
            self.refill(sendfile)?;
            if self.sent == self.buf.len() {
                // Freed, even when small: the next `push_vec` (an HTTP
                // response) replaces the buffer anyway, so keeping it only
                // made every idle connection hold its last response.
                self.sent = 0;
                self.buf = Vec::new();
                return Ok(());
            }
            if !self.writable {
                return Ok(());
            }
            let written = if self.tail.is_empty() {
                io::Write::write(stream, &self.buf[self.sent..])
            } else {
                let both = [
                    io::IoSlice::new(&self.buf[self.sent..]),
                    io::IoSlice::new(&self.tail),
                ];
                io::Write::write_vectored(stream, &both)
            };
            match written {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.bytes_sent = self.bytes_sent.saturating_add(n as u64);
                    let ahead = self.buf.len().saturating_sub(self.sent);
                    if n > ahead && !self.tail.is_empty() {
                        // Into the tail: it becomes the buffer.
                        self.buf = std::mem::take(&mut self.tail);
                        self.sent = n.saturating_sub(ahead).min(self.buf.len());
                    } else {
                        // write() returns at most what it was given.
                        self.sent = self.sent.saturating_add(n).min(self.buf.len());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.writable = false;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// With nothing buffered ahead of it, sends from the front producer's
    /// file region with `sendfile`. `Some(true)`: bytes went; `Some(false)`:
    /// the socket is full; `None`: no region to send, use `more()`.
    fn send_file_region(&mut self, stream: &Stream) -> io::Result<Option<bool>> {
        if !sendfile::SUPPORTED {
            return Ok(None);
        }
        let Some(producer) = self.fifo.front_mut() else {
            return Ok(None);
        };
        let result = match producer.file_region() {
            Some(region) if region.len > 0 => sendfile::send_region(stream, &region),
            _ => return Ok(None),
        };
        match result {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while being sent",
            )),
            Ok(n) => {
                producer.region_sent(n as u64);
                self.bytes_sent = self.bytes_sent.saturating_add(n as u64);
                Ok(Some(true))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.writable = false;
                Ok(Some(false))
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Some(true)),
            Err(e) => Err(e),
        }
    }

    /// Moves producer output into `buf` until a write's worth is ready.
    /// A producer with a file region left waits for `send_file_region`
    /// (once what is buffered ahead of it is sent).
    fn refill(&mut self, sendfile: bool) -> io::Result<()> {
        // The producers come after the tail: nothing of theirs may be put
        // ahead of it.
        if !self.tail.is_empty() {
            return Ok(());
        }
        while self.buf.len().saturating_sub(self.sent) < SEND_CHUNK {
            let Some(producer) = self.fifo.front_mut() else {
                break;
            };
            if sendfile && producer.file_region().is_some_and(|r| r.len > 0) {
                break;
            }
            let piece = producer.more()?;
            if piece.is_empty() {
                self.fifo.pop_front();
                continue;
            }
            if piece.len() >= COPIED_BEHIND_HEAD && self.sent < self.buf.len() {
                // A long piece (a body queued behind producers) is written
                // with what is ahead of it, not copied behind it.
                self.tail = piece;
                break;
            }
            if self.sent > 0 {
                self.buf.drain(..self.sent);
                self.sent = 0;
            }
            if self.buf.is_empty() {
                self.buf = piece;
            } else {
                self.buf.extend_from_slice(&piece);
            }
        }
        Ok(())
    }
}

/// Empties `buf`, freeing its memory if it grew large.
pub(super) fn release(buf: &mut Vec<u8>) {
    if buf.capacity() > KEEP_CAPACITY {
        *buf = Vec::new();
    } else {
        buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::{TcpListener, TcpStream as StdStream};
    use std::time::Duration;

    use mio::net::TcpStream;

    use crate::chat::{Chat, ChatConfig};
    use crate::producers::SimpleProducer;

    /// A channel on one end of a loopback connection, and the other end.
    fn chat_and_peer() -> (Chat, StdStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let ours = StdStream::connect(listener.local_addr().unwrap()).unwrap();
        let (peer, _) = listener.accept().unwrap();
        ours.set_nonblocking(true).unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let chat = Chat::new(
            TcpStream::from_std(ours).into(),
            ChatConfig::default(),
            false,
        );
        (chat, peer)
    }

    /// Sends what is queued (small enough for one loopback write) and
    /// returns what the peer received.
    fn sent(chat: &mut Chat, peer: &mut StdStream, len: usize) -> Vec<u8> {
        chat.initiate_send().unwrap();
        assert!(!chat.has_output(), "all of it fits the socket");
        let mut got = vec![0; len];
        peer.read_exact(&mut got).unwrap();
        got
    }

    #[test]
    fn push_vec_with_nothing_queued_becomes_the_buffer_uncopied() {
        let (mut chat, mut peer) = chat_and_peer();
        let reply = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        let at = reply.as_ptr();
        chat.push_vec(reply);
        assert_eq!(chat.output.buf.as_ptr(), at);
        assert_eq!(chat.pending_output(), 19);
        assert_eq!(sent(&mut chat, &mut peer, 19), b"HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(chat.bytes_sent(), 19);

        // Sent, it is freed: an idle connection holds no output buffer.
        assert_eq!(chat.output.buf.capacity(), 0);

        // Once that is sent, the next one is adopted too.
        let next = b"again".to_vec();
        let at = next.as_ptr();
        chat.push_vec(next);
        assert_eq!(chat.output.buf.as_ptr(), at);
        assert_eq!(sent(&mut chat, &mut peer, 5), b"again");
    }

    #[test]
    fn a_large_vec_behind_a_head_is_sent_from_its_own_buffer() {
        let (mut chat, mut peer) = chat_and_peer();
        let body: Vec<u8> = (0..8 << 20).map(|i: u32| i as u8).collect();
        let at = body.as_ptr();
        let expected = [b"head ".as_slice(), &body].concat();
        chat.push_vec(b"head ".to_vec());
        chat.push_vec(body);
        chat.initiate_send().unwrap();
        // The head went first, alone; the body is written from the very
        // buffer pushed, not from a copy behind the head.
        assert!(chat.has_output(), "8 MiB does not fit the socket at once");
        assert_eq!(chat.output.buf.as_ptr(), at);
        let reader = std::thread::spawn(move || {
            let mut got = vec![0; expected.len()];
            peer.read_exact(&mut got).unwrap();
            got == expected
        });
        while chat.has_output() {
            chat.output.note_writable();
            chat.initiate_send().unwrap();
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            reader.join().unwrap(),
            "the peer got head and body in order"
        );
    }

    #[test]
    fn push_vec_behind_pushed_bytes_is_appended() {
        let (mut chat, mut peer) = chat_and_peer();
        chat.push(b"one ");
        chat.push_vec(b"two ".to_vec());
        chat.push(b"three");
        chat.push_vec(Vec::new());
        assert_eq!(chat.pending_output(), 13);
        assert_eq!(sent(&mut chat, &mut peer, 13), b"one two three");
    }

    #[test]
    fn push_vec_behind_a_producer_waits_its_turn() {
        let (mut chat, mut peer) = chat_and_peer();
        chat.push(b"1 ");
        chat.push_with_producer(SimpleProducer::new(b"2 2 ".to_vec(), 2));
        chat.push_vec(b"3 ".to_vec());
        chat.push(b"4 ");
        chat.push_with_producer(b"5".to_vec());
        chat.push_vec(b" 6".to_vec());
        assert_eq!(sent(&mut chat, &mut peer, 13), b"1 2 2 3 4 5 6");
        assert_eq!(chat.bytes_sent(), 13);
    }

    /// A long buffer behind unsent bytes is the tail: written with them in
    /// one system call from its own memory, and what is queued after it
    /// (bytes, producers, buffers) stays after it.
    #[test]
    fn a_tail_goes_with_the_head_and_keeps_its_place() {
        let (mut chat, mut peer) = chat_and_peer();
        let body: Vec<u8> = (0..10_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let expected = [b"head ".as_slice(), &body, b" then a producer last"].concat();
        let at = body.as_ptr();
        let len = body.len();
        chat.push(b"head ");
        chat.push_vec(body);
        assert_eq!(chat.output.tail.as_ptr(), at, "not copied behind the head");
        chat.push(b" then");
        chat.push_with_producer(SimpleProducer::new(b" a producer".to_vec(), 3));
        chat.push_vec(b" last".to_vec());
        // Bytes queued behind the tail wait in the fifo, which is not counted.
        assert_eq!(chat.pending_output(), 5 + len);
        assert_eq!(sent(&mut chat, &mut peer, expected.len()), expected);
        assert_eq!(chat.bytes_sent(), expected.len() as u64);
    }
}
