//! Server-side asynchat channels over real 127.0.0.1 sockets: terminators
//! split across reads, `Length` bodies, terminator switches, end of input,
//! producers under a slow reader, backpressure and the lingering close.
//!
//! Most tests run the reactor in the test thread and a blocking or
//! non-blocking `std` client beside it, so each step is one `run_once` away
//! and what the server has seen can be checked between two client writes.

mod util;

use std::cell::{Cell, RefCell};
use std::io::{self, Cursor, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::rc::Rc;
use std::thread;
use std::time::{Duration, Instant};

use medusa::chat::{AsyncChat, Chat, ChatConfig, ChatHandler, Terminator};
use medusa::producers::{
    ChunkedProducer, CompositeProducer, FileProducer, GlobbingProducer, HookedProducer,
    SimpleProducer,
};
use medusa::reactor::{
    Context, DispatchError, Dispatcher, Listener, Reactor, TimerId, READ_BUFFER_SIZE,
};
use mio::event::Source;
use mio::Token;
use socket2::{Domain, Protocol, SockRef, Socket, Type};

/// Upper bound for any wait in this file; a broken channel fails, not hangs.
const PATIENCE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// Harness: a listener in a reactor owned by the test thread.

/// Hooks the reactor delivered to the channels, counted by [`Probe`].
#[derive(Default)]
struct Counts {
    reads: Cell<usize>,
    writes: Cell<usize>,
    errors: Cell<usize>,
}

/// Wraps a channel and counts its read, write and error hooks, so a test
/// knows when the server has drained what the client just wrote.
struct Probe<D> {
    inner: D,
    counts: Rc<Counts>,
}

fn bump(cell: &Cell<usize>) {
    cell.set(cell.get() + 1);
}

impl<D: Dispatcher> Dispatcher for Probe<D> {
    fn source(&mut self) -> Option<&mut dyn Source> {
        self.inner.source()
    }
    fn readable(&self) -> bool {
        self.inner.readable()
    }
    fn writable(&self) -> bool {
        self.inner.writable()
    }
    fn handle_read(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        bump(&self.counts.reads);
        self.inner.handle_read(cx)
    }
    fn handle_added(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        self.inner.handle_added(cx)
    }
    fn handle_write(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        bump(&self.counts.writes);
        self.inner.handle_write(cx)
    }
    fn handle_close(&mut self, cx: &mut Context<'_>) {
        self.inner.handle_close(cx)
    }
    fn handle_error(&mut self, cx: &mut Context<'_>, error: DispatchError) {
        bump(&self.counts.errors);
        self.inner.handle_error(cx, error)
    }
    fn handle_timer(&mut self, cx: &mut Context<'_>, timer: TimerId) -> io::Result<()> {
        self.inner.handle_timer(cx, timer)
    }
    fn handle_wake(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        self.inner.handle_wake(cx)
    }
    fn handle_shutdown(&mut self, cx: &mut Context<'_>) {
        self.inner.handle_shutdown(cx)
    }
}

/// A reactor with one listener whose accepted connections become probed
/// `AsyncChat`s.
struct Server {
    reactor: Reactor,
    addr: SocketAddr,
    counts: Rc<Counts>,
    /// Tokens of accepted channels, in order.
    channels: Rc<RefCell<Vec<Token>>>,
}

impl Server {
    /// Listens on an ephemeral port; `make` builds each connection's handler
    /// (it may set socket options on the accepted stream).
    fn start<H, F>(terminator: Terminator, config: ChatConfig, make: F) -> Server
    where
        H: ChatHandler + 'static,
        F: FnMut(&medusa::reactor::Stream) -> H + 'static,
    {
        let listener = std::net::TcpListener::bind(util::localhost()).expect("bind");
        Server::on(listener, terminator, config, make)
    }

    /// Like [`start`](Server::start) on a listener the test prepared.
    fn on<H, F>(
        listener: std::net::TcpListener,
        terminator: Terminator,
        config: ChatConfig,
        mut make: F,
    ) -> Server
    where
        H: ChatHandler + 'static,
        F: FnMut(&medusa::reactor::Stream) -> H + 'static,
    {
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let counts = Rc::new(Counts::default());
        let channels = Rc::new(RefCell::new(Vec::new()));
        let listener = {
            let (counts, channels) = (counts.clone(), channels.clone());
            Listener::from_listener(
                mio::net::TcpListener::from_std(listener),
                move |stream, _peer, cx| {
                    let handler = make(&stream);
                    let mut chat = AsyncChat::with_config(stream, handler, config.clone());
                    chat.chat_mut().set_terminator(terminator.clone());
                    let token = cx.add(Probe {
                        inner: chat,
                        counts: counts.clone(),
                    })?;
                    channels.borrow_mut().push(token);
                    Ok(())
                },
            )
        };
        let mut reactor = Reactor::new().unwrap();
        reactor.add(listener).unwrap();
        Server {
            reactor,
            addr,
            counts,
            channels,
        }
    }

    /// Runs passes until `done` holds; panics after [`PATIENCE`].
    fn run_until(&mut self, what: &str, mut done: impl FnMut(&Server) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            self.reactor
                .run_once(Some(Duration::from_millis(10)))
                .unwrap();
        }
    }

    /// Connects a blocking client (no Nagle) and runs until it is accepted.
    fn client(&mut self) -> TcpStream {
        let client = util::connect(self.addr);
        client.set_nodelay(true).unwrap();
        let accepted = self.channels.borrow().len();
        self.run_until("the connection to be accepted", |s| {
            s.channels.borrow().len() > accepted
        });
        client
    }

    /// Writes `data` and runs until the channel has had a read event for
    /// it. A small write on loopback is one segment, and `handle_read`
    /// drains the socket, so the server has then seen all of `data`.
    fn deliver(&mut self, client: &mut TcpStream, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let reads = self.counts.reads.get();
        util::send(client, data);
        self.run_until("a read event", |s| s.counts.reads.get() > reads);
    }

    /// Runs until only the listener is left.
    fn run_until_channels_closed(&mut self) {
        self.run_until("the channel to close", |s| {
            s.reactor.dispatcher_count() == 1
        });
    }
}

// ---------------------------------------------------------------------------
// A handler that records what it is told.

#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    /// collect_incoming_data, adjacent calls merged (read boundaries are
    /// not part of the contract).
    Data(Vec<u8>),
    /// found_terminator.
    Found,
    /// handle_close (end of input).
    Closed,
}

#[derive(Clone, Default)]
struct Log(Rc<RefCell<Vec<Ev>>>);

impl Log {
    fn data(&self, data: &[u8]) {
        let mut events = self.0.borrow_mut();
        match events.last_mut() {
            Some(Ev::Data(d)) => d.extend_from_slice(data),
            _ => events.push(Ev::Data(data.to_vec())),
        }
    }
    fn push(&self, ev: Ev) {
        self.0.borrow_mut().push(ev);
    }
    fn events(&self) -> Vec<Ev> {
        self.0.borrow().clone()
    }
    fn clear(&self) {
        self.0.borrow_mut().clear();
    }
    fn count(&self, ev: &Ev) -> usize {
        self.0.borrow().iter().filter(|e| *e == ev).count()
    }
}

fn data(bytes: &[u8]) -> Ev {
    Ev::Data(bytes.to_vec())
}

struct Recorder {
    log: Log,
}

impl ChatHandler for Recorder {
    fn collect_incoming_data(&mut self, _chat: &mut Chat, data: &[u8]) {
        self.log.data(data);
    }
    fn found_terminator(&mut self, _chat: &mut Chat, _cx: &mut Context<'_>) -> io::Result<()> {
        self.log.push(Ev::Found);
        Ok(())
    }
    fn handle_close(&mut self, chat: &mut Chat, _cx: &mut Context<'_>) {
        self.log.push(Ev::Closed);
        chat.close_when_done();
    }
}

fn recorder(log: &Log) -> impl FnMut(&medusa::reactor::Stream) -> Recorder + 'static {
    let log = log.clone();
    move |_| Recorder { log: log.clone() }
}

/// Bytes that differ per `seed`, so a misplaced or repeated piece shows.
fn pattern(seed: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 7 + seed * 13) % 251) as u8)
        .collect()
}

/// Panics with the first differing offset instead of dumping megabytes.
fn assert_same_bytes(got: &[u8], expected: &[u8], what: &str) {
    if got != expected {
        let first = got
            .iter()
            .zip(expected)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(expected.len()));
        panic!(
            "{what}: got {} bytes, expected {}; first difference at offset {first}",
            got.len(),
            expected.len()
        );
    }
}

/// Writes what the socket takes now (non-blocking client).
fn write_some(stream: &mut TcpStream, data: &[u8]) -> usize {
    let mut written = 0;
    while written < data.len() {
        match stream.write(&data[written..]) {
            Ok(0) => panic!("write returned 0"),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("client write: {e}"),
        }
    }
    written
}

/// A client socket with small kernel buffers, so the test, not the kernel,
/// decides how much is in flight.
fn small_buffer_client(addr: SocketAddr, recv: Option<usize>, send: Option<usize>) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    if let Some(size) = recv {
        socket.set_recv_buffer_size(size).unwrap();
    }
    if let Some(size) = send {
        socket.set_send_buffer_size(size).unwrap();
    }
    socket.connect(&addr.into()).expect("connect");
    socket.set_tcp_nodelay(true).unwrap();
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    stream
}

// ---------------------------------------------------------------------------
// Byte terminators split across reads.

/// A byte terminator split at every offset across two reads is found exactly
/// once, the message before it is delivered whole, bytes that may start the
/// terminator are held back, and bytes after it start the next message.
#[test]
fn byte_terminator_split_at_every_offset_is_found_once() {
    for term in [&b"\r\n"[..], b"\r\n\r\n"] {
        let log = Log::default();
        let mut server = Server::start(
            Terminator::bytes(term),
            ChatConfig::default(),
            recorder(&log),
        );
        let message = b"GET /index.html HTTP/1.0";
        let stream = [&message[..], term, b"tail"].concat();
        let complete = message.len() + term.len();
        for split in 0..=stream.len() {
            log.clear();
            let context = format!("terminator {term:?} split at {split}");
            let mut client = server.client();
            let (part1, part2) = stream.split_at(split);

            server.deliver(&mut client, part1);
            // After part 1: the message so far, minus any bytes that could
            // be the start of the terminator (the message has no '\r').
            let mut expected = Vec::new();
            if split >= complete {
                expected.extend([data(message), Ev::Found]);
                if split > complete {
                    expected.push(data(&stream[complete..split]));
                }
            } else if split.min(message.len()) > 0 {
                expected.push(data(&stream[..split.min(message.len())]));
            }
            assert_eq!(log.events(), expected, "{context}, after part 1");

            server.deliver(&mut client, part2);
            assert_eq!(
                log.events(),
                [data(message), Ev::Found, data(b"tail")],
                "{context}, after part 2"
            );

            server.deliver(&mut client, &[&b"-more"[..], term].concat());
            assert_eq!(
                log.events(),
                [data(message), Ev::Found, data(b"tail-more"), Ev::Found],
                "{context}, after the next message"
            );

            drop(client);
            server.run_until_channels_closed();
            assert_eq!(log.events().last(), Some(&Ev::Closed), "{context}");
        }
        assert_eq!(server.counts.errors.get(), 0);
    }
}

// ---------------------------------------------------------------------------
// Length terminators and switching terminators.

/// One request of the HTTP-like protocol: header up to "\r\n\r\n", then
/// `Content-Length` bytes of body.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    header: Vec<u8>,
    body: Vec<u8>,
}

/// Reads "header\r\n\r\n", switches to `Length(content-length)` for the body
/// inside `found_terminator`, then back to "\r\n\r\n"; answers each request
/// with a line carrying the body's length and checksum.
struct HttpLike {
    header: Vec<u8>,
    body: Vec<u8>,
    in_body: bool,
    requests: Rc<RefCell<Vec<Request>>>,
    /// `get_terminator()` seen when each body completed.
    terminators_at_body_end: Rc<RefCell<Vec<Terminator>>>,
}

fn content_length(header: &[u8]) -> u64 {
    let header = std::str::from_utf8(header).expect("test headers are ASCII");
    header
        .lines()
        .find_map(|line| line.strip_prefix("Content-Length: "))
        .map_or(0, |n| n.trim().parse().expect("a number"))
}

fn reply_line(header: &[u8], body: &[u8]) -> Vec<u8> {
    let first_line = header.split(|&b| b == b'\r').next().unwrap_or_default();
    let sum = body
        .iter()
        .fold(0u32, |s, &b| s.wrapping_mul(31) ^ u32::from(b));
    let mut line = first_line.to_vec();
    line.extend_from_slice(format!(" -> {} {sum:08x}\r\n", body.len()).as_bytes());
    line
}

impl HttpLike {
    fn finish(&mut self, chat: &mut Chat) {
        let header = std::mem::take(&mut self.header);
        let body = std::mem::take(&mut self.body);
        chat.push(&reply_line(&header, &body));
        self.requests.borrow_mut().push(Request { header, body });
        self.in_body = false;
        chat.set_terminator(Terminator::bytes(b"\r\n\r\n"));
    }
}

impl ChatHandler for HttpLike {
    fn collect_incoming_data(&mut self, _chat: &mut Chat, data: &[u8]) {
        if self.in_body {
            self.body.extend_from_slice(data);
        } else {
            self.header.extend_from_slice(data);
        }
    }

    fn found_terminator(&mut self, chat: &mut Chat, _cx: &mut Context<'_>) -> io::Result<()> {
        if self.in_body {
            self.terminators_at_body_end
                .borrow_mut()
                .push(chat.get_terminator().clone());
            self.finish(chat);
            return Ok(());
        }
        match content_length(&self.header) {
            0 => self.finish(chat),
            n => {
                self.in_body = true;
                chat.set_terminator(Terminator::Length(n));
            }
        }
        Ok(())
    }
}

/// `Length` bodies larger than a read (and a pipeline of several requests in
/// one write, or in odd-sized writes) are cut exactly at the count, and
/// switching between byte and `Length` terminators inside found_terminator
/// applies to the very next byte.
#[test]
fn length_terminators_and_switching_inside_found_terminator() {
    // Bodies cross the 64 KiB read buffer, contain the header terminator,
    // and include the empty and tiny cases.
    let sizes = [100_000, 0, 3, READ_BUFFER_SIZE, 150_001, 4, 70_000];
    let requests: Vec<Request> = sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| {
            let mut body = pattern(i, size);
            for at in [0, size / 2, size.saturating_sub(4)] {
                if size >= at + 4 {
                    body[at..at + 4].copy_from_slice(b"\r\n\r\n");
                }
            }
            let header = format!("POST /{i} HTTP/1.1\r\nContent-Length: {size}").into_bytes();
            Request { header, body }
        })
        .collect();
    let mut wire = Vec::new();
    let mut expected_replies = Vec::new();
    for r in &requests {
        wire.extend_from_slice(&r.header);
        wire.extend_from_slice(b"\r\n\r\n");
        wire.extend_from_slice(&r.body);
        expected_replies.extend(reply_line(&r.header, &r.body));
    }

    for write_size in [usize::MAX, 4093] {
        let got = Rc::new(RefCell::new(Vec::new()));
        let terminators = Rc::new(RefCell::new(Vec::new()));
        let mut server = Server::start(Terminator::bytes(b"\r\n\r\n"), ChatConfig::default(), {
            let (got, terminators) = (got.clone(), terminators.clone());
            move |_| HttpLike {
                header: Vec::new(),
                body: Vec::new(),
                in_body: false,
                requests: got.clone(),
                terminators_at_body_end: terminators.clone(),
            }
        });
        let addr = server.addr;
        let wire = wire.clone();
        let client = thread::spawn(move || {
            let mut client = util::connect(addr);
            client.set_nodelay(true).unwrap();
            for piece in wire.chunks(write_size.min(wire.len())) {
                util::send(&mut client, piece);
            }
            client.shutdown(Shutdown::Write).unwrap();
            util::read_to_end(&mut client)
        });
        server.run_until("the client to finish and the channel to close", |s| {
            client.is_finished() && s.reactor.dispatcher_count() == 1
        });
        let replies = client.join().expect("client thread");

        let got = got.borrow();
        assert_eq!(got.len(), requests.len(), "write size {write_size}");
        for (i, (g, r)) in got.iter().zip(&requests).enumerate() {
            assert_eq!(g.header, r.header, "request {i}, write size {write_size}");
            assert_same_bytes(&g.body, &r.body, &format!("body {i}"));
        }
        // Every non-empty body ended with the count run down to zero.
        let with_body = sizes.iter().filter(|&&s| s > 0).count();
        assert_eq!(
            *terminators.borrow(),
            vec![Terminator::Length(0); with_body]
        );
        assert_eq!(
            String::from_utf8_lossy(&replies),
            String::from_utf8_lossy(&expected_replies)
        );
    }
}

// ---------------------------------------------------------------------------
// No terminator.

/// With `Terminator::None` every byte goes to collect_incoming_data, in
/// order (terminator-looking bytes included), and found_terminator is never
/// called.
#[test]
fn none_terminator_collects_everything() {
    let log = Log::default();
    let mut server = Server::start(Terminator::None, ChatConfig::default(), recorder(&log));
    let mut client = server.client();
    let pieces: [&[u8]; 4] = [b"abc\r\n", b"\r\n\r\n", b"\n", b"xyz"];
    for piece in pieces {
        server.deliver(&mut client, piece);
    }
    let big = pattern(1, 200_000);
    util::send(&mut client, &big);
    client.shutdown(Shutdown::Write).unwrap();
    server.run_until_channels_closed();

    let expected = [pieces.concat(), big].concat();
    let events = log.events();
    assert_eq!(events.len(), 2, "one run of data, then the close");
    match &events[0] {
        Ev::Data(got) => assert_same_bytes(got, &expected, "collected"),
        other => panic!("expected data, got {other:?}"),
    }
    assert_eq!(events[1], Ev::Closed);
    assert_eq!(log.count(&Ev::Found), 0);
    assert_eq!(util::read_to_end(&mut client), b"", "server closed cleanly");
}

// ---------------------------------------------------------------------------
// End of input in the middle of a message.

/// A peer that closes mid-message: the partial message (even bytes that
/// looked like the start of a terminator) is delivered, handle_close is
/// called once, the server closes its end and only the listener is left.
#[test]
fn peer_closing_mid_message_delivers_the_partial_message() {
    for full_close in [false, true] {
        let log = Log::default();
        let mut server = Server::start(
            Terminator::bytes(b"\r\n"),
            ChatConfig::default(),
            recorder(&log),
        );
        let mut client = server.client();
        server.deliver(&mut client, b"one\r\ntwo-part");
        server.deliver(&mut client, b"ial\r");
        assert_eq!(
            log.events(),
            [data(b"one"), Ev::Found, data(b"two-partial")],
            "the '\\r' is held until the next read"
        );
        if full_close {
            drop(client);
            server.run_until_channels_closed();
        } else {
            client.shutdown(Shutdown::Write).unwrap();
            server.run_until_channels_closed();
            let mut buf = [0u8; 16];
            assert_eq!(client.read(&mut buf).expect("clean EOF, not a reset"), 0);
        }
        assert_eq!(
            log.events(),
            [data(b"one"), Ev::Found, data(b"two-partial\r"), Ev::Closed],
            "full close: {full_close}"
        );
        assert_eq!(log.count(&Ev::Closed), 1);
        assert_eq!(server.reactor.dispatcher_count(), 1, "just the listener");
        assert_eq!(server.counts.errors.get(), 0);
    }
}

// ---------------------------------------------------------------------------
// Producers under a slow reader.

/// What a handler does to its channel to answer a request.
type Reply = Box<dyn FnOnce(&mut Chat)>;

/// Runs `respond` on the first complete message, then ignores the rest.
struct Respond {
    respond: Option<Reply>,
}

impl ChatHandler for Respond {
    fn collect_incoming_data(&mut self, _chat: &mut Chat, _data: &[u8]) {}
    fn found_terminator(&mut self, chat: &mut Chat, _cx: &mut Context<'_>) -> io::Result<()> {
        if let Some(respond) = self.respond.take() {
            respond(chat);
        }
        Ok(())
    }
}

/// HTTP/1.1 chunked coding of `data` cut in `piece`-byte chunks, written out
/// independently of `ChunkedProducer`.
fn chunked(data: &[u8], piece: usize, trailer: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in data.chunks(piece) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n");
    out.extend_from_slice(trailer);
    out.extend_from_slice(b"\r\n\r\n");
    out
}

/// A multi-megabyte reply mixing push and every producer type, read slowly
/// in small pieces through small socket buffers, arrives byte for byte: the
/// fifo resumes exactly where each partial write stopped, bytes pushed
/// behind a producer wait their turn, and the hooked producer reports its
/// exact size once.
#[test]
fn slow_reader_gets_every_producer_byte_in_order() {
    let a = pattern(1, 200_000);
    let b = pattern(2, 500_000);
    let c = b"--pushed behind a producer--".to_vec();
    let d = pattern(3, 1_500_000);
    let e = pattern(4, 300_000);
    let f = pattern(5, 100_000);
    let g = pattern(6, 250_000);
    let h = pattern(7, 400_000);
    let trailer = b"X-Trailer: yes";
    let expected = [
        a.clone(),
        b.clone(),
        c.clone(),
        d.clone(),
        chunked(&e, 1000, trailer),
        f.clone(),
        g.clone(),
        h.clone(),
        b"END\r\n".to_vec(),
    ]
    .concat();

    let hooked = Rc::new(Cell::new(None::<u64>));
    let hook_calls = Rc::new(Cell::new(0));
    let mut respond = {
        let (hooked, hook_calls) = (hooked.clone(), hook_calls.clone());
        Some(move |chat: &mut Chat| {
            chat.push(&a);
            chat.push_with_producer(SimpleProducer::new(b, 777));
            chat.push(&c);
            chat.push_with_producer(HookedProducer::new(
                FileProducer::new(Cursor::new(d), 64 * 1024),
                move |n| {
                    hooked.set(Some(n));
                    hook_calls.set(hook_calls.get() + 1);
                },
            ));
            chat.push_with_producer(ChunkedProducer::new(
                SimpleProducer::new(e, 1000),
                vec![trailer.to_vec()],
            ));
            let mut composite = CompositeProducer::new();
            composite.push(f);
            composite.push(SimpleProducer::new(g, 4096));
            composite.push(GlobbingProducer::new(SimpleProducer::new(h, 10), 8192));
            chat.push_with_producer(composite);
            chat.push(b"END\r\n");
            chat.close_when_done();
        })
    };
    let mut server = Server::start(
        Terminator::bytes(b"\r\n"),
        ChatConfig::default(),
        move |stream| {
            // Small kernel buffers: megabytes must go out in many writes.
            SockRef::from(stream)
                .set_send_buffer_size(16 * 1024)
                .unwrap();
            let respond = respond.take().expect("one connection");
            Respond {
                respond: Some(Box::new(respond)),
            }
        },
    );

    let mut client = small_buffer_client(server.addr, Some(16 * 1024), None);
    util::send(&mut client, b"GET\r\n");
    client.set_nonblocking(true).unwrap();
    let mut got = Vec::with_capacity(expected.len());
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + PATIENCE;
    loop {
        assert!(
            Instant::now() < deadline,
            "timed out at {} bytes",
            got.len()
        );
        match client.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                server.reactor.run_once(Some(Duration::ZERO)).unwrap();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                server
                    .reactor
                    .run_once(Some(Duration::from_millis(5)))
                    .unwrap();
            }
            Err(e) => panic!("client read after {} bytes: {e}", got.len()),
        }
    }
    assert_same_bytes(&got, &expected, "reply");
    assert_eq!(hooked.get(), Some(1_500_000));
    assert_eq!(hook_calls.get(), 1);
    // 3 MB through ~64 KB of socket buffers: the channel must have resumed
    // after a full send buffer many times.
    assert!(
        server.counts.writes.get() > 10,
        "only {} write events: the reply was not written in parts",
        server.counts.writes.get()
    );
    drop(client);
    server.run_until_channels_closed();
    assert_eq!(server.counts.errors.get(), 0);
}

// ---------------------------------------------------------------------------
// Backpressure.

/// Takes lines only while open; opened by a wake-up.
struct Gated {
    open: bool,
    line: Vec<u8>,
    lines: Rc<RefCell<Vec<Vec<u8>>>>,
    /// `buffered_input()` when the wake-up came.
    held_at_wake: Rc<Cell<Option<usize>>>,
}

impl ChatHandler for Gated {
    fn collect_incoming_data(&mut self, _chat: &mut Chat, data: &[u8]) {
        assert!(self.open, "input delivered while not readable");
        self.line.extend_from_slice(data);
    }
    fn found_terminator(&mut self, _chat: &mut Chat, _cx: &mut Context<'_>) -> io::Result<()> {
        assert!(self.open, "input delivered while not readable");
        self.lines.borrow_mut().push(std::mem::take(&mut self.line));
        Ok(())
    }
    fn readable(&self) -> bool {
        self.open
    }
    fn handle_wake(&mut self, chat: &mut Chat, _cx: &mut Context<'_>) -> io::Result<()> {
        self.held_at_wake.set(Some(chat.buffered_input()));
        self.open = true;
        Ok(())
    }
}

/// A listener whose accepted sockets inherit a small receive buffer.
fn small_buffer_listener(recv: usize) -> std::net::TcpListener {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    socket.set_recv_buffer_size(recv).unwrap();
    socket.bind(&util::localhost().into()).unwrap();
    socket.listen(16).unwrap();
    socket.into()
}

/// While the handler's readable() is false the channel holds at most
/// max_buffered_input (plus one read) and stops reading, so the client
/// blocks; a Waker wake-up that opens the handler then delivers every line
/// in order, nothing lost or repeated.
#[test]
fn unreadable_handler_pauses_input_until_woken() {
    let max_held = 16 * 1024;
    let lines = Rc::new(RefCell::new(Vec::new()));
    let held_at_wake = Rc::new(Cell::new(None));
    let config = ChatConfig {
        max_buffered_input: max_held,
        ..ChatConfig::default()
    };
    let mut server = Server::on(
        small_buffer_listener(16 * 1024),
        Terminator::bytes(b"\n"),
        config,
        {
            let (lines, held_at_wake) = (lines.clone(), held_at_wake.clone());
            move |_| Gated {
                open: false,
                line: Vec::new(),
                lines: lines.clone(),
                held_at_wake: held_at_wake.clone(),
            }
        },
    );
    let expected: Vec<Vec<u8>> = (0..10_000)
        .map(|i| format!("line {i:06} {}", "x".repeat(i % 97)).into_bytes())
        .collect();
    let wire: Vec<u8> = expected
        .iter()
        .flat_map(|l| [&l[..], b"\n"].concat())
        .collect();

    let mut client = small_buffer_client(server.addr, None, Some(16 * 1024));
    client.set_nonblocking(true).unwrap();
    server.run_until("accept", |s| !s.channels.borrow().is_empty());
    let token = server.channels.borrow()[0];

    // Write until the client has been blocked for several passes in a row.
    let mut written = 0;
    let mut stalled = 0;
    for _ in 0..1000 {
        let n = write_some(&mut client, &wire[written..]);
        written += n;
        server
            .reactor
            .run_once(Some(Duration::from_millis(5)))
            .unwrap();
        stalled = if n == 0 { stalled + 1 } else { 0 };
        if stalled == 5 || written == wire.len() {
            break;
        }
    }
    assert!(
        written < wire.len(),
        "the server kept reading: all {written} bytes were accepted"
    );
    assert_eq!(stalled, 5);
    assert!(lines.borrow().is_empty(), "nothing delivered while closed");

    let waker = server.reactor.waker();
    thread::spawn(move || waker.wake(token))
        .join()
        .unwrap()
        .expect("wake");
    let deadline = Instant::now() + PATIENCE;
    while lines.borrow().len() < expected.len() {
        assert!(Instant::now() < deadline, "timed out after release");
        written += write_some(&mut client, &wire[written..]);
        server
            .reactor
            .run_once(Some(Duration::from_millis(5)))
            .unwrap();
    }

    let held = held_at_wake.get().expect("handle_wake ran");
    assert!(
        (max_held..max_held + READ_BUFFER_SIZE).contains(&held),
        "held {held} bytes while paused"
    );
    let lines = lines.borrow();
    assert_eq!(lines.len(), expected.len());
    if let Some(i) = (0..lines.len()).find(|&i| lines[i] != expected[i]) {
        panic!(
            "line {i}: got {:?}, expected {:?}",
            String::from_utf8_lossy(&lines[i]),
            String::from_utf8_lossy(&expected[i])
        );
    }
    assert_eq!(server.counts.errors.get(), 0);
}

/// Serves one request at a time: not readable while its reply is being
/// produced; the reply's hooked producer reopens it when the reply is done.
struct OneAtATime {
    busy: Rc<Cell<bool>>,
    request: Vec<u8>,
    requests: Rc<RefCell<Vec<Vec<u8>>>>,
}

impl ChatHandler for OneAtATime {
    fn collect_incoming_data(&mut self, _chat: &mut Chat, data: &[u8]) {
        self.request.extend_from_slice(data);
    }
    fn found_terminator(&mut self, chat: &mut Chat, _cx: &mut Context<'_>) -> io::Result<()> {
        let request = std::mem::take(&mut self.request);
        let mut reply = b"reply to ".to_vec();
        reply.extend_from_slice(&request);
        reply.extend_from_slice(b"\r\n");
        self.requests.borrow_mut().push(request);
        self.busy.set(true);
        let busy = self.busy.clone();
        chat.push_with_producer(HookedProducer::new(reply, move |_| busy.set(false)));
        Ok(())
    }
    fn readable(&self) -> bool {
        !self.busy.get()
    }
}

/// Pipelined requests held while the handler was busy are processed once a
/// reply finishes and the handler turns readable again, with no further
/// input or wake-up needed (the HTTP use of readable() in the docs).
#[test]
fn held_pipelined_requests_are_served_when_the_handler_reopens() {
    let requests = Rc::new(RefCell::new(Vec::new()));
    let mut server = Server::start(Terminator::bytes(b"\r\n"), ChatConfig::default(), {
        let requests = requests.clone();
        move |_| OneAtATime {
            busy: Rc::new(Cell::new(false)),
            request: Vec::new(),
            requests: requests.clone(),
        }
    });
    let mut client = server.client();
    util::send(&mut client, b"one\r\ntwo\r\nthree\r\n");
    // Bounded: 100 passes of at most 10 ms.
    for _ in 0..100 {
        if requests.borrow().len() == 3 {
            break;
        }
        server
            .reactor
            .run_once(Some(Duration::from_millis(10)))
            .unwrap();
    }
    assert_eq!(
        *requests.borrow(),
        vec![b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]
    );
    client.shutdown(Shutdown::Write).unwrap();
    server.run_until_channels_closed();
    assert_eq!(
        util::read_to_end(&mut client),
        b"reply to one\r\nreply to two\r\nreply to three\r\n"
    );
}

// ---------------------------------------------------------------------------
// close_when_done and the lingering close.

/// close_when_done sends every queued byte before closing, and a client
/// that had sent more input the server never read still gets the whole
/// reply and a clean EOF, not a connection reset; the extra input never
/// reaches the handler.
#[test]
fn close_when_done_flushes_then_lingers_for_a_clean_eof() {
    let log = Log::default();
    let reply = pattern(9, 1_000_000);
    let mut server = Server::start(Terminator::bytes(b"\r\n"), ChatConfig::default(), {
        let (log, reply) = (log.clone(), reply.clone());
        move |_| Bye {
            log: log.clone(),
            reply: Some(reply.clone()),
            linger: true,
        }
    });
    // A small receive buffer keeps most of the reply in the server's hands
    // when it decides to close.
    let client = small_buffer_client(server.addr, Some(16 * 1024), None);
    let mut writer = client.try_clone().unwrap();
    let mut reader = client;
    let extra: Vec<u8> = b"more input nobody reads\r\n".repeat(10_000);
    let writer = thread::spawn(move || {
        writer.write_all(b"BYE\r\n")?;
        writer.write_all(&extra)
    });
    let reader = thread::spawn(move || {
        let mut got = Vec::new();
        reader.read_to_end(&mut got).map(|_| got)
    });
    server.run_until("the client to finish and the channel to close", |s| {
        writer.is_finished() && reader.is_finished() && s.reactor.dispatcher_count() == 1
    });
    writer
        .join()
        .unwrap()
        .expect("the server drained the extra input");
    let got = reader.join().unwrap().expect("clean EOF, not a reset");
    assert_same_bytes(&got, &reply, "reply");
    assert_eq!(log.events(), [data(b"BYE"), Ev::Found]);
    assert_eq!(server.counts.errors.get(), 0);
}

/// close_when_done_without_linger: once the reply is sent the socket is
/// closed at once, though the client keeps its end open (a linger of
/// 30 s would otherwise hold it), and the client still reads the whole
/// reply and a clean EOF.
#[test]
fn close_without_linger_closes_once_the_reply_is_sent() {
    let log = Log::default();
    let reply = pattern(3, 200_000);
    let config = ChatConfig {
        linger: Duration::from_secs(30),
        ..ChatConfig::default()
    };
    let mut server = Server::start(Terminator::bytes(b"\r\n"), config, {
        let (log, reply) = (log.clone(), reply.clone());
        move |_| Bye {
            log: log.clone(),
            reply: Some(reply.clone()),
            linger: false,
        }
    });
    let mut client = util::connect(server.addr);
    client.write_all(b"BYE\r\n").unwrap();
    let reader = thread::spawn(move || {
        let mut got = Vec::new();
        let result = client.read_to_end(&mut got).map(|_| got);
        // Hold the socket open (no FIN from us) until the test is done.
        (result, client)
    });
    // The reader ends at EOF but keeps its socket open; with a linger the
    // channel would stay for 30 s waiting for the client's FIN.
    server.run_until("the channel to close with the client still open", |s| {
        reader.is_finished() && s.reactor.dispatcher_count() == 1
    });
    let (got, _client) = reader.join().unwrap();
    assert_same_bytes(&got.expect("clean EOF"), &reply, "reply");
    assert_eq!(log.events(), [data(b"BYE"), Ev::Found]);
}

/// ...but input held when the reply is done means the peer was still
/// sending: then it lingers after all, and the client gets the whole
/// reply and a clean EOF rather than a reset.
#[test]
fn close_without_linger_still_lingers_over_held_input() {
    let log = Log::default();
    let reply = pattern(5, 1_000_000);
    let mut server = Server::start(Terminator::bytes(b"\r\n"), ChatConfig::default(), {
        let (log, reply) = (log.clone(), reply.clone());
        move |_| Bye {
            log: log.clone(),
            reply: Some(reply.clone()),
            linger: false,
        }
    });
    let client = small_buffer_client(server.addr, Some(16 * 1024), None);
    let mut writer = client.try_clone().unwrap();
    let mut reader = client;
    let writer = thread::spawn(move || {
        // One write: the extra line arrives with BYE and is held.
        writer.write_all(b"BYE\r\nstill talking\r\n")
    });
    let reader = thread::spawn(move || {
        let mut got = Vec::new();
        reader.read_to_end(&mut got).map(|_| got)
    });
    server.run_until("the client to finish and the channel to close", |s| {
        reader.is_finished() && s.reactor.dispatcher_count() == 1
    });
    writer.join().unwrap().unwrap();
    let got = reader.join().unwrap().expect("clean EOF, not a reset");
    assert_same_bytes(&got, &reply, "reply");
}

/// Replies to "BYE" with a large body and close_when_done (or, without
/// `linger`, close_when_done_without_linger).
struct Bye {
    log: Log,
    reply: Option<Vec<u8>>,
    linger: bool,
}

impl ChatHandler for Bye {
    fn collect_incoming_data(&mut self, _chat: &mut Chat, data: &[u8]) {
        self.log.data(data);
    }
    fn found_terminator(&mut self, chat: &mut Chat, _cx: &mut Context<'_>) -> io::Result<()> {
        self.log.push(Ev::Found);
        if let Some(reply) = self.reply.take() {
            chat.push_with_producer(SimpleProducer::new(reply, 8192));
            if self.linger {
                chat.close_when_done();
            } else {
                chat.close_when_done_without_linger();
            }
        }
        Ok(())
    }
    fn handle_close(&mut self, chat: &mut Chat, _cx: &mut Context<'_>) {
        self.log.push(Ev::Closed);
        chat.close_when_done();
    }
}
