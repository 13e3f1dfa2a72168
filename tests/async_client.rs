//! The reactor client: many calls in flight from one loop to several
//! servers, each answer matched to its call, and every failure reported to
//! just the calls it concerns.

mod util;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::rc::Rc;
use std::time::{Duration, Instant};

use medusa::handlers::{StatusHandler, XmlRpcHandler};
use medusa::http::{HttpConfig, HttpServer};
use medusa::reactor::Reactor;
use medusa::xmlrpc::{
    AsyncClient, AsyncClientConfig, CallResult, ClientError, Fault, Registry, Value,
};
use util::*;

/// An XML-RPC server (own thread) whose `tag(i)` answers `[id, i]`.
fn server(id: i32) -> TestServer {
    TestServer::start(move |reactor| {
        let mut registry = Registry::new();
        registry.register("tag", move |i: i32| vec![id, i]);
        registry.register("fail", || -> Result<i32, Fault> {
            Err(Fault::new(77, "asked to fail"))
        });
        let server = HttpServer::bind(localhost(), HttpConfig::default())?;
        server.install_handler(XmlRpcHandler::new("/RPC2", registry));
        server.install_handler(StatusHandler::new());
        let addr = server.local_addr()?;
        reactor.add(server)?;
        Ok(addr)
    })
}

fn url(addr: SocketAddr) -> String {
    format!("http://{addr}/RPC2")
}

/// Results by call number.
type Results = Rc<RefCell<Vec<Option<CallResult>>>>;

fn empty(n: usize) -> Results {
    Rc::new(RefCell::new((0..n).map(|_| None).collect()))
}

/// Runs the loop until every call has an answer (or 20 s pass).
fn run_until_done(reactor: &mut Reactor, results: &Results) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while results.borrow().iter().any(Option::is_none) {
        assert!(
            Instant::now() < deadline,
            "calls still unanswered after 20 s"
        );
        reactor.run_once(Some(Duration::from_millis(50))).unwrap();
    }
}

fn metric(addr: SocketAddr, name: &str) -> u64 {
    let mut stream = connect(addr);
    stream
        .write_all(b"GET /status/metrics HTTP/1.0\r\n\r\n")
        .unwrap();
    let text = String::from_utf8(read_to_end(&mut stream)).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("medusa_{name} ")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name}"))
}

/// 1,000 concurrent calls to 3 servers from one loop: every answer comes
/// from the right server and matches its call; connections stay within the
/// per-server cap and are reused.
#[test]
fn thousand_calls_to_three_servers() {
    let servers: Vec<TestServer> = (0..3).map(server).collect();
    let mut reactor = Reactor::new().unwrap();
    let config = AsyncClientConfig {
        max_connections_per_server: 8,
        ..AsyncClientConfig::default()
    };
    let client = AsyncClient::new(&mut reactor, config).unwrap();
    let results: Results = empty(1000);
    for i in 0..1000 {
        let target = &servers[i % 3];
        let results = results.clone();
        client.call(
            &url(target.addr),
            "tag",
            vec![Value::Int(i as i32)],
            move |r| {
                results.borrow_mut()[i] = Some(r);
            },
        );
    }
    run_until_done(&mut reactor, &results);
    for (i, result) in results.borrow().iter().enumerate() {
        let expected = Value::Array(vec![Value::Int((i % 3) as i32), Value::Int(i as i32)]);
        match result {
            Some(Ok(value)) => assert_eq!(value, &expected, "call {i}"),
            other => panic!("call {i}: {other:?}"),
        }
    }
    for s in &servers {
        // Accepted connections: at most the cap (+1 for this metrics request).
        assert!(
            metric(s.addr, "connections_total") <= 9,
            "more connections than the cap"
        );
        assert!(metric(s.addr, "requests_total") >= 333);
    }
    client.close();
    reactor.run().unwrap();
    assert_eq!(reactor.dispatcher_count(), 0, "close() lets the loop end");
}

/// A server that accepts and never answers: its calls time out, the calls
/// to a good server in the same batch succeed.
#[test]
fn a_stalled_server_times_out_only_its_calls() {
    let good = server(1);
    let stalled = TcpListener::bind("127.0.0.1:0").unwrap();
    let stalled_addr = stalled.local_addr().unwrap();
    // Accept (so the connect succeeds), read, never answer.
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        stalled.set_nonblocking(true).unwrap();
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if let Ok((s, _)) = stalled.accept() {
                held.push(s);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let mut reactor = Reactor::new().unwrap();
    let config = AsyncClientConfig {
        request_timeout: Duration::from_millis(400),
        ..AsyncClientConfig::default()
    };
    let client = AsyncClient::new(&mut reactor, config).unwrap();
    let results: Results = empty(20);
    for i in 0..20 {
        let target = if i % 2 == 0 { good.addr } else { stalled_addr };
        let results = results.clone();
        client.call(&url(target), "tag", vec![Value::Int(i as i32)], move |r| {
            results.borrow_mut()[i] = Some(r)
        });
    }
    run_until_done(&mut reactor, &results);
    for (i, result) in results.borrow().iter().enumerate() {
        match (i % 2, result) {
            (0, Some(Ok(v))) => {
                assert_eq!(v, &Value::Array(vec![Value::Int(1), Value::Int(i as i32)]))
            }
            (1, Some(Err(ClientError::Io(e)))) => {
                assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "call {i}")
            }
            other => panic!("call {i}: {other:?}"),
        }
    }
    drop(holder);
}

/// A server that resets the connection in the middle of its answer fails
/// just the calls sent to it; refused connections fail just theirs.
#[test]
fn resets_and_refusals_fail_only_their_calls() {
    let good = server(2);
    let resetter = TcpListener::bind("127.0.0.1:0").unwrap();
    let reset_addr = resetter.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in resetter.incoming().take(8) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n<?xml version=\"1.0\"?><methodRe",
            );
            // Linger 0: close with a reset, mid-body.
            let socket = socket2::SockRef::from(&stream);
            let _ = socket.set_linger(Some(Duration::ZERO));
            drop(stream);
        }
    });
    let refused_addr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut reactor = Reactor::new().unwrap();
    let client = AsyncClient::new(&mut reactor, AsyncClientConfig::default()).unwrap();
    let results: Results = empty(12);
    for i in 0..12 {
        let target = match i % 3 {
            0 => good.addr,
            1 => reset_addr,
            _ => refused_addr,
        };
        let results = results.clone();
        client.call(&url(target), "tag", vec![Value::Int(i as i32)], move |r| {
            results.borrow_mut()[i] = Some(r)
        });
    }
    run_until_done(&mut reactor, &results);
    for (i, result) in results.borrow().iter().enumerate() {
        match (i % 3, result) {
            (0, Some(Ok(_))) => {}
            (1, Some(Err(ClientError::Io(_) | ClientError::Protocol(_)))) => {}
            (2, Some(Err(ClientError::Io(e)))) => {
                assert_eq!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionRefused,
                    "call {i}: {e}"
                )
            }
            other => panic!("call {i}: {other:?}"),
        }
    }
}

/// Faults and HTTP errors arrive as such, per call.
#[test]
fn faults_and_http_errors_reach_their_callbacks() {
    let s = server(3);
    let mut reactor = Reactor::new().unwrap();
    let client = AsyncClient::new(&mut reactor, AsyncClientConfig::default()).unwrap();
    let results: Results = empty(3);
    let calls = [
        (url(s.addr), "fail"),
        (format!("http://{}/nowhere", s.addr), "tag"),
        (url(s.addr), "nope"),
    ];
    for (i, (target, method)) in calls.iter().enumerate() {
        let results = results.clone();
        let params = if *method == "tag" {
            vec![Value::Int(1)]
        } else {
            vec![]
        };
        client.call(target, method, params, move |r| {
            results.borrow_mut()[i] = Some(r)
        });
    }
    run_until_done(&mut reactor, &results);
    let results = results.borrow();
    assert!(matches!(&results[0], Some(Err(ClientError::Fault(f))) if f.code == 77));
    assert!(matches!(
        &results[1],
        Some(Err(ClientError::Http { status: 404, .. }))
    ));
    assert!(
        matches!(&results[2], Some(Err(ClientError::Fault(f))) if f.code == Fault::METHOD_NOT_FOUND)
    );
}

/// Sequential calls reuse one kept-alive connection.
#[test]
fn sequential_calls_reuse_one_connection() {
    let s = server(4);
    let mut reactor = Reactor::new().unwrap();
    let client = AsyncClient::new(&mut reactor, AsyncClientConfig::default()).unwrap();
    for i in 0..30 {
        let results: Results = empty(1);
        let r = results.clone();
        client.call(&url(s.addr), "tag", vec![Value::Int(i)], move |x| {
            r.borrow_mut()[0] = Some(x)
        });
        run_until_done(&mut reactor, &results);
        assert!(matches!(&results.borrow()[0], Some(Ok(_))));
    }
    assert_eq!(
        metric(s.addr, "connections_total"),
        2,
        "one for the 30 calls, one for this request"
    );
}

/// A server on 127.0.0.1 only, called as `localhost`: where `localhost` is
/// `[::1, 127.0.0.1]` (a stock Debian), the refused `::1` must not fail the
/// call. (Where it is 127.0.0.1 alone this passes either way; the
/// fallback itself is tested with made-up address lists in the crate's
/// `xmlrpc::async_client::tests`.) The name is looked up off the loop's
/// thread; once closed, the client lets the loop end.
#[test]
fn localhost_reaches_an_ipv4_only_server() {
    let server = server(5);
    let mut reactor = Reactor::new().unwrap();
    let client = AsyncClient::new(&mut reactor, AsyncClientConfig::default()).unwrap();
    let results = empty(1);
    let slot = results.clone();
    let url = format!("http://localhost:{}/RPC2", server.addr.port());
    client.call(&url, "tag", vec![Value::Int(1)], move |r| {
        slot.borrow_mut()[0] = Some(r)
    });
    run_until_done(&mut reactor, &results);
    let answer = results.borrow_mut()[0].take().unwrap();
    assert_eq!(
        answer.unwrap(),
        Value::Array(vec![Value::Int(5), Value::Int(1)])
    );
    client.close();
    let deadline = Instant::now() + Duration::from_secs(20);
    while reactor.dispatcher_count() > 0 {
        assert!(Instant::now() < deadline, "the client kept the loop alive");
        reactor.run_once(Some(Duration::from_millis(50))).unwrap();
    }
}
