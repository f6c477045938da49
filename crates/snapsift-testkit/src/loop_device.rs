//! Loop devices: an image file as a real block device (`losetup`), detached on drop.
//!
//! They need root and `/dev/loop-control`; where those are missing, attaching says why, and
//! the tests that need a device say so and return, or fail under `CI=true`
//! ([`crate::unavailable`]).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::unavailable;

/// A loop device attached to an image, detached on drop.
pub struct LoopDevice {
    /// The device node, `/dev/loopN`.
    pub device: PathBuf,
}

impl LoopDevice {
    /// Attaches `image` read-only, or says why it cannot.
    pub fn attach(image: &Path) -> Result<LoopDevice, String> {
        Self::attach_range(image, &["-r"])
    }

    /// Attaches `image` writable, as an attached cloud disk usually is: only snapsift's own
    /// care keeps it from writing.
    pub fn attach_writable(image: &Path) -> Result<LoopDevice, String> {
        Self::attach_range(image, &[])
    }

    /// Attaches bytes `offset..offset + size` of `image` read-only: a block device that holds
    /// one partition, as `/dev/nvme1n1p1` does (partition scanning, `losetup -P`, creates no
    /// partition nodes in some sandboxes, so the partition gets a loop device of its own).
    pub fn attach_partition(image: &Path, offset: u64, size: u64) -> Result<LoopDevice, String> {
        let (offset, size) = (offset.to_string(), size.to_string());
        Self::attach_range(image, &["-r", "-o", &offset, "--sizelimit", &size])
    }

    /// Attaches `image` with the losetup options `options` (`-r`, `-o OFFSET --sizelimit
    /// SIZE`), or says why it cannot (no loop control device, not root, losetup failed).
    pub fn attach_range(image: &Path, options: &[&str]) -> Result<LoopDevice, String> {
        if !Path::new("/dev/loop-control").exists() {
            return Err("/dev/loop-control does not exist".into());
        }
        // /proc/self belongs to the process's effective user.
        let euid = std::fs::metadata("/proc/self").map_err(|e| format!("/proc/self: {e}"))?;
        if euid.uid() != 0 {
            return Err("loop devices need root".into());
        }
        let output = Command::new("losetup")
            .args(["-f", "--show"])
            .args(options)
            .arg(image)
            .output()
            .map_err(|e| format!("cannot run losetup: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "losetup failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        let device = PathBuf::from(String::from_utf8(output.stdout).unwrap().trim());
        Ok(LoopDevice { device })
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.device).status();
    }
}

/// Attaches `image` read-only for a test that needs a block device, or returns `None` after
/// saying why loop devices are unavailable (the test then returns). Under `CI=true` it never
/// skips: an unavailable loop device fails the test.
pub fn attach_or_skip(image: &Path) -> Option<LoopDevice> {
    LoopDevice::attach(image)
        .map_err(|reason| unavailable(&format!("loop devices unavailable: {reason}")))
        .ok()
}
