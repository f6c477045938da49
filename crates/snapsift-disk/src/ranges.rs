//! Lists of byte ranges, as [`crate::Disk::data_ranges`] returns them.

use std::ops::Range;

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

/// The data ranges of an overlay of `size` bytes: its own ranges and those of its parent
/// (clipped to both disks' sizes: past the parent's end the overlay reads zeros; a block of
/// the overlay's own that runs past its size, as the last one of an odd size does, holds data
/// only up to it), normalized.
pub(crate) fn with_parent(
    own: Vec<Range<u64>>,
    parent: Option<&dyn crate::Disk>,
    size: u64,
) -> Result<Vec<Range<u64>>, crate::DiskError> {
    let mut all: Vec<Range<u64>> = own
        .into_iter()
        .map(|r| r.start.min(size)..r.end.min(size))
        .collect();
    if let Some(parent) = parent {
        let limit = size.min(parent.size());
        all.extend(
            parent
                .data_ranges()?
                .into_iter()
                .map(|r| r.start.min(limit)..r.end.min(limit)),
        );
    }
    Ok(normalize(all))
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
        let ranges = with_parent(vec![95..150], Some(&parent), 200).unwrap();
        assert_eq!(ranges, vec![10..20, 90..150]);
        let small = with_parent(vec![], Some(&parent), 15).unwrap();
        assert_eq!(small, vec![10..15]);
    }
}
