//! Memory per listed file, measured: `snapsift scan` runs under GNU time (`/usr/bin/time -f
//! %M`) on an ext4 of 200,000 small files and on one of the same size holding the same
//! amount of data in one file; the difference in peak RSS, divided by the files, must stay
//! under 100 bytes, with and without the file pass (10 million files then cost under 1 GiB).
//! Hostile names ride along and must come back exact: bytes that are not UTF-8, a name of 255
//! bytes, a directory chain 200 deep.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde_json::Value;
use snapsift_testkit::{Secrets, run, workdir};

use crate::common::*;

/// Small files in the crowded image.
const FILES: u64 = 200_000;
/// Files per directory.
const PER_DIR: u64 = 1000;
/// Bytes per block of both images.
const BLOCK: u64 = 1024;
/// The bound: 10 million files under 1 GiB, with room for what a scan costs anyway.
const MAX_BYTES_PER_FILE: u64 = 100;
/// Directories in the deep chain.
const DEPTH: usize = 200;

/// The paths where `findings` place `secret`, sorted, each once.
fn paths_of(findings: &[Value], secret: &str) -> Vec<String> {
    let mut paths: Vec<String> = findings
        .iter()
        .filter(|f| f["secret"].as_str() == Some(secret))
        .map(|f| f["location"]["path"].as_str().unwrap_or("?").to_owned())
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// Writes the files with hostile names into `root`, each holding one generated key; returns
/// (key, the path the report must give).
fn hostile_files(root: &Path, secrets: &mut Secrets) -> Vec<(String, String)> {
    let mut planted = Vec::new();
    let mut plant = |path: PathBuf, shown: String| {
        let key = secrets.aws_key_id();
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, format!("aws_access_key_id = {key}\n")).unwrap();
        planted.push((key, shown));
    };
    // Not UTF-8: each bad byte reads as U+FFFD, the rest exact.
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9-\xff\xfe.env");
    plant(root.join(name), "/caf\u{fffd}-\u{fffd}\u{fffd}.env".into());
    // The longest name ext4 takes.
    let long = format!("{}.env", "n".repeat(251));
    plant(root.join(&long), format!("/{long}"));
    // A chain of directories deep enough that a path is 1,800 bytes.
    let mut deep = root.to_path_buf();
    let mut shown = String::new();
    for level in 0..DEPTH {
        let dir = format!("d{level:04}-x");
        deep.push(&dir);
        shown.push('/');
        shown.push_str(&dir);
    }
    plant(deep.join("deep.env"), format!("{shown}/deep.env"));
    planted
}

/// Makes an ext4 image of `size` bytes with 1 KiB blocks and room for `FILES` inodes and
/// more, from `tree`.
fn mkfs(image: &Path, tree: &Path, size: u64) {
    let inodes = (FILES + FILES / PER_DIR + 2 * DEPTH as u64 + 1000).to_string();
    run(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-b",
            &BLOCK.to_string(),
            "-N",
            &inodes,
            "-E",
            "root_owner=0:0",
            "-d",
            tree.to_str().unwrap(),
            image.to_str().unwrap(),
            &format!("{}K", size / 1024),
        ],
    );
}

#[test]
fn memory_per_listed_file_stays_under_100_bytes() {
    let shm = tempfile::Builder::new()
        .prefix("snapsift-many-")
        .tempdir_in("/dev/shm")
        .expect("/dev/shm is a tmpfs");
    let dir = workdir();
    let image_size = 400 << 20;
    let mut secrets = Secrets::new(83);

    // The crowded image: FILES small files (one block each), and the hostile names.
    let crowded_tree = shm.path().join("crowded");
    let planted = hostile_files(&crowded_tree, &mut secrets);
    for d in 0..FILES / PER_DIR {
        let sub = crowded_tree.join(format!("dir-{d:04}"));
        fs::create_dir(&sub).unwrap();
        for i in 0..PER_DIR {
            let n = d * PER_DIR + i;
            fs::write(
                sub.join(format!("file-{n:07}.txt")),
                format!("small file {n}\n"),
            )
            .unwrap();
        }
    }
    let crowded = dir.path().join("crowded.img");
    mkfs(&crowded, &crowded_tree, image_size);
    fs::remove_dir_all(&crowded_tree).unwrap();

    // The baseline: the same hostile files, and the small files' blocks of data in one file,
    // so that the sweep reads as much in both.
    let base_tree = shm.path().join("base");
    let again = hostile_files(&base_tree, &mut Secrets::new(83));
    assert_eq!(again, planted);
    let filler: Vec<u8> = b"filler bytes, not a secret\n"
        .iter()
        .copied()
        .cycle()
        .take((FILES * BLOCK) as usize)
        .collect();
    fs::write(base_tree.join("filler.txt"), filler).unwrap();
    let base = dir.path().join("base.img");
    mkfs(&base, &base_tree, image_size);
    fs::remove_dir_all(&base_tree).unwrap();

    for extra in [&[][..], &["--no-file-pass"][..]] {
        let Measured {
            findings: base_findings,
            rss: base_rss,
            ..
        } = scan_measured(&base, extra);
        let Measured { findings, rss, .. } = scan_measured(&crowded, extra);
        for (key, path) in &planted {
            assert_eq!(paths_of(&base_findings, key), [path.as_str()], "{extra:?}");
            assert_eq!(paths_of(&findings, key), [path.as_str()], "{extra:?}");
        }
        let per_file = rss.saturating_sub(base_rss) * 1024 / FILES;
        println!(
            "{extra:?}: peak RSS {rss} KiB with {FILES} files, {base_rss} KiB without: \
             {per_file} bytes per file"
        );
        assert!(
            per_file < MAX_BYTES_PER_FILE,
            "{extra:?}: {per_file} bytes per file ({rss} KiB against {base_rss} KiB)"
        );
    }
}
