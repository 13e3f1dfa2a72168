//! Connecting to a server whose name has several addresses: what the
//! resolver gives cannot be arranged on every machine (`localhost` is
//! `[::1, 127.0.0.1]` on a stock Debian, `127.0.0.1` alone elsewhere), so
//! these tests hand the client the address lists themselves, all on
//! 127.0.0.1.

// Test code: its numbers are its own, not a peer's.
#![allow(clippy::arithmetic_side_effects)]

use std::cell::RefCell;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::{AsyncClient, AsyncClientConfig, CallResult};
use crate::handlers::XmlRpcHandler;
use crate::http::{HttpConfig, HttpServer};
use crate::reactor::Reactor;
use crate::xmlrpc::{ClientError, Registry, Value};

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
    let server = HttpServer::bind("127.0.0.1:0".parse().unwrap(), HttpConfig::default()).unwrap();
    server.install_handler(XmlRpcHandler::new("/RPC2", registry));
    let addr = server.local_addr().unwrap();
    reactor.add(server).unwrap();
    addr
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
    let resolved = Rc::new(RefCell::new(0));
    for i in 0..n {
        let sink = results.clone();
        let count = resolved.clone();
        let addrs = addrs.to_vec();
        client.call_resolving(
            url,
            "add",
            vec![Value::Int(40), Value::Int(2)],
            move |r| sink.borrow_mut().push(r),
            move |_| {
                *count.borrow_mut() += 1;
                Ok(addrs)
            },
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while results.borrow().len() <= i {
            assert!(Instant::now() < deadline, "no answer after 20 s");
            reactor.run_once(Some(Duration::from_millis(50))).unwrap();
        }
    }
    assert_eq!(*resolved.borrow(), 1, "resolved once per server");
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
