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
//! An NTFS compressed file's units ([`Piece::Lznt1`]) are decoded as they are read: their
//! bytes are never on the disk as the file reads them, so they have no volume range and
//! their edges are seams, like bytes held in metadata.
//!
//! A btrfs compressed extent ([`Piece::Compressed`]: zlib, LZO, zstd) is read the same way.
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
    /// The span's bytes are (part of) one LZNT1-compressed NTFS compression unit, decoded
    /// when read: the span's first byte is the decoded unit's byte `skip`. The compressed
    /// bytes are never the file's bytes verbatim, so such a span has no volume range.
    Lznt1 {
        /// The compressed unit's clusters, in order, as (volume offset, bytes).
        runs: Vec<(u64, u64)>,
        /// Decoded bytes of the unit before the span's first.
        skip: u64,
    },
    /// The span's bytes are (part of) one compressed btrfs extent, decoded when read: the
    /// span's first byte is the decoded extent's byte `skip`. Like [`Piece::Lznt1`], such a
    /// span has no volume range.
    Compressed {
        /// How the extent is compressed.
        codec: Compression,
        /// Where its compressed bytes lie in the volume...
        at: u64,
        /// ...and how many there are.
        len: u64,
        /// Decoded bytes of the extent before the span's first.
        skip: u64,
        /// The filesystem's sector size (LZO's framing pads to it).
        sector: u32,
    },
}

/// How a compressed extent ([`Piece::Compressed`]) is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// A zlib stream.
    Zlib,
    /// LZO1X segments in btrfs's framing.
    BtrfsLzo,
    /// A zstd frame.
    Zstd,
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
            Piece::Zeros
            | Piece::Held { at: None, .. }
            | Piece::Lznt1 { .. }
            | Piece::Compressed { .. } => None,
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
                Piece::Lznt1 { runs, skip } => {
                    let from = skip.saturating_add(into);
                    let upto = from.saturating_add(dest.len() as u64);
                    let unit = decode_unit(disk, volume_start, runs, upto)?;
                    let from = usize::try_from(from).unwrap_or(usize::MAX);
                    // A unit decoding short (the file's last) reads as zeros past its end.
                    if let Some(decoded) = unit.get(from..) {
                        let n = decoded.len().min(dest.len());
                        buf[dest.start..dest.start.saturating_add(n)]
                            .copy_from_slice(&decoded[..n]);
                    }
                }
                Piece::Compressed {
                    codec,
                    at,
                    len,
                    skip,
                    sector,
                } => {
                    let from = skip.saturating_add(into);
                    let upto = from.saturating_add(dest.len() as u64);
                    let extent = crate::btrfs::compress::read_extent(
                        disk,
                        volume_start,
                        (*codec, *at, *len, *sector),
                        upto,
                    )?;
                    let from = usize::try_from(from).unwrap_or(usize::MAX);
                    // An extent decoding short reads as zeros past its end.
                    if let Some(decoded) = extent.get(from..) {
                        let n = decoded.len().min(dest.len());
                        buf[dest.start..dest.start.saturating_add(n)]
                            .copy_from_slice(&decoded[..n]);
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
    /// these lies whole on the disk, where the byte sweep reads it. Compressed units count
    /// as bytes not on the disk.
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
        Piece::Lznt1 { runs, skip } => Piece::Lznt1 {
            runs,
            skip: skip.saturating_add(cut),
        },
        Piece::Compressed {
            codec,
            at,
            len,
            skip,
            sector,
        } => Piece::Compressed {
            codec,
            at,
            len,
            skip: skip.saturating_add(cut),
            sector,
        },
    };
    Span {
        start: span.start.saturating_add(cut),
        len: span.len.saturating_sub(cut),
        piece,
    }
}

/// Compressed bytes one LZNT1 unit may hold, and decoded bytes it may give: a compression
/// unit is 16 clusters of at most 4 KiB (NTFS compresses nothing with larger clusters), so
/// only a hostile or damaged span reaches this.
const MAX_UNIT: u64 = 1 << 20;

/// Reads the compressed clusters `runs` (volume offsets, bytes) of one unit through `disk`
/// and decodes its first `upto` bytes.
fn decode_unit(
    disk: &dyn Disk,
    volume_start: u64,
    runs: &[(u64, u64)],
    upto: u64,
) -> Result<Vec<u8>, FsError> {
    let total = runs
        .iter()
        .try_fold(0u64, |sum, &(_, len)| sum.checked_add(len))
        .filter(|&total| total <= MAX_UNIT && upto <= MAX_UNIT)
        .ok_or_else(|| {
            FsError::Corrupt(format!(
                "an LZNT1 compression unit larger than {MAX_UNIT} bytes"
            ))
        })?;
    let mut compressed = vec![0u8; usize::try_from(total).unwrap_or(0)];
    let mut filled = 0usize;
    for &(at, len) in runs {
        let len = usize::try_from(len).unwrap_or(0);
        let end = filled.saturating_add(len);
        let at = at.checked_add(volume_start).ok_or_else(|| {
            FsError::Corrupt("an LZNT1 unit lies past the end of addressable bytes".into())
        })?;
        if let Some(into) = compressed.get_mut(filled..end) {
            disk.read_exact_at(at, into)?;
        }
        filled = end;
    }
    let limit = usize::try_from(upto).unwrap_or(0);
    crate::ntfs::lznt1::decompress(&compressed, limit)
        .map_err(|e| FsError::Corrupt(format!("a compressed NTFS file: {e}")))
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
        self.position = seek_target(to, self.position, self.content.size)?;
        Ok(self.position)
    }
}

/// Where a seek `to` from `position` in a stream of `size` bytes lands; an error before the
/// start (or past `u64`). Seeking past the end is allowed: reads there give nothing.
pub(crate) fn seek_target(to: SeekFrom, position: u64, size: u64) -> io::Result<u64> {
    match to {
        SeekFrom::Start(at) => Some(at),
        SeekFrom::End(delta) => size.checked_add_signed(delta),
        SeekFrom::Current(delta) => position.checked_add_signed(delta),
    }
    .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))
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

    /// A disk holding, at 100, an LZNT1 unit of one compressed chunk: "abc" then a copy of
    /// 9 bytes 3 back ("abcabcabcabc"), then junk.
    fn compressed_disk() -> MemoryDisk {
        let mut bytes = vec![0xEEu8; 300];
        let chunk = [0x05, 0xB0, 0b0000_1000, b'a', b'b', b'c', 0x06, 0x20];
        bytes[100..108].copy_from_slice(&chunk);
        MemoryDisk::new(bytes)
    }

    #[test]
    fn compressed_units_decode_when_read() {
        let unit = |start, len, skip| Span {
            start,
            len,
            piece: Piece::Lznt1 {
                runs: vec![(100, 4), (104, 4)],
                skip,
            },
        };
        // Bytes 0-5 plain, then the unit's bytes from its 2nd, then more of the unit: a
        // later span overlapping the first is cut at its front (its skip grows).
        let content = FileContent::new(24, vec![volume(0, 6, 0), unit(6, 10, 1), unit(10, 14, 0)]);
        assert_eq!(content.spans[2], unit(16, 8, 6));
        let mut buf = [9u8; 24];
        assert_eq!(
            content.read_at(&compressed_disk(), 0, 0, &mut buf).unwrap(),
            24
        );
        assert_eq!(&buf[6..16], b"bcabcabcab");
        // The unit decodes to 12 bytes and then zeros (the rest of its chunk).
        assert_eq!(&buf[16..24], b"abcabc\0\0");
        let mut part = [0u8; 3];
        content
            .read_at(&compressed_disk(), 0, 8, &mut part)
            .unwrap();
        assert_eq!(&part, b"abc");
        // Compressed bytes are never the file's on the disk.
        assert_eq!(content.volume_range(2..5), Some(2..5));
        assert_eq!(content.volume_range(5..7), None);
        assert_eq!(content.volume_range(7..9), None);
        assert_eq!(content.seams(), vec![6, 16]);
        // A unit whose clusters claim too much, or corrupt data: an error, not a panic.
        let huge = FileContent::new(
            4,
            vec![Span {
                start: 0,
                len: 4,
                piece: Piece::Lznt1 {
                    runs: vec![(0, 1 << 40)],
                    skip: 0,
                },
            }],
        );
        assert!(huge.read_at(&compressed_disk(), 0, 0, &mut part).is_err());
        let junk = FileContent::new(3, vec![unit(0, 3, 0)]);
        let mut disk = vec![0u8; 300];
        disk[100..104].copy_from_slice(&[0x05, 0xB0, 0x01, 0x00]);
        assert!(
            junk.read_at(&MemoryDisk::new(disk), 0, 0, &mut part)
                .is_err()
        );
    }

    #[test]
    fn overlapping_spans_are_cut() {
        let content = FileContent::new(10, vec![volume(0, 6, 100), volume(4, 6, 300)]);
        assert_eq!(content.spans[1], volume(6, 4, 302));
    }
}
