//! Volumes snapsift names but cannot read as files: encrypted ones (LUKS1 and LUKS2 made by
//! `cryptsetup luksFormat`, BitLocker by its boot sector's signature) are named in the layout
//! and listed in the coverage as unreadable, so the scan is never complete (exit status 3);
//! so are APFS containers once a volume is encrypted (FileVault) and volumes of random bytes
//! without a signature (VeraCrypt-like); swap areas (`mkswap`) are named, and their bytes swept. With `--luks-key-file`, LUKS
//! volumes encrypted by cryptsetup itself are opened (passphrase or volume key) and every
//! secret inside is found with its path; a wrong key leaves the volume encrypted.

use std::path::Path;

use snapsift_testkit::{
    Secrets, dd_into, luks2_encrypted, mkfs_ext4, run, sparse_file, volume_key, workdir, write_at,
};

use crate::common::{Scan, snapsift_run};

const MIB: u64 = 1 << 20;

/// Bytes that look like ciphertext (xorshift64), `len` of them.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Formats `path` (a file of `size` bytes) as LUKS `version` (`luks1`, `luks2`) with a key
/// file, cheaply, and returns its UUID as `cryptsetup luksUUID` prints it.
fn luks_format(dir: &Path, path: &Path, size: u64, version: &str) -> String {
    sparse_file(path, size);
    let key = dir.join("key");
    std::fs::write(&key, "not a real passphrase").unwrap();
    let p = path.to_str().unwrap();
    let k = key.to_str().unwrap();
    let mut args = vec!["luksFormat", "-q", "--type", version, "--key-file", k];
    args.extend_from_slice(&["--pbkdf-force-iterations", "1000"]);
    if version == "luks2" {
        args.extend_from_slice(&["--pbkdf", "pbkdf2"]);
    }
    args.push(p);
    run("cryptsetup", &args);
    let uuid = run("cryptsetup", &["luksUUID", p]);
    String::from_utf8(uuid.stdout).unwrap().trim().to_owned()
}

/// The unreadable ranges of a coverage record, as (start, end, reason).
fn unreadable(coverage: &serde_json::Value) -> Vec<(u64, u64, String)> {
    coverage["unreadable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["start"].as_u64().unwrap(),
                u["end"].as_u64().unwrap(),
                u["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_luks2_partition_beside_ext4_is_named_and_never_reported_as_scanned() {
    let dir = workdir();
    let disk = dir.path().join("disk.img");
    sparse_file(&disk, 64 * MIB);
    let d = disk.to_str().unwrap();
    run("sgdisk", &["-n", "1:2048:+32M", "-n", "2:0:+24M", d]);
    let luks = dir.path().join("luks.img");
    let uuid = luks_format(dir.path(), &luks, 32 * MIB, "luks2");
    // The data area of a volume in use is ciphertext from end to end.
    write_at(&luks, 16 * MIB, &noise(1, (16 * MIB) as usize));
    dd_into(&disk, &luks, MIB);
    let mut secrets = Secrets::new(5);
    let uri = secrets.postgres_uri();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("etc")).unwrap();
    std::fs::write(tree.join("etc/app.env"), format!("DATABASE_URL={uri}\n")).unwrap();
    let fs = dir.path().join("fs.img");
    mkfs_ext4(&fs, &tree, 24);
    dd_into(&disk, &fs, 33 * MIB);

    let scan = Scan::run(&[&disk], &[]);
    assert_eq!(scan.code, 3, "{}", scan.stderr);
    assert_eq!(scan.only(&uri)["location"]["path"], "/etc/app.env");
    let coverage = &scan.coverage[0];
    assert_eq!(coverage["complete"], false);
    assert_eq!(
        unreadable(coverage),
        vec![(MIB, 33 * MIB, "encrypted (LUKS2)".to_owned())]
    );
    assert_eq!(coverage["unreadable_bytes"], 32 * MIB);
    assert_eq!(
        coverage["scanned_bytes"].as_u64().unwrap() + 32 * MIB,
        coverage["data_bytes"].as_u64().unwrap()
    );

    let (code, text, stderr) = snapsift_run(&["scan", d]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "partition table gpt: 1: luks2, uuid {uuid}, 2: ext4"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("partition 1 (luks2) is encrypted (LUKS2)"),
        "{stderr}"
    );
    assert!(stderr.contains("PARTIAL SCAN"), "{stderr}");
    assert!(text.contains("PARTIAL"), "{text}");
    assert!(text.contains("encrypted (LUKS2)"), "{text}");
}

#[test]
fn a_luks1_disk_lists_only_its_data_as_unreadable() {
    let dir = workdir();
    let luks = dir.path().join("luks1.img");
    let uuid = luks_format(dir.path(), &luks, 16 * MIB, "luks1");
    // Ciphertext in part of the data area; the rest was never written (holes).
    write_at(&luks, 4 * MIB, &noise(2, MIB as usize));
    let scan = Scan::run(&[&luks], &[]);
    assert_eq!(scan.code, 3, "{}", scan.stderr);
    let coverage = &scan.coverage[0];
    let ranges = unreadable(coverage);
    assert!(
        ranges.iter().all(|r| r.2 == "encrypted (LUKS1)"),
        "{ranges:?}"
    );
    assert!(
        ranges.iter().any(|r| r.0 <= 4 * MIB && 5 * MIB <= r.1),
        "{ranges:?}"
    );
    // Holes hold no ciphertext: what is unreadable is the data, all of it.
    assert_eq!(coverage["unreadable_bytes"], coverage["data_bytes"]);
    assert!(coverage["data_bytes"].as_u64().unwrap() < 16 * MIB);
    assert_eq!(coverage["scanned_bytes"], 0);
    let (_, _, stderr) = snapsift_run(&["scan", luks.to_str().unwrap()]);
    assert!(
        stderr.contains(&format!("partition table none: luks1, uuid {uuid}")),
        "{stderr}"
    );
}

#[test]
fn a_bitlocker_partition_is_named_and_unreadable() {
    let dir = workdir();
    let disk = dir.path().join("disk.img");
    sparse_file(&disk, 16 * MIB);
    run(
        "sgdisk",
        &["-n", "1:2048:+8M", "-t", "1:0700", disk.to_str().unwrap()],
    );
    // A BitLocker volume's boot sector: `-FVE-FS-` where NTFS has its OEM name, then
    // ciphertext.
    let mut volume = noise(3, (8 * MIB) as usize);
    volume[..3].copy_from_slice(&[0xeb, 0x58, 0x90]);
    volume[3..11].copy_from_slice(b"-FVE-FS-");
    volume[510..512].copy_from_slice(&[0x55, 0xaa]);
    write_at(&disk, MIB, &volume);
    let scan = Scan::run(&[&disk], &[]);
    assert_eq!(scan.code, 3, "{}", scan.stderr);
    assert_eq!(
        unreadable(&scan.coverage[0]),
        vec![(MIB, 9 * MIB, "encrypted (BitLocker)".to_owned())]
    );
    let (_, _, stderr) = snapsift_run(&["scan", disk.to_str().unwrap()]);
    assert!(
        stderr.contains("partition table gpt: 1: bitlocker"),
        "{stderr}"
    );
}

#[test]
fn swap_partitions_and_swap_files_are_named_and_swept() {
    let dir = workdir();
    let uuid = "6f1c1a0e-2d2b-4c55-9a4e-0b8a9d6f3e21";
    let swap = dir.path().join("swap.img");
    sparse_file(&swap, 8 * MIB);
    run("mkswap", &["-U", uuid, swap.to_str().unwrap()]);
    // Old process memory paged out: a credential in the middle of the area.
    let mut secrets = Secrets::new(9);
    let key_id = secrets.aws_key_id();
    let page = format!(
        "\0\0AWS_ACCESS_KEY_ID={key_id}\0AWS_SECRET_ACCESS_KEY={}\0",
        secrets.alnum(40)
    );
    write_at(&swap, 3 * MIB + 100, page.as_bytes());

    // As a partition of a GPT disk...
    let disk = dir.path().join("disk.img");
    sparse_file(&disk, 16 * MIB);
    run(
        "sgdisk",
        &["-n", "1:2048:+8M", "-t", "1:8200", disk.to_str().unwrap()],
    );
    dd_into(&disk, &swap, MIB);
    let scan = Scan::run(&[&disk], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    let found = scan.only(&key_id);
    assert_eq!(found["location"]["partition"], 1);
    assert_eq!(found["location"]["filesystem"], "swap");
    assert_eq!(
        found["offset"],
        4 * MIB + 100 + 2 + "AWS_ACCESS_KEY_ID=".len() as u64
    );
    assert_eq!(scan.coverage[0]["complete"], true);
    let (_, text, stderr) = snapsift_run(&["scan", disk.to_str().unwrap()]);
    assert!(
        stderr.contains(&format!("partition table gpt: 1: swap, uuid {uuid}")),
        "{stderr}"
    );
    assert!(text.contains("partition 1 (swap)"), "{text}");

    // ...and a swap file scanned as it is, made for 64 KiB pages.
    let file = dir.path().join("swapfile");
    sparse_file(&file, 8 * MIB);
    run("mkswap", &["-p", "65536", file.to_str().unwrap()]);
    write_at(&file, 3 * MIB + 100, page.as_bytes());
    let scan = Scan::run(&[&file], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    assert_eq!(scan.only(&key_id)["location"]["filesystem"], "swap");
    let (_, _, stderr) = snapsift_run(&["scan", file.to_str().unwrap()]);
    assert!(
        stderr.contains("partition table none: swap, uuid "),
        "{stderr}"
    );
}

#[test]
fn a_luks2_partition_is_opened_with_a_passphrase_or_its_volume_key() {
    let dir = workdir();
    // Secrets in three files inside the encrypted filesystem, one beside it.
    let mut secrets = Secrets::new(22);
    let inside = [
        ("etc/app.env", "DATABASE_URL=", secrets.postgres_uri()),
        ("srv/db.properties", "url=", secrets.jdbc_mysql_uri()),
        ("root/notes.txt", "backup ", secrets.postgres_uri()),
    ];
    let tree = dir.path().join("tree");
    for (path, before, secret) in &inside {
        let file = tree.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, format!("{before}{secret}\n")).unwrap();
    }
    let fs = dir.path().join("inner.img");
    mkfs_ext4(&fs, &tree, 16);
    let key = dir.path().join("key");
    std::fs::write(&key, secrets.alnum(20)).unwrap();
    let options = [
        "--cipher",
        "aes-xts-plain64",
        "--key-size",
        "512",
        "--pbkdf",
        "argon2id",
        "--pbkdf-memory",
        "8192",
        "--pbkdf-force-iterations",
        "4",
    ];
    let luks = luks2_encrypted(dir.path(), &fs, &key, &options);
    let luks_len = std::fs::metadata(&luks).unwrap().len();
    let outside_tree = dir.path().join("outside");
    std::fs::create_dir_all(outside_tree.join("etc")).unwrap();
    let outside = secrets.postgres_uri();
    std::fs::write(
        outside_tree.join("etc/other.env"),
        format!("DB={outside}\n"),
    )
    .unwrap();
    let other = dir.path().join("other.img");
    mkfs_ext4(&other, &outside_tree, 16);
    let disk = dir.path().join("disk.img");
    sparse_file(&disk, 80 * MIB);
    let d = disk.to_str().unwrap();
    run(
        "sgdisk",
        &[
            "-n",
            &format!("1:2048:+{}M", luks_len / MIB),
            "-n",
            "2:0:+16M",
            d,
        ],
    );
    dd_into(&disk, &luks, MIB);
    dd_into(&disk, &other, MIB + luks_len);

    let volume_key_file = dir.path().join("volume.key");
    std::fs::write(&volume_key_file, volume_key(&luks, &key)).unwrap();
    for key_file in [&key, &volume_key_file] {
        let scan = Scan::run(&[&disk], &["--luks-key-file", key_file.to_str().unwrap()]);
        assert_eq!(scan.code, 1, "findings, all read: {}", scan.stderr);
        for (path, _, secret) in &inside {
            let found = scan.only(secret);
            let location = &found["location"];
            assert_eq!(location["path"], format!("/{path}"), "{found}");
            assert_eq!(location["partition"], 1);
            assert_eq!(location["volume"], "partition 1 (luks2)");
            assert_eq!(location["filesystem"], "ext4");
            assert_eq!(location["state"], "allocated");
            // The offset is on the disk, inside the partition's data segment.
            let offset = found["offset"].as_u64().unwrap();
            assert!(
                (MIB + 16 * MIB..MIB + luks_len).contains(&offset),
                "{offset}"
            );
        }
        assert_eq!(scan.only(&outside)["location"]["path"], "/etc/other.env");
        let coverage = &scan.coverage[0];
        assert_eq!(coverage["complete"], true, "{coverage}");
        assert_eq!(unreadable(coverage), vec![]);
    }

    // A wrong key: said so, the volume stays encrypted, the scan is partial.
    let wrong = dir.path().join("wrong.key");
    std::fs::write(&wrong, "not the passphrase").unwrap();
    let scan = Scan::run(&[&disk], &["--luks-key-file", wrong.to_str().unwrap()]);
    assert_eq!(scan.code, 3, "{}", scan.stderr);
    assert!(
        scan.stderr.contains("opens none of its 1 keyslots"),
        "{}",
        scan.stderr
    );
    let ranges = unreadable(&scan.coverage[0]);
    assert!(
        !ranges.is_empty() && ranges.iter().all(|r| r.2 == "encrypted (LUKS2)"),
        "{ranges:?}"
    );
    assert_eq!(scan.only(&outside)["location"]["path"], "/etc/other.env");
}

/// The Fletcher-64 checksum of an APFS object, over all but its first 8 bytes, as Apple's
/// reference defines it (written here to seal a volume superblock the test changes).
fn apfs_checksum(block: &[u8]) -> u64 {
    let (mut sum1, mut sum2) = (0u64, 0u64);
    for word in block[8..].chunks_exact(4) {
        sum1 = (sum1 + u64::from(u32::from_le_bytes(word.try_into().unwrap()))) % 0xffff_ffff;
        sum2 = (sum2 + sum1) % 0xffff_ffff;
    }
    let check1 = 0xffff_ffff - (sum1 + sum2) % 0xffff_ffff;
    let check2 = 0xffff_ffff - (sum1 + check1) % 0xffff_ffff;
    (check2 << 32) | check1
}

/// What The Sleuth Kit's `pstat` says of the APFS container in `image`: its UUID, the block
/// of its volume's superblock, and whether that volume is encrypted.
fn pstat_apfs(image: &Path) -> (String, u64, bool) {
    let out = String::from_utf8(run("pstat", &[image.to_str().unwrap()]).stdout).unwrap();
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.trim_start_matches(['|', ' ']).strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in pstat's output:\n{out}"))
            .trim()
            .to_owned()
    };
    (
        field("Container "),
        field("APSB Block Number:").parse().unwrap(),
        field("Encrypted:").starts_with("Yes"),
    )
}

#[test]
fn an_apfs_container_is_named_and_unreadable_once_a_volume_is_encrypted() {
    let dir = workdir();
    let apfs = dir.path().join("apfs.img");
    sparse_file(&apfs, 128 * MIB);
    run("mkapfs", &["-L", "Data", apfs.to_str().unwrap()]);
    let (uuid, block, encrypted) = pstat_apfs(&apfs);
    assert!(!encrypted);
    let disk = dir.path().join("disk.img");
    sparse_file(&disk, 160 * MIB);
    let d = disk.to_str().unwrap();
    run("sgdisk", &["-n", "1:2048:+128M", "-n", "2:0:+24M", d]);
    let mut secrets = Secrets::new(11);
    let uri = secrets.postgres_uri();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("etc")).unwrap();
    std::fs::write(tree.join("etc/app.env"), format!("DATABASE_URL={uri}\n")).unwrap();
    let fs = dir.path().join("fs.img");
    mkfs_ext4(&fs, &tree, 24);
    dd_into(&disk, &fs, 129 * MIB);

    // Unencrypted, a container is named with its volumes, and swept.
    dd_into(&disk, &apfs, MIB);
    let scan = Scan::run(&[&disk], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    assert_eq!(scan.only(&uri)["location"]["path"], "/etc/app.env");
    assert_eq!(scan.coverage[0]["complete"], true);
    let (_, _, stderr) = snapsift_run(&["scan", d]);
    assert!(
        stderr.contains(&format!(
            "partition table gpt: 1: apfs, uuid {uuid}, 2: ext4"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("partition 1 is an APFS container with volumes \"Data\":"),
        "{stderr}"
    );

    // FileVault: the volume superblock's flags lose APFS_FS_UNENCRYPTED (resealed, and
    // `pstat` agrees it is encrypted).
    let at = block * 4096;
    let mut superblock = std::fs::read(&apfs).unwrap()[at as usize..][..4096].to_vec();
    superblock[264] &= !1;
    let sum = apfs_checksum(&superblock);
    superblock[..8].copy_from_slice(&sum.to_le_bytes());
    write_at(&apfs, at, &superblock);
    assert!(pstat_apfs(&apfs).2, "pstat reads the volume as encrypted");
    dd_into(&disk, &apfs, MIB);
    let scan = Scan::run(&[&disk], &[]);
    assert_eq!(scan.code, 3, "{}", scan.stderr);
    assert_eq!(scan.only(&uri)["location"]["path"], "/etc/app.env");
    let ranges = unreadable(&scan.coverage[0]);
    assert!(!ranges.is_empty());
    assert!(
        ranges
            .iter()
            .all(|r| r.0 >= MIB && r.1 <= 129 * MIB && r.2 == "encrypted (APFS, FileVault)"),
        "{ranges:?}"
    );
    let (code, _, stderr) = snapsift_run(&["scan", d]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("volumes \"Data\" (encrypted)")
            && stderr.contains("partition 1 (apfs) is encrypted (APFS, FileVault)"),
        "{stderr}"
    );
}

#[test]
fn random_bytes_without_a_signature_are_taken_as_encrypted_compressed_data_is_not() {
    let dir = workdir();
    let disk = dir.path().join("disk.img");
    sparse_file(&disk, 32 * MIB);
    let d = disk.to_str().unwrap();
    run("sgdisk", &["-n", "1:2048:+8M", "-n", "2:0:+8M", d]);
    // A VeraCrypt volume: salt and encrypted header, then ciphertext, nothing in the clear.
    write_at(&disk, MIB, &noise(4, (8 * MIB) as usize));
    // As random after its header: incompressible bytes that zstd stores as they are.
    let raw = dir.path().join("raw");
    std::fs::write(&raw, noise(5, (4 * MIB) as usize)).unwrap();
    let zst = dir.path().join("raw.zst");
    run(
        "zstd",
        &["-q", "-o", zst.to_str().unwrap(), raw.to_str().unwrap()],
    );
    dd_into(&disk, &zst, 9 * MIB);
    let scan = Scan::run(&[&disk], &[]);
    assert_eq!(scan.code, 3, "{}", scan.stderr);
    let reason = "encrypted (VeraCrypt-like: no signature, high entropy)";
    assert_eq!(
        unreadable(&scan.coverage[0]),
        vec![(MIB, 9 * MIB, reason.to_owned())]
    );
    let (_, _, stderr) = snapsift_run(&["scan", d]);
    assert!(
        stderr.contains("partition table gpt: 1: high-entropy, 2: unknown"),
        "{stderr}"
    );

    // A whole disk of ciphertext is named too; one of text is not.
    let whole = dir.path().join("whole.img");
    std::fs::write(&whole, noise(6, (2 * MIB) as usize)).unwrap();
    let scan = Scan::run(&[&whole], &[]);
    assert_eq!(scan.code, 3, "{}", scan.stderr);
    assert_eq!(
        unreadable(&scan.coverage[0]),
        vec![(0, 2 * MIB, reason.to_owned())]
    );
    let text: Vec<u8> = noise(7, (2 * MIB) as usize)
        .iter()
        .map(|b| b"abcdefghijklmnopqrstuvwxyz0123456789 \n"[usize::from(b % 38)])
        .collect();
    std::fs::write(&whole, text).unwrap();
    let scan = Scan::run(&[&whole], &[]);
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    assert_eq!(scan.coverage[0]["complete"], true);
}
