//! The fuzz input as image files: disk formats are opened by path (and open the files an
//! image names by path), so the input is written to tmpfs, memory all the same.
//!
//! One input may hold several files, separated by [`SEPARATOR`]: the first is the image
//! opened, `a`; the next are `b` and `c`, the names seeds give backing files, parents and
//! extents. An image naming `a` as its own backing file, or `b` naming `a`, is a loop; naming
//! a file the input does not hold is a missing one.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// What separates the files of one input (seeds are built with it, see `cargo xtask
/// fuzz-seeds`).
pub const SEPARATOR: &[u8] = b"\n--snapsift-fuzz-next-file--\n";
/// The names the files of one input get, in order.
pub const NAMES: [&str; 3] = ["a", "b", "c"];

/// The name of every fuzz process's directory, before its process id.
const PREFIX: &str = "snapsift-fuzz-";

/// Removes the directories of fuzz processes that have ended: in fork mode libFuzzer runs a
/// process per job, and their inputs, up to a few MiB each, would fill tmpfs (memory).
fn remove_stale(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// This process's directory on tmpfs, made once (libFuzzer runs inputs one after another in
/// one process; parallel jobs are separate processes).
fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = Path::new("/dev/shm");
        let base = if base.is_dir() {
            base.to_owned()
        } else {
            std::env::temp_dir()
        };
        remove_stale(&base);
        let dir = base.join(format!("{PREFIX}{}", std::process::id()));
        fs::create_dir_all(&dir).expect("cannot make the fuzz directory");
        dir
    })
}

/// The reference policy inputs are opened with: the files an image names are opened inside
/// this process's directory, where the input's files are, and nowhere else (names leading
/// elsewhere reach the refusal).
pub fn references() -> &'static snapsift_disk::ReferencePolicy {
    static POLICY: OnceLock<snapsift_disk::ReferencePolicy> = OnceLock::new();
    POLICY.get_or_init(|| {
        snapsift_disk::ReferencePolicy::allowing(&[dir().to_owned()])
            .expect("the fuzz directory exists")
    })
}

/// Writes the files `data` holds (see the module's documentation) and returns the path of
/// the first, the image to open; `None` if it is empty (an empty file is refused before any
/// parser sees it).
pub fn write(data: &[u8]) -> Option<PathBuf> {
    let dir = dir();
    let mut parts = split(data);
    if parts.first().is_none_or(|first| first.is_empty()) {
        return None;
    }
    parts.truncate(NAMES.len());
    for (i, name) in NAMES.iter().enumerate() {
        let path = dir.join(name);
        match parts.get(i) {
            Some(part) => fs::write(&path, part).expect("cannot write a fuzz file"),
            None => match fs::remove_file(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => panic!("cannot remove {}: {error}", path.display()),
            },
        }
    }
    Some(dir.join(NAMES[0]))
}

/// The first file of `data`: what format filters look at.
pub fn first(data: &[u8]) -> &[u8] {
    split(data)[0]
}

/// `data` cut at every [`SEPARATOR`].
fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut rest = data;
    while let Some(at) = find(rest, SEPARATOR) {
        parts.push(&rest[..at]);
        rest = &rest[at + SEPARATOR.len()..];
    }
    parts.push(rest);
    parts
}

/// Where `needle` first occurs in `hay`: a scan for its first byte (a newline, rare in
/// images of many MiB, and the scan is fast), then a comparison.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = hay[from..].iter().position(|&b| b == needle[0]) {
        let at = from + at;
        if hay[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}
