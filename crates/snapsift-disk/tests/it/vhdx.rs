//! The VHDX reader against real images: dynamic and fixed VHDXs made by
//! `qemu-img convert -O vhdx` read exactly as `qemu-img convert -O raw` reads them, differencing
//! VHDXs built here per the published format (MS-VHDX) read as libvhdi's `vhdimount` exposes
//! them, and damaged images give clear errors.
//!
//! Needs `qemu-img` (package qemu-utils) and `vhdimount` (package libvhdi-utils, with a usable
//! /dev/fuse; run as root or with fusermount).

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use snapsift_disk::{Disk, DiskError, ReferencePolicy};
use snapsift_testkit::{Rng, qemu_convert, qemu_to_raw, workdir};

use crate::common::{
    assert_reads_like, assert_refused, assert_same_bytes, flip_byte, raw_disk, total,
    vhdimount_bytes,
};

const MIB: u64 = 1 << 20;

/// Converts `raw` to a VHDX with `qemu-img convert -O vhdx` and the given options.
fn qemu_vhdx(raw: &Path, name: &str, options: &[&str]) -> PathBuf {
    let image = raw.with_file_name(name);
    qemu_convert(raw, "vhdx", options, &image);
    image
}

/// Converts a raw disk of `size` bytes to a VHDX with `options` and checks that snapsift reads
/// it as qemu does.
fn check_against_qemu(size: u64, seed: u64, options: &[&str]) -> Box<dyn Disk> {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "disk.raw", size, seed);
    let image = qemu_vhdx(&raw, "disk.vhdx", options);
    let disk = snapsift_disk::open(&image).unwrap();
    assert_eq!(disk.kind(), "VHDX image");
    assert_reads_like(&*disk, &qemu_to_raw(&image, None, dir.path()));
    disk
}

#[test]
fn dynamic_vhdx_reads_like_qemu() {
    let disk = check_against_qemu(48 * MIB, 1, &[]);
    assert_eq!(disk.size(), 48 * MIB);
}

#[test]
fn dynamic_vhdx_with_1_mib_blocks_reads_like_qemu() {
    check_against_qemu(48 * MIB, 2, &["-o", "block_size=1M"]);
}

#[test]
fn dynamic_vhdx_with_32_mib_blocks_and_an_odd_size_reads_like_qemu() {
    // 37 MiB is no whole number of 32 MiB blocks.
    let disk = check_against_qemu(37 * MIB, 3, &["-o", "block_size=32M"]);
    assert_eq!(disk.size(), 37 * MIB);
}

#[test]
fn fixed_vhdx_reads_like_qemu() {
    check_against_qemu(48 * MIB, 4, &["-o", "subformat=fixed"]);
}

#[test]
fn fixed_vhdx_of_odd_size_reads_like_qemu() {
    check_against_qemu(21 * MIB, 5, &["-o", "subformat=fixed,block_size=8M"]);
}

#[test]
fn sparse_dynamic_vhdx_has_few_data_ranges() {
    let dir = workdir();
    let raw = dir.path().join("sparse.raw");
    let file = fs::File::create(&raw).unwrap();
    file.set_len(512 * MIB).unwrap();
    file.write_all_at(b"secret in the middle", 300 * MIB + 7)
        .unwrap();
    file.write_all_at(b"and at the end", 512 * MIB - 14)
        .unwrap();
    drop(file);
    let image = qemu_vhdx(&raw, "sparse.vhdx", &["-o", "block_size=1M"]);
    let disk = snapsift_disk::open(&image).unwrap();
    let ranges = disk.data_ranges().unwrap();
    assert!(
        total(&ranges) <= 4 * MIB,
        "{} bytes of data ranges in a disk with two written sectors",
        total(&ranges)
    );
    assert_reads_like(&*disk, &qemu_to_raw(&image, None, dir.path()));
}

#[test]
fn one_corrupt_header_falls_back_to_the_other_and_two_are_corrupt() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "disk.raw", 8 * MIB, 6);
    let image = qemu_vhdx(&raw, "disk.vhdx", &[]);
    let oracle = qemu_to_raw(&image, None, dir.path());
    flip_byte(&image, (64 << 10) + 200);
    assert_reads_like(&*snapsift_disk::open(&image).unwrap(), &oracle);
    flip_byte(&image, (128 << 10) + 200);
    let err = snapsift_disk::open(&image).unwrap_err();
    assert!(
        matches!(&err, DiskError::Corrupt { reason, .. } if reason.contains("CRC-32C")),
        "{err}"
    );
}

#[test]
fn corrupt_region_tables_are_corrupt() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "disk.raw", 8 * MIB, 7);
    let image = qemu_vhdx(&raw, "disk.vhdx", &[]);
    flip_byte(&image, (192 << 10) + 40);
    flip_byte(&image, (256 << 10) + 40);
    let err = snapsift_disk::open(&image).unwrap_err();
    assert!(
        matches!(&err, DiskError::Corrupt { reason, .. } if reason.contains("region table")),
        "{err}"
    );
}

#[test]
fn truncated_vhdx_loses_the_blocks_past_its_end_or_without_headers_the_image() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "disk.raw", 16 * MIB, 8);
    let image = qemu_vhdx(&raw, "disk.vhdx", &["-o", "block_size=1M"]);
    let raw_bytes = fs::read(&raw).unwrap();
    let len = fs::metadata(&image).unwrap().len();
    let cut_to = |cut: u64| {
        fs::OpenOptions::new()
            .write(true)
            .open(&image)
            .unwrap()
            .set_len(cut)
            .unwrap()
    };
    // Cut in the payload: the blocks past the cut are lost, those before it read.
    cut_to(len / 2);
    let disk = snapsift_disk::open(&image).unwrap();
    let map = disk.data_map().unwrap();
    assert!(!map.unreadable.is_empty(), "{map:?}");
    assert!(
        map.unreadable
            .iter()
            .all(|u| u.reason.contains("truncated")),
        "{map:?}"
    );
    let lost = |at: u64| map.unreadable.iter().any(|u| u.range.contains(&at));
    let mut block = vec![0u8; MIB as usize];
    for start in (0..16 * MIB).step_by(MIB as usize) {
        match disk.read_exact_at(start, &mut block) {
            Ok(()) => {
                assert!(!lost(start), "block at {start} is listed lost but reads");
                assert_eq!(block, raw_bytes[start as usize..][..block.len()]);
            }
            Err(err) => {
                assert!(
                    lost(start),
                    "block at {start} fails but is not listed: {err}"
                );
                assert!(matches!(err, DiskError::Damaged { .. }), "{err}");
            }
        }
    }
    // Cut in the headers: the geometry is gone, and so is the image.
    cut_to(100 << 10);
    let err = snapsift_disk::open(&image).unwrap_err();
    assert!(
        matches!(&err, DiskError::Truncated { .. })
            || matches!(&err, DiskError::Corrupt { reason, .. } if reason.contains("truncated")),
        "{err}"
    );
}

#[test]
fn unreplayed_log_is_refused_with_a_fix() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "disk.raw", 4 * MIB, 9);
    let image = qemu_vhdx(&raw, "disk.vhdx", &[]);
    // Set a log GUID in both headers, as a writer does while its log may hold entries.
    let mut bytes = fs::read(&image).unwrap();
    for header in [64usize << 10, 128 << 10] {
        bytes[header + 48..header + 64].copy_from_slice(&[0x5a; 16]);
        bytes[header + 4..header + 8].fill(0);
        let crc = crc32c(&bytes[header..header + 4096]);
        bytes[header + 4..header + 8].copy_from_slice(&crc.to_le_bytes());
    }
    fs::write(&image, bytes).unwrap();
    let err = snapsift_disk::open(&image).unwrap_err();
    assert!(
        matches!(&err, DiskError::Unsupported { feature, .. }
            if feature.contains("unreplayed log") && feature.contains("qemu-img check -r all")),
        "{err}"
    );
}

// ---- Differencing disks -------------------------------------------------------------------

/// CRC-32C (Castagnoli), bit by bit: slow and obviously right.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A GUID in its on-disk layout from its text form.
fn guid(text: &str) -> [u8; 16] {
    let hex: String = text.chars().filter(char::is_ascii_hexdigit).collect();
    let b: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    [
        b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13],
        b[14], b[15],
    ]
}

/// The text form of an on-disk GUID, in braces and lowercase: libvhdi 20210425 (libfguid)
/// refuses uppercase hex digits, though the reader under test takes both.
fn guid_text(g: &[u8]) -> String {
    format!(
        "{{{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{}}}",
        g[3],
        g[2],
        g[1],
        g[0],
        g[5],
        g[4],
        g[7],
        g[6],
        g[8],
        g[9],
        g[10..]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

fn utf16(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// What a test differencing disk holds.
struct Child {
    size: u64,
    block_size: u64,
    /// Sectors of partially present blocks, with their bytes.
    sectors: Vec<(u64, Vec<u8>)>,
    /// Fully present blocks, with random bytes.
    full_blocks: Vec<u64>,
    /// Blocks in the ZERO state.
    zero_blocks: Vec<u64>,
}

/// The data write GUID of the current header of the VHDX at `path`.
fn data_write_guid(path: &Path) -> [u8; 16] {
    let bytes = fs::read(path).unwrap();
    let header = [64usize << 10, 128 << 10]
        .into_iter()
        .max_by_key(|&h| u64::from_le_bytes(bytes[h + 8..h + 16].try_into().unwrap()))
        .unwrap();
    bytes[header + 32..header + 48].try_into().unwrap()
}

/// Writes a differencing VHDX over `parent` per MS-VHDX: file identifier, two headers, two
/// region tables, a log region, metadata with a parent locator, a BAT, a sector bitmap block
/// and payload blocks. Returns the bytes of its fully present blocks, by block.
fn write_differencing(
    path: &Path,
    parent: &Path,
    relative: &str,
    child: &Child,
) -> Vec<(u64, Vec<u8>)> {
    let sector = 512u64;
    let chunk_ratio = (1u64 << 23) * sector / child.block_size;
    let blocks = child.size.div_ceil(child.block_size);
    let chunks = blocks.div_ceil(chunk_ratio);
    let entries = chunks * (chunk_ratio + 1);
    assert!(entries * 8 <= MIB, "the test BAT fits in 1 MiB");
    let (log_at, metadata_at, bat_at, bitmaps_at) = (MIB, 2 * MIB, 3 * MIB, 4 * MIB);
    let payload_at = bitmaps_at + chunks * MIB;
    let mut image = vec![0u8; payload_at as usize];

    image[..8].copy_from_slice(b"vhdxfile");
    let creator = utf16("snapsift test");
    image[8..8 + creator.len()].copy_from_slice(&creator);

    for (i, at) in [64usize << 10, 128 << 10].into_iter().enumerate() {
        let h = &mut image[at..at + 4096];
        h[..4].copy_from_slice(b"head");
        h[8..16].copy_from_slice(&(i as u64 + 1).to_le_bytes());
        h[16..32].copy_from_slice(&guid("11111111-2222-3333-4444-555555555555"));
        h[32..48].copy_from_slice(&guid("66666666-7777-8888-9999-aaaaaaaaaaaa"));
        h[66..68].copy_from_slice(&1u16.to_le_bytes());
        h[68..72].copy_from_slice(&(MIB as u32).to_le_bytes());
        h[72..80].copy_from_slice(&log_at.to_le_bytes());
        let crc = crc32c(h);
        h[4..8].copy_from_slice(&crc.to_le_bytes());
    }

    for at in [192usize << 10, 256 << 10] {
        let t = &mut image[at..at + (64 << 10)];
        t[..4].copy_from_slice(b"regi");
        t[8..12].copy_from_slice(&2u32.to_le_bytes());
        let regions = [
            ("2DC27766-F623-4200-9D64-115E9BFD4A08", bat_at),
            ("8B7CA206-4790-4B9A-B8FE-575F050F886E", metadata_at),
        ];
        for (i, (id, offset)) in regions.into_iter().enumerate() {
            let e = 16 + 32 * i;
            t[e..e + 16].copy_from_slice(&guid(id));
            t[e + 16..e + 24].copy_from_slice(&offset.to_le_bytes());
            t[e + 24..e + 28].copy_from_slice(&(MIB as u32).to_le_bytes());
            t[e + 28..e + 32].copy_from_slice(&1u32.to_le_bytes());
        }
        let crc = crc32c(t);
        t[4..8].copy_from_slice(&crc.to_le_bytes());
    }

    // Parent locator: linkage to the parent's data write GUID, and its paths.
    let absolute = format!(r"C:\vms\{}", parent.file_name().unwrap().to_str().unwrap());
    let pairs = [
        ("parent_linkage", guid_text(&data_write_guid(parent))),
        ("relative_path", relative.to_string()),
        ("absolute_win32_path", absolute),
    ];
    let mut locator = guid("B04AEFB7-D19E-4A81-B789-25B8E9445913").to_vec();
    locator.extend_from_slice(&0u16.to_le_bytes());
    locator.extend_from_slice(&(pairs.len() as u16).to_le_bytes());
    let mut strings = Vec::new();
    let strings_at = 20 + 12 * pairs.len();
    for (key, value) in &pairs {
        let (key, value) = (utf16(key), utf16(value));
        let key_at = strings_at + strings.len();
        strings.extend_from_slice(&key);
        let value_at = strings_at + strings.len();
        strings.extend_from_slice(&value);
        locator.extend_from_slice(&(key_at as u32).to_le_bytes());
        locator.extend_from_slice(&(value_at as u32).to_le_bytes());
        locator.extend_from_slice(&(key.len() as u16).to_le_bytes());
        locator.extend_from_slice(&(value.len() as u16).to_le_bytes());
    }
    locator.extend_from_slice(&strings);

    let mut file_parameters = (child.block_size as u32).to_le_bytes().to_vec();
    file_parameters.extend_from_slice(&2u32.to_le_bytes()); // HasParent.
    let items: [(&str, Vec<u8>, u32); 6] = [
        ("CAA16737-FA36-4D43-B3B6-33F0AA44E76B", file_parameters, 4),
        (
            "2FA54224-CD1B-4876-B211-5DBED83BF4B8",
            child.size.to_le_bytes().to_vec(),
            6,
        ),
        ("BECA12AB-B2E6-4523-93EF-C309E000C746", vec![0x42; 16], 6),
        (
            "8141BF1D-A96F-4709-BA47-F233A8FAAB5F",
            512u32.to_le_bytes().to_vec(),
            6,
        ),
        (
            "CDA348C7-445D-4471-9CC9-E9885251C556",
            4096u32.to_le_bytes().to_vec(),
            6,
        ),
        ("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C", locator, 4),
    ];
    let m = metadata_at as usize;
    image[m..m + 8].copy_from_slice(b"metadata");
    image[m + 10..m + 12].copy_from_slice(&(items.len() as u16).to_le_bytes());
    let mut item_at = 64usize << 10;
    for (i, (id, data, flags)) in items.iter().enumerate() {
        let e = m + 32 + 32 * i;
        image[e..e + 16].copy_from_slice(&guid(id));
        image[e + 16..e + 20].copy_from_slice(&(item_at as u32).to_le_bytes());
        image[e + 20..e + 24].copy_from_slice(&(data.len() as u32).to_le_bytes());
        image[e + 24..e + 28].copy_from_slice(&flags.to_le_bytes());
        image[m + item_at..m + item_at + data.len()].copy_from_slice(data);
        item_at += data.len().div_ceil(8) * 8;
    }

    // BAT, sector bitmaps and payload blocks.
    let mut bat = vec![0u64; entries as usize];
    for chunk in 0..chunks {
        bat[(chunk * (chunk_ratio + 1) + chunk_ratio) as usize] = (bitmaps_at + chunk * MIB) | 6;
    }
    let payload_index = |block: u64| (block + block / chunk_ratio) as usize;
    let allocate = |image: &mut Vec<u8>, bat: &mut Vec<u64>, block: u64, state: u64| {
        let index = payload_index(block);
        if bat[index] & 7 == 0 {
            let at = image.len() as u64;
            image.resize(image.len() + child.block_size as usize, 0);
            bat[index] = at | state;
        }
        (bat[index] & !(MIB - 1)) as usize
    };
    let per_block = child.block_size / sector;
    for (s, bytes) in &child.sectors {
        let block = s / per_block;
        let at = allocate(&mut image, &mut bat, block, 7);
        let within = ((s % per_block) * sector) as usize;
        image[at + within..at + within + 512].copy_from_slice(bytes);
        let bit = (block % chunk_ratio) * per_block + s % per_block;
        let chunk_bitmap = (bitmaps_at + (block / chunk_ratio) * MIB) as usize;
        image[chunk_bitmap + (bit / 8) as usize] |= 1 << (bit % 8);
    }
    let mut pattern = Rng::new(child.size ^ 0x5eed);
    let mut full = Vec::new();
    for &block in &child.full_blocks {
        let at = allocate(&mut image, &mut bat, block, 6);
        let bytes = pattern.bytes(child.block_size as usize);
        image[at..at + bytes.len()].copy_from_slice(&bytes);
        full.push((block, bytes));
    }
    for &block in &child.zero_blocks {
        bat[payload_index(block)] = 2;
    }
    for (i, entry) in bat.iter().enumerate() {
        let at = bat_at as usize + 8 * i;
        image[at..at + 8].copy_from_slice(&entry.to_le_bytes());
    }
    fs::write(path, image).unwrap();
    full
}

/// The bytes the guest sees through `child` over a parent whose bytes are `parent`.
fn expected_child(parent: &[u8], child: &Child, full: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut expected = vec![0u8; child.size as usize];
    let shared = parent.len().min(expected.len());
    expected[..shared].copy_from_slice(&parent[..shared]);
    for (sector, bytes) in &child.sectors {
        let at = *sector as usize * 512;
        expected[at..at + 512].copy_from_slice(bytes);
    }
    for (block, bytes) in full {
        let at = (*block * child.block_size) as usize;
        let end = (at + bytes.len()).min(expected.len());
        expected[at..end].copy_from_slice(&bytes[..end - at]);
    }
    for block in &child.zero_blocks {
        let at = (*block * child.block_size) as usize;
        let end = (at + child.block_size as usize).min(expected.len());
        expected[at..end].fill(0);
    }
    expected
}

/// A dynamic VHDX parent made by qemu from a raw disk, and its bytes as qemu reads them.
fn qemu_parent(dir: &Path, size: u64, seed: u64) -> (PathBuf, Vec<u8>) {
    let raw = raw_disk(dir, "parent.raw", size, seed);
    let parent = qemu_vhdx(&raw, "parent.vhdx", &["-o", "block_size=1M"]);
    let bytes = fs::read(qemu_to_raw(&parent, None, dir)).unwrap();
    (parent, bytes)
}

/// Sectors of partially present blocks: runs at unaligned sectors in blocks 0 and 5, and the
/// disk's last sector.
fn child_sectors(size: u64, seed: u64) -> Vec<(u64, Vec<u8>)> {
    let mut pattern = Rng::new(seed);
    let last = size / 512 - 1;
    let per_mib = MIB / 512;
    let runs = [
        3..11,
        16..17,
        100..230,
        5 * per_mib + 1..5 * per_mib + 9,
        last..last + 1,
    ];
    runs.into_iter()
        .flatten()
        .filter(|&s| s <= last)
        .map(|s| (s, pattern.bytes(512)))
        .collect()
}

#[test]
fn differencing_vhdx_reads_like_libvhdi() {
    let dir = workdir();
    let size = 24 * MIB;
    let (parent, parent_bytes) = qemu_parent(dir.path(), size, 11);
    let child = Child {
        size,
        block_size: MIB,
        sectors: child_sectors(size, 12),
        full_blocks: vec![2, 3, 9],
        zero_blocks: vec![],
    };
    let image = dir.path().join("child.vhdx");
    let full = write_differencing(&image, &parent, r".\parent.vhdx", &child);
    let expected = expected_child(&parent_bytes, &child, &full);
    assert_same_bytes(&vhdimount_bytes(&image, dir.path()), &expected, "libvhdi");

    let oracle = dir.path().join("child.expected");
    fs::write(&oracle, &expected).unwrap();
    let disk = snapsift_disk::open(&image).unwrap();
    assert_eq!(disk.kind(), "VHDX image (differencing)");
    assert_reads_like(&*disk, &oracle);
}

#[test]
fn differencing_vhdx_with_zero_blocks_and_a_smaller_parent() {
    // ZERO blocks read as zeros, not as the parent's bytes (libvhdi reads the parent there, so
    // the oracle is the expected bytes alone); past the parent's end, zeros.
    let dir = workdir();
    let (parent, parent_bytes) = qemu_parent(dir.path(), 6 * MIB, 13);
    let size = 10 * MIB;
    let child = Child {
        size,
        block_size: 2 * MIB,
        sectors: child_sectors(size, 14),
        full_blocks: vec![1],
        zero_blocks: vec![2],
    };
    let image = dir.path().join("child.vhdx");
    let full = write_differencing(&image, &parent, r".\parent.vhdx", &child);
    let oracle = dir.path().join("child.expected");
    fs::write(&oracle, expected_child(&parent_bytes, &child, &full)).unwrap();
    assert_reads_like(&*snapsift_disk::open(&image).unwrap(), &oracle);
}

#[test]
fn differencing_vhdx_finds_a_moved_parent_by_its_file_name() {
    // The relative path is stale and the absolute one is on a Windows drive: the parent's file
    // name beside the child still finds it.
    let dir = workdir();
    let (parent, parent_bytes) = qemu_parent(dir.path(), 4 * MIB, 15);
    let child = Child {
        size: 4 * MIB,
        block_size: MIB,
        sectors: child_sectors(4 * MIB, 16),
        full_blocks: vec![],
        zero_blocks: vec![],
    };
    let image = dir.path().join("child.vhdx");
    let full = write_differencing(&image, &parent, r"..\old\place\parent.vhdx", &child);
    let oracle = dir.path().join("child.expected");
    fs::write(&oracle, expected_child(&parent_bytes, &child, &full)).unwrap();
    assert_reads_like(&*snapsift_disk::open(&image).unwrap(), &oracle);
}

#[test]
fn differencing_vhdx_whose_locator_names_a_host_file_is_refused_unless_allowed() {
    let dir = workdir();
    let host = dir.path().join("host");
    let images = dir.path().join("images");
    fs::create_dir(&host).unwrap();
    fs::create_dir(&images).unwrap();
    let (parent, parent_bytes) = qemu_parent(&host, 4 * MIB, 31);
    let child = Child {
        size: 4 * MIB,
        block_size: MIB,
        sectors: child_sectors(4 * MIB, 32),
        full_blocks: vec![],
        zero_blocks: vec![],
    };
    let image = images.join("child.vhdx");
    let full = write_differencing(&image, &parent, r"..\host\parent.vhdx", &child);
    let err = snapsift_disk::open(&image).unwrap_err();
    assert_refused(&err, &image, Path::new("../host/parent.vhdx"), &parent);

    let oracle = dir.path().join("child.expected");
    fs::write(&oracle, expected_child(&parent_bytes, &child, &full)).unwrap();
    let allowed = ReferencePolicy::allowing(&[host]).unwrap();
    assert_reads_like(
        &*snapsift_disk::open_with(&image, &allowed).unwrap(),
        &oracle,
    );
}

#[test]
fn differencing_vhdx_without_its_parent_names_the_missing_parent() {
    let dir = workdir();
    let (parent, _) = qemu_parent(dir.path(), 4 * MIB, 17);
    let child = Child {
        size: 4 * MIB,
        block_size: MIB,
        sectors: child_sectors(4 * MIB, 18),
        full_blocks: vec![],
        zero_blocks: vec![],
    };
    let image = dir.path().join("child.vhdx");
    write_differencing(&image, &parent, r".\parent.vhdx", &child);
    fs::remove_file(&parent).unwrap();
    let err = snapsift_disk::open(&image).unwrap_err();
    match &err {
        DiskError::Backing { backing, .. } => assert_eq!(backing, &parent, "{err}"),
        other => panic!("expected a backing error, got {other}"),
    }
}

#[test]
fn differencing_vhdx_over_a_changed_parent_is_refused() {
    let dir = workdir();
    let (parent, _) = qemu_parent(dir.path(), 4 * MIB, 19);
    let child = Child {
        size: 4 * MIB,
        block_size: MIB,
        sectors: child_sectors(4 * MIB, 20),
        full_blocks: vec![],
        zero_blocks: vec![],
    };
    let image = dir.path().join("child.vhdx");
    write_differencing(&image, &parent, r".\parent.vhdx", &child);
    // Another disk under the parent's name: another data write GUID.
    let raw = raw_disk(dir.path(), "other.raw", 4 * MIB, 21);
    qemu_vhdx(&raw, "parent.vhdx", &[]);
    let err = snapsift_disk::open(&image).unwrap_err();
    assert!(
        matches!(&err, DiskError::Backing { source, .. } if source.to_string().contains("unique id")),
        "{err}"
    );
}
