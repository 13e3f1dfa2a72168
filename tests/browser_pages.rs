//! The pages a person looks at, in a real browser: headless Chromium loads
//! medusad's `/RPC2` method list, a directory listing, an error page and
//! the landing page; the tests assert on the DOM it rendered
//! (`--dump-dom`), and leave a screenshot of each page in the test's
//! temporary directory (a copy in the target's, for a person to look at).
//! tests/pages.rs checks the same pages on the wire.

mod util;

use std::path::Path;

use medusa::http::PAGE_STYLE;
use util::browser::{chromium, headless, screenshot};
use util::curl::curl;
use util::daemon::Daemon;
use util::python_lines;

/// The file the listing must show as text: markup in a name.
const TRICKY: &str = "<b>x&y.txt";
const TRICKY_CONTENT: &str = "the tricky file's contents\n";

/// What Chromium rendered of `url`, serialized.
fn dom(chromium: &Path, dir: &Path, url: &str) -> String {
    headless(chromium, dir, &["--dump-dom"], url).stdout
}

/// The text of the page's one `<style>` element.
fn style(dom: &str) -> &str {
    let start = dom
        .find("<style>")
        .unwrap_or_else(|| panic!("a <style> element: {dom}"))
        + "<style>".len();
    let end = dom[start..].find("</style>").expect("</style>") + start;
    assert!(
        !dom[end..].contains("<style"),
        "one style element, the shared one: {dom}"
    );
    &dom[start..end]
}

/// The `href` of the link whose text is `text` (as serialized).
fn href_of<'a>(dom: &'a str, text: &str) -> &'a str {
    let anchor = format!("\">{text}</a>");
    let end = dom
        .find(&anchor)
        .unwrap_or_else(|| panic!("a link reading {text}: {dom}"));
    let start = dom[..end].rfind("<a href=\"").expect("the link's start") + "<a href=\"".len();
    &dom[start..end]
}

/// medusad serving a directory: `/RPC2` lists the demo's methods as
/// elements, a directory without `index.html` lists a name holding markup
/// as text (with its size, and a link that loads the file), a missing
/// path gets a 404 page with the same stylesheet; a screenshot of each.
#[test]
fn chromium_renders_rpc2_a_listing_and_an_error_page() {
    let Some(chromium) = chromium() else { return };
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("sub")).unwrap();
    std::fs::write(root.path().join("sub").join(TRICKY), TRICKY_CONTENT).unwrap();
    let daemon = Daemon::start(&["--root", root.path().to_str().unwrap()]);
    let base = format!("http://127.0.0.1:{}", daemon.addr.port());
    let dir = tempfile::tempdir().unwrap();

    // `/RPC2`: every method the service says it has (asked over XML-RPC),
    // the demo's and the registry's system.* alike, is a <dt> of its own.
    let methods = python_lines(
        "import sys, xmlrpc.client\n\
         for m in xmlrpc.client.ServerProxy(sys.argv[1]).system.listMethods(): print(m)",
        &[&format!("{base}/RPC2")],
    );
    for expected in ["add", "echo", "system.listMethods", "system.methodHelp"] {
        assert!(
            methods.iter().any(|m| m == expected),
            "{expected} in {methods:?}"
        );
    }
    let rpc = dom(&chromium, dir.path(), &format!("{base}/RPC2"));
    assert!(
        rpc.contains("<h1>XML-RPC service at <code>/RPC2</code></h1>"),
        "{rpc}"
    );
    for method in &methods {
        assert!(
            rpc.contains(&format!("<dt><code>{method}</code></dt>")),
            "{method} listed as an element: {rpc}"
        );
    }
    assert_eq!(
        rpc.matches("<dt>").count(),
        methods.len(),
        "exactly the methods: {rpc}"
    );
    assert_eq!(style(&rpc), PAGE_STYLE);
    screenshot(
        &chromium,
        dir.path(),
        "1000,900",
        &format!("{base}/RPC2"),
        "rpc2_page.png",
    );

    // The listing: the name is text, escaped when serialized; no <b>
    // element came of it.
    let listing_url = format!("{base}/sub/");
    let listing = dom(&chromium, dir.path(), &listing_url);
    assert!(listing.contains("<h1>Index of /sub/</h1>"), "{listing}");
    let shown = "&lt;b&gt;x&amp;y.txt";
    assert!(listing.contains(&format!(">{shown}</a>")), "{listing}");
    assert!(!listing.contains("<b>"), "no <b> element: {listing}");
    let row = listing
        .lines()
        .find(|l| l.contains(shown))
        .expect("the file's row");
    assert!(
        row.contains(&format!("<td class=\"n\">{}</td>", TRICKY_CONTENT.len())),
        "its size: {row}"
    );
    assert!(
        listing.contains("<a href=\"../\">../</a>"),
        "the way up: {listing}"
    );
    assert_eq!(style(&listing), PAGE_STYLE);
    // The link, as the page has it (relative to the listing), loads the
    // file: in the browser, and byte for byte over plain HTTP.
    let href = href_of(&listing, shown);
    assert!(
        !href.contains(['/', '<', '>', '&', ':']),
        "a relative, %-encoded link: {href}"
    );
    let file_url = format!("{listing_url}{href}");
    let file = dom(&chromium, dir.path(), &file_url);
    assert!(
        file.contains("the tricky file's contents"),
        "the file in the browser: {file}"
    );
    let (status, _, body) = curl(&[&file_url]);
    assert_eq!((status, body.as_slice()), (200, TRICKY_CONTENT.as_bytes()));
    screenshot(
        &chromium,
        dir.path(),
        "1000,600",
        &listing_url,
        "listing_page.png",
    );

    // A missing path: a 404 page in the same style as the others.
    let missing = format!("{base}/sub/nothing-here");
    assert_eq!(curl(&[&missing]).0, 404);
    let error = dom(&chromium, dir.path(), &missing);
    assert!(error.contains("<h1>404 Not Found</h1>"), "{error}");
    assert_eq!(style(&error), PAGE_STYLE);
    screenshot(
        &chromium,
        dir.path(),
        "1000,600",
        &missing,
        "error_page.png",
    );
    daemon.terminate("medusad with a root");
}

/// Without `--root`, `/` is the landing page: it links the XML-RPC
/// endpoint and the status page, in the shared style.
#[test]
fn chromium_renders_the_landing_page() {
    let Some(chromium) = chromium() else { return };
    let daemon = Daemon::start(&[]);
    let base = format!("http://127.0.0.1:{}", daemon.addr.port());
    let dir = tempfile::tempdir().unwrap();
    let landing = dom(&chromium, dir.path(), &format!("{base}/"));
    for link in ["/RPC2", "/status"] {
        assert_eq!(
            href_of(&landing, &format!("<code>{link}</code>")),
            link,
            "{landing}"
        );
    }
    assert_eq!(style(&landing), PAGE_STYLE);
    screenshot(
        &chromium,
        dir.path(),
        "1000,600",
        &format!("{base}/"),
        "landing_page.png",
    );
    daemon.terminate("medusad without a root");
}
