//! The benchmark's rows for an attached disk and for a sparse raw file.
//!
//! * The image attached as a read-only loop device (`losetup -r`), read with a cold cache
//!   (caches dropped before every run): `dd bs=8M` reading the device, the reference for
//!   reading it, then `snapsift scan` on the device. The loop device's backing file lives on
//!   this machine's disk, so these rows measure that disk as much as the readers. Needs root;
//!   without it, or if `losetup` fails, a row says why and the benchmark goes on.
//! * The image copied to a sparse 1 TiB raw file (`cp --sparse=always`, `truncate -s 1T`),
//!   scanned with a warm cache: the cost must follow the data, not the size.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};

use super::generate::Manifest;
use super::measure::{RUNS, Row, Run, score, time_snapsift, timed};
use crate::shared::loop_device::LoopDevice;
use crate::shared::workspace::{self, bytes, describe, display};

/// The label of the row of `snapsift scan` on the loop device.
const SNAPSIFT_ON_DEVICE: &str = "`snapsift scan` on the loop device, cold cache";
/// The label of the row of `dd` on the loop device.
const DD_ON_DEVICE: &str = "`dd if=/dev/loopN of=/dev/null bs=8M`, cold cache";

/// The rows of this section: the sparse 1 TiB raw file (warm), then `dd` and `snapsift` on
/// a read-only loop device over `image` (cold), or a row saying why those could not run.
pub(super) fn rows(
    dir: &Path,
    image: &Path,
    manifest: &Manifest,
    snapsift: &Path,
    findings_file: &Path,
    time_file: &Path,
) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let sparse = sparse_copy(image, &dir.join("disk-1t.img"))?;
    // One untimed scan brings the sparse file's data into the page cache (reading its holes,
    // as a plain reader would, means reading a whole TiB of zeros).
    let mut warm_up = Command::new(snapsift);
    warm_up
        .args(["scan", "--quiet", "--format", "jsonl", "-o"])
        .arg(findings_file)
        .arg(&sparse);
    timed(&warm_up, &[0, 1], false, time_file)?;
    let (run, sparse_score) =
        time_snapsift(snapsift, &sparse, &[], findings_file, manifest, time_file)?;
    rows.push(Row {
        tool: "`snapsift scan`, the raw image as a sparse 1 TiB file (same data)".into(),
        run,
        found: sparse_score.summary(),
    });

    let device = match LoopDevice::attach(image) {
        Ok(device) => device,
        Err(why) => {
            println!("skipping the loop device rows: {why:#}");
            rows.push(Row {
                tool: format!("loop device rows skipped: {why:#}"),
                run: Run::NONE,
                found: "-".into(),
            });
            return Ok(rows);
        }
    };
    println!(
        "attached {} read-only to {}; dropping the page cache before every run",
        display(image),
        device.path.display()
    );
    let mut dd = Command::new("dd");
    dd.arg(format!("if={}", device.path.display()))
        .args(["of=/dev/null", "bs=8M"]);
    rows.push(Row {
        tool: DD_ON_DEVICE.into(),
        run: cold_median(&dd, &[0], time_file)?,
        found: "-".into(),
    });
    let mut scan = Command::new(snapsift);
    scan.args(["scan", "--quiet", "--format", "jsonl", "-o"])
        .arg(findings_file)
        .arg(&device.path);
    let run = cold_median(&scan, &[0, 1], time_file)?;
    rows.push(Row {
        tool: SNAPSIFT_ON_DEVICE.into(),
        run,
        found: score(findings_file, manifest)?.summary(),
    });
    Ok(rows)
}

/// The report's lines on this section's rows.
pub(super) fn notes(rows: &[Row]) -> String {
    let secs = |label: &str| {
        rows.iter()
            .find(|r| r.tool == label && r.run.secs.is_finite())
            .map(|r| r.run.secs)
    };
    match (secs(DD_ON_DEVICE), secs(SNAPSIFT_ON_DEVICE)) {
        (Some(dd), Some(snapsift)) => format!(
            "- snapsift on the loop device (cold cache) vs dd reading it: {:.0}% of dd's throughput\n",
            100.0 * dd / snapsift
        ),
        _ => String::new(),
    }
}

/// Runs `cmd` [`RUNS`] times, each after dropping the page cache; the median run.
fn cold_median(cmd: &Command, ok: &[i32], time_file: &Path) -> Result<Run> {
    println!("timing (cold cache): {}", describe(cmd));
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        drop_caches()?;
        let (run, _) = timed(cmd, ok, false, time_file)?;
        println!("  {:.3} s, {} KiB peak RSS", run.secs, run.rss_kib);
        runs.push(run);
    }
    runs.sort_by(|a, b| a.secs.total_cmp(&b.secs));
    Ok(runs[RUNS / 2])
}

/// Writes dirty pages back and drops the clean page cache, dentries and inodes.
fn drop_caches() -> Result<()> {
    workspace::run_tool(&mut Command::new("sync"))?;
    fs::write("/proc/sys/vm/drop_caches", "3").context("dropping the page cache")
}

/// Copies `image` to `out` as a sparse file (zero blocks become holes) and grows it to 1 TiB,
/// unless `out` is newer; fails if the copy did not stay sparse.
fn sparse_copy(image: &Path, out: &Path) -> Result<PathBuf> {
    const TIB: u64 = 1 << 40;
    let fresh = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    let up_to_date = fresh(out).is_some_and(|t| fresh(image).is_some_and(|i| t >= i));
    if !up_to_date {
        let _ = fs::remove_file(out);
        let mut cp = Command::new("cp");
        cp.arg("--sparse=always").arg(image).arg(out);
        workspace::run_tool(&mut cp)?;
        let mut truncate = Command::new("truncate");
        truncate.args(["-s", "1T"]).arg(out);
        workspace::run_tool(&mut truncate)?;
    }
    let meta = fs::metadata(out)?;
    let allocated = std::os::unix::fs::MetadataExt::blocks(&meta) * 512;
    ensure!(
        meta.len() == TIB && allocated <= fs::metadata(image)?.len(),
        "{} is not a sparse 1 TiB file ({} allocated)",
        display(out),
        bytes(allocated)
    );
    println!(
        "sparse copy: {} ({} virtual, {} allocated)",
        display(out),
        bytes(meta.len()),
        bytes(allocated)
    );
    Ok(out.to_owned())
}
