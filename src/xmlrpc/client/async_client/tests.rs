//! Name resolution and servers with several addresses: what the system
//! resolver gives cannot be arranged on every machine (`localhost` is
//! `[::1, 127.0.0.1]` on a stock Debian, `127.0.0.1` alone elsewhere), nor
//! made slow or failing on demand, so these tests hand the client resolvers
//! of their own, whose addresses are all on 127.0.0.1. And Unix-domain
//! sockets, where what is checked (no lookup; the pool's count of open
//! connections after a connect fails at once) only the pool shows.

// Test code: its numbers are its own, not a peer's.
#![allow(clippy::arithmetic_side_effects)]

use std::cell::RefCell;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{AsyncClient, AsyncClientConfig, CallResult};
use crate::handlers::XmlRpcHandler;
use crate::http::{HttpConfig, HttpServer};
use crate::reactor::Reactor;
use crate::xmlrpc::client::error::ClientError;
use crate::xmlrpc::client::url::Target;
use crate::xmlrpc::server::registry::Registry;
use crate::xmlrpc::value::Value;

/// A port on 127.0.0.1 where nothing listens (just released by the
/// kernel), so connecting there is refused.
fn refusing() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// `add` served on `reactor` itself, on 127.0.0.1.
fn serve(reactor: &mut Reactor) -> SocketAddr {
    let mut registry = Registry::new();
    registry.register("add", |a: i32, b: i32| a.wrapping_add(b));
    let server = HttpServer::bind("127.0.0.1:0", HttpConfig::default()).unwrap();
    server.install_handler(XmlRpcHandler::new("/RPC2", registry));
    let addr = server.local_addr().unwrap();
    reactor.add(server).unwrap();
    addr
}

/// Runs the loop until `done` (or fails after 20 s, naming `what`).
fn run_until(reactor: &mut Reactor, what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "no {what} after 20 s");
        reactor.run_once(Some(Duration::from_millis(50))).unwrap();
    }
}

type Resolved = io::Result<Vec<SocketAddr>>;

/// A resolver that answers `answer` at once, counting its lookups.
fn counting(
    count: &Arc<AtomicUsize>,
    answer: Resolved,
) -> impl FnOnce(&Target) -> Resolved + Send + 'static {
    let count = count.clone();
    move |_| {
        count.fetch_add(1, Ordering::SeqCst);
        answer
    }
}

/// A resolver that says when it starts, then waits for the test to give
/// its answer: a DNS server as slow as the test wants. The wait is bounded
/// (10 s) so that a resolver run on the loop's own thread fails the test
/// instead of hanging it.
fn gated() -> (
    Sender<Resolved>,
    Receiver<()>,
    impl FnOnce(&Target) -> Resolved + Send + 'static,
) {
    let (answer_tx, answer_rx) = mpsc::channel::<Resolved>();
    let (started_tx, started_rx) = mpsc::channel();
    let resolver = move |_: &Target| {
        let _ = started_tx.send(());
        answer_rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| Err(io::Error::other("the test never answered the resolver")))
    };
    (answer_tx, started_rx, resolver)
}

fn add(client: &AsyncClient, url: &str, sink: &Rc<RefCell<Vec<CallResult>>>) {
    let sink = sink.clone();
    client.call(url, "add", vec![Value::Int(40), Value::Int(2)], move |r| {
        sink.borrow_mut().push(r)
    });
}

fn add_resolving(
    client: &AsyncClient,
    url: &str,
    sink: &Rc<RefCell<Vec<CallResult>>>,
    resolver: impl FnOnce(&Target) -> Resolved + Send + 'static,
) {
    let sink = sink.clone();
    client.call_resolving(
        url,
        "add",
        vec![Value::Int(40), Value::Int(2)],
        move |r| sink.borrow_mut().push(r),
        resolver,
        false,
    );
}

/// Calls `add(40, 2)` `n` times, one after the other, on `url` whose name
/// resolves to `addrs`; the results in order.
fn calls(
    reactor: &mut Reactor,
    client: &AsyncClient,
    url: &str,
    addrs: &[SocketAddr],
    n: usize,
) -> Vec<CallResult> {
    let results: Rc<RefCell<Vec<CallResult>>> = Rc::default();
    let resolved = Arc::new(AtomicUsize::new(0));
    for i in 0..n {
        let sink = results.clone();
        client.call_resolving(
            url,
            "add",
            vec![Value::Int(40), Value::Int(2)],
            move |r| sink.borrow_mut().push(r),
            counting(&resolved, Ok(addrs.to_vec())),
            false,
        );
        run_until(reactor, "an answer", || results.borrow().len() > i);
    }
    assert_eq!(
        resolved.load(Ordering::SeqCst),
        1,
        "resolved once per server"
    );
    Rc::try_unwrap(results).ok().unwrap().into_inner()
}

/// The first address refuses, the second answers: the call succeeds, as
/// the blocking client's does (before, only the first address was tried).
#[test]
fn a_refusing_first_address_falls_back_to_the_next() {
    let mut reactor = Reactor::new().unwrap();
    let good = serve(&mut reactor);
    let url = format!("http://multi.test:{}/RPC2", good.port());
    let addrs = [refusing(), good];
    let client = AsyncClient::new(&mut reactor, AsyncClientConfig::default()).unwrap();
    for result in calls(&mut reactor, &client, &url, &addrs, 3) {
        assert_eq!(result.unwrap(), Value::Int(42));
    }
    // Later connections start at the address that worked.
    let authority = format!("multi.test:{}", good.port());
    assert_eq!(client.pool.borrow().servers[&authority].preferred, 1);
}

/// Every address refuses: the call fails once, with the refusal.
#[test]
fn when_every_address_refuses_the_call_fails_with_the_refusal() {
    let mut reactor = Reactor::new().unwrap();
    let addrs = [refusing(), refusing(), refusing()];
    let client = AsyncClient::new(&mut reactor, AsyncClientConfig::default()).unwrap();
    let results = calls(&mut reactor, &client, "http://multi.test:1/RPC2", &addrs, 1);
    match &results[..] {
        [Err(ClientError::Io(e))] => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}"),
        other => panic!("expected one refusal, got {other:?}"),
    }
}

/// While one server's name is still being resolved (its DNS server stalls),
/// a call to another server on the same loop goes out and is answered: the
/// lookup is not on the loop's thread. When the answer comes, the waiting
/// call goes out too.
#[test]
fn a_slow_lookup_does_not_hold_up_the_loop() {
    let mut reactor = Reactor::new().unwrap();
    let good = serve(&mut reactor);
    let client = AsyncClient::new(&mut reactor, AsyncClientConfig::default()).unwrap();
    let (answer, started, resolver) = gated();
    let slow: Rc<RefCell<Vec<CallResult>>> = Rc::default();
    let fast: Rc<RefCell<Vec<CallResult>>> = Rc::default();
    let slow_url = format!("http://slow.test:{}/RPC2", good.port());
    add_resolving(&client, &slow_url, &slow, resolver);
    add(&client, &format!("http://{good}/RPC2"), &fast);
    run_until(&mut reactor, "answer to the IP literal", || {
        !fast.borrow().is_empty()
    });
    assert_eq!(fast.borrow_mut().remove(0).unwrap(), Value::Int(42));
    assert!(
        started.recv_timeout(Duration::from_secs(10)).is_ok(),
        "the lookup never started"
    );
    assert!(
        slow.borrow().is_empty(),
        "the slow name's call ended before its lookup did: {:?}",
        slow.borrow()
    );
    assert_eq!(client.queued(), 1, "the call waits for its lookup");
    answer.send(Ok(vec![good])).unwrap();
    run_until(&mut reactor, "answer once resolved", || {
        !slow.borrow().is_empty()
    });
    assert_eq!(slow.borrow_mut().remove(0).unwrap(), Value::Int(42));
}

/// A lookup that never finishes, and the client closed while its calls
/// wait: they fail with `TimedOut` after `request_timeout`, then the loop
/// ends although the lookup is still going, and its late answer is
/// ignored.
#[test]
fn calls_waiting_for_a_hung_lookup_time_out_and_the_loop_ends() {
    let mut reactor = Reactor::new().unwrap();
    let config = AsyncClientConfig {
        request_timeout: Duration::from_millis(300),
        ..AsyncClientConfig::default()
    };
    let client = AsyncClient::new(&mut reactor, config).unwrap();
    let (answer, started, resolver) = gated();
    let results: Rc<RefCell<Vec<CallResult>>> = Rc::default();
    let url = "http://hung.test:1/RPC2";
    add_resolving(&client, url, &results, resolver);
    let second = Arc::new(AtomicUsize::new(0));
    add_resolving(
        &client,
        url,
        &results,
        counting(&second, Ok(vec![refusing()])),
    );
    client.close();
    run_until(&mut reactor, "timeouts", || results.borrow().len() == 2);
    for result in results.borrow().iter() {
        match result {
            Err(ClientError::Io(e)) => {
                assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
                assert!(e.to_string().contains("hung.test"), "{e}");
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
    }
    assert_eq!(second.load(Ordering::SeqCst), 0, "one lookup per name");
    assert!(started.recv_timeout(Duration::from_secs(10)).is_ok());
    run_until(&mut reactor, "hub leaving the loop", || {
        client.pool.borrow().hub.is_none()
    });
    assert_eq!(reactor.dispatcher_count(), 0, "the loop can end");
    // The lookup is still blocked: answer it now, and let its wake-up reach
    // a loop the hub has left. Its thread holds the third handle on the
    // inbox (the pool and this test the others) until it has woken the loop.
    let inbox = client.pool.borrow().resolved.clone();
    answer.send(Ok(vec![refusing()])).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Arc::strong_count(&inbox) > 2 {
        assert!(Instant::now() < deadline, "the resolver thread did not end");
        std::thread::sleep(Duration::from_millis(10));
    }
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(reactor.dispatcher_count(), 0);
    add(&client, url, &results);
    assert!(matches!(
        &results.borrow()[2],
        Err(ClientError::Protocol(_))
    ));
}

/// A lookup that fails fails every call that waited for it, with an error
/// naming the host; the failure is not kept: the next call looks again.
#[test]
fn a_failed_lookup_fails_every_waiting_call_and_is_not_kept() {
    let mut reactor = Reactor::new().unwrap();
    let good = serve(&mut reactor);
    let client = AsyncClient::new(&mut reactor, AsyncClientConfig::default()).unwrap();
    let lookups = Arc::new(AtomicUsize::new(0));
    let results: Rc<RefCell<Vec<CallResult>>> = Rc::default();
    let url = format!("http://nosuch.test:{}/RPC2", good.port());
    for _ in 0..3 {
        let e = io::Error::new(io::ErrorKind::NotFound, "no such host");
        add_resolving(&client, &url, &results, counting(&lookups, Err(e)));
    }
    run_until(&mut reactor, "lookup failures", || {
        results.borrow().len() == 3
    });
    assert_eq!(
        lookups.load(Ordering::SeqCst),
        1,
        "one lookup for the three"
    );
    for result in results.borrow_mut().drain(..) {
        match result {
            Err(ClientError::Io(e)) => {
                assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
                assert!(e.to_string().contains("nosuch.test"), "{e}");
                assert!(e.to_string().contains("no such host"), "{e}");
            }
            other => panic!("expected the lookup's error, got {other:?}"),
        }
    }
    add_resolving(&client, &url, &results, counting(&lookups, Ok(vec![good])));
    run_until(&mut reactor, "answer", || !results.borrow().is_empty());
    assert_eq!(lookups.load(Ordering::SeqCst), 2, "looked up again");
    assert_eq!(results.borrow_mut().remove(0).unwrap(), Value::Int(42));
}

/// A Unix-domain socket is never looked up, and a connect that fails at
/// once (the socket gone: `ENOENT`, named in the error) frees its slot
/// once: the idle connection still open is still counted.
#[cfg(unix)]
#[test]
fn a_unix_socket_is_not_looked_up_and_a_failed_connect_frees_one_slot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rpc.sock");
    let mut reactor = Reactor::new().unwrap();
    let mut registry = Registry::new();
    registry.register("add", |a: i32, b: i32| a.wrapping_add(b));
    let server = HttpServer::bind_unix(&path, HttpConfig::default()).unwrap();
    server.install_handler(XmlRpcHandler::new("/RPC2", registry));
    reactor.add(server).unwrap();
    let client = AsyncClient::new(&mut reactor, AsyncClientConfig::default()).unwrap();
    let url = format!("unix://{}", path.display());
    let key = format!("unix:{}", path.display());
    let lookups = Arc::new(AtomicUsize::new(0));
    let results: Rc<RefCell<Vec<CallResult>>> = Rc::default();
    add_resolving(&client, &url, &results, counting(&lookups, Ok(vec![])));
    run_until(&mut reactor, "an answer", || !results.borrow().is_empty());
    assert_eq!(results.borrow_mut().remove(0).unwrap(), Value::Int(42));
    assert_eq!(lookups.load(Ordering::SeqCst), 0, "no lookup for a socket");
    assert_eq!(client.pool.borrow().servers[&key].open, 1);

    // New connections now fail at once; the kept-alive one still works.
    std::fs::remove_file(&path).unwrap();
    add(&client, &url, &results);
    add(&client, &url, &results);
    run_until(&mut reactor, "two answers", || results.borrow().len() == 2);
    let mut answers = results.borrow_mut().drain(..).collect::<Vec<_>>();
    answers.sort_by_key(|r| r.is_err());
    assert_eq!(answers.remove(0).unwrap(), Value::Int(42));
    match answers.remove(0) {
        Err(ClientError::Io(e)) => {
            assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
            assert!(e.to_string().contains(&key), "{e}");
        }
        other => panic!("expected ENOENT, got {other:?}"),
    }
    assert_eq!(
        client.pool.borrow().servers[&key].open,
        1,
        "the idle connection is still counted"
    );
}

/// An `https://` server whose TLS cannot be set up (no roots to check it
/// with) fails every call with that reason, not only the first: the
/// failed server is not kept in the pool as a plain-text one (it was, and
/// the second call went out unencrypted and met a closed connection).
#[test]
fn a_tls_setup_failure_is_reported_every_time() {
    let mut reactor = Reactor::new().unwrap();
    let mut tls = crate::xmlrpc::TlsConfig::default();
    tls.without_system_roots();
    let config = AsyncClientConfig {
        tls,
        ..AsyncClientConfig::default()
    };
    let client = AsyncClient::new(&mut reactor, config).unwrap();
    let results: Rc<RefCell<Vec<CallResult>>> = Rc::default();
    for _ in 0..2 {
        let sink = results.clone();
        client.call("https://127.0.0.1:9/RPC2", "add", vec![], move |r| {
            sink.borrow_mut().push(r)
        });
    }
    let results = results.borrow();
    assert_eq!(results.len(), 2);
    for result in results.iter() {
        let error = result.as_ref().unwrap_err().to_string();
        assert!(error.contains("no root certificates"), "{error}");
    }
}
