//! Partial scans: bytes that cannot be read are listed, the rest of the disk is still scanned,
//! and the exit status is 3, in every output format.
//!
//! Bad sectors are simulated by a FUSE file (`crate::common::faulty`) whose reads fail with EIO where
//! they touch a chosen byte range; `qemu-img map` is the oracle for where a qcow2 image keeps
//! a virtual cluster.

use std::ops::Range;
use std::path::Path;

use serde_json::Value;
use snapsift_testkit::{Secrets, qemu_convert, qemu_map, workdir};

use crate::common::faulty::FaultyFile;
use crate::common::*;

/// A raw disk of text with secrets planted every 2 MiB (and just around `bad`); returns each
/// secret with its offset.
fn planted_disk(path: &Path, size: usize, bad: &Range<u64>) -> Vec<(u64, String)> {
    let mut secrets = Secrets::new(31);
    let mut bytes = secrets.filler(size);
    let mut offsets: Vec<u64> = (1..(size as u64 >> 21)).map(|i| (i << 21) + 777).collect();
    offsets.extend([bad.start - 300, bad.start + 100, bad.end + 300]);
    offsets.sort_unstable();
    let planted: Vec<(u64, String)> = offsets
        .into_iter()
        .map(|at| (at, secrets.aws_key_id()))
        .collect();
    for (at, secret) in &planted {
        let at = *at as usize;
        bytes[at - 1] = b' ';
        bytes[at..at + secret.len()].copy_from_slice(secret.as_bytes());
        bytes[at + secret.len()] = b' ';
    }
    std::fs::write(path, bytes).unwrap();
    planted
}

/// Checks one image's partial scan: the unreadable ranges cover `bad` (in disk offsets), are
/// whole 4 KiB blocks, and no more than `most` bytes; every planted secret outside them was
/// found, and none inside.
fn assert_partial(scan: &Scan, bad: &Range<u64>, most: u64, planted: &[(u64, String)]) {
    let coverage = assert_partial_scan(scan);
    let ranges: Vec<Range<u64>> = unreadable(coverage).into_iter().map(|(r, _)| r).collect();
    assert!(!ranges.is_empty(), "{coverage}");
    assert!(
        ranges
            .iter()
            .any(|r| r.start <= bad.start && bad.end <= r.end),
        "{ranges:?} must cover {bad:?}"
    );
    for r in &ranges {
        assert!(r.start % 4096 == 0 && r.end % 4096 == 0, "{r:?}");
    }
    let total: u64 = ranges.iter().map(|r| r.end - r.start).sum();
    assert!(total <= most, "{total} bytes unreadable: {ranges:?}");
    assert_eq!(coverage["unreadable_bytes"], total);
    assert_eq!(
        coverage["scanned_bytes"].as_u64().unwrap() + total,
        coverage["data_bytes"].as_u64().unwrap()
    );
    for u in coverage["unreadable"].as_array().unwrap() {
        let reason = u["reason"].as_str().unwrap();
        assert!(reason.contains("Input/output error"), "{reason}");
    }
    let found = scan.by_secret();
    for (at, secret) in planted {
        let end = at + secret.len() as u64;
        let lost = ranges.iter().any(|r| r.start < end && *at < r.end);
        match found.get(secret) {
            Some((_, offsets)) => {
                assert!(!lost, "{secret} at {at} lies in an unreadable range");
                assert_eq!(offsets, &vec![*at], "{secret}");
            }
            None => assert!(lost, "{secret} at {at} was readable and not found"),
        }
    }
}

#[test]
fn bad_sectors_in_a_raw_image_are_listed_and_the_rest_is_scanned() {
    let dir = workdir();
    let source = path_in(&dir, "disk.img");
    let bad = (40 << 20) + 5000..(40 << 20) + 5001;
    let planted = planted_disk(&source, 64 << 20, &bad);
    let faulty = FaultyFile::mount(&source, bad.clone(), dir.path());

    // A read of the bad bytes fails, as it would on a bad sector.
    let file = std::fs::File::open(&faulty.path).unwrap();
    let mut buf = [0u8; 16];
    let error = std::os::unix::fs::FileExt::read_exact_at(&file, &mut buf, bad.start).unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::EIO));

    // Several threads and chunk sizes: the bad block is read around wherever it falls.
    for extra in [
        &["--threads", "1"][..],
        &["--chunk-size", "65536"][..],
        &[][..],
    ] {
        let scan = Scan::run(&[&faulty.path], extra);
        assert_partial(&scan, &bad, 1 << 20, &planted);
        // Only the three secrets planted in the bad block itself are lost.
        assert_eq!(scan.findings.len(), planted.len() - 3, "{extra:?}");
    }

    // The other formats say it too.
    let text = snapsift()
        .args(["scan", "--quiet"])
        .arg(&faulty.path)
        .output()
        .unwrap();
    assert_eq!(text.status.code(), Some(EXIT_PARTIAL));
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("\ncoverage:\n"), "{text}");
    assert!(text.contains(": PARTIAL: "), "{text}");
    assert!(text.contains("  unreadable: offset "), "{text}");

    let json = snapsift()
        .args(["scan", "--quiet", "--format", "json"])
        .arg(&faulty.path)
        .output()
        .unwrap();
    assert_eq!(json.status.code(), Some(EXIT_PARTIAL));
    let doc: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["summary"]["complete"], false);
    assert!(!unreadable(&doc["coverage"][0]).is_empty());

    let sarif = snapsift()
        .args(["scan", "--quiet", "--format", "sarif"])
        .arg(&faulty.path)
        .output()
        .unwrap();
    assert_eq!(sarif.status.code(), Some(EXIT_PARTIAL));
    let log: Value = serde_json::from_slice(&sarif.stdout).unwrap();
    let invocation = &log["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let notes = invocation["toolExecutionNotifications"].as_array().unwrap();
    let region = &notes[0]["locations"][0]["physicalLocation"]["region"];
    let start = region["byteOffset"].as_u64().unwrap();
    let len = region["byteLength"].as_u64().unwrap();
    assert!(start <= bad.start && bad.end <= start + len, "{region}");
}

#[test]
fn a_partial_scan_of_one_image_does_not_hide_an_error_in_another() {
    let dir = workdir();
    let source = path_in(&dir, "disk.img");
    let bad = (4 << 20)..(4 << 20) + 1;
    planted_disk(&source, 8 << 20, &bad);
    let faulty = FaultyFile::mount(&source, bad, dir.path());
    let missing = path_in(&dir, "missing.img");
    let scan = Scan::run(&[&faulty.path, &missing, &source], &[]);
    assert_eq!(scan.code, 2, "an image not scanned at all is an error");
    assert_eq!(scan.coverage.len(), 3);
    assert_eq!(scan.coverage[0]["complete"], false);
    assert!(scan.coverage[0].get("error").is_none());
    assert!(
        scan.coverage[1]["error"]
            .as_str()
            .unwrap()
            .contains("missing.img")
    );
    assert_eq!(scan.coverage[2]["complete"], true);
}

/// Where `qemu-img map` says the virtual bytes at `virtual_offset` lie in the image file.
fn host_offset(image: &Path, virtual_offset: u64) -> u64 {
    let extents = qemu_map(image);
    extents
        .iter()
        .find_map(|e| {
            let start = e["start"].as_u64().unwrap();
            let length = e["length"].as_u64().unwrap();
            let data = e["data"].as_bool().unwrap();
            (data && start <= virtual_offset && virtual_offset < start + length)
                .then(|| e["offset"].as_u64().unwrap() + (virtual_offset - start))
        })
        .expect("the offset is allocated")
}

#[test]
fn a_bad_cluster_of_a_qcow2_image_is_listed_by_its_virtual_offsets() {
    let dir = workdir();
    let raw = path_in(&dir, "disk.img");
    let bad_virtual = (20 << 20) + 3000..(20 << 20) + 3001;
    let planted = planted_disk(&raw, 32 << 20, &bad_virtual);
    let qcow2 = path_in(&dir, "disk.qcow2");
    qemu_convert(&raw, "qcow2", &[], &qcow2);
    let at = host_offset(&qcow2, bad_virtual.start);
    let faulty = FaultyFile::mount(&qcow2, at..at + 1, dir.path());
    let scan = Scan::run(&[&faulty.path], &[]);
    // The loss is the cluster (64 KiB) that holds the bad sector, or the pages the kernel
    // read around it, never more than a few clusters.
    assert_partial(&scan, &bad_virtual, 256 << 10, &planted);
    assert!(
        scan.coverage[0]["format"]
            .as_str()
            .unwrap()
            .starts_with("qcow2"),
        "{}",
        scan.coverage[0]
    );
}
