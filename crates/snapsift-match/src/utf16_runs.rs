//! Finding UTF-16LE text among arbitrary bytes, so the anchor search can read it as ASCII.
//!
//! A *run* is a maximal stretch of UTF-16LE code units that each hold an ASCII character other
//! than NUL (`c\0`, see [`crate::utf16le_ascii`]), starting at an even or an odd offset. Every
//! UTF-16LE match lies inside one run, and is at least as long as the shortest match any rule
//! can make, so only runs of at least that many units (`min_units`) are worth reading.
//!
//! Searching for runs instead of searching every anchor's UTF-16LE form keeps the anchor
//! search at half the literals, which is what keeps it fast. The price is this pass, which is
//! cheap: 64 bytes at a time, it makes one bit mask of the NUL bytes and one of the bytes with
//! bit 7 set (two SIMD instructions per 16 bytes on x86_64), and from them, with a few shifts,
//! the aligned blocks of `g` bytes that are all UTF-16 text: text at the even bytes and NUL at
//! the odd ones, or the other way round. Only from such a block does it walk unit by unit to
//! the run's ends. No run is missed: a run of at least `g` units covers at least one whole
//! aligned block of `g` bytes (its first aligned block starts at most `g - 1` bytes into the
//! run and ends by byte `2g - 1`, inside the run's `2g` bytes), so `g` is the largest of 8, 4
//! and 2 that is at most `min_units`.

use std::ops::Range;

use crate::cpu::Avx2;

/// Bit `i` set for every even `i`: the even bytes of 64.
const EVEN: u64 = 0x5555_5555_5555_5555;
/// Bit `i` set for every odd `i`: the odd bytes of 64.
const ODD: u64 = !EVEN;

/// The maximal runs of UTF-16LE ASCII text in a haystack that have at least `min_units` units
/// and a whole aligned block in a given range, in increasing order of that block (see the
/// module docs).
pub(crate) struct Utf16Runs<'h> {
    haystack: &'h [u8],
    /// Where the next 64 bytes to examine start; a multiple of the block size.
    pos: usize,
    /// Where to stop: no block starting here or later is examined.
    end: usize,
    /// The block size `g`, in bytes.
    granule: usize,
    /// Bit `i` set for each block starting at byte `i` of 64.
    block_starts: u64,
    min_units: usize,
    /// For runs starting at even and at odd offsets, the end of the last run walked: blocks
    /// inside it are not walked again.
    walked_to: [usize; 2],
    /// Where the CPU has AVX2, which halves the instructions of the byte masks.
    avx2: Option<Avx2>,
}

impl<'h> Utf16Runs<'h> {
    /// The runs of `haystack` with at least `min_units` units (at least 2) that have a whole
    /// block starting inside `range`. Runs are extended over the whole haystack, not clipped
    /// to `range`.
    pub(crate) fn new(haystack: &'h [u8], range: Range<usize>, min_units: usize) -> Self {
        let min_units = min_units.max(2);
        let granule = [8, 4, 2].into_iter().find(|&g| g <= min_units).unwrap_or(2);
        Utf16Runs {
            haystack,
            pos: range.start - range.start % granule,
            end: range.end.min(haystack.len()),
            granule,
            block_starts: (0..64).step_by(granule).fold(0, |m, b| m | 1 << b),
            min_units,
            walked_to: [0; 2],
            avx2: Avx2::detect(),
        }
    }

    /// The 64 bytes at `at`, the ones past the haystack's end read as 0xff (neither text nor
    /// NUL, so no block reaching past the end qualifies).
    fn bytes_at(&self, at: usize) -> [u8; 64] {
        let mut bytes = [0xff; 64];
        let available = &self.haystack[at.min(self.haystack.len())..];
        let n = available.len().min(64);
        bytes[..n].copy_from_slice(&available[..n]);
        bytes
    }

    /// For 64 bytes, from their NUL and bit-7 masks: bit `i` set where a block of text starts
    /// at byte `i`, the first unit at byte `i` (even) and where the first unit starts at byte
    /// `i + 1` (odd).
    #[inline(always)]
    fn text_blocks(&self, nul: u64, high: u64) -> (u64, u64) {
        let text = !(nul | high);
        let mut even = (text & EVEN) | (nul & ODD);
        let mut odd = (nul & EVEN) | (text & ODD);
        // Fold each block's bytes onto its first byte.
        let mut width = 1;
        while width < self.granule {
            even &= even >> width;
            odd &= odd >> width;
            width *= 2;
        }
        (even & self.block_starts, odd & self.block_starts)
    }

    /// Whether the code unit at `at` holds an ASCII character other than NUL.
    fn is_text_unit(&self, at: usize) -> bool {
        matches!(
            self.haystack.get(at..at.saturating_add(2)),
            Some([1..=0x7f, 0])
        )
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

impl Utf16Runs<'_> {
    /// From `self.pos` on, the first 64 bytes with a block of text starting before the end:
    /// where they start, and their even and odd blocks (see [`Utf16Runs::text_blocks`]).
    fn next_blocks(&mut self) -> Option<(usize, u64, u64)> {
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = self.avx2 {
            // SAFETY: `avx2` proves the CPU has AVX2 (see `crate::cpu`).
            return unsafe { self.next_blocks_avx2(avx2) };
        }
        self.scan(nul_and_high_bytes)
    }

    /// [`Utf16Runs::next_blocks`], compiled for AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn next_blocks_avx2(&mut self, _avx2: Avx2) -> Option<(usize, u64, u64)> {
        self.scan(|bytes| nul_and_high_bytes_avx2(bytes))
    }

    /// [`Utf16Runs::next_blocks`] with the given way of making the byte masks; inlined into
    /// each caller, so that an AVX2 caller's copy is compiled for AVX2.
    #[inline(always)]
    fn scan(&mut self, masks: impl Fn(&[u8; 64]) -> (u64, u64)) -> Option<(usize, u64, u64)> {
        while self.pos < self.end {
            let at = self.pos;
            let whole = self.haystack.get(at..at.saturating_add(64));
            let (nul, high) = match whole.and_then(|b| <&[u8; 64]>::try_from(b).ok()) {
                Some(bytes) => masks(bytes),
                None => masks(&self.bytes_at(at)),
            };
            // Every block of UTF-16 text holds a NUL (its granule is at least 2 bytes): most
            // text and binary data has none, and is passed over here.
            if nul == 0 {
                self.pos = at + 64;
                continue;
            }
            let (even, odd) = self.text_blocks(nul, high);
            // Only blocks starting before the end.
            let before_end = match self.end - at {
                n if n >= 64 => u64::MAX,
                n => (1u64 << n) - 1,
            };
            if (even | odd) & before_end != 0 {
                return Some((at, even & before_end, odd & before_end));
            }
            self.pos = at + 64;
        }
        None
    }
}

impl Iterator for Utf16Runs<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        let g = self.granule;
        while let Some((at, even, odd)) = self.next_blocks() {
            let mut blocks = even | odd;
            while blocks != 0 {
                let offset = blocks.trailing_zeros() as usize;
                blocks &= blocks - 1;
                let bit = 1u64 << offset;
                // In an even block the first unit starts at its first byte; in an odd one,
                // the block's first byte ends the unit before, and the next unit starts one
                // later (in a block of 2 bytes, that unit ends past the block).
                let first_unit = at + offset + usize::from(even & bit == 0);
                let parity = first_unit % 2;
                if first_unit < self.walked_to[parity] || !self.is_text_unit(first_unit) {
                    continue;
                }
                let run = self.walk(first_unit);
                self.walked_to[parity] = run.end;
                if (run.end - run.start) / 2 >= self.min_units {
                    // Go on from the next block: a run at the other parity may start before
                    // this one ends, but none inside it.
                    let next_block = at + offset + g;
                    self.pos = next_block.max(run.end - run.end % g);
                    return Some(run);
                }
            }
            self.pos = at + 64;
        }
        None
    }
}

/// [`nul_and_high_bytes`] with 256-bit vectors.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn nul_and_high_bytes_avx2(bytes: &[u8; 64]) -> (u64, u64) {
    use std::arch::x86_64::{_mm256_cmpeq_epi8, _mm256_movemask_epi8, _mm256_setzero_si256};
    let (mut nul, mut high) = (0, 0);
    for (i, chunk) in bytes.as_chunks::<32>().0.iter().enumerate() {
        let v = crate::cpu::load256(chunk);
        let n = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_setzero_si256()));
        nul |= u64::from(n as u32) << (32 * i);
        high |= u64::from(_mm256_movemask_epi8(v) as u32) << (32 * i);
    }
    (nul, high)
}

/// Bit `i` set where byte `i` is NUL, and bit `i` set where byte `i` has bit 7 set.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn nul_and_high_bytes(bytes: &[u8; 64]) -> (u64, u64) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_setzero_si128,
    };
    let (mut nul, mut high) = (0, 0);
    for (i, chunk) in bytes.chunks_exact(16).enumerate() {
        // SAFETY: `chunk` is 16 readable bytes and the load has no alignment requirement;
        // SSE2 is part of every x86_64 CPU.
        let (n, h) = unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
            let n = _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128()));
            (n, _mm_movemask_epi8(v))
        };
        nul |= u64::from(n as u16) << (16 * i);
        high |= u64::from(h as u16) << (16 * i);
    }
    (nul, high)
}

/// Bit `i` set where byte `i` is NUL, and bit `i` set where byte `i` has bit 7 set.
#[cfg(not(target_arch = "x86_64"))]
fn nul_and_high_bytes(bytes: &[u8; 64]) -> (u64, u64) {
    bytes
        .iter()
        .enumerate()
        .fold((0, 0), |(nul, high), (i, &b)| {
            (
                nul | u64::from(b == 0) << i,
                high | u64::from(b >= 0x80) << i,
            )
        })
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

    /// The runs found, the same by every code path (with and without AVX2).
    fn found(haystack: &[u8], min_units: usize) -> Vec<Range<usize>> {
        let sorted = |runs: Utf16Runs| {
            let mut runs: Vec<_> = runs.collect();
            runs.sort_by_key(|r| r.start);
            runs
        };
        let runs = sorted(Utf16Runs::new(haystack, 0..haystack.len(), min_units));
        let mut portable = Utf16Runs::new(haystack, 0..haystack.len(), min_units);
        #[cfg(target_arch = "x86_64")]
        {
            if portable.avx2.is_some() {
                portable.avx2 = None;
                assert_eq!(sorted(portable), runs);
            } else {
                crate::testing::unavailable("this CPU has no AVX2: its byte masks are untested");
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = portable;
            crate::testing::unavailable("not x86_64: the AVX2 byte masks are untested");
        }
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
    fn byte_masks_mark_exactly_the_nul_and_the_high_bytes() {
        let mut bytes = [7u8; 64];
        for i in [0, 1, 15, 16, 31, 40, 63] {
            bytes[i] = 0;
        }
        for i in [5, 17, 62] {
            bytes[i] = 0x80 + i as u8;
        }
        let mask = |bits: &[usize]| bits.iter().fold(0u64, |m, i| m | 1 << i);
        let expected = (mask(&[0, 1, 15, 16, 31, 40, 63]), mask(&[5, 17, 62]));
        assert_eq!(nul_and_high_bytes(&bytes), expected);
        #[cfg(target_arch = "x86_64")]
        if let Some(_avx2) = Avx2::detect() {
            // SAFETY: `_avx2` proves the CPU has AVX2 (see `crate::cpu`).
            assert_eq!(unsafe { nul_and_high_bytes_avx2(&bytes) }, expected);
        } else {
            crate::testing::unavailable("this CPU has no AVX2: its byte masks are untested");
        }
        #[cfg(not(target_arch = "x86_64"))]
        crate::testing::unavailable("not x86_64: the AVX2 byte masks are untested");
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
