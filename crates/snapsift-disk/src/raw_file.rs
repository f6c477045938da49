//! [`RawFile`]: a raw disk image in a regular file, read through memory mappings.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::path::Path;

use memmap2::MmapOptions;

use crate::sized_file::SizedFile;
use crate::{Disk, DiskError, Window, check_bounds, window::range_len};

/// Holes shorter than this are read rather than skipped: merging them keeps the range list short
/// on fragmented sparse files, and reading a short hole costs next to nothing.
const MIN_SKIPPED_HOLE: u64 = 1 << 20;

/// A raw disk image: the file's bytes are the disk's bytes.
///
/// Windows are read-only shared mappings made per window (`memmap2`), populated up front so the
/// scan does not fault page by page, and unmapped when the window drops. Holes of a sparse file
/// are found with `SEEK_DATA`/`SEEK_HOLE` and left out of [`Disk::data_ranges`].
///
/// A mapped file that shrinks while it is being read raises `SIGBUS`; images are expected to be
/// left alone while they are scanned.
#[derive(Debug)]
pub struct RawFile {
    inner: SizedFile,
}

impl RawFile {
    /// Opens a raw image read-only.
    pub fn open(path: &Path) -> Result<Self, DiskError> {
        let file = File::open(path).map_err(|source| DiskError::Open {
            path: path.to_owned(),
            source,
        })?;
        Self::from_file(file, path)
    }

    /// Wraps a file already opened read-only; `path` is only used in error messages.
    pub fn from_file(file: File, path: &Path) -> Result<Self, DiskError> {
        let size = file
            .metadata()
            .map_err(|source| DiskError::Open {
                path: path.to_owned(),
                source,
            })?
            .len();
        Ok(RawFile {
            inner: SizedFile::new(file, size),
        })
    }
}

impl Disk for RawFile {
    fn size(&self) -> u64 {
        self.inner.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        self.inner.read_exact_at(offset, buf)
    }

    fn data_ranges(&self) -> Result<Vec<Range<u64>>, DiskError> {
        match sparse_data_ranges(&self.inner.file, self.inner.size) {
            Ok(ranges) => Ok(ranges),
            // Filesystems without SEEK_DATA support answer EINVAL: read everything.
            Err(err) if err.raw_os_error() == Some(libc::EINVAL) => Ok(vec![0..self.inner.size]),
            Err(source) => Err(DiskError::Read {
                offset: 0,
                len: 0,
                source,
            }),
        }
    }

    fn window<'a>(
        &self,
        range: Range<u64>,
        _buf: &'a mut Vec<u8>,
    ) -> Result<Window<'a>, DiskError> {
        let len = range_len(&range)?;
        check_bounds(range.start, len, self.inner.size)?;
        if len == 0 {
            return Ok(Window::Buffer(&[]));
        }
        // SAFETY: the mapping is read-only (PROT_READ) and lives as long as the window. Like every
        // mmap-based reader (ripgrep included), we rely on nobody writing or truncating the image
        // while it is scanned; a concurrent writer could change bytes under the slice, and a
        // truncation raises SIGBUS (see the type's documentation).
        let map = unsafe {
            MmapOptions::new()
                .offset(range.start)
                .len(len)
                .populate()
                .map(&self.inner.file)
        }
        .map_err(|source| DiskError::Read {
            offset: range.start,
            len,
            source,
        })?;
        Ok(Window::Mapped(map))
    }

    fn kind(&self) -> &'static str {
        "raw image file"
    }
}

/// The data ranges of a possibly sparse file, with holes shorter than [`MIN_SKIPPED_HOLE`]
/// merged into their neighbours.
fn sparse_data_ranges(file: &File, size: u64) -> io::Result<Vec<Range<u64>>> {
    let mut ranges: Vec<Range<u64>> = Vec::new();
    let mut pos = 0u64;
    while pos < size {
        let Some(data_start) = seek(file, pos, libc::SEEK_DATA)? else {
            break; // Only a hole remains.
        };
        let data_end = seek(file, data_start, libc::SEEK_HOLE)?
            .unwrap_or(size)
            .min(size);
        if data_end <= data_start {
            break;
        }
        match ranges.last_mut() {
            Some(last) if data_start.saturating_sub(last.end) < MIN_SKIPPED_HOLE => {
                last.end = data_end;
            }
            _ => ranges.push(data_start..data_end),
        }
        pos = data_end;
    }
    Ok(ranges)
}

/// `lseek(fd, pos, whence)`, with `ENXIO` (no data or hole past `pos`) as `None`.
fn seek(file: &File, pos: u64, whence: libc::c_int) -> io::Result<Option<u64>> {
    let pos = libc::off_t::try_from(pos).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: lseek only reads its arguments; the descriptor is open for the call's duration.
    let ret = unsafe { libc::lseek(file.as_raw_fd(), pos, whence) };
    if ret < 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ENXIO) {
            return Ok(None);
        }
        return Err(err);
    }
    // lseek never returns a negative offset on success.
    Ok(u64::try_from(ret).ok())
}
