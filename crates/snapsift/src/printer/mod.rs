//! Printers: sinks that write findings in one output format.
//!
//! Each printer turns a [`FindingRecord`] into bytes on a writer (masked before, with
//! `--redact`: see `snapsift_engine::redact`); `snapsift_engine::shown` says how secrets and context
//! are made printable and how a secret is masked, and [`escape`] how text read from an image is
//! written so that no terminal acts on it. A printer of a
//! format that is one document (a JSON array, SARIF) or that groups findings (text) keeps what
//! it needs and writes it at [`Printer::finish`].

pub mod audit;
pub mod escape;
mod json;
mod jsonl;
mod sarif;
mod summary;
mod text;

use std::io::{self, Write};

pub use json::JsonPrinter;
pub use jsonl::JsonlPrinter;
pub use sarif::SarifPrinter;
pub use text::TextPrinter;

use snapsift_match::Rule;

use snapsift_engine::coverage::ImageCoverage;
use snapsift_engine::record::FindingRecord;

/// Writes findings in one format.
pub trait Printer {
    /// Writes (or keeps, to write at [`Printer::finish`]) one finding.
    fn print(&mut self, out: &mut dyn Write, finding: &FindingRecord) -> io::Result<()>;

    /// Writes (or keeps) what the scan of one image covered, after its findings; called for
    /// every image, scanned or not.
    fn coverage(&mut self, out: &mut dyn Write, coverage: &ImageCoverage) -> io::Result<()>;

    /// Writes whatever is still held, once every image is scanned.
    fn finish(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Readable text, grouped by secret ([`TextPrinter`]).
    Text,
    /// JSON Lines ([`JsonlPrinter`]).
    Jsonl,
    /// One JSON document ([`JsonPrinter`]).
    Json,
    /// SARIF 2.1.0 ([`SarifPrinter`]).
    Sarif,
}

/// What a printer is made from.
#[derive(Clone, Copy, Debug)]
pub struct PrinterConfig<'a> {
    /// The format it writes.
    pub format: Format,
    /// The rules in force, which a document format describes.
    pub rules: &'a [Rule],
}

/// The printer `config` asks for.
pub fn new(config: PrinterConfig<'_>) -> Box<dyn Printer> {
    let PrinterConfig { format, rules } = config;
    match format {
        Format::Text => Box::new(TextPrinter::new()),
        Format::Jsonl => Box::new(JsonlPrinter),
        Format::Json => Box::new(JsonPrinter::new()),
        Format::Sarif => Box::new(SarifPrinter::new(rules)),
    }
}

/// The version of snapsift that writes the output, for formats that name their tool.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
