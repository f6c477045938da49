//! The integration tests of snapsift-fs, one test binary: each module is one subject
//! (partition tables, ext4, NTFS, LVM), against images made by the real tools.

mod btrfs_images;
mod common;
mod exfat_images;
mod ext4_damaged;
mod ext4_images;
mod ext4_runs;
mod fat_images;
mod luks;
mod lvm;
mod ntfs_damaged;
mod ntfs_images;
mod volumes;
mod xfs_images;
