//! NTFS end to end: a volume made by `mkntfs`, files written through an `ntfs-3g` mount (a
//! small resident file, a compressed file, an alternate data stream, a file deleted after),
//! scanned by the command line. Every secret is found once, with its path, MFT record and
//! state; The Sleuth Kit (`ifind -n`) gives the record numbers.

use std::fs;

use snapsift_testkit::{Mount, Secrets, compressed_dir, mkntfs, offsets_of, run, workdir};

use crate::common::*;

#[test]
fn ntfs_resident_compressed_stream_and_deleted_files() {
    let dir = workdir();
    let image = path_in(&dir, "ntfs.img");
    mkntfs(&image, 32 << 20, None);
    let mut s = Secrets::new(77);
    let (resident, compressed, stream, deleted) = (
        s.aws_key_id(),
        s.alibaba_key_id(),
        s.aws_key_id(),
        s.postgres_uri(),
    );
    let mount = Mount::new(&image, &path_in(&dir, "mnt"));
    let root = mount.dir.clone();
    fs::create_dir_all(root.join("Users/admin/.aws")).unwrap();
    fs::write(
        root.join("Users/admin/.aws/credentials"),
        format!("[default]\naws_access_key_id = {resident}\n"),
    )
    .unwrap();
    // New files in a directory marked compressed are LZNT1-compressed.
    compressed_dir(&root.join("Logs"));
    let mut log = String::new();
    for i in 0..4000 {
        log.push_str(&format!("2026-11-23 request {i} ok\n"));
        if i == 2500 {
            log.push_str(&format!("ALIBABA_CLOUD_ACCESS_KEY_ID={compressed}\n"));
        }
    }
    fs::write(root.join("Logs/service.log"), &log).unwrap();
    fs::write(root.join("Users/admin/notes.txt"), "nothing here\n").unwrap();
    fs::write(
        root.join("Users/admin/notes.txt:hidden"),
        format!("aws_access_key_id={stream}\n{}", "x".repeat(3000)),
    )
    .unwrap();
    let mut dump = String::from_utf8(s.filler(20_000)).unwrap();
    dump.push_str(&format!("\nDATABASE_URL={deleted}\n"));
    fs::write(root.join("Users/admin/dump.sql"), &dump).unwrap();
    fs::remove_file(root.join("Users/admin/dump.sql")).unwrap();
    mount.finish();

    let scan = Scan::run(&[&image], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    let record = |path: &str| -> u64 {
        let out = run("ifind", &["-n", path, image.to_str().unwrap()]);
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };

    let f = scan.only(&resident);
    let location = &f["location"];
    assert_eq!(location["filesystem"], "ntfs");
    assert_eq!(location["path"], "/Users/admin/.aws/credentials");
    assert_eq!(location["state"], "allocated");
    assert_eq!(
        location["mft_record"],
        record("/Users/admin/.aws/credentials")
    );
    assert!(location["inode"].is_null());

    let f = scan.only(&compressed);
    assert_eq!(f["location"]["path"], "/Logs/service.log");
    let at = log.find(&compressed).unwrap() as u64;
    assert_eq!(f["location"]["file_offset"], at, "{f}");
    assert!(
        offsets_of(&image, compressed.as_bytes()).is_empty(),
        "the compressed secret is not on the disk as such"
    );

    let f = scan.only(&stream);
    assert_eq!(f["location"]["path"], "/Users/admin/notes.txt:hidden");
    assert_eq!(
        f["location"]["mft_record"],
        record("/Users/admin/notes.txt")
    );

    let f = scan.only(&deleted);
    assert_eq!(f["location"]["path"], "/Users/admin/dump.sql");
    assert_eq!(f["location"]["state"], "deleted");

    assert_eq!(scan.findings.len(), 4, "{:#?}", scan.findings);
}
