//! NTFS trees written through an `ntfs-3g` mount ([`snapsift_testkit::Mount`]), and what The
//! Sleuth Kit says of the images.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::Command;

use snapsift_testkit::{compressed_dir, noise, run_stdout};

/// A credentials file, small enough to be resident in its MFT record.
pub const CREDENTIALS: &[u8] = b"[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n\
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n";

/// What a generated tree holds: live files and streams (`/path` or `/path:stream`) with
/// their contents, and the paths deleted afterwards.
#[derive(Debug, Default)]
pub struct Tree {
    /// Live files and streams.
    pub live: BTreeMap<String, Vec<u8>>,
    /// Deleted files, with what they held.
    pub deleted: BTreeMap<String, Vec<u8>>,
}

impl Tree {
    /// Writes `bytes` to `path` (with `:stream` for a named stream) under `root`.
    pub fn put(&mut self, root: &Path, path: &str, bytes: &[u8]) {
        let host = root.join(path);
        let file_part = path.split(':').next().unwrap();
        fs::create_dir_all(root.join(file_part).parent().unwrap()).unwrap();
        fs::write(&host, bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
        self.live.insert(format!("/{path}"), bytes.to_vec());
    }

    /// Deletes `path` under `root`.
    pub fn delete(&mut self, root: &Path, path: &str) {
        fs::remove_file(root.join(path)).unwrap();
        let key = format!("/{path}");
        let bytes = self.live.remove(&key).unwrap();
        self.live.retain(|k, _| !k.starts_with(&format!("{key}:")));
        self.deleted.insert(key, bytes);
    }
}

/// Text that compresses well.
pub fn text(lines: usize) -> Vec<u8> {
    (0..lines)
        .flat_map(|i| format!("{i:06} INFO request served in {} ms\n", i % 97).into_bytes())
        .collect()
}

/// Fills `root` with a tree exercising what NTFS stores in different ways: resident and
/// non-resident files, nested directories, a directory of `many` entries (an index in
/// clusters), a sparse file, alternate data streams, a compressed directory, a file
/// fragmented over the holes of deleted files, and deleted files (`/trash`).
pub fn populate(root: &Path, many: usize) -> Tree {
    let mut tree = Tree::default();
    tree.put(root, "Users/bob/.aws/credentials", CREDENTIALS);
    tree.put(root, "Users/bob/Documents/notes.txt", &noise(1, 5000));
    tree.put(root, "Users/bob/tiny.txt", b"hi there\n");
    tree.put(root, "Users/bob/resident-600.bin", &noise(2, 600));
    tree.put(root, "deep/a/b/c/d/e/f/leaf.txt", &noise(3, 1200));
    tree.put(root, "big.bin", &noise(4, 300_000));
    tree.put(root, "Users/bob/tiny.txt:hidden", b"AKIAIOSFODNN7EXAMPLE\n");
    tree.put(root, "big.bin:bigstream", &noise(6, 20_000));
    for i in 0..many {
        let body = format!("entry {i}\n").repeat(i % 7 + 1);
        tree.put(root, &format!("many/entry_{i:04}.txt"), body.as_bytes());
    }
    // A sparse file: 5000 bytes written 3 MiB in.
    let sparse = fs::File::create(root.join("sparse.img")).unwrap();
    let tail = noise(5, 5000);
    sparse.write_all_at(&tail, 3 << 20).unwrap();
    drop(sparse);
    let mut expected = vec![0u8; 3 << 20];
    expected.extend_from_slice(&tail);
    tree.live.insert("/sparse.img".into(), expected);
    // Compressed: files created in a directory marked compressed are compressed.
    compressed_dir(&root.join("comp"));
    tree.put(root, "comp/log.txt", &text(6000));
    tree.put(root, "comp/random.bin", &noise(7, 70_000));
    let mut mixed = text(1500);
    mixed.extend(noise(8, 40_000));
    mixed.extend(text(1500));
    tree.put(root, "comp/mixed.dat", &mixed);
    tree.put(root, "comp/log.txt:zipped", &text(3000));
    // To be deleted: a non-resident file, a resident one, one with a stream.
    tree.put(root, "trash/old-key.pem", &noise(9, 3000));
    tree.put(root, "trash/old-note.txt", b"password=hunter2\n");
    tree.put(root, "trash/old.bin", &noise(10, 9000));
    tree.put(root, "trash/old.bin:extra", &noise(11, 7000));
    // Fill the volume with 64 KiB files, free every other one, and write a file larger
    // than any hole left: it must be fragmented over the holes.
    let mut filled = Vec::new();
    for i in 0.. {
        let path = format!("fill/f{i:04}");
        let host = root.join(&path);
        fs::create_dir_all(host.parent().unwrap()).unwrap();
        let bytes = noise(1000 + i, 65536);
        let written = fs::File::create(&host).and_then(|mut f| f.write_all(&bytes));
        if written.is_err() {
            let _ = fs::remove_file(&host);
            break;
        }
        tree.live.insert(format!("/{path}"), bytes);
        filled.push(path);
    }
    assert!(filled.len() > 20, "only {} fill files", filled.len());
    for path in filled.iter().step_by(2) {
        tree.delete(root, path);
    }
    // Half of what was freed: more than the free space outside the holes (at most the MFT
    // zone's few MiB and one file's worth at the end).
    let freed = filled.len().div_ceil(2) * 65536;
    tree.put(root, "frag.bin", &noise(12, freed / 2 + 1000));
    for path in ["trash/old-key.pem", "trash/old-note.txt", "trash/old.bin"] {
        tree.delete(root, path);
    }
    fs::remove_dir(root.join("trash")).unwrap();
    tree
}

/// One name `fls -r -p` lists: `r/r 67-128-4:\tbig.bin:secret`, `r/r * 70-128-2:\told`.
#[derive(Clone, Debug)]
pub struct Name {
    /// The MFT record.
    pub record: u64,
    /// Whether TSK sees it as deleted.
    pub deleted: bool,
    /// `/path`, `/path:stream`.
    pub path: String,
}

/// `fls -r -p` of the NTFS at sector `offset` of `image`.
pub fn fls(image: &Path, offset: u64) -> Vec<Name> {
    let offset = offset.to_string();
    run_stdout("fls", &["-r", "-p", "-o", &offset, image.to_str().unwrap()])
        .lines()
        .filter_map(|line| {
            let (head, path) = line.split_once(":\t")?;
            let mut fields = head.split_whitespace();
            let kind = fields.next()?;
            if kind == "V/V" {
                return None; // TSK's virtual $OrphanFiles directory.
            }
            let mut number = fields.next()?;
            let deleted = number == "*";
            if deleted {
                number = fields.next()?;
            }
            let number = number.trim_end_matches("(realloc)");
            // The record, then the attribute's type and id (`67-128-4`) where given.
            let record = number.split('-').next()?;
            Some(Name {
                record: record.parse().ok()?,
                deleted,
                path: format!("/{path}"),
            })
        })
        .collect()
}

/// One attribute `istat` lists.
#[derive(Clone, Debug)]
pub struct IstatAttribute {
    /// `$DATA`, `$INDEX_ALLOCATION`...
    pub kind: String,
    /// Its type and id, `128-2`.
    pub id: String,
    /// Its name, `None` for N/A.
    pub name: Option<String>,
    /// Resident.
    pub resident: bool,
    /// Compressed.
    pub compressed: bool,
    /// Its size.
    pub size: u64,
    /// Its clusters in order (0 for a sparse cluster, except for `$Boot`).
    pub clusters: Vec<u64>,
}

/// What `istat` says of a record.
#[derive(Clone, Debug)]
pub struct Istat {
    /// Allocated (in use).
    pub allocated: bool,
    /// Its attributes.
    pub attributes: Vec<IstatAttribute>,
    /// `$FILE_NAME` values: (name, parent record).
    pub names: Vec<(String, u64)>,
}

/// `istat` of record `record` in the NTFS at sector `offset` of `image`.
pub fn istat(image: &Path, offset: u64, record: u64) -> Istat {
    let out = run_stdout(
        "istat",
        &[
            "-o",
            &offset.to_string(),
            image.to_str().unwrap(),
            &record.to_string(),
        ],
    );
    let mut istat = Istat {
        allocated: out
            .lines()
            .any(|l| l == "Allocated File" || l == "Allocated Directory"),
        attributes: Vec::new(),
        names: Vec::new(),
    };
    let mut in_attributes = false;
    let mut in_name = false;
    let mut name = None;
    for line in out.lines() {
        if line.starts_with("$FILE_NAME Attribute Values:") {
            in_name = true;
            continue;
        }
        if in_name {
            if let Some(rest) = line.strip_prefix("Name: ") {
                name = Some(rest.to_string());
            }
            if let Some(rest) = line.strip_prefix("Parent MFT Entry: ") {
                let parent = rest.split_whitespace().next().and_then(|p| p.parse().ok());
                istat
                    .names
                    .push((name.take().unwrap_or_default(), parent.unwrap_or(0)));
                in_name = false;
            }
        }
        if line.starts_with("Attributes:") {
            in_attributes = true;
            continue;
        }
        if !in_attributes {
            continue;
        }
        // With an attribute list, istat first lists its entries ("Type: 128-1 MFT Entry: 65").
        if let Some((kind, rest)) = line.strip_prefix("Type: ").and_then(|r| r.split_once(" (")) {
            let (id, rest) = rest.split_once(')').unwrap();
            let name = rest
                .split("Name: ")
                .nth(1)
                .unwrap()
                .split("   ")
                .next()
                .unwrap()
                .to_string();
            let size = rest
                .split("size: ")
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            istat.attributes.push(IstatAttribute {
                kind: kind.to_string(),
                id: id.to_string(),
                name: (name != "N/A").then_some(name),
                resident: rest.contains("   Resident"),
                compressed: rest.contains("Compressed"),
                size,
                clusters: Vec::new(),
            });
        } else if let Some(last) = istat.attributes.last_mut() {
            last.clusters.extend(
                line.split_whitespace()
                    .filter_map(|w| w.parse::<u64>().ok()),
            );
        }
    }
    istat
}

/// `icat` of `address` (`67`, `67-128-4`) in the NTFS at sector `offset` of `image`.
pub fn icat(image: &Path, offset: u64, address: &str) -> Vec<u8> {
    let out = Command::new("icat")
        .args(["-o", &offset.to_string(), image.to_str().unwrap(), address])
        .output()
        .unwrap();
    assert!(out.status.success(), "icat {address}");
    out.stdout
}
