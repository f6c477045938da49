//! What every filesystem map offers the scan, whatever the filesystem: attribution of a disk
//! byte to a file ([`Filesystem::locate`]) and the files' logical contents for the file pass
//! ([`Filesystem::files`]).
//!
//! [`open`] picks the map for a volume's content: ext2/3/4 ([`crate::Ext4Map`]), NTFS
//! ([`crate::NtfsMap`]), XFS ([`crate::XfsMap`]), FAT12/16/32 and exFAT ([`crate::FatMap`])
//! or btrfs ([`crate::BtrfsMap`]); on an LVM2 logical volume, the map is built on the volume
//! as it reads and its offsets translated to the disk's ([`crate::logical`]).
//! Volumes of other kinds have no map: their bytes are swept and reported with the volume
//! only.

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use snapsift_disk::Disk;

use crate::content::FileContent;
use crate::file_list::Files;
use crate::logical::OnExtents;
use crate::volume::{Content, LogicalDisk, Volume};
use crate::{BtrfsMap, Ext4Map, FatMap, FsError, NtfsMap, XfsMap};

/// A filesystem, mapped once, then queried for every finding and read by the file pass.
///
/// Implementations are built once per volume and are immutable afterwards, so one map serves
/// all the scan's threads.
pub trait Filesystem: Send + Sync + fmt::Debug {
    /// The filesystem's kind, as output shows it: `ext4` (also for ext2/3), `ntfs`, `xfs`,
    /// `fat`, `exfat` or `btrfs`.
    fn kind(&self) -> &'static str;

    /// What [`FileLocation::inode`] numbers are, as output names them: `inode` or
    /// `mft_record`.
    fn id_name(&self) -> &'static str;

    /// What the byte at `offset` (relative to the volume start) is.
    fn locate(&self, offset: u64) -> FileLocation;

    /// The files whose contents the file pass may read: regular files in use, their
    /// alternate streams, and deleted files whose contents the filesystem still records.
    /// They are kept compact and each is built into a [`FileEntry`] when asked for.
    fn files(&self) -> Files<'_>;

    /// Problems met while mapping; empty for a healthy filesystem.
    fn notes(&self) -> &[String];
}

/// One file (or NTFS stream) whose contents can be read, as [`Files`] builds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// Its number: inode or MFT record (see [`Filesystem::id_name`]).
    pub id: u64,
    /// Its path, as [`FileLocation::path`] gives it.
    pub path: Option<String>,
    /// `Allocated` for a file in use, `Deleted` for one whose record is no longer in use.
    pub state: FileState,
    /// Its logical contents.
    pub content: FileContent,
}

/// Maps the filesystem of `volume` in `disk`, if it is one snapsift can map.
///
/// `Ok(None)` for volumes of other kinds; an error if the volume looked like a known
/// filesystem but could not be mapped (the caller reports it and sweeps the volume anyway).
pub fn open(disk: &dyn Disk, volume: &Volume) -> Result<Option<Box<dyn Filesystem>>, FsError> {
    if let Some(logical) = &volume.logical {
        let lv_disk = LogicalDisk::new(disk, &logical.extents);
        let inner = build(&lv_disk, volume.content, 0..logical.extents.size())?;
        return Ok(inner.map(|inner| {
            Box::new(OnExtents::new(inner, logical.clone(), volume.range.start))
                as Box<dyn Filesystem>
        }));
    }
    build(disk, volume.content, volume.range.clone())
}

/// Maps the filesystem of kind `content` at `range` of `disk`, if snapsift maps that kind.
fn build(
    disk: &dyn Disk,
    content: Content,
    range: Range<u64>,
) -> Result<Option<Box<dyn Filesystem>>, FsError> {
    Ok(match content {
        Content::Ext => Some(Box::new(Ext4Map::build(disk, range)?)),
        Content::Ntfs => Some(Box::new(NtfsMap::build(disk, range)?)),
        Content::Xfs => Some(Box::new(XfsMap::build(disk, range)?)),
        Content::Fat | Content::ExFat => Some(Box::new(FatMap::build(disk, range)?)),
        Content::Btrfs => Some(Box::new(BtrfsMap::build(disk, range)?)),
        _ => None,
    })
}

/// What a byte of a filesystem's volume is (serialized by its [`as_str`](FileState::as_str)
/// name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum FileState {
    /// Data of a file in use.
    Allocated,
    /// Bytes of a file's blocks past its size.
    Slack,
    /// Blocks a deleted inode still records, now free.
    Deleted,
    /// Free blocks.
    Unallocated,
    /// Filesystem structures, directory blocks, tree blocks.
    Metadata,
    /// The journal.
    Journal,
}

impl FileState {
    /// The state's name, as output shows it: `allocated`, `slack`, `deleted`,
    /// `unallocated`, `metadata` or `journal`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileState::Allocated => "allocated",
            FileState::Slack => "slack",
            FileState::Deleted => "deleted",
            FileState::Unallocated => "unallocated",
            FileState::Metadata => "metadata",
            FileState::Journal => "journal",
        }
    }
}

/// What the byte at an offset is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileLocation {
    /// Its state.
    pub state: FileState,
    /// The number of the file owning it: an ext2/3/4 inode (for inode table bytes, the inode
    /// whose record the byte is in) or an NTFS MFT record number (for MFT bytes, the record
    /// the byte is in); `None` for free space and filesystem structures.
    /// [`Filesystem::id_name`] says which.
    pub inode: Option<u64>,
    /// The file's absolute path (`/root/.aws/credentials`; for a hard-linked file, one of
    /// its paths; for a deleted one, the name the filesystem still records; for an NTFS
    /// alternate data stream, `path:stream`); `None` if no file, or if no directory
    /// reachable from the root names it.
    pub path: Option<String>,
    /// The bytes around the offset with the same answer, relative to the volume start (on
    /// ext4, where more than 4096 extents of one file lie end to end, part of them).
    pub run: Range<u64>,
}
