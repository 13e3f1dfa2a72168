//! The pages a person meets, from a real medusad with curl: a landing page
//! at `/` when no files are served, the built-in icon, error pages in the
//! same style as the rest, and the status page linking the metrics.

mod util;

use util::curl::{curl, header};
use util::daemon::Daemon;

#[test]
fn landing_page_icon_and_styled_errors() {
    let daemon = Daemon::start(&["--rpc-path", "/RPC2", "--rpc-path", "/api"]);
    let base = format!("http://localhost:{}", daemon.addr.port());

    let (status, headers, body) = curl(&[&format!("{base}/")]);
    let page = String::from_utf8_lossy(&body);
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        header(&headers, "Content-Type"),
        Some("text/html; charset=utf-8")
    );
    for link in ["/RPC2", "/api", "/status", "/status/metrics"] {
        assert!(
            page.contains(&format!("<a href=\"{link}\">")),
            "{link} in {page}"
        );
    }

    let (status, headers, icon) = curl(&[&format!("{base}/favicon.ico")]);
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "Content-Type"), Some("image/x-icon"));
    assert!(header(&headers, "Cache-Control").is_some_and(|v| v.contains("max-age")));
    // An ICO directory of one image, holding a PNG.
    assert_eq!(&icon[..6], &[0, 0, 1, 0, 1, 0]);
    assert!(icon.windows(4).any(|w| w == b"\x89PNG"));

    // An error page looks like the others: the shared stylesheet.
    let (status, _, body) = curl(&[&format!("{base}/nothing-here")]);
    let error = String::from_utf8_lossy(&body);
    assert_eq!(status, 404);
    assert!(
        error.contains("<style>") && error.contains("<h1>404 Not Found</h1>"),
        "{error}"
    );
    assert!(error.contains("<meta charset=\"utf-8\">"), "{error}");

    let (status, _, body) = curl(&[&format!("{base}/status")]);
    let page = String::from_utf8_lossy(&body);
    assert_eq!(status, 200);
    assert!(page.contains("<a href=\"/status/metrics\">"), "{page}");
    assert!(
        page.contains("favicon"),
        "the icon handler is listed: {page}"
    );
    daemon.terminate("medusad for the pages");
}

/// With `--root`, `/` and `/favicon.ico` are the directory's own.
#[test]
fn a_root_serves_its_own_index_and_icon() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<p>mine</p>").unwrap();
    std::fs::write(dir.path().join("favicon.ico"), "my icon").unwrap();
    std::fs::write(dir.path().join("data.csv"), "a,b\n1,2\n").unwrap();
    let daemon = Daemon::start(&["--root", dir.path().to_str().unwrap()]);
    let base = format!("http://localhost:{}", daemon.addr.port());
    assert_eq!(curl(&[&format!("{base}/")]).2, b"<p>mine</p>");
    assert_eq!(curl(&[&format!("{base}/favicon.ico")]).2, b"my icon");
    let (_, headers, _) = curl(&[&format!("{base}/data.csv")]);
    assert_eq!(
        header(&headers, "Content-Type"),
        Some("text/csv; charset=utf-8")
    );
    daemon.terminate("medusad with a root");
}

/// A directory without `index.html` under `--root` is listed: names
/// escaped and %-encoded (the links work), directories first, dot files
/// left out, sortable; `--no-listings` makes it a 404.
#[test]
fn directories_are_listed_escaped_and_sortable() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir_all(files.join("sub dir")).unwrap();
    std::fs::write(files.join("a b&<c>.txt"), "tricky name\n").unwrap();
    std::fs::write(files.join("big.bin"), vec![0u8; 5000]).unwrap();
    std::fs::write(files.join("small.txt"), "x").unwrap();
    std::fs::write(files.join(".secret"), "hidden").unwrap();
    let daemon = Daemon::start(&["--root", dir.path().to_str().unwrap()]);
    let base = format!("http://localhost:{}", daemon.addr.port());

    let (status, headers, body) = curl(&[&format!("{base}/files/")]);
    let page = String::from_utf8_lossy(&body);
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        header(&headers, "Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.contains("<h1>Index of /files/</h1>"), "{page}");
    assert!(
        page.contains("<a href=\"a%20b%26%3Cc%3E.txt\">a b&amp;&lt;c&gt;.txt</a>"),
        "{page}"
    );
    assert!(
        page.contains("<a href=\"sub%20dir/\">sub dir/</a>"),
        "{page}"
    );
    assert!(page.contains("<td class=\"n\">5000</td>"), "{page}");
    assert!(!page.contains("secret"), "dot files are not listed: {page}");
    // Directories first, then by name.
    let at = |name: &str| {
        page.find(name)
            .unwrap_or_else(|| panic!("{name} in {page}"))
    };
    assert!(at("sub dir/") < at("a b&amp;") && at("a b&amp;") < at("big.bin"));
    // By size, largest first.
    let (_, _, body) = curl(&[&format!("{base}/files/?sort=size&order=desc")]);
    let sorted = String::from_utf8_lossy(&body);
    let at = |name: &str| {
        sorted
            .find(name)
            .unwrap_or_else(|| panic!("{name} in {sorted}"))
    };
    assert!(
        at("big.bin") < at("a b&amp;") && at("a b&amp;") < at("small.txt"),
        "{sorted}"
    );
    // The link as the page gives it reaches the file.
    let (status, _, body) = curl(&[&format!("{base}/files/a%20b%26%3Cc%3E.txt")]);
    assert_eq!((status, body.as_slice()), (200, &b"tricky name\n"[..]));
    daemon.terminate("medusad with listings");

    let daemon = Daemon::start(&["--root", dir.path().to_str().unwrap(), "--no-listings"]);
    let base = format!("http://localhost:{}", daemon.addr.port());
    assert_eq!(curl(&[&format!("{base}/files/")]).0, 404);
    daemon.terminate("medusad without listings");
}
