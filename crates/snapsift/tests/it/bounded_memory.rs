//! Memory stays bounded on hostile inputs, measured: `snapsift scan` runs under GNU time
//! (`/usr/bin/time -f %M`) on a disk whose files are decompression bombs and zips nested in
//! gzip streams (which must be held in memory to be read), on zstd files at the largest
//! window the file pass decodes, and on a sparse disk of 2^63 bytes; its peak RSS stays under
//! the 80 MiB the benchmark (docs/benchmark.md) gives for every input.

use std::fs;
use std::io::Write;

use serde_json::Value;
use snapsift_testkit::{Secrets, dd_into, mkfs_ext4, run, sh, sparse_file, workdir, write_at};

use crate::common::*;

/// The benchmark's figure: "Peak RSS stays under 80 MiB for every input".
const MAX_RSS_KIB: u64 = 80 << 10;

/// Where each finding of `secret` is: its path with archive members (`/a.gz!/b`).
fn places(findings: &[Value], secret: &str) -> Vec<String> {
    let mut places: Vec<String> = findings
        .iter()
        .filter(|f| f["secret"].as_str().is_some_and(|s| s.contains(secret)))
        .map(member_path)
        .collect();
    places.sort();
    places.dedup();
    places
}

#[test]
fn bombs_and_zips_held_in_memory_stay_within_the_benchmarks_rss() {
    let dir = workdir();
    let tree = dir.path().join("tree");
    fs::create_dir_all(&tree).unwrap();
    // Three gzip streams each holding a zip of 24 MiB: zip's directory is at its end, so each
    // is held in memory to be read. One per thread at once used to cost 24 MiB per thread.
    let mut secrets = Secrets::new(81);
    let key = secrets.aws_key_id();
    let mut log = secrets.filler(24 << 20);
    log.extend_from_slice(format!("\naws_access_key_id = {key}\n").as_bytes());
    fs::write(dir.path().join("log.txt"), &log).unwrap();
    sh(
        dir.path(),
        "zip -q -0 big.zip log.txt && gzip -1 -c big.zip > tree/big-1.zip.gz \
         && cp tree/big-1.zip.gz tree/big-2.zip.gz && cp tree/big-1.zip.gz tree/big-3.zip.gz",
    );
    // A nested zip bomb (1000 leaves of 20 MiB of zeros, 20 GiB in all, its middle level
    // deflated so that those zips are held in memory too) and a gzip of 100 MiB of zeros.
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/nested-zip-bomb.sh"
    );
    sh(
        &tree,
        &format!("sh {script} && head -c 100M /dev/zero | gzip -c > zeros.gz"),
    );
    let fs_image = dir.path().join("fs.img");
    mkfs_ext4(&fs_image, &tree, 64);
    let disk = dir.path().join("disk.img");
    sparse_file(&disk, 80 << 20);
    run(
        "sgdisk",
        &["-n", "1:2048:+66M", "-t", "1:8300", disk.to_str().unwrap()],
    );
    dd_into(&disk, &fs_image, 1 << 20);

    let Measured {
        code,
        findings,
        coverage,
        rss,
    } = scan_measured(&disk, &["--threads", "3"]);
    println!("peak RSS with bombs and 3 zips held in memory, 3 threads: {rss} KiB");
    // The zip bomb is cut at its file's budget (a partial scan); 100 MiB of zeros are not a
    // bomb (under the 128 MiB floor) and are read whole.
    assert_eq!(code, 3);
    let problems = coverage["file_problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{coverage:#}");
    assert_eq!(problems[0]["path"], "/bomb.zip");
    assert_eq!(problems[0]["limit"]["name"], "expansion_budget");
    assert_eq!(
        places(&findings, &key),
        [
            "/big-1.zip.gz!/log.txt",
            "/big-2.zip.gz!/log.txt",
            "/big-3.zip.gz!/log.txt"
        ],
        "every nested zip was read"
    );
    assert!(
        rss < MAX_RSS_KIB,
        "peak RSS {rss} KiB, more than {MAX_RSS_KIB} KiB"
    );
}

/// Three zstd files, each with the largest window the file pass decodes (8 MiB), read on
/// three threads at once: each decoder holds its window.
#[test]
fn zstd_files_at_the_largest_window_stay_within_the_benchmarks_rss() {
    let dir = workdir();
    let tree = dir.path().join("tree");
    fs::create_dir_all(&tree).unwrap();
    let mut secrets = Secrets::new(83);
    let mut keys = Vec::new();
    for i in 0..3 {
        let key = secrets.aws_key_id();
        let mut text = secrets.filler(16 << 20);
        text.extend_from_slice(format!("\naws_access_key_id = {key}\n").as_bytes());
        fs::write(dir.path().join(format!("{i}.txt")), &text).unwrap();
        keys.push(key);
    }
    sh(
        dir.path(),
        "for i in 0 1 2; do zstd -q -3 --zstd=wlog=23 -c < $i.txt > tree/$i.txt.zst; done",
    );
    let listed = run("zstd", &["-lv", tree.join("0.txt.zst").to_str().unwrap()]);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(listed.contains("(8388608 B)"), "an 8 MiB window: {listed}");
    let fs_image = dir.path().join("fs.img");
    mkfs_ext4(&fs_image, &tree, 48);

    let Measured {
        code,
        findings,
        coverage,
        rss,
    } = scan_measured(&fs_image, &["--threads", "3"]);
    println!("peak RSS with 3 zstd files of 8 MiB windows, 3 threads: {rss} KiB");
    assert_eq!(code, 1);
    assert_eq!(coverage["complete"], true, "{coverage:#}");
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(places(&findings, key), [format!("/{i}.txt.zst")]);
    }
    assert!(
        rss < MAX_RSS_KIB,
        "peak RSS {rss} KiB, more than {MAX_RSS_KIB} KiB"
    );
}

#[test]
fn a_sparse_disk_of_2_to_the_63_bytes_is_scanned_end_to_end_in_little_memory() {
    // tmpfs takes files up to 2^63 - 1 bytes, sparse; ext4 stops at 16 TiB.
    let dir = tempfile::Builder::new()
        .prefix("snapsift-huge-")
        .tempdir_in("/dev/shm")
        .expect("/dev/shm is a tmpfs");
    let disk = dir.path().join("huge.img");
    let size = i64::MAX as u64;
    sparse_file(&disk, size);
    let mut secrets = Secrets::new(82);
    let (first, last) = (secrets.aws_key_id(), secrets.aws_key_id());
    let near_end = size - 4096;
    let mut file = fs::OpenOptions::new().write(true).open(&disk).unwrap();
    file.write_all(format!("aws_access_key_id = {first}\n").as_bytes())
        .unwrap();
    drop(file);
    write_at(
        &disk,
        near_end,
        format!("aws_access_key_id = {last}\n").as_bytes(),
    );

    let Measured {
        code,
        findings,
        rss,
        ..
    } = scan_measured(&disk, &[]);
    println!("peak RSS on a sparse disk of 2^63 - 1 bytes: {rss} KiB");
    assert_eq!(code, 1);
    let offsets: Vec<u64> = findings
        .iter()
        .filter(|f| f["rule"] == "aws.access-key-id")
        .map(|f| f["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, [20, near_end + 20], "{findings:?}");
    assert!(
        rss < MAX_RSS_KIB,
        "peak RSS {rss} KiB, more than {MAX_RSS_KIB} KiB"
    );
}
