//! Loop devices: an image file, or a byte range of one, as a block device (`losetup`; needs
//! root), detached when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};

use crate::shared::workspace::{is_root, run_tool};

/// A loop device attached to an image, detached when dropped (also on an error).
pub struct LoopDevice {
    /// The device node, `/dev/loopN`.
    pub path: PathBuf,
}

impl LoopDevice {
    /// Attaches `image` read-only (`losetup -r`), or says why it cannot.
    pub fn attach(image: &Path) -> Result<LoopDevice> {
        Self::attach_with(image, &["-r"])
    }

    /// Attaches bytes `offset..offset + size` of `image` writable: a device holding one
    /// partition of a disk image, for tools that only write to block devices (pvcreate).
    pub fn attach_range(image: &Path, offset: u64, size: u64) -> Result<LoopDevice> {
        let device = Self::attach_with(
            image,
            &["-o", &offset.to_string(), "--sizelimit", &size.to_string()],
        )?;
        // Some sandboxes attach loop devices read-only whatever losetup is told.
        run_tool(Command::new("blockdev").arg("--setrw").arg(&device.path))?;
        Ok(device)
    }

    /// Attaches `image` with the losetup options `options`, or says why it cannot.
    fn attach_with(image: &Path, options: &[&str]) -> Result<LoopDevice> {
        if !is_root() {
            bail!("loop devices need root");
        }
        let output = Command::new("losetup")
            .args(["-f", "--show"])
            .args(options)
            .arg(image)
            .output()
            .context("cannot run losetup")?;
        if !output.status.success() {
            bail!(
                "losetup failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        ensure!(
            path.starts_with("/dev"),
            "losetup printed no device: {}",
            path.display()
        );
        Ok(LoopDevice { path })
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        match Command::new("losetup").arg("-d").arg(&self.path).status() {
            Ok(status) if status.success() => {}
            _ => eprintln!(
                "warning: could not detach {} (losetup -d {0})",
                self.path.display()
            ),
        }
    }
}
