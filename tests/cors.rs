//! `medusad --cors-origin`: the preflight a browser sends before a
//! cross-origin XML-RPC call, and the origin named on the answers, over
//! real sockets (a browser's exact requests: `OPTIONS` with
//! `Access-Control-Request-Method`, then `POST` with `Origin`).

mod util;

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};

use util::daemon::{add_call, Daemon};
use util::http::{read_reply, Reply};

fn exchange(addr: SocketAddr, request: &str) -> Reply {
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.write_all(request.as_bytes()).unwrap();
    read_reply(&mut BufReader::new(conn), false).expect("a reply")
}

/// The one field called `name`; a repeated one fails (browsers refuse
/// `Access-Control-Allow-Origin: a, a`).
fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    let mut fields = reply
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str());
    let first = fields.next();
    assert!(fields.next().is_none(), "{name} sent twice");
    first
}

fn preflight(addr: SocketAddr, origin: &str) -> Reply {
    exchange(
        addr,
        &format!(
            "OPTIONS /RPC2 HTTP/1.1\r\nHost: localhost\r\nOrigin: {origin}\r\n\
             Access-Control-Request-Method: POST\r\n\
             Access-Control-Request-Headers: content-type\r\nConnection: close\r\n\r\n"
        ),
    )
}

fn post(addr: SocketAddr, origin: &str, extra: &str) -> Reply {
    let body = add_call(40, 2);
    exchange(
        addr,
        &format!(
            "POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nOrigin: {origin}\r\n{extra}\
             Content-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

#[test]
fn listed_origins_get_preflights_and_named_answers_others_nothing() {
    let daemon = Daemon::start(&[
        "--cors-origin",
        "https://app.example",
        "--auth-user",
        "ann:secret",
    ]);
    let addr = daemon.addr;
    // The preflight is answered without credentials (a browser sends none).
    let ok = preflight(addr, "https://app.example");
    assert_eq!(ok.status, 204);
    assert_eq!(
        header(&ok, "Access-Control-Allow-Origin"),
        Some("https://app.example")
    );
    assert!(header(&ok, "Access-Control-Allow-Methods").is_some_and(|m| m.contains("POST")));
    assert!(header(&ok, "Access-Control-Allow-Headers")
        .is_some_and(|h| h.to_ascii_lowercase().contains("content-type")));
    assert_eq!(header(&ok, "Access-Control-Max-Age"), Some("600"));
    assert_eq!(
        header(&ok, "Access-Control-Allow-Credentials"),
        Some("true")
    );
    // The call itself still needs them.
    let refused = post(addr, "https://app.example", "");
    assert_eq!(refused.status, 401);
    // "ann:secret" in base64.
    let auth = "Authorization: Basic YW5uOnNlY3JldA==\r\n";
    let answer = post(addr, "https://app.example", auth);
    assert_eq!(answer.status, 200);
    assert!(String::from_utf8_lossy(&answer.body).contains("<int>42</int>"));
    assert_eq!(
        header(&answer, "Access-Control-Allow-Origin"),
        Some("https://app.example")
    );
    assert_eq!(header(&answer, "Vary"), Some("Origin"));

    // Another origin: a 403 preflight, and no CORS header on the answer
    // (so the browser keeps it from the page).
    assert_eq!(preflight(addr, "https://evil.example").status, 403);
    let other = post(addr, "https://evil.example", auth);
    assert_eq!(other.status, 200);
    assert_eq!(header(&other, "Access-Control-Allow-Origin"), None);
}

#[test]
fn a_wildcard_allows_any_origin_without_credentials() {
    let daemon = Daemon::start(&["--cors-origin", "*"]);
    let ok = preflight(daemon.addr, "https://anyone.example");
    assert_eq!(ok.status, 204);
    assert_eq!(header(&ok, "Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(header(&ok, "Access-Control-Allow-Credentials"), None);
    let answer = post(daemon.addr, "https://anyone.example", "");
    assert_eq!(header(&answer, "Access-Control-Allow-Origin"), Some("*"));
}

#[test]
fn without_cors_origins_nothing_changes() {
    let daemon = Daemon::start(&[]);
    let reply = preflight(daemon.addr, "https://app.example");
    // The XML-RPC handler's own answer to OPTIONS, no CORS headers.
    assert_eq!(reply.status, 405);
    assert_eq!(header(&reply, "Access-Control-Allow-Origin"), None);
    assert!(Daemon::spawn(&["--cors-origin", "app.example"])
        .wait_exit(std::time::Duration::from_secs(10))
        .code()
        .is_some_and(|c| c != 0));
}
