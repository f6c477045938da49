//! JSON Lines: one object per finding, for other tools.

use std::io::{self, Write};

use serde::Serialize;
use snapsift_scan::Finding;

use super::Printer;
use super::shown::Shown;

/// Writes each finding as one JSON object on one line.
///
/// Fields: `image`, `rule`, `rule_name`, `confidence`, `secret`, `offset`, `length`, `context`,
/// and `secret_hex` when the secret is not valid UTF-8 (then `secret` is a lossy rendering) and
/// not redacted.
#[derive(Debug)]
pub struct JsonlPrinter {
    redact: bool,
}

impl JsonlPrinter {
    /// A printer that masks secrets if `redact`.
    pub fn new(redact: bool) -> Self {
        JsonlPrinter { redact }
    }
}

#[derive(Serialize)]
struct Record<'a> {
    image: &'a str,
    rule: &'a str,
    rule_name: &'a str,
    confidence: &'a str,
    secret: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_hex: Option<String>,
    offset: u64,
    length: u64,
    context: &'a str,
}

impl Printer for JsonlPrinter {
    fn print(&mut self, out: &mut dyn Write, image: &str, finding: &Finding<'_>) -> io::Result<()> {
        let shown = Shown::new(finding, self.redact);
        let secret_hex = (!self.redact && std::str::from_utf8(&finding.secret).is_err())
            .then(|| finding.secret.iter().map(|b| format!("{b:02x}")).collect());
        let record = Record {
            image,
            rule: &finding.rule.id,
            rule_name: &finding.rule.name,
            confidence: finding.rule.confidence.as_str(),
            secret: &shown.secret,
            secret_hex,
            offset: finding.offset,
            length: finding.length(),
            context: &shown.context,
        };
        serde_json::to_writer(&mut *out, &record)?;
        out.write_all(b"\n")
    }
}
