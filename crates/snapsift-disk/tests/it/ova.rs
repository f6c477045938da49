//! OVA archives made with GNU tar (ustar, GNU and pax headers) read as the disk inside them,
//! exactly like `qemu-img convert -O raw` reads that disk; broken archives give clear errors.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use snapsift_disk::DiskError;
use snapsift_testkit::{Rng, qemu_convert, qemu_to_raw, workdir};

use crate::common::*;

const MIB: u64 = 1 << 20;

/// A minimal OVF descriptor naming one disk file.
fn write_ovf(dir: &Path, disk_name: &str) -> &'static str {
    fs::write(
        dir.join("vm.ovf"),
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <Envelope xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\" \
             xmlns:ovf=\"http://schemas.dmtf.org/ovf/envelope/1\">\n\
             <References><File ovf:href=\"{disk_name}\" ovf:id=\"file1\"/></References>\n\
             <DiskSection><Info>Virtual disk information</Info>\n\
             <Disk ovf:capacity=\"48\" ovf:capacityAllocationUnits=\"byte * 2^20\" \
             ovf:diskId=\"vmdisk1\" ovf:fileRef=\"file1\" \
             ovf:format=\"http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized\"/>\n\
             </DiskSection>\n\
             <VirtualSystem ovf:id=\"vm\"><Info>A virtual machine</Info></VirtualSystem>\n\
             </Envelope>\n"
        ),
    )
    .unwrap();
    "vm.ovf"
}

/// A streamOptimized VMDK of `raw`, named `name` in `dir`.
fn stream_vmdk(dir: &Path, raw: &Path, name: &str) -> PathBuf {
    let image = dir.join(name);
    qemu_convert(raw, "vmdk", &["-o", "subformat=streamOptimized"], &image);
    image
}

/// `tar -cf <ova> <members...>` in `dir`, with extra tar options such as `--format=pax`.
fn tar(dir: &Path, ova: &str, options: &[&str], members: &[&str]) -> PathBuf {
    let status = Command::new("tar")
        .current_dir(dir)
        .args(options)
        .arg("-cf")
        .arg(ova)
        .args(members)
        .status()
        .expect("cannot run tar");
    assert!(status.success(), "tar failed");
    dir.join(ova)
}

#[test]
fn stream_optimized_vmdk_in_an_ova() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "disk.raw", 48 * MIB, 21);
    let vmdk = stream_vmdk(dir.path(), &raw, "vm-disk1.vmdk");
    let ovf = write_ovf(dir.path(), "vm-disk1.vmdk");
    let ova = tar(dir.path(), "vm.ova", &[], &[ovf, "vm-disk1.vmdk"]);

    let disk = snapsift_disk::open(&ova).unwrap();
    assert_eq!(disk.kind(), "OVA archive (VMDK streamOptimized)");
    assert_reads_like(&*disk, &qemu_to_raw(&vmdk, None, dir.path()));
    let ranges = disk.data_ranges().unwrap();
    assert!(
        total(&ranges) < disk.size(),
        "the holes of the VMDK are not data"
    );
}

/// pax (long name in a path record), GNU (long name in an `L` entry) and ustar (name split into
/// a prefix) archives, with the disk in a directory under a name longer than a ustar header's
/// name field, after other entries.
#[test]
fn long_names_in_pax_gnu_and_ustar_archives() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "disk.raw", 8 * MIB, 22);
    let long_dir = format!("{}/{}", "d".repeat(60), "e".repeat(60));
    fs::create_dir_all(dir.path().join(&long_dir)).unwrap();
    let name = format!("{long_dir}/{}-Disk1.VMDK", "v".repeat(80));
    let vmdk = stream_vmdk(dir.path(), &raw, &name);
    let ovf = write_ovf(dir.path(), &name);
    fs::write(dir.path().join("vm.mf"), "SHA256(vm.ovf)= 00\n").unwrap();
    let expected = qemu_to_raw(&vmdk, None, dir.path());
    for format in ["--format=pax", "--format=gnu", "--format=ustar"] {
        let ova = tar(dir.path(), "vm.ova", &[format], &[ovf, "vm.mf", &long_dir]);
        let disk = snapsift_disk::open(&ova).unwrap_or_else(|e| panic!("{format}: {e}"));
        assert_eq!(
            disk.kind(),
            "OVA archive (VMDK streamOptimized)",
            "{format}"
        );
        assert_reads_like(&*disk, &expected);
    }
}

#[test]
fn resource_forks_are_skipped_and_raw_disks_are_found() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "disk.raw", 8 * MIB, 23);
    let vmdk = stream_vmdk(dir.path(), &raw, "vm-disk1.vmdk");
    // A macOS AppleDouble file, named like the disk, before it in the archive.
    fs::write(
        dir.path().join("._vm-disk1.vmdk"),
        b"\0\x05\x16\x07 resource fork",
    )
    .unwrap();
    let ova = tar(
        dir.path(),
        "mac.ova",
        &[],
        &["._vm-disk1.vmdk", "vm-disk1.vmdk"],
    );
    let disk = snapsift_disk::open(&ova).unwrap();
    assert_reads_like(&*disk, &qemu_to_raw(&vmdk, None, dir.path()));

    // No VMDK: the first raw image is the disk, read as the slice of the archive it is.
    fs::rename(&raw, dir.path().join("disk.img")).unwrap();
    let ovf = write_ovf(dir.path(), "disk.img");
    let ova = tar(dir.path(), "raw.ova", &[], &[ovf, "disk.img"]);
    let disk = snapsift_disk::open(&ova).unwrap();
    assert_eq!(disk.kind(), "OVA archive (raw image)");
    assert_reads_like(&*disk, &dir.path().join("disk.img"));
}

#[test]
fn an_archive_without_a_disk_is_not_a_disk() {
    let dir = workdir();
    let ovf = write_ovf(dir.path(), "missing.vmdk");
    let ova = tar(dir.path(), "empty.ova", &[], &[ovf]);
    let error = snapsift_disk::open(&ova).unwrap_err();
    assert!(
        matches!(&error, DiskError::NotADisk { path, .. } if *path == ova),
        "{error:?}"
    );
}

#[test]
fn broken_archives_give_errors() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "disk.raw", 4 * MIB, 24);
    stream_vmdk(dir.path(), &raw, "vm-disk1.vmdk");
    let ovf = write_ovf(dir.path(), "vm-disk1.vmdk");
    let ova = tar(dir.path(), "vm.ova", &[], &[ovf, "vm-disk1.vmdk"]);
    let bytes = fs::read(&ova).unwrap();

    // A flipped byte in the second header's name: its checksum no longer matches.
    let ovf_len = fs::metadata(dir.path().join(ovf)).unwrap().len() as usize;
    let second_header = 512 + ovf_len.next_multiple_of(512);
    let mut damaged = bytes.clone();
    damaged[second_header + 2] ^= 0x20;
    let damaged_path = dir.path().join("damaged.ova");
    fs::write(&damaged_path, &damaged).unwrap();
    match snapsift_disk::open(&damaged_path) {
        Err(DiskError::Corrupt { reason, format, .. }) => {
            assert_eq!(format, "OVA");
            assert!(reason.contains("checksum"), "{reason}");
        }
        other => panic!("expected a corrupt archive, got {other:?}"),
    }

    // Cut in the middle of the disk entry.
    let cut_path = dir.path().join("cut.ova");
    fs::write(&cut_path, &bytes[..second_header + 512 + 100_000]).unwrap();
    let error = snapsift_disk::open(&cut_path).unwrap_err();
    assert!(
        matches!(&error, DiskError::Truncated { path, .. } if *path == cut_path),
        "{error:?}"
    );

    // An OVA inside an OVA is not followed.
    fs::rename(&ova, dir.path().join("inner.img")).unwrap();
    let outer = tar(dir.path(), "outer.ova", &[], &["inner.img"]);
    let error = snapsift_disk::open(&outer).unwrap_err();
    assert!(matches!(error, DiskError::Unsupported { .. }), "{error:?}");
}

/// Damage to the tar headers (including pax records and GNU long names) gives errors, never a
/// panic.
#[test]
fn random_header_damage_never_panics() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "disk.raw", MIB, 25);
    let name = format!("{}-disk1.vmdk", "x".repeat(120));
    stream_vmdk(dir.path(), &raw, &name);
    let ovf = write_ovf(dir.path(), &name);
    let mut pattern = Rng::new(26);
    for format in ["--format=pax", "--format=gnu"] {
        let ova = tar(dir.path(), "vm.ova", &[format], &[ovf, &name]);
        let bytes = fs::read(&ova).unwrap();
        let damaged = dir.path().join("damaged.ova");
        for _ in 0..300 {
            let mut copy = bytes.clone();
            for _ in 0..1 + pattern.next() % 4 {
                let at = (pattern.next() % 6144) as usize;
                copy[at] = pattern.next() as u8;
            }
            fs::write(&damaged, &copy).unwrap();
            if let Ok(disk) = snapsift_disk::open(&damaged) {
                let mut buf = vec![0u8; 4096];
                let _ = disk.read_exact_at(0, &mut buf);
            }
        }
    }
}
