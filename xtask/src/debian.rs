//! `cargo xtask debian`: a real Debian root filesystem, with and without a planted tree of
//! secrets, scanned by snapsift; checks that every planted secret is reported once, at its
//! right path (with its archive members), and lists everything else the scan reports.
//!
//! The root filesystem is made by `debootstrap bookworm` (as root, with network access to
//! deb.debian.org) once and cached in target/debian/rootfs. Each run copies it, plants the
//! tree (generated secrets: an SSH key, cloud keys in a CLI profile and in shell history, a
//! connection string in a config, and secrets only the file pass reaches: in a rotated gzip
//! log, a jar, a tar.gz backup, an xz dump, a UTF-16 PowerShell history, and a deleted
//! script), builds a GPT disk with the tree in an ext4 partition, and scans it three ways:
//! the stock image, the planted image with the file pass, and the planted image without it.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use crate::image::{self, Ext4, GptDisk, MIB};
use crate::keys::RsaKey;
use crate::rng::Prng;
use crate::secrets;
use crate::workspace::{self, display, run_tool};

/// The Debian release debootstrap installs.
const SUITE: &str = "bookworm";
/// Where the partition starts on the disk.
const PARTITION_START: u64 = MIB;

/// One secret planted in the tree.
struct Plant {
    rule: &'static str,
    secret: String,
    /// The path snapsift must report: the file, then `!/member` for each archive member.
    path: String,
    /// The state snapsift must report.
    state: &'static str,
}

/// Runs the measurement.
pub fn run(keep: bool) -> Result<()> {
    let dir = workspace::target_dir().join("debian");
    fs::create_dir_all(&dir)?;
    let rootfs = ensure_rootfs(&dir)?;
    let snapsift = workspace::build_snapsift()?;

    let stock = dir.join("stock.img");
    build_disk(&rootfs, &stock, &dir, |_| Ok(Vec::new()))?;
    let planted_disk = dir.join("planted.img");
    let plants = build_disk(&rootfs, &planted_disk, &dir, plant_tree)?;

    let stock_scan = scan(&snapsift, &stock, &[])?;
    let full = scan(&snapsift, &planted_disk, &[])?;
    let sweep = scan(&snapsift, &planted_disk, &["--no-file-pass"])?;

    println!();
    println!(
        "Debian {SUITE} root filesystem ({} of files), GPT disk of {}",
        workspace::bytes(tree_size(&rootfs)?),
        workspace::bytes(fs::metadata(&stock)?.len())
    );
    println!();
    println!("| scan | seconds | findings |");
    println!("|---|---:|---:|");
    for (name, s) in [
        ("stock image", &stock_scan),
        ("planted image, sweep and file pass", &full),
        ("planted image, sweep only (--no-file-pass)", &sweep),
    ] {
        println!("| {name} | {:.2} | {} |", s.seconds, s.findings.len());
    }

    println!();
    println!("Planted secrets ({}):", plants.len());
    let mut wrong = 0;
    for plant in &plants {
        let found: Vec<&Value> = full
            .findings
            .iter()
            .filter(|f| f["secret"] == plant.secret.as_str())
            .collect();
        let verdict = match found.as_slice() {
            [f] if f["rule"] == plant.rule
                && path_of(f) == plant.path
                && f["location"]["state"] == plant.state =>
            {
                "ok".to_owned()
            }
            [f] => format!(
                "WRONG: {} {} ({})",
                f["rule"],
                path_of(f),
                f["location"]["state"]
            ),
            other => format!("WRONG: found {} times", other.len()),
        };
        if verdict != "ok" {
            wrong += 1;
        }
        let in_sweep = sweep
            .findings
            .iter()
            .filter(|f| f["secret"] == plant.secret.as_str())
            .count();
        println!(
            "  {:<26} {:<75} {} (sweep only: {})",
            plant.rule,
            format!("{} [{}]", plant.path, plant.state),
            verdict,
            if in_sweep > 0 { "found" } else { "missed" }
        );
    }
    let planted_secrets: Vec<&str> = plants.iter().map(|p| p.secret.as_str()).collect();
    let others: Vec<&Value> = full
        .findings
        .iter()
        .filter(|f| !planted_secrets.contains(&f["secret"].as_str().unwrap_or("")))
        .collect();
    println!();
    println!(
        "Findings in the stock image ({}), and besides the planted secrets ({}):",
        stock_scan.findings.len(),
        others.len()
    );
    let mut by_path: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in stock_scan.findings.iter().chain(others.iter().copied()) {
        by_path
            .entry(path_of(f))
            .or_default()
            .push(f["rule"].as_str().unwrap_or("?").to_owned());
    }
    for (path, rules) in &by_path {
        println!("  {path}: {}", rules.join(", "));
    }
    if !keep {
        for disk in [&stock, &planted_disk] {
            let _ = fs::remove_file(disk);
        }
    }
    ensure!(
        wrong == 0,
        "{wrong} planted secrets were not reported right"
    );
    Ok(())
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
/// which paths to delete after the filesystem is made), and builds a GPT disk with the tree
/// in an ext4 partition.
fn build_disk(
    rootfs: &Path,
    disk: &Path,
    dir: &Path,
    plant: impl FnOnce(&Path) -> Result<Vec<Plant>>,
) -> Result<Vec<Plant>> {
    let stage = dir.join("stage");
    let _ = fs::remove_dir_all(&stage);
    run_tool(Command::new("cp").arg("-a").arg(rootfs).arg(&stage))?;
    let plants = plant(&stage)?;
    let size = (tree_size(&stage)? * 2)
        .next_multiple_of(64 * MIB)
        .max(512 * MIB);
    let fs_image = dir.join("fs.img");
    Ext4 {
        label: "debian-root",
        uuid: "5e1f7a2b-9c3d-4e8f-a1b2-c3d4e5f60718",
        size,
        fake_time: None,
    }
    .make(&fs_image, &stage)?;
    let deletions: Vec<String> = plants
        .iter()
        .filter(|p| p.state == "deleted")
        .map(|p| format!("rm {}", p.path))
        .collect();
    if !deletions.is_empty() {
        image::debugfs(&fs_image, &deletions, None)?;
    }
    GptDisk {
        size: size + 2 * MIB,
        disk_guid: "0c6b2a1e-4f3d-4a5b-9c8d-7e6f5a4b3c2d",
        partition_guid: "1d7c3b2f-5a4e-4b6c-8d9e-0f1a2b3c4d5e",
        partition_name: "debian-root",
        partition_start: PARTITION_START,
        partition_size: size,
    }
    .make(disk)?;
    image::dd_into(&fs_image, disk, PARTITION_START)?;
    fs::remove_file(&fs_image)?;
    fs::remove_dir_all(&stage)?;
    Ok(plants)
}

/// Plants the tree of secrets into `root`.
fn plant_tree(root: &Path) -> Result<Vec<Plant>> {
    let mut rng = Prng::new(0xdeb1);
    let mut plants = Vec::new();
    let put = |path: &str, bytes: &[u8]| -> Result<PathBuf> {
        let host = root.join(path.trim_start_matches('/'));
        write_file(&host, bytes)?;
        Ok(host)
    };
    let plain = |rule, secret: String, path: &str| Plant {
        rule,
        secret,
        path: path.into(),
        state: "allocated",
    };

    // Plain files the sweep reads as they are.
    let key = RsaKey::generate(&mut rng, 2048).pkcs1_pem();
    put("/root/.ssh/id_rsa", key.as_bytes())?;
    plants.push(plain(
        "private-key.rsa",
        key.trim_end().into(),
        "/root/.ssh/id_rsa",
    ));
    let aws = secrets::aws_key_id(&mut rng, "AKIA");
    put(
        "/root/.aws/credentials",
        format!(
            "[default]\naws_access_key_id = {aws}\naws_secret_access_key = {}\n",
            secrets::aws_secret_key(&mut rng)
        )
        .as_bytes(),
    )?;
    plants.push(plain("aws.access-key-id", aws, "/root/.aws/credentials"));
    let ltai = secrets::alibaba_key_id(&mut rng, 24);
    put(
        "/home/deploy/.bash_history",
        format!("ls\nexport ALIBABA_CLOUD_ACCESS_KEY_ID={ltai}\naliyun ecs DescribeInstances\n")
            .as_bytes(),
    )?;
    plants.push(plain(
        "alibaba.access-key-id",
        ltai,
        "/home/deploy/.bash_history",
    ));
    let uri = secrets::connection_uri(&mut rng);
    put(
        "/etc/app/config.yaml",
        format!("db:\n  url: {uri}\n").as_bytes(),
    )?;
    plants.push(plain(
        "connection-uri.password",
        uri,
        "/etc/app/config.yaml",
    ));

    // Only the file pass reads these.
    let log_key = secrets::aws_key_id(&mut rng, "AKIA");
    let log = log_text(&mut rng, &format!("using access key {log_key}"));
    let host = put("/var/log/app/app.log.2", &log)?;
    run_tool(Command::new("gzip").arg("-9").arg(&host))?;
    plants.push(plain(
        "aws.access-key-id",
        log_key,
        "/var/log/app/app.log.2.gz",
    ));

    let jar_key = secrets::alibaba_key_id(&mut rng, 24);
    let work = root.join("tmp/.plant-work");
    write_file(
        &work.join("jar/BOOT-INF/classes/application.properties"),
        &log_text(&mut rng, &format!("aliyun.access-key-id={jar_key}")),
    )?;
    fs::create_dir_all(root.join("opt/billing"))?;
    run_tool(
        Command::new("zip")
            .arg("-qr")
            .arg(root.join("opt/billing/billing.jar"))
            .arg("BOOT-INF")
            .current_dir(work.join("jar")),
    )?;
    plants.push(plain(
        "alibaba.access-key-id",
        jar_key,
        "/opt/billing/billing.jar!/BOOT-INF/classes/application.properties",
    ));

    let history_key = secrets::aws_key_id(&mut rng, "AKIA");
    write_file(
        &work.join("home/ops/.bash_history"),
        &log_text(&mut rng, &format!("export AWS_ACCESS_KEY_ID={history_key}")),
    )?;
    fs::create_dir_all(root.join("var/backups"))?;
    run_tool(
        Command::new("tar")
            .arg("czf")
            .arg(root.join("var/backups/home.tar.gz"))
            .arg("home")
            .current_dir(&work),
    )?;
    plants.push(plain(
        "aws.access-key-id",
        history_key,
        "/var/backups/home.tar.gz!/home/ops/.bash_history",
    ));

    let dump_uri = secrets::connection_uri(&mut rng);
    let host = put(
        "/var/backups/db.sql",
        &log_text(&mut rng, &format!("-- source: {dump_uri}")),
    )?;
    run_tool(Command::new("xz").arg(&host))?;
    plants.push(plain(
        "connection-uri.password",
        dump_uri,
        "/var/backups/db.sql.xz",
    ));

    let ps_key = secrets::aws_key_id(&mut rng, "AKIA");
    let ps =
        format!("\u{feff}Get-ChildItem\r\n$env:AWS_ACCESS_KEY_ID = \"{ps_key}\"\r\naws s3 ls\r\n");
    let utf16: Vec<u8> = ps.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let ps_path = "/srv/win/Users/admin/AppData/Roaming/Microsoft/Windows/PowerShell/PSReadLine/ConsoleHost_history.txt";
    put(ps_path, &utf16)?;
    plants.push(plain("aws.access-key-id", ps_key, ps_path));

    let deleted_key = secrets::alibaba_key_id(&mut rng, 24);
    put(
        "/tmp/deploy.sh",
        format!("#!/bin/sh\nexport ALIBABA_CLOUD_ACCESS_KEY_ID={deleted_key}\n").as_bytes(),
    )?;
    plants.push(Plant {
        rule: "alibaba.access-key-id",
        secret: deleted_key,
        path: "/tmp/deploy.sh".into(),
        state: "deleted",
    });

    fs::remove_dir_all(&work)?;
    Ok(plants)
}

/// Writes `bytes` to `path`, creating its directories.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(path, bytes)?;
    Ok(())
}

/// About 200 KiB of log lines (compressible, as real logs are) with `secret_line` among them.
fn log_text(rng: &mut Prng, secret_line: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let at = rng.range(500, 1500);
    for i in 0..2000u64 {
        if i == at {
            out.extend_from_slice(secret_line.as_bytes());
            out.push(b'\n');
        }
        let request = rng.below(100_000);
        out.extend_from_slice(
            format!(
                "2026-11-23T10:{:02}:{:02}Z INFO request {request} served in {} ms\n",
                i / 60 % 60,
                i % 60,
                rng.below(900)
            )
            .as_bytes(),
        );
    }
    out
}

/// A scan's findings and time.
struct ScanResult {
    seconds: f64,
    findings: Vec<Value>,
}

/// Scans `disk` with JSONL output.
fn scan(snapsift: &Path, disk: &Path, extra: &[&str]) -> Result<ScanResult> {
    let started = Instant::now();
    let output = Command::new(snapsift)
        .args(["scan", "--quiet", "--format", "jsonl"])
        .args(extra)
        .arg(disk)
        .output()
        .with_context(|| format!("running {}", display(snapsift)))?;
    let seconds = started.elapsed().as_secs_f64();
    if !matches!(output.status.code(), Some(0 | 1)) {
        bail!(
            "snapsift failed on {}: {}",
            display(disk),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let findings = String::from_utf8(output.stdout)?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<Vec<Value>, _>>()?;
    Ok(ScanResult { seconds, findings })
}

/// A finding's path with its archive members, or its state where it has no path.
fn path_of(finding: &Value) -> String {
    let location = &finding["location"];
    let Some(path) = location["path"].as_str() else {
        return format!("({})", location["state"].as_str().unwrap_or("?"));
    };
    let mut path = path.to_owned();
    for layer in location["container"].as_array().into_iter().flatten() {
        if let Some(member) = layer["member"].as_str() {
            path.push_str("!/");
            path.push_str(member);
        }
    }
    path
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
