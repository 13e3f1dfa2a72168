//! Terminators: where one message ends in a byte stream (asynchat's
//! `set_terminator` argument), and the scan that finds them.
//!
//! This is pure logic with no I/O, so the tricky case, a terminator split
//! across two reads, is tested here at every offset.

use memchr::memmem;

/// What ends the current message (asynchat's `terminator` attribute).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Terminator {
    /// No terminator: all data goes to `collect_incoming_data`, and
    /// `found_terminator` is never called (Python's `None`).
    None,
    /// A byte string such as `b"\r\n"` or `b"\r\n\r\n"` (Python's `str`).
    /// It is consumed, not passed to `collect_incoming_data`.
    Bytes(Vec<u8>),
    /// A byte count (Python's `int`): after that many bytes,
    /// `found_terminator` is called. It counts down as data arrives, and
    /// reads `Length(0)` once reached, which collects like `None` until the
    /// handler sets a new terminator.
    Length(u64),
}

impl Terminator {
    /// Convenience for `Terminator::Bytes(bytes.to_vec())`.
    pub fn bytes(bytes: impl AsRef<[u8]>) -> Terminator {
        Terminator::Bytes(bytes.as_ref().to_vec())
    }
}

/// Result of scanning input for a byte terminator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scan {
    /// The terminator starts at `data`: that many bytes of message first.
    Found { data: usize },
    /// No terminator; the first `data` bytes are message, the rest (if any)
    /// could be the start of a terminator completed by the next read.
    NotFound { data: usize },
}

/// Looks for `terminator` in `input`.
pub(crate) fn scan(input: &[u8], terminator: &[u8]) -> Scan {
    if let Some(index) = memmem::find(input, terminator) {
        return Scan::Found { data: index };
    }
    Scan::NotFound {
        data: input
            .len()
            .saturating_sub(find_prefix_at_end(input, terminator)),
    }
}

/// asynchat's `find_prefix_at_end(haystack, needle)`: the length of the
/// longest proper prefix of `needle` that `haystack` ends with. Those bytes
/// must be held back, since the rest of the terminator may be in the next
/// read.
pub fn find_prefix_at_end(haystack: &[u8], needle: &[u8]) -> usize {
    let longest = needle.len().saturating_sub(1).min(haystack.len());
    (1..=longest)
        .rev()
        .find(|&l| haystack.ends_with(&needle[..l]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_prefix_at_end_matches_python() {
        // The cases of CPython's test_asynchat.TestHelperFunctions.
        assert_eq!(find_prefix_at_end(b"qwerty\r", b"\r\n"), 1);
        assert_eq!(find_prefix_at_end(b"qwertydkjf", b"\r\n"), 0);
        assert_eq!(find_prefix_at_end(b"ab\r\n\r", b"\r\n\r\n"), 3);
        assert_eq!(find_prefix_at_end(b"", b"\r\n"), 0);
        assert_eq!(find_prefix_at_end(b"q", b"qqq"), 1);
        assert_eq!(find_prefix_at_end(b"xqq", b"qqq"), 2);
    }

    #[test]
    fn scan_finds_first_terminator() {
        assert_eq!(scan(b"abc\r\ndef\r\n", b"\r\n"), Scan::Found { data: 3 });
        assert_eq!(scan(b"\r\n", b"\r\n"), Scan::Found { data: 0 });
    }

    #[test]
    fn scan_holds_back_a_possible_partial_terminator() {
        assert_eq!(scan(b"abc\r\n\r", b"\r\n\r\n"), Scan::NotFound { data: 3 });
        assert_eq!(scan(b"abc", b"\r\n"), Scan::NotFound { data: 3 });
    }

    /// Splitting "message + terminator + tail" at every offset into two reads
    /// and scanning as a channel does (hold back, then append) always finds
    /// the terminator once, at the right place.
    #[test]
    fn terminator_split_at_every_offset_is_found() {
        for terminator in [&b"\n"[..], b"\r\n", b"\r\n\r\n", b"qqq", b"abcab"] {
            let mut stream = b"header stuff ab".to_vec();
            stream.extend_from_slice(terminator);
            stream.extend_from_slice(b"tail");
            let message_len = stream.len() - terminator.len() - 4;
            for split in 0..=stream.len() {
                let (first, second) = stream.split_at(split);
                let mut message = Vec::new();
                let mut held: Vec<u8> = Vec::new();
                let mut found_at = None;
                for piece in [first, second] {
                    held.extend_from_slice(piece);
                    if found_at.is_some() {
                        continue;
                    }
                    match scan(&held, terminator) {
                        Scan::Found { data } => {
                            message.extend_from_slice(&held[..data]);
                            found_at = Some(message.len());
                            held.drain(..data + terminator.len());
                        }
                        Scan::NotFound { data } => {
                            message.extend_from_slice(&held[..data]);
                            held.drain(..data);
                        }
                    }
                }
                assert_eq!(
                    found_at,
                    Some(message_len),
                    "term {terminator:?} split {split}"
                );
                assert_eq!(message, &stream[..message_len]);
                assert_eq!(held, b"tail");
            }
        }
    }
}
