//! Cutting a disk's data ranges into chunks, each with its window of context.

use std::ops::Range;

/// One unit of scanning work: the bytes a chunk owns and the bytes it reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// Findings that start here belong to this chunk.
    pub(crate) owned: Range<u64>,
    /// `owned` widened by the overlap on each side, clipped to the disk.
    pub(crate) window: Range<u64>,
}

impl Chunk {
    /// Where `owned` lies inside `window`, as offsets into the window's bytes.
    pub(crate) fn owned_in_window(&self) -> Range<usize> {
        // Both differences are bounded by the chunk size plus the overlap, which fit in memory.
        let start = usize::try_from(self.owned.start - self.window.start).unwrap_or(usize::MAX);
        let end = usize::try_from(self.owned.end - self.window.start).unwrap_or(usize::MAX);
        start..end
    }
}

/// The chunks of a disk: each data range cut into chunks of at most `chunk_size` owned bytes,
/// each with a window of `overlap` extra bytes on both sides, within `0..disk_size`.
///
/// The owned ranges tile the data ranges exactly, so a finding is reported by the one chunk
/// that owns its first byte. Chunks are computed on demand from the ranges, so the plan of a
/// 16 TiB disk costs memory per data range, not per chunk.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The data ranges, clipped to the disk, empty ones dropped.
    ranges: Vec<Range<u64>>,
    /// For each range, the index of its first chunk; then the total number of chunks.
    first_chunk: Vec<u64>,
    disk_size: u64,
    chunk_size: u64,
    overlap: u64,
}

impl Plan {
    /// Plans the chunks of `data_ranges` (sorted, non-overlapping) on a disk of `disk_size`.
    pub(crate) fn new(
        data_ranges: &[Range<u64>],
        disk_size: u64,
        chunk_size: u64,
        overlap: u64,
    ) -> Plan {
        let chunk_size = chunk_size.max(1);
        let ranges: Vec<Range<u64>> = data_ranges
            .iter()
            .map(|r| r.start.min(disk_size)..r.end.min(disk_size))
            .filter(|r| !r.is_empty())
            .collect();
        let mut first_chunk = Vec::with_capacity(ranges.len().saturating_add(1));
        let mut total = 0u64;
        for range in &ranges {
            first_chunk.push(total);
            total = total.saturating_add((range.end - range.start).div_ceil(chunk_size));
        }
        first_chunk.push(total);
        Plan {
            ranges,
            first_chunk,
            disk_size,
            chunk_size,
            overlap,
        }
    }

    /// The number of chunks.
    pub(crate) fn len(&self) -> u64 {
        self.first_chunk.last().copied().unwrap_or(0)
    }

    /// Chunk number `index` (below [`Plan::len`]), in disk order.
    pub(crate) fn chunk(&self, index: u64) -> Chunk {
        // The last range whose first chunk is at or before `index`.
        let range_index = self.first_chunk.partition_point(|&first| first <= index) - 1;
        let range = &self.ranges[range_index];
        let within = index - self.first_chunk[range_index];
        let start = range
            .start
            .saturating_add(within.saturating_mul(self.chunk_size));
        let end = start.saturating_add(self.chunk_size).min(range.end);
        Chunk {
            owned: start..end,
            window: start.saturating_sub(self.overlap)
                ..end.saturating_add(self.overlap).min(self.disk_size),
        }
    }
}

/// The bytes in both `a` and `b` (each sorted and disjoint), sorted and disjoint.
pub fn intersect(a: &[Range<u64>], b: &[Range<u64>]) -> Vec<Range<u64>> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let start = a[i].start.max(b[j].start);
        let end = a[i].end.min(b[j].end);
        if start < end {
            out.push(start..end);
        }
        // The range that ends first cannot meet anything further in the other list.
        if a[i].end <= b[j].end {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// The bytes of `0..size` outside `ranges` (sorted and disjoint), sorted and disjoint.
pub(crate) fn gaps(ranges: &[Range<u64>], size: u64) -> Vec<Range<u64>> {
    let mut out = Vec::with_capacity(ranges.len().saturating_add(1));
    let mut start = 0;
    for range in ranges {
        if range.start > start {
            out.push(start..range.start.min(size));
        }
        start = start.max(range.end);
    }
    if start < size {
        out.push(start..size);
    }
    out.retain(|r| r.start < r.end);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(ranges: &[Range<u64>], disk: u64, chunk: u64, overlap: u64) -> Vec<Chunk> {
        let plan = Plan::new(ranges, disk, chunk, overlap);
        (0..plan.len()).map(|i| plan.chunk(i)).collect()
    }

    #[test]
    fn owned_ranges_tile_the_data_ranges() {
        let chunks = plan(&[0..10, 20..45], 50, 10, 3);
        let owned: Vec<_> = chunks.iter().map(|c| c.owned.clone()).collect();
        assert_eq!(owned, vec![0..10, 20..30, 30..40, 40..45]);
        let windows: Vec<_> = chunks.iter().map(|c| c.window.clone()).collect();
        assert_eq!(windows, vec![0..13, 17..33, 27..43, 37..48]);
    }

    #[test]
    fn windows_stay_inside_the_disk() {
        let chunks = plan(&[0..100], 100, 64, 1000);
        assert!(chunks.iter().all(|c| c.window == (0..100)));
        assert_eq!(chunks[1].owned_in_window(), 64..100);
    }

    #[test]
    fn intersections_keep_what_both_lists_hold() {
        let a = [0..10, 20..30, 40..50];
        let b = [5..25, 28..45, 60..70];
        assert_eq!(intersect(&a, &b), vec![5..10, 20..25, 28..30, 40..45]);
        assert_eq!(intersect(&a, &[]), vec![]);
        assert_eq!(intersect(&a, &[0..100]), a.to_vec());
    }

    #[test]
    fn gaps_are_the_rest_of_the_disk() {
        assert_eq!(gaps(&[10..20, 30..40], 50), vec![0..10, 20..30, 40..50]);
        assert_eq!(gaps(&[0..50], 50), vec![]);
        assert_eq!(gaps(&[], 50), vec![0..50]);
        assert_eq!(gaps(&[40..60], 50), vec![0..40]);
    }

    #[test]
    fn ranges_past_the_disk_are_clipped() {
        assert_eq!(plan(&[90..200], 100, 64, 0).len(), 1);
        assert!(plan(&[100..200], 100, 64, 0).is_empty());
    }
}
