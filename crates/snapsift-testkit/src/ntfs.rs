//! NTFS images made by real tools: `mkntfs`, then files written through an `ntfs-3g` mount
//! (FUSE), then unmounted.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{run, sparse_file};

/// Makes an NTFS filesystem filling `image` (created `size` bytes long), quick format, with
/// clusters of `cluster` bytes where given.
pub fn mkntfs(image: &Path, size: u64, cluster: Option<u32>) {
    sparse_file(image, size);
    let mut args = vec!["-F", "-Q", "-q"];
    let cluster_arg = cluster.map(|c| c.to_string());
    if let Some(c) = &cluster_arg {
        args.extend(["-c", c]);
    }
    args.push(image.to_str().unwrap());
    run("mkntfs", &args);
}

/// An NTFS volume mounted with `ntfs-3g` in the foreground (so that unmounting can wait for
/// it to have written everything); unmounted (lazily) when dropped without [`Mount::finish`].
pub struct Mount {
    child: Option<Child>,
    /// The mount point.
    pub dir: PathBuf,
}

impl Mount {
    /// Mounts `image` at `dir` (created) with Windows-style stream names (`file:stream`) and
    /// compression allowed; fails the test if it is not mounted within 20 seconds.
    pub fn new(image: &Path, dir: &Path) -> Mount {
        fs::create_dir_all(dir).unwrap();
        let child = Command::new("ntfs-3g")
            .args([
                "-o",
                "no_detach,streams_interface=windows,compression",
                image.to_str().unwrap(),
                dir.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot run ntfs-3g (is it installed?)");
        let mount = Mount {
            child: Some(child),
            dir: dir.to_path_buf(),
        };
        let started = Instant::now();
        while !mount.mounted() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "ntfs-3g did not mount"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        mount
    }

    /// Whether `/proc/mounts` lists the mount point.
    fn mounted(&self) -> bool {
        let mounts = fs::read_to_string("/proc/mounts").unwrap();
        let dir = self.dir.to_str().unwrap();
        mounts.lines().any(|l| l.split(' ').nth(1) == Some(dir))
    }

    /// Unmounts and waits for ntfs-3g to have finished writing.
    pub fn finish(mut self) {
        run("umount", &[self.dir.to_str().unwrap()]);
        let status = self.child.take().unwrap().wait().unwrap();
        assert!(status.success(), "ntfs-3g: {status}");
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("umount")
                .args(["-l", self.dir.to_str().unwrap()])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Makes `dir` (on an ntfs-3g mount with compression allowed) a directory whose new files
/// are compressed (LZNT1), with `setfattr` on the NTFS attribute bits.
pub fn compressed_dir(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    run(
        "setfattr",
        &[
            "-h",
            "-v",
            "0x00000800",
            "-n",
            "system.ntfs_attrib_be",
            dir.to_str().unwrap(),
        ],
    );
}
