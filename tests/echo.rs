//! The echo service over real sockets.

mod util;

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::{mpsc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use medusa::chat::EchoHandler;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use util::*;

/// The tests here count this process's open descriptors; they take turns so
/// one does not see the other's sockets.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A single client gets back exactly what it sent, and the server closes
/// after the client's end of input.
#[test]
fn echo_round_trip_and_close_after_eof() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let server = TestServer::chat(|| EchoHandler);
    let mut client = connect(server.addr);
    send(&mut client, b"hello, medusa\n");
    assert_eq!(read_exact(&mut client, 14), b"hello, medusa\n");
    client.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut client), b"");
}

const CLIENTS: usize = 1000;
const PER_CLIENT: usize = 64 * 1024;
/// Write sizes, cycled: odd, so messages straddle every read boundary.
const PIECES: [usize; 8] = [1, 7, 13, 127, 1021, 4093, 8191, 16381];

/// One non-blocking client of the concurrent echo test.
struct Client {
    stream: TcpStream,
    data: Vec<u8>,
    written: usize,
    /// Index into `PIECES` of the piece being written, and what is left of it.
    piece: usize,
    piece_left: usize,
    received: usize,
    connected: bool,
    /// Edge-triggered: writable until a write says `WouldBlock`.
    write_ready: bool,
    eof: bool,
}

impl Client {
    fn wants_to_write(&self) -> bool {
        self.connected && self.write_ready && self.written < self.data.len()
    }

    /// Writes (what is left of) the current piece once.
    fn write_piece(&mut self) {
        let end = self.written + self.piece_left;
        match self.stream.write(&self.data[self.written..end]) {
            Ok(n) => {
                self.written += n;
                self.piece_left -= n;
                if self.piece_left == 0 {
                    self.piece = (self.piece + 1) % PIECES.len();
                    self.piece_left = PIECES[self.piece].min(self.data.len() - self.written);
                }
                if self.written == self.data.len() {
                    // End of input: the server must still echo it all, then close.
                    self.stream.shutdown(Shutdown::Write).unwrap();
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.write_ready = false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("write: {e}"),
        }
    }

    /// Reads until `WouldBlock`, checking every byte against what was sent.
    fn read_all(&mut self, id: usize, buf: &mut [u8]) {
        loop {
            match self.stream.read(buf) {
                Ok(0) => {
                    assert_eq!(self.received, PER_CLIENT, "client {id}: early EOF");
                    self.eof = true;
                    return;
                }
                Ok(n) => {
                    let expected = &self.data[self.received..];
                    assert!(n <= expected.len(), "client {id}: more than it sent");
                    assert!(
                        buf[..n] == expected[..n],
                        "client {id}: wrong bytes at offset {}",
                        self.received
                    );
                    self.received += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!("client {id}: read: {e}"),
            }
        }
    }
}

/// Bytes that differ between clients and along the stream (xorshift64*).
fn content(seed: usize, len: usize) -> Vec<u8> {
    let mut x = (seed as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// 1,000 clients at once, each writing 64 KiB in odd-sized pieces while
/// reading, each get back exactly their own bytes followed by the server's
/// close; afterwards the server holds no socket of theirs.
#[test]
fn thousand_concurrent_clients_each_get_their_own_bytes_back() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let limit = raise_fd_limit();
    assert!(
        limit > (2 * CLIENTS + 100) as u64,
        "open-file limit {limit} too low"
    );
    let server = TestServer::chat(|| EchoHandler);
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(1024);
    let baseline = open_fds();
    let began = Instant::now();

    let mut clients: Vec<Client> = (0..CLIENTS)
        .map(|id| {
            let mut stream = TcpStream::connect(server.addr).expect("connect");
            poll.registry()
                .register(
                    &mut stream,
                    Token(id),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .unwrap();
            Client {
                stream,
                data: content(id, PER_CLIENT),
                written: 0,
                piece: 0,
                piece_left: PIECES[0],
                received: 0,
                connected: false,
                write_ready: false,
                eof: false,
            }
        })
        .collect();

    let mut buf = vec![0u8; 64 * 1024];
    let mut finished = 0;
    let deadline = Instant::now() + Duration::from_secs(25);
    while finished < CLIENTS {
        assert!(
            Instant::now() < deadline,
            "{finished} of {CLIENTS} clients done; {} still writing",
            clients.iter().filter(|c| c.written < PER_CLIENT).count()
        );
        let writers_waiting = clients.iter().any(Client::wants_to_write);
        let timeout = if writers_waiting {
            Duration::ZERO
        } else {
            Duration::from_millis(100)
        };
        poll.poll(&mut events, Some(timeout)).unwrap();
        for event in events.iter() {
            let id = event.token().0;
            let client = &mut clients[id];
            if event.is_writable() {
                if !client.connected {
                    if let Some(e) = client.stream.take_error().unwrap() {
                        panic!("client {id}: connect: {e}");
                    }
                    match client.stream.peer_addr() {
                        Ok(_) => {
                            client.connected = true;
                            client.stream.set_nodelay(true).unwrap();
                        }
                        Err(e) if e.kind() == io::ErrorKind::NotConnected => continue,
                        Err(e) => panic!("client {id}: connect: {e}"),
                    }
                }
                client.write_ready = true;
            }
            if event.is_readable() && client.connected && !client.eof {
                client.read_all(id, &mut buf);
                if client.eof {
                    finished += 1;
                }
            }
        }
        // One piece per client per round, so all of them interleave.
        for client in clients.iter_mut().filter(|c| c.wants_to_write()) {
            client.write_piece();
        }
    }
    let transfer = began.elapsed();

    drop(clients);
    let settle = Instant::now() + Duration::from_secs(5);
    while open_fds() != baseline && Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(open_fds(), baseline, "descriptors left open");
    let (tx, rx) = mpsc::channel();
    server
        .waker
        .call(move |reactor| tx.send(reactor.dispatcher_count()).unwrap())
        .unwrap();
    let count = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(count, 1, "only the listener is left");
    eprintln!("{CLIENTS} clients x {PER_CLIENT} bytes echoed in {transfer:?}");
}
