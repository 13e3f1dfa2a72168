//! Buffered, message-oriented channels: a port of Python's `asynchat`.
//!
//! asyncore hands you raw readiness; asynchat turns it into *messages*. You
//! say what ends a message with [`set_terminator`](Chat::set_terminator) (a
//! byte string such as `b"\r\n"`, a byte count, or nothing), and the channel
//! calls your `collect_incoming_data(data)` with the bytes of the message as
//! they arrive and `found_terminator()` when it is complete. Output is the
//! mirror image: [`push`](Chat::push) bytes or
//! [`push_with_producer`](Chat::push_with_producer) a producer, and the
//! channel writes them as fast as the peer reads.
//!
//! In Python one class, `async_chat`, holds both the plumbing and your
//! overrides. Rust splits them: [`Chat`] is the plumbing (socket, buffers,
//! terminator, producer fifo), [`ChatHandler`] is the trait with your
//! overrides, and [`AsyncChat`] pairs the two into a dispatcher. Your hooks
//! get `&mut Chat` where Python code says `self.push(...)`.
//!
//! # Differences from Python
//!
//! - **Coalesced output.** `push` does not send at once; everything pushed
//!   during one hook leaves together, in as few writes as the socket allows
//!   (Medusa's two-write responses cost ~40 ms each with Nagle).
//! - **Backpressure.** Reading pauses while more than
//!   [`ChatConfig::output_high_water`] bytes wait to be sent, or while the
//!   handler's `readable()` says no and [`ChatConfig::max_buffered_input`]
//!   bytes are held. Python read without bound.
//! - **End of input.** When the peer closes its side, the default
//!   `handle_close` finishes sending what is queued, then closes; Python
//!   closed at once and dropped it. A final partial message (no terminator)
//!   is still given to `collect_incoming_data`.
//! - **Lingering close.** `close_when_done` shuts down the write side and
//!   discards input for up to [`ChatConfig::linger`] before closing, so unread
//!   input does not make the kernel send a reset that destroys the reply.
//! - `Length` terminators are `u64`, so a negative one cannot be expressed
//!   (CPython had to add a `ValueError` for that).

// Peer-controlled sizes and counts: arithmetic here must say what happens
// at the edges (checked, saturating), never wrap silently in release.
#![warn(clippy::arithmetic_side_effects)]

mod async_chat;
mod echo;
mod output;
mod sendfile;
mod state;
mod terminator;

pub use async_chat::AsyncChat;
pub use echo::EchoHandler;
pub(crate) use output::COPIED_BEHIND_HEAD;
pub use terminator::{find_prefix_at_end, next_piece, Piece, Terminator};
pub(crate) use terminator::{scan, Scan};

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::producers::Producer;
use crate::reactor::{Context, DispatchError, Peer, Stream, TimerId};
use output::Output;
use state::{Linger, State};

/// Tunables of a channel; every limit here is per connection.
#[derive(Clone, Debug)]
pub struct ChatConfig {
    /// Input held while the handler is not `readable()` before reading
    /// pauses (one more read of up to 64 KiB may land on top). Default 64 KiB.
    pub max_buffered_input: usize,
    /// Pending output above which reading pauses until the peer catches up
    /// (a queued producer pauses it too). Default 256 KiB.
    pub output_high_water: usize,
    /// How long `close_when_done` waits for the peer to close after our
    /// output is sent, discarding input meanwhile. Zero closes at once.
    /// Default 2 s.
    pub linger: Duration,
    /// Reads per readiness event before yielding to other connections.
    /// Default 16 (1 MiB).
    pub reads_per_pass: usize,
}

impl Default for ChatConfig {
    fn default() -> ChatConfig {
        ChatConfig {
            max_buffered_input: 64 * 1024,
            output_high_water: 256 * 1024,
            linger: Duration::from_secs(2),
            reads_per_pass: 16,
        }
    }
}

/// Your side of an asynchat channel: the methods you override on
/// `async_chat` in Python.
#[doc(alias = "async_chat")]
pub trait ChatHandler {
    /// Bytes of the current message. Called as data arrives, possibly many
    /// times per message; never with a terminator in it.
    fn collect_incoming_data(&mut self, chat: &mut Chat, data: &[u8]);

    /// The terminator was seen (or the `Length` count reached). The handler
    /// may push a reply and set a new terminator here.
    fn found_terminator(&mut self, chat: &mut Chat, cx: &mut Context<'_>) -> io::Result<()>;

    /// Whether the handler takes more input now. While false, input is held
    /// (up to `max_buffered_input`) and reading pauses; e.g. an HTTP channel
    /// returns false while a response is in progress.
    fn readable(&self) -> bool {
        true
    }

    /// The channel joined the loop (for an accepted socket, the start of
    /// the conversation): set a terminator, push a greeting, set timers.
    fn handle_added(&mut self, _chat: &mut Chat, _cx: &mut Context<'_>) -> io::Result<()> {
        Ok(())
    }

    /// An outgoing connection (made with [`AsyncChat::connect`]) is up.
    fn handle_connect(&mut self, _chat: &mut Chat, _cx: &mut Context<'_>) -> io::Result<()> {
        Ok(())
    }

    /// The peer closed its side (end of input). The default sends what is
    /// queued, then closes.
    fn handle_close(&mut self, chat: &mut Chat, _cx: &mut Context<'_>) {
        chat.close_when_done();
    }

    /// A timer set with `cx.set_timer` came due.
    fn handle_timer(
        &mut self,
        _chat: &mut Chat,
        _cx: &mut Context<'_>,
        _timer: TimerId,
    ) -> io::Result<()> {
        Ok(())
    }

    /// `cx.notify(token)` or a `Waker` named this channel.
    fn handle_wake(&mut self, _chat: &mut Chat, _cx: &mut Context<'_>) -> io::Result<()> {
        Ok(())
    }

    /// The channel is about to close because of `error` (a failed connect,
    /// a reset, an error or panic in a hook). The default does nothing; a
    /// client uses it to tell its caller why.
    fn handle_error(&mut self, _chat: &mut Chat, _error: &DispatchError) {}

    /// Graceful shutdown began. The default finishes the output, then closes.
    fn handle_shutdown(&mut self, chat: &mut Chat, _cx: &mut Context<'_>) {
        chat.close_when_done();
    }
}

/// The plumbing of an asynchat channel: socket, terminator, buffers and
/// producer fifo.
pub struct Chat {
    stream: Stream,
    terminator: Terminator,
    /// Input not yet handed to the handler: a possible partial terminator,
    /// or everything while the handler is not readable.
    inbuf: Vec<u8>,
    output: Output,
    config: ChatConfig,
    /// Phase of life, close decision and input flags; the rules that move
    /// them are in `state.rs`.
    state: State,
}

impl Chat {
    fn new(stream: Stream, config: ChatConfig, connecting: bool) -> Chat {
        Chat {
            stream,
            terminator: Terminator::None,
            inbuf: Vec::new(),
            output: Output::new(!connecting),
            config,
            state: State::new(connecting),
        }
    }

    /// asynchat `set_terminator`.
    pub fn set_terminator(&mut self, terminator: Terminator) {
        self.terminator = match terminator {
            // Python treats an empty string like None (`if not terminator`).
            Terminator::Bytes(b) if b.is_empty() => Terminator::None,
            t => t,
        };
    }

    /// asynchat `get_terminator`; a `Length` shows the bytes still to come.
    pub fn get_terminator(&self) -> &Terminator {
        &self.terminator
    }

    /// asynchat `push`: queue bytes for sending. They leave when the current
    /// hook returns, coalesced with everything else pushed meanwhile.
    pub fn push(&mut self, data: &[u8]) {
        self.output.push(data);
    }

    /// `push` for bytes the caller owns, such as an encoded response: with
    /// nothing queued, `data` becomes the output buffer as it is, saving a
    /// copy; behind bytes still unsent, a long `data` (4 KiB or more) is
    /// written together with them in one `writev`, not copied; otherwise it
    /// is queued behind the rest, like `push`.
    pub fn push_vec(&mut self, data: Vec<u8>) {
        self.output.push_vec(data);
    }

    /// asynchat `push_with_producer`: queue a producer; its `more()` is
    /// called as the socket drains.
    pub fn push_with_producer(&mut self, producer: impl Producer + 'static) {
        self.output.push_producer(Box::new(producer));
    }

    /// asynchat `close_when_done`: close once everything queued is sent.
    /// No more input is handed to the handler.
    pub fn close_when_done(&mut self) {
        self.state.close_when_done(Linger::UntilPeerCloses);
    }

    /// `close_when_done` for a peer that has finished sending, e.g. an
    /// HTTP client that asked for `Connection: close` and whose request
    /// was read whole. Lingering exists to drain input a peer is still
    /// sending (closing on unread input makes the kernel send a reset,
    /// which can destroy the reply in flight); with nothing to drain, the
    /// socket is closed as soon as the output is sent, saving the
    /// half-close, the wait for the peer's FIN and its reads. If input is
    /// held when the output is done, it lingers after all.
    pub fn close_when_done_without_linger(&mut self) {
        self.state.close_when_done(Linger::IfInputHeld);
    }

    /// asyncore `close`: close as soon as the current hook returns,
    /// dropping unsent output.
    pub fn close(&mut self) {
        self.state.close();
    }

    /// Whether `close` or `close_when_done` was called.
    pub fn is_closing(&self) -> bool {
        self.state.is_closing()
    }

    /// asynchat `discard_buffers`: drop held input and queued output.
    pub fn discard_buffers(&mut self) {
        self.state.start_discard();
        self.inbuf = Vec::new();
        self.output.clear();
    }

    /// Bytes pushed but not yet written, not counting producers' future
    /// output.
    pub fn pending_output(&self) -> usize {
        self.output.pending()
    }

    /// Whether anything (bytes or producers) waits to be sent.
    pub fn has_output(&self) -> bool {
        self.output.has_output() || self.stream.has_pending_output()
    }

    /// Bytes written to the socket since the channel opened.
    pub fn bytes_sent(&self) -> u64 {
        self.output.bytes_sent()
    }

    /// Bytes received but not yet handed to the handler.
    pub fn buffered_input(&self) -> usize {
        self.inbuf.len()
    }

    /// Who is at the other end (an address, or a local process).
    pub fn peer(&self) -> io::Result<Peer> {
        self.stream.peer()
    }

    /// The peer's TCP address (an error on a Unix-domain socket).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    /// Our end's TCP address (an error on a Unix-domain socket).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }

    /// The socket, for options this type does not wrap.
    pub fn stream(&self) -> &Stream {
        &self.stream
    }

    /// Too much output waits: take no more input (neither read it nor hand
    /// it to the handler) until the peer catches up. A queued producer
    /// counts as a backlog by itself: it may stand for a whole file, and
    /// a client pipelining requests without reading must not make us
    /// open a file (or build a response) per request.
    ///
    /// Never during a TLS handshake: queued output cannot go out until the
    /// handshake ends, and it ends only by reading the peer's messages, so
    /// pausing the reads would wait forever (a client that pushes a large
    /// request before its handshake is done). A handshake yields no input.
    pub(crate) fn output_backlogged(&self) -> bool {
        !self.stream.is_handshaking() && self.output.backlogged(self.config.output_high_water)
    }

    /// asynchat `initiate_send`: write what is queued until the socket
    /// would block or nothing is left.
    fn initiate_send(&mut self) -> io::Result<()> {
        // TLS records left from the last write go first.
        self.stream.flush_pending()?;
        self.output.send(&mut self.stream)
    }
}
