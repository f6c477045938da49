//! btrfs images made by the real tools: `mkfs.btrfs` (with `--rootdir`), then what only the
//! kernel writes (compressed extents, subvolumes, snapshots, removed files, preallocated
//! extents) through a loop mount.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{run, sparse_file, unavailable};

/// Makes a btrfs filesystem filling `image` (created `size` bytes long), holding a copy of
/// `tree` if given (`--rootdir`).
pub fn mkfs_btrfs(image: &Path, size: u64, tree: Option<&Path>) {
    sparse_file(image, size);
    let mut args = vec!["-q", "-f"];
    if let Some(tree) = tree {
        args.extend(["--rootdir", tree.to_str().unwrap()]);
    }
    args.push(image.to_str().unwrap());
    run("mkfs.btrfs", &args);
}

/// A btrfs image mounted through a loop device; unmounted when dropped without
/// [`BtrfsMount::finish`].
pub struct BtrfsMount {
    /// The mount point.
    pub dir: PathBuf,
    mounted: bool,
}

impl BtrfsMount {
    /// Mounts `image` at `dir` (created) with the mount options `options`
    /// (`compress-force=zstd`). `None`, after [`unavailable`] (which fails the test under
    /// `CI=true`), where this machine cannot mount one.
    pub fn new(image: &Path, dir: &Path, options: &str) -> Option<BtrfsMount> {
        fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "btrfs", "-o", &format!("loop,{options}")])
            .arg(image)
            .arg(dir)
            .output()
            .expect("cannot run mount");
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr);
            unavailable(&format!("cannot loop-mount a btrfs image: {}", why.trim()));
            return None;
        }
        Some(BtrfsMount {
            dir: dir.to_path_buf(),
            mounted: true,
        })
    }

    /// Unmounts, failing the test if that fails: everything written is then on the image.
    pub fn finish(mut self) {
        self.mounted = false;
        run("umount", &[self.dir.to_str().unwrap()]);
    }
}

impl Drop for BtrfsMount {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(&self.dir).status();
        }
    }
}

/// Sets the CRC-32C of a btrfs tree node (or superblock) `node` to match its bytes, as a
/// hostile image's maker would after changing them.
pub fn btrfs_fix_checksum(node: &mut [u8]) {
    let mut crc = u32::MAX;
    for &byte in &node[0x20..] {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0x82f6_3b78 & mask);
        }
    }
    node[..4].copy_from_slice(&(!crc).to_le_bytes());
}
