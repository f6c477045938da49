//! What a volume holds, from the signatures at its start (no I/O).

/// The bytes [`detect`] needs from the start of a volume: enough to reach the btrfs
/// superblock at 64 KiB.
pub(crate) const PROBE_LEN: usize = 0x1_0000 + 0x1000;

/// What a volume (or a whole disk without a partition table) holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Content {
    /// ext2, ext3 or ext4.
    Ext,
    /// NTFS.
    Ntfs,
    /// FAT12, FAT16 or FAT32 (an EFI system partition, say).
    Fat,
    /// exFAT.
    ExFat,
    /// XFS.
    Xfs,
    /// btrfs.
    Btrfs,
    /// An LVM2 physical volume.
    Lvm,
    /// Linux swap.
    Swap,
    /// Nothing recognised: read as raw bytes only.
    Unknown,
}

impl Content {
    /// The usual name, as output shows it.
    pub fn name(self) -> &'static str {
        match self {
            Content::Ext => "ext4",
            Content::Ntfs => "ntfs",
            Content::Fat => "fat",
            Content::ExFat => "exfat",
            Content::Xfs => "xfs",
            Content::Btrfs => "btrfs",
            Content::Lvm => "lvm2",
            Content::Swap => "swap",
            Content::Unknown => "unknown",
        }
    }
}

/// Whether `bytes` has `magic` at `at`.
fn has(bytes: &[u8], at: usize, magic: &[u8]) -> bool {
    at.checked_add(magic.len())
        .and_then(|end| bytes.get(at..end))
        .is_some_and(|found| found == magic)
}

/// Names the content of a volume from its first bytes (up to [`PROBE_LEN`]).
pub(crate) fn detect(start: &[u8]) -> Content {
    if has(start, 1024 + 56, &[0x53, 0xef]) {
        Content::Ext
    } else if has(start, 3, b"NTFS    ") {
        Content::Ntfs
    } else if has(start, 3, b"EXFAT   ") {
        Content::ExFat
    } else if has(start, 0, b"XFSB") {
        Content::Xfs
    } else if has(start, 0x1_0040, b"_BHRfS_M") {
        Content::Btrfs
    } else if has(start, 512, b"LABELONE") && has(start, 512 + 24, b"LVM2 001") {
        Content::Lvm
    } else if has(start, 4096 - 10, b"SWAPSPACE2") {
        Content::Swap
    } else if has(start, 510, &[0x55, 0xaa])
        && (has(start, 54, b"FAT1") || has(start, 82, b"FAT32   "))
    {
        Content::Fat
    } else {
        Content::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let mut ext = vec![0u8; 2048];
        ext[1080..1082].copy_from_slice(&[0x53, 0xef]);
        assert_eq!(detect(&ext), Content::Ext);
        let mut ntfs = vec![0u8; 512];
        ntfs[3..11].copy_from_slice(b"NTFS    ");
        assert_eq!(detect(&ntfs), Content::Ntfs);
        assert_eq!(detect(&[0u8; 100]), Content::Unknown);
        assert_eq!(detect(&[]), Content::Unknown);
    }
}
