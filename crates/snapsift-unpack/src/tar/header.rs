//! The 512-byte tar header and the records that extend it (GNU long names, pax), parsed apart
//! from any I/O.
//!
//! One header layout serves every dialect: v7 (name, sizes, checksum, type), POSIX ustar (the
//! `ustar\0` magic and a name prefix), GNU (`ustar  \0`, base-256 numbers, long-name records,
//! old sparse files) and pax (`x` records of `length key=value\n`).

/// The size of a header and the unit members are padded to.
pub(crate) const BLOCK: usize = 512;

/// Field offsets within a header.
const NAME: std::ops::Range<usize> = 0..100;
const MODE: std::ops::Range<usize> = 100..108;
const UID: std::ops::Range<usize> = 108..116;
const GID: std::ops::Range<usize> = 116..124;
const SIZE: std::ops::Range<usize> = 124..136;
const MTIME: std::ops::Range<usize> = 136..148;
const CHECKSUM: std::ops::Range<usize> = 148..156;
const TYPE: usize = 156;
const MAGIC: std::ops::Range<usize> = 257..265;
const PREFIX: std::ops::Range<usize> = 345..500;
/// GNU old sparse format: whether extension blocks of the sparse map follow the header.
const GNU_IS_EXTENDED: usize = 482;
/// The same flag in a sparse extension block.
const GNU_EXT_IS_EXTENDED: usize = 504;

/// One header block.
pub(crate) struct Header<'a>(&'a [u8; BLOCK]);

/// What a header's type says about the bytes after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A file's content (regular, contiguous, GNU sparse data, multi-volume continuation, and
    /// any type POSIX leaves unknown, which it says to read as a regular file).
    File,
    /// A GNU long name (`L`) for the next header.
    LongName,
    /// A pax record set for the next header (`x`).
    Pax,
    /// Something else whose data, if any, is skipped: links, devices, directories, FIFOs,
    /// GNU long link names, global pax records, GNU directory dumps, volume labels.
    Other,
}

impl<'a> Header<'a> {
    pub(crate) fn new(block: &'a [u8; BLOCK]) -> Self {
        Header(block)
    }

    /// Whether the block is all zeros: the end of the archive.
    pub(crate) fn is_zero(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }

    /// Whether the stored checksum matches the block, summed as unsigned bytes (POSIX) or as
    /// signed ones (some historic tars).
    pub(crate) fn checksum_ok(&self) -> bool {
        let Some(stored) = octal(&self.0[CHECKSUM]) else {
            return false;
        };
        let (mut unsigned, mut signed) = (0u64, 0i64);
        for (i, &b) in self.0.iter().enumerate() {
            let b = if CHECKSUM.contains(&i) { b' ' } else { b };
            unsigned = unsigned.saturating_add(u64::from(b));
            signed = signed.saturating_add(i64::from(b as i8));
        }
        stored == unsigned || i64::try_from(stored).is_ok_and(|stored| stored == signed)
    }

    /// The size of the data after the header (and its extension blocks), as the header says.
    pub(crate) fn size(&self) -> Option<u64> {
        number(&self.0[SIZE])
    }

    /// What the data after the header is.
    pub(crate) fn entry(&self) -> Entry {
        match self.0[TYPE] {
            b'L' => Entry::LongName,
            b'x' => Entry::Pax,
            b'1' | b'2' | b'3' | b'4' | b'5' | b'6' | b'K' | b'g' | b'D' | b'V' => Entry::Other,
            _ => Entry::File,
        }
    }

    /// Whether GNU old-style sparse map blocks follow the header before its data.
    pub(crate) fn has_sparse_extension(&self) -> bool {
        self.0[TYPE] == b'S' && self.0[GNU_IS_EXTENDED] != 0
    }

    /// The path in the header: the name field, after the ustar prefix when there is one (GNU
    /// headers use those bytes for other things).
    pub(crate) fn path(&self) -> Vec<u8> {
        let name = cstr(&self.0[NAME]);
        if self.0[MAGIC.start..MAGIC.start + 6] == *b"ustar\0" {
            let prefix = cstr(&self.0[PREFIX]);
            if !prefix.is_empty() {
                let mut path = prefix.to_vec();
                path.push(b'/');
                path.extend_from_slice(name);
                return path;
            }
        }
        name.to_vec()
    }

    /// Whether the header has the ustar magic, POSIX or GNU.
    fn has_magic(&self) -> bool {
        self.0[MAGIC.start..MAGIC.start + 5] == *b"ustar"
    }

    /// Whether a header without magic looks like a v7 one: a name, numeric fields that parse
    /// as octal, a v7 type, and no magic at all (GNU tar still fills in the device numbers).
    fn looks_like_v7(&self) -> bool {
        self.0[0] != 0
            && [MODE, UID, GID, SIZE, MTIME]
                .into_iter()
                .all(|field| octal(&self.0[field]).is_some())
            && matches!(self.0[TYPE], 0 | b'0'..=b'7')
            && self.0[MAGIC].iter().all(|&b| b == 0)
    }
}

/// Whether `head` starts with a tar header: a valid checksum, and the ustar magic or the look
/// of a v7 header.
pub(crate) fn is_archive_start(head: &[u8]) -> bool {
    let Some(block) = head.first_chunk::<BLOCK>() else {
        return false;
    };
    let header = Header::new(block);
    !header.is_zero() && header.checksum_ok() && (header.has_magic() || header.looks_like_v7())
}

/// Whether a GNU sparse extension block says another one follows.
pub(crate) fn sparse_extension_continues(block: &[u8; BLOCK]) -> bool {
    block[GNU_EXT_IS_EXTENDED] != 0
}

/// The bytes before the first NUL.
fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// A numeric field: octal digits (leading spaces allowed, ended by a space or NUL), or GNU
/// base-256 (first byte 0x80, the value big-endian in the rest). Negative base-256 values are
/// refused.
pub(crate) fn number(field: &[u8]) -> Option<u64> {
    match field.split_first() {
        Some((0x80, rest)) => rest.iter().try_fold(0u64, |value, &b| {
            value.checked_mul(256)?.checked_add(u64::from(b))
        }),
        Some((first, _)) if first & 0x80 != 0 => None,
        _ => octal(field),
    }
}

/// Octal digits, with leading spaces, ended by a space or NUL and followed by nothing else;
/// an empty field is 0.
fn octal(field: &[u8]) -> Option<u64> {
    let start = field.iter().position(|&b| b != b' ').unwrap_or(field.len());
    let digits = &field[start..];
    let end = digits
        .iter()
        .position(|&b| b == b' ' || b == 0)
        .unwrap_or(digits.len());
    if !digits[end..].iter().all(|&b| b == b' ' || b == 0) {
        return None;
    }
    digits[..end].iter().try_fold(0u64, |value, &b| {
        let digit = match b {
            b'0'..=b'7' => u64::from(b.saturating_sub(b'0')),
            _ => return None,
        };
        value.checked_mul(8)?.checked_add(digit)
    })
}

/// The values of a pax record set that matter here: the path and the size, which override the
/// header's.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Pax {
    pub(crate) path: Option<Vec<u8>>,
    pub(crate) size: Option<u64>,
}

impl Pax {
    /// Parses `length key=value\n` records; a malformed one ends the set (what came before
    /// stands).
    pub(crate) fn parse(mut records: &[u8]) -> Pax {
        let mut pax = Pax::default();
        while let Some(space) = records.iter().position(|&b| b == b' ') {
            let Some(len) = std::str::from_utf8(&records[..space])
                .ok()
                .and_then(|len| len.parse::<usize>().ok())
            else {
                break;
            };
            let Some(record) = records.get(space.saturating_add(1)..len) else {
                break;
            };
            let record = record.strip_suffix(b"\n").unwrap_or(record);
            if let Some(eq) = record.iter().position(|&b| b == b'=') {
                let (key, value) = (&record[..eq], &record[eq.saturating_add(1)..]);
                match key {
                    b"path" => pax.path = Some(value.to_vec()),
                    b"size" => {
                        pax.size = std::str::from_utf8(value)
                            .ok()
                            .and_then(|size| size.parse().ok());
                    }
                    _ => {}
                }
            }
            records = &records[len..];
        }
        pax
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header with `name`, `size` and `kind`, `magic` at 257, and its checksum.
    fn header(name: &[u8], size: u64, kind: u8, magic: &[u8]) -> [u8; BLOCK] {
        let mut block = [0u8; BLOCK];
        block[..name.len()].copy_from_slice(name);
        block[MODE].copy_from_slice(b"0000644\0");
        block[UID].copy_from_slice(b"0000000\0");
        block[GID].copy_from_slice(b"0000000\0");
        block[SIZE].copy_from_slice(format!("{size:011o}\0").as_bytes());
        block[MTIME].copy_from_slice(b"00000000000\0");
        block[TYPE] = kind;
        block[257..257 + magic.len()].copy_from_slice(magic);
        with_checksum(block)
    }

    /// `block` with its checksum set.
    fn with_checksum(mut block: [u8; BLOCK]) -> [u8; BLOCK] {
        block[CHECKSUM].copy_from_slice(b"        ");
        let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
        block[CHECKSUM].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        block
    }

    #[test]
    fn recognises_ustar_gnu_and_v7_headers() {
        assert!(is_archive_start(&header(b"a.txt", 5, b'0', b"ustar\x0000")));
        assert!(is_archive_start(&header(b"a.txt", 5, b'0', b"ustar  \0")));
        assert!(is_archive_start(&header(b"a.txt", 5, b'0', b"")));
        let mut bad = header(b"a.txt", 5, b'0', b"ustar\x0000");
        bad[0] = b'b';
        assert!(!is_archive_start(&bad), "checksum no longer matches");
        assert!(!is_archive_start(&[0u8; BLOCK]));
        assert!(!is_archive_start(
            &header(b"a.txt", 5, b'0', b"ustar")[..511]
        ));
        // Something else where the magic goes: neither ustar nor v7.
        let mut junk = header(b"a.txt", 5, b'0', b"xyz");
        assert!(!is_archive_start(&junk));
        junk[MAGIC].fill(0);
        assert!(
            !is_archive_start(&junk),
            "checksum was computed with the junk"
        );
        let mut text = header(b"a.txt", 5, b'0', b"");
        text[MODE].copy_from_slice(b"rw-r--r-");
        assert!(
            !is_archive_start(&with_checksum(text)),
            "a mode that is not octal"
        );
        let mut signed = header(b"a.txt", 5, b'0', b"");
        signed[1] = 0xE9;
        signed[CHECKSUM].copy_from_slice(b"        ");
        let sum: i32 = signed.iter().map(|&b| i32::from(b as i8)).sum();
        signed[CHECKSUM].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        assert!(is_archive_start(&signed), "historic signed checksum");
    }

    #[test]
    fn numbers() {
        assert_eq!(number(b"00000000012\0"), Some(10));
        assert_eq!(number(b"     12 \0"), Some(10));
        assert_eq!(number(b"\0\0\0\0"), Some(0));
        assert_eq!(number(b"0009\0"), None);
        assert_eq!(number(b"12 3"), None);
        let mut big = [0u8; 12];
        big[0] = 0x80;
        big[4..].copy_from_slice(&(20u64 << 30).to_be_bytes());
        assert_eq!(number(&big), Some(20 << 30));
        assert_eq!(number(&[0xFF; 12]), None, "negative");
    }

    #[test]
    fn paths_join_the_ustar_prefix() {
        let mut block = header(b"name.txt", 0, b'0', b"ustar\x0000");
        block[PREFIX.start..PREFIX.start + 3].copy_from_slice(b"dir");
        assert_eq!(Header::new(&block).path(), b"dir/name.txt");
        let mut gnu = header(b"name.txt", 0, b'0', b"ustar  \0");
        gnu[PREFIX.start..PREFIX.start + 3].copy_from_slice(b"xyz");
        assert_eq!(Header::new(&gnu).path(), b"name.txt");
    }

    #[test]
    fn pax_records() {
        let records = b"30 mtime=1700000000.123456789\n18 path=a/b/c.txt\n14 size=12345\n";
        assert_eq!(
            Pax::parse(records),
            Pax {
                path: Some(b"a/b/c.txt".to_vec()),
                size: Some(12345)
            }
        );
        assert_eq!(
            Pax::parse(b"99 path=x\n"),
            Pax::default(),
            "length past the end"
        );
        assert_eq!(Pax::parse(b"x path=x\n"), Pax::default());
    }
}
