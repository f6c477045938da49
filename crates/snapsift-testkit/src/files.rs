//! Work directories and the files tests build in them.

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::run;

/// A temporary directory for one test's files, removed when dropped.
pub fn workdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("snapsift-test-")
        .tempdir()
        .unwrap()
}

/// Writes `content` to `dir/name`, creating the directories on the way; returns its path.
pub fn write_file(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, content).unwrap();
    path
}

/// Creates (or truncates) `path` as a sparse file of `size` bytes.
pub fn sparse_file(path: &Path, size: u64) {
    fs::File::create(path).unwrap().set_len(size).unwrap();
}

/// Writes `bytes` into the existing file at `path`, at `offset`.
pub fn write_at(path: &Path, offset: u64, bytes: &[u8]) {
    let file = fs::OpenOptions::new().write(true).open(path).unwrap();
    file.write_all_at(bytes, offset).unwrap();
}

/// Copies `src` into `disk` at byte `offset`, with `dd conv=notrunc,sparse`.
pub fn dd_into(disk: &Path, src: &Path, offset: u64) {
    run(
        "dd",
        &[
            &format!("if={}", src.display()),
            &format!("of={}", disk.display()),
            "bs=4096",
            &format!("seek={offset}"),
            "oflag=seek_bytes",
            "conv=notrunc,sparse",
            "status=none",
        ],
    );
}

/// The oracle of where bytes are: every offset at which `needle` occurs in the file at
/// `path`, by plain byte comparison.
pub fn offsets_of(path: &Path, needle: &[u8]) -> Vec<u64> {
    let hay = fs::read(path).unwrap();
    hay.windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i as u64)
        .collect()
}
