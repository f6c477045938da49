//! VMDK images made by `qemu-img` (every hosted subformat, custom descriptors, delta disks) read
//! exactly like `qemu-img convert -O raw` says; damaged and ESX-only ones give clear errors.

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use snapsift_disk::{Disk, DiskError};
use snapsift_testkit::{Rng, qemu_convert, qemu_img, qemu_io, qemu_to_raw, workdir};

use crate::common::*;

const MIB: u64 = 1 << 20;

/// 40 MiB and 4 KiB: not a whole number of 64 KiB grains, so the last grain is partly outside
/// the disk.
const ODD_SIZE: u64 = 40 * MIB + 4096;

/// Converts `raw` to a VMDK of `subformat` named `name`; returns the path to open (the
/// descriptor, for the split and flat subformats).
fn convert(dir: &Path, raw: &Path, name: &str, subformat: &str) -> PathBuf {
    let image = dir.join(name);
    qemu_convert(
        raw,
        "vmdk",
        &["-o", &format!("subformat={subformat}")],
        &image,
    );
    image
}

/// Rewrites a streamOptimized image made by qemu-img (grain directory named in the header at
/// the start) the way VMware's exporters write it: the first header says the grain directory is
/// at the end (`GD_AT_END`), and the real header follows a footer marker before the
/// end-of-stream marker.
fn with_footer(image: &Path) -> PathBuf {
    let bytes = fs::read(image).unwrap();
    let (body, end_of_stream) = bytes.split_at(bytes.len() - 512);
    assert!(
        end_of_stream.iter().all(|&b| b == 0),
        "qemu-img ends with an end-of-stream marker"
    );
    let mut footer_marker = [0u8; 512];
    footer_marker[..8].copy_from_slice(&1u64.to_le_bytes());
    footer_marker[12..16].copy_from_slice(&3u32.to_le_bytes());
    let mut rewritten = body.to_vec();
    rewritten.extend_from_slice(&footer_marker);
    rewritten.extend_from_slice(&bytes[..512]);
    rewritten.extend_from_slice(end_of_stream);
    rewritten[56..64].copy_from_slice(&u64::MAX.to_le_bytes());
    let path = image.with_extension("footer.vmdk");
    fs::write(&path, rewritten).unwrap();
    path
}

fn open(image: &Path) -> Box<dyn Disk> {
    snapsift_disk::open(image).unwrap_or_else(|e| panic!("{}: {e}", image.display()))
}

fn assert_like_qemu(image: &Path, dir: &Path) -> Box<dyn Disk> {
    let disk = open(image);
    assert_reads_like(&*disk, &qemu_to_raw(image, None, dir));
    disk
}

/// A mostly empty raw disk: 1 MiB of data at 3 places of a 256 MiB disk.
fn mostly_sparse_raw(dir: &Path) -> PathBuf {
    let path = dir.join("sparse.raw");
    let file = fs::File::create(&path).unwrap();
    file.set_len(256 * MIB).unwrap();
    let mut pattern = Rng::new(99);
    for at in [0, 100 * MIB + 12_345, 256 * MIB - MIB / 2] {
        file.write_all_at(&pattern.bytes((MIB / 2) as usize), at)
            .unwrap();
    }
    path
}

#[test]
fn monolithic_sparse() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "disk.raw", 48 * MIB, 1);
    let image = convert(dir.path(), &raw, "disk.vmdk", "monolithicSparse");
    let disk = assert_like_qemu(&image, dir.path());
    assert_eq!(disk.kind(), "VMDK image (monolithicSparse)");

    let odd = raw_disk(dir.path(), "odd.raw", ODD_SIZE, 2);
    let image = convert(dir.path(), &odd, "odd.vmdk", "monolithicSparse");
    assert_like_qemu(&image, dir.path());
}

#[test]
fn stream_optimized() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "disk.raw", 48 * MIB, 3);
    let image = convert(dir.path(), &raw, "disk.vmdk", "streamOptimized");
    let disk = assert_like_qemu(&image, dir.path());
    assert_eq!(disk.kind(), "VMDK image (streamOptimized)");
    let disk = assert_like_qemu(&with_footer(&image), dir.path());
    assert_eq!(disk.kind(), "VMDK image (streamOptimized)");

    let odd = raw_disk(dir.path(), "odd.raw", ODD_SIZE, 4);
    let image = convert(dir.path(), &odd, "odd.vmdk", "streamOptimized");
    assert_like_qemu(&image, dir.path());
    assert_like_qemu(&with_footer(&image), dir.path());
}

#[test]
fn flat_extents() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "disk.raw", 48 * MIB, 5);
    for subformat in ["monolithicFlat", "twoGbMaxExtentFlat"] {
        let image = convert(dir.path(), &raw, &format!("{subformat}.vmdk"), subformat);
        let disk = assert_like_qemu(&image, dir.path());
        assert_eq!(disk.kind(), "VMDK image (flat extents)");
        // A window inside a flat extent is the extent file's bytes, however it is served.
        let mut buf = Vec::new();
        let window = disk.window(MIB + 3..5 * MIB + 7, &mut buf).unwrap();
        let mut expected = vec![0u8; window.len()];
        disk.read_exact_at(MIB + 3, &mut expected).unwrap();
        assert!(*window == *expected);
    }
    let odd = raw_disk(dir.path(), "odd.raw", ODD_SIZE, 6);
    let image = convert(dir.path(), &odd, "odd.vmdk", "monolithicFlat");
    assert_like_qemu(&image, dir.path());
}

#[test]
fn split_sparse_extents() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "disk.raw", 48 * MIB, 7);
    let image = convert(dir.path(), &raw, "split.vmdk", "twoGbMaxExtentSparse");
    let disk = assert_like_qemu(&image, dir.path());
    assert_eq!(disk.kind(), "VMDK image (sparse extents)");
}

/// A hand-written descriptor naming several extents of every supported type, one after the
/// other, at offsets within their files: the shape of a twoGbMaxExtent disk without writing
/// gigabytes. qemu reads neither ZERO nor RDONLY extents, so the expected disk is assembled
/// here from the extents' bytes (the sparse ones as qemu reads them).
#[test]
fn custom_descriptor_with_many_extents() {
    let dir = workdir();
    let flat_path = raw_disk(dir.path(), "flat.raw", 8 * MIB, 8);
    let flat = fs::read(&flat_path).unwrap();
    let sparse_raw = raw_disk(dir.path(), "part.raw", 4 * MIB, 9);
    let sparse = convert(
        dir.path(),
        &sparse_raw,
        "part sparse.vmdk",
        "monolithicSparse",
    );
    let stream_raw = raw_disk(dir.path(), "stream.raw", 2 * MIB, 10);
    let stream = convert(dir.path(), &stream_raw, "stream.vmdk", "streamOptimized");
    let descriptor = dir.path().join("custom.vmdk");
    fs::write(
        &descriptor,
        format!(
            "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n\
             createType=\"custom\"\n\n# Extent description\n\
             RW 2048 FLAT \"flat.raw\" 0\n\
             RW 1000 ZERO\n\
             RW 8192 SPARSE \"part sparse.vmdk\"\n\
             RDONLY 3001 FLAT \"{}\" 12345\n\
             RW 4096 SPARSE \"stream.vmdk\"\n\
             RW 2048 FLAT \"flat.raw\" 2048\n\n\
             # The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"4\"\n",
            flat_path.display()
        ),
    )
    .unwrap();
    let sector = |n: usize| n * 512;
    let mut expected = flat[..sector(2048)].to_vec();
    expected.resize(expected.len() + sector(1000), 0);
    expected.extend(fs::read(qemu_to_raw(&sparse, None, dir.path())).unwrap());
    expected.extend(&flat[sector(12345)..sector(12345 + 3001)]);
    expected.extend(fs::read(qemu_to_raw(&stream, None, dir.path())).unwrap());
    expected.extend(&flat[sector(2048)..sector(4096)]);
    let expected_path = dir.path().join("custom.expected.raw");
    fs::write(&expected_path, &expected).unwrap();

    let disk = open(&descriptor);
    assert_reads_like(&*disk, &expected_path);
    assert_eq!(disk.kind(), "VMDK image (sparse extents)");
    // The descriptor and every extent file, each once: what a caller must never write over.
    let mut opener = snapsift_disk::Opener::new(snapsift_disk::ReferencePolicy::default());
    opener.open_image(&descriptor).unwrap();
    let files: Vec<&Path> = opener.files().iter().map(|f| f.path.as_path()).collect();
    assert_eq!(
        files,
        [
            descriptor.as_path(),
            &dir.path().join("flat.raw"),
            &sparse,
            &stream
        ]
    );
    // Windows that start in one extent and end in the next.
    let mut buf = Vec::new();
    for boundary in [2048u64, 3048, 11240, 14241, 18337] {
        let range = boundary * 512 - 777..boundary * 512 + 4321;
        let window = disk.window(range.clone(), &mut buf).unwrap();
        assert!(*window == expected[range.start as usize..range.end as usize]);
    }
}

#[test]
fn data_ranges_skip_unallocated_grains() {
    let dir = workdir();
    let raw = mostly_sparse_raw(dir.path());
    for subformat in [
        "monolithicSparse",
        "streamOptimized",
        "twoGbMaxExtentSparse",
    ] {
        let image = convert(dir.path(), &raw, &format!("{subformat}.vmdk"), subformat);
        let disk = open(&image);
        let ranges = disk.data_ranges().unwrap();
        assert_ranges_well_formed(&ranges, disk.size());
        let data = total(&ranges);
        assert!(
            data <= 8 * MIB,
            "{subformat}: {data} bytes of data ranges for 1.5 MiB of data: {ranges:?}"
        );
        assert!(
            data >= 3 * MIB / 2,
            "{subformat}: data ranges miss data: {ranges:?}"
        );
    }
    // All of it still reads right.
    let image = dir.path().join("monolithicSparse.vmdk");
    assert_like_qemu(&image, dir.path());
}

#[test]
fn delta_disk_reads_through_to_its_parent() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "base.raw", 16 * MIB, 11);
    let base = convert(dir.path(), &raw, "base.vmdk", "monolithicSparse");
    let child = dir.path().join("child.vmdk");
    qemu_img(&[
        "create",
        "-f",
        "vmdk",
        "-b",
        "base.vmdk",
        "-F",
        "vmdk",
        child.to_str().unwrap(),
    ]);
    qemu_io(
        &child,
        "vmdk",
        &[
            "write -P 0xab 1M 64k",
            "write -P 0xcd 5000k 200k",
            "write -z 8M 128k",
        ],
    );
    let disk = assert_like_qemu(&child, dir.path());
    assert_eq!(disk.kind(), "VMDK image (monolithicSparse, with parent)");
    drop(disk);

    // A missing parent is an error naming it, not a disk of zeros.
    fs::remove_file(&base).unwrap();
    match snapsift_disk::open(&child) {
        Err(DiskError::Backing { backing, .. }) => assert_eq!(backing, base),
        other => panic!("expected a backing error, got {other:?}"),
    }
}

#[test]
fn many_threads_inflate_at_once() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "disk.raw", 32 * MIB, 12);
    let image = convert(dir.path(), &raw, "disk.vmdk", "streamOptimized");
    let disk = open(&image);
    let expected = fs::read(&raw).unwrap();
    std::thread::scope(|scope| {
        for seed in 1..=4u64 {
            let (disk, expected) = (&disk, &expected);
            scope.spawn(move || {
                let mut pattern = Rng::new(seed);
                for _ in 0..200 {
                    let start = pattern.next() % (32 * MIB);
                    let len = (pattern.next() % (200 << 10)).min(32 * MIB - start);
                    let mut got = vec![0u8; len as usize];
                    disk.read_exact_at(start, &mut got).unwrap();
                    assert!(got == expected[start as usize..(start + len) as usize]);
                }
            });
        }
    });
}

/// Checks `disk` against `raw`, 64 KiB at a time: a read that succeeds gives the raw bytes and
/// lies outside every unreadable stretch of the data map; one that fails lies inside one, and
/// names `image`. Returns the unreadable bytes.
fn assert_reads_or_lost(disk: &dyn Disk, raw: &[u8], image: &Path) -> u64 {
    let map = disk.data_map().unwrap();
    let lost = |at: u64| map.unreadable.iter().any(|u| u.range.contains(&at));
    let mut buf = vec![0u8; 64 << 10];
    for start in (0..raw.len() as u64).step_by(buf.len()) {
        match disk.read_exact_at(start, &mut buf) {
            Ok(()) => {
                assert!(!lost(start), "{start} is listed lost but reads");
                assert_eq!(buf, raw[start as usize..][..buf.len()], "at {start}");
            }
            Err(error) => {
                assert!(lost(start), "{start} fails but is not listed: {error}");
                assert!(
                    matches!(&error, DiskError::Damaged { path, .. } if path == image),
                    "{error:?}"
                );
            }
        }
    }
    map.unreadable
        .iter()
        .map(|u| u.range.end - u.range.start)
        .sum()
}

#[test]
fn truncated_images_lose_what_lies_past_the_cut() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "disk.raw", 16 * MIB, 13);
    let raw_bytes = fs::read(&raw).unwrap();
    let cut_to = |image: &Path, len: u64| {
        fs::OpenOptions::new()
            .write(true)
            .open(image)
            .unwrap()
            .set_len(len)
            .unwrap()
    };

    // monolithicSparse keeps its tables at the front: it opens, and the grains past the cut
    // are lost.
    let image = convert(dir.path(), &raw, "sparse.vmdk", "monolithicSparse");
    cut_to(&image, fs::metadata(&image).unwrap().len() / 2);
    assert!(assert_reads_or_lost(&*open(&image), &raw_bytes, &image) > 0);

    // A streamOptimized image whose tables are at the end, behind the footer, is read through
    // its grain markers up to the cut: here only the tables are cut off, and nothing is lost.
    let image = with_footer(&convert(dir.path(), &raw, "stream.vmdk", "streamOptimized"));
    let len = fs::metadata(&image).unwrap().len();
    cut_to(&image, len - 4096);
    assert_eq!(assert_reads_or_lost(&*open(&image), &raw_bytes, &image), 0);
    // Cut in the middle of its grains: the rest of the disk from the cut is lost.
    cut_to(&image, len / 2);
    let lost = assert_reads_or_lost(&*open(&image), &raw_bytes, &image);
    assert!(lost > 0 && lost < 16 * MIB, "{lost}");

    // Cut inside the header.
    cut_to(&image, 100);
    let error = snapsift_disk::open(&image).unwrap_err();
    assert!(matches!(error, DiskError::Truncated { .. }), "{error:?}");
}

#[test]
fn missing_extent_file_loses_its_stretch_and_is_named() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "disk.raw", 4 * MIB, 14);
    let image = convert(dir.path(), &raw, "disk.vmdk", "monolithicFlat");
    let extent = dir.path().join("disk-flat.vmdk");
    fs::remove_file(&extent).unwrap();
    let disk = open(&image);
    let map = disk.data_map().unwrap();
    assert_eq!(map.data, vec![0..4 * MIB]);
    assert_eq!(map.unreadable.len(), 1);
    assert_eq!(map.unreadable[0].range, 0..4 * MIB);
    let reason = &map.unreadable[0].reason;
    assert!(reason.contains(&extent.display().to_string()), "{reason}");
    assert!(reason.contains("missing"), "{reason}");
    let mut buf = [0u8; 512];
    let error = disk.read_exact_at(0, &mut buf).unwrap_err();
    assert!(error.to_string().contains("missing"), "{error}");
}

/// The sector of the grain marker of the first allocated grain of a streamOptimized image made
/// by qemu-img, found through its header, grain directory and first grain table.
fn first_grain_marker(image: &[u8]) -> u64 {
    let le32 = |at: usize| u32::from_le_bytes(image[at..at + 4].try_into().unwrap());
    let le64 = |at: usize| u64::from_le_bytes(image[at..at + 8].try_into().unwrap());
    let gd = le64(56) as usize * 512;
    let gt = le32(gd) as usize * 512;
    (0..512)
        .map(|i| le32(gt + 4 * i))
        .find(|&entry| entry > 1)
        .expect("an allocated grain") as u64
}

#[test]
fn a_damaged_compressed_grain_is_corrupt() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "disk.raw", 4 * MIB, 15);
    let image = convert(dir.path(), &raw, "disk.vmdk", "streamOptimized");
    let mut bytes = fs::read(&image).unwrap();
    let marker = first_grain_marker(&bytes) as usize * 512;
    let lba = u64::from_le_bytes(bytes[marker..marker + 8].try_into().unwrap());
    let size = u32::from_le_bytes(bytes[marker + 8..marker + 12].try_into().unwrap()) as usize;
    bytes[marker + 12..marker + 12 + size].fill(0x5a);
    fs::write(&image, &bytes).unwrap();

    let disk = open(&image);
    let error = disk
        .read_exact_at(lba * 512 + 100, &mut [0u8; 10])
        .unwrap_err();
    match &error {
        DiskError::Corrupt { path, reason, .. } => {
            assert_eq!(*path, image);
            assert!(reason.contains("compressed grain"), "{reason}");
        }
        other => panic!("expected a corrupt-image error, got {other:?}"),
    }

    // A grain marker that claims another grain is caught too.
    bytes[marker..marker + 8].copy_from_slice(&(lba + 128).to_le_bytes());
    fs::write(&image, &bytes).unwrap();
    let error = open(&image)
        .read_exact_at(lba * 512, &mut [0u8; 10])
        .unwrap_err();
    assert!(matches!(error, DiskError::Corrupt { .. }), "{error:?}");
}

#[test]
fn esx_and_unknown_extents_are_refused() {
    let dir = workdir();
    fs::write(dir.path().join("esx-flat.vmdk"), vec![0u8; 4096]).unwrap();
    for (create_type, extent) in [
        ("vmfs", "RW 8 VMFS \"esx-flat.vmdk\""),
        ("vmfsSparse", "RW 8 VMFSSPARSE \"esx-delta.vmdk\""),
        ("seSparse", "RW 8 SESPARSE \"esx-sesparse.vmdk\""),
        ("custom", "RW 8 VMFSSPARSE \"esx-delta.vmdk\""),
        ("custom", "RW 8 SESPARSE \"esx-sesparse.vmdk\""),
        ("custom", "RW 8 VMFSRDM \"esx-rdm.vmdk\""),
        ("custom", "RW 8 ENCRYPTED \"esx-flat.vmdk\""),
        ("custom", "NOACCESS 8 FLAT \"esx-flat.vmdk\""),
        ("fullDevice", "RW 8 FLAT \"/dev/sda\" 0"),
    ] {
        let descriptor = dir.path().join("esx.vmdk");
        fs::write(
            &descriptor,
            format!("# Disk DescriptorFile\nversion=1\ncreateType=\"{create_type}\"\n{extent}\n"),
        )
        .unwrap();
        match snapsift_disk::open(&descriptor) {
            Err(DiskError::Unsupported { path, format, .. }) => {
                assert_eq!((path, format), (descriptor, "VMDK"), "{extent}");
            }
            other => panic!("{create_type} / {extent}: expected unsupported, got {other:?}"),
        }
    }
}

#[test]
fn malformed_descriptors_are_corrupt() {
    let dir = workdir();
    for text in [
        "# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\n",
        "# Disk DescriptorFile\nRW many FLAT \"x.raw\" 0\n",
        "# Disk DescriptorFile\nRW 8 FLAT \"x.raw\n",
        "# Disk DescriptorFile\nRW 8 FLAT\n",
        "# Disk DescriptorFile\nparentCID=12345678\nRW 8 ZERO\n",
    ] {
        let descriptor = dir.path().join("bad.vmdk");
        fs::write(&descriptor, text).unwrap();
        match snapsift_disk::open(&descriptor) {
            Err(DiskError::Corrupt { path, .. }) => assert_eq!(path, descriptor),
            other => panic!("{text:?}: expected corrupt, got {other:?}"),
        }
    }
}

/// Damage anywhere in a small image (header, descriptor, tables, grains, footer) gives errors
/// or other bytes, never a panic, a hang or a huge allocation.
#[test]
fn random_damage_never_panics() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "disk.raw", 2 * MIB, 16);
    let sparse = convert(dir.path(), &raw, "sparse.vmdk", "monolithicSparse");
    let stream = convert(dir.path(), &raw, "stream.vmdk", "streamOptimized");
    let footer = with_footer(&stream);
    let damaged = dir.path().join("damaged.vmdk");
    let mut pattern = Rng::new(17);
    for original in [sparse, stream, footer] {
        let bytes = fs::read(&original).unwrap();
        for _ in 0..150 {
            let mut copy = bytes.clone();
            for _ in 0..1 + pattern.next() % 8 {
                // Mostly the metadata at the front and back, sometimes anywhere.
                let at = match pattern.next() % 3 {
                    0 => pattern.next() % 16_384,
                    1 => copy.len() as u64 - 1 - pattern.next() % 2048,
                    _ => pattern.next() % copy.len() as u64,
                } as usize;
                copy[at] = pattern.next() as u8;
            }
            fs::write(&damaged, &copy).unwrap();
            let Ok(disk) = snapsift_disk::open(&damaged) else {
                continue;
            };
            let mut buf = vec![0u8; MIB as usize];
            let mut read = 0u64;
            if let Ok(ranges) = disk.data_ranges() {
                assert_ranges_well_formed(&ranges, disk.size());
                for range in ranges {
                    let mut at = range.start;
                    while at < range.end && read < 8 * MIB {
                        let len = (range.end - at).min(MIB) as usize;
                        let _ = disk.read_exact_at(at, &mut buf[..len]);
                        at += len as u64;
                        read += len as u64;
                    }
                }
            }
            for _ in 0..8 {
                let at = pattern.next() % disk.size().max(1);
                let len = (disk.size() - at).min(pattern.next() % 200_000) as usize;
                let _ = disk.read_exact_at(at, &mut buf[..len]);
            }
        }
    }
}
