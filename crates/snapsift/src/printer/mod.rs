//! Printers: sinks that write findings in one output format.
//!
//! Each printer turns a [`Reported`] finding into bytes on a writer; they share how secrets
//! and context are made printable and, with `--redact`, masked ([`shown`]). A printer of a
//! format that is one document (a JSON array, SARIF) or that groups findings (text) keeps what
//! it needs and writes it at [`Printer::finish`].

mod json;
mod jsonl;
mod place;
mod sarif;
mod shown;
mod text;

use std::io::{self, Write};

pub use json::JsonPrinter;
pub use jsonl::JsonlPrinter;
pub use place::{FileAt, Layer, Located, Location, Place};
pub use sarif::SarifPrinter;
pub use text::TextPrinter;

use snapsift_match::Matcher;

use crate::cli::Format;
use crate::coverage::ImageCoverage;
use crate::report::Reported;

/// Writes findings in one format.
pub trait Printer {
    /// Writes (or keeps, to write at [`Printer::finish`]) one finding.
    fn print(&mut self, out: &mut dyn Write, finding: &Reported<'_, '_>) -> io::Result<()>;

    /// Writes (or keeps) what the scan of one image covered, after its findings; called for
    /// every image, scanned or not.
    fn coverage(&mut self, out: &mut dyn Write, coverage: &ImageCoverage) -> io::Result<()>;

    /// Writes whatever is still held, once every image is scanned.
    fn finish(&mut self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}

/// The printer of `format`; `matcher` holds the rules a document format describes.
pub fn for_format(format: Format, redact: bool, matcher: &Matcher) -> Box<dyn Printer> {
    match format {
        Format::Text => Box::new(TextPrinter::new(redact)),
        Format::Jsonl => Box::new(JsonlPrinter::new(redact)),
        Format::Json => Box::new(JsonPrinter::new(redact)),
        Format::Sarif => Box::new(SarifPrinter::new(redact, matcher.rules())),
    }
}

/// The version of snapsift that writes the output, for formats that name their tool.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
