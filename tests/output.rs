//! How a channel's output leaves: coalesced into one write per hook, on a
//! socket with Nagle's algorithm off.

mod util;

use std::io;

use medusa::chat::{Chat, ChatHandler, Terminator};
use medusa::reactor::Context;
use util::*;

/// Answers each line with a reply pushed in ten pieces, and reports in the
/// reply what it observed while pushing.
struct Pieces;

impl ChatHandler for Pieces {
    fn collect_incoming_data(&mut self, _chat: &mut Chat, _data: &[u8]) {}

    fn found_terminator(&mut self, chat: &mut Chat, _cx: &mut Context<'_>) -> io::Result<()> {
        // Earlier replies of this same hook (pipelined lines) may be pending.
        let mut pushed = chat.pending_output();
        let mut all_pending = true;
        for i in 0..10 {
            let piece = format!("piece{i};");
            chat.push(piece.as_bytes());
            pushed += piece.len();
            // Nothing may be written while the hook is still pushing.
            all_pending &= chat.pending_output() == pushed;
        }
        let nodelay = chat.stream().nodelay()?;
        chat.push(format!("coalesced={all_pending} nodelay={nodelay}\n").as_bytes());
        Ok(())
    }
}

fn server() -> TestServer {
    TestServer::start(|reactor| {
        let listener = medusa::reactor::Listener::bind(localhost(), |stream, _peer, cx| {
            let mut chat = medusa::chat::AsyncChat::new(stream, Pieces);
            chat.chat_mut().set_terminator(Terminator::bytes(b"\n"));
            cx.add(chat)?;
            Ok(())
        })?;
        let addr = listener.local_addr()?;
        reactor.add(listener)?;
        Ok(addr)
    })
}

/// Pushes made during one hook are held and written together after it, and
/// accepted sockets have TCP_NODELAY set.
#[test]
fn pushes_in_one_hook_leave_together_with_nodelay() {
    let server = server();
    let mut client = connect(server.addr);
    for _ in 0..3 {
        send(&mut client, b"go\n");
        let expected: String = (0..10).map(|i| format!("piece{i};")).collect::<String>()
            + "coalesced=true nodelay=true\n";
        assert_eq!(
            String::from_utf8(read_exact(&mut client, expected.len())).unwrap(),
            expected
        );
    }
}

/// Requests pipelined in one packet get all their replies; none is lost
/// between the coalesced writes.
#[test]
fn pipelined_lines_get_every_reply_in_order() {
    let server = server();
    let mut client = connect(server.addr);
    send(&mut client, &b"go\n".repeat(50));
    let one: String =
        (0..10).map(|i| format!("piece{i};")).collect::<String>() + "coalesced=true nodelay=true\n";
    let got = read_exact(&mut client, one.len() * 50);
    assert_eq!(got, one.repeat(50).into_bytes());
}
