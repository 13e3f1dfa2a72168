//! The echo handler of the asyncore documentation's classic example, kept
//! in the library because the examples, the daemon (until HTTP lands) and
//! the tests all serve it.

use std::io;

use super::{Chat, ChatHandler};
use crate::reactor::Context;

/// Sends back every byte it receives (asyncore docs' `EchoHandler`). With no
/// terminator, all input goes to `collect_incoming_data`.
#[derive(Debug, Default)]
pub struct EchoHandler;

impl ChatHandler for EchoHandler {
    fn collect_incoming_data(&mut self, chat: &mut Chat, data: &[u8]) {
        chat.push(data);
    }

    fn found_terminator(&mut self, _chat: &mut Chat, _cx: &mut Context<'_>) -> io::Result<()> {
        // Terminator::None: never called.
        Ok(())
    }
}
