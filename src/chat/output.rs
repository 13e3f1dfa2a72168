//! A channel's output side: the coalescing buffer, the producer fifo behind
//! it, and the write readiness they are sent with (asynchat's
//! `initiate_send`).

use std::collections::VecDeque;
use std::io;

use mio::net::TcpStream;

use super::sendfile;
use crate::producers::Producer;

/// Output gathered before a write: a response of up to this size is one
/// `write` call.
const SEND_CHUNK: usize = 64 * 1024;

/// A buffer larger than this is freed, not kept, when it empties: an idle
/// connection should hold no buffers.
const KEEP_CAPACITY: usize = 4 * 1024;

/// Everything queued for the peer, in order: `buf[sent..]`, then the fifo.
pub(super) struct Output {
    /// Coalesced output; `buf[sent..]` is still to be written.
    buf: Vec<u8>,
    sent: usize,
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
        if self.fifo.is_empty() {
            self.buf.extend_from_slice(data);
        } else {
            // Order matters: behind the producers already queued.
            self.fifo.push_back(Box::new(data.to_vec()));
        }
    }

    pub(super) fn push_producer(&mut self, producer: Box<dyn Producer>) {
        self.fifo.push_back(producer);
    }

    /// Drops everything queued, sent or not.
    pub(super) fn clear(&mut self) {
        self.buf = Vec::new();
        self.sent = 0;
        self.fifo.clear();
    }

    /// Bytes queued but not yet written, not counting producers.
    pub(super) fn pending(&self) -> usize {
        self.buf.len().saturating_sub(self.sent)
    }

    /// Whether anything (bytes or producers) waits to be sent.
    pub(super) fn has_output(&self) -> bool {
        self.sent < self.buf.len() || !self.fifo.is_empty()
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
    pub(super) fn send(&mut self, stream: &mut TcpStream) -> io::Result<()> {
        loop {
            if self.sent == self.buf.len() && self.writable {
                match self.send_file_region(stream)? {
                    Some(true) => continue,
                    Some(false) => return Ok(()),
                    None => {}
                }
            }
            self.refill()?;
            if self.sent == self.buf.len() {
                self.sent = 0;
                release(&mut self.buf);
                return Ok(());
            }
            if !self.writable {
                return Ok(());
            }
            match io::Write::write(stream, &self.buf[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    // write() returns at most what it was given.
                    self.sent = self.sent.saturating_add(n).min(self.buf.len());
                    self.bytes_sent = self.bytes_sent.saturating_add(n as u64);
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
    fn send_file_region(&mut self, stream: &TcpStream) -> io::Result<Option<bool>> {
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
    fn refill(&mut self) -> io::Result<()> {
        while self.buf.len().saturating_sub(self.sent) < SEND_CHUNK {
            let Some(producer) = self.fifo.front_mut() else {
                break;
            };
            if sendfile::SUPPORTED && producer.file_region().is_some_and(|r| r.len > 0) {
                break;
            }
            let piece = producer.more()?;
            if piece.is_empty() {
                self.fifo.pop_front();
                continue;
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
