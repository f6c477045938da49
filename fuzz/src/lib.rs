//! What snapsift's fuzz targets share: each target hands its input to one parser through the
//! crates' public API, the way `snapsift scan` does, and these helpers do the driving.
//!
//! * [`image`]: the input as image files on tmpfs (a disk format is opened by path, and an
//!   input may carry the files an image refers to: backing images, extents);
//! * [`disk`]: reading a [`snapsift_disk::Disk`] the way the sweep does, checking its contract;
//! * [`filesystem`]: mapping volumes and filesystems and reading every file they list;
//! * [`lvm`]: LVM2 checksums made to match, so that mutations reach the metadata parsers;
//! * [`unpack`]: expanding one file's bytes and reading every leaf;
//! * [`checks`]: running the offline checks that parse key bodies, whole and cut.
//!
//! Work per input is bounded ([`READ_BUDGET`]) so that an input that maps terabytes of
//! legitimate data does not read as a hang; memory and time beyond that are what libFuzzer's
//! `-rss_limit_mb` and `-timeout` catch.

pub mod apfs;
pub mod checks;
pub mod disk;
pub mod filesystem;
pub mod image;
pub mod lvm;
pub mod unpack;

/// The most bytes one input may have read through a disk or a file's contents. Tables that
/// map far more are legal (a 1 TiB qcow2 can be a few KiB): reading stops here, and what the
/// parser did to describe them is what is being tested.
pub const READ_BUDGET: u64 = 16 << 20;
