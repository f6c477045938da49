//! Extent tree nodes, parsed from bytes (no I/O): the root in `i_block`, index and leaf
//! blocks below it.

use super::{le16, le32};
use crate::volume::Problem;

/// `eh_magic`.
const MAGIC: u16 = 0xf30a;
/// The deepest tree ext4 builds (`EXT4_MAX_EXTENT_DEPTH`).
pub(crate) const MAX_DEPTH: u16 = 5;
/// Bytes of a header and of each entry.
const ENTRY: usize = 12;
/// An extent longer than this is uninitialised (its length is the excess).
const MAX_INIT_LEN: u16 = 32768;

/// A leaf entry: `len` blocks of the file from `logical` are at `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Extent {
    /// First logical block.
    pub(crate) logical: u64,
    /// Blocks.
    pub(crate) len: u64,
    /// First physical block.
    pub(crate) start: u64,
    /// Allocated but not written: reads as zeros.
    pub(crate) uninit: bool,
}

/// A node of the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Node {
    /// Depth 0: the extents themselves.
    Leaf(Vec<Extent>),
    /// Depth > 0: the blocks of the nodes one level down, with their depth.
    Index {
        /// Depth of this node; children have `depth - 1`.
        depth: u16,
        /// Physical blocks of the children.
        children: Vec<u64>,
    },
}

/// Parses the node in `raw` (the 60 bytes of `i_block`, or a whole tree block).
pub(crate) fn parse_node(raw: &[u8]) -> Result<Node, Problem> {
    if le16(raw, 0) != MAGIC || raw.len() < ENTRY {
        return Err(Problem("an extent node without its magic".into()));
    }
    let entries = usize::from(le16(raw, 2));
    let max = usize::from(le16(raw, 4));
    let depth = le16(raw, 6);
    let capacity = raw.len().checked_div(ENTRY).unwrap_or(0).saturating_sub(1);
    if entries > max || max > capacity {
        return Err(Problem(format!(
            "an extent node claims {entries} of {max} entries in room for {capacity}"
        )));
    }
    if depth > MAX_DEPTH {
        return Err(Problem(format!("an extent tree of depth {depth}")));
    }
    let entry = |i: usize| {
        let at = i.saturating_add(1).saturating_mul(ENTRY);
        // In range: `entries <= capacity` was checked above.
        raw.get(at..at.saturating_add(ENTRY)).unwrap_or(&[])
    };
    if depth == 0 {
        let extents = (0..entries)
            .map(|i| {
                let e = entry(i);
                let raw_len = le16(e, 4);
                let (len, uninit) = if raw_len > MAX_INIT_LEN {
                    (raw_len.saturating_sub(MAX_INIT_LEN), true)
                } else {
                    (raw_len, false)
                };
                Extent {
                    logical: u64::from(le32(e, 0)),
                    len: u64::from(len),
                    start: (u64::from(le16(e, 6)) << 32) | u64::from(le32(e, 8)),
                    uninit,
                }
            })
            .collect();
        Ok(Node::Leaf(extents))
    } else {
        let children = (0..entries)
            .map(|i| {
                let e = entry(i);
                (u64::from(le16(e, 8)) << 32) | u64::from(le32(e, 4))
            })
            .collect();
        Ok(Node::Index { depth, children })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(entries: u16, max: u16, depth: u16) -> Vec<u8> {
        let mut raw = vec![0u8; 60];
        raw[0..2].copy_from_slice(&MAGIC.to_le_bytes());
        raw[2..4].copy_from_slice(&entries.to_le_bytes());
        raw[4..6].copy_from_slice(&max.to_le_bytes());
        raw[6..8].copy_from_slice(&depth.to_le_bytes());
        raw
    }

    #[test]
    fn leaf_and_index() {
        let mut raw = header(2, 4, 0);
        raw[12..16].copy_from_slice(&0u32.to_le_bytes());
        raw[16..18].copy_from_slice(&5u16.to_le_bytes());
        raw[20..24].copy_from_slice(&100u32.to_le_bytes());
        raw[24..28].copy_from_slice(&5u32.to_le_bytes());
        raw[28..30].copy_from_slice(&(32768u16 + 3).to_le_bytes());
        raw[30..32].copy_from_slice(&1u16.to_le_bytes());
        raw[32..36].copy_from_slice(&7u32.to_le_bytes());
        let Node::Leaf(extents) = parse_node(&raw).unwrap() else {
            panic!("a leaf")
        };
        assert_eq!(
            extents,
            vec![
                Extent {
                    logical: 0,
                    len: 5,
                    start: 100,
                    uninit: false
                },
                Extent {
                    logical: 5,
                    len: 3,
                    start: (1 << 32) | 7,
                    uninit: true
                }
            ]
        );
        let mut raw = header(1, 4, 2);
        raw[16..20].copy_from_slice(&9u32.to_le_bytes());
        assert_eq!(
            parse_node(&raw).unwrap(),
            Node::Index {
                depth: 2,
                children: vec![9]
            }
        );
    }

    #[test]
    fn bad_headers() {
        assert!(parse_node(&[0u8; 60]).is_err());
        assert!(
            parse_node(&header(5, 4, 0)).is_err(),
            "more entries than room"
        );
        assert!(parse_node(&header(1, 5, 0)).is_err(), "max past the node");
        assert!(parse_node(&header(1, 4, 6)).is_err(), "too deep");
        assert!(parse_node(&header(0, 0, 0)[..4]).is_err());
    }
}
