//! Shared by the integration tests: real images built with real tools, generated secrets, an
//! independent oracle for where bytes are, and a way to run the `snapsift` binary.
//!
//! Missing tools are failures, not skips: `.ci/run` installs them. What every suite shares
//! (running tools, building images, secrets, the read-only guard) is snapsift-testkit's.

pub mod faulty;
pub mod sarif;

use std::collections::BTreeMap;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use snapsift_testkit::{hashes_around, run, write_file};

/// Writes `files` (path relative to the root, content) under `root`.
pub fn write_tree(root: &Path, files: &[(&str, String)]) {
    for (path, content) in files {
        write_file(root, path, content);
    }
}

/// Writes the gzipped tar `archive` (and its missing directories) of `member`, a path in
/// `dir`, with `tar -czf`.
pub fn tar_gz(archive: &Path, dir: &Path, member: &str) {
    fs::create_dir_all(archive.parent().unwrap()).unwrap();
    run(
        "tar",
        &[
            "-czf",
            archive.to_str().unwrap(),
            "-C",
            dir.to_str().unwrap(),
            member,
        ],
    );
}

/// The `snapsift` binary under test.
pub fn snapsift() -> Command {
    Command::new(env!("CARGO_BIN_EXE_snapsift"))
}

/// Runs `snapsift ARGS...`; returns (exit status, standard output, standard error).
pub fn snapsift_run(args: &[&str]) -> (i32, String, String) {
    let output = snapsift().args(args).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).expect("output is UTF-8"),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs `snapsift scan --quiet --format jsonl --shard K/N -o REPORT IMAGE`; returns (exit
/// status, standard error).
pub fn scan_shard_into(image: &Path, k: u64, n: u64, report: &Path) -> (i32, String) {
    let shard = format!("{k}/{n}");
    let (code, _, stderr) = snapsift_run(&[
        "scan",
        "--quiet",
        "--format",
        "jsonl",
        "--shard",
        &shard,
        "-o",
        report.to_str().unwrap(),
        image.to_str().unwrap(),
    ]);
    (code, stderr)
}

/// A finding's file path with its archive members, each after `!/` (`/a.tar.gz!/b.txt`);
/// `?` for a finding without a path.
pub fn member_path(finding: &Value) -> String {
    let location = &finding["location"];
    let mut path = location["path"].as_str().unwrap_or("?").to_owned();
    for layer in location["container"].as_array().into_iter().flatten() {
        if let Some(member) = layer["member"].as_str() {
            path.push_str("!/");
            path.push_str(member);
        }
    }
    path
}

/// The result of one `snapsift scan --format jsonl` run.
pub struct Scan {
    /// The exit status code.
    pub code: i32,
    /// The findings, one JSON object each.
    pub findings: Vec<Value>,
    /// The coverage record of each image (the `coverage` lines), in the order scanned.
    pub coverage: Vec<Value>,
    /// Standard error.
    pub stderr: String,
}

impl Scan {
    /// Runs `snapsift scan --format jsonl --quiet EXTRA... PATHS...`, and checks that the scan
    /// wrote nothing: every file in the directories of `paths` (the images, their backing
    /// files and extents), the files it writes itself (`-o`, `--write-baseline`) aside, has
    /// the same SHA-256 after the scan as before.
    ///
    /// A default scan (no `extra`) is run again with `--include-invalid`, and its findings
    /// must be exactly the `valid: true` findings of that run, field for field and in the
    /// same order: a match a check rejects may only add findings, never take, hide or change
    /// a valid one. Every test image scanned with default options is checked so.
    pub fn run(paths: &[&Path], extra: &[&str]) -> Scan {
        let scan = Scan::run_once(paths, extra);
        if extra.is_empty() {
            let all = Scan::run_once(paths, &["--include-invalid"]);
            scan.assert_valid_findings_of(&all, paths);
        }
        scan
    }

    /// Checks that `self`, a default scan of `paths`, found exactly the valid findings of
    /// `all`, a scan with `--include-invalid`.
    fn assert_valid_findings_of(&self, all: &Scan, paths: &[&Path]) {
        assert_eq!(
            self.code == 2,
            all.code == 2,
            "{}\n{}",
            self.stderr,
            all.stderr
        );
        let valid: Vec<&Value> = all.findings.iter().filter(|f| f["valid"] == true).collect();
        let default: Vec<&Value> = self.findings.iter().collect();
        if default != valid {
            let missing: Vec<&&Value> = default.iter().filter(|f| !valid.contains(f)).collect();
            let changed: Vec<&&Value> = valid.iter().filter(|f| !default.contains(f)).collect();
            panic!(
                "--include-invalid changed the valid findings of {paths:?}\n\
                 in the default scan only: {missing:#?}\n\
                 valid with --include-invalid only: {changed:#?}\n\
                 (if both are empty, their order changed)"
            );
        }
        assert!(
            self.findings.iter().all(|f| f["valid"] == true),
            "a default scan reports valid findings only"
        );
    }

    /// Runs `snapsift scan` once, as [`Scan::run`] says.
    fn run_once(paths: &[&Path], extra: &[&str]) -> Scan {
        let written: Vec<PathBuf> = extra
            .windows(2)
            .filter(|w| ["-o", "--output", "--write-baseline"].contains(&w[0]))
            .map(|w| PathBuf::from(w[1]))
            .collect();
        let before = hashes_around(paths, &written);
        let output = snapsift()
            .args(["scan", "--format", "jsonl", "--quiet"])
            .args(extra)
            .args(paths)
            .output()
            .unwrap();
        let stdout = String::from_utf8(output.stdout).expect("output is UTF-8");
        let (coverage, findings): (Vec<Value>, Vec<Value>) = stdout
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("each line is JSON"))
            .partition(|v| v.get("coverage").is_some());
        let scan = Scan {
            code: output.status.code().expect("snapsift exited normally"),
            findings,
            coverage: coverage
                .into_iter()
                .map(|c| c["coverage"].clone())
                .collect(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        assert_eq!(
            hashes_around(paths, &written),
            before,
            "the scan changed a file next to an image"
        );
        // (An error before the first image, such as a bad option, has none.)
        if scan.code != 2 {
            assert_eq!(
                scan.coverage.len(),
                paths.len(),
                "one coverage line per image\n{}",
                scan.stderr
            );
        }
        scan
    }

    /// For each secret found, the offsets it was found at, and the rule that found it.
    pub fn by_secret(&self) -> BTreeMap<String, (String, Vec<u64>)> {
        let mut map: BTreeMap<String, (String, Vec<u64>)> = BTreeMap::new();
        for f in &self.findings {
            let entry = map
                .entry(f["secret"].as_str().unwrap().to_owned())
                .or_insert_with(|| (f["rule"].as_str().unwrap().to_owned(), Vec::new()));
            entry.1.push(f["offset"].as_u64().unwrap());
        }
        map
    }

    /// The one finding of `secret`, failing the test if it was reported more or less than
    /// once.
    pub fn only(&self, secret: &str) -> &Value {
        let found: Vec<&Value> = self
            .findings
            .iter()
            .filter(|f| f["secret"] == secret)
            .collect();
        assert_eq!(found.len(), 1, "{secret}: {found:?}\n{}", self.stderr);
        found[0]
    }

    /// (rule, offset, secret) of every finding, in output order.
    pub fn triples(&self) -> Vec<(String, u64, String)> {
        self.findings
            .iter()
            .map(|f| {
                (
                    f["rule"].as_str().unwrap().to_owned(),
                    f["offset"].as_u64().unwrap(),
                    f["secret"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

/// What [`scan_measured`] saw: the exit status, the findings, the coverage record and the
/// peak RSS in KiB.
pub struct Measured {
    pub code: i32,
    pub findings: Vec<Value>,
    pub coverage: Value,
    pub rss: u64,
}

/// Runs `snapsift scan --format jsonl --quiet EXTRA... PATH` under `/usr/bin/time -f %M`.
pub fn scan_measured(path: &Path, extra: &[&str]) -> Measured {
    let output = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(env!("CARGO_BIN_EXE_snapsift"))
        .args(["scan", "--format", "jsonl", "--quiet"])
        .args(extra)
        .arg(path)
        .output()
        .expect("GNU time is installed (apt-get install time)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let code = output.status.code();
    assert!(matches!(code, Some(0 | 1 | 3)), "exit {code:?}: {stderr}");
    let rss = stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no RSS from GNU time in {stderr}"));
    let (coverage, findings): (Vec<Value>, Vec<Value>) = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .partition(|v| v.get("coverage").is_some());
    Measured {
        code: code.unwrap_or(-1),
        findings,
        coverage: coverage[0]["coverage"].clone(),
        rss,
    }
}

/// A path inside `dir`.
pub fn path_in(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

/// A line holding `hidden`, an AWS secret access key after its keyword, then `shown` 174
/// bytes after the line's start: the context of `shown` (160 bytes on each side of it)
/// starts inside the keyword, so it shows `hidden` whole, but no rule can find it there.
pub fn line_hiding_a_keyword(hidden: &str, shown: &str) -> String {
    let line = format!(
        "aws_secret_access_key = {hidden} {}db={shown}\n",
        "x".repeat(106)
    );
    assert_eq!(line.find(shown), Some(174));
    line
}

/// The parts of `secret` that `text` shows: every run of 8 of its characters it holds (a
/// masked secret shows 4).
pub fn shown_parts<'s>(text: &str, secret: &'s str) -> Vec<&'s str> {
    (0..=secret.len().saturating_sub(8))
        .map(|i| &secret[i..(i + 8).min(secret.len())])
        .filter(|part| text.contains(part))
        .collect()
}

/// The exit status of a scan that could not read everything.
pub const EXIT_PARTIAL: i32 = 3;

/// Checks that `scan`, of one image, says it is partial (exit status 3, `PARTIAL SCAN` on
/// standard error, no panic, a coverage record not complete); returns that record.
pub fn assert_partial_scan(scan: &Scan) -> &Value {
    assert_eq!(scan.code, EXIT_PARTIAL, "{}", scan.stderr);
    assert!(!scan.stderr.contains("panicked"), "{}", scan.stderr);
    assert!(scan.stderr.contains("PARTIAL SCAN"), "{}", scan.stderr);
    let coverage = &scan.coverage[0];
    assert_eq!(coverage["complete"], false);
    coverage
}

/// The unreadable ranges of a coverage record, each with its reason.
pub fn unreadable(coverage: &Value) -> Vec<(Range<u64>, String)> {
    coverage["unreadable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["start"].as_u64().unwrap()..u["end"].as_u64().unwrap(),
                u["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}
