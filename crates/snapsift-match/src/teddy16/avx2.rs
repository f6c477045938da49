//! The AVX2 loop of [`Teddy16::for_each`](super::Teddy16::for_each).

use std::arch::x86_64::{
    __m256i, _mm256_and_si256, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8,
    _mm256_or_si256, _mm256_set1_epi8, _mm256_setzero_si256, _mm256_shuffle_epi8,
    _mm256_srli_epi16,
};
use std::ops::Range;

use super::{FINGERPRINT_LEN, Teddy16};
use crate::cpu::{Avx2, load256};

/// Positions per step.
const STEP: usize = 32;
/// Bytes one step reads: its positions and the fingerprint's reach past the last.
const STEP_READS: usize = STEP + FINGERPRINT_LEN - 1;
/// Steps taken before their candidates are verified (see [`for_each`]).
const BATCH: usize = super::BATCH_POSITIONS / STEP;

/// The tables in registers.
struct Registers {
    /// `low[k][set]`, `high[k][set]`, as in [`super::Tables`].
    low: [[__m256i; 2]; FINGERPRINT_LEN],
    high: [[__m256i; 2]; FINGERPRINT_LEN],
}

/// [`Teddy16::for_each`] over the positions `starts` of `text`, which ends where literals
/// must end.
///
/// Steps are taken in batches, and a batch's candidates are verified after it: the SIMD
/// loop then has no branch that depends on the data, whereas a branch into verification
/// at every step with a candidate is mispredicted about as often as it is taken.
///
/// With `dense_over`, stops before verifying a batch with more candidate positions than that
/// and returns the batch's first position; else returns `None` when done.
pub(super) fn for_each(
    _avx2: Avx2,
    teddy: &Teddy16,
    text: &[u8],
    starts: Range<usize>,
    dense_over: Option<u32>,
    found: impl FnMut(usize, usize),
) -> Option<usize> {
    // SAFETY: `_avx2` proves the CPU has AVX2 (see `crate::cpu`).
    unsafe { for_each_avx2(teddy, text, starts, dense_over, found) }
}

/// Where the batches of whole steps from `starts.start` that have more than `dense_over`
/// candidate positions each end: the first position of the first batch with fewer, or of the
/// last positions (which are not read as whole steps), or `starts.end`. Nothing is verified.
pub(super) fn dense_end(
    _avx2: Avx2,
    teddy: &Teddy16,
    text: &[u8],
    starts: Range<usize>,
    dense_over: u32,
) -> usize {
    // SAFETY: `_avx2` proves the CPU has AVX2 (see `crate::cpu`).
    unsafe { dense_end_avx2(teddy, text, starts, dense_over) }
}

/// The fingerprint tables of `teddy`, loaded into registers.
#[target_feature(enable = "avx2")]
fn registers(teddy: &Teddy16) -> Registers {
    let load = |table: &[u8; 32]| load256(table);
    let t = &teddy.tables;
    Registers {
        low: t.low.map(|sets| sets.each_ref().map(load)),
        high: t.high.map(|sets| sets.each_ref().map(load)),
    }
}

/// [`dense_end`], compiled for AVX2.
#[target_feature(enable = "avx2")]
fn dense_end_avx2(teddy: &Teddy16, text: &[u8], starts: Range<usize>, dense_over: u32) -> usize {
    let registers = registers(teddy);
    let mut at = starts.start;
    while at < starts.end && at.saturating_add(STEP_READS) <= text.len() {
        let batch_start = at;
        let mut candidates = 0;
        for _ in 0..BATCH {
            let Some(window) = text.get(at..at + STEP_READS) else {
                break;
            };
            let window: &[u8; STEP_READS] = window.try_into().expect("sliced to size");
            candidates += step(&registers, window).count_ones();
            at += STEP;
            if at >= starts.end {
                break;
            }
        }
        if candidates <= dense_over {
            return batch_start;
        }
    }
    at.min(starts.end)
}

/// [`for_each`], compiled for AVX2.
#[target_feature(enable = "avx2")]
fn for_each_avx2(
    teddy: &Teddy16,
    text: &[u8],
    starts: Range<usize>,
    dense_over: Option<u32>,
    mut found: impl FnMut(usize, usize),
) -> Option<usize> {
    let registers = registers(teddy);
    // Steps with a candidate: where they start, and a bit for each candidate position.
    let mut batch = [(0usize, 0u32); BATCH];
    let mut at = starts.start;
    // Whole steps, read straight from `text`.
    while at < starts.end && at.saturating_add(STEP_READS) <= text.len() {
        let batch_start = at;
        let mut count = 0;
        for _ in 0..BATCH {
            let Some(window) = text.get(at..at + STEP_READS) else {
                break;
            };
            let window: &[u8; STEP_READS] = window.try_into().expect("sliced to size");
            let positions = step(&registers, window);
            batch[count] = (at, positions);
            count += usize::from(positions != 0);
            at += STEP;
            if at >= starts.end {
                break;
            }
        }
        if let Some(limit) = dense_over {
            let positions: u32 = batch[..count].iter().map(|&(_, p)| p.count_ones()).sum();
            if positions > limit {
                return Some(batch_start);
            }
        }
        for &(step_at, positions) in &batch[..count] {
            candidates(teddy, text, step_at, positions, &starts, &mut found);
        }
    }
    // The last positions, from a copy padded with zeros to a whole step's reads.
    while at < starts.end {
        let mut window = [0u8; STEP_READS];
        let tail = &text[at..];
        let n = tail.len().min(STEP_READS);
        window[..n].copy_from_slice(&tail[..n]);
        let positions = step(&registers, &window);
        candidates(teddy, text, at, positions, &starts, &mut found);
        at += STEP;
    }
    None
}

/// A bit for each of the 32 positions starting `window` that some bucket accepts.
#[target_feature(enable = "avx2")]
#[inline]
fn step(r: &Registers, window: &[u8; STEP_READS]) -> u32 {
    let nibble = _mm256_set1_epi8(0x0f);
    let mut a = _mm256_set1_epi8(-1);
    let mut b = a;
    for k in 0..FINGERPRINT_LEN {
        // SAFETY: `window` holds `k + 32` bytes and more; the load has no alignment
        // requirement.
        let bytes = unsafe { _mm256_loadu_si256(window[k..].as_ptr().cast::<__m256i>()) };
        let low = _mm256_and_si256(bytes, nibble);
        let high = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), nibble);
        let accept = |set: usize| {
            _mm256_and_si256(
                _mm256_shuffle_epi8(r.low[k][set], low),
                _mm256_shuffle_epi8(r.high[k][set], high),
            )
        };
        a = _mm256_and_si256(a, accept(0));
        b = _mm256_and_si256(b, accept(1));
    }
    let none = _mm256_cmpeq_epi8(_mm256_or_si256(a, b), _mm256_setzero_si256());
    !(_mm256_movemask_epi8(none) as u32)
}

/// Verifies the candidates of the step at `at`, one bit per position in `positions`.
#[inline]
fn candidates(
    teddy: &Teddy16,
    text: &[u8],
    at: usize,
    mut positions: u32,
    starts: &Range<usize>,
    found: &mut impl FnMut(usize, usize),
) {
    if starts.end - at < STEP {
        positions &= (1u32 << (starts.end - at)) - 1;
    }
    while positions != 0 {
        let position = at + positions.trailing_zeros() as usize;
        positions &= positions - 1;
        teddy.verify(text, position, word_at(text, position), found);
    }
}

/// The 4 bytes at `position` of `text` as a little-endian word, zero past its end.
#[inline(always)]
fn word_at(text: &[u8], position: usize) -> u32 {
    match text.get(position..position + 4) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
        _ => super::verify::word(&text[position.min(text.len())..]),
    }
}
