//! `snapsift`: find leaked credentials in disk images and attached disks.
//!
//! The binary wires the layers together: it opens each path with `snapsift-disk`, compiles
//! the built-in rules with `snapsift-match`, scans with `snapsift-scan`, and prints findings
//! with the printers in [`printer`]. Exit status: 0 no findings, 1 findings, 2 error (an
//! image could not be scanned), 3 partial scan (every image was scanned, but some bytes
//! could not be read or a limit of the file pass cut some file's content: the coverage
//! summary lists them). A closed standard output (`| head`) ends the run quietly with status
//! 0, as ripgrep does; SIGINT and SIGTERM with 130 and 143 ([`interrupt`]).

// `unsafe` is for one system call std does not wrap, in `input` alone (see there).
#![deny(unsafe_code)]

mod cli;
mod coverage;
mod files;
// fcntl on an open descriptor, to clear the O_NONBLOCK the open needed.
#[allow(unsafe_code)]
mod input;
mod interrupt;
mod manifest;
mod merge;
mod output;
mod printer;
mod progress;
mod record;
mod redact;
mod report;
mod rules;
mod shard;

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use snapsift_disk::{Disk, Image, Opener, ReferencePolicy};
use snapsift_fs::{Filesystem, Scheme, Volume, VolumeMap};
use snapsift_match::Matcher;
use snapsift_scan::{Finding, ScanConfig, Sink};

use cli::{Cli, Command, ScanArgs};
use coverage::{ImageCoverage, UnreadableRange};
use files::{FileFindings, MappedImage};
use input::ReadFiles;
use manifest::Target;
use output::{Output, OutputError};
use printer::{Located, Location, Place, Printer};
use progress::Progress;
use record::FindingRecord;
use redact::Redactor;
use report::ReportOptions;
use report::baseline::BaselineWriter;
use shard::ShardPlan;
use snapsift_filepass::FilePassConfig;

/// Exit status when nothing was found.
const EXIT_CLEAN: u8 = 0;
/// Exit status when at least one secret was found.
const EXIT_FINDINGS: u8 = 1;
/// Exit status when anything went wrong (clap uses it for usage errors too).
const EXIT_ERROR: u8 = 2;
/// Exit status when every image was scanned but some bytes could not be read, or a limit cut
/// some file's content: findings or not, the scan is not the whole answer.
const EXIT_PARTIAL: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => scan(&args),
        Command::Merge(args) => merge::run(&args),
        Command::Rules(args) => rules::run(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        // The reader has all it wanted (`| head -1`): stop, as ripgrep does, quietly.
        Err(error)
            if error
                .downcast_ref()
                .is_some_and(OutputError::is_broken_pipe) =>
        {
            ExitCode::from(EXIT_CLEAN)
        }
        Err(error) => {
            warn(&format!("snapsift: error: {error:#}"));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// `snapsift scan`: scans every path; an error on one path is reported and the others are
/// still scanned, and the exit status then says error.
fn scan(args: &ScanArgs) -> anyhow::Result<u8> {
    let mut reads = ReadFiles::default();
    let rules = rules::load(args.rules.as_deref(), &args.only, &mut reads)?;
    let matcher = Matcher::new(&rules).context("the rules do not compile")?;
    let baseline = args
        .baseline
        .as_deref()
        .map(|path| report::baseline::Baseline::load(path, &mut reads))
        .transpose()?;
    let options = ReportOptions {
        include_invalid: args.include_invalid,
        baseline,
    };
    let references = ReferencePolicy::allowing(&args.allow_path).context("--allow-path")?;
    let targets = manifest::targets(&args.paths, args.manifest.as_deref(), &mut reads)?;
    for target in &targets {
        reads.add_path(&target.path);
    }
    if let (Some(output), Some(baseline)) = (&args.output, &args.write_baseline)
        && output == baseline
    {
        anyhow::bail!(
            "-o and --write-baseline both name {}: one would replace the other",
            output.display()
        );
    }
    let mut run = Run {
        out: Output::open(args.output.as_deref(), &reads)?,
        printer: printer::for_format(args.format, matcher.rules()),
        options,
        references,
        baseline_out: match &args.write_baseline {
            Some(path) => Some((Output::open(Some(path), &reads)?, BaselineWriter::default())),
            None => None,
        },
        reads,
    };
    let mut findings = 0u64;
    let mut failed = false;
    let mut partial = false;
    for target in &targets {
        let coverage = match scan_one(target, &matcher, args, &mut run) {
            Ok(coverage) => coverage,
            // The report cannot be written: nothing more can be reported.
            Err(error) if error.is::<OutputError>() => return Err(error),
            Err(error) => {
                warn(&format!("snapsift: error: {error:#}"));
                ImageCoverage::failed(&target.name, &error)
            }
        };
        findings = findings.saturating_add(coverage.findings);
        failed |= coverage.error.is_some();
        partial |= coverage.partial();
        run.printer
            .coverage(&mut run.out, &coverage)
            .map_err(OutputError::from_io)?;
    }
    run.printer
        .finish(&mut run.out)
        .map_err(OutputError::from_io)?;
    run.out.finish(&run.reads)?;
    if let Some((mut file, writer)) = run.baseline_out {
        writer.write(&mut file).map_err(OutputError::from_io)?;
        file.finish(&run.reads)?;
    }
    Ok(exit_status(
        failed,
        partial,
        findings,
        args.exit_zero_on_findings,
    ))
}

/// The exit status of a report: some image `failed`, some scan was `partial`, and how many
/// `findings` it has (which exit 0 with `zero_on_findings`). Error trumps partial, which
/// trumps findings.
fn exit_status(failed: bool, partial: bool, findings: u64, zero_on_findings: bool) -> u8 {
    if failed {
        EXIT_ERROR
    } else if partial {
        EXIT_PARTIAL
    } else if findings > 0 && !zero_on_findings {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    }
}

/// Where one `snapsift scan` run's findings go, and what is done with them on the way.
struct Run {
    out: Output,
    printer: Box<dyn Printer>,
    options: ReportOptions,
    /// Which files an image may name and have opened (`--allow-path`).
    references: ReferencePolicy,
    /// The baseline being written, with `--write-baseline`, and where.
    baseline_out: Option<(Output, BaselineWriter)>,
    /// The files the run reads: the outputs may replace none of them.
    reads: ReadFiles,
}

/// Scans one image: the file pass first (its findings wait for the sweep, see [`files`]),
/// then the byte sweep; then the findings, in disk order, are assessed, paired and filtered
/// ([`report`]) and printed. Returns what the scan covered.
fn scan_one(
    target: &Target,
    matcher: &Matcher,
    args: &ScanArgs,
    run: &mut Run,
) -> anyhow::Result<ImageCoverage> {
    let started = Instant::now();
    let quiet = args.quiet;
    let image_name = target.name.clone();
    let path = target.path.as_path();
    let progress = Progress::new(&image_name, quiet);
    let mut opener = Opener::new(run.references.clone());
    let opened = opener.open_image(path);
    // Every file the image reads (backing files, extents, parents) is now known: the
    // outputs may replace none of them, even of an image that could not be opened.
    run.reads.add_image_files(opener.files());
    run.out.check(&run.reads)?;
    if let Some((file, _)) = &run.baseline_out {
        file.check(&run.reads)?;
    }
    let image = match opened {
        Ok(image) => image,
        // The error names the path; a manifest's id names the image.
        Err(error) if image_name != manifest::path_name(path) => {
            return Err(anyhow::Error::new(error).context(image_name));
        }
        Err(error) => return Err(error.into()),
    };
    let notes = match &image {
        Image::Disk(disk) => disk.notes(),
        Image::Stream(_) => Vec::new(),
    };
    if !quiet {
        for note in &notes {
            eprintln!("snapsift: {image_name}: note: {note}");
        }
    }
    let shard = match (args.shard, &image) {
        (None, _) => None,
        (Some(shard), Image::Disk(disk)) => {
            let data = disk
                .data_ranges()
                .with_context(|| format!("{image_name}: cannot list its data"))?;
            Some(ShardPlan::new(shard, &data, disk.size()))
        }
        (Some(_), Image::Stream(_)) => anyhow::bail!(
            "{image_name}: a compressed stream is read front to back and cannot be split into \
             shards: decompress it first, or scan it without --shard"
        ),
    };
    let config = ScanConfig {
        chunk_size: args.chunk_size,
        threads: args.threads,
        only: shard.as_ref().map(|plan| plan.swept.clone()),
    };
    let volumes = match &image {
        Image::Disk(disk) => {
            let map = VolumeMap::read(&**disk)
                .with_context(|| format!("{image_name}: cannot read its partition table"))?;
            if !quiet {
                report_layout(&image_name, &map);
            }
            Some(map)
        }
        Image::Stream(_) => None,
    };
    let encrypted = match (&image, &volumes) {
        (Image::Disk(disk), Some(map)) => encrypted_ranges(&**disk, map)
            .with_context(|| format!("{image_name}: cannot list its data"))?,
        _ => Vec::new(),
    };
    let filesystems = match (&image, &volumes) {
        (Image::Disk(disk), Some(map)) => map_filesystems(&image_name, &**disk, map, quiet),
        _ => Vec::new(),
    };
    let mut file_findings = match (&image, &volumes) {
        (Image::Disk(disk), Some(map)) if !args.no_file_pass => {
            let config = FilePassConfig {
                threads: args.threads,
                ..FilePassConfig::default()
            };
            let mapped = MappedImage {
                name: &image_name,
                disk: &**disk,
                volumes: map,
                filesystems: &filesystems,
            };
            FileFindings::collect(&mapped, matcher, &config, shard.as_ref(), &progress)?
        }
        _ => FileFindings::default(),
    };
    progress.start_bytes();
    let mut sink = CollectSink {
        place: Place {
            volumes: volumes.as_ref(),
            filesystems: &filesystems,
        },
        progress: &progress,
        compressed_read: None,
        file_findings: &mut file_findings,
        found: Vec::new(),
    };
    let (result, kind) = match image {
        Image::Disk(disk) => (
            snapsift_scan::scan(&*disk, matcher, &config, &mut sink),
            disk.kind(),
        ),
        Image::Stream(mut stream) => {
            // A stream's size is known only at its end: progress follows the compressed file.
            progress.start(stream.compressed_len());
            sink.compressed_read = Some(stream.compressed_read());
            let kind = stream.kind();
            (
                snapsift_scan::scan_stream(&mut stream, matcher, &config, &mut sink),
                kind,
            )
        }
    };
    progress.finish();
    // What was found before an error is reported all the same, before the error.
    let result = result.with_context(|| format!("{image_name} ({kind})"));
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
    } = report::prepare(&image_name, found, matcher.rules(), &run.options);
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
    if args.redact {
        let mut redactor = Redactor::new(matcher, found_secrets());
        records.iter_mut().for_each(|r| redactor.redact(r));
    }
    if let Some((_, writer)) = run.baseline_out.as_mut() {
        // Its places name files, whose names may hold a secret: never written in full.
        let mut redactor = Redactor::new(matcher, found_secrets());
        for r in &reported {
            writer.add(r, &mut redactor);
        }
    }
    for record in &records {
        run.printer
            .print(&mut run.out, record)
            .map_err(OutputError::from_io)?;
    }
    // Findings first: on a terminal the summary must not appear in the middle of them.
    run.out.flush().map_err(OutputError::from_io)?;
    let mut summary = result?;
    summary.findings = u64::try_from(reported.len()).unwrap_or(u64::MAX);
    if !quiet {
        let seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "snapsift: {image_name} ({kind}, {}): {} of data scanned in {seconds:.2} s, {} finding(s){}",
            human_bytes(summary.disk_size),
            human_bytes(summary.scanned_bytes),
            summary.findings,
            stats.describe(),
        );
    }
    let file_problems = file_problems.into_iter().map(|(_, p)| p).collect();
    let mut coverage = ImageCoverage::of_scan(&image_name, kind, &summary, file_problems);
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
    if coverage.partial() && !coverage.unreadable.is_empty() {
        // Even with --quiet: the exit status says it, and this says where.
        eprintln!(
            "snapsift: {image_name}: PARTIAL SCAN: {} of data could not be read, in {} range(s) \
             (listed in the coverage summary); the rest was scanned",
            human_bytes(coverage.unreadable_bytes),
            coverage.unreadable.len()
        );
    }
    let cut = coverage.cut_files();
    if cut > 0 {
        eprintln!(
            "snapsift: {image_name}: PARTIAL SCAN: a limit cut the content of {cut} file(s) \
             (listed in the coverage summary's file_problems); their bytes on the disk were \
             still swept"
        );
    }
    Ok(coverage)
}

/// The sink of one disk's sweep: keeps each finding (the file pass's version where it has
/// one) with its location, and moves the progress bar.
struct CollectSink<'a, 'm> {
    place: Place<'a>,
    progress: &'a Progress,
    /// For a compressed stream, the compressed bytes read: what the progress bar shows.
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
            self.progress.start(data_bytes);
        }
    }

    fn progress(&mut self, scanned: u64) {
        match &self.compressed_read {
            Some(read) => self.progress.set(read.load(Ordering::Relaxed)),
            None => self.progress.set(scanned),
        }
    }
}

/// Maps the filesystem of every volume that holds one snapsift maps (one entry per volume,
/// `None` for the others). A filesystem that cannot be mapped is reported and its volume is
/// still swept, with findings located by volume only.
fn map_filesystems(
    image: &str,
    disk: &dyn Disk,
    map: &VolumeMap,
    quiet: bool,
) -> Vec<Option<Box<dyn Filesystem>>> {
    map.volumes
        .iter()
        .map(|volume| {
            let label = volume_name(map.scheme, volume);
            match snapsift_fs::open(disk, volume) {
                Ok(Some(fs)) => {
                    if !quiet {
                        for note in fs.notes() {
                            warn(&format!("snapsift: {image}: {label}: note: {note}"));
                        }
                    }
                    Some(fs)
                }
                Ok(None) => None,
                Err(error) => {
                    warn(&format!(
                        "snapsift: {image}: {label}: cannot map its filesystem ({error}); \
                         its bytes are swept without file attribution"
                    ));
                    None
                }
            }
        })
        .collect()
}

/// `partition 2 (ext4)`, `volume vg/root (ext4)`, `the volume at 1048576 (ext4)` (found by
/// its superblock, `scheme` [`Scheme::Recovered`]) or `the disk (ext4)`.
fn volume_name(scheme: Scheme, volume: &Volume) -> String {
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

/// The bytes of data of the encrypted volumes of `map`, as unreadable ranges (their contents
/// cannot be read without the key; holes hold no ciphertext), sorted.
fn encrypted_ranges(disk: &dyn Disk, map: &VolumeMap) -> anyhow::Result<Vec<UnreadableRange>> {
    let encrypted: Vec<(&Volume, &str)> = map
        .volumes
        .iter()
        .filter_map(|v| Some((v, v.content.encryption()?)))
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

/// Tells how the disk is divided, and what was wrong with its tables, on standard error.
fn report_layout(image: &str, map: &VolumeMap) {
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
    match map.scheme {
        Scheme::Unknown => eprintln!(
            "snapsift: {image}: no partition table or filesystem recognised: raw sweep only"
        ),
        Scheme::Recovered => eprintln!(
            "snapsift: {image}: no partition table names a volume; volumes recovered by their \
             superblocks: {}",
            volumes.join(", ")
        ),
        scheme => eprintln!(
            "snapsift: {image}: partition table {}: {}",
            scheme.name(),
            volumes.join(", ")
        ),
    }
    for note in &map.notes {
        warn(&format!("snapsift: {image}: note: {note}"));
    }
    for volume in &map.volumes {
        if let Some(kind) = volume.content.encryption() {
            eprintln!(
                "snapsift: {image}: {} is encrypted ({kind}): its contents cannot be read \
                 without its key and are listed as unreadable; its bytes are swept as they are",
                volume_name(map.scheme, volume)
            );
        }
    }
}

/// Writes `message` on standard error, on one line, escaped as the text report is
/// ([`printer::escape::text`]): notes and errors may name files of the image.
fn warn(message: &str) {
    eprintln!("{}", printer::escape::text(message));
}

/// `bytes` in binary units, for people.
fn human_bytes(bytes: u64) -> String {
    indicatif::BinaryBytes(bytes).to_string()
}
