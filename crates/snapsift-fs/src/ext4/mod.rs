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
mod names;
mod superblock;
mod walk;

use std::ops::Range;

use snapsift_disk::Disk;

use crate::FsError;
use crate::content::{Piece, Span};
use crate::file_list::{FileList, Files};
use crate::filesystem::Filesystem;
pub use crate::filesystem::{FileLocation, FileState};
use map::{Entry, Owner, Painted};
use names::Names;

/// Painted intervals a location's run reaches over at most, on each side, when neighbours
/// painted apart (the spans of one file, contiguous on the disk) say the same: past them the
/// run stops short (every byte of it still says the same).
const MAX_RUN_INTERVALS: usize = 1 << 12;

/// The map of one ext2/3/4 volume, built once and then queried per hit.
#[derive(Clone, Debug)]
pub struct Ext4Map {
    /// Regular files, for the file pass.
    files: FileList,
    /// Sorted, non-overlapping intervals covering the volume; a listed file's run is one
    /// interval, its data and its slack told apart when asked.
    painted: Painted,
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
        let Some((entry, run)) = self.resolve(offset) else {
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

    /// What the byte at `offset` is, and the bytes around it that say the same (as far as
    /// [`MAX_RUN_INTERVALS`] neighbours on each side); `None` where no claim covers it.
    fn resolve(&self, offset: u64) -> Option<(Entry, Range<u64>)> {
        let index = self.painted.index(offset)?;
        let (entry, mut run) = self.piece(index, offset)?;
        let mut left = index;
        for _ in 0..MAX_RUN_INTERVALS {
            let Some(before) = left.checked_sub(1) else {
                break;
            };
            let edge = run.start.checked_sub(1);
            match edge.and_then(|at| self.piece(before, at)) {
                Some((said, piece)) if said == entry && piece.end == run.start => {
                    run.start = piece.start;
                    left = before;
                }
                _ => break,
            }
        }
        let mut right = index;
        for _ in 0..MAX_RUN_INTERVALS {
            let after = right.saturating_add(1);
            match self.piece(after, run.end) {
                Some((said, piece)) if said == entry && piece.start == run.end => {
                    run.end = piece.end;
                    right = after;
                }
                _ => break,
            }
        }
        Some((entry, run))
    }

    /// What the byte at `offset` of painted interval `index` is, and the bytes of the
    /// interval that say the same (a listed file's data, or its slack); `None` for a gap or
    /// an offset outside the interval.
    fn piece(&self, index: usize, offset: u64) -> Option<(Entry, Range<u64>)> {
        let (claimed, range) = self.painted.get(index)?;
        if !range.contains(&offset) {
            return None;
        }
        let span = match claimed.unpack() {
            Ok(entry) => return Some((entry, range)),
            Err(span) => span,
        };
        let (file, span) = self.files.span_at(span)?;
        let id = self.files.id(file)?;
        let size = self.files.size(file)?;
        let (data, slack) = span_states(self.files.state(file)?);
        // The span's bytes before the file's size are its data, the rest its slack.
        let split = match span {
            Span {
                start,
                len,
                piece: Piece::Volume(at),
            } => at.saturating_add(size.saturating_sub(start).min(len)),
            _ => u64::MAX,
        };
        let owner = Owner::Inode(id);
        Some(if offset < split {
            (Entry::new(data, owner), range.start..range.end.min(split))
        } else {
            (Entry::new(slack, owner), range.start.max(split)..range.end)
        })
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
        Files::new(&self.files, &self.names)
    }

    fn notes(&self) -> &[String] {
        &self.notes
    }
}

/// The states of a listed file's span, data then slack, for a file in `state`.
fn span_states(state: FileState) -> (FileState, FileState) {
    match state {
        FileState::Deleted => (FileState::Deleted, FileState::Deleted),
        _ => (FileState::Allocated, FileState::Slack),
    }
}

/// The little-endian `u16` at `at` in `bytes`, 0 if it is not all there.
fn le16(bytes: &[u8], at: usize) -> u16 {
    at.checked_add(2)
        .and_then(|end| bytes.get(at..end))
        .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]))
}

/// The little-endian `u32` at `at` in `bytes`, 0 if it is not all there.
fn le32(bytes: &[u8], at: usize) -> u32 {
    at.checked_add(4)
        .and_then(|end| bytes.get(at..end))
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
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
