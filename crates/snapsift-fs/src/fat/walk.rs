//! The I/O side of the FAT map: reads the boot sector, the first FAT and the directories of
//! a volume (for exFAT also its allocation bitmap, from the root directory, before the
//! free clusters are claimed), turns them into claims, and paints the map.
//!
//! Limits, so that a hostile image costs bounded time and memory:
//! * a FAT of more than [`MAX_FAT_BYTES`] is not read (the volume is not mapped);
//! * every cluster is taken by one chain at most (see `table`), so all chains together
//!   cost at most the volume's clusters, and a loop or a cross link ends a chain;
//! * a directory is read up to [`MAX_DIR_BYTES`] (the 65536 entries the specification
//!   allows), at most [`MAX_ENTRIES`] entries are numbered, directories are walked breadth
//!   first to depth [`MAX_DEPTH`](crate::names::MAX_DEPTH);
//! * at most [`MAX_CLAIMS`] claims (about one per run of clusters) are kept.
//!
//! Reaching a limit, or meeting damage, adds a note and leaves that part of the map to the
//! FAT (clusters it marks in use read as `allocated` with no owner).

use std::collections::VecDeque;
use std::ops::Range;

use snapsift_disk::Disk;

use super::boot::{self, Boot, Kind};
use super::dir::{self, DirEntry};
use super::exfat_boot::{self, REGION_SECTORS};
use super::exfat_dir::{self, Structure, StructureEntry};
use super::table::{Stop, Table};
use super::{FatMap, FatNames};
use crate::FsError;
use crate::block_map::{BlockMap, Claimed, Claims, Entry, Owner, span_states};
use crate::content::{FileContent, Piece, Span};
use crate::file_list::FileList;
use crate::filesystem::FileState;
use crate::names::{MAX_DEPTH, Names};
use crate::paint;
use crate::walk::{Notes, Reader};

/// The largest FAT read: 2^26 FAT32 entries.
const MAX_FAT_BYTES: u64 = 256 << 20;
/// Bytes of one directory read at most: 65536 entries.
const MAX_DIR_BYTES: u64 = 65536 * 32;
/// Entries numbered at most (each costs a name and an address).
const MAX_ENTRIES: u64 = 1 << 24;
/// Claims kept at most.
const MAX_CLAIMS: usize = 1 << 26;
/// The map's number of the root directory (0 is nobody).
const ROOT: u64 = 1;
/// The root directory's address, as The Sleuth Kit numbers it.
const ROOT_ADDRESS: u64 = 2;
/// The address of the first entry past the FATs.
const FIRST_ADDRESS: u64 = 3;
/// A name's bytes at most: 255 UTF-16 units (the longest VFAT or exFAT name) as UTF-8.
const MAX_NAME_BYTES: usize = 255 * 3;

/// Which claim wins where claims overlap: the higher layer, then the earlier claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    /// Everything: in use (by nothing the walk found) unless something else says otherwise;
    /// past the last cluster, free.
    Base,
    /// Clusters the FAT marks free.
    Free,
    /// Free clusters a deleted entry points to.
    Deleted,
    /// Clusters of the chains of files and directories.
    File,
    /// The reserved sectors, the FATs, the fixed root directory, bad clusters.
    Structure,
}

impl From<Layer> for u8 {
    fn from(layer: Layer) -> u8 {
        layer as u8
    }
}

/// Where a directory's entries are.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// The fixed root directory of FAT12/16: bytes of the volume.
    Region(u64, u64),
    /// A chain of clusters from this one.
    Chain(u64),
    /// A run of this many clusters from the first (exFAT's NoFatChain).
    Run(u64, u64),
    /// A deleted directory: its first cluster, and how many it had (its chain is freed).
    Freed(u64, u64),
}

/// Counts of problems too common to note one by one.
#[derive(Default)]
struct Counts {
    /// Chains that met a cluster taken already (loops, cross links).
    taken: u64,
    /// Chains broken off by a free, bad or invalid entry.
    broken: u64,
    /// Files whose chain is shorter than their size.
    short: u64,
    /// Damaged directory entries.
    damaged: u64,
    /// Names longer than a name may be kept, cut.
    long_names: u64,
    /// Files the file list could not hold.
    unlisted: u64,
    /// Deleted exFAT entry sets whose checksum does not match.
    deleted_mismatched: u64,
}

/// The state of the walk.
struct Walker<'d> {
    reader: Reader<'d>,
    boot: Boot,
    table: Table,
    notes: Notes,
    counts: Counts,
    claims: Claims,
    names: Names,
    /// The address of each number.
    addresses: Vec<u64>,
    files: FileList,
    /// Whether entries were left unnumbered past [`MAX_ENTRIES`].
    entries_full: bool,
    /// exFAT: which structures of the root directory have been read.
    structures_read: Vec<Structure>,
}

/// Builds the map of the FAT filesystem in `volume` of `disk`.
pub(crate) fn build(disk: &dyn Disk, volume: Range<u64>) -> Result<FatMap, FsError> {
    let end = volume.end.min(disk.size());
    let len = end.saturating_sub(volume.start);
    let reader = Reader {
        disk,
        start: volume.start,
        len,
        block_size: 512,
    };
    let Some(raw) = reader.bytes(0, 512)? else {
        return Err(FsError::NotFat(
            "the volume is too small to hold a boot sector".into(),
        ));
    };
    let mut notes = Notes::default();
    let boot = match exfat_boot::sector_size(&raw) {
        Some(sector) => exfat_region(&reader, sector, &mut notes)?,
        None => boot::parse(&raw).map_err(|bad| {
            FsError::NotFat(format!("{} (boot sector byte {})", bad.what, bad.at))
        })?,
    };
    if boot.fat_len() > MAX_FAT_BYTES {
        return Err(FsError::UnsupportedFat(format!(
            "a FAT of {} bytes (at most {MAX_FAT_BYTES} are read)",
            boot.fat_len()
        )));
    }
    let Some(fat) = reader.bytes(boot.fat_start(), boot.fat_len())? else {
        return Err(FsError::NotFat(
            "the FAT lies past the end of the volume".into(),
        ));
    };
    let mut walker = Walker {
        table: Table::new(boot.kind, fat, boot.clusters),
        reader,
        notes,
        counts: Counts::default(),
        claims: Claims::new(MAX_CLAIMS),
        names: Names::with_room(ROOT, 0),
        addresses: vec![0, ROOT_ADDRESS],
        files: FileList::new(boot.sector),
        entries_full: false,
        structures_read: Vec::new(),
        boot,
    };
    walker.claim_layout();
    walker.walk_directories()?;
    if walker.boot.kind == Kind::ExFat && !walker.structures_read.contains(&Structure::Bitmap) {
        walker.notes.push(
            "no allocation bitmap in the root directory: free clusters are read from the FAT, \
             where the clusters of contiguous files look free"
                .into(),
        );
    }
    walker.claim_free();
    Ok(walker.finish())
}

/// Reads and checks the exFAT boot region of sectors of `sector` bytes: the main one, or
/// its backup where the main one is damaged or fails its checksum (noted).
fn exfat_region(reader: &Reader<'_>, sector: u64, notes: &mut Notes) -> Result<Boot, FsError> {
    let len = sector.saturating_mul(REGION_SECTORS);
    let Some(main) = reader.bytes(0, len)? else {
        return Err(FsError::NotFat(
            "the volume is too small to hold an exFAT boot region".into(),
        ));
    };
    let parsed = exfat_boot::parse(&main);
    if let Ok((boot, true)) = parsed {
        return Ok(boot);
    }
    let backup = match reader.bytes(len, len)? {
        Some(raw) => exfat_boot::parse(&raw).ok().filter(|&(_, sealed)| sealed),
        None => None,
    };
    let why = match &parsed {
        Ok(_) => "fails its checksum".to_string(),
        Err(bad) => format!("is damaged: {} (byte {})", bad.what, bad.at),
    };
    match (parsed, backup) {
        (_, Some((boot, _))) => {
            notes.push(format!(
                "the main exFAT boot region {why}: the backup boot region is read"
            ));
            Ok(boot)
        }
        (Ok((boot, _)), None) => {
            notes.push(
                "the exFAT boot region fails its checksum, and its backup is no better: \
                 the main one is read"
                    .into(),
            );
            Ok(boot)
        }
        (Err(bad), None) => Err(FsError::NotFat(format!(
            "{} (exFAT boot sector byte {}; the backup boot region is no better)",
            bad.what, bad.at
        ))),
    }
}

impl Walker<'_> {
    /// Adds a claim on bytes `start..end`.
    fn claim(&mut self, range: Range<u64>, layer: Layer, state: FileState, owner: Owner) {
        let entry = Claimed::is(Entry::new(state, owner));
        self.claims.add(range.start, range.end, layer, entry);
    }

    /// The volume bytes of clusters `clusters`.
    fn cluster_bytes(&self, clusters: &Range<u64>) -> Range<u64> {
        let start = self.boot.cluster_offset(clusters.start).unwrap_or(0);
        let len = clusters
            .end
            .saturating_sub(clusters.start)
            .saturating_mul(self.boot.cluster);
        start..start.saturating_add(len)
    }

    /// Claims what the boot sector and the FAT say: the structures, bad clusters, and what
    /// lies past the last cluster.
    fn claim_layout(&mut self) {
        let len = self.reader.len;
        let fs_end = self.boot.volume_len().min(len);
        if self.boot.volume_len() > len {
            self.notes.push(format!(
                "the filesystem ({} bytes) is larger than its volume ({len} bytes); what \
                 lies past the volume's end is not mapped",
                self.boot.volume_len()
            ));
        }
        let data_end = self.boot.data_end().min(fs_end);
        let root_end = self.boot.after_fats().saturating_add(self.boot.root_len());
        let (structures, root) = (0..self.boot.after_fats(), self.boot.after_fats()..root_end);
        let base = Layer::Base;
        self.claim(0..data_end, base, FileState::Allocated, Owner::Nobody);
        self.claim(data_end..len, base, FileState::Unallocated, Owner::Nobody);
        self.claim(
            structures,
            Layer::Structure,
            FileState::Metadata,
            Owner::Nobody,
        );
        let root_owner = Owner::Inode(ROOT);
        self.claim(root, Layer::Structure, FileState::Metadata, root_owner);
        // exFAT: from the FATs to the cluster heap.
        let gap = root_end..self.boot.data_start();
        self.claim(gap, Layer::Structure, FileState::Metadata, Owner::Nobody);
        let bad: Vec<u64> = self.table.bad_clusters().collect();
        for cluster in bad {
            let bytes = self.cluster_bytes(&(cluster..cluster.saturating_add(1)));
            self.claim(bytes, Layer::Structure, FileState::Metadata, Owner::Nobody);
        }
    }

    /// Claims the free clusters: per the FAT, or exFAT's allocation bitmap once read.
    fn claim_free(&mut self) {
        for run in self.table.free_runs() {
            let bytes = self.cluster_bytes(&run);
            self.claim(bytes, Layer::Free, FileState::Unallocated, Owner::Nobody);
        }
    }

    /// Notes how a chain stopped, if it stopped early.
    fn count_stop(&mut self, stop: Stop) {
        match stop {
            Stop::End | Stop::Limit => {}
            Stop::Taken => self.counts.taken = self.counts.taken.saturating_add(1),
            Stop::Broken => self.counts.broken = self.counts.broken.saturating_add(1),
        }
    }

    /// Walks the directories breadth first from the root, numbering, naming, claiming and
    /// listing what they hold.
    fn walk_directories(&mut self) -> Result<(), FsError> {
        let root = match self.boot.kind {
            Kind::Fat32 | Kind::ExFat => Source::Chain(u64::from(self.boot.root_cluster)),
            Kind::Fat12 | Kind::Fat16 => {
                Source::Region(self.boot.after_fats(), self.boot.root_len())
            }
        };
        let mut queue: VecDeque<(u64, Source, usize, bool)> = VecDeque::new();
        queue.push_back((ROOT, root, 0, false));
        let mut depth_cut = false;
        while let Some((number, source, depth, deleted)) = queue.pop_front() {
            let Some((bytes, pieces)) = self.read_directory(number, source)? else {
                continue;
            };
            let (entries, damage) = if self.boot.kind == Kind::ExFat {
                let parsed = exfat_dir::parse(&bytes);
                if number == ROOT {
                    for structure in &parsed.structures {
                        self.structure(structure, &pieces)?;
                    }
                }
                self.counts.deleted_mismatched = self
                    .counts
                    .deleted_mismatched
                    .saturating_add(parsed.deleted_mismatched);
                (parsed.entries, parsed.damage)
            } else {
                dir::parse(&bytes)
            };
            if let Some(first) = damage.first() {
                self.counts.damaged = self.counts.damaged.saturating_add(damage.len() as u64);
                let at = volume_offset(&pieces, first.at as u64);
                self.notes.push(format!(
                    "directory {}: {} (at byte {at} of the volume)",
                    self.address(number),
                    first.what
                ));
            }
            for entry in entries {
                let deleted = deleted || entry.deleted;
                let at = volume_offset(&pieces, entry.index.saturating_mul(32));
                let Some(child) = self.number(number, &entry, at) else {
                    break;
                };
                if entry.directory {
                    if depth >= MAX_DEPTH {
                        depth_cut = true;
                        continue;
                    }
                    let clusters = entry.size.div_ceil(self.boot.cluster).max(1);
                    let source = if deleted {
                        Source::Freed(entry.first_cluster, clusters)
                    } else if entry.contiguous {
                        Source::Run(entry.first_cluster, clusters)
                    } else {
                        Source::Chain(entry.first_cluster)
                    };
                    queue.push_back((child, source, depth.saturating_add(1), deleted));
                } else if deleted {
                    self.deleted_file(child, &entry);
                } else {
                    self.live_file(child, &entry);
                }
            }
        }
        if depth_cut {
            self.notes.push(format!(
                "directories deeper than {MAX_DEPTH} levels were not read"
            ));
        }
        Ok(())
    }

    /// Reads an exFAT structure the root directory names (its first entry `structure`, read
    /// as `pieces`): numbers and names it as The Sleuth Kit does, claims its clusters as
    /// metadata, and for the allocation bitmap hands it to the table.
    fn structure(
        &mut self,
        structure: &StructureEntry,
        pieces: &[(u64, u64)],
    ) -> Result<(), FsError> {
        let kind = structure.structure;
        if self.structures_read.contains(&kind) {
            self.notes
                .push(format!("the root directory names {} twice", kind.name()));
            return Ok(());
        }
        self.structures_read.push(kind);
        let entry = DirEntry {
            index: structure.index,
            name: kind.name().into(),
            deleted: false,
            directory: false,
            first_cluster: structure.first_cluster,
            size: structure.size,
            contiguous: false,
        };
        let at = volume_offset(pieces, structure.index.saturating_mul(32));
        let Some(number) = self.number(ROOT, &entry, at) else {
            return Ok(());
        };
        let clusters = structure.size.div_ceil(self.boot.cluster);
        let (runs, stop) = self.table.chain(structure.first_cluster, clusters);
        self.count_stop(stop);
        let spans = self.spans(&runs);
        let owner = Owner::Inode(number);
        for span in &spans {
            if let Piece::Volume(at) = span.piece {
                let range = at..at.saturating_add(span.len);
                self.claim(range, Layer::File, FileState::Metadata, owner);
            }
        }
        if kind != Structure::Bitmap {
            return Ok(());
        }
        // A bit per cluster: what the bitmap needs, and no more than it says it holds.
        let needed = self.boot.clusters.div_ceil(8).min(structure.size);
        let mut bitmap = Vec::new();
        for span in &spans {
            let Piece::Volume(at) = span.piece else {
                continue;
            };
            let want = needed.saturating_sub(bitmap.len() as u64).min(span.len);
            match self.reader.bytes(at, want)? {
                Some(bytes) => bitmap.extend(bytes),
                None => break,
            }
        }
        if (bitmap.len() as u64) < self.boot.clusters.div_ceil(8) {
            self.notes.push(format!(
                "the allocation bitmap holds {} bytes of the {} its clusters need: the \
                 clusters past it read as in use",
                bitmap.len(),
                self.boot.clusters.div_ceil(8)
            ));
        }
        self.table.set_bitmap(bitmap);
        Ok(())
    }

    /// The address of the map's number `number`, for notes.
    fn address(&self, number: u64) -> u64 {
        usize::try_from(number)
            .ok()
            .and_then(|n| self.addresses.get(n))
            .copied()
            .unwrap_or(0)
    }

    /// Gives `entry` (of directory `parent`, its short entry at volume offset `at`) a number
    /// and a name; `None` when the numbers are spent.
    fn number(&mut self, parent: u64, entry: &DirEntry, at: u64) -> Option<u64> {
        let number = self.addresses.len() as u64;
        if number >= MAX_ENTRIES {
            self.entries_full = true;
            return None;
        }
        let address = at
            .saturating_sub(self.boot.address_base())
            .checked_div(32)
            .map_or(0, |index| index.saturating_add(FIRST_ADDRESS));
        self.addresses.push(address);
        let mut name = entry.name.as_str();
        if name.len() > MAX_NAME_BYTES {
            self.counts.long_names = self.counts.long_names.saturating_add(1);
            let mut cut = MAX_NAME_BYTES;
            while !name.is_char_boundary(cut) {
                cut = cut.saturating_sub(1);
            }
            name = &name[..cut];
        }
        if self.names.add(number, parent, name.as_bytes()).is_err() {
            self.counts.long_names = self.counts.long_names.saturating_add(1);
        }
        Some(number)
    }

    /// Reads directory `number` from `source`, claiming its clusters: its bytes, and where
    /// they lie in the volume as (byte of the directory, volume offset) pieces. `None` for
    /// a directory with nothing to read.
    #[allow(clippy::type_complexity)]
    fn read_directory(
        &mut self,
        number: u64,
        source: Source,
    ) -> Result<Option<(Vec<u8>, Vec<(u64, u64)>)>, FsError> {
        let owner = Owner::Inode(number);
        let per_dir = MAX_DIR_BYTES
            .checked_div(self.boot.cluster)
            .unwrap_or(1)
            .max(1);
        let ranges = match source {
            Source::Region(start, len) => vec![start..start.saturating_add(len)],
            Source::Chain(first) => {
                let found = self.table.chain(first, per_dir);
                self.directory_runs(found, owner)
            }
            Source::Run(first, count) => {
                let found = self.table.contiguous(first, count.min(per_dir));
                self.directory_runs(found, owner)
            }
            Source::Freed(first, count) => {
                let run = self.take_freed(first, count.min(per_dir));
                if run.is_empty() {
                    return Ok(None);
                }
                let range = self.cluster_bytes(&run);
                self.claim(range.clone(), Layer::Deleted, FileState::Deleted, owner);
                vec![range]
            }
        };
        let mut bytes = Vec::new();
        let mut pieces = Vec::new();
        for range in ranges {
            let len = range.end.saturating_sub(range.start);
            match self.reader.bytes(range.start, len)? {
                Some(read) => {
                    pieces.push((bytes.len() as u64, range.start));
                    bytes.extend(read);
                }
                None => {
                    self.notes.push(format!(
                        "a cluster of directory {} lies past the end of the volume",
                        self.address(number)
                    ));
                    break;
                }
            }
        }
        Ok((!bytes.is_empty()).then_some((bytes, pieces)))
    }

    /// Claims the clusters `found` of a directory's chain or run for `owner`, as metadata:
    /// their volume bytes.
    fn directory_runs(&mut self, found: (Vec<Range<u64>>, Stop), owner: Owner) -> Vec<Range<u64>> {
        let (runs, stop) = found;
        self.count_stop(stop);
        let ranges: Vec<Range<u64>> = runs.iter().map(|run| self.cluster_bytes(run)).collect();
        for range in &ranges {
            self.claim(range.clone(), Layer::File, FileState::Metadata, owner);
        }
        ranges
    }

    /// Maps and lists a file in use: its chain, data then slack.
    fn live_file(&mut self, number: u64, entry: &DirEntry) {
        if entry.first_cluster == 0 {
            if entry.size > 0 {
                self.counts.short = self.counts.short.saturating_add(1);
            }
            self.list(
                number,
                FileState::Allocated,
                FileContent::new(entry.size, Vec::new()),
            );
            return;
        }
        let (runs, stop) = if entry.contiguous {
            let clusters = entry.size.div_ceil(self.boot.cluster);
            self.table.contiguous(entry.first_cluster, clusters)
        } else {
            self.table.chain(entry.first_cluster, u64::MAX)
        };
        self.count_stop(stop);
        let spans = self.spans(&runs);
        let chained: u64 = spans.iter().map(|s| s.len).sum();
        if chained < entry.size {
            self.counts.short = self.counts.short.saturating_add(1);
        }
        let owner = Owner::Inode(number);
        for span in &spans {
            let Piece::Volume(at) = span.piece else {
                continue;
            };
            let data = entry.size.saturating_sub(span.start).min(span.len);
            let split = at.saturating_add(data);
            self.claim(at..split, Layer::File, FileState::Allocated, owner);
            let end = at.saturating_add(span.len);
            self.claim(split..end, Layer::File, FileState::Slack, owner);
        }
        self.list(
            number,
            FileState::Allocated,
            FileContent::new(entry.size, spans),
        );
    }

    /// Maps and lists a deleted file: the free clusters from its first, as many as its size
    /// needs.
    fn deleted_file(&mut self, number: u64, entry: &DirEntry) {
        let needed = entry.size.div_ceil(self.boot.cluster);
        let run = self.take_freed(entry.first_cluster, needed);
        let runs = if run.is_empty() {
            Vec::new()
        } else {
            vec![run]
        };
        let spans = self.spans(&runs);
        let (state, _) = span_states(FileState::Deleted);
        for span in &spans {
            if let Piece::Volume(at) = span.piece {
                let range = at..at.saturating_add(span.len);
                self.claim(range, Layer::Deleted, state, Owner::Inode(number));
            }
        }
        self.list(
            number,
            FileState::Deleted,
            FileContent::new(entry.size, spans),
        );
    }

    /// Takes the free clusters from `first` on, `count` at most, as a deleted file or
    /// directory's clusters are guessed: the run taken.
    fn take_freed(&mut self, first: u64, count: u64) -> Range<u64> {
        let mut end = first;
        while end.saturating_sub(first) < count
            && self.table.is_data(end)
            && self.table.is_free(end)
            && self.table.take(end)
        {
            end = end.saturating_add(1);
        }
        first..end
    }

    /// The spans of a file whose chain is `runs`.
    fn spans(&self, runs: &[Range<u64>]) -> Vec<Span> {
        let mut start = 0u64;
        runs.iter()
            .map(|run| {
                let bytes = self.cluster_bytes(run);
                let len = bytes.end.saturating_sub(bytes.start);
                let span = Span {
                    start,
                    len,
                    piece: Piece::Volume(bytes.start),
                };
                start = start.saturating_add(len);
                span
            })
            .collect()
    }

    /// Lists file `number` for the file pass.
    fn list(&mut self, number: u64, state: FileState, content: FileContent) {
        if self.files.push(number, state, content, None).is_err() {
            self.counts.unlisted = self.counts.unlisted.saturating_add(1);
        }
    }

    /// Paints the map and assembles it.
    fn finish(mut self) -> FatMap {
        let mut claims = std::mem::replace(&mut self.claims, Claims::new(0));
        let painted = paint::paint(&mut claims.list, self.reader.len, Claimed::GAP);
        let counts = &self.counts;
        let counted = [
            (
                counts.taken,
                "cluster chains meet a cluster another chain (or their own) holds: loops or \
                 cross links, cut",
            ),
            (
                counts.broken,
                "cluster chains break off at a free, bad or invalid FAT entry",
            ),
            (
                counts.short,
                "files have fewer clusters than their size needs",
            ),
            (counts.damaged, "directory entries are damaged"),
            (
                counts.deleted_mismatched,
                "deleted exFAT entry sets fail their checksum (partly overwritten since): read \
                 as they are",
            ),
            (
                counts.long_names,
                "names could not be kept whole (longer than 765 bytes, or no room left)",
            ),
            (
                counts.unlisted,
                "files could not be listed for the file pass (the list is full)",
            ),
        ];
        let mut notes = Vec::new();
        for (count, what) in counted {
            if count > 0 {
                notes.push(format!("{count} {what}"));
            }
        }
        if self.entries_full {
            notes.push(format!(
                "more than {MAX_ENTRIES} directory entries: the rest were not read"
            ));
        }
        if claims.cut {
            notes.push(format!(
                "the map holds at most {MAX_CLAIMS} ranges; the rest is mapped from the FAT \
                 only"
            ));
        }
        for note in notes {
            self.notes.push(note);
        }
        FatMap {
            kind: self.boot.kind.name(),
            map: BlockMap {
                files: self.files,
                painted,
            },
            names: FatNames {
                names: self.names.sorted(),
                addresses: self.addresses,
            },
            notes: self.notes.finish(),
        }
    }
}

/// The volume offset of byte `at` of a directory read as `pieces` (byte of the directory,
/// volume offset), sorted.
fn volume_offset(pieces: &[(u64, u64)], at: u64) -> u64 {
    let after = pieces.partition_point(|&(start, _)| start <= at);
    after
        .checked_sub(1)
        .and_then(|i| pieces.get(i))
        .map_or(0, |&(start, volume)| {
            volume.saturating_add(at.saturating_sub(start))
        })
}
