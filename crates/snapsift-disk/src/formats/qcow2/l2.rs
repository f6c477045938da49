//! L1 and L2 table entries, decoded from bytes (no I/O).

use super::header::Header;
use crate::formats::bytes::be64;
use crate::formats::refusal::Refusal;

/// Bits 9-55 of an L1 or standard L2 entry: a cluster-aligned offset in the image file.
const OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
/// Bit 62 of an L2 entry: the cluster is compressed.
const COMPRESSED: u64 = 1 << 62;
/// Bit 0 of a standard L2 entry (version 3): the cluster reads as zeros.
const ZERO: u64 = 1;
/// Subclusters per cluster with extended L2 entries.
pub(crate) const SUBCLUSTERS: u32 = 32;

/// The L2 table an L1 entry points to, if any.
pub(crate) fn l2_table_offset(l1_entry: u64, header: &Header) -> Result<Option<u64>, Refusal> {
    let offset = l1_entry & OFFSET_MASK;
    if offset == 0 {
        return Ok(None);
    }
    if !offset.is_multiple_of(header.cluster_size().get()) {
        return Err(Refusal::Corrupt(format!(
            "L2 table offset {offset:#x} is not cluster-aligned"
        )));
    }
    Ok(Some(offset))
}

/// What one guest cluster holds, from its L2 entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cluster {
    /// Nothing here: read from the backing image, or zeros without one.
    Unallocated,
    /// Reads as zeros, hiding the backing image.
    Zero,
    /// Stored uncompressed at this cluster-aligned file offset.
    Data(u64),
    /// Stored compressed: `len` bytes at file offset `offset` inflate to one cluster.
    Compressed {
        /// File offset of the compressed bytes (not aligned).
        offset: u64,
        /// Length of the compressed bytes (a bound: the stream may end earlier).
        len: u64,
    },
    /// Extended L2: the cluster is split into [`SUBCLUSTERS`] subclusters, each allocated
    /// (stored at `offset` plus its index times the subcluster size), zero, or unallocated.
    Subclusters {
        /// File offset of the host cluster; meaningful where `allocated` has bits.
        offset: u64,
        /// Bit `i`: subcluster `i` is stored in the host cluster.
        allocated: u32,
        /// Bit `i`: subcluster `i` reads as zeros.
        zero: u32,
    },
}

impl Cluster {
    /// Whether any of the cluster's bytes come from this image's file.
    pub(crate) fn holds_data(self) -> bool {
        match self {
            Cluster::Data(_) | Cluster::Compressed { .. } => true,
            Cluster::Subclusters { allocated, .. } => allocated != 0,
            Cluster::Unallocated | Cluster::Zero => false,
        }
    }
}

/// Decodes L2 entry number `index` of the raw table bytes `table`.
pub(crate) fn decode(table: &[u8], index: usize, header: &Header) -> Result<Cluster, Refusal> {
    let entry_size = if header.extended_l2 { 16 } else { 8 };
    let at = index
        .checked_mul(entry_size)
        .filter(|at| at.saturating_add(entry_size) <= table.len())
        .ok_or_else(|| Refusal::Corrupt(format!("L2 entry {index} is outside its table")))?;
    let entry = be64(table, at);
    if entry & COMPRESSED != 0 {
        return compressed(entry, header);
    }
    let offset = entry & OFFSET_MASK;
    if !offset.is_multiple_of(header.cluster_size().get()) {
        return Err(Refusal::Corrupt(format!(
            "data cluster offset {offset:#x} is not cluster-aligned"
        )));
    }
    if header.extended_l2 {
        let bitmap = be64(table, at.saturating_add(8));
        // The low half marks allocated subclusters, the high half zero ones.
        let allocated = (bitmap & 0xffff_ffff) as u32;
        let zero = (bitmap >> 32) as u32;
        if allocated & zero != 0 {
            return Err(Refusal::Corrupt(format!(
                "subclusters {:#x} are both allocated and zero",
                allocated & zero
            )));
        }
        if allocated != 0 && offset == 0 {
            return Err(Refusal::Corrupt(
                "allocated subclusters have no host cluster".into(),
            ));
        }
        return Ok(Cluster::Subclusters {
            offset,
            allocated,
            zero,
        });
    }
    if header.version >= 3 && entry & ZERO != 0 {
        return Ok(Cluster::Zero);
    }
    Ok(if offset == 0 {
        Cluster::Unallocated
    } else {
        Cluster::Data(offset)
    })
}

/// A compressed cluster's place: the offset takes the low `62 - (cluster_bits - 8)` bits and
/// the count of 512-byte sectors beyond the first the bits above, up to bit 61.
fn compressed(entry: u64, header: &Header) -> Result<Cluster, Refusal> {
    // cluster_bits is at least 9 and at most 21 (checked with the header).
    let offset_bits = 62u32.saturating_sub(header.cluster_bits.saturating_sub(8));
    let offset = entry & (1u64 << offset_bits).wrapping_sub(1);
    let sectors = ((entry & !COMPRESSED & 0x3fff_ffff_ffff_ffff) >> offset_bits).saturating_add(1);
    // The compressed bytes run from `offset` to the end of the last sector counted.
    let end = (offset & !511)
        .checked_add(sectors.saturating_mul(512))
        .ok_or_else(|| Refusal::Corrupt("compressed cluster runs past 2^64".into()))?;
    Ok(Cluster::Compressed {
        offset,
        len: end.saturating_sub(offset),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::qcow2::header::Compression;

    fn header(extended_l2: bool) -> Header {
        Header {
            version: 3,
            cluster_bits: 16,
            size: 1 << 30,
            l1_entries: 2,
            l1_offset: 0x30000,
            backing_name: None,
            backing_format: None,
            compression: Compression::Deflate,
            extended_l2,
            dirty: false,
            marked_corrupt: false,
        }
    }

    fn table(entries: &[u64]) -> Vec<u8> {
        entries.iter().flat_map(|e| e.to_be_bytes()).collect()
    }

    #[test]
    fn standard_entries() {
        let h = header(false);
        let t = table(&[0, 1, 0x8000_0000_0005_0000, 0x0005_0001, 0x1200]);
        assert_eq!(decode(&t, 0, &h).unwrap(), Cluster::Unallocated);
        assert_eq!(decode(&t, 1, &h).unwrap(), Cluster::Zero);
        assert_eq!(decode(&t, 2, &h).unwrap(), Cluster::Data(0x5_0000));
        assert_eq!(
            decode(&t, 3, &h).unwrap(),
            Cluster::Zero,
            "preallocated zero"
        );
        assert!(decode(&t, 4, &h).is_err(), "unaligned data offset");
        assert!(decode(&t, 5, &h).is_err(), "past the table");
    }

    #[test]
    fn compressed_entries_give_offset_and_length() {
        let h = header(false);
        // 64 KiB clusters: 54 offset bits; 3 more sectors beyond the first.
        let entry = COMPRESSED | (3u64 << 54) | 0x1_0200;
        let c = decode(&table(&[entry]), 0, &h).unwrap();
        assert_eq!(
            c,
            Cluster::Compressed {
                offset: 0x1_0200,
                len: 4 * 512
            }
        );
        let entry = COMPRESSED | 0x1_0300;
        let c = decode(&table(&[entry]), 0, &h).unwrap();
        assert_eq!(
            c,
            Cluster::Compressed {
                offset: 0x1_0300,
                len: 256
            }
        );
    }

    #[test]
    fn extended_entries_carry_subcluster_bitmaps() {
        let h = header(true);
        let t = table(&[0x7_0000, 0x0000_0002_0000_0001]);
        let c = decode(&t, 0, &h).unwrap();
        assert_eq!(
            c,
            Cluster::Subclusters {
                offset: 0x7_0000,
                allocated: 1,
                zero: 2
            }
        );
        let bad = table(&[0x7_0000, 0x0000_0001_0000_0001]);
        assert!(decode(&bad, 0, &h).is_err(), "allocated and zero at once");
        let orphan = table(&[0, 1]);
        assert!(
            decode(&orphan, 0, &h).is_err(),
            "allocated without a host cluster"
        );
    }
}
