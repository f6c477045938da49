//! The text encodings matches are found in: bytes as they are, and UTF-16LE.
//!
//! Windows writes much of its text as UTF-16LE (PowerShell history, registry exports, `.inf`
//! and `.reg` files, the strings of .NET programs), where `AKIA` is `A\0K\0I\0A\0`. Rules are
//! written once, for ASCII text; the matcher finds their UTF-16LE form too, by finding runs of
//! UTF-16LE ASCII text (`utf16_runs`), reading them one byte per code unit ([`narrow`]) and
//! searching that like any other text. Offsets into the narrowed text map back to the haystack
//! by doubling.
//!
//! Rules match ASCII text, so a UTF-16 match is made of ASCII characters other than NUL.

use serde::{Deserialize, Serialize};

/// How a match's text is written in the haystack (serialized by its
/// [`as_str`](Encoding::as_str) name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Encoding {
    /// The bytes are the text (ASCII or UTF-8).
    #[serde(rename = "utf-8")]
    Utf8,
    /// Each character is a 16-bit little-endian code unit.
    #[serde(rename = "utf-16le")]
    Utf16Le,
}

impl Encoding {
    /// The name used in output: `utf-8` or `utf-16le`.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Utf16Le => "utf-16le",
        }
    }

    /// Bytes per character of the text a rule matches (ASCII).
    pub fn unit_len(self) -> usize {
        match self {
            Encoding::Utf8 => 1,
            Encoding::Utf16Le => 2,
        }
    }
}

/// The ASCII character a UTF-16LE code unit (two bytes) holds, if it holds one other than
/// NUL. NUL is left out because text holds none, while zero-filled bytes are all NUL units.
pub fn utf16le_ascii(unit: &[u8]) -> Option<u8> {
    match unit {
        [low @ 1..=0x7f, 0] => Some(*low),
        _ => None,
    }
}

/// Appends to `out` the ASCII characters of the UTF-16LE text in `wide`, one byte per code
/// unit, up to `max_units` units or the first unit that is not ASCII other than NUL (or a
/// final odd byte).
pub(crate) fn narrow(wide: &[u8], max_units: usize, out: &mut Vec<u8>) {
    out.extend(
        wide.chunks_exact(2)
            .take(max_units)
            .map_while(utf16le_ascii),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowing_stops_at_the_first_non_ascii_unit() {
        let mut out = Vec::new();
        narrow(b"p\0w\0=\0\xe9\0x\0", 10, &mut out);
        assert_eq!(out, b"pw=");
        out.clear();
        narrow(b"a\0b\0c\0d", 10, &mut out);
        assert_eq!(out, b"abc");
        out.clear();
        narrow(b"a\0b\0c\0", 2, &mut out);
        assert_eq!(out, b"ab");
        out.clear();
        narrow(
            "€"
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect::<Vec<_>>()
                .as_slice(),
            4,
            &mut out,
        );
        assert!(out.is_empty());
    }
}
