//! Damaged and hostile ext4 images: real images (`mkfs.ext4 -d`, `debugfs`) with loops,
//! pointers outside the volume, cycles between directories, truncation and random damage.
//! The map must come back (or refuse the volume) quickly, never panic, and say what it cut.

use std::fs;
use std::path::Path;

use snapsift_disk::MemoryDisk;
use snapsift_fs::{Ext4Map, FileState};
use snapsift_testkit::{Rng, debugfs_script, mkfs_from_tree, noise, run, run_stdout, workdir};

use crate::common::{damage, extent_tree_block};

/// A small ext4 image: nested directories, a 200-entry directory, inline files, a file
/// fragmented into more extents than its inode holds, deleted files. Returns its bytes.
fn small_image(dir: &Path, block_size: &str, extra: &[&str]) -> std::path::PathBuf {
    let tree = dir.join("tree");
    for i in 0..200 {
        let path = tree.join(format!("many/f{i:03}"));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, noise(i, if i % 3 == 0 { 30 } else { 1500 })).unwrap();
    }
    fs::create_dir_all(tree.join("a/b/c")).unwrap();
    fs::write(tree.join("a/b/c/secret"), b"AKIAIOSFODNN7EXAMPLE\n").unwrap();
    fs::write(tree.join("a/b/file"), noise(999, 5000)).unwrap();
    let image = dir.join("fs.img");
    let mut options = vec!["-b", block_size];
    options.extend_from_slice(extra);
    mkfs_from_tree("mkfs.ext4", &image, &tree, "8M", &options);
    let mut commands = String::new();
    for i in (1..200).step_by(2) {
        commands.push_str(&format!("rm /many/f{i:03}\n"));
    }
    let host = dir.join("frag.host");
    fs::write(&host, noise(7, 30_000)).unwrap();
    commands.push_str(&format!("write {} frag\n", host.display()));
    debugfs_script(&image, &commands);
    image
}

/// The byte offset of `inode`'s record, from `debugfs imap`.
fn record_offset(image: &Path, inode: &str, block_size: u64) -> usize {
    let out = run_stdout(
        "debugfs",
        &["-R", &format!("imap {inode}"), image.to_str().unwrap()],
    );
    let rest = out.split("located at block ").nth(1).unwrap();
    let (block, offset) = rest.split_once(", offset 0x").unwrap();
    let block: u64 = block.parse().unwrap();
    let offset = u64::from_str_radix(offset.trim(), 16).unwrap();
    (block * block_size + offset) as usize
}

fn build(bytes: Vec<u8>) -> Result<Ext4Map, snapsift_fs::FsError> {
    let len = bytes.len() as u64;
    Ext4Map::build(&MemoryDisk::new(bytes), 0..len)
}

/// Locates every `step`-th byte and checks the answers are consistent.
fn sweep(map: &Ext4Map, len: u64, step: u64) {
    let mut offset = 0;
    while offset < len {
        let loc = map.locate(offset);
        assert!(loc.run.contains(&offset), "{offset}: {loc:?}");
        offset += step;
    }
    let _ = map.locate(u64::MAX);
    let _ = map.locate(len);
}

#[test]
fn an_extent_index_pointing_to_itself_is_cut() {
    let dir = workdir();
    let image = small_image(dir.path(), "4096", &[]);
    let etb = extent_tree_block(&image, "/frag");
    let record = record_offset(&image, "/frag", 4096);
    let mut bytes = fs::read(&image).unwrap();
    // The root (in the inode) becomes depth 2; the tree block, depth 1 with one index entry
    // pointing to itself.
    bytes[record + 0x28 + 6..record + 0x28 + 8].copy_from_slice(&2u16.to_le_bytes());
    let node = etb as usize * 4096;
    bytes[node + 2..node + 4].copy_from_slice(&1u16.to_le_bytes());
    bytes[node + 6..node + 8].copy_from_slice(&1u16.to_le_bytes());
    bytes[node + 12..node + 16].copy_from_slice(&0u32.to_le_bytes());
    bytes[node + 16..node + 20].copy_from_slice(&(etb as u32).to_le_bytes());
    bytes[node + 20..node + 22].copy_from_slice(&0u16.to_le_bytes());
    let len = bytes.len() as u64;
    let map = build(bytes).unwrap();
    assert!(
        map.notes().iter().any(|n| n.contains("met twice")),
        "{:?}",
        map.notes()
    );
    // The tree block is still the file's; its data blocks are in use, owner unknown.
    assert_eq!(map.locate(etb * 4096).path.as_deref(), Some("/frag"));
    sweep(&map, len, 512);
}

#[test]
fn extents_pointing_outside_the_volume_are_ignored_and_noted() {
    let dir = workdir();
    let image = small_image(dir.path(), "1024", &[]);
    let record = record_offset(&image, "/a/b/file", 1024);
    let mut bytes = fs::read(&image).unwrap();
    // The first extent of the root (depth 0) gets a start far past the end.
    let extent = record + 0x28 + 12;
    bytes[extent + 6..extent + 8].copy_from_slice(&0x7fffu16.to_le_bytes());
    let len = bytes.len() as u64;
    let map = build(bytes).unwrap();
    assert!(
        map.notes()
            .iter()
            .any(|n| n.contains("outside the filesystem")),
        "{:?}",
        map.notes()
    );
    sweep(&map, len, 256);
}

#[test]
fn a_directory_cycle_does_not_loop() {
    let dir = workdir();
    let image = small_image(dir.path(), "1024", &[]);
    // /a/b/c/up is a second link to /a: a cycle /a -> /a/b -> /a/b/c -> /a.
    run(
        "debugfs",
        &["-w", "-R", "ln /a /a/b/c/up", image.to_str().unwrap()],
    );
    let (map, len) = {
        let bytes = fs::read(&image).unwrap();
        let len = bytes.len() as u64;
        (build(bytes).unwrap(), len)
    };
    let stat = run_stdout(
        "debugfs",
        &["-R", "stat /a/b/c/secret", image.to_str().unwrap()],
    );
    assert!(stat.contains("Flags: 0x80000"), "{stat}");
    let names = run_stdout("debugfs", &["-R", "ls -l /a/b/c", image.to_str().unwrap()]);
    let inode: u64 = names
        .lines()
        .find(|l| l.trim_end().ends_with("secret"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(map.path_of(inode).as_deref(), Some("/a/b/c/secret"));
    sweep(&map, len, 1024);
}

#[test]
fn a_truncated_image_gives_a_partial_map() {
    let dir = workdir();
    let image = small_image(dir.path(), "1024", &[]);
    let mut bytes = fs::read(&image).unwrap();
    bytes.truncate(bytes.len() / 2 + 777);
    let len = bytes.len() as u64;
    let map = build(bytes).unwrap();
    assert!(
        map.notes()
            .iter()
            .any(|n| n.contains("larger than its volume")),
        "{:?}",
        map.notes()
    );
    sweep(&map, len, 1024);
    // A volume holding only the superblock's first bytes is no filesystem.
    let bytes = fs::read(&image).unwrap()[..1500].to_vec();
    assert!(build(bytes).is_err());
}

#[test]
fn hostile_superblock_geometry_is_refused() {
    let dir = workdir();
    let image = small_image(dir.path(), "1024", &[]);
    let pristine = fs::read(&image).unwrap();
    let patch = |at: usize, value: &[u8]| {
        let mut bytes = pristine.clone();
        bytes[1024 + at..1024 + at + value.len()].copy_from_slice(value);
        bytes
    };
    // Blocks per group 1 and a huge block count: billions of groups whose descriptors could
    // not fit in the volume.
    let mut bytes = patch(0x20, &1u32.to_le_bytes());
    bytes[1024 + 4..1024 + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(build(bytes).is_err());
    // An inode size larger than a block, a zero inodes per group, a block size of 2^40.
    assert!(build(patch(0x58, &4096u16.to_le_bytes())).is_err());
    assert!(build(patch(0x28, &0u32.to_le_bytes())).is_err());
    assert!(build(patch(0x18, &30u32.to_le_bytes())).is_err());
}

#[test]
fn random_damage_never_panics() {
    let dir = workdir();
    let image = small_image(dir.path(), "1024", &["-O", "inline_data"]);
    let pristine = fs::read(&image).unwrap();
    let len = pristine.len() as u64;
    // Where the structures are: the first groups' metadata, inode tables and directories
    // (mkfs puts them in the first MiB of a small image).
    let hot = 1 << 20;
    let mut rng = Rng::new(0x5eed_1234_abcd_0001);
    let started = std::time::Instant::now();
    let mut built = 0;
    for round in 0..250 {
        let mut bytes = pristine.clone();
        damage(&mut bytes, &mut rng, 0..hot);
        if round % 5 == 0 {
            // Sometimes the superblock itself.
            let at = 1024 + rng.below(1024) as usize;
            bytes[at] = rng.next() as u8;
        }
        if let Ok(map) = build(bytes) {
            built += 1;
            sweep(&map, len, 4096);
            for offset in (0..len).step_by(1024) {
                let loc = map.locate(offset);
                if loc.state == FileState::Unallocated {
                    assert!(loc.inode.is_none());
                }
            }
        }
    }
    assert!(
        built > 100,
        "only {built} of 250 damaged images were mapped"
    );
    assert!(
        started.elapsed().as_secs() < 60,
        "{:?} for 250 images",
        started.elapsed()
    );
}
