//! Scanning a real block device: an image attached read-only with `losetup -r`, the whole
//! device and one of its partition devices, gives the same findings as the image file.
//!
//! Needs root and loop devices; where they are truly unavailable the tests say why and return.

use std::path::{Path, PathBuf};

use snapsift_testkit::{
    LoopDevice, Secrets, attach_or_skip, hashes_around, run, unavailable, workdir, write_at,
};

use crate::common::*;

const MIB: u64 = 1 << 20;

/// A GPT disk of 24 MiB with filler text and secrets, the partition at 1 MiB holding some.
fn disk_image(path: &Path) -> Vec<String> {
    let mut secrets = Secrets::new(11);
    std::fs::write(path, secrets.filler(24 * MIB as usize)).unwrap();
    run("sgdisk", &["-n", "1:2048:+16M", path.to_str().unwrap()]);
    let planted = vec![
        secrets.aws_key_id(),
        secrets.postgres_uri(),
        secrets.alibaba_key_id(),
    ];
    // One inside the partition, one straddling its end, one outside it.
    for (secret, offset) in planted.iter().zip([3 * MIB + 5, 17 * MIB - 7, 20 * MIB]) {
        write_at(path, offset, format!("\n{secret}\n").as_bytes());
    }
    planted
}

/// The test disk image (in a temporary directory) attached to a loop device, or `None` after
/// printing why loop devices are unavailable (a failure under `CI=true`).
fn attached_disk() -> Option<(tempfile::TempDir, PathBuf, LoopDevice)> {
    let dir = workdir();
    let image = path_in(&dir, "disk.img");
    disk_image(&image);
    let device = attach_or_skip(&image)?;
    Some((dir, image, device))
}

#[test]
fn a_read_only_loop_device_scans_like_its_image() {
    let Some((_dir, image, device)) = attached_disk() else {
        return;
    };
    let from_file = Scan::run(&[&image], &[]);
    let from_device = Scan::run(&[&device.device], &["--chunk-size", "1000000"]);
    assert_eq!(from_file.code, 1, "{}", from_file.stderr);
    assert_eq!(from_device.code, 1, "{}", from_device.stderr);
    assert_eq!(from_file.triples().len(), 3);
    assert_eq!(from_device.triples(), from_file.triples());

    // The partition device sees the partition's bytes only, at offsets from its own start.
    let partition = LoopDevice::attach_partition(&image, MIB, 16 * MIB).unwrap();
    let from_partition = Scan::run(&[&partition.device], &[]);
    let expected: Vec<(String, u64, String)> = from_file
        .triples()
        .into_iter()
        .filter(|(_, offset, secret)| *offset >= MIB && offset + secret.len() as u64 <= 17 * MIB)
        .map(|(rule, offset, secret)| (rule, offset - MIB, secret))
        .collect();
    assert_eq!(expected.len(), 1);
    assert_eq!(from_partition.triples(), expected);
}

#[test]
fn the_summary_names_a_block_device() {
    let Some((_dir, _image, device)) = attached_disk() else {
        return;
    };
    let output = snapsift().arg("scan").arg(&device.device).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("(block device, 24.00 MiB)"), "{stderr}");
}

#[test]
fn direct_and_cached_reads_of_a_device_agree_with_its_image() {
    use snapsift_disk::{BlockDevice, Disk, page_aligned_range};
    let Some((_dir, image, device)) = attached_disk() else {
        return;
    };
    let bytes = std::fs::read(&image).unwrap();
    let disk = BlockDevice::open(&device.device).unwrap();
    assert!(disk.sequential());
    let mut buffer = Vec::new();
    // Long aligned reads go past the page cache; short, unaligned or misplaced ones through it.
    for (offset, len) in [
        (0, 8 * MIB),
        (3 * MIB, 2 * MIB),
        (MIB + 512, MIB),
        (MIB + 7, 2 * MIB),
        (5 * MIB, MIB + 100),
        (16 * MIB, 8 * MIB),
        (20 * MIB, 4096),
    ] {
        let (start, len) = (offset as usize, len as usize);
        let at = page_aligned_range(&mut buffer, len);
        disk.read_exact_at(offset, &mut buffer[at.clone()]).unwrap();
        assert!(
            buffer[at.clone()] == bytes[start..start + len],
            "{len} bytes at {offset}"
        );
        // The same read into a buffer that is not page-aligned.
        let mut unaligned = vec![0u8; len + 1];
        disk.read_exact_at(offset, &mut unaligned[1..]).unwrap();
        assert!(
            unaligned[1..] == bytes[start..start + len],
            "{len} bytes at {offset}"
        );
    }
    let mut past_the_end = vec![0u8; 2 * MIB as usize];
    assert!(disk.read_exact_at(23 * MIB, &mut past_the_end).is_err());
}

/// The kernel's I/O counters of a block device, from `/sys/block/NAME/stat`: (reads
/// completed, sectors read, writes completed, sectors written).
fn io_counters(device: &Path) -> (u64, u64, u64, u64) {
    let name = device.file_name().unwrap().to_str().unwrap();
    let stat = std::fs::read_to_string(format!("/sys/block/{name}/stat")).unwrap();
    let fields: Vec<u64> = stat
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect();
    (fields[0], fields[2], fields[4], fields[6])
}

#[test]
fn a_writable_loop_device_is_never_written() {
    let dir = workdir();
    let image = path_in(&dir, "disk.img");
    disk_image(&image);
    let before = hashes_around(&[&image], &[]);
    let device = match LoopDevice::attach_writable(&image) {
        Ok(device) => device,
        Err(reason) => {
            unavailable(&format!("loop devices unavailable: {reason}"));
            return;
        }
    };
    let (reads, read_sectors, writes, written_sectors) = io_counters(&device.device);
    for extra in [&[][..], &["--threads", "1"][..], &["--no-file-pass"][..]] {
        let scan = Scan::run(&[&device.device], extra);
        assert_eq!(scan.code, 1, "{}", scan.stderr);
    }
    let after = io_counters(&device.device);
    assert!(
        after.0 > reads && after.1 > read_sectors,
        "the scans read the device"
    );
    assert_eq!(
        (after.2, after.3),
        (writes, written_sectors),
        "writes completed and sectors written stay as they were"
    );
    drop(device);
    assert_eq!(hashes_around(&[&image], &[]), before);
}
