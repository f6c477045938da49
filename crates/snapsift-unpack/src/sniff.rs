//! [`sniff`]: what a file's first bytes say it is.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{tar, utf16};

/// How many leading bytes [`sniff`] looks at: give it this many, or the whole file if shorter.
pub const SNIFF_LEN: usize = 4096;

/// A format [`crate::unpack`] expands (serialized by its [`as_str`](Kind::as_str) name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Kind {
    /// gzip, one member or several.
    Gzip,
    /// zip and its kin (jar, war, ear, apk).
    Zip,
    /// tar: POSIX ustar, GNU, pax and old v7.
    Tar,
    /// Zstandard, one frame or several.
    Zstd,
    /// xz, one stream or several.
    Xz,
    /// bzip2, one stream or several.
    Bzip2,
    /// UTF-16 little-endian text.
    #[serde(rename = "utf-16le")]
    Utf16Le,
    /// UTF-16 big-endian text.
    #[serde(rename = "utf-16be")]
    Utf16Be,
}

impl Kind {
    /// `gzip`, `zip`, `tar`, `zstd`, `xz`, `bzip2`, `utf-16le` or `utf-16be`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Gzip => "gzip",
            Kind::Zip => "zip",
            Kind::Tar => "tar",
            Kind::Zstd => "zstd",
            Kind::Xz => "xz",
            Kind::Bzip2 => "bzip2",
            Kind::Utf16Le => "utf-16le",
            Kind::Utf16Be => "utf-16be",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `head`, the first bytes of a file, say it is: a format [`crate::unpack`] expands, or
/// `None` for anything else (which `unpack` visits as one leaf).
///
/// Give it [`SNIFF_LEN`] bytes, or the whole file if it is shorter: tar needs its first 512
/// bytes, and UTF-16 without a byte-order mark is recognised from the share of its code units
/// that are ASCII text. The caller uses this to pick the files that deserve the file pass.
pub fn sniff(head: &[u8]) -> Option<Kind> {
    // Magic numbers first: none of them is text or a plausible tar header.
    if is_gzip(head) {
        Some(Kind::Gzip)
    } else if head.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) {
        Some(Kind::Zstd)
    } else if head.starts_with(&[0xFD, b'7', b'z', b'X', b'Z', 0x00]) {
        Some(Kind::Xz)
    } else if is_bzip2(head) {
        Some(Kind::Bzip2)
    } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        // A local file header, or the end record of an empty archive.
        Some(Kind::Zip)
    } else if tar::header::is_archive_start(head) {
        Some(Kind::Tar)
    } else {
        utf16::detect(head)
    }
}

/// The gzip magic, deflate as the method, and no reserved flag set.
fn is_gzip(head: &[u8]) -> bool {
    matches!(head, [0x1F, 0x8B, 0x08, flags, ..] if flags & 0xE0 == 0)
}

/// `BZh`, a block size digit, then the magic of a first block or of the end of the stream.
fn is_bzip2(head: &[u8]) -> bool {
    const BLOCK: [u8; 6] = [0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
    const END: [u8; 6] = [0x17, 0x72, 0x45, 0x38, 0x50, 0x90];
    match head {
        [b'B', b'Z', b'h', level, rest @ ..] if (b'1'..=b'9').contains(level) => {
            rest.starts_with(&BLOCK) || rest.starts_with(&END)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers() {
        assert_eq!(sniff(&[0x1F, 0x8B, 0x08, 0x00, 0, 0]), Some(Kind::Gzip));
        assert_eq!(
            sniff(&[0x1F, 0x8B, 0x08, 0xFF]),
            None,
            "reserved gzip flags"
        );
        assert_eq!(sniff(&[0x28, 0xB5, 0x2F, 0xFD, 0]), Some(Kind::Zstd));
        assert_eq!(sniff(b"\xFD7zXZ\x00\x00"), Some(Kind::Xz));
        assert_eq!(sniff(b"BZh91AY&SY"), Some(Kind::Bzip2));
        assert_eq!(sniff(b"BZh9\x17\x72\x45\x38\x50\x90"), Some(Kind::Bzip2));
        assert_eq!(sniff(b"BZh9 not really"), None);
        assert_eq!(sniff(b"PK\x03\x04rest"), Some(Kind::Zip));
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b"\x1F"), None);
    }

    #[test]
    fn names() {
        assert_eq!(Kind::Utf16Le.to_string(), "utf-16le");
        assert_eq!(Kind::Bzip2.as_str(), "bzip2");
    }
}
