//! The tree on a disk: an NTFS file system made by `mkntfs`, filled through an `ntfs-3g`
//! mount, and copied into the partition of a GPT disk.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::shared::image::{self, MIB, SECTOR};
use crate::shared::workspace::{self, display, run_tool};

use super::PARTITION_START;
use super::tree::Tree;

/// Makes the NTFS file system holding `tree` and the GPT disk `disk` around it.
pub(super) fn build_disk(tree: &Tree, disk: &Path, dir: &Path, tree_bytes: u64) -> Result<()> {
    // Room for the MFT (1 KiB a file), the cluster rounding of small files and free space.
    let size = (tree_bytes + tree_bytes / 4 + 256 * MIB).next_multiple_of(MIB);
    let volume = dir.join("ntfs.img");
    let _ = fs::remove_file(&volume);
    File::create(&volume)?.set_len(size)?;
    run_tool(
        Command::new("mkntfs")
            .args(["--force", "--quick", "--quiet", "--zero-time"])
            .args(["--sector-size", "512", "--cluster-size", "4096"])
            .arg(format!("--partition-start={}", PARTITION_START / SECTOR))
            .args(["--heads", "255", "--sectors-per-track", "63"])
            .args(["--label", "Windows"])
            .arg(&volume),
    )?;
    let mnt = dir.join("mnt");
    fs::create_dir_all(&mnt)?;
    {
        let mount = Mount::new(&volume, &mnt)?;
        println!(
            "copying the tree onto NTFS ({})",
            workspace::bytes(tree_bytes)
        );
        let mut copy = Command::new("cp");
        copy.arg("-r")
            .arg("--no-preserve=all")
            .arg(format!("{}/.", tree.root.display()))
            .arg(&mnt);
        run_tool(&mut copy)?;
        for (file, stream, bytes) in &tree.streams {
            fs::write(mnt.join(format!("{file}:{stream}")), bytes)
                .with_context(|| format!("writing the stream {file}:{stream}"))?;
        }
        mount.unmount()?;
    }
    let _ = fs::remove_file(disk);
    File::create(disk)?.set_len(size + 2 * MIB)?;
    let first = PARTITION_START / SECTOR;
    let last = first + size / SECTOR - 1;
    run_tool(
        Command::new("sgdisk")
            .arg("--clear")
            .arg("--disk-guid=3f2a4c6e-8b1d-4e7f-9a2c-5d6e7f8a9b0c")
            .arg(format!("--new=1:{first}:{last}"))
            .arg("--typecode=1:0700")
            .arg("--change-name=1:Basic data partition")
            .arg("--partition-guid=1:6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
            .arg(disk),
    )?;
    image::dd_into(&volume, disk, PARTITION_START)?;
    fs::remove_file(&volume)?;
    Ok(())
}

/// An ntfs-3g mount of a file system image, run in the foreground as a child so that unmounting
/// can wait until it has written everything; unmounted on drop if not before.
pub(super) struct Mount {
    mnt: PathBuf,
    child: Option<Child>,
}

impl Mount {
    fn new(volume: &Path, mnt: &Path) -> Result<Mount> {
        let child = Command::new("ntfs-3g")
            .arg("-o")
            .arg("no_detach,streams_interface=windows,windows_names,silent")
            .arg(volume)
            .arg(mnt)
            .stdout(std::process::Stdio::null())
            .spawn()
            .context("starting ntfs-3g (needs root, /dev/fuse and the ntfs-3g package)")?;
        let mut mount = Mount {
            mnt: mnt.to_path_buf(),
            child: Some(child),
        };
        let started = Instant::now();
        while !mount.mounted()? {
            if let Some(status) = mount.child.as_mut().and_then(|c| c.try_wait().transpose()) {
                mount.child = None;
                bail!("ntfs-3g exited before mounting ({})", status?);
            }
            ensure!(
                started.elapsed() < Duration::from_secs(30),
                "ntfs-3g did not mount {} within 30 s",
                display(mnt)
            );
            thread::sleep(Duration::from_millis(100));
        }
        Ok(mount)
    }

    /// Whether the mount point is in this process's mount table.
    fn mounted(&self) -> Result<bool> {
        let table = fs::read_to_string("/proc/self/mountinfo")?;
        let needle = format!(" {} ", self.mnt.display());
        Ok(table.lines().any(|l| l.contains(&needle)))
    }

    /// Unmounts and waits for ntfs-3g to exit, which it does once the volume is written.
    fn unmount(mut self) -> Result<()> {
        run_tool(Command::new("umount").arg(&self.mnt))?;
        if let Some(mut child) = self.child.take() {
            let status = child.wait()?;
            ensure!(status.success(), "ntfs-3g exited with {status}");
        }
        Ok(())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("umount").arg(&self.mnt).status();
            let _ = child.wait();
        }
    }
}
