//! Deferred replies and offloaded blocking methods, over real sockets: the
//! loop keeps serving while an answer is pending, pipelined order holds,
//! and every pending call is answered (result, busy fault, 504).

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use medusa::handlers::{StatusHandler, XmlRpcHandler};
use medusa::http::{HttpConfig, HttpServer};
use medusa::xmlrpc::{dumps, Client, ClientError, Fault, Registry, Value, WorkerPool};
use util::*;

/// A server with: `add`; `later(ms, x)` answered with `x` from another
/// thread after `ms`; `slow(ms)` blocking on a 1-thread pool with a 1-slot
/// queue; `forgotten()` that drops its responder; `never()` that keeps it.
fn server(config: HttpConfig) -> TestServer {
    TestServer::start(move |reactor| {
        let pool = Arc::new(WorkerPool::new(1, 1));
        let kept = Arc::new(Mutex::new(Vec::new()));
        let mut registry = Registry::new();
        registry.register("add", |a: i32, b: i32| a + b);
        registry.register_deferred("later", |params, responder| {
            let (ms, x) = match params.as_slice() {
                [Value::Int(ms), x] => (*ms as u64, x.clone()),
                _ => return responder.respond(Err(Fault::invalid_params("later(ms, x)"))),
            };
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(ms));
                responder.respond(Ok(x));
            });
        });
        registry.register_blocking("slow", pool, |params| {
            let ms = match params.as_slice() {
                [Value::Int(ms)] => *ms as u64,
                _ => return Err(Fault::invalid_params("slow(ms)")),
            };
            std::thread::sleep(Duration::from_millis(ms));
            Ok(Value::Int(ms as i32))
        });
        registry.register_deferred("forgotten", |_, responder| drop(responder));
        registry.register_deferred("never", move |_, responder| {
            kept.lock().unwrap().push(responder)
        });
        let server = HttpServer::bind(localhost(), config)?;
        server.install_handler(StatusHandler::new());
        server.install_handler(XmlRpcHandler::new("/RPC2", registry));
        let addr = server.local_addr()?;
        reactor.add(server)?;
        Ok(addr)
    })
}

fn client(server: &TestServer) -> Client {
    Client::new(&format!("http://{}/RPC2", server.addr)).unwrap()
}

/// A reply completed from another thread arrives, and other calls are
/// answered meanwhile on the same loop.
#[test]
fn deferred_reply_from_another_thread() {
    let server = server(HttpConfig::default());
    let addr = server.addr;
    let pending = std::thread::spawn(move || {
        let mut c = Client::new(&format!("http://{addr}/RPC2")).unwrap();
        c.call("later", vec![Value::Int(300), Value::from("done")])
    });
    let mut quick = client(&server);
    let start = Instant::now();
    for i in 0..20 {
        assert_eq!(
            quick
                .call("add", vec![Value::Int(i), Value::Int(1)])
                .unwrap(),
            Value::Int(i + 1)
        );
    }
    assert!(!pending.is_finished() || start.elapsed() >= Duration::from_millis(300));
    assert_eq!(pending.join().unwrap().unwrap(), Value::from("done"));
}

/// Pipelined requests on one connection are answered in order even when
/// the first one is deferred and the second could be answered at once.
#[test]
fn pipelined_order_holds_when_the_first_is_deferred() {
    let server = server(HttpConfig::default());
    let mut stream = connect(server.addr);
    let first = dumps(&[Value::Int(200), Value::from("first")], "later").unwrap();
    let second = dumps(&[Value::Int(40), Value::Int(2)], "add").unwrap();
    let mut bytes = Vec::new();
    for body in [&first, &second] {
        bytes.extend_from_slice(
            format!(
                "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        bytes.extend_from_slice(body);
    }
    stream.write_all(&bytes).unwrap();
    let mut reader = BufReader::new(stream);
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.strip_prefix("Content-Length: ") {
                length = v.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        bodies.push(medusa::xmlrpc::loads(&body).unwrap().0);
    }
    assert_eq!(
        bodies,
        vec![vec![Value::from("first")], vec![Value::Int(42)]]
    );
}

/// A method that blocks for 2 seconds runs on a worker: other clients'
/// calls are answered while it sleeps (Medusa on Python would stall them).
#[test]
fn blocking_method_does_not_stall_the_loop() {
    let server = server(HttpConfig::default());
    let addr = server.addr;
    let (started_tx, started_rx) = mpsc::channel();
    let slow = std::thread::spawn(move || {
        let mut c = Client::new(&format!("http://{addr}/RPC2")).unwrap();
        started_tx.send(Instant::now()).unwrap();
        let result = c.call("slow", vec![Value::Int(2000)]);
        (result, Instant::now())
    });
    let started = started_rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(100)); // let the slow call reach the worker
    let mut quick = client(&server);
    let mut slowest = Duration::ZERO;
    for i in 0..50 {
        let t = Instant::now();
        assert_eq!(
            quick
                .call("add", vec![Value::Int(i), Value::Int(i)])
                .unwrap(),
            Value::Int(2 * i)
        );
        slowest = slowest.max(t.elapsed());
    }
    let quick_done = Instant::now();
    let (result, slow_done) = slow.join().unwrap();
    assert_eq!(result.unwrap(), Value::Int(2000));
    assert!(
        quick_done < slow_done,
        "the quick calls finished while the slow one ran"
    );
    assert!(slow_done - started >= Duration::from_millis(2000));
    assert!(
        slowest < Duration::from_secs(1),
        "a quick call took {slowest:?}"
    );
}

/// With the worker busy and its queue full, a further blocking call is
/// refused at once with -32500 "server busy"; the others complete.
#[test]
fn full_worker_pool_answers_busy() {
    let server = server(HttpConfig::default());
    let addr = server.addr;
    let call = move |ms: i32| {
        std::thread::spawn(move || {
            let mut c = Client::new(&format!("http://{addr}/RPC2")).unwrap();
            let t = Instant::now();
            (c.call("slow", vec![Value::Int(ms)]), t.elapsed())
        })
    };
    let running = call(800);
    std::thread::sleep(Duration::from_millis(150));
    let queued = call(10);
    std::thread::sleep(Duration::from_millis(150));
    let (refused, took) = call(10).join().unwrap();
    match refused {
        Err(ClientError::Fault(fault)) => {
            assert_eq!(fault.code, Fault::APPLICATION_ERROR);
            assert!(fault.message.contains("busy"), "{}", fault.message);
        }
        other => panic!("expected a busy fault, got {other:?}"),
    }
    assert!(
        took < Duration::from_millis(500),
        "refused at once, not after waiting ({took:?})"
    );
    assert_eq!(running.join().unwrap().0.unwrap(), Value::Int(800));
    assert_eq!(queued.join().unwrap().0.unwrap(), Value::Int(10));
}

/// A responder dropped unanswered still answers, with fault -32603.
#[test]
fn dropped_responder_answers_a_fault() {
    let server = server(HttpConfig::default());
    match client(&server).call("forgotten", vec![]) {
        Err(ClientError::Fault(fault)) => assert_eq!(fault.code, Fault::INTERNAL_ERROR),
        other => panic!("expected -32603, got {other:?}"),
    }
}

/// A reply that never comes is answered 504 after `response_timeout`, and
/// the connection closes.
#[test]
fn reply_that_never_comes_is_a_504() {
    let server = server(HttpConfig {
        response_timeout: Duration::from_millis(300),
        ..HttpConfig::default()
    });
    let mut c = client(&server);
    match c.call("never", vec![]) {
        Err(ClientError::Http { status, .. }) => assert_eq!(status, 504),
        other => panic!("expected HTTP 504, got {other:?}"),
    }
    // The server is fine afterwards.
    assert_eq!(
        client(&server)
            .call("add", vec![Value::Int(1), Value::Int(1)])
            .unwrap(),
        Value::Int(2)
    );
}

/// `system.multicall` may mix methods that answer now with methods that
/// answer later: the deferred ones run side by side (the multicall takes
/// about as long as the slowest, not the sum), finish in any order, and
/// the answers come back in the calls' order, with faults (and a
/// forgotten responder's fault) in their places.
#[test]
fn multicall_gathers_deferred_methods_in_order() {
    let server = server(HttpConfig::default());
    let call = |name: &str, params: Vec<Value>| {
        Value::Struct(
            [
                ("methodName".to_string(), Value::from(name)),
                ("params".to_string(), Value::Array(params)),
            ]
            .into_iter()
            .collect(),
        )
    };
    let calls = Value::Array(vec![
        call("later", vec![Value::Int(600), Value::from("slowest")]),
        call("add", vec![Value::Int(1), Value::Int(2)]),
        call("later", vec![Value::Int(550), Value::from("middle")]),
        call("forgotten", vec![]),
        call("later", vec![Value::from("bad")]),
        call("later", vec![Value::Int(500), Value::from("fastest")]),
        call("nope", vec![]),
    ]);
    let started = Instant::now();
    let Value::Array(results) = client(&server)
        .call("system.multicall", vec![calls])
        .unwrap()
    else {
        panic!("array")
    };
    let took = started.elapsed();
    let one = |v: &str| Value::Array(vec![Value::from(v)]);
    let code = |v: &Value| match v {
        Value::Struct(fault) => fault.get("faultCode").cloned(),
        _ => None,
    };
    assert_eq!(results.len(), 7);
    assert_eq!(results[0], one("slowest"));
    assert_eq!(results[1], Value::Array(vec![Value::Int(3)]));
    assert_eq!(results[2], one("middle"));
    assert_eq!(code(&results[3]), Some(Value::Int(Fault::INTERNAL_ERROR)));
    assert_eq!(code(&results[4]), Some(Value::Int(Fault::INVALID_PARAMS)));
    assert_eq!(results[5], one("fastest"));
    assert_eq!(code(&results[6]), Some(Value::Int(Fault::METHOD_NOT_FOUND)));
    // Side by side: run in turn, the waits alone would add up to 1,650 ms;
    // together they take about the longest, 600 ms. (Not a speed claim:
    // the margin is a second.)
    assert!(
        took < Duration::from_millis(1650),
        "took {took:?}: run in turn?"
    );
}

/// A deferred reply takes the same path to its response as an immediate
/// one: gzipped when the client accepts gzip and it is large, and its
/// faults counted on the status page. (Both were missing: a deferred
/// reply was encoded on a path of its own.)
#[test]
fn deferred_replies_are_gzipped_and_counted_like_immediate_ones() {
    use util::http::read_reply;
    let server = server(HttpConfig::default());
    let text = "deferred ".repeat(500);
    let body = dumps(&[Value::Int(10), Value::from(text.as_str())], "later").unwrap();
    let mut conn = BufReader::new(connect(server.addr));
    let request = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.get_mut().write_all(request.as_bytes()).unwrap();
    conn.get_mut().write_all(&body).unwrap();
    let reply = read_reply(&mut conn, false).unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("Content-Encoding"),
        Some("gzip"),
        "{:?}",
        reply.headers
    );
    let mut xml = Vec::new();
    flate2::read::GzDecoder::new(&reply.body[..])
        .read_to_end(&mut xml)
        .unwrap();
    assert_eq!(
        medusa::xmlrpc::loads(&xml).unwrap().0,
        vec![Value::from(text.as_str())]
    );

    // Two faults answered through a responder: bad parameters, and a
    // responder dropped unanswered.
    let status = |conn: &mut BufReader<std::net::TcpStream>| {
        conn.get_mut()
            .write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        read_reply(conn, false).unwrap().text()
    };
    let before = status(&mut conn);
    assert!(before.contains("faults: 0"), "{before}");
    let mut c = client(&server);
    assert!(matches!(
        c.call("later", vec![]),
        Err(ClientError::Fault(_))
    ));
    assert!(matches!(
        c.call("forgotten", vec![]),
        Err(ClientError::Fault(_))
    ));
    let after = status(&mut conn);
    assert!(after.contains("calls: 3, faults: 2"), "{after}");
}
