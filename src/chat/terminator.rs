//! Terminators: where one message ends in a byte stream (asynchat's
//! `set_terminator` argument), and the scan that finds them.
//!
//! This is pure logic with no I/O, so the tricky case, a terminator split
//! across two reads, is tested here at every offset.

use std::borrow::Cow;

use memchr::memmem;

/// What ends the current message (asynchat's `terminator` attribute).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Terminator {
    /// No terminator: all data goes to `collect_incoming_data`, and
    /// `found_terminator` is never called (Python's `None`).
    None,
    /// A byte string such as `b"\r\n"` or `b"\r\n\r\n"` (Python's `str`).
    /// It is consumed, not passed to `collect_incoming_data`. Borrowed
    /// when it is a constant ([`Terminator::fixed`]): an HTTP channel sets
    /// one per request.
    Bytes(Cow<'static, [u8]>),
    /// A byte count (Python's `int`): after that many bytes,
    /// `found_terminator` is called. It counts down as data arrives, and
    /// reads `Length(0)` once reached, which collects like `None` until the
    /// handler sets a new terminator.
    Length(u64),
}

impl Terminator {
    /// Convenience for `Terminator::Bytes`, with a copy of `bytes`.
    pub fn bytes(bytes: impl AsRef<[u8]>) -> Terminator {
        Terminator::Bytes(Cow::Owned(bytes.as_ref().to_vec()))
    }

    /// A constant byte terminator, not copied.
    pub const fn fixed(bytes: &'static [u8]) -> Terminator {
        Terminator::Bytes(Cow::Borrowed(bytes))
    }
}

/// Where `needle` first occurs in `haystack`. A short needle (`\r\n`,
/// `\r\n\r\n`: every HTTP head) is found from its first byte with
/// `memchr`, each candidate compared in place; `memmem::find` would build
/// a searcher for every call, which costs more than a request head's whole
/// scan. At most 4 bytes compared per candidate: linear whatever the input.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    match needle {
        [] => Some(0),
        [first, ..] if needle.len() <= 4 => memchr::memchr_iter(*first, haystack).find(|&at| {
            haystack
                .get(at..)
                .is_some_and(|rest| rest.starts_with(needle))
        }),
        _ => memmem::find(haystack, needle),
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
    if let Some(index) = find(input, terminator) {
        return Scan::Found { data: index };
    }
    Scan::NotFound {
        data: input
            .len()
            .saturating_sub(find_prefix_at_end(input, terminator)),
    }
}

/// How the input at hand divides under the current terminator: one step
/// of asynchat's read loop, with no socket, so every driver (the channel,
/// the blocking client, the fuzz targets) splits input by the same rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    /// The first `data` bytes are message, for `collect_incoming_data`.
    pub data: usize,
    /// Bytes used up: `data`, plus the terminator's own bytes if found.
    pub consumed: usize,
    /// The terminator ends the message here: call `found_terminator`.
    /// When false, the unconsumed rest (if any) may be the start of a
    /// terminator: hold it until more input arrives.
    pub found: bool,
}

/// The next [`Piece`] of `input`. A `Length` terminator counts down by the
/// bytes it takes, as Python's does.
// `data + len` is at most input.len() when found: it cannot overflow.
#[allow(clippy::arithmetic_side_effects)]
pub fn next_piece(input: &[u8], terminator: &mut Terminator) -> Piece {
    match terminator {
        Terminator::None | Terminator::Length(0) => Piece {
            data: input.len(),
            consumed: input.len(),
            found: false,
        },
        Terminator::Length(n) => {
            let take = usize::try_from(*n).map_or(input.len(), |n| n.min(input.len()));
            *n -= take as u64;
            Piece {
                data: take,
                consumed: take,
                found: *n == 0,
            }
        }
        Terminator::Bytes(t) => match scan(input, t) {
            Scan::Found { data } => Piece {
                data,
                consumed: data + t.len(),
                found: true,
            },
            Scan::NotFound { data } => Piece {
                data,
                consumed: data,
                found: false,
            },
        },
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
    fn next_piece_counts_a_length_down_and_finds_bytes() {
        let mut length = Terminator::Length(5);
        let piece = next_piece(b"abc", &mut length);
        assert_eq!((piece.data, piece.consumed, piece.found), (3, 3, false));
        assert_eq!(length, Terminator::Length(2));
        let piece = next_piece(b"defgh", &mut length);
        assert_eq!((piece.data, piece.consumed, piece.found), (2, 2, true));
        assert_eq!(length, Terminator::Length(0));
        let piece = next_piece(b"xyz", &mut length);
        assert_eq!((piece.data, piece.consumed, piece.found), (3, 3, false));

        let mut crlf = Terminator::bytes(b"\r\n");
        let piece = next_piece(b"ab\r\ncd", &mut crlf);
        assert_eq!((piece.data, piece.consumed, piece.found), (2, 4, true));
        let piece = next_piece(b"ab\r", &mut crlf);
        assert_eq!((piece.data, piece.consumed, piece.found), (2, 2, false));
        let piece = next_piece(b"abc", &mut Terminator::None);
        assert_eq!((piece.data, piece.consumed, piece.found), (3, 3, false));
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
