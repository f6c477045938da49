//! [`BlockDevice`]: an attached disk or partition, read with `pread`.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::sized_file::SizedFile;
use crate::{Disk, DiskError};

/// `BLKGETSIZE64` from `<linux/fs.h>`: `_IOR(0x12, 114, size_t)`, in the generic ioctl encoding
/// used by x86, x86-64, ARM and RISC-V (the `libc` crate does not export it).
const BLKGETSIZE64: libc::c_ulong = {
    const IOC_READ: libc::c_ulong = 2;
    let size = std::mem::size_of::<usize>() as libc::c_ulong;
    (IOC_READ << 30) | (size << 16) | (0x12 << 8) | 114
};

/// A block device (`/dev/nvme1n1`, `/dev/vdb`, `/dev/loop3`, a partition), opened `O_RDONLY`.
///
/// The size comes from the kernel (`BLKGETSIZE64`). Reads are positional (`pread`), so threads
/// share the descriptor without seeking, and the kernel is told the access is sequential so its
/// readahead grows.
#[derive(Debug)]
pub struct BlockDevice {
    inner: SizedFile,
}

impl BlockDevice {
    /// Opens a block device read-only.
    pub fn open(path: &Path) -> Result<Self, DiskError> {
        let file = File::open(path).map_err(|source| DiskError::Open {
            path: path.to_owned(),
            source,
        })?;
        Self::from_file(file, path)
    }

    /// Wraps a block device already opened read-only; `path` is only used in error messages.
    pub fn from_file(file: File, path: &Path) -> Result<Self, DiskError> {
        let size = device_size(&file).map_err(|source| DiskError::Size {
            path: path.to_owned(),
            source,
        })?;
        Ok(BlockDevice {
            inner: SizedFile::new(file, size),
        })
    }
}

impl Disk for BlockDevice {
    fn size(&self) -> u64 {
        self.inner.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        self.inner.read_exact_at(offset, buf)
    }

    fn kind(&self) -> &'static str {
        "block device"
    }
}

/// The size in bytes of the block device behind `file`, as the kernel reports it.
fn device_size(file: &File) -> io::Result<u64> {
    let mut size: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64 through the pointer, which points at `size`.
    let ret = unsafe { libc::ioctl(file.as_raw_fd(), BLKGETSIZE64, &mut size as *mut u64) };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(size)
}
