//! Memory stays bounded on hostile inputs, measured: `snapsift scan` runs under GNU time
//! (`/usr/bin/time -f %M`) on a disk whose files are decompression bombs and zips nested in
//! gzip streams (which must be held in memory to be read), and on a sparse disk of 2^63
//! bytes; its peak RSS stays under the 80 MiB the README's benchmark gives for every input.

mod common;

use std::fs;
use std::io::Write;

use common::*;
use serde_json::Value;

/// The benchmark's figure: "Peak RSS stays under 80 MiB for every input".
const MAX_RSS_KIB: u64 = 80 << 10;

/// Where each finding of `secret` is: its path with archive members (`/a.gz!/b`).
fn places(findings: &[Value], secret: &str) -> Vec<String> {
    let mut places: Vec<String> = findings
        .iter()
        .filter(|f| f["secret"].as_str().is_some_and(|s| s.contains(secret)))
        .map(|f| {
            let location = &f["location"];
            let mut place = location["path"].as_str().unwrap_or("?").to_owned();
            for layer in location["container"].as_array().into_iter().flatten() {
                if let Some(member) = layer["member"].as_str() {
                    place.push_str("!/");
                    place.push_str(member);
                }
            }
            place
        })
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

    let (findings, rss) = scan_measured(&disk, &["--threads", "3"]);
    println!("peak RSS with bombs and 3 zips held in memory, 3 threads: {rss} KiB");
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

    let (findings, rss) = scan_measured(&disk, &[]);
    println!("peak RSS on a sparse disk of 2^63 - 1 bytes: {rss} KiB");
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
