//! Volume and filesystem parsers: from a disk offset to a partition, a file and its state.
//!
//! This crate is the middle layer of snapsift, between the disk reader (`snapsift-disk`) and
//! the scan: the byte sweep reads every byte of a disk, and this layer says where each byte is.
//!
//! What it holds now: [`VolumeMap`], the partition table (GPT, MBR with extended partitions,
//! none, or nothing recognised) and the content of each volume, mapping a disk offset to its
//! volume. What it will hold:
//! * ext4 (through `ext4-view`) and NTFS (through `ntfs`), mapping a disk offset to a path,
//!   an inode or MFT record, and a state (allocated, deleted, unallocated, metadata, journal,
//!   slack), and giving logical file contents for what a byte sweep cannot read (compressed
//!   or fragmented files, archives, UTF-16 text).
//!
//! Like `snapsift-disk`, it parses untrusted bytes: parsing is kept apart from I/O, and every
//! offset computed from on-disk values is checked, never wrapped.

// Offsets and sizes here come from images we do not trust: no arithmetic may wrap or panic.
#![cfg_attr(
    not(test),
    warn(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)
)]

mod error;
pub mod volume;

pub use error::FsError;
pub use volume::{Content, Scheme, Volume, VolumeMap};
