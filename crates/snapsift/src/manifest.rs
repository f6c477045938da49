//! What `snapsift scan` scans: the paths on its command line and the images a `--manifest`
//! lists.
//!
//! A manifest is a text file, one image per line: a path, or a JSON object
//! `{"id": "snap-0123", "path": "/dev/nvme1n1"}` whose `id` (optional) names the image in the
//! report instead of its path: the name a fleet knows it by, where paths are only where it
//! happens to be attached. Blank lines and lines starting with `#` are skipped. The whole
//! manifest is read and checked before anything is scanned: a line that is not a path or such
//! an object, or an id given twice, is an error naming the line.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

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
            name: path.display().to_string(),
            path: path.to_path_buf(),
        }
    }
}

/// A manifest line in JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: Option<String>,
    path: PathBuf,
}

/// The targets of a scan: `paths`, then the images of the manifest `manifest`, if any.
pub fn targets(paths: &[PathBuf], manifest: Option<&Path>) -> anyhow::Result<Vec<Target>> {
    let mut targets: Vec<Target> = paths.iter().map(|p| Target::at(p)).collect();
    if let Some(manifest) = manifest {
        targets.extend(read(manifest)?);
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
fn read(path: &Path) -> anyhow::Result<Vec<Target>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the manifest {}", path.display()))?;
    let mut targets = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let at = || format!("manifest {}, line {}", path.display(), number + 1);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let target = if line.starts_with('{') {
            let entry: Entry = serde_json::from_str(line)
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
            Target::at(Path::new(line))
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

    fn manifest(text: &str) -> anyhow::Result<Vec<Target>> {
        let dir = std::env::temp_dir().join(format!("snapsift-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{:x}.txt", text.len()));
        std::fs::write(&file, text).unwrap();
        let result = targets(&[PathBuf::from("a.img")], Some(&file));
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
