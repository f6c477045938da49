//! Partition tables written by the real tools: GPT by `sgdisk`, MBR by `sfdisk`.

use std::path::Path;

use crate::{dd_into, run, run_with_input, sparse_file};

/// Makes `disk` a sparse file of `size` bytes and runs `sgdisk ARGS... DISK` on it (`-n
/// 1:2048:+16M -t 1:8300`...): a GPT with a protective MBR and a backup table.
pub fn gpt_disk(disk: &Path, size: u64, args: &[&str]) {
    sparse_file(disk, size);
    let mut all = args.to_vec();
    all.push(disk.to_str().unwrap());
    run("sgdisk", &all);
}

/// Makes `disk` a sparse file of `size` bytes with the MBR partition table `layout`, an
/// `sfdisk` script (`label: dos`, then one line a partition).
pub fn mbr_disk(disk: &Path, size: u64, layout: &str) {
    sparse_file(disk, size);
    run_with_input("sfdisk", &["-q", disk.to_str().unwrap()], layout);
}

/// Makes `disk` a sparse 24 MiB GPT disk whose partition 1 ("root", Linux, 16 MiB from 1 MiB)
/// holds the filesystem image `fs_image`.
pub fn gpt_disk_with_root(disk: &Path, fs_image: &Path) {
    gpt_disk(
        disk,
        24 << 20,
        &["-n", "1:2048:+16M", "-t", "1:8300", "-c", "1:root"],
    );
    dd_into(disk, fs_image, 1 << 20);
}
