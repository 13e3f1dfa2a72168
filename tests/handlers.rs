//! The installable handlers (file, status, auth) against real clients:
//! curl and Python's http.client as subprocesses, plus raw sockets.

mod util;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use medusa::handlers::{AuthHandler, FileHandler, StatusHandler};
use medusa::http::{HttpConfig, HttpServer};
use util::curl::{curl, header};
use util::site::{Site, SECRET};
use util::*;

fn serve(root: &Path) -> TestServer {
    let root = root.to_path_buf();
    TestServer::start(move |reactor| {
        let server = HttpServer::bind(localhost(), HttpConfig::default())?;
        server.add_handler(FileHandler::new(&root)?);
        server.install_handler(StatusHandler::new());
        let users = HashMap::from([("alice".to_string(), "wonderland".to_string())]);
        server.install_handler(AuthHandler::new("private", users, PrivateHandler));
        let addr = server.local_addr()?;
        reactor.add(server)?;
        Ok(addr)
    })
}

/// `/private`: what the auth handler protects.
struct PrivateHandler;

impl medusa::http::Handler for PrivateHandler {
    fn matches(&self, request: &medusa::http::Request) -> bool {
        request.path == "/private"
    }
    fn handle_request(
        &mut self,
        request: &mut medusa::http::Request,
        _server: &medusa::http::ServerView<'_>,
    ) -> medusa::http::Outcome {
        let user = request.user.clone().unwrap_or_default();
        medusa::http::Response::ok("text/plain", format!("hello {user}\n")).into()
    }
}

/// Raw request on a new connection; returns the whole raw response.
fn raw(server: &TestServer, request: &str) -> String {
    let mut stream = connect(server.addr);
    stream.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// curl GET and HEAD of a file: body, type, length and Last-Modified; a
/// conditional GET with that date is a 304.
#[test]
fn curl_get_head_and_conditional_get() {
    let site = Site::new();
    let server = serve(&site.root());
    let url = format!("http://{}/a.txt", server.addr);
    let (status, headers, body) = curl(&[&url]);
    assert_eq!(status, 200);
    assert_eq!(body, b"plain text\n");
    assert_eq!(
        header(&headers, "Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(header(&headers, "Content-Length"), Some("11"));
    let modified = header(&headers, "Last-Modified")
        .expect("Last-Modified")
        .to_string();

    // (curl -I prints the headers as its output; the raw-socket tests check
    // that HEAD sends no body.)
    let (status, headers, _) = curl(&["-I", &url]);
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "Content-Length"), Some("11"));

    let (status, _, body) = curl(&["-H", &format!("If-Modified-Since: {modified}"), &url]);
    assert_eq!(status, 304);
    assert!(body.is_empty());
    let (status, _, _) = curl(&[
        "-H",
        "If-Modified-Since: Thu, 01 Jan 1970 00:00:01 GMT",
        &url,
    ]);
    assert_eq!(status, 200, "modified since 1970");
}

/// Directory handling: index.html, the `/dir` → `/dir/` redirect with the
/// right host and port, percent-decoding, 404 for a missing file.
#[test]
fn curl_directories_redirects_and_missing_files() {
    let site = Site::new();
    let server = serve(&site.root());
    let base = format!("http://{}", server.addr);
    assert_eq!(curl(&[&format!("{base}/")]).2, b"<h1>home</h1>\n");
    let (status, headers, _) = curl(&[&format!("{base}/sub")]);
    assert_eq!(status, 301);
    assert_eq!(
        header(&headers, "Location"),
        Some(format!("{base}/sub/").as_str())
    );
    let (status, _, body) = curl(&["-L", &format!("{base}/sub")]);
    assert_eq!((status, body.as_slice()), (200, &b"<h1>sub</h1>\n"[..]));
    assert_eq!(curl(&[&format!("{base}/with%20space.txt")]).2, b"spaced\n");
    assert_eq!(curl(&[&format!("{base}/missing.txt")]).0, 404);
    assert_eq!(curl(&["-X", "POST", &format!("{base}/a.txt")]).0, 405);
}

/// Symbolic links that stay inside the root are followed, relative or
/// absolute (the kernel-checked open refuses absolute ones; the portable
/// check then allows them); ones that leave it are refused.
#[test]
fn symlinks_inside_the_root_are_served() {
    let site = Site::new();
    let root = site.root();
    std::os::unix::fs::symlink("a.txt", root.join("relative-link.txt")).unwrap();
    std::os::unix::fs::symlink(root.join("a.txt"), root.join("absolute-link.txt")).unwrap();
    std::os::unix::fs::symlink("../secret.txt", root.join("escape.txt")).unwrap();
    let server = serve(&root);
    for path in ["/relative-link.txt", "/absolute-link.txt"] {
        let response = raw(&server, &format!("GET {path} HTTP/1.0\r\n\r\n"));
        assert!(response.starts_with("HTTP/1.0 200"), "{path}: {response}");
        assert!(response.ends_with("plain text\n"), "{path}: {response}");
    }
    let response = raw(&server, "GET /escape.txt HTTP/1.0\r\n\r\n");
    assert!(response.starts_with("HTTP/1.0 403"), "{response}");
    assert!(!response.contains(SECRET));
}

/// No path, however encoded, reads outside the root, symlinks included.
#[test]
fn path_traversal_is_refused_in_every_encoding() {
    let site = Site::new();
    let server = serve(&site.root());
    let attempts = [
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/.%2e/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/sub/..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
        "/%252e%252e/secret.txt",
        "/link.txt",
        "/./a.txt/../../secret.txt",
        "/a.txt%00.html",
        "//../secret.txt",
        "/sub/%2e%2e%2f%2e%2e%2fsecret.txt",
    ];
    for path in attempts {
        let response = raw(&server, &format!("GET {path} HTTP/1.0\r\n\r\n"));
        let status = response.split(' ').nth(1).unwrap_or("");
        assert!(!response.contains(SECRET), "{path} leaked the secret");
        assert!(
            ["400", "403", "404"].contains(&status),
            "{path} answered {status}"
        );
    }
    // And the server is still fine.
    assert!(raw(&server, "GET /a.txt HTTP/1.0\r\n\r\n").ends_with("plain text\n"));
}

/// A percent-escape is `%` and exactly two hex digits, nothing else: `%+e`
/// is a 400 like `%zz` (Rust's `from_str_radix` reads "+e" as 0x0e, and
/// the file of that name was served), while `%0e` and `%61` decode.
#[test]
fn percent_escapes_are_exactly_two_hex_digits() {
    let site = Site::new();
    std::fs::write(site.root().join("\u{e}"), "control\n").unwrap();
    let server = serve(&site.root());
    for path in ["/%+e", "/%+E", "/%-e", "/%zz", "/%4g", "/%4", "/a%+e.txt"] {
        let response = raw(&server, &format!("GET {path} HTTP/1.0\r\n\r\n"));
        assert!(response.starts_with("HTTP/1.0 400 "), "{path}: {response}");
    }
    let response = raw(&server, "GET /%0e HTTP/1.0\r\n\r\n");
    assert!(response.starts_with("HTTP/1.0 200 "), "{response}");
    assert!(response.ends_with("\r\n\r\ncontrol\n"), "{response}");
    assert!(raw(&server, "GET /%61.txt HTTP/1.0\r\n\r\n").ends_with("\r\n\r\nplain text\n"));
}

/// Python's http.client fetches files over one kept-alive connection.
#[test]
fn python_http_client_keeps_alive() {
    let site = Site::new();
    let server = serve(&site.root());
    let script = format!(
        r#"
import http.client
c = http.client.HTTPConnection("127.0.0.1", {port}, timeout=10)
out = []
for path in ["/a.txt", "/", "/a.txt", "/missing"]:
    c.request("GET", path)
    r = c.getresponse()
    out.append("%d %s" % (r.status, r.read().decode().strip().replace("\n", " ")[:20]))
c.request("HEAD", "/a.txt")
r = c.getresponse()
out.append("%d %s %r" % (r.status, r.getheader("Content-Length"), r.read()))
print("|".join(out))
print("same socket", c.sock is not None)
"#,
        port = server.addr.port()
    );
    let output = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut lines = stdout.lines();
    let first = lines.next().unwrap();
    assert!(
        first.starts_with("200 plain text|200 <h1>home</h1>|200 plain text|404 "),
        "{first}"
    );
    assert!(first.ends_with("|200 11 b''"), "{first}");
    assert_eq!(lines.next(), Some("same socket True"));
}

/// A 50 MiB file is streamed: the process's memory grows far less than
/// the file's size while curl downloads it.
#[test]
fn large_file_is_streamed_not_loaded() {
    let site = Site::new();
    let big = site.root().join("big.bin");
    {
        let mut f = std::fs::File::create(&big).unwrap();
        let block: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        for _ in 0..50 {
            f.write_all(&block).unwrap();
        }
    }
    let server = serve(&site.root());
    let before = rss_kib("self");
    let out = site.dir.path().join("download.bin");
    let status = Command::new("curl")
        .args(["-s", "--max-time", "60", "--limit-rate", "200M", "-o"])
        .arg(&out)
        .arg(format!("http://{}/big.bin", server.addr))
        .status()
        .unwrap();
    assert!(status.success());
    let after = peak_rss_kib("self");
    assert_eq!(std::fs::metadata(&out).unwrap().len(), 50 << 20);
    assert!(
        std::fs::read(&out).unwrap() == std::fs::read(&big).unwrap(),
        "bytes match"
    );
    let growth = after.saturating_sub(before);
    assert!(
        growth < 20 * 1024,
        "peak RSS grew by {growth} KiB while serving 50 MiB"
    );
}

/// Reads one response (head, then exactly Content-Length bytes) from a
/// kept-alive connection.
fn read_response(stream: &mut std::net::TcpStream) -> (String, Vec<u8>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("response head");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let len: usize = header(&head, "Content-Length").unwrap().parse().unwrap();
    let mut body = vec![0; len];
    stream.read_exact(&mut body).expect("the whole body");
    (head, body)
}

/// Files above the inline size go by sendfile: pipelined behind and ahead
/// of other responses on one connection, to a client whose small receive
/// buffer makes the socket fill up again and again, every byte arrives in
/// order and the responses do not mix.
#[test]
fn sendfile_bodies_keep_their_place_among_pipelined_responses() {
    let site = Site::new();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(site.root().join("big.bin"), &big).unwrap();
    let small = b"small file\n".repeat(10);
    std::fs::write(site.root().join("small.txt"), &small).unwrap();
    let server = serve(&site.root());

    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(8 * 1024).unwrap();
    socket.connect(&server.addr.into()).unwrap();
    let mut stream: std::net::TcpStream = socket.into();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    let requests = [
        get("/small.txt"),
        get("/big.bin"),
        get("/small.txt"),
        get("/big.bin"),
    ];
    stream.write_all(requests.concat().as_bytes()).unwrap();
    for (i, expected) in [&small[..], &big[..], &small[..], &big[..]]
        .iter()
        .enumerate()
    {
        let (head, body) = read_response(&mut stream);
        assert!(
            head.starts_with("HTTP/1.1 200 OK\r\n"),
            "response {i}: {head}"
        );
        assert!(
            body == *expected,
            "response {i}: body differs ({} bytes)",
            body.len()
        );
    }
}

/// A file that shrinks while it is being sent: the connection closes
/// short of the Content-Length (the client can tell), it does not hang
/// or pad the reply.
#[test]
fn a_file_shrinking_mid_send_closes_the_connection() {
    let site = Site::new();
    let path = site.root().join("shrinking.bin");
    std::fs::write(&path, vec![7u8; 8 << 20]).unwrap();
    let server = serve(&site.root());

    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(8 * 1024).unwrap();
    socket.connect(&server.addr.into()).unwrap();
    let mut stream: std::net::TcpStream = socket.into();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    stream
        .write_all(b"GET /shrinking.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // Take a little, so the server is mid-file, then cut the file.
    let mut first = vec![0; 64 * 1024];
    stream.read_exact(&mut first).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    let mut rest = Vec::new();
    let result = stream.read_to_end(&mut rest);
    assert!(
        result.is_ok(),
        "the server closed the connection (not a timeout): {result:?}"
    );
    let total = first.len() + rest.len();
    assert!(
        total < (8 << 20),
        "got {total} bytes: the full length despite the cut"
    );
}

/// The status page and metrics reflect requests just made.
#[test]
fn status_page_and_metrics_count_requests() {
    let site = Site::new();
    let server = serve(&site.root());
    let base = format!("http://{}", server.addr);
    let metric = |name: &str| -> u64 {
        let (_, _, body) = curl(&[&format!("{base}/status/metrics")]);
        let text = String::from_utf8(body).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("medusa_{name} ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no metric {name} in {text}"))
    };
    let requests_before = metric("requests_total");
    let errors_before = metric("errors_total");
    for _ in 0..5 {
        curl(&[&format!("{base}/a.txt")]);
    }
    curl(&[&format!("{base}/missing")]);
    // Each metrics request counts once answered: the two above, 5 files and
    // 1 miss.
    assert_eq!(metric("requests_total"), requests_before + 8);
    assert_eq!(metric("errors_total"), errors_before + 1);
    assert!(metric("connections_total") >= 8);

    let (status, headers, body) = curl(&[&format!("{base}/status")]);
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains("<h1>medusa status</h1>"));
    assert!(page.contains("file handler ("), "lists the file handler");
    assert!(
        page.contains("hits: 5"),
        "file handler's own counter: {page}"
    );
    assert!(page.contains("Open connections"));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no external assets"
    );
}

/// Basic auth: the right password passes (and names the user), others get
/// 401 with a challenge, bad base64 gets 400.
#[test]
fn basic_auth_accepts_and_refuses() {
    let site = Site::new();
    let server = serve(&site.root());
    let url = format!("http://{}/private", server.addr);
    let (status, _, body) = curl(&["-u", "alice:wonderland", &url]);
    assert_eq!((status, body.as_slice()), (200, &b"hello alice\n"[..]));
    let (status, headers, _) = curl(&["-u", "alice:wrong", &url]);
    assert_eq!(status, 401);
    assert_eq!(
        header(&headers, "WWW-Authenticate"),
        Some("Basic realm=\"private\"")
    );
    assert_eq!(curl(&["-u", "mallory:wonderland", &url]).0, 401);
    assert_eq!(curl(&[&url]).0, 401);
    assert_eq!(
        curl(&["-H", "Authorization: Basic !!!notbase64", &url]).0,
        400
    );
}
