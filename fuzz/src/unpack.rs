//! Expanding one file's bytes the way the file pass does, reading every leaf to its end.

use std::convert::Infallible;
use std::io::{Cursor, Read};

use snapsift_unpack::{Kind, Layer, Leaf, Limits, Problem, Visitor, sniff};

/// Expands `data` with the default [`Limits`] (the file pass's) if [`sniff`] takes it for
/// `kind`, so that each target stays on its own decoder at the root (layers inside may be
/// anything).
///
/// Panics if a leaf's reader returns an error (its contract: it ends early instead), if more
/// is decompressed than the input's [`Limits::expansion_budget`] allows, or if a problem says
/// the budget was spent when it was not.
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
    let budget = limits.expansion_budget(data.len() as u64);
    assert!(
        summary.expanded <= budget,
        "{} bytes expanded, the budget is {budget}",
        summary.expanded,
    );
    if let Some(spent) = visitor.budget_spent {
        assert_eq!(spent, budget, "the problem names another budget");
        assert_eq!(summary.expanded, budget, "the budget was not spent");
    }
    assert_eq!(summary.leaves, visitor.leaves);
}

/// A visitor that reads every leaf to its end, as the matcher does.
#[derive(Default)]
struct ReadAll {
    leaves: u64,
    buf: Vec<u8>,
    /// The budget an [`Problem::ExpandedLimit`] named.
    budget_spent: Option<u64>,
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

    fn problem(&mut self, _: &[Layer], problem: &Problem) -> Result<(), Infallible> {
        // Every limit names itself, the way the report lists it.
        if let Some(limit) = problem.limit() {
            assert!(!limit.name.is_empty());
        }
        if let Problem::ExpandedLimit { budget } = problem {
            assert!(self.budget_spent.is_none(), "the budget is spent once");
            self.budget_spent = Some(*budget);
        }
        Ok(())
    }
}
