//! A file's logical contents: which bytes of the volume (or of metadata) make up each part of
//! the file, in the file's order.
//!
//! The byte sweep sees a file's bytes where they lie on the disk; the file pass reads them in
//! the file's order. [`FileContent`] is the bridge between the two: it reads the file
//! ([`FileContent::read_at`], [`ContentReader`]), says where a range of the file lies on the
//! disk when it lies there verbatim and contiguously ([`FileContent::volume_range`], which is
//! how a finding of the file pass is recognised as one the sweep also saw), and where the
//! file's bytes stop being contiguous on the disk ([`FileContent::seams`], where a secret
//! split over two extents can hide from the sweep).
//!
//! Parsing stays apart: the filesystem modules build a `FileContent` from their structures;
//! this module only reads through it.

use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::sync::Arc;

use snapsift_disk::Disk;

use crate::FsError;

/// Where one span of a file's bytes comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Piece {
    /// The span's bytes lie verbatim in the volume from this offset.
    Volume(u64),
    /// The span reads as zeros (a hole, an unwritten extent).
    Zeros,
    /// The span's bytes are kept in a filesystem structure (ext4 inline data, an NTFS
    /// resident attribute), given here as they read through the filesystem. `at` is the
    /// volume offset where they lie verbatim and contiguously, `None` if they do not (an
    /// NTFS record's update sequence interrupts them).
    Held {
        /// The bytes.
        bytes: Arc<[u8]>,
        /// Where they lie verbatim in the volume, if they do.
        at: Option<u64>,
    },
}

/// A span of the file: `len` bytes from file offset `start`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// Offset in the file.
    pub start: u64,
    /// Bytes.
    pub len: u64,
    /// Where they come from.
    pub piece: Piece,
}

impl Span {
    /// One past the span's last byte, in the file.
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }

    /// The volume offset of the file byte `offset` (inside the span), if the span's bytes lie
    /// verbatim in the volume.
    fn volume_offset(&self, offset: u64) -> Option<u64> {
        let into = offset.checked_sub(self.start)?;
        match &self.piece {
            Piece::Volume(at) => at.checked_add(into),
            Piece::Held { at: Some(at), .. } => at.checked_add(into),
            Piece::Zeros | Piece::Held { at: None, .. } => None,
        }
    }
}

/// The logical contents of one file (or NTFS stream): its size and its spans.
///
/// Spans are sorted by `start` and do not overlap; bytes of the file no span covers read as
/// zeros (sparse files). Spans may reach past `size` only in the last block: reading stops at
/// `size`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileContent {
    /// The file's size in bytes.
    pub size: u64,
    /// Its spans, sorted, non-overlapping.
    pub spans: Vec<Span>,
}

impl FileContent {
    /// Builds a content from spans in any order; overlapping spans (a damaged image) keep
    /// the first by file offset, the rest of the overlap is cut.
    pub fn new(size: u64, mut spans: Vec<Span>) -> FileContent {
        spans.retain(|s| s.len > 0 && s.start < size);
        spans.sort_by_key(|s| s.start);
        let mut kept: Vec<Span> = Vec::with_capacity(spans.len());
        for mut span in spans {
            if let Some(last) = kept.last() {
                let last_end = last.end();
                if span.start < last_end {
                    let cut = last_end.saturating_sub(span.start);
                    if cut >= span.len {
                        continue;
                    }
                    span = cut_front(span, cut);
                }
            }
            kept.push(span);
        }
        FileContent { size, spans: kept }
    }

    /// Reads the file bytes from `offset` into `buf`, through `disk` where the volume starts
    /// at `volume_start`. Returns the bytes read: `buf.len()`, fewer only at the file's end.
    pub fn read_at(
        &self,
        disk: &dyn Disk,
        volume_start: u64,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, FsError> {
        let want = self.size.saturating_sub(offset).min(buf.len() as u64);
        let want = usize::try_from(want).unwrap_or(buf.len());
        let buf = &mut buf[..want];
        buf.fill(0);
        let end = offset.saturating_add(want as u64);
        let first = self.spans.partition_point(|s| s.end() <= offset);
        for span in self.spans.get(first..).unwrap_or(&[]) {
            if span.start >= end {
                break;
            }
            let from = span.start.max(offset);
            let to = span.end().min(end);
            let dest = usize::try_from(from.saturating_sub(offset)).unwrap_or(0)
                ..usize::try_from(to.saturating_sub(offset)).unwrap_or(0);
            let into = from.saturating_sub(span.start);
            match &span.piece {
                Piece::Volume(at) => {
                    let at = at
                        .checked_add(into)
                        .and_then(|a| a.checked_add(volume_start))
                        .ok_or_else(|| outside(span))?;
                    disk.read_exact_at(at, &mut buf[dest])?;
                }
                Piece::Zeros => {}
                Piece::Held { bytes, .. } => {
                    let src = usize::try_from(into).unwrap_or(usize::MAX);
                    let n = dest.len();
                    if let Some(held) = src.checked_add(n).and_then(|e| bytes.get(src..e)) {
                        buf[dest].copy_from_slice(held);
                    }
                }
            }
        }
        Ok(want)
    }

    /// A reader of the whole file, front to back.
    pub fn reader<'a>(&'a self, disk: &'a dyn Disk, volume_start: u64) -> ContentReader<'a> {
        ContentReader {
            content: self,
            disk,
            volume_start,
            position: 0,
        }
    }

    /// Where the file bytes `range` lie in the volume, if they all lie there verbatim and
    /// contiguously (one span, or neighbouring spans that follow each other on the disk).
    pub fn volume_range(&self, range: Range<u64>) -> Option<Range<u64>> {
        if range.start >= range.end || range.end > self.size {
            return None;
        }
        let first = self.spans.partition_point(|s| s.end() <= range.start);
        let start = self.spans.get(first)?.volume_offset(range.start)?;
        let mut expected = start;
        let mut at = range.start;
        for span in self.spans.get(first..)? {
            // A gap (a hole) between spans breaks the run.
            if span.start > at {
                return None;
            }
            if span.volume_offset(at)? != expected {
                return None;
            }
            let to = span.end().min(range.end);
            expected = expected.checked_add(to.saturating_sub(at))?;
            at = to;
            if at >= range.end {
                return Some(start..expected);
            }
        }
        None
    }

    /// The file offsets where the file's bytes stop lying contiguously in the volume: between
    /// two spans that do not follow each other on the disk, and at each edge of a span whose
    /// bytes are not on the disk verbatim (zeros, held bytes). A secret that crosses none of
    /// these lies whole on the disk, where the byte sweep reads it.
    pub fn seams(&self) -> Vec<u64> {
        let mut seams = Vec::new();
        let mut previous: Option<&Span> = None;
        for span in &self.spans {
            let contiguous = previous.is_some_and(|p| {
                p.end() == span.start
                    && p.volume_offset(p.start)
                        .zip(span.volume_offset(span.start))
                        .is_some_and(|(a, b)| a.checked_add(p.len) == Some(b))
            });
            if !contiguous && span.start > 0 {
                seams.push(span.start);
            }
            if previous.is_some_and(|p| p.end() < span.start) {
                // A hole before this span: its start is a seam too.
                if let Some(p) = previous {
                    seams.push(p.end());
                }
            }
            let end = span.end();
            if span.volume_offset(span.start).is_none() && end < self.size {
                seams.push(end);
            }
            previous = Some(span);
        }
        if let Some(last) = previous.filter(|p| p.end() < self.size) {
            seams.push(last.end());
        }
        seams.sort_unstable();
        seams.dedup();
        seams
    }
}

/// `span` without its first `cut` bytes.
fn cut_front(span: Span, cut: u64) -> Span {
    let piece = match span.piece {
        Piece::Volume(at) => Piece::Volume(at.saturating_add(cut)),
        Piece::Zeros => Piece::Zeros,
        Piece::Held { bytes, at } => {
            let from = usize::try_from(cut).unwrap_or(usize::MAX).min(bytes.len());
            Piece::Held {
                bytes: Arc::from(&bytes[from..]),
                at: at.and_then(|a| a.checked_add(cut)),
            }
        }
    };
    Span {
        start: span.start.saturating_add(cut),
        len: span.len.saturating_sub(cut),
        piece,
    }
}

/// The error for a span whose disk offset overflows.
fn outside(span: &Span) -> FsError {
    FsError::Corrupt(format!(
        "a span of {} bytes at file offset {} lies past the end of addressable bytes",
        span.len, span.start
    ))
}

/// Reads a [`FileContent`] front to back (and seeks in it): what archive readers are given.
#[derive(Debug)]
pub struct ContentReader<'a> {
    content: &'a FileContent,
    disk: &'a dyn Disk,
    volume_start: u64,
    position: u64,
}

impl Read for ContentReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self
            .content
            .read_at(self.disk, self.volume_start, self.position, buf)
            .map_err(io::Error::other)?;
        self.position = self.position.saturating_add(n as u64);
        Ok(n)
    }
}

impl Seek for ContentReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(at) => Some(at),
            SeekFrom::End(delta) => self.content.size.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        };
        let target = target.ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "seek before the file's start")
        })?;
        self.position = target;
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use snapsift_disk::MemoryDisk;

    fn volume(start: u64, len: u64, at: u64) -> Span {
        Span {
            start,
            len,
            piece: Piece::Volume(at),
        }
    }

    fn disk() -> MemoryDisk {
        MemoryDisk::new((0..=255u8).cycle().take(8192).collect())
    }

    #[test]
    fn reads_in_file_order_with_holes_and_held_bytes() {
        let held = Piece::Held {
            bytes: Arc::from(&b"HELD"[..]),
            at: None,
        };
        let content = FileContent::new(
            20,
            vec![
                volume(4, 4, 100),
                volume(0, 4, 200),
                Span {
                    start: 12,
                    len: 4,
                    piece: held,
                },
            ],
        );
        let mut buf = [9u8; 32];
        let n = content.read_at(&disk(), 1000, 0, &mut buf).unwrap();
        assert_eq!(n, 20);
        let at = |o: u64| (1000 + o) as u8;
        assert_eq!(
            &buf[..20],
            &[
                at(200),
                at(201),
                at(202),
                at(203),
                at(100),
                at(101),
                at(102),
                at(103),
                0,
                0,
                0,
                0,
                b'H',
                b'E',
                b'L',
                b'D',
                0,
                0,
                0,
                0
            ]
        );
        let mut all = Vec::new();
        content.reader(&disk(), 1000).read_to_end(&mut all).unwrap();
        assert_eq!(all, buf[..20]);
        assert_eq!(content.seams(), vec![4, 8, 12, 16]);
    }

    #[test]
    fn volume_ranges_only_where_contiguous() {
        let content = FileContent::new(
            30,
            vec![volume(0, 10, 100), volume(10, 10, 110), volume(20, 10, 500)],
        );
        assert_eq!(content.volume_range(2..18), Some(102..118));
        assert_eq!(content.volume_range(18..22), None);
        assert_eq!(content.volume_range(20..30), Some(500..510));
        assert_eq!(content.volume_range(25..31), None, "past the end");
        assert_eq!(content.seams(), vec![20]);
    }

    #[test]
    fn overlapping_spans_are_cut() {
        let content = FileContent::new(10, vec![volume(0, 6, 100), volume(4, 6, 300)]);
        assert_eq!(content.spans[1], volume(6, 4, 302));
    }
}
