//! What the VHD and VHDX readers share: assembling one virtual-disk read from the places its
//! bytes live (runs of the image file, the parent disk, zeros), finding the parent of a
//! differencing disk, and reading integers out of parsed structures.
//!
//! A reader walks its block tables and describes the read piece by piece, in order; the
//! [`Assembler`] merges consecutive pieces that continue each other (a host run that starts
//! where the previous one ended, parent after parent, zeros after zeros) and issues one read per
//! merged run, so a scan of a contiguous image costs one `pread` per run, not per sector.

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::host::Host;
use crate::{Disk, DiskError, Opener};

/// Where the bytes of one piece of a read come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// The image file, from this offset on.
    Host(u64),
    /// The parent disk, at the same virtual offset.
    Parent,
    /// Nothing: the bytes read as zero.
    Zero,
}

/// A run not yet read: its source and the part of the output buffer it fills.
#[derive(Debug)]
struct Pending {
    source: Source,
    start: usize,
    len: usize,
}

/// Fills a read buffer from a sequence of pieces, merging contiguous ones.
pub(crate) struct Assembler<'a> {
    host: &'a Host,
    parent: Option<&'a dyn Disk>,
    /// The virtual offset of `buf[0]`.
    offset: u64,
    buf: &'a mut [u8],
    /// How much of `buf` the pieces pushed so far cover.
    covered: usize,
    pending: Option<Pending>,
}

impl<'a> Assembler<'a> {
    /// An assembler filling `buf`, the bytes at virtual offset `offset`.
    pub(crate) fn new(
        host: &'a Host,
        parent: Option<&'a dyn Disk>,
        offset: u64,
        buf: &'a mut [u8],
    ) -> Self {
        Assembler {
            host,
            parent,
            offset,
            buf,
            covered: 0,
            pending: None,
        }
    }

    /// The next `len` bytes of the read come from `source`.
    pub(crate) fn push(&mut self, source: Source, len: usize) -> Result<(), DiskError> {
        if len == 0 {
            return Ok(());
        }
        let start = self.covered;
        self.covered = start.checked_add(len).ok_or_else(overrun)?;
        if let Some(pending) = &mut self.pending
            && continues(pending, source)
        {
            pending.len = pending.len.checked_add(len).ok_or_else(overrun)?;
            return Ok(());
        }
        self.flush()?;
        self.pending = Some(Pending { source, start, len });
        Ok(())
    }

    /// Reads the last run. Every byte of the buffer must have been pushed.
    pub(crate) fn finish(mut self) -> Result<(), DiskError> {
        self.flush()?;
        if self.covered != self.buf.len() {
            return Err(overrun());
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DiskError> {
        let Some(Pending { source, start, len }) = self.pending.take() else {
            return Ok(());
        };
        let end = start.checked_add(len).ok_or_else(overrun)?;
        let out = self.buf.get_mut(start..end).ok_or_else(overrun)?;
        match source {
            Source::Host(at) => self.host.read_exact_at(at, out),
            Source::Zero => {
                out.fill(0);
                Ok(())
            }
            Source::Parent => {
                let start64 = u64::try_from(start).map_err(|_| overrun())?;
                let at = self.offset.checked_add(start64).ok_or_else(overrun)?;
                match self.parent {
                    Some(parent) => read_parent(parent, at, out),
                    // A reader without a parent never pushes one; zeros are the safe answer.
                    None => {
                        out.fill(0);
                        Ok(())
                    }
                }
            }
        }
    }
}

/// Whether `source` continues `pending` without a gap.
fn continues(pending: &Pending, source: Source) -> bool {
    match (pending.source, source) {
        (Source::Host(start), Source::Host(next)) => {
            u64::try_from(pending.len)
                .ok()
                .and_then(|len| start.checked_add(len))
                == Some(next)
        }
        (Source::Parent, Source::Parent) | (Source::Zero, Source::Zero) => true,
        _ => false,
    }
}

/// A read that covers more or less than its buffer: a bug in a reader, reported, not panicked.
fn overrun() -> DiskError {
    DiskError::InvalidRange {
        start: 0,
        end: u64::MAX,
    }
}

/// Reads `buf.len()` bytes of `parent` at `offset`: bytes past the parent's end read as zero,
/// because a differencing disk may be larger than its parent (the guest grew the disk).
pub(crate) fn read_parent(parent: &dyn Disk, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
    let available = parent.size().saturating_sub(offset);
    let from_parent = usize::try_from(available)
        .unwrap_or(usize::MAX)
        .min(buf.len());
    let (head, tail) = buf.split_at_mut(from_parent);
    if !head.is_empty() {
        parent.read_exact_at(offset, head)?;
    }
    tail.fill(0);
    Ok(())
}

/// Sorts `ranges` and merges overlapping and touching ones, dropping empty ones.
pub(crate) fn merge_ranges(mut ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    ranges.retain(|r| r.start < r.end);
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// The data ranges of a differencing disk of `size` bytes: its own ranges and those of its
/// parent (clipped to both disks' sizes), merged.
pub(crate) fn with_parent_ranges(
    own: Vec<Range<u64>>,
    parent: Option<&dyn Disk>,
    size: u64,
) -> Result<Vec<Range<u64>>, DiskError> {
    let mut ranges = own;
    if let Some(parent) = parent {
        let limit = size.min(parent.size());
        ranges.extend(
            parent
                .data_ranges()?
                .into_iter()
                .map(|r| r.start.min(limit)..r.end.min(limit)),
        );
    }
    Ok(merge_ranges(ranges))
}

/// Why a structure parsed from bytes was refused, before the image's path is attached.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The structure is inconsistent or damaged.
    Corrupt(String),
    /// The structure is valid but uses a feature snapsift does not read.
    Unsupported(String),
}

impl Refusal {
    /// The refusal as the [`DiskError`] for the image at `path` in `format`.
    pub(crate) fn at(self, path: &Path, format: &'static str) -> DiskError {
        match self {
            Refusal::Corrupt(reason) => DiskError::Corrupt {
                path: path.to_owned(),
                format,
                reason,
            },
            Refusal::Unsupported(feature) => DiskError::Unsupported {
                path: path.to_owned(),
                format,
                feature,
            },
        }
    }
}

/// A Windows path as a path here, or `None` for one on a drive letter or a share, which
/// cannot name a file on this machine (its file name still can: see [`windows_file_name`]).
pub(crate) fn windows_path(text: &str) -> Option<PathBuf> {
    let text = text.trim_end_matches('\0');
    let text = text.strip_prefix(r"\\?\").unwrap_or(text);
    let has_drive = text.as_bytes().get(1) == Some(&b':');
    if text.is_empty() || has_drive || text.starts_with(r"\\") {
        return None;
    }
    Some(PathBuf::from(text.replace('\\', "/")))
}

/// The last component of a Windows path: where a parent moved along with its child is found.
pub(crate) fn windows_file_name(text: &str) -> Option<PathBuf> {
    let name = text.trim_end_matches('\0').rsplit(['\\', '/']).next()?;
    (!name.is_empty() && name != "." && name != "..").then(|| PathBuf::from(name))
}

/// Opens the parent of the differencing disk at `overlay`: the first of `candidates` (names as
/// recorded, relative to the overlay's directory or absolute) that exists and is the parent the
/// disk was made from, as far as `id_of` can tell: the id it reads from a candidate must be one
/// of `expected` (no expected id, or a candidate `id_of` cannot read, is taken on trust).
///
/// A parent that exists but has another id is refused, as a [`DiskError::Backing`] naming it:
/// reading a child over a parent it was not made from gives a disk that never existed. If no
/// candidate exists, opening the first reports it as the missing parent.
pub(crate) fn open_parent(
    overlay: &Path,
    candidates: &[PathBuf],
    expected: &[[u8; 16]],
    id_of: fn(&Path) -> Option<[u8; 16]>,
    opener: &mut Opener,
    format: &'static str,
) -> Result<Box<dyn Disk>, DiskError> {
    let resolve = |name: &Path| match overlay.parent() {
        Some(dir) if name.is_relative() => dir.join(name),
        _ => name.to_owned(),
    };
    let mut mismatch = None;
    for name in candidates {
        let path = resolve(name);
        if !path.exists() {
            continue;
        }
        match (expected.first(), id_of(&path)) {
            (Some(&wanted), Some(found)) if !expected.contains(&found) => {
                mismatch.get_or_insert((path, found, wanted));
            }
            _ => return opener.open_backing(overlay, name),
        }
    }
    if let Some((backing, found, expected)) = mismatch {
        return Err(DiskError::Backing {
            overlay: overlay.to_owned(),
            source: Box::new(DiskError::Corrupt {
                path: backing.clone(),
                format,
                reason: format!(
                    "its unique id {} is not the id {} the differencing disk {} was made from: \
                     the parent was replaced or changed since",
                    hex(&found),
                    hex(&expected),
                    overlay.display()
                ),
            }),
            backing,
        });
    }
    match candidates.first() {
        Some(name) => opener.open_backing(overlay, name),
        None => Err(
            Refusal::Corrupt("the differencing disk does not name its parent".into())
                .at(overlay, format),
        ),
    }
}

/// Bytes as lowercase hex, for ids in messages.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Big-endian and little-endian integers at fixed offsets of a parsed structure.
///
/// The offsets are constants of the format and every caller passes a slice long enough for
/// them (the structures are read whole, at their fixed sizes); a shorter slice reads as zeros
/// rather than panicking, which the structure checks (signatures, checksums) then refuse.
pub(crate) mod bytes {
    /// `N` bytes at `at`, zeros where `data` is too short.
    pub(crate) fn array<const N: usize>(data: &[u8], at: usize) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(src) = at.checked_add(N).and_then(|end| data.get(at..end)) {
            out.copy_from_slice(src);
        }
        out
    }

    /// A big-endian `u16` at `at`.
    pub(crate) fn be16(data: &[u8], at: usize) -> u16 {
        u16::from_be_bytes(array(data, at))
    }

    /// A big-endian `u32` at `at`.
    pub(crate) fn be32(data: &[u8], at: usize) -> u32 {
        u32::from_be_bytes(array(data, at))
    }

    /// A big-endian `u64` at `at`.
    pub(crate) fn be64(data: &[u8], at: usize) -> u64 {
        u64::from_be_bytes(array(data, at))
    }

    /// A little-endian `u16` at `at`.
    pub(crate) fn le16(data: &[u8], at: usize) -> u16 {
        u16::from_le_bytes(array(data, at))
    }

    /// A little-endian `u32` at `at`.
    pub(crate) fn le32(data: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(array(data, at))
    }

    /// A little-endian `u64` at `at`.
    pub(crate) fn le64(data: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(array(data, at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_overlapping_touching_and_unsorted_ranges() {
        assert_eq!(
            merge_ranges(vec![10..20, 0..5, 5..7, 15..30, 40..40, 35..36]),
            vec![0..7, 10..30, 35..36]
        );
    }

    #[test]
    fn reads_past_a_smaller_parent_as_zeros() {
        let parent = crate::MemoryDisk::new(vec![7u8; 10]);
        let mut buf = [1u8; 6];
        read_parent(&parent, 7, &mut buf).unwrap();
        assert_eq!(buf, [7, 7, 7, 0, 0, 0]);
        read_parent(&parent, 20, &mut buf).unwrap();
        assert_eq!(buf, [0; 6]);
    }
}
