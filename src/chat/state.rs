//! A channel's state and the rules that move it: where it is in its life
//! ([`Phase`]), whether it closes when the current hook returns, and how far
//! its input has come. The dispatcher asks and tells through these methods,
//! so each rule is written once, here.

use super::Chat;
use crate::reactor::{Context, TimerId};

/// Where a channel is in its life; it decides what a pass of the pump does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// A non-blocking connect is in flight: nothing is read or written. A
    /// `close_when_done` asked meanwhile takes effect once connected.
    Connecting { close_when_done: Option<Linger> },
    /// Reading and writing.
    Open,
    /// `close_when_done`: sending what is queued, taking no more input.
    ClosingWhenDone(Linger),
    /// Output sent and the write side shut down: reading and discarding
    /// until the peer closes or this timer fires.
    Lingering(TimerId),
}

/// What `close_when_done` does once the output is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Linger {
    /// Half-close and drain what the peer may still send, so unread input
    /// does not make the kernel reset the connection under the reply.
    UntilPeerCloses,
    /// The peer has finished sending: close at once, unless input is held.
    IfInputHeld,
}

impl Linger {
    /// Both were asked: once the peer is known to be done, it stays done.
    fn and(self, other: Linger) -> Linger {
        if self == Linger::IfInputHeld {
            self
        } else {
            other
        }
    }
}

/// How far the peer's input has come to an end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InputEnd {
    Open,
    /// A read returned 0 (the peer's FIN).
    Ended,
    /// ... and the handler's `handle_close` was called.
    Reported,
}

/// The state of a [`Chat`], apart from its buffers.
pub(super) struct State {
    phase: Phase,
    /// `close` was asked, or closing was decided: the dispatcher closes when
    /// the current hook returns. Not a phase, because the pass under way
    /// still finishes as its phase says (queued output gets its write).
    close_now: bool,
    /// Edge-triggered: the last read did not hit `WouldBlock`, so reading
    /// may go on without waiting for an event.
    readable: bool,
    input_end: InputEnd,
    /// `discard_buffers` was called: the input being handed over stops, and
    /// what is left of it is dropped rather than held.
    discard_input: bool,
}

impl State {
    pub(super) fn new(connecting: bool) -> State {
        State {
            phase: if connecting {
                Phase::Connecting {
                    close_when_done: None,
                }
            } else {
                Phase::Open
            },
            close_now: false,
            readable: !connecting,
            input_end: InputEnd::Open,
            discard_input: false,
        }
    }

    pub(super) fn is_connecting(&self) -> bool {
        matches!(self.phase, Phase::Connecting { .. })
    }

    pub(super) fn is_lingering(&self) -> bool {
        matches!(self.phase, Phase::Lingering(_))
    }

    /// Whether `timer` is the one that ends lingering.
    pub(super) fn is_linger_timer(&self, timer: TimerId) -> bool {
        self.phase == Phase::Lingering(timer)
    }

    /// `close_when_done`, with `linger` saying what happens once sent.
    pub(super) fn close_when_done(&mut self, linger: Linger) {
        self.phase = match self.phase {
            Phase::Connecting { close_when_done } => Phase::Connecting {
                close_when_done: Some(close_when_done.map_or(linger, |old| old.and(linger))),
            },
            Phase::Open => Phase::ClosingWhenDone(linger),
            Phase::ClosingWhenDone(old) => Phase::ClosingWhenDone(old.and(linger)),
            // The output is sent already: nothing is left to decide.
            lingering @ Phase::Lingering(_) => lingering,
        };
    }

    /// `close`: the dispatcher closes when the current hook returns.
    pub(super) fn close(&mut self) {
        self.close_now = true;
    }

    /// Whether `close` or `close_when_done` was called.
    pub(super) fn is_closing(&self) -> bool {
        self.close_now
            || !matches!(
                self.phase,
                Phase::Open
                    | Phase::Connecting {
                        close_when_done: None
                    }
            )
    }

    /// Whether the dispatcher must close when the current hook returns.
    pub(super) fn should_close(&self) -> bool {
        self.close_now
    }

    /// Whether the last read left readiness unused.
    pub(super) fn input_readable(&self) -> bool {
        self.readable
    }

    /// The poll said readable (or we want a read tried anyway).
    pub(super) fn note_readable(&mut self) {
        self.readable = true;
    }

    /// A read hit `WouldBlock`: wait for the next event.
    pub(super) fn note_read_drained(&mut self) {
        self.readable = false;
    }

    /// A read returned 0: the peer has finished sending.
    pub(super) fn note_eof(&mut self) {
        self.input_end = InputEnd::Ended;
        self.readable = false;
    }

    /// The peer closed while we lingered: lingering's purpose is served.
    pub(super) fn note_linger_eof(&mut self) {
        self.input_end = InputEnd::Ended;
        self.close_now = true;
    }

    /// Whether the end of input is yet to be reported to the handler.
    pub(super) fn eof_to_report(&self) -> bool {
        self.input_end == InputEnd::Ended
    }

    /// The handler's `handle_close` was called; it is called once.
    pub(super) fn note_eof_reported(&mut self) {
        self.input_end = InputEnd::Reported;
    }

    /// `discard_buffers`: stop handing over the input under way.
    pub(super) fn start_discard(&mut self) {
        self.discard_input = true;
    }

    /// Whether handing over input must stop (`discard_buffers` was called).
    pub(super) fn discarding(&self) -> bool {
        self.discard_input
    }

    /// The input read (or held) when `discard_buffers` was called has been
    /// dealt with; returns whether it was to be dropped.
    pub(super) fn end_discard(&mut self) -> bool {
        std::mem::take(&mut self.discard_input)
    }
}

impl Chat {
    /// Whether more should be read now (the dispatcher's `readable()`).
    pub(super) fn can_read(&self) -> bool {
        let state = &self.state;
        if state.is_lingering() {
            // Reading is what lingering is for.
            return state.input_end == InputEnd::Open;
        }
        state.phase == Phase::Open
            && !state.close_now
            && state.input_end == InputEnd::Open
            && self.inbuf.len() < self.config.max_buffered_input
            && !self.output_backlogged()
    }

    /// Whether to read now: readiness is left and reading is wanted.
    pub(super) fn should_read(&self) -> bool {
        self.state.readable && self.can_read()
    }

    /// The dispatcher's `writable()`: while connecting (completion shows as
    /// writability), or while output waits and the channel stays open.
    pub(super) fn wants_write(&self) -> bool {
        self.state.is_connecting() || (!self.state.close_now && self.has_output())
    }

    /// The non-blocking connect completed: both directions are ready, and
    /// a `close_when_done` asked meanwhile now applies.
    pub(super) fn note_connected(&mut self) {
        if let Phase::Connecting { close_when_done } = self.state.phase {
            self.state.phase = match close_when_done {
                Some(linger) => Phase::ClosingWhenDone(linger),
                None => Phase::Open,
            };
        }
        self.state.readable = true;
        self.output.note_writable();
    }

    /// After a pass: if `close_when_done` was asked and the output is sent,
    /// close now, or half-close and linger. Returns whether it lingers.
    pub(super) fn close_if_done(&mut self, cx: &mut Context<'_>) -> bool {
        let Phase::ClosingWhenDone(linger) = self.state.phase else {
            return false;
        };
        if self.state.close_now || self.has_output() {
            return false;
        }
        let nothing_to_drain = linger == Linger::IfInputHeld && self.inbuf.is_empty();
        if self.state.input_end != InputEnd::Open
            || self.config.linger.is_zero()
            || nothing_to_drain
        {
            self.state.close_now = true;
            return false;
        }
        // FIN after the last byte; the peer sees a clean end of reply.
        if self.stream.shutdown_write().is_err() {
            self.state.close_now = true;
            return false;
        }
        self.inbuf = Vec::new();
        self.state.phase = Phase::Lingering(cx.set_timer(self.config.linger));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::{Linger, Phase, State};

    #[test]
    fn a_peer_known_to_be_done_stays_done() {
        let mut state = State::new(false);
        assert!(!state.is_closing());
        state.close_when_done(Linger::IfInputHeld);
        state.close_when_done(Linger::UntilPeerCloses);
        assert_eq!(state.phase, Phase::ClosingWhenDone(Linger::IfInputHeld));
        assert!(state.is_closing() && !state.should_close());
    }

    #[test]
    fn close_when_done_while_connecting_waits_for_the_connection() {
        let mut state = State::new(true);
        assert!(!state.is_closing() && !state.input_readable());
        state.close_when_done(Linger::UntilPeerCloses);
        assert!(state.is_connecting() && state.is_closing());
        assert_eq!(
            state.phase,
            Phase::Connecting {
                close_when_done: Some(Linger::UntilPeerCloses)
            }
        );
    }

    #[test]
    fn end_of_input_is_reported_once() {
        let mut state = State::new(false);
        assert!(!state.eof_to_report());
        state.note_eof();
        assert!(state.eof_to_report() && !state.input_readable());
        state.note_eof_reported();
        assert!(!state.eof_to_report());
    }
}
