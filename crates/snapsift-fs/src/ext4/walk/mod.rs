//! The I/O side of the map: reads the superblock, descriptors, bitmaps, inode tables, trees
//! and directories of a volume, turns them into claims, and paints the map.
//!
//! Limits, so that a hostile image costs bounded time and memory:
//! * at most [`MAX_GROUPS`] groups and [`MAX_INODES`] inodes are considered;
//! * extent trees are followed to depth [`MAX_DEPTH`](super::extent::MAX_DEPTH), each level exactly one less
//!   deep than its parent, and a tree block met twice in one inode is a loop, cut;
//! * tree and directory blocks read, all inodes together, are bounded by a budget
//!   proportional to the filesystem's size ([`read_budget`]);
//! * at most [`MAX_CLAIMS`] claims (about one per extent) are kept;
//! * files are listed compactly ([`FileList`]), names too ([`Names`]), and the map is
//!   painted before the directories are walked, so that the claims are gone before the
//!   names are gathered: a filesystem of small files costs well under 100 bytes per file;
//! * directories are walked breadth first from the root, each once, to depth
//!   [`MAX_DEPTH`](crate::names::MAX_DEPTH).
//!
//! Reaching a limit, or meeting damage, adds a note and leaves that part of the map to the
//! block bitmap (in-use blocks without an owner read as `allocated` with no inode).

mod dirs;
mod trees;

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use snapsift_disk::Disk;

use super::group::{self, GroupDesc};
use super::inode::{self, Inode, Kind, Mapping};
use super::map::Layer;
use super::superblock::{self, INCOMPAT_ENCRYPT, INCOMPAT_RECOVER, Superblock};
use super::{Ext4Map, FileState};
use crate::FsError;
use crate::block_map::{BlockMap, Claimed, Claims, Entry, Owner, Painted, span_states};
use crate::content::{FileContent, Piece, Span};
use crate::file_list::FileList;
use crate::names::Names;
use crate::paint;
use crate::walk::{Notes, Reader};
use trees::Mapped;

/// Groups beyond this many are refused (2^24 groups of 128 MiB are 2 PiB).
const MAX_GROUPS: u64 = 1 << 24;
/// Inodes beyond this number are not read (their blocks stay `allocated` without owner).
const MAX_INODES: u64 = 1 << 27;
/// Claims kept at most: each costs 24 bytes until the map is painted, an interval 12 after.
const MAX_CLAIMS: usize = 1 << 26;
/// Bytes read at once from an inode table or a run of directory blocks.
const CHUNK: u64 = 1 << 20;

/// Tree and directory blocks that may be read, all inodes together: twice the filesystem's
/// blocks (each belongs to at most one tree or directory, once, in a consistent filesystem;
/// deleted inodes may record blocks again), plus some room for tiny filesystems.
fn read_budget(sb: &Superblock) -> u64 {
    sb.blocks_count.saturating_mul(2).saturating_add(1 << 16)
}

/// Counts of problems too common to note one by one.
#[derive(Default)]
struct Counts {
    /// Live inodes whose blocks could not be mapped.
    broken_trees: u64,
    /// Block pointers of live inodes outside the filesystem.
    outside: u64,
    /// Directory entries naming inodes not in use.
    dangling: u64,
    /// Directory blocks with a damaged chain of records.
    damaged_dirs: u64,
    /// Blocks claimed twice in one tree.
    loops: u64,
    /// Files the file list could not hold.
    unlisted: u64,
}

/// `len` blocks of a file from logical block `logical` are at `physical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    logical: u64,
    physical: u64,
    len: u64,
    /// An unwritten extent: its blocks belong to the file but read as zeros through it.
    unwritten: bool,
}

/// Where a directory's entries are.
enum DirData {
    /// In blocks; `indexed` for an htree.
    Blocks { runs: Vec<Run>, indexed: bool },
    /// In the inode: the areas after `i_block`'s parent number, and `system.data`.
    Inline(Vec<Vec<u8>>),
}

/// What an inode's blocks become.
#[derive(Clone, Copy)]
struct Roles {
    inode: u64,
    layer: Layer,
    data: FileState,
    slack: FileState,
    tree: FileState,
}

/// The state of the walk.
struct Walker<'d> {
    reader: Reader<'d>,
    sb: Superblock,
    notes: Notes,
    counts: Counts,
    claims: Claims,
    /// Whether claims were dropped, past [`MAX_CLAIMS`].
    claims_cut: bool,
    budget: u64,
    budget_noted: bool,
    /// Inodes in use, as a bitset indexed by inode number.
    live: Vec<u64>,
    /// Inodes the directory walk named, as a bitset like `live`.
    named: Vec<u64>,
    /// Whether names were dropped, past [`MAX_NAME_BYTES`](crate::names::MAX_NAME_BYTES).
    names_full: bool,
    /// Directories in use.
    dirs: HashMap<u64, DirData>,
    /// Directories not in use whose blocks are still recorded.
    deleted_dirs: HashMap<u64, DirData>,
    /// The kinds of the deleted inodes met, to check the type a deleted entry gives them,
    /// sorted by inode (inodes are read in order).
    deleted_kinds: Vec<(u32, Kind)>,
    /// Inode tables as (byte range, first inode).
    tables: Vec<(Range<u64>, u64)>,
    /// Regular files (in use, or deleted with contents still recorded), for the file pass.
    files: FileList,
}

/// Builds the map of the filesystem in `volume` of `disk`.
pub(crate) fn build(disk: &dyn Disk, volume: Range<u64>) -> Result<Ext4Map, FsError> {
    let end = volume.end.min(disk.size());
    let len = end.saturating_sub(volume.start);
    let probe = Reader {
        disk,
        start: volume.start,
        len,
        block_size: 1024,
    };
    let Some(raw) = probe.bytes(superblock::OFFSET, superblock::SIZE as u64)? else {
        return Err(FsError::NotExt(
            "the volume is too small to hold a superblock".into(),
        ));
    };
    let sb = superblock::parse(&raw)?;
    if sb.group_count > MAX_GROUPS {
        return Err(FsError::Unsupported(format!(
            "{} block groups (at most {MAX_GROUPS} are mapped)",
            sb.group_count
        )));
    }
    let desc_bytes = sb.group_count.saturating_mul(sb.desc_size);
    if desc_bytes > len {
        return Err(FsError::NotExt(
            "the group descriptors would not fit in the volume".into(),
        ));
    }
    let inodes = sb.inodes_count.min(MAX_INODES);
    let sb_block_size = sb.block_size;
    let words = usize::try_from(inodes.saturating_add(1).div_ceil(64)).unwrap_or(0);
    let mut walker = Walker {
        reader: Reader {
            disk,
            start: volume.start,
            len,
            block_size: sb.block_size,
        },
        budget: read_budget(&sb),
        sb,
        notes: Notes::default(),
        counts: Counts::default(),
        claims: Claims::new(MAX_CLAIMS),
        claims_cut: false,
        budget_noted: false,
        live: vec![0; words],
        named: vec![0; words],
        names_full: false,
        dirs: HashMap::new(),
        deleted_dirs: HashMap::new(),
        deleted_kinds: Vec::new(),
        tables: Vec::new(),
        files: FileList::new(sb_block_size),
    };
    walker.note_geometry();
    walker.claim(0, len, Layer::Base, FileState::Unallocated, Owner::Nobody);
    let groups = walker.read_descriptors()?;
    walker.claim_structures(&groups);
    walker.claim_bitmaps(&groups)?;
    walker.walk_inodes(&groups)?;
    // Painted before the names are gathered: the claims are freed first.
    let painted = walker.paint();
    let names = walker.walk_directories()?;
    Ok(walker.finish(painted, names))
}

impl Walker<'_> {
    /// Adds a claim on bytes `start..end`.
    fn claim(&mut self, start: u64, end: u64, layer: Layer, state: FileState, owner: Owner) {
        let entry = Claimed::is(Entry::new(state, owner));
        self.claims.add(start, end, layer, entry);
    }

    /// Adds a claim on `count` blocks from `block`, clipped to the filesystem.
    fn claim_blocks(
        &mut self,
        block: u64,
        count: u64,
        layer: Layer,
        state: FileState,
        owner: Owner,
    ) {
        let end_block = block.saturating_add(count).min(self.sb.blocks_count);
        let bs = self.sb.block_size;
        self.claim(
            block.saturating_mul(bs),
            end_block.saturating_mul(bs),
            layer,
            state,
            owner,
        );
    }

    /// Takes `blocks` from the read budget; false (and a note, once) when it is spent.
    fn spend(&mut self, blocks: u64) -> bool {
        match self.budget.checked_sub(blocks) {
            Some(left) => {
                self.budget = left;
                true
            }
            None => {
                if !self.budget_noted {
                    self.budget_noted = true;
                    self.notes.push(
                        "more tree and directory blocks than the filesystem holds were asked \
                         for; the walk stopped reading them (a hostile or looping image?)"
                            .into(),
                    );
                }
                false
            }
        }
    }

    /// Notes what the superblock says about the map's precision.
    fn note_geometry(&mut self) {
        let sb = &self.sb;
        let fs_bytes = sb.fs_bytes();
        let mut notes = Vec::new();
        if fs_bytes > self.reader.len {
            notes.push(format!(
                "the filesystem ({fs_bytes} bytes) is larger than its volume ({} bytes); \
                 what lies past the volume's end is not mapped",
                self.reader.len
            ));
        }
        if sb.has_incompat(INCOMPAT_RECOVER) {
            notes.push(
                "the journal holds transactions not yet replayed: the map shows the \
                 filesystem as it was before them"
                    .into(),
            );
        }
        if sb.journal_inode == 0 && sb.journal_dev != 0 {
            notes.push("the journal is on another device".into());
        }
        if sb.has_incompat(INCOMPAT_ENCRYPT) {
            notes.push(
                "the filesystem may hold encrypted directories: their names are shown as \
                 stored (encrypted)"
                    .into(),
            );
        }
        if sb.inodes_count > MAX_INODES {
            notes.push(format!(
                "only the first {MAX_INODES} of {} inodes are read",
                sb.inodes_count
            ));
        }
        for note in notes {
            self.notes.push(note);
        }
    }

    /// Reads every group descriptor (a group whose descriptor cannot be read gets an empty
    /// one, noted).
    fn read_descriptors(&mut self) -> Result<Vec<GroupDesc>, FsError> {
        let sb = &self.sb;
        let per_block = sb.descs_per_block();
        let desc_size = usize::try_from(sb.desc_size).unwrap_or(32);
        let is_64bit = sb.is_64bit();
        let group_count = sb.group_count;
        let mut groups = Vec::new();
        let mut index = 0u64;
        while (groups.len() as u64) < group_count {
            let block = group::desc_block(&self.sb, index);
            let in_block = per_block.min(group_count.saturating_sub(groups.len() as u64));
            match self.reader.blocks(block, 1)? {
                Some(raw) => {
                    groups.extend(
                        raw.chunks_exact(desc_size)
                            .take(usize::try_from(in_block).unwrap_or(0))
                            .map(|d| group::parse_desc(d, is_64bit)),
                    );
                }
                None => {
                    self.notes.push(format!(
                        "group descriptor block {block} lies outside the volume; groups from \
                         {} are mapped from their bitmaps' absence only",
                        groups.len()
                    ));
                    groups.extend((0..in_block).map(|_| GroupDesc::default()));
                }
            }
            index = index.saturating_add(1);
        }
        Ok(groups)
    }

    /// Whether `count` blocks from `block` lie inside the filesystem (and after block 0).
    fn valid_blocks(&self, block: u64, count: u64) -> bool {
        block != 0
            && block
                .checked_add(count)
                .is_some_and(|end| end <= self.sb.blocks_count)
    }

    /// Claims the fixed structures: boot block, superblock copies, descriptor tables,
    /// bitmaps, inode tables, MMP block.
    fn claim_structures(&mut self, groups: &[GroupDesc]) {
        let structure = |w: &mut Self, block: u64, count: u64| {
            w.claim_blocks(
                block,
                count,
                Layer::Structure,
                FileState::Metadata,
                Owner::Nobody,
            );
        };
        // The boot block before the primary superblock (1 KiB blocks), or block 0.
        structure(self, 0, self.sb.first_data_block.max(1));
        let table_blocks = self.sb.inode_table_blocks();
        let mut bad = Vec::new();
        for (g, desc) in (0u64..).zip(groups) {
            for range in group::super_and_desc_blocks(&self.sb, g) {
                structure(self, range.start, range.end.saturating_sub(range.start));
            }
            if self.valid_blocks(desc.block_bitmap, 1) {
                structure(self, desc.block_bitmap, 1);
            } else {
                bad.push(g);
            }
            if self.valid_blocks(desc.inode_bitmap, 1) {
                structure(self, desc.inode_bitmap, 1);
            } else {
                bad.push(g);
            }
            if self.valid_blocks(desc.inode_table, table_blocks) {
                let bs = self.sb.block_size;
                let start = desc.inode_table.saturating_mul(bs);
                let end = desc
                    .inode_table
                    .saturating_add(table_blocks)
                    .saturating_mul(bs);
                self.claim(
                    start,
                    end,
                    Layer::Structure,
                    FileState::Metadata,
                    Owner::InodeTable,
                );
                let first = g.saturating_mul(self.sb.inodes_per_group).saturating_add(1);
                self.tables.push((start..end, first));
            } else {
                bad.push(g);
            }
        }
        if let Some(mmp) = self.sb.mmp_block.filter(|&b| self.valid_blocks(b, 1)) {
            structure(self, mmp, 1);
        }
        bad.dedup();
        if !bad.is_empty() {
            self.notes.push(format!(
                "{} groups (first: {}) have bitmaps or inode tables outside the filesystem",
                bad.len(),
                bad[0]
            ));
        }
        self.tables.sort_by_key(|(range, _)| range.start);
        // Overlapping tables would give a byte two inodes: keep the first of each overlap.
        let mut kept: Vec<(Range<u64>, u64)> = Vec::with_capacity(self.tables.len());
        for table in std::mem::take(&mut self.tables) {
            match kept.last() {
                Some((last, _)) if table.0.start < last.end => {}
                _ => kept.push(table),
            }
        }
        self.tables = kept;
    }

    /// Claims the blocks each group's block bitmap marks in use, and reads the inode bitmaps
    /// into the set of inodes in use.
    fn claim_bitmaps(&mut self, groups: &[GroupDesc]) -> Result<(), FsError> {
        let sb = self.sb.clone();
        let in_use = |w: &mut Self, first: u64, count: u64| {
            w.claim_blocks(
                first,
                count,
                Layer::InUse,
                FileState::Allocated,
                Owner::Nobody,
            );
        };
        let mut unreadable = 0u64;
        for (g, desc) in (0u64..).zip(groups) {
            let first_block = sb.group_first_block(g);
            if first_block >= sb.blocks_count {
                break;
            }
            // Block bitmap: one bit per cluster of the group.
            if !desc.block_uninit(&sb) && self.valid_blocks(desc.block_bitmap, 1) {
                match self.reader.blocks(desc.block_bitmap, 1)? {
                    Some(bitmap) => {
                        let blocks = sb.blocks_count.saturating_sub(first_block);
                        let clusters = blocks.div_ceil(sb.cluster_ratio).min(sb.clusters_per_group);
                        for bits in set_runs(&bitmap, clusters) {
                            let start = first_block
                                .saturating_add(bits.start.saturating_mul(sb.cluster_ratio));
                            let count = bits
                                .end
                                .saturating_sub(bits.start)
                                .saturating_mul(sb.cluster_ratio);
                            in_use(self, start, count);
                        }
                    }
                    None => unreadable = unreadable.saturating_add(1),
                }
            }
            // Inode bitmap.
            let first_inode = g.saturating_mul(sb.inodes_per_group);
            if first_inode >= MAX_INODES.min(sb.inodes_count) {
                continue;
            }
            if desc.initialised_inodes(&sb) == 0 || !self.valid_blocks(desc.inode_bitmap, 1) {
                continue;
            }
            match self.reader.blocks(desc.inode_bitmap, 1)? {
                Some(bitmap) => {
                    for bits in set_runs(&bitmap, sb.inodes_per_group) {
                        for i in bits {
                            // Inode numbers start at 1.
                            self.set_live(first_inode.saturating_add(i).saturating_add(1));
                        }
                    }
                }
                None => unreadable = unreadable.saturating_add(1),
            }
        }
        if unreadable > 0 {
            self.notes.push(format!(
                "{unreadable} bitmaps lie outside the volume and were not read"
            ));
        }
        Ok(())
    }

    fn set_live(&mut self, inode: u64) {
        if inode > self.sb.inodes_count {
            return;
        }
        let (word, bit) = bit_index(inode);
        if let Some(w) = self.live.get_mut(word) {
            *w |= 1 << bit;
        }
    }

    fn is_live(&self, inode: u64) -> bool {
        let (word, bit) = bit_index(inode);
        self.live.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }

    /// Reads every initialised inode record and maps the blocks of those in use and of
    /// deleted ones.
    fn walk_inodes(&mut self, groups: &[GroupDesc]) -> Result<(), FsError> {
        let sb = self.sb.clone();
        let inode_size = sb.inode_size;
        let table_blocks = sb.inode_table_blocks();
        let last_inode = sb.inodes_count.min(MAX_INODES);
        let chunk_inodes = CHUNK.checked_div(inode_size).unwrap_or(1).max(1);
        for (g, desc) in (0u64..).zip(groups) {
            let first_inode = g.saturating_mul(sb.inodes_per_group).saturating_add(1);
            if first_inode > last_inode {
                break;
            }
            if !self.valid_blocks(desc.inode_table, table_blocks) {
                continue;
            }
            let count = desc
                .initialised_inodes(&sb)
                .min(sb.inodes_per_group)
                .min(last_inode.saturating_sub(first_inode).saturating_add(1));
            let table_at = desc.inode_table.saturating_mul(sb.block_size);
            let mut done = 0u64;
            while done < count {
                let n = chunk_inodes.min(count.saturating_sub(done));
                let offset = table_at.saturating_add(done.saturating_mul(inode_size));
                let Some(bytes) = self.reader.bytes(offset, n.saturating_mul(inode_size))? else {
                    self.notes.push(format!(
                        "the inode table of group {g} lies outside the volume"
                    ));
                    break;
                };
                let size = usize::try_from(inode_size).unwrap_or(128);
                for (i, raw) in (0u64..).zip(bytes.chunks_exact(size)) {
                    let number = first_inode.saturating_add(done).saturating_add(i);
                    let record_at = offset.saturating_add(i.saturating_mul(inode_size));
                    self.visit_inode(number, raw, record_at)?;
                }
                done = done.saturating_add(n);
            }
        }
        Ok(())
    }

    /// Maps one inode's blocks, if it is in use or looks deleted.
    fn visit_inode(&mut self, number: u64, raw: &[u8], record_at: u64) -> Result<(), FsError> {
        let node = inode::parse(raw);
        let live = self.is_live(number);
        if !live && !node.looks_deleted() {
            return Ok(());
        }
        if live && node.kind() == Kind::None && node.mode == 0 && !self.is_reserved(number) {
            return Ok(());
        }
        if let (false, Ok(inode)) = (live, u32::try_from(number)) {
            self.deleted_kinds.push((inode, node.kind()));
        }
        let roles = self.roles(number, &node, live);
        let mut mapping = node.mapping(&self.sb);
        if live && node.kind() == Kind::None && self.is_reserved(number) {
            // The bad blocks inode has no mode but may have blocks.
            mapping = node.reserved_mapping();
        }
        let record_end = record_at.saturating_add(self.sb.inode_size);
        if mapping == Mapping::Inline {
            let state = if live { roles.data } else { FileState::Deleted };
            self.claim(
                record_at,
                record_end,
                Layer::Record,
                state,
                Owner::Inode(number),
            );
            if node.kind() == Kind::Directory {
                let mut areas = vec![node.block.get(4..).unwrap_or(&[]).to_vec()];
                let tail = inode::inline_data_tail(raw);
                if !tail.is_empty() {
                    areas.push(tail.to_vec());
                }
                self.remember_dir(number, live, DirData::Inline(areas));
            }
        }
        let Mapped { runs, tree, .. } = match mapping {
            Mapping::Extents => self.extent_runs(number, &node.block, live)?,
            Mapping::BlockMap => self.block_map_runs(&node.block, live)?,
            Mapping::Inline | Mapping::Nothing => Mapped::default(),
        };
        for block in tree {
            self.claim_blocks(block, 1, roles.layer, roles.tree, Owner::Inode(number));
        }
        let mut listed_spans = Vec::new();
        if node.kind() == Kind::Regular && !self.is_reserved(number) {
            let spans = match mapping {
                Mapping::Inline => inline_spans(raw, record_at),
                _ => self.run_spans(&runs),
            };
            if !spans.is_empty() || node.size == 0 && live {
                let content = FileContent::new(node.size, spans);
                listed_spans = self.list_file(number, live, roles, &runs, content);
            }
        }
        self.claim_runs(&runs, node.size, roles, &listed_spans);
        if node.file_acl != 0 {
            if self.valid_blocks(node.file_acl, 1) {
                self.claim_blocks(
                    node.file_acl,
                    1,
                    roles.layer,
                    roles.tree,
                    Owner::Inode(number),
                );
            } else if live {
                self.counts.outside = self.counts.outside.saturating_add(1);
            }
        }
        if node.kind() == Kind::Directory && !runs.is_empty() {
            let indexed = node.is_indexed();
            self.remember_dir(number, live, DirData::Blocks { runs, indexed });
        }
        Ok(())
    }

    /// Whether `number` is one of the filesystem's own inodes.
    fn is_reserved(&self, number: u64) -> bool {
        (number < self.sb.first_ino && number != superblock::ROOT_INODE)
            || self.sb.system_inodes.contains(&number)
    }

    /// What the blocks of inode `number` become.
    fn roles(&self, number: u64, node: &Inode, live: bool) -> Roles {
        let owner = |layer, data, slack, tree| Roles {
            inode: number,
            layer,
            data,
            slack,
            tree,
        };
        use FileState::{Allocated, Deleted, Journal, Metadata, Slack};
        if !live {
            return owner(Layer::Deleted, Deleted, Deleted, Deleted);
        }
        if number == self.sb.journal_inode {
            return owner(Layer::Journal, Journal, Journal, Journal);
        }
        if self.is_reserved(number) || node.kind() == Kind::Directory {
            return owner(Layer::File, Metadata, Metadata, Metadata);
        }
        owner(Layer::File, Allocated, Slack, Metadata)
    }

    fn remember_dir(&mut self, number: u64, live: bool, data: DirData) {
        if live {
            self.dirs.insert(number, data);
        } else {
            self.deleted_dirs.insert(number, data);
        }
    }

    /// The spans of a file whose blocks are `runs`.
    fn run_spans(&self, runs: &[Run]) -> Vec<Span> {
        runs.iter().map(|run| self.run_span(run)).collect()
    }

    /// The span of a file that `run` is.
    fn run_span(&self, run: &Run) -> Span {
        let bs = self.sb.block_size;
        Span {
            start: run.logical.saturating_mul(bs),
            len: run.len.saturating_mul(bs),
            piece: if run.unwritten {
                Piece::Zeros
            } else {
                Piece::Volume(run.physical.saturating_mul(bs))
            },
        }
    }

    /// Lists a regular file for the file pass. Returns, for each of `runs`, the span of the
    /// list that is exactly that run, where the run's claim can be that span (data, then
    /// slack, as the map tells them apart): one claim for both.
    fn list_file(
        &mut self,
        number: u64,
        live: bool,
        roles: Roles,
        runs: &[Run],
        content: FileContent,
    ) -> Vec<Option<Claimed>> {
        let state = if live {
            FileState::Allocated
        } else {
            FileState::Deleted
        };
        // The states the map gives a listed file's span.
        let (data, slack) = span_states(state);
        let plain = roles.data == data && roles.slack == slack;
        let positions: Vec<Option<u32>> = runs
            .iter()
            .map(|run| {
                let span = self.run_span(run);
                let at = content.spans.binary_search_by_key(&span.start, |s| s.start);
                at.ok()
                    .filter(|&j| plain && !run.unwritten && content.spans.get(j) == Some(&span))
                    .and_then(|j| u32::try_from(j).ok())
            })
            .collect();
        match self.files.push(number, state, content, None) {
            Ok(first) => positions
                .into_iter()
                .map(|j| Claimed::span(first.span(j?)?))
                .collect(),
            Err(_) => {
                self.counts.unlisted = self.counts.unlisted.saturating_add(1);
                Vec::new()
            }
        }
    }

    /// Paints the claims (they are freed).
    fn paint(&mut self) -> Painted {
        let mut claims = std::mem::replace(&mut self.claims, Claims::new(0));
        self.claims_cut = claims.cut;
        paint::paint(&mut claims.list, self.reader.len, Claimed::GAP)
    }

    /// Claims a file's runs: bytes before `size` as data, the rest as slack. A run whose
    /// `spans` entry names a span of the file list is claimed as that span.
    fn claim_runs(&mut self, runs: &[Run], size: u64, roles: Roles, spans: &[Option<Claimed>]) {
        let bs = self.sb.block_size;
        let owner = Owner::Inode(roles.inode);
        for (i, run) in runs.iter().enumerate() {
            let file_start = run.logical.saturating_mul(bs);
            let len = run.len.saturating_mul(bs);
            let data_len = size.saturating_sub(file_start).min(len);
            let at = run.physical.saturating_mul(bs);
            let data_end = at.saturating_add(data_len);
            let end = at.saturating_add(len);
            if let Some(&Some(span)) = spans.get(i) {
                self.claims.add(at, end, roles.layer, span);
            } else if roles.data == roles.slack {
                self.claim(at, end, roles.layer, roles.data, owner);
            } else {
                self.claim(at, data_end, roles.layer, roles.data, owner);
                self.claim(data_end, end, roles.layer, roles.slack, owner);
            }
            // Under bigalloc a file owns whole clusters: the blocks of its clusters that no
            // extent maps are its slack (below the claims of its own extents).
            let ratio = self.sb.cluster_ratio;
            if self.sb.is_bigalloc() && ratio > 1 && roles.layer > Layer::Deleted {
                let first = run
                    .physical
                    .saturating_sub(run.physical.checked_rem(ratio).unwrap_or(0));
                let last = run
                    .physical
                    .saturating_add(run.len)
                    .div_ceil(ratio)
                    .saturating_mul(ratio);
                let tail = Layer::ClusterTail;
                self.claim(first.saturating_mul(bs), at, tail, roles.slack, owner);
                self.claim(end, last.saturating_mul(bs), tail, roles.slack, owner);
            }
        }
    }

    /// Assembles the map.
    fn finish(mut self, painted: Painted, names: Names) -> Ext4Map {
        let counts = &self.counts;
        let mut notes = Vec::new();
        if counts.broken_trees > 0 {
            notes.push(format!(
                "{} inodes in use have damaged extent trees or block maps",
                counts.broken_trees
            ));
        }
        if counts.outside > 0 {
            notes.push(format!(
                "{} block pointers of inodes in use point outside the filesystem and were \
                 ignored",
                counts.outside
            ));
        }
        if counts.loops > 0 {
            notes.push(format!(
                "{} tree blocks were met twice in one inode (loops, cut)",
                counts.loops
            ));
        }
        if counts.dangling > 0 {
            notes.push(format!(
                "{} directory entries name inodes not in use (taken as old names of deleted \
                 files)",
                counts.dangling
            ));
        }
        if counts.damaged_dirs > 0 {
            notes.push(format!(
                "{} directory blocks have a damaged chain of entries (read up to the damage)",
                counts.damaged_dirs
            ));
        }
        if self.claims_cut {
            notes.push(format!(
                "the map holds at most {MAX_CLAIMS} ranges; the rest is mapped from the \
                 block bitmap only"
            ));
        }
        if counts.unlisted > 0 {
            notes.push(format!(
                "{} files could not be listed for the file pass (the list is full)",
                counts.unlisted
            ));
        }
        for note in notes {
            self.notes.push(note);
        }
        Ext4Map {
            map: BlockMap {
                files: self.files,
                painted,
            },
            tables: self.tables,
            inode_size: self.sb.inode_size,
            inodes_count: self.sb.inodes_count,
            names,
            notes: self.notes.finish(),
        }
    }
}

/// The spans of an inline-data file whose record (`raw`) is at volume offset `record_at`:
/// `i_block`, then the `system.data` attribute's value.
fn inline_spans(raw: &[u8], record_at: u64) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut start = 0u64;
    for area in [
        Some(inode::I_BLOCK_AT..inode::I_BLOCK_AT.saturating_add(inode::I_BLOCK_LEN)),
        inode::inline_data_tail_range(raw),
    ]
    .into_iter()
    .flatten()
    {
        let Some(bytes) = raw.get(area.clone()) else {
            continue;
        };
        let len = bytes.len() as u64;
        spans.push(Span {
            start,
            len,
            piece: Piece::Held {
                bytes: Arc::from(bytes),
                at: record_at.checked_add(area.start as u64),
            },
        });
        start = start.saturating_add(len);
    }
    spans
}

/// The word and bit of `inode` in a bitset.
fn bit_index(inode: u64) -> (usize, u32) {
    let word = usize::try_from(inode / 64).unwrap_or(usize::MAX);
    let bit = u32::try_from(inode % 64).unwrap_or(0);
    (word, bit)
}

/// The runs of set bits among the first `bits` bits of `bitmap` (little-endian bit order).
fn set_runs(bitmap: &[u8], bits: u64) -> Vec<Range<u64>> {
    let mut runs: Vec<Range<u64>> = Vec::new();
    let mut push = |i: u64, n: u64| match runs.last_mut() {
        Some(last) if last.end == i => last.end = i.saturating_add(n),
        _ => runs.push(i..i.saturating_add(n)),
    };
    for (byte_index, &byte) in (0u64..).zip(bitmap) {
        let first = byte_index.saturating_mul(8);
        if first >= bits {
            break;
        }
        if byte == 0 {
            continue;
        }
        let in_byte = bits.saturating_sub(first).min(8);
        if byte == 0xff && in_byte == 8 {
            push(first, 8);
            continue;
        }
        for bit in 0..in_byte {
            if byte & (1 << bit) != 0 {
                push(first.saturating_add(bit), 1);
            }
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmap_runs() {
        assert_eq!(set_runs(&[0b0000_0110, 0xff, 0x01], 24), vec![1..3, 8..17]);
        assert_eq!(set_runs(&[0xff, 0xff], 12), vec![0..12]);
        assert_eq!(set_runs(&[0xff], 100), vec![0..8]);
        assert!(set_runs(&[], 10).is_empty());
    }
}
