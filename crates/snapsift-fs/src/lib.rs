//! Volume and filesystem parsers: from a disk offset to a partition, a file and its state.
//!
//! This crate is the middle layer of snapsift, between the disk reader (`snapsift-disk`) and
//! the scan. It is empty for now: the first version of snapsift sweeps every byte of a disk and
//! reports findings by disk offset, which needs no filesystem knowledge.
//!
//! What it will hold, each behind a small trait like the layers around it:
//! * partition tables (GPT, MBR with extended partitions), mapping a disk offset to a partition;
//! * ext4 (through `ext4-view`) and NTFS (through `ntfs`), mapping a disk offset to a path,
//!   an inode or MFT record, and a state (allocated, deleted, unallocated, metadata, journal,
//!   slack), and giving logical file contents for what a byte sweep cannot read (compressed
//!   or fragmented files, archives, UTF-16 text).
//!
//! Like `snapsift-disk`, it will parse untrusted bytes: every offset computed from on-disk
//! values is checked, never wrapped.
