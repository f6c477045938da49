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
//! script), builds a GPT disk with the tree in an ext4 partition, and scans it three ways:
//! the stock image, the planted image with the file pass, and the planted image without it.
//!
//! Two planted credentials have both halves next to each other (`~/.aws/credentials` and the
//! aliyun CLI's `~/.aliyun/config.json`): each must be reported as one finding of the ID's rule
//! whose `pair` field names the secret half (`{"rule", "secret", "offset"}`), and the secret half
//! must not be reported on its own.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use crate::image::{self, Ext4, GptDisk, MIB};
use crate::keys::RsaKey;
use crate::rng::Prng;
use crate::workspace::{self, display, run_tool};
use crate::{locate, secrets, stock};

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
    /// For an ID whose secret half sits next to it: the half snapsift must pair with it.
    pair: Option<Half>,
}

/// The secret half of a paired credential.
struct Half {
    /// The id of the rule that finds it.
    rule: &'static str,
    secret: String,
}

/// The rule that finds an Alibaba Cloud AccessKey secret, the half paired with its ID.
const ALIBABA_SECRET: &str = "alibaba.access-key-secret";
/// The rule that finds an AWS secret access key, the half paired with its access key ID.
const AWS_SECRET: &str = "aws.secret-access-key";

/// Runs `cargo xtask debian`: the stock image's findings as a table, then the planted image's
/// check.
pub fn run(keep: bool) -> Result<()> {
    let dir = workspace::target_dir().join("debian");
    fs::create_dir_all(&dir)?;
    let rootfs = ensure_rootfs(&dir)?;
    let snapsift = workspace::build_snapsift()?;

    let stock = stock_in(&dir, &rootfs, &snapsift, keep)?;
    let planted_disk = dir.join("planted.img");
    let plants = build_disk(&rootfs, &planted_disk, &dir, plant_tree)?;
    let full = stock::scan(&snapsift, &planted_disk, &[])?;
    let sweep = stock::scan(&snapsift, &planted_disk, &["--no-file-pass"])?;

    println!();
    stock::print_summary(std::slice::from_ref(&stock));
    println!();
    println!("| scan | seconds | findings |");
    println!("|---|---:|---:|");
    for (name, s) in [
        ("planted image, sweep and file pass", &full),
        ("planted image, sweep only (--no-file-pass)", &sweep),
    ] {
        println!("| {name} | {:.2} | {} |", s.seconds, s.findings.len());
    }
    println!();
    println!("Findings in the stock image ({}):", stock.rows.len());
    println!();
    stock::print_table(&stock.rows.iter().collect::<Vec<_>>());

    println!();
    println!("Planted secrets ({}):", plants.len());
    let mut problems = Vec::new();
    for plant in &plants {
        let verdict = check_plant(plant, &full.findings, &planted_disk)?;
        let in_sweep = sweep
            .findings
            .iter()
            .filter(|f| f["secret"] == plant.secret.as_str())
            .count();
        println!(
            "  {:<26} {:<75} {} (sweep only: {})",
            plant.rule,
            format!("{} [{}]", plant.path, plant.state),
            if verdict.is_empty() { "ok" } else { "WRONG" },
            if in_sweep > 0 { "found" } else { "missed" }
        );
        for problem in &verdict {
            println!("      {problem}");
        }
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
        "Findings in the planted image besides the planted secrets ({}):",
        others.len()
    );
    println!();
    let other_rows = stock::rows("debian+planted", &others, |f| why(f, &rootfs));
    stock::print_table(&other_rows.iter().collect::<Vec<_>>());
    if !keep {
        let _ = fs::remove_file(&planted_disk);
    }
    ensure!(
        problems.is_empty(),
        "{} planted secrets were not reported right:\n{}",
        problems.len(),
        problems.join("\n")
    );
    Ok(())
}

/// What is wrong with how `findings` report `plant` (nothing when it is right): the secret is
/// reported once, by its rule, at its path and state; a paired secret is reported as one finding
/// of the ID's rule whose `pair` names the secret half (its rule, value and disk offset), and the
/// secret half is not reported on its own.
fn check_plant(plant: &Plant, findings: &[Value], disk: &Path) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let what = format!("{} at {}", plant.rule, plant.path);
    let found: Vec<&Value> = findings
        .iter()
        .filter(|f| f["secret"] == plant.secret.as_str())
        .collect();
    let finding = match found.as_slice() {
        [f] => *f,
        other => {
            problems.push(format!("{what}: found {} times, not once", other.len()));
            return Ok(problems);
        }
    };
    if finding["rule"] != plant.rule
        || stock::path_of(finding) != plant.path
        || finding["location"]["state"] != plant.state
    {
        problems.push(format!(
            "{what}: reported as {} at {} ({})",
            finding["rule"],
            stock::path_of(finding),
            finding["location"]["state"]
        ));
    }
    let Some(pair) = &plant.pair else {
        return Ok(problems);
    };
    let secret_shown = stock::redact(&pair.secret);
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
                    .map_or_else(|| reported["secret"].to_string(), stock::redact)
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
pub fn measure_stock(snapsift: &Path, keep: bool) -> Result<stock::Measured> {
    let dir = workspace::target_dir().join("debian");
    fs::create_dir_all(&dir)?;
    let rootfs = ensure_rootfs(&dir)?;
    stock_in(&dir, &rootfs, snapsift, keep)
}

/// Builds the stock image from `rootfs` in `dir` and scans it.
fn stock_in(dir: &Path, rootfs: &Path, snapsift: &Path, keep: bool) -> Result<stock::Measured> {
    let disk = dir.join("stock.img");
    build_disk(rootfs, &disk, dir, |_| Ok(Vec::new()))?;
    let scan = stock::scan(snapsift, &disk, &[])?;
    let (files, tree_bytes) = stock::count_files(rootfs)?;
    let disk_bytes = fs::metadata(&disk)?.len();
    if !keep {
        let _ = fs::remove_file(&disk);
    }
    Ok(stock::Measured {
        name: "debian",
        description: format!("Debian {SUITE} debootstrap root, ext4 on GPT"),
        disk_bytes,
        files,
        tree_bytes,
        seconds: scan.seconds,
        rows: stock::rows("debian", &scan.findings, |f| why(f, rootfs)),
    })
}

/// A first guess at why `finding` is in the Debian image: the generic hints, and the package
/// that installed the file (from dpkg's file lists in `rootfs`).
fn why(finding: &Value, rootfs: &Path) -> String {
    let file = stock::file_path(finding);
    let host = file.map(|p| rootfs.join(p.trim_start_matches('/')));
    let mut hints = stock::generic_hints(finding, host.as_deref());
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
        pair: None,
    };

    // Plain files the sweep reads as they are.
    let key = RsaKey::generate(&mut rng, 2048).pkcs1_pem();
    put("/root/.ssh/id_rsa", key.as_bytes())?;
    plants.push(plain(
        "private-key.rsa",
        key.trim_end().into(),
        "/root/.ssh/id_rsa",
    ));
    // A credential whose halves snapsift reports as one finding of the ID's rule.
    let aws = secrets::aws_key_id(&mut rng, "AKIA");
    let aws_secret = secrets::aws_secret_key(&mut rng);
    put(
        "/root/.aws/credentials",
        format!(
            "[default]\naws_access_key_id = {aws}\naws_secret_access_key = {aws_secret}\n\
             region = eu-central-1\n"
        )
        .as_bytes(),
    )?;
    plants.push(Plant {
        pair: Some(Half {
            rule: AWS_SECRET,
            secret: aws_secret,
        }),
        ..plain("aws.access-key-id", aws, "/root/.aws/credentials")
    });
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
        pair: None,
    });

    // The aliyun CLI's profile file, as `aliyun configure` writes it: another paired credential.
    let aliyun_id = secrets::alibaba_key_id(&mut rng, 24);
    let aliyun_secret = secrets::alibaba_secret(&mut rng);
    put(
        "/root/.aliyun/config.json",
        aliyun_config(&aliyun_id, &aliyun_secret).as_bytes(),
    )?;
    plants.push(Plant {
        pair: Some(Half {
            rule: ALIBABA_SECRET,
            secret: aliyun_secret,
        }),
        ..plain(
            "alibaba.access-key-id",
            aliyun_id,
            "/root/.aliyun/config.json",
        )
    });

    fs::remove_dir_all(&work)?;
    Ok(plants)
}

/// `~/.aliyun/config.json` with one AccessKey profile, laid out as the aliyun CLI writes it
/// (Go's `json.MarshalIndent` with tabs).
fn aliyun_config(id: &str, secret: &str) -> String {
    format!(
        r#"{{
	"current": "default",
	"profiles": [
		{{
			"name": "default",
			"mode": "AK",
			"access_key_id": "{id}",
			"access_key_secret": "{secret}",
			"sts_token": "",
			"ram_role_name": "",
			"ram_role_arn": "",
			"ram_session_name": "",
			"private_key": "",
			"key_pair_name": "",
			"expired_seconds": 0,
			"verified": "",
			"region_id": "cn-hangzhou",
			"output_format": "json",
			"language": "en",
			"site": "",
			"retry_timeout": 0,
			"connect_timeout": 0,
			"retry_count": 0,
			"process_command": ""
		}}
	],
	"meta_path": ""
}}
"#
    )
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
        assert!(check_plant(&plant, &[good], &disk).unwrap().is_empty());

        let unpaired = finding(Value::Null);
        let separate = serde_json::json!({"rule": ALIBABA_SECRET,
            "secret": "abcdefghijklmnopqrstuvwxyz0123", "location": {}});
        let problems = check_plant(&plant, &[unpaired, separate], &disk).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("no `pair` field"));
        assert!(problems[1].contains("reported on its own"));

        let wrong =
            finding(serde_json::json!({"rule": ALIBABA_SECRET, "secret": "x", "offset": 7}));
        let problems = check_plant(&plant, &[wrong], &disk).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
