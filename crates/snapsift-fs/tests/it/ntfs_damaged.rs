//! Damaged and hostile NTFS images: a real image (`mkntfs`, files written through `ntfs-3g`)
//! with data runs pointing outside the volume, runs that loop back over their own clusters,
//! hostile boot sectors, truncation and random damage. The map must come back (or refuse the
//! volume) quickly, never panic, and say what it cut.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use snapsift_disk::MemoryDisk;
use snapsift_fs::{FileState, Filesystem, NtfsMap};
use snapsift_testkit::{Mount, Rng, compressed_dir, mkntfs, noise, workdir};

use crate::common::damage;
use crate::common::ntfs::{Tree, fls, istat, text};

const CLUSTER: u64 = 4096;
const RECORD: usize = 1024;

/// A small NTFS image: nested directories, a resident secret, a directory of 80 entries
/// (half deleted), a ten-cluster file, a compressed file, a named stream.
fn small_image(dir: &Path) -> PathBuf {
    let image = dir.join("ntfs.img");
    mkntfs(&image, 8 << 20, Some(CLUSTER as u32));
    let mount = Mount::new(&image, &dir.join("mnt"));
    let root = mount.dir.clone();
    let mut tree = Tree::default();
    tree.put(&root, "a/b/c/secret.txt", b"AKIAIOSFODNN7EXAMPLE\n");
    tree.put(&root, "big.bin", &noise(1, 10 * CLUSTER as usize));
    tree.put(&root, "data.bin", &noise(2, 20_000));
    tree.put(&root, "data.bin:ads", &noise(3, 3000));
    for i in 0..80 {
        tree.put(
            &root,
            &format!("dir/e{i:03}"),
            &noise(10 + i, 100 + 50 * i as usize),
        );
    }
    compressed_dir(&root.join("comp"));
    tree.put(&root, "comp/log.txt", &text(3000));
    for i in (0..80).step_by(2) {
        tree.delete(&root, &format!("dir/e{i:03}"));
    }
    mount.finish();
    image
}

/// The byte offset of MFT record `record` in the image, through `$MFT`'s clusters.
fn record_offset(image: &Path, record: u64) -> usize {
    let mft = istat(image, 0, 0);
    let data = mft.attributes.iter().find(|a| a.kind == "$DATA").unwrap();
    let byte = record * RECORD as u64;
    (data.clusters[(byte / CLUSTER) as usize] * CLUSTER + byte % CLUSTER) as usize
}

/// The record of `path`, from `fls`.
fn record_of(image: &Path, path: &str) -> u64 {
    fls(image, 0)
        .into_iter()
        .find(|n| n.path == path && !n.deleted)
        .unwrap_or_else(|| panic!("{path}"))
        .record
}

/// Where the data runs of the first non-resident unnamed `$DATA` attribute of the record at
/// `at` start, and how many bytes the attribute leaves them.
fn data_runs(bytes: &[u8], at: usize) -> (usize, usize) {
    let le16 = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    let le32 = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap()) as usize;
    let mut attribute = at + le16(at + 0x14);
    loop {
        let kind = le32(attribute);
        assert_ne!(kind, 0xFFFF_FFFF, "no non-resident $DATA");
        let len = le32(attribute + 4);
        if kind == 0x80 && bytes[attribute + 8] != 0 && bytes[attribute + 9] == 0 {
            let runs = attribute + le16(attribute + 0x20);
            return (runs, attribute + len - runs);
        }
        attribute += len;
    }
}

fn build(bytes: Vec<u8>) -> Result<NtfsMap, snapsift_fs::FsError> {
    let len = bytes.len() as u64;
    NtfsMap::build(&MemoryDisk::new(bytes), 0..len)
}

/// Locates every `step`-th byte, and reads every listed stream (which may fail on damage,
/// but not panic); checks the answers are consistent.
fn sweep(map: &NtfsMap, bytes: &[u8], step: u64) {
    let len = bytes.len() as u64;
    let mut offset = 0;
    while offset < len {
        let loc = map.locate(offset);
        assert!(loc.run.contains(&offset), "{offset}: {loc:?}");
        if loc.state == FileState::Unallocated {
            assert!(loc.inode.is_none(), "{loc:?}");
        }
        offset += step;
    }
    let _ = map.locate(u64::MAX);
    let disk = MemoryDisk::new(bytes.to_vec());
    for file in map.files() {
        let mut buf = vec![0u8; 1 << 16];
        let _ = file.content.read_at(&disk, 0, 0, &mut buf);
        let _ = file.content.seams();
        let _ = file.content.volume_range(0..file.content.size.min(100));
    }
}

#[test]
fn runs_outside_the_volume_and_runs_that_loop_are_noted() {
    let dir = workdir();
    let image = small_image(dir.path());
    let pristine = fs::read(&image).unwrap();
    let clean = build(pristine.clone()).unwrap();
    assert!(clean.notes().is_empty(), "{:?}", clean.notes());

    // /big.bin's only run moved far past the volume's end.
    let big = record_of(&image, "/big.bin");
    let at = record_offset(&image, big);
    let (runs, room) = data_runs(&pristine, at);
    assert!(room >= 8, "{room}");
    let mut bytes = pristine.clone();
    // Ten clusters at cluster 0x7FFF_FFFF.
    bytes[runs..runs + 8].copy_from_slice(&[0x41, 0x0A, 0xFF, 0xFF, 0xFF, 0x7F, 0x00, 0x00]);
    assert!(
        (runs % 512) < 502,
        "the runs do not cross an update sequence entry"
    );
    let map = build(bytes.clone()).unwrap();
    assert!(
        map.notes()
            .iter()
            .any(|n| n.contains(&format!("record {big}")) && n.contains("outside")),
        "{:?}",
        map.notes()
    );
    sweep(&map, &bytes, 512);

    // Its runs rewritten as five clusters, then five clusters at the same place again.
    let clusters = istat(&image, 0, big)
        .attributes
        .iter()
        .find(|a| a.kind == "$DATA")
        .unwrap()
        .clusters[0];
    let mut bytes = pristine.clone();
    let lcn = (clusters as u16).to_le_bytes();
    bytes[runs..runs + 8].copy_from_slice(&[0x21, 0x05, lcn[0], lcn[1], 0x11, 0x05, 0x00, 0x00]);
    let map = build(bytes.clone()).unwrap();
    assert!(
        map.notes()
            .iter()
            .any(|n| n.contains(&format!("record {big}")) && n.contains("twice")),
        "{:?}",
        map.notes()
    );
    let file = map.files().iter().find(|f| f.id == big).unwrap();
    let mut read = vec![0u8; file.content.size as usize];
    file.content
        .read_at(&MemoryDisk::new(bytes.clone()), 0, 0, &mut read)
        .unwrap();
    assert_eq!(
        &read[..5 * CLUSTER as usize],
        &pristine[(clusters * CLUSTER) as usize..][..5 * CLUSTER as usize]
    );
    assert!(
        read[5 * CLUSTER as usize..].iter().all(|&b| b == 0),
        "the loop was cut"
    );
    let loc = map.locate(clusters * CLUSTER);
    assert_eq!(loc.path.as_deref(), Some("/big.bin"));
    sweep(&map, &bytes, 512);
}

#[test]
fn damaged_records_are_skipped_and_noted() {
    let dir = workdir();
    let image = small_image(dir.path());
    let pristine = fs::read(&image).unwrap();
    let secret = record_of(&image, "/a/b/c/secret.txt");
    let at = record_offset(&image, secret);
    // A torn write: the second stride's update sequence entry no longer matches.
    let mut bytes = pristine.clone();
    bytes[at + 1022] ^= 0xFF;
    let map = build(bytes.clone()).unwrap();
    assert!(
        map.notes().iter().any(|n| n.contains("damaged")),
        "{:?}",
        map.notes()
    );
    assert!(map.files().iter().all(|f| f.id != secret));
    assert_eq!(
        map.locate(at as u64 + 100).inode,
        Some(secret),
        "still its MFT record"
    );
    sweep(&map, &bytes, 512);
    // An attribute whose length runs past the record.
    let mut bytes = pristine.clone();
    let first = u16::from_le_bytes([bytes[at + 0x14], bytes[at + 0x15]]) as usize;
    bytes[at + first + 4..at + first + 8].copy_from_slice(&0x4000u32.to_le_bytes());
    let map = build(bytes.clone()).unwrap();
    assert!(
        map.notes().iter().any(|n| n.contains("damaged attribute")),
        "{:?}",
        map.notes()
    );
    sweep(&map, &bytes, 512);
}

#[test]
fn hostile_boot_sectors_are_refused_and_truncation_noted() {
    let dir = workdir();
    let image = small_image(dir.path());
    let pristine = fs::read(&image).unwrap();
    let patch = |at: usize, value: &[u8]| {
        let mut bytes = pristine.clone();
        bytes[at..at + value.len()].copy_from_slice(value);
        bytes
    };
    // Sectors of 3 bytes, 0 sectors per cluster, records of 127 clusters of 2 MiB, the MFT
    // at cluster 0 or far past the end, no signature.
    for bytes in [
        patch(0x0B, &3u16.to_le_bytes()),
        patch(0x0D, &[0]),
        patch(0x0D, &[0xF4]).into_iter().collect::<Vec<u8>>(),
        patch(0x40, &[0x7F]),
        patch(0x30, &0u64.to_le_bytes()),
        patch(0x30, &(u64::MAX / 8192).to_le_bytes()),
        patch(0x1FE, &[0, 0]),
    ] {
        let started = Instant::now();
        if let Ok(map) = build(bytes.clone()) {
            sweep(&map, &bytes, 4096);
        }
        assert!(started.elapsed().as_secs() < 5);
    }
    assert!(build(patch(0x1FE, &[0, 0])).is_err());
    assert!(
        build(patch(0x40, &[0x7F])).is_err(),
        "huge records are refused"
    );
    // A volume cut in half: mapped as far as it goes.
    let mut bytes = pristine.clone();
    bytes.truncate(bytes.len() / 2 + 777);
    let map = build(bytes.clone()).unwrap();
    assert!(
        map.notes()
            .iter()
            .any(|n| n.contains("larger than its volume")),
        "{:?}",
        map.notes()
    );
    sweep(&map, &bytes, 1024);
    assert!(build(pristine[..300].to_vec()).is_err());
}

#[test]
fn random_damage_never_panics() {
    let dir = workdir();
    let image = small_image(dir.path());
    let pristine = fs::read(&image).unwrap();
    // Where the structures are: the boot sector and the MFT's first clusters (the MFT of a
    // small volume starts at cluster 4; its records 0-127 are 128 KiB).
    let mft = record_offset(&image, 0);
    let mut rng = Rng::new(0x5eed_0000_4e74_f500);
    let started = Instant::now();
    let mut built = 0;
    for round in 0..200 {
        let mut bytes = pristine.clone();
        damage(&mut bytes, &mut rng, mft..mft + 128 * RECORD);
        if round % 5 == 0 {
            let at = rng.below(512) as usize;
            bytes[at] = rng.next() as u8;
        }
        if let Ok(map) = build(bytes.clone()) {
            built += 1;
            sweep(&map, &bytes, 4096);
        }
    }
    assert!(
        built > 100,
        "only {built} of 200 damaged images were mapped"
    );
    assert!(
        started.elapsed().as_secs() < 60,
        "{:?} for 200 images",
        started.elapsed()
    );
}
