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

/// Cuts each data range into chunks of at most `chunk_size` owned bytes and gives each a window
/// of `overlap` extra bytes on both sides, within `0..disk_size`.
///
/// The owned ranges tile the data ranges exactly, so a finding is reported by the one chunk
/// that owns its first byte.
pub(crate) fn plan(
    data_ranges: &[Range<u64>],
    disk_size: u64,
    chunk_size: u64,
    overlap: u64,
) -> Vec<Chunk> {
    let chunk_size = chunk_size.max(1);
    let mut chunks = Vec::new();
    for range in data_ranges {
        let mut start = range.start.min(disk_size);
        let end = range.end.min(disk_size);
        while start < end {
            let owned_end = start.saturating_add(chunk_size).min(end);
            chunks.push(Chunk {
                owned: start..owned_end,
                window: start.saturating_sub(overlap)
                    ..owned_end.saturating_add(overlap).min(disk_size),
            });
            start = owned_end;
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn ranges_past_the_disk_are_clipped() {
        assert_eq!(plan(&[90..200], 100, 64, 0).len(), 1);
        assert!(plan(&[100..200], 100, 64, 0).is_empty());
    }
}
