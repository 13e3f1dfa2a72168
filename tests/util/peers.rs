//! Running the documentation's configurations with real peers (nginx,
//! HAProxy, logrotate...): finding a system binary, taking a fenced block
//! out of a doc, adapting it, and waiting for a load to get going.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// `name` on `PATH`, or in `/usr/sbin` (where Debian puts daemons, and
/// which a non-root `PATH` often lacks).
pub fn system_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A peer the test runs: its binary ([`system_binary`]). If it is
/// missing, `None` with a loud note that the test checked nothing, or a
/// failure under `CI=1` (`.ci/run` installs every peer).
pub fn peer(name: &str) -> Option<PathBuf> {
    let found = system_binary(name);
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is missing and CI is set: .ci/run should have installed it"
        );
        eprintln!("\n!!! SKIPPED: {name} is not installed. This test checked nothing.\n");
    }
    found
}

/// The first ```` ```LANG ```` block after the first `after` (say a
/// section's title; "" for the start) in `docs/FILE`, so that a test runs
/// exactly what the documentation shows.
pub fn doc_block(file: &str, after: &str, lang: &str) -> String {
    let path = format!("{}/docs/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let from = text
        .find(after)
        .unwrap_or_else(|| panic!("{after:?} in docs/{file}"));
    let fence = format!("```{lang}\n");
    let start = from
        + text[from..]
            .find(&fence)
            .unwrap_or_else(|| panic!("a {fence:?} block after {after:?} in docs/{file}"))
        + fence.len();
    let len = text[start..].find("```").expect("the block's end");
    text[start..start + len].to_string()
}

/// `text` with `from` (which must occur: the documentation changed
/// otherwise, and the test with it) replaced by `to`.
pub fn substitute(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "the documented configuration no longer contains {from:?}: update the test"
    );
    text.replace(from, to)
}

/// Waits until `counter` reaches `n` (a load under way), failing the
/// test after a minute.
pub fn wait_for_count(counter: &AtomicUsize, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while counter.load(Ordering::SeqCst) < n {
        assert!(
            Instant::now() < deadline,
            "the load did not reach {n} calls"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}
