//! What the test suites of the snapsift crates share: running the real tools that build test
//! images (`qemu-img`, `mkfs.ext4`, `debugfs`, `mkntfs`/`ntfs-3g`, `hivexregedit`, `mkfs.exfat`/exfat-fuse,
//! `mkfs.btrfs` and btrfs loop mounts, `sgdisk`/`sfdisk`, LVM2 on loop devices), temporary
//! work directories, a seeded random number generator, generated secrets, and the guard that
//! a scan wrote nothing.
//!
//! A dev-dependency only (`publish = false`): no product crate may depend on it.
//!
//! # Contract
//! - Every helper fails the test that calls it (it panics, naming the command and its error
//!   output) when a tool fails or is missing: a helper never returns a half-built fixture.
//! - Missing tools are failures, not skips: `.ci/run` installs them. The one way a test may
//!   skip is [`unavailable`], for a privilege or a device this machine lacks (loop devices,
//!   root), and under `CI=true` it fails the test instead: nothing skips silently in CI.
//! - Everything random is seeded ([`Rng`], [`Secrets`]): a failure reproduces. Secrets are
//!   generated, never real.
//! - Nothing here reads or writes outside the paths a test hands it, its work directory and
//!   the loop devices it attaches (detached on drop).

#![forbid(unsafe_code)]

mod btrfs;
mod exfat;
mod ext4;
mod files;
mod guard;
mod hive;
mod loop_device;
mod luks;
pub mod lvm;
mod ntfs;
mod partitions;
mod process;
mod qemu;
mod rng;
mod secrets;

pub use btrfs::{BtrfsMount, btrfs_fix_checksum, mkfs_btrfs};
pub use exfat::{ExfatMount, mkfs_exfat};
pub use ext4::{debugfs_rm, debugfs_script, ext4_with_files, mkfs_ext4, mkfs_from_tree};
pub use files::{dd_into, offsets_of, sparse_file, workdir, write_at, write_file};
pub use guard::hashes_around;
pub use hive::reg_hive;
pub use loop_device::{LoopDevice, attach_or_skip};
pub use luks::{encrypt_into, luks1_encrypted, luks2_encrypted, volume_key};
pub use ntfs::{Mount, compressed_dir, mkntfs};
pub use partitions::{gpt_disk, gpt_disk_with_root, mbr_disk};
pub use process::{run, run_stdout, run_with_input, sh};
pub use qemu::{qemu_convert, qemu_img, qemu_io, qemu_map, qemu_overlay, qemu_to_raw};
pub use rng::{Rng, noise};
pub use secrets::{Secrets, openssh_key, pgp_key_with_photo, rsa_pem_key, rsa_pem_key_of};

/// Whether the tests run under CI (`CI=true`), where every tool, privilege and device a test
/// needs must be there.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|ci| ci == "true")
}

/// A test cannot run here, for `reason` (a privilege, a device or a kernel feature is
/// missing): fails it under `CI=true`, else prints `SKIPPED: reason` for the caller, which
/// then returns. The one way a test may skip.
pub fn unavailable(reason: &str) {
    assert!(!under_ci(), "unavailable under CI=true: {reason}");
    println!("SKIPPED: {reason}");
}
