//! Lists of byte ranges, as [`crate::Disk::data_ranges`] returns them.

use std::ops::Range;

use crate::{DataMap, Unreadable};

/// Sorts `ranges`, drops empty ones and merges those that overlap or touch, giving the sorted,
/// non-overlapping list the `Disk` contract asks for.
pub(crate) fn normalize(ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    normalize_joining(ranges, 0)
}

/// [`normalize`], also merging ranges less than `min_gap` apart: reading a short gap costs less
/// than the bookkeeping of many small ranges, and the gap reads as zeros anyway.
pub(crate) fn normalize_joining(mut ranges: Vec<Range<u64>>, min_gap: u64) -> Vec<Range<u64>> {
    ranges.retain(|r| r.start < r.end);
    ranges.sort_unstable_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last)
                if range.start <= last.end || range.start.saturating_sub(last.end) < min_gap =>
            {
                last.end = last.end.max(range.end);
            }
            _ => merged.push(range),
        }
    }
    merged
}

/// Appends `range` to `ranges`, extending the last range instead when `range` continues it:
/// a table walk that finds a run of allocated blocks keeps one range, not one per block, so
/// the list grows with the runs of an image, not with its blocks.
pub(crate) fn push_merged(ranges: &mut Vec<Range<u64>>, range: Range<u64>) {
    match ranges.last_mut() {
        Some(last) if last.end == range.start => last.end = range.end,
        _ => ranges.push(range),
    }
}

/// The data map of an overlay of `size` bytes: its own map and its parent's (clipped to both
/// disks' sizes: past the parent's end the overlay reads zeros; a block of the overlay's own
/// that runs past its size, as the last one of an odd size does, holds data only up to it),
/// normalized. The parent's unreadable stretches count where the overlay reads through to
/// the parent: not within `hidden`, the bytes the overlay serves itself (its allocated and
/// zero clusters; a superset is safe, a read there that does fail is still read around).
pub(crate) fn with_parent(
    own: DataMap,
    hidden: &[Range<u64>],
    parent: Option<&dyn crate::Disk>,
    size: u64,
) -> Result<DataMap, crate::DiskError> {
    let clip = |r: &Range<u64>, limit: u64| r.start.min(limit)..r.end.min(limit);
    let mut data: Vec<Range<u64>> = own.data.iter().map(|r| clip(r, size)).collect();
    let mut unreadable: Vec<Unreadable> = own
        .unreadable
        .into_iter()
        .map(|u| Unreadable {
            range: clip(&u.range, size),
            reason: u.reason,
        })
        .collect();
    if let Some(parent) = parent {
        let limit = size.min(parent.size());
        let map = parent.data_map()?;
        data.extend(map.data.iter().map(|r| clip(r, limit)));
        let own_lost: Vec<Range<u64>> = unreadable.iter().map(|u| u.range.clone()).collect();
        let served = normalize([hidden, &own_lost].concat());
        for lost in map.unreadable {
            for range in subtract(&[clip(&lost.range, limit)], &served) {
                unreadable.push(Unreadable {
                    range,
                    reason: lost.reason.clone(),
                });
            }
        }
    }
    Ok(DataMap {
        data: normalize(data),
        unreadable: normalize_unreadable(unreadable),
    })
}

/// The bytes of `a` that are not in `b` (both sorted and non-overlapping), sorted and
/// non-overlapping.
pub(crate) fn subtract(a: &[Range<u64>], b: &[Range<u64>]) -> Vec<Range<u64>> {
    let mut out = Vec::new();
    let mut j = 0;
    for range in a {
        let mut start = range.start;
        // Ranges of `b` that end before this one starts cannot meet it or any later one.
        while j < b.len() && b[j].end <= start {
            j = j.saturating_add(1);
        }
        let mut k = j;
        while start < range.end {
            match b.get(k) {
                Some(cut) if cut.start < range.end => {
                    if cut.start > start {
                        out.push(start..cut.start);
                    }
                    start = start.max(cut.end);
                    k = k.saturating_add(1);
                }
                _ => {
                    out.push(start..range.end);
                    break;
                }
            }
        }
    }
    out
}

/// Sorts unreadable stretches, drops empty ones, and merges those that overlap (keeping the
/// first one's reason) or touch with the same reason.
pub(crate) fn normalize_unreadable(mut list: Vec<Unreadable>) -> Vec<Unreadable> {
    list.retain(|u| u.range.start < u.range.end);
    list.sort_by_key(|u| u.range.start);
    let mut merged: Vec<Unreadable> = Vec::with_capacity(list.len());
    for u in list {
        match merged.last_mut() {
            Some(last)
                if u.range.start < last.range.end
                    || (u.range.start == last.range.end && u.reason == last.reason) =>
            {
                last.range.end = last.range.end.max(u.range.end);
            }
            _ => merged.push(u),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_sorts_merges_and_drops_empty_ranges() {
        let ranges = vec![10..20, 0..5, 5..7, 15..30, 40..40, 50..60];
        assert_eq!(normalize(ranges), vec![0..7, 10..30, 50..60]);
    }

    #[test]
    fn short_gaps_are_joined() {
        assert_eq!(
            normalize_joining(vec![10..20, 0..5, 4..6, 30..30, 25..40, 100..110], 4),
            vec![0..6, 10..20, 25..40, 100..110]
        );
        assert_eq!(normalize_joining(vec![0..10, 12..15], 3), vec![0..15]);
    }

    #[test]
    fn a_parent_counts_up_to_the_smaller_size() {
        let parent = crate::MemoryDisk::new(vec![1; 100]).with_data_ranges(vec![10..20, 90..100]);
        let own = DataMap::readable(vec![95..150]);
        let map = with_parent(own, &[95..150], Some(&parent), 200).unwrap();
        assert_eq!(map.data, vec![10..20, 90..150]);
        let small = with_parent(DataMap::default(), &[], Some(&parent), 15).unwrap();
        assert_eq!(small.data, vec![10..15]);
    }

    #[test]
    fn subtracting_keeps_what_the_second_list_lacks() {
        assert_eq!(
            subtract(&[0..10, 20..30, 40..50], &[5..22, 25..26, 45..60]),
            vec![0..5, 22..25, 26..30, 40..45]
        );
        assert_eq!(subtract(&[0..10], &[]), vec![0..10]);
        assert_eq!(subtract(&[0..10], &[0..10]), vec![]);
        assert_eq!(
            subtract(&[10..20], &[0..5, 12..14, 30..40]),
            vec![10..12, 14..20]
        );
    }

    fn lost(range: Range<u64>, reason: &str) -> Unreadable {
        Unreadable {
            range,
            reason: reason.into(),
        }
    }

    #[test]
    fn a_parents_unreadable_stretches_count_where_the_overlay_reads_through() {
        let parent = Lossy(crate::MemoryDisk::new(vec![1; 100]));
        let own = DataMap {
            data: vec![0..10, 60..70],
            unreadable: vec![lost(60..70, "own table")],
        };
        let map = with_parent(own, &[0..10, 40..45], Some(&parent), 200).unwrap();
        assert_eq!(map.data, vec![0..100]);
        assert_eq!(
            map.unreadable,
            vec![
                lost(20..40, "parent table"),
                lost(45..60, "parent table"),
                lost(60..70, "own table"),
                lost(70..80, "parent table"),
            ]
        );
    }

    /// A disk whose bytes 20..80 are lost.
    #[derive(Debug)]
    struct Lossy(crate::MemoryDisk);

    impl crate::Disk for Lossy {
        fn size(&self) -> u64 {
            self.0.size()
        }

        fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), crate::DiskError> {
            self.0.read_exact_at(offset, buf)
        }

        fn data_map(&self) -> Result<DataMap, crate::DiskError> {
            Ok(DataMap {
                data: vec![0..100],
                unreadable: vec![lost(20..80, "parent table")],
            })
        }

        fn kind(&self) -> &'static str {
            "lossy disk"
        }
    }

    #[test]
    fn unreadable_stretches_are_sorted_and_merged() {
        let list = vec![
            lost(50..60, "b"),
            lost(0..10, "a"),
            lost(10..20, "a"),
            lost(20..30, "c"),
            lost(25..40, "d"),
            lost(70..70, "e"),
        ];
        assert_eq!(
            normalize_unreadable(list),
            vec![lost(0..20, "a"), lost(20..40, "c"), lost(50..60, "b")]
        );
    }
}
