//! qcow2 images made by `qemu-img` and `qemu-io` read exactly like `qemu-img convert -O raw`
//! says, through every kind of cluster and backing chain; broken ones give clear errors.

use std::path::{Path, PathBuf};

use snapsift_disk::{DiskError, ReferencePolicy};
use snapsift_testkit::{qemu_img, qemu_io, qemu_overlay, unavailable, workdir};

use crate::common::*;

const MIB: u64 = 1 << 20;

/// Converts `raw` to qcow2 with `options` (`-o ...`), plus `extra` arguments such as `-c`.
fn convert(dir: &Path, raw: &Path, name: &str, options: &str, extra: &[&str]) -> PathBuf {
    let image = dir.join(name);
    let mut args = vec!["convert", "-f", "raw", "-O", "qcow2"];
    args.extend(extra);
    if !options.is_empty() {
        args.extend(["-o", options]);
    }
    args.extend([raw.to_str().unwrap(), image.to_str().unwrap()]);
    qemu_img(&args);
    image
}

#[test]
fn versions_and_cluster_sizes() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "disk.raw", 24 * MIB, 1);
    for (name, options) in [
        ("v2.qcow2", "compat=0.10"),
        ("v3.qcow2", "compat=1.1"),
        ("c512.qcow2", "cluster_size=512"),
        ("c2m.qcow2", "cluster_size=2M"),
    ] {
        let image = convert(dir.path(), &raw, name, options, &[]);
        assert_like_qemu(&image, dir.path());
    }
}

#[test]
fn an_odd_virtual_size() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "disk.raw", 9 * MIB, 2);
    // Not a multiple of the cluster size: the last cluster is partly outside the disk.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&raw)
        .unwrap()
        .set_len(9 * MIB + 12_345)
        .unwrap();
    let image = convert(dir.path(), &raw, "odd.qcow2", "", &[]);
    assert_like_qemu(&image, dir.path());
}

#[test]
fn compressed_clusters_deflate_and_zstd() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "disk.raw", 24 * MIB, 3);
    let deflate = convert(dir.path(), &raw, "deflate.qcow2", "", &["-c"]);
    assert_like_qemu(&deflate, dir.path());
    let zstd = convert(
        dir.path(),
        &raw,
        "zstd.qcow2",
        "compression_type=zstd",
        &["-c"],
    );
    assert_like_qemu(&zstd, dir.path());
    let small = convert(
        dir.path(),
        &raw,
        "zstd4k.qcow2",
        "compression_type=zstd,cluster_size=4k",
        &["-c"],
    );
    assert_like_qemu(&small, dir.path());
}

#[test]
fn extended_l2_subclusters_over_a_backing_image() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "base.raw", 16 * MIB, 4);
    let base = convert(dir.path(), &raw, "base.qcow2", "", &[]);
    let top = dir.path().join("top.qcow2");
    qemu_img(&[
        "create",
        "-f",
        "qcow2",
        "-o",
        "extended_l2=on,cluster_size=128k",
        "-b",
        "base.qcow2",
        "-F",
        "qcow2",
        top.to_str().unwrap(),
    ]);
    // Subclusters are 4 KiB: writes of parts of clusters leave a mix of allocated, zero and
    // unallocated (backing) subclusters in one cluster.
    qemu_io(
        &top,
        "qcow2",
        &[
            "write -P 0xa1 4096 4096",
            "write -P 0xa2 12288 8192",
            "write -z 65536 4096",
            "write -P 0xa3 1048576 200000",
            "write -z -u 2097152 131072",
            "write -P 0xa4 8388608 123",
        ],
    );
    assert!(base.exists());
    assert_like_qemu(&top, dir.path());
}

#[test]
fn a_backing_chain_of_three_with_data_at_each_level() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "base.raw", 32 * MIB, 5);
    convert(dir.path(), &raw, "base.qcow2", "", &[]);
    let mid = dir.path().join("mid.qcow2");
    let top = dir.path().join("top.qcow2");
    // Relative backing names, resolved from the overlay's directory.
    qemu_overlay(&mid, "base.qcow2", "qcow2", true);
    qemu_io(
        &mid,
        "qcow2",
        &[
            "write -P 0x11 0 65536",
            "write -P 0x12 5000000 300000",
            "write -z 20000000 1048576",
        ],
    );
    qemu_overlay(&top, "mid.qcow2", "qcow2", true);
    qemu_io(
        &top,
        "qcow2",
        &[
            "write -P 0x21 32768 65536",
            "write -P 0x22 5100000 4096",
            "discard 0 0",
        ],
    );
    assert_like_qemu(&top, dir.path());
    let disk = snapsift_disk::open(&top).unwrap();
    assert_eq!(disk.kind(), "qcow2 image with backing chain");
    // Every file of the chain, by identity: a hard link to the base is the base.
    let mut opener = snapsift_disk::Opener::new(snapsift_disk::ReferencePolicy::default());
    opener.open_image(&top).unwrap();
    let identity = |path: &Path| {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).unwrap();
        (meta.dev(), meta.ino())
    };
    let link = dir.path().join("base-link.qcow2");
    std::fs::hard_link(dir.path().join("base.qcow2"), &link).unwrap();
    let files: Vec<(u64, u64)> = opener.files().iter().map(|f| (f.dev, f.ino)).collect();
    assert_eq!(files, [identity(&top), identity(&mid), identity(&link)]);
}

#[test]
fn a_raw_backing_file_shorter_than_its_overlay() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "base.raw", 8 * MIB, 6);
    let top = dir.path().join("top.qcow2");
    qemu_img(&[
        "create",
        "-f",
        "qcow2",
        "-b",
        raw.to_str().unwrap(),
        "-F",
        "raw",
        top.to_str().unwrap(),
        "20M",
    ]);
    qemu_io(
        &top,
        "qcow2",
        &[
            "write -P 0x33 7000000 3000000",
            "write -P 0x34 19000000 1000",
        ],
    );
    assert_like_qemu(&top, dir.path());
}

#[test]
fn a_dirty_image_is_read_as_it_is() {
    let dir = workdir();
    let image = dir.path().join("dirty.qcow2");
    qemu_img(&[
        "create",
        "-f",
        "qcow2",
        "-o",
        "lazy_refcounts=on",
        image.to_str().unwrap(),
        "8M",
    ]);
    // Killing qemu-io after allocating writes leaves the dirty bit set, as a crashed VM does.
    let _ = std::process::Command::new("qemu-io")
        .args(["-f", "qcow2", "-c", "write -P 0x55 1048576 65536"])
        .args(["-c", "write -P 0x56 3000000 100000", "-c", "sigraise 9"])
        .arg(&image)
        .status()
        .unwrap();
    let header = std::fs::read(&image).unwrap();
    assert_eq!(header[79] & 1, 1, "the dirty bit is set");
    assert_like_qemu(&image, dir.path());
}

#[test]
fn only_allocated_clusters_are_data() {
    let dir = workdir();
    let image = dir.path().join("sparse.qcow2");
    qemu_img(&["create", "-f", "qcow2", image.to_str().unwrap(), "1T"]);
    qemu_io(
        &image,
        "qcow2",
        &[
            "write -P 0x42 0 1M",
            "write -P 0x43 500G 64k",
            "write -P 0x44 1099511562240 65536",
        ],
    );
    let disk = snapsift_disk::open(&image).unwrap();
    assert_eq!(disk.size(), 1 << 40);
    let ranges = disk.data_ranges().unwrap();
    assert_ranges_well_formed(&ranges, disk.size());
    assert_eq!(total(&ranges), MIB + 2 * 65536);
    let mut last = vec![0u8; 65536];
    disk.read_exact_at((1 << 40) - 65536, &mut last).unwrap();
    assert!(last.iter().all(|&b| b == 0x44));
}

#[test]
fn broken_images_give_clear_errors() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "disk.raw", 8 * MIB, 8);

    let encrypted = dir.path().join("luks.qcow2");
    qemu_img(&[
        "create",
        "--object",
        "secret,id=sec0,data=test-passphrase",
        "-f",
        "qcow2",
        "-o",
        "encrypt.format=luks,encrypt.key-secret=sec0",
        encrypted.to_str().unwrap(),
        "8M",
    ]);
    let error = snapsift_disk::open(&encrypted).unwrap_err();
    assert!(matches!(error, DiskError::Unsupported { .. }), "{error}");
    assert!(error.to_string().contains("encrypted"), "{error}");

    let orphan = dir.path().join("orphan.qcow2");
    qemu_img(&[
        "create",
        "-f",
        "qcow2",
        "-b",
        "gone.qcow2",
        "-F",
        "qcow2",
        "-u",
        orphan.to_str().unwrap(),
        "8M",
    ]);
    let error = snapsift_disk::open(&orphan).unwrap_err();
    assert!(matches!(error, DiskError::Backing { .. }), "{error}");
    assert!(format!("{error}").contains("gone.qcow2"), "{error}");

    let (a, b) = (dir.path().join("a.qcow2"), dir.path().join("b.qcow2"));
    qemu_img(&["create", "-f", "qcow2", a.to_str().unwrap(), "8M"]);
    qemu_overlay(&b, "a.qcow2", "qcow2", true);
    qemu_img(&[
        "rebase",
        "-u",
        "-f",
        "qcow2",
        "-b",
        "b.qcow2",
        "-F",
        "qcow2",
        a.to_str().unwrap(),
    ]);
    let error = snapsift_disk::open(&b).unwrap_err();
    assert!(matches!(error, DiskError::BackingChain { .. }), "{error}");

    let image = convert(dir.path(), &raw, "cut.qcow2", "", &[]);
    let len = std::fs::metadata(&image).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&image)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let disk = snapsift_disk::open(&image).unwrap();
    let mut buf = vec![0u8; 8 * MIB as usize];
    let error = disk.read_exact_at(0, &mut buf).unwrap_err();
    assert!(matches!(error, DiskError::Truncated { .. }), "{error}");
}

#[test]
fn a_block_device_named_as_backing_file_is_refused() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "base.raw", 4 * MIB, 9);
    let attached = std::process::Command::new("losetup")
        .args(["-r", "-f", "--show"])
        .arg(&raw)
        .output();
    let device = match attached {
        Ok(out) if out.status.success() => String::from_utf8(out.stdout).unwrap().trim().to_owned(),
        attached => {
            unavailable(&format!("loop devices unavailable: {attached:?}"));
            return;
        }
    };
    let top = dir.path().join("top.qcow2");
    qemu_img(&[
        "create",
        "-f",
        "qcow2",
        "-b",
        &device,
        "-F",
        "raw",
        "-u",
        top.to_str().unwrap(),
        "4M",
    ]);
    // Outside the image's directory, the name is refused before the device is looked at;
    // even with its directory allowed, a device is not a file an image may name.
    let refused = snapsift_disk::open(&top);
    let allowed = ReferencePolicy::allowing(&["/dev".into()]).unwrap();
    let result = snapsift_disk::open_with(&top, &allowed);
    let _ = std::process::Command::new("losetup")
        .args(["-d", &device])
        .status();
    let error = refused.unwrap_err();
    assert!(
        matches!(error, DiskError::ReferenceRefused { .. }),
        "{error}"
    );
    let error = result.unwrap_err();
    assert!(matches!(error, DiskError::Backing { .. }), "{error}");
    let chain = format!("{error}: {}", std::error::Error::source(&error).unwrap());
    assert!(chain.contains("block device"), "{chain}");
}
