//! The read-only guard: hashes of every file around a scanned image, taken before and after,
//! show that the scan wrote nothing.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The SHA-256 of every regular file in the directories of those `paths` that are regular
/// files (images; not devices), and of those files themselves, but `except` (files the scan
/// itself writes). A file that cannot be read whole (a FUSE file with bad sectors) has no
/// hash: the test that made it checks its own source. Compare the maps taken before and after
/// a scan.
pub fn hashes_around(paths: &[&Path], except: &[PathBuf]) -> BTreeMap<PathBuf, String> {
    // Regular files only, never through a symlink (`/dev/stdout` is one).
    let is_file = |f: &Path| f.symlink_metadata().is_ok_and(|m| m.is_file());
    let mut files: Vec<PathBuf> = Vec::new();
    for path in paths.iter().filter(|p| is_file(p)) {
        files.push(path.to_path_buf());
        if let Some(entries) = path.parent().and_then(|dir| fs::read_dir(dir).ok()) {
            files.extend(entries.flatten().map(|e| e.path()));
        }
    }
    files
        .into_iter()
        .filter(|f| is_file(f) && !except.contains(f))
        .filter_map(|f| {
            let hash = sha256_of(&f)?;
            Some((f, hash))
        })
        .collect()
}

/// The SHA-256 of the file at `path` in hex, or `None` if it cannot be read whole.
fn sha256_of(path: &Path) -> Option<String> {
    let mut hasher = Sha256::new();
    let mut file = fs::File::open(path).ok()?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf).ok()? {
            0 => break,
            n => hasher.update(&buf[..n]),
        }
    }
    Some(
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}
