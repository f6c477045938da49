//! Skipping runs of zero bytes: a fresh cloud disk is mostly zeros.

use std::ops::Range;

/// The granularity of zero skipping. A block is skipped only if all its bytes are zero.
const BLOCK: usize = 4096;

/// The parts of `haystack[range]` left after removing every all-zero block.
///
/// Blocks are aligned to the start of the haystack. Checking a block stops at its first
/// non-zero byte, so dense data costs almost nothing extra.
pub(crate) struct NonZeroSegments<'h> {
    haystack: &'h [u8],
    pos: usize,
    end: usize,
}

impl<'h> NonZeroSegments<'h> {
    pub(crate) fn new(haystack: &'h [u8], range: Range<usize>) -> Self {
        NonZeroSegments {
            haystack,
            pos: range.start,
            end: range.end.min(haystack.len()),
        }
    }

    /// The end of the block containing `pos`, clipped to the range.
    fn block_end(&self, pos: usize) -> usize {
        let next_boundary = (pos / BLOCK).saturating_add(1).saturating_mul(BLOCK);
        next_boundary.min(self.end)
    }

    fn is_zero_block(&self, pos: usize) -> bool {
        is_all_zero(&self.haystack[pos..self.block_end(pos)])
    }
}

impl Iterator for NonZeroSegments<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        while self.pos < self.end && self.is_zero_block(self.pos) {
            self.pos = self.block_end(self.pos);
        }
        if self.pos >= self.end {
            return None;
        }
        let start = self.pos;
        while self.pos < self.end && !self.is_zero_block(self.pos) {
            self.pos = self.block_end(self.pos);
        }
        Some(start..self.pos)
    }
}

/// Whether every byte of `bytes` is zero.
pub(crate) fn is_all_zero(bytes: &[u8]) -> bool {
    // Look at the first bytes alone first: dense data almost always fails here.
    let (head, rest) = bytes.split_at(bytes.len().min(16));
    if head.iter().any(|&b| b != 0) {
        return false;
    }
    let (prefix, words, suffix) = {
        // SAFETY: every bit pattern is a valid u64.
        unsafe { rest.align_to::<u64>() }
    };
    prefix.iter().all(|&b| b == 0)
        && words
            .chunks(8)
            .all(|c| c.iter().fold(0, |acc, &w| acc | w) == 0)
        && suffix.iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(haystack: &[u8], range: Range<usize>) -> Vec<Range<usize>> {
        NonZeroSegments::new(haystack, range).collect()
    }

    #[test]
    fn all_zero_haystack_has_no_segments() {
        assert!(segments(&vec![0; 3 * BLOCK + 5], 0..3 * BLOCK + 5).is_empty());
    }

    #[test]
    fn zero_blocks_between_data_are_skipped() {
        let mut hay = vec![0u8; 4 * BLOCK];
        hay[10] = 1;
        hay[3 * BLOCK + 7] = 1;
        assert_eq!(
            segments(&hay, 0..hay.len()),
            vec![0..BLOCK, 3 * BLOCK..4 * BLOCK]
        );
    }

    #[test]
    fn partial_blocks_at_the_range_edges_are_checked_alone() {
        let mut hay = vec![0u8; 3 * BLOCK];
        hay[BLOCK + 1] = 1; // In the block the range starts in, but before the range.
        hay[2 * BLOCK + 100] = 1;
        assert_eq!(
            segments(&hay, BLOCK + 50..2 * BLOCK + 50),
            vec![] as Vec<Range<usize>>
        );
        assert_eq!(
            segments(&hay, BLOCK + 50..2 * BLOCK + 200),
            vec![2 * BLOCK..2 * BLOCK + 200]
        );
    }

    #[test]
    fn is_all_zero_sees_every_byte() {
        for len in [0, 1, 15, 16, 17, 63, 64, 65, 4096] {
            let mut bytes = vec![0u8; len];
            assert!(is_all_zero(&bytes), "len {len}");
            for i in 0..len {
                bytes[i] = 0x80;
                assert!(!is_all_zero(&bytes), "len {len}, byte {i}");
                bytes[i] = 0;
            }
        }
    }
}
