//! The I/O side of the btrfs map: reads the superblock, the chunk tree, the root tree, the
//! extent tree and every FS tree, turns them into claims, lists the files and paints the map.
//!
//! Limits, so that a hostile image costs bounded time and memory: the trees' nodes read,
//! all walks together, are at most four per node the volume can hold plus 2^16
//! ([`node_budget`]); at most [`MAX_CLAIMS`] claims and [`MAX_NUMBERS`] inodes are kept;
//! compressed extents are at most [`MAX_EXTENT`](super::compress::MAX_EXTENT) either way.

use std::collections::HashMap;
use std::ops::Range;

use snapsift_disk::Disk;

use super::files::{self, Gather, Inode};
use super::superblock::{
    self, CHUNK_ITEM, ChunkMap, SUPERBLOCK_LEN, SUPERBLOCK_OFFSETS, Superblock,
};
use super::tree::Trees;
use super::{BtrfsMap, BtrfsNames, le16, le64};
use crate::FsError;
use crate::block_map::{BlockMap, Claimed, Claims, Entry, Owner};
use crate::content::Piece;
use crate::file_list::FileList;
use crate::filesystem::FileState;
use crate::names::Names;
use crate::paint;
use crate::walk::{Notes, Reader};

/// Claims kept at most: each costs 24 bytes until the map is painted.
const MAX_CLAIMS: usize = 1 << 26;
/// Inodes (of all subvolumes) and trees numbered at most: the file list's numbers have 30
/// bits.
const MAX_NUMBERS: usize = 1 << 29;
/// Root tree item types, and tree object IDs.
const ROOT_ITEM: u8 = 132;
const ROOT_REF: u8 = 156;
const EXTENT_ITEM: u8 = 168;
const METADATA_ITEM: u8 = 169;
const DEV_EXTENT: u8 = 204;
const EXTENT_TREE: u64 = 2;
const DEV_TREE: u64 = 4;
const FS_TREE: u64 = 5;
const FIRST_FREE: u64 = 256;
const LAST_FREE: u64 = u64::MAX - 255;
/// An extent item's flag for a tree block.
const TREE_BLOCK: u64 = 2;

/// Which claim wins where claims overlap: the higher layer, then the earlier claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    /// Everything: free unless something else says otherwise.
    Base,
    /// Chunks whose profile stripes data: in use, by nothing the map can tell.
    Striped,
    /// Extents the extent tree records: data (in use, nobody's) and tree blocks.
    Extent,
    /// Files' extents.
    File,
    /// Superblocks and the tree blocks read.
    Structure,
    /// Files' inline data, inside their leaves.
    Inline,
}

impl From<Layer> for u8 {
    fn from(layer: Layer) -> u8 {
        layer as u8
    }
}

/// Tree nodes that may be read, all walks together (snapshots share nodes, each walk reads
/// them again).
fn node_budget(len: u64, sb: &Superblock) -> u64 {
    len.checked_div(u64::from(sb.node_size))
        .unwrap_or(0)
        .saturating_mul(4)
        .saturating_add(1 << 16)
}

/// A tree the root tree names: its object ID, root node and level, root directory.
struct Root {
    id: u64,
    bytenr: u64,
    level: u8,
    dirid: u64,
}

/// The state of the walk.
struct Walker {
    notes: Notes,
    claims: Claims,
    /// (tree, inode) by the map's number, and the reverse.
    ids: Vec<(u64, u64)>,
    numbers: HashMap<(u64, u64), u64>,
    numbers_full: bool,
    /// Names, from the root tree's walk on.
    names: Option<Names>,
    files: FileList,
    unlisted: u64,
    /// Damaged items and unreadable extents.
    problems: u64,
}

/// Builds the map of the btrfs filesystem in `volume` of `disk`.
pub(crate) fn build(disk: &dyn Disk, volume: Range<u64>) -> Result<BtrfsMap, FsError> {
    let end = volume.end.min(disk.size());
    let len = end.saturating_sub(volume.start);
    let probe = Reader {
        disk,
        start: volume.start,
        len,
        block_size: 4096,
    };
    let raw = probe
        .bytes(SUPERBLOCK_OFFSETS[0], SUPERBLOCK_LEN as u64)?
        .ok_or_else(|| FsError::NotBtrfs("the volume ends before the superblock".into()))?;
    let sb = superblock::parse(&raw).map_err(FsError::NotBtrfs)?;
    let mut walker = Walker {
        notes: Notes::default(),
        claims: Claims::new(MAX_CLAIMS),
        ids: vec![(0, 0)],
        numbers: HashMap::new(),
        numbers_full: false,
        names: None,
        files: FileList::new(u64::from(sb.sector_size)),
        unlisted: 0,
        problems: 0,
    };
    if sb.csum_type != 0 {
        walker.notes.push(format!(
            "checksums ({}) are not verified: only CRC-32C is",
            sb.csum_name()
        ));
    }
    if sb.num_devices != 1 {
        walker.notes.push(format!(
            "the filesystem spans {} devices: only this one's bytes (device {}) are mapped",
            sb.num_devices, sb.devid
        ));
    }
    if sb.dev_bytes > len {
        walker.notes.push(format!(
            "the volume is cut short: the filesystem records {} bytes on this device, the \
             volume holds {len}",
            sb.dev_bytes
        ));
    }
    let mut chunks = ChunkMap::default();
    for chunk in &sb.sys_chunks {
        chunks.add(chunk.clone(), sb.devid);
    }
    let reader = Reader {
        block_size: u64::from(sb.sector_size),
        ..probe
    };
    let mut trees = Trees::new(reader, &sb, chunks, node_budget(len, &sb));
    let mut found = Vec::new();
    trees.walk(sb.chunk_root, sb.chunk_root_level, &mut |item, _| {
        if item.key.kind == CHUNK_ITEM {
            found.push(superblock::parse_chunk(item.key.offset, item.data));
        }
    })?;
    if found.is_empty() {
        return Err(FsError::Corrupt(
            "btrfs: the chunk tree could not be read".into(),
        ));
    }
    for chunk in found {
        match chunk {
            Ok(chunk) => {
                if !trees.chunks.add(chunk.clone(), sb.devid) {
                    walker.notes.push(format!(
                        "chunk at logical {} overlaps another and was ignored",
                        chunk.logical
                    ));
                }
            }
            Err(e) => walker.notes.push(format!("a damaged chunk item: {e}")),
        }
    }
    let roots = walker.read_roots(&mut trees, &sb)?;
    walker.claim(0..len, Layer::Base, FileState::Unallocated, Owner::Nobody);
    for root in &roots {
        if root.id == DEV_TREE {
            walker.read_dev_extents(&mut trees, root, &sb)?;
        } else if root.id == EXTENT_TREE {
            walker.read_extents(&mut trees, root, &sb)?;
        } else if root.id == FS_TREE || (FIRST_FREE..=LAST_FREE).contains(&root.id) {
            let mut gather = Gather::default();
            trees.walk(root.bytenr, root.level, &mut |item, copies| {
                gather.item(item, copies)
            })?;
            gather.flush();
            walker.problems = walker.problems.saturating_add(gather.damaged);
            walker.take_inodes(root, gather.inodes, &trees, &sb);
        } else {
            trees.walk(root.bytenr, root.level, &mut |_, _| {})?;
        }
    }
    if sb.log_root != 0 {
        trees.walk(sb.log_root, sb.log_root_level, &mut |_, _| {})?;
    }
    walker.claim_structures(&trees, &sb, len);
    walker.note_trees(&trees);
    Ok(walker.finish(len))
}

impl Walker {
    /// The map's number of inode `ino` of `tree` (inode 0: the tree), made if new; `None`
    /// past [`MAX_NUMBERS`].
    fn number(&mut self, tree: u64, ino: u64) -> Option<u64> {
        if let Some(&n) = self.numbers.get(&(tree, ino)) {
            return Some(n);
        }
        if self.ids.len() >= MAX_NUMBERS {
            self.numbers_full = true;
            return None;
        }
        let n = self.ids.len() as u64;
        self.ids.push((tree, ino));
        self.numbers.insert((tree, ino), n);
        Some(n)
    }

    fn claim(&mut self, range: Range<u64>, layer: Layer, state: FileState, owner: Owner) {
        self.claims.add(
            range.start,
            range.end,
            layer,
            Claimed::is(Entry::new(state, owner)),
        );
    }

    /// Reads the root tree: the trees it names, and the links of subvolumes into their
    /// parents' directories (kept for the names).
    fn read_roots(&mut self, trees: &mut Trees<'_>, sb: &Superblock) -> Result<Vec<Root>, FsError> {
        let mut roots = Vec::new();
        let mut refs = Vec::new();
        trees.walk(sb.root, sb.root_level, &mut |item, _| match item.key.kind {
            ROOT_ITEM if item.data.len() >= 239 => roots.push(Root {
                id: item.key.objectid,
                bytenr: le64(item.data, 176),
                level: item.data[238],
                dirid: le64(item.data, 168),
            }),
            ROOT_REF => {
                let len = usize::from(le16(item.data, 16));
                if let Some(name) = item.data.get(18..18usize.saturating_add(len)) {
                    let dirid = le64(item.data, 0);
                    refs.push((item.key.offset, item.key.objectid, dirid, name.to_vec()));
                }
            }
            _ => {}
        })?;
        if roots.is_empty() {
            return Err(FsError::Corrupt(
                "btrfs: the root tree could not be read".into(),
            ));
        }
        // A root item is found once per tree; a hostile root tree's repeats are read once.
        roots.sort_by_key(|r| r.id);
        roots.dedup_by_key(|r| r.id);
        let root_dir = roots
            .iter()
            .find(|r| r.id == FS_TREE)
            .map_or(FIRST_FREE, |r| r.dirid);
        let top = self.number(FS_TREE, root_dir).unwrap_or(0);
        self.names = Some(Names::with_room(top, 0));
        for (child, parent, dirid, name) in refs {
            let child_dir = roots
                .iter()
                .find(|r| r.id == child)
                .map_or(FIRST_FREE, |r| r.dirid);
            if let (Some(n), Some(p)) = (self.number(child, child_dir), self.number(parent, dirid))
            {
                self.name(n, p, &name);
            }
        }
        Ok(roots)
    }

    /// Records that number `n` is called `name` in directory number `parent`.
    fn name(&mut self, n: u64, parent: u64, name: &[u8]) {
        if let Some(names) = self.names.as_mut()
            && names.add(n, parent, name).is_err()
        {
            self.numbers_full = true;
        }
    }

    /// Reads the device tree: the device extents of this device whose chunk's profile
    /// stripes data are claimed as in use by nothing the map can tell.
    fn read_dev_extents(
        &mut self,
        trees: &mut Trees<'_>,
        root: &Root,
        sb: &Superblock,
    ) -> Result<(), FsError> {
        let mut extents = Vec::new();
        trees.walk(root.bytenr, root.level, &mut |item, _| {
            if item.key.kind == DEV_EXTENT && item.key.objectid == sb.devid {
                extents.push((item.key.offset, le64(item.data, 16), le64(item.data, 24)));
            }
        })?;
        let mut striped = 0u64;
        for (physical, logical, length) in extents {
            let chunk = trees.chunks.chunks().iter().find(|c| c.logical == logical);
            if chunk.is_some_and(|c| c.striped()) {
                striped = striped.saturating_add(1);
                let end = physical.saturating_add(length);
                self.claim(
                    physical..end,
                    Layer::Striped,
                    FileState::Allocated,
                    Owner::Nobody,
                );
            }
        }
        if striped > 0 {
            self.notes.push(format!(
                "{striped} chunks stripe data across devices (RAID0/10/5/6): not mapped, their \
                 bytes are swept raw"
            ));
        }
        Ok(())
    }

    /// Reads the extent tree: what it records as in use is `allocated` (data) or `metadata`
    /// (tree blocks), nobody's until a file or a walk claims it.
    fn read_extents(
        &mut self,
        trees: &mut Trees<'_>,
        root: &Root,
        sb: &Superblock,
    ) -> Result<(), FsError> {
        let mut extents = Vec::new();
        let node = u64::from(sb.node_size);
        trees.walk(
            root.bytenr,
            root.level,
            &mut |item, _| match item.key.kind {
                EXTENT_ITEM => {
                    let tree = le64(item.data, 16) & TREE_BLOCK != 0;
                    extents.push((item.key.objectid, item.key.offset, tree));
                }
                METADATA_ITEM => extents.push((item.key.objectid, node, true)),
                _ => {}
            },
        )?;
        for (logical, len, tree) in extents {
            let state = if tree {
                FileState::Metadata
            } else {
                FileState::Allocated
            };
            for (_, copies, n) in trees.chunks.ranges(logical, len) {
                for at in copies {
                    self.claim(
                        at..at.saturating_add(n),
                        Layer::Extent,
                        state,
                        Owner::Nobody,
                    );
                }
            }
        }
        Ok(())
    }

    /// Names the inodes of the FS tree `root`, lists its regular files and claims their
    /// bytes.
    fn take_inodes(&mut self, root: &Root, inodes: Vec<Inode>, trees: &Trees<'_>, sb: &Superblock) {
        for inode in inodes {
            let Some(n) = self.number(root.id, inode.ino) else {
                return;
            };
            if inode.ino != root.dirid
                && let Some((parent, name)) = &inode.name
                && let Some(p) = self.number(root.id, *parent)
            {
                self.name(n, p, name);
            }
            if inode.is_file() {
                self.take_file(n, &inode, trees, sb);
            }
        }
    }

    /// Lists regular file number `n` and claims its bytes.
    fn take_file(&mut self, n: u64, inode: &Inode, trees: &Trees<'_>, sb: &Superblock) {
        let built = files::build(inode, &trees.chunks, sb.sector_size);
        for problem in built.problems {
            self.problems = self.problems.saturating_add(1);
            self.notes.push(format!("inode {}: {problem}", inode.ino));
        }
        let owner = Owner::Inode(n);
        for (range, inline) in built.owned {
            let layer = if inline { Layer::Inline } else { Layer::File };
            self.claim(range, layer, FileState::Allocated, owner);
        }
        let spans = built.content.spans.clone();
        let listed = self
            .files
            .push(n, FileState::Allocated, built.content, None);
        if listed.is_err() {
            self.unlisted = self.unlisted.saturating_add(1);
        }
        for (j, span) in spans.iter().enumerate() {
            let (at, layer) = match span.piece {
                Piece::Volume(at) => (at, Layer::File),
                Piece::Held { at: Some(at), .. } => (at, Layer::Inline),
                _ => continue,
            };
            let end = at.saturating_add(span.len);
            let claimed = listed
                .ok()
                .filter(|_| layer == Layer::File)
                .and_then(|l| l.span(u32::try_from(j).ok()?))
                .and_then(Claimed::span);
            match claimed {
                Some(claimed) => self.claims.add(at, end, layer, claimed),
                None => self.claim(at..end, layer, FileState::Allocated, owner),
            }
        }
    }

    /// Claims the superblocks and every copy of each tree block read, with its tree.
    fn claim_structures(&mut self, trees: &Trees<'_>, sb: &Superblock, len: u64) {
        for at in SUPERBLOCK_OFFSETS {
            let end = at.saturating_add(SUPERBLOCK_LEN as u64);
            if end <= len {
                self.claim(
                    at..end,
                    Layer::Structure,
                    FileState::Metadata,
                    Owner::Nobody,
                );
            }
        }
        let node = u64::from(sb.node_size);
        for &(logical, tree) in &trees.blocks {
            let owner = self.number(tree, 0).map_or(Owner::Nobody, Owner::Inode);
            for at in trees
                .chunks
                .map(logical)
                .map(|(c, _)| c)
                .unwrap_or_default()
            {
                self.claim(
                    at..at.saturating_add(node),
                    Layer::Structure,
                    FileState::Metadata,
                    owner,
                );
            }
        }
    }

    /// Notes what went wrong reading the trees.
    fn note_trees(&mut self, trees: &Trees<'_>) {
        let c = &trees.counts;
        let counted = [
            (
                c.bad_nodes,
                "tree nodes had no copy with the right checksum, address and level",
            ),
            (
                c.unmapped,
                "tree nodes are at addresses no chunk maps on this device",
            ),
            (c.damaged, "tree nodes hold items that do not fit in them"),
            (
                c.repeated,
                "tree nodes were met twice in one tree (read once)",
            ),
            (self.problems, "items or extents could not be read"),
            (
                self.unlisted,
                "files could not be listed for the file pass (the list is full)",
            ),
        ];
        let mut notes: Vec<String> = counted
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
        if c.out_of_budget {
            notes.push("the trees hold more nodes than the volume can: the walk stopped".into());
        }
        if self.numbers_full {
            notes.push(format!(
                "more than {MAX_NUMBERS} inodes or names: the rest are unnamed"
            ));
        }
        for note in notes {
            self.notes.push(note);
        }
    }

    /// Paints the claims and assembles the map.
    fn finish(mut self, len: u64) -> BtrfsMap {
        let mut claims = std::mem::replace(&mut self.claims, Claims::new(0));
        if claims.cut {
            self.notes.push(format!(
                "the map holds at most {MAX_CLAIMS} ranges; the rest is mapped coarser"
            ));
        }
        let painted = paint::paint(&mut claims.list, len, Claimed::GAP);
        let names = self.names.take().unwrap_or_else(|| Names::with_room(0, 0));
        BtrfsMap {
            map: BlockMap {
                files: self.files,
                painted,
            },
            names: BtrfsNames {
                names: names.sorted(),
                ids: self.ids,
            },
            notes: self.notes.finish(),
        }
    }
}
