//! `AsyncChat`: a [`Chat`] and its [`ChatHandler`] as one dispatcher.
//!
//! Every hook ends in [`AsyncChat::pump`], which does, in order: hand held
//! input to the handler, read while readiness and budget last, report end of
//! input, write, and decide whether to close. Doing all of it in one place
//! after every event is what keeps the edge-triggered rules (drain to
//! `WouldBlock`, or say why not) true in every path.

use std::io::{self, Read};
use std::net::SocketAddr;

use mio::event::Source;
use mio::net::TcpStream;

use super::output::release;
use super::terminator::next_piece;
use super::{Chat, ChatConfig, ChatHandler};
use crate::reactor::{Context, DispatchError, Dispatcher, Stream, TimerId, READ_BUFFER_SIZE};

/// An asynchat channel: the dispatcher that drives a [`ChatHandler`].
#[doc(alias = "async_chat")]
pub struct AsyncChat<H> {
    chat: Chat,
    handler: H,
}

/// What one `read` call gave.
enum ReadOutcome {
    Data,
    /// Data, and the socket's queue is empty now (a short read on a plain
    /// socket, no end of input reported): no read for `EAGAIN` needed.
    DataDrained,
    Eof,
    WouldBlock,
}

impl<H: ChatHandler> AsyncChat<H> {
    /// A channel on an accepted (connected) socket.
    pub fn new(stream: impl Into<Stream>, handler: H) -> AsyncChat<H> {
        AsyncChat::with_config(stream, handler, ChatConfig::default())
    }

    /// A channel with non-default limits.
    pub fn with_config(stream: impl Into<Stream>, handler: H, config: ChatConfig) -> AsyncChat<H> {
        AsyncChat {
            chat: Chat::new(stream.into(), config, false),
            handler,
        }
    }

    /// asyncore `connect`: starts a non-blocking connect; `handle_connect`
    /// runs when it completes, and a failure goes to `handle_error`. Output
    /// pushed before then is sent once connected.
    pub fn connect(addr: SocketAddr, handler: H, config: ChatConfig) -> io::Result<AsyncChat<H>> {
        let stream = TcpStream::connect(addr)?;
        Ok(AsyncChat {
            chat: Chat::new(Stream::Tcp(stream), config, true),
            handler,
        })
    }

    /// [`connect`](AsyncChat::connect), then TLS to `server_name` (checked
    /// against the certificate) with `config`. Output pushed before the
    /// handshake is done is sent once it is.
    pub fn connect_tls(
        addr: SocketAddr,
        server_name: rustls::pki_types::ServerName<'static>,
        config: std::sync::Arc<rustls::ClientConfig>,
        handler: H,
        chat_config: ChatConfig,
    ) -> io::Result<AsyncChat<H>> {
        let sock = TcpStream::connect(addr)?;
        let tls = crate::reactor::TlsStream::connect(sock, config, server_name)?;
        Ok(AsyncChat {
            chat: Chat::new(Stream::Tls(Box::new(tls)), chat_config, true),
            handler,
        })
    }

    /// [`connect`](AsyncChat::connect) to a Unix-domain socket at `path`.
    #[cfg(unix)]
    pub fn connect_unix(
        path: &std::path::Path,
        handler: H,
        config: ChatConfig,
    ) -> io::Result<AsyncChat<H>> {
        let stream = mio::net::UnixStream::connect(path)?;
        Ok(AsyncChat {
            chat: Chat::new(Stream::Unix(stream), config, true),
            handler,
        })
    }

    /// The plumbing, e.g. to push a greeting before adding the channel.
    pub fn chat_mut(&mut self) -> &mut Chat {
        &mut self.chat
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// Runs everything a readiness change may have made possible; see the
    /// module docs.
    fn pump(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if self.chat.state.is_connecting() {
            return Ok(());
        }
        if self.chat.state.is_lingering() {
            return self.linger_read(cx);
        }
        let mut reads = 0;
        loop {
            if !self.chat.inbuf.is_empty() {
                self.feed_buffered(cx)?;
            }
            while self.chat.should_read() {
                if reads == self.chat.config.reads_per_pass {
                    // Fairness: let others run, and come back next pass.
                    cx.reschedule();
                    break;
                }
                reads = reads.saturating_add(1);
                match self.read_once(cx)? {
                    ReadOutcome::Data => {}
                    ReadOutcome::Eof => self.chat.state.note_eof(),
                    ReadOutcome::WouldBlock | ReadOutcome::DataDrained => {
                        self.chat.state.note_read_drained()
                    }
                }
            }
            self.report_eof(cx);
            let was_blocked = !self.handler.readable() || self.chat.output_backlogged();
            self.chat.initiate_send()?;
            // Sending may have dropped output below the high-water mark, or
            // (through a producer's hook) made the handler willing to take
            // the input it was holding back.
            let more = self.chat.should_read() && reads < self.chat.config.reads_per_pass;
            let reopened = was_blocked
                && self.handler.readable()
                && !self.chat.output_backlogged()
                && !self.chat.inbuf.is_empty();
            if !more && !reopened {
                break;
            }
        }
        if self.chat.close_if_done(cx) {
            return self.linger_read(cx);
        }
        Ok(())
    }

    /// One `read` into the loop's shared buffer, then hand the data over.
    fn read_once(&mut self, cx: &mut Context<'_>) -> io::Result<ReadOutcome> {
        let mut buf = cx.take_read_buffer();
        if buf.len() < READ_BUFFER_SIZE {
            buf.resize(READ_BUFFER_SIZE, 0);
        }
        let result = loop {
            match self.chat.stream.read(&mut buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        // What nginx does with EPOLLRDHUP: a short read from a plain socket
        // emptied its queue, so the read that would only find EAGAIN is
        // skipped (a system call per request). Not through TLS, whose
        // record layer may hold more than one read returned.
        let drained = |n: usize| {
            n < buf.len() && !cx.peer_may_have_closed() && self.chat.stream.reads_directly()
        };
        let outcome = match result {
            Ok(0) => Ok(ReadOutcome::Eof),
            Ok(n) if drained(n) => self
                .consume(&buf[..n], cx)
                .map(|()| ReadOutcome::DataDrained),
            Ok(n) => self.consume(&buf[..n], cx).map(|()| ReadOutcome::Data),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(ReadOutcome::WouldBlock),
            Err(e) => Err(e),
        };
        cx.put_read_buffer(buf);
        outcome
    }

    /// New input: straight to the handler when nothing is held, keeping
    /// only what it could not take yet.
    fn consume(&mut self, data: &[u8], cx: &mut Context<'_>) -> io::Result<()> {
        if self.chat.inbuf.is_empty() {
            let used = self.feed(data, cx)?;
            let discarded = self.chat.state.end_discard();
            if used < data.len() && !discarded {
                self.chat.inbuf.extend_from_slice(&data[used..]);
            }
        } else {
            self.chat.inbuf.extend_from_slice(data);
            self.feed_buffered(cx)?;
            self.chat.state.end_discard();
        }
        Ok(())
    }

    fn feed_buffered(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let mut held = std::mem::take(&mut self.chat.inbuf);
        let used = self.feed(&held, cx)?;
        if self.chat.state.end_discard() {
            return Ok(());
        }
        held.drain(..used);
        if held.is_empty() {
            release(&mut held);
        }
        self.chat.inbuf = held;
        Ok(())
    }

    /// asynchat's `handle_read` loop: split `data` at terminators and call
    /// the handler. Returns how many bytes were consumed; the rest is a
    /// possible partial terminator, or input the handler is not ready for.
    // `pos` only moves forward through `data`, by lengths of pieces of it:
    // it stays <= data.len(), so the additions cannot overflow.
    #[allow(clippy::arithmetic_side_effects)]
    fn feed(&mut self, data: &[u8], cx: &mut Context<'_>) -> io::Result<usize> {
        let mut pos = 0;
        while pos < data.len() {
            if self.chat.is_closing()
                || self.chat.state.discarding()
                || !self.handler.readable()
                || self.chat.output_backlogged()
            {
                break;
            }
            let rest = &data[pos..];
            let piece = next_piece(rest, &mut self.chat.terminator);
            if piece.data > 0 {
                self.handler
                    .collect_incoming_data(&mut self.chat, &rest[..piece.data]);
            }
            pos += piece.consumed;
            if !piece.found {
                // All taken, or what is left might start a terminator.
                break;
            }
            self.handler.found_terminator(&mut self.chat, cx)?;
        }
        Ok(pos)
    }

    /// End of input: once the handler has taken what it will, give it any
    /// held partial message and call its `handle_close`, once.
    fn report_eof(&mut self, cx: &mut Context<'_>) {
        if !self.chat.state.eof_to_report() {
            return;
        }
        if !self.chat.inbuf.is_empty() {
            if !self.handler.readable() || self.chat.is_closing() {
                return;
            }
            let held = std::mem::take(&mut self.chat.inbuf);
            self.handler.collect_incoming_data(&mut self.chat, &held);
        }
        self.chat.state.note_eof_reported();
        self.handler.handle_close(&mut self.chat, cx);
    }

    /// While lingering: read and throw away until the peer closes.
    fn linger_read(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let mut buf = cx.take_read_buffer();
        if buf.len() < READ_BUFFER_SIZE {
            buf.resize(READ_BUFFER_SIZE, 0);
        }
        let mut reads = 0;
        let result = loop {
            if !self.chat.state.input_readable() {
                break Ok(());
            }
            if reads == self.chat.config.reads_per_pass {
                cx.reschedule();
                break Ok(());
            }
            reads = reads.saturating_add(1);
            match self.chat.stream.read(&mut buf) {
                Ok(0) => {
                    self.chat.state.note_linger_eof();
                    break Ok(());
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.chat.state.note_read_drained()
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        cx.put_read_buffer(buf);
        result
    }

    /// After every hook: turn the channel's close decision into the
    /// dispatcher's.
    fn settle(&mut self, cx: &mut Context<'_>, result: io::Result<()>) -> io::Result<()> {
        if self.chat.state.should_close() {
            cx.close();
        }
        result
    }

    /// The non-blocking connect finished (writable or failed).
    fn finish_connect(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if let Some(e) = self.chat.stream.take_error()? {
            return Err(e);
        }
        match self.chat.stream.peer() {
            Ok(_) => {}
            // Spurious wake-up: still connecting.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(()),
            Err(e) => return Err(e),
        }
        self.chat.note_connected();
        self.chat.stream.set_nodelay(true)?;
        self.handler.handle_connect(&mut self.chat, cx)
    }
}

impl<H: ChatHandler> Dispatcher for AsyncChat<H> {
    fn source(&mut self) -> Option<&mut dyn Source> {
        Some(&mut self.chat.stream)
    }

    fn readable(&self) -> bool {
        self.chat.can_read()
    }

    /// The channel owns its stream; dropping it closes the socket.
    fn closes_source_on_drop(&self) -> bool {
        true
    }

    fn writable(&self) -> bool {
        self.chat.wants_write()
    }

    fn handle_read(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        self.chat.state.note_readable();
        let result = self.pump(cx);
        self.settle(cx, result)
    }

    fn handle_write(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let result = if self.chat.state.is_connecting() {
            self.finish_connect(cx).and_then(|()| self.pump(cx))
        } else {
            self.chat.output.note_writable();
            self.pump(cx)
        };
        self.settle(cx, result)
    }

    fn handle_added(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let result = self
            .handler
            .handle_added(&mut self.chat, cx)
            .and_then(|()| self.pump(cx));
        self.settle(cx, result)
    }

    fn handle_close(&mut self, cx: &mut Context<'_>) {
        // Both directions are gone, or the socket has an error: nothing more
        // can be delivered either way.
        match self.chat.stream.take_error() {
            Ok(Some(e)) | Err(e) => log::debug!("channel {:?}: {e}", cx.token()),
            Ok(None) => {}
        }
        cx.close();
    }

    fn handle_error(&mut self, cx: &mut Context<'_>, error: DispatchError) {
        match &error {
            // A peer that resets or vanishes is routine for a server.
            DispatchError::Io(e) if peer_gone(e) => log::debug!("channel {:?}: {e}", cx.token()),
            _ => log::warn!("channel {:?}: {error}; closing it", cx.token()),
        }
        // The handler may be in any state after a panic; it only records.
        let handler = &mut self.handler;
        let chat = &mut self.chat;
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handler.handle_error(chat, &error)
        }));
        cx.close();
    }

    fn handle_timer(&mut self, cx: &mut Context<'_>, timer: TimerId) -> io::Result<()> {
        if self.chat.state.is_linger_timer(timer) {
            cx.close();
            return Ok(());
        }
        let result = self
            .handler
            .handle_timer(&mut self.chat, cx, timer)
            .and_then(|()| self.pump(cx));
        self.settle(cx, result)
    }

    fn handle_wake(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let result = self
            .handler
            .handle_wake(&mut self.chat, cx)
            .and_then(|()| self.pump(cx));
        self.settle(cx, result)
    }

    fn handle_shutdown(&mut self, cx: &mut Context<'_>) {
        // Input may have arrived whose readiness the poll has not reported
        // yet: read it first (WouldBlock costs one syscall), so the
        // handler decides with it. An HTTP request already on the wire is
        // answered rather than dropped with the idle connection.
        if !self.chat.state.is_connecting() {
            self.chat.state.note_readable();
            if let Err(e) = self.pump(cx) {
                log::debug!("channel {:?} during shutdown: {e}", cx.token());
                cx.close();
                return;
            }
        }
        self.handler.handle_shutdown(&mut self.chat, cx);
        if let Err(e) = self.pump(cx) {
            log::debug!("channel {:?} during shutdown: {e}", cx.token());
            cx.close();
        }
        if self.chat.state.should_close() {
            cx.close();
        }
    }
}

fn peer_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}
