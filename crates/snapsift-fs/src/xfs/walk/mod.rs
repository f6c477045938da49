//! The I/O side of the XFS map: reads the AG headers, the AGs' B+trees, the inode chunks,
//! the inodes' forks and the directories of a volume, turns them into claims, and paints
//! the map.
//!
//! Limits, so that a hostile image costs bounded time and memory:
//! * at most [`MAX_AGS`] AGs are considered, and inodes of at most
//!   [`MAX_NUMBERS`](super::numbering::MAX_NUMBERS) chunk slots are read;
//! * B+trees are followed to depth [`MAX_LEVELS`](super::btree::MAX_LEVELS), each level
//!   exactly one less than its parent, and a block met twice in one tree is a loop, cut;
//! * B+tree, extent tree and directory blocks read, all together, are bounded by a budget
//!   proportional to the filesystem's size ([`read_budget`]);
//! * at most [`MAX_CLAIMS`] claims (about one per extent) are kept;
//! * files are listed compactly, names too, and the map is painted before the directories
//!   are walked, so that the claims are gone before the names are gathered;
//! * directories are walked breadth first from the root, each once, to depth
//!   [`MAX_DEPTH`](crate::names::MAX_DEPTH).
//!
//! Reaching a limit, or meeting damage, adds a note and leaves that part of the map to the
//! free space B+tree (blocks it does not record as free read as `allocated` with no inode).

mod dirs;
mod trees;

use std::collections::HashMap;
use std::ops::Range;

use snapsift_disk::Disk;

use super::btree::{self, Chunk, Kind};
use super::inode::{self, Format, Inode};
use super::map::Layer;
use super::numbering::Numbering;
use super::superblock::{self, INCOMPAT_NREXT64, INCOMPAT_SPINODES, Superblock};
use super::{Bad, XfsMap, XfsNames, be32};
use crate::FsError;
use crate::block_map::{BlockMap, Claimed, Claims, Entry, Owner, Painted};
use crate::content::{FileContent, Piece, Span};
use crate::file_list::FileList;
use crate::filesystem::FileState;
use crate::names::Names;
use crate::paint;
use crate::walk::{Notes, Reader};

/// AGs beyond this many are refused (2^20 AGs of 1 TiB are an exabyte).
const MAX_AGS: u64 = 1 << 20;
/// Claims kept at most: each costs 24 bytes until the map is painted, an interval 12 after.
const MAX_CLAIMS: usize = 1 << 26;
/// Bytes of AG headers read: superblock, AGF, AGI and AGFL, one sector each.
const AG_HEADERS: u64 = 4;

/// Tree and directory blocks that may be read, all together: twice the filesystem's blocks
/// (each belongs to at most one tree or directory, once, in a consistent filesystem), plus
/// some room for tiny filesystems.
fn read_budget(sb: &Superblock) -> u64 {
    sb.blocks.saturating_mul(2).saturating_add(1 << 16)
}

/// Counts of problems too common to note one by one.
#[derive(Default)]
struct Counts {
    /// Inodes in use whose forks could not be mapped.
    broken_forks: u64,
    /// Extents and tree pointers of inodes in use outside the filesystem.
    outside: u64,
    /// Directory entries naming inodes not read or not in use.
    dangling: u64,
    /// Directory blocks or short-form directories with damaged entries.
    damaged_dirs: u64,
    /// Tree blocks met twice in one tree.
    loops: u64,
    /// Files the file list could not hold.
    unlisted: u64,
    /// Files whose data is on the realtime device.
    realtime: u64,
}

/// `len` blocks of a fork from its block `logical` are at linear block `physical`.
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
    /// In the inode: the data fork's bytes and the directory's size.
    Short(Vec<u8>, u64),
    /// In directory blocks, mapped by these runs of its data fork.
    Blocks(Vec<Run>),
}

/// What an inode's blocks become.
#[derive(Clone, Copy)]
struct Roles {
    number: u64,
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
    /// The map's numbers of the inodes of the chunks read.
    numbering: Numbering,
    /// Inodes in use, as a bitset indexed by number.
    live: Vec<u64>,
    /// Inodes the directory walk named, as a bitset like `live`.
    named: Vec<u64>,
    /// Whether names were dropped, past [`MAX_NAME_BYTES`](crate::names::MAX_NAME_BYTES).
    names_full: bool,
    /// Directories in use, by number.
    dirs: HashMap<u64, DirData>,
    /// Inode chunks' allocated parts as (byte range, first inode).
    chunks: Vec<(Range<u64>, u64)>,
    /// Regular files in use, for the file pass.
    files: FileList,
}

/// Builds the map of the XFS filesystem in `volume` of `disk`.
pub(crate) fn build(disk: &dyn Disk, volume: Range<u64>) -> Result<XfsMap, FsError> {
    let end = volume.end.min(disk.size());
    let len = end.saturating_sub(volume.start);
    let probe = Reader {
        disk,
        start: volume.start,
        len,
        block_size: 512,
    };
    let Some(raw) = probe.bytes(0, superblock::SIZE as u64)? else {
        return Err(FsError::NotXfs(
            "the volume is too small to hold a superblock".into(),
        ));
    };
    let sb = superblock::parse(&raw)?;
    if sb.ag_count > MAX_AGS {
        return Err(FsError::UnsupportedXfs(format!(
            "{} AGs (at most {MAX_AGS} are mapped)",
            sb.ag_count
        )));
    }
    let mut walker = Walker {
        reader: Reader {
            disk,
            start: volume.start,
            len,
            block_size: sb.block_size,
        },
        budget: read_budget(&sb),
        notes: Notes::default(),
        counts: Counts::default(),
        claims: Claims::new(MAX_CLAIMS),
        claims_cut: false,
        budget_noted: false,
        numbering: Numbering::default(),
        live: Vec::new(),
        named: Vec::new(),
        names_full: false,
        dirs: HashMap::new(),
        chunks: Vec::new(),
        files: FileList::new(sb.block_size),
        sb,
    };
    walker.note_geometry();
    let fs_end = walker.sb.fs_bytes().min(len);
    walker.claim(0, fs_end, Layer::Base, FileState::Allocated, Owner::Nobody);
    walker.claim(
        fs_end,
        len,
        Layer::Base,
        FileState::Unallocated,
        Owner::Nobody,
    );
    let mut chunks = Vec::new();
    for ag in 0..walker.sb.ag_count {
        walker.read_ag(ag, &mut chunks)?;
    }
    walker.claim_log();
    walker.walk_inodes(&chunks)?;
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

    /// Adds a claim on `count` linear blocks from `block`, clipped to the filesystem.
    fn claim_blocks(
        &mut self,
        block: u64,
        count: u64,
        layer: Layer,
        state: FileState,
        owner: Owner,
    ) {
        let end_block = block.saturating_add(count).min(self.sb.blocks);
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

    /// Notes damage `bad` found in the structure at volume offset `at`.
    fn damaged(&mut self, what: &str, at: u64, bad: &Bad) {
        let byte = at.saturating_add(bad.at as u64);
        self.notes.push(format!(
            "{what}: {} (at byte {byte} of the volume)",
            bad.what
        ));
    }

    /// Notes what the superblock says about the map's reach.
    fn note_geometry(&mut self) {
        let fs_bytes = self.sb.fs_bytes();
        if fs_bytes > self.reader.len {
            self.notes.push(format!(
                "the filesystem ({fs_bytes} bytes) is larger than its volume ({} bytes); \
                 what lies past the volume's end is not mapped",
                self.reader.len
            ));
        }
        if self.sb.log_start == 0 {
            self.notes.push("the log is on another device".into());
        }
        if self.sb.rt_blocks > 0 {
            self.notes.push(
                "the filesystem has a realtime device: the data of its realtime files is \
                 not on this volume"
                    .into(),
            );
        }
    }

    /// Reads AG `ag`'s headers and B+trees: claims them, its free list and its free space,
    /// and adds its inode chunks (as (AG, record)) to `chunks`.
    fn read_ag(&mut self, ag: u64, chunks: &mut Vec<(u64, Chunk)>) -> Result<(), FsError> {
        let sector = self.sb.sector_size;
        let Some(first) = self.sb.ag_block(ag, 0) else {
            return Ok(());
        };
        let start = first.saturating_mul(self.sb.block_size);
        let header_len = sector.saturating_mul(AG_HEADERS);
        let header_blocks = header_len.div_ceil(self.sb.block_size);
        self.claim_blocks(
            first,
            header_blocks,
            Layer::Structure,
            FileState::Metadata,
            Owner::Nobody,
        );
        let Some(headers) = self.reader.bytes(start, header_len)? else {
            self.notes
                .push(format!("the headers of AG {ag} lie outside the volume"));
            return Ok(());
        };
        let sector = usize::try_from(sector).unwrap_or(512);
        let agf = headers.get(sector..).unwrap_or(&[]);
        let agi = agf.get(sector..).unwrap_or(&[]);
        let agfl = agi.get(sector..).unwrap_or(&[]);
        let agf_at = start.saturating_add(sector as u64);
        if be32(agf, 0) != u32::from_be_bytes(*b"XAGF") || u64::from(be32(agf, 8)) != ag {
            self.notes.push(format!(
                "AG {ag} has no valid AGF (at byte {agf_at} of the volume): its free space \
                 is not known"
            ));
        } else {
            let trees: [(Kind, usize, usize, bool); 4] = [
                (btree::BNO, 16, 28, true),
                (btree::CNT, 20, 32, true),
                (
                    btree::RMAP,
                    24,
                    36,
                    self.sb.has_ro_compat(superblock::RO_COMPAT_RMAPBT),
                ),
                (
                    btree::REFCOUNT,
                    88,
                    92,
                    self.sb.has_ro_compat(superblock::RO_COMPAT_REFLINK),
                ),
            ];
            for (kind, root, levels, present) in trees {
                if !present {
                    continue;
                }
                let records = self.ag_tree(ag, be32(agf, root), be32(agf, levels), kind)?;
                if kind == btree::BNO {
                    self.claim_free(ag, &records);
                }
            }
            self.claim_free_list(ag, agf, agfl);
        }
        let agi_at = agf_at.saturating_add(sector as u64);
        if be32(agi, 0) != u32::from_be_bytes(*b"XAGI") || u64::from(be32(agi, 8)) != ag {
            self.notes.push(format!(
                "AG {ag} has no valid AGI (at byte {agi_at} of the volume): its inodes are \
                 not read"
            ));
            return Ok(());
        }
        let records = self.ag_tree(ag, be32(agi, 20), be32(agi, 24), btree::INO)?;
        let sparse = self.sb.has_incompat(INCOMPAT_SPINODES);
        chunks.extend(
            records
                .chunks_exact(btree::INO.record)
                .map(|record| (ag, btree::chunk(record, sparse))),
        );
        if self.sb.has_ro_compat(superblock::RO_COMPAT_FINOBT) {
            self.ag_tree(ag, be32(agi, 328), be32(agi, 332), btree::FINO)?;
        }
        Ok(())
    }

    /// Claims AG `ag`'s free extents, the records of its free space B+tree.
    fn claim_free(&mut self, ag: u64, records: &[u8]) {
        for record in records.chunks_exact(btree::BNO.record) {
            let (agbno, len) = btree::free_extent(record);
            let left = self.sb.ag_len(ag).saturating_sub(agbno);
            match self.sb.ag_block(ag, agbno) {
                Some(block) if len <= left => self.claim_blocks(
                    block,
                    len,
                    Layer::Free,
                    FileState::Unallocated,
                    Owner::Nobody,
                ),
                _ => self.counts.outside = self.counts.outside.saturating_add(1),
            }
        }
    }

    /// Claims the blocks on AG `ag`'s free list (kept for its B+trees to grow into).
    fn claim_free_list(&mut self, ag: u64, agf: &[u8], agfl: &[u8]) {
        let header = if self.sb.v5 { 36 } else { 0 };
        let slots = agfl.len().saturating_sub(header) / 4;
        let (first, count) = (be32(agf, 40), be32(agf, 48));
        let (Ok(first), Ok(count)) = (usize::try_from(first), usize::try_from(count)) else {
            return;
        };
        if slots == 0 || first >= slots || count > slots {
            self.notes.push(format!(
                "AG {ag}'s free list is damaged (its AGF bytes 40-51)"
            ));
            return;
        }
        for k in 0..count {
            let slot = first.saturating_add(k).checked_rem(slots).unwrap_or(0);
            let agbno = u64::from(be32(agfl, header.saturating_add(slot.saturating_mul(4))));
            if let Some(block) = self.sb.ag_block(ag, agbno) {
                self.claim_blocks(
                    block,
                    1,
                    Layer::Structure,
                    FileState::Metadata,
                    Owner::Nobody,
                );
            }
        }
    }

    /// Claims the internal log.
    fn claim_log(&mut self) {
        if self.sb.log_start == 0 {
            return;
        }
        match self.sb.fs_block(self.sb.log_start) {
            Some((block, left)) if self.sb.log_blocks <= left => self.claim_blocks(
                block,
                self.sb.log_blocks,
                Layer::Log,
                FileState::Journal,
                Owner::Nobody,
            ),
            _ => self
                .notes
                .push("the internal log lies outside the filesystem (superblock byte 48)".into()),
        }
    }

    fn set_bit(bits: &mut Vec<u64>, number: u64) {
        let (word, bit) = bit_index(number);
        if word >= bits.len() {
            bits.resize(word.saturating_add(1), 0);
        }
        if let Some(w) = bits.get_mut(word) {
            *w |= 1 << bit;
        }
    }

    fn is_live(&self, number: u64) -> bool {
        let (word, bit) = bit_index(number);
        self.live.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }

    /// Numbers the inode chunks, claims them, and maps every inode in use.
    fn walk_inodes(&mut self, chunks: &[(u64, Chunk)]) -> Result<(), FsError> {
        let mut sorted: Vec<(u64, Chunk)> = chunks.to_vec();
        sorted.sort_by_key(|&(ag, chunk)| (ag, chunk.start));
        let inode_size = self.sb.inode_size;
        let record_len = usize::try_from(inode_size).unwrap_or(512);
        let mut refused = 0u64;
        for (ag, chunk) in sorted {
            let Some(first_ino) = self.sb.ino(ag, chunk.start) else {
                refused = refused.saturating_add(1);
                continue;
            };
            let Some(first_number) = self.numbering.push(first_ino) else {
                refused = refused.saturating_add(1);
                continue;
            };
            // The chunk's allocated parts: runs of 4 inodes not in a hole.
            let mut i = 0u64;
            while i < btree::CHUNK_INODES {
                if !chunk.has(i) {
                    i = i.saturating_add(1);
                    continue;
                }
                let mut end = i;
                while end < btree::CHUNK_INODES && chunk.has(end) {
                    end = end.saturating_add(1);
                }
                let agino = chunk.start.saturating_add(i);
                let at = self.sb.inode_offset(ag, agino);
                let bytes = end.saturating_sub(i).saturating_mul(inode_size);
                let last = agino.saturating_add(end.saturating_sub(i).saturating_sub(1));
                let in_ag = self.sb.inode_offset(ag, last);
                let (Some(at), Some(_)) = (at, in_ag) else {
                    refused = refused.saturating_add(1);
                    break;
                };
                let piece_end = at.saturating_add(bytes);
                self.claim(
                    at,
                    piece_end,
                    Layer::Structure,
                    FileState::Metadata,
                    Owner::InodeTable,
                );
                self.chunks
                    .push((at..piece_end, first_ino.saturating_add(i)));
                let Some(records) = self.reader.bytes(at, bytes)? else {
                    refused = refused.saturating_add(1);
                    break;
                };
                for (k, raw) in (i..).zip(records.chunks_exact(record_len)) {
                    if chunk.in_use(k) {
                        let number = first_number.saturating_add(k);
                        let into = k.saturating_sub(i).saturating_mul(inode_size);
                        let record_at = at.saturating_add(into);
                        self.visit_inode(number, raw, record_at)?;
                    }
                }
                i = end;
            }
        }
        if refused > 0 {
            self.notes.push(format!(
                "{refused} inode chunks lie outside their AG, overlap others or are past the \
                 {} inodes read: their inodes are not read",
                super::numbering::MAX_NUMBERS
            ));
        }
        self.chunks.sort_by_key(|(range, _)| range.start);
        Ok(())
    }

    /// Maps the forks of inode number `number` (in use), whose record `raw` is at volume
    /// offset `record_at`.
    fn visit_inode(&mut self, number: u64, raw: &[u8], record_at: u64) -> Result<(), FsError> {
        let node = match inode::parse(raw, self.sb.has_incompat(INCOMPAT_NREXT64)) {
            Ok(node) => node,
            Err(bad) => {
                self.counts.broken_forks = self.counts.broken_forks.saturating_add(1);
                self.damaged("an inode in use", record_at, &bad);
                return Ok(());
            }
        };
        if node.mode == 0 {
            return Ok(());
        }
        Self::set_bit(&mut self.live, number);
        let ino = self.numbering.ino(number).unwrap_or(0);
        let roles = self.roles(number, ino, &node);
        let data = raw.get(node.data_fork.clone()).unwrap_or(&[]);
        let kind = node.kind();
        let runs = if node.realtime {
            self.counts.realtime = self.counts.realtime.saturating_add(1);
            Vec::new()
        } else {
            let fork_at = record_at.saturating_add(node.data_fork.start as u64);
            self.fork_runs(data, fork_at, node.format, node.extents, roles)?
        };
        if let Some(format) = node.attr_format {
            let attr = raw.get(node.attr_fork.clone()).unwrap_or(&[]);
            let fork_at = record_at.saturating_add(node.attr_fork.start as u64);
            let attr_roles = Roles {
                data: roles.tree,
                slack: roles.tree,
                ..roles
            };
            let attr_runs = self.fork_runs(attr, fork_at, format, node.attr_extents, attr_roles)?;
            self.claim_runs(&attr_runs, u64::MAX, attr_roles, &[]);
        }
        let mut listed = Vec::new();
        if kind == inode::Kind::Regular && roles.data == FileState::Allocated {
            let spans = runs.iter().map(|run| self.run_span(run)).collect();
            let content = FileContent::new(node.size, spans);
            listed = self.list_file(number, &runs, content);
        }
        self.claim_runs(&runs, node.size, roles, &listed);
        if kind == inode::Kind::Directory {
            match node.format {
                Format::Local => {
                    self.dirs
                        .insert(number, DirData::Short(data.to_vec(), node.size));
                }
                _ if !runs.is_empty() => {
                    self.dirs.insert(number, DirData::Blocks(runs));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// What the blocks of inode number `number` (inode `ino`) become.
    fn roles(&self, number: u64, ino: u64, node: &Inode) -> Roles {
        use FileState::{Allocated, Metadata, Slack};
        let own = self.sb.system_inodes.contains(&ino);
        if own || node.kind() == inode::Kind::Directory {
            return Roles {
                number,
                data: Metadata,
                slack: Metadata,
                tree: Metadata,
            };
        }
        Roles {
            number,
            data: Allocated,
            slack: Slack,
            tree: Metadata,
        }
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

    /// Lists a regular file in use for the file pass. Returns, for each of `runs`, the span
    /// of the list that is exactly that run, where the run's claim can be that span (data,
    /// then slack, as the map tells them apart): one claim for both.
    fn list_file(
        &mut self,
        number: u64,
        runs: &[Run],
        content: FileContent,
    ) -> Vec<Option<Claimed>> {
        let positions: Vec<Option<u32>> = runs
            .iter()
            .map(|run| {
                let span = self.run_span(run);
                let at = content.spans.binary_search_by_key(&span.start, |s| s.start);
                at.ok()
                    .filter(|&j| !run.unwritten && content.spans.get(j) == Some(&span))
                    .and_then(|j| u32::try_from(j).ok())
            })
            .collect();
        match self.files.push(number, FileState::Allocated, content, None) {
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

    /// Claims a fork's runs: bytes before `size` as data, the rest as slack. A run whose
    /// `spans` entry names a span of the file list is claimed as that span.
    fn claim_runs(&mut self, runs: &[Run], size: u64, roles: Roles, spans: &[Option<Claimed>]) {
        let bs = self.sb.block_size;
        let owner = Owner::Inode(roles.number);
        for (i, run) in runs.iter().enumerate() {
            let file_start = run.logical.saturating_mul(bs);
            let len = run.len.saturating_mul(bs);
            let data_len = size.saturating_sub(file_start).min(len);
            let at = run.physical.saturating_mul(bs);
            let data_end = at.saturating_add(data_len);
            let end = at.saturating_add(len);
            if let Some(&Some(span)) = spans.get(i) {
                self.claims.add(at, end, Layer::File, span);
            } else if roles.data == roles.slack {
                self.claim(at, end, Layer::File, roles.data, owner);
            } else {
                self.claim(at, data_end, Layer::File, roles.data, owner);
                self.claim(data_end, end, Layer::File, roles.slack, owner);
            }
        }
    }

    /// Paints the claims (they are freed).
    fn paint(&mut self) -> Painted {
        let mut claims = std::mem::replace(&mut self.claims, Claims::new(0));
        self.claims_cut = claims.cut;
        paint::paint(&mut claims.list, self.reader.len, Claimed::GAP)
    }

    /// Assembles the map.
    fn finish(mut self, painted: Painted, names: Names) -> XfsMap {
        let counts = &self.counts;
        let mut notes = Vec::new();
        let counted = [
            (
                counts.broken_forks,
                "inodes in use have damaged records, forks or extent trees (mapped in part)",
            ),
            (
                counts.outside,
                "extents or tree pointers point outside the filesystem and were ignored",
            ),
            (
                counts.loops,
                "tree blocks were met twice in one tree (loops, cut)",
            ),
            (
                counts.dangling,
                "directory entries name inodes that are not in use or were not read",
            ),
            (
                counts.damaged_dirs,
                "directory blocks have damaged entries (read up to the damage)",
            ),
            (
                counts.unlisted,
                "files could not be listed for the file pass (the list is full)",
            ),
            (
                counts.realtime,
                "files keep their data on the realtime device, not on this volume",
            ),
        ];
        for (count, what) in counted {
            if count > 0 {
                notes.push(format!("{count} {what}"));
            }
        }
        if self.claims_cut {
            notes.push(format!(
                "the map holds at most {MAX_CLAIMS} ranges; the rest is mapped from the \
                 free space B+trees only"
            ));
        }
        for note in notes {
            self.notes.push(note);
        }
        XfsMap {
            map: BlockMap {
                files: self.files,
                painted,
            },
            chunks: self.chunks,
            inode_size: self.sb.inode_size,
            names: XfsNames {
                names,
                numbering: self.numbering,
            },
            notes: self.notes.finish(),
        }
    }
}

/// The word and bit of `number` in a bitset.
fn bit_index(number: u64) -> (usize, u32) {
    let word = usize::try_from(number / 64).unwrap_or(usize::MAX);
    let bit = u32::try_from(number % 64).unwrap_or(0);
    (word, bit)
}
