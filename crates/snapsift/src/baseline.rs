//! Baseline files: the findings a team has already dealt with, by fingerprint (the engine's
//! `Baseline` suppresses them).
//!
//! `snapsift scan --write-baseline FILE` writes every finding's fingerprint (with its rule and
//! place, for people; never the secret, and a secret in a file's name is masked as `--redact`
//! masks it); `--baseline FILE` then suppresses those findings, so
//! that a scan of the next snapshot reports only what is new. The file is JSON:
//!
//! ```json
//! {"snapsift_baseline": 1, "findings": [{"fingerprint": "…", "rule": "…", "place": "…"}]}
//! ```

use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use snapsift_engine::report::fingerprint::Baseline;
use snapsift_engine::scan::BaselineEntry;

use crate::input::{self, ReadFiles};
use crate::printer::escape;

/// The version of the baseline format this build reads and writes.
const FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct BaselineFile {
    snapsift_baseline: u32,
    findings: Vec<Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    fingerprint: String,
    #[serde(default)]
    rule: String,
    #[serde(default)]
    place: String,
}

/// Reads a baseline file (at most 64 MiB, as [`crate::input`] reads the files a user
/// names), one of the files the run reads (`reads`).
pub fn load(path: &Path, reads: &mut ReadFiles) -> anyhow::Result<Baseline> {
    let bytes = input::read_bytes(path, "baseline", reads)?;
    let file: BaselineFile = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a snapsift baseline", path.display()))?;
    if file.snapsift_baseline != FORMAT_VERSION {
        bail!(
            "{}: baseline format {} is not supported (this build reads {FORMAT_VERSION})",
            path.display(),
            file.snapsift_baseline
        );
    }
    Ok(Baseline::new(
        file.findings.into_iter().map(|e| e.fingerprint),
    ))
}

/// Collects the entries of a baseline being written.
#[derive(Debug, Default)]
pub struct BaselineWriter {
    entries: Vec<BaselineEntry>,
}

impl BaselineWriter {
    /// Adds the entries of one image's findings (their places masked by the engine).
    pub fn extend(&mut self, entries: Vec<BaselineEntry>) {
        self.entries.extend(entries);
    }

    /// Writes the baseline, sorted and without duplicates, to `out`.
    pub fn write(mut self, out: &mut dyn Write) -> io::Result<()> {
        self.entries.sort();
        self.entries.dedup();
        let file = BaselineFile {
            snapsift_baseline: FORMAT_VERSION,
            findings: self
                .entries
                .into_iter()
                .map(|e| Entry {
                    fingerprint: e.fingerprint,
                    rule: e.rule,
                    place: e.place,
                })
                .collect(),
        };
        escape::write_json(out, &file, true)?;
        out.write_all(b"\n")?;
        Ok(())
    }
}
