//! Expanding one file's bytes the way the file pass does, reading every leaf to its end.

use std::convert::Infallible;
use std::io::{Cursor, Read};

use snapsift_unpack::{Kind, Layer, Leaf, Limits, Problem, Visitor, sniff};

/// Expands `data` with the default [`Limits`] (the file pass's) if [`sniff`] takes it for
/// `kind`, so that each target stays on its own decoder at the root (layers inside may be
/// anything).
///
/// Panics if a leaf's reader returns an error (its contract: it ends early instead), or if
/// more is decompressed than [`Limits::max_expanded`] allows.
pub fn expand(data: &[u8], kind: Kind) {
    let head = &data[..data.len().min(snapsift_unpack::SNIFF_LEN)];
    if sniff(head) != Some(kind) {
        return;
    }
    let limits = Limits::default();
    let mut visitor = ReadAll::default();
    // Corrupt input is never an error, and reading a slice cannot fail.
    let summary =
        snapsift_unpack::unpack(Cursor::new(data), data.len() as u64, &limits, &mut visitor)
            .unwrap_or_else(|error| panic!("unpack failed on bytes in memory: {error}"));
    assert!(
        summary.expanded <= limits.max_expanded,
        "{} bytes expanded, the limit is {}",
        summary.expanded,
        limits.max_expanded
    );
    assert_eq!(summary.leaves, visitor.leaves);
}

/// A visitor that reads every leaf to its end, as the matcher does.
#[derive(Default)]
struct ReadAll {
    leaves: u64,
    buf: Vec<u8>,
}

impl Visitor for ReadAll {
    type Error = Infallible;

    fn leaf(&mut self, leaf: &Leaf<'_>, content: &mut dyn Read) -> Result<(), Infallible> {
        self.leaves += 1;
        self.buf.resize(64 << 10, 0);
        loop {
            match content.read(&mut self.buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(error) => panic!("the leaf {:?} failed: {error}", leaf.chain),
            }
        }
        Ok(())
    }

    fn problem(&mut self, _: &[Layer], _: &Problem) -> Result<(), Infallible> {
        Ok(())
    }
}
