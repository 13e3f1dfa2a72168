//! The bytes of XML text that need a look, found eight at a time: one
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

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// The high bit of `below(word, n) & HIGHS` is set somewhere exactly when
/// some byte of `word` is below `n` (n ≤ 0x80): the classic "has less"
/// bit trick, exact for the question "is there one" (not for which).
fn below(word: u64, n: u8) -> u64 {
    word.wrapping_sub(ONES.wrapping_mul(u64::from(n))) & !word
}

/// The same for "some byte is `b`".
fn equal(word: u64, b: u8) -> u64 {
    below(word ^ ONES.wrapping_mul(u64::from(b)), 1)
}

/// Whether an eight-byte word may hold a byte of [`SPECIAL`]. Tab and LF
/// answer yes too (they are below 0x20): the caller then looks byte by
/// byte, which only text full of line breaks pays for. `<` (0x3C) and `>`
/// (0x3E) are one test: with bit 1 set, both are 0x3E, and no other byte
/// is.
fn may_hold_special(word: u64) -> u64 {
    below(word, 0x20)
        | equal(word | ONES.wrapping_mul(0x02), b'>')
        | equal(word, b'&')
        | equal(word, 0xEF)
}

/// The position of the first byte of [`SPECIAL`] in `bytes` at or after
/// `from`, or `bytes.len()` if there is none. Sixteen bytes per step, one
/// branch for both words.
pub(super) fn find_special(bytes: &[u8], from: usize) -> usize {
    let mut at = from;
    let mut blocks = bytes.get(from..).unwrap_or_default().chunks_exact(16);
    for block in blocks.by_ref() {
        let (mut low, mut high) = ([0; 8], [0; 8]);
        low.copy_from_slice(&block[..8]);
        high.copy_from_slice(&block[8..]);
        let found =
            may_hold_special(u64::from_ne_bytes(low)) | may_hold_special(u64::from_ne_bytes(high));
        if found & HIGHS != 0 {
            if let Some(i) = block.iter().position(|&b| SPECIAL[usize::from(b)]) {
                return at.saturating_add(i);
            }
        }
        at = at.saturating_add(16);
    }
    match blocks
        .remainder()
        .iter()
        .position(|&b| SPECIAL[usize::from(b)])
    {
        Some(i) => at.saturating_add(i),
        None => bytes.len(),
    }
}

/// The position of the first byte at or below 0x20 (space and the control
/// characters, XML's whitespace among them) in `bytes` at or after `from`,
/// or `bytes.len()`: base64 text is only bytes above it, so this finds
/// what must be removed before decoding (or refused). Whole words are
/// skipped while [`below`] finds none, then the rest is looked at bytewise.
pub(super) fn find_space_or_control(bytes: &[u8], from: usize) -> usize {
    let rest = bytes.get(from..).unwrap_or_default();
    let clean_words = rest
        .chunks_exact(8)
        .take_while(|chunk| {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            below(u64::from_ne_bytes(word), 0x21) & HIGHS == 0
        })
        .count();
    let skipped = clean_words.saturating_mul(8);
    match rest
        .get(skipped..)
        .unwrap_or_default()
        .iter()
        .position(|&b| b <= 0x20)
    {
        Some(i) => from.saturating_add(skipped).saturating_add(i),
        None => bytes.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word scanner agrees with the table on every byte value, at every
    /// position of a word and in the tail.
    #[test]
    fn finds_what_the_table_says_wherever_it_is() {
        for b in 0..=255u8 {
            for len in [1, 7, 8, 9, 15, 16, 17, 31, 40] {
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
