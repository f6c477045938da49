//! FAT12, FAT16 and FAT32 images made by the real tools (`mkfs.fat`, then `mmd`, `mcopy`
//! and `mdel` of mtools: no mount), mapped by [`FatMap`] and checked against The Sleuth
//! Kit, which reads the image file: `fls -r -p` for every entry's address, path and
//! deleted mark, `istat` for the sectors of a file. Every file's contents, read through the
//! map, are compared with the bytes written (a deleted one's too: nothing overwrote them).
//! Hostile images: chains that loop or cross, a directory that contains itself, and random
//! damage, each mapped in bounded time without a panic.

use snapsift_testkit::{Rng, noise, run, run_stdout, workdir};

use crate::common::damage;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use snapsift_disk::{Disk, MemoryDisk};
use snapsift_fs::{FatMap, FileState, Filesystem, FsError};

/// The map is built once and shared by scanning threads.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<FatMap>();
};

/// Runs an mtools command on `image` (`mcopy -i IMAGE ...`).
fn mtools(program: &str, image: &Path, args: &[&str]) {
    let mut all = vec!["-i", image.to_str().unwrap()];
    all.extend(args);
    run_env(program, &all);
}

/// [`run`] with `MTOOLS_SKIP_CHECK=1`: mtools refuses images whose geometry it finds odd
/// unless told not to check.
fn run_env(program: &str, args: &[&str]) {
    let output = std::process::Command::new(program)
        .args(args)
        .env("MTOOLS_SKIP_CHECK", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (is it installed?): {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// What a test image holds: live files by path, and deleted ones (by the path `fls`
/// names them with) with the bytes they held.
struct Tree {
    live: BTreeMap<String, Vec<u8>>,
    deleted: BTreeMap<String, Vec<u8>>,
}

/// Makes `image` a FAT`bits` filesystem of `size_kib` KiB with clusters of `cluster`
/// sectors, and fills it: nested directories, long and short names, a file fragmented over
/// the hole of a deleted one, a file of 0 bytes, deleted files with and without long names.
fn make(dir: &Path, image: &Path, bits: u32, size_kib: u64, cluster: u32) -> Tree {
    let _ = fs::remove_file(image);
    run(
        "mkfs.fat",
        &[
            "-C",
            "-F",
            &bits.to_string(),
            "-s",
            &cluster.to_string(),
            image.to_str().unwrap(),
            &size_kib.to_string(),
        ],
    );
    let host = dir.join("host");
    fs::create_dir_all(&host).unwrap();
    let mut n = 0;
    let mut put = |at: &str, bytes: &[u8]| {
        n += 1;
        let file = host.join(format!("f{n}"));
        fs::write(&file, bytes).unwrap();
        mtools(
            "mcopy",
            image,
            &[file.to_str().unwrap(), &format!("::{at}")],
        );
    };
    let mut live = BTreeMap::new();
    let mut deleted = BTreeMap::new();
    mtools("mmd", image, &["::/EFI"]);
    mtools("mmd", image, &["::/EFI/BOOT"]);
    mtools("mmd", image, &["::/a much longer directory name"]);
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("/EFI/BOOT/grub.cfg", b"set timeout=5\n".to_vec()),
        ("/README.TXT", b"short name\n".to_vec()),
        ("/EFI/A much longer file name.txt", noise(1, 5000)),
        (
            "/a much longer directory name/secrets \u{e9}t\u{e9}.env",
            b"AWS_SECRET=x\n".to_vec(),
        ),
        ("/empty.txt", Vec::new()),
        ("/hole-1.bin", noise(2, 3000)),
        ("/keep.bin", noise(3, 700)),
    ];
    for (path, bytes) in &files {
        put(path, bytes);
        live.insert(path.to_string(), bytes.clone());
    }
    // Deleted: the hole's clusters (and entry) are then taken by a fragmented file, and
    // two deleted files' clusters stay free.
    mtools("mdel", image, &["::/hole-1.bin"]);
    live.remove("/hole-1.bin");
    let fragmented = noise(4, 9000);
    put("/fragmented.bin", &fragmented);
    live.insert("/fragmented.bin".into(), fragmented);
    let (gone_long, gone_short) = (noise(5, 1500), b"deleted short\n".to_vec());
    put("/deleted-long-name.txt", &gone_long);
    put("/GONE.TXT", &gone_short);
    mtools("mdel", image, &["::/deleted-long-name.txt", "::/GONE.TXT"]);
    deleted.insert("/deleted-long-name.txt".into(), gone_long);
    deleted.insert("/_ONE.TXT".into(), gone_short);
    Tree { live, deleted }
}

/// One entry `fls -r -p` lists: (address, path, deleted, regular file).
pub(crate) fn fls(image: &Path) -> Vec<(u64, String, bool, bool)> {
    let out = run_stdout("fls", &["-r", "-p", image.to_str().unwrap()]);
    out.lines()
        .filter_map(|line| {
            let (head, path) = line.split_once('\t')?;
            let deleted = head.contains(" * ");
            let kind = head.split_whitespace().next()?;
            let address: u64 = head
                .rsplit(' ')
                .next()?
                .trim_end_matches(':')
                .split('-')
                .next()?
                .parse()
                .ok()?;
            // TSK's virtual files ($MBR, $FAT1, $OrphanFiles) are not the filesystem's.
            if kind.starts_with('v') || kind.starts_with('V') {
                return None;
            }
            Some((address, format!("/{path}"), deleted, kind == "r/r"))
        })
        .collect()
}

/// The sectors `istat` lists for `address`.
pub(crate) fn istat_sectors(image: &Path, address: u64) -> Vec<u64> {
    let out = run_stdout("istat", &[image.to_str().unwrap(), &address.to_string()]);
    let mut lines = out.lines().skip_while(|l| !l.starts_with("Sectors:"));
    lines.next();
    lines
        .flat_map(|l| l.split_whitespace())
        .filter_map(|w| w.parse().ok())
        // istat prints 0 for the sectors of a file's last cluster past its size.
        .filter(|&sector| sector > 0)
        .collect()
}

/// The files `map` lists, sorted: (address, path, deleted).
pub(crate) fn listed(map: &FatMap) -> Vec<(u64, String, bool)> {
    let mut listed: Vec<(u64, String, bool)> = map
        .files()
        .iter()
        .map(|f| {
            let path = f.path.clone().expect("every file has a path");
            (f.id, path, f.state == FileState::Deleted)
        })
        .collect();
    listed.sort();
    listed
}

fn map_of(image: &Path) -> (Box<dyn Disk>, FatMap) {
    let disk = snapsift_disk::open(image).unwrap();
    let map = FatMap::build(&*disk, 0..disk.size()).unwrap();
    (disk, map)
}

/// Maps a FAT`bits` image and checks it against `fls`, `istat` and the bytes written.
fn check(bits: u32, size_kib: u64, cluster: u32) {
    let dir = workdir();
    let image = dir.path().join("fat.img");
    let tree = make(dir.path(), &image, bits, size_kib, cluster);
    let (disk, map) = map_of(&image);
    assert_eq!(map.fat_type(), format!("fat{bits}"));
    assert!(map.notes().is_empty(), "{:?}", map.notes());

    // Every regular file TSK lists, live or deleted, is listed with its address and path.
    let oracle: Vec<(u64, String, bool)> = fls(&image)
        .into_iter()
        .filter(|e| e.3)
        .map(|(a, p, d, _)| (a, p, d))
        .collect();
    let listed = listed(&map);
    let mut want = oracle.clone();
    want.sort();
    assert_eq!(listed, want);

    // Contents, live and deleted.
    for file in map.files() {
        let path = file.path.clone().unwrap();
        let expected = match file.state {
            FileState::Deleted => tree.deleted.get(&path),
            _ => tree.live.get(&path),
        };
        let expected = expected.unwrap_or_else(|| panic!("{path} was not written"));
        // (mtools allocates FAT32 clusters from the FSInfo's hint, past the hole.)
        if path == "/fragmented.bin" && bits != 32 {
            assert!(file.content.spans.len() >= 2, "{:?}", file.content);
        }
        let mut bytes = vec![0u8; file.content.size as usize];
        let read = file.content.read_at(&*disk, 0, 0, &mut bytes).unwrap();
        assert_eq!(read, bytes.len(), "{path}");
        assert!(bytes == *expected, "{path}: the contents differ");
    }
    // (The fragmented file took the hole's directory entry too.)
    assert_eq!(tree.live.len() + tree.deleted.len(), listed.len());

    // Every sector istat lists for a live file is that file's, data or slack; its first
    // byte is data.
    for (address, path, deleted) in &oracle {
        if *deleted {
            continue;
        }
        let sectors = istat_sectors(&image, *address);
        for (i, sector) in sectors.iter().enumerate() {
            let found = map.locate(sector * 512);
            assert_eq!(found.inode, Some(*address), "{path} sector {sector}");
            assert_eq!(found.path.as_deref(), Some(path.as_str()));
            let want = if i == 0 {
                vec![FileState::Allocated]
            } else {
                vec![FileState::Allocated, FileState::Slack]
            };
            assert!(want.contains(&found.state), "{path}: {found:?}");
        }
    }
    // A deleted file's clusters, still free, are its own, deleted.
    let (address, _, _) = oracle
        .iter()
        .find(|e| e.1 == "/deleted-long-name.txt")
        .unwrap();
    let sector = istat_sectors(&image, *address)[0];
    let found = map.locate(sector * 512);
    assert_eq!(
        (found.state, found.path.as_deref()),
        (FileState::Deleted, Some("/deleted-long-name.txt"))
    );
    // The boot sector and FATs are metadata; the root directory is the root's; the end of
    // the volume, past the files, is free.
    assert_eq!(map.locate(0).state, FileState::Metadata);
    let root = map.locate(root_offset(&image));
    assert_eq!(
        (root.state, root.inode, root.path.as_deref()),
        (FileState::Metadata, Some(2), Some("/"))
    );
    let last = map.locate(disk.size() - 1024);
    assert_eq!(last.state, FileState::Unallocated, "{last:?}");
    // Directories are their own metadata, with their path.
    let (efi, _, _, _) = fls(&image)
        .into_iter()
        .find(|e| e.1 == "/EFI/BOOT")
        .unwrap();
    let sector = istat_sectors(&image, efi)[0];
    let found = map.locate(sector * 512);
    assert_eq!(
        (found.state, found.path.as_deref()),
        (FileState::Metadata, Some("/EFI/BOOT"))
    );
}

/// The volume offset of the root directory, from `fsstat`.
fn root_offset(image: &Path) -> u64 {
    let out = run_stdout("fsstat", &[image.to_str().unwrap()]);
    let line = out
        .lines()
        .find(|l| l.contains("Root Directory:") && l.contains('-'))
        .unwrap_or_else(|| panic!("{out}"));
    let first: u64 = line
        .rsplit(':')
        .next()
        .unwrap()
        .split('-')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    first * 512
}

#[test]
fn fat12_matches_the_sleuth_kit() {
    check(12, 2048, 4);
}

#[test]
fn fat16_matches_the_sleuth_kit() {
    check(16, 32 << 10, 4);
}

#[test]
fn fat32_matches_the_sleuth_kit() {
    check(32, 64 << 10, 1);
}

#[test]
fn a_volume_without_fat_is_refused() {
    let disk = MemoryDisk::new(vec![0u8; 1 << 20]);
    assert!(matches!(
        FatMap::build(&disk, 0..1 << 20),
        Err(FsError::NotFat(_))
    ));
    let small = MemoryDisk::new(vec![0u8; 100]);
    assert!(matches!(
        FatMap::build(&small, 0..100),
        Err(FsError::NotFat(_))
    ));
}

/// A FAT16 image's bytes, and the offset of its first FAT.
fn fat16_with_loops(dir: &Path) -> (Vec<u8>, u64) {
    let image = dir.join("loops.img");
    make(dir, &image, 16, 32 << 10, 4);
    (fs::read(&image).unwrap(), 4 * 512)
}

#[test]
fn chains_that_loop_or_cross_and_a_directory_inside_itself_are_cut() {
    let dir = workdir();
    let (bytes, fat) = fat16_with_loops(dir.path());
    let entry = |bytes: &[u8], cluster: u64| {
        let at = (fat + cluster * 2) as usize;
        u16::from_le_bytes([bytes[at], bytes[at + 1]])
    };
    // Point every cluster in use at the first data cluster: every chain loops or crosses.
    let mut looped = bytes.clone();
    let clusters = (bytes.len() as u64 - 100 * 512) / 2048;
    let mut changed = 0;
    for cluster in 2..clusters {
        let value = entry(&bytes, cluster);
        if value != 0 && value < 0xfff7 {
            let at = (fat + cluster * 2) as usize;
            looped[at..at + 2].copy_from_slice(&2u16.to_le_bytes());
            changed += 1;
        }
    }
    assert!(changed > 0);
    let len = looped.len() as u64;
    let disk = MemoryDisk::new(looped);
    let started = Instant::now();
    let map = FatMap::build(&disk, 0..len).unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        map.notes()
            .iter()
            .any(|n| n.contains("loops or cross links")),
        "{:?}",
        map.notes()
    );
    // No cluster is two files' data.
    let mut owners: BTreeMap<u64, u64> = BTreeMap::new();
    for file in map.files() {
        for span in &file.content.spans {
            if let snapsift_fs::Piece::Volume(at) = span.piece {
                for sector in (at..at + span.len).step_by(512) {
                    assert!(owners.insert(sector, file.id).is_none(), "{sector}");
                }
            }
        }
    }
}

#[test]
fn a_directory_that_contains_itself_is_read_once() {
    let dir = workdir();
    let image = dir.path().join("self.img");
    make(dir.path(), &image, 32, 64 << 10, 1);
    let mut bytes = fs::read(&image).unwrap();
    // /EFI/BOOT's entry in /EFI made to point at /EFI's own first cluster.
    let list = fls(&image);
    let efi = list.iter().find(|e| e.1 == "/EFI").unwrap().0;
    let boot = list.iter().find(|e| e.1 == "/EFI/BOOT").unwrap().0;
    let efi_sector = istat_sectors(&image, efi)[0];
    let (reserved, fat_len, fats) = (
        u16::from_le_bytes([bytes[14], bytes[15]]) as u64,
        u32::from_le_bytes([bytes[36], bytes[37], bytes[38], bytes[39]]) as u64,
        bytes[16] as u64,
    );
    let after_fats = (reserved + fat_len * fats) * 512;
    let boot_entry = (after_fats + (boot - 3) * 32) as usize;
    let efi_cluster = (efi_sector * 512 - after_fats) / 512 + 2;
    bytes[boot_entry + 26..boot_entry + 28].copy_from_slice(&(efi_cluster as u16).to_le_bytes());
    bytes[boot_entry + 20..boot_entry + 22].copy_from_slice(&0u16.to_le_bytes());
    let len = bytes.len() as u64;
    let disk = MemoryDisk::new(bytes);
    let started = Instant::now();
    let map = FatMap::build(&disk, 0..len).unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        map.notes()
            .iter()
            .any(|n| n.contains("loops or cross links")),
        "{:?}",
        map.notes()
    );
    let grub: Vec<_> = map
        .files()
        .iter()
        .filter(|f| f.path.as_deref().is_some_and(|p| p.ends_with("grub.cfg")))
        .collect();
    assert!(grub.len() <= 1, "{grub:?}");
}

/// Random damage to the boot sector, FATs and directories: mapped (or refused) without a
/// panic, in bounded time, and never a file whose contents lie outside the volume.
#[test]
fn damaged_fat_images_map_without_panics() {
    let dir = workdir();
    for (bits, size, cluster) in [(12u32, 2048u64, 4u32), (16, 32 << 10, 4), (32, 64 << 10, 1)] {
        let image = dir.path().join(format!("fat{bits}.img"));
        make(dir.path(), &image, bits, size, cluster);
        let bytes = fs::read(&image).unwrap();
        let hot = 0..bytes.len().min(1 << 20);
        let mut rng = Rng::new(0xfa7 + u64::from(bits));
        for round in 0..80 {
            let mut damaged = bytes.clone();
            damage(&mut damaged, &mut rng, hot.clone());
            let len = damaged.len() as u64;
            let disk = MemoryDisk::new(damaged);
            let started = Instant::now();
            let Ok(map) = FatMap::build(&disk, 0..len) else {
                continue;
            };
            assert!(started.elapsed() < Duration::from_secs(5), "round {round}");
            for file in map.files() {
                for span in &file.content.spans {
                    if let snapsift_fs::Piece::Volume(at) = span.piece {
                        assert!(at + span.len <= len, "fat{bits} round {round}");
                    }
                }
            }
            for offset in (0..len).step_by(1 << 14) {
                map.locate(offset);
            }
        }
    }
}
