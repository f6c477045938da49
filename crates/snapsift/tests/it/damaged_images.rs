//! Damaged images lose the stretch of the disk the damage maps, never the whole image: a table
//! that cannot be read (qcow2 L2, VHD and VHDX BAT, VMDK grain table: EIO from a FUSE file,
//! `crate::common::faulty`) or an image cut short (VHD, VHDX, VMDK sparse and streamOptimized, a
//! descriptor whose extent is missing or short) is a partial scan: exit status 3, the lost
//! stretch listed as unreadable with its cause, and every secret outside it found.
//!
//! Images are made by `qemu-img convert` from sparse raw disks with secrets planted at known
//! offsets; the oracle for where the lost bytes are is `qemu-img map` on the undamaged image
//! (for VHDX, whose map gives no file offsets, where each secret lies in the file), and for
//! tables the format's own layout, read here with the specification's field offsets.

use std::fs::OpenOptions;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use snapsift_testkit::{Secrets, qemu_convert, qemu_map, sparse_file, workdir, write_at};

use crate::common::faulty::FaultyFile;
use crate::common::*;

const MIB: u64 = 1 << 20;

/// A sparse raw disk of `size` bytes with a secret, in a kilobyte of filler text, at each of
/// `offsets`; returns each secret with its offset.
fn plant(path: &Path, size: u64, offsets: &[u64]) -> Vec<(u64, String)> {
    sparse_file(path, size);
    let file = OpenOptions::new().write(true).open(path).unwrap();
    let mut secrets = Secrets::new(size ^ offsets.len() as u64);
    offsets
        .iter()
        .map(|&at| {
            let secret = secrets.aws_key_id();
            let mut text = secrets.filler(1024);
            text[99] = b' ';
            text[100..100 + secret.len()].copy_from_slice(secret.as_bytes());
            text[100 + secret.len()] = b' ';
            file.write_all_at(&text, at - 100).unwrap();
            (at, secret)
        })
        .collect()
}

/// A copy of `image` in a directory of its own (named `name`), cut to `len` bytes.
fn cut_copy(image: &Path, dir: &Path, name: &str, len: u64) -> PathBuf {
    let sub = dir.join(name);
    std::fs::create_dir(&sub).unwrap();
    let copy = sub.join(image.file_name().unwrap());
    std::fs::copy(image, &copy).unwrap();
    OpenOptions::new()
        .write(true)
        .open(&copy)
        .unwrap()
        .set_len(len)
        .unwrap();
    copy
}

/// The virtual stretches whose bytes `qemu-img map` places at or past file offset `cut` in
/// `image` (undamaged): what cutting the file there loses.
fn lost_by_map(image: &Path, cut: u64) -> Vec<Range<u64>> {
    let extents = qemu_map(image);
    let mut lost = Vec::new();
    for e in extents.iter().filter(|e| e["data"] == true) {
        let start = e["start"].as_u64().unwrap();
        let length = e["length"].as_u64().unwrap();
        let offset = e["offset"]
            .as_u64()
            .expect("qemu-img map gives the file offset");
        if offset + length > cut {
            let skip = cut.saturating_sub(offset);
            lost.push(start + skip..start + length);
        }
    }
    lost
}

/// The virtual stretches whose bytes `qemu-img map` places in file bytes `bytes` of `image`.
fn in_file_bytes(image: &Path, bytes: Range<u64>) -> Vec<Range<u64>> {
    let extents = qemu_map(image);
    extents
        .iter()
        .filter(|e| e["data"] == true)
        .filter_map(|e| {
            let (start, length) = (e["start"].as_u64()?, e["length"].as_u64()?);
            let offset = e["offset"].as_u64()?;
            let from = bytes.start.max(offset);
            let to = bytes.end.min(offset + length);
            (from < to).then(|| start + from - offset..start + to - offset)
        })
        .collect()
}

/// Checks a partial scan of a damaged image: exit status 3; the unreadable ranges cover
/// `lost` and at most `slack` bytes more, each with a reason that names `cause`, the first
/// also `what` was lost; every planted secret outside them found at its offset, none inside;
/// some secrets on each side, so that the test means something.
fn assert_lost(
    scan: &Scan,
    lost: &[Range<u64>],
    slack: u64,
    planted: &[(u64, String)],
    what: &str,
    cause: &str,
) {
    let coverage = assert_partial_scan(scan);
    let ranges = unreadable(coverage);
    for want in lost {
        let mut at = want.start;
        while at < want.end {
            let next = ranges
                .iter()
                .find(|(r, _)| r.start <= at && at < r.end)
                .map(|(r, _)| r.end)
                .unwrap_or_else(|| panic!("{ranges:?} must cover {lost:?}, byte {at} is not"));
            at = next;
        }
    }
    let total: u64 = ranges.iter().map(|(r, _)| r.end - r.start).sum();
    let expected: u64 = lost.iter().map(|r| r.end - r.start).sum();
    assert!(
        total <= expected + slack,
        "{total} bytes unreadable, {expected} lost: {ranges:?}"
    );
    assert_eq!(coverage["unreadable_bytes"], total);
    assert_eq!(
        coverage["scanned_bytes"].as_u64().unwrap() + total,
        coverage["data_bytes"].as_u64().unwrap()
    );
    for (_, reason) in &ranges {
        assert!(reason.contains(cause), "{reason:?} must name {cause:?}");
    }
    let first = ranges.iter().find(|(r, _)| r.end > lost[0].start).unwrap();
    assert!(first.1.contains(what), "{:?} must name {what:?}", first.1);
    let found = scan.by_secret();
    let (mut kept, mut gone) = (0, 0);
    for (at, secret) in planted {
        let end = at + secret.len() as u64;
        let in_lost = ranges.iter().any(|(r, _)| r.start < end && *at < r.end);
        match found.get(secret) {
            Some((_, offsets)) => {
                assert!(!in_lost, "{secret} at {at} lies in an unreadable range");
                assert_eq!(offsets, &vec![*at], "{secret}");
                kept += 1;
            }
            None => {
                assert!(in_lost, "{secret} at {at} was readable and not found");
                gone += 1;
            }
        }
    }
    assert!(kept > 0 && gone > 0, "{kept} secrets found, {gone} lost");
}

/// Offsets every `step` from `step` to below `size`, each plus 777.
fn every(step: u64, size: u64) -> Vec<u64> {
    (1..size / step).map(|i| i * step + 777).collect()
}

fn be64(bytes: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(bytes[at..at + 8].try_into().unwrap())
}

fn le64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

fn le32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

#[test]
fn an_unreadable_qcow2_l2_table_loses_the_stretch_it_maps() {
    let dir = workdir();
    let raw = path_in(&dir, "disk.img");
    let planted = plant(&raw, 64 * MIB, &every(MIB, 64 * MIB));
    let image = path_in(&dir, "disk.qcow2");
    // 4 KiB clusters: an L2 table is one page and maps 512 clusters, 2 MiB.
    qemu_convert(&raw, "qcow2", &["-o", "cluster_size=4096"], &image);
    let bytes = std::fs::read(&image).unwrap();
    let l1 = be64(&bytes, 40) as usize;
    let table = be64(&bytes, l1 + 8 * 10) & 0x00ff_ffff_ffff_fe00;
    assert_ne!(table, 0, "the L2 table for 20..22 MiB is allocated");
    let faulty = FaultyFile::mount(&image, table..table + 1, dir.path());
    let scan = Scan::run(&[&faulty.path], &[]);
    assert_lost(
        &scan,
        &[20 * MIB..22 * MIB],
        64 << 10,
        &planted,
        "L2 table",
        "Input/output error",
    );
}

#[test]
fn an_unreadable_page_of_a_qcow2_l1_table_loses_the_gibibyte_it_maps() {
    let dir = workdir();
    let raw = path_in(&dir, "disk.img");
    let size = 1536 * MIB;
    let mut offsets = every(64 * MIB, size);
    offsets.extend([1024 * MIB - 300, 1024 * MIB + 100]);
    offsets.sort_unstable();
    let planted = plant(&raw, size, &offsets);
    let image = path_in(&dir, "disk.qcow2");
    // 4 KiB clusters: an L1 entry maps 2 MiB, a page of the L1 table 1 GiB.
    qemu_convert(&raw, "qcow2", &["-o", "cluster_size=4096"], &image);
    let l1 = be64(&std::fs::read(&image).unwrap(), 40);
    assert_eq!(l1 % 4096, 0);
    let page = l1 + 4096;
    let faulty = FaultyFile::mount(&image, page..page + 1, dir.path());
    let scan = Scan::run(&[&faulty.path], &[]);
    assert_lost(
        &scan,
        &[1024 * MIB..size],
        0,
        &planted,
        "L1",
        "Input/output error",
    );
}

#[test]
fn an_unreadable_page_of_a_vmdk_grain_directory_loses_the_tables_it_names() {
    let dir = workdir();
    let raw = path_in(&dir, "disk.img");
    // 1280 grain tables of 32 MiB: the directory (4 bytes an entry) spans two pages.
    let size = 40 << 30;
    let planted = plant(&raw, size, &every(1 << 30, size));
    let image = path_in(&dir, "disk.vmdk");
    qemu_convert(&raw, "vmdk", &[], &image);
    let bytes = std::fs::read(&image).unwrap();
    let (grain, per_table, gd) = (
        le64(&bytes, 20) * 512,
        le32(&bytes, 44) as u64,
        le64(&bytes, 56) * 512,
    );
    let span = grain * per_table;
    let tables: Vec<u64> = (0..size / span)
        .map(|i| le32(&bytes, (gd + 4 * i) as usize) as u64 * 512)
        .collect();
    // The page after the one the directory starts in: the entries in it, and the tables
    // (2 KiB each) with bytes in it, are lost.
    let page = (gd / 4096 + 1) * 4096;
    let lost: Vec<Range<u64>> = (0..tables.len() as u64)
        .filter(|&i| {
            let entry = gd + 4 * i;
            let table = tables[i as usize];
            (page <= entry && entry < page + 4096)
                || (table < page + 4096 && page < table + 4 * per_table)
        })
        .map(|i| i * span..(i + 1) * span)
        .collect();
    assert!(lost[0].start > 0 && lost.last().unwrap().end < size);
    let faulty = FaultyFile::mount(&image, page..page + 1, dir.path());
    let scan = Scan::run(&[&faulty.path], &[]);
    assert_lost(
        &scan,
        &lost,
        0,
        &planted,
        "grain directory",
        "Input/output error",
    );
}

#[test]
fn an_unreadable_sector_of_a_vhd_bat_loses_the_blocks_it_maps() {
    let dir = workdir();
    let raw = path_in(&dir, "disk.img");
    let size = 1536 * MIB;
    let mut offsets = every(64 * MIB, size);
    offsets.extend([1280 * MIB - 300, 1280 * MIB + 100]);
    offsets.sort_unstable();
    let planted = plant(&raw, size, &offsets);
    let image = path_in(&dir, "disk.vhd");
    qemu_convert(&raw, "vpc", &[], &image);
    let bytes = std::fs::read(&image).unwrap();
    let header = be64(&bytes, 16) as usize;
    let bat = be64(&bytes, header + 16);
    // The BAT's second page (it starts in the first, with the headers): 2 MiB blocks, 4
    // bytes an entry.
    let page = (bat / 4096 + 1) * 4096;
    let blocks = (page - bat) / 4..(page + 4096 - bat) / 4;
    // qemu rounds the disk to its CHS geometry: the footer's current size is the disk's.
    let disk_size = be64(&bytes, 48);
    let lost = blocks.start * 2 * MIB..(blocks.end * 2 * MIB).min(disk_size);
    assert!(lost.start > 0 && lost.start < size);
    // The page may hold the first block's bitmap too: that block is lost with it.
    let mut lost = vec![lost];
    let block = |r: Range<u64>| r.start / (2 * MIB) * 2 * MIB..r.end.next_multiple_of(2 * MIB);
    lost.extend(
        in_file_bytes(&image, page..page + 4096)
            .into_iter()
            .map(block),
    );
    lost.sort_by_key(|r| r.start);
    let faulty = FaultyFile::mount(&image, page..page + 1, dir.path());
    let scan = Scan::run(&[&faulty.path], &[]);
    assert_lost(&scan, &lost, 0, &planted, "", "Input/output error");
    let bat_stretch = unreadable(&scan.coverage[0])
        .into_iter()
        .find(|(r, _)| r.end == lost.last().unwrap().end)
        .unwrap();
    assert!(bat_stretch.1.contains("BAT"), "{bat_stretch:?}");
}

/// The region table GUIDs of a VHDX's BAT and metadata, as stored.
const BAT: [u8; 16] = [
    0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42, 0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08,
];
const METADATA: [u8; 16] = [
    0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b, 0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e,
];

/// Where the region `guid` of a VHDX is in its file, from its region table (at 192 KiB).
fn vhdx_region(bytes: &[u8], guid: [u8; 16]) -> Range<u64> {
    let table = &bytes[192 << 10..256 << 10];
    let count = le32(table, 8) as usize;
    (0..count)
        .map(|i| 16 + 32 * i)
        .find(|&at| table[at..at + 16] == guid)
        .map(|at| le64(table, at + 16)..le64(table, at + 16) + le32(table, at + 24) as u64)
        .expect("the region")
}

#[test]
fn an_unreadable_page_of_a_vhdx_bat_loses_the_blocks_it_maps() {
    let dir = workdir();
    let raw = path_in(&dir, "disk.img");
    let size = 1024 * MIB;
    let mut offsets = every(32 * MIB, size);
    offsets.extend([512 * MIB - 300, 512 * MIB + 100]);
    offsets.sort_unstable();
    let planted = plant(&raw, size, &offsets);
    let image = path_in(&dir, "disk.vhdx");
    qemu_convert(&raw, "vhdx", &["-o", "block_size=1M"], &image);
    let bat = vhdx_region(&std::fs::read(&image).unwrap(), BAT).start;
    // 1 MiB blocks with 512-byte sectors: 4096 blocks a chunk, so entry N is block N here.
    let page = bat + 4096;
    let faulty = FaultyFile::mount(&image, page..page + 1, dir.path());
    let scan = Scan::run(&[&faulty.path], &[]);
    assert_lost(
        &scan,
        &[512 * MIB..1024 * MIB],
        0,
        &planted,
        "BAT",
        "Input/output error",
    );
}

#[test]
fn an_unreadable_vmdk_grain_table_loses_the_grains_it_maps() {
    let dir = workdir();
    let raw = path_in(&dir, "disk.img");
    let size = 512 * MIB;
    let planted = plant(&raw, size, &every(16 * MIB, size));
    let image = path_in(&dir, "disk.vmdk");
    qemu_convert(&raw, "vmdk", &[], &image);
    let bytes = std::fs::read(&image).unwrap();
    let (grain, per_table, gd) = (
        le64(&bytes, 20) * 512,
        le32(&bytes, 44) as u64,
        le64(&bytes, 56),
    );
    let span = grain * per_table;
    let tables: Vec<u64> = (0..size / span)
        .map(|i| le32(&bytes, (gd * 512) as usize + 4 * i as usize) as u64 * 512)
        .collect();
    // The page after the one holding table 8's start, and every table (2 KiB each) with
    // bytes in it.
    let page = (tables[8] / 4096 + 1) * 4096;
    let lost: Vec<Range<u64>> = (0..tables.len() as u64)
        .filter(|&i| {
            let at = tables[i as usize];
            at < page + 4096 && page < at + 4 * per_table
        })
        .map(|i| i * span..(i + 1) * span)
        .collect();
    assert!(
        !lost.is_empty() && gd * 512 + 64 <= page,
        "the directory is elsewhere"
    );
    let faulty = FaultyFile::mount(&image, page..page + 1, dir.path());
    let scan = Scan::run(&[&faulty.path], &[]);
    assert_lost(
        &scan,
        &lost,
        0,
        &planted,
        "grain table",
        "Input/output error",
    );
}

/// Scans `image` cut at each of `cuts`, each cut checked by `check` against the scan.
fn scan_cuts(image: &Path, dir: &Path, cuts: &[u64], mut check: impl FnMut(u64, &Scan)) {
    for (i, &cut) in cuts.iter().enumerate() {
        let copy = cut_copy(image, dir, &format!("cut{i}"), cut);
        check(cut, &Scan::run(&[&copy], &[]));
    }
}

#[test]
fn a_vhd_cut_short_loses_the_blocks_past_the_cut() {
    let dir = workdir();
    let raw = path_in(&dir, "disk.img");
    let planted = plant(&raw, 64 * MIB, &every(MIB, 64 * MIB));
    let image = path_in(&dir, "disk.vhd");
    qemu_convert(&raw, "vpc", &[], &image);
    let len = std::fs::metadata(&image).unwrap().len();
    // Mid-data twice; then inside the BAT (every block is lost, with it).
    let cuts = [len * 3 / 4, len / 2 + 12345, 1536 + 64];
    scan_cuts(&image, dir.path(), &cuts, |cut, scan| {
        let lost = lost_by_map(&image, cut);
        if cut < 4096 {
            assert_eq!(scan.code, EXIT_PARTIAL, "{}", scan.stderr);
            assert_eq!(
                scan.coverage[0]["unreadable_bytes"],
                scan.coverage[0]["disk_size"]
            );
            assert!(scan.findings.is_empty());
            return;
        }
        assert_lost(scan, &lost, 2 * MIB, &planted, "truncated", "truncated");
    });
    // Only the footer cut off: the copy at the start stands in for it, and nothing is lost.
    scan_cuts(&image, &dir.path().join("cut0"), &[len - 512], |_, scan| {
        assert_eq!(scan.code, 1, "{}", scan.stderr);
        assert_eq!(scan.coverage[0]["complete"], true);
        assert_eq!(scan.findings.len(), planted.len());
    });
}

#[test]
fn a_vhdx_cut_short_loses_the_blocks_past_the_cut() {
    let dir = workdir();
    let raw = path_in(&dir, "disk.img");
    let planted = plant(&raw, 64 * MIB, &every(MIB, 64 * MIB));
    let image = path_in(&dir, "disk.vhdx");
    qemu_convert(&raw, "vhdx", &["-o", "block_size=1M"], &image);
    let len = std::fs::metadata(&image).unwrap().len();
    let bytes = std::fs::read(&image).unwrap();
    let metadata_end = vhdx_region(&bytes, METADATA).end;
    // qemu-img map gives no file offsets for VHDX: where each secret lies in the file does.
    let anchors: Vec<usize> = (0..bytes.len() - 20)
        .filter(|&i| &bytes[i..i + 4] == b"AKIA")
        .collect();
    let in_file: Vec<u64> = planted
        .iter()
        .map(|(_, secret)| {
            let at = anchors
                .iter()
                .find(|&&i| bytes[i..].starts_with(secret.as_bytes()));
            *at.unwrap() as u64
        })
        .collect();
    scan_cuts(
        &image,
        dir.path(),
        &[len * 3 / 4, len / 2 + 12345],
        |cut, scan| {
            // The 1 MiB block of each secret cut off is lost; one block more may be (the block
            // cut in the middle, whose secret lies before the cut).
            let lost: Vec<Range<u64>> = planted
                .iter()
                .zip(&in_file)
                .filter(|&(_, &file_at)| file_at + 20 > cut)
                .map(|((at, _), _)| at / MIB * MIB..(at / MIB + 1) * MIB)
                .collect();
            assert_lost(scan, &lost, MIB, &planted, "truncated", "truncated");
        },
    );
    // Cut after the metadata: every block is lost; cut inside it: the geometry is gone, and
    // so is the image.
    let cuts = [metadata_end, metadata_end - 100];
    scan_cuts(&image, &dir.path().join("cut0"), &cuts, |cut, scan| {
        if cut == metadata_end {
            assert_eq!(scan.code, EXIT_PARTIAL, "{}", scan.stderr);
            assert_eq!(scan.coverage[0]["scanned_bytes"], 0);
            assert!(unreadable(&scan.coverage[0])[0].1.contains("truncated"));
        } else {
            assert_eq!(scan.code, 2, "{}", scan.stderr);
            assert!(scan.stderr.contains("truncated"), "{}", scan.stderr);
        }
    });
}

#[test]
fn a_sparse_vmdk_cut_short_loses_the_grains_past_the_cut() {
    let dir = workdir();
    let raw = path_in(&dir, "disk.img");
    let planted = plant(&raw, 64 * MIB, &every(MIB, 64 * MIB));
    let image = path_in(&dir, "disk.vmdk");
    qemu_convert(&raw, "vmdk", &[], &image);
    let len = std::fs::metadata(&image).unwrap().len();
    // Mid-data twice, and mid-grain table (qemu puts the tables in the first 64 KiB).
    let gd = le64(&std::fs::read(&image).unwrap(), 56) * 512;
    scan_cuts(
        &image,
        dir.path(),
        &[len * 3 / 4, len / 2 + 12345, gd + 600],
        |cut, scan| {
            if cut == gd + 600 {
                assert_eq!(scan.code, EXIT_PARTIAL, "{}", scan.stderr);
                assert!(scan.findings.is_empty());
                assert!(unreadable(&scan.coverage[0])[0].1.contains("grain"));
                return;
            }
            assert_lost(
                scan,
                &lost_by_map(&image, cut),
                64 << 10,
                &planted,
                "truncated",
                "truncated",
            );
        },
    );
}

/// The grains of a streamOptimized VMDK, walked through its markers from its first grain (the
/// header's `overHead`): each grain's virtual offset, and the file offsets of its marker and
/// of the end of its bytes.
fn stream_grains(bytes: &[u8]) -> Vec<(u64, u64, u64)> {
    let mut grains = Vec::new();
    let mut sector = le64(bytes, 64);
    loop {
        let at = (sector * 512) as usize;
        let (value, size, kind) = (le64(bytes, at), le32(bytes, at + 8), le32(bytes, at + 12));
        if size != 0 {
            let end = at as u64 + 12 + size as u64;
            grains.push((value * 512, at as u64, end));
            sector += (12 + size as u64).div_ceil(512);
        } else if kind == 0 {
            return grains;
        } else {
            sector += 1 + value;
        }
    }
}

#[test]
fn a_stream_optimized_vmdk_cut_mid_stream_is_read_up_to_the_cut() {
    let dir = workdir();
    let raw = path_in(&dir, "disk.img");
    let planted = plant(&raw, 64 * MIB, &every(MIB, 64 * MIB));
    let image = path_in(&dir, "disk.vmdk");
    qemu_convert(&raw, "vmdk", &["-o", "subformat=streamOptimized"], &image);
    // VMware writes the grain directory at the end, after the grains, with the real header
    // in the footer (`gdOffset` = GD_AT_END at the start): then a cut takes the only grain
    // directory. The same image with its header saying so stands in for one.
    let at_end = path_in(&dir, "at-end.vmdk");
    std::fs::copy(&image, &at_end).unwrap();
    write_at(&at_end, 56, &u64::MAX.to_le_bytes());
    let grains = stream_grains(&std::fs::read(&image).unwrap());
    assert_eq!(grains.len(), planted.len());
    // Inside the bytes of the middle grain, and inside the marker of a later one.
    let cuts = [
        grains[grains.len() / 2].2 - 5,
        grains[grains.len() * 3 / 4].1 + 6,
    ];
    for source in [&image, &at_end] {
        let sub = dir.path().join(source.file_stem().unwrap());
        std::fs::create_dir(&sub).unwrap();
        scan_cuts(source, &sub, &cuts, |cut, scan| {
            // Every grain whose bytes end after the cut is lost. With the grain directory at
            // the start, those grains; without it, the stream being in disk order, the rest
            // of the disk from the first of them (it may have held more grains).
            let cut_off = grains.iter().filter(|&&(_, _, end)| end > cut);
            if source == &image {
                let lost: Vec<_> = cut_off.map(|&(at, _, _)| at..at + (64 << 10)).collect();
                assert_lost(scan, &lost, 64 << 10, &planted, "truncated", "truncated");
            } else {
                // A cut inside a grain's marker hides which grain was next: the stretch from
                // the last whole grain to it may be lost too (zeros here).
                let first = cut_off.map(|&(at, _, _)| at).min().unwrap();
                let before = grains
                    .iter()
                    .map(|g| g.0 + (64 << 10))
                    .filter(|&end| end <= first);
                let slack = first - before.max().unwrap();
                let lost = [first..64 * MIB];
                assert_lost(scan, &lost, slack, &planted, "truncated", "truncated");
                let cut_in_marker = grains.iter().any(|g| g.1 < cut && cut < g.1 + 8);
                if !cut_in_marker {
                    // The grain the cut went through is known: nothing before it is lost.
                    assert_eq!(unreadable(&scan.coverage[0])[0].0.start, first);
                }
            }
        });
    }
}

#[test]
fn a_vmdk_descriptor_whose_extent_is_missing_or_short_loses_that_extent() {
    let dir = workdir();
    let raw = path_in(&dir, "disk.img");
    // Sparse extents of 2 GiB each (qemu's twoGbMaxExtentSparse): three for 5 GiB.
    let size = 5 << 30;
    let planted = plant(&raw, size, &every(256 * MIB, size));
    let sparse_dir = dir.path().join("sparse");
    std::fs::create_dir(&sparse_dir).unwrap();
    let image = sparse_dir.join("disk.vmdk");
    qemu_convert(
        &raw,
        "vmdk",
        &["-o", "subformat=twoGbMaxExtentSparse"],
        &image,
    );
    let second = sparse_dir.join("disk-s002.vmdk");
    std::fs::remove_file(&second).unwrap();
    let descriptor = std::fs::read_to_string(&image).unwrap();
    let sectors: Vec<u64> = descriptor
        .lines()
        .filter(|l| l.starts_with("RW "))
        .map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(sectors.len(), 3, "{descriptor}");
    let lost = sectors[0] * 512..(sectors[0] + sectors[1]) * 512;
    let scan = Scan::run(&[&image], &[]);
    assert_lost(&scan, &[lost], 0, &planted, "disk-s002.vmdk", "missing");

    // One flat extent (monolithicFlat), cut to 40 of its 64 MiB.
    let raw = path_in(&dir, "small.img");
    let planted = plant(&raw, 64 * MIB, &every(MIB, 64 * MIB));
    let flat_dir = dir.path().join("flat");
    std::fs::create_dir(&flat_dir).unwrap();
    let image = flat_dir.join("disk.vmdk");
    qemu_convert(&raw, "vmdk", &["-o", "subformat=monolithicFlat"], &image);
    let flat = flat_dir.join("disk-flat.vmdk");
    OpenOptions::new()
        .write(true)
        .open(&flat)
        .unwrap()
        .set_len(40 * MIB)
        .unwrap();
    let scan = Scan::run(&[&image], &[]);
    assert_lost(
        &scan,
        &[40 * MIB..64 * MIB],
        0,
        &planted,
        "disk-flat.vmdk",
        "truncated",
    );
}
