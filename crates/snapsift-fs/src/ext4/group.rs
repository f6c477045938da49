//! Block groups: their descriptors (parsed from bytes, no I/O) and where each group keeps
//! its copies of the superblock and descriptor table.

use std::ops::Range;

use super::superblock::{INCOMPAT_META_BG, Superblock};
use super::{le16, le32};

/// `bg_flags`: the inode bitmap and table are not initialised (no inode in use).
const INODE_UNINIT: u16 = 0x1;
/// `bg_flags`: the block bitmap is not initialised (only the group's metadata is in use).
const BLOCK_UNINIT: u16 = 0x2;

/// One group descriptor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct GroupDesc {
    /// Block of the block bitmap.
    pub(crate) block_bitmap: u64,
    /// Block of the inode bitmap.
    pub(crate) inode_bitmap: u64,
    /// First block of the inode table.
    pub(crate) inode_table: u64,
    /// `bg_flags`.
    pub(crate) flags: u16,
    /// Inodes at the end of the table never used (valid with group checksums).
    pub(crate) itable_unused: u64,
}

impl GroupDesc {
    /// Whether the block bitmap is to be ignored (the group is free but for its metadata).
    pub(crate) fn block_uninit(&self, sb: &Superblock) -> bool {
        sb.has_group_checksums() && self.flags & BLOCK_UNINIT != 0
    }

    /// How many inodes from the start of the table may ever have been used.
    pub(crate) fn initialised_inodes(&self, sb: &Superblock) -> u64 {
        if !sb.has_group_checksums() {
            return sb.inodes_per_group;
        }
        if self.flags & INODE_UNINIT != 0 {
            return 0;
        }
        sb.inodes_per_group.saturating_sub(self.itable_unused)
    }
}

/// Parses the descriptor in `raw` (`desc_size` bytes; the high halves only on 64-bit
/// filesystems).
pub(crate) fn parse_desc(raw: &[u8], is_64bit: bool) -> GroupDesc {
    let lo = |at| u64::from(le32(raw, at));
    let hi = |at| {
        if is_64bit && raw.len() >= 64 {
            u64::from(le32(raw, at)) << 32
        } else {
            0
        }
    };
    let unused_hi = if is_64bit && raw.len() >= 64 {
        u64::from(le16(raw, 0x32)) << 16
    } else {
        0
    };
    GroupDesc {
        block_bitmap: lo(0x0) | hi(0x20),
        inode_bitmap: lo(0x4) | hi(0x24),
        inode_table: lo(0x8) | hi(0x28),
        flags: le16(raw, 0x12),
        itable_unused: u64::from(le16(raw, 0x1c)) | unused_hi,
    }
}

/// The block holding descriptor block `index` (the descriptors of groups `index *
/// descs_per_block ..`) in its primary copy.
pub(crate) fn desc_block(sb: &Superblock, index: u64) -> u64 {
    if !sb.has_incompat(INCOMPAT_META_BG) || index < sb.first_meta_bg {
        return sb.first_data_block.saturating_add(1).saturating_add(index);
    }
    // Under meta_bg, each meta group's descriptor block is in its first group, after the
    // superblock copy if that group has one.
    let group = index.saturating_mul(sb.descs_per_block());
    sb.group_first_block(group)
        .saturating_add(u64::from(sb.group_has_super(group)))
}

/// The blocks of group `group` holding a superblock copy, descriptor table blocks and
/// reserved descriptor blocks (as `ext2fs_super_and_bgd_loc2` lays them out).
pub(crate) fn super_and_desc_blocks(sb: &Superblock, group: u64) -> Vec<Range<u64>> {
    let mut ranges = Vec::new();
    let first = sb.group_first_block(group);
    let has_super = sb.group_has_super(group);
    if has_super {
        ranges.push(first..first.saturating_add(1));
    }
    let meta_bg = sb.has_incompat(INCOMPAT_META_BG);
    let per_block = sb.descs_per_block();
    let meta_group = group.checked_div(per_block).unwrap_or(0);
    if !meta_bg || meta_group < sb.first_meta_bg {
        if has_super {
            let old_desc_blocks = if meta_bg {
                sb.first_meta_bg
            } else {
                sb.desc_blocks().saturating_add(sb.reserved_gdt_blocks)
            };
            let start = first.saturating_add(1);
            ranges.push(start..start.saturating_add(old_desc_blocks));
        }
    } else {
        let in_meta = group.checked_rem(per_block).unwrap_or(0);
        if in_meta == 0 || in_meta == 1 || in_meta == per_block.saturating_sub(1) {
            let at = first.saturating_add(u64::from(has_super));
            ranges.push(at..at.saturating_add(1));
        }
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext4::superblock;

    #[test]
    fn descriptor_fields() {
        let mut raw = vec![0u8; 64];
        raw[0..4].copy_from_slice(&10u32.to_le_bytes());
        raw[4..8].copy_from_slice(&11u32.to_le_bytes());
        raw[8..12].copy_from_slice(&12u32.to_le_bytes());
        raw[0x12] = 0x3;
        raw[0x1c] = 5;
        raw[0x20..0x24].copy_from_slice(&1u32.to_le_bytes());
        let desc = parse_desc(&raw, true);
        assert_eq!(desc.block_bitmap, (1 << 32) | 10);
        assert_eq!(desc.inode_bitmap, 11);
        assert_eq!(desc.itable_unused, 5);
        assert_eq!(parse_desc(&raw, false).block_bitmap, 10);
        assert_eq!(parse_desc(&raw[..10], false).inode_table, 0);
    }

    #[test]
    fn layout_without_meta_bg() {
        let mut raw = superblock::tests::minimal();
        raw[0xce] = 3; // Reserved GDT blocks.
        let sb = superblock::parse(&raw).unwrap();
        assert_eq!(super_and_desc_blocks(&sb, 0), vec![1..2, 2..6]);
        assert_eq!(desc_block(&sb, 0), 2);
    }
}
