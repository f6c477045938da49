//! exFAT images made by the real tools (`mkfs.exfat`, then files written through the
//! exfat-fuse driver on a loop device), mapped by [`FatMap`] and checked against The Sleuth
//! Kit, which reads the image file: `fls -r -p` for every entry's address, path and deleted
//! mark, `istat` for the sectors of a file. Every file's contents, read through the map, are
//! compared with the bytes written (a deleted one's too: nothing overwrote them). Hostile
//! images: chains that loop, sizes past the volume, broken checksums, and random damage,
//! each mapped in bounded time without a panic.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use snapsift_disk::{Disk, MemoryDisk};
use snapsift_fs::{FatMap, FileState, Filesystem, Piece};
use snapsift_testkit::{ExfatMount, Rng, mkfs_exfat, noise, workdir};

use crate::common::damage;
use crate::fat_images::{fls, istat_sectors, listed};

/// What a test image holds: live files by path, deleted ones with the bytes they held.
struct Tree {
    live: BTreeMap<String, Vec<u8>>,
    deleted: BTreeMap<String, Vec<u8>>,
}

/// A name of 255 UTF-16 units, the longest exFAT keeps (and, in ASCII, the longest Linux
/// passes to the driver: 255 bytes; the parser's tests take 255 non-ASCII units).
fn longest_name() -> String {
    let name = format!("{}-secrets.env", "L".repeat(243));
    assert_eq!(name.encode_utf16().count(), 255);
    name
}

/// Makes `image` an exFAT filesystem of `size` bytes with clusters of `cluster` bytes and
/// fills it through exfat-fuse: nested directories, the longest name, contiguous files and a
/// file fragmented over the hole of a deleted one (chained in the FAT), an empty file,
/// deleted files. `None` where loop devices are unavailable.
fn make(dir: &Path, image: &Path, size: u64, cluster: u64) -> Option<Tree> {
    mkfs_exfat(image, size, cluster);
    let mount = ExfatMount::new(image, &dir.join("mnt"))?;
    let root = mount.dir.clone();
    let mut live = BTreeMap::new();
    let mut deleted = BTreeMap::new();
    let put = |path: &str, bytes: Vec<u8>| {
        let at = root.join(path.trim_start_matches('/'));
        fs::create_dir_all(at.parent().unwrap()).unwrap();
        fs::write(&at, &bytes).unwrap();
        (path.to_string(), bytes)
    };
    let files = [
        ("/dir/sub/nested.env", b"AWS_SECRET=nested\n".to_vec()),
        ("/dir/secrets \u{e9}t\u{e9}.env", b"AWS_SECRET=x\n".to_vec()),
        (&*format!("/{}", longest_name()), noise(11, 5000)),
        ("/big.bin", noise(12, 100_000)),
        ("/empty.txt", Vec::new()),
        ("/hole-1.bin", noise(13, 3 * cluster as usize)),
        ("/keep.bin", noise(14, 700)),
    ];
    for (path, bytes) in files {
        let (path, bytes) = put(path, bytes);
        live.insert(path, bytes);
    }
    fs::remove_file(root.join("hole-1.bin")).unwrap();
    live.remove("/hole-1.bin");
    let (path, bytes) = put("/fragmented.bin", noise(15, 6 * cluster as usize));
    live.insert(path, bytes);
    // Both written before either is deleted: the driver reuses freed clusters at once.
    for (path, bytes) in [
        ("/gone.txt", b"deleted secret\n".to_vec()),
        (
            "/dir/deleted with a long name.bin",
            noise(16, 2 * cluster as usize + 10),
        ),
    ] {
        let (path, bytes) = put(path, bytes);
        deleted.insert(path, bytes);
    }
    for path in deleted.keys() {
        fs::remove_file(root.join(path.trim_start_matches('/'))).unwrap();
    }
    mount.finish();
    Some(Tree { live, deleted })
}

fn map_of(image: &Path) -> (Box<dyn Disk>, FatMap) {
    let disk = snapsift_disk::open(image).unwrap();
    let map = FatMap::build(&*disk, 0..disk.size()).unwrap();
    (disk, map)
}

/// Maps an exFAT image and checks it against `fls`, `istat` and the bytes written.
fn check(size: u64, cluster: u64) {
    let dir = workdir();
    let image = dir.path().join("exfat.img");
    let Some(tree) = make(dir.path(), &image, size, cluster) else {
        return;
    };
    let (disk, map) = map_of(&image);
    assert_eq!(map.fat_type(), "exfat");
    assert_eq!(Filesystem::kind(&map), "exfat");
    assert!(map.notes().is_empty(), "{:?}", map.notes());

    // Every regular file TSK lists, live or deleted, is listed with its address and path
    // (TSK lists the allocation bitmap and up-case table as files too: they are metadata).
    let all = fls(&image);
    let oracle: Vec<(u64, String, bool)> = all
        .iter()
        .filter(|e| e.3 && !e.1.starts_with("/$"))
        .map(|(a, p, d, _)| (*a, p.clone(), *d))
        .collect();
    let listed = listed(&map);
    let mut want = oracle.clone();
    want.sort();
    assert_eq!(listed, want);
    assert_eq!(tree.live.len() + tree.deleted.len(), listed.len());

    // Contents, live and deleted.
    for file in map.files() {
        let path = file.path.clone().unwrap();
        let expected = match file.state {
            FileState::Deleted => tree.deleted.get(&path),
            _ => tree.live.get(&path),
        };
        let expected = expected.unwrap_or_else(|| panic!("{path} was not written"));
        if path == "/fragmented.bin" {
            assert!(file.content.spans.len() >= 2, "{:?}", file.content);
        }
        let mut bytes = vec![0u8; file.content.size as usize];
        let read = file.content.read_at(&*disk, 0, 0, &mut bytes).unwrap();
        assert_eq!(read, bytes.len(), "{path}");
        assert!(bytes == *expected, "{path}: the contents differ");
    }

    // Every sector istat lists for a live file is that file's, data or slack; its first
    // byte is data. A deleted file's first sector is its own, deleted.
    for (address, path, deleted) in &oracle {
        let sectors = istat_sectors(&image, *address);
        for (i, sector) in sectors.iter().enumerate() {
            let found = map.locate(sector * 512);
            assert_eq!(found.inode, Some(*address), "{path} sector {sector}");
            assert_eq!(found.path.as_deref(), Some(path.as_str()));
            let want = if *deleted {
                vec![FileState::Deleted]
            } else if i == 0 {
                vec![FileState::Allocated]
            } else {
                vec![FileState::Allocated, FileState::Slack]
            };
            assert!(want.contains(&found.state), "{path}: {found:?}");
        }
    }
    // The allocation bitmap, the up-case table and directories are metadata with their
    // names; the boot region and the FAT are metadata; the last cluster is free.
    for name in ["/$ALLOC_BITMAP", "/$UPCASE_TABLE", "/dir", "/dir/sub"] {
        let address = all.iter().find(|e| e.1 == name).unwrap().0;
        let sector = istat_sectors(&image, address)[0];
        let found = map.locate(sector * 512);
        assert_eq!(
            (found.state, found.inode, found.path.as_deref()),
            (FileState::Metadata, Some(address), Some(name))
        );
    }
    assert_eq!(map.locate(0).state, FileState::Metadata);
    let fat = u64::from(u32::from_le_bytes(
        fs::read(&image).unwrap()[80..84].try_into().unwrap(),
    ));
    assert_eq!(map.locate(fat * 512).state, FileState::Metadata);
    let last = map.locate(disk.size() - 1);
    assert_eq!(last.state, FileState::Unallocated, "{last:?}");
}

#[test]
fn exfat_matches_the_sleuth_kit() {
    check(8 << 20, 4096);
}

#[test]
fn exfat_with_large_clusters_matches_the_sleuth_kit() {
    check(64 << 20, 32 << 10);
}

/// A small exFAT image's bytes (clusters of 4 KiB), or `None` where loop devices are
/// unavailable.
fn image_bytes(dir: &Path) -> Option<Vec<u8>> {
    let image = dir.join("hostile.img");
    make(dir, &image, 8 << 20, 4096)?;
    Some(fs::read(&image).unwrap())
}

/// The little-endian `u32` at `at`.
fn le32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// The byte offset of the file entry of the (live) entry set named `name`.
fn set_of(bytes: &[u8], name: &str) -> usize {
    let units: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
    (0..bytes.len() / 32)
        .map(|i| i * 32)
        .find(|&at| {
            bytes[at] == 0x85
                && bytes[at + 32] == 0xc0
                && bytes[at + 64] == 0xc1
                && bytes[at + 66..].starts_with(&units[..units.len().min(30)])
        })
        .unwrap_or_else(|| panic!("no entry set for {name}"))
}

/// Sets the checksum of the entry set at `at` again (after a test changed it).
fn reseal(bytes: &mut [u8], at: usize) {
    let len = (1 + bytes[at + 1] as usize) * 32;
    let sum = bytes[at..at + len]
        .iter()
        .enumerate()
        .filter(|(i, _)| !matches!(i, 2 | 3))
        .fold(0u16, |sum, (_, &b)| {
            sum.rotate_right(1).wrapping_add(u16::from(b))
        });
    bytes[at + 2..at + 4].copy_from_slice(&sum.to_le_bytes());
}

/// Maps `bytes` as a volume, within 5 seconds.
fn build(bytes: Vec<u8>) -> (MemoryDisk, FatMap) {
    let len = bytes.len() as u64;
    let disk = MemoryDisk::new(bytes);
    let started = Instant::now();
    let map = FatMap::build(&disk, 0..len).unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    (disk, map)
}

fn has_note(map: &FatMap, part: &str) -> bool {
    map.notes().iter().any(|n| n.contains(part))
}

#[test]
fn chains_that_loop_are_cut() {
    let dir = workdir();
    let Some(mut bytes) = image_bytes(dir.path()) else {
        return;
    };
    // The fragmented file is the one chained in the FAT: every link of its chain made to
    // point back at its first cluster.
    let set = set_of(&bytes, "fragmented.bin");
    let first = u64::from(le32(&bytes, set + 32 + 20));
    let fat = le32(&bytes, 80) as usize * 512;
    let mut cluster = first;
    let mut links = 0;
    while (2..0xffff_fff7).contains(&cluster) && links < 100 {
        let at = fat + cluster as usize * 4;
        cluster = u64::from(le32(&bytes, at));
        bytes[at..at + 4].copy_from_slice(&(first as u32).to_le_bytes());
        links += 1;
    }
    assert!(links >= 2, "{links}");
    let (_, map) = build(bytes);
    assert!(has_note(&map, "loops or cross links"), "{:?}", map.notes());
    let file = map
        .files()
        .iter()
        .find(|f| f.path.as_deref() == Some("/fragmented.bin"))
        .unwrap();
    assert_eq!(file.content.spans.len(), 1, "{:?}", file.content);
}

#[test]
fn sizes_past_the_volume_and_broken_checksums_are_noted() {
    let dir = workdir();
    let Some(bytes) = image_bytes(dir.path()) else {
        return;
    };
    let len = bytes.len() as u64;
    // A contiguous file said to be larger than the volume, its set sealed again; another
    // file's set changed after its checksum was taken.
    let mut hostile = bytes.clone();
    let big = set_of(&hostile, "big.bin");
    hostile[big + 32 + 24..big + 32 + 32].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    hostile[big + 32 + 8..big + 32 + 16].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    reseal(&mut hostile, big);
    let keep = set_of(&hostile, "keep.bin");
    hostile[keep + 8] ^= 0x40; // a timestamp
    let (_, map) = build(hostile);
    assert!(
        has_note(&map, "fewer clusters than their size"),
        "{:?}",
        map.notes()
    );
    assert!(
        has_note(&map, "checksum does not match"),
        "{:?}",
        map.notes()
    );
    // The run ends at the first cluster the allocation bitmap marks free: the free clusters
    // at the end of the volume stay free.
    let last = map.locate(len - 1);
    assert_eq!(last.state, FileState::Unallocated, "{last:?}");
    for file in map.files() {
        for span in &file.content.spans {
            if let Piece::Volume(at) = span.piece {
                assert!(at + span.len <= len, "{:?}: {span:?}", file.path);
            }
        }
    }
    assert!(
        map.files()
            .iter()
            .any(|f| f.path.as_deref() == Some("/keep.bin"))
    );

    // The main boot region failing its checksum: its backup is read.
    let mut main = bytes.clone();
    main[100] ^= 1; // the volume serial number
    let (_, map) = build(main.clone());
    assert!(
        has_note(&map, "backup boot region is read"),
        "{:?}",
        map.notes()
    );
    assert!(has_note(&map, "fails its checksum"), "{:?}", map.notes());
    // Both failing: the main one is read, and said so.
    main[12 * 512 + 100] ^= 1;
    let (_, map) = build(main);
    assert!(
        has_note(&map, "its backup is no better"),
        "{:?}",
        map.notes()
    );
    // The main boot sector damaged beyond use: the backup's fields are read.
    let mut broken = bytes.clone();
    broken[92..96].copy_from_slice(&u32::MAX.to_le_bytes());
    let (_, map) = build(broken);
    assert!(has_note(&map, "is damaged"), "{:?}", map.notes());
    assert!(
        map.files()
            .iter()
            .any(|f| f.path.as_deref() == Some("/big.bin"))
    );
}

/// Random damage to the boot regions, the FAT, the bitmap and the directories: mapped (or
/// refused) without a panic, in bounded time, and never a file whose contents lie outside
/// the volume.
#[test]
fn damaged_exfat_images_map_without_panics() {
    let dir = workdir();
    let Some(bytes) = image_bytes(dir.path()) else {
        return;
    };
    let fat = le32(&bytes, 80) as usize * 512;
    let heap = le32(&bytes, 88) as usize * 512;
    let mut rng = Rng::new(0xe8fa7);
    let started = Instant::now();
    let mut mapped = 0;
    for round in 0..300 {
        let mut hostile = bytes.clone();
        let hot = match round % 3 {
            0 => 0..24 * 512,
            1 => fat..fat + 4096,
            _ => heap..heap + 64 * 4096,
        };
        damage(&mut hostile, &mut rng, hot);
        let len = hostile.len() as u64;
        let disk = MemoryDisk::new(hostile);
        let Ok(map) = FatMap::build(&disk, 0..len) else {
            continue;
        };
        mapped += 1;
        for file in map.files() {
            for span in &file.content.spans {
                if let Piece::Volume(at) = span.piece {
                    assert!(at + span.len <= len, "round {round}: {span:?}");
                }
            }
        }
        let _ = map.locate(rng.below(len));
    }
    assert!(mapped > 100, "{mapped}");
    assert!(started.elapsed() < Duration::from_secs(60));
}
