//! Not part of the API: what this crate's own tests and the fuzz targets in `fuzz/` need and
//! the API keeps private. Hidden from the documentation; nothing but tests and fuzz targets
//! may use it, and it may change at any time.

use std::ops::Range;

use crate::teddy16;

/// Whether the tests run under CI (`CI=true`), where every CPU feature a test needs must be
/// there.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|ci| ci == "true")
}

/// A test cannot run here, for `reason` (the CPU lacks a feature the code under test needs):
/// fails it under `CI=true`, else prints `SKIPPED: reason` for the caller, which then returns.
/// The one way a test of this crate may skip.
pub fn unavailable(reason: &str) {
    assert!(!under_ci(), "unavailable under CI=true: {reason}");
    println!("SKIPPED: {reason}");
}

/// Whether this CPU runs the fast anchor search, `teddy16` (x86_64 with AVX2).
pub fn has_avx2() -> bool {
    crate::cpu::Avx2::detect().is_some()
}

/// The `teddy16` search itself, for the differential fuzz target (`fuzz/fuzz_targets/teddy16.rs`)
/// and tests that compare it with other searches.
#[derive(Debug)]
pub struct Teddy16Search(teddy16::Teddy16);

impl Teddy16Search {
    /// A search for `literals` (at most 2^32, none empty), or `None` where this CPU cannot run
    /// it (no AVX2) or a literal is empty.
    pub fn new(literals: &[Vec<u8>]) -> Option<Teddy16Search> {
        teddy16::Teddy16::new(literals).map(Teddy16Search)
    }

    /// Every `(position, literal index)` where a literal lies within `text[range]` and starts
    /// before `stop`, in the order the search reports them (by position).
    ///
    /// # Panics
    ///
    /// Panics if `range` is not within `text`.
    pub fn find_all(&self, text: &[u8], range: Range<usize>, stop: usize) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        self.0.for_each(text, range, stop, |position, literal| {
            found.push((position, literal))
        });
        found
    }
}
