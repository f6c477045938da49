//! Lists of byte ranges, as [`crate::Disk::data_ranges`] returns them.

use std::ops::Range;

/// Sorts `ranges`, drops empty ones and merges those that overlap or touch, giving the sorted,
/// non-overlapping list the `Disk` contract asks for.
pub(crate) fn normalize(mut ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    ranges.retain(|r| r.start < r.end);
    ranges.sort_unstable_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// The union of two range lists, each clipped to `0..limit`, normalized.
pub(crate) fn union(a: Vec<Range<u64>>, b: &[Range<u64>], limit: u64) -> Vec<Range<u64>> {
    let mut all = a;
    all.extend(b.iter().map(|r| r.start.min(limit)..r.end.min(limit)));
    for r in &mut all {
        *r = r.start.min(limit)..r.end.min(limit);
    }
    normalize(all)
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
    fn union_clips_to_the_limit() {
        assert_eq!(
            union(vec![0..10], &[5..20, 90..200], 100),
            vec![0..20, 90..100]
        );
        assert_eq!(union(vec![], &[150..200], 100), vec![]);
    }
}
