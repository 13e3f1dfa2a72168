//! Headless Chromium for the tests that need a real browser: finding it,
//! and running it on one URL with a deadline.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The browser's binary: `$CHROMIUM` if set, else `chromium` or
/// `chromium-browser` on `PATH`. If none, the test is skipped with a note,
/// or fails under `CI=1` (`.ci/run` installs it).
pub fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(path.into());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is missing and CI is set: .ci/run should have installed it"
        );
        eprintln!("\n!!! SKIPPED: chromium is not installed. This test checked nothing.\n");
    }
    found
}

/// What one headless run printed.
pub struct Headless {
    /// Its standard output (what `--dump-dom` prints).
    pub stdout: String,
    /// Its standard error (the console, with `--enable-logging=stderr`).
    pub log: String,
}

/// Runs headless Chromium on `url` with `args` (`--dump-dom`,
/// `--screenshot=...`), its own fresh profile under `dir`; fails the test
/// if it does not exit successfully within 30 s.
pub fn headless(chromium: &Path, dir: &Path, args: &[&str], url: &str) -> Headless {
    let profile = dir.join("profile");
    let (out, err) = (dir.join("chromium.out"), dir.join("chromium.log"));
    let mut child = Command::new(chromium)
        .args([
            "--headless=new",
            "--disable-gpu",
            // Needed as root (CI containers); harmless otherwise.
            "--no-sandbox",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        // Its own process group, so a hung browser goes with all its helpers.
        .process_group(0)
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            // SAFETY: kill(2) on the group we created; touches no memory.
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
            let _ = child.wait();
            panic!(
                "chromium did not finish within 30 s; its log:\n{}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = std::fs::read_to_string(&out).unwrap();
    let log = std::fs::read_to_string(&err).unwrap_or_default();
    assert!(
        status.success(),
        "chromium exited with {status}; log:\n{log}"
    );
    Headless { stdout, log }
}

/// Loads `url` and saves a screenshot of a `window` (`"1100,1500"`) sized
/// page as `dir/name`, checking it is a non-empty PNG; a copy is kept in
/// the target's temporary directory for a person to look at (the test's
/// own `dir` goes when the test ends). Returns the path under `dir`.
pub fn screenshot(chromium: &Path, dir: &Path, window: &str, url: &str, name: &str) -> PathBuf {
    let shot = dir.join(name);
    headless(
        chromium,
        dir,
        &[
            &format!("--window-size={window}"),
            &format!("--screenshot={}", shot.display()),
        ],
        url,
    );
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(
        png.len() > 8 && png.starts_with(b"\x89PNG"),
        "a non-empty PNG: {}",
        shot.display()
    );
    let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::copy(&shot, &kept).expect("keep the screenshot");
    eprintln!("screenshot: {}", kept.display());
    shot
}
