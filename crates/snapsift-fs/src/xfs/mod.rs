//! XFS (version 5, and version 4): from a byte offset in the volume to what the filesystem
//! keeps there, and the files' logical contents for the file pass.
//!
//! [`XfsMap::build`] reads a filesystem once (superblock; in each allocation group (AG) its
//! headers, free list, free space, inode, free inode, reverse mapping and refcount B+trees;
//! every inode chunk and every inode in use, its data and attribute forks: extent lists and
//! extent B+trees; directories of every form) and paints an interval map over the volume's
//! bytes; [`XfsMap::locate`] then answers, for a hit found by the byte sweep, what the byte is
//! ([`FileState`]), which inode owns it and its path.
//!
//! What each state covers:
//! * `allocated`: the data of a file in use (regular file, symlink kept in blocks), its
//!   unwritten extents included (they read as zeros through the filesystem, but their bytes
//!   on disk are whatever was there). A block shared by reflinked files is attributed to the
//!   first of them met (lowest inode); each of them is listed with its own contents. Blocks
//!   the free space B+tree does not record as free that nothing the walk read claims are
//!   `allocated` with no inode.
//! * `slack`: bytes of a file's blocks past its size: the end of its last block, and blocks
//!   allocated past the end (preallocation).
//! * `unallocated`: the extents the free space B+tree (`bnobt`) records, and bytes of the
//!   volume past the filesystem's end.
//! * `metadata`: AG headers (superblock and its copies, AGF, AGI, AGFL), the blocks on the
//!   AG free list, the blocks of the AGs' B+trees, inode chunks (with the inode whose record
//!   the byte is in). Also, **with their inode and path**: directory blocks of every form,
//!   extent B+tree blocks, attribute blocks, and the blocks of the filesystem's own inodes
//!   (realtime bitmap and summary, quotas).
//! * `journal`: the internal log.
//! * `deleted`: not given. XFS frees a removed file's extents before its inode, so no inode
//!   records them; their blocks are `unallocated`. A removed file's name, where a directory
//!   data block still holds it, names its (free) inode record: a hit in the record says its
//!   old path.
//!
//! Inode numbers of XFS have up to 64 bits; the map counts the inodes of the chunks it reads
//! under numbers of its own (the private `numbering` module) and gives the inode numbers back
//! out.
//!
//! Parsing is kept apart from I/O: `superblock`, `btree`, `inode`, `dir` and `numbering`
//! read byte slices and report damage with the byte where they met it; `walk` does the
//! reading. Every on-disk number is checked before use; work and memory are bounded (see
//! `walk`'s limits), and an inconsistent image gives a partial map with [`XfsMap::notes`],
//! never a panic or a hang.

mod btree;
mod dir;
mod inode;
mod map;
mod numbering;
pub(crate) mod superblock;
mod walk;

use std::ops::Range;

use snapsift_disk::Disk;

use crate::FsError;
use crate::block_map::{BlockMap, Owner};
use crate::bytes::{be16, be32, be64};
use crate::file_list::{Files, PathOf};
use crate::filesystem::{FileLocation, FileState, Filesystem};
use crate::names::Names;
use numbering::Numbering;

/// Damage met parsing a structure: what, and the byte of the structure where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Bad {
    /// The byte of the structure (block, record, fork) where the damage is.
    pub(crate) at: usize,
    /// What is wrong.
    pub(crate) what: String,
}

impl Bad {
    /// Damage at byte `at`.
    pub(crate) fn at(at: usize, what: String) -> Bad {
        Bad { at, what }
    }
}

/// Who is called what: names by the map's numbers, and the inode numbers they stand for.
#[derive(Clone, Debug)]
struct XfsNames {
    names: Names,
    numbering: Numbering,
}

impl PathOf for XfsNames {
    fn path_of(&self, id: u64) -> Option<String> {
        self.names.path(id)
    }

    fn number(&self, id: u64) -> u64 {
        self.numbering.ino(id).unwrap_or(0)
    }
}

/// The map of one XFS volume, built once and then queried per hit.
#[derive(Clone, Debug)]
pub struct XfsMap {
    /// The painted map and the regular files listed for the file pass.
    map: BlockMap,
    /// The inode chunks' allocated parts as (byte range in the volume, first inode), sorted.
    chunks: Vec<(Range<u64>, u64)>,
    /// Bytes per inode record.
    inode_size: u64,
    /// Names, and the numbering they use.
    names: XfsNames,
    /// Problems met while mapping.
    notes: Vec<String>,
}

impl XfsMap {
    /// Reads the XFS filesystem in `disk` at byte range `volume` and maps it.
    ///
    /// Fails if the volume holds no XFS filesystem, if it uses features the map does not
    /// understand (incompatible features newer than this code), or if the disk cannot be
    /// read. Damage inside the filesystem is not an error: what can be mapped is, and
    /// [`XfsMap::notes`] says what could not.
    pub fn build(disk: &dyn Disk, volume: Range<u64>) -> Result<XfsMap, FsError> {
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
        let number = match entry.owner() {
            Owner::Nobody => None,
            Owner::Inode(number) => Some(number),
            Owner::InodeTable => self
                .record_at(offset)
                .and_then(|ino| self.names.numbering.number(ino)),
        };
        FileLocation {
            state: entry.state(),
            inode: number.and_then(|n| self.names.numbering.ino(n)),
            path: number.and_then(|n| self.names.names.path(n)),
            run,
        }
    }

    /// The path of inode `ino`, as [`FileLocation::path`] gives it.
    pub fn path_of(&self, ino: u64) -> Option<String> {
        self.names.names.path(self.names.numbering.number(ino)?)
    }

    /// Problems met while mapping: unreadable or damaged structures, trees pointing outside
    /// the filesystem, loops cut, limits reached. Empty for a healthy filesystem.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The inode whose record holds `offset`, in an inode chunk.
    fn record_at(&self, offset: u64) -> Option<u64> {
        let after = self
            .chunks
            .partition_point(|(range, _)| range.start <= offset);
        let (range, first) = self.chunks[..after].last()?;
        if !range.contains(&offset) {
            return None;
        }
        let index = offset
            .checked_sub(range.start)?
            .checked_div(self.inode_size)?;
        first.checked_add(index)
    }
}

impl Filesystem for XfsMap {
    fn kind(&self) -> &'static str {
        "xfs"
    }

    fn id_name(&self) -> &'static str {
        "inode"
    }

    fn locate(&self, offset: u64) -> FileLocation {
        XfsMap::locate(self, offset)
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
    fn big_endian_reads_never_panic() {
        assert_eq!(be16(&[1, 2], 0), 0x0102);
        assert_eq!(be16(&[1, 2], 1), 0);
        assert_eq!(be32(&[1, 2, 3, 4, 5], 1), 0x0203_0405);
        assert_eq!(be64(&[0, 0, 0, 0, 0, 0, 0, 1, 2], 1), 0x102);
        assert_eq!(be64(&[1, 2, 3], usize::MAX), 0);
    }
}
