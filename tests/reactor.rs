//! The reactor (asyncore's socket map and loop) driven from the test thread:
//! timers, the cross-thread `Waker`, error and panic isolation, interest
//! changes under edge-triggered readiness, the `Context` API and graceful
//! shutdown.
//!
//! Most dispatchers here have no socket (`source()` is `None`): they live on
//! timers and wake-ups, and their hooks are closures, so each test reads as a
//! small script. Tests that need sockets use a connected pair built with std.

mod util;

use std::cell::{Cell, RefCell};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use medusa::chat::{AsyncChat, Chat, ChatHandler, EchoHandler, Terminator};
use medusa::reactor::{
    Context, DispatchError, Dispatcher, ForceCause, ForcedShutdown, Listener, Reactor, TimerId,
};
use mio::event::Source;
use mio::Token;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

type WakeHook = Box<dyn FnMut(&mut Context<'_>) -> io::Result<()>>;
type TimerHook = Box<dyn FnMut(&mut Context<'_>, TimerId) -> io::Result<()>>;
type ErrorHook = Box<dyn FnMut(&mut Context<'_>, DispatchError)>;
type ShutdownHook = Box<dyn FnMut(&mut Context<'_>)>;

/// A dispatcher without a socket whose hooks are closures. Unset hooks keep
/// the trait's defaults (`handle_error` and `handle_shutdown` close).
#[derive(Default)]
struct Scripted {
    added: Option<WakeHook>,
    wake: Option<WakeHook>,
    timer: Option<TimerHook>,
    error: Option<ErrorHook>,
    shutdown: Option<ShutdownHook>,
    dropped: Option<Rc<Cell<bool>>>,
}

impl Scripted {
    fn new() -> Scripted {
        Scripted::default()
    }

    fn on_added(mut self, f: impl FnMut(&mut Context<'_>) -> io::Result<()> + 'static) -> Self {
        self.added = Some(Box::new(f));
        self
    }

    fn on_wake(mut self, f: impl FnMut(&mut Context<'_>) -> io::Result<()> + 'static) -> Self {
        self.wake = Some(Box::new(f));
        self
    }

    fn on_timer(
        mut self,
        f: impl FnMut(&mut Context<'_>, TimerId) -> io::Result<()> + 'static,
    ) -> Self {
        self.timer = Some(Box::new(f));
        self
    }

    fn on_error(mut self, f: impl FnMut(&mut Context<'_>, DispatchError) + 'static) -> Self {
        self.error = Some(Box::new(f));
        self
    }

    fn on_shutdown(mut self, f: impl FnMut(&mut Context<'_>) + 'static) -> Self {
        self.shutdown = Some(Box::new(f));
        self
    }

    /// `flag` turns true when the reactor drops (closes) this dispatcher.
    fn drop_flag(mut self, flag: &Rc<Cell<bool>>) -> Self {
        self.dropped = Some(flag.clone());
        self
    }
}

impl Dispatcher for Scripted {
    fn source(&mut self) -> Option<&mut dyn Source> {
        None
    }

    fn handle_added(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        match &mut self.added {
            Some(f) => f(cx),
            None => Ok(()),
        }
    }

    fn handle_wake(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        match &mut self.wake {
            Some(f) => f(cx),
            None => Ok(()),
        }
    }

    fn handle_timer(&mut self, cx: &mut Context<'_>, timer: TimerId) -> io::Result<()> {
        match &mut self.timer {
            Some(f) => f(cx, timer),
            None => Ok(()),
        }
    }

    fn handle_error(&mut self, cx: &mut Context<'_>, error: DispatchError) {
        match &mut self.error {
            Some(f) => f(cx, error),
            None => cx.close(),
        }
    }

    fn handle_shutdown(&mut self, cx: &mut Context<'_>) {
        match &mut self.shutdown {
            Some(f) => f(cx),
            None => cx.close(),
        }
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        if let Some(flag) = &self.dropped {
            flag.set(true);
        }
    }
}

/// Adds `dispatcher` and asks for its `handle_wake` in the next pass: the
/// way a socketless dispatcher gets its first hook (to set its timers).
fn start(reactor: &mut Reactor, dispatcher: Scripted) -> Token {
    let token = reactor.add(dispatcher).expect("add");
    reactor.notify(token);
    token
}

/// Runs passes (each waiting at most 50 ms) until `done()`, failing after
/// `max_passes`. Returns the number of passes run.
fn run_until(reactor: &mut Reactor, max_passes: usize, mut done: impl FnMut() -> bool) -> usize {
    for pass in 0..max_passes {
        if done() {
            return pass;
        }
        reactor.run_once(Some(ms(50))).expect("run_once");
    }
    assert!(done(), "condition not reached within {max_passes} passes");
    max_passes
}

/// Exits the test process if still alive after `limit`: a test calling the
/// blocking `Reactor::run` fails instead of hanging when `run` never returns.
struct Watchdog(#[allow(dead_code)] mpsc::Sender<()>);

fn watchdog(limit: Duration, what: &'static str) -> Watchdog {
    let (tx, rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        if let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
            // Straight to stderr: the test harness's capture would swallow
            // an eprintln! from a test's thread when the process exits.
            let _ = writeln!(io::stderr(), "watchdog: {what} not done after {limit:?}");
            std::process::exit(101);
        }
    });
    Watchdog(tx)
}

/// A connected pair: a blocking std client, and the accepted side as a
/// non-blocking mio stream for a dispatcher.
fn socket_pair() -> (TcpStream, mio::net::TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = util::connect(listener.local_addr().unwrap());
    let (server, _) = listener.accept().unwrap();
    server.set_nonblocking(true).unwrap();
    (client, mio::net::TcpStream::from_std(server))
}

/// What a [`Peer`] saw, shared with the test.
#[derive(Default)]
struct PeerState {
    received: Vec<u8>,
    read_calls: usize,
    write_calls: usize,
    /// `readable()`; the test flips it, then pokes the peer with `notify`.
    reading: bool,
    /// `writable()`; cleared by `handle_write` so it does not spin.
    writing: bool,
    /// Stop reading (`readable() == false`) after the first read.
    pause_after_read: bool,
    /// Read at most this much per `handle_read`, then `reschedule`.
    read_limit: Option<usize>,
    eof: bool,
}

/// A dispatcher on a real socket that reads what arrives.
struct Peer {
    stream: mio::net::TcpStream,
    state: Rc<RefCell<PeerState>>,
}

impl Peer {
    fn new(stream: mio::net::TcpStream) -> (Peer, Rc<RefCell<PeerState>>) {
        let state = Rc::new(RefCell::new(PeerState {
            reading: true,
            ..PeerState::default()
        }));
        let peer = Peer {
            stream,
            state: state.clone(),
        };
        (peer, state)
    }
}

impl Dispatcher for Peer {
    fn source(&mut self) -> Option<&mut dyn Source> {
        Some(&mut self.stream)
    }

    fn readable(&self) -> bool {
        self.state.borrow().reading
    }

    fn writable(&self) -> bool {
        self.state.borrow().writing
    }

    fn handle_read(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let mut state = self.state.borrow_mut();
        state.read_calls += 1;
        let mut buf = [0u8; 4096];
        loop {
            let want = state.read_limit.unwrap_or(buf.len()).min(buf.len());
            match self.stream.read(&mut buf[..want]) {
                Ok(0) => {
                    state.eof = true;
                    cx.close();
                    break;
                }
                Ok(n) => {
                    state.received.extend_from_slice(&buf[..n]);
                    if state.read_limit.is_some() {
                        // Stopped short of WouldBlock: no new edge will come
                        // for the rest, so ask for another turn.
                        cx.reschedule();
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if state.pause_after_read {
            state.reading = false;
        }
        Ok(())
    }

    fn handle_write(&mut self, _cx: &mut Context<'_>) -> io::Result<()> {
        let mut state = self.state.borrow_mut();
        state.write_calls += 1;
        state.writing = false;
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Timers
// ---------------------------------------------------------------------------

/// Timers fire in deadline order, not in the order they were set, and none
/// fires before its deadline.
#[test]
fn timers_fire_in_deadline_order_not_setting_order() {
    let mut reactor = Reactor::new().unwrap();
    let set: Rc<RefCell<Vec<(TimerId, u64)>>> = Rc::default();
    let fired: Rc<RefCell<Vec<(u64, Duration)>>> = Rc::default();
    let started = Rc::new(Cell::new(Instant::now()));
    let (s1, s2, f, t1, t2) = (
        set.clone(),
        set.clone(),
        fired.clone(),
        started.clone(),
        started.clone(),
    );
    start(
        &mut reactor,
        Scripted::new()
            .on_wake(move |cx| {
                t1.set(Instant::now());
                for delay in [40, 10, 50, 20, 30] {
                    s1.borrow_mut().push((cx.set_timer(ms(delay)), delay));
                }
                Ok(())
            })
            .on_timer(move |_cx, id| {
                let delay = s2.borrow().iter().find(|(i, _)| *i == id).unwrap().1;
                f.borrow_mut().push((delay, t2.get().elapsed()));
                Ok(())
            }),
    );
    run_until(&mut reactor, 50, || fired.borrow().len() == 5);

    let order: Vec<u64> = fired.borrow().iter().map(|&(d, _)| d).collect();
    assert_eq!(order, [10, 20, 30, 40, 50]);
    for &(delay, at) in fired.borrow().iter() {
        assert!(at >= ms(delay), "{delay} ms timer fired after {at:?}");
    }
    assert_eq!(reactor.timer_count(), 0, "fired one-shots are gone");
}

/// Timers that all came due during one wait fire in that one pass, still in
/// deadline order.
#[test]
fn timers_due_together_fire_in_one_pass_in_deadline_order() {
    let mut reactor = Reactor::new().unwrap();
    let set: Rc<RefCell<Vec<(TimerId, u64)>>> = Rc::default();
    let fired: Rc<RefCell<Vec<u64>>> = Rc::default();
    let (s1, s2, f) = (set.clone(), set.clone(), fired.clone());
    start(
        &mut reactor,
        Scripted::new()
            .on_wake(move |cx| {
                for delay in [3, 1, 5, 2, 4] {
                    s1.borrow_mut().push((cx.set_timer(ms(delay)), delay));
                }
                Ok(())
            })
            .on_timer(move |_cx, id| {
                let delay = s2.borrow().iter().find(|(i, _)| *i == id).unwrap().1;
                f.borrow_mut().push(delay);
                Ok(())
            }),
    );
    reactor.run_once(Some(Duration::ZERO)).unwrap(); // handle_wake sets them
    assert_eq!(reactor.timer_count(), 5);
    // Let every deadline pass while the loop is not looking.
    thread::sleep(ms(20));
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(*fired.borrow(), [1, 2, 3, 4, 5]);
}

/// A repeating timer fires once per period, the loop sleeping in between,
/// and fires no more once `cancel_timer` is called from its own hook.
#[test]
fn repeating_timer_ticks_until_cancelled() {
    let mut reactor = Reactor::new().unwrap();
    let id: Rc<Cell<Option<TimerId>>> = Rc::default();
    let ticks = Rc::new(Cell::new(0));
    let cancelled = Rc::new(Cell::new(false));
    let (i1, i2, t, c) = (id.clone(), id.clone(), ticks.clone(), cancelled.clone());
    start(
        &mut reactor,
        Scripted::new()
            .on_wake(move |cx| {
                i1.set(Some(cx.set_repeating(ms(5))));
                Ok(())
            })
            .on_timer(move |cx, fired| {
                assert_eq!(Some(fired), i2.get());
                t.set(t.get() + 1);
                if t.get() == 5 {
                    c.set(cx.cancel_timer(fired));
                }
                Ok(())
            }),
    );
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(reactor.timer_count(), 1);

    // Each pass may wait up to 1 s, but the timer is due every 5 ms: the
    // pass returns when it is due, fires it once, and no pass is wasted.
    let began = Instant::now();
    let mut passes = 0;
    while ticks.get() < 5 {
        assert!(passes < 20, "only {} ticks in {passes} passes", ticks.get());
        reactor.run_once(Some(Duration::from_secs(1))).unwrap();
        passes += 1;
    }
    assert!(
        passes <= 6,
        "{passes} passes for 5 ticks: loop woke for nothing"
    );
    assert!(
        began.elapsed() >= ms(20),
        "ticks came faster than the period"
    );
    assert!(
        cancelled.get(),
        "cancel_timer from handle_timer found the timer"
    );

    for _ in 0..5 {
        reactor.run_once(Some(ms(20))).unwrap();
    }
    assert_eq!(ticks.get(), 5, "timer fired after cancel_timer");
    assert_eq!(reactor.timer_count(), 0);
}

/// A one-shot timer cancelled before its deadline never fires; cancelling it
/// twice reports false the second time.
#[test]
fn cancelled_one_shot_never_fires() {
    let mut reactor = Reactor::new().unwrap();
    let keep: Rc<Cell<Option<TimerId>>> = Rc::default();
    let doomed: Rc<Cell<Option<TimerId>>> = Rc::default();
    let fired: Rc<RefCell<Vec<TimerId>>> = Rc::default();
    let (k, d, f) = (keep.clone(), doomed.clone(), fired.clone());
    start(
        &mut reactor,
        Scripted::new()
            .on_wake(move |cx| {
                let early = cx.set_timer(ms(10));
                k.set(Some(cx.set_timer(ms(30))));
                assert!(cx.cancel_timer(early), "first cancel finds it");
                assert!(!cx.cancel_timer(early), "second cancel does not");
                d.set(Some(early));
                Ok(())
            })
            .on_timer(move |_cx, id| {
                f.borrow_mut().push(id);
                Ok(())
            }),
    );
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(reactor.timer_count(), 1);
    run_until(&mut reactor, 50, || !fired.borrow().is_empty());
    for _ in 0..3 {
        reactor.run_once(Some(ms(10))).unwrap();
    }
    assert_eq!(*fired.borrow(), [keep.get().unwrap()]);
    assert_ne!(doomed.get(), keep.get());
}

/// Timers of a dispatcher that closed never fire, not even on the newcomer
/// that reuses its slot (and token) in the socket map: closing cancels
/// them, so a server whose connections come and go does not accumulate
/// them.
#[test]
fn timers_of_a_closed_dispatcher_never_fire() {
    let mut reactor = Reactor::new().unwrap();
    start(
        &mut reactor,
        Scripted::new().on_wake(|cx| {
            cx.set_timer(ms(20));
            cx.set_repeating(ms(5));
            cx.close();
            Ok(())
        }),
    );
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(reactor.dispatcher_count(), 0);
    assert_eq!(reactor.timer_count(), 0, "closing cancels its timers");

    let sentinel: Rc<Cell<Option<TimerId>>> = Rc::default();
    let fired: Rc<RefCell<Vec<TimerId>>> = Rc::default();
    let (s, f) = (sentinel.clone(), fired.clone());
    // The slab gives the newcomer the key just freed: the same token.
    start(
        &mut reactor,
        Scripted::new()
            .on_wake(move |cx| {
                s.set(Some(cx.set_timer(ms(60))));
                Ok(())
            })
            .on_timer(move |cx, id| {
                f.borrow_mut().push(id);
                cx.close();
                Ok(())
            }),
    );
    run_until(&mut reactor, 50, || !fired.borrow().is_empty());

    assert_eq!(*fired.borrow(), [sentinel.get().unwrap()]);
    assert_eq!(reactor.timer_count(), 0);
}

/// A timer that fired, one cancelled and one pending: at close, only the
/// pending one was left to cancel, and none remains.
#[test]
fn closing_cancels_only_what_is_pending() {
    let mut reactor = Reactor::new().unwrap();
    let fired = Rc::new(Cell::new(0));
    let f = fired.clone();
    start(
        &mut reactor,
        Scripted::new()
            .on_wake(|cx| {
                cx.set_timer(ms(1));
                let cancelled = cx.set_timer(ms(1));
                assert!(cx.cancel_timer(cancelled));
                assert!(!cx.cancel_timer(cancelled), "cancelled once");
                Ok(())
            })
            .on_timer(move |cx, _| {
                f.set(f.get() + 1);
                cx.set_repeating(ms(1000));
                cx.set_timer(ms(1000));
                Ok(())
            }),
    );
    run_until(&mut reactor, 50, || fired.get() == 1);
    assert_eq!(reactor.timer_count(), 2);
    reactor.shutdown(Duration::ZERO);
    for _ in 0..3 {
        reactor.run_once(Some(ms(10))).unwrap();
    }
    assert_eq!(reactor.dispatcher_count(), 0);
    assert_eq!(reactor.timer_count(), 0);
    assert_eq!(fired.get(), 1);
}

/// `run_once(None)` with only a timer pending sleeps until it is due and
/// returns: one pass per tick, no busy spinning.
#[test]
fn run_once_without_timeout_sleeps_until_the_next_timer() {
    let _dog = watchdog(Duration::from_secs(20), "run_once(None)");
    let mut reactor = Reactor::new().unwrap();
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    start(
        &mut reactor,
        Scripted::new()
            .on_wake(|cx| {
                cx.set_timer(ms(30));
                Ok(())
            })
            .on_timer(move |cx, _id| {
                t.set(t.get() + 1);
                if t.get() < 3 {
                    cx.set_timer(ms(30));
                } else {
                    cx.close();
                }
                Ok(())
            }),
    );
    reactor.run_once(None).unwrap(); // the pending notification: no wait

    let began = Instant::now();
    let mut passes = 0;
    while reactor.dispatcher_count() > 0 {
        assert!(passes < 10, "{passes} passes for {} ticks", ticks.get());
        reactor.run_once(None).unwrap();
        passes += 1;
    }
    assert_eq!(ticks.get(), 3);
    assert_eq!(passes, 3, "one pass per due timer");
    assert!(began.elapsed() >= ms(90));
    assert!(began.elapsed() < Duration::from_secs(5));
}

// ---------------------------------------------------------------------------
// Waker
// ---------------------------------------------------------------------------

/// `Waker::call` runs its closure on the loop's thread, not the caller's.
#[test]
fn waker_call_runs_on_the_loop_thread() {
    let _dog = watchdog(Duration::from_secs(20), "run() until stopped");
    let mut reactor = Reactor::new().unwrap();
    reactor.add(Scripted::new()).unwrap(); // keeps run() waiting
    let waker = reactor.waker();
    let ran_on: Arc<Mutex<Option<ThreadId>>> = Arc::default();
    let r = ran_on.clone();
    let sender = thread::spawn(move || {
        waker
            .call(move |reactor| {
                *r.lock().unwrap() = Some(thread::current().id());
                reactor.stop();
            })
            .unwrap();
        thread::current().id()
    });
    reactor.run().unwrap();
    let sender_id = sender.join().unwrap();

    let ran_on = ran_on.lock().unwrap().expect("task ran");
    assert_eq!(ran_on, thread::current().id());
    assert_ne!(ran_on, sender_id);
}

/// `Waker::wake(token)` from another thread calls that dispatcher's
/// `handle_wake`, and nobody else's.
#[test]
fn waker_wake_calls_handle_wake_of_that_token() {
    let _dog = watchdog(Duration::from_secs(20), "run() until stopped");
    let mut reactor = Reactor::new().unwrap();
    let (woken_a, woken_b) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let (a, b) = (woken_a.clone(), woken_b.clone());
    reactor
        .add(Scripted::new().on_wake(move |_cx| {
            a.set(a.get() + 1);
            Ok(())
        }))
        .unwrap();
    let token_b = reactor
        .add(Scripted::new().on_wake(move |cx| {
            b.set(b.get() + 1);
            cx.stop();
            Ok(())
        }))
        .unwrap();
    let waker = reactor.waker();
    thread::spawn(move || waker.wake(token_b).unwrap())
        .join()
        .unwrap();
    reactor.run().unwrap();
    assert_eq!((woken_a.get(), woken_b.get()), (0, 1));
}

/// `Waker::stop` from another thread makes a `run()` blocked in poll return,
/// leaving the dispatchers in place; `run()` can then be resumed.
#[test]
fn waker_stop_makes_run_return() {
    let _dog = watchdog(Duration::from_secs(20), "run() until stopped");
    let mut reactor = Reactor::new().unwrap();
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    start(
        &mut reactor,
        Scripted::new()
            .on_wake(|cx| {
                cx.set_repeating(ms(10));
                Ok(())
            })
            .on_timer(move |_cx, _id| {
                t.set(t.get() + 1);
                Ok(())
            }),
    );
    reactor.add(Scripted::new()).unwrap();
    for _round in 0..2 {
        let waker = reactor.waker();
        let stopper = thread::spawn(move || {
            let (tx, rx) = mpsc::channel();
            // Wait until the loop is running, then give it time to block.
            waker.call(move |_| tx.send(()).unwrap()).unwrap();
            rx.recv().unwrap();
            thread::sleep(ms(50));
            waker.stop().unwrap();
        });
        let before = ticks.get();
        reactor.run().unwrap();
        stopper.join().unwrap();
        assert_eq!(reactor.dispatcher_count(), 2, "stop leaves dispatchers");
        assert!(ticks.get() > before, "the loop ran until stopped");
    }
}

/// Thousands of wakes and calls sent concurrently from several threads are
/// all delivered, each exactly once, and each thread's calls in order.
#[test]
fn many_wakes_from_many_threads_are_all_delivered() {
    const THREADS: usize = 4;
    const EACH: usize = 500;
    let mut reactor = Reactor::new().unwrap();
    let woken = Rc::new(Cell::new(0));
    let w = woken.clone();
    let token = reactor
        .add(Scripted::new().on_wake(move |_cx| {
            w.set(w.get() + 1);
            Ok(())
        }))
        .unwrap();
    let calls: Arc<Mutex<Vec<(usize, usize)>>> = Arc::default();
    let senders: Vec<_> = (0..THREADS)
        .map(|t| {
            let waker = reactor.waker();
            let calls = calls.clone();
            thread::spawn(move || {
                for i in 0..EACH {
                    waker.wake(token).unwrap();
                    let calls = calls.clone();
                    waker
                        .call(move |_| calls.lock().unwrap().push((t, i)))
                        .unwrap();
                }
            })
        })
        .collect();

    let total = THREADS * EACH;
    let deadline = Instant::now() + Duration::from_secs(10);
    while (woken.get() < total || calls.lock().unwrap().len() < total) && Instant::now() < deadline
    {
        reactor.run_once(Some(ms(100))).unwrap();
    }
    for sender in senders {
        sender.join().unwrap();
    }
    reactor.run_once(Some(Duration::ZERO)).unwrap(); // anything left over

    assert_eq!(woken.get(), total);
    let calls = calls.lock().unwrap();
    assert_eq!(calls.len(), total);
    for t in 0..THREADS {
        let seq: Vec<usize> = calls.iter().filter(|c| c.0 == t).map(|c| c.1).collect();
        assert_eq!(seq, (0..EACH).collect::<Vec<_>>(), "thread {t}'s calls");
    }
}

/// A task that panics is logged and dropped; the tasks after it still run.
#[test]
fn a_panicking_task_does_not_stop_later_tasks() {
    let mut reactor = Reactor::new().unwrap();
    let waker = reactor.waker();
    let ran = Arc::new(Mutex::new(false));
    let r = ran.clone();
    waker.call(|_| panic!("task exploded")).unwrap();
    waker.call(move |_| *r.lock().unwrap() = true).unwrap();
    reactor.run_once(Some(Duration::from_secs(1))).unwrap();
    assert!(*ran.lock().unwrap());
}

/// A wake queued for a dispatcher that then closes is not delivered to the
/// newcomer that reuses its slot (`Entry::serial` claims to guard this).
#[test]
fn a_stale_wake_does_not_reach_the_dispatcher_reusing_the_token() {
    let mut reactor = Reactor::new().unwrap();
    start(
        &mut reactor,
        Scripted::new().on_wake(|cx| {
            // Stands in for a worker thread whose wake for this connection
            // lands while the connection is closing.
            cx.waker().wake(cx.token())?;
            cx.close();
            Ok(())
        }),
    );
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(reactor.dispatcher_count(), 0);

    let woken = Rc::new(Cell::new(0));
    let w = woken.clone();
    // The slab gives the newcomer the key just freed: the same token.
    reactor
        .add(Scripted::new().on_wake(move |_cx| {
            w.set(w.get() + 1);
            Ok(())
        }))
        .unwrap();
    for _ in 0..3 {
        reactor.run_once(Some(ms(10))).unwrap();
    }
    assert_eq!(woken.get(), 0, "the newcomer got its predecessor's wake");
}

// ---------------------------------------------------------------------------
// Errors and panics
// ---------------------------------------------------------------------------

/// What `handle_error` received, in a comparable form.
#[derive(Debug, PartialEq)]
enum Seen {
    Io(io::ErrorKind, String),
    Panic(String),
}

fn seen(error: DispatchError) -> Seen {
    match error {
        DispatchError::Io(e) => Seen::Io(e.kind(), e.to_string()),
        DispatchError::Panic(msg) => Seen::Panic(msg),
    }
}

/// An `Err` returned by a hook reaches `handle_error` as
/// `DispatchError::Io` carrying that error; the default `handle_error`
/// closes the dispatcher.
#[test]
fn an_err_from_a_hook_reaches_handle_error_as_io() {
    let mut reactor = Reactor::new().unwrap();
    let errors: Rc<RefCell<Vec<Seen>>> = Rc::default();
    let e = errors.clone();
    start(
        &mut reactor,
        Scripted::new()
            .on_wake(|_cx| Err(io::Error::new(io::ErrorKind::InvalidData, "bad frame")))
            .on_error(move |cx, error| {
                e.borrow_mut().push(seen(error));
                cx.close();
            }),
    );
    let dropped = Rc::new(Cell::new(false));
    start(
        &mut reactor,
        // No on_error: the trait's default handle_error.
        Scripted::new()
            .on_wake(|_cx| Err(io::ErrorKind::Other.into()))
            .drop_flag(&dropped),
    );
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(
        *errors.borrow(),
        [Seen::Io(io::ErrorKind::InvalidData, "bad frame".into())]
    );
    assert!(dropped.get(), "the default handle_error closed it");
    assert_eq!(reactor.dispatcher_count(), 0);
}

/// A `handle_error` that does not close keeps its dispatcher in the loop.
#[test]
fn handle_error_that_does_not_close_keeps_the_dispatcher() {
    let mut reactor = Reactor::new().unwrap();
    let errors = Rc::new(Cell::new(0));
    let e = errors.clone();
    let token = start(
        &mut reactor,
        Scripted::new()
            .on_wake(|_cx| Err(io::ErrorKind::Other.into()))
            .on_error(move |_cx, _error| e.set(e.get() + 1)),
    );
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    reactor.notify(token);
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(errors.get(), 2, "still there to fail again");
    assert_eq!(reactor.dispatcher_count(), 1);
}

/// A panic in `handle_timer` reaches `handle_error` as
/// `DispatchError::Panic` with its message; only that dispatcher is closed
/// and a neighbour's repeating timer keeps ticking.
#[test]
fn a_panic_in_handle_timer_closes_only_that_dispatcher() {
    let mut reactor = Reactor::new().unwrap();
    let errors: Rc<RefCell<Vec<Seen>>> = Rc::default();
    let dropped = Rc::new(Cell::new(false));
    let e = errors.clone();
    start(
        &mut reactor,
        Scripted::new()
            .on_wake(|cx| {
                cx.set_timer(ms(10));
                Ok(())
            })
            .on_timer(|_cx, _id| panic!("timer exploded"))
            .on_error(move |cx, error| {
                e.borrow_mut().push(seen(error));
                cx.close();
            })
            .drop_flag(&dropped),
    );
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    start(
        &mut reactor,
        Scripted::new()
            .on_wake(|cx| {
                cx.set_repeating(ms(5));
                Ok(())
            })
            .on_timer(move |_cx, _id| {
                t.set(t.get() + 1);
                Ok(())
            }),
    );
    run_until(&mut reactor, 50, || dropped.get());
    assert_eq!(*errors.borrow(), [Seen::Panic("timer exploded".into())]);
    assert_eq!(reactor.dispatcher_count(), 1);

    let after_panic = ticks.get();
    run_until(&mut reactor, 50, || ticks.get() >= after_panic + 3);
}

/// A panic inside `handle_error` itself still closes that dispatcher, and
/// only that one.
#[test]
fn a_panic_in_handle_error_closes_only_that_dispatcher() {
    let mut reactor = Reactor::new().unwrap();
    let dropped = Rc::new(Cell::new(false));
    let bad = start(
        &mut reactor,
        Scripted::new()
            .on_wake(|_cx| Err(io::ErrorKind::Other.into()))
            .on_error(|_cx, _error| panic!("handle_error exploded"))
            .drop_flag(&dropped),
    );
    let woken = Rc::new(Cell::new(0));
    let w = woken.clone();
    let good = start(
        &mut reactor,
        Scripted::new().on_wake(move |_cx| {
            w.set(w.get() + 1);
            Ok(())
        }),
    );
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert!(dropped.get());
    assert_eq!(reactor.dispatcher_count(), 1);
    assert_eq!(woken.get(), 1);

    reactor.notify(bad); // gone: ignored
    reactor.notify(good);
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(woken.get(), 2);
}

/// A dispatcher that panics while being dropped is still removed, and the
/// loop carries on.
#[test]
fn a_panic_while_dropping_a_dispatcher_is_contained() {
    struct PanicsOnDrop;
    impl Dispatcher for PanicsOnDrop {
        fn source(&mut self) -> Option<&mut dyn Source> {
            None
        }
        fn handle_wake(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
            cx.close();
            Ok(())
        }
    }
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("drop exploded");
        }
    }

    let mut reactor = Reactor::new().unwrap();
    let token = reactor.add(PanicsOnDrop).unwrap();
    let woken = Rc::new(Cell::new(0));
    let w = woken.clone();
    let other = reactor
        .add(Scripted::new().on_wake(move |_cx| {
            w.set(w.get() + 1);
            Ok(())
        }))
        .unwrap();
    reactor.notify(token);
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(reactor.dispatcher_count(), 1);
    reactor.notify(other);
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(woken.get(), 1);
}

/// Echoes lines, except `panic` (panics inside `handle_read`) and `timer`
/// (sets a timer whose `handle_timer` panics).
#[derive(Default)]
struct Fragile {
    line: Vec<u8>,
}

impl ChatHandler for Fragile {
    fn collect_incoming_data(&mut self, _chat: &mut Chat, data: &[u8]) {
        self.line.extend_from_slice(data);
    }

    fn found_terminator(&mut self, chat: &mut Chat, cx: &mut Context<'_>) -> io::Result<()> {
        let line = std::mem::take(&mut self.line);
        match &line[..] {
            b"panic" => panic!("fragile channel: asked to panic"),
            b"timer" => {
                cx.set_timer(ms(1));
            }
            _ => {
                chat.push(&line);
                chat.push(b"\n");
            }
        }
        Ok(())
    }

    fn handle_timer(
        &mut self,
        _chat: &mut Chat,
        _cx: &mut Context<'_>,
        _timer: TimerId,
    ) -> io::Result<()> {
        panic!("fragile channel: timer panicked");
    }
}

/// Runs passes until `stream` has `n` bytes to read, and returns them.
fn pump_read(reactor: &mut Reactor, stream: &mut TcpStream, n: usize) -> Vec<u8> {
    stream.set_nonblocking(true).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    for _ in 0..200 {
        reactor.run_once(Some(ms(10))).unwrap();
        loop {
            match stream.read(&mut buf) {
                Ok(0) => panic!("unexpected EOF after {got:?}"),
                Ok(k) => got.extend_from_slice(&buf[..k]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("read: {e}"),
            }
        }
        if got.len() >= n {
            return got;
        }
    }
    panic!("only {} of {n} bytes arrived", got.len());
}

/// Runs passes until the server closes `stream` (EOF or reset); returns
/// whatever data arrived before that.
fn pump_until_closed(reactor: &mut Reactor, stream: &mut TcpStream) -> Vec<u8> {
    stream.set_nonblocking(true).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    for _ in 0..200 {
        reactor.run_once(Some(ms(10))).unwrap();
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return got,
                Ok(k) => got.extend_from_slice(&buf[..k]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return got,
                Err(e) => panic!("read: {e}"),
            }
        }
    }
    panic!("connection not closed; got {got:?}");
}

fn echo_round_trip(reactor: &mut Reactor, stream: &mut TcpStream, data: &[u8]) {
    stream.write_all(data).unwrap();
    assert_eq!(pump_read(reactor, stream, data.len()), data);
}

/// A channel that panics in `handle_read`, or in `handle_timer`, is closed
/// while the echo clients beside it keep being served and the listeners
/// keep accepting.
#[test]
fn panicking_channels_are_closed_while_others_keep_being_served() {
    let mut reactor = Reactor::new().unwrap();
    let echo = Listener::bind(util::localhost(), |stream, _peer, cx| {
        cx.add(AsyncChat::new(stream, EchoHandler))?;
        Ok(())
    })
    .unwrap();
    let echo_addr = echo.local_addr().unwrap();
    reactor.add(echo).unwrap();
    let fragile = Listener::bind(util::localhost(), |stream, _peer, cx| {
        let mut channel = AsyncChat::new(stream, Fragile::default());
        channel
            .chat_mut()
            .set_terminator(Terminator::Bytes(b"\n".to_vec().into()));
        cx.add(channel)?;
        Ok(())
    })
    .unwrap();
    let fragile_addr = fragile.local_addr().unwrap();
    reactor.add(fragile).unwrap();

    let mut echo1 = util::connect(echo_addr);
    let mut echo2 = util::connect(echo_addr);
    let mut doomed = util::connect(fragile_addr);
    run_until_count(&mut reactor, 5);
    echo_round_trip(&mut reactor, &mut echo1, b"one");
    echo_round_trip(&mut reactor, &mut doomed, b"fine\n");

    // Panic inside handle_read.
    doomed.write_all(b"panic\n").unwrap();
    assert_eq!(pump_until_closed(&mut reactor, &mut doomed), b"");
    assert_eq!(reactor.dispatcher_count(), 4, "2 listeners + 2 echo");
    echo_round_trip(&mut reactor, &mut echo1, b"still here");
    echo_round_trip(&mut reactor, &mut echo2, b"me too");

    // Panic inside handle_timer, on a fresh connection to the same listener.
    let mut doomed = util::connect(fragile_addr);
    echo_round_trip(&mut reactor, &mut doomed, b"hello\n");
    assert_eq!(reactor.dispatcher_count(), 5);
    doomed.write_all(b"timer\n").unwrap();
    assert_eq!(pump_until_closed(&mut reactor, &mut doomed), b"");
    assert_eq!(reactor.dispatcher_count(), 4);
    echo_round_trip(&mut reactor, &mut echo1, b"and again");
    echo_round_trip(&mut reactor, &mut echo2, b"and again 2");
    let mut late = util::connect(echo_addr);
    echo_round_trip(&mut reactor, &mut late, b"late comer");
    assert_eq!(reactor.dispatcher_count(), 5);
}

/// Runs passes until the socket map holds `n` dispatchers.
fn run_until_count(reactor: &mut Reactor, n: usize) {
    for _ in 0..100 {
        if reactor.dispatcher_count() == n {
            return;
        }
        reactor.run_once(Some(ms(10))).unwrap();
    }
    assert_eq!(reactor.dispatcher_count(), n);
}

// ---------------------------------------------------------------------------
// Interest changes (edge-triggered correctness)
// ---------------------------------------------------------------------------

/// A dispatcher that turns `readable()` off gets no `handle_read` while
/// data arrives; turned back on, it is told about that data even though no
/// new data (no new edge) comes.
#[test]
fn data_that_arrived_while_not_readable_is_read_once_readable_again() {
    let mut reactor = Reactor::new().unwrap();
    let (mut client, server) = socket_pair();
    let (peer, state) = Peer::new(server);
    state.borrow_mut().pause_after_read = true;
    let token = reactor.add(peer).unwrap();

    client.write_all(b"one").unwrap();
    run_until(&mut reactor, 50, || state.borrow().received == b"one");
    assert!(!state.borrow().reading);
    let reads = state.borrow().read_calls;

    client.write_all(b"two").unwrap();
    for _ in 0..5 {
        reactor.run_once(Some(ms(20))).unwrap();
    }
    assert_eq!(state.borrow().read_calls, reads, "read while not readable");
    assert_eq!(state.borrow().received, b"one");

    {
        let mut state = state.borrow_mut();
        state.reading = true;
        state.pause_after_read = false;
    }
    reactor.notify(token); // a hook must run for readable() to be asked again
    run_until(&mut reactor, 50, || state.borrow().received == b"onetwo");
    assert!(state.borrow().read_calls > reads);
}

/// A dispatcher that turns `writable()` on long after its socket became
/// writable still gets `handle_write`.
#[test]
fn becoming_writable_later_delivers_handle_write() {
    let mut reactor = Reactor::new().unwrap();
    let (_client, server) = socket_pair();
    let (peer, state) = Peer::new(server);
    let token = reactor.add(peer).unwrap();
    for _ in 0..3 {
        reactor.run_once(Some(ms(10))).unwrap();
    }
    assert_eq!(
        state.borrow().write_calls,
        0,
        "not writable(): no write hook"
    );

    state.borrow_mut().writing = true;
    reactor.notify(token);
    run_until(&mut reactor, 50, || state.borrow().write_calls == 1);
    for _ in 0..3 {
        reactor.run_once(Some(ms(10))).unwrap();
    }
    assert_eq!(state.borrow().write_calls, 1, "writable() went false again");
}

// ---------------------------------------------------------------------------
// run() and the Context API
// ---------------------------------------------------------------------------

/// `run()` returns once the socket map is empty, and at once on an empty map.
#[test]
fn run_returns_when_the_socket_map_becomes_empty() {
    let _dog = watchdog(Duration::from_secs(20), "run() until empty");
    let mut reactor = Reactor::new().unwrap();
    reactor.run().unwrap(); // empty: nothing to wait for

    let closed = Rc::new(Cell::new(0));
    for delay in [10, 30, 20] {
        let c = closed.clone();
        start(
            &mut reactor,
            Scripted::new()
                .on_wake(move |cx| {
                    cx.set_timer(ms(delay));
                    Ok(())
                })
                .on_timer(move |cx, _id| {
                    c.set(c.get() + 1);
                    cx.close();
                    Ok(())
                }),
        );
    }
    let began = Instant::now();
    reactor.run().unwrap();
    assert_eq!(closed.get(), 3);
    assert_eq!(reactor.dispatcher_count(), 0);
    assert!(began.elapsed() >= ms(30), "returned before the last closed");
}

/// `handle_added` runs once, inside `add` (before any pass), with the new
/// dispatcher's own token, and can set its first timers.
#[test]
fn handle_added_runs_once_inside_add() {
    let mut reactor = Reactor::new().unwrap();
    let added: Rc<RefCell<Vec<Token>>> = Rc::default();
    let fired = Rc::new(Cell::new(0));
    let (a, f) = (added.clone(), fired.clone());
    let token = reactor
        .add(
            Scripted::new()
                .on_added(move |cx| {
                    a.borrow_mut().push(cx.token());
                    cx.set_timer(ms(5));
                    Ok(())
                })
                .on_timer(move |_cx, _id| {
                    f.set(f.get() + 1);
                    Ok(())
                }),
        )
        .unwrap();
    assert_eq!(*added.borrow(), [token]);
    assert_eq!(reactor.timer_count(), 1);
    run_until(&mut reactor, 50, || fired.get() == 1);
    reactor.run_once(Some(ms(10))).unwrap();
    assert_eq!(added.borrow().len(), 1);
}

/// `Context::add` from a timer hook puts a new dispatcher in the map; the
/// count includes it and `Context::notify` reaches it later in that pass.
#[test]
fn context_add_and_notify_from_a_timer_in_the_same_pass() {
    let mut reactor = Reactor::new().unwrap();
    let child_woken = Rc::new(Cell::new(0));
    let count_seen = Rc::new(Cell::new(0));
    let (w, n) = (child_woken.clone(), count_seen.clone());
    start(
        &mut reactor,
        Scripted::new()
            .on_wake(|cx| {
                cx.set_timer(ms(5));
                Ok(())
            })
            .on_timer(move |cx, _id| {
                let w = w.clone();
                let child = cx.add(Scripted::new().on_wake(move |_cx| {
                    w.set(w.get() + 1);
                    Ok(())
                }))?;
                assert_ne!(child, cx.token());
                n.set(cx.dispatcher_count());
                cx.notify(child);
                Ok(())
            }),
    );
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(reactor.dispatcher_count(), 1);
    // The pass that fires the timer also delivers the child's wake.
    run_until(&mut reactor, 50, || count_seen.get() > 0);
    assert_eq!(child_woken.get(), 1);
    assert_eq!(count_seen.get(), 2);
    assert_eq!(reactor.dispatcher_count(), 2);
}

/// `Context::notify` called from inside `handle_wake` reaches its target
/// "later in this pass", as documented.
#[test]
fn context_notify_from_handle_wake_is_delivered_in_the_same_pass() {
    let mut reactor = Reactor::new().unwrap();
    let woken = Rc::new(Cell::new(0));
    let w = woken.clone();
    let second = reactor
        .add(Scripted::new().on_wake(move |_cx| {
            w.set(w.get() + 1);
            Ok(())
        }))
        .unwrap();
    start(
        &mut reactor,
        Scripted::new().on_wake(move |cx| {
            cx.notify(second);
            Ok(())
        }),
    );
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(woken.get(), 1, "handed-over wake waited for the next pass");
}

/// `Context::close` removes the dispatcher when its hook returns, not
/// during it; notifications to it later in the pass, or afterwards, are
/// dropped.
#[test]
fn context_close_drops_the_dispatcher_after_its_hook() {
    let mut reactor = Reactor::new().unwrap();
    let dropped = Rc::new(Cell::new(false));
    let woken = Rc::new(Cell::new(0));
    let (d, w) = (dropped.clone(), woken.clone());
    let token = start(
        &mut reactor,
        Scripted::new()
            .on_wake(move |cx| {
                w.set(w.get() + 1);
                cx.close();
                assert!(cx.is_closing());
                assert!(!d.get(), "dropped while its hook runs");
                cx.notify(cx.token());
                Ok(())
            })
            .drop_flag(&dropped),
    );
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert!(dropped.get());
    assert_eq!(reactor.dispatcher_count(), 0);
    reactor.notify(token);
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(woken.get(), 1);
}

/// A socket dispatcher that closes itself has its socket closed: the peer
/// reads end of file.
#[test]
fn context_close_closes_the_socket() {
    let mut reactor = Reactor::new().unwrap();
    let (mut client, server) = socket_pair();
    let (peer, state) = Peer::new(server);
    reactor.add(peer).unwrap();
    client.shutdown(Shutdown::Write).unwrap(); // Peer closes on EOF
    run_until(&mut reactor, 50, || state.borrow().eof);
    assert_eq!(reactor.dispatcher_count(), 0);
    assert_eq!(util::read_to_end(&mut client), b"");
}

/// `Context::reschedule` brings a dispatcher that stopped reading short of
/// `WouldBlock` back on the next pass, without waiting for a new edge and
/// with its write hook too.
#[test]
fn reschedule_delivers_read_and_write_again_without_a_new_edge() {
    let mut reactor = Reactor::new().unwrap();
    let (mut client, server) = socket_pair();
    let (peer, state) = Peer::new(server);
    state.borrow_mut().read_limit = Some(1);
    reactor.add(peer).unwrap();

    client.write_all(b"0123456789").unwrap();
    run_until(&mut reactor, 50, || state.borrow().read_calls > 0);
    let began = Instant::now();
    for _ in 0..12 {
        // A long timeout: only reschedule can make these passes quick.
        reactor.run_once(Some(Duration::from_secs(2))).unwrap();
        if state.borrow().received.len() == 10 {
            break;
        }
    }
    let state = state.borrow();
    assert_eq!(state.received, b"0123456789");
    assert!(began.elapsed() < Duration::from_secs(1), "a pass waited");
    // One byte per read hook; every rescheduled turn also called handle_write.
    assert_eq!(state.read_calls, 10);
    assert_eq!(state.write_calls, 9);
}

// ---------------------------------------------------------------------------
// Graceful shutdown
// ---------------------------------------------------------------------------

/// `shutdown(grace)` calls every dispatcher's `handle_shutdown`; those that
/// close (at once, or after finishing their work) go, the rest are closed
/// by force when `grace` is over, and `run()` returns.
#[test]
fn shutdown_tells_everyone_then_force_closes_after_grace() {
    let _dog = watchdog(Duration::from_secs(20), "run() during shutdown");
    let mut reactor = Reactor::new().unwrap();
    let told: Rc<RefCell<Vec<&str>>> = Rc::default();
    let flags: Vec<Rc<Cell<bool>>> = (0..3).map(|_| Rc::default()).collect();

    let t = told.clone();
    reactor
        .add(
            Scripted::new()
                .on_shutdown(move |cx| {
                    t.borrow_mut().push("quits");
                    cx.close();
                })
                .drop_flag(&flags[0]),
        )
        .unwrap();
    let t = told.clone();
    let finished = Rc::new(Cell::new(None));
    let f = finished.clone();
    reactor
        .add(
            Scripted::new()
                .on_shutdown(move |cx| {
                    t.borrow_mut().push("finishes");
                    cx.set_timer(ms(30)); // in-flight work
                })
                .on_timer(move |cx, _id| {
                    f.set(Some(Instant::now()));
                    cx.close();
                    Ok(())
                })
                .drop_flag(&flags[1]),
        )
        .unwrap();
    let t = told.clone();
    reactor
        .add(
            Scripted::new()
                .on_shutdown(move |_cx| t.borrow_mut().push("ignores"))
                .drop_flag(&flags[2]),
        )
        .unwrap();

    let grace = ms(300);
    let began = Instant::now();
    reactor.shutdown(grace);
    assert!(reactor.is_shutting_down());
    let mut told_sorted = told.borrow().clone();
    told_sorted.sort_unstable();
    assert_eq!(told_sorted, ["finishes", "ignores", "quits"]);
    assert_eq!(reactor.dispatcher_count(), 2);
    assert!(flags[0].get());

    reactor.run().unwrap();
    let elapsed = began.elapsed();
    assert!(flags.iter().all(|f| f.get()), "all dropped");
    assert_eq!(reactor.dispatcher_count(), 0);
    let finished = finished.get().expect("finished its work");
    assert!(finished - began < grace, "was not left to finish");
    assert!(elapsed >= grace, "force-closed before the grace ran out");
    assert!(elapsed < grace + Duration::from_secs(2), "took {elapsed:?}");
    assert_eq!(told.borrow().len(), 3, "handle_shutdown once each");
    // The one that ignored the shutdown was closed by force, and it says so.
    assert_eq!(
        reactor.forced_shutdown(),
        Some(ForcedShutdown {
            cause: ForceCause::GraceExpired,
            closed: 1,
            grace,
        })
    );
}

/// When every dispatcher finishes before the grace period, `run()` returns
/// then, without waiting out the grace.
#[test]
fn shutdown_returns_early_when_everyone_finishes() {
    let _dog = watchdog(Duration::from_secs(20), "run() during shutdown");
    let mut reactor = Reactor::new().unwrap();
    reactor
        .add(
            Scripted::new()
                .on_shutdown(|cx| {
                    cx.set_timer(ms(20));
                })
                .on_timer(|cx, _id| {
                    cx.close();
                    Ok(())
                }),
        )
        .unwrap();
    let began = Instant::now();
    reactor.shutdown(Duration::from_secs(30));
    reactor.run().unwrap();
    assert!(began.elapsed() < Duration::from_secs(5));
    assert_eq!(reactor.dispatcher_count(), 0);
    assert_eq!(reactor.forced_shutdown(), None, "nothing was forced");
}
