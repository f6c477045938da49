//! The interval painter shared by the filesystem maps: claims on byte ranges of a volume, each
//! with a layer, painted into sorted, non-overlapping intervals that `locate` searches (no
//! I/O).
//!
//! Each filesystem brings its own layers (which claim wins where claims overlap) and entries
//! (what a range is, and whose); the painter only needs layers to be ordered and entries to be
//! comparable, so that neighbours saying the same thing merge into one interval.

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::ops::Range;

/// One claim on a byte range of the volume.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Claim<L, E> {
    /// The range, in bytes from the volume start.
    pub(crate) range: (u64, u64),
    /// Its layer: where claims overlap, the higher layer wins, then the earlier claim.
    pub(crate) layer: L,
    /// What it says the range is.
    pub(crate) entry: E,
}

/// A painted interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Interval<E> {
    /// First byte.
    pub(crate) start: u64,
    /// One past the last byte.
    pub(crate) end: u64,
    /// What it is.
    pub(crate) entry: E,
}

/// Claims gathered for one map, at most a given number: past it further claims are
/// dropped and [`Claims::cut`] says so (the map then falls back on coarser claims).
#[derive(Clone, Debug)]
pub(crate) struct Claims<L, E> {
    /// The claims, in the order made.
    pub(crate) list: Vec<Claim<L, E>>,
    /// Claims kept at most.
    max: usize,
    /// Whether some were dropped.
    pub(crate) cut: bool,
}

impl<L, E> Claims<L, E> {
    /// No claims yet; at most `max` will be kept.
    pub(crate) fn new(max: usize) -> Self {
        Claims {
            list: Vec::new(),
            max,
            cut: false,
        }
    }

    /// Claims bytes `start..end` (nothing if empty).
    pub(crate) fn add(&mut self, start: u64, end: u64, layer: L, entry: E) {
        if start >= end {
            return;
        }
        if self.list.len() >= self.max {
            self.cut = true;
            return;
        }
        self.list.push(Claim {
            range: (start, end),
            layer,
            entry,
        });
    }
}

/// Paints `claims` over `0..len`: sorted, non-overlapping intervals covering every byte
/// some claim covers, each taking the winning claim's entry; neighbours with the same entry
/// are merged.
pub(crate) fn paint<L: Ord + Copy, E: Eq + Copy>(
    claims: &[Claim<L, E>],
    len: u64,
) -> Vec<Interval<E>> {
    // (position, is_start, claim index), ends sorted before starts at the same position
    // (it does not matter: all events at a position are applied before emitting).
    let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(claims.len().saturating_mul(2));
    for (index, claim) in claims.iter().enumerate() {
        let start = claim.range.0.min(len);
        let end = claim.range.1.min(len);
        if start < end {
            events.push((start, true, index));
            events.push((end, false, index));
        }
    }
    events.sort_unstable();
    let mut active: BTreeSet<(Reverse<L>, usize)> = BTreeSet::new();
    let mut out: Vec<Interval<E>> = Vec::new();
    let mut i = 0;
    while let Some(&(at, _, _)) = events.get(i) {
        while let Some(&(pos, is_start, index)) = events.get(i) {
            if pos != at {
                break;
            }
            let key = (Reverse(claims[index].layer), index);
            if is_start {
                active.insert(key);
            } else {
                active.remove(&key);
            }
            i = i.saturating_add(1);
        }
        let Some(&(next, _, _)) = events.get(i) else {
            break;
        };
        if let Some(&(_, winner)) = active.first() {
            let entry = claims[winner].entry;
            match out.last_mut() {
                Some(last) if last.end == at && last.entry == entry => last.end = next,
                _ => out.push(Interval {
                    start: at,
                    end: next,
                    entry,
                }),
            }
        }
    }
    out
}

/// The interval of `intervals` (sorted, non-overlapping) holding `offset`.
pub(crate) fn find<E>(intervals: &[Interval<E>], offset: u64) -> Option<&Interval<E>> {
    let after = intervals.partition_point(|iv| iv.end <= offset);
    intervals.get(after).filter(|iv| iv.start <= offset)
}

/// The range of an interval.
pub(crate) fn range<E>(interval: &Interval<E>) -> Range<u64> {
    interval.start..interval.end
}
