//! `snapsift audit`: the cleanup checklist of each image (`snapsift-audit`), and the secret
//! scan's findings under its "hard-coded credentials" item.
//!
//! Each image is opened twice, read-only: once mapped for the checks
//! ([`snapsift_engine::mapped::MappedDisk`]), once for the secret scan
//! ([`snapsift_engine::scan::scan_image`], which takes the image it reads). Exit status: 0
//! no item reached `--fail-on`, 1 some did, 2 an image could not be audited.

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use snapsift_audit::{CheckSet, ImageAudit, Kind, Status};
use snapsift_disk::{Disk, Image, Opener, ReferencePolicy};
use snapsift_engine::EngineError;
use snapsift_engine::mapped::MappedDisk;
use snapsift_engine::report::ReportOptions;
use snapsift_engine::scan::{ScanOptions, scan_image};
use snapsift_engine::spill;
use snapsift_match::Matcher;

use crate::cli::{AuditArgs, AuditFormat, FailOn};
use crate::input::{self, ReadFiles};
use crate::output::{Output, OutputError};
use crate::printer::audit as print;
use crate::progress::Progress;
use crate::{EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, Told, rules, warn};

/// Runs `snapsift audit`.
pub fn run(args: &AuditArgs) -> anyhow::Result<u8> {
    let mut reads = ReadFiles::default();
    let mut checks = CheckSet::builtin();
    if let Some(path) = &args.checks {
        let text = input::read_text(path, "check file", &mut reads)?;
        let theirs = CheckSet::parse(&text).with_context(|| path.display().to_string())?;
        checks.extend(theirs);
    }
    let rule_set = rules::load(None, &[], &mut reads)?;
    let matcher = Matcher::new(&rule_set).context("the rules do not compile")?;
    let references = ReferencePolicy::allowing(&args.allow_path).context("--allow-path")?;
    for path in &args.paths {
        reads.add_path(path);
    }
    let mut out = Output::open(args.output.as_deref(), &reads)?;
    let mut audits = Vec::new();
    for path in &args.paths {
        let name = path.display().to_string();
        let mut audit = ImageAudit {
            image: name.clone(),
            ..ImageAudit::default()
        };
        if let Err(error) = audit_one(
            path,
            &checks,
            &matcher,
            args,
            &references,
            &mut reads,
            &mut audit,
        ) {
            if error.is::<OutputError>() {
                return Err(error);
            }
            warn(&format!("snapsift: error: {error:#}"));
            audit.error = Some(format!("{error:#}"));
        }
        out.check(&reads)?;
        audit.settle();
        if args.format == AuditFormat::Text {
            print::text(&mut out, &audit).map_err(OutputError::from_io)?;
        }
        audits.push(audit);
    }
    match args.format {
        AuditFormat::Text => {}
        AuditFormat::Json => print::json(&mut out, &audits).map_err(OutputError::from_io)?,
        AuditFormat::Sarif => {
            print::sarif::write(&mut out, &checks, &audits).map_err(OutputError::from_io)?;
        }
        AuditFormat::Html => print::html::write(&mut out, &audits).map_err(OutputError::from_io)?,
    }
    out.flush().map_err(OutputError::from_io)?;
    out.finish(&reads)?;
    let threshold = match args.fail_on {
        FailOn::Warn => Some(Status::Warn),
        FailOn::Fail => Some(Status::Fail),
        FailOn::Never => None,
    };
    Ok(exit_status(&audits, threshold))
}

/// 2 if an image could not be audited; 1 if an item reached `threshold`; 0 otherwise.
fn exit_status(audits: &[ImageAudit], threshold: Option<Status>) -> u8 {
    if audits.iter().any(|a| a.error.is_some()) {
        EXIT_ERROR
    } else if threshold.is_some_and(|t| audits.iter().any(|a| a.worst() >= t)) {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    }
}

/// Audits the image at `path` into `audit`: its items, then its secret scan's.
fn audit_one(
    path: &std::path::Path,
    checks: &CheckSet,
    matcher: &Matcher,
    args: &AuditArgs,
    references: &ReferencePolicy,
    reads: &mut ReadFiles,
    audit: &mut ImageAudit,
) -> anyhow::Result<()> {
    let name = audit.image.clone();
    let observer = Told {
        progress: Progress::new(&name, args.quiet),
        quiet: args.quiet,
    };
    let mut opener = Opener::new(references.clone());
    let image = opener.open_image(path);
    reads.add_image_files(opener.files());
    let image = match (image?, &args.spill_dir) {
        (Image::Stream(stream), Some(dir)) => spill::spill(&name, stream, dir, &observer)?,
        (image, _) => image,
    };
    // The checks and the secret scan read one opening (and one spill) of the image.
    let disk: Arc<dyn Disk> = match image {
        Image::Disk(disk) => Arc::from(disk),
        Image::Stream(_) => return Err(EngineError::StreamNotMappable { image: name }.into()),
    };
    let mapped = MappedDisk::open(&name, Image::Disk(Box::new(Arc::clone(&disk))), &observer)?;
    audit.format = Some(mapped.disk().kind().to_owned());
    audit.layout = Some(mapped.layout());
    let filesystems = mapped.filesystems();
    audit.filesystems = filesystems.iter().map(|f| f.label().to_owned()).collect();
    let trees: Vec<&dyn snapsift_audit::tree::FileTree> = filesystems
        .iter()
        .map(|f| f as &dyn snapsift_audit::tree::FileTree)
        .collect();
    let options = snapsift_audit::Options {
        show_secrets: args.show_secrets,
        redact: args.redact,
    };
    audit.items = snapsift_audit::audit(&trees, checks, &options);
    if trees.is_empty() {
        anyhow::bail!(
            "{name}: no filesystem snapsift reads was found (ext2/3/4, XFS, btrfs, NTFS, FAT, exFAT): the \
             checks of its files could not run"
        );
    }
    if !checks.checks.iter().any(|c| c.kind == Kind::Secrets) {
        return Ok(());
    }
    let image = Image::Disk(Box::new(disk));
    let options = ScanOptions {
        chunk_size: snapsift_scan::ScanConfig::DEFAULT_CHUNK_SIZE,
        threads: args.threads,
        shard: None,
        file_pass: true,
        report: ReportOptions::default(),
        redact: args.redact,
        baseline_entries: false,
        luks_key: None,
        spill_dir: None,
    };
    let scan = scan_image(&name, image, matcher, &options, &observer)?;
    let gap = match &scan.sweep {
        Err(error) => Some(format!(
            "the secret scan stopped: {error:#}; the rest was not searched"
        )),
        Ok(swept) if swept.coverage.partial() => Some(format!(
            "the secret scan is partial: {} bytes could not be read, a limit cut {} file(s)",
            swept.coverage.unreadable_bytes,
            swept.coverage.cut_files()
        )),
        Ok(_) => None,
    };
    snapsift_audit::secrets::fill(
        &mut audit.items,
        checks,
        &scan.records,
        gap.as_deref(),
        args.show_secrets,
    );
    Ok(())
}
