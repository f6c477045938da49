//! `snapsift merge`: one report from the JSON Lines of several scans.
//!
//! The inputs are what `snapsift scan --format jsonl` writes: finding lines and one
//! `{"coverage": ...}` line per image. Typically they are the N shards of one or many images
//! (`scan --shard K/N`), written by separate processes or machines, but any JSON Lines
//! reports can be merged.
//!
//! * Findings are deduplicated by (image, fingerprint, disk offset): the fingerprint alone
//!   would join two places of one secret in one file. The first copy read is kept.
//! * Findings are printed image by image (in the order the images first appear in the
//!   inputs), in disk order, each image's followed by its combined coverage.
//! * Coverage: the shards of an image must agree on N, the disk's size and its data; every
//!   shard from 0 to N-1 must be there, or the image's coverage says which are missing and
//!   is incomplete (exit status 2, as for an image that could not be scanned). Unreadable
//!   ranges are joined, and the shards' file problems listed together (a shard reads its
//!   own files: none is listed twice); one a limit cut leaves the image incomplete. A whole-image scan of the image that ran in full, where there is
//!   one, is its coverage and its shards' records are not needed. A scan that could not
//!   open the image (its record says why, and names no shard) adds its error. An image
//!   with findings but no coverage line (a report cut short) is incomplete too.
//!
//! * `--redact` masks, in every record, the secrets of every record merged and those the
//!   rules find in the record's own strings (see `snapsift_engine::redact`): a shard that did not redact
//!   its report is masked here as a whole scan would be.
//!
//! The exit status is `snapsift scan`'s, for the merged report.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::Value;
#[cfg(test)]
use snapsift_engine::Layer;
#[cfg(test)]
use snapsift_engine::coverage::{FileProblem, LimitRecord};
use snapsift_engine::coverage::{ImageCoverage, ShardCoverage, UnreadableRange};
use snapsift_engine::record::FindingRecord;
use snapsift_engine::redact::{self, Redactor};
use snapsift_match::Matcher;

use crate::cli::MergeArgs;
use crate::input::{Lines, ReadFiles};
use crate::output::{Output, OutputError};
use crate::printer::{self, PrinterConfig};
use crate::{exit_status, rules};

/// What the inputs say of one image.
#[derive(Default)]
struct ImageReport {
    findings: Vec<FindingRecord>,
    coverage: Vec<ImageCoverage>,
}

/// `snapsift merge`.
pub fn run(args: &MergeArgs) -> anyhow::Result<u8> {
    let mut reads = ReadFiles::default();
    let rules = rules::load(args.rules.as_deref(), &[], &mut reads)?;
    let mut order: Vec<String> = Vec::new();
    let mut images: HashMap<String, ImageReport> = HashMap::new();
    let mut seen: HashSet<(String, String, u64)> = HashSet::new();
    let files = reports(&args.paths)?;
    for path in &files {
        read(path, &mut reads, &mut |item| {
            let image = match &item {
                Item::Finding(f) => f.image.clone(),
                Item::Coverage(c) => c.image.clone(),
            };
            let report = images.entry(image.clone()).or_insert_with(|| {
                order.push(image);
                ImageReport::default()
            });
            match item {
                Item::Finding(f) => {
                    if seen.insert((f.image.clone(), f.fingerprint.clone(), f.offset)) {
                        report.findings.push(*f);
                    }
                }
                Item::Coverage(c) => report.coverage.push(*c),
            }
        })?;
    }
    let mut merged: Vec<(Vec<FindingRecord>, ImageCoverage)> = Vec::with_capacity(order.len());
    for image in &order {
        let report = images.remove(image).unwrap_or_default();
        let mut findings = report.findings;
        findings.sort_by_key(|f| f.offset);
        let coverage = combine(image, report.coverage, findings.len())?;
        merged.push((findings, coverage));
    }
    if args.redact {
        let matcher = Matcher::new(&rules).context("the rules do not compile")?;
        let mut redactor = Redactor::new(
            &matcher,
            merged
                .iter()
                .flat_map(|(findings, _)| findings)
                .flat_map(redact::secrets_of),
        );
        for (findings, _) in &mut merged {
            findings.iter_mut().for_each(|f| redactor.redact(f));
        }
    }

    // Never over a report being read.
    let mut out = Output::open(args.output.as_deref(), &reads)?;
    let mut printer = printer::new(PrinterConfig {
        format: args.format.into(),
        rules: rules.rules(),
    });
    let (mut failed, mut partial, mut total) = (false, false, 0u64);
    for (findings, coverage) in &merged {
        for finding in findings {
            printer
                .print(&mut out, finding)
                .map_err(OutputError::from_io)?;
        }
        printer
            .coverage(&mut out, coverage)
            .map_err(OutputError::from_io)?;
        failed |= coverage.error.is_some();
        partial |= coverage.partial();
        total = total.saturating_add(coverage.findings);
        if let Some(error) = &coverage.error {
            crate::warn(&format!(
                "snapsift: {}: incomplete: {error}",
                coverage.image
            ));
        } else if coverage.partial() {
            eprintln!(
                "snapsift: {}: PARTIAL SCAN: {} byte(s) could not be read, {} file(s) cut by a \
                 limit (listed in the coverage summary)",
                coverage.image,
                coverage.unreadable_bytes,
                coverage.cut_files()
            );
        }
    }
    printer.finish(&mut out).map_err(OutputError::from_io)?;
    out.finish(&reads)?;
    Ok(exit_status(
        failed,
        partial,
        total,
        args.exit_zero_on_findings,
    ))
}

/// The report files `paths` name: each file, and each directory's `*.jsonl` files in name
/// order (a fleet's shards write into one directory; a container image has no shell to
/// expand a glob).
fn reports(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot list the reports in {}", path.display()))?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .with_context(|| format!("cannot list the reports in {}", path.display()))?;
        found.retain(|p| p.extension().is_some_and(|e| e == "jsonl") && p.is_file());
        if found.is_empty() {
            bail!("{}: no .jsonl reports in this directory", path.display());
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

/// One line of a JSON Lines report.
enum Item {
    Finding(Box<FindingRecord>),
    Coverage(Box<ImageCoverage>),
}

/// Reads the report `path` (one of the files the run reads: `reads`) line by line, handing
/// each line to `each`.
fn read(path: &Path, reads: &mut ReadFiles, each: &mut dyn FnMut(Item)) -> anyhow::Result<()> {
    let mut lines = Lines::open(path, "report", reads)?;
    let mut line = Vec::new();
    while lines.next_line(&mut line)? {
        let at = || lines.at();
        if line.trim_ascii().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_slice(&line).with_context(|| {
            format!(
                "{}: not JSON (snapsift merge reads `snapsift scan --format jsonl` reports)",
                at()
            )
        })?;
        let item = match value {
            Value::Object(mut object) if object.contains_key("coverage") => {
                let coverage = object.remove("coverage").unwrap_or_default();
                Item::Coverage(Box::new(
                    serde_json::from_value(coverage)
                        .with_context(|| format!("{}: not a coverage record", at()))?,
                ))
            }
            value => Item::Finding(serde_json::from_value(value).with_context(|| {
                format!("{}: not a finding of `snapsift scan --format jsonl`", at())
            })?),
        };
        each(item);
    }
    Ok(())
}

/// The coverage of `image` from the coverage records the inputs hold for it, for a report
/// with `findings` findings (see the module docs).
fn combine(
    image: &str,
    records: Vec<ImageCoverage>,
    findings: usize,
) -> anyhow::Result<ImageCoverage> {
    let findings = u64::try_from(findings).unwrap_or(u64::MAX);
    let (shards, whole): (Vec<ImageCoverage>, Vec<ImageCoverage>) =
        records.into_iter().partition(|c| c.shard.is_some());
    // A whole-image scan that ran in full says it all; one that failed (or any scan that
    // failed to open the image: its record has no shard) only adds its error to the shards'.
    let best = whole.iter().find(|c| c.complete);
    if let Some(mut best) = best
        .or(whole.first().filter(|_| shards.is_empty()))
        .cloned()
    {
        best.findings = findings;
        return Ok(best);
    }
    let Some(first) = shards.first() else {
        return Ok(ImageCoverage {
            image: image.to_owned(),
            findings,
            complete: false,
            error: Some(
                "its report has findings but no coverage line: it was cut short".to_owned(),
            ),
            ..ImageCoverage::default()
        });
    };
    let count = first.shard.as_ref().map_or(0, |s| s.count);
    let mut combined = ImageCoverage {
        image: image.to_owned(),
        format: first.format.clone(),
        disk_size: first.disk_size,
        data_bytes: first.data_bytes,
        findings,
        // Every shard opened the same image, and saw the same things about it.
        notes: first.notes.clone(),
        complete: true,
        ..ImageCoverage::default()
    };
    let mut present: HashMap<u64, &ImageCoverage> = HashMap::new();
    let mut errors: Vec<String> = whole.iter().filter_map(|c| c.error.clone()).collect();
    for c in &shards {
        let Some(ShardCoverage {
            index, count: n, ..
        }) = c.shard
        else {
            continue;
        };
        if n != count || c.disk_size != first.disk_size || c.data_bytes != first.data_bytes {
            bail!(
                "{image}: its shard reports are not of one sharded scan: shard {index}/{n} of a \
                 disk of {} bytes with {} bytes of data, shard {}/{count} of {} bytes with {}",
                c.disk_size,
                c.data_bytes,
                first.shard.as_ref().map_or(0, |s| s.index),
                first.disk_size,
                first.data_bytes
            );
        }
        if present.insert(index, c).is_some() {
            // A shard run twice (a retried job): the first report stands.
            continue;
        }
        combined.scanned_bytes = combined.scanned_bytes.saturating_add(c.scanned_bytes);
        combined
            .file_problems
            .extend(c.file_problems.iter().cloned());
        combined.unreadable.extend(c.unreadable.iter().cloned());
        combined.complete &= c.complete;
        if let Some(error) = &c.error {
            errors.push(format!("shard {index}/{count}: {error}"));
        }
    }
    let missing: Vec<String> = (0..count)
        .filter(|k| !present.contains_key(k))
        .map(|k| k.to_string())
        .collect();
    if !missing.is_empty() {
        errors.insert(
            0,
            format!(
                "shard(s) {} of {count} missing: their bytes were not scanned",
                missing.join(", ")
            ),
        );
    }
    combined.unreadable = joined(std::mem::take(&mut combined.unreadable));
    combined.unreadable_bytes = combined
        .unreadable
        .iter()
        .map(|u| u.end.saturating_sub(u.start))
        .sum();
    if !errors.is_empty() {
        combined.complete = false;
        combined.error = Some(errors.join("; "));
    }
    Ok(combined)
}

/// `ranges` sorted, with overlapping and touching ranges joined (the first reason kept).
fn joined(mut ranges: Vec<UnreadableRange>) -> Vec<UnreadableRange> {
    ranges.sort_by_key(|u| (u.start, u.end));
    let mut out: Vec<UnreadableRange> = Vec::with_capacity(ranges.len());
    for u in ranges {
        match out.last_mut() {
            Some(last) if u.start <= last.end => last.end = last.end.max(u.end),
            _ => out.push(u),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(index: u64, count: u64, unreadable: &[(u64, u64)]) -> ImageCoverage {
        let unreadable: Vec<UnreadableRange> = unreadable
            .iter()
            .map(|&(start, end)| UnreadableRange {
                start,
                end,
                reason: "EIO".into(),
            })
            .collect();
        ImageCoverage {
            image: "d.img".into(),
            format: "raw image file".into(),
            disk_size: 1000,
            data_bytes: 900,
            scanned_bytes: 300,
            complete: unreadable.is_empty(),
            unreadable_bytes: unreadable.iter().map(|u| u.end - u.start).sum(),
            unreadable,
            shard: Some(ShardCoverage {
                index,
                count,
                start: index * 333,
                end: (index + 1) * 333,
                owned_bytes: 300,
            }),
            ..ImageCoverage::default()
        }
    }

    #[test]
    fn shards_combine_into_one_coverage() {
        let all = vec![
            shard(2, 3, &[(700, 710)]),
            shard(0, 3, &[]),
            shard(1, 3, &[(300, 333), (333, 340)]),
            shard(1, 3, &[]),
        ];
        let c = combine("d.img", all, 5).unwrap();
        assert_eq!(c.scanned_bytes, 900);
        assert_eq!(c.findings, 5);
        assert!(c.shard.is_none());
        assert!(!c.complete && c.error.is_none(), "{c:?}");
        let ranges: Vec<(u64, u64)> = c.unreadable.iter().map(|u| (u.start, u.end)).collect();
        assert_eq!(ranges, [(300, 340), (700, 710)]);
        assert_eq!(c.unreadable_bytes, 50);
    }

    #[test]
    fn a_missing_shard_makes_the_coverage_incomplete() {
        let c = combine("d.img", vec![shard(0, 3, &[]), shard(2, 3, &[])], 0).unwrap();
        assert!(!c.complete);
        assert_eq!(
            c.error.as_deref(),
            Some("shard(s) 1 of 3 missing: their bytes were not scanned")
        );
        let none = combine("d.img", Vec::new(), 1).unwrap();
        assert!(none.error.unwrap().contains("no coverage line"));
    }

    #[test]
    fn shards_file_problems_are_listed_together() {
        let problem = |path: &str, limit: Option<(&str, u64)>| FileProblem {
            path: Some(path.into()),
            offset: 4096,
            container: vec![Layer {
                kind: snapsift_engine::LayerKind::Gzip,
                member: None,
            }],
            limit: limit.map(|(name, value)| LimitRecord {
                name: name.into(),
                value,
            }),
            message: "cut".into(),
        };
        let mut first = shard(0, 2, &[]);
        first.file_problems = vec![problem("/a.gz", None)];
        let mut second = shard(1, 2, &[]);
        second.file_problems = vec![problem("/b.tar.gz", Some(("max_depth", 20)))];
        second.complete = second.covers_all();
        assert!(first.complete && !second.complete);
        let c = combine("d.img", vec![first, second], 0).unwrap();
        assert_eq!(
            c.file_problems,
            [
                problem("/a.gz", None),
                problem("/b.tar.gz", Some(("max_depth", 20)))
            ]
        );
        assert!(!c.complete && c.partial() && c.error.is_none(), "{c:?}");
    }

    #[test]
    fn shards_of_different_scans_are_refused() {
        let error = combine("d.img", vec![shard(0, 2, &[]), shard(1, 3, &[])], 0).unwrap_err();
        assert!(
            error.to_string().contains("not of one sharded scan"),
            "{error}"
        );
    }
}
