//! The access log (Medusa's `logger` objects handed to `http_server`): one
//! Common Log Format line per response.
//!
//! Three sinks, chosen by [`HttpConfig::access_log`](super::HttpConfig):
//! the `log` crate (target `medusa::access`, the default, so `RUST_LOG`
//! decides), a file, or nothing. The file sink is the fast one: lines are
//! formatted straight into a buffer without allocating, and the buffer is
//! written out when it passes 64 KiB, once a second (the server's timer),
//! and when the server is dropped. Going through `log` and `env_logger`
//! costs a formatted record and a `write` system call per line, about a
//! sixth of the whole cost of an XML-RPC call.
//!
//! The file is opened for appending, and a line is never split across two
//! writes of the buffer. For `logrotate`'s `create` (rename, then ask the
//! program to reopen), [`AccessLogHandle::reopen`](super::AccessLogHandle)
//! writes the buffered lines to the renamed file, then opens the path
//! again; `copytruncate` works too, without a signal.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use super::date::with_clf_date;
use super::request::Version;
use crate::reactor::Peer;

/// Where access log lines go.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AccessLog {
    /// Through the `log` crate at info level, target `medusa::access`
    /// (with `env_logger`: stderr, filtered by `RUST_LOG`).
    #[default]
    Log,
    /// Appended to this file, buffered (flushed at least once a second).
    File(PathBuf),
    /// Not written at all.
    Off,
}

/// Buffered lines before the file sink writes them out.
const FLUSH_AT: usize = 64 * 1024;

/// What one access log line says about its request.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The peer, or the client a trusted proxy forwarded for (logged by
    /// its address alone, or a local peer by its credentials).
    pub(crate) client: Peer,
    pub(crate) user: Option<String>,
    /// Empty when the request line could not be parsed (logged as `-`).
    pub(crate) method: String,
    pub(crate) uri: String,
    pub(crate) version: Version,
    pub(crate) status: u16,
}

enum Sink {
    Log,
    File {
        file: File,
        path: PathBuf,
        /// `HttpConfig::access_log_tag`, e.g. which of several processes
        /// sharing the file wrote the line.
        tag: Option<String>,
    },
    Off,
}

/// The open sink of one server.
pub(crate) struct AccessLogger {
    sink: Sink,
    /// The file sink's lines not yet written; the `log` sink's one line,
    /// reused.
    buffer: String,
}

impl AccessLogger {
    /// Opens `target`; a file's lines end with ` {tag}` if there is a tag,
    /// which must not contain control characters.
    pub(crate) fn open(target: &AccessLog, tag: Option<&str>) -> io::Result<AccessLogger> {
        if let Some(tag) = tag.filter(|t| t.chars().any(char::is_control)) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("access log tag {tag:?} contains a control character"),
            ));
        }
        let sink = match target {
            AccessLog::Log => Sink::Log,
            AccessLog::Off => Sink::Off,
            AccessLog::File(path) => Sink::File {
                file: open_append(path)?,
                path: path.clone(),
                tag: tag.map(str::to_string),
            },
        };
        Ok(AccessLogger {
            sink,
            buffer: String::new(),
        })
    }

    /// Logs one response of `bytes` body bytes.
    pub(crate) fn record(&mut self, entry: &Entry, bytes: u64) {
        match self.sink {
            Sink::Off => {}
            Sink::Log => {
                if !log::log_enabled!(target: "medusa::access", log::Level::Info) {
                    return;
                }
                self.buffer.clear();
                // Writing to a String cannot fail.
                let _ = format_line(&mut self.buffer, entry, bytes);
                log::info!(target: "medusa::access", "{}", self.buffer);
            }
            Sink::File { ref tag, .. } => {
                // Formatted straight onto the lines waiting to be written.
                let _ = format_line(&mut self.buffer, entry, bytes);
                if let Some(tag) = tag {
                    self.buffer.push(' ');
                    self.buffer.push_str(tag);
                }
                self.buffer.push('\n');
                if self.buffer.len() >= FLUSH_AT {
                    self.flush();
                }
            }
        }
    }

    /// Writes the buffered lines to the file open now, then opens the path
    /// again (created if missing, for appending) and writes to that from
    /// now on: after a rotation renamed the file, the old lines end in the
    /// old file and none is lost. If the path cannot be opened, the old
    /// file stays in use and the error is returned. Nothing to do for the
    /// other sinks.
    pub(crate) fn reopen(&mut self) -> io::Result<()> {
        self.flush();
        let Sink::File { file, path, .. } = &mut self.sink else {
            return Ok(());
        };
        // A blocking open() on the loop, made on purpose: once, at the
        // operator's request (SIGUSR1 after a rotation).
        *file = open_append(path)?;
        Ok(())
    }

    /// The file this logger appends to, if it is the file sink.
    pub(crate) fn path(&self) -> Option<&Path> {
        match &self.sink {
            Sink::File { path, .. } => Some(path),
            _ => None,
        }
    }

    /// Writes the buffered lines out. A failing disk must not take the
    /// server down: the lines are dropped with one error message.
    pub(crate) fn flush(&mut self) {
        let Sink::File { file, path, .. } = &mut self.sink else {
            return;
        };
        if self.buffer.is_empty() {
            return;
        }
        if let Err(e) = file.write_all(self.buffer.as_bytes()) {
            log::error!(
                "access log {}: {e}; {} bytes of log lines lost",
                path.display(),
                self.buffer.len()
            );
        }
        self.buffer.clear();
        if self.buffer.capacity() > 4 * FLUSH_AT {
            self.buffer.shrink_to(FLUSH_AT);
        }
    }
}

impl Drop for AccessLogger {
    fn drop(&mut self) {
        self.flush();
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("access log {}: {e}", path.display())))
}

/// `127.0.0.1 - user [10/Oct/2000:13:55:36 +0000] "POST /RPC2 HTTP/1.1" 200 157`
fn format_line(out: &mut String, entry: &Entry, bytes: u64) -> std::fmt::Result {
    match entry.client {
        Peer::Ip(addr) => write!(out, "{}", addr.ip())?,
        local => write!(out, "{local}")?,
    }
    write!(out, " - {} [", entry.user.as_deref().unwrap_or("-"))?;
    with_clf_date(|date| out.push_str(date));
    out.push_str("] \"");
    if entry.method.is_empty() {
        out.push('-');
    } else {
        push_escaped(out, &entry.method);
        out.push(' ');
        push_escaped(out, &entry.uri);
        out.push(' ');
        out.push_str(entry.version.as_str());
    }
    write!(out, "\" {} {bytes}", entry.status)
}

/// Peer-controlled text, escaped so a line cannot be forged or broken
/// (quotes, backslashes, control characters and non-ASCII become escapes).
fn push_escaped(out: &mut String, text: &str) {
    if text
        .bytes()
        .all(|b| (0x20..0x7F).contains(&b) && b != b'"' && b != b'\\')
    {
        out.push_str(text);
    } else {
        out.extend(text.escape_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(method: &str, uri: &str) -> Entry {
        Entry {
            client: Peer::Ip("127.0.0.1:5000".parse().unwrap()),
            user: None,
            method: method.to_string(),
            uri: uri.to_string(),
            version: Version::Http11,
            status: 200,
        }
    }

    #[test]
    fn lines_are_common_log_format() {
        let mut line = String::new();
        format_line(&mut line, &entry("POST", "/RPC2"), 157).unwrap();
        let (start, rest) = line.split_once(" [").unwrap();
        assert_eq!(start, "127.0.0.1 - -");
        let (date, rest) = rest.split_once("] ").unwrap();
        assert!(date.ends_with(" +0000"), "{date}");
        assert_eq!(rest, "\"POST /RPC2 HTTP/1.1\" 200 157");
    }

    #[test]
    fn peer_text_cannot_break_the_line() {
        let mut line = String::new();
        format_line(&mut line, &entry("GET", "/a\"b\nc\\d\u{e9}"), 0).unwrap();
        assert!(
            line.contains(r#""GET /a\"b\nc\\d\u{e9} HTTP/1.1""#),
            "{line}"
        );
        assert!(!line.contains('\n'));
        line.clear();
        format_line(&mut line, &entry("", ""), 0).unwrap();
        assert!(line.contains("] \"-\" 200 0"), "{line}");
    }

    #[test]
    fn file_sink_buffers_then_flushes_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        let mut logger = AccessLogger::open(&AccessLog::File(path.clone()), None).unwrap();
        logger.record(&entry("GET", "/x"), 5);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "", "buffered");
        logger.flush();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with("\"GET /x HTTP/1.1\" 200 5\n"), "{text}");
        // Past the threshold, lines go out without waiting for the timer.
        for _ in 0..2000 {
            logger.record(&entry("POST", "/RPC2"), 157);
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.lines().count() > 1, "flushed at 64 KiB");
        assert!(text.ends_with('\n'), "never half a line");
        drop(logger);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2001, "drop flushes the rest");
    }

    #[test]
    fn reopen_puts_buffered_lines_in_the_renamed_file_and_new_ones_in_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        let rotated = dir.path().join("access.log.1");
        let mut logger = AccessLogger::open(&AccessLog::File(path.clone()), None).unwrap();
        logger.record(&entry("GET", "/before"), 1);
        // What logrotate's `create` does: rename, then signal.
        std::fs::rename(&path, &rotated).unwrap();
        logger.record(&entry("GET", "/before-signal"), 2);
        logger.reopen().unwrap();
        logger.record(&entry("GET", "/after"), 3);
        drop(logger);
        let old = std::fs::read_to_string(&rotated).unwrap();
        assert_eq!(old.lines().count(), 2, "{old}");
        assert!(old.contains("/before ") && old.contains("/before-signal "));
        let new = std::fs::read_to_string(&path).unwrap();
        assert_eq!(new.lines().count(), 1, "{new}");
        assert!(new.contains("/after "), "{new}");
    }

    #[test]
    fn a_failed_reopen_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        let path = logs.join("access.log");
        let mut logger = AccessLogger::open(&AccessLog::File(path.clone()), None).unwrap();
        logger.record(&entry("GET", "/one"), 1);
        // The directory is moved away: the path cannot be created again.
        let moved = dir.path().join("moved");
        std::fs::rename(&logs, &moved).unwrap();
        let err = logger.reopen().expect_err("cannot reopen");
        assert!(err.to_string().contains("access.log"), "{err}");
        logger.record(&entry("GET", "/two"), 2);
        drop(logger);
        let text = std::fs::read_to_string(moved.join("access.log")).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
    }

    #[test]
    fn reopen_is_nothing_for_the_other_sinks() {
        for target in [AccessLog::Log, AccessLog::Off] {
            let mut logger = AccessLogger::open(&target, None).unwrap();
            logger.reopen().unwrap();
            assert!(logger.path().is_none());
        }
    }

    #[test]
    fn worker_lines_say_which_pid_served() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        let mut logger =
            AccessLogger::open(&AccessLog::File(path.clone()), Some("pid=4242")).unwrap();
        logger.record(&entry("GET", "/x"), 5);
        drop(logger);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.ends_with("\"GET /x HTTP/1.1\" 200 5 pid=4242\n"),
            "{text}"
        );
    }

    #[test]
    fn a_tag_cannot_break_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        for tag in ["a\nforged", "tab\there", "\r"] {
            let err = AccessLogger::open(&AccessLog::File(path.clone()), Some(tag))
                .err()
                .expect("refused");
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{tag:?}");
        }
        assert!(!path.exists(), "refused before the file is created");
    }

    #[test]
    fn an_unwritable_path_is_an_error_at_open() {
        let err = AccessLogger::open(&AccessLog::File("/nonexistent/dir/log".into()), None)
            .err()
            .expect("cannot open");
        assert!(err.to_string().contains("/nonexistent/dir/log"), "{err}");
    }
}
