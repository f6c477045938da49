//! Timing the tools on the benchmark image (the Markdown report is `report`'s).
//!
//! Each tool runs as its own process under GNU time (`/usr/bin/time -f '%e %M'`), which gives
//! its peak resident memory; the elapsed time is taken around it with a monotonic clock, for
//! millisecond rather than GNU time's centisecond resolution. Note that RSS counts the pages of
//! a memory-mapped file that a process touched, so a tool that maps the image shows more
//! memory than one that reads it into a buffer.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use super::generate::{Manifest, XFS_IMAGE};
use super::read;
use super::report::report;
use super::rivals;
use crate::shared::rules::{RG_PATTERNS, RULES as SPINE_RULES};
use crate::shared::workspace::{self, bytes, describe, display};

/// GNU time (Debian package `time`); the shell keyword `time` cannot report memory.
const GNU_TIME: &str = "/usr/bin/time";
/// Runs per tool; the median is reported.
pub(super) const RUNS: usize = 3;

/// Fails early, naming the Debian packages, if a tool the benchmark runs is missing.
pub fn check_tools() -> Result<()> {
    if !Path::new(GNU_TIME).exists() {
        bail!("{GNU_TIME} is missing (Debian package `time`)");
    }
    for (tool, package) in [
        ("rg", "ripgrep"),
        ("mkfs.ext4", "e2fsprogs"),
        ("debugfs", "e2fsprogs"),
        ("sgdisk", "gdisk"),
        ("mkfs.xfs", "xfsprogs"),
    ] {
        let found = Command::new(tool)
            .arg(if matches!(tool, "debugfs" | "mkfs.xfs") {
                "-V"
            } else {
                "--version"
            })
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !found {
            bail!("`{tool}` is missing (Debian package `{package}`)");
        }
    }
    Ok(())
}

/// One timed run.
#[derive(Clone, Copy)]
pub(super) struct Run {
    /// Wall-clock seconds; not finite for a tool that did not run or was killed ("-").
    pub(super) secs: f64,
    /// Peak resident set in KiB; 0 for a tool that did not run ("-").
    pub(super) rss_kib: u64,
}

impl Run {
    /// No run: the row says why (its time prints as `-`).
    pub(super) const NONE: Run = Run {
        secs: f64::NAN,
        rss_kib: 0,
    };
}

/// One line of the table.
pub(super) struct Row {
    /// What ran.
    pub(super) tool: String,
    /// Its median run.
    pub(super) run: Run,
    /// The planted secrets it found.
    pub(super) found: String,
}

/// Times every tool on `image` and returns the report (Markdown). Scratch files go to `dir`;
/// a rival scanner's run is killed after `rival_timeout` seconds.
pub fn run(
    dir: &Path,
    image: &Path,
    manifest: &Manifest,
    snapsift: &Path,
    keep: bool,
    rival_timeout: u64,
) -> Result<String> {
    let size = fs::metadata(image)?.len();
    warm_cache(image, size)?;
    let time_file = dir.join("time.out");
    let mut rows = Vec::new();

    let xtask = std::env::current_exe()?;
    let mut plain = Command::new(&xtask);
    plain.arg("read-file").arg(image).args(["--threads", "2"]);
    let (run, _) = median(&plain, &[0], false, &time_file)?;
    rows.push(Row {
        tool: "plain read (xtask read-file: 2 threads, 8 MiB preads)".into(),
        run,
        found: "-".into(),
    });

    let mut cat = Command::new("cat");
    cat.arg(image);
    let (run, _) = median(&cat, &[0], false, &time_file)?;
    rows.push(Row {
        tool: "`cat IMG > /dev/null`".into(),
        run,
        found: "-".into(),
    });

    let mut rg = Command::new("rg");
    rg.args(["-a", "-j2", "-c"]);
    for pattern in RG_PATTERNS {
        // --regexp=: one pattern starts with '-', which -e would take for an option.
        rg.arg(format!("--regexp={pattern}"));
    }
    rg.arg(image);
    let (run, output) = median(&rg, &[0, 1], true, &time_file)?;
    let lines = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse::<u64>()
        .unwrap_or(0);
    rows.push(Row {
        tool: "`rg -a -j2 -c` (4 regexes)".into(),
        run,
        found: format!("n/a ({lines} matching lines)"),
    });
    let mut rivals = rivals::rows(dir, image, manifest, &time_file, rival_timeout, keep)?;
    rows.append(&mut rivals.rows);

    let findings_file = dir.join("snapsift.jsonl");
    let (run, score) = time_snapsift(snapsift, image, &[], &findings_file, manifest, &time_file)?;
    rows.push(Row {
        tool: "`snapsift scan --quiet --format jsonl`".into(),
        run,
        found: score.summary(),
    });
    // The same files on XFS: what the file system costs against ext4.
    let xfs = dir.join(XFS_IMAGE);
    warm_cache(&xfs, fs::metadata(&xfs)?.len())?;
    let (run, xfs_score) =
        time_snapsift(snapsift, &xfs, &[], &findings_file, manifest, &time_file)?;
    rows.push(Row {
        tool: XFS_ROW.into(),
        run,
        found: xfs_score.summary(),
    });
    // The same scan without the file pass: what the file pass costs on a dense image.
    let sweep_args = ["--no-file-pass"];
    let (run, sweep_score) = time_snapsift(
        snapsift,
        image,
        &sweep_args,
        &findings_file,
        manifest,
        &time_file,
    )?;
    rows.push(Row {
        tool: SWEEP_ONLY.into(),
        run,
        found: sweep_score.summary(),
    });

    // The same scan with only the spine's rules (issue 3's ten): what the other rules cost.
    let spine: Vec<&str> = SPINE_RULES.iter().map(|(id, _)| *id).collect();
    let only = format!("--only={}", spine.join(","));
    let (run, spine_score) = time_snapsift(
        snapsift,
        image,
        &[&only],
        &findings_file,
        manifest,
        &time_file,
    )?;
    rows.push(Row {
        tool: SPINE_ONLY.into(),
        run,
        found: spine_score.summary(),
    });

    // The same disk in qcow2, as OpenStack and cloud image exports ship it: offsets are
    // virtual, so the same planted secrets must be found.
    for (label, name, options) in QCOW2_VARIANTS {
        let converted = convert_qcow2(image, &dir.join(name), options)?;
        warm_cache(&converted, fs::metadata(&converted)?.len())?;
        let (run, score) = time_snapsift(
            snapsift,
            &converted,
            &[],
            &findings_file,
            manifest,
            &time_file,
        )?;
        rows.push(Row {
            tool: format!("`snapsift scan`, {label}"),
            run,
            found: score.summary(),
        });
        if name == ZSTD_QCOW2 {
            // One cheap rule and no file pass: what reading and decompressing costs alone.
            let floor = ["--only=private-key.rsa", "--no-file-pass"];
            let (run, _) = time_snapsift(
                snapsift,
                &converted,
                &floor,
                &findings_file,
                manifest,
                &time_file,
            )?;
            rows.push(Row {
                tool: ZSTD_FLOOR.into(),
                run,
                found: "- (one rule)".into(),
            });
        }
    }
    // The same data in a 1 TiB virtual disk: the cost must follow the data, not the size.
    let huge = grow_qcow2(&dir.join("disk.qcow2"), &dir.join("disk-1t.qcow2"))?;
    let (run, score) = time_snapsift(snapsift, &huge, &[], &findings_file, manifest, &time_file)?;
    rows.push(Row {
        tool: format!("`snapsift scan`, {HUGE_LABEL}"),
        run,
        found: score.summary(),
    });
    // A sparse 1 TiB raw file (warm), then a read-only loop device (cold cache).
    let first_device_row = rows.len();
    rows.extend(super::device::rows(
        dir,
        image,
        manifest,
        snapsift,
        &findings_file,
        &time_file,
    )?);
    let _ = fs::remove_file(&time_file);
    if !keep {
        let _ = fs::remove_file(&findings_file);
    }
    let mut out = report(image, size, manifest, &rows, &score);
    out.push_str(&super::device::notes(&rows[first_device_row..]));
    out.push_str(&rivals.notes(manifest, &score.missed));
    Ok(out)
}

/// The qcow2 conversions of the image the benchmark scans: label, file name, `qemu-img`
/// options.
const QCOW2_VARIANTS: [(&str, &str, &[&str]); 2] = [
    ("qcow2 image", "disk.qcow2", &[]),
    (
        "qcow2 image, zstd-compressed clusters",
        ZSTD_QCOW2,
        &["-c", "-o", "compression_type=zstd"],
    ),
];

/// The file name of the qcow2 image with zstd-compressed clusters.
const ZSTD_QCOW2: &str = "disk-zstd.qcow2";

/// The row of the zstd qcow2 scanned with one rule: the cost of reading and decompressing.
pub(super) const ZSTD_FLOOR: &str =
    "`snapsift scan --only=private-key.rsa --no-file-pass`, zstd qcow2 (decompression floor)";

/// Converts `image` to qcow2 at `out` with `qemu-img convert`, unless `out` is newer.
fn convert_qcow2(image: &Path, out: &Path, options: &[&str]) -> Result<std::path::PathBuf> {
    let fresh = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    if fresh(out).is_some_and(|t| fresh(image).is_some_and(|i| t >= i)) {
        return Ok(out.to_owned());
    }
    let start = Instant::now();
    let mut convert = Command::new("qemu-img");
    convert
        .args(["convert", "-f", "raw", "-O", "qcow2"])
        .args(options)
        .arg(image)
        .arg(out);
    workspace::run_tool(&mut convert)?;
    println!(
        "converted to {} in {:.1} s ({})",
        display(out),
        start.elapsed().as_secs_f64(),
        bytes(fs::metadata(out)?.len())
    );
    Ok(out.to_owned())
}

/// The row of the qcow2 image grown to 1 TiB.
const HUGE_LABEL: &str = "the qcow2 image grown to 1 TiB (same data)";

/// Copies the qcow2 image `qcow2` to `out` and grows its virtual size to 1 TiB with
/// `qemu-img resize`, unless `out` is newer: the data stays the same.
fn grow_qcow2(qcow2: &Path, out: &Path) -> Result<std::path::PathBuf> {
    let fresh = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    if fresh(out).is_some_and(|t| fresh(qcow2).is_some_and(|i| t >= i)) {
        return Ok(out.to_owned());
    }
    fs::copy(qcow2, out)?;
    let mut resize = Command::new("qemu-img");
    resize.args(["resize", "-f", "qcow2"]).arg(out).arg("1T");
    workspace::run_tool(&mut resize)?;
    Ok(out.to_owned())
}

/// The row of the scan with only the spine's rules.
pub(super) const SPINE_ONLY: &str = "`snapsift scan --only <the 10 spine rules>`";

/// The row of the scan of the same files on XFS.
pub(super) const XFS_ROW: &str = "`snapsift scan`, the same files on XFS";

/// The row of the scan without the file pass.
pub(super) const SWEEP_ONLY: &str = "`snapsift scan --no-file-pass` (byte sweep only)";

/// Times `snapsift scan --format jsonl EXTRA...` on `image` and scores its findings.
pub(super) fn time_snapsift(
    snapsift: &Path,
    image: &Path,
    extra: &[&str],
    findings_file: &Path,
    manifest: &Manifest,
    time_file: &Path,
) -> Result<(Run, Score)> {
    let mut scan = Command::new(snapsift);
    scan.args(["scan", "--quiet", "--format", "jsonl"])
        .args(extra)
        .arg("-o")
        .arg(findings_file)
        .arg(image);
    let (run, _) = median(&scan, &[0, 1], false, time_file)?;
    Ok((run, score(findings_file, manifest)?))
}

/// Reads the image once so that every measured run finds it in the page cache.
fn warm_cache(image: &Path, size: u64) -> Result<()> {
    let available = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kib| kib * 1024);
    if available.is_some_and(|a| a < size) {
        println!(
            "warning: {} of memory available for a {} image: the page cache cannot hold it, so the runs measure the disk",
            bytes(available.unwrap_or(0)),
            bytes(size)
        );
    }
    let start = Instant::now();
    read::parallel_read(image, 2)?;
    println!(
        "warmed the page cache: read {} in {:.2} s",
        bytes(size),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs `cmd` [`RUNS`] times and returns the run with the median time and its output.
fn median(
    cmd: &Command,
    ok: &[i32],
    capture_stdout: bool,
    time_file: &Path,
) -> Result<(Run, Output)> {
    println!("timing: {}", describe(cmd));
    let mut runs = Vec::new();
    let mut last = None;
    for _ in 0..RUNS {
        let (run, output) = timed(cmd, ok, capture_stdout, time_file)?;
        println!("  {:.3} s, {} KiB peak RSS", run.secs, run.rss_kib);
        runs.push(run);
        last = Some(output);
    }
    runs.sort_by(|a, b| a.secs.total_cmp(&b.secs));
    Ok((runs[RUNS / 2], last.expect("RUNS > 0")))
}

/// Runs `cmd` once under GNU time; fails unless it exits with one of the `ok` statuses. Its
/// standard output goes to /dev/null (as in `cat IMG > /dev/null`) unless `capture_stdout`.
pub(super) fn timed(
    cmd: &Command,
    ok: &[i32],
    capture_stdout: bool,
    time_file: &Path,
) -> Result<(Run, Output)> {
    let mut wrapped = Command::new(GNU_TIME);
    wrapped
        .arg("-o")
        .arg(time_file)
        .args(["-f", "%e %M"])
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .current_dir(workspace::root())
        .stdin(Stdio::null())
        .stdout(if capture_stdout {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped());
    let start = Instant::now();
    let output = wrapped
        .output()
        .with_context(|| format!("running {}", describe(cmd)))?;
    let secs = start.elapsed().as_secs_f64();
    if !output.status.code().is_some_and(|c| ok.contains(&c)) {
        bail!(
            "`{}` failed ({}):\n{}",
            describe(cmd),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // GNU time writes "Command exited with non-zero status N" before the format line.
    let timing = fs::read_to_string(time_file)?;
    let rss_kib = timing
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("unexpected GNU time output: {timing:?}"))?;
    Ok((Run { secs, rss_kib }, output))
}

/// How many planted secrets snapsift reported.
pub(super) struct Score {
    /// Distinct planted secrets found.
    found: usize,
    /// Planted secrets in all.
    planted: usize,
    /// Findings whose secret was not planted (matches in the ELF files, say).
    other: usize,
    /// Findings in all (JSONL lines).
    pub(super) findings: usize,
    /// Planted secrets not found, by rule.
    pub(super) missed: BTreeMap<String, usize>,
}

impl Score {
    /// `found / planted`, and the other findings if any.
    pub(super) fn summary(&self) -> String {
        let mut s = format!("{} / {}", self.found, self.planted);
        if self.other > 0 {
            let _ = write!(s, " (+{} other findings)", self.other);
        }
        s
    }
}

/// Compares snapsift's JSONL output with the planted secrets.
pub(super) fn score(findings_file: &Path, manifest: &Manifest) -> Result<Score> {
    let text = fs::read_to_string(findings_file)
        .with_context(|| format!("reading snapsift's output {}", display(findings_file)))?;
    let planted: HashMap<&str, &str> = manifest
        .planted
        .iter()
        .map(|p| (p.secret.as_str(), p.rule.as_str()))
        .collect();
    let mut found = HashSet::new();
    let mut other = 0;
    let mut findings = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let finding: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("snapsift wrote a line that is not JSON: {line}"))?;
        if finding.get("coverage").is_some() {
            // The image's coverage record, not a finding.
            continue;
        }
        findings += 1;
        let secret = finding["secret"].as_str().unwrap_or_default();
        if planted.contains_key(secret) {
            found.insert(secret.to_string());
        } else {
            other += 1;
        }
    }
    let mut missed = BTreeMap::new();
    for (secret, rule) in &planted {
        if !found.contains(*secret) {
            *missed.entry(rule.to_string()).or_insert(0) += 1;
        }
    }
    Ok(Score {
        found: found.len(),
        planted: planted.len(),
        other,
        findings,
        missed,
    })
}
