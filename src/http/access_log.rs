//! The access log (Medusa's `logger` objects handed to `http_server`): one
//! Common Log Format line per response.
//!
//! Four sinks, chosen by [`HttpConfig::access_log`](super::HttpConfig):
//! the `log` crate (target `medusa::access`, the library's default, so the
//! program's logger decides), a file, standard error (medusad's default),
//! or nothing. The file and stderr sinks are the fast ones: lines are
//! formatted straight into a buffer without allocating, and the buffer is
//! written out when it passes 64 KiB, when the server is dropped, and
//! otherwise once a second (the file: the server's timer) or at the end of
//! each pass of the loop that logged (stderr, which a person may be
//! watching: a line shows at once when the server is quiet, and under load
//! one `write` carries the lines of many requests). Going through `log`
//! and `env_logger` costs a formatted record and a `write` system call per
//! line, about a sixth of the whole cost of an XML-RPC call.
//!
//! The file is opened for appending, and a line is never split across two
//! writes of the buffer. For `logrotate`'s `create` (rename, then ask the
//! program to reopen), [`AccessLogHandle::reopen`](super::AccessLogHandle)
//! writes the buffered lines to the renamed file, then opens the path
//! again; `copytruncate` works too, without a signal.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::net::SocketAddr;
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
    /// Written to standard error, buffered: flushed at the end of each
    /// pass of the loop that logged, in writes of whole lines of at most
    /// `PIPE_BUF` bytes, so that processes sharing a pipe (medusad's
    /// workers) never interleave within a line.
    Stderr,
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
    /// The buffered sinks.
    Lines {
        out: Out,
        /// `HttpConfig::access_log_tag`, e.g. which of several processes
        /// sharing the file wrote the line.
        tag: Option<String>,
    },
    Off,
}

enum Out {
    File { file: File, path: PathBuf },
    Stderr,
}

/// Bytes the kernel writes to a pipe in one piece (POSIX's minimum is
/// 512; Linux's, and most systems', 4096).
const PIPE_BUF: usize = 4096;

/// The open sink of one server.
pub(crate) struct AccessLogger {
    sink: Sink,
    /// The buffered sinks' lines not yet written; the `log` sink's one
    /// line, reused.
    buffer: String,
    /// A flush at the end of this pass has been asked for (stderr).
    flush_asked: bool,
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
            AccessLog::File(path) => Sink::Lines {
                out: Out::File {
                    file: open_append(path)?,
                    path: path.clone(),
                },
                tag: tag.map(str::to_string),
            },
            AccessLog::Stderr => Sink::Lines {
                out: Out::Stderr,
                tag: tag.map(str::to_string),
            },
        };
        Ok(AccessLogger {
            sink,
            buffer: String::new(),
            flush_asked: false,
        })
    }

    /// Logs one response of `bytes` body bytes. True when the caller
    /// should have [`flush`](Self::flush) called at the end of this pass of
    /// the loop (the first line buffered for stderr).
    pub(crate) fn record(&mut self, entry: &Entry, bytes: u64) -> bool {
        match self.sink {
            Sink::Off => false,
            Sink::Log => {
                if !log::log_enabled!(target: "medusa::access", log::Level::Info) {
                    return false;
                }
                self.buffer.clear();
                // Writing to a String cannot fail.
                let _ = format_line(&mut self.buffer, entry, bytes);
                log::info!(target: "medusa::access", "{}", self.buffer);
                false
            }
            Sink::Lines { ref out, ref tag } => {
                // Formatted straight onto the lines waiting to be written.
                let _ = format_line(&mut self.buffer, entry, bytes);
                if let Some(tag) = tag {
                    self.buffer.push(' ');
                    self.buffer.push_str(tag);
                }
                self.buffer.push('\n');
                if self.buffer.len() >= FLUSH_AT {
                    self.flush();
                    return false;
                }
                let ask = matches!(out, Out::Stderr) && !self.flush_asked;
                self.flush_asked |= ask;
                ask
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
        let Sink::Lines {
            out: Out::File { file, path },
            ..
        } = &mut self.sink
        else {
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
            Sink::Lines {
                out: Out::File { path, .. },
                ..
            } => Some(path),
            _ => None,
        }
    }

    /// Writes the buffered lines out. A failing disk must not take the
    /// server down: the lines are dropped with one error message.
    pub(crate) fn flush(&mut self) {
        self.flush_asked = false;
        let Sink::Lines { out, .. } = &mut self.sink else {
            return;
        };
        if self.buffer.is_empty() {
            return;
        }
        let written = match out {
            Out::File { file, .. } => file.write_all(self.buffer.as_bytes()),
            Out::Stderr => write_in_pieces(&mut io::stderr().lock(), self.buffer.as_bytes()),
        };
        if let Err(e) = written {
            let name = match out {
                Out::File { path, .. } => path.display().to_string(),
                Out::Stderr => "on stderr".to_string(),
            };
            log::error!(
                "access log {name}: {e}; {} bytes of log lines lost",
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

/// Whole lines in writes of at most [`PIPE_BUF`] bytes each (a longer
/// line alone in its write): a pipe shared with other processes keeps
/// every line in one piece.
fn write_in_pieces(out: &mut impl io::Write, mut lines: &[u8]) -> io::Result<()> {
    while !lines.is_empty() {
        let window = &lines[..lines.len().min(PIPE_BUF)];
        let cut = match window.iter().rposition(|&b| b == b'\n') {
            Some(end) if window.len() < lines.len() => end.saturating_add(1),
            _ if window.len() == lines.len() => lines.len(),
            // One line longer than PIPE_BUF: it goes out whole.
            _ => memchr::memchr(b'\n', lines).map_or(lines.len(), |end| end.saturating_add(1)),
        };
        let (piece, rest) = lines.split_at(cut);
        out.write_all(piece)?;
        lines = rest;
    }
    Ok(())
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
    let mut digits = itoa::Buffer::new();
    match entry.client {
        // The common case without core::fmt (a third of the line's cost).
        Peer::Ip(SocketAddr::V4(addr)) => {
            for (i, octet) in addr.ip().octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(digits.format(octet));
            }
        }
        Peer::Ip(addr) => write!(out, "{}", addr.ip())?,
        local => write!(out, "{local}")?,
    }
    out.push_str(" - ");
    out.push_str(entry.user.as_deref().unwrap_or("-"));
    out.push_str(" [");
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
    out.push_str("\" ");
    out.push_str(digits.format(entry.status));
    out.push(' ');
    out.push_str(digits.format(bytes));
    Ok(())
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
        let six = Entry {
            client: Peer::Ip("[::1]:5000".parse().unwrap()),
            ..entry("GET", "/")
        };
        line.clear();
        format_line(&mut line, &six, 0).unwrap();
        assert!(line.starts_with("::1 - - ["), "{line}");
        assert!(line.ends_with("\"GET / HTTP/1.1\" 200 0"), "{line}");
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

    /// Pieces of whole lines, each at most PIPE_BUF bytes unless one line
    /// alone is longer.
    #[test]
    fn stderr_lines_go_out_in_pieces_of_whole_lines() {
        struct Writes(Vec<Vec<u8>>);
        impl io::Write for Writes {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.push(buf.to_vec());
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut lines = String::new();
        for i in 0..200 {
            lines.push_str(&format!("line {i} {}\n", "x".repeat(i % 90)));
        }
        let long = format!("{}\n", "y".repeat(3 * PIPE_BUF));
        lines.push_str(&long);
        lines.push_str("last\n");
        let mut out = Writes(Vec::new());
        write_in_pieces(&mut out, lines.as_bytes()).unwrap();
        assert!(out.0.len() > 3, "{} pieces", out.0.len());
        for piece in &out.0 {
            assert!(piece.ends_with(b"\n"));
            assert!(
                piece.len() <= PIPE_BUF || piece == long.as_bytes(),
                "{}",
                piece.len()
            );
        }
        assert_eq!(out.0.concat(), lines.as_bytes());
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
