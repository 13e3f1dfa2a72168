//! What a run makes of a program's output and exit: the result, or the
//! fault and its string. Pure functions and a buffer, tested without
//! programs.

use std::os::unix::process::ExitStatusExt as _;
use std::process::ExitStatus;

use crate::xmlrpc::fault::Fault;
use crate::xmlrpc::json::from_json;
use crate::xmlrpc::value::Value;

/// The longest fault string taken from stderr, in bytes.
pub(super) const MAX_LINE: usize = 1024;

/// The last `max` bytes written to it: stderr, whose last line matters and
/// whose beginning may be dropped.
#[derive(Debug)]
pub(super) struct Tail {
    bytes: Vec<u8>,
    max: usize,
}

impl Tail {
    pub(super) fn new(max: usize) -> Tail {
        Tail {
            bytes: Vec::new(),
            max,
        }
    }

    /// Appends `data`, dropping from the front what exceeds the bound: at
    /// most `max` bytes are ever held.
    pub(super) fn push(&mut self, data: &[u8]) {
        if data.len() >= self.max {
            self.bytes.clear();
            self.bytes.extend_from_slice(&data[data.len() - self.max..]);
            return;
        }
        let excess = self
            .bytes
            .len()
            .saturating_add(data.len())
            .saturating_sub(self.max);
        self.bytes.drain(..excess.min(self.bytes.len()));
        self.bytes.extend_from_slice(data);
    }

    pub(super) fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// The last non-empty line of `text`, for a fault string: invalid UTF-8
/// replaced, control characters (and what XML cannot carry) escaped, at
/// most [`MAX_LINE`] bytes.
pub(super) fn last_line(text: &[u8]) -> Option<String> {
    let line = text
        .split(|&b| b == b'\n' || b == b'\r')
        .map(|line| line.trim_ascii())
        .rfind(|line| !line.is_empty())?;
    let mut shown = String::new();
    for c in String::from_utf8_lossy(line).chars() {
        let start = shown.len();
        if c.is_control() || !xml_char(c) {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
        if shown.len() > MAX_LINE {
            shown.truncate(start);
            shown.push('…');
            break;
        }
    }
    Some(shown)
}

/// Characters XML 1.0 can carry (the encoder refuses the others).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// "NAME exited with status N", "NAME was killed by signal S".
pub(super) fn status_message(method: &str, status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("{method} exited with status {code}"),
        (None, Some(signal)) => format!("{method} was killed by signal {signal}"),
        (None, None) => format!("{method} ended: {status}"),
    }
}

/// The answer of a run that ended with `status`.
pub(super) fn answer(
    method: &str,
    fault_code: i32,
    status: ExitStatus,
    stdout: &[u8],
    stderr: &[u8],
) -> Result<Value, Fault> {
    if !status.success() {
        let message = last_line(stderr).unwrap_or_else(|| status_message(method, status));
        return Err(Fault::new(fault_code, message));
    }
    result(method, fault_code, stdout)
}

/// A program's stdout as the call's result.
pub(super) fn result(method: &str, fault_code: i32, stdout: &[u8]) -> Result<Value, Fault> {
    if stdout.trim_ascii().is_empty() {
        return Err(Fault::new(
            fault_code,
            format!("{method} printed nothing (its result is one JSON value on stdout)"),
        ));
    }
    let json: serde_json::Value = serde_json::from_slice(stdout)
        .map_err(|e| Fault::new(fault_code, format!("{method}: its output is not JSON: {e}")))?;
    from_json(json).map_err(|e| {
        Fault::new(
            fault_code,
            format!("{method}: its output is not an XML-RPC value: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    #[test]
    fn the_tail_keeps_the_last_bytes_only() {
        let mut tail = Tail::new(8);
        tail.push(b"abc");
        tail.push(b"defgh");
        assert_eq!(tail.bytes(), b"abcdefgh");
        tail.push(b"ij");
        assert_eq!(tail.bytes(), b"cdefghij");
        tail.push(b"0123456789");
        assert_eq!(tail.bytes(), b"23456789");
        for _ in 0..1000 {
            tail.push(b"xyz");
            assert!(tail.bytes().len() <= 8);
        }
        let mut empty = Tail::new(0);
        empty.push(b"anything");
        assert_eq!(empty.bytes(), b"");
    }

    #[test]
    fn last_line_skips_blank_lines_and_escapes_controls() {
        assert_eq!(last_line(b"first\nsecond\n\n  \r\n"), Some("second".into()));
        assert_eq!(last_line(b"\n \n"), None);
        assert_eq!(last_line(b""), None);
        assert_eq!(
            last_line(b"bad \x1b[31mred\x07 \xff\xfe"),
            Some("bad \\u{1b}[31mred\\u{7} \u{FFFD}\u{FFFD}".into())
        );
        assert_eq!(
            last_line("no \u{FFFF}".as_bytes()),
            Some("no \\u{ffff}".into())
        );
        let long = vec![b'x'; 5000];
        let line = last_line(&long).unwrap();
        assert!(line.len() <= MAX_LINE + '…'.len_utf8());
        assert!(line.ends_with('…'));
        let escapes = vec![0u8; 5000];
        assert!(last_line(&escapes).unwrap().len() <= MAX_LINE + '…'.len_utf8());
    }

    #[test]
    fn a_failed_run_answers_its_last_stderr_line_or_its_status() {
        let fault = answer("m", 7, exited(3), b"", b"warning\ndisk full\n").unwrap_err();
        assert_eq!(fault, Fault::new(7, "disk full"));
        let fault = answer("m", 7, exited(3), b"42", b"").unwrap_err();
        assert_eq!(fault.message, "m exited with status 3");
        let fault = answer("m", 7, ExitStatus::from_raw(9), b"", b"").unwrap_err();
        assert_eq!(fault.message, "m was killed by signal 9");
    }

    #[test]
    fn a_successful_run_answers_its_stdout() {
        let ok = answer("m", 7, exited(0), b" {\"a\": [1, null]}\n", b"noise").unwrap();
        assert_eq!(ok.to_string(), "{'a': [1, None]}");
        let fault = answer("m", 7, exited(0), b"not json", b"").unwrap_err();
        assert_eq!(fault.code, 7);
        assert!(
            fault.message.starts_with("m: its output is not JSON"),
            "{fault}"
        );
        let fault = answer("m", 7, exited(0), b"{\"$bad\": 1}", b"").unwrap_err();
        assert!(fault.message.contains("unknown tag $bad"), "{fault}");
        let fault = answer("m", 7, exited(0), b" \n", b"").unwrap_err();
        assert!(fault.message.contains("printed nothing"), "{fault}");
    }
}
