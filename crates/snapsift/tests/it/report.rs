//! The report stage as a user meets it: UTF-16LE text in the byte sweep, user rule files,
//! ID and secret halves paired, baselines and their fingerprints, and `snapsift rules`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use snapsift_testkit::{Secrets, offsets_of, workdir};

use crate::common::*;

/// UTF-16LE bytes of `text`.
fn wide(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// A user rule file: an ID rule paired with a keyword-anchored secret rule.
const PAIR_RULES: &str = r#"
[[rule]]
id = "demo.key-id"
name = "Demo key ID"
confidence = "medium"
pattern = '\bDEMOID[A-Z0-9]{12}\b'
examples = ["id = DEMOIDK3J4H5G6F7D8"]
negative_examples = ["DEMOIDK3J4"]
[rule.pair]
secret = "demo.key-secret"
within = 256

[[rule]]
id = "demo.key-secret"
name = "Demo key secret"
confidence = "medium"
pattern = 'demo_secret ?= ?(?P<secret>[A-Za-z0-9]{24})\b'
examples = ["demo_secret = abcdefghijklmnopqrstuvwx"]
negative_examples = ["demo_secret = short"]
"#;

#[test]
fn utf16le_text_in_free_space_is_found_by_the_sweep() {
    let dir = workdir();
    let disk = path_in(&dir, "disk.img");
    let mut secrets = Secrets::new(61);
    let (even, odd) = (secrets.aws_key_id(), secrets.aws_key_id());
    let mut bytes = secrets.filler(1 << 20);
    let line = wide(&format!("PS> $env:AWS_ACCESS_KEY_ID = '{even}'\r\n"));
    bytes[200_000..200_000 + line.len()].copy_from_slice(&line);
    // At an odd offset too: UTF-16 text is not always aligned on a disk (inside a file).
    let line = wide(&format!("key {odd}\r\n"));
    bytes[700_001..700_001 + line.len()].copy_from_slice(&line);
    std::fs::write(&disk, bytes).unwrap();

    let scan = Scan::run(&[&disk], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    assert_eq!(scan.findings.len(), 2, "{:#?}", scan.findings);
    for secret in [&even, &odd] {
        let f = scan.only(secret);
        assert_eq!(f["encoding"], "utf-16le");
        assert_eq!(f["offset"], offsets_of(&disk, &wide(secret))[0]);
        assert_eq!(f["length"], 40);
    }
    assert_eq!(
        scan.only(&even)["context"],
        format!("PS> $env:AWS_ACCESS_KEY_ID = '{even}'\r").replace('\r', ".")
    );
}

#[test]
fn an_id_and_its_secret_nearby_are_one_finding() {
    let dir = workdir();
    let rules = path_in(&dir, "pair.toml");
    std::fs::write(&rules, PAIR_RULES).unwrap();
    let disk = path_in(&dir, "disk.img");
    let mut secrets = Secrets::new(62);
    let mut bytes = secrets.filler(1 << 20);
    let id = format!("DEMOID{}", secrets.alnum(12).to_uppercase());
    let secret = secrets.alnum(24);
    let (lone_id, lone_secret) = (
        format!("DEMOID{}", secrets.alnum(12).to_uppercase()),
        secrets.alnum(24),
    );
    let mut put =
        |at: usize, text: String| bytes[at..at + text.len()].copy_from_slice(text.as_bytes());
    put(
        100_000,
        format!("\n[default]\nkey_id = {id}\ndemo_secret = {secret}\n"),
    );
    put(400_000, format!("\nkey_id = {lone_id}\n"));
    put(800_000, format!("\ndemo_secret = {lone_secret}\n"));
    std::fs::write(&disk, bytes).unwrap();

    let rules_arg = rules.to_str().unwrap();
    let scan = Scan::run(&[&disk], &["--rules", rules_arg]);
    assert_eq!(scan.findings.len(), 3, "{:#?}", scan.findings);
    let paired = scan.only(&id);
    assert_eq!(paired["rule"], "demo.key-id");
    assert_eq!(
        paired["confidence"], "high",
        "a credential with both halves"
    );
    assert_eq!(paired["pair"]["rule"], "demo.key-secret");
    assert_eq!(paired["pair"]["secret"], secret.as_str());
    assert_eq!(
        paired["pair"]["offset"],
        offsets_of(&disk, secret.as_bytes())[0]
    );
    // The secret is not reported again on its own; the lone halves are.
    assert!(scan.findings.iter().all(|f| f["secret"] != secret.as_str()));
    assert!(scan.only(&lone_id)["pair"].is_null());
    assert_eq!(scan.only(&lone_secret)["rule"], "demo.key-secret");
    assert_eq!(scan.only(&lone_secret)["confidence"], "medium");
    // The built-in rules still run beside the user's.
    let builtin = snapsift()
        .args(["rules", "list", "--rules", rules_arg])
        .output()
        .unwrap();
    let listed = String::from_utf8(builtin.stdout).unwrap();
    // Each rule with its family: a built-in one's file under rules/, a user's rule file's name.
    let family_of = |id: &str| {
        listed
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .and_then(|l| l.split_whitespace().nth(1))
            .map(str::to_owned)
    };
    assert_eq!(family_of("aws.access-key-id").as_deref(), Some("aws"));
    assert_eq!(family_of("generic.password").as_deref(), Some("generic"));
    let stem = rules.file_stem().unwrap().to_str().unwrap();
    assert_eq!(family_of("demo.key-secret").as_deref(), Some(stem));
}

#[test]
fn a_user_rule_replaces_the_builtin_rule_of_the_same_id() {
    let dir = workdir();
    let disk = path_in(&dir, "disk.img");
    let mut secrets = Secrets::new(63);
    let key = secrets.aws_key_id();
    let mut bytes = secrets.filler(1 << 20);
    let line = format!("\nkey = {key}\n");
    bytes[5000..5000 + line.len()].copy_from_slice(line.as_bytes());
    std::fs::write(&disk, bytes).unwrap();
    let rules = path_in(&dir, "override.toml");
    std::fs::write(
        &rules,
        r#"
[[rule]]
id = "aws.access-key-id"
name = "AWS key ID, as our team rates it"
confidence = "low"
pattern = '\bAKIA[A-Z2-7]{16}\b'
examples = ["AKIANQCGPOYRDS3YHZFR"]
negative_examples = ["AKIANQCGPOYRDS3YHZF"]
"#,
    )
    .unwrap();
    let scan = Scan::run(&[&disk], &["--rules", rules.to_str().unwrap()]);
    let f = scan.only(&key);
    assert_eq!(f["rule_name"], "AWS key ID, as our team rates it");
    assert_eq!(f["confidence"], "low");
}

/// A disk with `secrets` on it, one per line, far apart.
fn disk_with(path: &Path, seed: u64, lines: &[String]) {
    let mut filler = Secrets::new(seed);
    let mut bytes = filler.filler(1 << 20);
    for (i, line) in lines.iter().enumerate() {
        let at = 10_000 + i * 100_000;
        let line = format!("\n{line}\n");
        bytes[at..at + line.len()].copy_from_slice(line.as_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_baseline_suppresses_known_findings_and_lets_new_ones_through() {
    let dir = workdir();
    let mut secrets = Secrets::new(64);
    let (old_key, old_uri, new_key) = (
        secrets.aws_key_id(),
        secrets.postgres_uri(),
        secrets.aws_key_id(),
    );
    let first = path_in(&dir, "first.img");
    disk_with(
        &first,
        1,
        &[format!("k={old_key}"), format!("db={old_uri}")],
    );
    let baseline = path_in(&dir, "baseline.json");
    let baseline_arg = baseline.to_str().unwrap();
    let scan = Scan::run(&[&first], &["--write-baseline", baseline_arg]);
    assert_eq!(scan.findings.len(), 2);
    let mode = std::fs::metadata(&baseline).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&baseline).unwrap();
    assert!(!text.contains(&old_key), "a baseline holds no secret");
    for f in &scan.findings {
        assert!(text.contains(f["fingerprint"].as_str().unwrap()));
    }

    // The same disk again: nothing new, exit 0.
    let again = Scan::run(&[&first], &["--baseline", baseline_arg]);
    assert_eq!(again.code, 0, "{:#?}", again.findings);
    assert!(again.findings.is_empty());

    // The next snapshot: the old secrets at the same places, one new one.
    let second = path_in(&dir, "second.img");
    disk_with(
        &second,
        1,
        &[
            format!("k={old_key}"),
            format!("db={old_uri}"),
            format!("k={new_key}"),
        ],
    );
    let next = Scan::run(&[&second], &["--baseline", baseline_arg]);
    assert_eq!(next.code, 1);
    assert_eq!(next.findings.len(), 1, "{:#?}", next.findings);
    assert_eq!(next.findings[0]["secret"], new_key.as_str());

    // A baseline that is not one is an error, not an empty baseline.
    std::fs::write(&baseline, "{}").unwrap();
    let bad = Scan::run(&[&first], &["--baseline", baseline_arg]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("not a snapsift baseline"),
        "{}",
        bad.stderr
    );
}

#[test]
fn fingerprints_do_not_depend_on_the_image_format_or_name() {
    let dir = workdir();
    let mut secrets = Secrets::new(65);
    let key = secrets.aws_key_id();
    let raw = path_in(&dir, "disk.img");
    disk_with(&raw, 2, &[format!("k={key}")]);
    let qcow2 = path_in(&dir, "other-name.qcow2");
    let status = std::process::Command::new("qemu-img")
        .args(["convert", "-f", "raw", "-O", "qcow2"])
        .args([&raw, &qcow2])
        .status()
        .unwrap();
    assert!(status.success());
    let a = Scan::run(&[&raw], &[]);
    let b = Scan::run(&[&qcow2], &[]);
    let fp = a.only(&key)["fingerprint"].as_str().unwrap().to_owned();
    assert_eq!(fp.len(), 32);
    assert_eq!(b.only(&key)["fingerprint"], fp.as_str());
    // A different secret at the same place has another fingerprint.
    let other = secrets.aws_key_id();
    disk_with(&raw, 2, &[format!("k={other}")]);
    let c = Scan::run(&[&raw], &[]);
    assert_ne!(c.only(&other)["fingerprint"], fp.as_str());
}

#[test]
fn rules_check_runs_a_rule_files_examples() {
    let dir = workdir();
    let good = path_in(&dir, "good.toml");
    std::fs::write(&good, PAIR_RULES).unwrap();
    let out = snapsift()
        .args(["rules", "check"])
        .arg(&good)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("2 rule(s), 4 example(s), 0 failure(s)"),
        "{stdout}"
    );

    // An example its rule misses, and a negative example it matches (also as UTF-16LE).
    let failing = path_in(&dir, "failing.toml");
    std::fs::write(
        &failing,
        PAIR_RULES
            .replace(
                r#"examples = ["id = DEMOIDK3J4H5G6F7D8"]"#,
                r#"examples = ["id = DEMOID123"]"#,
            )
            .replace(
                r#"negative_examples = ["demo_secret = short"]"#,
                r#"negative_examples = ["demo_secret = abcdefghijklmnopqrstuvwx"]"#,
            ),
    )
    .unwrap();
    let out = snapsift()
        .args(["rules", "check"])
        .arg(&failing)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL rule demo.key-id does not match its example \"id = DEMOID123\""),
        "{stdout}"
    );
    assert!(stdout.contains("matches its negative example \"demo_secret = abcdefghijklmnopqrstuvwx\" written as UTF-16LE"), "{stdout}");
    assert!(stdout.contains("4 failure(s)"), "{stdout}");

    // A rule that cannot be anchored is refused with the reason.
    let bad = path_in(&dir, "bad.toml");
    std::fs::write(
        &bad,
        "[[rule]]\nid = \"x\"\nname = \"x\"\nconfidence = \"low\"\npattern = '[a-z]+secret'\nmax_len = 64\nexamples = []\nnegative_examples = []\n",
    )
    .unwrap();
    let out = snapsift()
        .args(["rules", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("must begin with literal text"), "{stderr}");

    // A keyword in any casing, written `(?i)`, is accepted and its examples run.
    let folded = path_in(&dir, "folded.toml");
    std::fs::write(
        &folded,
        "[[rule]]\nid = \"x\"\nname = \"x\"\nconfidence = \"low\"\n\
         pattern = '(?i)vendor_secret {0,4}= {0,4}(?P<secret>[a-z0-9]{16})'\n\
         examples = ['VENDOR_SECRET = k3j4h5g6f7d8s9a0', 'Vendor_Secret=k3j4h5g6f7d8s9a0']\n\
         negative_examples = ['vendor_secret = short']\n",
    )
    .unwrap();
    let out = snapsift()
        .args(["rules", "check"])
        .arg(&folded)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("1 rule(s), 3 example(s), 0 failure(s)"),
        "{stdout}"
    );
}

#[test]
fn a_documented_example_is_not_a_finding_unless_invalid_ones_are_asked_for() {
    let dir = workdir();
    let disk = path_in(&dir, "disk.img");
    let mut secrets = Secrets::new(66);
    let real = secrets.aws_key_id();
    disk_with(
        &disk,
        3,
        &[
            "aws_access_key_id = AKIAIOSFODNN7EXAMPLE".to_owned(),
            format!("aws_access_key_id = {real}"),
        ],
    );
    let scan = Scan::run(&[&disk], &[]);
    assert_eq!(scan.findings.len(), 1, "{:#?}", scan.findings);
    let f = scan.only(&real);
    assert_eq!(f["valid"], true);
    let checks: Vec<&str> = f["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        checks.contains(&"aws-key-id") && checks.contains(&"placeholder"),
        "{checks:?}"
    );

    let all = Scan::run(&[&disk], &["--include-invalid"]);
    assert_eq!(all.findings.len(), 2);
    let example = all.only("AKIAIOSFODNN7EXAMPLE");
    assert_eq!(example["valid"], false);
    assert_eq!(example["rejected"]["check"], "placeholder");
    assert!(
        example["rejected"]["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
}

#[test]
fn a_secret_two_rules_report_is_one_finding_of_the_more_specific_rule() {
    let dir = workdir();
    let disk = path_in(&dir, "disk.img");
    // A GitHub token (valid checksum) assigned to a password variable.
    let token = "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";
    disk_with(&disk, 4, &[format!("DEPLOY_PASSWORD={token}")]);
    let scan = Scan::run(&[&disk], &[]);
    assert_eq!(scan.findings.len(), 1, "{:#?}", scan.findings);
    let f = scan.only(token);
    assert_eq!(f["rule"], "github.token");
    assert_eq!(f["checks"][0], "github-checksum");
}
