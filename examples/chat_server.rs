//! Medusa's `chat_server.py`: a line-based, multi-user chat.
//!
//! ```text
//! cargo run --example chat_server -- --port 8518
//! nc 127.0.0.1 8518        # in two or more terminals
//! ```
//!
//! Each caller picks a nickname, then every line they type is sent to all
//! other callers as `nick: line`. Commands: `/who`, `/quit` (or `/q`).
//!
//! It shows the one thing the echo server does not: channels talking to each
//! other on one thread. The room is shared (`Rc<RefCell<..>>`, no locks: one
//! thread); a line for another caller goes into that caller's outbox and the
//! loop is asked to `notify` its channel, whose `handle_wake` pushes it.
//!
//! Ctrl-C (SIGINT) or SIGTERM stops accepting and closes the callers'
//! connections once what they are owed is sent, then exits 0; if it has to
//! drop some to stop (a second signal, or `--grace` over), it logs "forced
//! shutdown" and exits 1.
//!
//! Differences from Medusa: lines may end in `\n` or `\r\n` (so plain `nc`
//! works), over-long lines (4 KiB) are refused rather than buffered
//! without bound, and the log quotes what callers send, control characters
//! escaped (`"bob": "hi\u{1b}[2J"`).

#[path = "common/args.rs"]
mod args;
#[path = "common/shutdown.rs"]
mod shutdown;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::process::ExitCode;
use std::rc::Rc;

use medusa::chat::{AsyncChat, Chat, ChatHandler, Terminator};
use medusa::reactor::{Context, Listener, Reactor};
use mio::Token;

/// Longest line a caller may send.
const MAX_LINE: usize = 4096;

/// Everyone connected (Medusa's `chat_server.channels`).
#[derive(Default)]
struct Room {
    callers: BTreeMap<Token, Caller>,
}

struct Caller {
    nick: String,
    /// Lines from others, waiting for this caller's channel to push them.
    outbox: Vec<u8>,
}

impl Room {
    /// Medusa's `chat_server.push_line`: send a line to everyone else.
    fn push_line(&mut self, from: Token, line: &str, cx: &mut Context<'_>) {
        let Some(nick) = self.callers.get(&from).map(|c| c.nick.clone()) else {
            return;
        };
        // Quoted and escaped: a terminal escape sequence in a caller's line
        // or nickname must not reach whoever reads the log.
        log::info!("{nick:?}: {line:?}");
        for (&token, caller) in self.callers.iter_mut() {
            if token != from {
                caller
                    .outbox
                    .extend_from_slice(format!("{nick}: {line}\r\n").as_bytes());
                cx.notify(token);
            }
        }
    }

    fn nicks(&self) -> Vec<String> {
        self.callers.values().map(|c| c.nick.clone()).collect()
    }
}

/// Medusa's `chat_channel`.
struct ChatChannel {
    room: Rc<RefCell<Room>>,
    data: Vec<u8>,
    token: Option<Token>,
}

impl ChatChannel {
    /// Medusa's `greet`.
    fn greet(&mut self, nick: &str, chat: &mut Chat, cx: &mut Context<'_>) {
        chat.push(format!("Hello, {nick}\r\n").as_bytes());
        let mut room = self.room.borrow_mut();
        let others = room.nicks();
        room.callers.insert(
            cx.token(),
            Caller {
                nick: nick.to_string(),
                outbox: Vec::new(),
            },
        );
        self.token = Some(cx.token());
        if others.is_empty() {
            chat.push(b"[Kinda lonely in here... you're the only caller!]\r\n");
        } else {
            chat.push(
                format!(
                    "[There are {} other callers]\r\n  {}\r\n",
                    others.len(),
                    others.join("\r\n  ")
                )
                .as_bytes(),
            );
            room.push_line(cx.token(), "[joined]", cx);
        }
    }

    /// Medusa's `handle_command`, dispatching to `cmd_*`.
    fn handle_command(&mut self, line: &str, chat: &mut Chat, cx: &mut Context<'_>) {
        let name = line.split_whitespace().next().unwrap_or("/");
        match name {
            "/quit" | "/q" => {
                self.room.borrow_mut().push_line(cx.token(), "[left]", cx);
                chat.push(b"Goodbye!\r\n");
                chat.close_when_done();
            }
            "/who" => {
                let nicks = self.room.borrow().nicks();
                chat.push(format!("{}\r\n", nicks.join(" ")).as_bytes());
            }
            _ => chat.push(format!("unknown command: {name}\r\n").as_bytes()),
        }
    }
}

impl ChatHandler for ChatChannel {
    fn collect_incoming_data(&mut self, chat: &mut Chat, data: &[u8]) {
        if self.data.len() + data.len() > MAX_LINE {
            chat.push(b"line too long; goodbye\r\n");
            chat.close_when_done();
            return;
        }
        self.data.extend_from_slice(data);
    }

    fn found_terminator(&mut self, chat: &mut Chat, cx: &mut Context<'_>) -> io::Result<()> {
        let raw = std::mem::take(&mut self.data);
        let line = String::from_utf8_lossy(&raw);
        let line = line.trim_end_matches('\r');
        if self.token.is_none() {
            match line.split_whitespace().next() {
                Some(nick) => self.greet(nick, chat, cx),
                None => chat.push(b"huh? gimmee a nickname: "),
            }
        } else if line.starts_with('/') {
            self.handle_command(line, chat, cx);
        } else if !line.is_empty() {
            self.room.borrow_mut().push_line(cx.token(), line, cx);
        }
        Ok(())
    }

    /// Another caller said something: push what waits in our outbox.
    fn handle_wake(&mut self, chat: &mut Chat, _cx: &mut Context<'_>) -> io::Result<()> {
        if let Some(caller) = self.token.and_then(|t| {
            self.room
                .borrow_mut()
                .callers
                .get_mut(&t)
                .map(|c| std::mem::take(&mut c.outbox))
        }) {
            chat.push(&caller);
        }
        Ok(())
    }

    fn handle_close(&mut self, chat: &mut Chat, cx: &mut Context<'_>) {
        if self.token.is_some() && !chat.is_closing() {
            self.room.borrow_mut().push_line(cx.token(), "[left]", cx);
        }
        chat.close_when_done();
    }
}

impl Drop for ChatChannel {
    fn drop(&mut self) {
        if let Some(token) = self.token {
            self.room.borrow_mut().callers.remove(&token);
        }
    }
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let (addr, grace) = args::server_options("chat_server", 8518);

    shutdown::main_exit("chat_server", || {
        let room = Rc::new(RefCell::new(Room::default()));
        let mut reactor = Reactor::new()?;
        // Before announcing the address: from then on a SIGTERM must mean a
        // graceful shutdown, not the default action (death).
        reactor.catch_signals(grace)?;
        let listener = Listener::bind(addr, move |stream, _peer, cx| {
            let channel = ChatChannel {
                room: room.clone(),
                data: Vec::new(),
                token: None,
            };
            let mut chat = AsyncChat::new(stream, channel);
            chat.chat_mut().set_terminator(Terminator::bytes(b"\n"));
            chat.chat_mut().push(b"nickname?: ");
            cx.add(chat)?;
            Ok(())
        })?;
        log::info!("chat server listening on {}", listener.local_addr()?);
        reactor.add(listener)?;
        shutdown::run_to_exit("chat server", &mut reactor)
    })
}
