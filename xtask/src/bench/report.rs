//! The benchmark's Markdown report: what was measured on what, the table, the ratios that
//! matter, and issue 7's targets checked under it.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use super::generate::{GENERATOR_VERSION, Manifest};
use super::measure::{RUNS, Row, SPINE_ONLY, SWEEP_ONLY, Score, XFS_ROW, ZSTD_FLOOR};
use crate::shared::rules::RULES as SPINE_RULES;
use crate::shared::workspace::{self, bytes, display};

/// The Markdown report: context, table, ratios.
pub(super) fn report(
    image: &Path,
    size: u64,
    manifest: &Manifest,
    rows: &[Row],
    score: &Score,
) -> String {
    let mut out = String::new();
    let deleted = manifest
        .planted
        .iter()
        .filter(|p| p.location.starts_with("deleted:"))
        .count();
    let whole = manifest
        .planted
        .iter()
        .filter(|p| p.offset.is_some())
        .count();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(out, "## snapsift benchmark\n");
    let _ = writeln!(
        out,
        "- image: {}, {} ({} bytes), GPT + ext4 ~90% full ({} files; the same files on XFS for its row), generator v{GENERATOR_VERSION}",
        display(image),
        bytes(size),
        size,
        manifest.files
    );
    let _ = writeln!(
        out,
        "- planted: {} secrets, {} in live files and {deleted} in deleted files' free blocks; {whole} stored in one piece on disk",
        manifest.planted.len(),
        manifest.planted.len() - deleted
    );
    let _ = writeln!(
        out,
        "- {cpus} CPUs, warm page cache, median of {RUNS} runs; seconds: wall clock; RSS: GNU time's peak resident set (includes touched pages of mmapped files)"
    );
    if let Some(commit) = git_commit() {
        let _ = writeln!(out, "- snapsift built from {commit}");
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| tool | seconds | MB/s | peak RSS MiB | planted secrets found |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---|");
    for row in rows {
        // A rival that did not run, or was killed, has no time (and no RSS if it did not run).
        let (secs, rss) = (row.run.secs, row.run.rss_kib);
        let mbps = size as f64 / 1e6 / secs;
        let finite = secs.is_finite();
        let cells = [
            finite.then(|| format!("{secs:.3}")),
            finite.then(|| format!("{mbps:.*}", if mbps < 10.0 { 2 } else { 0 })),
            (rss > 0).then(|| format!("{:.1}", rss as f64 / 1024.0)),
        ]
        .map(|c| c.unwrap_or_else(|| "-".into()));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            row.tool, cells[0], cells[1], cells[2], row.found
        );
    }
    let _ = writeln!(out);
    let secs = |prefix: &str| secs_of(rows, |tool| tool.contains(prefix));
    if let (Some(plain), Some(rg), Some(snap)) =
        (secs("plain read"), secs("rg -a"), secs("snapsift"))
    {
        let _ = writeln!(
            out,
            "- snapsift vs rg: {:.2}x {}",
            if snap <= rg { rg / snap } else { snap / rg },
            if snap <= rg { "faster" } else { "slower" }
        );
        let _ = writeln!(
            out,
            "- snapsift vs plain read: {:.0}% of its throughput (takes {:.2}x as long)",
            100.0 * plain / snap,
            snap / plain
        );
    }
    let row_secs = |name: &str| secs_of(rows, |tool| tool == name);
    let rules = rules_in_force().unwrap_or(0);
    if let (Some(raw), Some(qcow2)) = (
        secs("snapsift scan --quiet"),
        row_secs("`snapsift scan`, qcow2 image"),
    ) {
        let _ = writeln!(
            out,
            "- snapsift on qcow2 (uncompressed) vs raw: {:.0}% of raw's throughput",
            100.0 * raw / qcow2
        );
    }
    if let (Some(ext4), Some(xfs)) = (secs("snapsift scan --quiet"), row_secs(XFS_ROW)) {
        let _ = writeln!(
            out,
            "- the same files on XFS take {:.0}% of ext4's time ({xfs:.3} s against {ext4:.3} s)",
            100.0 * xfs / ext4
        );
    }
    if let (Some(zstd), Some(floor)) = (
        row_secs("`snapsift scan`, qcow2 image, zstd-compressed clusters"),
        row_secs(ZSTD_FLOOR),
    ) {
        let _ = writeln!(
            out,
            "- zstd qcow2: reading and decompressing alone take {:.0}% of the full scan's time ({floor:.3} s of {zstd:.3} s)",
            100.0 * floor / zstd
        );
    }
    if let (Some(full), Some(sweep)) = (secs("snapsift scan --quiet"), row_secs(SWEEP_ONLY)) {
        let _ = writeln!(
            out,
            "- the file pass adds {:.0}% to the sweep's time ({full:.3} s against {sweep:.3} s)",
            100.0 * (full - sweep) / sweep
        );
    }
    if let (Some(full), Some(spine)) = (secs("snapsift scan --quiet"), row_secs(SPINE_ONLY)) {
        let _ = writeln!(
            out,
            "- rule count: {rules} rules take {:.2}x the time of the spine's {} ({full:.3} s against {spine:.3} s)",
            full / spine,
            SPINE_RULES.len()
        );
    }
    let _ = writeln!(out, "- snapsift findings: {} in all", score.findings);
    targets(&mut out, size, rows, rules);
    if !score.missed.is_empty() {
        let missed: Vec<String> = score
            .missed
            .iter()
            .map(|(rule, n)| format!("{rule}: {n}"))
            .collect();
        let _ = writeln!(
            out,
            "- planted secrets missed by snapsift, by rule: {}",
            missed.join(", ")
        );
    }
    out
}

/// Issue 7's targets, each with the measured value and whether it holds; `rules` is the
/// number of rules in the full pack.
fn targets(out: &mut String, size: u64, rows: &[Row], rules: usize) {
    let secs = |prefix: &str| secs_of(rows, |tool| tool.contains(prefix));
    let Some(full) = secs("snapsift scan --quiet") else {
        return;
    };
    let mut checks: Vec<(String, bool)> = Vec::new();
    let mb_s = size as f64 / 1e6 / full;
    checks.push((
        format!("full pack, file pass on: {mb_s:.0} MB/s >= 2000"),
        mb_s >= 2000.0,
    ));
    if let Some(rg) = secs("rg -a") {
        checks.push((
            format!("{:.2}x faster than rg >= 4x", rg / full),
            rg / full >= 4.0,
        ));
    }
    if let Some(plain) = secs("plain read") {
        let ratio = full / plain;
        checks.push((
            format!("{ratio:.2}x a plain parallel read's time <= 6x"),
            ratio <= 6.0,
        ));
    }
    if let Some(qcow2) = secs_of(rows, |tool| tool == "`snapsift scan`, qcow2 image") {
        let share = 100.0 * full / qcow2;
        checks.push((
            format!("qcow2 at {share:.0}% of raw's throughput >= 80%"),
            share >= 80.0,
        ));
    }
    let snapsift_rss = rows
        .iter()
        .filter(|r| r.tool.contains("snapsift"))
        .map(|r| r.run.rss_kib)
        .max()
        .unwrap_or(0) as f64
        / 1024.0;
    checks.push((
        format!("peak RSS of every snapsift run {snapsift_rss:.0} MiB <= 512 MiB"),
        snapsift_rss <= 512.0,
    ));
    if let Some(spine) = secs_of(rows, |tool| tool == SPINE_ONLY) {
        let ratio = full / spine;
        let more = rules as f64 / SPINE_RULES.len() as f64;
        checks.push((
            format!("{more:.1}x the rules take {ratio:.2}x the time (sub-linear)"),
            ratio < more,
        ));
    }
    let _ = writeln!(out, "\nTargets of issue 7:\n");
    for (what, holds) in checks {
        let _ = writeln!(out, "- [{}] {what}", if holds { "x" } else { " " });
    }
}

/// The seconds of the first row whose tool `matches`.
fn secs_of(rows: &[Row], matches: impl Fn(&str) -> bool) -> Option<f64> {
    rows.iter().find(|r| matches(&r.tool)).map(|r| r.run.secs)
}

/// How many rules the built-in pack has, from `snapsift rules list`'s summary line.
fn rules_in_force() -> Option<usize> {
    let output = Command::new(workspace::snapsift_bin())
        .args(["rules", "list"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&output.stderr)
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The workspace's commit, marked dirty when the tree has changes, if git can tell.
fn git_commit() -> Option<String> {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(workspace::root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "--short", "HEAD"])?;
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty {
        format!("{commit} (with uncommitted changes)")
    } else {
        commit
    })
}
