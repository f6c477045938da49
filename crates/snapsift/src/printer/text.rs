//! Readable text: one block per finding.

use std::io::{self, Write};

use snapsift_fs::Content;

use super::shown::{self, Shown, printable};
use super::{FileAt, Located, Printer};
use crate::report::Reported;

/// Writes each finding as a short block: the file (path first), where on the disk, what,
/// the secret and its context line.
///
/// ```text
/// /root/.aws/credentials  (allocated, inode 12)
///   disk.img  partition 1 (ext4, "root")  offset 1048576 (0x100000)  20 bytes
///   aws.access-key-id [high] AWS access key ID
///   secret:  AKIA...
///   context: aws_access_key_id = AKIA...
/// ```
#[derive(Debug)]
pub struct TextPrinter {
    redact: bool,
}

impl TextPrinter {
    /// A printer that masks secrets if `redact`.
    pub fn new(redact: bool) -> Self {
        TextPrinter { redact }
    }
}

impl Printer for TextPrinter {
    fn print(&mut self, out: &mut dyn Write, r: &Reported<'_, '_>) -> io::Result<()> {
        let (finding, location, image) = (&r.finding, &r.location, r.image);
        let shown = Shown::new(finding, self.redact);
        let rule = finding.rule;
        let indent = match &location.file {
            Some(file) => {
                writeln!(out, "{}", file_label(file))?;
                "  "
            }
            None => "",
        };
        writeln!(
            out,
            "{indent}{image}{volume}  offset {offset} ({offset:#x})  {length} bytes",
            volume = volume_label(location.volume),
            offset = finding.offset,
            length = finding.length()
        )?;
        writeln!(
            out,
            "  {} [{}] {}",
            rule.id,
            r.confidence().as_str(),
            rule.name
        )?;
        if !r.assessment.passed.is_empty() || !r.assessment.facts.is_empty() {
            let facts: Vec<String> = r
                .assessment
                .facts
                .iter()
                .map(|f| format!("{} {}", f.name, f.value))
                .collect();
            let checks = r.assessment.passed.join(", ");
            writeln!(out, "  checks:  {checks}{}", join_prefixed("; ", &facts))?;
        }
        if let Some(rejected) = &r.assessment.rejected {
            writeln!(out, "  INVALID: {} ({})", rejected.reason, rejected.check)?;
        }
        // A multi-line secret (a key block) keeps its lines, aligned under the first.
        let mut lines = shown.secret.lines();
        writeln!(out, "  secret:  {}", lines.next().unwrap_or_default())?;
        for line in lines {
            writeln!(out, "           {line}")?;
        }
        if let Some(pair) = &r.pair {
            let secret = if self.redact {
                shown::mask(&pair.secret)
            } else {
                printable(&pair.secret)
            };
            writeln!(
                out,
                "  paired:  {} {secret}  (offset {})",
                pair.rule.id, pair.offset
            )?;
        }
        writeln!(out, "  context: {}", shown.context)?;
        writeln!(out)
    }
}

/// `facts` joined by `, `, after `prefix`; nothing if there are none.
fn join_prefixed(prefix: &str, facts: &[String]) -> String {
    if facts.is_empty() {
        String::new()
    } else {
        format!("{prefix}{}", facts.join(", "))
    }
}

/// The file line: `/etc/app.jar!/config.properties  (allocated, inode 12, zip, utf-16le)`,
/// or the state alone where no file is known: `unallocated (ext4)`.
fn file_label(file: &FileAt) -> String {
    let mut facts = vec![file.state.as_str().to_owned()];
    if let Some(id) = file.id {
        let name = match file.id_name {
            "mft_record" => "MFT record",
            other => other,
        };
        facts.push(format!("{name} {id}"));
    }
    facts.extend(file.chain.iter().map(|l| l.kind.to_owned()));
    facts.extend(file.encoding.map(str::to_owned));
    if let Some(offset) = file.decoded_offset {
        facts.push(format!("decoded offset {offset}"));
    }
    let facts = facts.join(", ");
    match file.display_path() {
        Some(path) => format!("{path}  ({facts})"),
        None if file.id.is_some() => format!("(no name)  ({facts})"),
        None => format!("{}  ({}, no file)", file.state.as_str(), file.filesystem),
    }
}

/// `  partition 2 (ext4, "root")`, `  unpartitioned space`, or nothing where unknown.
fn volume_label(located: Located<'_>) -> String {
    match located {
        Located::Volume(volume) => {
            let content = volume.content.name();
            let name = volume
                .name
                .as_deref()
                .map(|n| format!(", {n:?}"))
                .unwrap_or_default();
            match volume.number {
                Some(number) => format!("  partition {number} ({content}{name})"),
                // A disk with nothing recognised on it: nothing to say beyond the offset.
                None if volume.content == Content::Unknown => String::new(),
                None => format!("  ({content})"),
            }
        }
        Located::Unpartitioned => "  unpartitioned space".into(),
        Located::Unknown => String::new(),
    }
}
