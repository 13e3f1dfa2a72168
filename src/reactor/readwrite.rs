//! Calling a dispatcher's hooks: asyncore's `readwrite()`, errors and panics isolated.
//!
//! asyncore's `readwrite(obj, flags)` turned poll flags into `handle_read`,
//! `handle_write` and `handle_close` calls, and sent any exception to
//! `obj.handle_error()`. [`Core::dispatch_event`] does the same for a mio
//! event, and [`Core::dispatch`] runs every hook (event, timer, wake-up,
//! shutdown) inside `catch_unwind`: an `Err` or a panic reaches that
//! dispatcher's `handle_error`, and the loop carries on. After each hook the
//! socket's interest is recomputed from `readable()`/`writable()` and
//! re-registered only if it changed.

use std::any::Any;
use std::io;
use std::panic::{self, AssertUnwindSafe};

use mio::event::Event;
use mio::{Interest, Token};

use super::socket_map::{key_of, Core};
use super::{Context, DispatchError, Dispatcher};

impl Core {
    pub(super) fn dispatch_event(&mut self, token: Token, event: &Event) {
        let readable = event.is_readable() || event.is_read_closed();
        let writable = event.is_writable();
        // asyncore's poll2 closes on POLLERR/POLLHUP after reading what is left.
        let hangup = event.is_error() || (event.is_read_closed() && event.is_write_closed());
        // Known only for an event that reports readable data: its mask is
        // the socket's state when the poll collected it, so no end of
        // input had come then (a later one brings an event of its own).
        let read_closed = !event.is_readable() || event.is_read_closed() || event.is_error();
        self.dispatch(token, |d, cx| {
            cx.note_event(read_closed);
            if readable {
                if d.accepting() {
                    d.handle_accept(cx)?;
                } else {
                    d.handle_read(cx)?;
                }
            }
            if writable && !cx.is_closing() {
                d.handle_write(cx)?;
            }
            if hangup && !cx.is_closing() {
                d.handle_close(cx);
            }
            Ok(())
        });
    }

    /// Runs one hook of `token`'s dispatcher with panics and errors caught,
    /// then re-registers or removes it according to what the hook left.
    pub(super) fn dispatch<F>(&mut self, token: Token, hook: F)
    where
        F: FnOnce(&mut dyn Dispatcher, &mut Context<'_>) -> io::Result<()>,
    {
        let Some(entry) = self.entry_mut(token) else {
            return;
        };
        if entry.closed {
            return;
        }
        let Some(mut dispatcher) = entry.dispatcher.take() else {
            return;
        };
        let mut cx = Context::new(self, token);
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| hook(&mut *dispatcher, &mut cx)));
        let error = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(DispatchError::Io(e)),
            Err(payload) => Some(DispatchError::Panic(panic_message(&*payload))),
        };
        if let Some(error) = error {
            let handled =
                panic::catch_unwind(AssertUnwindSafe(|| dispatcher.handle_error(&mut cx, error)));
            if handled.is_err() {
                log::error!("dispatcher {token:?}: handle_error panicked; closing it");
                cx.close();
            }
        }
        let closing = cx.is_closing();
        if !closing {
            match self.update_interest(token, &mut *dispatcher) {
                Ok(()) => {
                    self.entries[key_of(token)].dispatcher = Some(dispatcher);
                    return;
                }
                Err(e) => log::warn!("dispatcher {token:?}: cannot register: {e}; closing it"),
            }
        }
        self.remove(token, dispatcher);
    }

    /// Registers, re-registers or deregisters the socket when the answer of
    /// `readable()`/`writable()` has changed since last time.
    pub(super) fn update_interest(
        &mut self,
        token: Token,
        dispatcher: &mut dyn Dispatcher,
    ) -> io::Result<()> {
        let wanted = match (dispatcher.readable(), dispatcher.writable()) {
            (true, true) => Some(Interest::READABLE | Interest::WRITABLE),
            (true, false) => Some(Interest::READABLE),
            (false, true) => Some(Interest::WRITABLE),
            (false, false) => None,
        };
        let entry = &mut self.entries[key_of(token)];
        if wanted == entry.interest {
            return Ok(());
        }
        if let Some(source) = dispatcher.source() {
            match (entry.interest, wanted) {
                (None, Some(interest)) => self.registry.register(source, token, interest)?,
                (Some(_), Some(interest)) => self.registry.reregister(source, token, interest)?,
                (Some(_), None) => self.registry.deregister(source)?,
                (None, None) => {}
            }
        }
        entry.interest = wanted;
        Ok(())
    }
}

/// The message of a panic payload, for logs.
pub(super) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}
