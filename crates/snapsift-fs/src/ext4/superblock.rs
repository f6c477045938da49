//! The ext2/3/4 superblock, parsed from its 1024 bytes (no I/O), and the geometry it implies.

use super::{le16, le32};
use crate::FsError;

/// Where the primary superblock is, in bytes from the start of the volume.
pub(crate) const OFFSET: u64 = 1024;
/// The superblock's size in bytes.
pub(crate) const SIZE: usize = 1024;
/// `s_magic`.
const MAGIC: u16 = 0xef53;

// Feature flags this module reads (the names of `ext4.h`, without their prefixes).
/// compat: the filesystem has a journal.
pub(crate) const COMPAT_HAS_JOURNAL: u32 = 0x4;
/// compat: backup superblocks only in the two groups named by `s_backup_bgs`.
const COMPAT_SPARSE_SUPER2: u32 = 0x200;
/// compat: orphan inodes tracked in a file (`s_orphan_file_inum`).
const COMPAT_ORPHAN_FILE: u32 = 0x1000;

/// incompat: directory entries carry a file type byte.
pub(crate) const INCOMPAT_FILETYPE: u32 = 0x2;
/// incompat: the journal has transactions to replay.
pub(crate) const INCOMPAT_RECOVER: u32 = 0x4;
/// incompat: this volume is an external journal, not a filesystem.
const INCOMPAT_JOURNAL_DEV: u32 = 0x8;
/// incompat: group descriptors are spread over meta block groups.
pub(crate) const INCOMPAT_META_BG: u32 = 0x10;
/// incompat: files may map their blocks with extent trees.
pub(crate) const INCOMPAT_EXTENTS: u32 = 0x40;
/// incompat: block numbers have 64 bits, group descriptors `s_desc_size` bytes.
const INCOMPAT_64BIT: u32 = 0x80;
/// incompat: multiple mount protection (one MMP block).
const INCOMPAT_MMP: u32 = 0x100;
/// incompat: bitmaps and inode tables of a flex group may sit together anywhere.
const INCOMPAT_FLEX_BG: u32 = 0x200;
/// incompat: large extended attribute values live in their own inodes.
const INCOMPAT_EA_INODE: u32 = 0x400;
/// incompat: directory entries may carry data after the name (Lustre).
const INCOMPAT_DIRDATA: u32 = 0x1000;
/// incompat: the checksum seed is stored in the superblock.
const INCOMPAT_CSUM_SEED: u32 = 0x2000;
/// incompat: directories larger than 2 GiB, three-level htrees.
const INCOMPAT_LARGEDIR: u32 = 0x4000;
/// incompat: small files and directories live inside their inodes.
pub(crate) const INCOMPAT_INLINE_DATA: u32 = 0x8000;
/// incompat: some files and names are encrypted (fscrypt).
pub(crate) const INCOMPAT_ENCRYPT: u32 = 0x1_0000;
/// incompat: some directories fold case.
const INCOMPAT_CASEFOLD: u32 = 0x2_0000;
/// The incompat features the map understands; any other one is refused, as the kernel
/// refuses to mount it.
const INCOMPAT_KNOWN: u32 = INCOMPAT_FILETYPE
    | INCOMPAT_RECOVER
    | INCOMPAT_META_BG
    | INCOMPAT_EXTENTS
    | INCOMPAT_64BIT
    | INCOMPAT_MMP
    | INCOMPAT_FLEX_BG
    | INCOMPAT_EA_INODE
    | INCOMPAT_DIRDATA
    | INCOMPAT_CSUM_SEED
    | INCOMPAT_LARGEDIR
    | INCOMPAT_INLINE_DATA
    | INCOMPAT_ENCRYPT
    | INCOMPAT_CASEFOLD;

/// ro_compat: backup superblocks only in groups 0, 1 and powers of 3, 5 and 7.
const RO_COMPAT_SPARSE_SUPER: u32 = 0x1;
/// ro_compat: group descriptors carry checksums (and the uninit flags are valid).
const RO_COMPAT_GDT_CSUM: u32 = 0x10;
/// ro_compat: quota inodes.
const RO_COMPAT_QUOTA: u32 = 0x100;
/// ro_compat: blocks are allocated in clusters.
const RO_COMPAT_BIGALLOC: u32 = 0x200;
/// ro_compat: metadata checksums (implies what `GDT_CSUM` implies).
pub(crate) const RO_COMPAT_METADATA_CSUM: u32 = 0x400;
/// ro_compat: project quota inode.
const RO_COMPAT_PROJECT: u32 = 0x2000;

/// The inode number of the root directory.
pub(crate) const ROOT_INODE: u64 = 2;
/// The largest block size ext4 knows (64 KiB, `s_log_block_size` 6).
const MAX_LOG_BLOCK_SIZE: u32 = 6;

/// What the map needs from the superblock, checked for consistency.
#[derive(Clone, Debug)]
pub(crate) struct Superblock {
    /// `s_inodes_count`.
    pub(crate) inodes_count: u64,
    /// Blocks in the filesystem (`s_blocks_count`, with its high half on 64-bit ones).
    pub(crate) blocks_count: u64,
    /// The block holding the primary superblock: 1 with 1 KiB blocks, else 0.
    pub(crate) first_data_block: u64,
    /// Bytes per block.
    pub(crate) block_size: u64,
    /// Blocks per allocation cluster: 1 unless bigalloc.
    pub(crate) cluster_ratio: u64,
    /// Blocks per group (clusters per group times the cluster ratio).
    pub(crate) blocks_per_group: u64,
    /// Bits used in a group's block bitmap (clusters per group).
    pub(crate) clusters_per_group: u64,
    /// Inodes per group.
    pub(crate) inodes_per_group: u64,
    /// The first inode number not reserved for the filesystem itself.
    pub(crate) first_ino: u64,
    /// Bytes per inode record in an inode table.
    pub(crate) inode_size: u64,
    /// Bytes per group descriptor.
    pub(crate) desc_size: u64,
    /// `s_reserved_gdt_blocks`: blocks kept after the descriptors to grow the filesystem.
    pub(crate) reserved_gdt_blocks: u64,
    /// `s_first_meta_bg`: descriptor blocks still laid out the old way under meta_bg.
    pub(crate) first_meta_bg: u64,
    /// The journal's inode (0 without an internal journal).
    pub(crate) journal_inode: u64,
    /// `s_journal_dev`: non-zero when the journal is on another device.
    pub(crate) journal_dev: u32,
    /// The multiple mount protection block, if any.
    pub(crate) mmp_block: Option<u64>,
    /// Groups holding backup superblocks under sparse_super2.
    pub(crate) backup_bgs: [u64; 2],
    /// Inodes that hold filesystem data though numbered like files: quota, orphan file.
    pub(crate) system_inodes: Vec<u64>,
    /// `s_feature_compat`.
    pub(crate) compat: u32,
    /// `s_feature_incompat`.
    pub(crate) incompat: u32,
    /// `s_feature_ro_compat`.
    pub(crate) ro_compat: u32,
    /// Number of block groups.
    pub(crate) group_count: u64,
}

impl Superblock {
    /// Whether `incompat` has all of `flags`.
    pub(crate) fn has_incompat(&self, flags: u32) -> bool {
        self.incompat & flags == flags
    }

    /// Whether group descriptors carry checksums, which makes their uninit flags and
    /// `bg_itable_unused` meaningful.
    pub(crate) fn has_group_checksums(&self) -> bool {
        self.ro_compat & (RO_COMPAT_GDT_CSUM | RO_COMPAT_METADATA_CSUM) != 0
    }

    /// Whether the filesystem allocates in clusters (bigalloc).
    pub(crate) fn is_bigalloc(&self) -> bool {
        self.ro_compat & RO_COMPAT_BIGALLOC != 0
    }

    /// Whether block numbers (and group descriptor fields) have 64 bits.
    pub(crate) fn is_64bit(&self) -> bool {
        self.has_incompat(INCOMPAT_64BIT)
    }

    /// Group descriptors per block.
    pub(crate) fn descs_per_block(&self) -> u64 {
        self.block_size
            .checked_div(self.desc_size)
            .unwrap_or(1)
            .max(1)
    }

    /// Blocks of the whole descriptor table (without meta_bg).
    pub(crate) fn desc_blocks(&self) -> u64 {
        self.group_count.div_ceil(self.descs_per_block())
    }

    /// Blocks of one group's inode table.
    pub(crate) fn inode_table_blocks(&self) -> u64 {
        self.inodes_per_group
            .saturating_mul(self.inode_size)
            .div_ceil(self.block_size)
    }

    /// Whether group `group` holds a copy of the superblock (and, without meta_bg, of the
    /// descriptor table).
    pub(crate) fn group_has_super(&self, group: u64) -> bool {
        if group == 0 {
            return true;
        }
        if self.compat & COMPAT_SPARSE_SUPER2 != 0 {
            return self.backup_bgs.contains(&group);
        }
        if group == 1 || self.ro_compat & RO_COMPAT_SPARSE_SUPER == 0 {
            return true;
        }
        [3u64, 5, 7]
            .into_iter()
            .any(|base| is_power_of(group, base))
    }

    /// The first block of group `group`.
    pub(crate) fn group_first_block(&self, group: u64) -> u64 {
        group
            .saturating_mul(self.blocks_per_group)
            .saturating_add(self.first_data_block)
    }

    /// Bytes the filesystem spans.
    pub(crate) fn fs_bytes(&self) -> u64 {
        self.blocks_count.saturating_mul(self.block_size)
    }
}

/// Whether `n` is a power of `base` (`base` ≥ 2, `n` ≥ 1).
fn is_power_of(mut n: u64, base: u64) -> bool {
    while n > 1 && n.is_multiple_of(base) {
        n = n.checked_div(base).unwrap_or(0);
    }
    n == 1
}

/// Parses the superblock from its [`SIZE`] bytes, refusing what cannot be an ext
/// filesystem or uses features the map does not understand.
pub(crate) fn parse(raw: &[u8]) -> Result<Superblock, FsError> {
    let not_ext = |why: &str| Err(FsError::NotExt(why.to_string()));
    let unsupported = |why: String| Err(FsError::Unsupported(why));
    if raw.len() < SIZE {
        return not_ext("the volume is too small to hold a superblock");
    }
    if le16(raw, 0x38) != MAGIC {
        return not_ext("no ext2/3/4 superblock magic");
    }
    let compat = le32(raw, 0x5c);
    let incompat = le32(raw, 0x60);
    let ro_compat = le32(raw, 0x64);
    if incompat & INCOMPAT_JOURNAL_DEV != 0 {
        return not_ext("this volume is an external ext4 journal, not a filesystem");
    }
    let unknown = incompat & !INCOMPAT_KNOWN;
    if unknown != 0 {
        return unsupported(format!(
            "incompatible features {unknown:#x} (compression or newer)"
        ));
    }
    let log_block = le32(raw, 0x18);
    if log_block > MAX_LOG_BLOCK_SIZE {
        return unsupported(format!("block size 2^{} KiB", log_block));
    }
    let block_size = 1024u64 << log_block;
    let bits_per_bitmap = block_size.saturating_mul(8);
    let (cluster_ratio, clusters_per_group) = if ro_compat & RO_COMPAT_BIGALLOC != 0 {
        let log_cluster = le32(raw, 0x1c);
        if log_cluster < log_block || log_cluster > log_block.saturating_add(16) {
            return unsupported(format!("cluster size 2^{log_cluster} KiB"));
        }
        let shift = log_cluster.saturating_sub(log_block);
        (1u64 << shift, u64::from(le32(raw, 0x24)))
    } else {
        (1, u64::from(le32(raw, 0x20)))
    };
    if clusters_per_group == 0 || clusters_per_group > bits_per_bitmap {
        return not_ext("implausible blocks per group");
    }
    let blocks_per_group = clusters_per_group.saturating_mul(cluster_ratio);
    let inodes_per_group = u64::from(le32(raw, 0x28));
    if inodes_per_group == 0 || inodes_per_group > bits_per_bitmap {
        return not_ext("implausible inodes per group");
    }
    let rev_level = le32(raw, 0x4c);
    let (first_ino, inode_size) = if rev_level == 0 {
        (11, 128)
    } else {
        (u64::from(le32(raw, 0x54)), u64::from(le16(raw, 0x58)))
    };
    if inode_size < 128 || !inode_size.is_power_of_two() || inode_size > block_size {
        return not_ext("implausible inode size");
    }
    let is_64bit = incompat & INCOMPAT_64BIT != 0;
    let desc_size = if is_64bit {
        u64::from(le16(raw, 0xfe))
    } else {
        32
    };
    if desc_size < 32 || !desc_size.is_power_of_two() || desc_size > block_size {
        return not_ext("implausible group descriptor size");
    }
    let mut blocks_count = u64::from(le32(raw, 0x4));
    if is_64bit {
        blocks_count |= u64::from(le32(raw, 0x150)) << 32;
    }
    let first_data_block = u64::from(le32(raw, 0x14));
    if first_data_block > 1 || blocks_count <= first_data_block {
        return not_ext("implausible block count or first data block");
    }
    // Blocks past 2^48 are out of any extent's reach and of any real disk.
    if blocks_count >> 48 != 0 {
        return not_ext("implausible block count");
    }
    let group_count = blocks_count
        .saturating_sub(first_data_block)
        .div_ceil(blocks_per_group);
    let inodes_count = u64::from(le32(raw, 0x0));
    if inodes_count > group_count.saturating_mul(inodes_per_group) {
        return not_ext("more inodes than the groups hold");
    }
    let journal_inode = if compat & COMPAT_HAS_JOURNAL != 0 {
        u64::from(le32(raw, 0xe0))
    } else {
        0
    };
    let mmp_block = (incompat & INCOMPAT_MMP != 0)
        .then(|| u64::from(le32(raw, 0x168)) | (u64::from(le32(raw, 0x16c)) << 32));
    let mut system_inodes = Vec::new();
    if ro_compat & RO_COMPAT_QUOTA != 0 {
        system_inodes.extend([le32(raw, 0x240), le32(raw, 0x244)]);
    }
    if ro_compat & RO_COMPAT_PROJECT != 0 {
        system_inodes.push(le32(raw, 0x26c));
    }
    if compat & COMPAT_ORPHAN_FILE != 0 {
        system_inodes.push(le32(raw, 0x280));
    }
    let system_inodes = system_inodes
        .into_iter()
        .filter(|&n| n != 0)
        .map(u64::from)
        .collect();
    Ok(Superblock {
        inodes_count,
        blocks_count,
        first_data_block,
        block_size,
        cluster_ratio,
        blocks_per_group,
        clusters_per_group,
        inodes_per_group,
        first_ino,
        inode_size,
        desc_size,
        reserved_gdt_blocks: u64::from(le16(raw, 0xce)),
        first_meta_bg: u64::from(le32(raw, 0x104)),
        journal_inode,
        journal_dev: le32(raw, 0xe4),
        mmp_block,
        backup_bgs: [u64::from(le32(raw, 0x24c)), u64::from(le32(raw, 0x250))],
        system_inodes,
        compat,
        incompat,
        ro_compat,
        group_count,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal valid superblock: 1 KiB blocks, 8192 blocks, one group.
    pub(crate) fn minimal() -> Vec<u8> {
        let mut raw = vec![0u8; SIZE];
        raw[0x0..0x4].copy_from_slice(&2048u32.to_le_bytes());
        raw[0x4..0x8].copy_from_slice(&8192u32.to_le_bytes());
        raw[0x14..0x18].copy_from_slice(&1u32.to_le_bytes());
        raw[0x20..0x24].copy_from_slice(&8192u32.to_le_bytes());
        raw[0x28..0x2c].copy_from_slice(&2048u32.to_le_bytes());
        raw[0x38..0x3a].copy_from_slice(&MAGIC.to_le_bytes());
        raw[0x4c..0x50].copy_from_slice(&1u32.to_le_bytes());
        raw[0x54..0x58].copy_from_slice(&11u32.to_le_bytes());
        raw[0x58..0x5a].copy_from_slice(&256u16.to_le_bytes());
        raw
    }

    #[test]
    fn geometry() {
        let sb = parse(&minimal()).unwrap();
        assert_eq!(sb.block_size, 1024);
        assert_eq!(sb.group_count, 1);
        assert_eq!(sb.inode_table_blocks(), 512);
        assert_eq!(sb.desc_size, 32);
        assert!(sb.group_has_super(0));
    }

    #[test]
    fn refusals() {
        assert!(matches!(parse(&[0u8; 100]), Err(FsError::NotExt(_))));
        let mut raw = minimal();
        raw[0x38] = 0;
        assert!(matches!(parse(&raw), Err(FsError::NotExt(_))));
        let mut raw = minimal();
        raw[0x60] = 0x1; // Compression.
        assert!(matches!(parse(&raw), Err(FsError::Unsupported(_))));
        let mut raw = minimal();
        raw[0x18] = 40; // A block size no shift can hold.
        assert!(matches!(parse(&raw), Err(FsError::Unsupported(_))));
        let mut raw = minimal();
        raw[0x20..0x24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(&raw).is_err());
    }

    #[test]
    fn sparse_super_backups() {
        let mut raw = minimal();
        raw[0x64] = 0x1;
        let sb = parse(&raw).unwrap();
        let with_super: Vec<u64> = (0..60).filter(|&g| sb.group_has_super(g)).collect();
        assert_eq!(with_super, vec![0, 1, 3, 5, 7, 9, 25, 27, 49]);
    }
}
