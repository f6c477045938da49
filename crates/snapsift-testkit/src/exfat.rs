//! exFAT images made by the real tools: `mkfs.exfat` (exfatprogs), then files written through
//! the exfat-fuse driver (`mount.exfat-fuse`), which needs a block device: the image is
//! attached to a writable loop device for the time of the mount.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::{LoopDevice, run, unavailable};

/// Makes `image` (created, `size` bytes) an exFAT filesystem with clusters of `cluster`
/// bytes.
pub fn mkfs_exfat(image: &Path, size: u64, cluster: u64) {
    let _ = fs::remove_file(image);
    fs::File::create(image).unwrap().set_len(size).unwrap();
    run(
        "mkfs.exfat",
        &["-c", &cluster.to_string(), image.to_str().unwrap()],
    );
}

/// An exFAT image mounted read-write through exfat-fuse on a loop device; unmounted (lazily)
/// and detached when dropped without [`ExfatMount::finish`].
pub struct ExfatMount {
    device: Option<LoopDevice>,
    mounted: bool,
    /// The mount point.
    pub dir: PathBuf,
}

impl ExfatMount {
    /// Mounts `image` at `dir` (created), or returns `None` after saying why loop devices
    /// are unavailable ([`unavailable`]: a failure under `CI=true`).
    pub fn new(image: &Path, dir: &Path) -> Option<ExfatMount> {
        let device = LoopDevice::attach_writable(image)
            .map_err(|reason| unavailable(&format!("loop devices unavailable: {reason}")))
            .ok()?;
        fs::create_dir_all(dir).unwrap();
        let mut mount = ExfatMount {
            device: Some(device),
            mounted: false,
            dir: dir.to_path_buf(),
        };
        let device = mount.device.as_ref().unwrap().device.clone();
        run(
            "mount.exfat-fuse",
            &[device.to_str().unwrap(), dir.to_str().unwrap()],
        );
        mount.mounted = true;
        let started = Instant::now();
        while !mount.is_mounted() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "exfat-fuse did not mount"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(mount)
    }

    /// Whether `/proc/mounts` lists the mount point.
    fn is_mounted(&self) -> bool {
        let mounts = fs::read_to_string("/proc/mounts").unwrap();
        let dir = self.dir.to_str().unwrap();
        mounts.lines().any(|l| l.split(' ').nth(1) == Some(dir))
    }

    /// Unmounts (exfat-fuse writes everything out before the unmount returns) and detaches
    /// the loop device.
    pub fn finish(mut self) {
        run("umount", &[self.dir.to_str().unwrap()]);
        self.mounted = false;
        let started = Instant::now();
        while self.is_mounted() {
            assert!(started.elapsed() < Duration::from_secs(20), "still mounted");
            std::thread::sleep(Duration::from_millis(20));
        }
        self.device.take();
    }
}

impl Drop for ExfatMount {
    fn drop(&mut self) {
        if self.mounted {
            let _ = std::process::Command::new("umount")
                .args(["-l", self.dir.to_str().unwrap()])
                .status();
        }
    }
}
