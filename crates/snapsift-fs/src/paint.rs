//! The interval painter shared by the filesystem maps: claims on byte ranges of a volume, each
//! with a layer, painted into sorted, non-overlapping intervals that `locate` searches (no
//! I/O).
//!
//! Each filesystem brings its own layers (which claim wins where claims overlap) and entries
//! (what a range is, and whose); the painter only needs layers to be small numbers and
//! entries to be comparable, so that neighbours saying the same thing merge into one
//! interval.
//!
//! Memory: a filesystem of millions of files makes millions of claims, so a claim is 24
//! bytes for a 4-byte entry (its range, its rank and its entry) and the painted map keeps
//! one start and one entry per interval (each interval ends where the next starts). The
//! sweep sorts the claims in place and keeps only the claims covering the current position
//! in a heap.

use std::collections::BinaryHeap;
use std::ops::Range;

/// Bits of a claim's rank that order the claims of one layer (the earlier wins).
const ORDER_BITS: u32 = 28;
/// Claims one list may hold at most: each needs an order of its own.
pub(crate) const MAX_ORDER: usize = 1 << ORDER_BITS;
/// The highest order, given to the first claim.
const FIRST_ORDER: u32 = (1 << ORDER_BITS) - 1;
/// Layers at most (the bits of the rank above the order).
const MAX_LAYERS: u8 = 1 << (32 - ORDER_BITS);

/// One claim on a byte range of the volume.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Claim<E> {
    /// First byte, from the volume start.
    pub(crate) start: u64,
    /// One past the last byte.
    pub(crate) end: u64,
    /// The layer in the high bits, then the claim's order inverted: where claims overlap,
    /// the higher rank wins (the higher layer, then the earlier claim).
    rank: u32,
    /// What it says the range is.
    pub(crate) entry: E,
}

/// Claims gathered for one map, at most a given number: past it further claims are
/// dropped and [`Claims::cut`] says so (the map then falls back on coarser claims).
#[derive(Clone, Debug)]
pub(crate) struct Claims<E> {
    /// The claims, in the order made (until painted).
    pub(crate) list: Vec<Claim<E>>,
    /// Claims kept at most.
    max: usize,
    /// Whether some were dropped.
    pub(crate) cut: bool,
}

impl<E> Claims<E> {
    /// No claims yet; at most `max` (and never more than [`MAX_ORDER`]) will be kept.
    pub(crate) fn new(max: usize) -> Self {
        Claims {
            list: Vec::new(),
            max: max.min(MAX_ORDER),
            cut: false,
        }
    }

    /// Claims bytes `start..end` (nothing if empty) in `layer` (below [`MAX_LAYERS`]).
    pub(crate) fn add(&mut self, start: u64, end: u64, layer: impl Into<u8>, entry: E) {
        if start >= end {
            return;
        }
        let layer: u8 = layer.into();
        let order = u32::try_from(self.list.len()).ok();
        let (Some(order), true) = (order, self.list.len() < self.max && layer < MAX_LAYERS) else {
            self.cut = true;
            return;
        };
        // Both fit: order < MAX_ORDER and layer < MAX_LAYERS.
        let inverted = FIRST_ORDER.saturating_sub(order);
        let rank = (u32::from(layer) << ORDER_BITS) | inverted;
        self.list.push(Claim {
            start,
            end,
            rank,
            entry,
        });
    }
}

/// A painted map: sorted intervals, each ending where the next starts, the last at `end`.
/// Stretches no claim covers hold the gap entry.
#[derive(Clone, Debug)]
pub(crate) struct Painted<O> {
    starts: Vec<u64>,
    entries: Vec<O>,
    end: u64,
    gap: O,
}

impl<O: Copy + Eq> Painted<O> {
    /// Appends `start..end` (`start` is the current end) saying `entry`, merged into the
    /// last interval when that says the same.
    fn push(&mut self, start: u64, end: u64, entry: O) {
        if start >= end {
            return;
        }
        if self.entries.last() != Some(&entry) {
            self.starts.push(start);
            self.entries.push(entry);
        }
        self.end = end;
    }

    /// The interval holding `offset`: its entry and range; `None` where no claim covers it.
    pub(crate) fn find(&self, offset: u64) -> Option<(O, Range<u64>)> {
        self.get(self.index(offset)?)
    }

    /// The index of the interval holding `offset` (a gap's too).
    pub(crate) fn index(&self, offset: u64) -> Option<usize> {
        if offset >= self.end {
            return None;
        }
        self.starts
            .partition_point(|&start| start <= offset)
            .checked_sub(1)
    }

    /// Interval `index`: its entry and range; `None` for a gap.
    pub(crate) fn get(&self, index: usize) -> Option<(O, Range<u64>)> {
        let entry = *self.entries.get(index)?;
        let start = *self.starts.get(index)?;
        let end = self
            .starts
            .get(index.saturating_add(1))
            .copied()
            .unwrap_or(self.end);
        (entry != self.gap).then_some((entry, start..end))
    }

    /// The intervals as (start, end, entry), gaps left out.
    #[cfg(test)]
    pub(crate) fn intervals(&self) -> Vec<(u64, u64, O)> {
        let ends = self.starts.iter().skip(1).copied().chain([self.end]);
        self.starts
            .iter()
            .zip(ends)
            .zip(&self.entries)
            .filter(|(_, entry)| **entry != self.gap)
            .map(|((&start, end), &entry)| (start, end, entry))
            .collect()
    }
}

/// Paints `claims` over `0..len`: every byte some claim covers takes the winning claim's
/// entry, neighbours with the same entry merge, and stretches no claim covers are `gap`
/// (which [`Painted::find`] answers with `None`). The claims are sorted in place.
pub(crate) fn paint<E: Copy + Eq>(claims: &mut [Claim<E>], len: u64, gap: E) -> Painted<E> {
    claims.sort_unstable_by_key(|claim| claim.start);
    let mut out = Painted {
        starts: Vec::new(),
        entries: Vec::new(),
        end: 0,
        gap,
    };
    // The claims covering `at` (and some that ended, dropped when they come to the top),
    // by rank. Claim indexes fit in u32: there are at most MAX_ORDER claims.
    let mut active: BinaryHeap<(u32, u32)> = BinaryHeap::new();
    let mut next = 0usize;
    let mut at = 0u64;
    loop {
        while let Some(claim) = claims.get(next) {
            if claim.start.min(len) > at {
                break;
            }
            if claim.end.min(len) > at {
                let index = u32::try_from(next).unwrap_or(u32::MAX);
                active.push((claim.rank, index));
            }
            next = next.saturating_add(1);
        }
        let ended = |index: u32| {
            claims
                .get(usize::try_from(index).unwrap_or(usize::MAX))
                .is_none_or(|c| c.end.min(len) <= at)
        };
        while active.peek().is_some_and(|&(_, index)| ended(index)) {
            active.pop();
        }
        let upcoming = claims.get(next).map(|claim| claim.start.min(len));
        let winner = active
            .peek()
            .and_then(|&(_, index)| claims.get(usize::try_from(index).ok()?));
        let Some(claim) = winner else {
            match upcoming {
                Some(start) if start > at => {
                    out.push(at, start, gap);
                    at = start;
                    continue;
                }
                _ => break,
            }
        };
        let stop = claim.end.min(len).min(upcoming.unwrap_or(u64::MAX));
        out.push(at, stop, claim.entry);
        at = stop;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_layers_then_earlier_claims_win() {
        let mut claims = Claims::new(10);
        claims.add(0, 100, 0u8, 'a');
        claims.add(10, 30, 1u8, 'b');
        claims.add(20, 40, 2u8, 'c');
        claims.add(35, 50, 2u8, 'd');
        claims.add(90, 200, 2u8, 'd');
        claims.add(25, 45, 2u8, 'e');
        claims.add(5, 5, 3u8, 'z');
        let painted = paint(&mut claims.list, 100, '-');
        assert_eq!(
            painted.intervals(),
            vec![
                (0, 10, 'a'),
                (10, 20, 'b'),
                (20, 40, 'c'),
                (40, 45, 'd'),
                (45, 50, 'd'),
                (50, 90, 'a'),
                (90, 100, 'd'),
            ]
            .into_iter()
            // Neighbours saying the same are one interval.
            .fold(Vec::new(), |mut v: Vec<(u64, u64, char)>, iv| {
                match v.last_mut() {
                    Some(last) if last.1 == iv.0 && last.2 == iv.2 => last.1 = iv.1,
                    _ => v.push(iv),
                }
                v
            })
        );
        assert_eq!(painted.find(39), Some(('c', 20..40)));
        assert_eq!(painted.find(99), Some(('d', 90..100)));
        assert_eq!(painted.find(100), None);
    }

    #[test]
    fn gaps_and_limits() {
        let mut claims = Claims::new(3);
        claims.add(10, 20, 1u8, 1);
        claims.add(30, 50, 1u8, 2);
        claims.add(40, 60, 0u8, 3);
        claims.add(0, 5, 1u8, 4);
        assert!(claims.cut, "the fourth claim is over the limit");
        let painted = paint(&mut claims.list, 100, 0);
        assert_eq!(
            painted.intervals(),
            vec![(10, 20, 1), (30, 50, 2), (50, 60, 3)]
        );
        assert_eq!(painted.index(25), Some(2), "a gap has an index");
        assert_eq!(painted.get(2), None, "but no entry");
        assert_eq!(painted.find(5), None, "a gap");
        assert_eq!(painted.find(25), None, "a gap");
        assert_eq!(painted.find(60), None, "past the last claim");
        let mut none: Vec<Claim<u8>> = Vec::new();
        assert_eq!(paint(&mut none, 10, 0).find(0), None);
        // A layer too high for the rank is refused, not wrapped.
        let mut high = Claims::new(3);
        high.add(0, 1, MAX_LAYERS, 0u8);
        assert!(high.cut && high.list.is_empty());
    }
}
