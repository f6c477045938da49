//! B+tree blocks, parsed from bytes (no I/O): the short-form trees of each AG (free space by
//! block and by size, inodes, free inodes, reverse mappings, reference counts), whose
//! pointers are AG block numbers, and the long-form extent trees of files (bmbt), whose
//! pointers are filesystem block numbers.

use super::{Bad, be16, be32, be64};

/// The deepest tree the map follows (XFS builds none deeper than 9 levels).
pub(crate) const MAX_LEVELS: u16 = 9;

/// What one kind of tree looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Kind {
    /// Its name, for notes.
    pub(crate) name: &'static str,
    /// Its magic on version 4, 0 if v4 has none of it.
    v4: u32,
    /// Its magic on version 5.
    v5: u32,
    /// Bytes per leaf record.
    pub(crate) record: usize,
    /// Bytes per key of a node (both keys, for trees with overlapping intervals).
    key: usize,
    /// Long form: 64-bit sibling and child pointers.
    long: bool,
}

/// Free space by block (`bnobt`).
pub(crate) const BNO: Kind = short("free space B+tree", *b"ABTB", *b"AB3B", 8, 8);
/// Free space by size (`cntbt`).
pub(crate) const CNT: Kind = short("free space by size B+tree", *b"ABTC", *b"AB3C", 8, 8);
/// Inode chunks (`inobt`).
pub(crate) const INO: Kind = short("inode B+tree", *b"IABT", *b"IAB3", 16, 4);
/// Inode chunks with free inodes (`finobt`).
pub(crate) const FINO: Kind = short("free inode B+tree", *b"FIBT", *b"FIB3", 16, 4);
/// Reverse mappings (`rmapbt`, v5 only): low and high keys of 20 bytes each.
pub(crate) const RMAP: Kind = short("reverse mapping B+tree", [0; 4], *b"RMB3", 24, 40);
/// Reference counts of shared extents (`refcountbt`, v5 only).
pub(crate) const REFCOUNT: Kind = short("refcount B+tree", [0; 4], *b"R3FC", 12, 4);
/// A file's extent tree below its root in the inode (`bmbt`).
pub(crate) const BMAP: Kind = Kind {
    name: "extent B+tree",
    v4: u32::from_be_bytes(*b"BMAP"),
    v5: u32::from_be_bytes(*b"BMA3"),
    record: 16,
    key: 8,
    long: true,
};

/// A short-form tree's kind.
const fn short(name: &'static str, v4: [u8; 4], v5: [u8; 4], record: usize, key: usize) -> Kind {
    Kind {
        name,
        v4: u32::from_be_bytes(v4),
        v5: u32::from_be_bytes(v5),
        record,
        key,
        long: false,
    }
}

impl Kind {
    /// Bytes of a block's header.
    fn header(self, v5: bool) -> usize {
        match (self.long, v5) {
            (false, false) => 16,
            (false, true) => 56,
            (true, false) => 24,
            (true, true) => 72,
        }
    }

    /// Bytes per child pointer.
    fn pointer(self) -> usize {
        if self.long { 8 } else { 4 }
    }
}

/// One block of a tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Node<'a> {
    /// Level 0: its records, end to end.
    Leaf(&'a [u8]),
    /// Level > 0: the blocks of its children, one level down.
    Index {
        /// Its level.
        level: u16,
        /// Its children: AG block numbers (short form) or filesystem block numbers (long).
        children: Vec<u64>,
    },
}

/// Parses a block of a `kind` tree on a filesystem of version 5 (`v5`) or 4.
pub(crate) fn parse(block: &[u8], kind: Kind, v5: bool) -> Result<Node<'_>, Bad> {
    let magic = if v5 { kind.v5 } else { kind.v4 };
    if magic == 0 || be32(block, 0) != magic {
        return Err(Bad::at(
            0,
            format!("a {} block without its magic", kind.name),
        ));
    }
    let level = be16(block, 4);
    let records = usize::from(be16(block, 6));
    let header = kind.header(v5);
    let room = block.len().saturating_sub(header);
    if level > MAX_LEVELS {
        return Err(Bad::at(
            4,
            format!("a {} block at level {level}", kind.name),
        ));
    }
    if level == 0 {
        let fits = room.checked_div(kind.record).unwrap_or(0);
        if records > fits {
            return Err(Bad::at(
                6,
                format!(
                    "a {} leaf of {records} records in room for {fits}",
                    kind.name
                ),
            ));
        }
        let end = header.saturating_add(records.saturating_mul(kind.record));
        return Ok(Node::Leaf(block.get(header..end).unwrap_or(&[])));
    }
    let max = room
        .checked_div(kind.key.saturating_add(kind.pointer()))
        .unwrap_or(0);
    if records > max {
        return Err(Bad::at(
            6,
            format!(
                "a {} node of {records} children in room for {max}",
                kind.name
            ),
        ));
    }
    let pointers = header.saturating_add(max.saturating_mul(kind.key));
    let children = (0..records)
        .map(|i| {
            let at = pointers.saturating_add(i.saturating_mul(kind.pointer()));
            if kind.long {
                be64(block, at)
            } else {
                u64::from(be32(block, at))
            }
        })
        .collect();
    Ok(Node::Index { level, children })
}

/// Parses the root of a file's extent tree, kept in its inode's fork (`fork`, the whole
/// fork area): its level and its children's filesystem block numbers.
pub(crate) fn parse_root(fork: &[u8]) -> Result<(u16, Vec<u64>), Bad> {
    let level = be16(fork, 0);
    let records = usize::from(be16(fork, 2));
    if level == 0 || level > MAX_LEVELS {
        return Err(Bad::at(0, format!("an extent tree root at level {level}")));
    }
    // Keys, then pointers, 8 bytes each, as many as the fork has room for.
    let max = fork.len().saturating_sub(4) / 16;
    if records > max {
        return Err(Bad::at(
            2,
            format!("an extent tree root of {records} children in room for {max}"),
        ));
    }
    let pointers = max.saturating_mul(8).saturating_add(4);
    let children = (0..records)
        .map(|i| be64(fork, pointers.saturating_add(i.saturating_mul(8))))
        .collect();
    Ok((level, children))
}

/// A free extent (a `bnobt` record): AG block and length.
pub(crate) fn free_extent(record: &[u8]) -> (u64, u64) {
    (u64::from(be32(record, 0)), u64::from(be32(record, 4)))
}

/// An inode chunk (an `inobt` record).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// Its first inode, in the AG.
    pub(crate) start: u64,
    /// Bit `i` set: inodes `4i..4i+4` of the chunk are not allocated (sparse chunks).
    pub(crate) holes: u16,
    /// Bit `i` set: inode `i` of the chunk is free.
    pub(crate) free: u64,
}

/// Inodes per chunk.
pub(crate) const CHUNK_INODES: u64 = 64;

impl Chunk {
    /// Whether inode `i` of the chunk is allocated (part of the chunk's blocks).
    pub(crate) fn has(self, i: u64) -> bool {
        i < CHUNK_INODES && self.holes & (1 << (i / 4)) == 0
    }

    /// Whether inode `i` of the chunk is in use.
    pub(crate) fn in_use(self, i: u64) -> bool {
        self.has(i) && self.free & (1 << i) == 0
    }
}

/// Parses an `inobt` record; `sparse` when the filesystem has sparse inode chunks (else the
/// hole mask's bytes are the high bytes of a 32-bit free count).
pub(crate) fn chunk(record: &[u8], sparse: bool) -> Chunk {
    Chunk {
        start: u64::from(be32(record, 0)),
        holes: if sparse { be16(record, 4) } else { 0 },
        free: be64(record, 8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(magic: &[u8; 4], level: u16, records: u16, len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        b[..4].copy_from_slice(magic);
        b[4..6].copy_from_slice(&level.to_be_bytes());
        b[6..8].copy_from_slice(&records.to_be_bytes());
        b
    }

    #[test]
    fn leaves_and_nodes() {
        let mut leaf = block(b"AB3B", 0, 2, 512);
        leaf[56..64].copy_from_slice(&[0, 0, 0, 9, 0, 0, 0, 3]);
        let Node::Leaf(records) = parse(&leaf, BNO, true).unwrap() else {
            panic!("a leaf")
        };
        assert_eq!(records.len(), 16);
        assert_eq!(free_extent(records), (9, 3));
        // A node of the inode tree: (512 - 56) / 8 = 57 keys, then the pointers.
        let mut node = block(b"IAB3", 1, 2, 512);
        node[56 + 57 * 4..][..8].copy_from_slice(&[0, 0, 0, 7, 0, 0, 0, 8]);
        assert_eq!(
            parse(&node, INO, true).unwrap(),
            Node::Index {
                level: 1,
                children: vec![7, 8]
            }
        );
        // v4 headers are shorter; v4 has no reverse mapping tree.
        assert!(parse(&block(b"ABTB", 0, 1, 512), BNO, false).is_ok());
        assert!(parse(&block(b"ABTB", 0, 1, 512), BNO, true).is_err());
        assert!(parse(&block(&[0; 4], 0, 0, 512), RMAP, false).is_err());
    }

    #[test]
    fn counts_that_do_not_fit_are_refused_at_their_byte() {
        let bad = parse(&block(b"AB3B", 0, 58, 512), BNO, true).unwrap_err();
        assert_eq!(bad.at, 6);
        assert!(parse(&block(b"AB3B", 0, 57, 512), BNO, true).is_ok());
        assert_eq!(
            parse(&block(b"AB3B", 10, 1, 512), BNO, true)
                .unwrap_err()
                .at,
            4
        );
        assert!(parse(&block(b"BMA3", 1, 28, 512), BMAP, true).is_err());
        assert!(parse(&[], BMAP, true).is_err());
        assert!(parse_root(&[0, 1, 0, 200, 0, 0]).is_err());
        let mut root = vec![0u8; 36];
        root[..4].copy_from_slice(&[0, 1, 0, 1]);
        root[20..28].copy_from_slice(&77u64.to_be_bytes());
        assert_eq!(parse_root(&root).unwrap(), (1, vec![77]));
    }

    #[test]
    fn chunks_sparse_or_not() {
        let mut record = [0u8; 16];
        record[..4].copy_from_slice(&128u32.to_be_bytes());
        record[4..6].copy_from_slice(&0xff00u16.to_be_bytes());
        record[8..16].copy_from_slice(&(!0u64 << 4).to_be_bytes());
        let sparse = chunk(&record, true);
        assert!(sparse.in_use(3) && !sparse.in_use(4) && sparse.has(4));
        assert!(!sparse.has(32) && !sparse.has(64));
        assert!(chunk(&record, false).has(63));
    }
}
