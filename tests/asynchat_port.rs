//! CPython's `test_asynchat.py`, ported.
//!
//! The Python tests run a blocking echo server in a thread: it collects
//! input until `b"QUIT\n"`, then sends everything back `chunk_size` bytes at
//! a time with 1 ms pauses, and closes. The client under test is an
//! `async_chat` whose `collect_incoming_data` appends to a buffer and whose
//! `found_terminator` moves that buffer onto `contents`. Here the client is
//! [`AsyncChat::connect`] in a [`Reactor`] driven from the test thread by a
//! bounded loop of `run_once`, which stands in for
//! `asyncore.loop(count=300, timeout=.01)`.
//!
//! Not ported:
//! - `test_disallow_negative_terminator`: `Terminator::Length` holds a `u64`,
//!   so a negative count cannot be written (CPython needed a `ValueError`).
//! - The `TypeError` half of `test_push`: `push` takes `&[u8]`, so pushing an
//!   int or a `str` does not compile.
//! - `TestAsynchat_WithPoll`: there is one poller (mio), not select and poll.
//!
//! `test_blockingioerror` mocked a socket whose `recv` raised
//! `BlockingIOError`; here a real read event is delivered with no data
//! waiting (via [`Context::reschedule`]), so the read hits `WouldBlock`.

mod util;

use std::cell::{Cell, RefCell};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::rc::Rc;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use medusa::chat::{find_prefix_at_end, AsyncChat, Chat, ChatConfig, ChatHandler, Terminator};
use medusa::producers::SimpleProducer;
use medusa::reactor::{Context, DispatchError, Dispatcher, Listener, Reactor, TimerId};
use mio::event::Source;
use mio::Token;

const SERVER_QUIT: &[u8] = b"QUIT\n";

/// asyncore.loop(count=300, timeout=.01): the upper bound of every loop here.
const LOOP_COUNT: usize = 300;
const LOOP_TIMEOUT: Duration = Duration::from_millis(10);

/// The blocking echo server of the Python test, in a std thread. `join`
/// returns what it received (QUIT removed), like `s.buffer` in Python.
struct EchoServer {
    addr: SocketAddr,
    thread: JoinHandle<Vec<u8>>,
    /// Set when the whole input (up to QUIT) has been received.
    received: mpsc::Receiver<()>,
    /// Python's `start_resend_event`; the server waits for it only when
    /// started with `wait_before_resend`.
    start_resend: mpsc::Sender<()>,
}

impl EchoServer {
    fn start(chunk_size: usize, wait_before_resend: bool) -> EchoServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().unwrap();
        let (received_tx, received) = mpsc::channel();
        let (start_resend, start_resend_rx) = mpsc::channel::<()>();
        let thread = thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("accept");
            conn.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut buffer = Vec::new();
            let mut byte = [0u8; 1];
            // Collect data until the quit message is seen.
            while !contains(&buffer, SERVER_QUIT) {
                match conn.read(&mut byte) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => buffer.push(byte[0]),
                }
            }
            let buffer = remove_all(&buffer, SERVER_QUIT);
            let _ = received_tx.send(());
            if wait_before_resend {
                let _ = start_resend_rx.recv_timeout(Duration::from_secs(10));
            }
            // Re-send everything; this may fail when the client has closed
            // (test_close_when_done), as in Python.
            for chunk in buffer.chunks(chunk_size) {
                if conn.write_all(chunk).is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(1));
            }
            buffer
        });
        EchoServer {
            addr,
            thread,
            received,
            start_resend,
        }
    }

    fn join(self) -> Vec<u8> {
        self.thread.join().expect("echo server thread")
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Python's `bytes.replace(needle, b"")`.
fn remove_all(haystack: &[u8], needle: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

/// What the Python `echo_client` keeps on `self`.
#[derive(Default)]
struct ClientState {
    contents: Vec<Vec<u8>>,
    buffer: Vec<u8>,
    connected: bool,
}

/// `echo_client`: a buffer of the current message and a list of finished
/// ones.
struct EchoClient {
    state: Rc<RefCell<ClientState>>,
}

impl ChatHandler for EchoClient {
    fn collect_incoming_data(&mut self, _chat: &mut Chat, data: &[u8]) {
        self.state.borrow_mut().buffer.extend_from_slice(data);
    }

    fn found_terminator(&mut self, _chat: &mut Chat, _cx: &mut Context<'_>) -> io::Result<()> {
        let mut state = self.state.borrow_mut();
        let message = std::mem::take(&mut state.buffer);
        state.contents.push(message);
        Ok(())
    }

    fn handle_connect(&mut self, _chat: &mut Chat, _cx: &mut Context<'_>) -> io::Result<()> {
        self.state.borrow_mut().connected = true;
        Ok(())
    }
}

/// Python's `echo_client(terminator, port)`: the channel (not yet in a
/// loop) and a handle on its state.
fn echo_client(
    terminator: Terminator,
    addr: SocketAddr,
) -> (AsyncChat<EchoClient>, Rc<RefCell<ClientState>>) {
    let state = Rc::new(RefCell::new(ClientState::default()));
    let handler = EchoClient {
        state: state.clone(),
    };
    let mut client =
        AsyncChat::connect(addr, handler, ChatConfig::default()).expect("start connect");
    client.chat_mut().set_terminator(terminator);
    (client, state)
}

/// `asyncore.loop(count=300, timeout=.01)`, returning early once the client
/// channel has closed (the socket map is empty). Returns whether it closed.
fn run_until_closed(reactor: &mut Reactor) -> bool {
    for _ in 0..LOOP_COUNT {
        if reactor.dispatcher_count() == 0 {
            return true;
        }
        reactor.run_once(Some(LOOP_TIMEOUT)).expect("run_once");
    }
    reactor.dispatcher_count() == 0
}

/// Runs one Python-style exchange: `prepare` pushes onto the new client,
/// the loop runs until the server has echoed and closed, and the client's
/// final state is returned with what the server received.
fn exchange(
    terminator: Terminator,
    chunk_size: usize,
    prepare: impl FnOnce(&mut Chat),
) -> (ClientState, Vec<u8>) {
    let server = EchoServer::start(chunk_size, false);
    let (mut client, state) = echo_client(terminator, server.addr);
    prepare(client.chat_mut());
    let mut reactor = Reactor::new().unwrap();
    reactor.add(client).unwrap();
    assert!(
        run_until_closed(&mut reactor),
        "client channel should close after the server's EOF"
    );
    let received = server.join();
    let state = Rc::try_unwrap(state)
        .ok()
        .expect("the channel (and its handler) was dropped on close")
        .into_inner();
    assert!(state.connected, "handle_connect was called");
    (state, received)
}

fn line_terminator_check(term: &[u8], server_chunk: usize) {
    let (state, _) = exchange(Terminator::bytes(term), server_chunk, |chat| {
        chat.push(b"hello ");
        chat.push(&[b"world", term].concat());
        chat.push(&[b"I'm not dead yet!", term].concat());
        chat.push(SERVER_QUIT);
    });
    assert_eq!(
        state.contents,
        vec![b"hello world".to_vec(), b"I'm not dead yet!".to_vec()],
        "terminator {term:?}, server chunk {server_chunk}"
    );
    assert_eq!(state.buffer, b"", "nothing after the last terminator");
}

/// A one-byte terminator splits echoed lines correctly whatever the size of
/// the server's writes.
#[test]
fn test_line_terminator1() {
    for l in [1, 2, 3] {
        line_terminator_check(b"\n", l);
    }
}

/// A two-byte terminator arriving split across reads is still found once.
#[test]
fn test_line_terminator2() {
    for l in [1, 2, 3] {
        line_terminator_check(b"\r\n", l);
    }
}

/// A three-byte terminator made of one repeated byte (`qqq`) is found at
/// every split of the server's writes.
#[test]
fn test_line_terminator3() {
    for l in [1, 2, 3] {
        line_terminator_check(b"qqq", l);
    }
}

fn numeric_terminator_check(termlen: u64) {
    let data = b"hello world, I'm not dead yet!\n";
    let (state, _) = exchange(Terminator::Length(termlen), 1, |chat| {
        chat.push(data);
        chat.push(SERVER_QUIT);
    });
    let n = termlen as usize;
    assert_eq!(state.contents, vec![data[..n].to_vec()]);
    // Once the count is reached the terminator reads Length(0), which
    // collects everything like None (Python: `if not terminator`).
    assert_eq!(state.buffer, &data[n..]);
}

/// A `Length(1)` terminator ends the first message after one byte.
#[test]
fn test_numeric_terminator1() {
    numeric_terminator_check(1);
}

/// A `Length(6)` terminator ends the first message after six bytes.
#[test]
fn test_numeric_terminator2() {
    numeric_terminator_check(6);
}

/// With no terminator every byte goes to collect_incoming_data and no
/// message is ever completed.
#[test]
fn test_none_terminator() {
    let data = b"hello world, I'm not dead yet!\n";
    let (state, _) = exchange(Terminator::None, 1, |chat| {
        chat.push(data);
        chat.push(SERVER_QUIT);
    });
    assert_eq!(state.contents, Vec::<Vec<u8>>::new());
    assert_eq!(state.buffer, data);
}

/// Output from a SimpleProducer (8-byte pieces) reaches the peer whole and
/// in order.
#[test]
fn test_simple_producer() {
    let data = b"hello world\nI'm not dead yet!\n";
    let (state, received) = exchange(Terminator::bytes(b"\n"), 1, |chat| {
        chat.push_with_producer(SimpleProducer::new([&data[..], SERVER_QUIT].concat(), 8));
    });
    assert_eq!(received, data);
    assert_eq!(
        state.contents,
        vec![b"hello world".to_vec(), b"I'm not dead yet!".to_vec()]
    );
}

/// A plain byte vector works as a one-shot producer (Python accepts a
/// string in push_with_producer).
#[test]
fn test_string_producer() {
    let data = b"hello world\nI'm not dead yet!\n";
    let (state, received) = exchange(Terminator::bytes(b"\n"), 1, |chat| {
        chat.push_with_producer([&data[..], SERVER_QUIT].concat());
    });
    assert_eq!(received, data);
    assert_eq!(
        state.contents,
        vec![b"hello world".to_vec(), b"I'm not dead yet!".to_vec()]
    );
}

/// Two terminators in a row produce an empty message, not a skipped one.
#[test]
fn test_empty_line() {
    let (state, _) = exchange(Terminator::bytes(b"\n"), 1, |chat| {
        chat.push(b"hello world\n\nI'm not dead yet!\n");
        chat.push(SERVER_QUIT);
    });
    assert_eq!(
        state.contents,
        vec![
            b"hello world".to_vec(),
            b"".to_vec(),
            b"I'm not dead yet!".to_vec()
        ]
    );
}

/// close_when_done sends everything queued, then closes; input arriving
/// afterwards is never handed to the handler.
#[test]
fn test_close_when_done() {
    let server = EchoServer::start(1, true);
    let (mut client, state) = echo_client(Terminator::bytes(b"\n"), server.addr);
    client.chat_mut().push(b"hello world\nI'm not dead yet!\n");
    client.chat_mut().push(SERVER_QUIT);
    client.chat_mut().close_when_done();
    let mut reactor = Reactor::new().unwrap();
    reactor.add(client).unwrap();

    let mut released = false;
    let mut closed = false;
    for _ in 0..LOOP_COUNT {
        // Python released the server only after its loop had run; releasing
        // it as soon as it has our output makes the echo actually arrive
        // while the channel is closing, which must not reach the handler.
        if !released && server.received.try_recv().is_ok() {
            server.start_resend.send(()).unwrap();
            released = true;
        }
        if reactor.dispatcher_count() == 0 {
            closed = true;
            break;
        }
        reactor.run_once(Some(LOOP_TIMEOUT)).unwrap();
    }
    let _ = server.start_resend.send(());
    let received = server.thread.join().expect("echo server thread");

    assert!(released, "the server received the whole output");
    assert!(closed, "the client closed after the server's close");
    assert_eq!(received, b"hello world\nI'm not dead yet!\n");
    let state = state.borrow();
    assert_eq!(state.contents, Vec::<Vec<u8>>::new());
    assert_eq!(state.buffer, b"");
}

/// Several pushes of the same bytes (from a literal, a Vec and a slice, as
/// Python pushed bytes, bytearray and memoryview) each arrive.
#[test]
fn test_push() {
    let data = b"bytes\n";
    let owned: Vec<u8> = data.to_vec();
    let (state, _) = exchange(Terminator::bytes(b"\n"), 1, |chat| {
        chat.push(data);
        chat.push(&owned);
        chat.push(&data[..]);
        chat.push(SERVER_QUIT);
    });
    assert_eq!(state.contents, vec![b"bytes".to_vec(); 3]);
}

/// find_prefix_at_end gives the length of the terminator prefix a buffer
/// ends with (TestHelperFunctions).
#[test]
fn test_find_prefix_at_end() {
    assert_eq!(find_prefix_at_end(b"qwerty\r", b"\r\n"), 1);
    assert_eq!(find_prefix_at_end(b"qwertydkjf", b"\r\n"), 0);
}

/// Counts the hooks the reactor delivers to the channel it wraps, the way
/// the Python test patched `handle_error` with a mock.
struct Probe<D> {
    inner: D,
    reads: Rc<Cell<usize>>,
    errors: Rc<Cell<usize>>,
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
        self.reads.set(self.reads.get() + 1);
        self.inner.handle_read(cx)
    }
    fn handle_added(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        self.inner.handle_added(cx)
    }
    fn handle_write(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        self.inner.handle_write(cx)
    }
    fn handle_close(&mut self, cx: &mut Context<'_>) {
        self.inner.handle_close(cx)
    }
    fn handle_error(&mut self, cx: &mut Context<'_>, error: DispatchError) {
        self.errors.set(self.errors.get() + 1);
        self.inner.handle_error(cx, error)
    }
    fn handle_timer(&mut self, cx: &mut Context<'_>, timer: TimerId) -> io::Result<()> {
        self.inner.handle_timer(cx, timer)
    }
    fn handle_wake(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        // The test's way to deliver a read event with nothing to read.
        cx.reschedule();
        self.inner.handle_wake(cx)
    }
    fn handle_shutdown(&mut self, cx: &mut Context<'_>) {
        self.inner.handle_shutdown(cx)
    }
}

/// A read event that finds no data (the read would block) is not an error:
/// handle_error is not called and the channel stays open and working
/// (TestAsynchatMocked.test_blockingioerror).
#[test]
fn test_blockingioerror() {
    let mut reactor = Reactor::new().unwrap();
    let state = Rc::new(RefCell::new(ClientState::default()));
    let reads = Rc::new(Cell::new(0));
    let errors = Rc::new(Cell::new(0));
    let channel = Rc::new(Cell::new(None::<Token>));
    let listener = {
        let (state, reads, errors, channel) = (
            state.clone(),
            reads.clone(),
            errors.clone(),
            channel.clone(),
        );
        Listener::bind(util::localhost(), move |stream, _peer, cx| {
            let mut chat = AsyncChat::new(
                stream,
                EchoClient {
                    state: state.clone(),
                },
            );
            chat.chat_mut().set_terminator(Terminator::bytes(b"\n"));
            let probe = Probe {
                inner: chat,
                reads: reads.clone(),
                errors: errors.clone(),
            };
            channel.set(Some(cx.add(probe)?));
            Ok(())
        })
        .unwrap()
    };
    let addr = listener.local_addr().unwrap();
    reactor.add(listener).unwrap();
    let mut client = util::connect(addr);
    for _ in 0..LOOP_COUNT {
        if channel.get().is_some() {
            break;
        }
        reactor.run_once(Some(LOOP_TIMEOUT)).unwrap();
    }
    let token = channel.get().expect("connection accepted");

    let reads_before = reads.get();
    reactor.notify(token);
    // The notification pass reschedules; the next pass delivers the read.
    for _ in 0..3 {
        reactor.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(
        reads.get(),
        reads_before + 1,
        "a read event was delivered with no data waiting"
    );
    assert_eq!(errors.get(), 0, "WouldBlock must not reach handle_error");
    assert_eq!(reactor.dispatcher_count(), 2, "listener and channel open");

    // The channel still reads: the next real readiness edge is not lost.
    util::send(&mut client, b"still here\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    while state.borrow().contents.is_empty() && Instant::now() < deadline {
        reactor.run_once(Some(LOOP_TIMEOUT)).unwrap();
    }
    assert_eq!(state.borrow().contents, vec![b"still here".to_vec()]);
    assert_eq!(errors.get(), 0);
}
