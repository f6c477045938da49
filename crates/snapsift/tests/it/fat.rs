//! `snapsift scan` of a GPT disk (`sgdisk`) with an EFI system partition, FAT32 made by
//! `mkfs.fat` and filled by mtools (`mmd`, `mcopy`, `mdel`: no mount), beside an ext4 root:
//! every planted secret is found once with its partition, filesystem, path and state, a
//! deleted file's by the long name its entries keep. The same on an exFAT partition
//! (`mkfs.exfat`, files written through exfat-fuse): paths with non-ASCII and long names, a
//! deleted file by its entry set's name.

use std::fs;
use std::path::Path;
use std::process::Command;

use snapsift_testkit::*;

use crate::common::*;

/// Runs an mtools `program` on `image` with `args`.
fn mtools(program: &str, image: &Path, args: &[&str]) {
    let output = Command::new(program)
        .arg("-i")
        .arg(image)
        .args(args)
        .env("MTOOLS_SKIP_CHECK", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (is mtools installed?): {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn secrets_in_an_efi_system_partition_are_found_with_their_paths() {
    let dir = workdir();
    let mut s = Secrets::new(2204);
    let (esp_key, deleted_uri, root_key) = (s.aws_key_id(), s.postgres_uri(), s.aws_key_id());

    let esp = path_in(&dir, "esp.img");
    run(
        "mkfs.fat",
        &["-C", "-F", "32", "-s", "1", esp.to_str().unwrap(), "65536"],
    );
    let host = path_in(&dir, "grub.cfg");
    fs::write(
        &host,
        format!("set timeout=5\n# aws_access_key_id = {esp_key}\n"),
    )
    .unwrap();
    mtools("mmd", &esp, &["::/EFI"]);
    mtools("mmd", &esp, &["::/EFI/ubuntu"]);
    mtools(
        "mcopy",
        &esp,
        &[host.to_str().unwrap(), "::/EFI/ubuntu/grub.cfg"],
    );
    let old = path_in(&dir, "old");
    fs::write(&old, format!("DATABASE_URL={deleted_uri}\n")).unwrap();
    mtools(
        "mcopy",
        &esp,
        &[old.to_str().unwrap(), "::/old-credentials.txt"],
    );
    mtools("mdel", &esp, &["::/old-credentials.txt"]);

    let root = path_in(&dir, "root.img");
    let tree = path_in(&dir, "tree");
    write_tree(
        &tree,
        &[(
            "root/.aws/credentials",
            format!("[default]\naws_access_key_id = {root_key}\n"),
        )],
    );
    mkfs_ext4(&root, &tree, 16);

    let disk = path_in(&dir, "disk.img");
    sparse_file(&disk, 100 << 20);
    run(
        "sgdisk",
        &[
            "-n1:2048:+64M",
            "-t1:ef00",
            "-n2:0:+16M",
            "-t2:8300",
            disk.to_str().unwrap(),
        ],
    );
    dd_into(&disk, &esp, 1 << 20);
    dd_into(&disk, &root, 65 << 20);

    let scan = Scan::run(&[&disk], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    let place = |secret: &str| {
        let l = &scan.only(secret)["location"];
        (
            l["partition"].as_u64().unwrap(),
            l["filesystem"].as_str().unwrap().to_owned(),
            l["path"].as_str().unwrap_or("-").to_owned(),
            l["state"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(
        place(&esp_key),
        (
            1,
            "fat".into(),
            "/EFI/ubuntu/grub.cfg".into(),
            "allocated".into()
        )
    );
    assert_eq!(
        place(&deleted_uri),
        (
            1,
            "fat".into(),
            "/old-credentials.txt".into(),
            "deleted".into()
        )
    );
    assert_eq!(
        place(&root_key),
        (
            2,
            "ext4".into(),
            "/root/.aws/credentials".into(),
            "allocated".into()
        )
    );
    assert!(scan.coverage[0]["complete"] == true, "{:?}", scan.coverage);
}

#[test]
fn secrets_on_an_exfat_partition_are_found_with_their_paths() {
    let dir = workdir();
    let mut s = Secrets::new(2205);
    let (live_key, deleted_uri) = (s.aws_key_id(), s.postgres_uri());
    let exfat = path_in(&dir, "exfat.img");
    mkfs_exfat(&exfat, 32 << 20, 4096);
    let Some(mount) = ExfatMount::new(&exfat, &path_in(&dir, "mnt")) else {
        return;
    };
    let docs = mount.dir.join("Documents/été 2026");
    fs::create_dir_all(&docs).unwrap();
    let live = "Documents/été 2026/a much longer name for the credentials file.env";
    fs::write(
        mount.dir.join(live),
        format!("aws_access_key_id = {live_key}\n"),
    )
    .unwrap();
    let gone = mount.dir.join("old-credentials.txt");
    fs::write(&gone, format!("DATABASE_URL={deleted_uri}\n")).unwrap();
    fs::remove_file(&gone).unwrap();
    mount.finish();

    let disk = path_in(&dir, "disk.img");
    sparse_file(&disk, 40 << 20);
    run(
        "sgdisk",
        &["-n1:2048:+32M", "-t1:0700", disk.to_str().unwrap()],
    );
    dd_into(&disk, &exfat, 1 << 20);

    let scan = Scan::run(&[&disk], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    let place = |secret: &str| {
        let l = &scan.only(secret)["location"];
        (
            l["filesystem"].as_str().unwrap().to_owned(),
            l["path"].as_str().unwrap_or("-").to_owned(),
            l["state"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(
        place(&live_key),
        ("exfat".into(), format!("/{live}"), "allocated".into())
    );
    assert_eq!(
        place(&deleted_uri),
        (
            "exfat".into(),
            "/old-credentials.txt".into(),
            "deleted".into()
        )
    );
    assert!(scan.coverage[0]["complete"] == true, "{:?}", scan.coverage);
}
