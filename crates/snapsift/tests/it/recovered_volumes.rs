//! `snapsift scan` of disks whose partition table is lost: a GPT wiped with `sgdisk
//! --zap-all` over ext4, XFS and NTFS partitions at 1 MiB-aligned offsets, and an old DOS
//! layout (`sfdisk`, first partition at sector 63, the next on a cylinder boundary) whose MBR
//! was zeroed with `dd`; an exFAT partition (its boot region's checksum checked) and a btrfs
//! one (its superblock, 64 KiB in, checksummed) under a zapped GPT. Each filesystem is found by its superblock where its partition was,
//! its secrets with their paths, and the coverage notes `recovered volume at OFFSET`. Random
//! bytes recover nothing.

use std::fs;
use std::path::Path;

use snapsift_testkit::*;

use crate::common::*;

/// Makes `image` (`size_mib` MiB) an XFS filesystem holding `/etc/app.env` with `content`,
/// with `mkfs.xfs -p`.
fn mkfs_xfs_with(image: &Path, content: &str, size_mib: u64) {
    let host = image.with_extension("env");
    fs::write(&host, content).unwrap();
    let proto = format!(
        "boot\n0 0\nd--755 0 0\netc d--755 0 0\napp.env ---600 0 0 {}\n$\n$\n",
        host.display()
    );
    let proto_path = image.with_extension("proto");
    fs::write(&proto_path, proto).unwrap();
    sparse_file(image, size_mib << 20);
    run(
        "mkfs.xfs",
        &[
            "-q",
            "-f",
            "-p",
            proto_path.to_str().unwrap(),
            image.to_str().unwrap(),
        ],
    );
}

/// Makes `image` (`size_mib` MiB) an NTFS filesystem holding `/creds.txt` with `content`,
/// with `mkntfs` and `ntfscp` (no mount).
fn mkntfs_with(image: &Path, content: &str, size_mib: u64) {
    let host = image.with_extension("txt");
    fs::write(&host, content).unwrap();
    sparse_file(image, size_mib << 20);
    run("mkntfs", &["-q", "-F", "-Q", image.to_str().unwrap()]);
    run(
        "ntfscp",
        &[
            "-q",
            image.to_str().unwrap(),
            host.to_str().unwrap(),
            "/creds.txt",
        ],
    );
}

/// Makes `image` (`size_mib` MiB) an ext4 filesystem holding `/root/.aws/credentials` with
/// `content`.
fn mkfs_ext4_with(dir: &tempfile::TempDir, image: &Path, content: &str, size_mib: u64) {
    let tree = path_in(dir, "ext4-tree");
    write_tree(&tree, &[("root/.aws/credentials", content.to_owned())]);
    mkfs_ext4(image, &tree, size_mib);
}

/// The first sector of partition `n` as `sgdisk -i` prints it.
fn gpt_start(disk: &Path, n: u32) -> u64 {
    let out = run("sgdisk", &["-i", &n.to_string(), disk.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("First sector:"))
        .unwrap();
    line.split_whitespace().nth(2).unwrap().parse().unwrap()
}

/// The one finding of `secret` in `scan`: its path, filesystem and volume.
fn place(scan: &Scan, secret: &str) -> (String, String, String) {
    let location = &scan.only(secret)["location"];
    let text = |key: &str| location[key].as_str().unwrap_or("-").to_owned();
    (text("path"), text("filesystem"), text("volume"))
}

/// Every finding of `secret` in `scan`.
fn of_secret<'s>(scan: &'s Scan, secret: &str) -> Vec<&'s serde_json::Value> {
    scan.findings
        .iter()
        .filter(|f| f["secret"] == secret)
        .collect()
}

/// The coverage notes of the one image scanned.
fn notes(scan: &Scan) -> Vec<String> {
    scan.coverage[0]["notes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| n.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn filesystems_of_a_zapped_gpt_are_recovered_with_their_paths() {
    let dir = workdir();
    let mut s = Secrets::new(2206);
    let (ext_key, xfs_uri, ntfs_key) = (s.aws_key_id(), s.postgres_uri(), s.alibaba_key_id());
    let ext = path_in(&dir, "ext.img");
    mkfs_ext4_with(
        &dir,
        &ext,
        &format!("[default]\naws_access_key_id = {ext_key}\n"),
        64,
    );
    let xfs = path_in(&dir, "xfs.img");
    mkfs_xfs_with(&xfs, &format!("DATABASE_URL={xfs_uri}\n"), 320);
    let ntfs = path_in(&dir, "ntfs.img");
    mkntfs_with(&ntfs, &format!("access_key_id: {ntfs_key}\n"), 64);

    let disk = path_in(&dir, "disk.img");
    sparse_file(&disk, 512 << 20);
    run(
        "sgdisk",
        &[
            "-n1:2048:+64M",
            "-n2:0:+320M",
            "-n3:0:+64M",
            disk.to_str().unwrap(),
        ],
    );
    let starts: Vec<u64> = (1..=3).map(|n| gpt_start(&disk, n) * 512).collect();
    for (image, start) in [&ext, &xfs, &ntfs].into_iter().zip(&starts) {
        dd_into(&disk, image, *start);
    }
    run("sgdisk", &["--zap-all", disk.to_str().unwrap()]);
    assert!(fs::read(&disk).unwrap()[..1 << 20].iter().all(|&b| b == 0));

    let scan = Scan::run(&[&disk], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    let recovered = |at: u64| format!("recovered at {at}");
    assert_eq!(
        place(&scan, &ext_key),
        (
            "/root/.aws/credentials".into(),
            "ext4".into(),
            recovered(starts[0])
        )
    );
    assert_eq!(
        place(&scan, &xfs_uri),
        ("/etc/app.env".into(), "xfs".into(), recovered(starts[1]))
    );
    assert_eq!(
        place(&scan, &ntfs_key),
        ("/creds.txt".into(), "ntfs".into(), recovered(starts[2]))
    );
    let found = scan.only(&ext_key);
    assert_eq!(found["location"]["scheme"], "recovered");
    assert_eq!(found["location"]["state"], "allocated");
    let notes = notes(&scan);
    for (start, (kind, len)) in starts.iter().zip([
        ("ext4", 64u64 << 20),
        ("xfs", 320 << 20),
        ("ntfs", 64 << 20),
    ]) {
        let note = format!("recovered volume at {start}: {kind} of {len} bytes");
        assert!(
            notes.iter().any(|n| n.starts_with(&note)),
            "{note}: {notes:?}"
        );
    }
    assert_eq!(notes.len(), 3, "{notes:?}");
}

#[test]
fn filesystems_of_an_old_dos_layout_are_recovered_at_sector_63() {
    let dir = workdir();
    let mut s = Secrets::new(2207);
    let (ext_key, ntfs_key) = (s.aws_key_id(), s.aws_key_id());
    // Partition 1 from sector 63 to the end of cylinder 3 (255 heads, 63 sectors), then
    // partition 2 on the cylinder boundary after it.
    let cylinder = 255 * 63;
    let first_len = 4 * cylinder - 63;
    let second_start = 4 * cylinder;
    let ext = path_in(&dir, "ext.img");
    mkfs_ext4_with(
        &dir,
        &ext,
        &format!("aws_access_key_id = {ext_key}\n"),
        (first_len * 512) >> 20,
    );
    let ntfs = path_in(&dir, "ntfs.img");
    mkntfs_with(&ntfs, &format!("aws_access_key_id = {ntfs_key}\n"), 40);

    let disk = path_in(&dir, "disk.img");
    sparse_file(&disk, 96 << 20);
    let layout = format!(
        "label: dos\nstart=63, size={first_len}, type=83\nstart={second_start}, size={}, type=7\n",
        (40 << 20) / 512
    );
    let script = path_in(&dir, "layout");
    fs::write(&script, layout).unwrap();
    sh(
        dir.path(),
        &format!(
            "sfdisk --no-reread --no-tell-kernel -q {} < {}",
            disk.display(),
            script.display()
        ),
    );
    dd_into(&disk, &ext, 63 * 512);
    dd_into(&disk, &ntfs, second_start * 512);
    // The MBR zeroed, as a wipe or a bad first sector leaves it.
    write_at(&disk, 0, &[0u8; 512]);

    let scan = Scan::run(&[&disk], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    assert_eq!(
        place(&scan, &ext_key),
        (
            "/root/.aws/credentials".into(),
            "ext4".into(),
            "recovered at 32256".into()
        )
    );
    let ntfs_at = second_start * 512;
    assert_eq!(
        place(&scan, &ntfs_key),
        (
            "/creds.txt".into(),
            "ntfs".into(),
            format!("recovered at {ntfs_at}")
        )
    );
    let notes = notes(&scan);
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("recovered volume at 32256: ext4")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with(&format!("recovered volume at {ntfs_at}: ntfs"))),
        "{notes:?}"
    );
    // The text report names the volume too.
    let (_, text, _) = snapsift_run(&["scan", disk.to_str().unwrap()]);
    assert!(text.contains("volume recovered at 32256 (ext4)"), "{text}");
}

#[test]
fn random_bytes_recover_no_volume() {
    let dir = workdir();
    let disk = path_in(&dir, "noise.img");
    let mut state = 0x2206_u64;
    let bytes: Vec<u8> = (0..32 << 20)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 56) as u8
        })
        .collect();
    let mut bytes = bytes;
    // A zeroed table in front (random bytes from the first on would be taken as an encrypted
    // disk, and not searched).
    bytes[..1 << 20].fill(0);
    // The magics where the search looks, the rest random: still no volume.
    for at in (1usize << 20..bytes.len()).step_by(1 << 20) {
        bytes[at..at + 4].copy_from_slice(b"XFSB");
        bytes[at + 3..at + 11].copy_from_slice(b"NTFS    ");
        bytes[at + 510..at + 512].copy_from_slice(&[0x55, 0xaa]);
        bytes[at + 1080..at + 1082].copy_from_slice(&[0x53, 0xef]);
    }
    fs::write(&disk, bytes).unwrap();
    let scan = Scan::run(&[&disk], &[]);
    assert!(notes(&scan).is_empty(), "{:?}", notes(&scan));
    let (_, _, stderr) = snapsift_run(&["scan", disk.to_str().unwrap()]);
    assert!(
        stderr.contains("no partition table or filesystem recognised"),
        "{stderr}"
    );
}

#[test]
fn an_exfat_volume_of_a_zapped_gpt_is_recovered_with_its_paths() {
    let dir = workdir();
    let key = Secrets::new(2207).aws_key_id();
    let exfat = path_in(&dir, "exfat.img");
    mkfs_exfat(&exfat, 32 << 20, 4096);
    let Some(mount) = ExfatMount::new(&exfat, &path_in(&dir, "mnt")) else {
        return;
    };
    fs::create_dir_all(mount.dir.join("keys")).unwrap();
    fs::write(
        mount.dir.join("keys/aws.txt"),
        format!("aws_access_key_id = {key}\n"),
    )
    .unwrap();
    mount.finish();
    let disk = path_in(&dir, "disk.img");
    sparse_file(&disk, 40 << 20);
    run("sgdisk", &["-n1:2048:+32M", disk.to_str().unwrap()]);
    let start = gpt_start(&disk, 1) * 512;
    dd_into(&disk, &exfat, start);
    run("sgdisk", &["--zap-all", disk.to_str().unwrap()]);

    let scan = Scan::run(&[&disk], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    assert_eq!(
        place(&scan, &key),
        (
            "/keys/aws.txt".into(),
            "exfat".into(),
            format!("recovered at {start}")
        )
    );
    let note = format!("recovered volume at {start}: exfat of {} bytes", 32 << 20);
    assert!(
        notes(&scan).iter().any(|n| n.starts_with(&note)),
        "{:?}",
        notes(&scan)
    );
    // A boot region that fails its checksum is no volume: the secret is swept, unplaced.
    let mut serial = [0u8; 1];
    serial[0] = fs::read(&disk).unwrap()[start as usize + 100] ^ 1;
    write_at(&disk, start + 100, &serial);
    let scan = Scan::run(&[&disk], &[]);
    assert_eq!(
        place(&scan, &key),
        ("-".into(), "unknown".into(), "-".into())
    );
}

#[test]
fn a_btrfs_volume_of_a_zapped_gpt_is_recovered_with_its_paths() {
    let dir = workdir();
    let key = Secrets::new(2211).aws_key_id();
    let tree = path_in(&dir, "btrfs-tree");
    write_tree(
        &tree,
        &[("srv/keys/aws.txt", format!("aws_access_key_id = {key}\n"))],
    );
    let btrfs = path_in(&dir, "btrfs.img");
    mkfs_btrfs(&btrfs, 128 << 20, Some(&tree));
    let disk = path_in(&dir, "disk.img");
    sparse_file(&disk, 140 << 20);
    run("sgdisk", &["-n1:2048:+128M", disk.to_str().unwrap()]);
    let start = gpt_start(&disk, 1) * 512;
    dd_into(&disk, &btrfs, start);
    run("sgdisk", &["--zap-all", disk.to_str().unwrap()]);

    // The small file is inline in a leaf btrfs keeps two copies of (DUP): a finding each,
    // both placed.
    let scan = Scan::run(&[&disk], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    let found = of_secret(&scan, &key);
    assert_eq!(found.len(), 2, "{}", scan.stderr);
    for finding in found {
        let location = &finding["location"];
        assert_eq!(location["path"], "/srv/keys/aws.txt", "{finding}");
        assert_eq!(location["filesystem"], "btrfs", "{finding}");
        assert_eq!(location["volume"], format!("recovered at {start}").as_str());
    }
    let note = format!("recovered volume at {start}: btrfs of {} bytes", 128 << 20);
    assert!(
        notes(&scan).iter().any(|n| n.starts_with(&note)),
        "{:?}",
        notes(&scan)
    );
    // A superblock that fails its checksum is no volume: the secret is swept, unplaced (in
    // each of the two copies btrfs keeps of the leaf that holds the small file inline).
    let at = start + 0x1_0000 + 0x100;
    let byte = fs::read(&disk).unwrap()[at as usize] ^ 1;
    write_at(&disk, at, &[byte]);
    let scan = Scan::run(&[&disk], &[]);
    let found = of_secret(&scan, &key);
    assert!(!found.is_empty(), "{}", scan.stderr);
    for finding in found {
        assert_eq!(finding["location"]["filesystem"], "unknown", "{finding}");
        assert!(finding["location"]["path"].is_null(), "{finding}");
    }
}
