//! The interval map: claims on byte ranges, each with a layer, painted into sorted,
//! non-overlapping intervals (no I/O).

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::ops::Range;

use super::FileState;

/// Who a range belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// Nobody (free space, filesystem structures).
    Nobody,
    /// An inode.
    Inode(u64),
    /// An inode table: the inode is the record the byte falls in.
    InodeTable,
}

/// What a range is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Its state.
    pub(crate) state: FileState,
    /// Its owner.
    pub(crate) owner: Owner,
}

/// Which claim wins where claims overlap: the higher layer, then the earlier claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Layer {
    /// Everything: free unless something else says otherwise.
    Base,
    /// Blocks a deleted inode still records (shown only where nothing in use claims them).
    Deleted,
    /// Blocks the block bitmap marks in use.
    InUse,
    /// Blocks of a file's clusters (bigalloc) that its extents do not map.
    ClusterTail,
    /// Blocks of an inode in use: file data, slack, directory and tree blocks.
    File,
    /// The journal inode's blocks.
    Journal,
    /// Superblocks, descriptors, bitmaps, inode tables.
    Structure,
    /// Inode records holding a file's data (inline data), over their inode table.
    Record,
}

/// One claim on a byte range of the volume.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Claim {
    /// The range, in bytes from the volume start.
    pub(crate) range: (u64, u64),
    /// Its layer.
    pub(crate) layer: Layer,
    /// What it says the range is.
    pub(crate) entry: Entry,
}

/// A painted interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Interval {
    /// First byte.
    pub(crate) start: u64,
    /// One past the last byte.
    pub(crate) end: u64,
    /// What it is.
    pub(crate) entry: Entry,
}

/// Paints `claims` over `0..len`: sorted, non-overlapping intervals covering every byte
/// some claim covers, each taking the winning claim's entry; neighbours with the same entry
/// are merged.
pub(crate) fn paint(claims: &[Claim], len: u64) -> Vec<Interval> {
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
    let mut active: BTreeSet<(Reverse<Layer>, usize)> = BTreeSet::new();
    let mut out: Vec<Interval> = Vec::new();
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
pub(crate) fn find(intervals: &[Interval], offset: u64) -> Option<&Interval> {
    let after = intervals.partition_point(|iv| iv.end <= offset);
    intervals.get(after).filter(|iv| iv.start <= offset)
}

/// The range of an interval.
pub(crate) fn range(interval: &Interval) -> Range<u64> {
    interval.start..interval.end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(state: FileState, inode: u64) -> Entry {
        Entry {
            state,
            owner: Owner::Inode(inode),
        }
    }

    fn claim(start: u64, end: u64, layer: Layer, entry: Entry) -> Claim {
        Claim {
            range: (start, end),
            layer,
            entry,
        }
    }

    #[test]
    fn layers_and_order() {
        let free = Entry {
            state: FileState::Unallocated,
            owner: Owner::Nobody,
        };
        let claims = [
            claim(0, 100, Layer::Base, free),
            claim(10, 30, Layer::Deleted, entry(FileState::Deleted, 7)),
            claim(20, 40, Layer::File, entry(FileState::Allocated, 5)),
            claim(35, 50, Layer::File, entry(FileState::Allocated, 6)),
            claim(90, 200, Layer::File, entry(FileState::Allocated, 6)),
        ];
        let painted = paint(&claims, 100);
        let got: Vec<(u64, u64, Entry)> = painted
            .iter()
            .map(|iv| (iv.start, iv.end, iv.entry))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 10, free),
                (10, 20, entry(FileState::Deleted, 7)),
                (20, 40, entry(FileState::Allocated, 5)),
                (40, 50, entry(FileState::Allocated, 6)),
                (50, 90, free),
                (90, 100, entry(FileState::Allocated, 6)),
            ]
        );
        assert_eq!(find(&painted, 0).unwrap().start, 0);
        assert_eq!(
            find(&painted, 39).unwrap().entry,
            entry(FileState::Allocated, 5)
        );
        assert_eq!(find(&painted, 99).unwrap().end, 100);
        assert!(find(&painted, 100).is_none());
    }

    #[test]
    fn neighbours_merge() {
        let a = entry(FileState::Allocated, 5);
        let claims = [
            claim(0, 10, Layer::File, a),
            claim(10, 20, Layer::File, a),
            claim(5, 5, Layer::Record, a),
        ];
        let painted = paint(&claims, 100);
        assert_eq!(painted.len(), 1);
        assert_eq!(range(&painted[0]), 0..20);
        assert!(paint(&[], 10).is_empty());
    }
}
