//! The VMDK descriptor: the text that names a disk's extents and its parent.
//!
//! A descriptor is either a file of its own (`# Disk DescriptorFile`, beside the extents it
//! names) or embedded in the first sectors of a monolithicSparse or streamOptimized file. Lines
//! are `key=value` fields, extent lines (`RW 2048 FLAT "disk-flat.vmdk" 0`), comments and the
//! disk database (`ddb.*`), which says nothing about where the bytes are and is ignored.
//!
//! Everything here works on bytes already read, so the parsers can be fuzzed directly. File
//! names are kept as bytes (descriptors are not always UTF-8) and become paths unchanged.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::formats::refusal::Refusal;

/// Descriptors longer than this are refused before they are read into memory. A descriptor is
/// a few hundred bytes plus one line of about 50 bytes per extent; VMware's largest split disk
/// (62 TiB in 2 GiB extents, about 32,000 lines) stays well below this.
pub(super) const MAX_DESCRIPTOR_BYTES: u64 = 4 << 20;

/// Descriptors naming more extents than this are refused: VMware's largest split disk has
/// about 32,000, and every extent keeps a file open while the disk is read.
pub(super) const MAX_EXTENTS: usize = 1 << 16;

/// The `parentCID` of a disk that has no parent.
const NO_PARENT_CID: &str = "ffffffff";

/// The fields of a descriptor that say how to read the disk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Fields {
    /// `createType`, such as `monolithicFlat` or `streamOptimized`.
    pub(super) create_type: Option<String>,
    /// `parentFileNameHint`, the parent image of a delta disk, as recorded.
    pub(super) parent_hint: Option<PathBuf>,
    /// `parentCID`, `ffffffff` for a disk without a parent.
    pub(super) parent_cid: Option<String>,
}

impl Fields {
    /// The parent image to read unallocated grains from, if this is a delta disk.
    ///
    /// A disk is a delta when it names a parent hint and its `parentCID` is not `ffffffff`
    /// (VMware's "no parent"); a delta without a hint cannot be read correctly, so it is an
    /// error rather than a disk whose unwritten grains silently read as zeros.
    pub(super) fn parent(&self) -> Result<Option<&PathBuf>, Refusal> {
        let no_parent_cid = self
            .parent_cid
            .as_deref()
            .is_some_and(|cid| cid.eq_ignore_ascii_case(NO_PARENT_CID));
        match (&self.parent_hint, &self.parent_cid) {
            _ if no_parent_cid => Ok(None),
            (Some(hint), _) => Ok(Some(hint)),
            (None, Some(cid)) => Err(Refusal::Corrupt(format!(
                "a delta disk (parentCID={cid}) that records no parentFileNameHint"
            ))),
            (None, None) => Ok(None),
        }
    }
}

/// Who may access an extent, the first word of an extent line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Access {
    /// `RW`.
    ReadWrite,
    /// `RDONLY`.
    ReadOnly,
    /// `NOACCESS`: the extent's bytes are not to be read.
    Forbidden,
}

/// One extent line: `access sectors type ["file name" [offset]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ExtentLine {
    /// Who may access the extent.
    pub(super) access: Access,
    /// The extent's length in the virtual disk, in 512-byte sectors.
    pub(super) sectors: u64,
    /// The extent type as written (`FLAT`, `SPARSE`, `ZERO`, `VMFS`, ...), upper-cased.
    pub(super) kind: String,
    /// The extent's file, as recorded (relative to the descriptor's directory unless absolute).
    pub(super) file: Option<PathBuf>,
    /// Where a flat extent's bytes start in its file, in sectors.
    pub(super) offset: u64,
}

/// The text of a descriptor: up to the first NUL (embedded descriptors are padded with NULs to a
/// whole number of sectors).
fn text(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == 0) {
        Some(end) => bytes.get(..end).unwrap_or(bytes),
        None => bytes,
    }
}

/// The descriptor's lines, trimmed, without blank lines and comments.
fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    text(bytes)
        .split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii)
        .filter(|line| !line.is_empty() && !line.starts_with(b"#"))
}

/// A value with its surrounding quotes, if any, removed.
fn unquote(value: &[u8]) -> &[u8] {
    let value = value.trim_ascii();
    value
        .strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
        .unwrap_or(value)
}

/// The `key=value` fields that matter for reading. Never fails: lines that are not fields are
/// extent lines, disk-database entries or noise, none of which changes what is read here.
pub(super) fn parse_fields(bytes: &[u8]) -> Fields {
    let mut fields = Fields::default();
    for line in lines(bytes) {
        let Some(eq) = line.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (key, value) = line.split_at(eq);
        let key = key.trim_ascii();
        let value = unquote(value.get(1..).unwrap_or_default());
        if key.eq_ignore_ascii_case(b"createType") {
            fields.create_type = Some(String::from_utf8_lossy(value).into_owned());
        } else if key.eq_ignore_ascii_case(b"parentCID") {
            fields.parent_cid = Some(String::from_utf8_lossy(value).into_owned());
        } else if key.eq_ignore_ascii_case(b"parentFileNameHint") && !value.is_empty() {
            fields.parent_hint = Some(PathBuf::from(OsStr::from_bytes(value)));
        }
    }
    fields
}

/// The extent lines of a descriptor, in order.
pub(super) fn parse_extents(bytes: &[u8]) -> Result<Vec<ExtentLine>, Refusal> {
    let mut extents = Vec::new();
    for line in lines(bytes) {
        let (first, _) = split_word(line);
        let access = if first.eq_ignore_ascii_case(b"RW") {
            Access::ReadWrite
        } else if first.eq_ignore_ascii_case(b"RDONLY") {
            Access::ReadOnly
        } else if first.eq_ignore_ascii_case(b"NOACCESS") {
            Access::Forbidden
        } else {
            continue;
        };
        if extents.len() >= MAX_EXTENTS {
            return Err(Refusal::Unsupported(format!(
                "the descriptor names more than {MAX_EXTENTS} extents"
            )));
        }
        extents.push(parse_extent_line(line, access)?);
    }
    Ok(extents)
}

/// Parses one extent line whose access word has been recognised.
fn parse_extent_line(line: &[u8], access: Access) -> Result<ExtentLine, Refusal> {
    let bad = |why: &str| {
        Refusal::Corrupt(format!(
            "extent line `{}` {why}",
            String::from_utf8_lossy(line)
        ))
    };
    let (_, rest) = split_word(line);
    let (sectors, rest) = split_word(rest);
    let sectors = parse_decimal(sectors).ok_or_else(|| bad("has no valid sector count"))?;
    let (kind, rest) = split_word(rest);
    if kind.is_empty() {
        return Err(bad("has no extent type"));
    }
    let kind = String::from_utf8_lossy(kind).to_ascii_uppercase();
    let (file, rest) = if let Some(quoted) = rest.strip_prefix(b"\"") {
        let close = quoted
            .iter()
            .position(|&b| b == b'"')
            .ok_or_else(|| bad("has an unterminated file name"))?;
        let (name, after) = quoted.split_at(close);
        (
            Some(name),
            after.get(1..).unwrap_or_default().trim_ascii_start(),
        )
    } else {
        match split_word(rest) {
            (b"", rest) => (None, rest),
            (name, rest) => (Some(name), rest),
        }
    };
    let (offset, rest) = split_word(rest);
    let offset = if offset.is_empty() {
        0
    } else {
        parse_decimal(offset).ok_or_else(|| bad("has an invalid offset"))?
    };
    if !rest.is_empty() {
        return Err(bad("has unexpected words after the offset"));
    }
    Ok(ExtentLine {
        access,
        sectors,
        kind,
        file: file.map(|name| PathBuf::from(OsStr::from_bytes(name))),
        offset,
    })
}

/// The first whitespace-separated word of `text` and what follows it, trimmed.
fn split_word(text: &[u8]) -> (&[u8], &[u8]) {
    let text = text.trim_ascii_start();
    let end = text
        .iter()
        .position(u8::is_ascii_whitespace)
        .unwrap_or(text.len());
    let (word, rest) = text.split_at(end);
    (word, rest.trim_ascii_start())
}

/// A non-negative decimal number, refusing anything else (signs, overflow, trailing junk).
fn parse_decimal(word: &[u8]) -> Option<u64> {
    if word.is_empty() || !word.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(word).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAT: &[u8] = b"# Disk DescriptorFile\r\nversion=1\nCID=12345678\nparentCID=ffffffff\n\
createType=\"twoGbMaxExtentFlat\"\n\n# Extent description\n\
RW 4194304 FLAT \"my disk-f001.vmdk\" 0\nRDONLY 100 FLAT \"disk-f002.vmdk\" 7\n\
RW 8 ZERO\nNOACCESS 8 SPARSE plain.vmdk\n\n#DDB\nddb.virtualHWVersion = \"4\"\n\0\0\0";

    #[test]
    fn reads_fields_and_extents() {
        let fields = parse_fields(FLAT);
        assert_eq!(fields.create_type.as_deref(), Some("twoGbMaxExtentFlat"));
        assert_eq!(fields.parent(), Ok(None));
        let extents = parse_extents(FLAT).unwrap();
        assert_eq!(extents.len(), 4);
        assert_eq!(extents[0].access, Access::ReadWrite);
        assert_eq!(extents[0].sectors, 4_194_304);
        assert_eq!(extents[0].kind, "FLAT");
        assert_eq!(extents[0].file, Some(PathBuf::from("my disk-f001.vmdk")));
        assert_eq!(
            (extents[1].access, extents[1].offset),
            (Access::ReadOnly, 7)
        );
        assert_eq!(
            (extents[2].kind.as_str(), &extents[2].file),
            ("ZERO", &None)
        );
        assert_eq!(extents[3].file, Some(PathBuf::from("plain.vmdk")));
        assert_eq!(extents[3].access, Access::Forbidden);
    }

    #[test]
    fn finds_the_parent_of_a_delta_disk() {
        let delta = b"parentCID=0a0b0c0d\nparentFileNameHint=\"base.vmdk\"\n";
        assert_eq!(
            parse_fields(delta).parent(),
            Ok(Some(&PathBuf::from("base.vmdk")))
        );
        let orphan = b"parentCID=0a0b0c0d\n";
        assert!(matches!(
            parse_fields(orphan).parent(),
            Err(Refusal::Corrupt(_))
        ));
        let stale_hint = b"parentCID=FFFFFFFF\nparentFileNameHint=\"base.vmdk\"\n";
        assert_eq!(parse_fields(stale_hint).parent(), Ok(None));
    }

    #[test]
    fn refuses_malformed_extent_lines() {
        for line in [
            &b"RW x FLAT \"a\" 0"[..],
            b"RW 10",
            b"RW 10 FLAT \"a",
            b"RW 10 FLAT \"a\" -1",
            b"RW 10 FLAT \"a\" 0 junk",
            b"RW 99999999999999999999999 FLAT \"a\"",
        ] {
            assert!(
                parse_extents(line).is_err(),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn survives_arbitrary_bytes() {
        let mut seed = 0x1234_5678_u64;
        for _ in 0..2000 {
            let len = usize::try_from(seed % 64).unwrap();
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    b"RW 12FLATZERO\"\n =#\0x"[usize::try_from(seed >> 60).unwrap() % 20]
                })
                .collect();
            let _ = parse_fields(&bytes);
            let _ = parse_extents(&bytes);
        }
    }
}
