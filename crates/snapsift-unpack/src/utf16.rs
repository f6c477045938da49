//! UTF-16 text: recognised by its byte-order mark or by the zero bytes of its ASCII, and
//! transcoded to UTF-8 as it is read, so that the matcher's ASCII patterns find its secrets.

use std::io::{self, Read};

use crate::walk::{Fatal, Input, Walker};
use crate::{Kind, Layer, LeafEncoding, Visitor};

/// Below this many code units, text without a byte-order mark is too short to tell from
/// binary data (and too short to hold a secret worth finding).
const MIN_UNITS: usize = 8;

/// With a byte-order mark, the share of code units after it that must be text (in percent):
/// random bytes come out near 87%, real text near 100%.
const BOM_TEXT_PERCENT: usize = 95;

/// Without one, the share of code units that must be ASCII or Latin-1 text with a zero high
/// byte (in percent).
const ASCII_TEXT_PERCENT: usize = 90;

/// Whether `head`, a file's first bytes, is UTF-16 text, and which byte order.
///
/// With a byte-order mark, the rest must be text: printable code points and paired
/// surrogates. Without one, nine code units in ten must be printable ASCII or Latin-1 (or tab,
/// line feed, carriage return) with a zero high byte: that is what UTF-16 text written by
/// Windows tools or Java looks like, and what neither binaries (ELF, random data, zeros) nor
/// UTF-8 text do. Text mostly outside Latin-1 without a mark is not recognised.
pub(crate) fn detect(head: &[u8]) -> Option<Kind> {
    match head {
        [0xFF, 0xFE, rest @ ..] => is_text(rest, false).then_some(Kind::Utf16Le),
        [0xFE, 0xFF, rest @ ..] => is_text(rest, true).then_some(Kind::Utf16Be),
        _ if is_ascii_like(head, false) => Some(Kind::Utf16Le),
        _ if is_ascii_like(head, true) => Some(Kind::Utf16Be),
        _ => None,
    }
}

/// The code units of `bytes` (a final odd byte left out).
fn units(bytes: &[u8], big_endian: bool) -> impl Iterator<Item = u16> + '_ {
    bytes.chunks_exact(2).map(move |pair| {
        let pair = [pair[0], pair[1]];
        if big_endian {
            u16::from_be_bytes(pair)
        } else {
            u16::from_le_bytes(pair)
        }
    })
}

/// Whether the code units of `bytes` are nearly all text.
fn is_text(bytes: &[u8], big_endian: bool) -> bool {
    let units: Vec<u16> = units(bytes, big_endian).collect();
    let mut text = 0usize;
    let mut i = 0;
    while let Some(&unit) = units.get(i) {
        let next = units.get(i.saturating_add(1)).copied();
        match unit {
            0xD800..=0xDBFF => match next {
                Some(0xDC00..=0xDFFF) => {
                    text = text.saturating_add(2);
                    i = i.saturating_add(1);
                }
                // A pair cut by the end of the head.
                None => text = text.saturating_add(1),
                Some(_) => {}
            },
            0x09 | 0x0A | 0x0D | 0x20..=0x7E | 0xA0..=0xD7FF | 0xF900..=0xFFFD => {
                text = text.saturating_add(1);
            }
            _ => {}
        }
        i = i.saturating_add(1);
    }
    text.saturating_mul(100) >= units.len().saturating_mul(BOM_TEXT_PERCENT)
}

/// Whether `bytes` looks like mostly-ASCII UTF-16 in the given byte order.
fn is_ascii_like(bytes: &[u8], big_endian: bool) -> bool {
    let (mut total, mut ascii) = (0usize, 0usize);
    for unit in units(bytes, big_endian) {
        total = total.saturating_add(1);
        if matches!(unit, 0x09 | 0x0A | 0x0D | 0x20..=0x7E | 0xA0..=0xFF) {
            ascii = ascii.saturating_add(1);
        }
    }
    total >= MIN_UNITS && ascii.saturating_mul(100) >= total.saturating_mul(ASCII_TEXT_PERCENT)
}

impl<V: Visitor + ?Sized> Walker<'_, V> {
    /// Visits UTF-16 text, transcoded to UTF-8, as a leaf.
    pub(crate) fn utf16(&mut self, kind: Kind, mut input: Input<'_>) -> Result<(), Fatal<V>> {
        let (big_endian, encoding) = match kind {
            Kind::Utf16Be => (true, LeafEncoding::Utf16Be),
            _ => (false, LeafEncoding::Utf16Le),
        };
        let mut text = Transcoder::new(input.reader(), big_endian);
        let layer = Layer { kind, member: None };
        self.within(layer, |walker| {
            walker.leaf(&mut text, None, None, encoding, None)
        })
    }
}

/// How many input bytes the transcoder reads at once.
const CHUNK: usize = 8 << 10;

/// Room for the UTF-8 of one input chunk: at most 3 bytes per 2 (a BMP code point), plus the
/// replacement characters of the end.
const OUTPUT: usize = CHUNK / 2 * 3 + 8;

/// UTF-16 in, UTF-8 out, streamed. Unpaired surrogates, and a final odd byte, become U+FFFD;
/// a leading byte-order mark is dropped.
pub(crate) struct Transcoder<R> {
    inner: R,
    big_endian: bool,
    input: Vec<u8>,
    /// The first byte of a code unit whose second byte is in the next read.
    odd: Option<u8>,
    /// A high surrogate waiting for its low half.
    high: Option<u16>,
    started: bool,
    ended: bool,
    output: Vec<u8>,
    position: usize,
}

impl<R: Read> Transcoder<R> {
    pub(crate) fn new(inner: R, big_endian: bool) -> Self {
        Transcoder {
            inner,
            big_endian,
            input: vec![0; CHUNK],
            odd: None,
            high: None,
            started: false,
            ended: false,
            output: Vec::with_capacity(OUTPUT),
            position: 0,
        }
    }

    /// Decodes the next input chunk into `output`; false at the end.
    fn refill(&mut self) -> io::Result<bool> {
        self.output.clear();
        self.position = 0;
        if self.ended {
            return Ok(false);
        }
        let n = loop {
            match self.inner.read(&mut self.input) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other?,
            }
        };
        if n == 0 {
            self.ended = true;
            if self.high.take().is_some() {
                push(&mut self.output, char::REPLACEMENT_CHARACTER);
            }
            if self.odd.take().is_some() {
                push(&mut self.output, char::REPLACEMENT_CHARACTER);
            }
            return Ok(!self.output.is_empty());
        }
        let input = std::mem::take(&mut self.input);
        let mut bytes = input[..n].iter().copied();
        loop {
            let first = match self.odd.take() {
                Some(first) => first,
                None => match bytes.next() {
                    Some(first) => first,
                    None => break,
                },
            };
            let Some(second) = bytes.next() else {
                self.odd = Some(first);
                break;
            };
            let unit = if self.big_endian {
                u16::from_be_bytes([first, second])
            } else {
                u16::from_le_bytes([first, second])
            };
            self.unit(unit);
        }
        self.input = input;
        Ok(true)
    }

    /// Decodes one code unit.
    fn unit(&mut self, unit: u16) {
        if !self.started {
            self.started = true;
            if unit == 0xFEFF {
                return;
            }
        }
        if let Some(high) = self.high.take() {
            if (0xDC00..=0xDFFF).contains(&unit) {
                let high = u32::from(high & 0x3FF);
                let low = u32::from(unit & 0x3FF);
                let code = 0x10000 | (high << 10) | low;
                push(
                    &mut self.output,
                    char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER),
                );
                return;
            }
            push(&mut self.output, char::REPLACEMENT_CHARACTER);
        }
        match unit {
            0xD800..=0xDBFF => self.high = Some(unit),
            _ => push(
                &mut self.output,
                char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER),
            ),
        }
    }
}

/// Appends `c` as UTF-8.
fn push(output: &mut Vec<u8>, c: char) {
    let mut utf8 = [0u8; 4];
    output.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
}

impl<R: Read> Read for Transcoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.position >= self.output.len() {
            if !self.refill()? {
                return Ok(0);
            }
        }
        let ready = &self.output[self.position..];
        let n = ready.len().min(buf.len());
        buf[..n].copy_from_slice(&ready[..n]);
        self.position = self.position.saturating_add(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(text: &str, big_endian: bool) -> Vec<u8> {
        text.encode_utf16()
            .flat_map(|u| {
                if big_endian {
                    u.to_be_bytes()
                } else {
                    u.to_le_bytes()
                }
            })
            .collect()
    }

    /// Transcodes `bytes`, reading the input in pieces of `piece` bytes.
    fn transcode(bytes: &[u8], big_endian: bool, piece: usize) -> String {
        struct Pieces<'a>(&'a [u8], usize);
        impl Read for Pieces<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(self.1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut out = String::new();
        Transcoder::new(Pieces(bytes, piece), big_endian)
            .read_to_string(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn detects_utf16_text_with_and_without_a_mark() {
        let text = "aws_access_key_id = AKIAEXAMPLE\r\npassword=hunter2\r\n";
        assert_eq!(detect(&encode(text, false)), Some(Kind::Utf16Le));
        assert_eq!(detect(&encode(text, true)), Some(Kind::Utf16Be));
        assert_eq!(
            detect(&encode(&format!("\u{FEFF}{text}"), false)),
            Some(Kind::Utf16Le)
        );
        assert_eq!(
            detect(&encode(&format!("\u{FEFF}{text}"), true)),
            Some(Kind::Utf16Be)
        );
        // With a mark, text outside Latin-1 counts too.
        let cjk = "\u{FEFF}密码是什么 пароль 🔑 κωδικός";
        assert_eq!(detect(&encode(cjk, false)), Some(Kind::Utf16Le));
        assert_eq!(detect(&encode(cjk, true)), Some(Kind::Utf16Be));
        // An odd length does not matter.
        let mut odd = encode(text, false);
        odd.push(b'x');
        assert_eq!(detect(&odd), Some(Kind::Utf16Le));
    }

    #[test]
    fn binary_and_utf8_are_not_utf16() {
        assert_eq!(detect(&[0u8; 4096]), None, "zeros");
        assert_eq!(
            detect("plain UTF-8 text, déjà vu\n".repeat(50).as_bytes()),
            None
        );
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let random: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert_eq!(detect(&random), None, "random bytes");
        let mut marked = vec![0xFF, 0xFE];
        marked.extend_from_slice(&random);
        assert_eq!(detect(&marked), None, "random bytes after a mark");
        // Little-endian 16-bit integers, as binary tables hold them.
        let table: Vec<u8> = (0u16..2048).flat_map(|i| (i % 300).to_le_bytes()).collect();
        assert_eq!(detect(&table), None);
        assert_eq!(detect(&encode("short", false)), None, "too short to tell");
    }

    #[test]
    fn transcodes_whatever_the_read_sizes() {
        let text = "\u{FEFF}key=LTAI5tExampleExample12 é 中 🔑 end";
        for big_endian in [false, true] {
            let bytes = encode(text, big_endian);
            for piece in [1, 2, 3, 7, 4096] {
                assert_eq!(
                    transcode(&bytes, big_endian, piece),
                    text.trim_start_matches('\u{FEFF}'),
                    "big endian {big_endian}, pieces of {piece}"
                );
            }
        }
    }

    #[test]
    fn bad_surrogates_and_an_odd_byte_become_replacement_characters() {
        // A lone low surrogate, a high surrogate followed by a letter, a high surrogate at
        // the end, then a dangling byte.
        let units = [0x0061u16, 0xDC00, 0x0062, 0xD800, 0x0063, 0xD83D];
        let mut bytes: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
        assert_eq!(transcode(&bytes, false, 3), "a\u{FFFD}b\u{FFFD}c\u{FFFD}");
        bytes.push(0x41);
        assert_eq!(
            transcode(&bytes, false, 5),
            "a\u{FFFD}b\u{FFFD}c\u{FFFD}\u{FFFD}"
        );
        // A mark only at the very start is dropped.
        let marks: Vec<u8> = [0xFEFFu16, 0x0041, 0xFEFF]
            .iter()
            .flat_map(|u| u.to_be_bytes())
            .collect();
        assert_eq!(transcode(&marks, true, 1), "A\u{FEFF}");
    }
}
