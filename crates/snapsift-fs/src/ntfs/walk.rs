//! The I/O side of the map: reads every record of the MFT and the cluster bitmap, gathers
//! each file's attributes (from its base record and its extension records), turns them into
//! claims and file entries, and paints the map.
//!
//! Limits, so that a hostile image costs bounded time and memory:
//! * at most [`MAX_RECORDS`] records are read, never more than the MFT's size holds;
//! * a stream's runs, all its extents together, are cut at [`MAX_STREAM_RUNS`]; runs
//!   outside the filesystem are dropped and runs claiming clusters another run of the same
//!   stream claims (a loop) are cut, so a stream never maps more than the volume;
//! * at most [`MAX_CLAIMS`] claims are kept; paths stop at [`MAX_DEPTH`](super::names::MAX_DEPTH)
//!   and loops between directories are cut.
//!
//! Index blocks (`$INDEX_ALLOCATION`) are mapped as their directory's metadata but not read:
//! every name they hold is also in the named file's own record, which is where paths come
//! from (for deleted files too), so no budget on index blocks is needed.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use snapsift_disk::Disk;

use super::io::Volume;
use super::mft::{self, Geometry, MAX_RECORDS, Mft};
use super::names::{self, FileName, Names, Parent};
use super::record::{self, COMPRESSED, Damage, ENCRYPTED, Value, kind};
use super::runs::{self, Run};
use super::stream::{self, Shape};
use super::{Entry, Layer, NtfsMap, Owner};
use crate::FsError;
use crate::content::{FileContent, Piece, Span};
use crate::file_list::FileList;
use crate::filesystem::FileState;
use crate::paint::{self, Claims};

/// Claims kept at most: each costs about 50 bytes while the map is painted.
const MAX_CLAIMS: usize = 1 << 24;
/// Notes kept at most; further ones are counted.
const MAX_NOTES: usize = 64;
/// Records read at once.
const CHUNK_RECORDS: u64 = 1024;
/// Runs of one stream at most, all its extents together.
const MAX_STREAM_RUNS: usize = 1 << 20;
/// Records below this number are the filesystem's own (0-15 system files, 16-23 reserved).
const FIRST_USER_RECORD: u64 = 24;
/// System files with a role of their own.
const MFT_RECORD: u64 = 0;
const LOGFILE_RECORD: u64 = 2;
const BITMAP_RECORD: u64 = 6;
const EXTEND_RECORD: u64 = 11;

/// What the walk keeps of one record.
#[derive(Debug)]
struct Kept {
    number: u64,
    sequence: u16,
    in_use: bool,
    directory: bool,
    base: Option<(u64, u16)>,
    names: Vec<FileName>,
    attributes: Vec<Attribute>,
}

/// What the walk keeps of one attribute.
#[derive(Debug)]
struct Attribute {
    kind: u32,
    name: Option<Box<str>>,
    flags: u16,
    body: Body,
}

/// An attribute's value, as the walk keeps it.
#[derive(Debug)]
enum Body {
    /// A resident value (kept only for `$DATA`): its bytes as the record reads, where they
    /// are on the volume (if the record lies there contiguously) and whether they lie there
    /// verbatim (no update sequence entry among them).
    Resident {
        bytes: Arc<[u8]>,
        at: Option<u64>,
        verbatim: bool,
    },
    /// A non-resident value's extent.
    Runs {
        lowest_vcn: u64,
        unit_exponent: u8,
        size: u64,
        initialized: u64,
        runs: Vec<Run>,
    },
}

/// Counts of problems too common to note one by one.
#[derive(Default)]
struct Counts {
    /// `FILE` records whose header or update sequence does not hold.
    broken_records: u64,
    /// Records whose attributes stop at damage.
    truncated_records: u64,
    /// Attributes whose data runs stop at damage.
    damaged_runs: u64,
    /// Runs outside the filesystem, dropped.
    outside: u64,
    /// Runs claiming clusters their stream already claims, cut.
    loops: u64,
    /// Extension records whose base record is not there.
    orphan_extensions: u64,
    /// Encrypted data streams (listed as they lie: ciphertext).
    encrypted: u64,
}

/// The state of the walk.
struct Walker<'d> {
    volume: Volume<'d>,
    geometry: Geometry,
    mft: Mft,
    claims: Claims<Entry>,
    notes: Vec<String>,
    notes_dropped: u64,
    counts: Counts,
    /// Named streams that own bytes, as (record, name); owners point into it.
    streams: Vec<(u64, Box<str>)>,
    stream_index: HashMap<(u64, Box<str>), u32>,
    files: FileList,
    /// Streams the file list could not hold.
    unlisted: u64,
}

/// Builds the map of the NTFS in `range` of `disk`.
pub(crate) fn build(disk: &dyn Disk, range: Range<u64>) -> Result<NtfsMap, FsError> {
    let end = range.end.min(disk.size());
    let volume = Volume {
        disk,
        start: range.start,
        len: end.saturating_sub(range.start),
    };
    let (geometry, mft, opening_notes) = mft::open(&volume)?;
    let mut walker = Walker {
        volume,
        geometry,
        mft,
        claims: Claims::new(MAX_CLAIMS),
        notes: Vec::new(),
        notes_dropped: 0,
        counts: Counts::default(),
        streams: Vec::new(),
        stream_index: HashMap::new(),
        files: FileList::new(geometry.cluster),
        unlisted: 0,
    };
    for note in opening_notes {
        walker.note(note);
    }
    if geometry.bytes > volume.len {
        walker.note(format!(
            "the filesystem ({} bytes) is larger than its volume ({} bytes); what lies past \
             the volume's end is not mapped",
            geometry.bytes, volume.len
        ));
    }
    walker.claim(
        0,
        volume.len,
        Layer::Base,
        FileState::Unallocated,
        Owner::Nobody,
    );
    let records = walker.read_records()?;
    let files = gather(records, &mut walker.counts);
    let names = name_files(&files);
    walker.claim_bitmap(&files)?;
    for file in &files {
        walker.map_file(file, &names);
    }
    // The boot sector and its backup past the filesystem's last sector: metadata, below
    // `$Boot`'s own claim (earlier claims win in a layer).
    let sector = geometry.sector;
    walker.claim(0, sector, Layer::File, FileState::Metadata, Owner::Nobody);
    walker.claim(
        geometry.bytes,
        geometry.bytes.saturating_add(sector),
        Layer::File,
        FileState::Metadata,
        Owner::Nobody,
    );
    Ok(walker.finish(names))
}

impl Walker<'_> {
    /// Adds a note, up to [`MAX_NOTES`].
    fn note(&mut self, note: String) {
        if self.notes.len() < MAX_NOTES {
            self.notes.push(note);
        } else {
            self.notes_dropped = self.notes_dropped.saturating_add(1);
        }
    }

    /// Adds a claim on bytes `start..end`.
    fn claim(&mut self, start: u64, end: u64, layer: Layer, state: FileState, owner: Owner) {
        self.claims.add(start, end, layer, Entry { state, owner });
    }

    /// Reads every record of the MFT, in use or not, keeping what the map needs.
    fn read_records(&mut self) -> Result<Vec<Kept>, FsError> {
        let size = self.geometry.record;
        let total = self.mft.size.checked_div(size).unwrap_or(0);
        if total > MAX_RECORDS {
            self.note(format!(
                "only the first {MAX_RECORDS} of {total} MFT records are read"
            ));
        }
        let total = total.min(MAX_RECORDS);
        let record_len = usize::try_from(size).unwrap_or(0);
        let mut kept = Vec::new();
        let mut first = 0u64;
        let mut buf = Vec::new();
        while first < total {
            let count = CHUNK_RECORDS.min(total.saturating_sub(first));
            buf.resize(usize::try_from(count.saturating_mul(size)).unwrap_or(0), 0);
            self.mft
                .read(&self.volume, first.saturating_mul(size), &mut buf)?;
            for (number, raw) in (first..).zip(buf.chunks_exact_mut(record_len)) {
                let at = self.mft.at(number.saturating_mul(size), size);
                if let Some(record) = self.keep(number, raw, at) {
                    kept.push(record);
                }
            }
            first = first.saturating_add(count);
        }
        Ok(kept)
    }

    /// Parses one record (at volume offset `at`, if contiguous there).
    fn keep(&mut self, number: u64, raw: &mut [u8], at: Option<u64>) -> Option<Kept> {
        let parsed = match record::parse(raw) {
            Ok(parsed) => parsed,
            Err(Damage::Empty) => return None,
            Err(Damage::Broken) => {
                self.counts.broken_records = self.counts.broken_records.saturating_add(1);
                return None;
            }
        };
        if parsed.truncated {
            self.counts.truncated_records = self.counts.truncated_records.saturating_add(1);
        }
        let mut kept = Kept {
            number,
            sequence: parsed.sequence,
            in_use: parsed.in_use,
            directory: parsed.directory,
            base: parsed.base.filter(|&(base, _)| base != number),
            names: Vec::new(),
            attributes: Vec::new(),
        };
        for attribute in parsed.attributes {
            let body = match attribute.value {
                Value::Resident(range) => {
                    let bytes = raw.get(range.clone()).unwrap_or(&[]);
                    if attribute.kind == kind::FILE_NAME {
                        kept.names.extend(names::parse(bytes));
                    }
                    if attribute.kind != kind::DATA {
                        continue;
                    }
                    Body::Resident {
                        bytes: Arc::from(bytes),
                        at: at.and_then(|a| a.checked_add(range.start as u64)),
                        verbatim: !record::crosses_fixup(&range),
                    }
                }
                Value::NonResident(header) => {
                    let decoded = runs::decode(
                        raw.get(header.runs.clone()).unwrap_or(&[]),
                        header.lowest_vcn,
                    );
                    if decoded.damaged {
                        self.counts.damaged_runs = self.counts.damaged_runs.saturating_add(1);
                    }
                    Body::Runs {
                        lowest_vcn: header.lowest_vcn,
                        unit_exponent: header.unit_exponent,
                        size: header.size,
                        initialized: header.initialized,
                        runs: decoded.runs,
                    }
                }
            };
            kept.attributes.push(Attribute {
                kind: attribute.kind,
                name: attribute.name,
                flags: attribute.flags,
                body,
            });
        }
        Some(kept)
    }

    /// Reads `$Bitmap` and claims the clusters it marks in use (below every file's claim:
    /// in-use clusters no record explains are `allocated` without owner, and hide what
    /// deleted records say of them).
    fn claim_bitmap(&mut self, files: &[Kept]) -> Result<(), FsError> {
        let cluster = self.geometry.cluster;
        let clusters = self.geometry.clusters;
        let bitmap = files
            .iter()
            .find(|f| f.number == BITMAP_RECORD && f.in_use)
            .and_then(|f| {
                let streams = streams(f, MAX_STREAM_RUNS);
                streams
                    .into_iter()
                    .find(|s| s.kind == kind::DATA && s.name.is_none())
            });
        let bytes = clusters.div_ceil(8);
        let content = match bitmap {
            Some(Stream {
                body: StreamBody::Runs { runs, size, .. },
                ..
            }) => {
                let runs = self.inside(BITMAP_RECORD, runs);
                let layout = stream::layout(
                    &runs,
                    Shape {
                        cluster,
                        size,
                        initialized: size,
                        unit: None,
                    },
                );
                Some(FileContent::new(size.min(bytes), layout.spans))
            }
            Some(Stream {
                body: StreamBody::Resident { bytes, .. },
                ..
            }) => Some(FileContent::new(
                bytes.len() as u64,
                vec![Span {
                    start: 0,
                    len: bytes.len() as u64,
                    piece: Piece::Held { bytes, at: None },
                }],
            )),
            None => None,
        };
        let Some(content) = content else {
            self.note(
                "$Bitmap could not be read: free clusters and deleted files' clusters cannot \
                 be told from clusters no record claims"
                    .into(),
            );
            return Ok(());
        };
        if content.size < bytes {
            self.note(format!(
                "$Bitmap covers {} of the filesystem's {clusters} clusters",
                content.size.saturating_mul(8)
            ));
        }
        // Read a slice at a time: the bitmap of a 16 TiB volume of 4 KiB clusters is 512 MiB.
        const SLICE: u64 = 1 << 20;
        let mut buf = Vec::new();
        let mut offset = 0u64;
        let mut set_from: Option<u64> = None;
        while offset < content.size {
            let n = SLICE.min(content.size.saturating_sub(offset));
            buf.resize(usize::try_from(n).unwrap_or(0), 0);
            let read = content.read_at(self.volume.disk, self.volume.start, offset, &mut buf);
            if read.is_err() {
                self.note(format!("$Bitmap could not be read from byte {offset}"));
                break;
            }
            let first_cluster = offset.saturating_mul(8);
            for (i, &byte) in (0u64..).zip(buf.iter()) {
                // Whole bytes continuing the current run (or gap) need no look at each bit.
                if (byte == 0xFF && set_from.is_some()) || (byte == 0 && set_from.is_none()) {
                    continue;
                }
                let base = first_cluster.saturating_add(i.saturating_mul(8));
                for bit in 0..8u64 {
                    let set = byte & (1 << bit) != 0;
                    let at = base.saturating_add(bit);
                    match (set, set_from) {
                        (true, None) => set_from = Some(at),
                        (false, Some(from)) => {
                            self.claim_clusters(from, at);
                            set_from = None;
                        }
                        _ => {}
                    }
                }
            }
            offset = offset.saturating_add(n);
        }
        if let Some(from) = set_from {
            self.claim_clusters(from, offset.saturating_mul(8));
        }
        Ok(())
    }

    /// Claims clusters `from..to` (clipped to the filesystem) as in use by nobody known.
    fn claim_clusters(&mut self, from: u64, to: u64) {
        let to = to.min(self.geometry.clusters);
        let cluster = self.geometry.cluster;
        self.claim(
            from.saturating_mul(cluster),
            to.saturating_mul(cluster),
            Layer::InUse,
            FileState::Allocated,
            Owner::Nobody,
        );
    }

    /// `runs` of record `number` without those outside the filesystem or claiming clusters
    /// an earlier run claims (counted).
    fn inside(&mut self, number: u64, runs: Vec<Run>) -> Vec<Run> {
        let clusters = self.geometry.clusters;
        let mut kept: Vec<Run> = Vec::with_capacity(runs.len());
        let mut outside = 0u64;
        for run in runs {
            let fits = run
                .lcn
                .is_none_or(|lcn| lcn.checked_add(run.len).is_some_and(|end| end <= clusters));
            if fits {
                kept.push(run);
            } else {
                outside = outside.saturating_add(1);
            }
        }
        if outside > 0 {
            if self.counts.outside == 0 {
                self.note(format!(
                    "record {number} has data runs pointing outside the filesystem's \
                     {clusters} clusters; they were ignored"
                ));
            }
            self.counts.outside = self.counts.outside.saturating_add(outside);
        }
        // Runs of one stream claiming the same clusters twice: keep the first (in VCN order).
        let mut by_lcn: Vec<(u64, u64, usize)> = kept
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((r.lcn?, r.lcn?.saturating_add(r.len), i)))
            .collect();
        by_lcn.sort_unstable();
        let mut cut = vec![false; kept.len()];
        let mut loops = 0u64;
        for pair in by_lcn.windows(2) {
            let ((_, end, a), (start, _, b)) = (pair[0], pair[1]);
            if start < end {
                cut[a.max(b)] = true;
                loops = loops.saturating_add(1);
            }
        }
        if loops > 0 {
            if self.counts.loops == 0 {
                self.note(format!(
                    "record {number} has data runs claiming the same clusters twice (a loop); \
                     the repeats were cut"
                ));
            }
            self.counts.loops = self.counts.loops.saturating_add(loops);
            let mut flags = cut.into_iter();
            kept.retain(|_| !flags.next().unwrap_or(false));
        }
        kept
    }

    /// The owner of `stream` of record `number`: the file, or its named stream.
    fn owner(&mut self, number: u64, stream: &Stream) -> Owner {
        match &stream.name {
            Some(name) if stream.kind == kind::DATA => {
                let key = (number, name.clone());
                if let Some(&index) = self.stream_index.get(&key) {
                    return Owner::Stream(index);
                }
                let Ok(index) = u32::try_from(self.streams.len()) else {
                    return Owner::File(number);
                };
                self.streams.push(key.clone());
                self.stream_index.insert(key, index);
                Owner::Stream(index)
            }
            _ => Owner::File(number),
        }
    }

    /// Claims one file's clusters and resident data, and lists its streams for the file
    /// pass.
    fn map_file(&mut self, file: &Kept, names: &Names) {
        let system = file.number < FIRST_USER_RECORD || names.is_under(file.number, EXTEND_RECORD);
        for stream in streams(file, MAX_STREAM_RUNS) {
            let is_data = stream.kind == kind::DATA;
            let mut owner = self.owner(file.number, &stream);
            let (layer, data, slack) = if !file.in_use {
                (Layer::Deleted, FileState::Deleted, FileState::Deleted)
            } else if file.number == LOGFILE_RECORD && is_data {
                (Layer::File, FileState::Journal, FileState::Journal)
            } else if system || !is_data {
                (Layer::File, FileState::Metadata, FileState::Metadata)
            } else {
                (Layer::File, FileState::Allocated, FileState::Slack)
            };
            if file.in_use && file.number == MFT_RECORD && is_data && stream.name.is_none() {
                owner = Owner::Mft;
            }
            let listed = is_data && !system && (stream.name.is_some() || !file.directory);
            if listed && stream.flags & ENCRYPTED != 0 {
                self.counts.encrypted = self.counts.encrypted.saturating_add(1);
            }
            let content = match stream.body {
                StreamBody::Resident {
                    bytes,
                    at,
                    verbatim,
                } => {
                    let len = bytes.len() as u64;
                    if let (Some(at), false) = (at, system) {
                        let record_layer = Layer::Record;
                        self.claim(at, at.saturating_add(len), record_layer, data, owner);
                    }
                    FileContent::new(
                        len,
                        vec![Span {
                            start: 0,
                            len,
                            piece: Piece::Held {
                                bytes,
                                at: at.filter(|_| verbatim),
                            },
                        }],
                    )
                }
                StreamBody::Runs {
                    runs,
                    size,
                    initialized,
                    unit,
                } => {
                    let runs = self.inside(file.number, runs);
                    let cluster = self.geometry.cluster;
                    // Units beyond 1 MiB are no NTFS (16 clusters of at most 4 KiB): read
                    // such a value as it lies rather than decode units of any size.
                    let unit = unit.filter(|u| u.saturating_mul(cluster) <= 1 << 20);
                    let shape = Shape {
                        cluster,
                        size,
                        initialized,
                        unit,
                    };
                    let layout = stream::layout(&runs, shape);
                    for stretch in &layout.stretches {
                        let data_end = stretch.at.saturating_add(stretch.data);
                        let end = stretch.at.saturating_add(stretch.len);
                        self.claim(stretch.at, data_end, layer, data, owner);
                        self.claim(data_end, end, layer, slack, owner);
                    }
                    FileContent::new(size, layout.spans)
                }
            };
            let keep = file.in_use || content.spans.iter().any(|s| s.piece != Piece::Zeros);
            if listed && keep {
                let state = if file.in_use {
                    FileState::Allocated
                } else {
                    FileState::Deleted
                };
                let name = stream.name.clone();
                if self.files.push(file.number, state, content, name).is_err() {
                    self.unlisted = self.unlisted.saturating_add(1);
                }
            }
        }
    }

    /// Notes what was counted, paints the claims and assembles the map.
    fn finish(mut self, names: Names) -> NtfsMap {
        let counts = std::mem::take(&mut self.counts);
        let counted = [
            (
                counts.broken_records,
                "MFT records are damaged (a bad update sequence or header) and were skipped",
            ),
            (
                counts.truncated_records,
                "MFT records have a damaged attribute; their attributes were read up to it",
            ),
            (
                counts.damaged_runs,
                "attributes have damaged data runs, read up to the damage",
            ),
            (
                counts.outside,
                "data runs point outside the filesystem and were ignored",
            ),
            (
                counts.loops,
                "data runs claim clusters their own stream already claims (loops, cut)",
            ),
            (
                counts.encrypted,
                "data streams are encrypted (EFS): their contents are listed as they lie, \
                 encrypted",
            ),
            (
                counts.orphan_extensions,
                "extension records name a base record that is not there (mapped on their own)",
            ),
        ];
        for (count, what) in counted {
            if count > 0 {
                self.note(format!("{count} {what}"));
            }
        }
        if self.unlisted > 0 {
            self.note(format!(
                "{} streams could not be listed for the file pass (the list is full)",
                self.unlisted
            ));
        }
        if self.claims.cut {
            self.note(format!(
                "the map holds at most {MAX_CLAIMS} ranges; the rest is mapped from $Bitmap only"
            ));
        }
        if self.notes_dropped > 0 {
            let more = format!("{} more problems were not listed", self.notes_dropped);
            self.notes.push(more);
        }
        let painted = paint::paint(&mut self.claims.list, self.volume.len, Entry::GAP);
        NtfsMap {
            files: self.files,
            painted,
            mft: self.mft.extents(),
            record_size: self.geometry.record,
            records: self.mft.size.checked_div(self.geometry.record).unwrap_or(0),
            names,
            streams: self.streams,
            notes: self.notes,
        }
    }
}

/// One stream of a file: an attribute's value, all its extents together.
struct Stream {
    kind: u32,
    name: Option<Box<str>>,
    flags: u16,
    body: StreamBody,
}

/// A stream's value.
enum StreamBody {
    /// In the record.
    Resident {
        bytes: Arc<[u8]>,
        at: Option<u64>,
        verbatim: bool,
    },
    /// In clusters.
    Runs {
        runs: Vec<Run>,
        size: u64,
        initialized: u64,
        /// Clusters per compression unit, for a compressed value.
        unit: Option<u64>,
    },
}

/// The streams of `file`: its attributes, the extents of one value joined in VCN order
/// (overlapping extents, from damage, keep the first), at most `max_runs` runs each.
fn streams(file: &Kept, max_runs: usize) -> Vec<Stream> {
    let mut out: Vec<Stream> = Vec::new();
    let mut extents: HashMap<(u32, Option<&str>), Vec<&Attribute>> = HashMap::new();
    let mut order: Vec<(u32, Option<&str>)> = Vec::new();
    for attribute in &file.attributes {
        match &attribute.body {
            Body::Resident {
                bytes,
                at,
                verbatim,
            } => out.push(Stream {
                kind: attribute.kind,
                name: attribute.name.clone(),
                flags: attribute.flags,
                body: StreamBody::Resident {
                    bytes: bytes.clone(),
                    at: *at,
                    verbatim: *verbatim,
                },
            }),
            Body::Runs { .. } => {
                let key = (attribute.kind, attribute.name.as_deref());
                let list = extents.entry(key).or_default();
                if list.is_empty() {
                    order.push(key);
                }
                list.push(attribute);
            }
        }
    }
    for key in order {
        let Some(mut list) = extents.remove(&key) else {
            continue;
        };
        list.sort_by_key(|a| match a.body {
            Body::Runs { lowest_vcn, .. } => lowest_vcn,
            Body::Resident { .. } => 0,
        });
        let mut joined: Vec<Run> = Vec::new();
        let mut header = None;
        let flags = list.first().map_or(0, |a| a.flags);
        for attribute in &list {
            let Body::Runs {
                lowest_vcn,
                unit_exponent,
                size,
                initialized,
                runs,
                ..
            } = &attribute.body
            else {
                continue;
            };
            if header.is_none() || *lowest_vcn == 0 {
                let compressed = attribute.flags & COMPRESSED != 0;
                let unit = compressed
                    .then(|| 1u64.checked_shl(u32::from(*unit_exponent)))
                    .flatten();
                header.get_or_insert((*size, *initialized, unit));
            }
            let end = joined.last().map_or(0, Run::vcn_end);
            let room = max_runs.saturating_sub(joined.len());
            joined.extend(runs.iter().filter(|r| r.vcn >= end).take(room).copied());
        }
        let (size, initialized, unit) = header.unwrap_or((0, 0, None));
        out.push(Stream {
            kind: key.0,
            name: key.1.map(Box::from),
            flags,
            body: StreamBody::Runs {
                runs: joined,
                size,
                initialized,
                unit,
            },
        });
    }
    out
}

/// Joins extension records to their base records (the base's number and sequence must
/// match what the extension names), keeping base records and records on their own.
fn gather(records: Vec<Kept>, counts: &mut Counts) -> Vec<Kept> {
    let index: HashMap<u64, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.number, i))
        .collect();
    let mut joins: Vec<(usize, usize)> = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let Some((base, sequence)) = record.base else {
            continue;
        };
        match index.get(&base) {
            Some(&b) if records[b].sequence == sequence && records[b].base.is_none() => {
                joins.push((i, b));
            }
            _ => counts.orphan_extensions = counts.orphan_extensions.saturating_add(1),
        }
    }
    let mut records = records;
    let mut joined = vec![false; records.len()];
    for (extension, base) in joins {
        let attributes = std::mem::take(&mut records[extension].attributes);
        let names = std::mem::take(&mut records[extension].names);
        records[base].attributes.extend(attributes);
        records[base].names.extend(names);
        joined[extension] = true;
    }
    let mut flags = joined.into_iter();
    records.retain(|_| !flags.next().unwrap_or(false));
    records
}

/// The names of `files`, each by its preferred `$FILE_NAME`, parents checked.
fn name_files(files: &[Kept]) -> Names {
    let parents: HashMap<u64, Parent> = files
        .iter()
        .map(|f| {
            (
                f.number,
                Parent {
                    sequence: f.sequence,
                    in_use: f.in_use,
                    directory: f.directory,
                },
            )
        })
        .collect();
    let mut names = Names::default();
    for file in files {
        if let Some(name) = names::preferred(&file.names) {
            names.add(file.number, name, |r| parents.get(&r).copied());
        }
    }
    names
}
