//! `--shard K/N`: N processes, each scanning its share of one image, find together exactly
//! what one full scan finds: the same findings (every field), none twice, on raw, qcow2, VHDX
//! and VMDK copies of one disk, for several N.
//!
//! The disk has an ext4 partition whose files need the file pass (a tar.gz, UTF-16 text, a
//! gzip file deleted), an AWS key ID with its secret nearby, and, past the partition, text
//! with a secret across every 4 KiB boundary: shards are cut on 4 KiB boundaries, so every
//! cut that falls there splits a secret (and some an ID from its secret).

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use snapsift_testkit::{
    Secrets, debugfs_rm, gpt_disk_with_root, mkfs_ext4, qemu_convert, sh, workdir, write_at,
};

use crate::common::*;

const MIB: u64 = 1 << 20;

/// Builds the disk; returns its raw image.
fn disk(dir: &tempfile::TempDir) -> PathBuf {
    let mut s = Secrets::new(90);
    let tree = path_in(dir, "tree");
    let work = path_in(dir, "work");
    fs::create_dir_all(&work).unwrap();
    write_tree(
        &tree,
        &[
            ("etc/app.conf", format!("db = {}\n", s.postgres_uri())),
            (
                "root/.aws/credentials",
                format!(
                    "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                    s.aws_key_id(),
                    s.alnum(40)
                ),
            ),
            ("tmp/old.sql", format!("-- {}\n", s.jdbc_mysql_uri())),
            ("work-notes.txt", format!("key: {}\r\n", s.alibaba_key_id())),
        ],
    );
    write_tree(
        &work,
        &[(
            "home/ops/.bash_history",
            format!("export AWS_ACCESS_KEY_ID={}\n", s.aws_key_id()),
        )],
    );
    fs::create_dir_all(tree.join("backup")).unwrap();
    sh(
        &work,
        &format!("tar czf {} home", tree.join("backup/home.tar.gz").display()),
    );
    sh(
        &tree,
        "iconv -f UTF-8 -t UTF-16LE work-notes.txt > notes-utf16.txt && rm work-notes.txt && gzip tmp/old.sql",
    );
    let fs_image = path_in(dir, "root.ext4");
    mkfs_ext4(&fs_image, &tree, 16);
    debugfs_rm(&fs_image, "/tmp/old.sql.gz");
    let raw = path_in(dir, "disk.raw");
    gpt_disk_with_root(&raw, &fs_image);

    // Past the partition (which ends at 17 MiB), up to the backup GPT: text with a secret
    // across every 4 KiB boundary, and an ID before some boundaries with its secret after.
    let (start, end) = (17 * MIB + 65536, 24 * MIB - 65536);
    let mut tail = s.filler((end - start) as usize);
    let mut at = 4096 - 30;
    let mut i = 0;
    while at + 200 < tail.len() {
        let text = match i % 4 {
            0 => format!(" {} ", s.aws_key_id()),
            1 => format!(" {} ", s.postgres_uri()),
            2 => format!(" {} ", s.alibaba_key_id()),
            _ => format!(
                "\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                s.aws_key_id(),
                s.alnum(40)
            ),
        };
        tail[at..at + text.len()].copy_from_slice(text.as_bytes());
        at += 4096;
        i += 1;
    }
    write_at(&raw, start, &tail);
    raw
}

/// A finding or coverage object as a sortable string.
fn key(v: &Value) -> String {
    serde_json::to_string(v).unwrap()
}

/// Scans `image` in `n` shards, one process each, and checks that together they are `full`.
fn assert_shards_add_up(image: &Path, n: u64, full: &Scan) {
    let mut union: Vec<String> = Vec::new();
    let mut owned = 0;
    let mut next_start = 0;
    for k in 0..n {
        let shard = format!("{k}/{n}");
        let scan = Scan::run(&[image], &["--shard", &shard]);
        assert!(scan.code <= 1, "{shard}: {}", scan.stderr);
        let coverage = &scan.coverage[0];
        assert_eq!(coverage["shard"]["index"], k, "{coverage}");
        assert_eq!(coverage["shard"]["count"], n);
        assert_eq!(
            coverage["shard"]["start"], next_start,
            "shards tile the disk"
        );
        next_start = coverage["shard"]["end"].as_u64().unwrap();
        assert_eq!(coverage["data_bytes"], full.coverage[0]["data_bytes"]);
        assert_eq!(coverage["complete"], true);
        owned += coverage["shard"]["owned_bytes"].as_u64().unwrap();
        assert_eq!(
            coverage["findings"].as_u64().unwrap(),
            scan.findings.len() as u64
        );
        union.extend(scan.findings.iter().map(key));
    }
    assert_eq!(next_start, full.coverage[0]["disk_size"].as_u64().unwrap());
    assert_eq!(owned, full.coverage[0]["data_bytes"].as_u64().unwrap());
    let mut expected: Vec<String> = full.findings.iter().map(key).collect();
    union.sort();
    expected.sort();
    let missing: Vec<&String> = expected.iter().filter(|f| !union.contains(f)).collect();
    let extra: Vec<&String> = union.iter().filter(|f| !expected.contains(f)).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && union.len() == expected.len(),
        "{} in {n} shards: {} findings, full scan {}\nmissing: {missing:#?}\nextra: {extra:#?}",
        image.display(),
        union.len(),
        expected.len()
    );
}

#[test]
fn shards_together_find_exactly_what_a_full_scan_finds() {
    let dir = workdir();
    let raw = disk(&dir);
    let mut images = vec![raw.clone()];
    for (format, name) in [
        ("qcow2", "disk.qcow2"),
        ("vhdx", "disk.vhdx"),
        ("vmdk", "disk.vmdk"),
    ] {
        let out = path_in(&dir, name);
        qemu_convert(&raw, format, &[], &out);
        images.push(out);
    }
    for image in &images {
        let full = Scan::run(&[image], &[]);
        assert_eq!(full.code, 1, "{}", full.stderr);
        let files: Vec<&str> = full
            .findings
            .iter()
            .filter_map(|f| f["location"]["path"].as_str())
            .collect();
        // The file pass's findings are there to be split: archive member, UTF-16, pair.
        assert!(files.iter().any(|p| p.contains("home.tar.gz")), "{files:?}");
        assert!(
            files.iter().any(|p| p.contains("notes-utf16.txt")),
            "{files:?}"
        );
        assert!(full.findings.iter().any(|f| f.get("pair").is_some()));
        assert!(full.findings.len() > 1000, "{}", full.findings.len());
        for n in [1, 2, 3, 7] {
            assert_shards_add_up(image, n, &full);
        }
    }
}

#[test]
fn the_shard_index_may_come_from_the_environment() {
    let dir = workdir();
    let raw = disk(&dir);
    let by_number = Scan::run(&[&raw], &["--shard", "1/3"]);
    let output = snapsift()
        .args([
            "scan",
            "--quiet",
            "--format",
            "jsonl",
            "--shard",
            "JOB_COMPLETION_INDEX/3",
        ])
        .arg(&raw)
        .env("JOB_COMPLETION_INDEX", "1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(by_number.code));
    let lines: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let expected: Vec<Value> = by_number
        .findings
        .iter()
        .chain(
            &by_number
                .coverage
                .iter()
                .map(|c| serde_json::json!({"coverage": c}))
                .collect::<Vec<_>>(),
        )
        .cloned()
        .collect();
    assert_eq!(lines, expected);

    for (shard, env, message) in [
        ("JOB_COMPLETION_INDEX/3", None, "not set"),
        ("JOB_COMPLETION_INDEX/3", Some("x"), "not a number"),
        ("3/3", None, "below the count"),
        ("1/0", None, "below the count"),
    ] {
        let mut command = snapsift();
        command.args(["scan", "--shard", shard]).arg(&raw);
        command.env_remove("JOB_COMPLETION_INDEX");
        if let Some(value) = env {
            command.env("JOB_COMPLETION_INDEX", value);
        }
        let output = command.output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{shard}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{shard}: {stderr}");
    }
}

/// Scans shard `k` of `n` of `image` into the JSON Lines report `report`.
fn scan_shard(image: &Path, k: u64, n: u64, report: &Path) {
    let (code, stderr) = scan_shard_into(image, k, n, report);
    assert!(code <= 1, "{k}/{n}: {stderr}");
}

#[test]
fn merged_shard_reports_print_what_a_full_scan_prints_in_every_format() {
    let dir = workdir();
    let raw = disk(&dir);
    let qcow2 = path_in(&dir, "disk.qcow2");
    qemu_convert(&raw, "qcow2", &[], &qcow2);
    let reports_dir = workdir();
    let (raw, qcow2) = (raw.to_str().unwrap(), qcow2.to_str().unwrap());
    let n = 3;
    let mut reports = Vec::new();
    for k in 0..n {
        for (name, image) in [("raw", raw), ("qcow2", qcow2)] {
            let report = path_in(&reports_dir, &format!("{name}-{k}.jsonl"));
            scan_shard(Path::new(image), k, n, &report);
            reports.push(report.to_str().unwrap().to_owned());
        }
    }
    // A shard run twice (a retried job) is merged once.
    reports.push(reports[0].clone());
    for format in ["jsonl", "json", "text", "sarif"] {
        for extra in [&[][..], &["--redact"][..]] {
            let mut scan = vec!["scan", "--quiet", "--format", format];
            scan.extend(extra);
            scan.extend([raw, qcow2]);
            let (full_code, full, stderr) = snapsift_run(&scan);
            assert_eq!(full_code, 1, "{stderr}");
            let mut merge = vec!["merge", "--format", format];
            merge.extend(extra);
            merge.extend(reports.iter().map(String::as_str));
            let (code, merged, stderr) = snapsift_run(&merge);
            assert_eq!(code, 1, "{format} {extra:?}: {stderr}");
            assert!(stderr.is_empty(), "{stderr}");
            assert!(
                merged == full,
                "{format} {extra:?}: the merged report differs from the full scan's:\n{}",
                first_difference(&merged, &full)
            );
        }
    }
}

/// The first line where `a` and `b` differ, with its number.
fn first_difference(a: &str, b: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let i = (0..a.len().max(b.len()))
        .find(|&i| a.get(i) != b.get(i))
        .unwrap_or(0);
    format!(
        "line {}:\n  merged: {:?}\n  full:   {:?}",
        i + 1,
        a.get(i),
        b.get(i)
    )
}

#[test]
fn a_merge_with_a_shard_missing_or_a_bad_report_is_an_error() {
    let dir = workdir();
    let raw = disk(&dir);
    let reports_dir = workdir();
    let mut reports = Vec::new();
    for k in [0, 2] {
        let report = path_in(&reports_dir, &format!("{k}.jsonl"));
        scan_shard(&raw, k, 3, &report);
        reports.push(report);
    }
    let args = |format: &str| {
        let mut args = vec!["merge".to_owned(), "--format".into(), format.into()];
        args.extend(reports.iter().map(|r| r.to_str().unwrap().to_owned()));
        args
    };
    let merge = |format: &str| {
        let args = args(format);
        snapsift_run(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let (code, out, stderr) = merge("jsonl");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("shard(s) 1 of 3 missing"), "{stderr}");
    let coverage: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(coverage["coverage"]["complete"], false);
    assert!(
        coverage["coverage"]["error"]
            .as_str()
            .unwrap()
            .contains("shard(s) 1 of 3 missing")
    );
    let (_, text, _) = merge("text");
    assert!(
        text.contains("not scanned: shard(s) 1 of 3 missing"),
        "{text}"
    );

    // Not a report: a clear error naming the file and line, nothing printed.
    let bad = path_in(&reports_dir, "bad.jsonl");
    fs::write(&bad, "{\"coverage\": {}}\nnot json\n").unwrap();
    let (code, out, stderr) = snapsift_run(&["merge", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(
        stderr.contains(&format!("{}, line 2: not JSON", bad.display())),
        "{stderr}"
    );
}

#[test]
fn redacted_shards_and_their_merge_show_no_secret_across_a_cut() {
    // Two shards of a 2 MiB disk of text meet at 1 MiB. On one line across the cut: an AWS
    // secret access key in shard 0, an Alibaba key ID in shard 1 whose context shows the key
    // whole (but not its keyword: no rule finds it there), and whose ID shard 0's context
    // shows.
    let dir = workdir();
    let mut s = Secrets::new(91);
    let (key, id) = (s.alnum(40), s.alibaba_key_id());
    let raw = path_in(&dir, "disk.raw");
    let mut bytes = s.filler(2 * MIB as usize);
    let line = format!("\n{}", line_hiding_a_keyword(&key, &id));
    let at = MIB as usize - 101;
    bytes[at..at + line.len()].copy_from_slice(line.as_bytes());
    fs::write(&raw, bytes).unwrap();
    let raw_arg = raw.to_str().unwrap();

    let shard1 = Scan::run(&[&raw], &["--shard", "1/2"]);
    assert_eq!(shard1.coverage[0]["shard"]["start"], MIB);
    assert!(
        shard1.only(&id)["context"].as_str().unwrap().contains(&key),
        "the context crosses the cut: {:#?}",
        shard1.findings
    );
    assert!(shard1.findings.iter().all(|f| f["secret"] != key.as_str()));

    let reports = workdir();
    let mut plain = Vec::new();
    let mut redacted = Vec::new();
    for k in 0..2 {
        let shard = format!("{k}/2");
        for format in ["text", "jsonl", "json", "sarif"] {
            let (code, out, stderr) = snapsift_run(&[
                "scan", "--quiet", "--format", format, "--shard", &shard, "--redact", raw_arg,
            ]);
            assert_eq!(code, 1, "{stderr}");
            for secret in [&key, &id] {
                let parts = shown_parts(&out, secret);
                assert!(parts.is_empty(), "{shard} {format} shows {parts:?}:\n{out}");
            }
        }
        for (extra, list) in [(&[][..], &mut plain), (&["--redact"][..], &mut redacted)] {
            let report = path_in(&reports, &format!("{k}{}.jsonl", extra.len()));
            let mut args = vec!["scan", "--quiet", "--format", "jsonl", "--shard", &shard];
            args.extend(extra);
            args.extend(["-o", report.to_str().unwrap(), raw_arg]);
            let (code, _, stderr) = snapsift_run(&args);
            assert_eq!(code, 1, "{stderr}");
            list.push(report.to_str().unwrap().to_owned());
        }
    }
    for format in ["text", "jsonl", "json", "sarif"] {
        for (reports, extra) in [
            (&plain, &["--redact"][..]),
            (&redacted, &["--redact"][..]),
            (&redacted, &[][..]),
        ] {
            let mut args = vec!["merge", "--format", format];
            args.extend(extra);
            args.extend(reports.iter().map(String::as_str));
            let (code, out, stderr) = snapsift_run(&args);
            assert_eq!(code, 1, "{stderr}");
            for secret in [&key, &id] {
                let parts = shown_parts(&out, secret);
                assert!(
                    parts.is_empty(),
                    "merge {format} {extra:?} shows {parts:?}:\n{out}"
                );
            }
        }
        // Merged without --redact, the shards' plain reports show them: the checks can fail.
        let mut args = vec!["merge", "--format", format];
        args.extend(plain.iter().map(String::as_str));
        let (_, out, _) = snapsift_run(&args);
        assert!(out.contains(&key) && out.contains(&id), "{format}: {out}");
    }
}
