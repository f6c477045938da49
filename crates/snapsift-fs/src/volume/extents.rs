//! Where the bytes of a logical volume lie on the disk, and reading it as a disk of its own.
//!
//! An LVM2 logical volume is a list of segments, each linear (one run of the disk) or
//! striped (chunks of `stripe_size` bytes dealt round-robin over several runs). [`Extents`]
//! translates both ways, with checked arithmetic: a volume offset to the disk offset that
//! holds it ([`Extents::to_disk`]), and a disk offset to the volume offset it holds
//! ([`Extents::to_volume`]), each with how far the bytes stay contiguous on both sides.
//! [`LogicalDisk`] reads the volume through it, so that a filesystem map can be built on a
//! logical volume as on a partition.

use std::ops::Range;

use snapsift_disk::{Disk, DiskError};

/// One segment of a logical volume, as [`Extents::new`] takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    /// Its first byte in the logical volume.
    pub(crate) start: u64,
    /// Its bytes.
    pub(crate) len: u64,
    /// The bytes of one stripe chunk (any value for a single stripe: it is not used).
    pub(crate) stripe_size: u64,
    /// Where each stripe's run starts on the disk; each run is `len / stripes.len()` bytes.
    pub(crate) stripes: Vec<u64>,
}

impl Segment {
    /// The bytes of each stripe's run.
    fn area_len(&self) -> u64 {
        self.len.checked_div(self.stripes.len() as u64).unwrap_or(0)
    }

    /// The bytes that stay together on the disk: a chunk, or the whole run of one stripe.
    fn chunk(&self) -> u64 {
        if self.stripes.len() > 1 {
            self.stripe_size
        } else {
            self.len
        }
    }
}

/// One stripe's run of one segment on the disk, for looking disk offsets up.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Area {
    disk: Range<u64>,
    segment: usize,
    stripe: u64,
}

/// Where every byte of a logical volume lies on the disk (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extents {
    /// Sorted by start, end to end from 0.
    segments: Vec<Segment>,
    /// Every stripe run of every segment, sorted by disk offset, none overlapping.
    areas: Vec<Area>,
    size: u64,
}

impl Extents {
    /// The extents of a volume made of `segments`, checked: end to end from offset 0, each
    /// with at least one stripe, its bytes a whole number of chunks on every stripe (as LVM
    /// makes them), and no two runs overlapping on the disk.
    pub(crate) fn new(mut segments: Vec<Segment>) -> Result<Extents, String> {
        segments.sort_by_key(|s| s.start);
        let mut size = 0u64;
        let mut areas = Vec::new();
        for (index, segment) in segments.iter().enumerate() {
            if segment.start != size {
                return Err(format!(
                    "its segments leave a gap or overlap at byte {size} of the volume"
                ));
            }
            if segment.len == 0 || segment.stripes.is_empty() {
                return Err("it has an empty segment".into());
            }
            let area_len = segment.area_len();
            let whole = segment.stripes.len() as u64 == 1
                || (segment.stripe_size > 0
                    && segment.len.checked_rem(segment.stripes.len() as u64) == Some(0)
                    && area_len.checked_rem(segment.stripe_size) == Some(0));
            if !whole {
                return Err(format!(
                    "a segment of {} bytes cannot be dealt over {} stripes of {}-byte chunks",
                    segment.len,
                    segment.stripes.len(),
                    segment.stripe_size
                ));
            }
            for (stripe, &at) in (0u64..).zip(&segment.stripes) {
                let end = at
                    .checked_add(area_len)
                    .ok_or("a stripe runs past the addressable bytes")?;
                areas.push(Area {
                    disk: at..end,
                    segment: index,
                    stripe,
                });
            }
            size = size.checked_add(segment.len).ok_or("its size overflows")?;
        }
        areas.sort_by_key(|a| a.disk.start);
        if let Some(pair) = areas.windows(2).find(|p| p[1].disk.start < p[0].disk.end) {
            return Err(format!(
                "two of its extents overlap on the disk at byte {}",
                pair[1].disk.start
            ));
        }
        Ok(Extents {
            segments,
            areas,
            size,
        })
    }

    /// The volume's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The disk ranges holding the volume's bytes, sorted.
    pub fn disk_ranges(&self) -> impl Iterator<Item = Range<u64>> + '_ {
        self.areas.iter().map(|a| a.disk.clone())
    }

    /// The smallest disk range holding all of the volume's bytes.
    pub fn hull(&self) -> Range<u64> {
        let start = self.areas.first().map_or(0, |a| a.disk.start);
        let end = self.areas.iter().map(|a| a.disk.end).max().unwrap_or(start);
        start..end
    }

    /// The disk offset of volume offset `offset`, and how many bytes from it lie contiguous
    /// on the disk (to the end of its chunk); `None` past the volume's end.
    pub fn to_disk(&self, offset: u64) -> Option<(u64, u64)> {
        let after = self.segments.partition_point(|s| s.start <= offset);
        let segment = self.segments.get(after.checked_sub(1)?)?;
        let into = offset.checked_sub(segment.start)?;
        if into >= segment.len {
            return None;
        }
        let chunk = segment.chunk();
        let count = segment.stripes.len() as u64;
        let (index, within) = (into.checked_div(chunk)?, into.checked_rem(chunk)?);
        let stripe = usize::try_from(index.checked_rem(count)?).ok()?;
        let row = index.checked_div(count)?;
        let at = segment
            .stripes
            .get(stripe)?
            .checked_add(row.checked_mul(chunk)?)?
            .checked_add(within)?;
        Some((at, chunk.checked_sub(within)?))
    }

    /// The volume offset disk offset `offset` holds, and the disk bytes around it that hold
    /// contiguous volume bytes (its chunk); `None` for a disk byte not in the volume.
    pub fn to_volume(&self, offset: u64) -> Option<(u64, Range<u64>)> {
        let after = self.areas.partition_point(|a| a.disk.start <= offset);
        let area = self.areas.get(after.checked_sub(1)?)?;
        if !area.disk.contains(&offset) {
            return None;
        }
        let segment = self.segments.get(area.segment)?;
        let chunk = segment.chunk();
        let into = offset.checked_sub(area.disk.start)?;
        let (row, within) = (into.checked_div(chunk)?, into.checked_rem(chunk)?);
        let index = row
            .checked_mul(segment.stripes.len() as u64)?
            .checked_add(area.stripe)?;
        let volume = segment
            .start
            .checked_add(index.checked_mul(chunk)?)?
            .checked_add(within)?;
        let run_start = offset.checked_sub(within)?;
        Some((volume, run_start..run_start.checked_add(chunk)?))
    }

    /// The disk ranges holding volume bytes `range`, in the volume's order; bytes past the
    /// volume's end hold nothing and are left out.
    pub fn pieces(&self, range: Range<u64>) -> Vec<Range<u64>> {
        let mut pieces: Vec<Range<u64>> = Vec::new();
        let mut at = range.start;
        while at < range.end {
            let Some((disk, contiguous)) = self.to_disk(at) else {
                break;
            };
            let len = contiguous.min(range.end.saturating_sub(at));
            let end = disk.saturating_add(len);
            match pieces.last_mut() {
                Some(last) if last.end == disk => last.end = end,
                _ => pieces.push(disk..end),
            }
            at = at.saturating_add(len.max(1));
        }
        pieces
    }
}

/// A logical volume read as a disk of its own: offset 0 is its first byte.
#[derive(Debug)]
pub struct LogicalDisk<'a> {
    disk: &'a dyn Disk,
    extents: &'a Extents,
}

impl<'a> LogicalDisk<'a> {
    /// The volume `extents` maps on `disk`.
    pub fn new(disk: &'a dyn Disk, extents: &'a Extents) -> LogicalDisk<'a> {
        LogicalDisk { disk, extents }
    }
}

impl Disk for LogicalDisk<'_> {
    fn size(&self) -> u64 {
        self.extents.size()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        let end = offset.checked_add(buf.len() as u64);
        if end.is_none_or(|end| end > self.size()) {
            return Err(DiskError::OutOfBounds {
                offset,
                len: buf.len(),
                size: self.size(),
            });
        }
        let mut done = 0usize;
        while done < buf.len() {
            let at = offset.saturating_add(done as u64);
            let Some((disk_at, contiguous)) = self.extents.to_disk(at) else {
                return Err(DiskError::OutOfBounds {
                    offset,
                    len: buf.len(),
                    size: self.size(),
                });
            };
            let len = usize::try_from(contiguous)
                .unwrap_or(usize::MAX)
                .min(buf.len().saturating_sub(done));
            let end = done.saturating_add(len);
            self.disk.read_exact_at(disk_at, &mut buf[done..end])?;
            done = end;
        }
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "logical volume"
    }
}

#[cfg(test)]
mod tests {
    use snapsift_disk::MemoryDisk;

    use super::*;

    /// A linear segment of 8 bytes at disk 100, then 2 stripes of 2-byte chunks, 8 bytes in
    /// all, at disk 200 and 300.
    fn sample() -> Extents {
        Extents::new(vec![
            Segment {
                start: 8,
                len: 8,
                stripe_size: 2,
                stripes: vec![200, 300],
            },
            Segment {
                start: 0,
                len: 8,
                stripe_size: 0,
                stripes: vec![100],
            },
        ])
        .unwrap()
    }

    #[test]
    fn offsets_both_ways() {
        let e = sample();
        assert_eq!(e.size(), 16);
        assert_eq!(e.to_disk(3), Some((103, 5)));
        // Volume bytes 8,9 on stripe 0; 10,11 on stripe 1; 12,13 on stripe 0 again.
        assert_eq!(e.to_disk(8), Some((200, 2)));
        assert_eq!(e.to_disk(11), Some((301, 1)));
        assert_eq!(e.to_disk(12), Some((202, 2)));
        assert_eq!(e.to_disk(16), None);
        for offset in 0..16 {
            let (disk, _) = e.to_disk(offset).unwrap();
            let (back, run) = e.to_volume(disk).unwrap();
            assert_eq!(back, offset);
            assert!(run.contains(&disk));
        }
        assert_eq!(e.to_volume(302), Some((14, 302..304)));
        assert_eq!(e.to_volume(108), None);
        assert_eq!(e.to_volume(99), None);
        assert_eq!(e.hull(), 100..304);
        assert_eq!(
            e.pieces(6..13),
            vec![106..108, 200..202, 300..302, 202..203]
        );
        assert_eq!(e.pieces(14..40), vec![302..304]);
    }

    #[test]
    fn bad_segments_are_refused() {
        let linear = |start, len, at| Segment {
            start,
            len,
            stripe_size: 0,
            stripes: vec![at],
        };
        assert!(
            Extents::new(vec![linear(0, 8, 0), linear(9, 8, 100)]).is_err(),
            "gap"
        );
        assert!(
            Extents::new(vec![linear(0, 8, 0), linear(8, 8, 4)]).is_err(),
            "overlap"
        );
        assert!(Extents::new(vec![linear(0, 8, u64::MAX - 3)]).is_err());
        assert!(Extents::new(vec![linear(0, 0, 0)]).is_err());
        let uneven = Segment {
            start: 0,
            len: 10,
            stripe_size: 4,
            stripes: vec![0, 100],
        };
        assert!(Extents::new(vec![uneven]).is_err());
        let no_chunk = Segment {
            start: 0,
            len: 8,
            stripe_size: 0,
            stripes: vec![0, 100],
        };
        assert!(Extents::new(vec![no_chunk]).is_err());
    }

    #[test]
    fn a_logical_disk_reads_across_chunks() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(400).collect();
        let disk = MemoryDisk::new(bytes.clone());
        let e = sample();
        let lv = LogicalDisk::new(&disk, &e);
        let mut buf = vec![0u8; 16];
        lv.read_exact_at(0, &mut buf).unwrap();
        let want: Vec<u8> = (0..16)
            .map(|o| bytes[e.to_disk(o).unwrap().0 as usize])
            .collect();
        assert_eq!(buf, want);
        assert!(lv.read_exact_at(10, &mut buf).is_err());
    }
}
