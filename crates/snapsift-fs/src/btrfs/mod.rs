//! btrfs (one device): from a byte offset in the volume to what the filesystem keeps there,
//! and the files of every subvolume and snapshot with their logical contents for the file
//! pass, compressed extents (zlib, LZO, zstd) decoded as they are read.
//!
//! [`BtrfsMap::build`] reads a filesystem once: the superblock (checked by its CRC-32C;
//! filesystems checksummed with xxhash64, SHA-256 or BLAKE2b are read unchecked, with a
//! note), the system chunks it copies, the chunk tree (so that logical addresses map to this
//! device's bytes: single, DUP and RAID1-like profiles; striped profiles are noted and their
//! bytes swept raw), the root tree, the extent tree, and the FS tree of every subvolume and
//! snapshot: inode items, inode references (the paths), file extent items. It paints an
//! interval map over the volume's bytes; [`BtrfsMap::locate`] then answers, for a hit found
//! by the byte sweep, what the byte is ([`FileState`]), which inode owns it and its path.
//!
//! What each state covers:
//! * `allocated`: a regular file's extents, with its inode and path (every copy of a DUP
//!   extent; a compressed extent's compressed bytes; a preallocated extent, which reads as
//!   zeros), and a file's inline data inside its leaf. An extent shared by snapshots or
//!   reflinks is attributed to the first file met; each file is listed with its own
//!   contents. Extents the extent tree records that no file's extent item reaches (parts of
//!   extents no longer referenced) are `allocated` with no inode, and so are the bytes of
//!   chunks whose profile stripes data.
//! * `slack`: bytes of a file's last extent past its size.
//! * `metadata`: the superblock and its copies, and every tree block read (each copy), with
//!   no inode: [`BtrfsMap::tree_at`] says which tree owns it. Tree blocks the extent tree
//!   records that no walk reached are `metadata` too.
//! * `unallocated`: everything else: free space inside chunks, device space no chunk holds,
//!   the first MiB (which btrfs leaves unused), bytes past the filesystem's end.
//! * `deleted`, `journal`: not given. btrfs rewrites trees copy-on-write, so a removed
//!   file's items are gone from the current trees; its extents are `unallocated`.
//!
//! Inode numbers are per subvolume; the map counts inodes under numbers of its own (one per
//! subvolume and inode) and gives the inode numbers back out. A subvolume's files have
//! paths through the directory its root is linked from (`/sub/file`).
//!
//! Parsing is kept apart from I/O: `superblock` (superblock, chunks), `tree` (nodes),
//! `files` (FS tree items, file contents) and `compress` parse bytes; `walk` reads.

pub(crate) mod compress;
mod files;
pub(crate) mod superblock;
mod tree;
mod walk;

use std::ops::Range;

use snapsift_disk::Disk;

use crate::FsError;
use crate::block_map::{BlockMap, Owner};
use crate::bytes::{le16, le32, le64};
use crate::file_list::{Files, PathOf};
use crate::filesystem::{FileLocation, FileState, Filesystem};
use crate::names::Names;

/// Who is called what: names by the map's numbers, and the (tree, inode) each number stands
/// for (inode 0: the tree itself, owner of tree blocks).
#[derive(Clone, Debug)]
struct BtrfsNames {
    names: Names,
    /// By the map's number: (tree, inode); number 0 is no one's.
    ids: Vec<(u64, u64)>,
}

impl BtrfsNames {
    fn id(&self, number: u64) -> Option<(u64, u64)> {
        self.ids.get(usize::try_from(number).ok()?).copied()
    }
}

impl PathOf for BtrfsNames {
    fn path_of(&self, id: u64) -> Option<String> {
        self.names.path(id)
    }

    fn number(&self, id: u64) -> u64 {
        self.id(id).map_or(0, |(_, ino)| ino)
    }
}

/// The map of one btrfs volume, built once and then queried per hit.
#[derive(Clone, Debug)]
pub struct BtrfsMap {
    /// The painted map and the regular files listed for the file pass.
    map: BlockMap,
    names: BtrfsNames,
    /// Problems met while mapping.
    notes: Vec<String>,
}

impl BtrfsMap {
    /// Reads the btrfs filesystem in `disk` at byte range `volume` and maps it.
    ///
    /// Fails if the volume holds no btrfs superblock (or one whose checksum does not
    /// match), if its chunk tree cannot be read at all, or if the disk cannot be read.
    /// Damage inside the trees is not an error: what can be mapped is, and
    /// [`BtrfsMap::notes`] says what could not.
    pub fn build(disk: &dyn Disk, volume: Range<u64>) -> Result<BtrfsMap, FsError> {
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
        let file = match entry.owner() {
            Owner::Inode(number) => self
                .names
                .id(number)
                .filter(|&(_, ino)| ino != 0)
                .map(|(_, ino)| (number, ino)),
            _ => None,
        };
        FileLocation {
            state: entry.state(),
            inode: file.map(|(_, ino)| ino),
            path: file.and_then(|(number, _)| self.names.names.path(number)),
            run,
        }
    }

    /// The tree (its object ID: 1 the root tree, 2 the extent tree, 3 the chunk tree, 5 the
    /// top subvolume, 256 and up the other subvolumes...) owning the tree block at `offset`,
    /// if a tree block the walk read is there.
    pub fn tree_at(&self, offset: u64) -> Option<u64> {
        let (entry, _) = self.map.resolve(offset)?;
        match (entry.state(), entry.owner()) {
            (FileState::Metadata, Owner::Inode(number)) => self
                .names
                .id(number)
                .filter(|&(_, ino)| ino == 0)
                .map(|(tree, _)| tree),
            _ => None,
        }
    }

    /// Problems met while mapping: unreadable or damaged nodes, extents outside the chunks,
    /// undecodable compressed extents, limits reached, features not read. Empty for a
    /// healthy filesystem.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

impl Filesystem for BtrfsMap {
    fn kind(&self) -> &'static str {
        "btrfs"
    }

    fn id_name(&self) -> &'static str {
        "inode"
    }

    fn locate(&self, offset: u64) -> FileLocation {
        BtrfsMap::locate(self, offset)
    }

    fn files(&self) -> Files<'_> {
        Files::new(&self.map.files, &self.names)
    }

    fn notes(&self) -> &[String] {
        &self.notes
    }
}
