//! Printers: sinks that write findings in one output format.
//!
//! Each printer turns a [`Finding`] into bytes on a writer; they share how secrets and context
//! are made printable and, with `--redact`, masked ([`shown`]).

mod jsonl;
mod place;
mod shown;
mod text;

use std::io::{self, Write};

pub use jsonl::JsonlPrinter;
pub use place::{FileAt, Layer, Located, Location, Place};
pub use text::TextPrinter;

use snapsift_scan::Finding;

/// Writes one finding; where it was found comes with it.
pub trait Printer {
    /// Writes `finding`, found in `image` at `location`.
    fn print(
        &mut self,
        out: &mut dyn Write,
        image: &str,
        location: &Location<'_>,
        finding: &Finding<'_>,
    ) -> io::Result<()>;
}
