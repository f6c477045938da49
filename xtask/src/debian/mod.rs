//! `cargo xtask debian`: a real Debian root filesystem, with and without a planted tree of
//! secrets, scanned by snapsift; lists every finding of the stock image as a table (see
//! `stock`, which also uses [`measure_stock`] for the noise measurement of record), checks that
//! every planted secret is reported once, at its right path (with its archive members), and lists
//! everything else the scan reports.
//!
//! The root filesystem is made by `debootstrap bookworm` (as root, with network access to
//! deb.debian.org) once and cached in target/debian/rootfs. Each run copies it, plants the
//! tree (generated secrets: an SSH key, cloud keys in a CLI profile and in shell history, a
//! connection string in a config, and secrets only the file pass reaches: in a rotated gzip
//! log, a jar, a tar.gz backup, an xz dump, a UTF-16 PowerShell history, and a deleted
//! script), and scans the stock image (ext4 on GPT), then, for each file system `--fs` names
//! (all by default: ext4, XFS, Btrfs with zstd-compressed extents, ext4 in an LVM2 logical
//! volume; see [`FsKind`]), the planted tree on a GPT disk with that file system, with the file
//! pass and without it. Every planted secret must be reported at its path and state on each.
//!
//! The planted image also holds what an unclean instance leaves behind (a user with a password
//! hash, `authorized_keys`, a host key, histories, temporary files, cloud-init data, a deleted
//! file, a machine ID): `snapsift audit` must fail each with its evidence, and pass each on the
//! stock tree with the same leftovers cleaned as its checklist says (see `audit`). The stock
//! image's checklist is printed too.
//!
//! Two planted credentials have both halves next to each other (`~/.aws/credentials` and the
//! aliyun CLI's `~/.aliyun/config.json`): each must be reported as one finding of the ID's rule
//! whose `pair` field names the secret half (`{"rule", "secret", "offset"}`), and the secret half
//! must not be reported on its own.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use crate::shared::filesystem::{FsKind, Names};
use crate::shared::findings;
use crate::shared::image::MIB;
use crate::shared::locate;
use crate::shared::workspace::{self, display, run_tool};

mod audit;
mod plant;

use audit::Unclean;
use plant::{Plant, plant_tree};

/// The Debian release debootstrap installs.
const SUITE: &str = "bookworm";

/// Runs `cargo xtask debian`: the stock image's findings as a table, then the planted image's
/// check on each file system of `kinds`, and a summary line per file system.
pub fn run(keep: bool, kinds: &[FsKind]) -> Result<()> {
    let dir = workspace::target_dir().join("debian");
    fs::create_dir_all(&dir)?;
    let rootfs = ensure_rootfs(&dir)?;
    let snapsift = workspace::build_snapsift()?;

    let stock = stock_in(&dir, &rootfs, &snapsift, true)?;
    let stock_disk = dir.join("stock.img");
    let stock_audit = audit::audit(&snapsift, &stock_disk)?;
    if !keep {
        let _ = fs::remove_file(&stock_disk);
    }
    println!();
    findings::print_summary(std::slice::from_ref(&stock));
    println!();
    println!("Findings in the stock image ({}):", stock.rows.len());
    println!();
    findings::print_table(&stock.rows.iter().collect::<Vec<_>>());

    println!();
    println!(
        "`snapsift audit` on the stock image ({:.2} s):",
        stock_audit.seconds
    );
    for line in stock_audit.checklist() {
        println!("  {line}");
    }

    let mut summaries = Vec::new();
    let mut problems = Vec::new();
    let cleaned = check_cleaned(&dir, &rootfs, &snapsift, keep)?;
    problems.extend(cleaned.problems.iter().cloned());
    for &kind in kinds {
        let checked = check_planted(&dir, &rootfs, &snapsift, kind, keep)?;
        problems.extend(
            checked
                .problems
                .iter()
                .map(|p| format!("{}: {p}", kind.name())),
        );
        summaries.push((kind, checked));
    }
    println!();
    println!(
        "| file system | planted secrets right | findings | further copies of planted secrets | seconds (build) | seconds (scan) | seconds (scan, --no-file-pass) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (kind, c) in &summaries {
        println!(
            "| {} | {} / {} | {} | {} | {:.1} | {:.2} | {:.2} |",
            kind.name(),
            c.right,
            c.total,
            c.findings,
            c.extra_copies,
            c.build_seconds,
            c.scan_seconds,
            c.sweep_seconds
        );
    }
    println!();
    println!("| `snapsift audit` | fail | warn | pass | planted leftovers right | seconds |");
    println!("|---|---:|---:|---:|---:|---:|");
    let audit_row = |name: &str, a: &audit::Audited, right: String| {
        println!(
            "| {name} | {} | {} | {} | {right} | {:.2} |",
            a.count("fail"),
            a.count("warn"),
            a.count("pass"),
            a.seconds
        );
    };
    audit_row("stock image (ext4)", &stock_audit, "-".to_owned());
    for (kind, c) in &summaries {
        audit_row(
            &format!("planted image ({})", kind.name()),
            &c.audit,
            format!("{} / {} evidence", c.audit_right, c.audit_total),
        );
    }
    audit_row(
        "cleaned image (ext4)",
        &cleaned.audit,
        format!("{} / {} items pass", cleaned.right, cleaned.total),
    );
    ensure!(
        problems.is_empty(),
        "{} planted secrets or leftovers were not reported right:\n{}",
        problems.len(),
        problems.join("\n")
    );
    Ok(())
}

/// How one file system's planted image fared.
struct Checked {
    /// Planted secrets reported once, at their right path and state.
    right: usize,
    total: usize,
    /// Findings of the full scan.
    findings: usize,
    /// Findings of planted secrets beyond the first: further copies on the disk.
    extra_copies: usize,
    build_seconds: f64,
    scan_seconds: f64,
    sweep_seconds: f64,
    /// The audit of the planted image, and how many pieces of the leftovers' evidence were
    /// right of how many.
    audit: audit::Audited,
    audit_right: usize,
    audit_total: usize,
    /// What was wrong, one line per problem.
    problems: Vec<String>,
}

/// How the cleaned image fared.
struct Cleaned {
    audit: audit::Audited,
    /// Items of the leftovers that pass, of how many.
    right: usize,
    total: usize,
    problems: Vec<String>,
}

/// Builds the stock tree with an unclean instance's leftovers cleaned as the checklist says
/// (ext4 on GPT), audits it and checks that each of the leftovers' items passes.
fn check_cleaned(dir: &Path, rootfs: &Path, snapsift: &Path, keep: bool) -> Result<Cleaned> {
    let disk = dir.join("cleaned.img");
    println!();
    println!("== cleaned image: building {}", display(&disk));
    build_disk(rootfs, &disk, dir, FsKind::Ext4, |stage| {
        audit::plant_unclean(stage, dir)?;
        audit::clean(stage)?;
        Ok(((), Vec::new()))
    })?;
    let audited = audit::audit(snapsift, &disk)?;
    if !keep {
        let _ = fs::remove_file(&disk);
    }
    println!("`snapsift audit` on the cleaned image:");
    for line in audited.checklist() {
        println!("  {line}");
    }
    let (right, total, problems) = audit::check_cleaned(&audited);
    Ok(Cleaned {
        audit: audited,
        right,
        total,
        problems,
    })
}

/// Builds the planted image on a file system of `kind`, scans it with and without the file
/// pass, and checks every planted secret; prints each plant's verdict and the other findings.
fn check_planted(
    dir: &Path,
    rootfs: &Path,
    snapsift: &Path,
    kind: FsKind,
    keep: bool,
) -> Result<Checked> {
    let planted_disk = dir.join(format!("planted-{kind:?}.img").to_lowercase());
    println!();
    println!("== {}: building {}", kind.name(), display(&planted_disk));
    let started = Instant::now();
    let (plants, unclean) = build_disk(rootfs, &planted_disk, dir, kind, |stage| {
        let plants = plant_tree(stage)?;
        let unclean = audit::plant_unclean(stage, dir)?;
        let mut deleted: Vec<String> = plants
            .iter()
            .filter(|p| p.state == "deleted")
            .map(|p| p.path.clone())
            .collect();
        deleted.extend(unclean.deleted.iter().cloned());
        Ok(((plants, unclean), deleted))
    })?;
    let build_seconds = started.elapsed().as_secs_f64();
    let full = findings::scan(snapsift, &planted_disk, &[])?;
    let sweep = findings::scan(snapsift, &planted_disk, &["--no-file-pass"])?;

    println!();
    println!("| scan ({}) | seconds | findings |", kind.name());
    println!("|---|---:|---:|");
    for (name, s) in [
        ("planted image, sweep and file pass", &full),
        ("planted image, sweep only (--no-file-pass)", &sweep),
    ] {
        println!("| {name} | {:.2} | {} |", s.seconds, s.findings.len());
    }
    println!();
    println!("Planted secrets on {} ({}):", kind.name(), plants.len());
    let mut problems = Vec::new();
    let mut right = 0;
    let mut extra_copies = 0;
    for plant in &plants {
        let verdict = check_plant(plant, &full.findings, &planted_disk, kind)?;
        let in_sweep = sweep
            .findings
            .iter()
            .filter(|f| f["secret"] == plant.secret.as_str())
            .count();
        let (path, state) = expected(plant, kind);
        let copies = full
            .findings
            .iter()
            .filter(|f| f["secret"] == plant.secret.as_str())
            .count();
        extra_copies += copies.saturating_sub(1);
        let expect = if (path.as_str(), state) == (plant.path.as_str(), plant.state) {
            String::new()
        } else {
            format!(", expected as {path} [{state}]")
        };
        println!(
            "  {:<26} {:<75} {} (findings: {copies}{expect}; sweep only: {})",
            plant.rule,
            format!("{} [{}]", plant.path, plant.state),
            if verdict.is_empty() { "ok" } else { "WRONG" },
            if in_sweep > 0 { "found" } else { "missed" }
        );
        for problem in &verdict {
            println!("      {problem}");
        }
        right += usize::from(verdict.is_empty());
        problems.extend(verdict);
    }
    let planted_secrets: Vec<&str> = plants
        .iter()
        .flat_map(|p| {
            std::iter::once(p.secret.as_str()).chain(p.pair.as_ref().map(|x| x.secret.as_str()))
        })
        .collect();
    let others: Vec<Value> = full
        .findings
        .iter()
        .filter(|f| !planted_secrets.contains(&f["secret"].as_str().unwrap_or("")))
        .cloned()
        .collect();
    println!();
    println!(
        "Findings in the planted image on {} besides the planted secrets ({}):",
        kind.name(),
        others.len()
    );
    println!();
    let other_rows = findings::rows("debian+planted", &others, |f| why(f, rootfs));
    findings::print_table(&other_rows.iter().collect::<Vec<_>>());
    let (audited, audit_right, audit_total) =
        audit_planted(snapsift, &planted_disk, &unclean, kind, &mut problems)?;
    if !keep {
        let _ = fs::remove_file(&planted_disk);
    }
    Ok(Checked {
        right,
        total: plants.len(),
        findings: full.findings.len(),
        extra_copies,
        build_seconds,
        scan_seconds: full.seconds,
        sweep_seconds: sweep.seconds,
        audit: audited,
        audit_right,
        audit_total,
        problems,
    })
}

/// Audits the planted image on `kind` and checks the leftovers' evidence (adding to
/// `problems`); returns the audit and how many pieces of evidence were right, of how many.
fn audit_planted(
    snapsift: &Path,
    disk: &Path,
    unclean: &Unclean,
    kind: FsKind,
    problems: &mut Vec<String>,
) -> Result<(audit::Audited, usize, usize)> {
    let audited = audit::audit(snapsift, disk)?;
    println!();
    println!(
        "`snapsift audit` on the planted image on {} ({:.2} s):",
        kind.name(),
        audited.seconds
    );
    for line in audited.checklist() {
        println!("  {line}");
    }
    println!("The leftovers of an unclean instance:");
    let (right, total, found) = audit::check_unclean(&audited, unclean, kind);
    problems.extend(found);
    Ok((audited, right, total))
}

/// Where and how a plant must be reported on a file system of `kind`: at its path and state,
/// except a deleted file on a file system that keeps no record of it (see
/// [`FsKind::keeps_deleted_files`]), whose bytes are then free space with no path.
fn expected(plant: &Plant, kind: FsKind) -> (String, &'static str) {
    if plant.state == "deleted" && !kind.keeps_deleted_files() {
        ("(unallocated)".into(), "unallocated")
    } else {
        (plant.path.clone(), plant.state)
    }
}

/// What is wrong with how `findings` report `plant` on a file system of `kind` (nothing when
/// it is right): the secret is reported once, by its rule, at its path and state (see
/// [`expected`]); on a file system that keeps copies (see [`FsKind::keeps_copies`]) each
/// further finding is another copy, at the same path and state or in free space with no path.
/// A paired secret is reported as one finding of the ID's rule whose `pair` names the secret
/// half (its rule, value and disk offset), and the secret half is not reported on its own.
fn check_plant(
    plant: &Plant,
    findings: &[Value],
    disk: &Path,
    kind: FsKind,
) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let what = format!("{} at {}", plant.rule, plant.path);
    let (path, state) = expected(plant, kind);
    let found: Vec<&Value> = findings
        .iter()
        .filter(|f| f["secret"] == plant.secret.as_str())
        .collect();
    let is = |f: &Value, path: &str, state: &str| {
        f["rule"] == plant.rule && findings::path_of(f) == path && f["location"]["state"] == state
    };
    let finding = match found.as_slice() {
        [f] => *f,
        [first, ..] if kind.keeps_copies() => {
            let stray: Vec<String> = found
                .iter()
                .filter(|f| !is(f, &path, state) && !is(f, "(unallocated)", "unallocated"))
                .map(|f| format!("{} ({})", findings::path_of(f), f["location"]["state"]))
                .collect();
            if !stray.is_empty() {
                problems.push(format!(
                    "{what}: copies reported elsewhere than at {path} or in free space: {}",
                    stray.join(", ")
                ));
            }
            found
                .iter()
                .copied()
                .find(|f| is(f, &path, state))
                .unwrap_or(first)
        }
        other => {
            problems.push(format!("{what}: found {} times, not once", other.len()));
            return Ok(problems);
        }
    };
    if !is(finding, &path, state) {
        problems.push(format!(
            "{what}: reported as {} at {} ({}), expected at {path} ({state})",
            finding["rule"],
            findings::path_of(finding),
            finding["location"]["state"]
        ));
    }
    let Some(pair) = &plant.pair else {
        return Ok(problems);
    };
    let secret_shown = findings::redact(&pair.secret);
    let reported = &finding["pair"];
    if reported.is_null() {
        problems.push(format!(
            "{what}: the finding has no `pair` field; expected \
             \"pair\": {{\"rule\": \"{}\", \"secret\": <the planted {secret_shown}>, \"offset\": <its disk offset>}}",
            pair.rule
        ));
    } else {
        if reported["rule"] != pair.rule {
            problems.push(format!(
                "{what}: pair.rule is {}, expected \"{}\"",
                reported["rule"], pair.rule
            ));
        }
        if reported["secret"] != pair.secret.as_str() {
            problems.push(format!(
                "{what}: pair.secret is {}, expected the planted {secret_shown}",
                reported["secret"]
                    .as_str()
                    .map_or_else(|| reported["secret"].to_string(), findings::redact)
            ));
        }
        // The secret half lies on the disk once, in the file: that is the offset to report.
        let offsets = locate::find_all(disk, &[pair.secret.as_bytes()])?.remove(0);
        if let [offset] = offsets.as_slice()
            && reported["offset"] != *offset
        {
            problems.push(format!(
                "{what}: pair.offset is {}, expected {offset} (where the secret half is on the disk)",
                reported["offset"]
            ));
        }
    }
    let separate: Vec<&Value> = findings
        .iter()
        .filter(|f| f["secret"] == pair.secret.as_str())
        .collect();
    if !separate.is_empty() {
        problems.push(format!(
            "{what}: the secret half ({secret_shown}) is also reported on its own {} time(s), as {}",
            separate.len(),
            separate
                .iter()
                .map(|f| f["rule"].to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(problems)
}

/// Builds the stock image in `target/debian/stock.img`, scans it and returns its findings as
/// table rows (for `cargo xtask stock`).
pub fn measure_stock(snapsift: &Path, keep: bool) -> Result<findings::Measured> {
    let dir = workspace::target_dir().join("debian");
    fs::create_dir_all(&dir)?;
    let rootfs = ensure_rootfs(&dir)?;
    stock_in(&dir, &rootfs, snapsift, keep)
}

/// Builds the stock image from `rootfs` in `dir` and scans it.
fn stock_in(dir: &Path, rootfs: &Path, snapsift: &Path, keep: bool) -> Result<findings::Measured> {
    let disk = dir.join("stock.img");
    build_disk(rootfs, &disk, dir, FsKind::Ext4, |_| Ok(((), Vec::new())))?;
    let scan = findings::scan(snapsift, &disk, &[])?;
    let (files, tree_bytes) = findings::count_files(rootfs)?;
    let disk_bytes = fs::metadata(&disk)?.len();
    if !keep {
        let _ = fs::remove_file(&disk);
    }
    Ok(findings::Measured {
        name: "debian",
        description: format!("Debian {SUITE} debootstrap root, ext4 on GPT"),
        disk_bytes,
        files,
        tree_bytes,
        seconds: scan.seconds,
        rows: findings::rows("debian", &scan.findings, |f| why(f, rootfs)),
    })
}

/// A first guess at why `finding` is in the Debian image: the generic hints, and the package
/// that installed the file (from dpkg's file lists in `rootfs`).
fn why(finding: &Value, rootfs: &Path) -> String {
    let file = findings::file_path(finding);
    let host = file.map(|p| rootfs.join(p.trim_start_matches('/')));
    let mut hints = findings::generic_hints(finding, host.as_deref());
    if let Some(file) = file {
        match owning_package(rootfs, file) {
            Some(package) => hints.push(format!("file of package {package}")),
            None => hints.push("file of no package (made at install time)".into()),
        }
    }
    hints.join("; ")
}

/// The package whose dpkg file list (`var/lib/dpkg/info/*.list` in `rootfs`) names `path`,
/// allowing for the merged /usr (a list says /bin/x, the file system has /usr/bin/x).
fn owning_package(rootfs: &Path, path: &str) -> Option<String> {
    let mut names = vec![path.to_owned()];
    if let Some(rest) = path.strip_prefix("/usr")
        && ["/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/"]
            .iter()
            .any(|d| rest.starts_with(d))
    {
        names.push(rest.to_owned());
    }
    let info = rootfs.join("var/lib/dpkg/info");
    let mut lists: Vec<PathBuf> = fs::read_dir(&info)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "list"))
        .collect();
    lists.sort();
    for list in lists {
        let Ok(text) = fs::read_to_string(&list) else {
            continue;
        };
        if text.lines().any(|l| names.iter().any(|n| n == l)) {
            let stem = list.file_stem()?.to_string_lossy().into_owned();
            return Some(stem.split(':').next().unwrap_or(&stem).to_owned());
        }
    }
    None
}

/// The cached debootstrap root, made if missing.
fn ensure_rootfs(dir: &Path) -> Result<PathBuf> {
    let rootfs = dir.join("rootfs");
    if rootfs.join("etc/debian_version").exists() {
        return Ok(rootfs);
    }
    let partial = dir.join("rootfs.partial");
    let _ = fs::remove_dir_all(&partial);
    println!("debootstrap {SUITE} into {} (once)", display(&partial));
    run_tool(
        Command::new("debootstrap")
            .arg(SUITE)
            .arg(&partial)
            .arg("http://deb.debian.org/debian"),
    )
    .context("debootstrap needs root, the debootstrap package and deb.debian.org")?;
    fs::rename(&partial, &rootfs)?;
    Ok(rootfs)
}

/// Copies `rootfs` to a staging tree, lets `plant` add to it (returning what it planted and
/// the paths to delete once the file system is made), and builds a GPT disk with the tree in
/// a file system of `kind`, those paths deleted after the file system was made.
fn build_disk<T>(
    rootfs: &Path,
    disk: &Path,
    dir: &Path,
    kind: FsKind,
    plant: impl FnOnce(&Path) -> Result<(T, Vec<String>)>,
) -> Result<T> {
    let stage = dir.join("stage");
    let _ = fs::remove_dir_all(&stage);
    run_tool(Command::new("cp").arg("-a").arg(rootfs).arg(&stage))?;
    let (planted, deleted) = plant(&stage)?;
    let size = (tree_size(&stage)? * 2)
        .next_multiple_of(64 * MIB)
        .max(512 * MIB);
    let names = Names {
        label: "debian-root",
        fs_uuid: "5e1f7a2b-9c3d-4e8f-a1b2-c3d4e5f60718",
        disk_guid: "0c6b2a1e-4f3d-4a5b-9c8d-7e6f5a4b3c2d",
        partition_guid: "1d7c3b2f-5a4e-4b6c-8d9e-0f1a2b3c4d5e",
    };
    kind.make_disk(&stage, &deleted, disk, size, &names, dir)?;
    fs::remove_dir_all(&stage)?;
    Ok(planted)
}

/// Bytes of regular files under `dir`.
fn tree_size(dir: &Path) -> Result<u64> {
    let output = run_tool(Command::new("du").args(["-sb"]).arg(dir))?;
    let text = String::from_utf8(output.stdout)?;
    text.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .context("du printed no size")
}

#[cfg(test)]
mod tests {
    use super::plant::{ALIBABA_SECRET, Half};
    use super::*;

    /// The pair check accepts the shape the scanner is to report and names what is missing.
    #[test]
    fn paired_plants_are_checked() {
        let dir = std::env::temp_dir().join(format!("xtask-pair-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let disk = dir.join("disk");
        let mut bytes = vec![0u8; 4096];
        bytes[1000..1030].copy_from_slice(b"abcdefghijklmnopqrstuvwxyz0123");
        fs::write(&disk, &bytes).unwrap();
        let plant = Plant {
            rule: "alibaba.access-key-id",
            secret: "LTAI0123456789abcdefghij".into(),
            path: "/root/.aliyun/config.json".into(),
            state: "allocated",
            pair: Some(Half {
                rule: ALIBABA_SECRET,
                secret: "abcdefghijklmnopqrstuvwxyz0123".into(),
            }),
        };
        let finding = |pair: Value| {
            serde_json::json!({"rule": "alibaba.access-key-id", "secret": "LTAI0123456789abcdefghij",
                "location": {"path": "/root/.aliyun/config.json", "state": "allocated"}, "pair": pair})
        };
        let good = finding(serde_json::json!({"rule": ALIBABA_SECRET,
            "secret": "abcdefghijklmnopqrstuvwxyz0123", "offset": 1000}));
        assert!(
            check_plant(&plant, &[good], &disk, FsKind::Ext4)
                .unwrap()
                .is_empty()
        );

        let unpaired = finding(Value::Null);
        let separate = serde_json::json!({"rule": ALIBABA_SECRET,
            "secret": "abcdefghijklmnopqrstuvwxyz0123", "location": {}});
        let problems = check_plant(&plant, &[unpaired, separate], &disk, FsKind::Ext4).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("no `pair` field"));
        assert!(problems[1].contains("reported on its own"));

        let wrong =
            finding(serde_json::json!({"rule": ALIBABA_SECRET, "secret": "x", "offset": 7}));
        let problems = check_plant(&plant, &[wrong], &disk, FsKind::Ext4).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    /// On Btrfs, further copies of a secret (the DUP mirror of a leaf, stale leaves in free
    /// space) are accepted at the plant's path or in free space, nowhere else; elsewhere one
    /// finding is expected. A deleted file is expected in free space with no path on XFS.
    #[test]
    fn copies_and_deleted_files_follow_the_file_system() {
        let disk = Path::new("/nonexistent");
        let plant = Plant {
            rule: "alibaba.access-key-id",
            secret: "LTAI0123456789abcdefghij".into(),
            path: "/etc/app/config.yaml".into(),
            state: "allocated",
            pair: None,
        };
        let at = |path: Option<&str>, state: &str| {
            serde_json::json!({"rule": "alibaba.access-key-id", "secret": "LTAI0123456789abcdefghij",
                "location": {"path": path, "state": state}})
        };
        let copies = [
            at(Some("/etc/app/config.yaml"), "allocated"),
            at(None, "unallocated"),
            at(Some("/etc/app/config.yaml"), "allocated"),
        ];
        assert!(
            check_plant(&plant, &copies, disk, FsKind::Btrfs)
                .unwrap()
                .is_empty()
        );
        let problems = check_plant(&plant, &copies, disk, FsKind::Ext4).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("found 3 times"));
        let astray = [
            at(Some("/etc/app/config.yaml"), "allocated"),
            at(Some("/etc/other"), "allocated"),
        ];
        let problems = check_plant(&plant, &astray, disk, FsKind::Btrfs).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("/etc/other"));
        let only_free = [at(None, "unallocated"), at(None, "unallocated")];
        let problems = check_plant(&plant, &only_free, disk, FsKind::Btrfs).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");

        let deleted = Plant {
            path: "/tmp/deploy.sh".into(),
            state: "deleted",
            ..plant
        };
        let free = [at(None, "unallocated")];
        assert!(
            check_plant(&deleted, &free, disk, FsKind::Xfs)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            check_plant(&deleted, &free, disk, FsKind::Ext4)
                .unwrap()
                .len(),
            1
        );
        let named = [at(Some("/tmp/deploy.sh"), "deleted")];
        assert!(
            check_plant(&deleted, &named, disk, FsKind::Ext4)
                .unwrap()
                .is_empty()
        );
    }
}
