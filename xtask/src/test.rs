//! `cargo xtask test`: what CI runs (`.ci/run`) and what the README tells a new developer to
//! run: makes sure the tools the tests drive are installed, then runs every test.
//!
//! The tests build disks with the same tools as `cargo xtask testdata` and attach them to loop
//! devices; as root on Debian the missing tools are installed with apt-get, otherwise the
//! command to install them is printed and the tests run anyway (those needing a missing tool
//! then fail, saying which).

use std::process::{Command, ExitCode};

use anyhow::{Context, Result};

use crate::shared::workspace::{self, is_root, on_path, run_tool};

/// (tool, Debian package) for every external tool the tests and xtask run.
const TOOLS: &[(&str, &str)] = &[
    ("mkfs.ext4", "e2fsprogs"),
    ("debugfs", "e2fsprogs"),
    ("mkfs.xfs", "xfsprogs"),
    ("xfs_db", "xfsprogs"),
    ("sgdisk", "gdisk"),
    ("sfdisk", "fdisk"),
    ("losetup", "util-linux"),
    ("setpriv", "util-linux"),
    ("script", "bsdutils"),
    ("ssh-keygen", "openssh-client"),
    ("openssl", "openssl"),
    ("qemu-img", "qemu-utils"),
    ("qemu-io", "qemu-utils"),
    ("vhdimount", "libvhdi-utils"),
    ("gzip", "gzip"),
    ("tar", "tar"),
    ("mmls", "sleuthkit"),
    ("mkntfs", "ntfs-3g"),
    ("ntfs-3g", "ntfs-3g"),
    ("setfattr", "attr"),
    ("zip", "zip"),
    ("zstd", "zstd"),
    ("xz", "xz-utils"),
    ("bzip2", "bzip2"),
    ("iconv", "libc-bin"),
    ("jar", "default-jdk-headless"),
    // GNU time: the peak RSS of scans of hostile images (tests/it/bounded_memory.rs).
    ("time", "time"),
    // fusermount3: files with bad sectors served over FUSE (tests/it/partial_scan.rs).
    ("fusermount3", "fuse3"),
    // LVM2 volume groups written without device-mapper; LUKS headers; swap areas.
    ("pvcreate", "lvm2"),
    ("cryptsetup", "cryptsetup-bin"),
    ("mkswap", "util-linux"),
];

/// Installs what is missing (when it can) and runs `cargo test --workspace`.
pub fn run() -> Result<ExitCode> {
    let mut missing: Vec<&str> = TOOLS
        .iter()
        .filter(|(tool, _)| !on_path(tool))
        .map(|&(_, package)| package)
        .collect();
    missing.dedup();
    if !missing.is_empty() {
        if is_root() && on_path("apt-get") {
            println!("installing {}", missing.join(" "));
            run_tool(Command::new("apt-get").args(["update", "-qq"]))?;
            run_tool(
                Command::new("apt-get")
                    .args(["install", "-y", "-qq"])
                    .args(&missing)
                    .env("DEBIAN_FRONTEND", "noninteractive"),
            )?;
        } else {
            println!(
                "warning: missing test tools; install them with: sudo apt-get install {}",
                missing.join(" ")
            );
        }
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["test", "--workspace"])
        .current_dir(workspace::root())
        .status()
        .context("running cargo test")?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}
