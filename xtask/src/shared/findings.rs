//! Scanning a stock image and showing its findings: what `cargo xtask stock` and the
//! `debian` and `windows` measurements share. Running a scan, turning its JSONL findings into
//! Markdown table rows (secrets redacted), and guessing a first "why" from the file a finding
//! is in.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::shared::workspace::{self, display};

/// What scanning one stock image gave.
pub struct Measured {
    /// Short name of the image in the combined table: `debian`, `windows`.
    pub name: &'static str,
    /// What the image holds, for people.
    pub description: String,
    /// Size of the disk image file (its apparent size; it is sparse).
    pub disk_bytes: u64,
    /// Regular files in the tree put on the image.
    pub files: u64,
    /// Bytes of those files.
    pub tree_bytes: u64,
    /// Seconds the scan took.
    pub seconds: f64,
    /// One row per finding.
    pub rows: Vec<Row>,
}

/// One finding as a row of the table.
pub struct Row {
    pub image: &'static str,
    pub rule: String,
    pub confidence: String,
    /// The file with its archive members (`a.jar!/b.properties`), or `(state)` where the
    /// finding is in no file.
    pub path: String,
    pub state: String,
    /// The secret with all but a few characters masked.
    pub secret: String,
    /// A first guess at why it is there, for a person to confirm or rewrite.
    pub why: String,
}

/// The images, their sizes and scan times, as a Markdown table.
pub fn print_summary(measured: &[Measured]) {
    println!("| image | holds | disk image | files | bytes of files | scan seconds | findings |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for m in measured {
        println!(
            "| {} | {} | {} | {} | {} | {:.2} | {} |",
            m.name,
            m.description,
            workspace::bytes(m.disk_bytes),
            m.files,
            workspace::bytes(m.tree_bytes),
            m.seconds,
            m.rows.len()
        );
    }
}

/// Findings as a Markdown table, numbered.
pub fn print_table(rows: &[&Row]) {
    if rows.is_empty() {
        println!("No findings.");
        return;
    }
    println!(
        "| # | image | rule | confidence | path | state | secret (redacted) | why it is there |"
    );
    println!("|---:|---|---|---|---|---|---|---|");
    for (i, r) in rows.iter().enumerate() {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            i + 1,
            r.image,
            cell(&r.rule),
            cell(&r.confidence),
            cell(&r.path),
            cell(&r.state),
            cell(&r.secret),
            cell(&r.why)
        );
    }
}

/// Text made safe for a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Rows for `findings` of image `image`, `why` giving each one's first guess.
pub fn rows(image: &'static str, findings: &[Value], why: impl Fn(&Value) -> String) -> Vec<Row> {
    findings
        .iter()
        .map(|f| Row {
            image,
            rule: f["rule"].as_str().unwrap_or("?").to_owned(),
            confidence: f["confidence"].as_str().unwrap_or("?").to_owned(),
            path: path_of(f),
            state: f["location"]["state"].as_str().unwrap_or("-").to_owned(),
            secret: redact(f["secret"].as_str().unwrap_or("")),
            why: why(f),
        })
        .collect()
}

/// `secret` with all but its first few characters masked: the first line of a PEM block, the
/// first four characters of anything else, and the length.
pub fn redact(secret: &str) -> String {
    let len = secret.chars().count();
    if let Some(rest) = secret.strip_prefix("-----BEGIN") {
        // The armour line, up to its closing dashes (keys inside binaries often have no line
        // breaks at all).
        let end = rest.find("-----").map_or(rest.len(), |i| i + 5);
        let head = &secret[..10 + end];
        return format!("{head}… ({len} chars)");
    }
    let head: String = secret.chars().take(4).collect();
    format!("{head}… ({len} chars)")
}

/// The parts of a first guess at why a finding is there that do not depend on which image it
/// is on: where in the file (archive member, decoded UTF-16, deleted or free space), what kind of
/// file `host` (the file's copy in the tree the image was made from, if known) is, and words in
/// the path and the line that say "test" or "example".
pub fn generic_hints(finding: &Value, host: Option<&Path>) -> Vec<String> {
    let mut hints = Vec::new();
    let location = &finding["location"];
    let state = location["state"].as_str().unwrap_or("?");
    if state != "allocated" {
        hints.push(format!("in {state} bytes"));
    }
    if let Some(kind) = host.and_then(file_kind) {
        hints.push(format!("inside {kind}"));
    }
    let members: Vec<&str> = location["container"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["member"].as_str())
        .collect();
    if let Some(member) = members.last() {
        hints.push(format!("archive member {member}"));
    }
    if let Some(encoding) = location["encoding"].as_str() {
        hints.push(format!("{encoding} text"));
    }
    let path = path_of(finding).to_ascii_lowercase();
    for word in ["test", "example", "sample", "fixture", "demo", "doc"] {
        if path
            .split(['/', '!', '.', '_', '-'])
            .any(|part| part.starts_with(word))
        {
            hints.push(format!("path says '{word}'"));
        }
    }
    let context = finding["context"].as_str().unwrap_or("");
    let secret = finding["secret"].as_str().unwrap_or("");
    if secret.contains("EXAMPLE") || context.contains("EXAMPLE") || context.contains("example") {
        hints.push("documented example value".into());
    }
    hints
}

/// What kind of file `path` is, from its first bytes: "a PE binary", "an ELF binary", ...
pub fn file_kind(path: &Path) -> Option<&'static str> {
    let mut head = [0u8; 8];
    let mut file = fs::File::open(path).ok()?;
    let n = file.read(&mut head).ok()?;
    let head = &head[..n];
    let kind = if head.starts_with(b"MZ") {
        "a PE binary"
    } else if head.starts_with(b"\x7fELF") {
        "an ELF binary"
    } else if head.starts_with(b"PK\x03\x04") {
        "a zip archive"
    } else if head.starts_with(&[0x1f, 0x8b]) {
        "a gzip file"
    } else if head.starts_with(b"\xfd7zXZ") {
        "an xz file"
    } else if head.starts_with(&[0xff, 0xfe]) {
        "a UTF-16LE text file"
    } else {
        "a file"
    };
    Some(kind)
}

/// A scan's findings and time.
pub struct ScanResult {
    pub seconds: f64,
    pub findings: Vec<Value>,
}

/// Scans `disk` with JSONL output.
pub fn scan(snapsift: &Path, disk: &Path, extra: &[&str]) -> Result<ScanResult> {
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
    let records = String::from_utf8(output.stdout)?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<Vec<Value>, _>>()?;
    // Each image ends with its coverage record, which is no finding.
    let findings = records
        .into_iter()
        .filter(|r| r.get("coverage").is_none())
        .collect();
    Ok(ScanResult { seconds, findings })
}

/// A finding's path with its archive members, or its state where it has no path.
pub fn path_of(finding: &Value) -> String {
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

/// The file path of a finding (without archive members or `:stream`), if it has one.
pub fn file_path(finding: &Value) -> Option<&str> {
    let path = finding["location"]["path"].as_str()?;
    // NTFS alternate data streams are reported as `path:stream`; a Windows file name has no ':'.
    Some(path.split_once(':').map_or(path, |(file, _)| file))
}

/// Regular files under `dir` and their bytes (symbolic links are not followed).
pub fn count_files(dir: &Path) -> Result<(u64, u64)> {
    let mut files = 0;
    let mut bytes = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                files += 1;
                bytes += meta.len();
            }
        }
    }
    Ok((files, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_only_the_head() {
        assert_eq!(redact("AKIAABCDEFGHIJKLMNOP"), "AKIA… (20 chars)");
        assert_eq!(
            redact("-----BEGIN EC PRIVATE KEY-----MHcCAQEE-----END EC PRIVATE KEY-----"),
            "-----BEGIN EC PRIVATE KEY-----… (66 chars)"
        );
        assert_eq!(
            redact("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----"),
            "-----BEGIN RSA PRIVATE KEY-----… (66 chars)"
        );
    }
}
