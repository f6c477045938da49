//! [`Teddy16`]: every head of the rule pack in one SIMD pass, with 16 buckets.
//!
//! # Why not `aho-corasick`'s searcher alone
//!
//! `aho-corasick`'s packed searcher (Teddy) is what the anchor search is built on, and it
//! still serves on CPUs without AVX2 (see `HeadSearch` in the matcher). But it holds at most
//! 64 literals, runs at its fast 32-bytes-per-step form only up to 32 of them in 8 buckets,
//! and returns to its caller at every hit. The built-in pack has about 100 heads, so that took
//! four passes over every byte, and the passes were half the scan's time. Many heads are case
//! variants of one word (`pass`, `Pass`, `PASS`), which Teddy's fingerprint can hold in one
//! bucket for free (see [`buckets`]), but which count as three literals towards the limit.
//!
//! # How it works
//!
//! This is the same algorithm (Hyperscan's Teddy) with 16 buckets and one pass. For each of
//! the first [`FINGERPRINT_LEN`] positions of a literal, a bucket accepts a set of low and
//! high nibbles. A 256-bit step reads 32 positions: for each of the 4 offsets it splits the
//! bytes into nibbles and looks each up in a 16-entry table with one shuffle per set of 8
//! buckets, and ANDs the results, so that a bucket's bit survives at a position only if all
//! 4 bytes from there are accepted. That is 16 shuffles per 32 bytes, against 8 per pass for
//! 4 passes before. A position with a bit left is a *candidate*. Candidates are collected
//! over a batch of steps and then verified (`verify`): their first 4 bytes, read as one word,
//! are looked up among the literals' prefixes, and a literal with that prefix is compared
//! whole. The caller's closure is called for each literal found, in order of position,
//! without leaving the loop.
//!
//! # The contract
//!
//! Literals are found in any ASCII case (`pass` finds `Pass`, `PASS` and `pAsS`): the rules'
//! keywords are written in every casing by someone, and a letter's two cases differ in one bit
//! of the high nibble, so accepting both costs the fingerprint little (see [`buckets`]). The
//! caller compares what it needs exactly.
//!
//! [`Teddy16::for_each`] reports exactly the positions where a literal occurs in some ASCII
//! case: no false negative, because both cases of a literal's letters are in its bucket's
//! nibble sets at every position (and a literal shorter than 4 bytes makes its bucket accept
//! anything beyond its end), and no false positive, because every candidate is compared with
//! the literal itself, ignoring ASCII case. Bucket
//! assignment ([`buckets`]) only decides how many candidates there are, that is the speed.
//! The brute-force comparison test at the bottom checks this on random data.

mod buckets;
mod verify;

/// How many positions the search steps through before it verifies their candidates: the
/// unit in which [`Teddy16::for_each_until_dense`] judges density.
pub(crate) const BATCH_POSITIONS: usize = 64 * 32;

use std::ops::Range;

use buckets::{FINGERPRINT_LEN, Tables};
use verify::PrefixIndex;

use crate::cpu::Avx2;

/// A search for many literals at once (see the module docs). Immutable once built, and
/// `Send + Sync`; searching needs no scratch memory.
#[derive(Debug)]
pub(crate) struct Teddy16 {
    /// A `Teddy16` runs only where the CPU has AVX2.
    avx2: Avx2,
    literals: Vec<Vec<u8>>,
    /// The fingerprint of each bucket.
    tables: Tables,
    /// Which literals to compare at a candidate.
    index: PrefixIndex,
}

impl Teddy16 {
    /// A search for `literals` in any ASCII case (at most 2^32, none empty), or `None` where
    /// this CPU cannot run it (it needs x86_64 with AVX2).
    pub(crate) fn new(literals: &[Vec<u8>]) -> Option<Teddy16> {
        let avx2 = Avx2::detect()?;
        if literals.iter().any(Vec::is_empty) || u32::try_from(literals.len()).is_err() {
            return None;
        }
        let literals: Vec<Vec<u8>> = literals.iter().map(|l| l.to_ascii_lowercase()).collect();
        let buckets = buckets::assign(&literals);
        Some(Teddy16 {
            avx2,
            tables: buckets::tables(&literals, &buckets),
            index: PrefixIndex::new(&literals),
            literals,
        })
    }

    /// Calls `found(position, literal)` for every occurrence, in any ASCII case, of a literal
    /// that lies within `text[range]` and starts before `stop`, in order of position. (At most
    /// one literal occurs at a position if none is a prefix of another, ignoring case; where
    /// several do, they come in no set order.)
    ///
    /// # Panics
    ///
    /// Panics if `range` is not within `text`.
    pub(crate) fn for_each(
        &self,
        text: &[u8],
        range: Range<usize>,
        stop: usize,
        found: impl FnMut(usize, usize),
    ) {
        self.for_each_until_dense(text, range, stop, None, found);
    }

    /// [`Teddy16::for_each`], but with `dense_over` it stops at the first batch of
    /// [`BATCH_POSITIONS`] positions in which more than `dense_over` positions are candidates,
    /// before reporting any literal in it, and returns the batch's first position: every
    /// literal before that position has been reported, none at or after it. Returns `None`
    /// when it went through `range`.
    ///
    /// # Panics
    ///
    /// Panics if `range` is not within `text`.
    pub(crate) fn for_each_until_dense(
        &self,
        text: &[u8],
        range: Range<usize>,
        stop: usize,
        dense_over: Option<u32>,
        found: impl FnMut(usize, usize),
    ) -> Option<usize> {
        let text = &text[..range.end];
        let starts = range.start..stop.min(range.end);
        #[cfg(target_arch = "x86_64")]
        return avx2::for_each(self.avx2, self, text, starts, dense_over, found);
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (self.avx2, text, starts, dense_over, found);
            unreachable!("an Avx2 is only made on x86_64");
        }
    }

    /// Where the run of batches from `range.start` in which more than `dense_over` positions
    /// are candidates ends (see [`Teddy16::for_each_until_dense`]): the first position of
    /// the first batch with fewer, at most `stop`. It reports no literal.
    ///
    /// # Panics
    ///
    /// Panics if `range` is not within `text`.
    pub(crate) fn dense_end(
        &self,
        text: &[u8],
        range: Range<usize>,
        stop: usize,
        dense_over: u32,
    ) -> usize {
        let text = &text[..range.end];
        let starts = range.start..stop.min(range.end);
        #[cfg(target_arch = "x86_64")]
        return avx2::dense_end(self.avx2, self, text, starts, dense_over);
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (self.avx2, text, starts, dense_over);
            unreachable!("an Avx2 is only made on x86_64");
        }
    }

    /// Calls `found` for each literal that occurs at `position` of `text`, whose first 4
    /// bytes (zero past the end of `text`) are `word`.
    #[inline(always)]
    fn verify(
        &self,
        text: &[u8],
        position: usize,
        word: u32,
        found: &mut impl FnMut(usize, usize),
    ) {
        self.index
            .verify(&self.literals, text, position, word, found);
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx2;

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift), so failures replay.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// The search for `literals`, which runs the AVX2 code (the only code a `Teddy16` has),
    /// or `None` on a CPU without AVX2 after saying so: a failure under `CI=true`.
    fn avx2_search(literals: &[Vec<u8>]) -> Option<Teddy16> {
        let search = Teddy16::new(literals);
        assert_eq!(
            search.is_some(),
            crate::cpu::Avx2::detect().is_some(),
            "teddy16 runs exactly where AVX2 is"
        );
        if search.is_none() {
            crate::testing::unavailable("this CPU has no AVX2: teddy16 cannot run");
        }
        search
    }

    fn brute_force(
        literals: &[Vec<u8>],
        text: &[u8],
        range: Range<usize>,
        stop: usize,
    ) -> Vec<(usize, usize)> {
        let text = &text[..range.end];
        (range.start..stop.min(range.end))
            .flat_map(|p| {
                literals
                    .iter()
                    .enumerate()
                    .filter(move |(_, l)| {
                        text[p..]
                            .get(..l.len())
                            .is_some_and(|t| t.eq_ignore_ascii_case(l))
                    })
                    .map(move |(i, _)| (p, i))
            })
            .collect()
    }

    fn search(t: &Teddy16, text: &[u8], range: Range<usize>, stop: usize) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        t.for_each(text, range, stop, |p, i| out.push((p, i)));
        assert!(
            out.is_sorted_by_key(|&(p, _)| p),
            "not in order of position"
        );
        // Literals at one position come in no set order.
        out.sort_unstable();
        out
    }

    #[test]
    fn finds_exactly_what_brute_force_finds() {
        let Some(_) = avx2_search(&[b"probe".to_vec()]) else {
            return;
        };
        let mut rng = Rng(0x7edd_1e16);
        for round in 0..60 {
            // Literals of 1 to 12 bytes over a small alphabet, so that they overlap, share
            // prefixes and fill buckets; case variants of some.
            let alphabet = b"aAbBsS:-_0\n\xff\0";
            let count = 1 + rng.below(if round % 3 == 0 { 8 } else { 150 });
            let mut literals: Vec<Vec<u8>> = (0..count)
                .map(|_| {
                    let len = 1 + rng.below(12);
                    (0..len)
                        .map(|_| alphabet[rng.below(alphabet.len())])
                        .collect()
                })
                .collect();
            literals.sort();
            literals.dedup();
            let t = Teddy16::new(&literals).expect("AVX2 is there");
            let len = rng.below(3000);
            let mut text: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            for _ in 0..len / 20 {
                let l = &literals[rng.below(literals.len())];
                let at = rng.below(len + 1);
                let end = (at + l.len()).min(len);
                text[at..end].copy_from_slice(&l[..end - at]);
            }
            for _ in 0..8 {
                let a = rng.below(len + 1);
                let b = rng.below(len + 1);
                let range = a.min(b)..a.max(b);
                let stop = range.start + rng.below(range.len() + 40);
                assert_eq!(
                    search(&t, &text, range.clone(), stop),
                    brute_force(&literals, &text, range.clone(), stop),
                    "round {round}, range {range:?}, stop {stop}"
                );
            }
        }
    }

    #[test]
    fn finds_literals_in_the_last_bytes_and_none_past_the_range() {
        let Some(t) = avx2_search(&[b"AKIA".to_vec(), b"hf_".to_vec(), b"x".to_vec()]) else {
            return;
        };
        let mut text = vec![b'.'; 100];
        text[96..].copy_from_slice(b"AKIA");
        text[40..43].copy_from_slice(b"hf_");
        assert_eq!(search(&t, &text, 0..100, 100), [(40, 1), (96, 0)]);
        assert_eq!(
            search(&t, &text, 0..99, 100),
            [(40, 1)],
            "AKIA ends past the range"
        );
        assert_eq!(
            search(&t, &text, 41..100, 96),
            [],
            "hf_ starts before, AKIA at stop"
        );
        assert_eq!(search(&t, &text, 0..0, 0), []);
    }

    #[test]
    fn finds_literals_in_any_ascii_case() {
        let Some(t) = Teddy16::new(&[b"PassWord".to_vec(), b"hf_".to_vec()]) else {
            eprintln!("skipped: this CPU has no AVX2");
            return;
        };
        let text = b"password PASSWORD pAsSwOrD HF_ Hf_ pass\xd0word p@ssword";
        let found: Vec<usize> = search(&t, text, 0..text.len(), text.len())
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        assert_eq!(found, [0, 9, 18, 27, 31]);
    }
}
