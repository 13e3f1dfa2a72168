//! `medusad --cors-origin` from a real browser: headless Chromium loads a
//! page from one medusad (`--root`, its own port, so its own origin) whose
//! script `fetch()`es an XML-RPC `add(40, 2)` from another medusad's
//! `/RPC2`. `Content-Type: text/xml` is not a "simple" type, so the browser
//! sends a preflight first; the script writes what happened into the
//! document's title, which `--dump-dom` prints.
//!
//! Skipped with a note when Chromium is missing, except under `CI=1`,
//! where it fails (`.ci/run` installs it).

mod util;

use std::path::Path;

use util::browser::{chromium, headless};
use util::daemon::{add_call, Daemon};

/// The page: POSTs `add(40, 2)` to `rpc_url` and sets the title to
/// `result:N` (the `<int>` answered), `answer:BODY` (no `<int>`) or
/// `error:E` (the fetch failed: for a cross-origin call the browser says
/// no more than "Failed to fetch").
fn page(rpc_url: &str) -> String {
    let call = add_call(40, 2);
    format!(
        r#"<!doctype html>
<html><head><title>pending</title></head><body><script>
fetch({rpc_url:?}, {{
  method: "POST",
  headers: {{ "Content-Type": "text/xml" }},
  body: {call:?},
}})
  .then((r) => r.text())
  .then((text) => {{
    const m = /<int>(-?\d+)<\/int>/.exec(text);
    document.title = m ? "result:" + m[1] : "answer:" + text;
  }})
  .catch((e) => {{ document.title = "error:" + e; }});
</script></body></html>
"#
    )
}

/// What the browser showed.
struct Visit {
    /// The document's title once the page's script is done.
    title: String,
    /// What the page's console said (where Chromium explains a blocked
    /// call), for failure messages.
    console: String,
}

/// Loads `url` in headless Chromium (its own fresh profile under `dir`).
/// `--virtual-time-budget` lets the page run (network included) until it
/// is idle, at most 5 s of page time, before `--dump-dom` prints it.
fn browser_visit(chromium: &Path, dir: &Path, url: &str) -> Visit {
    let run = headless(
        chromium,
        dir,
        &[
            "--virtual-time-budget=5000",
            // The console (CORS errors) into the log.
            "--enable-logging=stderr",
            "--dump-dom",
        ],
        url,
    );
    let (dom, log) = (run.stdout, run.log);
    let title = dom
        .split("<title>")
        .nth(1)
        .and_then(|rest| rest.split("</title>").next())
        .unwrap_or_else(|| panic!("no <title> in the dumped DOM:\n{dom}\nchromium's log:\n{log}"))
        .to_string();
    let console = log
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .collect::<Vec<_>>()
        .join("\n");
    Visit { title, console }
}

/// A page server (medusad `--root`) on its own port, serving `page(rpc)`.
struct Site {
    dir: tempfile::TempDir,
    daemon: Daemon,
}

impl Site {
    fn start() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("www");
        std::fs::create_dir(&root).unwrap();
        let daemon = Daemon::start(&["--root", root.to_str().unwrap()]);
        Site { dir, daemon }
    }

    /// What a page from here sends as `Origin`.
    fn origin(&self) -> String {
        format!("http://{}", self.daemon.addr)
    }

    /// Serves a page calling `rpc` and loads it in Chromium.
    fn visit(&self, chromium: &Path, rpc: &Daemon) -> Visit {
        let rpc_url = format!("http://{}/RPC2", rpc.addr);
        let www = self.dir.path().join("www");
        std::fs::write(www.join("index.html"), page(&rpc_url)).unwrap();
        let url = format!("{}/index.html", self.origin());
        browser_visit(chromium, self.dir.path(), &url)
    }
}

/// The page's origin listed: the browser's preflight gets 204, its POST
/// the answer, and the script reads 42. medusad's access log shows both,
/// in that order.
#[test]
fn a_listed_origin_calls_from_the_browser() {
    let Some(chromium) = chromium() else { return };
    let site = Site::start();
    let mut rpc = Daemon::start(&["--cors-origin", &site.origin()]);
    let visit = site.visit(&chromium, &rpc);
    assert_eq!(
        visit.title, "result:42",
        "the page's outcome; its console:\n{}",
        visit.console
    );
    let preflight = rpc.wait_for("\"OPTIONS /RPC2 ");
    assert!(preflight.contains("\" 204 "), "preflight: {preflight}");
    let call = rpc.wait_for("\"POST /RPC2 ");
    assert!(call.contains("\" 200 "), "call: {call}");
    rpc.terminate("medusad");
}

/// The page's origin not listed (another is): the preflight gets 403, so
/// the browser never sends the POST and the script sees a failed fetch.
#[test]
fn an_origin_not_listed_is_blocked_by_the_browser() {
    let Some(chromium) = chromium() else { return };
    let site = Site::start();
    // Another origin: the same host on a port nobody uses for the page.
    let mut rpc = Daemon::start(&["--cors-origin", "http://127.0.0.1:1"]);
    let visit = site.visit(&chromium, &rpc);
    assert!(
        visit.title.starts_with("error:"),
        "the browser let the page read the answer: {}",
        visit.title
    );
    assert!(
        visit.console.contains("blocked by CORS policy"),
        "the console does not name CORS:\n{}",
        visit.console
    );
    let preflight = rpc.wait_for("\"OPTIONS /RPC2 ");
    assert!(preflight.contains("\" 403 "), "preflight: {preflight}");
    // No POST came: after SIGTERM the log closes without one.
    let pid = rpc.pid();
    util::daemon::signal_pid(pid, libc::SIGTERM);
    let rest = rpc.rest_of_log();
    assert!(
        !rpc.seen.iter().any(|l| l.contains("\"POST /RPC2 ")),
        "the browser sent the call anyway:\n{}",
        rest.join("\n")
    );
}

/// `--cors-origin '*'`: any page may call (without credentials).
#[test]
fn the_wildcard_lets_any_page_call() {
    let Some(chromium) = chromium() else { return };
    let site = Site::start();
    let mut rpc = Daemon::start(&["--cors-origin", "*"]);
    let visit = site.visit(&chromium, &rpc);
    assert_eq!(
        visit.title, "result:42",
        "the page's outcome; its console:\n{}",
        visit.console
    );
    let preflight = rpc.wait_for("\"OPTIONS /RPC2 ");
    assert!(preflight.contains("\" 204 "), "preflight: {preflight}");
    let call = rpc.wait_for("\"POST /RPC2 ");
    assert!(call.contains("\" 200 "), "call: {call}");
    rpc.terminate("medusad");
}
