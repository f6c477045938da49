//! `snapsift`: find leaked credentials in disk images and attached disks.
//!
//! The binary keeps the command line, the output files, progress and the printers: it opens
//! each path with `snapsift-disk`, compiles the rules with `snapsift-match`, has
//! `snapsift-engine` scan the image and decide its findings, and prints the records with the
//! printers in [`printer`]. Exit status: 0 no findings, 1 findings, 2 error (an
//! image could not be scanned), 3 partial scan (every image was scanned, but some bytes
//! could not be read or a limit of the file pass cut some file's content: the coverage
//! summary lists them). A closed standard output (`| head`) ends the run quietly with status
//! 0, as ripgrep does; SIGINT and SIGTERM with 130 and 143 ([`interrupt`]).

// `unsafe` is for one system call std does not wrap, in `input` alone (see there).
#![deny(unsafe_code)]

mod audit;
mod baseline;
mod cli;
// fcntl on an open descriptor, to clear the O_NONBLOCK the open needed.
#[allow(unsafe_code)]
mod input;
mod interrupt;
mod manifest;
mod merge;
mod output;
mod printer;
mod progress;
mod rules;

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use snapsift_disk::{Opener, ReferencePolicy};
use snapsift_engine::coverage::ImageCoverage;
use snapsift_engine::luks::LuksKey;
use snapsift_engine::report::ReportOptions;
use snapsift_engine::scan::{
    Level, Observer, Progress as ScanProgress, ScanOptions, Swept, scan_image,
};
use snapsift_match::Matcher;

use baseline::BaselineWriter;
use cli::{Cli, Command, ScanArgs};
use input::ReadFiles;
use manifest::Target;
use output::{Output, OutputError};
use printer::{Printer, PrinterConfig};
use progress::Progress;

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
        Command::Audit(args) => audit::run(&args),
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
        .map(|path| baseline::load(path, &mut reads))
        .transpose()?;
    let luks_key = args
        .luks_key_file
        .as_deref()
        .map(|path| input::read_bytes(path, "LUKS key file", &mut reads))
        .transpose()?
        .map(LuksKey::new);
    let options = ScanOptions {
        chunk_size: args.chunk_size,
        threads: args.threads,
        shard: args.shard,
        file_pass: !args.no_file_pass,
        report: ReportOptions {
            include_invalid: args.include_invalid,
            baseline,
        },
        redact: args.redact,
        baseline_entries: args.write_baseline.is_some(),
        luks_key,
        spill_dir: args.spill_dir.clone(),
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
        printer: printer::new(PrinterConfig {
            format: args.format.into(),
            rules: matcher.rules(),
        }),
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
                ImageCoverage::failed(&target.name, format!("{error:#}"))
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
    /// How each image is scanned.
    options: ScanOptions,
    /// Which files an image may name and have opened (`--allow-path`).
    references: ReferencePolicy,
    /// The baseline being written, with `--write-baseline`, and where.
    baseline_out: Option<(Output, BaselineWriter)>,
    /// The files the run reads: the outputs may replace none of them.
    reads: ReadFiles,
}

/// Scans one image with the engine ([`snapsift_engine::scan::scan_image`]) and prints its
/// findings; what was found before an error is printed all the same, before the error.
/// Returns what the scan covered.
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
    let observer = Told {
        progress: Progress::new(&image_name, quiet),
        quiet,
    };
    let scan = scan_image(&image_name, image, matcher, &run.options, &observer)?;
    if let Some((_, writer)) = run.baseline_out.as_mut() {
        writer.extend(scan.baseline);
    }
    for record in &scan.records {
        run.printer
            .print(&mut run.out, record)
            .map_err(OutputError::from_io)?;
    }
    // Findings first: on a terminal the summary must not appear in the middle of them.
    run.out.flush().map_err(OutputError::from_io)?;
    let Swept { summary, coverage } = scan.sweep?;
    if !quiet {
        let seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "snapsift: {image_name} ({}, {}): {} of data scanned in {seconds:.2} s, {} finding(s){}",
            scan.format,
            human_bytes(summary.disk_size),
            human_bytes(summary.scanned_bytes),
            summary.findings,
            scan.stats.describe(),
        );
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

/// What the engine tells while it scans one image: messages on standard error (info ones
/// not with `--quiet`), around the progress bar.
struct Told {
    progress: Progress,
    quiet: bool,
}

impl Observer for Told {
    fn message(&self, level: Level, text: &str) {
        if level == Level::Info && self.quiet {
            return;
        }
        self.progress.suspend(|| warn(&format!("snapsift: {text}")));
    }

    fn progress(&self, progress: ScanProgress) {
        match progress {
            ScanProgress::Files(total) => self.progress.start_files(total),
            ScanProgress::Bytes => self.progress.start_bytes(),
            ScanProgress::Total(total) => self.progress.start(total),
            ScanProgress::Done(done) => self.progress.set(done),
            ScanProgress::Finished => self.progress.finish(),
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
