//! JSON: one document for the whole run, for tools that read a file whole.

use std::io::{self, Write};

use serde_json::{Value, json};
use snapsift_engine::coverage::ImageCoverage;
use snapsift_engine::record::FindingRecord;

use super::{Printer, TOOL_VERSION, escape, jsonl};

/// Writes one JSON document once every image is scanned:
///
/// ```json
/// {
///   "tool": {"name": "snapsift", "version": "0.1.0"},
///   "findings": [
///     {"image": "disk.img", "rule": "aws.access-key-id", "secret": "AKIA…", "offset": 1052712, …}
///   ],
///   "summary": {
///     "findings": 1,
///     "images": [{"image": "disk.img", "findings": 1}],
///     "complete": true
///   },
///   "coverage": [
///     {"image": "disk.img", "format": "raw image file", "scanned_bytes": 33554432, "unreadable": [], "complete": true, …}
///   ]
/// }
/// ```
///
/// `findings` holds exactly the objects `--format jsonl` prints, one per line there, in the
/// same order (image by image, in disk order; see `FindingRecord` for their fields). `summary.findings` is their number and `summary.images`
/// counts them per image, in the order the images were scanned; an image without findings
/// is not listed. With no findings at all the document is still written, with
/// `"findings": []`. `coverage` holds each image's coverage record (the object of
/// `--format jsonl`'s `coverage` lines, see `ImageCoverage`), and `summary.complete` says
/// whether every image was scanned in full.
#[derive(Debug)]
pub struct JsonPrinter {
    findings: Vec<Value>,
    /// Each image with findings and how many, in the order scanned.
    images: Vec<(String, u64)>,
    /// Each image's coverage, in the order scanned.
    coverage: Vec<Value>,
    /// Whether every image so far was scanned in full.
    complete: bool,
}

impl JsonPrinter {
    /// A printer with nothing printed yet.
    pub fn new() -> Self {
        JsonPrinter {
            findings: Vec::new(),
            images: Vec::new(),
            coverage: Vec::new(),
            complete: true,
        }
    }
}

impl Default for JsonPrinter {
    fn default() -> Self {
        JsonPrinter::new()
    }
}

impl Printer for JsonPrinter {
    fn print(&mut self, _out: &mut dyn Write, r: &FindingRecord) -> io::Result<()> {
        self.findings.push(jsonl::finding_object(r));
        match self.images.last_mut() {
            Some((image, count)) if *image == r.image => *count = count.saturating_add(1),
            _ => self.images.push((r.image.clone(), 1)),
        }
        Ok(())
    }

    fn coverage(&mut self, _out: &mut dyn Write, coverage: &ImageCoverage) -> io::Result<()> {
        self.complete &= coverage.complete;
        self.coverage.push(serde_json::to_value(coverage)?);
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let findings = std::mem::take(&mut self.findings);
        let images: Vec<Value> = std::mem::take(&mut self.images)
            .into_iter()
            .map(|(image, findings)| json!({"image": image, "findings": findings}))
            .collect();
        let document = json!({
            "tool": {"name": "snapsift", "version": TOOL_VERSION},
            "summary": {"findings": findings.len(), "images": images, "complete": self.complete},
            "findings": findings,
            "coverage": std::mem::take(&mut self.coverage),
        });
        escape::write_json(out, &document, true)?;
        out.write_all(b"\n")
    }
}
