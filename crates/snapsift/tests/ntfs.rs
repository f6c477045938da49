//! NTFS end to end: a volume made by `mkntfs`, files written through an `ntfs-3g` mount (a
//! small resident file, a compressed file, an alternate data stream, a file deleted after),
//! scanned by the command line. Every secret is found once, with its path, MFT record and
//! state; The Sleuth Kit (`ifind -n`) gives the record numbers.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// `ntfs-3g` in the foreground (so that unmounting waits for everything to be written), with
/// Windows stream names (`file:stream`) and compression allowed.
struct Mount {
    child: Child,
    dir: std::path::PathBuf,
}

impl Mount {
    fn new(image: &Path, dir: &Path) -> Mount {
        fs::create_dir_all(dir).unwrap();
        let child = Command::new("ntfs-3g")
            .args(["-o", "no_detach,streams_interface=windows,compression"])
            .args([image, dir])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ntfs-3g is installed");
        let started = Instant::now();
        let target = dir.to_str().unwrap().to_owned();
        while !fs::read_to_string("/proc/mounts")
            .unwrap()
            .lines()
            .any(|l| l.split(' ').nth(1) == Some(&target))
        {
            assert!(started.elapsed() < Duration::from_secs(20), "no mount");
            std::thread::sleep(Duration::from_millis(20));
        }
        Mount {
            child,
            dir: dir.to_owned(),
        }
    }

    fn finish(mut self) {
        run("umount", &[self.dir.to_str().unwrap()]);
        assert!(self.child.wait().unwrap().success());
    }
}

#[test]
fn ntfs_resident_compressed_stream_and_deleted_files() {
    let dir = workdir();
    let image = path_in(&dir, "ntfs.img");
    sparse_file(&image, 32 << 20);
    run("mkntfs", &["-F", "-Q", "-q", image.to_str().unwrap()]);
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
    fs::create_dir_all(root.join("Logs")).unwrap();
    run(
        "setfattr",
        &[
            "-h",
            "-v",
            "0x00000800",
            "-n",
            "system.ntfs_attrib_be",
            root.join("Logs").to_str().unwrap(),
        ],
    );
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
