//! Files an image names (qcow2 backing files, VMDK extents and parents; VHD and VHDX parents
//! are in their own tests) are opened only inside the naming image's directory tree, or where
//! a `ReferencePolicy` allows; FIFOs never block, wherever they are named; a block device is
//! read as its bytes, whatever header it starts with.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use snapsift_disk::{Disk, DiskError, ReferencePolicy};
use snapsift_testkit::{qemu_convert, qemu_img, qemu_overlay, run, workdir};

use crate::common::*;

const MIB: u64 = 1 << 20;

/// A test's two directories: `images`, holding the image, and `host`, beside it, standing for
/// the scanning machine's own files.
struct Layout {
    _dir: tempfile::TempDir,
    images: PathBuf,
    host: PathBuf,
}

impl Layout {
    fn new() -> Layout {
        let dir = workdir();
        let images = dir.path().join("images");
        let host = dir.path().join("host");
        fs::create_dir(&images).unwrap();
        fs::create_dir(&host).unwrap();
        Layout {
            _dir: dir,
            images,
            host,
        }
    }
}

#[test]
fn a_qcow2_backing_file_outside_its_directory_is_refused_unless_allowed() {
    let layout = Layout::new();
    let credentials = raw_disk(&layout.host, "credentials", MIB, 3);
    let top = layout.images.join("top.qcow2");
    for reference in [
        credentials.to_str().unwrap().to_owned(),
        "../host/credentials".to_owned(),
    ] {
        qemu_overlay(&top, &reference, "raw", false);
        let error = snapsift_disk::open(&top).unwrap_err();
        assert_refused(&error, &top, Path::new(&reference), &credentials);

        // Allowed: the backing file is read through the overlay.
        let policy = ReferencePolicy::allowing(std::slice::from_ref(&layout.host)).unwrap();
        let disk = snapsift_disk::open_with(&top, &policy).unwrap();
        assert_reads_like(&*disk, &credentials);
    }
}

#[test]
fn a_backing_file_inside_the_directory_tree_is_opened() {
    let layout = Layout::new();
    let sub = layout.images.join("base");
    fs::create_dir(&sub).unwrap();
    let base = raw_disk(&sub, "base.raw", MIB, 4);
    let top = layout.images.join("top.qcow2");
    // Relative through a subdirectory, and absolute into it.
    for reference in ["base/base.raw", base.to_str().unwrap()] {
        qemu_overlay(&top, reference, "raw", false);
        assert_reads_like(&*snapsift_disk::open(&top).unwrap(), &base);
    }
}

#[test]
fn a_symlink_in_the_image_directory_leading_outside_is_refused() {
    let layout = Layout::new();
    let credentials = raw_disk(&layout.host, "credentials", MIB, 5);
    let link = layout.images.join("base.raw");
    std::os::unix::fs::symlink(&credentials, &link).unwrap();
    let top = layout.images.join("top.qcow2");
    qemu_overlay(&top, "base.raw", "raw", false);
    let error = snapsift_disk::open(&top).unwrap_err();
    assert_refused(&error, &top, Path::new("base.raw"), &credentials);

    // A symlink whose target stays inside the tree is followed.
    let inside = raw_disk(&layout.images, "real.raw", MIB, 6);
    fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink("real.raw", &link).unwrap();
    assert_reads_like(&*snapsift_disk::open(&top).unwrap(), &inside);
}

#[test]
fn a_directory_reached_through_a_symlink_is_the_image_directory() {
    // The image is opened as link/top.qcow2, link -> images: its directory is `images`.
    let layout = Layout::new();
    let base = raw_disk(&layout.images, "base.raw", MIB, 7);
    qemu_overlay(&layout.images.join("top.qcow2"), "base.raw", "raw", false);
    let link = layout.host.join("link");
    std::os::unix::fs::symlink(&layout.images, &link).unwrap();
    let top = link.join("top.qcow2");
    assert_reads_like(&*snapsift_disk::open(&top).unwrap(), &base);
}

#[test]
fn a_vmdk_flat_extent_outside_its_directory_is_refused() {
    let layout = Layout::new();
    let raw = raw_disk(&layout.images, "disk.raw", 2 * MIB, 8);
    let descriptor = layout.images.join("disk.vmdk");
    qemu_convert(
        &raw,
        "vmdk",
        &["-o", "subformat=monolithicFlat"],
        &descriptor,
    );
    let flat = layout.images.join("disk-flat.vmdk");
    let credentials = layout.host.join("credentials");
    fs::rename(&flat, &credentials).unwrap();
    let text = fs::read_to_string(&descriptor).unwrap();
    assert!(text.contains("\"disk-flat.vmdk\""), "{text}");
    fs::write(
        &descriptor,
        text.replace("\"disk-flat.vmdk\"", "\"../host/credentials\""),
    )
    .unwrap();
    let error = snapsift_disk::open(&descriptor).unwrap_err();
    assert_refused(
        &error,
        &descriptor,
        Path::new("../host/credentials"),
        &credentials,
    );
    let policy = ReferencePolicy::allowing(std::slice::from_ref(&layout.host)).unwrap();
    let disk = snapsift_disk::open_with(&descriptor, &policy).unwrap();
    assert_reads_like(&*disk, &raw);
}

#[test]
fn a_vmdk_parent_outside_its_directory_is_refused() {
    let layout = Layout::new();
    let raw = raw_disk(&layout.host, "base.raw", MIB, 9);
    let base = layout.host.join("base.vmdk");
    qemu_convert(&raw, "vmdk", &["-o", "subformat=monolithicSparse"], &base);
    let child = layout.images.join("child.vmdk");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "vmdk",
        "-b",
        "../host/base.vmdk",
        "-F",
        "vmdk",
        child.to_str().unwrap(),
    ]);
    let error = snapsift_disk::open(&child).unwrap_err();
    assert_refused(&error, &child, Path::new("../host/base.vmdk"), &base);
}

#[test]
fn no_reference_at_all_under_the_nothing_policy() {
    let layout = Layout::new();
    let base = raw_disk(&layout.images, "base.raw", MIB, 10);
    let top = layout.images.join("top.qcow2");
    qemu_overlay(&top, "base.raw", "raw", false);
    let error = snapsift_disk::open_with(&top, &ReferencePolicy::nothing()).unwrap_err();
    match &error {
        DiskError::ReferenceRefused {
            resolved, allow, ..
        } => {
            assert_eq!(resolved, &base, "{error}");
            assert_eq!(allow, &None, "{error}");
        }
        other => panic!("expected a refused reference, got {other:?}"),
    }
    assert!(!error.to_string().contains("--allow-path"), "{error}");
}

#[test]
fn an_allowed_path_must_be_a_directory() {
    let layout = Layout::new();
    let file = raw_disk(&layout.host, "file", MIB, 11);
    assert!(ReferencePolicy::allowing(&[file]).is_err());
    assert!(ReferencePolicy::allowing(&[layout.host.join("missing")]).is_err());
}

/// `mkfifo PATH`.
fn mkfifo(path: &Path) {
    run("mkfifo", &[path.to_str().unwrap()]);
}

/// Opens `path` on a thread; fails the test if that takes more than 10 seconds (a FIFO
/// opened for reading waits for a writer forever).
fn open_within_seconds(path: &Path) -> Result<Box<dyn Disk>, DiskError> {
    let (send, receive) = mpsc::channel();
    let path = path.to_owned();
    std::thread::spawn(move || {
        let _ = send.send(snapsift_disk::open(&path));
    });
    receive
        .recv_timeout(Duration::from_secs(10))
        .expect("opening did not return within 10 seconds")
}

/// Checks that `error`, or the error it wraps, says `fifo` is a FIFO.
fn assert_fifo_refused(error: &DiskError, fifo: &Path) {
    let inner = match error {
        DiskError::Backing { source, .. } => &**source,
        other => other,
    };
    match inner {
        DiskError::NotADisk { path, reason } => {
            assert_eq!(path, fifo, "{error}");
            assert!(reason.contains("FIFO"), "{error}");
        }
        other => panic!("expected a FIFO refused, got {other:?}"),
    }
}

#[test]
fn a_fifo_never_blocks_as_image_backing_file_or_extent() {
    let dir = workdir();
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let error = open_within_seconds(&fifo).unwrap_err();
    assert_fifo_refused(&error, &fifo);

    let top = dir.path().join("top.qcow2");
    qemu_overlay(&top, "fifo", "raw", false);
    let error = open_within_seconds(&top).unwrap_err();
    assert_fifo_refused(&error, &fifo);

    let descriptor = dir.path().join("disk.vmdk");
    fs::write(
        &descriptor,
        "# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\nRW 2048 FLAT \"fifo\" 0\n",
    )
    .unwrap();
    let error = open_within_seconds(&descriptor).unwrap_err();
    assert_fifo_refused(&error, &fifo);
}
