//! Volumes no partition table names: a disk whose table is empty, zeroed or damaged beyond
//! its backup is searched for the superblocks of the filesystems snapsift maps, at the
//! offsets partitioning tools put partitions at.
//!
//! Candidates are every 1 MiB-aligned offset (what tools have used since about 2008) and
//! every multiple of 63 sectors (32256 bytes: old DOS layouts put the first partition at
//! sector 63 and the others on cylinder boundaries, whose sizes are all multiples of 63
//! sectors), in disk order, from the first after the disk's first sector. What it costs is
//! bounded: only [`PROBE_LEN`] bytes are read at a candidate, and btrfs's 4 KiB superblock
//! 64 KiB on, none in the disk's holes (they read as zeros), none inside a volume already
//! found (volumes never overlap), and at most [`MAX_CANDIDATES`] candidates are read (a note
//! says where the search stopped).
//!
//! A candidate is a volume only if its superblock (ext4, XFS, NTFS, FAT, exFAT, btrfs) passes
//! strict checks ([`identify`], [`btrfs_at`]): the magic and every geometry field the
//! filesystem's own parser checks, and more: its checksum where the filesystem keeps one
//! (ext4 `metadata_csum`, XFS v5, exFAT's boot region, read whole for it, btrfs's CRC-32C),
//! the primary copy (an ext4 backup superblock records its group, a btrfs one its offset),
//! and a size of at least [`MIN_LEN`]. Random bytes never pass.

use std::ops::Range;

use snapsift_disk::Disk;

use super::{Content, Volume, le32, le64};
use crate::{FsError, btrfs, ext4, fat, xfs};

/// Bytes read at a candidate: its first sectors, holding every superblock checked (ext4's at
/// byte 1024 included).
pub(crate) const PROBE_LEN: usize = 2048;
/// Candidates read at most (`PROBE_LEN` each, and 4 KiB for btrfs: 384 MiB of reads in all).
pub(crate) const MAX_CANDIDATES: u64 = 1 << 16;
/// The alignment of today's partitioning tools.
const ALIGNED: u64 = 1 << 20;
/// The alignment of old DOS layouts: 63 sectors of 512 bytes.
const OLD_ALIGNED: u64 = 63 * 512;
/// Filesystems smaller than this are not believed (mkfs makes none so small).
const MIN_LEN: u64 = 64 << 10;

/// A filesystem found at a candidate: what it is and how many bytes it spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Found {
    /// Its kind.
    pub(crate) content: Content,
    /// Its bytes, from its superblock.
    pub(crate) len: u64,
}

/// The filesystem whose first [`PROBE_LEN`] bytes are `start`, if its superblock passes
/// strict checks (see the module docs); no I/O.
pub(crate) fn identify(start: &[u8]) -> Option<Found> {
    let found = ext(start)
        .or_else(|| xfs_volume(start))
        .or_else(|| ntfs(start))
        .or_else(|| fat(start))
        .or_else(|| exfat(start))?;
    let (content, len) = found;
    (len >= MIN_LEN).then_some(Found { content, len })
}

/// An ext2/3/4 primary superblock at byte 1024: parsed as the map parses it, its group 0,
/// its checksum right where it keeps one.
fn ext(start: &[u8]) -> Option<(Content, u64)> {
    let at = usize::try_from(ext4::superblock::OFFSET).ok()?;
    let raw = start.get(at..at.checked_add(ext4::superblock::SIZE)?)?;
    let sb = ext4::superblock::parse(raw).ok()?;
    // s_block_group_nr: a backup copy records the group it is in.
    if u16::from_le_bytes([raw[0x5a], raw[0x5b]]) != 0 {
        return None;
    }
    if sb.ro_compat & ext4::superblock::RO_COMPAT_METADATA_CSUM != 0 {
        let (body, stored) = raw.split_at(0x3fc);
        if !crc32c(body) != le32(stored, 0) {
            return None;
        }
    }
    Some((Content::Ext, sb.fs_bytes()))
}

/// An XFS primary superblock: parsed as the map parses it, its checksum right (v5).
fn xfs_volume(start: &[u8]) -> Option<(Content, u64)> {
    let sb = xfs::superblock::parse(start.get(..xfs::superblock::SIZE)?).ok()?;
    if sb.v5 {
        // sb_crc (byte 224, little-endian) covers the superblock's sector, itself zeroed.
        let sector = usize::try_from(sb.sector_size).ok()?;
        let mut copy = start.get(..sector)?.to_vec();
        let stored = le32(&copy, 224);
        copy.get_mut(224..228)?.fill(0);
        if crc32c(&copy) != stored {
            return None;
        }
    }
    Some((Content::Xfs, sb.fs_bytes()))
}

/// An NTFS boot sector: every field mkntfs and Windows fill in, checked. Its volume ends with
/// the boot sector's backup, one sector past the sectors it counts.
fn ntfs(start: &[u8]) -> Option<(Content, u64)> {
    let sector = start.get(..512)?;
    if &sector[3..11] != b"NTFS    " || sector[510..512] != [0x55, 0xaa] {
        return None;
    }
    let bytes_per_sector = u64::from(u16::from_le_bytes([sector[11], sector[12]]));
    if !(512..=4096).contains(&bytes_per_sector) || !bytes_per_sector.is_power_of_two() {
        return None;
    }
    // Sectors per cluster: a power of two up to 128, or 2^(256 - n) sectors for n ≥ 0xf4.
    let cluster_sectors = match sector[13] {
        n @ 1..=128 if n.is_power_of_two() => 1u64 << n.trailing_zeros(),
        n @ 0xf4..=0xff => 1u64 << 256u32.saturating_sub(u32::from(n)),
        _ => return None,
    };
    let cluster = cluster_sectors.checked_mul(bytes_per_sector)?;
    // Fields FAT uses and NTFS must leave zero: reserved sectors, FATs, root entries,
    // sectors (16-bit), sectors per FAT, sectors (32-bit).
    let zeros = [14..16, 16..17, 17..19, 19..21, 22..24, 32..36];
    if zeros
        .into_iter()
        .any(|range| sector[range].iter().any(|&b| b != 0))
    {
        return None;
    }
    let sectors = le64(sector, 0x28);
    let clusters = sectors.checked_div(cluster_sectors)?;
    let (mft, mirror) = (le64(sector, 0x30), le64(sector, 0x38));
    if sectors == 0 || mft >= clusters || mirror >= clusters {
        return None;
    }
    // A record or index block: clusters if positive, else 2^-n bytes (512 bytes to 64 KiB;
    // mkntfs writes -10, a 1 KiB record).
    let record_ok = |raw: u8| match raw as i8 {
        n @ 1..=64 => u64::from(n.unsigned_abs())
            .checked_mul(cluster)
            .is_some_and(|len| len <= 1 << 16),
        -16..=-9 => true,
        _ => false,
    };
    if !record_ok(sector[0x40]) || !record_ok(sector[0x44]) {
        return None;
    }
    let len = sectors.checked_add(1)?.checked_mul(bytes_per_sector)?;
    Some((Content::Ntfs, len))
}

/// A FAT12/16/32 boot sector, checked as the map checks it (see [`fat::boot`]).
fn fat(start: &[u8]) -> Option<(Content, u64)> {
    let boot = fat::boot::parse(start).ok()?;
    Some((Content::Fat, boot.volume_len()))
}

/// An exFAT boot sector, checked as the map checks it (see [`fat::exfat_boot`]); its
/// region's checksum, past the probe, is checked by [`exfat_sealed`].
fn exfat(start: &[u8]) -> Option<(Content, u64)> {
    let (boot, _) = fat::exfat_boot::parse(start).ok()?;
    Some((Content::ExFat, boot.volume_len()))
}

/// Whether the exFAT boot region at `at` of `disk` (its sector size in `start`, the probe)
/// holds the checksum of its sectors.
fn exfat_sealed(disk: &dyn Disk, at: u64, start: &[u8]) -> bool {
    let Some(sector) = fat::exfat_boot::sector_size(start) else {
        return false;
    };
    let len = sector.saturating_mul(fat::exfat_boot::REGION_SECTORS);
    let mut region = vec![0u8; usize::try_from(len).unwrap_or(0)];
    disk.read_exact_at(at, &mut region).is_ok()
        && fat::exfat_boot::parse(&region).is_ok_and(|(_, sealed)| sealed)
}

/// Where btrfs keeps its primary superblock, from the volume's start.
const BTRFS_SUPERBLOCK: u64 = 0x1_0000;

/// How far before a range of data a candidate may start and still have its superblock in it.
const LOOK_BACK: u64 = BTRFS_SUPERBLOCK + btrfs::superblock::SUPERBLOCK_LEN as u64;

/// A btrfs volume starting at `at` of `disk`: its primary superblock, 64 KiB on (past the
/// probe, so read apart), parsed as the map parses it, with a CRC-32C that matches (other
/// checksum types are not believed here) and its own offset in its `bytenr` field; the
/// volume spans this device's size as the superblock records it. `bytes` is the buffer the
/// superblock is read into, [`btrfs::superblock::SUPERBLOCK_LEN`] long.
fn btrfs_at(disk: &dyn Disk, at: u64, bytes: &mut [u8]) -> Option<Found> {
    disk.read_exact_at(at.checked_add(BTRFS_SUPERBLOCK)?, bytes)
        .ok()?;
    let superblock = btrfs::superblock::parse(bytes).ok()?;
    let own_offset = le64(bytes, 0x30) == BTRFS_SUPERBLOCK;
    let len = superblock.dev_bytes;
    (superblock.csum_type == 0 && own_offset && len >= MIN_LEN).then_some(Found {
        content: Content::Btrfs,
        len,
    })
}

/// CRC-32C (Castagnoli) of `bytes`, as ext4 and XFS checksum their structures with (XFS
/// stores it as is, ext4 its bitwise complement).
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0x82f6_3b78 & mask);
        }
    }
    !crc
}

/// The next candidate at or after `at`: the nearer of the next multiples of 1 MiB and of 63
/// sectors.
fn next_candidate(at: u64) -> Option<u64> {
    let next = |align: u64| at.div_ceil(align).checked_mul(align);
    match (next(ALIGNED), next(OLD_ALIGNED)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Searches `disk` for volumes no table names (see the module docs); they are sorted, none
/// overlapping another. Notes where a volume reaches past the disk's end, and where the
/// search stopped if it reached [`MAX_CANDIDATES`].
pub(crate) fn search(disk: &dyn Disk, notes: &mut Vec<String>) -> Result<Vec<Volume>, FsError> {
    let size = disk.size();
    let data: Vec<Range<u64>> = disk.data_ranges()?;
    let mut found: Vec<Volume> = Vec::new();
    let mut read = 0u64;
    // The first sector is the table's (or its remains): no volume starts in it.
    let mut at = 1u64;
    let mut probe = vec![0u8; PROBE_LEN];
    let mut btrfs_probe = vec![0u8; btrfs::superblock::SUPERBLOCK_LEN];
    for range in &data {
        // A candidate just before the range may have its superblock in it (btrfs's lies
        // 64 KiB on, after bytes mkfs leaves zero, which a sparse image has as a hole).
        at = at.max(range.start.saturating_sub(LOOK_BACK).saturating_add(1));
        while let Some(candidate) = next_candidate(at).filter(|&c| c < range.end) {
            at = candidate.saturating_add(1);
            let end = candidate.saturating_add(PROBE_LEN as u64).min(size);
            let Ok(len) = usize::try_from(end.saturating_sub(candidate)) else {
                break;
            };
            if read >= MAX_CANDIDATES {
                notes.push(format!(
                    "the search for volumes no partition table names stopped at byte \
                     {candidate}, after {MAX_CANDIDATES} candidate offsets"
                ));
                return Ok(found);
            }
            read = read.saturating_add(1);
            let bytes = &mut probe[..len];
            if disk.read_exact_at(candidate, bytes).is_err() {
                // An unreadable sector holds no superblock we can trust; the sweep reports it.
                continue;
            }
            let Some(volume) =
                identify(bytes).or_else(|| btrfs_at(disk, candidate, &mut btrfs_probe))
            else {
                continue;
            };
            if volume.content == Content::ExFat && !exfat_sealed(disk, candidate, bytes) {
                continue;
            }
            let mut volume_end = candidate.saturating_add(volume.len);
            if volume_end > size {
                notes.push(format!(
                    "the volume recovered at {candidate} ({}) reaches past the end of the \
                     disk ({volume_end} > {size} bytes); read up to the end",
                    volume.content.name()
                ));
                volume_end = size;
            }
            found.push(Volume {
                range: candidate..volume_end,
                content: volume.content,
                ..Volume::default()
            });
            // Nothing inside a volume found is another one.
            at = volume_end;
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_is_castagnoli() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn candidates_are_both_alignments_in_order() {
        let mut at = 1;
        let mut seen = Vec::new();
        while let Some(c) = next_candidate(at).filter(|&c| c <= 2 << 20) {
            seen.push(c);
            at = c + 1;
        }
        assert_eq!(seen[0], 32256);
        assert!(seen.contains(&(1 << 20)) && seen.contains(&(2 << 20)));
        assert_eq!(seen.len(), 65 + 2, "{seen:?}");
        assert!(seen.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(next_candidate(u64::MAX), None);
    }

    #[test]
    fn random_bytes_are_no_filesystem() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut bytes = vec![0u8; PROBE_LEN];
        for _ in 0..20_000 {
            for b in bytes.iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *b = state as u8;
            }
            // Magics in place, the rest random: still refused.
            bytes[1080..1082].copy_from_slice(&[0x53, 0xef]);
            assert_eq!(identify(&bytes), None);
            bytes[..4].copy_from_slice(b"XFSB");
            bytes[3..11].copy_from_slice(b"NTFS    ");
            bytes[510..512].copy_from_slice(&[0x55, 0xaa]);
            assert_eq!(identify(&bytes), None);
            bytes[..3].copy_from_slice(&[0xeb, 0x3c, 0x90]);
            bytes[54..58].copy_from_slice(b"FAT1");
            assert_eq!(identify(&bytes), None);
        }
        assert_eq!(identify(&[0u8; PROBE_LEN]), None);
        assert_eq!(identify(&[]), None);
    }
}
