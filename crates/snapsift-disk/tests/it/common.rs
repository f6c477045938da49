//! Shared by the container-format tests: real images made by real tools, and the checks that a
//! reader shows exactly the virtual disk an independent tool (`qemu-img convert -O raw`) shows.

use snapsift_disk::{Disk, DiskError};
use snapsift_testkit::{Rng, qemu_to_raw, run};
use std::fs;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Writes a raw disk of `size` bytes (a multiple of 1 MiB) that exercises a reader: runs of
/// random data of varied lengths and alignments, all-zero stretches that are written (not
/// holes), holes left sparse, and data in the first and last sectors. Returns its path.
pub fn raw_disk(dir: &Path, name: &str, size: u64, seed: u64) -> PathBuf {
    use std::os::unix::fs::FileExt;
    let path = dir.join(name);
    let file = fs::File::create(&path).unwrap();
    file.set_len(size).unwrap();
    let mut pattern = Rng::new(seed);
    let mut offset = 0u64;
    while offset < size {
        // Between 1 byte and 3 MiB, at unaligned offsets, then a gap of up to 2 MiB.
        let len = 1 + pattern.next() % (3 << 20);
        let len = len.min(size - offset);
        match pattern.next() % 4 {
            0 => file.write_all_at(&vec![0u8; len as usize], offset).unwrap(),
            _ => file
                .write_all_at(&pattern.bytes(len as usize), offset)
                .unwrap(),
        }
        offset += len + pattern.next() % (2 << 20);
    }
    file.write_all_at(b"first sector", 0).unwrap();
    file.write_all_at(b"last sector", size - 11).unwrap();
    path
}

/// Checks that `disk` reads exactly the bytes of the raw file `reference`: its size, every byte
/// (in 1 MiB reads), many reads of random lengths at random unaligned offsets, and that every
/// byte outside its data ranges is zero.
pub fn assert_reads_like(disk: &dyn Disk, reference: &Path) {
    let expected = fs::read(reference).unwrap();
    assert_eq!(disk.size(), expected.len() as u64, "virtual size");
    let size = expected.len();

    let mut buf = vec![0u8; 1 << 20];
    let mut offset = 0;
    while offset < size {
        let len = buf.len().min(size - offset);
        disk.read_exact_at(offset as u64, &mut buf[..len]).unwrap();
        assert!(
            buf[..len] == expected[offset..offset + len],
            "bytes differ in the 1 MiB read at offset {offset}"
        );
        offset += len;
    }

    let mut pattern = Rng::new(size as u64);
    for _ in 0..500 {
        let start = (pattern.next() % size as u64) as usize;
        let len = ((pattern.next() % (300 << 10)) as usize).min(size - start);
        let mut got = vec![0u8; len];
        disk.read_exact_at(start as u64, &mut got).unwrap();
        assert!(
            got == expected[start..start + len],
            "bytes differ in the read of {len} bytes at offset {start}"
        );
    }

    let ranges = disk.data_ranges().unwrap();
    assert_ranges_well_formed(&ranges, disk.size());
    let mut covered = 0usize;
    for range in &ranges {
        let first_nonzero = expected[covered..range.start as usize]
            .iter()
            .position(|&b| b != 0);
        assert!(
            first_nonzero.is_none(),
            "non-zero byte at {} lies outside the data ranges",
            covered + first_nonzero.unwrap_or(0)
        );
        covered = range.end as usize;
    }
    assert!(
        expected[covered..].iter().all(|&b| b == 0),
        "non-zero bytes after the last data range"
    );

    let past_end = disk.read_exact_at(size as u64 - 1, &mut [0u8; 2]);
    assert!(past_end.is_err(), "a read past the end must fail");
}

/// Opens `image` and checks it reads exactly like `qemu-img convert -O raw` says ([`qemu_to_raw`]
/// into `dir`, then [`assert_reads_like`]).
pub fn assert_like_qemu(image: &Path, dir: &Path) {
    let disk = snapsift_disk::open(image).unwrap();
    assert_reads_like(&*disk, &qemu_to_raw(image, None, dir));
}

/// Sorted, non-overlapping, non-empty, within the disk.
pub fn assert_ranges_well_formed(ranges: &[Range<u64>], size: u64) {
    for range in ranges {
        assert!(range.start < range.end, "empty range {range:?}");
        assert!(
            range.end <= size,
            "range {range:?} past the disk's end {size}"
        );
    }
    for pair in ranges.windows(2) {
        assert!(
            pair[0].end <= pair[1].start,
            "ranges {pair:?} overlap or are unsorted"
        );
    }
}

/// The number of bytes in `ranges`.
pub fn total(ranges: &[Range<u64>]) -> u64 {
    ranges.iter().map(|r| r.end - r.start).sum()
}

/// Fails with the first differing offset (not two dumps of megabytes) unless `got` is
/// `expected`.
pub fn assert_same_bytes(got: &[u8], expected: &[u8], what: &str) {
    assert_eq!(got.len(), expected.len(), "{what}: size");
    let first_difference = got.iter().zip(expected).position(|(a, b)| a != b);
    assert_eq!(first_difference, None, "{what}: first differing byte");
}

/// What `vhdimount` (libvhdi) exposes for `image`: the independent oracle for differencing
/// disks, which qemu cannot make.
pub fn vhdimount_bytes(image: &Path, dir: &Path) -> Vec<u8> {
    let mountpoint = dir.join(format!(
        "mnt-{}",
        image.file_name().unwrap().to_string_lossy()
    ));
    std::fs::create_dir_all(&mountpoint).unwrap();
    run(
        "vhdimount",
        &[image.to_str().unwrap(), mountpoint.to_str().unwrap()],
    );
    // One file per image of the chain, the parent first: the last is the child as the guest
    // sees it.
    let layers = std::fs::read_dir(&mountpoint).unwrap().count();
    let bytes = std::fs::read(mountpoint.join(format!("vhdi{layers}")));
    let unmounted = std::process::Command::new("fusermount")
        .args(["-u", mountpoint.to_str().unwrap()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !unmounted {
        run("umount", &[mountpoint.to_str().unwrap()]);
    }
    bytes.unwrap()
}

/// Checks that `error` is the refusal of `reference`, named by `image`, leading to `target`.
pub fn assert_refused(error: &DiskError, image: &Path, reference: &Path, target: &Path) {
    let real = target.canonicalize().unwrap();
    match error {
        DiskError::ReferenceRefused {
            image: named_by,
            reference: written,
            resolved,
            allow,
        } => {
            assert_eq!(named_by, image, "{error}");
            assert_eq!(written, reference, "{error}");
            assert_eq!(resolved, &real, "{error}");
            assert_eq!(allow.as_deref(), real.parent(), "{error}");
        }
        other => panic!("expected a refused reference, got {other:?}"),
    }
    let message = error.to_string();
    for part in [image, reference, &real, real.parent().unwrap()] {
        let part = part.to_str().unwrap();
        assert!(message.contains(part), "{part} missing from: {message}");
    }
    assert!(message.contains("--allow-path"), "{message}");
}

/// Flips the bits of one byte of `path`.
pub fn flip_byte(path: &Path, offset: u64) {
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, offset).unwrap();
    file.write_all_at(&[!byte[0]], offset).unwrap();
}
