//! `--include-invalid` may only add findings: the findings of a default scan are exactly the
//! `valid: true` findings of a scan with `--include-invalid`, field for field and in the same
//! order. A match a check rejects never takes, hides or changes a valid one: not as the ID
//! that claims a real secret, not as the secret a real ID claims.
//!
//! [`crate::common::Scan::run`] checks this of every default scan in the CLI tests, whatever the
//! image. Here it is shown on the rules' own examples, positive and negative, each in a file of its own, laid
//! side by side in ext4 images (in the pack's order and shuffled), between and after the
//! partitions of a GPT disk, and run together on a raw disk (one stream, written as UTF-8 and
//! as UTF-16LE), and on the cases that broke it: Tencent's documented example SecretId beside
//! a real SecretKey.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use serde_json::Value;
use snapsift_match::RuleSet;

use snapsift_testkit::{
    Secrets, ext4_with_files, gpt_disk_with_root, mkfs_ext4, run, workdir, write_at,
};

use crate::common::*;

/// Every example of every built-in rule, positive ones first, each with a name that says
/// whose it is, as the text of a file: ending with a newline, as text files do (a value that
/// ends where its file ends, with no newline, is a question of its own).
fn rule_examples() -> Vec<(String, String)> {
    let rules = RuleSet::builtin().unwrap();
    let mut examples = Vec::new();
    for (r, rule) in rules.rules().iter().enumerate() {
        let cases = rule
            .examples
            .iter()
            .map(|e| ("p", e))
            .chain(rule.negative_examples.iter().map(|e| ("n", e)));
        for (i, (kind, example)) in cases.enumerate() {
            examples.push((format!("r{r:03}-{kind}{i:02}.txt"), format!("{example}\n")));
        }
    }
    assert!(examples.len() > 300, "{} examples", examples.len());
    examples
}

/// `items` in an order drawn from `seed` (Fisher-Yates with the tests' generator).
fn shuffled<T>(mut items: Vec<T>, seed: u64) -> Vec<T> {
    let mut secrets = Secrets::new(seed);
    for i in (1..items.len()).rev() {
        let j = secrets
            .alnum(8)
            .bytes()
            .fold(0usize, |h, b| h * 31 + b as usize)
            % (i + 1);
        items.swap(i, j);
    }
    items
}

/// The disk bytes of each file of `names` in the ext4 `image` at `fs_start`, by `debugfs
/// blocks` (the oracle): 1 KiB blocks.
fn file_extents(image: &Path, fs_start: u64, names: &[&str]) -> BTreeMap<String, Vec<Range<u64>>> {
    let script = image.with_extension("blocks");
    let commands: String = names.iter().map(|n| format!("blocks {n}\n")).collect();
    std::fs::write(&script, commands).unwrap();
    let out = run(
        "debugfs",
        &["-f", script.to_str().unwrap(), image.to_str().unwrap()],
    );
    std::fs::remove_file(script).unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut extents = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.strip_prefix("debugfs: blocks ") else {
            continue;
        };
        let blocks = lines.next().unwrap_or_default();
        let ranges = blocks
            .split_whitespace()
            .map(|b| {
                let start = fs_start + b.parse::<u64>().unwrap() * 1024;
                start..start + 1024
            })
            .collect();
        extents.insert(format!("/{name}"), ranges);
    }
    assert_eq!(extents.len(), names.len(), "{text}");
    extents
}

/// Checks that every paired finding of `scan` in a file of `extents` has its secret half in
/// the same file's blocks.
fn assert_pairs_within_files(scan: &Scan, extents: &BTreeMap<String, Vec<Range<u64>>>) {
    let mut pairs = 0;
    for f in scan.findings.iter().filter(|f| !f["pair"].is_null()) {
        let path = f["location"]["path"].as_str().unwrap_or("?");
        let Some(blocks) = extents.get(path) else {
            continue;
        };
        let offset = f["pair"]["offset"].as_u64().unwrap();
        assert!(
            blocks.iter().any(|b| b.contains(&offset)),
            "the ID in {path} is paired with a secret outside it: {f:#}"
        );
        pairs += 1;
    }
    assert!(pairs > 0, "no pair formed: {:#?}", scan.findings);
}

/// A file holding `example` at its start and again at its end, filler between, that fills
/// its 1 KiB blocks to the last byte: what ends one such file and what starts the next lie
/// side by side on the disk, no slack between.
fn filling_blocks(example: &str, filler: &mut Secrets) -> Vec<u8> {
    let mut bytes = example.as_bytes().to_vec();
    let around = 2 * example.len() + 1;
    let fill = (around + 100).next_multiple_of(1024) - around;
    bytes.extend(filler.filler(fill));
    bytes.push(b'\n');
    bytes.extend_from_slice(example.as_bytes());
    assert_eq!(bytes.len() % 1024, 0);
    bytes
}

/// The rule examples, each in its own file ([`filling_blocks`]), written in `order` into an
/// ext4 image; scanned with and without `--include-invalid` ([`Scan::run`]).
fn examples_side_by_side(order: Vec<(String, String)>) {
    let dir = workdir();
    let image = path_in(&dir, "fs.img");
    let mut filler = Secrets::new(1906);
    let files: Vec<(&str, Vec<u8>)> = order
        .iter()
        .map(|(name, text)| (name.as_str(), filling_blocks(text, &mut filler)))
        .collect();
    ext4_with_files(&image, &path_in(&dir, "stage"), 16, &files);
    let scan = Scan::run(&[&image], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    let names: Vec<&str> = files.iter().map(|(name, _)| *name).collect();
    assert_pairs_within_files(&scan, &file_extents(&image, 0, &names));
    // Every positive example is a finding of its own file.
    for (name, _) in order.iter().filter(|(name, _)| name.contains("-p")) {
        let path = format!("/{name}");
        assert!(
            scan.findings.iter().any(|f| f["location"]["path"] == path),
            "nothing found in {path}"
        );
    }
}

#[test]
fn rule_examples_in_adjacent_files_keep_their_valid_findings() {
    examples_side_by_side(rule_examples());
}

#[test]
fn rule_examples_in_shuffled_files_keep_their_valid_findings() {
    examples_side_by_side(shuffled(rule_examples(), 19));
}

#[test]
fn rule_examples_run_together_on_a_raw_disk_keep_their_valid_findings() {
    let dir = workdir();
    let disk = path_in(&dir, "disk.img");
    let mut bytes = Vec::new();
    for (_, text) in rule_examples() {
        bytes.extend_from_slice(text.as_bytes());
    }
    for (_, text) in shuffled(rule_examples(), 20) {
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    }
    bytes.resize(bytes.len().next_multiple_of(1 << 20), 0);
    std::fs::write(&disk, bytes).unwrap();
    let scan = Scan::run(&[&disk], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    assert!(scan.findings.iter().any(|f| f["encoding"] == "utf-16le"));
    assert!(scan.findings.iter().any(|f| !f["pair"].is_null()));
}

#[test]
fn rule_examples_on_a_gpt_disk_keep_their_valid_findings() {
    let dir = workdir();
    let fs_image = path_in(&dir, "fs.img");
    let examples = shuffled(rule_examples(), 21);
    let files: Vec<(&str, Vec<u8>)> = examples
        .iter()
        .map(|(name, text)| (name.as_str(), text.clone().into_bytes()))
        .collect();
    ext4_with_files(&fs_image, &path_in(&dir, "stage"), 16, &files);
    let disk = path_in(&dir, "disk.img");
    gpt_disk_with_root(&disk, &fs_image);
    // Past the partition's end (17 MiB): examples in unpartitioned space.
    let leftover: String = rule_examples()
        .iter()
        .map(|(_, text)| text.as_str())
        .collect();
    assert!(leftover.len() < 6 << 20);
    write_at(&disk, 17 << 20, leftover.as_bytes());
    let scan = Scan::run(&[&disk], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    let names: Vec<&str> = files.iter().map(|(name, _)| *name).collect();
    assert_pairs_within_files(&scan, &file_extents(&fs_image, 1 << 20, &names));
    let unpartitioned = |f: &&Value| f["location"]["state"] == "unpartitioned";
    assert!(
        scan.findings
            .iter()
            .filter(unpartitioned)
            .any(|f| !f["pair"].is_null()),
        "halves in one unpartitioned run pair"
    );
}

#[test]
fn a_rejected_id_never_takes_a_real_secret() {
    let dir = workdir();
    let image = path_in(&dir, "fs.img");
    let mut secrets = Secrets::new(1904);
    let (key, other_key, id, nearer) = (
        secrets.alnum(32),
        secrets.alnum(32),
        format!("AKID{}", secrets.alnum(32)),
        secrets.alnum(32),
    );
    // Tencent's documented example SecretId (rejected: placeholder) beside a real SecretKey,
    // in one file and across two.
    let example_id = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
    let example_key = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
    let files = [
        (
            "example.env",
            format!("SecretId: {example_id}\nSecretKey: {key}\n").into_bytes(),
        ),
        ("a.env", format!("SecretId: {example_id}\n").into_bytes()),
        ("b.env", format!("SecretKey = {other_key}\n").into_bytes()),
        // A real SecretId with the documented example key nearer than its real key.
        (
            "c.env",
            format!(
                "TENCENTCLOUD_SECRET_ID={id}\nTENCENTCLOUD_SECRET_KEY={example_key}\nSecretKey = {nearer}\n"
            )
            .into_bytes(),
        ),
    ];
    ext4_with_files(&image, &path_in(&dir, "stage"), 8, &files);

    let scan = Scan::run(&[&image], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    for real in [&key, &other_key] {
        let f = scan.only(real);
        assert_eq!(f["rule"], "tencent.secret-key");
        assert!(f["pair"].is_null(), "{f:#}");
    }
    assert_eq!(scan.only(&id)["pair"]["secret"], nearer.as_str());
    assert_eq!(scan.findings.len(), 3, "{:#?}", scan.findings);

    // With --include-invalid the rejected halves are there too, each on its own.
    let all = Scan::run(&[&image], &["--include-invalid"]);
    let rejected: Vec<&Value> = all
        .findings
        .iter()
        .filter(|f| f["valid"] == false)
        .collect();
    assert!(
        rejected.iter().all(|f| f["pair"].is_null()),
        "{rejected:#?}"
    );
    let rejected_secrets: Vec<&str> = rejected
        .iter()
        .map(|f| f["secret"].as_str().unwrap())
        .collect();
    assert_eq!(rejected_secrets, [example_id, example_id, example_key]);
}

#[test]
fn the_same_image_gives_the_same_findings_in_the_same_order() {
    let dir = workdir();
    let mut secrets = Secrets::new(1905);
    let members = path_in(&dir, "members");
    let lines: Vec<String> = (0..6)
        .map(|_| format!("ALIBABA_CLOUD_ACCESS_KEY_ID={}\n", secrets.alibaba_key_id()))
        .collect();
    let one_member: String = lines
        .iter()
        .map(|line| format!("{line}{}\n", "-".repeat(2000)))
        .collect();
    write_tree(&members, &[("app/ids.env", one_member)]);
    let tree = path_in(&dir, "tree");
    // Found in decoded bytes: every finding carries the disk offset of the archive's first
    // byte.
    tar_gz(&tree.join("app.tar.gz"), &members, "app");
    let image = path_in(&dir, "fs.img");
    mkfs_ext4(&image, &tree, 8);
    let first = Scan::run(&[&image], &[]);
    assert_eq!(first.findings.len(), 6, "{:#?}", first.findings);
    for _ in 0..4 {
        assert_eq!(Scan::run(&[&image], &[]).findings, first.findings);
    }
}
