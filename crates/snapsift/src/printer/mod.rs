//! Printers: sinks that write findings in one output format.
//!
//! Each printer turns a [`Finding`] into bytes on a writer; they share how secrets and context
//! are made printable and, with `--redact`, masked ([`shown`]).

mod jsonl;
mod shown;
mod text;

use std::io::{self, Write};

pub use jsonl::JsonlPrinter;
pub use text::TextPrinter;

use snapsift_scan::Finding;

/// Writes one finding; the scanned image's name comes with it.
pub trait Printer {
    /// Writes `finding`, found on `image`.
    fn print(&mut self, out: &mut dyn Write, image: &str, finding: &Finding<'_>) -> io::Result<()>;
}
