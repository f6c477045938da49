//! Inode records, parsed from bytes (no I/O): the core, the data and attribute forks, and
//! the extent records they hold.

use super::{Bad, be16, be32, be64};

/// `di_magic`: `IN`.
const MAGIC: u16 = 0x494e;
/// Bytes of the core before the forks: versions 1 and 2...
const CORE_V2: usize = 100;
/// ...and version 3.
const CORE_V3: usize = 176;
/// Bytes of an extent record.
pub(crate) const EXTENT: usize = 16;

/// `di_flags`: the file's data is on the realtime device.
const FLAG_REALTIME: u16 = 0x1;

/// How a fork keeps its contents (`di_format`, `di_aformat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// A device number, or nothing.
    Device,
    /// The contents themselves, in the fork (short-form directories, symlinks, attributes).
    Local,
    /// Extent records, in the fork.
    Extents,
    /// The root of an extent B+tree, in the fork.
    Btree,
    /// Anything else (a UUID, or newer formats).
    Other(u8),
}

impl Format {
    fn of(raw: u8) -> Format {
        match raw {
            0 => Format::Device,
            1 => Format::Local,
            2 => Format::Extents,
            3 => Format::Btree,
            other => Format::Other(other),
        }
    }
}

/// The kind of file an inode is, from its mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// A device, FIFO or socket.
    Special,
    /// No type (a free inode has mode 0).
    None,
}

/// What the map reads from an inode record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Inode {
    /// `di_mode`.
    pub(crate) mode: u16,
    /// `di_size`.
    pub(crate) size: u64,
    /// The data fork's format.
    pub(crate) format: Format,
    /// The attribute fork's format, if the inode has one.
    pub(crate) attr_format: Option<Format>,
    /// Extents of the data fork (`di_nextents`, or `di_big_nextents`).
    pub(crate) extents: u64,
    /// Extents of the attribute fork.
    pub(crate) attr_extents: u64,
    /// The data fork's bytes in the record.
    pub(crate) data_fork: std::ops::Range<usize>,
    /// The attribute fork's bytes in the record (empty without one).
    pub(crate) attr_fork: std::ops::Range<usize>,
    /// Its data is on the realtime device.
    pub(crate) realtime: bool,
}

impl Inode {
    /// The kind of file, from the mode.
    pub(crate) fn kind(&self) -> Kind {
        match self.mode & 0o170_000 {
            0o100_000 => Kind::Regular,
            0o040_000 => Kind::Directory,
            0o120_000 => Kind::Symlink,
            0o010_000 | 0o020_000 | 0o060_000 | 0o140_000 => Kind::Special,
            _ => Kind::None,
        }
    }
}

/// Parses the inode record `raw` (`inode_size` bytes); `nrext64` when the filesystem keeps
/// 64-bit extent counters.
pub(crate) fn parse(raw: &[u8], nrext64: bool) -> Result<Inode, Bad> {
    if be16(raw, 0) != MAGIC {
        return Err(Bad::at(0, "an inode record without its magic".into()));
    }
    let version = raw.get(4).copied().unwrap_or(0);
    let core = match version {
        1 | 2 => CORE_V2,
        3 => CORE_V3,
        other => return Err(Bad::at(4, format!("an inode of version {other}"))),
    };
    if raw.len() < core {
        return Err(Bad::at(0, "an inode record shorter than its core".into()));
    }
    let fork_offset = usize::from(raw.get(82).copied().unwrap_or(0)).saturating_mul(8);
    let literal = raw.len().saturating_sub(core);
    if fork_offset > literal {
        return Err(Bad::at(
            82,
            format!("an attribute fork at {fork_offset} of a {literal}-byte literal area"),
        ));
    }
    let (data_end, attr_format) = if fork_offset == 0 {
        (raw.len(), None)
    } else {
        let aformat = Format::of(raw.get(83).copied().unwrap_or(0));
        (core.saturating_add(fork_offset), Some(aformat))
    };
    let (extents, attr_extents) = if nrext64 && version == 3 {
        (be64(raw, 24), u64::from(be32(raw, 76)))
    } else {
        (u64::from(be32(raw, 76)), u64::from(be16(raw, 80)))
    };
    Ok(Inode {
        mode: be16(raw, 2),
        size: be64(raw, 56),
        format: Format::of(raw.get(5).copied().unwrap_or(0)),
        attr_format,
        extents,
        attr_extents,
        data_fork: core..data_end,
        attr_fork: data_end..raw.len(),
        realtime: be16(raw, 90) & FLAG_REALTIME != 0,
    })
}

/// One extent record: `blocks` blocks of the fork from block `offset` are at filesystem
/// block `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Extent {
    /// First block in the fork.
    pub(crate) offset: u64,
    /// First filesystem block (AG number in the high bits).
    pub(crate) start: u64,
    /// Blocks.
    pub(crate) blocks: u64,
    /// Preallocated, never written: reads as zeros.
    pub(crate) unwritten: bool,
}

/// Unpacks the 16-byte extent record `raw` (flag, 54-bit offset, 52-bit block, 21-bit
/// count).
pub(crate) fn extent(raw: &[u8]) -> Extent {
    let high = be64(raw, 0);
    let low = be64(raw, 8);
    Extent {
        offset: (high & !(1 << 63)) >> 9,
        start: ((high & 0x1ff) << 43) | (low >> 21),
        blocks: low & ((1 << 21) - 1),
        unwritten: high >> 63 == 1,
    }
}

/// The first `count` extent records of a fork, or as many as it holds.
pub(crate) fn extents(fork: &[u8], count: u64) -> Vec<Extent> {
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    fork.chunks_exact(EXTENT).take(count).map(extent).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(version: u8, forkoff: u8) -> Vec<u8> {
        let mut raw = vec![0u8; 512];
        raw[0..2].copy_from_slice(b"IN");
        raw[2..4].copy_from_slice(&0o100_644u16.to_be_bytes());
        raw[4] = version;
        raw[5] = 2;
        raw[56..64].copy_from_slice(&5000u64.to_be_bytes());
        raw[76..80].copy_from_slice(&1u32.to_be_bytes());
        raw[82] = forkoff;
        raw[83] = 1;
        raw
    }

    #[test]
    fn forks() {
        let inode = parse(&record(3, 0), false).unwrap();
        assert_eq!(inode.kind(), Kind::Regular);
        assert_eq!(
            (inode.format, inode.size, inode.extents),
            (Format::Extents, 5000, 1)
        );
        assert_eq!((inode.data_fork, inode.attr_fork.len()), (176..512, 0));
        let inode = parse(&record(2, 15), false).unwrap();
        assert_eq!(inode.data_fork, 100..220);
        assert_eq!(inode.attr_format, Some(Format::Local));
        assert_eq!(parse(&record(3, 43), false).unwrap_err().at, 82);
        assert_eq!(parse(&record(4, 0), false).unwrap_err().at, 4);
        assert!(parse(&[0u8; 512], false).is_err());
        assert!(parse(&record(3, 0)[..150], false).is_err());
    }

    #[test]
    fn extent_records() {
        // Offset 3, block (1 << 20) + 5, 7 blocks, unwritten.
        // The block's high 9 bits are 0: it fits the low word's 43.
        let high: u64 = (1 << 63) | (3 << 9);
        let low: u64 = ((((1u64 << 20) + 5) & ((1 << 43) - 1)) << 21) | 7;
        let mut raw = high.to_be_bytes().to_vec();
        raw.extend_from_slice(&low.to_be_bytes());
        assert_eq!(
            extent(&raw),
            Extent {
                offset: 3,
                start: (1 << 20) + 5,
                blocks: 7,
                unwritten: true
            }
        );
        assert_eq!(extents(&raw, 5).len(), 1);
        assert_eq!(extents(&raw, 0).len(), 0);
    }
}
