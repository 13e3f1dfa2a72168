//! curl as a subprocess client, and reading the headers it dumps.

use std::process::Command;

/// Runs curl (silent, 20 s cap) with `args`; returns (status, the header
/// block it dumped with `-D`, body).
pub fn curl(args: &[&str]) -> (u16, String, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let headers = dir.path().join("headers");
    let output = Command::new("curl")
        .args(["-s", "--max-time", "20", "-D"])
        .arg(&headers)
        .args(["-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs");
    let mut stdout = output.stdout;
    let split = stdout
        .iter()
        .rposition(|&b| b == b'\n')
        .expect("status code line");
    let status: u16 = String::from_utf8_lossy(&stdout[split + 1..])
        .trim()
        .parse()
        .expect("status");
    stdout.truncate(split);
    let headers = std::fs::read_to_string(&headers).unwrap_or_default();
    (status, headers, stdout)
}

/// The first header called `name` (case-insensitive) in a raw header
/// block: curl's `-D` dump, or a response head read by hand.
pub fn header<'a>(headers: &'a str, name: &str) -> Option<&'a str> {
    headers.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}
