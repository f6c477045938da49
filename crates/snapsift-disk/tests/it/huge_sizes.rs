//! Virtual sizes of 2^63 bytes and more, patched into real VHD, VHDX and VMDK images made by
//! `qemu-img`: each is refused with a clear error naming the image, or read as what it says
//! without allocating for the size (only the tables the file holds are loaded).

use std::path::{Path, PathBuf};

use snapsift_disk::DiskError;
use snapsift_testkit::{qemu_convert, workdir};

use crate::common::*;

const MIB: u64 = 1 << 20;
/// The sizes tried, in bytes: 2^63 and the largest a 64-bit field holds.
const HUGE: [u64; 2] = [1 << 63, u64::MAX];

/// `qemu-img convert` of a 4 MiB raw disk to `format` with `options`.
fn convert(dir: &Path, format: &str, options: &str, name: &str) -> PathBuf {
    let raw = raw_disk(dir, "disk.raw", 4 * MIB, 11);
    let image = dir.join(name);
    qemu_convert(&raw, format, &["-o", options], &image);
    image
}

/// What opening `image` and, if it opens, listing and reading its ranges gives: the disk's
/// size and how many bytes its data ranges hold, or an error; never a panic or a read of
/// 2^63 bytes.
fn open_and_read(image: &Path) -> Result<(u64, u64), DiskError> {
    let disk = snapsift_disk::open(image)?;
    let ranges = disk.data_ranges()?;
    assert_ranges_well_formed(&ranges, disk.size());
    let mut buf = vec![0u8; 4096];
    for range in ranges.iter().take(16) {
        let len = (range.end - range.start).min(4096) as usize;
        disk.read_exact_at(range.start, &mut buf[..len])?;
    }
    let mut last = [0u8; 512];
    disk.read_exact_at(disk.size() - 512, &mut last)?;
    Ok((disk.size(), total(&ranges)))
}

/// Sets the current size in a VHD footer at `at` and makes its checksum match again.
fn set_vhd_size(bytes: &mut [u8], at: usize, size: u64) {
    let footer = &mut bytes[at..at + 512];
    footer[48..56].copy_from_slice(&size.to_be_bytes());
    footer[64..68].fill(0);
    let sum = footer
        .iter()
        .fold(0u32, |sum, &b| sum.wrapping_add(u32::from(b)));
    footer[64..68].copy_from_slice(&(!sum).to_be_bytes());
}

#[test]
fn vhd_footers_claiming_2_to_the_63_bytes() {
    let dir = workdir();
    for subformat in ["fixed", "dynamic"] {
        let image = convert(
            dir.path(),
            "vpc",
            &format!("subformat={subformat}"),
            &format!("{subformat}.vhd"),
        );
        let clean = std::fs::read(&image).unwrap();
        for size in HUGE {
            let mut bytes = clean.clone();
            let end = bytes.len() - 512;
            set_vhd_size(&mut bytes, end, size);
            if subformat == "dynamic" {
                set_vhd_size(&mut bytes, 0, size);
            }
            std::fs::write(&image, &bytes).unwrap();
            let error = open_and_read(&image).unwrap_err();
            assert!(
                error.to_string().contains(image.to_str().unwrap()),
                "{subformat}, {size}: {error}"
            );
        }
    }
}

#[test]
fn vmdk_capacities_of_2_to_the_63_bytes() {
    let dir = workdir();
    // A sparse extent's header: capacity in sectors at byte 12.
    let image = convert(
        dir.path(),
        "vmdk",
        "subformat=monolithicSparse",
        "sparse.vmdk",
    );
    let clean = std::fs::read(&image).unwrap();
    for size in HUGE {
        let mut bytes = clean.clone();
        bytes[12..20].copy_from_slice(&(size / 512).to_le_bytes());
        std::fs::write(&image, &bytes).unwrap();
        let error = open_and_read(&image).unwrap_err();
        assert!(error.to_string().contains("sparse.vmdk"), "{size}: {error}");
    }

    // A descriptor's extent line: its size in sectors, as text. The extent is sparse: past
    // its own capacity it was never written, and reads as zeros, so the disk is as large as
    // the descriptor says, and holds no more data than the extent.
    let descriptor = convert(
        dir.path(),
        "vmdk",
        "subformat=twoGbMaxExtentSparse",
        "split.vmdk",
    );
    let text = std::fs::read_to_string(&descriptor).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("RW "))
        .unwrap()
        .to_owned();
    let sectors = line.split(' ').nth(1).unwrap();
    for size in HUGE {
        let patched = line.replacen(sectors, &(size / 512).to_string(), 1);
        std::fs::write(&descriptor, text.replace(&line, &patched)).unwrap();
        let (disk_size, data) = open_and_read(&descriptor).unwrap();
        assert_eq!(disk_size, size / 512 * 512);
        assert!(data <= 4 * MIB, "{data} bytes of data");
    }
}

/// A raw image of 2^63 - 1 bytes, the most a file can hold, sparse on tmpfs with data at both
/// ends: its data ranges are those two pages. tmpfs reports the hole at its end as 2^63,
/// which `lseek` returns wrapped negative; taken for an error once, it made the whole file
/// data and the sweep fill memory with the pages of 2^63 bytes of holes.
#[test]
fn a_sparse_raw_file_of_2_to_the_63_bytes_has_two_pages_of_data() {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::Builder::new()
        .prefix("snapsift-disk-huge-")
        .tempdir_in("/dev/shm")
        .expect("/dev/shm is a tmpfs");
    let path = dir.path().join("huge.raw");
    let size = i64::MAX as u64;
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(size).unwrap();
    file.write_all_at(b"first", 0).unwrap();
    file.write_all_at(b"last", size - 4096).unwrap();
    let disk = snapsift_disk::open(&path).unwrap();
    assert_eq!(disk.size(), size);
    let last_page = (size - 4096) / 4096 * 4096;
    assert_eq!(disk.data_ranges().unwrap(), vec![0..4096, last_page..size]);
}

/// The Virtual Disk Size metadata item's GUID (2FA54224-CD1B-4876-B211-5DBED83BF4B8), as
/// VHDX stores it (the first three fields little-endian).
const VHDX_VIRTUAL_DISK_SIZE: [u8; 16] = [
    0x24, 0x42, 0xA5, 0x2F, 0x1B, 0xCD, 0x76, 0x48, 0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8,
];

#[test]
fn a_vhdx_virtual_size_of_2_to_the_63_bytes() {
    let dir = workdir();
    let image = convert(dir.path(), "vhdx", "subformat=dynamic", "huge.vhdx");
    let clean = std::fs::read(&image).unwrap();
    // The metadata table starts with its signature; its entries (32 bytes from byte 32)
    // give each item's offset from the table's start.
    let table = clean.windows(8).position(|w| w == b"metadata").unwrap();
    let entry = (0..2047)
        .map(|i| table + 32 + 32 * i)
        .find(|&at| clean[at..at + 16] == VHDX_VIRTUAL_DISK_SIZE)
        .unwrap();
    let item =
        table + u32::from_le_bytes(clean[entry + 16..entry + 20].try_into().unwrap()) as usize;
    assert_eq!(
        u64::from_le_bytes(clean[item..item + 8].try_into().unwrap()),
        4 * MIB,
        "the item holds the size qemu-img wrote"
    );
    for size in HUGE {
        let mut bytes = clean.clone();
        bytes[item..item + 8].copy_from_slice(&size.to_le_bytes());
        std::fs::write(&image, &bytes).unwrap();
        let error = open_and_read(&image).unwrap_err();
        assert!(
            matches!(error, DiskError::Corrupt { .. }),
            "{size}: {error}"
        );
        assert!(error.to_string().contains("huge.vhdx"), "{size}: {error}");
    }
}
