//! The XFS superblock, parsed from the first sector of the volume (no I/O), and the geometry
//! it implies: allocation groups, block and inode numbers.

use super::{be16, be32, be64};
use crate::FsError;

/// Bytes of the superblock the map reads (it fits the smallest sector).
pub(crate) const SIZE: usize = 512;
/// `sb_magicnum`: `XFSB`.
const MAGIC: u32 = 0x5846_5342;

/// `sb_versionnum`: the low bits are the version (4 or 5)...
const VERSION_MASK: u16 = 0xf;
/// ...this bit says `sb_features2` is valid (v4).
const VERSION_MOREBITS: u16 = 0x8000;
/// `sb_features2` (v4): directory entries carry a file type byte.
const FEATURES2_FTYPE: u32 = 0x200;

/// `sb_features_incompat` (v5): directory entries carry a file type byte.
const INCOMPAT_FTYPE: u32 = 0x1;
/// `sb_features_incompat`: inode chunks may be sparse (`ir_holemask`).
pub(crate) const INCOMPAT_SPINODES: u32 = 0x2;
/// `sb_features_incompat`: metadata carries `sb_meta_uuid`.
const INCOMPAT_META_UUID: u32 = 0x4;
/// `sb_features_incompat`: timestamps past 2038.
const INCOMPAT_BIGTIME: u32 = 0x8;
/// `sb_features_incompat`: `xfs_repair` must run before the next mount.
const INCOMPAT_NEEDSREPAIR: u32 = 0x10;
/// `sb_features_incompat`: 64-bit extent counters (`di_big_nextents`).
pub(crate) const INCOMPAT_NREXT64: u32 = 0x20;
/// The incompat features the map understands; any other one is refused, as the kernel
/// refuses to mount it.
const INCOMPAT_KNOWN: u32 = INCOMPAT_FTYPE
    | INCOMPAT_SPINODES
    | INCOMPAT_META_UUID
    | INCOMPAT_BIGTIME
    | INCOMPAT_NEEDSREPAIR
    | INCOMPAT_NREXT64;

/// `sb_features_ro_compat`: a free inode B+tree in each AG.
pub(crate) const RO_COMPAT_FINOBT: u32 = 0x1;
/// `sb_features_ro_compat`: a reverse mapping B+tree in each AG.
pub(crate) const RO_COMPAT_RMAPBT: u32 = 0x2;
/// `sb_features_ro_compat`: shared extents, counted by a refcount B+tree in each AG.
pub(crate) const RO_COMPAT_REFLINK: u32 = 0x4;

/// The smallest and largest block sizes XFS makes (512 bytes to 64 KiB).
const BLOCK_LOGS: std::ops::RangeInclusive<u8> = 9..=16;
/// The smallest and largest inode sizes (256 bytes to 2 KiB; 256 for v4 too).
const INODE_LOGS: std::ops::RangeInclusive<u8> = 8..=11;
/// The smallest and largest sector sizes (512 bytes to 32 KiB).
const SECTOR_LOGS: std::ops::RangeInclusive<u8> = 9..=15;
/// The largest `sb_dirblklog` (directory blocks of at most 64 KiB).
const MAX_DIR_BLOCK_LOG: u8 = 16;

/// What the map needs from the superblock, checked for consistency.
#[derive(Clone, Debug)]
pub(crate) struct Superblock {
    /// Bytes per block.
    pub(crate) block_size: u64,
    /// `sb_blocklog`.
    pub(crate) block_log: u8,
    /// Blocks of the data device (`sb_dblocks`).
    pub(crate) blocks: u64,
    /// Blocks of the realtime device (0 without one).
    pub(crate) rt_blocks: u64,
    /// The internal log's first block, as a filesystem block number (0: the log is on
    /// another device).
    pub(crate) log_start: u64,
    /// The log's blocks.
    pub(crate) log_blocks: u64,
    /// The root directory's inode.
    pub(crate) root_ino: u64,
    /// The filesystem's own inodes: realtime bitmap and summary, quota inodes.
    pub(crate) system_inodes: Vec<u64>,
    /// Blocks per AG (the last may hold fewer).
    pub(crate) ag_blocks: u64,
    /// AGs.
    pub(crate) ag_count: u64,
    /// Bytes per sector: the AG headers are one sector each.
    pub(crate) sector_size: u64,
    /// Bytes per inode record.
    pub(crate) inode_size: u64,
    /// `sb_inopblog`: log2 of inodes per block.
    pub(crate) inodes_per_block_log: u8,
    /// `sb_agblklog`: the bits of an AG block number in a filesystem block number.
    pub(crate) ag_block_log: u8,
    /// `sb_dirblklog`: log2 of filesystem blocks per directory block.
    pub(crate) dir_block_log: u8,
    /// Version 5 (self-describing metadata, CRCs) rather than 4.
    pub(crate) v5: bool,
    /// Directory entries carry a file type byte.
    pub(crate) ftype: bool,
    /// `sb_features_incompat` (0 on v4).
    pub(crate) incompat: u32,
    /// `sb_features_ro_compat` (0 on v4).
    pub(crate) ro_compat: u32,
}

impl Superblock {
    /// Whether `sb_features_incompat` has `flag`.
    pub(crate) fn has_incompat(&self, flag: u32) -> bool {
        self.incompat & flag == flag
    }

    /// Whether `sb_features_ro_compat` has `flag`.
    pub(crate) fn has_ro_compat(&self, flag: u32) -> bool {
        self.ro_compat & flag == flag
    }

    /// Bytes the filesystem spans on its data device.
    pub(crate) fn fs_bytes(&self) -> u64 {
        self.blocks.saturating_mul(self.block_size)
    }

    /// The blocks of AG `ag` (the last AG holds what is left).
    pub(crate) fn ag_len(&self, ag: u64) -> u64 {
        let first = ag.saturating_mul(self.ag_blocks);
        self.blocks.saturating_sub(first).min(self.ag_blocks)
    }

    /// The linear block (from the volume start) of AG block `agbno` of AG `ag`, if it lies
    /// in that AG.
    pub(crate) fn ag_block(&self, ag: u64, agbno: u64) -> Option<u64> {
        (ag < self.ag_count && agbno < self.ag_len(ag))
            .then(|| ag.checked_mul(self.ag_blocks)?.checked_add(agbno))
            .flatten()
    }

    /// The linear block of filesystem block number `fsb` (AG in the high bits), and the
    /// blocks left in its AG from it; `None` if it names no block of the filesystem.
    pub(crate) fn fs_block(&self, fsb: u64) -> Option<(u64, u64)> {
        let ag = fsb.checked_shr(u32::from(self.ag_block_log))?;
        let mask = 1u64
            .checked_shl(u32::from(self.ag_block_log))?
            .checked_sub(1)?;
        let agbno = fsb & mask;
        let block = self.ag_block(ag, agbno)?;
        Some((block, self.ag_len(ag).saturating_sub(agbno)))
    }

    /// Inode `agino` of AG `ag` as a filesystem inode number.
    pub(crate) fn ino(&self, ag: u64, agino: u64) -> Option<u64> {
        let bits =
            u32::from(self.ag_block_log).saturating_add(u32::from(self.inodes_per_block_log));
        ag.checked_shl(bits)
            .filter(|shifted| shifted.checked_shr(bits) == Some(ag))
            .map(|shifted| shifted | agino)
    }

    /// The volume offset of inode `agino` of AG `ag`'s record, if its block lies in the AG.
    pub(crate) fn inode_offset(&self, ag: u64, agino: u64) -> Option<u64> {
        let per_block_log = u32::from(self.inodes_per_block_log);
        let agbno = agino.checked_shr(per_block_log)?;
        let within = agino & 1u64.checked_shl(per_block_log)?.checked_sub(1)?;
        self.ag_block(ag, agbno)?
            .checked_mul(self.block_size)?
            .checked_add(within.checked_mul(self.inode_size)?)
    }
}

/// Parses the superblock from the first [`SIZE`] bytes of the volume, refusing what cannot
/// be an XFS filesystem or uses features the map does not understand.
pub(crate) fn parse(raw: &[u8]) -> Result<Superblock, FsError> {
    let not_xfs = |why: String| Err(FsError::NotXfs(why));
    if raw.len() < SIZE {
        return not_xfs("the volume is too small to hold a superblock".into());
    }
    if be32(raw, 0) != MAGIC {
        return not_xfs("no XFS superblock magic".into());
    }
    let versionnum = be16(raw, 100);
    let version = versionnum & VERSION_MASK;
    let v5 = match version {
        4 => false,
        5 => true,
        other => {
            return Err(FsError::UnsupportedXfs(format!(
                "XFS superblock version {other} (at byte 100)"
            )));
        }
    };
    let (incompat, ro_compat) = if v5 {
        (be32(raw, 216), be32(raw, 212))
    } else {
        (0, 0)
    };
    let unknown = incompat & !INCOMPAT_KNOWN;
    if unknown != 0 {
        return Err(FsError::UnsupportedXfs(format!(
            "XFS incompatible features {unknown:#x} (at byte 216)"
        )));
    }
    let features2 = if versionnum & VERSION_MOREBITS != 0 {
        be32(raw, 200)
    } else {
        0
    };
    let ftype = if v5 {
        incompat & INCOMPAT_FTYPE != 0
    } else {
        features2 & FEATURES2_FTYPE != 0
    };
    let byte = |at: usize| raw.get(at).copied().unwrap_or(0);
    let (block_log, sector_log, inode_log) = (byte(120), byte(121), byte(122));
    let (per_block_log, ag_block_log, dir_block_log) = (byte(123), byte(124), byte(192));
    let check = |ok: bool, at: usize, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(FsError::NotXfs(format!(
                "implausible {what} (superblock byte {at})"
            )))
        }
    };
    check(BLOCK_LOGS.contains(&block_log), 120, "block size")?;
    check(SECTOR_LOGS.contains(&sector_log), 121, "sector size")?;
    check(INODE_LOGS.contains(&inode_log), 122, "inode size")?;
    check(
        u64::from(be32(raw, 4)) == 1u64 << block_log,
        4,
        "block size",
    )?;
    check(
        u64::from(be16(raw, 102)) == 1u64 << sector_log,
        102,
        "sector size",
    )?;
    check(
        u64::from(be16(raw, 104)) == 1u64 << inode_log,
        104,
        "inode size",
    )?;
    check(
        inode_log <= block_log && per_block_log == block_log.saturating_sub(inode_log),
        123,
        "inodes per block",
    )?;
    check(
        block_log.saturating_add(dir_block_log) <= MAX_DIR_BLOCK_LOG,
        192,
        "directory block size",
    )?;
    let ag_blocks = u64::from(be32(raw, 84));
    let ag_count = u64::from(be32(raw, 88));
    let blocks = be64(raw, 8);
    check(ag_blocks >= 8, 84, "AG size")?;
    check(
        (1..=32).contains(&ag_block_log)
            && 1u64 << ag_block_log >= ag_blocks
            && 1u64 << ag_block_log.saturating_sub(1) < ag_blocks,
        124,
        "AG block bits",
    )?;
    check(ag_count > 0, 88, "AG count")?;
    let last_ag_first = ag_count.saturating_sub(1).saturating_mul(ag_blocks);
    check(
        blocks > last_ag_first && blocks <= ag_count.saturating_mul(ag_blocks),
        8,
        "filesystem size for its AGs",
    )?;
    let inode = |at: usize| Some(be64(raw, at)).filter(|&ino| ino != 0 && ino != u64::MAX);
    let root_ino = inode(56).ok_or_else(|| FsError::NotXfs("no root inode (byte 56)".into()))?;
    let mut system_inodes: Vec<u64> = [64, 72, 160, 168].into_iter().filter_map(inode).collect();
    if v5 {
        system_inodes.extend(inode(232));
    }
    Ok(Superblock {
        block_size: 1 << block_log,
        block_log,
        blocks,
        rt_blocks: be64(raw, 16),
        log_start: be64(raw, 48),
        log_blocks: u64::from(be32(raw, 96)),
        root_ino,
        system_inodes,
        ag_blocks,
        ag_count,
        sector_size: 1 << sector_log,
        inode_size: 1 << inode_log,
        inodes_per_block_log: per_block_log,
        ag_block_log,
        dir_block_log,
        v5,
        ftype,
        incompat,
        ro_compat,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The superblock `mkfs.xfs` 6.1 writes for a 300 MiB volume, in the fields read.
    pub(crate) fn sample() -> Vec<u8> {
        let mut raw = vec![0u8; SIZE];
        let put = |raw: &mut Vec<u8>, at: usize, bytes: &[u8]| {
            raw[at..at + bytes.len()].copy_from_slice(bytes)
        };
        put(&mut raw, 0, b"XFSB");
        put(&mut raw, 4, &4096u32.to_be_bytes());
        put(&mut raw, 8, &76800u64.to_be_bytes());
        put(&mut raw, 48, &65542u64.to_be_bytes());
        put(&mut raw, 56, &128u64.to_be_bytes());
        put(&mut raw, 64, &129u64.to_be_bytes());
        put(&mut raw, 72, &130u64.to_be_bytes());
        put(&mut raw, 84, &19200u32.to_be_bytes());
        put(&mut raw, 88, &4u32.to_be_bytes());
        put(&mut raw, 96, &16384u32.to_be_bytes());
        put(&mut raw, 100, &0xb4a5u16.to_be_bytes());
        put(&mut raw, 102, &512u16.to_be_bytes());
        put(&mut raw, 104, &512u16.to_be_bytes());
        put(&mut raw, 120, &[12, 9, 9, 3, 15]);
        put(&mut raw, 212, &0xdu32.to_be_bytes());
        put(&mut raw, 216, &0xbu32.to_be_bytes());
        raw
    }

    #[test]
    fn geometry() {
        let sb = parse(&sample()).unwrap();
        assert!(sb.v5 && sb.ftype);
        assert_eq!(sb.ag_len(3), 19200);
        assert_eq!(sb.ag_len(4), 0);
        // Filesystem block 1/5 is linear block 19205.
        assert_eq!(sb.fs_block((1 << 15) | 5), Some((19205, 19195)));
        assert_eq!(
            sb.fs_block(19205),
            None,
            "AG block 19205 of AG 0 is past its end"
        );
        assert_eq!(sb.fs_block(u64::MAX), None);
        assert_eq!(sb.ino(1, 128), Some((1 << 18) | 128));
        assert_eq!(sb.inode_offset(0, 131), Some(16 * 4096 + 3 * 512));
        assert_eq!(sb.ino(u64::MAX, 0), None);
        assert_eq!(sb.system_inodes, vec![129, 130]);
    }

    #[test]
    fn refuses_with_the_byte_at_fault() {
        let mut bad = sample();
        bad[104] = 3;
        let err = parse(&bad).unwrap_err().to_string();
        assert!(err.contains("byte 104"), "{err}");
        let mut newer = sample();
        newer[216..220].copy_from_slice(&0x80u32.to_be_bytes());
        assert!(matches!(parse(&newer), Err(FsError::UnsupportedXfs(_))));
        let mut huge = sample();
        huge[8..16].copy_from_slice(&u64::MAX.to_be_bytes());
        assert!(parse(&huge).is_err());
        assert!(parse(&sample()[..100]).is_err());
        let mut v4 = sample();
        v4[100..102].copy_from_slice(&0xb4a4u16.to_be_bytes());
        assert!(!parse(&v4).unwrap().v5);
    }
}
