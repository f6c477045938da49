//! OVA archives: a tar file holding an OVF descriptor and the virtual machine's disks.
//!
//! The disk read is the first regular-file entry whose name ends in `.vmdk` (any case), or,
//! failing that, the first ending in `.img`, `.raw` or `.qcow2`. Its bytes are a slice of the
//! archive, opened by content like any image ([`super::open`]), so a streamOptimized VMDK (what
//! OVAs hold) or a raw image inside reads without being extracted.
//!
//! Tar headers in the ustar, GNU and pax formats are read: pax `path` and `size` records, GNU
//! long names (`L` entries) and GNU base-256 sizes (entries over 8 GiB). Every header's checksum
//! is checked. macOS resource-fork entries (`._disk.vmdk`) are skipped.
//!
//! Refused: a disk entry stored as a sparse tar entry (GNU `S` or pax `GNU.sparse.*`), whose
//! bytes are not laid out in the archive as they are in the disk; a VMDK descriptor inside the
//! archive, whose extent files would be looked for beside the archive rather than in it; and an
//! archive inside the archive. At most [`MAX_ENTRIES`] entries are walked, and long names and pax
//! headers are bounded before they are read.

use crate::formats::detect::{self, Format};
use crate::host::Host;
use crate::{Disk, DiskError, Opener};

use std::ops::Range;

/// The format name in errors.
const FORMAT: &str = "OVA";

/// The tar block size: headers are one block, and entry data is padded to whole blocks.
const BLOCK: u64 = 512;

/// At most this many entries are walked looking for the disk. An OVA holds a handful (the OVF
/// descriptor, a manifest, a certificate, one file per disk); a tar with more is not an OVA.
const MAX_ENTRIES: usize = 4096;

/// GNU long names longer than this are refused before they are read: a path is at most a few
/// KiB on any system that writes OVAs.
const MAX_LONG_NAME_BYTES: u64 = 64 << 10;

/// Pax extended headers longer than this are refused before they are read: the records that
/// matter (path, size) are short, and writers put little else there.
const MAX_PAX_HEADER_BYTES: u64 = 1 << 20;

/// One tar header, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
struct TarHeader {
    /// The entry's name from the header itself (prefix joined for ustar).
    name: Vec<u8>,
    /// The length of the entry's data in the archive.
    size: u64,
    /// The type flag (`0` or NUL for a regular file, `x` for pax, `L` for a GNU long name...).
    kind: u8,
}

/// Parses and checks one 512-byte tar header. `Ok(None)` is an all-zero block, the end of the
/// archive.
fn parse_header(block: &[u8]) -> Result<Option<TarHeader>, String> {
    let block: &[u8; 512] = block
        .first_chunk()
        .ok_or_else(|| "a tar header is cut short".to_string())?;
    if block.iter().all(|&b| b == 0) {
        return Ok(None);
    }
    let field = |range: Range<usize>| block.get(range).unwrap_or_default();
    let stored = parse_octal(field(148..156))
        .ok_or_else(|| "a tar header has no valid checksum field".to_string())?;
    let (unsigned, signed) = checksums(block);
    if stored != unsigned && i64::try_from(stored).ok() != Some(signed) {
        return Err(format!(
            "a tar header's checksum is {stored} but its bytes sum to {unsigned}"
        ));
    }
    let size = parse_number(field(124..136))
        .ok_or_else(|| "a tar header has an invalid size field".to_string())?;
    let mut name = until_nul(field(0..100)).to_vec();
    // POSIX ustar (magic "ustar\0") splits long names into a prefix; GNU ("ustar  \0") uses
    // those bytes for other fields.
    let prefix = until_nul(field(345..500));
    if field(257..263) == b"ustar\0" && !prefix.is_empty() {
        name = [prefix, b"/", &name].concat();
    }
    Ok(Some(TarHeader {
        name,
        size,
        kind: block[156],
    }))
}

/// The header checksum, summed as unsigned and as signed bytes (old tars used the latter), with
/// the checksum field itself counted as spaces.
fn checksums(block: &[u8; 512]) -> (u64, i64) {
    let mut unsigned = 0u64;
    let mut signed = 0i64;
    for (index, &byte) in block.iter().enumerate() {
        let byte = if (148..156).contains(&index) {
            b' '
        } else {
            byte
        };
        unsigned = unsigned.saturating_add(u64::from(byte));
        signed = signed.saturating_add(i64::from(byte.cast_signed()));
    }
    (unsigned, signed)
}

/// A field up to its first NUL.
fn until_nul(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    field.get(..end).unwrap_or(field)
}

/// An octal number padded with spaces or NULs.
fn parse_octal(field: &[u8]) -> Option<u64> {
    let digits = until_nul(field).trim_ascii();
    if digits.is_empty() {
        return Some(0);
    }
    digits.iter().try_fold(0u64, |value, &digit| {
        if !(b'0'..=b'7').contains(&digit) {
            return None;
        }
        value
            .checked_mul(8)?
            .checked_add(u64::from(digit.checked_sub(b'0')?))
    })
}

/// A numeric field: octal, or GNU base-256 (first byte 0x80, then big-endian) for values too
/// large for the octal digits, such as sizes of 8 GiB and more.
fn parse_number(field: &[u8]) -> Option<u64> {
    match field.split_first() {
        Some((&0x80, rest)) => rest.iter().try_fold(0u64, |value, &byte| {
            value.checked_mul(256)?.checked_add(u64::from(byte))
        }),
        // Negative base-256 numbers (0xff) and other high-bit markers are not sizes.
        Some((&first, _)) if first & 0x80 != 0 => None,
        _ => parse_octal(field),
    }
}

/// The records of a pax extended header that matter here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct PaxRecords {
    /// `path`: the next entry's name.
    path: Option<Vec<u8>>,
    /// `size`: the next entry's data length.
    size: Option<u64>,
    /// Whether any `GNU.sparse.*` record says the next entry is stored sparse.
    sparse: bool,
}

/// Parses pax records (`"<length> <key>=<value>\n"`, the length counting the whole record).
fn parse_pax(mut data: &[u8]) -> Result<PaxRecords, String> {
    let mut records = PaxRecords::default();
    let bad = || "a pax extended header has a malformed record".to_string();
    while !data.is_empty() {
        if data.iter().all(|&b| b == 0) {
            break;
        }
        let space = data.iter().position(|&b| b == b' ').ok_or_else(bad)?;
        let len: usize = std::str::from_utf8(data.get(..space).ok_or_else(bad)?)
            .ok()
            .and_then(|len| len.parse().ok())
            .ok_or_else(bad)?;
        let record = data.get(..len).ok_or_else(bad)?;
        let body = record
            .get(space.checked_add(1).ok_or_else(bad)?..)
            .and_then(|body| body.strip_suffix(b"\n"))
            .ok_or_else(bad)?;
        let eq = body.iter().position(|&b| b == b'=').ok_or_else(bad)?;
        let (key, value) = body.split_at(eq);
        let value = value.get(1..).unwrap_or_default();
        match key {
            b"path" => records.path = Some(value.to_vec()),
            b"size" => {
                let size = std::str::from_utf8(value)
                    .ok()
                    .and_then(|size| size.parse().ok())
                    .ok_or_else(|| "a pax size record is not a number".to_string())?;
                records.size = Some(size);
            }
            key if key.starts_with(b"GNU.sparse.") => records.sparse = true,
            _ => {}
        }
        data = data.get(len..).ok_or_else(bad)?;
    }
    Ok(records)
}

/// Whether an entry named `name` is a disk, and how strongly: 2 for a VMDK, 1 for another image
/// type, 0 for anything else.
fn disk_rank(name: &[u8]) -> u8 {
    let base = name.rsplit(|&b| b == b'/').next().unwrap_or(name);
    if base.starts_with(b"._") {
        return 0; // A macOS resource fork beside the real file.
    }
    let lower = base.to_ascii_lowercase();
    if lower.ends_with(b".vmdk") {
        2
    } else if [&b".img"[..], b".raw", b".qcow2"]
        .iter()
        .any(|ext| lower.ends_with(ext))
    {
        1
    } else {
        0
    }
}

/// A disk entry found in the archive.
#[derive(Clone, Debug, PartialEq, Eq)]
struct DiskEntry {
    /// The entry's name, for messages.
    name: Vec<u8>,
    /// Where its data starts in the archive.
    offset: u64,
    /// Its length.
    size: u64,
    /// Whether it is stored sparse (and so cannot be read as a slice).
    sparse: bool,
}

/// Walks the archive's headers and returns the disk entry to read.
fn find_disk(host: &Host) -> Result<Option<DiskEntry>, DiskError> {
    let path = host.path();
    let corrupt = |reason: String| DiskError::Corrupt {
        path: path.to_owned(),
        format: FORMAT,
        reason,
    };
    let mut offset = 0u64;
    let mut long_name: Option<Vec<u8>> = None;
    let mut pax = PaxRecords::default();
    let mut fallback: Option<DiskEntry> = None;
    for _ in 0..MAX_ENTRIES {
        if offset.saturating_add(BLOCK) > host.len() {
            // An archive cut short, or ending without its two zero blocks: what was found counts.
            return Ok(fallback);
        }
        let block = host.read_vec(offset, 512)?;
        let Some(header) = parse_header(&block)
            .map_err(|why| corrupt(format!("{why} (header at byte {offset})")))?
        else {
            return Ok(fallback);
        };
        let data_at = offset
            .checked_add(BLOCK)
            .ok_or_else(|| corrupt("entry offsets overflow".into()))?;
        let size = match header.kind {
            // The size of the entry a pax header describes is the pax size; the header's own
            // size field is its own data length.
            b'0' | b'\0' | b'7' | b'S' => pax.size.unwrap_or(header.size),
            _ => header.size,
        };
        let padded = size
            .checked_next_multiple_of(BLOCK)
            .ok_or_else(|| corrupt(format!("an entry of {size} bytes")))?;
        let next = data_at
            .checked_add(padded)
            .ok_or_else(|| corrupt("entry offsets overflow".into()))?;
        match header.kind {
            b'x' => {
                pax = parse_pax(&read_bounded(host, data_at, size, MAX_PAX_HEADER_BYTES)?)
                    .map_err(|why| corrupt(format!("{why} (at byte {data_at})")))?;
            }
            b'L' => {
                let name = read_bounded(host, data_at, size, MAX_LONG_NAME_BYTES)?;
                long_name = Some(until_nul(&name).to_vec());
            }
            // Global pax headers and GNU long link names say nothing about where disks are.
            b'g' | b'K' => {}
            kind => {
                let name = pax
                    .path
                    .take()
                    .or_else(|| long_name.take())
                    .unwrap_or(header.name);
                let sparse = pax.sparse || kind == b'S';
                pax = PaxRecords::default();
                long_name = None;
                let regular = matches!(kind, b'0' | b'\0' | b'7' | b'S');
                let rank = if regular { disk_rank(&name) } else { 0 };
                let entry = DiskEntry {
                    name,
                    offset: data_at,
                    size,
                    sparse,
                };
                if rank == 2 {
                    return Ok(Some(entry));
                }
                if rank == 1 && fallback.is_none() {
                    fallback = Some(entry);
                }
            }
        }
        offset = next;
    }
    Err(DiskError::Unsupported {
        path: path.to_owned(),
        format: FORMAT,
        feature: format!("an archive of more than {MAX_ENTRIES} entries"),
    })
}

/// Reads an entry's data of `len` bytes, refusing more than `max`.
fn read_bounded(host: &Host, at: u64, len: u64, max: u64) -> Result<Vec<u8>, DiskError> {
    let len = usize::try_from(len)
        .ok()
        .filter(|_| len <= max)
        .ok_or_else(|| DiskError::Unsupported {
            path: host.path_buf(),
            format: FORMAT,
            feature: format!("a tar metadata entry of {len} bytes (at most {max} are read)"),
        })?;
    host.read_vec(at, len)
}

/// Opens the tar archive in `host` as the disk it holds.
pub(crate) fn open(host: Host, opener: &mut Opener) -> Result<Box<dyn Disk>, DiskError> {
    let path = host.path_buf();
    let unsupported = |feature: String| DiskError::Unsupported {
        path: path.clone(),
        format: FORMAT,
        feature,
    };
    let Some(entry) = find_disk(&host)? else {
        return Err(DiskError::NotADisk {
            path,
            reason: "it is a tar archive with no disk image (.vmdk, .img, .raw or .qcow2) in it",
        });
    };
    let name = String::from_utf8_lossy(&entry.name).into_owned();
    if entry.sparse {
        return Err(unsupported(format!(
            "the disk {name} is stored as a sparse tar entry (extract the archive first)"
        )));
    }
    let slice = host.slice(entry.offset, entry.size)?;
    match detect::detect(&slice)? {
        Format::VmdkDescriptor => {
            return Err(unsupported(format!(
                "the disk {name} is a VMDK descriptor, whose extent files would be looked for \
                 outside the archive (extract the archive first)"
            )));
        }
        Format::Tar => {
            return Err(unsupported(format!(
                "the disk {name} is itself a tar archive"
            )));
        }
        _ => {}
    }
    let inner = super::open(slice, opener)?;
    let kind = ova_kind(inner.kind());
    Ok(Box::new(OvaDisk { inner, kind }))
}

/// The description of an OVA whose disk describes itself as `inner`.
fn ova_kind(inner: &str) -> &'static str {
    match inner {
        "VMDK image (streamOptimized)" => "OVA archive (VMDK streamOptimized)",
        "VMDK image (monolithicSparse)" => "OVA archive (VMDK monolithicSparse)",
        "raw image file" => "OVA archive (raw image)",
        kind if kind.starts_with("VMDK") => "OVA archive (VMDK)",
        kind if kind.to_ascii_lowercase().contains("qcow2") => "OVA archive (qcow2 image)",
        _ => "OVA archive",
    }
}

/// The disk inside an OVA: every call goes to the disk read from the archive's slice.
#[derive(Debug)]
struct OvaDisk {
    inner: Box<dyn Disk>,
    kind: &'static str,
}

impl Disk for OvaDisk {
    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        self.inner.read_exact_at(offset, buf)
    }

    fn data_ranges(&self) -> Result<Vec<Range<u64>>, DiskError> {
        self.inner.data_ranges()
    }

    fn data_map(&self) -> Result<crate::DataMap, DiskError> {
        self.inner.data_map()
    }

    fn kind(&self) -> &'static str {
        self.kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ustar header with a valid checksum.
    fn header(name: &[u8], size_field: &[u8], kind: u8) -> Vec<u8> {
        let mut block = vec![0u8; 512];
        block[..name.len()].copy_from_slice(name);
        block[124..124 + size_field.len()].copy_from_slice(size_field);
        block[156] = kind;
        block[257..263].copy_from_slice(b"ustar\0");
        block[263..265].copy_from_slice(b"00");
        let (sum, _) = checksums(block[..].try_into().unwrap());
        block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        block
    }

    #[test]
    fn parses_headers_and_checks_checksums() {
        let block = header(b"disk.vmdk", b"00000001750\0", b'0');
        let parsed = parse_header(&block).unwrap().unwrap();
        assert_eq!(
            parsed,
            TarHeader {
                name: b"disk.vmdk".to_vec(),
                size: 1000,
                kind: b'0'
            }
        );
        let mut damaged = block.clone();
        damaged[3] ^= 1;
        assert!(parse_header(&damaged).is_err());
        assert_eq!(parse_header(&[0u8; 512]), Ok(None));
        assert!(parse_header(&block[..511]).is_err());
    }

    #[test]
    fn joins_the_ustar_prefix() {
        let mut block = header(b"disk.vmdk", b"0\0", b'0');
        block[345..349].copy_from_slice(b"dir1");
        let (sum, _) = checksums(block[..].try_into().unwrap());
        block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        assert_eq!(
            parse_header(&block).unwrap().unwrap().name,
            b"dir1/disk.vmdk"
        );
    }

    #[test]
    fn parses_numbers() {
        assert_eq!(parse_number(b"00000001750\0"), Some(1000));
        assert_eq!(parse_number(b"   1750 \0"), Some(1000));
        assert_eq!(parse_number(b"\0\0\0"), Some(0));
        assert_eq!(parse_number(b"0009"), None);
        let mut big = [0u8; 12];
        big[0] = 0x80;
        big[4..].copy_from_slice(&(20u64 << 30).to_be_bytes());
        assert_eq!(parse_number(&big), Some(20 << 30));
        big[1] = 1; // Past 2^64.
        assert_eq!(parse_number(&big), None);
        assert_eq!(parse_number(&[0xff; 12]), None);
    }

    #[test]
    fn parses_pax_records() {
        let records = parse_pax(b"29 path=some/long/disk1.vmdk\n20 size=12345678901\n").unwrap();
        assert_eq!(records.path.as_deref(), Some(&b"some/long/disk1.vmdk"[..]));
        assert_eq!(records.size, Some(12_345_678_901));
        assert!(!records.sparse);
        assert!(parse_pax(b"22 GNU.sparse.major=1\n").unwrap().sparse);
        for bad in [
            &b"5 a=b\n"[..],
            b"x path=a\n",
            b"99 path=a\n",
            b"13 size=abc\n",
        ] {
            assert!(parse_pax(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn ranks_disk_names() {
        assert_eq!(disk_rank(b"vm/Disk1.VMDK"), 2);
        assert_eq!(disk_rank(b"vm/._disk1.vmdk"), 0);
        assert_eq!(disk_rank(b"disk.qcow2"), 1);
        assert_eq!(disk_rank(b"disk.IMG"), 1);
        assert_eq!(disk_rank(b"vm.ovf"), 0);
        assert_eq!(disk_rank(b"vmdk"), 0);
    }

    #[test]
    fn survives_arbitrary_headers() {
        let mut seed = 0x9e37_79b9_u64;
        let base = header(b"disk.vmdk", b"00000001750\0", b'0');
        for _ in 0..5000 {
            let mut block = base.clone();
            for _ in 0..4 {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let at = usize::try_from(seed >> 40).unwrap() % 512;
                block[at] = (seed >> 8) as u8;
            }
            let _ = parse_header(&block);
            let _ = parse_pax(&block);
        }
    }
}
