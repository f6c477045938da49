//! btrfs's B-trees: nodes and leaves parsed, and every leaf item of a tree visited in key
//! order, reading nodes through the chunk map.
//!
//! A node is read from the first of its copies (DUP keeps two) whose checksum, address,
//! level and filesystem UUID are right; a node no copy of which is right is left out and
//! counted. Each child's level must be one less than its parent's, so a walk is at most
//! [`MAX_LEVEL`] deep and cannot loop; a node met twice in one tree (a hostile image's
//! shared child) is read once; all the walks together read at most a budget of nodes.

use std::collections::HashSet;

use super::superblock::{ChunkMap, INCOMPAT_METADATA_UUID, KEY_LEN, Superblock, crc32c};
use super::{le32, le64};
use crate::FsError;
use crate::walk::Reader;

/// Bytes of a node's header.
pub(crate) const HEADER_LEN: usize = 0x65;
/// Bytes of a leaf's item header (key, data offset, data size), and of a node's key pointer.
const ITEM_LEN: usize = KEY_LEN + 8;
const PTR_LEN: usize = KEY_LEN + 16;
/// Levels of a tree at most (btrfs's `BTRFS_MAX_LEVEL`).
pub(crate) const MAX_LEVEL: u8 = 8;

/// An item's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    pub(crate) objectid: u64,
    pub(crate) kind: u8,
    pub(crate) offset: u64,
}

impl Key {
    fn parse(bytes: &[u8]) -> Key {
        Key {
            objectid: le64(bytes, 0),
            kind: bytes.get(8).copied().unwrap_or(0),
            offset: le64(bytes, 9),
        }
    }
}

/// One item of a leaf: its key, its data, and where the data lies on the device (the
/// physical offset of each copy of the leaf plus the data's place in it).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Item<'a> {
    pub(crate) key: Key,
    pub(crate) data: &'a [u8],
    /// The data's byte in the leaf.
    pub(crate) at: u64,
}

/// The items of a leaf, or the (key, child address) pointers of a node, by its level.
enum Parsed<'a> {
    Leaf(Vec<Item<'a>>),
    Node(Vec<u64>),
}

/// Parses node `bytes` of level `level`; a message if its items do not fit in it.
fn parse_node(bytes: &[u8], level: u8) -> Result<Parsed<'_>, String> {
    let count = usize::try_from(le32(bytes, 0x60)).unwrap_or(usize::MAX);
    let body = bytes.len().saturating_sub(HEADER_LEN);
    let each = if level == 0 { ITEM_LEN } else { PTR_LEN };
    if count.checked_mul(each).is_none_or(|n| n > body) {
        return Err(format!("{count} items do not fit in the node"));
    }
    let entry = |i: usize| {
        let at = HEADER_LEN.saturating_add(i.saturating_mul(each));
        &bytes[at..at.saturating_add(each)]
    };
    if level > 0 {
        return Ok(Parsed::Node(
            (0..count).map(|i| le64(entry(i), KEY_LEN)).collect(),
        ));
    }
    let mut items = Vec::with_capacity(count);
    for i in 0..count {
        let raw = entry(i);
        let offset = usize::try_from(le32(raw, KEY_LEN)).unwrap_or(usize::MAX);
        let size = usize::try_from(le32(raw, KEY_LEN + 4)).unwrap_or(usize::MAX);
        let start = HEADER_LEN.saturating_add(offset);
        let data = start
            .checked_add(size)
            .and_then(|end| bytes.get(start..end))
            .ok_or_else(|| format!("item {i}'s data lies outside the leaf"))?;
        items.push(Item {
            key: Key::parse(raw),
            data,
            at: start as u64,
        });
    }
    Ok(Parsed::Leaf(items))
}

/// A node's bytes, and the physical offset of each of its copies.
type NodeRead = (Vec<u8>, Vec<u64>);

/// Counts of what went wrong reading trees.
#[derive(Default, Debug)]
pub(crate) struct TreeCounts {
    /// Nodes no copy of which could be read right (checksum, address, level, UUID).
    pub(crate) bad_nodes: u64,
    /// Nodes at addresses no chunk maps on this device.
    pub(crate) unmapped: u64,
    /// Nodes whose items do not fit in them.
    pub(crate) damaged: u64,
    /// Nodes met twice in one tree.
    pub(crate) repeated: u64,
    /// Whether the node budget ran out.
    pub(crate) out_of_budget: bool,
}

/// Reads trees: the volume, the chunk map, and what the walks have met so far.
pub(crate) struct Trees<'d> {
    pub(crate) reader: Reader<'d>,
    pub(crate) chunks: ChunkMap,
    node_size: u32,
    fsid: Option<[u8; 16]>,
    check_crc: bool,
    /// Nodes that may still be read.
    budget: u64,
    pub(crate) counts: TreeCounts,
    /// Tree blocks read, as (logical address, the tree that owns it), each once.
    pub(crate) blocks: Vec<(u64, u64)>,
    seen_blocks: HashSet<u64>,
}

impl<'d> Trees<'d> {
    /// Ready to read the trees of `sb` through `reader` and `chunks`, at most `budget` nodes.
    pub(crate) fn new(reader: Reader<'d>, sb: &Superblock, chunks: ChunkMap, budget: u64) -> Self {
        Trees {
            reader,
            chunks,
            node_size: sb.node_size,
            fsid: (sb.incompat & INCOMPAT_METADATA_UUID == 0).then_some(sb.fsid),
            check_crc: sb.csum_type == 0,
            budget,
            counts: TreeCounts::default(),
            blocks: Vec::new(),
            seen_blocks: HashSet::new(),
        }
    }

    /// Visits every item of the tree whose root is at `root` (level `level`), in key order:
    /// `visit` is given each item and the physical offsets of its leaf's copies.
    pub(crate) fn walk(
        &mut self,
        root: u64,
        level: u8,
        visit: &mut dyn FnMut(&Item<'_>, &[u64]),
    ) -> Result<(), FsError> {
        let mut seen = HashSet::new();
        let mut stack = vec![(root, level)];
        while let Some((logical, level)) = stack.pop() {
            if !seen.insert(logical) {
                self.counts.repeated = self.counts.repeated.saturating_add(1);
                continue;
            }
            if self.budget == 0 {
                self.counts.out_of_budget = true;
                return Ok(());
            }
            self.budget = self.budget.saturating_sub(1);
            let Some((node, copies)) = self.read_node(logical, level)? else {
                continue;
            };
            match parse_node(&node, level) {
                Ok(Parsed::Leaf(items)) => {
                    for item in &items {
                        visit(item, &copies);
                    }
                }
                Ok(Parsed::Node(children)) => {
                    let below = level.saturating_sub(1);
                    stack.extend(children.into_iter().rev().map(|child| (child, below)));
                }
                Err(_) => self.counts.damaged = self.counts.damaged.saturating_add(1),
            }
        }
        Ok(())
    }

    /// Node `logical` of level `level` from the first right copy, with the physical offset
    /// of each copy; `None` (counted) if none is right.
    fn read_node(&mut self, logical: u64, level: u8) -> Result<Option<NodeRead>, FsError> {
        let size = u64::from(self.node_size);
        let copies = match self.chunks.map(logical) {
            Some((copies, left)) if left >= size && level < MAX_LEVEL => copies,
            _ => {
                self.counts.unmapped = self.counts.unmapped.saturating_add(1);
                return Ok(None);
            }
        };
        for &physical in &copies {
            let Some(node) = self.reader.bytes(physical, size)? else {
                continue;
            };
            if self.node_is_right(&node, logical, level) {
                if self.seen_blocks.insert(logical) {
                    self.blocks.push((logical, le64(&node, 0x58)));
                }
                return Ok(Some((node, copies)));
            }
        }
        self.counts.bad_nodes = self.counts.bad_nodes.saturating_add(1);
        Ok(None)
    }

    /// Whether `node` says it is node `logical` of level `level` of this filesystem, and its
    /// checksum (CRC-32C; other algorithms are not checked) matches.
    fn node_is_right(&self, node: &[u8], logical: u64, level: u8) -> bool {
        let crc_ok = !self.check_crc || crc32c(node.get(0x20..).unwrap_or(&[])) == le32(node, 0);
        let fsid_ok = self
            .fsid
            .is_none_or(|fsid| node.get(0x20..0x30) == Some(&fsid[..]));
        crc_ok && fsid_ok && le64(node, 0x30) == logical && node.get(0x64) == Some(&level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(items: &[(u64, u8, u64, &[u8])], size: usize) -> Vec<u8> {
        let mut node = vec![0u8; size];
        node[0x60..0x64].copy_from_slice(&(items.len() as u32).to_le_bytes());
        let mut data_end = size - HEADER_LEN;
        for (i, (objectid, kind, offset, data)) in items.iter().enumerate() {
            let at = HEADER_LEN + i * ITEM_LEN;
            node[at..at + 8].copy_from_slice(&objectid.to_le_bytes());
            node[at + 8] = *kind;
            node[at + 9..at + 17].copy_from_slice(&offset.to_le_bytes());
            data_end -= data.len();
            node[at + 17..at + 21].copy_from_slice(&(data_end as u32).to_le_bytes());
            node[at + 21..at + 25].copy_from_slice(&(data.len() as u32).to_le_bytes());
            node[HEADER_LEN + data_end..HEADER_LEN + data_end + data.len()].copy_from_slice(data);
        }
        node
    }

    /// A level-1 node at 0 whose `count` pointers all name the leaf at 4096 (and one names
    /// itself), on a disk of 8 KiB mapped 1:1; checksums not checked (type xxhash64).
    fn shared_child_disk(count: usize) -> (snapsift_disk::MemoryDisk, Superblock) {
        let mut disk = vec![0u8; 8192];
        disk[0x64] = 1;
        disk[0x60..0x64].copy_from_slice(&(count as u32 + 1).to_le_bytes());
        for i in 0..=count {
            let at = HEADER_LEN + i * PTR_LEN + KEY_LEN;
            let child: u64 = if i == count { 0 } else { 4096 };
            disk[at..at + 8].copy_from_slice(&child.to_le_bytes());
        }
        let leaf = leaf(&[(256, 1, 0, b"item")], 4096);
        disk[4096..].copy_from_slice(&leaf);
        disk[4096 + 0x30..4096 + 0x38].copy_from_slice(&4096u64.to_le_bytes());
        let sb = Superblock {
            fsid: [0; 16],
            root: 0,
            root_level: 1,
            chunk_root: 0,
            chunk_root_level: 0,
            log_root: 0,
            log_root_level: 0,
            num_devices: 1,
            sector_size: 4096,
            node_size: 4096,
            incompat: 0,
            csum_type: 1,
            devid: 1,
            dev_bytes: 8192,
            sys_chunks: Vec::new(),
        };
        (snapsift_disk::MemoryDisk::new(disk), sb)
    }

    /// A reader of all of `disk`.
    fn reader(disk: &snapsift_disk::MemoryDisk) -> Reader<'_> {
        Reader {
            disk,
            start: 0,
            len: 8192,
            block_size: 4096,
        }
    }

    #[test]
    fn a_shared_child_is_read_once_and_a_node_naming_itself_is_refused() {
        let (disk, sb) = shared_child_disk(100);
        let mut chunks = ChunkMap::default();
        let chunk = super::super::superblock::Chunk {
            logical: 0,
            length: 8192,
            flags: 0,
            stripes: vec![(1, 0)],
        };
        assert!(chunks.add(chunk, 1));
        let mut trees = Trees::new(reader(&disk), &sb, chunks, 1000);
        let mut items = 0;
        trees.walk(0, 1, &mut |_, _| items += 1).unwrap();
        assert_eq!(items, 1, "the leaf is read once");
        assert_eq!(
            trees.counts.repeated, 100,
            "99 repeats of the leaf, 1 of the node"
        );
        assert_eq!(trees.counts.bad_nodes, 0);
        // A budget of one node: the walk stops and says so.
        let mut trees = Trees::new(reader(&disk), &sb, trees.chunks.clone(), 1);
        trees.walk(0, 1, &mut |_, _| {}).unwrap();
        assert!(trees.counts.out_of_budget);
        // A node read as a child of itself has the wrong level: refused.
        let mut trees = Trees::new(reader(&disk), &sb, trees.chunks.clone(), 10);
        trees.walk(0, 2, &mut |_, _| {}).unwrap();
        assert_eq!(trees.counts.bad_nodes, 1);
    }

    #[test]
    fn leaves_parse_and_hostile_ones_are_refused() {
        let node = leaf(&[(256, 1, 0, b"abc"), (256, 12, 5, b"xy")], 4096);
        let Ok(Parsed::Leaf(items)) = parse_node(&node, 0) else {
            panic!("a leaf");
        };
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[1].key,
            Key {
                objectid: 256,
                kind: 12,
                offset: 5
            }
        );
        assert_eq!(items[0].data, b"abc");
        assert_eq!(&node[items[1].at as usize..][..2], b"xy");
        let mut bad = node.clone();
        bad[HEADER_LEN + 17..HEADER_LEN + 21].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse_node(&bad, 0).is_err(), "data past the leaf");
        bad[0x60..0x64].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse_node(&bad, 0).is_err(), "too many items");
        assert!(parse_node(&bad, 1).is_err(), "too many pointers");
        assert!(parse_node(&[], 0).is_ok_and(|p| matches!(p, Parsed::Leaf(v) if v.is_empty())));
    }
}
