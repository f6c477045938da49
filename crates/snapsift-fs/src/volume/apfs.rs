//! APFS containers: read far enough to tell whether any of their volumes is encrypted
//! (FileVault), so that an encrypted one is never reported as scanned. The files of APFS
//! volumes are not read; a container's bytes are swept as they are.
//!
//! What is read, after Apple's "Apple File System Reference": the container superblock
//! (`NXSB`) in block 0 and in the checkpoint descriptor area (the valid one with the highest
//! transaction id wins), the container's object map (a B-tree of fixed-size entries: a virtual
//! object id and transaction id to a physical block), and the superblock (`APSB`) of each
//! volume the container lists, whose `apfs_fs_flags` lack `APFS_FS_UNENCRYPTED` when the volume
//! is encrypted. Every object's Fletcher-64 checksum and type are checked, every block number
//! is checked against the container, and the walk is bounded (descriptor blocks, tree nodes,
//! tree depth), so a hostile container costs at most a few megabytes of reads.
//!
//! Parsing is apart from I/O: [`Superblock::parse`], [`Node::parse`] and [`parse_volume`] take
//! bytes; [`read`] fetches the blocks they name.

use std::collections::BTreeMap;
use std::ops::Range;

use snapsift_disk::Disk;

use super::content::uuid_in_order;
use crate::FsError;
use crate::bytes::{le16, le32, le64};

/// Where the magic of an object (`NXSB`, `APSB`) lies: after the 32-byte object header.
const MAGIC_AT: usize = 32;
/// The container superblock's magic, as it lies on the disk.
pub(crate) const NX_MAGIC: &[u8; 4] = b"NXSB";
/// A volume superblock's magic.
const FS_MAGIC: &[u8; 4] = b"APSB";

/// Object types (the low 16 bits of `o_type`).
const TYPE_NX_SUPERBLOCK: u32 = 0x1;
const TYPE_BTREE: u32 = 0x2;
const TYPE_BTREE_NODE: u32 = 0x3;
const TYPE_OMAP: u32 = 0xb;
const TYPE_FS: u32 = 0xd;

/// `apfs_fs_flags`: set on a volume that is not encrypted.
const APFS_FS_UNENCRYPTED: u64 = 0x1;
/// `btn_flags`.
const BTNODE_ROOT: u16 = 0x1;
const BTNODE_LEAF: u16 = 0x2;
const BTNODE_FIXED_KV_SIZE: u16 = 0x4;
/// The header of a B-tree node, before its table of contents.
const NODE_HEADER: usize = 56;
/// The `btree_info_t` at the end of a root node.
const BTREE_INFO: usize = 40;
/// The high bit of `nx_xp_desc_blocks`: the descriptor area is not contiguous.
const DESC_NOT_CONTIGUOUS: u32 = 0x8000_0000;

/// At most this many volumes in a container (`NX_MAX_FILE_SYSTEMS`).
const MAX_VOLUMES: usize = 100;
/// At most this many checkpoint descriptor blocks are read.
const MAX_DESC_BLOCKS: u32 = 1024;
/// At most this many object-map nodes are read, and this deep.
const MAX_NODES: usize = 1024;
const MAX_DEPTH: usize = 16;
/// The longest volume name kept, in characters.
const MAX_NAME: usize = 64;

/// An APFS container: its UUID and volumes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Container {
    /// The container's UUID, as Apple's tools print it.
    pub(crate) uuid: String,
    /// Its volumes, in the order the superblock lists them.
    pub(crate) volumes: Vec<ApfsVolume>,
}

/// One volume of an APFS container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApfsVolume {
    /// Its name, with characters that are not printable escaped.
    pub(crate) name: String,
    /// Whether it is encrypted.
    pub(crate) encrypted: bool,
}

impl Container {
    /// Whether any volume is encrypted.
    pub(crate) fn encrypted(&self) -> bool {
        self.volumes.iter().any(|v| v.encrypted)
    }

    /// A few words on the volumes for the user: `volumes "Macintosh HD", "Data" (encrypted)`.
    pub(crate) fn describe(&self) -> String {
        let names: Vec<String> = self
            .volumes
            .iter()
            .map(|v| {
                let encrypted = if v.encrypted { " (encrypted)" } else { "" };
                format!("\"{}\"{encrypted}", v.name)
            })
            .collect();
        if names.is_empty() {
            "no volume".to_owned()
        } else {
            format!("volumes {}", names.join(", "))
        }
    }
}

/// A damaged or hostile container: what and where.
fn corrupt(at: u64, what: &str) -> FsError {
    FsError::Corrupt(format!("APFS object at byte {at}: {what}"))
}

/// The Fletcher-64 checksum APFS stores in the first 8 bytes of every object, over the rest.
fn fletcher64(block: &[u8]) -> u64 {
    const MOD: u64 = 0xffff_ffff;
    // Both sums stay below MOD and every addend below 2^32, so no sum reaches 2^34: the
    // wrapping operations never wrap.
    let (mut sum1, mut sum2) = (0u64, 0u64);
    for word in block.get(8..).unwrap_or_default().chunks_exact(4) {
        sum1 = sum1.wrapping_add(u64::from(le32(word, 0))) % MOD;
        sum2 = sum2.wrapping_add(sum1) % MOD;
    }
    let check1 = MOD.wrapping_sub(sum1.wrapping_add(sum2) % MOD);
    let check2 = MOD.wrapping_sub(sum1.wrapping_add(check1) % MOD);
    (check2 << 32) | check1
}

/// Checks an object's checksum and type; `at` is its byte position, for errors.
fn check_object(block: &[u8], object_type: u32, at: u64) -> Result<(), FsError> {
    if block.len() < NODE_HEADER || le64(block, 0) != fletcher64(block) {
        return Err(corrupt(at, "checksum mismatch"));
    }
    let found = le32(block, 24) & 0xffff;
    if found != object_type {
        return Err(corrupt(
            at,
            &format!("object type {found:#x} where {object_type:#x} belongs"),
        ));
    }
    Ok(())
}

/// Whether a container's block size is one APFS uses: a power of two from 4 KiB to 64 KiB.
fn block_size_ok(size: u32) -> bool {
    size.is_power_of_two() && (4096..=65536).contains(&size)
}

/// What the container superblock says that this module needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Superblock {
    /// Its transaction id.
    xid: u64,
    /// The block size, a power of two from 4 KiB to 64 KiB.
    block_size: u32,
    /// The container's UUID.
    uuid: [u8; 16],
    /// The checkpoint descriptor area: first block and block count, if contiguous.
    desc: Option<(u64, u32)>,
    /// The physical block of the container's object map.
    omap: u64,
    /// The virtual object ids of the volume superblocks.
    volumes: Vec<u64>,
}

impl Superblock {
    /// Parses a container superblock block; `at` is its byte position, for errors.
    pub(crate) fn parse(block: &[u8], at: u64) -> Result<Superblock, FsError> {
        if block.get(MAGIC_AT..MAGIC_AT + 4) != Some(NX_MAGIC) {
            return Err(corrupt(at, "no NXSB magic"));
        }
        check_object(block, TYPE_NX_SUPERBLOCK, at)?;
        let block_size = le32(block, 36);
        if !block_size_ok(block_size) {
            return Err(corrupt(at, &format!("block size {block_size}")));
        }
        let desc_blocks = le32(block, 104);
        let desc = (desc_blocks & DESC_NOT_CONTIGUOUS == 0)
            .then(|| (le64(block, 112), desc_blocks.min(MAX_DESC_BLOCKS)));
        let max_volumes = usize::try_from(le32(block, 180))
            .unwrap_or(MAX_VOLUMES)
            .min(MAX_VOLUMES);
        let volumes = (0..max_volumes)
            .map(|i| le64(block, i.saturating_mul(8).saturating_add(184)))
            .filter(|&oid| oid != 0)
            .collect();
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(block.get(72..88).unwrap_or(&[0; 16]));
        Ok(Superblock {
            xid: le64(block, 16),
            block_size,
            uuid,
            desc,
            omap: le64(block, 160),
            volumes,
        })
    }
}

/// One node of the object map's B-tree.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Node {
    /// A leaf: (virtual oid, transaction id, physical block) entries.
    Leaf(Vec<(u64, u64, u64)>),
    /// An inner node: its children's physical blocks.
    Inner(Vec<u64>),
}

impl Node {
    /// Parses an object-map node; `root` says whether it is the tree's root (whose values end
    /// before the tree's info), `at` is its byte position, for errors.
    pub(crate) fn parse(block: &[u8], root: bool, at: u64) -> Result<Node, FsError> {
        let object_type = if root { TYPE_BTREE } else { TYPE_BTREE_NODE };
        check_object(block, object_type, at)?;
        let flags = le16(block, 32);
        if flags & BTNODE_FIXED_KV_SIZE == 0 {
            return Err(corrupt(at, "object map node without fixed-size entries"));
        }
        let leaf = flags & BTNODE_LEAF != 0;
        if (flags & BTNODE_ROOT != 0) != root {
            return Err(corrupt(at, "root flag out of place"));
        }
        let count = usize::try_from(le32(block, 36)).unwrap_or(usize::MAX);
        let toc_start = NODE_HEADER.saturating_add(usize::from(le16(block, 40)));
        let keys_start = toc_start.saturating_add(usize::from(le16(block, 42)));
        let values_end = if root {
            block.len().saturating_sub(BTREE_INFO)
        } else {
            block.len()
        };
        let value_len = if leaf { 16 } else { 8 };
        // Each entry takes 4 bytes of table, so a count past that is a lie.
        if count > block.len() / 4 || toc_start.saturating_add(count.saturating_mul(4)) > keys_start
        {
            return Err(corrupt(at, &format!("{count} entries do not fit the node")));
        }
        let mut keys = Vec::with_capacity(count);
        let mut values = Vec::with_capacity(count);
        for i in 0..count {
            // Below `keys_start`, as checked above.
            let entry = toc_start.saturating_add(i.saturating_mul(4));
            let key = keys_start.saturating_add(usize::from(le16(block, entry)));
            let value = values_end
                .checked_sub(usize::from(le16(block, entry.saturating_add(2))))
                .filter(|&v| v >= keys_start && v.saturating_add(value_len) <= values_end);
            let (Some(value), true) = (value, key.saturating_add(16) <= values_end) else {
                return Err(corrupt(at, &format!("entry {i} lies outside the node")));
            };
            keys.push((le64(block, key), le64(block, key.saturating_add(8))));
            values.push(value);
        }
        Ok(if leaf {
            Node::Leaf(
                keys.iter()
                    .zip(&values)
                    .map(|(&(oid, xid), &value)| (oid, xid, le64(block, value.saturating_add(8))))
                    .collect(),
            )
        } else {
            Node::Inner(values.iter().map(|&value| le64(block, value)).collect())
        })
    }
}

/// Parses a volume superblock into its name and whether it is encrypted; `at` is its byte
/// position, for errors.
pub(crate) fn parse_volume(block: &[u8], at: u64) -> Result<ApfsVolume, FsError> {
    if block.get(MAGIC_AT..MAGIC_AT + 4) != Some(FS_MAGIC) {
        return Err(corrupt(at, "no APSB magic"));
    }
    check_object(block, TYPE_FS, at)?;
    let raw = block.get(704..960).unwrap_or_default();
    let raw = raw.split(|&b| b == 0).next().unwrap_or_default();
    let name = String::from_utf8_lossy(raw)
        .chars()
        .take(MAX_NAME)
        .flat_map(|c| {
            let escape = c.is_control() || c == '"' || c == '\\';
            let escaped: Vec<char> = if escape {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect();
    Ok(ApfsVolume {
        name,
        encrypted: le64(block, 264) & APFS_FS_UNENCRYPTED == 0,
    })
}

/// Reads the blocks of one container lying in `range` of `disk`.
struct Blocks<'a> {
    disk: &'a dyn Disk,
    range: Range<u64>,
    size: u32,
}

impl Blocks<'_> {
    /// Block `number`, and its byte position on the disk.
    fn read(&self, number: u64) -> Result<(Vec<u8>, u64), FsError> {
        let at = number
            .checked_mul(u64::from(self.size))
            .and_then(|offset| self.range.start.checked_add(offset))
            .filter(|&at| {
                at.checked_add(u64::from(self.size))
                    .is_some_and(|end| end <= self.range.end)
            })
            .ok_or_else(|| {
                FsError::Corrupt(format!(
                    "APFS block {number} lies outside the container (at byte {})",
                    self.range.start
                ))
            })?;
        let mut block = vec![0u8; self.size as usize];
        self.disk.read_exact_at(at, &mut block)?;
        Ok((block, at))
    }
}

/// Reads the APFS container that fills `range` of `disk`: its newest superblock, its volumes
/// through the object map, and whether each is encrypted.
pub(crate) fn read(disk: &dyn Disk, range: Range<u64>) -> Result<Container, FsError> {
    let mut blocks = Blocks {
        disk,
        range: range.clone(),
        size: 4096,
    };
    let (mut block, _) = blocks.read(0)?;
    // Block 0 read whole at the block size it gives; a size APFS does not use is refused by
    // the parse.
    let block_size = le32(&block, 36);
    if block_size != blocks.size && block_size_ok(block_size) {
        blocks.size = block_size;
        block = blocks.read(0)?.0;
    }
    let mut newest = Superblock::parse(&block, range.start)?;
    if let Some((base, count)) = newest.desc {
        for i in 0..u64::from(count) {
            // A descriptor block that is not a valid superblock (a checkpoint map, an old or
            // torn one) is passed over: block 0 stands if none is newer.
            let Some(number) = base.checked_add(i) else {
                break;
            };
            let Ok((block, at)) = blocks.read(number) else {
                continue;
            };
            if let Ok(candidate) = Superblock::parse(&block, at)
                && candidate.xid > newest.xid
                && candidate.block_size == blocks.size
            {
                newest = candidate;
            }
        }
    }
    let (omap, at) = blocks.read(newest.omap)?;
    check_object(&omap, TYPE_OMAP, at)?;
    let locations = lookup(&blocks, le64(&omap, 48), &newest)?;
    let mut volumes = Vec::new();
    for oid in &newest.volumes {
        let &(_, paddr) = locations.get(oid).ok_or_else(|| {
            FsError::Corrupt(format!(
                "APFS volume object {oid} is not in the container's object map"
            ))
        })?;
        let (block, at) = blocks.read(paddr)?;
        volumes.push(parse_volume(&block, at)?);
    }
    Ok(Container {
        uuid: uuid_in_order(&newest.uuid),
        volumes,
    })
}

/// Walks the object map's tree from `root` and returns, for each volume oid `superblock`
/// lists, its newest (transaction id, physical block) at or before the superblock's.
fn lookup(
    blocks: &Blocks<'_>,
    root: u64,
    superblock: &Superblock,
) -> Result<BTreeMap<u64, (u64, u64)>, FsError> {
    let mut found: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    let mut pending = vec![(root, 0usize)];
    let mut visited = 0usize;
    while let Some((number, depth)) = pending.pop() {
        visited = visited.saturating_add(1);
        if visited > MAX_NODES || depth > MAX_DEPTH {
            return Err(FsError::Corrupt(format!(
                "APFS object map larger than {MAX_NODES} nodes or deeper than {MAX_DEPTH}"
            )));
        }
        let (block, at) = blocks.read(number)?;
        match Node::parse(&block, depth == 0, at)? {
            Node::Leaf(entries) => {
                for (oid, xid, paddr) in entries {
                    let wanted = superblock.volumes.contains(&oid) && xid <= superblock.xid;
                    if wanted && found.get(&oid).is_none_or(|&(seen, _)| xid > seen) {
                        found.insert(oid, (xid, paddr));
                    }
                }
            }
            Node::Inner(children) => {
                let below = depth.saturating_add(1);
                pending.extend(children.into_iter().map(|child| (child, below)));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seals `block` as APFS does: its checksum in its first 8 bytes.
    fn seal(block: &mut [u8]) {
        let sum = fletcher64(block);
        block[..8].copy_from_slice(&sum.to_le_bytes());
    }

    #[test]
    fn checksums_are_checked() {
        let mut block = vec![0u8; 4096];
        block[24..28].copy_from_slice(&TYPE_FS.to_le_bytes());
        block[32..36].copy_from_slice(FS_MAGIC);
        block[264] = 1;
        block[704..711].copy_from_slice(b"Data\x1b[2");
        seal(&mut block);
        let volume = parse_volume(&block, 0).unwrap();
        assert_eq!(volume.name, "Data\\u{1b}[2");
        assert!(!volume.encrypted);
        block[264] = 0;
        assert!(parse_volume(&block, 0).is_err(), "stale checksum");
        seal(&mut block);
        assert!(parse_volume(&block, 0).unwrap().encrypted);
    }

    #[test]
    fn nodes_whose_entries_lie_outside_are_refused() {
        let mut block = vec![0u8; 4096];
        block[24..28].copy_from_slice(&TYPE_BTREE.to_le_bytes());
        let flags = BTNODE_ROOT | BTNODE_LEAF | BTNODE_FIXED_KV_SIZE;
        block[32..34].copy_from_slice(&flags.to_le_bytes());
        block[36..40].copy_from_slice(&1u32.to_le_bytes());
        block[42..44].copy_from_slice(&64u16.to_le_bytes());
        // Key at 0 of the key area, value 16 bytes before the tree info.
        block[56..58].copy_from_slice(&0u16.to_le_bytes());
        block[58..60].copy_from_slice(&16u16.to_le_bytes());
        block[120..128].copy_from_slice(&1026u64.to_le_bytes());
        block[4096 - 40 - 8..4096 - 40].copy_from_slice(&77u64.to_le_bytes());
        seal(&mut block);
        assert_eq!(
            Node::parse(&block, true, 0).unwrap(),
            Node::Leaf(vec![(1026, 0, 77)])
        );
        block[58..60].copy_from_slice(&u16::MAX.to_le_bytes());
        seal(&mut block);
        assert!(Node::parse(&block, true, 0).is_err());
        block[58..60].copy_from_slice(&16u16.to_le_bytes());
        block[36..40].copy_from_slice(&u32::MAX.to_le_bytes());
        seal(&mut block);
        assert!(Node::parse(&block, true, 0).is_err());
    }
}
