//! The FAT boot sector (BIOS parameter block), parsed and checked from bytes (no I/O).
//!
//! The checks are strict enough for the search of volumes no table names
//! ([`crate::volume`]) to trust them: a jump instruction, sizes that are powers of two in the
//! ranges the specification allows, at least one reserved sector, one to four FATs large
//! enough for every cluster, a media byte, the boot signature, a cluster count that names the
//! FAT type the fields say (FAT32 has no fixed root directory and 32-bit FAT sizes), and a
//! data area inside the volume.

use super::{Bad, le16, le32};

/// Cluster counts below this are FAT12, as the specification decides the type.
const FAT12_MAX: u64 = 4085;
/// Cluster counts below this (and not FAT12) are FAT16.
const FAT16_MAX: u64 = 65525;
/// FAT32 numbers clusters in 28 bits.
const FAT32_MAX: u64 = 0x0fff_fff5;
/// Bytes per cluster at most (the specification's 32 KiB, with room for 4 KiB sectors).
const MAX_CLUSTER: u64 = 256 << 10;

/// Which FAT: the width of its entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// 12-bit entries.
    Fat12,
    /// 16-bit entries.
    Fat16,
    /// 32-bit entries (28 bits used).
    Fat32,
    /// exFAT: 32-bit entries, all bits used, free space in an allocation bitmap.
    ExFat,
}

impl Kind {
    /// `fat12`, `fat16` or `fat32`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Fat12 => "fat12",
            Kind::Fat16 => "fat16",
            Kind::Fat32 => "fat32",
            Kind::ExFat => "exfat",
        }
    }
}

/// What a FAT boot sector says, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Boot {
    /// The FAT type.
    pub(crate) kind: Kind,
    /// Bytes per sector.
    pub(crate) sector: u64,
    /// Bytes per cluster.
    pub(crate) cluster: u64,
    /// Sectors before the first FAT.
    pub(crate) reserved: u64,
    /// How many FATs.
    pub(crate) fats: u64,
    /// Sectors per FAT.
    pub(crate) fat_sectors: u64,
    /// Entries of the fixed root directory (FAT12/16; 0 for FAT32).
    pub(crate) root_entries: u64,
    /// Sectors of the volume.
    pub(crate) total_sectors: u64,
    /// The first cluster of the root directory (FAT32).
    pub(crate) root_cluster: u32,
    /// Data clusters, numbered from 2.
    pub(crate) clusters: u64,
    /// exFAT: the volume offset of the cluster heap (cluster 2), which the boot sector
    /// gives; FAT12/16/32 have it right past the FATs and the fixed root directory.
    pub(crate) heap: Option<u64>,
}

impl Boot {
    /// The volume offset of the first FAT.
    pub(crate) fn fat_start(&self) -> u64 {
        self.reserved.saturating_mul(self.sector)
    }

    /// The bytes of one FAT.
    pub(crate) fn fat_len(&self) -> u64 {
        self.fat_sectors.saturating_mul(self.sector)
    }

    /// The volume offset just past the FATs: the fixed root directory of FAT12/16, the data
    /// area of FAT32. Directory entry addresses count from it.
    pub(crate) fn after_fats(&self) -> u64 {
        self.fat_start()
            .saturating_add(self.fats.saturating_mul(self.fat_len()))
    }

    /// The bytes of the fixed root directory (FAT12/16), whole sectors.
    pub(crate) fn root_len(&self) -> u64 {
        self.root_entries
            .saturating_mul(32)
            .div_ceil(self.sector)
            .saturating_mul(self.sector)
    }

    /// The volume offset of cluster 2.
    pub(crate) fn data_start(&self) -> u64 {
        self.heap
            .unwrap_or_else(|| self.after_fats().saturating_add(self.root_len()))
    }

    /// The volume offset from which The Sleuth Kit numbers directory entries: past the FATs
    /// (FAT12/16/32), the cluster heap (exFAT).
    pub(crate) fn address_base(&self) -> u64 {
        match self.kind {
            Kind::ExFat => self.data_start(),
            Kind::Fat12 | Kind::Fat16 | Kind::Fat32 => self.after_fats(),
        }
    }

    /// The volume offset of cluster `cluster`, if it is a data cluster.
    pub(crate) fn cluster_offset(&self, cluster: u64) -> Option<u64> {
        let index = cluster.checked_sub(2).filter(|&i| i < self.clusters)?;
        self.data_start()
            .checked_add(index.checked_mul(self.cluster)?)
    }

    /// The volume offset just past the last data cluster.
    pub(crate) fn data_end(&self) -> u64 {
        self.data_start()
            .saturating_add(self.clusters.saturating_mul(self.cluster))
    }

    /// The bytes of the volume, as the boot sector counts them.
    pub(crate) fn volume_len(&self) -> u64 {
        self.total_sectors.saturating_mul(self.sector)
    }
}

/// Parses and checks the boot sector at the start of `raw` (at least 512 bytes).
pub(crate) fn parse(raw: &[u8]) -> Result<Boot, Bad> {
    let bad = |at: usize, what: &str| Err(Bad::at(at, what.into()));
    if raw.len() < 512 {
        return bad(0, "the boot sector is cut short");
    }
    if !(raw[0] == 0xeb && raw[2] == 0x90) && raw[0] != 0xe9 {
        return bad(0, "no jump instruction");
    }
    if raw[510..512] != [0x55, 0xaa] {
        return bad(510, "no boot signature");
    }
    let sector = u64::from(le16(raw, 11));
    if !(512..=4096).contains(&sector) || !sector.is_power_of_two() {
        return bad(11, "implausible bytes per sector");
    }
    let per_cluster = u64::from(raw[13]);
    if per_cluster == 0 || !per_cluster.is_power_of_two() {
        return bad(13, "implausible sectors per cluster");
    }
    let cluster = per_cluster.saturating_mul(sector);
    if cluster > MAX_CLUSTER {
        return bad(13, "implausible cluster size");
    }
    let reserved = u64::from(le16(raw, 14));
    if reserved == 0 {
        return bad(14, "no reserved sector");
    }
    let fats = u64::from(raw[16]);
    if !(1..=4).contains(&fats) {
        return bad(16, "implausible number of FATs");
    }
    let root_entries = u64::from(le16(raw, 17));
    let media = raw[21];
    if media != 0xf0 && media < 0xf8 {
        return bad(21, "implausible media byte");
    }
    let total_sectors = match le16(raw, 19) {
        0 => u64::from(le32(raw, 32)),
        n => u64::from(n),
    };
    let fat16_sectors = u64::from(le16(raw, 22));
    let fat_sectors = match fat16_sectors {
        0 => u64::from(le32(raw, 36)),
        n => n,
    };
    if fat_sectors == 0 || total_sectors == 0 {
        return bad(19, "no sectors or no FAT sectors");
    }
    let mut boot = Boot {
        kind: Kind::Fat12,
        sector,
        cluster,
        reserved,
        fats,
        fat_sectors,
        root_entries,
        total_sectors,
        root_cluster: 0,
        clusters: 0,
        heap: None,
    };
    let data_sectors = total_sectors
        .checked_sub(boot.data_start().checked_div(sector).unwrap_or(u64::MAX))
        .filter(|&n| n > 0);
    let Some(data_sectors) = data_sectors else {
        return bad(19, "the data area lies past the end of the volume");
    };
    let clusters = data_sectors.checked_div(per_cluster).unwrap_or(0);
    boot.clusters = clusters;
    boot.kind = if clusters < FAT12_MAX {
        Kind::Fat12
    } else if clusters < FAT16_MAX {
        Kind::Fat16
    } else if clusters <= FAT32_MAX {
        Kind::Fat32
    } else {
        return bad(19, "more clusters than FAT32 numbers");
    };
    if clusters == 0 {
        return bad(13, "no data cluster");
    }
    // Entries the FAT must hold: clusters 0 and 1 (reserved), then every data cluster.
    let entries = clusters.saturating_add(2);
    let fat_bits = match boot.kind {
        Kind::Fat12 => 12u64,
        Kind::Fat16 => 16,
        Kind::Fat32 | Kind::ExFat => 32,
    };
    if boot.fat_len().saturating_mul(8) < entries.saturating_mul(fat_bits) {
        return bad(22, "the FAT is too small for the clusters");
    }
    if boot.kind == Kind::Fat32 {
        if root_entries != 0 || fat16_sectors != 0 {
            return bad(17, "a FAT32 volume with a fixed root directory");
        }
        boot.root_cluster = le32(raw, 44);
        if boot.cluster_offset(u64::from(boot.root_cluster)).is_none() {
            return bad(44, "the root directory's cluster is not a data cluster");
        }
    } else if root_entries == 0 {
        return bad(17, "a FAT12/16 volume without a root directory");
    }
    Ok(boot)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The boot sector `mkfs.fat -F 16` writes for a 16 MiB volume, in the fields read.
    pub(crate) fn fat16() -> Vec<u8> {
        let mut raw = vec![0u8; 512];
        raw[..3].copy_from_slice(&[0xeb, 0x3c, 0x90]);
        raw[11..13].copy_from_slice(&512u16.to_le_bytes());
        raw[13] = 4;
        raw[14..16].copy_from_slice(&4u16.to_le_bytes());
        raw[16] = 2;
        raw[17..19].copy_from_slice(&512u16.to_le_bytes());
        raw[19..21].copy_from_slice(&32768u16.to_le_bytes());
        raw[21] = 0xf8;
        raw[22..24].copy_from_slice(&32u16.to_le_bytes());
        raw[510..512].copy_from_slice(&[0x55, 0xaa]);
        raw
    }

    #[test]
    fn a_fat16_boot_sector() {
        let boot = parse(&fat16()).unwrap();
        assert_eq!(boot.kind, Kind::Fat16);
        assert_eq!(boot.after_fats(), (4 + 64) * 512);
        assert_eq!(boot.data_start(), (4 + 64 + 32) * 512);
        assert_eq!(boot.clusters, (32768 - 100) / 4);
        assert_eq!(boot.cluster_offset(2), Some(boot.data_start()));
        assert_eq!(boot.cluster_offset(1), None);
        assert_eq!(boot.cluster_offset(boot.clusters + 2), None);
        assert_eq!(boot.volume_len(), 16 << 20);
    }

    #[test]
    fn implausible_fields_are_refused_with_their_byte() {
        let cases: [(usize, &[u8], usize); 8] = [
            (0, &[0], 0),
            (11, &[0x00, 0x03], 11),
            (13, &[3], 13),
            (14, &[0, 0], 14),
            (16, &[9], 16),
            (21, &[0x12], 21),
            (22, &[1, 0], 22),
            (19, &[100, 0], 19),
        ];
        for (at, bytes, reported) in cases {
            let mut raw = fat16();
            raw[at..at + bytes.len()].copy_from_slice(bytes);
            assert_eq!(parse(&raw).unwrap_err().at, reported, "{at}");
        }
        assert!(parse(&fat16()[..300]).is_err());
    }
}
