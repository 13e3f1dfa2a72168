//! Writing a [`DateTime`] as text, digit by digit.

use super::DateTime;

/// A [`DateTime`] as the text its `Display` shows, written digit by digit
/// (the encoder's dateTime went through `core::fmt`'s zero padding six
/// times per value, a sixth of encoding a struct-heavy response).
pub(crate) struct Iso8601 {
    /// `YYYYMMDDTHH:MM:SS.nnnnnnnnn+HH:MM` at its longest.
    bytes: [u8; 33],
    len: usize,
}

impl Iso8601 {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Appends the last `width` decimal digits of `n`, zero-padded.
    fn digits(&mut self, n: u32, width: usize) {
        let mut rest = n;
        for at in (self.len..self.len + width).rev() {
            // Digits only: rest % 10 < 10.
            self.bytes[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        self.len += width;
    }

    fn byte(&mut self, b: u8) {
        self.bytes[self.len] = b;
        self.len += 1;
    }
}

impl DateTime {
    /// The value's text (see `Display`) without `core::fmt`.
    pub(crate) fn iso8601(&self) -> Iso8601 {
        let mut text = Iso8601 {
            bytes: [0; 33],
            len: 0,
        };
        // The year has at most four digits (checked on construction).
        text.digits(u32::from(self.year), 4);
        text.digits(u32::from(self.month), 2);
        text.digits(u32::from(self.day), 2);
        text.byte(b'T');
        text.digits(u32::from(self.hour), 2);
        text.byte(b':');
        text.digits(u32::from(self.minute), 2);
        text.byte(b':');
        text.digits(u32::from(self.second), 2);
        if self.fraction_digits > 0 {
            // The invariant: nanos is a multiple of this scale.
            let width = self.fraction_digits.min(9);
            let scale = 10u32.pow(u32::from(9 - width));
            text.byte(b'.');
            text.digits(self.nanos / scale, usize::from(width));
        }
        match self.offset {
            None => {}
            Some(0) => text.byte(b'Z'),
            Some(minutes) => {
                text.byte(if minutes < 0 { b'-' } else { b'+' });
                let abs = u32::from(minutes.unsigned_abs());
                text.digits(abs / 60, 2);
                text.byte(b':');
                text.digits(abs % 60, 2);
            }
        }
        text
    }
}
