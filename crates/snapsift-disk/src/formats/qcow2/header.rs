//! The qcow2 header and its extensions, parsed from bytes (no I/O).
//!
//! Layout and semantics follow QEMU's `docs/interop/qcow2.txt`. Everything is big-endian.

use std::num::NonZeroU64;

use crate::formats::bytes::{be32, be64};
use crate::formats::refusal::Refusal;

/// `QFI\xfb`.
const MAGIC: u32 = 0x5146_49fb;
/// The version 2 header ends here; version 3 adds fields up to `header_length`.
const V2_HEADER_LEN: usize = 72;
/// The smallest version 3 header.
const V3_MIN_HEADER_LEN: usize = 104;
/// QEMU accepts clusters of 512 bytes to 2 MiB.
const CLUSTER_BITS: std::ops::RangeInclusive<u32> = 9..=21;
/// QEMU refuses L1 tables larger than 32 MiB; so do we, before allocating one.
pub(super) const MAX_L1_BYTES: u64 = 32 << 20;
/// The spec limits backing file names to 1023 bytes.
const MAX_BACKING_NAME: u32 = 1023;

/// Header extension: the backing file's format name.
const EXT_BACKING_FORMAT: u32 = 0xe279_2aca;
/// Header extension: end of the extension area.
const EXT_END: u32 = 0;

/// Incompatible feature bits (version 3).
const INCOMPAT_DIRTY: u64 = 1 << 0;
const INCOMPAT_CORRUPT: u64 = 1 << 1;
const INCOMPAT_EXTERNAL_DATA: u64 = 1 << 2;
const INCOMPAT_COMPRESSION_TYPE: u64 = 1 << 3;
const INCOMPAT_EXTENDED_L2: u64 = 1 << 4;
const INCOMPAT_KNOWN: u64 = INCOMPAT_DIRTY
    | INCOMPAT_CORRUPT
    | INCOMPAT_EXTERNAL_DATA
    | INCOMPAT_COMPRESSION_TYPE
    | INCOMPAT_EXTENDED_L2;

/// How compressed clusters are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compression {
    /// Raw deflate (no zlib header), QEMU's default.
    Deflate,
    /// zstd frames.
    Zstd,
}

/// What the header says, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// 2 or 3.
    pub(crate) version: u32,
    /// log2 of the cluster size.
    pub(crate) cluster_bits: u32,
    /// Virtual disk size in bytes.
    pub(crate) size: u64,
    /// Entries in the L1 table.
    pub(crate) l1_entries: u64,
    /// Where the L1 table is in the file (cluster-aligned).
    pub(crate) l1_offset: u64,
    /// Where the backing file name is, and its length; `None` without a backing file.
    pub(crate) backing_name: Option<(u64, u32)>,
    /// The backing file's format, from the header extension, if recorded.
    pub(crate) backing_format: Option<String>,
    /// How compressed clusters are compressed.
    pub(crate) compression: Compression,
    /// L2 entries are 128 bits wide, with 32 subclusters per cluster.
    pub(crate) extended_l2: bool,
    /// The image was not closed cleanly (its refcounts may be stale; reads are unaffected).
    pub(crate) dirty: bool,
    /// QEMU found the image corrupt and marked it so.
    pub(crate) marked_corrupt: bool,
}

impl Header {
    /// The cluster size in bytes (never zero: `cluster_bits` is checked to be 9 to 21).
    pub(crate) fn cluster_size(&self) -> NonZeroU64 {
        NonZeroU64::new(1u64 << (self.cluster_bits & 63)).unwrap_or(NonZeroU64::MIN)
    }

    /// Bytes per L2 entry.
    pub(crate) fn l2_entry_size(&self) -> u64 {
        if self.extended_l2 { 16 } else { 8 }
    }

    /// Entries per L2 table (one cluster): at least 32, as clusters are at least 512 bytes.
    pub(crate) fn l2_entries(&self) -> NonZeroU64 {
        let shift = if self.extended_l2 { 4 } else { 3 };
        NonZeroU64::new(self.cluster_size().get() >> shift).unwrap_or(NonZeroU64::MIN)
    }

    /// The subcluster size with extended L2 entries (a 32nd of a cluster, at least 16 bytes).
    pub(crate) fn subcluster_size(&self) -> NonZeroU64 {
        NonZeroU64::new(self.cluster_size().get() >> 5).unwrap_or(NonZeroU64::MIN)
    }
}

/// Parses the header from the start of the image (`head`: at least the first cluster or the
/// whole file if smaller).
pub(crate) fn parse(head: &[u8]) -> Result<Header, Refusal> {
    if head.len() < V2_HEADER_LEN {
        return Err(Refusal::Corrupt(format!(
            "the header needs {V2_HEADER_LEN} bytes, the file has {}",
            head.len()
        )));
    }
    if be32(head, 0) != MAGIC {
        return Err(Refusal::Corrupt("bad magic".into()));
    }
    let version = be32(head, 4);
    if version != 2 && version != 3 {
        return Err(Refusal::Unsupported(format!(
            "version {version} (only 2 and 3 exist)"
        )));
    }
    let cluster_bits = be32(head, 20);
    if !CLUSTER_BITS.contains(&cluster_bits) {
        return Err(Refusal::Corrupt(format!(
            "cluster_bits {cluster_bits} is outside 9..=21"
        )));
    }
    let size = be64(head, 24);
    match be32(head, 32) {
        0 => {}
        1 | 2 => {
            return Err(Refusal::Unsupported(
                "the image is encrypted (AES or LUKS); snapsift does not decrypt, so scan a \
                 decrypted copy (`qemu-img convert` with the key)"
                    .into(),
            ));
        }
        other => return Err(Refusal::Unsupported(format!("encryption method {other}"))),
    }
    let l1_entries = u64::from(be32(head, 36));
    let l1_offset = be64(head, 40);

    let (incompatible, header_len) = if version == 3 {
        if head.len() < V3_MIN_HEADER_LEN {
            return Err(Refusal::Corrupt("the version 3 header is cut short".into()));
        }
        let header_len = usize::try_from(be32(head, 100)).unwrap_or(usize::MAX);
        if header_len < V3_MIN_HEADER_LEN || header_len > head.len() {
            return Err(Refusal::Corrupt(format!(
                "header_length {header_len} is invalid"
            )));
        }
        (be64(head, 72), header_len)
    } else {
        (0, V2_HEADER_LEN)
    };
    let unknown = incompatible & !INCOMPAT_KNOWN;
    if unknown != 0 {
        return Err(Refusal::Unsupported(format!(
            "incompatible feature bits {unknown:#x} are unknown"
        )));
    }
    if incompatible & INCOMPAT_EXTERNAL_DATA != 0 {
        return Err(Refusal::Unsupported(
            "the data lives in an external data file, which snapsift does not read".into(),
        ));
    }
    let compression = if incompatible & INCOMPAT_COMPRESSION_TYPE != 0 {
        match head.get(104).filter(|_| header_len > 104) {
            Some(0) => Compression::Deflate,
            Some(1) => Compression::Zstd,
            Some(other) => {
                return Err(Refusal::Unsupported(format!("compression type {other}")));
            }
            None => return Err(Refusal::Corrupt("compression type field is missing".into())),
        }
    } else {
        Compression::Deflate
    };

    let header = Header {
        version,
        cluster_bits,
        size,
        l1_entries,
        l1_offset,
        backing_name: backing_name(be64(head, 8), be32(head, 16))?,
        backing_format: backing_format(&head[header_len..])?,
        compression,
        extended_l2: incompatible & INCOMPAT_EXTENDED_L2 != 0,
        dirty: incompatible & INCOMPAT_DIRTY != 0,
        marked_corrupt: incompatible & INCOMPAT_CORRUPT != 0,
    };
    check_l1(&header)?;
    Ok(header)
}

/// The backing file name's place, if the image has one.
fn backing_name(offset: u64, len: u32) -> Result<Option<(u64, u32)>, Refusal> {
    if offset == 0 {
        return Ok(None);
    }
    if len == 0 || len > MAX_BACKING_NAME {
        return Err(Refusal::Corrupt(format!(
            "backing file name length {len} is outside 1..={MAX_BACKING_NAME}"
        )));
    }
    Ok(Some((offset, len)))
}

/// The backing format named by the header extensions that follow the header in `extensions`.
fn backing_format(mut extensions: &[u8]) -> Result<Option<String>, Refusal> {
    let cut = || Refusal::Corrupt("a header extension runs past the first cluster".into());
    let mut format = None;
    while extensions.len() >= 8 {
        let kind = be32(extensions, 0);
        if kind == EXT_END {
            break;
        }
        let len = usize::try_from(be32(extensions, 4)).map_err(|_| cut())?;
        let data = extensions
            .get(8..8usize.checked_add(len).ok_or_else(cut)?)
            .ok_or_else(cut)?;
        if kind == EXT_BACKING_FORMAT {
            format = Some(String::from_utf8_lossy(data).into_owned());
        }
        // Extension data is padded to a multiple of 8 bytes.
        let padded = len.checked_next_multiple_of(8).ok_or_else(cut)?;
        extensions = extensions
            .get(8usize.checked_add(padded).ok_or_else(cut)?..)
            .unwrap_or(&[]);
    }
    Ok(format)
}

/// The L1 table must be large enough to map the whole virtual disk, small enough to load, and
/// cluster-aligned.
fn check_l1(header: &Header) -> Result<(), Refusal> {
    let bytes_per_l2 = header.l2_entries().saturating_mul(header.cluster_size());
    let needed = header.size.div_ceil(bytes_per_l2.get());
    if header.l1_entries < needed {
        return Err(Refusal::Corrupt(format!(
            "the L1 table has {} entries, a virtual size of {} bytes needs {needed}",
            header.l1_entries, header.size
        )));
    }
    if header.l1_entries.saturating_mul(8) > MAX_L1_BYTES {
        return Err(Refusal::Unsupported(format!(
            "an L1 table of {} entries is larger than {MAX_L1_BYTES} bytes",
            header.l1_entries
        )));
    }
    if header.l1_entries > 0 && !header.l1_offset.is_multiple_of(header.cluster_size().get()) {
        return Err(Refusal::Corrupt(format!(
            "the L1 table offset {:#x} is not cluster-aligned",
            header.l1_offset
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal valid version 3 header for a 1 GiB disk with 64 KiB clusters.
    fn v3_header() -> Vec<u8> {
        let mut h = vec![0u8; 112];
        h[0..4].copy_from_slice(&MAGIC.to_be_bytes());
        h[4..8].copy_from_slice(&3u32.to_be_bytes());
        h[20..24].copy_from_slice(&16u32.to_be_bytes());
        h[24..32].copy_from_slice(&(1u64 << 30).to_be_bytes());
        h[36..40].copy_from_slice(&2u32.to_be_bytes());
        h[40..48].copy_from_slice(&0x30000u64.to_be_bytes());
        h[100..104].copy_from_slice(&104u32.to_be_bytes());
        h
    }

    #[test]
    fn a_valid_header_parses() {
        let header = parse(&v3_header()).unwrap();
        assert_eq!(header.cluster_size().get(), 65536);
        assert_eq!(header.l2_entries().get(), 8192);
        assert_eq!(header.compression, Compression::Deflate);
        assert!(header.backing_name.is_none());
    }

    #[test]
    fn encryption_and_unknown_features_are_refused() {
        let mut h = v3_header();
        h[32..36].copy_from_slice(&2u32.to_be_bytes());
        assert!(matches!(parse(&h), Err(Refusal::Unsupported(m)) if m.contains("encrypted")));
        let mut h = v3_header();
        h[72..80].copy_from_slice(&(1u64 << 40).to_be_bytes());
        assert!(matches!(parse(&h), Err(Refusal::Unsupported(_))));
    }

    #[test]
    fn an_l1_table_too_small_for_the_size_is_corrupt() {
        let mut h = v3_header();
        h[24..32].copy_from_slice(&(1u64 << 63).to_be_bytes());
        assert!(matches!(parse(&h), Err(Refusal::Corrupt(m)) if m.contains("L1 table")));
    }

    #[test]
    fn extensions_that_run_past_the_header_are_corrupt() {
        let mut h = v3_header();
        h[104..108].copy_from_slice(&EXT_BACKING_FORMAT.to_be_bytes());
        h[108..112].copy_from_slice(&1000u32.to_be_bytes());
        h.extend_from_slice(&[0; 8]);
        assert!(matches!(parse(&h), Err(Refusal::Corrupt(_))));
    }
}
