//! The bytes of XML text that need a look, found a block at a time: one
//! scanner for the decoder (which unescapes and checks the text it reads)
//! and the encoder (which escapes and checks the text it writes).
//!
//! Both care about the same bytes: `<`, `&` and `>` (markup), `\r` (line
//! ends are normalised on reading, so it is written as `&#13;`), the other
//! control characters but tab and LF (not XML characters at all), and 0xEF,
//! the lead byte of U+FFFE and U+FFFF (not XML characters either; the
//! caller looks at the two bytes after it). Everything else is text as it
//! is, and in real documents that is nearly every byte: a byte-at-a-time
//! loop spent 6 (decoding) to 15 (encoding) instructions on each.

/// Whether each byte needs a look (see the module docs).
pub(super) static SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = !matches!(b, 0x09 | 0x0A);
        b += 1;
    }
    table[b'<' as usize] = true;
    table[b'&' as usize] = true;
    table[b'>' as usize] = true;
    table[0xEF] = true;
    table
};

const BLOCK: usize = 64;

/// The first position at or after `from` whose byte `wanted` says yes to,
/// or `bytes.len()`. Blocks for which `may_hold` says no are skipped whole:
/// written as plain comparisons over a fixed-size block, `may_hold` is
/// turned by the compiler into vector instructions (SSE2 on x86-64, NEON
/// on ARM: sixteen bytes per instruction) without `unsafe`.
#[inline(always)]
fn find_by_blocks(
    bytes: &[u8],
    from: usize,
    may_hold: impl Fn(&[u8; BLOCK]) -> bool,
    wanted: impl Fn(u8) -> bool,
) -> usize {
    let mut at = from;
    let mut blocks = bytes.get(from..).unwrap_or_default().chunks_exact(BLOCK);
    for chunk in blocks.by_ref() {
        let mut block = [0; BLOCK];
        block.copy_from_slice(chunk);
        if may_hold(&block) {
            if let Some(i) = chunk.iter().position(|&b| wanted(b)) {
                return at.saturating_add(i);
            }
        }
        at = at.saturating_add(BLOCK);
    }
    match blocks.remainder().iter().position(|&b| wanted(b)) {
        Some(i) => at.saturating_add(i),
        None => bytes.len(),
    }
}

/// The position of the first byte of [`SPECIAL`] in `bytes` at or after
/// `from`, or `bytes.len()` if there is none. A block holding tab or LF
/// (below 0x20) is looked at byte by byte, which only text full of line
/// breaks pays for.
pub(super) fn find_special(bytes: &[u8], from: usize) -> usize {
    let may_hold = |block: &[u8; BLOCK]| {
        let mut found = false;
        for &b in block {
            found |= (b < 0x20) | (b == b'<') | (b == b'&') | (b == b'>') | (b == 0xEF);
        }
        found
    };
    find_by_blocks(bytes, from, may_hold, |b| SPECIAL[usize::from(b)])
}

/// The position of the first byte at or below 0x20 (space and the control
/// characters, XML's whitespace among them) in `bytes` at or after `from`,
/// or `bytes.len()`: base64 text is only bytes above it, so this finds
/// what must be removed before decoding (or refused).
pub(super) fn find_space_or_control(bytes: &[u8], from: usize) -> usize {
    let may_hold = |block: &[u8; BLOCK]| {
        let mut found = false;
        for &b in block {
            found |= b <= 0x20;
        }
        found
    };
    find_by_blocks(bytes, from, may_hold, |b| b <= 0x20)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word scanner agrees with the table on every byte value, at every
    /// position of a word and in the tail.
    #[test]
    fn finds_what_the_table_says_wherever_it_is() {
        for b in 0..=255u8 {
            for len in [1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 70] {
                for pos in 0..len {
                    let mut text = vec![b'a'; len];
                    text[pos] = b;
                    let expected = if SPECIAL[usize::from(b)] { pos } else { len };
                    assert_eq!(
                        find_special(&text, 0),
                        expected,
                        "byte {b:#x} at {pos} of {len}"
                    );
                }
            }
        }
    }

    /// The same for the base64 scanner: every byte value, every position.
    #[test]
    fn finds_space_and_controls_wherever_they_are() {
        for b in 0..=255u8 {
            for len in [1, 7, 8, 9, 15, 16, 17, 31, 40] {
                for pos in 0..len {
                    let mut text = vec![b'A'; len];
                    text[pos] = b;
                    let expected = if b <= 0x20 { pos } else { len };
                    assert_eq!(
                        find_space_or_control(&text, 0),
                        expected,
                        "byte {b:#x} at {pos} of {len}"
                    );
                }
            }
        }
        assert_eq!(find_space_or_control(b"QUJD\nREVG\r\n", 5), 9);
        assert_eq!(find_space_or_control(b"QUJD", 9), 4);
    }

    #[test]
    fn starts_where_asked_and_skips_tabs_and_line_feeds() {
        let text = b"ab<cd\t\n\t\n\t\n\t\nefghijklmnop&q";
        assert_eq!(find_special(text, 0), 2);
        assert_eq!(find_special(text, 3), 25);
        assert_eq!(find_special(text, 26), text.len());
        assert_eq!(find_special(text, text.len()), text.len());
        assert_eq!(find_special(text, text.len() + 5), text.len());
        assert_eq!(find_special(b"", 0), 0);
    }
}
