//! Readable text: one block per finding.

use std::io::{self, Write};

use snapsift_scan::Finding;

use super::Printer;
use super::shown::Shown;

/// Writes each finding as a short block: where, what, the secret and its context line.
///
/// ```text
/// disk.img  offset 1048576 (0x100000)  20 bytes
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
    fn print(&mut self, out: &mut dyn Write, image: &str, finding: &Finding<'_>) -> io::Result<()> {
        let shown = Shown::new(finding, self.redact);
        let rule = finding.rule;
        writeln!(
            out,
            "{image}  offset {offset} ({offset:#x})  {length} bytes",
            offset = finding.offset,
            length = finding.length()
        )?;
        writeln!(
            out,
            "  {} [{}] {}",
            rule.id,
            rule.confidence.as_str(),
            rule.name
        )?;
        // A multi-line secret (a key block) keeps its lines, aligned under the first.
        let mut lines = shown.secret.lines();
        writeln!(out, "  secret:  {}", lines.next().unwrap_or_default())?;
        for line in lines {
            writeln!(out, "           {line}")?;
        }
        writeln!(out, "  context: {}", shown.context)?;
        writeln!(out)
    }
}
