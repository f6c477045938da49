//! `snapsift scan` of disks whose filesystems are in LVM2 logical volumes, written by the real
//! tools (`pvcreate`, `vgcreate`, `lvcreate -an -Zn` without device-mapper): a secret in a file
//! of ext4 in a linear volume is found with its path and `location.volume`; in a volume
//! striped over two partitions of the disk, a secret that crosses the end of a stripe chunk
//! (so lies nowhere on the disk in one piece) is found by the file pass, with its path; kinds
//! that are not mapped are noted.

use std::path::Path;

use snapsift_testkit::lvm::{Chunk, Lvm, PARTS, disk_offset, two_pv_disk, write_volume};
use snapsift_testkit::{Secrets, mkfs_from_tree, run, workdir, write_at};

use crate::common::Scan;

/// The block of file `path` holding its byte `offset`, in the ext4 image `fs`, from debugfs.
fn block_of(fs: &Path, path: &str, offset: u64) -> u64 {
    let out = run(
        "debugfs",
        &[
            "-R",
            &format!("bmap {path} {}", offset / 4096),
            fs.to_str().unwrap(),
        ],
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Patches `bytes` over file `path`'s bytes from `offset` in the ext4 image `fs` (block by
/// block, where debugfs says they are).
fn patch_file(fs: &Path, path: &str, offset: u64, bytes: &[u8]) {
    for (i, b) in bytes.iter().enumerate() {
        let at = offset + i as u64;
        let disk = block_of(fs, path, at) * 4096 + at % 4096;
        write_at(fs, disk, &[*b]);
    }
}

/// An ext4 image of 8 MiB at `fs` holding `files`.
fn ext4(dir: &Path, fs: &Path, files: &[(&str, Vec<u8>)]) {
    let stage = dir.join(format!(
        "tree-{}",
        fs.file_name().unwrap().to_str().unwrap()
    ));
    for (path, bytes) in files {
        let at = stage.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        std::fs::write(at, bytes).unwrap();
    }
    mkfs_from_tree("mkfs.ext4", fs, &stage, "8M", &["-b", "4096"]);
}

#[test]
fn secrets_in_ext4_inside_logical_volumes_are_found_with_path_and_volume() {
    let dir = workdir();
    let image = dir.path().join("lvm.img");
    two_pv_disk(&image);
    let disk = image.to_str().unwrap();
    let Some(lvm) = Lvm::attach(&image, &PARTS) else {
        return;
    };
    let (a, b) = (lvm.device(0), lvm.device(1));
    lvm.run(&["pvcreate", "-y", &a, &b]);
    lvm.run(&["vgcreate", "vg0", &a, &b]);
    lvm.lvcreate("vg0", "root", &["-L", "8M"], &[&a]);
    lvm.lvcreate("vg0", "data", &["-L", "8M", "-i", "2", "-I", "64k"], &[]);
    let layout = lvm.layout("vg0");
    drop(lvm);

    let mut secrets = Secrets::new(22);
    let key_id = secrets.aws_key_id();
    let credentials = format!(
        "[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {}\n",
        secrets.alnum(40)
    );
    let root_fs = dir.path().join("root.img");
    ext4(
        dir.path(),
        &root_fs,
        &[("/root/.aws/credentials", credentials.clone().into_bytes())],
    );
    write_volume(&image, &layout["root"], &std::fs::read(&root_fs).unwrap());

    // A text file of 300,000 bytes in the striped volume, and a secret written over the
    // place where its bytes cross from one 64 KiB chunk to the next.
    let uri = secrets.postgres_uri();
    let data_fs = dir.path().join("data.img");
    ext4(
        dir.path(),
        &data_fs,
        &[("/srv/app.log", secrets.filler(300_000))],
    );
    let chunks: &[Chunk] = &layout["data"];
    let seam = (4096..300_000 - 4096)
        .step_by(4096)
        .find(|&f| {
            let before = disk_offset(
                chunks,
                block_of(&data_fs, "/srv/app.log", f - 1) * 4096 + 4095,
            );
            let after = disk_offset(chunks, block_of(&data_fs, "/srv/app.log", f) * 4096);
            after != before + 1
        })
        .expect("the file crosses a chunk's end");
    let line = format!("\nDATABASE_URL={uri}\n");
    let line_at = seam - 20;
    patch_file(&data_fs, "/srv/app.log", line_at, line.as_bytes());
    write_volume(&image, chunks, &std::fs::read(&data_fs).unwrap());

    let scan = Scan::run(&[&image], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    let found = scan.only(&key_id);
    let location = &found["location"];
    assert_eq!(location["path"], "/root/.aws/credentials", "{found}");
    assert_eq!(location["volume"], "vg0/root");
    assert_eq!(location["partition"], serde_json::Value::Null);
    assert_eq!(location["filesystem"], "ext4");
    assert_eq!(location["state"], "allocated");
    // Its offsets: in the volume, where debugfs puts the file; on the disk, where lvs does.
    let in_file = credentials.find(&key_id).unwrap() as u64;
    let in_volume = block_of(&root_fs, "/root/.aws/credentials", in_file) * 4096 + in_file;
    assert_eq!(location["volume_offset"], in_volume);
    assert_eq!(found["offset"], disk_offset(&layout["root"], in_volume));

    let split = scan.only(&uri);
    assert_eq!(split["location"]["path"], "/srv/app.log", "{split}");
    assert_eq!(split["location"]["volume"], "vg0/data");
    let uri_at = line_at + "\nDATABASE_URL=".len() as u64;
    assert_eq!(split["location"]["file_offset"], uri_at, "{split}");
    assert!(uri_at < seam && seam < uri_at + uri.len() as u64);

    // The layout names the volumes; the text report too.
    let out = crate::common::snapsift()
        .args(["scan", disk])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "partition table gpt: 1: lvm2, volume vg0/data: ext4, volume vg0/root: ext4, 2: lvm2"
        ) || stderr.contains(
            "partition table gpt: 1: lvm2, volume vg0/root: ext4, volume vg0/data: ext4, 2: lvm2"
        ),
        "{stderr}"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("/root/.aws/credentials  (allocated, inode ")
            && text.contains("volume vg0/root (ext4)"),
        "{text}"
    );
}

#[test]
fn logical_volumes_inside_a_luks2_partition_are_read_with_the_key() {
    // Ubuntu's encrypted install: a partition holds LUKS2, whose plaintext is an LVM2 PV
    // with the root filesystem in a logical volume.
    let dir = workdir();
    let pv = dir.path().join("pv.img");
    let pv_len: u64 = 24 << 20;
    std::fs::File::create(&pv).unwrap().set_len(pv_len).unwrap();
    let Some(lvm) = Lvm::attach(&pv, &[(0, pv_len)]) else {
        return;
    };
    let device = lvm.device(0);
    lvm.run(&["pvcreate", "-y", &device]);
    lvm.run(&["vgcreate", "ubuntu-vg", &device]);
    lvm.lvcreate("ubuntu-vg", "root", &["-L", "8M"], &[&device]);
    let layout = lvm.layout("ubuntu-vg");
    drop(lvm);
    let mut secrets = Secrets::new(23);
    let uri = secrets.postgres_uri();
    let root_fs = dir.path().join("root.img");
    ext4(
        dir.path(),
        &root_fs,
        &[("/etc/app.env", format!("DATABASE_URL={uri}\n").into_bytes())],
    );
    write_volume(&pv, &layout["root"], &std::fs::read(&root_fs).unwrap());
    let key = dir.path().join("key");
    std::fs::write(&key, secrets.alnum(20)).unwrap();
    let options = ["--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"];
    let luks = snapsift_testkit::luks2_encrypted(dir.path(), &pv, &key, &options);
    let luks_len = std::fs::metadata(&luks).unwrap().len();
    let disk = dir.path().join("disk.img");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(luks_len + (2 << 20))
        .unwrap();
    let size = format!("1:2048:+{}K", luks_len >> 10);
    run("sgdisk", &["-n", &size, disk.to_str().unwrap()]);
    snapsift_testkit::dd_into(&disk, &luks, 1 << 20);

    let scan = Scan::run(&[&disk], &["--luks-key-file", key.to_str().unwrap()]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    let found = scan.only(&uri);
    let location = &found["location"];
    assert_eq!(location["path"], "/etc/app.env", "{found}");
    assert_eq!(location["volume"], "partition 1 (luks2): ubuntu-vg/root");
    assert_eq!(location["filesystem"], "ext4");
    assert_eq!(location["partition"], 1);
    assert_eq!(scan.coverage[0]["complete"], true);
    // Without the key, the partition is ciphertext to the scan.
    let scan = Scan::run(&[&disk], &[]);
    assert_eq!(scan.code, 3, "{}", scan.stderr);
    assert!(scan.findings.iter().all(|f| f["secret"] != uri.as_str()));
}
