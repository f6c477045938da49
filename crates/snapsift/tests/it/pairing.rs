//! An ID and its secret half pair only inside one byte stream that belongs together: one
//! file's contents, one archive member, or, outside files, one run of bytes no file boundary
//! crosses. Small files written one after the other by `debugfs write` lie next to each other
//! on the disk; an ID at the end of one is no credential with a secret at the start of the
//! next. Like every default scan of the tests ([`crate::common::Scan::run`]), each image here is
//! also scanned with `--include-invalid`, which may only add findings.

use std::path::Path;

use serde_json::Value;

use snapsift_testkit::{
    Secrets, debugfs_script, ext4_with_files, offsets_of, run, workdir, write_at,
};

use crate::common::*;

/// How close the built-in rules want an ID and its secret (`within` of their `[rule.pair]`).
const WITHIN: u64 = 1024;

/// `filler` bytes of text, then `line`: a file whose last line is `line`.
fn ending_with(secrets: &mut Secrets, filler: usize, line: &str) -> Vec<u8> {
    let mut bytes = secrets.filler(filler);
    bytes.push(b'\n');
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    bytes
}

/// `line`, then `filler` bytes of text: a file whose first line is `line`.
fn starting_with(secrets: &mut Secrets, line: &str, filler: usize) -> Vec<u8> {
    let mut bytes = format!("{line}\n").into_bytes();
    bytes.extend(secrets.filler(filler));
    bytes.push(b'\n');
    bytes
}

/// A Tencent Cloud SecretId: `AKID` and 32 letters and digits.
fn tencent_id(secrets: &mut Secrets) -> String {
    format!("AKID{}", secrets.alnum(32))
}

/// The one offset of `needle` on `image` (the oracle: a plain byte search).
fn offset_of(image: &Path, needle: &str) -> u64 {
    let found = offsets_of(image, needle.as_bytes());
    assert_eq!(found.len(), 1, "{needle} lies once on the image: {found:?}");
    found[0]
}

/// Checks that `id` ends and `secret` starts less than the pairing distance apart on the
/// disk, in that order: close enough that only the stream rule keeps them apart.
fn assert_adjacent(image: &Path, id: &str, secret: &str) {
    let id_end = offset_of(image, id) + id.len() as u64;
    let secret_at = offset_of(image, secret);
    assert!(
        id_end < secret_at && secret_at - id_end < WITHIN,
        "{id} ends at {id_end}, {secret} starts at {secret_at}: not adjacent"
    );
}

/// The one finding whose own secret is `secret`, with its pair's secret (if any).
fn finding<'s>(scan: &'s Scan, secret: &str) -> (&'s Value, Option<&'s str>) {
    let f = scan.only(secret);
    (f, f["pair"]["secret"].as_str())
}

#[test]
fn ids_pair_with_secrets_of_their_own_file_only() {
    let dir = workdir();
    let image = path_in(&dir, "fs.img");
    let mut secrets = Secrets::new(1901);
    let (alibaba_id, alibaba_secret) = (secrets.alibaba_key_id(), secrets.alnum(30));
    let (aws_id, aws_secret) = (secrets.aws_key_id(), secrets.alnum(40));
    let (tencent, tencent_key) = (tencent_id(&mut secrets), secrets.alnum(32));
    let (own_id, own_secret) = (secrets.alibaba_key_id(), secrets.alnum(30));
    let files = [
        (
            "alibaba-id.env",
            ending_with(
                &mut secrets,
                900,
                &format!("ALIBABA_CLOUD_ACCESS_KEY_ID={alibaba_id}"),
            ),
        ),
        (
            "alibaba-secret.env",
            starting_with(
                &mut secrets,
                &format!("ALIBABA_CLOUD_ACCESS_KEY_SECRET={alibaba_secret}"),
                300,
            ),
        ),
        (
            "tencent-id.env",
            ending_with(
                &mut secrets,
                900,
                &format!("TENCENTCLOUD_SECRET_ID={tencent}"),
            ),
        ),
        (
            "tencent-key.env",
            starting_with(
                &mut secrets,
                &format!("TENCENTCLOUD_SECRET_KEY={tencent_key}"),
                300,
            ),
        ),
        (
            "credentials",
            format!(
                "[default]\naws_access_key_id = {aws_id}\naws_secret_access_key = {aws_secret}\n"
            )
            .into_bytes(),
        ),
        // Both halves in one file, the ID last in its block and its secret in the file's
        // next block: one file's contents, however its blocks lie.
        ("own.env", {
            let mut bytes = ending_with(
                &mut secrets,
                980,
                &format!("ALIBABA_CLOUD_ACCESS_KEY_ID={own_id}"),
            );
            bytes.extend(starting_with(
                &mut secrets,
                &format!("ALIBABA_CLOUD_ACCESS_KEY_SECRET={own_secret}"),
                100,
            ));
            bytes
        }),
    ];
    ext4_with_files(&image, &path_in(&dir, "stage"), 8, &files);
    assert_adjacent(&image, &alibaba_id, &alibaba_secret);
    assert_adjacent(&image, &tencent, &tencent_key);
    assert_adjacent(&image, &own_id, &own_secret);

    let scan = Scan::run(&[&image], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    // Neighbouring files: each half is a finding of its own, in its own file.
    for (secret, path) in [
        (&alibaba_id, "/alibaba-id.env"),
        (&alibaba_secret, "/alibaba-secret.env"),
        (&tencent, "/tencent-id.env"),
        (&tencent_key, "/tencent-key.env"),
    ] {
        let (f, pair) = finding(&scan, secret);
        assert_eq!(pair, None, "{secret} pairs across files: {f:#}");
        assert_eq!(f["location"]["path"], path);
    }
    assert_eq!(
        scan.only(&alibaba_secret)["rule"],
        "alibaba.access-key-secret"
    );
    assert_eq!(scan.only(&tencent_key)["rule"], "tencent.secret-key");
    // One file: the halves pair.
    for (id, secret) in [(&aws_id, &aws_secret), (&own_id, &own_secret)] {
        let (f, pair) = finding(&scan, id);
        assert_eq!(pair, Some(secret.as_str()), "{f:#}");
        assert_eq!(f["confidence"], "high");
        assert!(scan.findings.iter().all(|f| f["secret"] != secret.as_str()));
    }
    assert_eq!(scan.findings.len(), 6, "{:#?}", scan.findings);
}

#[test]
fn in_free_space_halves_pair_within_one_run_only() {
    let dir = workdir();
    let image = path_in(&dir, "fs.img");
    let mut secrets = Secrets::new(1902);
    let (gone_id, gone_secret) = (secrets.alibaba_key_id(), secrets.alnum(30));
    let (deleted_id, live_secret) = (secrets.alibaba_key_id(), secrets.alnum(30));
    let (live_id, free_secret) = (secrets.alibaba_key_id(), secrets.alnum(30));
    let (free_id, free_pair_secret) = (secrets.alibaba_key_id(), secrets.alnum(30));
    let files = [
        // Deleted, both halves: its blocks remain, one deleted file's.
        ("gone.env", {
            let mut bytes = ending_with(
                &mut secrets,
                500,
                &format!("ALIBABA_CLOUD_ACCESS_KEY_ID={gone_id}"),
            );
            bytes.extend(starting_with(
                &mut secrets,
                &format!("ALIBABA_CLOUD_ACCESS_KEY_SECRET={gone_secret}"),
                100,
            ));
            bytes
        }),
        // Deleted, its ID last; the next file, in use, starts with a secret.
        (
            "deleted-id.env",
            ending_with(
                &mut secrets,
                900,
                &format!("ALIBABA_CLOUD_ACCESS_KEY_ID={deleted_id}"),
            ),
        ),
        (
            "live-secret.env",
            starting_with(
                &mut secrets,
                &format!("ALIBABA_CLOUD_ACCESS_KEY_SECRET={live_secret}"),
                300,
            ),
        ),
        // In use, its ID last; the free block after it starts with a secret.
        (
            "live-id.env",
            ending_with(
                &mut secrets,
                900,
                &format!("ALIBABA_CLOUD_ACCESS_KEY_ID={live_id}"),
            ),
        ),
    ];
    ext4_with_files(&image, &path_in(&dir, "stage"), 8, &files);
    debugfs_script(&image, "rm gone.env\nrm deleted-id.env\n");
    // Free space after the last file: a secret in the block after it, and, blocks later, an
    // ID with its secret.
    let block = 1024;
    let after = (offset_of(&image, &live_id) / block + 1) * block;
    write_at(
        &image,
        after,
        format!("ALIBABA_CLOUD_ACCESS_KEY_SECRET={free_secret}\n").as_bytes(),
    );
    write_at(
        &image,
        after + 8 * block,
        format!(
            "ALIBABA_CLOUD_ACCESS_KEY_ID={free_id}\nALIBABA_CLOUD_ACCESS_KEY_SECRET={free_pair_secret}\n"
        )
        .as_bytes(),
    );
    assert_adjacent(&image, &deleted_id, &live_secret);
    assert_adjacent(&image, &live_id, &free_secret);

    let scan = Scan::run(&[&image], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    let state = |secret: &str| scan.only(secret)["location"]["state"].clone();
    // Within one run: the deleted file's halves, the halves in free space.
    for (id, secret, where_) in [
        (&gone_id, &gone_secret, "deleted"),
        (&free_id, &free_pair_secret, "unallocated"),
    ] {
        let (f, pair) = finding(&scan, id);
        assert_eq!(pair, Some(secret.as_str()), "{f:#}");
        assert_eq!(state(id), where_);
    }
    // Across a file's boundary: a deleted file's ID and a live file's secret, a live file's
    // ID and the free space after it.
    for (secret, where_) in [
        (&deleted_id, "deleted"),
        (&live_secret, "allocated"),
        (&live_id, "allocated"),
        (&free_secret, "unallocated"),
    ] {
        let (f, pair) = finding(&scan, secret);
        assert_eq!(pair, None, "{secret} pairs across a file boundary: {f:#}");
        assert_eq!(state(secret), where_);
    }
    assert_eq!(scan.findings.len(), 6, "{:#?}", scan.findings);
}

#[test]
fn halves_in_two_members_of_one_archive_do_not_pair() {
    let dir = workdir();
    let mut secrets = Secrets::new(1903);
    let (split_id, split_secret) = (secrets.alibaba_key_id(), secrets.alnum(30));
    let (own_id, own_secret) = (secrets.alibaba_key_id(), secrets.alnum(30));
    let members = path_in(&dir, "members");
    write_tree(
        &members,
        &[
            (
                "app/a.env",
                format!("ALIBABA_CLOUD_ACCESS_KEY_ID={split_id}\n"),
            ),
            (
                "app/b.env",
                format!("ALIBABA_CLOUD_ACCESS_KEY_SECRET={split_secret}\n"),
            ),
            (
                "app/c.env",
                format!(
                    "ALIBABA_CLOUD_ACCESS_KEY_ID={own_id}\nALIBABA_CLOUD_ACCESS_KEY_SECRET={own_secret}\n"
                ),
            ),
        ],
    );
    let stage = path_in(&dir, "stage");
    std::fs::create_dir_all(&stage).unwrap();
    // A plain tar (members lie on the disk as such, 512-byte headers apart) and a gzipped
    // one (members only in decoded bytes).
    let tar = stage.join("app.tar");
    run(
        "tar",
        &[
            "-cf",
            tar.to_str().unwrap(),
            "-C",
            members.to_str().unwrap(),
            "app/a.env",
            "app/b.env",
            "app/c.env",
        ],
    );
    let tgz = stage.join("app.tar.gz");
    tar_gz(&tgz, &members, "app");
    let image = path_in(&dir, "fs.img");
    ext4_with_files(
        &image,
        &stage,
        8,
        &[
            ("app.tar", std::fs::read(&tar).unwrap()),
            ("app.tar.gz", std::fs::read(&tgz).unwrap()),
        ],
    );
    assert_adjacent(&image, &split_id, &split_secret);

    let scan = Scan::run(&[&image], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    for archive in ["/app.tar", "/app.tar.gz"] {
        let in_archive = |secret: &str| -> &Value {
            let found: Vec<&Value> = scan
                .findings
                .iter()
                .filter(|f| f["secret"] == secret && f["location"]["path"] == archive)
                .collect();
            assert_eq!(
                found.len(),
                1,
                "{secret} in {archive}: {:#?}",
                scan.findings
            );
            found[0]
        };
        for (secret, member) in [(&split_id, "app/a.env"), (&split_secret, "app/b.env")] {
            let f = in_archive(secret);
            assert!(f["pair"].is_null(), "{secret} pairs across members: {f:#}");
            assert_eq!(member_path(f), format!("{archive}!/{member}"));
        }
        let f = in_archive(&own_id);
        assert_eq!(f["pair"]["secret"], own_secret.as_str(), "{f:#}");
        assert_eq!(member_path(f), format!("{archive}!/app/c.env"));
    }
    assert_eq!(scan.findings.len(), 6, "{:#?}", scan.findings);
}
