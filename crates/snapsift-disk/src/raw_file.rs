//! [`RawFile`]: a raw disk image in a regular file, read through memory mappings.

use std::ops::Range;
use std::path::Path;

use crate::host::Host;
use crate::{Disk, DiskError, Window, check_bounds, window::range_len};

/// Holes shorter than this are read rather than skipped: merging them keeps the range list short
/// on fragmented sparse files, and reading a short hole costs next to nothing.
const MIN_SKIPPED_HOLE: u64 = 1 << 20;

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

    fn window<'a>(
        &self,
        range: Range<u64>,
        _buf: &'a mut Vec<u8>,
    ) -> Result<Window<'a>, DiskError> {
        let len = range_len(&range)?;
        check_bounds(range.start, len, self.size())?;
        if len == 0 {
            return Ok(Window::Buffer(&[]));
        }
        Ok(Window::Mapped(self.host.map(range.start, len)?))
    }

    fn kind(&self) -> &'static str {
        "raw image file"
    }
}
