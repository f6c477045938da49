//! The file pass over an NTFS volume made by `mkntfs`, written through `ntfs-3g`: a file in a
//! compressed directory (LZNT1) holds its bytes on the disk only compressed, so the file pass
//! reads it whole. (ntfs-3g may leave plain copies of the bytes in clusters it freed: those
//! are the byte sweep's, not the file's.)

use snapsift_filepass::FilePassConfig;
use snapsift_testkit::{Mount, Secrets, compressed_dir, mkntfs, workdir};

use crate::common::{Opened, assert_on_disk_is_true, chain, only};

#[test]
fn a_secret_in_an_ntfs_compressed_file_is_found_in_its_file() {
    let dir = workdir();
    let image = dir.path().join("ntfs.img");
    mkntfs(&image, 16 << 20, None);
    let mut s = Secrets::new(7);
    let secret = s.aws_key_id();
    let mut log = String::new();
    for i in 0..3000 {
        log.push_str(&format!("2026-11-23 request {i} served\n"));
        if i == 2000 {
            log.push_str(&format!("AWS_ACCESS_KEY_ID={secret}\n"));
        }
    }
    let mount = Mount::new(&image, &dir.path().join("mnt"));
    compressed_dir(&mount.dir.join("Logs"));
    std::fs::write(mount.dir.join("Logs/service.log"), &log).unwrap();
    mount.finish();

    let opened = Opened::new(&image);
    let output = opened.pass(&FilePassConfig::default());
    assert_on_disk_is_true(&image, &output);
    let found = only(&output, &secret);
    assert_eq!(opened.path_of(found.file), "/Logs/service.log");
    assert!(chain(found).is_empty(), "{found:?}");
    let in_file = log.find(&secret).unwrap() as u64;
    assert_eq!(found.file_offset, Some(in_file));
    assert_eq!(found.on_disk, None);
}
