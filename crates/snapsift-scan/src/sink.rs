//! [`Sink`]: where a scan delivers its findings.

use std::io;

use crate::Finding;

/// Receives a scan's findings, in disk order, on the thread that called [`crate::scan`].
///
/// `'m` is the lifetime of the matcher whose rules the findings refer to. Printers implement
/// this trait; they live in the binary, apart from the scan.
pub trait Sink<'m> {
    /// Takes one finding. An error stops the scan and is returned by [`crate::scan`].
    fn finding(&mut self, finding: Finding<'m>) -> io::Result<()>;

    /// Called once before the first finding with the number of bytes the scan will read
    /// (the disk's data ranges); the default ignores it.
    fn begin(&mut self, _data_bytes: u64) {}

    /// Reports that `scanned` bytes of the disk's data ranges are done. Called after each
    /// chunk, in disk order; the default ignores it.
    fn progress(&mut self, _scanned: u64) {}
}

/// A sink that keeps every finding in memory, for tests and small scans.
#[derive(Debug, Default)]
pub struct Collect<'m> {
    /// The findings so far, in disk order.
    pub findings: Vec<Finding<'m>>,
}

impl<'m> Sink<'m> for Collect<'m> {
    fn finding(&mut self, finding: Finding<'m>) -> io::Result<()> {
        self.findings.push(finding);
        Ok(())
    }
}
