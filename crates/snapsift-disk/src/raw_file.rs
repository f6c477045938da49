//! [`RawFile`]: a raw disk image in a regular file, read through memory mappings.

use std::ops::Range;
use std::path::Path;

use crate::host::Host;
use crate::{Disk, DiskError, Window, check_bounds, window, window::range_len};

/// Holes shorter than this are read rather than skipped: merging them keeps the range list short
/// on fragmented sparse files, and reading a short hole costs next to nothing.
const MIN_SKIPPED_HOLE: u64 = 1 << 20;

/// The largest page size a mapping's end is rounded up to (x86-64 and most ARM64 kernels use
/// 4 KiB; 64 KiB covers the others).
const PAGE: u64 = 64 << 10;

/// A raw disk image: the file's bytes (or the bytes of a slice of it) are the disk's bytes.
///
/// Windows are read-only shared mappings made per window (`memmap2`), populated up front so the
/// scan does not fault page by page, and unmapped when the window drops. Holes of a sparse file
/// are found with `SEEK_DATA`/`SEEK_HOLE` and left out of [`Disk::data_ranges`].
///
/// A mapped file that shrinks while it is being read raises `SIGBUS`; images are expected to be
/// left alone while they are scanned.
#[derive(Debug)]
pub struct RawFile {
    host: Host,
}

impl RawFile {
    /// Opens a raw image read-only, whatever its content.
    pub fn open(path: &Path) -> Result<Self, DiskError> {
        Ok(RawFile::from_host(Host::open(path)?))
    }

    pub(crate) fn from_host(host: Host) -> Self {
        RawFile { host }
    }
}

impl Disk for RawFile {
    fn size(&self) -> u64 {
        self.host.len()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        check_bounds(offset, buf.len(), self.size())?;
        self.host.read_exact_at(offset, buf)
    }

    fn data_ranges(&self) -> Result<Vec<Range<u64>>, DiskError> {
        self.host.data_ranges(MIN_SKIPPED_HOLE)
    }

    fn window<'a>(&self, range: Range<u64>, buf: &'a mut Vec<u8>) -> Result<Window<'a>, DiskError> {
        let len = range_len(&range)?;
        check_bounds(range.start, len, self.size())?;
        if len == 0 {
            return Ok(Window::Buffer(&[]));
        }
        // A mapping covers whole pages, and the kernel refuses one whose last page ends past
        // 2^63 - 1 (EOVERFLOW): the end of a file of nearly 2^63 bytes is read instead.
        if range
            .end
            .checked_next_multiple_of(PAGE)
            .is_none_or(|end| end > i64::MAX as u64)
        {
            let aligned = window::page_aligned(buf, len);
            self.host.read_exact_at(range.start, aligned)?;
            return Ok(Window::Buffer(aligned));
        }
        Ok(Window::Mapped(self.host.map(range.start, len)?))
    }

    fn kind(&self) -> &'static str {
        "raw image file"
    }
}
