//! Assembling one virtual-disk read from the places its bytes live: runs of the image file,
//! the parent (backing) disk, zeros, and bytes a reader produces itself (an inflated cluster).
//!
//! A reader walks its tables and describes the read piece by piece, in order; the
//! [`Assembler`] merges consecutive pieces that continue each other (a file run that starts
//! where the previous one ended, parent after parent, zeros after zeros) and issues one read per
//! merged run, so a scan of a contiguous image costs one `pread` per run, not per cluster.

use crate::host::Host;
use crate::{Disk, DiskError};

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

    /// Fills the next `len` bytes of the read at once with `fill`, after the pending run: for
    /// bytes the reader produces itself, such as an inflated cluster.
    pub(crate) fn direct(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), DiskError>,
    ) -> Result<(), DiskError> {
        self.flush()?;
        let start = self.covered;
        self.covered = start.checked_add(len).ok_or_else(overrun)?;
        let out = self.buf.get_mut(start..self.covered).ok_or_else(overrun)?;
        fill(out)
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

/// The pieces of the read of `offset..end` that fall in successive blocks of `block_size`
/// bytes: `(block index, offset within the block, length)`. A zero block size gives no pieces.
pub(crate) fn block_pieces(
    offset: u64,
    end: u64,
    block_size: u64,
) -> impl Iterator<Item = (u64, u64, u64)> {
    let mut pos = offset;
    std::iter::from_fn(move || {
        if pos >= end {
            return None;
        }
        let block = pos.checked_div(block_size)?;
        let within = pos.checked_rem(block_size)?;
        let n = block_size
            .saturating_sub(within)
            .min(end.saturating_sub(pos));
        pos = pos.saturating_add(n);
        Some((block, within, n))
    })
}

/// A length within one read buffer as `usize`.
pub(crate) fn to_usize(len: u64) -> Result<usize, DiskError> {
    usize::try_from(len).map_err(|_| DiskError::InvalidRange { start: 0, end: len })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_pieces_cover_the_read() {
        let pieces: Vec<_> = block_pieces(1000, 5000, 2048).collect();
        assert_eq!(pieces, vec![(0, 1000, 1048), (1, 0, 2048), (2, 0, 904)]);
        assert_eq!(block_pieces(0, 10, 0).count(), 0);
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
