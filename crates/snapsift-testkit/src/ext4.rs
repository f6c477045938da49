//! ext4 images made by `mkfs.ext4 -d` and changed by `debugfs`.

use std::fs;
use std::path::Path;

use crate::run;

/// `PROGRAM -q -F -E root_owner=0:0 OPTIONS... -d TREE IMAGE SIZE`: a filesystem of `size`
/// (`8M`) holding the directory `tree`, made by `program` (`mkfs.ext4`, `mkfs.ext2`...).
pub fn mkfs_from_tree(program: &str, image: &Path, tree: &Path, size: &str, options: &[&str]) {
    let mut args = vec!["-q", "-F", "-E", "root_owner=0:0"];
    args.extend_from_slice(options);
    args.extend_from_slice(&["-d", tree.to_str().unwrap(), image.to_str().unwrap(), size]);
    run(program, &args);
}

/// An ext4 filesystem image of `size_mib` MiB holding the directory `tree`, with default
/// options ([`mkfs_from_tree`]).
pub fn mkfs_ext4(image: &Path, tree: &Path, size_mib: u64) {
    mkfs_from_tree("mkfs.ext4", image, tree, &format!("{size_mib}M"), &[]);
}

/// Runs `debugfs` commands (one a line) in write mode on the ext4 image, from a script file
/// next to it (removed after).
pub fn debugfs_script(image: &Path, commands: &str) {
    let script = image.with_extension("debugfs-commands");
    fs::write(&script, commands).unwrap();
    run(
        "debugfs",
        &[
            "-w",
            "-f",
            script.to_str().unwrap(),
            image.to_str().unwrap(),
        ],
    );
    fs::remove_file(script).unwrap();
}

/// Removes `path` from the ext4 image with `debugfs`: the file's blocks are freed, not wiped.
pub fn debugfs_rm(image: &Path, path: &str) {
    debugfs_script(image, &format!("rm {path}\n"));
}

/// Makes `image` an empty ext4 filesystem of `size_mib` MiB with 1 KiB blocks, then writes
/// `files` (name in the root directory, content) into it in order with `debugfs write`, which
/// gives each file the next free blocks: small files written one after the other lie next to
/// each other on the disk. The contents are staged in `stage`.
pub fn ext4_with_files(image: &Path, stage: &Path, size_mib: u64, files: &[(&str, Vec<u8>)]) {
    run(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-b",
            "1024",
            image.to_str().unwrap(),
            &format!("{size_mib}M"),
        ],
    );
    fs::create_dir_all(stage).unwrap();
    let mut commands = String::new();
    for (i, (name, content)) in files.iter().enumerate() {
        let staged = stage.join(format!("file-{i}"));
        fs::write(&staged, content).unwrap();
        commands.push_str(&format!("write {} {name}\n", staged.display()));
    }
    debugfs_script(image, &commands);
}
