//! Inode records, parsed from the bytes of an inode table (no I/O).

use super::le16;
use super::le32;
use super::superblock::{INCOMPAT_INLINE_DATA, Superblock};

/// `i_flags`: the directory is indexed by an htree.
pub(crate) const FLAG_INDEX: u32 = 0x1000;
/// `i_flags`: the blocks are mapped by an extent tree.
const FLAG_EXTENTS: u32 = 0x8_0000;
/// `i_flags`: the data lives in the inode (`i_block` and the `system.data` attribute).
const FLAG_INLINE_DATA: u32 = 0x1000_0000;

/// Bytes of `i_block`: the block map, extent tree root or inline data.
pub(crate) const I_BLOCK_LEN: usize = 60;
/// Where `i_block` starts in the record.
pub(crate) const I_BLOCK_AT: usize = 0x28;
/// The part of a record every revision has.
const GOOD_OLD_SIZE: usize = 128;
/// The magic before in-inode extended attributes.
const XATTR_MAGIC: u32 = 0xea02_0000;
/// The attribute index of `system.*` names.
const XATTR_INDEX_SYSTEM: u8 = 7;
/// At most this many attributes are looked at in one inode.
const MAX_XATTRS: usize = 256;

/// The kind of file an inode holds, from its mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// A device, FIFO or socket: no data blocks.
    Special,
    /// Mode 0 or an invalid type: nothing.
    None,
}

/// How an inode's data is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mapping {
    /// No data blocks (fast symlinks, devices, FIFOs, sockets).
    Nothing,
    /// In the inode record itself.
    Inline,
    /// An extent tree rooted in `i_block`.
    Extents,
    /// The old block map: 12 direct, one indirect, one double and one triple indirect block.
    BlockMap,
}

/// The fields of an inode record the map needs.
#[derive(Clone, Debug)]
pub(crate) struct Inode {
    /// `i_mode`.
    pub(crate) mode: u16,
    /// Size in bytes.
    pub(crate) size: u64,
    /// `i_links_count`.
    pub(crate) links: u16,
    /// `i_dtime`: when it was deleted (or the next orphan's number, for orphans).
    pub(crate) dtime: u32,
    /// `i_flags`.
    pub(crate) flags: u32,
    /// `i_block`.
    pub(crate) block: [u8; I_BLOCK_LEN],
    /// The extended attribute block, 0 if none.
    pub(crate) file_acl: u64,
}

impl Inode {
    /// What kind of file this is.
    pub(crate) fn kind(&self) -> Kind {
        match self.mode & 0xf000 {
            0x8000 => Kind::Regular,
            0x4000 => Kind::Directory,
            0xa000 => Kind::Symlink,
            0x1000 | 0x2000 | 0x6000 | 0xc000 => Kind::Special,
            _ => Kind::None,
        }
    }

    /// How the data is stored.
    pub(crate) fn mapping(&self, sb: &Superblock) -> Mapping {
        let kind = self.kind();
        if matches!(kind, Kind::Special | Kind::None) {
            return Mapping::Nothing;
        }
        if self.flags & FLAG_INLINE_DATA != 0 && sb.has_incompat(INCOMPAT_INLINE_DATA) {
            return Mapping::Inline;
        }
        // A fast symlink keeps its target in `i_block` (`ext2fs_is_fast_symlink`).
        if kind == Kind::Symlink && self.size < I_BLOCK_LEN as u64 {
            return Mapping::Nothing;
        }
        if self.flags & FLAG_EXTENTS != 0 {
            Mapping::Extents
        } else {
            Mapping::BlockMap
        }
    }

    /// How a reserved inode without a file type (the bad blocks inode) maps its blocks.
    pub(crate) fn reserved_mapping(&self) -> Mapping {
        if self.flags & FLAG_EXTENTS != 0 {
            Mapping::Extents
        } else {
            Mapping::BlockMap
        }
    }

    /// Whether this is an htree-indexed directory.
    pub(crate) fn is_indexed(&self) -> bool {
        self.flags & FLAG_INDEX != 0
    }

    /// Whether a record not in use still looks like a deleted file: a file type, and a
    /// deletion time or no links left.
    pub(crate) fn looks_deleted(&self) -> bool {
        !matches!(self.kind(), Kind::None | Kind::Special) && (self.dtime != 0 || self.links == 0)
    }
}

/// Parses an inode record (at least 128 bytes; shorter ones read as zeros).
pub(crate) fn parse(raw: &[u8]) -> Inode {
    let mut block = [0u8; I_BLOCK_LEN];
    if let Some(bytes) = raw.get(I_BLOCK_AT..I_BLOCK_AT.saturating_add(I_BLOCK_LEN)) {
        block.copy_from_slice(bytes);
    }
    Inode {
        mode: le16(raw, 0x0),
        size: u64::from(le32(raw, 0x4)) | (u64::from(le32(raw, 0x6c)) << 32),
        links: le16(raw, 0x1a),
        dtime: le32(raw, 0x14),
        flags: le32(raw, 0x20),
        block,
        file_acl: u64::from(le32(raw, 0x68)) | (u64::from(le16(raw, 0x76)) << 32),
    }
}

/// The value of the `system.data` attribute inside the record: the part of inline data
/// that did not fit in `i_block`. Empty if there is none or it cannot be read.
pub(crate) fn inline_data_tail(raw: &[u8]) -> &[u8] {
    inline_data_tail_range(raw)
        .and_then(|range| raw.get(range))
        .unwrap_or(&[])
}

/// Where in the record the value of `system.data` is, if it is there.
pub(crate) fn inline_data_tail_range(raw: &[u8]) -> Option<std::ops::Range<usize>> {
    in_inode_xattr(raw, XATTR_INDEX_SYSTEM, b"data")
}

/// The value of the in-inode extended attribute `index`.`name`, if stored in the record.
fn in_inode_xattr(raw: &[u8], index: u8, name: &[u8]) -> Option<std::ops::Range<usize>> {
    if raw.len() <= GOOD_OLD_SIZE {
        return None;
    }
    let body = GOOD_OLD_SIZE.checked_add(usize::from(le16(raw, 0x80)))?;
    if le32(raw, body) != XATTR_MAGIC {
        return None;
    }
    // Entries follow the magic; values are placed relative to the first entry.
    let first = body.checked_add(4)?;
    let mut at = first;
    for _ in 0..MAX_XATTRS {
        let header = raw.get(at..at.checked_add(16)?)?;
        if header[..4] == [0, 0, 0, 0] {
            return None;
        }
        let name_len = usize::from(header[0]);
        let name_at = at.checked_add(16)?;
        let entry_name = raw.get(name_at..name_at.checked_add(name_len)?)?;
        let value_inum = le32(header, 4);
        if header[1] == index && entry_name == name && value_inum == 0 {
            let offset = first.checked_add(usize::from(le16(header, 2)))?;
            let size = usize::try_from(le32(header, 8)).ok()?;
            let end = offset.checked_add(size)?;
            return (end <= raw.len()).then_some(offset..end);
        }
        at = name_at.checked_add(name_len)?.checked_next_multiple_of(4)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Vec<u8> {
        let mut raw = vec![0u8; 256];
        raw[0..2].copy_from_slice(&0x81a4u16.to_le_bytes());
        raw[4..8].copy_from_slice(&70u32.to_le_bytes());
        raw[0x80..0x82].copy_from_slice(&32u16.to_le_bytes());
        raw
    }

    #[test]
    fn fields_and_kinds() {
        let mut raw = record();
        raw[0x6c..0x70].copy_from_slice(&1u32.to_le_bytes());
        let inode = parse(&raw);
        assert_eq!(inode.kind(), Kind::Regular);
        assert_eq!(inode.size, (1 << 32) | 70);
        assert!(inode.looks_deleted(), "no links");
        assert_eq!(parse(&[]).kind(), Kind::None);
    }

    #[test]
    fn system_data_attribute() {
        let mut raw = record();
        let body = 128 + 32;
        raw[body..body + 4].copy_from_slice(&XATTR_MAGIC.to_le_bytes());
        let entry = body + 4;
        raw[entry] = 4; // Name length.
        raw[entry + 1] = XATTR_INDEX_SYSTEM;
        raw[entry + 2..entry + 4].copy_from_slice(&40u16.to_le_bytes());
        raw[entry + 8..entry + 12].copy_from_slice(&10u32.to_le_bytes());
        raw[entry + 16..entry + 20].copy_from_slice(b"data");
        raw[entry + 40..entry + 50].copy_from_slice(b"0123456789");
        assert_eq!(inline_data_tail(&raw), b"0123456789");
        raw[entry + 8..entry + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(inline_data_tail(&raw), b"", "a value past the record");
    }
}
