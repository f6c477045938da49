//! `snapsift scan` of a GPT disk (`sgdisk`) whose partition holds btrfs: files written by
//! `mkfs.btrfs --rootdir`, then through a loop mount compressing with zstd, in a subvolume
//! too. Every planted secret is found once with its path, inode and state: those in
//! compressed extents (never on the disk as they read) by the file pass, the one in an
//! uncompressed extent by the sweep, at its byte. zstd keeps a unique secret as raw
//! literals, so the sweep sees those in compressed extents too, inside the same file: each is
//! still reported once.

use std::fs;

use snapsift_testkit::*;

use crate::common::*;

#[test]
fn secrets_in_compressed_btrfs_on_gpt_are_found_with_their_paths() {
    let dir = workdir();
    let tree = path_in(&dir, "tree");
    let mut s = Secrets::new(71);
    // Random bytes do not compress: the extent holding this one is stored as is.
    let uri = s.postgres_uri();
    let mut bytes = noise(71, 200_000);
    bytes.extend_from_slice(format!("\nDATABASE_URL={uri}\n").as_bytes());
    bytes.extend(noise(72, 3000));
    write_file(&tree, "srv/app/blob.bin", &bytes);
    let fs_image = dir.path().join("btrfs.img");
    mkfs_btrfs(&fs_image, 200 << 20, Some(&tree));
    let Some(mount) = BtrfsMount::new(&fs_image, &path_in(&dir, "mnt"), "compress-force=zstd")
    else {
        return;
    };
    let m = mount.dir.clone();
    let log = |secret: &str| {
        let mut text = "GET /health 200 OK\n".repeat(4000);
        text.push_str(&format!("token {secret}\n"));
        text.push_str(&"GET /health 200 OK\n".repeat(4000));
        text
    };
    let key_id = s.aws_key_id();
    write_file(
        &m,
        "root/.aws/credentials",
        format!(
            "{}[default]\naws_access_key_id = {key_id}\n",
            "# comment line\n".repeat(400)
        ),
    );
    run(
        "btrfs",
        &[
            "-q",
            "subvolume",
            "create",
            m.join("home").to_str().unwrap(),
        ],
    );
    let ltai = s.alibaba_key_id();
    write_file(
        &m,
        "home/u/app.log",
        log(&format!("ALIBABA_CLOUD_ACCESS_KEY_ID={ltai}")),
    );
    mount.finish();

    let image = dir.path().join("disk.img");
    sparse_file(&image, 210 << 20);
    run(
        "sgdisk",
        &[
            "-n",
            "1:2048:+200M",
            "-t",
            "1:8300",
            image.to_str().unwrap(),
        ],
    );
    dd_into(&image, &fs_image, 1 << 20);
    fs::remove_file(&fs_image).unwrap();

    let scan = Scan::run(&[&image], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    let planted = [
        (&key_id, "/root/.aws/credentials"),
        (&ltai, "/home/u/app.log"),
        (&uri, "/srv/app/blob.bin"),
    ];
    for (secret, path) in planted {
        let found = scan.only(secret);
        let location = &found["location"];
        assert_eq!(location["path"], path, "{found}");
        assert_eq!(location["filesystem"], "btrfs", "{found}");
        assert_eq!(location["state"], "allocated", "{found}");
        assert!(
            location["inode"].as_u64().is_some_and(|i| i >= 256),
            "{found}"
        );
        assert_eq!(location["partition"], 1, "{found}");
    }
    // The uncompressed one is found by the sweep, at its byte.
    assert_eq!(
        vec![scan.only(&uri)["offset"].as_u64().unwrap()],
        offsets_of(&image, uri.as_bytes())
    );
    assert_eq!(scan.findings.len(), planted.len(), "{:#?}", scan.findings);
    assert_eq!(scan.coverage[0]["complete"], true, "{}", scan.coverage[0]);
}
