//! The file pass's limits end to end: archives made with real tar, gzip, zip and zstd in ext4
//! images made by `mkfs.ext4 -d`. Ordinary archives are read whole (a backup whose first
//! member is 50 MB of zeros, tar.gz nested 4 and 8 deep) and the coverage is complete;
//! content a limit cuts (tar.gz nested 11 deep, a nested zip bomb, a zstd window past the
//! limit) is listed in the coverage record's `file_problems` with its file, members and
//! limit, the coverage is incomplete and the exit status 3, in every format and through
//! `snapsift merge`. And a whole-image stream compressed with `zstd --long=31` is scanned.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use snapsift_testkit::{Secrets, debugfs_script, mkfs_ext4, run, sh, workdir};

use crate::common::*;

/// Makes `dir/name.tar.gz` hold, `levels` tar.gz deep, a `secret.txt` with `secret` (with
/// real tar and gzip): `name.tar.gz` holds `l<levels-1>.tar.gz`... down to `l1.tar.gz`, which
/// holds `secret.txt`. Returns the members from the outer file down to the secret.
fn nested_tar_gz(dir: &Path, name: &str, levels: u32, secret: &str) -> Vec<String> {
    let work = dir.join(format!("{name}.work"));
    write_tree(
        &work,
        &[("secret.txt", format!("aws_access_key_id = {secret}\n"))],
    );
    sh(
        &work,
        &format!(
            "tar -czf l1.tar.gz secret.txt && for i in $(seq 2 {levels}); do \
             tar -czf l$i.tar.gz l$((i-1)).tar.gz; done && mv l{levels}.tar.gz ../{name}.tar.gz"
        ),
    );
    fs::remove_dir_all(&work).unwrap();
    let mut members: Vec<String> = (1..levels).rev().map(|l| format!("l{l}.tar.gz")).collect();
    members.push("secret.txt".into());
    members
}

/// `path` with `members`, each after `!/`.
fn with_members(path: &str, members: &[String]) -> String {
    members
        .iter()
        .fold(path.to_owned(), |p, m| format!("{p}!/{m}"))
}

/// An ext4 image of `size_mib` MiB made from `tree`.
fn ext4_of(dir: &Path, tree: &Path, size_mib: u64) -> PathBuf {
    let image = dir.join("fs.img");
    mkfs_ext4(&image, tree, size_mib);
    image
}

#[test]
fn ordinary_archives_are_read_whole_and_the_coverage_is_complete() {
    let dir = workdir();
    let tree = dir.path().join("tree");
    let mut s = Secrets::new(180);

    // A backup whose first member is a preallocated database file: 50 MB of zeros, which
    // gzip makes 50 kB (1000 to 1), then the .env.
    let env = s.aws_key_id();
    write_tree(
        &tree,
        &[("srv/app/.env", format!("AWS_ACCESS_KEY_ID={env}\n"))],
    );
    sh(
        &tree,
        "head -c 50000000 /dev/zero > srv/app/prealloc.db \
         && tar -czf srv/backup.tar.gz -C srv/app prealloc.db .env && rm -r srv/app",
    );
    let deep4 = s.aws_key_id();
    let deep4_members = nested_tar_gz(&tree, "deep4", 4, &deep4);
    let deep8 = s.aws_key_id();
    let deep8_members = nested_tar_gz(&tree, "deep8", 8, &deep8);
    let image = ext4_of(dir.path(), &tree, 16);

    let scan = Scan::run(&[&image], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    assert_eq!(member_path(scan.only(&env)), "/srv/backup.tar.gz!/.env");
    assert_eq!(
        member_path(scan.only(&deep4)),
        with_members("/deep4.tar.gz", &deep4_members)
    );
    assert_eq!(
        member_path(scan.only(&deep8)),
        with_members("/deep8.tar.gz", &deep8_members)
    );
    let coverage = &scan.coverage[0];
    assert_eq!(coverage["complete"], true, "{coverage}");
    assert_eq!(coverage["file_problems"], json!([]), "{coverage}");
    assert!(!scan.stderr.contains("PARTIAL"), "{}", scan.stderr);
}

/// The image of [`content_cut_by_a_limit_is_listed_and_the_scan_is_partial`]: tar.gz nested
/// 11 deep, at a path and without one (its directory entry unlinked), a nested zip bomb, a
/// zstd file whose window is past the limit, and a plain secret. Returns the image, the
/// plain secret and the deep one.
fn image_with_cut_files(dir: &Path) -> (PathBuf, String, String) {
    let tree = dir.join("tree");
    let mut s = Secrets::new(181);
    let plain = s.aws_key_id();
    write_tree(
        &tree,
        &[("etc/app.conf", format!("aws_access_key_id = {plain}\n"))],
    );
    let deep = s.aws_key_id();
    nested_tar_gz(&tree, "deep11", 11, &deep);
    fs::copy(tree.join("deep11.tar.gz"), tree.join("orphan.tar.gz")).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/nested-zip-bomb.sh"
    );
    fs::create_dir_all(tree.join("bombs")).unwrap();
    sh(&tree.join("bombs"), &format!("sh {script}"));
    // 12 MiB of text through `zstd --long=25`, from a pipe: a 32 MiB window.
    let mut long = format!("aws_access_key_id = {}\n", s.aws_key_id()).into_bytes();
    long.extend(s.filler(12 << 20));
    fs::write(dir.join("long.txt"), &long).unwrap();
    sh(
        dir,
        "zstd -q --long=25 -c < long.txt > tree/long.txt.zst && rm long.txt",
    );
    let image = ext4_of(dir, &tree, 32);
    // The orphan: allocated, in no directory.
    debugfs_script(&image, "unlink /orphan.tar.gz\n");
    (image, plain, deep)
}

#[test]
fn content_cut_by_a_limit_is_listed_and_the_scan_is_partial() {
    let dir = workdir();
    let (image, plain, deep) = image_with_cut_files(dir.path());
    let scan = Scan::run(&[&image], &[]);
    assert_eq!(scan.code, 3, "partial, findings or not: {}", scan.stderr);
    assert!(
        scan.stderr
            .contains("PARTIAL SCAN: a limit cut the content of 4 file(s)"),
        "{}",
        scan.stderr
    );
    assert_eq!(member_path(scan.only(&plain)), "/etc/app.conf");
    assert!(scan.findings.iter().all(|f| f["secret"] != deep.as_str()));
    let coverage = &scan.coverage[0];
    assert_eq!(coverage["complete"], false, "{coverage}");
    assert_eq!(coverage["unreadable"], json!([]));
    let problems = coverage["file_problems"].as_array().unwrap();
    let summary: Vec<(String, Value, Value)> = problems
        .iter()
        .map(|p| {
            let members: Vec<String> = p["container"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|l| l["member"].as_str().map(str::to_owned))
                .collect();
            let path = match p["path"].as_str() {
                Some(path) => with_members(path, &members),
                None => with_members("(no path)", &members),
            };
            (
                path,
                p["limit"]["name"].clone(),
                p["limit"]["value"].clone(),
            )
        })
        .collect();
    // Ten levels (20 layers) deep, the eleventh tar.gz is not expanded.
    let ten: Vec<String> = (2..=10).rev().map(|l| format!("l{l}.tar.gz")).collect();
    let mut ten = ten;
    ten.push("l1.tar.gz".into());
    let expected_deep = (json!("max_depth"), json!(20));
    let mut expected = vec![
        (
            with_members("/deep11.tar.gz", &ten),
            expected_deep.0.clone(),
            expected_deep.1.clone(),
        ),
        (
            with_members("(no path)", &ten),
            expected_deep.0.clone(),
            expected_deep.1.clone(),
        ),
        (
            "/long.txt.zst".into(),
            json!("max_zstd_window"),
            json!(8 << 20),
        ),
    ];
    // The bomb: cut at its file's budget, in the zeros of a leaf three zips down.
    let bomb_len = fs::metadata(dir.path().join("tree/bombs/bomb.zip"))
        .unwrap()
        .len();
    let bomb: Vec<&(String, Value, Value)> = summary
        .iter()
        .filter(|(p, _, _)| p.starts_with("/bombs/bomb.zip!/"))
        .collect();
    assert_eq!(bomb.len(), 1, "{summary:#?}");
    assert!(bomb[0].0.ends_with("!/zeros.bin"), "{summary:#?}");
    expected.push((
        bomb[0].0.clone(),
        json!("expansion_budget"),
        json!((200 * bomb_len).clamp(128 << 20, 1 << 30)),
    ));
    let mut got = summary.clone();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, expected, "{coverage:#}");
    // The orphan is found by its disk offset: where its bytes are.
    let orphan = problems.iter().find(|p| p["path"].is_null()).unwrap();
    let offset = orphan["offset"].as_u64().unwrap();
    let bytes = fs::read(dir.path().join("tree/deep11.tar.gz")).unwrap();
    let on_disk = fs::read(&image).unwrap();
    assert_eq!(
        on_disk.get(offset as usize..offset as usize + bytes.len()),
        Some(&bytes[..]),
        "{orphan}"
    );
    for p in problems {
        assert!(!p["message"].as_str().unwrap().is_empty(), "{p}");
    }

    // The text summary says it, with the count.
    let (code, text, _) = snapsift_run(&["scan", "--quiet", image.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(text.contains("4 file(s) cut by a limit"), "{text}");
    assert!(
        text.contains("cut by a limit (max_depth 20): /deep11.tar.gz!/"),
        "{text}"
    );
    assert!(text.contains("4 file problem(s)"), "{text}");
    // SARIF: not successful, one error notification per cut file.
    let (code, sarif, _) = snapsift_run(&[
        "scan",
        "--quiet",
        "--format",
        "sarif",
        image.to_str().unwrap(),
    ]);
    assert_eq!(code, 3);
    let sarif: Value = serde_json::from_str(&sarif).unwrap();
    let invocation = &sarif["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let limits: Vec<&Value> = invocation["toolExecutionNotifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["level"] == "error")
        .map(|n| &n["properties"]["limit"]["name"])
        .collect();
    assert_eq!(limits.len(), 4, "{invocation:#}");
}

#[test]
fn merge_lists_the_file_problems_of_every_shard() {
    let dir = workdir();
    let (image, _, _) = image_with_cut_files(dir.path());
    let whole = Scan::run(&[&image], &[]);
    assert_eq!(whole.code, 3, "{}", whole.stderr);
    let mut reports = Vec::new();
    let mut per_shard = Vec::new();
    for k in 0..2 {
        let report = dir.path().join(format!("shard-{k}.jsonl"));
        let (code, stderr) = scan_shard_into(&image, k, 2, &report);
        assert!(matches!(code, 1 | 3), "{stderr}");
        let lines = fs::read_to_string(&report).unwrap();
        let coverage: Value = lines
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|v| v.get("coverage").is_some())
            .unwrap();
        per_shard.push(
            coverage["coverage"]["file_problems"]
                .as_array()
                .unwrap()
                .len(),
        );
        reports.push(report.to_str().unwrap().to_owned());
    }
    // Each shard reads its own files: together they cut what the whole scan cut.
    let problems = whole.coverage[0]["file_problems"].as_array().unwrap();
    assert_eq!(
        per_shard.iter().sum::<usize>(),
        problems.len(),
        "{per_shard:?}"
    );
    let mut args = vec!["merge", "--format", "jsonl"];
    args.extend(reports.iter().map(String::as_str));
    let (code, merged, stderr) = snapsift_run(&args);
    assert_eq!(code, 3, "{stderr}");
    let coverage: Value = merged
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find_map(|v| v.get("coverage").cloned())
        .unwrap();
    assert_eq!(coverage["complete"], false);
    let key = |p: &Value| serde_json::to_string(p).unwrap();
    let mut merged: Vec<String> = coverage["file_problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(key)
        .collect();
    let mut expected: Vec<String> = problems.iter().map(key).collect();
    merged.sort();
    expected.sort();
    assert_eq!(merged, expected);
    assert!(stderr.contains("4 file(s) cut by a limit"), "{stderr}");
}

/// `zstd --long=31` from a pipe writes a frame with a 2 GiB window (the image's size unknown):
/// zstd's default decoder limit (128 MiB) refused it; it is read.
#[test]
fn an_image_compressed_with_zstd_long_31_is_scanned() {
    let dir = workdir();
    let raw = dir.path().join("disk.raw");
    let mut s = Secrets::new(182);
    let mut bytes = s.filler(64 << 20);
    let secret = s.aws_key_id();
    let line = format!("\naws_access_key_id = {secret}\n");
    let at = 48 << 20;
    bytes[at..at + line.len()].copy_from_slice(line.as_bytes());
    fs::write(&raw, &bytes).unwrap();
    sh(
        dir.path(),
        "zstd -q -T0 --long=31 -c < disk.raw > disk.raw.zst && rm disk.raw",
    );
    let zst = dir.path().join("disk.raw.zst");
    let listed = run("zstd", &["-lv", zst.to_str().unwrap()]);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(listed.contains("2147483648 B"), "a 2 GiB window: {listed}");
    let scan = Scan::run(&[&zst], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    let finding = scan.only(&secret);
    assert_eq!(finding["offset"], (at + 21) as u64);
    assert_eq!(scan.coverage[0]["complete"], true);
    assert_eq!(scan.coverage[0]["disk_size"], 64 << 20);
}
