//! Reading a window around the bytes that cannot be read.
//!
//! A window whose read fails (a bad sector, an I/O error from a FUSE or network file, a
//! cluster of an image whose tables point past its end) is not given up whole: it is read
//! again in halves, and each failing half in halves again, down to [`BLOCK`]-sized blocks.
//! Blocks that still fail are filled with zeros and listed as [`Unreadable`]; the rest of the
//! window is searched as usual. A zero never starts a match and a block of zeros never lies
//! inside one (UTF-16LE text alternates zero and non-zero bytes), so the filled blocks cannot
//! make a finding up; a secret that overlaps an unreadable block is lost, and the coverage
//! says where.
//!
//! Halving costs one read per level per bad stretch, so a window with one bad sector takes
//! about `2 * log2(window / BLOCK)` extra reads, and a wholly unreadable window one read per
//! block and as many again for the levels above.

use std::ops::Range;

use snapsift_disk::{Disk, DiskError, Unreadable};

/// The smallest stretch read on its own, and so the granularity of the unreadable ranges: a
/// page, which is also a multiple of every device's logical block size and so a valid direct
/// I/O read.
pub(crate) const BLOCK: u64 = 4096;

/// Reads disk bytes `range` into `buf` (as long as the range), except those in `lost` (sorted,
/// disjoint: stretches the disk lists as unreadable), which are zeroed and not read; parts
/// whose read fails are read around ([`read_around`]), and their unreadable blocks returned.
pub(crate) fn read_window(
    disk: &dyn Disk,
    range: Range<u64>,
    lost: &[Range<u64>],
    buf: &mut [u8],
) -> Vec<Unreadable> {
    let mut unreadable = Vec::new();
    let mut pos = range.start;
    // The lost stretches that end after the window starts, in order.
    let first = lost.partition_point(|l| l.end <= range.start);
    let cuts = lost[first..].iter().take_while(|l| l.start < range.end);
    for piece in cuts
        .map(|l| (l.start.max(range.start), l.end.min(range.end)))
        .chain([(range.end, range.end)])
    {
        // Within `buf`: both ends lie in `range`.
        let at = |offset: u64| (offset - range.start) as usize;
        if piece.0 > pos {
            let part = &mut buf[at(pos)..at(piece.0)];
            if disk.read_exact_at(pos, part).is_err() {
                unreadable.extend(read_around(disk, pos..piece.0, part));
            }
        }
        buf[at(piece.0)..at(piece.1)].fill(0);
        pos = pos.max(piece.1);
    }
    unreadable
}

/// Whether any of `lost` (sorted, disjoint) meets `range`.
pub(crate) fn touches(lost: &[Range<u64>], range: &Range<u64>) -> bool {
    let first = lost.partition_point(|l| l.end <= range.start);
    lost.get(first).is_some_and(|l| l.start < range.end)
}

/// Reads disk bytes `range.start..` into `buf` (as long as the range), after a read of the
/// whole range failed: readable parts are read, unreadable blocks are zeroed and returned,
/// in disk order, adjacent ones merged.
pub(crate) fn read_around(disk: &dyn Disk, range: Range<u64>, buf: &mut [u8]) -> Vec<Unreadable> {
    let mut unreadable = Vec::new();
    split_and_read(disk, range.start, buf, &mut unreadable);
    unreadable
}

/// Reads `buf.len()` bytes at `offset`, halving on failure (see the module docs).
fn split_and_read(disk: &dyn Disk, offset: u64, buf: &mut [u8], out: &mut Vec<Unreadable>) {
    let error = match disk.read_exact_at(offset, buf) {
        Ok(()) => return,
        Err(error) => error,
    };
    let len = buf.len() as u64;
    if len <= BLOCK {
        buf.fill(0);
        add(out, offset..offset.saturating_add(len), &error);
        return;
    }
    // The halves meet on a block boundary of the disk, so that blocks stay aligned for
    // direct I/O and the same block is tried whichever window contains it.
    let middle = offset
        .saturating_add(len / 2)
        .next_multiple_of(BLOCK)
        .clamp(offset.saturating_add(1), offset.saturating_add(len - 1));
    // `middle - offset` is below `len`, the length of a slice.
    let (low, high) = buf.split_at_mut((middle - offset) as usize);
    split_and_read(disk, offset, low, out);
    split_and_read(disk, middle, high, out);
}

/// Appends `range` to `out`, merged with the last range if they touch.
fn add(out: &mut Vec<Unreadable>, range: Range<u64>, error: &DiskError) {
    if let Some(last) = out.last_mut()
        && last.range.end == range.start
    {
        last.range.end = range.end;
        return;
    }
    out.push(Unreadable::because(range, error));
}

/// The parts of `unreadable` (in disk order) that lie in `owned`.
pub(crate) fn clip(unreadable: Vec<Unreadable>, owned: &Range<u64>) -> Vec<Unreadable> {
    unreadable
        .into_iter()
        .filter_map(|u| {
            let start = u.range.start.max(owned.start);
            let end = u.range.end.min(owned.end);
            (start < end).then_some(Unreadable {
                range: start..end,
                reason: u.reason,
            })
        })
        .collect()
}

/// The parts of `unreadable` (sorted) that lie in `only` (sorted, disjoint), in disk order.
pub(crate) fn clip_to(unreadable: Vec<Unreadable>, only: &[Range<u64>]) -> Vec<Unreadable> {
    unreadable
        .into_iter()
        .flat_map(|u| {
            only.iter()
                .map(|r| u.range.start.max(r.start)..u.range.end.min(r.end))
                .filter(|r| r.start < r.end)
                .map(|range| Unreadable {
                    range,
                    reason: u.reason.clone(),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Adds `more` (sorted, disjoint from `list`) to `list` (sorted), keeping disk order and
/// merging ranges that touch, as [`add`] does.
pub(crate) fn merge(list: &mut Vec<Unreadable>, more: Vec<Unreadable>) {
    if more.is_empty() {
        return;
    }
    let mut all = std::mem::take(list);
    all.extend(more);
    all.sort_by_key(|u| u.range.start);
    for u in all {
        match list.last_mut() {
            Some(last) if last.range.end >= u.range.start => {
                last.range.end = last.range.end.max(u.range.end);
            }
            _ => list.push(u),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use snapsift_disk::MemoryDisk;

    /// A memory disk whose reads fail when they touch `bad`.
    #[derive(Debug)]
    struct Failing {
        disk: MemoryDisk,
        bad: Vec<Range<u64>>,
    }

    impl Disk for Failing {
        fn size(&self) -> u64 {
            self.disk.size()
        }

        fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
            let end = offset + buf.len() as u64;
            if self.bad.iter().any(|b| b.start < end && offset < b.end) {
                return Err(DiskError::Read {
                    offset,
                    len: buf.len(),
                    source: std::io::Error::from_raw_os_error(5),
                });
            }
            self.disk.read_exact_at(offset, buf)
        }

        fn data_ranges(&self) -> Result<Vec<Range<u64>>, DiskError> {
            Ok(vec![0..self.size()])
        }

        fn kind(&self) -> &'static str {
            "test disk"
        }
    }

    fn failing(size: usize, bad: Vec<Range<u64>>) -> Failing {
        let bytes: Vec<u8> = (0..size).map(|i| (i % 251) as u8 + 1).collect();
        Failing {
            disk: MemoryDisk::new(bytes),
            bad,
        }
    }

    #[test]
    fn bad_blocks_are_zeroed_and_listed_and_the_rest_is_read() {
        let disk = failing(64 * 4096, vec![5000..5001, 3 * 65536..3 * 65536 + 9000]);
        let mut buf = vec![0xffu8; 64 * 4096];
        let unreadable = read_around(&disk, 0..64 * 4096, &mut buf);
        let ranges: Vec<_> = unreadable.iter().map(|u| u.range.clone()).collect();
        assert_eq!(
            ranges,
            vec![4096..8192, 3 * 65536..3 * 65536 + 3 * 4096],
            "each bad stretch, widened to whole blocks"
        );
        assert!(
            unreadable[0].reason.contains("os error 5"),
            "{unreadable:?}"
        );
        for (i, &b) in buf.iter().enumerate() {
            let offset = i as u64;
            if ranges.iter().any(|r| r.contains(&offset)) {
                assert_eq!(b, 0, "byte {i} is unreadable and zeroed");
            } else {
                assert_eq!(b, (i % 251) as u8 + 1, "byte {i} was read");
            }
        }
    }

    #[test]
    fn a_range_that_does_not_start_on_a_block_still_splits_on_blocks() {
        let disk = failing(10 * 4096, vec![6 * 4096 + 10..6 * 4096 + 11]);
        let mut buf = vec![0u8; 7 * 4096 + 100];
        let unreadable = read_around(&disk, 1000..1000 + buf.len() as u64, &mut buf);
        assert_eq!(unreadable.len(), 1);
        assert_eq!(unreadable[0].range, 6 * 4096..7 * 4096);
    }

    fn lost(range: Range<u64>, reason: &str) -> Unreadable {
        Unreadable {
            range,
            reason: reason.into(),
        }
    }

    #[test]
    fn a_window_is_read_around_the_stretches_listed_lost() {
        let disk = failing(
            16 * 4096,
            vec![3 * 4096..5 * 4096, 9 * 4096 + 7..9 * 4096 + 8],
        );
        let mut buf = vec![0xffu8; 12 * 4096];
        let lost = [0..100, 3 * 4096..5 * 4096, 15 * 4096..16 * 4096];
        let unreadable = read_window(&disk, 1000..1000 + 12 * 4096, &lost, &mut buf);
        let ranges: Vec<_> = unreadable.iter().map(|u| u.range.clone()).collect();
        assert_eq!(
            ranges,
            vec![9 * 4096..10 * 4096],
            "only the bad block not listed"
        );
        for (i, &b) in buf.iter().enumerate() {
            let offset = 1000 + i as u64;
            let zero = (3 * 4096..5 * 4096).contains(&offset) || ranges[0].contains(&offset);
            let want = if zero { 0 } else { (offset % 251) as u8 + 1 };
            assert_eq!(b, want, "byte {offset}");
        }
        assert!(touches(&lost, &(12000..12300)) && !touches(&lost, &(100..12288)));
    }

    #[test]
    fn listed_stretches_join_those_read_around_in_disk_order() {
        let mut list = vec![lost(0..10, "a"), lost(40..50, "b")];
        merge(
            &mut list,
            vec![lost(10..20, "c"), lost(30..35, "d"), lost(60..70, "e")],
        );
        assert_eq!(
            list,
            vec![
                lost(0..20, "a"),
                lost(30..35, "d"),
                lost(40..50, "b"),
                lost(60..70, "e")
            ]
        );
        let clipped = clip_to(vec![lost(0..100, "x")], &[10..20, 50..60]);
        assert_eq!(clipped, vec![lost(10..20, "x"), lost(50..60, "x")]);
    }

    #[test]
    fn clipping_keeps_only_the_owned_part() {
        let u = |r: Range<u64>| Unreadable {
            range: r,
            reason: String::new(),
        };
        let clipped = clip(vec![u(0..10), u(20..40), u(50..60)], &(25..55));
        let ranges: Vec<_> = clipped.into_iter().map(|u| u.range).collect();
        assert_eq!(ranges, vec![25..40, 50..55]);
    }
}
