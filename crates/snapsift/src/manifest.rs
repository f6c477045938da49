//! What `snapsift scan` scans: the paths on its command line and the images a `--manifest`
//! lists.
//!
//! A manifest is a text file, one image per line: a path, or a JSON object
//! `{"id": "snap-0123", "path": "/dev/nvme1n1"}` whose `id` (optional) names the image in the
//! report instead of its path: the name a fleet knows it by, where paths are only where it
//! happens to be attached. Blank lines and lines starting with `#` are skipped. The whole
//! manifest is read and checked before anything is scanned: a line that is not a path or such
//! an object, or an id given twice, is an error naming the line. A path line may hold any
//! bytes but a line break (file names need not be UTF-8); the manifest is read as
//! [`crate::input`] reads the files a user names, at most 64 MiB.
//!
//! An image without an id is named by its path, with each byte that is not UTF-8 written
//! `\xNN` ([`path_name`]): two paths are two names.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::input::{self, ReadFiles};

/// One image to scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The name the report gives it: its id, or its path as given.
    pub name: String,
    /// Where it is.
    pub path: PathBuf,
}

impl Target {
    /// The image at `path`, named by it.
    pub fn at(path: &Path) -> Target {
        Target {
            name: path_name(path),
            path: path.to_path_buf(),
        }
    }
}

/// The name of the image at `path`: the path, with each byte that is not part of UTF-8 text
/// as `\xNN`, so that two paths that differ only there (which `Path::display` would both
/// show as U+FFFD) are two names.
pub fn path_name(path: &Path) -> String {
    let mut name = String::new();
    for chunk in path.as_os_str().as_bytes().utf8_chunks() {
        name.push_str(chunk.valid());
        for byte in chunk.invalid() {
            name.push_str(&format!("\\x{byte:02x}"));
        }
    }
    name
}

/// A manifest line in JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: Option<String>,
    path: PathBuf,
}

/// The targets of a scan: `paths`, then the images of the manifest `manifest`, if any.
/// The manifest is one of the files the run reads (`reads`).
pub fn targets(
    paths: &[PathBuf],
    manifest: Option<&Path>,
    reads: &mut ReadFiles,
) -> anyhow::Result<Vec<Target>> {
    let mut targets: Vec<Target> = paths.iter().map(|p| Target::at(p)).collect();
    if let Some(manifest) = manifest {
        targets.extend(read(manifest, reads)?);
    }
    let mut names = HashSet::new();
    for target in &targets {
        if !names.insert(target.name.as_str()) {
            bail!(
                "{} is named twice among the images to scan: reports join images by name",
                target.name
            );
        }
    }
    Ok(targets)
}

/// The images the manifest `path` lists.
fn read(path: &Path, reads: &mut ReadFiles) -> anyhow::Result<Vec<Target>> {
    let bytes = input::read_bytes(path, "the manifest", reads)?;
    let mut targets = Vec::new();
    for (number, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let at = || format!("manifest {}, line {}", path.display(), number + 1);
        let line = line.trim_ascii();
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let target = if line.starts_with(b"{") {
            let entry: Entry = serde_json::from_slice(line)
                .with_context(|| format!("{}: not {{\"id\": ..., \"path\": ...}}", at()))?;
            if entry.path.as_os_str().is_empty() {
                bail!("{}: the path is empty", at());
            }
            match entry.id {
                Some(id) if id.trim().is_empty() => bail!("{}: the id is empty", at()),
                Some(id) => Target {
                    name: id,
                    path: entry.path,
                },
                None => Target::at(&entry.path),
            }
        } else {
            Target::at(Path::new(OsStr::from_bytes(line)))
        };
        targets.push(target);
    }
    if targets.is_empty() {
        bail!("the manifest {} lists no image", path.display());
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(text: impl AsRef<[u8]>) -> anyhow::Result<Vec<Target>> {
        let text = text.as_ref();
        let dir = std::env::temp_dir().join(format!("snapsift-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{:x}.txt", text.len()));
        std::fs::write(&file, text).unwrap();
        let result = targets(
            &[PathBuf::from("a.img")],
            Some(&file),
            &mut ReadFiles::default(),
        );
        std::fs::remove_file(&file).unwrap();
        result
    }

    #[test]
    fn paths_and_json_lines_with_ids() {
        let got = manifest(
            "# images\n/srv/b.qcow2\n\n{\"id\": \"snap-1\", \"path\": \"/dev/nvme1n1\"}\n{\"path\": \"c.vhdx\"}\n",
        )
        .unwrap();
        let names: Vec<(&str, &str)> = got
            .iter()
            .map(|t| (t.name.as_str(), t.path.to_str().unwrap()))
            .collect();
        assert_eq!(
            names,
            [
                ("a.img", "a.img"),
                ("/srv/b.qcow2", "/srv/b.qcow2"),
                ("snap-1", "/dev/nvme1n1"),
                ("c.vhdx", "c.vhdx"),
            ]
        );
    }

    #[test]
    fn paths_that_are_not_utf8_keep_their_bytes_apart() {
        let a = Path::new(OsStr::from_bytes(b"/srv/d\xff.img"));
        let b = Path::new(OsStr::from_bytes(b"/srv/d\xfe.img"));
        assert_eq!(path_name(a), "/srv/d\\xff.img");
        assert_eq!(path_name(b), "/srv/d\\xfe.img");
        assert_eq!(path_name(Path::new("/srv/dé.img")), "/srv/dé.img");
        let got = manifest(b"/srv/d\xff.img\n/srv/d\xfe.img\n").unwrap();
        assert_eq!(got[1].path, a);
        assert_eq!(got[2].path, b);
    }

    #[test]
    fn bad_lines_and_twice_named_images_are_errors() {
        for (text, message) in [
            ("{\"id\": \"x\"}\n", "line 1: not {"),
            (
                "b.img\n{\"id\": \"x\", \"path\": \"b\", \"size\": 1}\n",
                "line 2: not {",
            ),
            (
                "{\"id\": \"\", \"path\": \"b\"}\n",
                "line 1: the id is empty",
            ),
            ("# nothing\n", "lists no image"),
            (
                "{\"id\": \"a.img\", \"path\": \"b\"}\n",
                "a.img is named twice",
            ),
        ] {
            let error = format!("{:#}", manifest(text).unwrap_err());
            assert!(error.contains(message), "{text:?}: {error}");
        }
    }
}
