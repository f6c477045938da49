//! The one error type of the filesystem crate.

use snapsift_disk::DiskError;

/// Why the volumes or filesystems of a disk could not be read.
///
/// A damaged partition table is not an error: the disk is then read as one unknown volume
/// (see [`crate::VolumeMap::notes`]). Errors are failures to read the disk at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FsError {
    /// Reading the disk failed.
    #[error(transparent)]
    Disk(#[from] DiskError),
}
