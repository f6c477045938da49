//! FAT12, FAT16, FAT32 and exFAT: from a byte offset in the volume to what the filesystem
//! keeps there, and the files' logical contents for the file pass.
//!
//! [`FatMap::build`] reads a filesystem once (boot sector, the first FAT, every directory
//! from the root, breadth first) and paints an interval map over the volume's bytes;
//! [`FatMap::locate`] then answers, for a hit found by the byte sweep, what the byte is
//! ([`FileState`]), which directory entry owns it and its path.
//!
//! What each state covers:
//! * `allocated`: the clusters of a file's chain up to its size. Clusters the FAT marks in
//!   use that no file's chain reaches (lost chains) are `allocated` with no owner.
//! * `slack`: the bytes of a file's chain past its size (the end of its last cluster, and
//!   clusters chained past it).
//! * `deleted`: the clusters a deleted entry still points to, read as the deleted file's
//!   contents: its first cluster and those after it, as many as its size needs, as long as
//!   they are free (deleting frees the chain in the FAT, so contiguous clusters are the best
//!   guess; The Sleuth Kit guesses the same).
//! * `unallocated`: free clusters, and bytes past the last cluster or the filesystem's end.
//! * `metadata`: the boot sector and the reserved sectors (FSInfo, the backup boot sector),
//!   the FATs, clusters marked bad, and, **with their directory and path**, the fixed root
//!   directory (FAT12/16) and every directory's clusters.
//!
//! Files and directories are numbered as The Sleuth Kit numbers them (`fls`, `istat`): the
//! root is 2, and an entry is 3 plus its place, counted in 32-byte entries from the first
//! sector past the FATs. Long (VFAT) names are used where their entries fit the short entry
//! after them; a deleted entry's short name has lost its first character (shown `_`).
//!
//! exFAT is read by the same walker, with its own parsers (`exfat_boot`, `exfat_dir`): the
//! boot region (its checksum sector checked, the backup region read where the main one fails
//! its checks), the FAT's chains and files stored as one run of clusters (NoFatChain, their
//! FAT entries left free), which clusters are free from the allocation bitmap (read from the
//! root directory before free clusters are claimed), entry sets (file, stream extension,
//! file names of up to 255 UTF-16 units) with their checksums, deleted sets (their InUse bits
//! cleared) with their names. The allocation bitmap and the up-case table are `metadata`
//! owned by their entries, named `$ALLOC_BITMAP` and `$UPCASE_TABLE` as The Sleuth Kit names
//! them; the boot regions, the FATs and what lies between them and the cluster heap are
//! `metadata`. Entries are numbered from the cluster heap, as The Sleuth Kit numbers them.
//!
//! Parsing is kept apart from I/O: `boot`, `table` and `dir` read byte slices and report
//! damage with the byte where they met it; `walk` does the reading. Every on-disk number is
//! checked before use; work and memory are bounded (see `walk`'s limits; every cluster is
//! taken by one chain at most, so loops and cross links end chains), and an inconsistent
//! image gives a partial map with [`FatMap::notes`], never a panic or a hang.

pub(crate) mod boot;
mod dir;
pub(crate) mod exfat_boot;
mod exfat_dir;
mod table;
mod walk;

use std::ops::Range;

use snapsift_disk::Disk;

use crate::FsError;
use crate::block_map::{BlockMap, Owner};
use crate::bytes::{le16, le32};
use crate::file_list::{Files, PathOf};
use crate::filesystem::{FileLocation, FileState, Filesystem};
use crate::names::Names;

/// Damage met parsing a structure: what, and the byte of the structure where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Bad {
    /// The byte of the structure (boot sector, directory) where the damage is.
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

/// Who is called what: names by the map's numbers, and the addresses they stand for.
#[derive(Clone, Debug)]
struct FatNames {
    names: Names,
    /// The address (as The Sleuth Kit numbers entries) of each of the map's numbers.
    addresses: Vec<u64>,
}

impl PathOf for FatNames {
    fn path_of(&self, id: u64) -> Option<String> {
        self.names.path(id)
    }

    fn number(&self, id: u64) -> u64 {
        self.address(id).unwrap_or(0)
    }
}

impl FatNames {
    /// The address of the map's number `id`.
    fn address(&self, id: u64) -> Option<u64> {
        self.addresses.get(usize::try_from(id).ok()?).copied()
    }
}

/// The map of one FAT volume, built once and then queried per hit.
#[derive(Clone, Debug)]
pub struct FatMap {
    /// `fat12`, `fat16`, `fat32` or `exfat`.
    kind: &'static str,
    /// The painted map and the files listed for the file pass.
    map: BlockMap,
    /// Names, and the addresses they stand for.
    names: FatNames,
    /// Problems met while mapping.
    notes: Vec<String>,
}

impl FatMap {
    /// Reads the FAT or exFAT filesystem in `disk` at byte range `volume` and maps it.
    ///
    /// Fails if the volume holds no FAT filesystem (its boot sector does not pass the
    /// checks), if its FAT is larger than the map reads, or if the disk cannot be read.
    /// Damage inside the filesystem is not an error: what can be mapped is, and
    /// [`FatMap::notes`] says what could not.
    pub fn build(disk: &dyn Disk, volume: Range<u64>) -> Result<FatMap, FsError> {
        walk::build(disk, volume)
    }

    /// The FAT type: `fat12`, `fat16`, `fat32` or `exfat`.
    pub fn fat_type(&self) -> &'static str {
        self.kind
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
            Owner::Inode(number) => Some(number),
            Owner::Nobody | Owner::InodeTable => None,
        };
        FileLocation {
            state: entry.state(),
            inode: number.and_then(|n| self.names.address(n)),
            path: number.and_then(|n| self.names.names.path(n)),
            run,
        }
    }

    /// Problems met while mapping: unreadable or damaged directories, chains that loop,
    /// cross or break off, limits reached. Empty for a healthy filesystem.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

impl Filesystem for FatMap {
    fn kind(&self) -> &'static str {
        if self.kind == "exfat" { "exfat" } else { "fat" }
    }

    fn id_name(&self) -> &'static str {
        "inode"
    }

    fn locate(&self, offset: u64) -> FileLocation {
        FatMap::locate(self, offset)
    }

    fn files(&self) -> Files<'_> {
        Files::new(&self.map.files, &self.names)
    }

    fn notes(&self) -> &[String] {
        &self.notes
    }
}
