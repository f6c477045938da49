//! The exFAT boot region, parsed and checked from bytes (no I/O): the main boot sector's
//! fields and the checksum sector that covers the region.
//!
//! The boot region is 12 sectors: the boot sector, eight extended boot sectors, the OEM
//! parameters, a reserved sector, and a sector filled with the 32-bit checksum of the first
//! eleven (the volume flags and the percentage in use left out: they change as the volume
//! is used). A second copy (the backup boot region) follows. Every field is checked before
//! use: sector and cluster shifts in the specification's ranges, one or two FATs after the
//! boot regions, large enough for every cluster and ending before the cluster heap, a heap
//! inside the volume and a root directory cluster inside the heap.

use super::Bad;
use super::boot::{Boot, Kind};
use crate::bytes::{le32, le64};

/// The signature at byte 3.
pub(crate) const SIGNATURE: &[u8; 8] = b"EXFAT   ";
/// Sectors of one boot region (the checksum sector is the last).
pub(crate) const REGION_SECTORS: u64 = 12;
/// The cluster shift (sector shift plus sectors-per-cluster shift) at most: 32 MiB.
const MAX_CLUSTER_SHIFT: u32 = 25;
/// The last cluster number the FAT can name.
const MAX_CLUSTERS: u64 = 0xffff_fff5;

/// The bytes per sector of the exFAT boot sector at the start of `raw`, if it has the
/// signature and a sector shift in range: how much of the region to read.
pub(crate) fn sector_size(raw: &[u8]) -> Option<u64> {
    if raw.get(3..11) != Some(SIGNATURE.as_slice()) {
        return None;
    }
    let shift = u32::from(*raw.get(108)?);
    (9..=12).contains(&shift).then(|| 1u64 << shift)
}

/// Parses and checks the exFAT boot sector at the start of `raw`, and whether the checksum
/// sector of its region matches (`raw` holds the 12 sectors of the region; if it holds
/// fewer, the checksum is taken as not matching).
pub(crate) fn parse(raw: &[u8]) -> Result<(Boot, bool), Bad> {
    let bad = |at: usize, what: &str| Err(Bad::at(at, what.into()));
    if raw.len() < 512 {
        return bad(0, "the boot sector is cut short");
    }
    if raw[..3] != [0xeb, 0x76, 0x90] {
        return bad(0, "no exFAT jump instruction");
    }
    let Some(sector) = sector_size(raw) else {
        return bad(108, "no exFAT signature or an implausible sector size");
    };
    if raw[11..64].iter().any(|&b| b != 0) {
        return bad(11, "the bytes that must be zero are not");
    }
    if raw[510..512] != [0x55, 0xaa] {
        return bad(510, "no boot signature");
    }
    let sector_shift = u32::from(raw[108]);
    let cluster_shift = sector_shift.saturating_add(u32::from(raw[109]));
    if cluster_shift > MAX_CLUSTER_SHIFT {
        return bad(109, "implausible cluster size");
    }
    let cluster = 1u64 << cluster_shift;
    let per_cluster = 1u64 << u32::from(raw[109]);
    let fats = u64::from(raw[110]);
    if !(1..=2).contains(&fats) {
        return bad(110, "implausible number of FATs");
    }
    let total_sectors = le64(raw, 72);
    let fat_offset = u64::from(le32(raw, 80));
    let fat_sectors = u64::from(le32(raw, 84));
    let heap_offset = u64::from(le32(raw, 88));
    let clusters = u64::from(le32(raw, 92));
    let root_cluster = le32(raw, 96);
    if fat_offset < REGION_SECTORS.saturating_mul(2) {
        return bad(80, "the FAT overlaps the boot regions");
    }
    if fat_sectors == 0 || clusters == 0 || clusters > MAX_CLUSTERS {
        return bad(84, "no FAT sectors or an implausible cluster count");
    }
    let fats_end = fat_sectors
        .checked_mul(fats)
        .and_then(|len| len.checked_add(fat_offset));
    if fats_end.is_none_or(|end| end > heap_offset) {
        return bad(88, "the cluster heap begins inside the FATs");
    }
    let entries = clusters.saturating_add(2);
    if fat_sectors.saturating_mul(sector) < entries.saturating_mul(4) {
        return bad(84, "the FAT is too small for the clusters");
    }
    let heap_end = clusters
        .checked_mul(per_cluster)
        .and_then(|len| len.checked_add(heap_offset));
    if heap_end.is_none_or(|end| end > total_sectors) {
        return bad(92, "the cluster heap lies past the end of the volume");
    }
    let boot = Boot {
        kind: Kind::ExFat,
        sector,
        cluster,
        reserved: fat_offset,
        fats,
        fat_sectors,
        root_entries: 0,
        total_sectors,
        root_cluster,
        clusters,
        heap: Some(heap_offset.saturating_mul(sector)),
    };
    if boot.cluster_offset(u64::from(root_cluster)).is_none() {
        return bad(96, "the root directory's cluster is not a data cluster");
    }
    Ok((boot, checksum_matches(raw, sector)))
}

/// Whether the checksum sector (the 12th) of the region at the start of `raw` holds the
/// checksum of the 11 before it.
fn checksum_matches(raw: &[u8], sector: u64) -> bool {
    let Ok(sector) = usize::try_from(sector) else {
        return false;
    };
    let covered = sector.saturating_mul(11);
    let Some(region) = raw.get(..covered) else {
        return false;
    };
    let Some(stored) = raw.get(covered..covered.saturating_add(sector)) else {
        return false;
    };
    let sum = region.iter().enumerate().fold(0u32, |sum, (i, &b)| {
        if matches!(i, 106 | 107 | 112) {
            sum
        } else {
            sum.rotate_right(1).wrapping_add(u32::from(b))
        }
    });
    stored
        .chunks_exact(4)
        .all(|word| word == sum.to_le_bytes().as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A boot region as `mkfs.exfat` writes it for an 8 MiB volume with 4 KiB clusters, in
    /// the fields read, with its checksum sector.
    fn region() -> Vec<u8> {
        let mut raw = vec![0u8; 512 * 12];
        raw[..3].copy_from_slice(&[0xeb, 0x76, 0x90]);
        raw[3..11].copy_from_slice(SIGNATURE);
        raw[72..80].copy_from_slice(&16384u64.to_le_bytes());
        raw[80..84].copy_from_slice(&2048u32.to_le_bytes());
        raw[84..88].copy_from_slice(&16u32.to_le_bytes());
        raw[88..92].copy_from_slice(&4096u32.to_le_bytes());
        raw[92..96].copy_from_slice(&1536u32.to_le_bytes());
        raw[96..100].copy_from_slice(&5u32.to_le_bytes());
        raw[108] = 9;
        raw[109] = 3;
        raw[110] = 1;
        raw[510..512].copy_from_slice(&[0x55, 0xaa]);
        seal(&mut raw);
        raw
    }

    /// Writes the checksum sector of `raw`.
    fn seal(raw: &mut [u8]) {
        let sum = raw[..512 * 11]
            .iter()
            .enumerate()
            .fold(0u32, |sum, (i, &b)| {
                if matches!(i, 106 | 107 | 112) {
                    sum
                } else {
                    sum.rotate_right(1).wrapping_add(u32::from(b))
                }
            });
        for word in raw[512 * 11..].chunks_exact_mut(4) {
            word.copy_from_slice(&sum.to_le_bytes());
        }
    }

    #[test]
    fn a_boot_region_and_its_checksum() {
        let raw = region();
        let (boot, sealed) = parse(&raw).unwrap();
        assert!(sealed);
        assert_eq!(
            (boot.sector, boot.cluster, boot.clusters),
            (512, 4096, 1536)
        );
        assert_eq!(boot.fat_start(), 2048 * 512);
        assert_eq!(boot.data_start(), 4096 * 512);
        assert_eq!(boot.address_base(), 4096 * 512);
        assert_eq!(boot.cluster_offset(5), Some(4096 * 512 + 3 * 4096));
        // The volume flags and percentage in use are left out of the checksum ...
        let mut flags = raw.clone();
        flags[106] = 1;
        flags[112] = 40;
        assert!(parse(&flags).unwrap().1);
        // ... any other byte is not.
        let mut changed = raw.clone();
        changed[100] ^= 1;
        assert!(!parse(&changed).unwrap().1);
        assert!(!parse(&raw[..512 * 11]).unwrap().1, "no checksum sector");
    }

    #[test]
    fn implausible_fields_are_refused_with_their_byte() {
        let cases: [(usize, &[u8], usize); 9] = [
            (0, &[0xeb, 0x3c], 0),
            (20, &[1], 11),
            (108, &[13], 108),
            (109, &[17], 109),
            (110, &[3], 110),
            (80, &[4, 0, 0, 0], 80),
            (92, &[0xff, 0xff, 0xff, 0x7f], 84),
            (84, &[0, 0x10, 0, 0], 88),
            (96, &[1, 0, 0, 0], 96),
        ];
        for (at, bytes, reported) in cases {
            let mut raw = region();
            raw[at..at + bytes.len()].copy_from_slice(bytes);
            assert_eq!(parse(&raw).unwrap_err().at, reported, "{at}");
        }
        // A heap past the volume's length, and lengths that would overflow.
        let mut past = region();
        past[72..80].copy_from_slice(&10000u64.to_le_bytes());
        assert_eq!(parse(&past).unwrap_err().at, 92);
        let mut huge = region();
        huge[84..88].copy_from_slice(&u32::MAX.to_le_bytes());
        huge[110] = 2;
        assert_eq!(parse(&huge).unwrap_err().at, 88);
        assert!(parse(&region()[..300]).is_err());
    }
}
