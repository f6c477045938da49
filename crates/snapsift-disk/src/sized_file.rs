//! [`SizedFile`]: what raw images and block devices share, a read-only descriptor of known size.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

use crate::{DiskError, check_bounds};

/// A file or device opened read-only, with its size, read with positional reads (`pread`) so
/// that threads share it without seeking.
#[derive(Debug)]
pub(crate) struct SizedFile {
    pub(crate) file: File,
    pub(crate) size: u64,
}

impl SizedFile {
    /// Wraps `file` of `size` bytes and tells the kernel the scan reads it front to back, so its
    /// readahead grows (only a hint: failure changes nothing).
    pub(crate) fn new(file: File, size: u64) -> SizedFile {
        // SAFETY: posix_fadvise only reads its arguments; the descriptor is open.
        unsafe {
            libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_SEQUENTIAL);
        }
        SizedFile { file, size }
    }

    /// Reads exactly `buf.len()` bytes at `offset`, within the size.
    pub(crate) fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        check_bounds(offset, buf.len(), self.size)?;
        self.file
            .read_exact_at(buf, offset)
            .map_err(|source| DiskError::Read {
                offset,
                len: buf.len(),
                source,
            })
    }
}
