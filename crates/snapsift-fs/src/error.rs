//! The one error type of the filesystem crate.

use snapsift_disk::DiskError;

/// Why the volumes or filesystems of a disk could not be read.
///
/// A damaged partition table is not an error: the disk is then read as one unknown volume
/// (see [`crate::VolumeMap::notes`]); nor is a damaged filesystem, mapped as far as it can be
/// (see [`crate::Ext4Map::notes`], [`crate::NtfsMap::notes`], [`crate::XfsMap::notes`], [`crate::FatMap::notes`], [`crate::BtrfsMap::notes`]). Errors are failures to read the disk, and volumes that do
/// not hold a filesystem the map can read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FsError {
    /// Reading the disk failed.
    #[error(transparent)]
    Disk(#[from] DiskError),
    /// The volume holds no ext2/3/4 filesystem (or one too damaged to be recognised).
    #[error("not an ext2/3/4 filesystem: {0}")]
    NotExt(String),
    /// The volume holds no NTFS (or one too damaged to be recognised).
    #[error("not an NTFS filesystem: {0}")]
    NotNtfs(String),
    /// The volume holds no XFS filesystem (or one too damaged to be recognised).
    #[error("not an XFS filesystem: {0}")]
    NotXfs(String),
    /// The volume holds no btrfs filesystem (or one too damaged to be recognised).
    #[error("not a btrfs filesystem: {0}")]
    NotBtrfs(String),
    /// The volume holds no FAT filesystem (or one too damaged to be recognised).
    #[error("not a FAT filesystem: {0}")]
    NotFat(String),
    /// The FAT filesystem is larger than the map reads.
    #[error("unsupported FAT filesystem: {0}")]
    UnsupportedFat(String),
    /// A LUKS volume cannot be opened: a header that cannot be read or uses what is not
    /// supported, or a key that opens none of its keyslots and is not its volume key.
    #[error("cannot open the LUKS volume: {0}")]
    Luks(String),
    /// A structure the filesystem needs to be read is damaged beyond use.
    #[error("damaged filesystem: {0}")]
    Corrupt(String),
    /// The filesystem uses something the map does not understand.
    #[error("unsupported ext2/3/4 filesystem: {0}")]
    Unsupported(String),
    /// The XFS filesystem uses something the map does not understand.
    #[error("unsupported XFS filesystem: {0}")]
    UnsupportedXfs(String),
}
