//! `snapsift`: find leaked credentials in disk images and attached disks.
//!
//! The binary wires the layers together: it opens each path with `snapsift-disk`, compiles
//! the built-in rules with `snapsift-match`, scans with `snapsift-scan`, and prints findings
//! with the printers in [`printer`]. Exit status: 0 no findings, 1 findings, 2 error.

mod cli;
mod files;
mod output;
mod printer;
mod progress;

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use snapsift_disk::{Disk, Image};
use snapsift_fs::{Filesystem, Scheme, Volume, VolumeMap};
use snapsift_match::{Matcher, RuleSet};
use snapsift_scan::{Finding, ScanConfig, ScanSummary, Sink};

use cli::{Cli, Command, Format, ScanArgs};
use files::FileFindings;
use printer::{JsonlPrinter, Located, Place, Printer, TextPrinter};
use progress::Progress;
use snapsift_filepass::FilePassConfig;

/// Exit status when nothing was found.
const EXIT_CLEAN: u8 = 0;
/// Exit status when at least one secret was found.
const EXIT_FINDINGS: u8 = 1;
/// Exit status when anything went wrong (clap uses it for usage errors too).
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => scan(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("snapsift: error: {error:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// `snapsift scan`: scans every path; an error on one path is reported and the others are
/// still scanned, and the exit status then says error.
fn scan(args: &ScanArgs) -> anyhow::Result<u8> {
    let rules = RuleSet::builtin().context("the built-in rules do not load")?;
    let matcher = Matcher::new(&rules).context("the built-in rules do not compile")?;
    let mut out = output::open(args.output.as_deref(), &args.paths)?;
    let mut printer: Box<dyn Printer> = match args.format {
        Format::Text => Box::new(TextPrinter::new(args.redact)),
        Format::Jsonl => Box::new(JsonlPrinter::new(args.redact)),
    };
    let mut findings = 0u64;
    let mut failed = false;
    for path in &args.paths {
        match scan_one(path, &matcher, args, &mut *out, &mut *printer) {
            Ok(summary) => findings = findings.saturating_add(summary.findings),
            Err(error) => {
                failed = true;
                eprintln!("snapsift: error: {error:#}");
            }
        }
    }
    out.flush().context("cannot write findings")?;
    Ok(if failed {
        EXIT_ERROR
    } else if findings > 0 {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    })
}

/// Scans one image, printing its findings as they come: the file pass first (its findings
/// wait for the sweep, see [`files`]), then the byte sweep, then what only the file pass saw.
fn scan_one(
    path: &Path,
    matcher: &Matcher,
    args: &ScanArgs,
    out: &mut dyn Write,
    printer: &mut dyn Printer,
) -> anyhow::Result<ScanSummary> {
    let started = Instant::now();
    let quiet = args.quiet;
    let config = ScanConfig {
        chunk_size: args.chunk_size,
        threads: args.threads,
    };
    let image_name = path.display().to_string();
    let progress = Progress::new(&image_name, quiet);
    let image = snapsift_disk::open_image(path)?;
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
            FileFindings::collect(
                &image_name,
                &**disk,
                map,
                &filesystems,
                matcher,
                &config,
                &progress,
            )?
        }
        _ => FileFindings::default(),
    };
    progress.start_bytes();
    let mut sink = PrintSink {
        place: Place {
            image: &image_name,
            volumes: volumes.as_ref(),
            filesystems: &filesystems,
        },
        out,
        printer,
        progress: &progress,
        compressed_read: None,
        file_findings: &mut file_findings,
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
    let mut summary = result.with_context(|| format!("{image_name} ({kind})"))?;
    let rest = std::mem::take(sink.file_findings).into_rest();
    let PrintSink {
        place,
        out,
        printer,
        ..
    } = sink;
    for (at, finding) in rest {
        let location = place.in_file(finding.offset, at);
        printer
            .print(out, &image_name, &location, &finding)
            .context("cannot write findings")?;
        summary.findings = summary.findings.saturating_add(1);
    }
    // Findings first: on a terminal the summary must not appear in the middle of them.
    out.flush().context("cannot write findings")?;
    if !quiet {
        let seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "snapsift: {image_name} ({kind}, {}): {} of data scanned in {seconds:.2} s, {} finding(s)",
            human_bytes(summary.disk_size),
            human_bytes(summary.scanned_bytes),
            summary.findings,
        );
    }
    Ok(summary)
}

/// The sink of one disk's sweep: prints each finding (the file pass's version where it has
/// one) and moves the progress bar.
struct PrintSink<'a, 'm> {
    place: Place<'a>,
    out: &'a mut dyn Write,
    printer: &'a mut dyn Printer,
    progress: &'a Progress,
    /// For a compressed stream, the compressed bytes read: what the progress bar shows.
    compressed_read: Option<Arc<AtomicU64>>,
    /// The file pass's findings waiting for the sweep.
    file_findings: &'a mut FileFindings<'m>,
}

impl<'m> Sink<'m> for PrintSink<'_, 'm> {
    fn finding(&mut self, finding: Finding<'m>) -> io::Result<()> {
        let (out, printer, place) = (&mut *self.out, &mut *self.printer, &self.place);
        let location = place.locate(finding.offset);
        let volume_start = match location.volume {
            Located::Volume(volume) => Some(volume.range.start),
            _ => None,
        };
        let twin = self
            .file_findings
            .take_twin(&finding, volume_start, location.file.as_ref());
        let (location, finding) = match twin {
            Some((at, twin)) => (place.in_file(twin.offset, at), twin),
            None => (location, finding),
        };
        self.progress
            .suspend(|| printer.print(out, place.image, &location, &finding))
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
            let label = volume_name(volume);
            match snapsift_fs::open(disk, volume) {
                Ok(Some(fs)) => {
                    if !quiet {
                        for note in fs.notes() {
                            eprintln!("snapsift: {image}: {label}: note: {note}");
                        }
                    }
                    Some(fs)
                }
                Ok(None) => None,
                Err(error) => {
                    eprintln!(
                        "snapsift: {image}: {label}: cannot map its filesystem ({error}); \
                         its bytes are swept without file attribution"
                    );
                    None
                }
            }
        })
        .collect()
}

/// `partition 2 (ext4)` or `the disk (ext4)`.
fn volume_name(volume: &Volume) -> String {
    match volume.number {
        Some(n) => format!("partition {n} ({})", volume.content.name()),
        None => format!("the disk ({})", volume.content.name()),
    }
}

/// Tells how the disk is divided, and what was wrong with its tables, on standard error.
fn report_layout(image: &str, map: &VolumeMap) {
    let volumes: Vec<String> = map
        .volumes
        .iter()
        .map(|v| match v.number {
            Some(n) => format!("{n}: {}", v.content.name()),
            None => v.content.name().to_owned(),
        })
        .collect();
    match map.scheme {
        Scheme::Unknown => eprintln!(
            "snapsift: {image}: no partition table or filesystem recognised: raw sweep only"
        ),
        scheme => eprintln!(
            "snapsift: {image}: partition table {}: {}",
            scheme.name(),
            volumes.join(", ")
        ),
    }
    for note in &map.notes {
        eprintln!("snapsift: {image}: note: {note}");
    }
}

/// `bytes` in binary units, for people.
fn human_bytes(bytes: u64) -> String {
    indicatif::BinaryBytes(bytes).to_string()
}
