//! The file pass over an ext4 image made by `mkfs.ext4 -d` (4 KiB blocks) and changed by
//! `debugfs`: secrets in a gzip file, a plain tar, UTF-16 text and a fragmented file, each
//! placed in its file, its containers and (where it lies there) on the disk.

use std::fs;
use std::path::{Path, PathBuf};

use snapsift_filepass::{FilePassConfig, FilePassOutput};
use snapsift_testkit::{Secrets, debugfs_script, mkfs_from_tree, offsets_of, sh, write_file};

use crate::common::{
    MATCHER, Opened, assert_on_disk_is_true, chain, ext4_disk_offset, only, secret,
};

/// The secrets [`image`] plants, by where they are.
struct Planted {
    gzip: String,
    gzip_text: String,
    tar_member: String,
    utf16: String,
    plain: String,
    across: Vec<(String, u64)>,
    beside: String,
}

/// An ext4 image in `dir` holding `/logs/app.log.gz`, `/backup/etc.tar` (member
/// `etc/db.conf`), `/notes-utf16.txt`, `/plain.txt` (a secret the byte sweep finds, in one
/// piece) and `/frag`, which `debugfs` writes into the 2 KiB holes left by deleted files, so
/// that a secret crosses each of its seams.
fn image(dir: &Path) -> (PathBuf, Planted) {
    let mut s = Secrets::new(2024);
    let tree = dir.join("tree");
    let work = dir.join("work");
    let gzip = s.aws_key_id();
    let gzip_text = format!("boot ok\nrequest served\nAWS_ACCESS_KEY_ID={gzip}\n");
    write_file(&tree, "logs/app.log", &gzip_text);
    sh(&tree, "gzip -9 logs/app.log");
    let tar_member = s.postgres_uri();
    write_file(&work, "etc/db.conf", format!("url = {tar_member}\n"));
    fs::create_dir_all(tree.join("backup")).unwrap();
    sh(
        &work,
        &format!("tar cf {}/backup/etc.tar etc", tree.display()),
    );
    let utf16 = s.aws_key_id();
    write_file(
        &work,
        "notes.txt",
        format!("\u{feff}notes\r\nkey: {utf16}\r\n"),
    );
    sh(
        &work,
        &format!(
            "iconv -f UTF-8 -t UTF-16LE notes.txt > {}/notes-utf16.txt",
            tree.display()
        ),
    );
    let plain = s.alibaba_key_id();
    write_file(
        &tree,
        "plain.txt",
        format!("ALIBABA_CLOUD_ACCESS_KEY_ID={plain}\n"),
    );
    for i in 0..40 {
        write_file(&tree, &format!("spread/s{i:03}"), s.filler(2048));
    }
    let image = dir.join("ext4.img");
    mkfs_from_tree("mkfs.ext4", &image, &tree, "16M", &["-b", "4096"]);

    // /frag goes into the one-block holes the even /spread files leave: each 4 KiB of it lies
    // apart from the next, and a secret crosses each seam between them.
    let mut commands = String::new();
    for i in (0..40).step_by(2) {
        commands.push_str(&format!("rm /spread/s{i:03}\n"));
    }
    let mut frag = s.filler(32 * 1024);
    let mut across = Vec::new();
    for k in 1..8u64 {
        let secret = s.aws_key_id();
        let at = k * 4096 - 10;
        let at_usize = at as usize;
        frag[at_usize - 1] = b' ';
        frag[at_usize..at_usize + secret.len()].copy_from_slice(secret.as_bytes());
        frag[at_usize + secret.len()] = b' ';
        across.push((secret, at));
    }
    // And one a few bytes from a seam, in one piece on the disk: the byte sweep's to find.
    let beside = s.aws_key_id();
    let at = 3 * 4096 + 40;
    frag[at - 1] = b' ';
    frag[at..at + beside.len()].copy_from_slice(beside.as_bytes());
    frag[at + beside.len()] = b' ';
    let staged = write_file(&work, "frag", &frag);
    commands.push_str(&format!("write {} frag\n", staged.display()));
    debugfs_script(&image, &commands);
    let planted = Planted {
        gzip,
        gzip_text,
        tar_member,
        utf16,
        plain,
        across,
        beside,
    };
    (image, planted)
}

/// The image, opened, and the file pass's output over all of it.
fn pass(dir: &Path) -> (PathBuf, Planted, Opened, FilePassOutput<'static>) {
    let (image, planted) = image(dir);
    let opened = Opened::new(&image);
    let output = opened.pass(&FilePassConfig::default());
    assert_on_disk_is_true(&image, &output);
    (image, planted, opened, output)
}

#[test]
fn a_secret_in_a_gzip_file_is_decoded_and_placed_in_its_file() {
    let dir = snapsift_testkit::workdir();
    let (image, planted, opened, output) = pass(dir.path());
    let found = only(&output, &planted.gzip);
    assert_eq!(opened.path_of(found.file), "/logs/app.log.gz");
    assert_eq!(chain(found), ["gzip"]);
    let decoded_at = planted.gzip_text.find(&planted.gzip).unwrap() as u64;
    assert_eq!(found.decoded_offset, Some(decoded_at));
    assert_eq!(found.file_offset, None);
    assert_eq!(found.on_disk, None);
    assert_eq!(found.encoding, None);
    // Decoded: the offset is the file's first byte on the disk.
    let first_byte = ext4_disk_offset(&image, "/logs/app.log.gz", 0);
    assert_eq!(found.finding.offset, first_byte);
    assert!(output.summary.expanded >= 1, "{:?}", output.summary);
}

#[test]
fn a_tar_member_is_named_and_its_secret_found_where_it_lies_on_the_disk() {
    let dir = snapsift_testkit::workdir();
    let (image, planted, opened, output) = pass(dir.path());
    let found = only(&output, &planted.tar_member);
    assert_eq!(opened.path_of(found.file), "/backup/etc.tar");
    assert_eq!(chain(found), ["tar:etc/db.conf"]);
    let tar = fs::read(dir.path().join("tree/backup/etc.tar")).unwrap();
    let in_tar = tar
        .windows(planted.tar_member.len())
        .position(|w| w == planted.tar_member.as_bytes())
        .unwrap() as u64;
    assert_eq!(found.file_offset, Some(in_tar));
    let on_disk = offsets_of(&image, planted.tar_member.as_bytes());
    assert_eq!(on_disk.len(), 1);
    let len = planted.tar_member.len() as u64;
    assert_eq!(found.on_disk, Some(on_disk[0]..on_disk[0] + len));
    assert_eq!(
        on_disk[0],
        ext4_disk_offset(&image, "/backup/etc.tar", in_tar)
    );
}

#[test]
fn utf16_text_is_decoded_and_says_its_encoding() {
    let dir = snapsift_testkit::workdir();
    let (_, planted, opened, output) = pass(dir.path());
    let found = only(&output, &planted.utf16);
    assert_eq!(opened.path_of(found.file), "/notes-utf16.txt");
    assert_eq!(
        found.encoding,
        Some(snapsift_filepass::LeafEncoding::Utf16Le)
    );
    assert_eq!(chain(found), ["utf-16le"]);
    assert!(found.decoded_offset.is_some(), "{found:?}");
    assert_eq!(found.on_disk, None);
}

#[test]
fn secrets_across_the_seams_of_a_fragmented_file_are_found_and_nothing_else_of_it() {
    let dir = snapsift_testkit::workdir();
    let (image, planted, opened, output) = pass(dir.path());
    let frag = opened.index_of("/frag");
    for (secret_text, at) in &planted.across {
        // Not on the disk in one piece: only the file pass can find it.
        assert_eq!(
            offsets_of(&image, secret_text.as_bytes()),
            Vec::<u64>::new()
        );
        let found = only(&output, secret_text);
        assert_eq!(found.file, frag);
        assert!(found.chain.is_empty(), "{found:?}");
        assert_eq!(found.file_offset, Some(*at));
        assert_eq!(found.on_disk, None);
        assert_eq!(found.finding.offset, ext4_disk_offset(&image, "/frag", *at));
    }
    // A secret beside a seam but in one piece, and a plain file in one piece, are the byte
    // sweep's: the file pass reports neither.
    assert_eq!(offsets_of(&image, planted.beside.as_bytes()).len(), 1);
    for sweep_only in [&planted.beside, &planted.plain] {
        assert!(
            output.findings.iter().all(|f| secret(f) != *sweep_only),
            "{sweep_only}: {:#?}",
            output.findings
        );
    }
    assert!(output.summary.seams >= 7, "{:?}", output.summary);
}

#[test]
fn run_files_reads_only_the_files_it_is_given() {
    let dir = snapsift_testkit::workdir();
    let (image, planted) = image(dir.path());
    let opened = Opened::new(&image);
    let gzip = opened.index_of("/logs/app.log.gz");
    let output = snapsift_filepass::run_files(
        &*opened.disk,
        opened.volume_start,
        &*opened.fs,
        &|index| index == gzip,
        &MATCHER,
        &FilePassConfig::default(),
        &|_| {},
    )
    .unwrap();
    assert_eq!(output.summary.files, 1, "{:?}", output.summary);
    let secrets: Vec<String> = output.findings.iter().map(secret).collect();
    assert_eq!(secrets, [planted.gzip]);
}
