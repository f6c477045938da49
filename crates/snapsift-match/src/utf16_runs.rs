//! Finding UTF-16LE text among arbitrary bytes, so the anchor search can read it as ASCII.
//!
//! A *run* is a maximal stretch of UTF-16LE code units that each hold an ASCII character other
//! than NUL (`c\0`, see [`crate::utf16le_ascii`]), starting at an even or an odd offset. Every
//! UTF-16LE match lies inside one run, and is at least as long as the shortest match any rule
//! can make, so only runs of at least that many units (`min_units`) are worth reading.
//!
//! Searching for runs instead of searching every anchor's UTF-16LE form keeps the anchor
//! automaton at half the literals, which is what keeps it on its fast path. The price is this
//! pass, which is cheap: it looks at aligned blocks of `g` bytes, eight at a time in one `u64`,
//! and only where a block is all UTF-16 text (even bytes text and odd bytes NUL, or the other
//! way round) does it walk unit by unit to the run's ends. No run is missed: a run of at least
//! `g` units covers at least one whole aligned block of `g` bytes (its first aligned block
//! starts at most `g - 1` bytes into the run and ends by byte `2g - 1`, inside the run's
//! `2g` bytes), so `g` is the largest of 8, 4 and 2 that is at most `min_units`.

use std::ops::Range;

/// Bit 7 of every byte.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
/// The low seven bits of every byte.
const LOW_BITS: u64 = 0x7f7f_7f7f_7f7f_7f7f;
/// Bit 7 of the bytes at even offsets of a little-endian word (0, 2, 4, 6).
const EVEN_BYTES: u64 = 0x0080_0080_0080_0080;
/// Bit 7 of the bytes at odd offsets of a little-endian word (1, 3, 5, 7).
const ODD_BYTES: u64 = 0x8000_8000_8000_8000;

/// The maximal runs of UTF-16LE ASCII text in a haystack that have at least `min_units` units
/// and cover an aligned block between the given bounds, in increasing order of where they are
/// found (see the module docs).
pub(crate) struct Utf16Runs<'h> {
    haystack: &'h [u8],
    /// The aligned word examined next.
    word: usize,
    /// Where to stop examining words.
    end: usize,
    /// The block size `g`, in bytes.
    granule: usize,
    /// Bit 7 of the first byte of each block of a word.
    block_firsts: u64,
    /// Bit `i` set for each block starting at byte `i` of 64.
    block_starts: u64,
    min_units: usize,
    /// For runs starting at even and at odd offsets, the end of the last run walked: blocks
    /// inside it are not walked again.
    walked_to: [usize; 2],
}

impl<'h> Utf16Runs<'h> {
    /// The runs of `haystack` with at least `min_units` units (at least 2) that have a whole
    /// block inside `range`. Runs are extended over the whole haystack, not clipped to `range`.
    pub(crate) fn new(haystack: &'h [u8], range: Range<usize>, min_units: usize) -> Self {
        let min_units = min_units.max(2);
        let granule = [8, 4, 2]
            .into_iter()
            .find(|&g| g <= min_units)
            .unwrap_or(2);
        Utf16Runs {
            haystack,
            word: range.start - range.start % 8,
            end: range.end.min(haystack.len()),
            granule,
            block_firsts: (0..8)
                .step_by(granule)
                .fold(0, |m, block| m | 0x80 << (8 * block)),
            block_starts: (0..64).step_by(granule).fold(0, |m, block| m | 1 << block),
            min_units,
            walked_to: [0; 2],
        }
    }

    /// The eight bytes at `at`, the ones past the haystack's end read as 0xff (neither text
    /// nor NUL, so no block reaching past the end qualifies).
    fn word_at(&self, at: usize) -> u64 {
        match self.haystack.get(at..at.saturating_add(8)) {
            Some(bytes) => u64::from_le_bytes(bytes.try_into().unwrap_or([0xff; 8])),
            None => {
                let mut bytes = [0xff; 8];
                let available = self.haystack.get(at..).unwrap_or_default();
                bytes[..available.len()].copy_from_slice(available);
                u64::from_le_bytes(bytes)
            }
        }
    }

    /// For the word `x`: bit 7 of each block's first byte set where the whole block is UTF-16
    /// text starting at an even offset, and the same for an odd offset.
    fn full_blocks(&self, x: u64) -> (u64, u64) {
        // Exact per-byte tests, bit 7 of each byte: NUL, and ASCII other than NUL.
        let nul = !(((x & LOW_BITS).wrapping_add(LOW_BITS)) | x | LOW_BITS);
        let text = !x & HIGH_BITS & !nul;
        let mut even = (text & EVEN_BYTES) | (nul & ODD_BYTES);
        let mut odd = (nul & EVEN_BYTES) | (text & ODD_BYTES);
        // Fold each block's bytes onto its first byte.
        let mut width = 1;
        while width < self.granule {
            even &= even >> (8 * width);
            odd &= odd >> (8 * width);
            width *= 2;
        }
        let firsts = self.block_firsts;
        (even & firsts, odd & firsts)
    }

    /// The first word at or after `from` (aligned) with a whole block of text, if any before
    /// `end`.
    fn next_word_with_text(&self, from: usize) -> Option<usize> {
        // The fast path, 64 bytes at a time: a whole block of text has NUL at all its odd or
        // all its even bytes, which one bit mask of the NUL bytes tells for every block at
        // once; most text and binary data fails here.
        let mut at = from;
        while at + 64 <= self.end.min(self.haystack.len()) {
            let bytes: &[u8; 64] = self.haystack[at..at + 64]
                .try_into()
                .unwrap_or(&[0xff; 64]);
            let mut candidates = self.nul_pattern_blocks(nul_bytes(bytes));
            while candidates != 0 {
                let word = at + (candidates.trailing_zeros() as usize / 8) * 8;
                let (even, odd) = self.full_blocks(self.word_at(word));
                if even | odd != 0 {
                    return Some(word);
                }
                // Skip the rest of this word's candidates.
                let next_word_bit = (word - at + 8) as u32;
                candidates = candidates
                    .checked_shr(next_word_bit)
                    .and_then(|c| c.checked_shl(next_word_bit))
                    .unwrap_or(0);
            }
            at += 64;
        }
        while at < self.end {
            let (even, odd) = self.full_blocks(self.word_at(at));
            if even | odd != 0 {
                return Some(at);
            }
            at += 8;
        }
        None
    }

    /// From the NUL bytes of 64 bytes (bit `i` for byte `i`), a bit at the first byte of each
    /// block whose odd or whose even bytes are all NUL.
    fn nul_pattern_blocks(&self, nul: u64) -> u64 {
        // Bit i: bytes i, i + 2, ... (as many as a block has units) are all NUL.
        let mut every_other = nul;
        let mut span = 2;
        while span < self.granule {
            every_other &= every_other >> span;
            span *= 2;
        }
        // NUL at the block's even bytes (i) or at its odd ones (i + 1).
        (every_other | every_other >> 1) & self.block_starts
    }

    /// Whether the code unit at `at` holds an ASCII character other than NUL.
    fn is_text_unit(&self, at: usize) -> bool {
        matches!(self.haystack.get(at..at.saturating_add(2)), Some([1..=0x7f, 0]))
    }

    /// The maximal run through the unit at `unit`, which is text.
    fn walk(&self, unit: usize) -> Range<usize> {
        let mut start = unit;
        while start >= 2 && self.is_text_unit(start - 2) {
            start -= 2;
        }
        let mut end = unit;
        while self.is_text_unit(end) {
            end += 2;
        }
        start..end
    }
}

impl Iterator for Utf16Runs<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        let g = self.granule;
        while let Some(at) = self.next_word_with_text(self.word) {
            let (even, odd) = self.full_blocks(self.word_at(at));
            let mut found = None;
            for block in (0..8).step_by(g) {
                let bit = 0x80 << (8 * block);
                // In an even block the first unit starts at its first byte; in an odd one, the
                // block's first byte ends the unit before, and the next unit starts one later.
                for (pattern, first_unit) in [(even, at + block), (odd, at + block + 1)] {
                    let parity = first_unit % 2;
                    // (An odd block of 2 bytes holds only the first byte of its unit.)
                    if pattern & bit == 0
                        || first_unit < self.walked_to[parity]
                        || !self.is_text_unit(first_unit)
                    {
                        continue;
                    }
                    let run = self.walk(first_unit);
                    self.walked_to[parity] = run.end;
                    if (run.end - run.start) / 2 >= self.min_units && found.is_none() {
                        found = Some(run);
                    }
                }
                if found.is_some() {
                    break;
                }
            }
            match found {
                Some(run) => {
                    // Look at this word again: a run at the other parity may start in it.
                    self.word = at.max(run.end - run.end % 8);
                    return Some(run);
                }
                None => self.word = at + 8,
            }
        }
        self.word = self.end;
        None
    }
}

/// Bit `i` set where byte `i` is NUL.
#[cfg(target_arch = "x86_64")]
fn nul_bytes(bytes: &[u8; 64]) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_setzero_si128,
    };
    let mut mask = 0;
    for (i, chunk) in bytes.chunks_exact(16).enumerate() {
        // SAFETY: `chunk` is 16 readable bytes and the load has no alignment requirement;
        // SSE2 is part of every x86_64 CPU.
        let nul = unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
            _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128()))
        };
        mask |= u64::from(nul as u16) << (16 * i);
    }
    mask
}

/// Bit `i` set where byte `i` is NUL.
#[cfg(not(target_arch = "x86_64"))]
fn nul_bytes(bytes: &[u8; 64]) -> u64 {
    let mut mask = 0;
    for (i, chunk) in bytes.chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or([0xff; 8]));
        let nul = !(((x & LOW_BITS).wrapping_add(LOW_BITS)) | x | LOW_BITS);
        // Gather bit 7 of each byte into the low 8 bits.
        let gathered = ((nul >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) & 0xff;
        mask |= gathered << (8 * i);
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wide(text: &str) -> Vec<u8> {
        text.bytes().flat_map(|b| [b, 0]).collect()
    }

    /// Every maximal run of at least `min_units` units, by walking every offset.
    fn runs_by_brute_force(haystack: &[u8], min_units: usize) -> Vec<Range<usize>> {
        let is_text = |at: usize| matches!(haystack.get(at..at + 2), Some([1..=0x7f, 0]));
        let mut runs = Vec::new();
        for start in 0..haystack.len() {
            if !is_text(start) || (start >= 2 && is_text(start - 2)) {
                continue;
            }
            let mut end = start;
            while is_text(end) {
                end += 2;
            }
            if (end - start) / 2 >= min_units {
                runs.push(start..end);
            }
        }
        runs
    }

    fn found(haystack: &[u8], min_units: usize) -> Vec<Range<usize>> {
        let mut runs: Vec<_> = Utf16Runs::new(haystack, 0..haystack.len(), min_units).collect();
        runs.sort_by_key(|r| r.start);
        runs
    }

    #[test]
    fn finds_runs_at_both_parities_and_no_others() {
        let mut haystack = b"\xffxx".to_vec();
        haystack.extend(wide("password=hunter2"));
        haystack.extend(b"\x80\x81\x82");
        haystack.extend(wide("AKIAEXAMPLE"));
        haystack.extend(b"plain ascii text is not utf-16");
        assert_eq!(found(&haystack, 8), runs_by_brute_force(&haystack, 8));
        assert_eq!(found(&haystack, 8).len(), 2);
        assert_eq!(found(&haystack, 12).len(), 1);
    }

    #[test]
    fn adjacent_runs_of_both_parities() {
        // An even run, a NUL, then an odd run: "a\0b\0...\0c\0d\0..."
        let mut haystack = wide("abcdefgh");
        haystack.push(0);
        haystack.extend(wide("ijklmnop"));
        assert_eq!(found(&haystack, 4), runs_by_brute_force(&haystack, 4));
        assert_eq!(found(&haystack, 4).len(), 2);
    }

    #[test]
    fn agrees_with_brute_force_on_noise() {
        // A small generator: bytes mostly from an alphabet that makes many short runs.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..300 {
            let len = (next() % 300) as usize;
            let haystack: Vec<u8> = (0..len)
                .map(|_| match next() % 8 {
                    0..=2 => 0,
                    3..=5 => b'a' + (next() % 26) as u8,
                    6 => 0x80,
                    _ => (next() % 256) as u8,
                })
                .collect();
            for min_units in [2, 3, 4, 5, 7, 8, 9, 16] {
                assert_eq!(
                    found(&haystack, min_units),
                    runs_by_brute_force(&haystack, min_units),
                    "round {round}, min_units {min_units}"
                );
            }
        }
    }

    #[test]
    fn nul_bytes_marks_exactly_the_nul_bytes() {
        let mut bytes = [7u8; 64];
        for i in [0, 1, 15, 16, 31, 40, 63] {
            bytes[i] = 0;
        }
        bytes[5] = 0x80;
        let expected = [0, 1, 15, 16, 31, 40, 63].iter().fold(0u64, |m, i| m | 1 << i);
        assert_eq!(nul_bytes(&bytes), expected);
    }

    #[test]
    fn a_sub_range_finds_the_runs_crossing_it_whole() {
        let mut haystack = vec![0xffu8; 5];
        haystack.extend(wide("secret=0123456789abcdef"));
        haystack.extend([0xff; 40]);
        let runs: Vec<_> = Utf16Runs::new(&haystack, 30..40, 8).collect();
        assert_eq!(runs, vec![5..5 + 46]);
        let none: Vec<_> = Utf16Runs::new(&haystack, 60..90, 8).collect();
        assert!(none.is_empty());
    }
}
