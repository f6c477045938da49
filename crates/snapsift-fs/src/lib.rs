//! Volume and filesystem parsers: from a disk offset to a partition, a file and its state.
//!
//! This crate reads a disk through `snapsift-disk`. The byte sweep (`snapsift-scan`) reads
//! every byte of a disk without knowing what it is; this crate says where each byte is, so
//! that the binary can place every finding, and lists the files the file pass
//! (`snapsift-filepass`) reads.
//!
//! What it holds:
//! * [`VolumeMap`]: the partition table (GPT, MBR with extended partitions, none, or nothing
//!   recognised; filesystems found by their superblocks where no table names a volume), the
//!   LVM2 logical volumes on its partitions (linear and striped ones mapped
//!   through their [`Extents`]) and the content of each volume (encrypted ones named: LUKS1,
//!   LUKS2, BitLocker, APFS with a FileVault volume, VeraCrypt-like random bytes), mapping a disk offset to its volume; LUKS1 and LUKS2 volumes opened
//!   with a key the user holds ([`volume::luks::open`]), their plaintext a [`LuksDisk`];
//! * [`Ext4Map`]: for an ext2/3/4 volume, what every byte is (file data, slack, a deleted
//!   file's blocks, free space, metadata, journal) with the inode and path, by its own walker
//!   of the filesystem's structures (superblock, group descriptors, bitmaps, inodes, extent
//!   trees and block maps, directories), which also gives the file pass each file's logical
//!   contents. (The `ext4-view` crate exposes paths and file contents but no inode numbers,
//!   extents, bitmaps or deleted inodes, and is not `Send`: the tests use it as an oracle.)
//! * [`NtfsMap`]: the same for an NTFS volume (MFT records for inodes, `path:stream` for
//!   alternate data streams, the MFT mapped record by record), with the `ntfs` crate reading
//!   the boot sector and the MFT's place and everything else parsed here (see [`ntfs`] for
//!   where the line falls and why);
//! * [`XfsMap`]: the same for an XFS volume (v5 and v4), by its own walker of the AGs'
//!   headers and B+trees, the inode chunks, the inodes' forks (extent lists and extent
//!   B+trees) and directories of every form, inode numbers given back in full;
//! * [`FatMap`]: the same for a FAT12, FAT16 or FAT32 volume (an EFI system partition) and
//!   for exFAT, by its own walker of the boot sector, the FAT's cluster chains (exFAT's
//!   contiguous files and allocation bitmap) and the directories (long names, deleted entries
//!   with the clusters they still point to), entries numbered as The Sleuth Kit numbers them;
//! * [`BtrfsMap`]: the same for a btrfs volume on one device, by its own walker of the
//!   chunk tree (logical addresses to this device's bytes), the root and extent trees and
//!   the FS tree of every subvolume and snapshot (inline, regular, preallocated and
//!   compressed extents: zlib, LZO and zstd decoded as the file pass reads them);
//! * [`FileContent`]: each listed file's or stream's logical contents for the file pass,
//!   LZNT1-compressed NTFS units decoded as they are read;
//! * [`FileList`]: the files a map lists, kept compact (a filesystem may hold tens of
//!   millions), each built into a [`FileEntry`] by [`Files`] when asked for.
//!
//! Like `snapsift-disk`, it parses untrusted bytes: parsing is kept apart from I/O, and every
//! offset computed from on-disk values is checked, never wrapped.

// Nothing here needs `unsafe`: no SIMD, no system calls beyond what std wraps.
#![forbid(unsafe_code)]
// Offsets and sizes here come from images we do not trust: no arithmetic may wrap or panic.
#![cfg_attr(
    not(test),
    warn(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)
)]

mod block_map;
pub mod btrfs;
mod bytes;
pub mod content;
mod error;
pub mod ext4;
pub mod fat;
pub mod file_list;
pub mod filesystem;
pub mod logical;
mod names;
pub mod ntfs;
mod paint;
pub mod volume;
mod walk;
pub mod xfs;

pub use btrfs::BtrfsMap;
pub use content::{Compression, ContentReader, FileContent, Piece, Span};
pub use error::FsError;
pub use ext4::Ext4Map;
pub use fat::FatMap;
pub use file_list::{FileList, Files};
pub use filesystem::{FileEntry, FileLocation, FileState, Filesystem, open};
pub use ntfs::NtfsMap;
pub use volume::luks::LuksDisk;
pub use volume::{Content, Extents, LogicalDisk, LogicalVolume, Scheme, Volume, VolumeMap};
pub use xfs::XfsMap;
