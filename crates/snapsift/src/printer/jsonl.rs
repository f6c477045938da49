//! JSON Lines: one object per finding, for other tools (and for `snapsift merge`).

use std::io::{self, Write};

use snapsift_engine::coverage::ImageCoverage;
use snapsift_engine::record::FindingRecord;

use super::{Printer, escape};

/// Writes each finding as one JSON object on one line: the [`FindingRecord`], whose docs
/// list the fields.
///
/// After each image's findings comes one line `{"coverage": {...}}` (the only line without
/// a `rule`): what the scan of that image covered, see [`ImageCoverage`] for its fields
/// (`image`, `format`, `disk_size`, `data_bytes`, `scanned_bytes`, `unreadable_bytes`,
/// `unreadable`: `[{"start", "end", "reason"}]`, `file_problems`: `[{"path", "offset",
/// "container", "limit": {"name", "value"} or null, "message"}]`, `complete`, `shard`,
/// `error`). `complete` is false when a byte could not be read or a file problem has a
/// `limit` (a limit cut that file's content).
#[derive(Debug, Default)]
pub struct JsonlPrinter;

impl Printer for JsonlPrinter {
    fn print(&mut self, out: &mut dyn Write, finding: &FindingRecord) -> io::Result<()> {
        escape::write_json(out, &finding_object(finding), false)?;
        out.write_all(b"\n")
    }

    fn coverage(&mut self, out: &mut dyn Write, coverage: &ImageCoverage) -> io::Result<()> {
        escape::write_json(out, &serde_json::json!({ "coverage": coverage }), false)?;
        out.write_all(b"\n")
    }
}

/// One finding as the JSON object JSON Lines prints on a line (and the JSON array holds),
/// its keys in order.
pub fn finding_object(finding: &FindingRecord) -> serde_json::Value {
    serde_json::to_value(finding).unwrap_or(serde_json::Value::Null)
}
