//! The scan of one image: its layout, the file pass, the byte sweep, and the findings they
//! make, decided once ([`scan_image`]).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use snapsift_disk::{Disk, Image};
use snapsift_filepass::FilePassConfig;
use snapsift_fs::{Content, Filesystem, Scheme, Volume, VolumeMap};
use snapsift_match::Matcher;
use snapsift_scan::{Finding, ScanConfig, ScanSummary, Sink};

use crate::EngineError;
use crate::coverage::{ImageCoverage, UnreadableRange};
use crate::files::{FileFindings, MappedImage};
use crate::luks::{self, LuksKey, Opened, Within};
use crate::place::{Located, Location, Place};
use crate::record::FindingRecord;
use crate::redact::Redactor;
use crate::report::{self, PrepareStats, ReportOptions, fingerprint};
use crate::shard::{self, Shard, ShardPlan};
use crate::spill;

/// How one image is scanned and its findings decided.
#[derive(Debug)]
pub struct ScanOptions {
    /// Bytes each sweep task reads at once, beside the overlap.
    pub chunk_size: u64,
    /// Threads of the sweep and of the file pass.
    pub threads: usize,
    /// Scan only this part of the image (see [`crate::shard`]).
    pub shard: Option<Shard>,
    /// Run the file pass (read files the way the filesystem gives them) before the sweep.
    pub file_pass: bool,
    /// What is kept and suppressed: rejected matches, the baseline's findings.
    pub report: ReportOptions,
    /// Mask every secret in the records (see [`crate::redact`]).
    pub redact: bool,
    /// Make a [`BaselineEntry`] of every reported finding.
    pub baseline_entries: bool,
    /// Open the LUKS1 and LUKS2 volumes with this key (a passphrase or the volume key) and
    /// scan their plaintext too (see [`crate::luks`]).
    pub luks_key: Option<LuksKey>,
    /// Decompress a compressed stream into a temporary file in this directory first, so that
    /// its volumes and files are read as a raw image's (see
    /// [`StreamImage::spill`](snapsift_disk::StreamImage::spill)); without it, a stream is
    /// swept front to back, its files unread.
    pub spill_dir: Option<std::path::PathBuf>,
}

/// How loud a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// How the image was read (notes of the disk, its layout): `--quiet` leaves them out.
    Info,
    /// Something that was not read in full or not mapped: always told.
    Warning,
}

/// What a scan is doing, for a progress bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The file pass begins: it will read this many files (`Done` counts files until
    /// `Bytes`).
    Files(u64),
    /// The sweep begins: `Done` counts bytes again.
    Bytes,
    /// The sweep will read this many bytes (for a compressed stream, the compressed file's).
    Total(u64),
    /// This many files or bytes are done.
    Done(u64),
    /// The scan of the image is over.
    Finished,
}

/// Who hears what a scan of one image is doing while it runs: messages for people and
/// progress. Called from the scan's worker threads too.
pub trait Observer: Sync {
    /// A message about the image for people, one line, starting with the image's name. It
    /// may hold names from the image: the observer writes it escaped.
    fn message(&self, level: Level, text: &str);

    /// How far the scan is.
    fn progress(&self, progress: Progress);
}

/// One line of a baseline: a reported finding, by fingerprint.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BaselineEntry {
    /// The finding's fingerprint.
    pub fingerprint: String,
    /// Its rule.
    pub rule: String,
    /// Its place (see [`fingerprint::place`]), every secret in it masked.
    pub place: String,
}

/// What the scan of one image found and covered.
#[derive(Debug)]
pub struct ImageScan {
    /// What the image is (`qcow2 image`, `block device`).
    pub format: &'static str,
    /// The findings reported, in disk order: what was found before the sweep stopped, if it
    /// stopped (then [`ImageScan::sweep`] says why).
    pub records: Vec<FindingRecord>,
    /// The baseline entries of the reported findings (with
    /// [`ScanOptions::baseline_entries`]).
    pub baseline: Vec<BaselineEntry>,
    /// What was done to the findings, for the summary line.
    pub stats: PrepareStats,
    /// The sweep's summary and the image's coverage, or why the sweep stopped.
    pub sweep: Result<Swept, EngineError>,
}

/// A sweep that ran to its end.
#[derive(Debug)]
pub struct Swept {
    /// What the sweep read, as it counted it (its `findings` the reported ones).
    pub summary: ScanSummary,
    /// What the scan covered: the summary, less what was encrypted and, in a shard, what
    /// other shards own.
    pub coverage: ImageCoverage,
}

/// Scans `image` (named `name` in records and messages) with `matcher`: the file pass first
/// (its findings wait for the sweep, and one occurrence seen by both is reported once), then the byte sweep; then the
/// findings, in disk order, are assessed, paired, fingerprinted, filtered ([`report`]),
/// restricted to the shard's own and redacted.
///
/// An error before the sweep (a partition table or data map that cannot be read, a file pass
/// that fails, a stream asked to be sharded) is the result's error; one during the sweep is
/// [`ImageScan::sweep`]'s, with the findings made before it.
pub fn scan_image(
    name: &str,
    image: Image,
    matcher: &Matcher,
    options: &ScanOptions,
    observer: &dyn Observer,
) -> Result<ImageScan, EngineError> {
    scan_image_with(name, image, matcher, options, observer, true)
}

/// [`scan_image`], opening LUKS volumes if `open_luks` and [`ScanOptions::luks_key`] say so
/// (not in the scan of a plaintext).
fn scan_image_with(
    name: &str,
    image: Image,
    matcher: &Matcher,
    options: &ScanOptions,
    observer: &dyn Observer,
    open_luks: bool,
) -> Result<ImageScan, EngineError> {
    let image = spill::prepare(name, image, options, observer)?;
    // The plaintext of a LUKS volume reads the disk the scan reads: it is shared.
    let luks_key = options.luks_key.as_ref().filter(|_| open_luks);
    let (image, shared) = match image {
        Image::Disk(disk) if luks_key.is_some() => {
            let shared: Arc<dyn Disk> = Arc::from(disk);
            (Image::Disk(Box::new(Arc::clone(&shared))), Some(shared))
        }
        image => (image, None),
    };
    let notes = match &image {
        Image::Disk(disk) => disk.notes(),
        Image::Stream(_) => Vec::new(),
    };
    for note in &notes {
        observer.message(Level::Info, &format!("{name}: note: {note}"));
    }
    let cannot_list = |source| EngineError::DataRanges {
        image: name.to_owned(),
        source,
    };
    let shard = match (options.shard, &image) {
        (None, _) => None,
        (Some(shard), Image::Disk(disk)) => {
            let data = disk.data_ranges().map_err(cannot_list)?;
            Some(ShardPlan::new(shard, &data, disk.size()))
        }
        (Some(_), Image::Stream(_)) => {
            return Err(EngineError::StreamNotShardable {
                image: name.to_owned(),
            });
        }
    };
    let config = ScanConfig {
        chunk_size: options.chunk_size,
        threads: options.threads,
        only: shard.as_ref().map(|plan| plan.swept.clone()),
    };
    let (volumes, filesystems) = match &image {
        Image::Disk(disk) => {
            let (map, filesystems) = map_layout(name, &**disk, luks_key.is_some(), observer)?;
            (Some(map), filesystems)
        }
        Image::Stream(_) => (None, Vec::new()),
    };
    let mut opened: Vec<Opened> = match (&shared, &volumes, luks_key) {
        (Some(disk), Some(map), Some(key)) if options.shard.is_none() => {
            luks::open_all(name, disk, map, key, observer, |v| {
                volume_name(map.scheme, v)
            })
        }
        (Some(_), Some(_), Some(_)) => {
            observer.message(
                Level::Warning,
                &format!("{name}: a sharded scan opens no LUKS volume: they stay encrypted"),
            );
            Vec::new()
        }
        _ => Vec::new(),
    };
    let encrypted = match (&image, &volumes) {
        (Image::Disk(disk), Some(map)) => {
            let open: Vec<usize> = opened.iter().map(|o| o.index).collect();
            encrypted_ranges(&**disk, map, &open).map_err(cannot_list)?
        }
        _ => Vec::new(),
    };
    let mut file_findings = match (&image, &volumes) {
        (Image::Disk(disk), Some(map)) if options.file_pass => {
            let config = FilePassConfig {
                threads: options.threads,
                ..FilePassConfig::default()
            };
            let mapped = MappedImage {
                name,
                disk: &**disk,
                volumes: map,
                filesystems: &filesystems,
            };
            FileFindings::collect(&mapped, matcher, &config, shard.as_ref(), observer)?
        }
        _ => FileFindings::default(),
    };
    observer.progress(Progress::Bytes);
    let mut sink = CollectSink {
        place: Place {
            volumes: volumes.as_ref(),
            filesystems: &filesystems,
        },
        observer,
        compressed_read: None,
        file_findings: &mut file_findings,
        found: Vec::new(),
    };
    let (result, format) = match image {
        Image::Disk(disk) => (
            snapsift_scan::scan(&*disk, matcher, &config, &mut sink),
            disk.kind(),
        ),
        Image::Stream(mut stream) => {
            // A stream's size is known only at its end: progress follows the compressed file.
            observer.progress(Progress::Total(stream.compressed_len()));
            sink.compressed_read = Some(stream.compressed_read());
            let format = stream.kind();
            (
                snapsift_scan::scan_stream(&mut stream, matcher, &config, &mut sink),
                format,
            )
        }
    };
    observer.progress(Progress::Finished);
    let mut file_problems = std::mem::take(&mut sink.file_findings.problems);
    let rest = std::mem::take(sink.file_findings).into_rest();
    let CollectSink {
        place, mut found, ..
    } = sink;
    for (at, finding) in rest {
        found.push((place.in_file(finding.offset, at), finding));
    }
    found.sort_by_key(|(_, f)| f.offset);
    let report::Prepared {
        mut reported,
        suppressed,
        stats,
    } = report::prepare(name, found, matcher.rules(), &options.report);
    // Found in this shard's margins, reported by its neighbours.
    let mut not_owned = Vec::new();
    if let Some(plan) = &shard {
        // Paired as a full scan pairs them; then only this shard's share is reported.
        let homes = shard::homes(plan, volumes.as_ref(), &filesystems);
        (reported, not_owned) = reported
            .into_iter()
            .partition(|r| shard::keeps(plan, &homes, r));
        // A file is read by every shard its bytes reach; its home reports its problems.
        file_problems.retain(|(file, _)| homes.contains(file));
    }
    let mut records: Vec<FindingRecord> = reported.iter().map(FindingRecord::new).collect();
    // Every secret this scan found in full: a context may show any of them.
    let found_secrets = || {
        reported
            .iter()
            .chain(&suppressed)
            .chain(&not_owned)
            .flat_map(|r| r.secrets())
    };
    if options.redact {
        let mut redactor = Redactor::new(matcher, found_secrets());
        records.iter_mut().for_each(|r| redactor.redact(r));
    }
    let mut baseline = Vec::new();
    if options.baseline_entries {
        // Its places name files, whose names may hold a secret: never written in full.
        let mut redactor = Redactor::new(matcher, found_secrets());
        baseline = reported
            .iter()
            .map(|r| BaselineEntry {
                fingerprint: r.fingerprint.clone(),
                rule: r.finding.rule.id.clone(),
                place: redactor.masked(&fingerprint::place(r)),
            })
            .collect();
    }
    let sweep = result
        .map_err(|source| EngineError::Sweep {
            image: name.to_owned(),
            format,
            source: Box::new(source),
        })
        .map(|mut summary| {
            summary.findings = u64::try_from(reported.len()).unwrap_or(u64::MAX);
            let file_problems = file_problems.into_iter().map(|(_, p)| p).collect();
            let mut coverage = ImageCoverage::of_scan(name, format, &summary, file_problems);
            coverage.notes = notes;
            if let Some(map) = volumes.as_ref().filter(|m| m.scheme == Scheme::Recovered) {
                coverage
                    .notes
                    .extend(map.volumes.iter().map(recovered_note));
            }
            coverage.add_unreadable(encrypted);
            if let Some(plan) = &shard {
                coverage.restrict_to_shard(plan);
            }
            Swept { summary, coverage }
        });
    let mut scan = ImageScan {
        format,
        records,
        baseline,
        stats,
        sweep,
    };
    if let Some(map) = &volumes {
        for volume in &mut opened {
            let Some(plain) = volume.disk.take() else {
                continue;
            };
            let within = Within {
                outer: observer,
                image: name,
                label: &volume.label,
            };
            let inner = scan_image_with(
                name,
                Image::Disk(Box::new(plain)),
                matcher,
                options,
                &within,
                false,
            )?;
            luks::merge(&mut scan, inner, volume, map, observer, name);
        }
    }
    Ok(scan)
}

/// The sink of one disk's sweep: keeps each finding (the file pass's version where it has
/// one) with its location, and tells the observer how far the sweep is.
struct CollectSink<'a, 'm> {
    place: Place<'a>,
    observer: &'a dyn Observer,
    /// For a compressed stream, the compressed bytes read: what the progress shows.
    compressed_read: Option<Arc<AtomicU64>>,
    /// The file pass's findings waiting for the sweep.
    file_findings: &'a mut FileFindings<'m>,
    /// What was found, in the order found.
    found: Vec<(Location<'a>, Finding<'m>)>,
}

impl<'m> Sink<'m> for CollectSink<'_, 'm> {
    fn finding(&mut self, finding: Finding<'m>) -> io::Result<()> {
        let place = &self.place;
        let location = place.locate(finding.offset);
        let volume_start = match location.volume {
            Located::Volume(volume) => Some(volume.range.start),
            _ => None,
        };
        let twin = self
            .file_findings
            .take_twin(&finding, volume_start, location.file.as_ref());
        self.found.push(match twin {
            Some((at, twin)) => (place.in_file(twin.offset, at), twin),
            None => (location, finding),
        });
        Ok(())
    }

    fn begin(&mut self, data_bytes: u64) {
        if self.compressed_read.is_none() {
            self.observer.progress(Progress::Total(data_bytes));
        }
    }

    fn progress(&mut self, scanned: u64) {
        let done = match &self.compressed_read {
            Some(read) => read.load(Ordering::Relaxed),
            None => scanned,
        };
        self.observer.progress(Progress::Done(done));
    }
}

/// The filesystem of a volume, where one was mapped.
pub(crate) type MappedFs = Option<Box<dyn Filesystem>>;

/// Reads the volumes of `disk` (named `name` in messages), tells the observer how it is
/// divided (a LUKS volume is not called unreadable where `key_given`: the key file is tried
/// next), and maps the filesystem of each volume ([`map_filesystems`]): what the scan and
/// [`crate::mapped::MappedDisk`] both start from.
pub(crate) fn map_layout(
    name: &str,
    disk: &dyn Disk,
    key_given: bool,
    observer: &dyn Observer,
) -> Result<(VolumeMap, Vec<MappedFs>), EngineError> {
    let map = VolumeMap::read(disk).map_err(|source| EngineError::PartitionTable {
        image: name.to_owned(),
        source,
    })?;
    tell_layout(name, &map, key_given, observer);
    let filesystems = map_filesystems(name, disk, &map, observer);
    Ok((map, filesystems))
}

/// Maps the filesystem of every volume that holds one snapsift maps (one entry per volume,
/// `None` for the others). A filesystem that cannot be mapped is reported and its volume is
/// still swept, with findings located by volume only.
fn map_filesystems(
    image: &str,
    disk: &dyn Disk,
    map: &VolumeMap,
    observer: &dyn Observer,
) -> Vec<Option<Box<dyn Filesystem>>> {
    map.volumes
        .iter()
        .map(|volume| {
            let label = volume_name(map.scheme, volume);
            match snapsift_fs::open(disk, volume) {
                Ok(Some(fs)) => {
                    for note in fs.notes() {
                        observer.message(Level::Info, &format!("{image}: {label}: note: {note}"));
                    }
                    Some(fs)
                }
                Ok(None) => None,
                Err(error) => {
                    observer.message(
                        Level::Warning,
                        &format!(
                            "{image}: {label}: cannot map its filesystem ({error}); its bytes \
                             are swept without file attribution"
                        ),
                    );
                    None
                }
            }
        })
        .collect()
}

/// `partition 2 (ext4)`, `volume vg/root (ext4)`, `the volume at 1048576 (ext4)` (found by
/// its superblock, `scheme` [`Scheme::Recovered`]) or `the disk (ext4)`.
pub(crate) fn volume_name(scheme: Scheme, volume: &Volume) -> String {
    let content = volume.content.name();
    match (&volume.logical, volume.number) {
        (Some(logical), _) => format!("volume {} ({content})", logical.name),
        (None, Some(n)) => format!("partition {n} ({content})"),
        (None, None) if scheme == Scheme::Recovered => {
            format!("the volume at {} ({content})", volume.range.start)
        }
        (None, None) => format!("the disk ({content})"),
    }
}

/// The coverage's note on a volume no partition table names, found by its superblock.
fn recovered_note(volume: &Volume) -> String {
    format!(
        "recovered volume at {}: {} of {} bytes, found by its superblock (no partition table \
         names it)",
        volume.range.start,
        volume.content.name(),
        volume.range.end.saturating_sub(volume.range.start)
    )
}

/// The bytes of data of the encrypted volumes of `map` (but those of the indices `opened`),
/// as unreadable ranges (their contents
/// cannot be read without the key; holes hold no ciphertext), sorted.
fn encrypted_ranges(
    disk: &dyn Disk,
    map: &VolumeMap,
    opened: &[usize],
) -> Result<Vec<UnreadableRange>, snapsift_disk::DiskError> {
    let encrypted: Vec<(&Volume, &str)> = map
        .volumes
        .iter()
        .enumerate()
        .filter(|(index, _)| !opened.contains(index))
        .filter_map(|(_, v)| Some((v, v.content.encryption()?)))
        .collect();
    if encrypted.is_empty() {
        return Ok(Vec::new());
    }
    let data = disk.data_ranges()?;
    let mut ranges = Vec::new();
    for (volume, kind) in encrypted {
        for range in volume.disk_ranges() {
            let first = data.partition_point(|d| d.end <= range.start);
            for d in data[first..].iter().take_while(|d| d.start < range.end) {
                ranges.push(UnreadableRange {
                    start: d.start.max(range.start),
                    end: d.end.min(range.end),
                    reason: format!("encrypted ({kind})"),
                });
            }
        }
    }
    ranges.sort_by_key(|r| r.start);
    Ok(ranges)
}

/// Tells how the disk is divided, what was wrong with its tables, and which volumes are
/// encrypted (LUKS ones only when no key file is given: opening them tells the rest).
fn tell_layout(image: &str, map: &VolumeMap, key_given: bool, observer: &dyn Observer) {
    let volumes: Vec<String> = map
        .volumes
        .iter()
        .map(|v| {
            let what = match &v.uuid {
                Some(uuid) => format!("{}, uuid {uuid}", v.content.name()),
                None => v.content.name().to_owned(),
            };
            match (&v.logical, v.number) {
                (Some(logical), _) => format!("volume {}: {what}", logical.name),
                (None, Some(n)) => format!("{n}: {what}"),
                (None, None) if map.scheme == Scheme::Recovered => {
                    format!("at {}: {what}", v.range.start)
                }
                (None, None) => what,
            }
        })
        .collect();
    let layout = match map.scheme {
        Scheme::Unknown => {
            format!("{image}: no partition table or filesystem recognised: raw sweep only")
        }
        Scheme::Recovered => format!(
            "{image}: no partition table names a volume; volumes recovered by their \
             superblocks: {}",
            volumes.join(", ")
        ),
        scheme => format!(
            "{image}: partition table {}: {}",
            scheme.name(),
            volumes.join(", ")
        ),
    };
    observer.message(Level::Info, &layout);
    for note in &map.notes {
        observer.message(Level::Info, &format!("{image}: note: {note}"));
    }
    for volume in &map.volumes {
        // A LUKS volume the key file opens is told so next.
        let to_open = key_given && matches!(volume.content, Content::Luks1 | Content::Luks2);
        if let Some(kind) = volume.content.encryption().filter(|_| !to_open) {
            observer.message(
                Level::Info,
                &format!(
                    "{image}: {} is encrypted ({kind}): its contents cannot be read without its \
                     key and are listed as unreadable; its bytes are swept as they are",
                    volume_name(map.scheme, volume)
                ),
            );
        }
    }
}
