//! The page-aligned buffers [`Disk::window`](crate::Disk::window) reads a range of a disk
//! into, and the length of such a range.

use std::ops::Range;

use crate::DiskError;

/// Memory page size assumed for alignment; a larger real page only costs speed, never bytes.
const PAGE: usize = 4096;

/// A page-aligned slice of `len` bytes inside `buf`, growing `buf` if needed.
///
/// `Vec<u8>` promises no alignment, so the buffer is over-allocated by a page and the slice
/// starts at the first page boundary inside it.
pub(crate) fn page_aligned(buf: &mut Vec<u8>, len: usize) -> &mut [u8] {
    let at = page_aligned_range(buf, len);
    &mut buf[at]
}

/// Where a page-aligned stretch of `len` bytes lies inside `buf`, growing `buf` if needed.
///
/// The kernel copies into page-aligned memory several times faster, and a device opened for
/// direct I/O accepts nothing else. `Vec<u8>` promises no alignment, so the buffer is
/// over-allocated by a page and the stretch starts at the first page boundary inside it. The
/// range stays valid while `buf` is not reallocated, also when the vector moves to another
/// thread.
pub fn page_aligned_range(buf: &mut Vec<u8>, len: usize) -> Range<usize> {
    let needed = len.saturating_add(PAGE);
    if buf.len() < needed {
        buf.resize(needed, 0);
    }
    let start = buf.as_ptr().align_offset(PAGE).min(PAGE);
    start..start.saturating_add(len)
}

/// The length of `range` as a `usize`, or an error for an inverted or unaddressable range.
pub(crate) fn range_len(range: &Range<u64>) -> Result<usize, DiskError> {
    range
        .end
        .checked_sub(range.start)
        .and_then(|len| usize::try_from(len).ok())
        .ok_or(DiskError::InvalidRange {
            start: range.start,
            end: range.end,
        })
}
