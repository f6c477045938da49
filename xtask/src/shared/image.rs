//! Building disk images with the system's tools: sgdisk (Debian package gdisk), mkfs.ext4 and
//! debugfs (e2fsprogs), dd (coreutils).
//!
//! A disk is built in three steps: an ext4 file system in a file of its own, made from a
//! directory tree with `mkfs.ext4 -d` (and then edited with debugfs, for instance to delete a
//! file so its data lingers in free blocks); a sparse disk file with a GPT made by sgdisk; and
//! the file system copied into its partition with `dd conv=notrunc`. Nothing is mounted, so
//! none of this needs loop devices or privileges.

use std::fs::{self, File};
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};

use crate::shared::workspace::run_tool;

/// Bytes per sector in the GPT (and the disk images' logical sector size).
pub const SECTOR: u64 = 512;
/// A mebibyte, the partition alignment.
pub const MIB: u64 = 1 << 20;
/// The file systems' block size.
pub const BLOCK: u64 = 4096;

/// mke2fs settings used instead of the host's /etc/mke2fs.conf, whose defaults vary between
/// distributions and releases (Debian 12's, spelled out): the same tree then gives the same
/// file system on any machine with the same e2fsprogs.
const MKE2FS_CONF: &str = "\
[defaults]
	base_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr
	default_mntopts = acl,user_xattr
	enable_periodic_fsck = 0
	blocksize = 4096
	inode_size = 256
	inode_ratio = 16384

[fs_types]
	ext4 = {
		features = has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize
	}
";

/// How to make an ext4 file system.
pub struct Ext4<'a> {
    /// Volume label.
    pub label: &'a str,
    /// File system UUID; also used as the directory hash seed, which is otherwise random.
    pub uuid: &'a str,
    /// Size of the file system in bytes (a multiple of [`BLOCK`]).
    pub size: u64,
    /// The time e2fsprogs stamps on what it creates (`E2FSPROGS_FAKE_TIME`), for reproducible
    /// output; `None` for the real time.
    pub fake_time: Option<u64>,
}

impl Ext4<'_> {
    /// Creates the file system in the file `fs_image` (replacing it) from the contents of `tree`.
    pub fn make(&self, fs_image: &Path, tree: &Path) -> Result<()> {
        ensure!(
            self.size.is_multiple_of(BLOCK),
            "file system size {} is not a multiple of {BLOCK}",
            self.size
        );
        let conf = fs_image.with_extension("mke2fs.conf");
        fs::write(&conf, MKE2FS_CONF)?;
        // A fresh sparse file: blocks mkfs does not write read back as zeros.
        let _ = fs::remove_file(fs_image);
        File::create(fs_image)?.set_len(self.size)?;
        let mut cmd = Command::new("mkfs.ext4");
        cmd.args(["-q", "-F", "-t", "ext4", "-b", "4096", "-m", "0"])
            .args(["-L", self.label, "-U", self.uuid])
            // root_owner: the root directory is root's, not whoever owns the tree; nodiscard:
            // there is nothing to discard in a fresh file.
            .arg("-E")
            .arg(format!("root_owner=0:0,hash_seed={},nodiscard", self.uuid))
            .arg("-d")
            .arg(tree)
            .arg(fs_image)
            .env("MKE2FS_CONFIG", &conf)
            // mke2fs -d adds directory entries in alphasort() order, which follows the locale.
            .env("LC_ALL", "C");
        if let Some(t) = self.fake_time {
            cmd.env("E2FSPROGS_FAKE_TIME", t.to_string());
        }
        run_tool(&mut cmd)?;
        fs::remove_file(&conf)?;
        Ok(())
    }
}

/// Runs debugfs commands (`rm /path`, `sif /path mtime @0`, ...) in write mode on the file
/// system image `fs_image`, with e2fsprogs' clock at `fake_time` if given.
///
/// debugfs exits 0 even when a command fails, so its error output is checked instead.
pub fn debugfs(fs_image: &Path, commands: &[String], fake_time: Option<u64>) -> Result<()> {
    let script = fs_image.with_extension("debugfs");
    fs::write(&script, commands.join("\n") + "\n")?;
    let mut cmd = Command::new("debugfs");
    cmd.arg("-w").arg("-f").arg(&script).arg(fs_image);
    if let Some(t) = fake_time {
        cmd.env("E2FSPROGS_FAKE_TIME", t.to_string());
    }
    let output = run_tool(&mut cmd)?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The only expected line is the version banner, "debugfs 1.47.0 (5-Feb-2023)".
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("debugfs "))
        .collect();
    if !errors.is_empty() {
        bail!("debugfs reported errors:\n{}", errors.join("\n"));
    }
    fs::remove_file(&script)?;
    Ok(())
}

/// A GPT disk with one Linux partition.
pub struct GptDisk<'a> {
    /// Size of the disk in bytes.
    pub size: u64,
    /// The disk's GUID (fixed, for reproducible images).
    pub disk_guid: &'a str,
    /// The partition's unique GUID.
    pub partition_guid: &'a str,
    /// The partition's name.
    pub partition_name: &'a str,
    /// First byte of the partition (sector aligned).
    pub partition_start: u64,
    /// Size of the partition in bytes (a whole number of sectors).
    pub partition_size: u64,
}

impl GptDisk<'_> {
    /// Creates the disk file `disk` (replacing it) as a sparse file holding only the GPT.
    pub fn make(&self, disk: &Path) -> Result<()> {
        ensure!(
            self.partition_start.is_multiple_of(SECTOR)
                && self.partition_size.is_multiple_of(SECTOR),
            "partition not sector aligned"
        );
        let _ = fs::remove_file(disk);
        File::create(disk)?.set_len(self.size)?;
        let first = self.partition_start / SECTOR;
        let last = first + self.partition_size / SECTOR - 1;
        run_tool(
            Command::new("sgdisk")
                .arg("--clear")
                .arg(format!("--disk-guid={}", self.disk_guid))
                .arg(format!("--new=1:{first}:{last}"))
                .arg("--typecode=1:8300")
                .arg(format!("--change-name=1:{}", self.partition_name))
                .arg(format!("--partition-guid=1:{}", self.partition_guid))
                .arg(disk),
        )?;
        Ok(())
    }
}

/// Copies the file `src` into `dst` at byte `offset` with `dd conv=notrunc`, leaving the rest
/// of `dst` alone. All-zero blocks are skipped (`conv=sparse`): the target area is a hole of
/// a fresh sparse file, so they are zeros there already.
pub fn dd_into(src: &Path, dst: &Path, offset: u64) -> Result<()> {
    run_tool(
        Command::new("dd")
            .arg(format!("if={}", src.display()))
            .arg(format!("of={}", dst.display()))
            .args([
                "bs=4M",
                "oflag=seek_bytes",
                "conv=notrunc,sparse",
                "status=none",
            ])
            .arg(format!("seek={offset}")),
    )
    .with_context(|| format!("copying {} into {}", src.display(), dst.display()))?;
    Ok(())
}
