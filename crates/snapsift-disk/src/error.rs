//! The one error type of the disk layer.

use std::io;
use std::path::PathBuf;

/// Why a disk could not be opened or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiskError {
    /// The path could not be opened or inspected (missing, permission denied, ...).
    #[error("cannot open {}", path.display())]
    Open {
        /// The path given.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The path exists but does not hold a disk.
    #[error("{} is not a disk image or block device: {reason}", path.display())]
    NotADisk {
        /// The path given.
        path: PathBuf,
        /// What it is instead.
        reason: &'static str,
    },
    /// The size of a block device could not be read.
    #[error("cannot read the size of {}", path.display())]
    Size {
        /// The device.
        path: PathBuf,
        /// What the kernel said.
        #[source]
        source: io::Error,
    },
    /// A read failed.
    #[error("read of {len} bytes at offset {offset} failed")]
    Read {
        /// Disk offset of the read.
        offset: u64,
        /// Length of the read.
        len: usize,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A range whose end lies before its start, or too long to address in memory.
    #[error("invalid byte range {start}..{end}")]
    InvalidRange {
        /// Start of the range.
        start: u64,
        /// End of the range.
        end: u64,
    },
    /// A read asked for bytes past the end of the disk.
    #[error("read of {len} bytes at offset {offset} is outside the disk ({size} bytes)")]
    OutOfBounds {
        /// Disk offset of the read.
        offset: u64,
        /// Length of the read.
        len: usize,
        /// Size of the disk.
        size: u64,
    },
}
