//! ext2, ext3 and ext4: from a byte offset in the volume to what the filesystem keeps there.
//!
//! [`Ext4Map::build`] reads a filesystem once (superblock, group descriptors, bitmaps, every
//! initialised inode record, extent trees and block maps, directories) and paints an
//! interval map over the volume's bytes; [`Ext4Map::locate`] then answers, for a hit found by
//! the byte sweep, what the byte is ([`FileState`]), which inode owns it and its path.
//!
//! What each state covers:
//! * `allocated`: the data of a file in use (regular file, slow symlink, extended attribute
//!   value inode), uninitialised extents included (they read as zeros through the filesystem,
//!   but their bytes on disk are whatever was there); for inline-data files, their whole
//!   inode record. Blocks the block bitmap marks in use that no inode read claims are
//!   `allocated` with no inode.
//! * `slack`: bytes of a file's blocks past its size: the end of its last block, and blocks
//!   allocated past the end (preallocation); under bigalloc, also the blocks of the file's
//!   clusters that its extents do not map.
//! * `deleted`: blocks still recorded by an inode that is no longer in use (data, slack and
//!   tree blocks alike), where no inode in use and no filesystem structure claims them and
//!   the block bitmap marks them free; the inode record of a deleted inline-data file. The
//!   path is the name a deleted directory entry still gives it, if any.
//! * `unallocated`: free blocks, and bytes of the volume past the filesystem's end.
//! * `metadata`: superblocks and their copies, group descriptors (and reserved ones),
//!   bitmaps, inode tables (with the inode whose record the byte is in), the boot block, the
//!   MMP block. Also, **with their inode and path**: directory blocks (mapped to the
//!   directory), extent tree and indirect blocks (mapped to their file), extended attribute
//!   blocks (mapped to the first inode met using them), and the blocks of the filesystem's
//!   own inodes (bad blocks, resize, quota, orphan file...).
//! * `journal`: the blocks of the journal inode, its tree blocks included.
//!
//! Parsing is kept apart from I/O: `superblock`, `group`, `inode`, `extent`, `dir` and
//! `map` read byte slices; `walk` does the reading. Every on-disk number is
//! checked before use; work and memory are bounded (see `walk`'s limits), and an
//! inconsistent image gives a partial map with [`Ext4Map::notes`], never a panic or a hang.

mod dir;
mod extent;
mod group;
mod inode;
mod map;
pub(crate) mod superblock;
mod walk;

use std::ops::Range;

use snapsift_disk::Disk;

use crate::FsError;
use crate::block_map::{BlockMap, Owner};
use crate::bytes::{le16, le32};
use crate::file_list::Files;
use crate::filesystem::Filesystem;
pub use crate::filesystem::{FileLocation, FileState};
use crate::names::Names;

/// The map of one ext2/3/4 volume, built once and then queried per hit.
#[derive(Clone, Debug)]
pub struct Ext4Map {
    /// The painted map and the regular files listed for the file pass.
    map: BlockMap,
    /// Inode tables as (byte range in the volume, first inode), sorted.
    tables: Vec<(Range<u64>, u64)>,
    /// Bytes per inode record.
    inode_size: u64,
    /// The largest inode number.
    inodes_count: u64,
    /// Who is called what.
    names: Names,
    /// Problems met while mapping.
    notes: Vec<String>,
}

impl Ext4Map {
    /// Reads the filesystem in `disk` at byte range `volume` and maps it.
    ///
    /// Fails if the volume holds no ext2/3/4 filesystem, if it uses features the map does not
    /// understand (compression, or incompatible features newer than this code), or if the
    /// disk cannot be read. Damage inside the filesystem is not an error: what can be mapped
    /// is, and [`Ext4Map::notes`] says what could not.
    pub fn build(disk: &dyn Disk, volume: Range<u64>) -> Result<Ext4Map, FsError> {
        walk::build(disk, volume)
    }

    /// What the byte at `offset` (relative to the volume start) is. Offsets past the volume
    /// are `unallocated`, with a `run` from the offset to the end of addressable bytes.
    pub fn locate(&self, offset: u64) -> FileLocation {
        let Some((entry, run)) = self.map.resolve(offset) else {
            return FileLocation {
                state: FileState::Unallocated,
                inode: None,
                path: None,
                run: offset..u64::MAX,
            };
        };
        let inode = match entry.owner() {
            Owner::Nobody => None,
            Owner::Inode(inode) => Some(inode),
            Owner::InodeTable => self.record_at(offset),
        };
        FileLocation {
            state: entry.state(),
            inode,
            path: inode.and_then(|inode| self.names.path(inode)),
            run,
        }
    }

    /// The path of `inode`, as [`FileLocation::path`] gives it.
    pub fn path_of(&self, inode: u64) -> Option<String> {
        self.names.path(inode)
    }

    /// Problems met while mapping: unreadable or damaged structures, trees pointing outside
    /// the filesystem, loops cut, limits reached. Empty for a healthy filesystem.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The inode whose record holds `offset`, in an inode table.
    fn record_at(&self, offset: u64) -> Option<u64> {
        let after = self
            .tables
            .partition_point(|(range, _)| range.start <= offset);
        let (range, first) = self.tables[..after].last()?;
        if !range.contains(&offset) {
            return None;
        }
        let index = offset
            .checked_sub(range.start)?
            .checked_div(self.inode_size)?;
        first
            .checked_add(index)
            .filter(|&inode| inode <= self.inodes_count)
    }
}

impl Filesystem for Ext4Map {
    fn kind(&self) -> &'static str {
        "ext4"
    }

    fn id_name(&self) -> &'static str {
        "inode"
    }

    fn locate(&self, offset: u64) -> FileLocation {
        Ext4Map::locate(self, offset)
    }

    fn files(&self) -> Files<'_> {
        Files::new(&self.map.files, &self.names)
    }

    fn notes(&self) -> &[String] {
        &self.notes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn little_endian_reads_never_panic() {
        assert_eq!(le16(&[1, 2], 0), 0x0201);
        assert_eq!(le16(&[1, 2], 1), 0);
        assert_eq!(le32(&[1, 2, 3, 4, 5], 1), 0x0504_0302);
        assert_eq!(le32(&[1, 2, 3], usize::MAX), 0);
    }

    #[test]
    fn state_names() {
        let names: Vec<&str> = [
            FileState::Allocated,
            FileState::Slack,
            FileState::Deleted,
            FileState::Unallocated,
            FileState::Metadata,
            FileState::Journal,
        ]
        .into_iter()
        .map(FileState::as_str)
        .collect();
        assert_eq!(
            names,
            [
                "allocated",
                "slack",
                "deleted",
                "unallocated",
                "metadata",
                "journal"
            ]
        );
    }
}
