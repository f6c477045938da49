//! A GPT disk whose one partition holds a directory tree in a file system of a chosen kind,
//! made by the real tools: ext4 (`mkfs.ext4 -d`, deletions by debugfs), XFS and Btrfs (mkfs on
//! a loop device of the partition, then the tree copied in and the deletions made through a
//! kernel mount; Btrfs mounted with `compress-force=zstd`, so file data lands in
//! zstd-compressed extents), and ext4 in an
//! LVM2 logical volume (`pvcreate`/`vgcreate`/`lvcreate -an -Zn` on a loop device of the
//! partition, without device-mapper, the ext4 image then written at the extents `lvs` reports).
//!
//! Everything but plain ext4 needs root and loop devices.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use crate::shared::image::{self, BLOCK, Ext4, GptDisk, MIB};
use crate::shared::loop_device::LoopDevice;
use crate::shared::workspace::run_tool;

/// The file systems (and volume layouts) the partition can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FsKind {
    /// ext4 on the partition.
    Ext4,
    /// XFS (v5, mkfs.xfs's defaults) on the partition.
    Xfs,
    /// Btrfs, written through a mount with `compress-force=zstd`.
    Btrfs,
    /// ext4 in a linear LVM2 logical volume on the partition.
    LvmExt4,
}

/// What names the disk and its file system (fixed, for reproducible images).
pub struct Names<'a> {
    /// The file system's label (and the partition's name).
    pub label: &'a str,
    /// The file system's UUID.
    pub fs_uuid: &'a str,
    /// The disk's GUID.
    pub disk_guid: &'a str,
    /// The partition's unique GUID.
    pub partition_guid: &'a str,
}

/// Where the partition starts on the disk.
const PARTITION_START: u64 = MIB;
/// What an LVM2 partition holds besides the logical volume: the label and metadata area
/// (1 MiB by default) and the round-up to whole 4 MiB extents.
const LVM_OVERHEAD: u64 = 8 * MIB;
/// The LVM2 volume group and logical volume names.
const VG: &str = "vg0";
const LV: &str = "root";

impl FsKind {
    /// Every kind, in the order they are run.
    pub const ALL: [FsKind; 4] = [FsKind::Ext4, FsKind::Xfs, FsKind::Btrfs, FsKind::LvmExt4];

    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            FsKind::Ext4 => "ext4",
            FsKind::Xfs => "xfs",
            FsKind::Btrfs => "btrfs (zstd)",
            FsKind::LvmExt4 => "lvm2 + ext4",
        }
    }

    /// The size of the disk whose file system is `fs_size` bytes: the partition (the file
    /// system, plus LVM2's metadata and extent round-up) between 1 MiB for the GPT and 1 MiB
    /// for its backup.
    pub fn disk_size(self, fs_size: u64) -> u64 {
        self.partition_size(fs_size) + 2 * MIB
    }

    /// Whether a deleted file's name and data are still linked on the file system, so that
    /// snapsift can report it at its path as `deleted`. ext4 files are deleted with debugfs,
    /// which leaves the directory entry's name and the inode's extents; XFS frees the inode's
    /// extents and compacts small directories (`xfs_db` shows mode 0 and no extents), and Btrfs
    /// drops its items from the current trees, so there the data is free space with no path.
    pub fn keeps_deleted_files(self) -> bool {
        matches!(self, FsKind::Ext4 | FsKind::LvmExt4)
    }

    /// Whether a file's bytes may lie on the disk more than once: Btrfs keeps two copies of
    /// every tree leaf (DUP metadata), small files' data inside leaves, and old leaves it
    /// replaced copy-on-write in free space.
    pub fn keeps_copies(self) -> bool {
        self == FsKind::Btrfs
    }

    fn partition_size(self, fs_size: u64) -> u64 {
        match self {
            FsKind::LvmExt4 => fs_size + LVM_OVERHEAD,
            _ => fs_size,
        }
    }

    /// Makes `disk`: a GPT disk of [`FsKind::disk_size`] whose one partition holds a file
    /// system of this kind, `fs_size` bytes (whole 4 KiB blocks), with the contents of `tree`;
    /// then deletes `deleted` (absolute paths inside the tree) from the file system, so that
    /// their data lingers in free space. `work` holds the intermediate files.
    pub fn make_disk(
        self,
        tree: &Path,
        deleted: &[String],
        disk: &Path,
        fs_size: u64,
        names: &Names,
        work: &Path,
    ) -> Result<()> {
        ensure!(
            fs_size.is_multiple_of(BLOCK),
            "file system size {fs_size} is not whole blocks"
        );
        let partition_size = self.partition_size(fs_size);
        GptDisk {
            size: self.disk_size(fs_size),
            disk_guid: names.disk_guid,
            partition_guid: names.partition_guid,
            partition_name: names.label,
            partition_start: PARTITION_START,
            partition_size,
        }
        .make(disk)?;
        match self {
            FsKind::Ext4 | FsKind::LvmExt4 => {
                let fs_offset = if self == FsKind::LvmExt4 {
                    run_tool(Command::new("sgdisk").arg("--typecode=1:8e00").arg(disk))?;
                    PARTITION_START + lvm_volume(disk, partition_size, fs_size, work)?
                } else {
                    PARTITION_START
                };
                let fs_image = work.join("fs.img");
                make_ext4(tree, deleted, &fs_image, fs_size, names)?;
                image::dd_into(&fs_image, disk, fs_offset)?;
                fs::remove_file(&fs_image)?;
            }
            // Made in place, on a loop device of the partition: no second copy of the data.
            FsKind::Xfs | FsKind::Btrfs => {
                let device = LoopDevice::attach_range(disk, PARTITION_START, partition_size)?;
                let (fs_type, mut mkfs) = if self == FsKind::Xfs {
                    let mut mkfs = Command::new("mkfs.xfs");
                    mkfs.args(["-q", "-f", "-L", names.label, "-m"])
                        .arg(format!("uuid={}", names.fs_uuid));
                    ("xfs", mkfs)
                } else {
                    let mut mkfs = Command::new("mkfs.btrfs");
                    mkfs.args(["-q", "-f", "-L", names.label, "-U", names.fs_uuid]);
                    ("btrfs", mkfs)
                };
                run_tool(mkfs.arg(&device.path))?;
                // nodiscard: a loop device punches holes where a file system discards (and
                // Btrfs discards freed space on its own since Linux 6.2), so whether a deleted
                // file's data is still there would depend on when the discard ran.
                let options = if self == FsKind::Btrfs {
                    "nodiscard,compress-force=zstd"
                } else {
                    "nodiscard"
                };
                fill_mounted(&device.path, fs_type, options, tree, deleted, work)?;
            }
        }
        Ok(())
    }
}

/// Makes ext4 of `size` bytes in the file `fs_image` from `tree`, then deletes `deleted` with
/// debugfs.
fn make_ext4(
    tree: &Path,
    deleted: &[String],
    fs_image: &Path,
    size: u64,
    names: &Names,
) -> Result<()> {
    Ext4 {
        label: names.label,
        uuid: names.fs_uuid,
        size,
        fake_time: None,
    }
    .make(fs_image, tree)?;
    if !deleted.is_empty() {
        let commands: Vec<String> = deleted.iter().map(|p| format!("rm {p}")).collect();
        image::debugfs(fs_image, &commands, None)?;
    }
    Ok(())
}

/// A kernel mount of a block device, unmounted when dropped (also on an error).
struct Mount {
    dir: PathBuf,
    mounted: bool,
}

impl Mount {
    fn new(device: &Path, fs_type: &str, options: &str, dir: &Path) -> Result<Mount> {
        fs::create_dir_all(dir)?;
        run_tool(
            Command::new("mount")
                .args(["-t", fs_type, "-o", options])
                .arg(device)
                .arg(dir),
        )
        .context("mounting needs root")?;
        Ok(Mount {
            dir: dir.to_owned(),
            mounted: true,
        })
    }

    /// Unmounts, so that everything written is on the image.
    fn finish(mut self) -> Result<()> {
        self.mounted = false;
        run_tool(Command::new("umount").arg(&self.dir))?;
        Ok(())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(&self.dir).status();
        }
    }
}

/// Mounts `device` (made empty by mkfs), copies `tree` into it with `cp -a`, deletes
/// `deleted`, and unmounts.
fn fill_mounted(
    device: &Path,
    fs_type: &str,
    options: &str,
    tree: &Path,
    deleted: &[String],
    work: &Path,
) -> Result<()> {
    let mount = Mount::new(device, fs_type, options, &work.join("mnt"))?;
    let mut source = tree.as_os_str().to_owned();
    source.push("/.");
    run_tool(Command::new("cp").arg("-a").arg(source).arg(&mount.dir))?;
    // Synced first, so the deleted files' data was written to the image before it was freed,
    // as for a file deleted long after it was written.
    run_tool(Command::new("sync").arg("-f").arg(&mount.dir))?;
    for path in deleted {
        let inside = mount.dir.join(path.trim_start_matches('/'));
        fs::remove_file(&inside).with_context(|| format!("deleting {}", inside.display()))?;
    }
    let dir = mount.dir.clone();
    mount.finish()?;
    fs::remove_dir(dir)?;
    Ok(())
}

/// Makes the partition of `disk` (at [`PARTITION_START`], `partition_size` bytes) an LVM2
/// physical volume of group [`VG`] with one linear logical volume [`LV`] of `lv_size` bytes,
/// without device-mapper, and returns where the volume starts in the partition (as `pvs` and
/// `lvs` report it).
fn lvm_volume(disk: &Path, partition_size: u64, lv_size: u64, work: &Path) -> Result<u64> {
    let device = LoopDevice::attach_range(disk, PARTITION_START, partition_size)?;
    let dev = device.path.to_str().context("loop device path")?.to_owned();
    // A configuration of our own: sees only this device, keeps no backups, needs no udev.
    let conf = work.join("lvm");
    fs::create_dir_all(&conf)?;
    let filter = format!("[ \"a|^{dev}$|\", \"r|.*|\" ]");
    fs::write(
        conf.join("lvm.conf"),
        format!(
            "devices {{ filter = {filter} global_filter = {filter} use_devicesfile = 0 \
             obtain_device_list_from_udev = 0 }}\n\
             backup {{ backup = 0 archive = 0 }}\n\
             global {{ use_lvmlockd = 0 locking_dir = \"{}\" }}\n\
             activation {{ udev_sync = 0 udev_rules = 0 }}\n",
            conf.display()
        ),
    )?;
    let lvm = |args: &[&str]| -> Result<String> {
        let output = run_tool(
            Command::new(args[0])
                .args(&args[1..])
                .env("LVM_SYSTEM_DIR", &conf)
                .env("LVM_SUPPRESS_FD_WARNINGS", "1"),
        )?;
        Ok(String::from_utf8(output.stdout)?)
    };
    let report = |args: &[&str], key: &str| -> Result<Value> {
        let mut args = args.to_vec();
        args.extend(["--reportformat", "json", "--units", "b", "--nosuffix"]);
        let json: Value = serde_json::from_str(&lvm(&args)?)?;
        Ok(json["report"][0][key][0].clone())
    };
    let number = |v: &Value| -> Result<u64> {
        v.as_str()
            .and_then(|s| s.trim().parse().ok())
            .with_context(|| format!("not a number in an LVM report: {v}"))
    };
    lvm(&["pvcreate", "-y", &dev])?;
    lvm(&["vgcreate", VG, &dev])?;
    let size = format!("{lv_size}b");
    lvm(&[
        "lvcreate",
        "--driverloaded",
        "n",
        "-an",
        "-Zn",
        "-y",
        "-L",
        &size,
        "-n",
        LV,
        VG,
    ])?;
    let extent = number(&report(&["vgs", "-o", "vg_extent_size", VG], "vg")?["vg_extent_size"])?;
    let pe_start = number(&report(&["pvs", "-o", "pe_start", &dev], "pv")?["pe_start"])?;
    let lv = format!("{VG}/{LV}");
    let seg = report(
        &["lvs", "--segments", "-o", "segtype,seg_pe_ranges", &lv],
        "seg",
    )?;
    ensure!(seg["segtype"] == "linear", "{lv} is not linear: {seg}");
    // "/dev/loop0:0-127": the device and the extents the one segment takes.
    let first: u64 = seg["seg_pe_ranges"]
        .as_str()
        .and_then(|r| r.rsplit_once(':'))
        .and_then(|(_, extents)| extents.split('-').next()?.parse().ok())
        .with_context(|| format!("no extent range in {seg}"))?;
    drop(device);
    fs::remove_dir_all(&conf)?;
    Ok(pe_start + first * extent)
}
