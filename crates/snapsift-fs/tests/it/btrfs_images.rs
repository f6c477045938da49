//! btrfs images made by the real tools, mapped by [`BtrfsMap`] and checked against
//! `btrfs restore` (which extracts every file of an image without mounting it: each file the
//! map lists must read exactly as restored, at the same path, and none may be missing) and
//! `btrfs inspect-internal dump-tree` (every tree block's owner, every file extent's place).
//!
//! Images are made by `mkfs.btrfs --rootdir` (btrfs-progs 6.2 cannot compress with
//! `--rootdir`) and then a loop mount with `compress-force=zstd|zlib|lzo` for compressed
//! extents (regular and inline), a subvolume and its snapshot, a removed file, a
//! preallocated and a sparse file. Hostile images: truncated, a damaged chunk tree, tree
//! nodes damaged at random with their checksums made right again, huge extent sizes.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use snapsift_disk::{Disk, MemoryDisk};
use snapsift_fs::{BtrfsMap, FileState, Filesystem, FsError, Piece};
use snapsift_testkit::{
    BtrfsMount, Rng, Secrets, btrfs_fix_checksum, mkfs_btrfs, noise, offsets_of, run, run_stdout,
    workdir,
};

use crate::common::damage;

/// The map is built once and shared by scanning threads.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<BtrfsMap>();
};

/// An image and what was planted in it.
struct Fixture {
    _dir: tempfile::TempDir,
    image: PathBuf,
    restored: PathBuf,
    /// Secrets by the path of the file holding them.
    secrets: BTreeMap<&'static str, String>,
}

/// Text that compresses well around `secret`: `lines` lines of log.
fn text(secret: &str, lines: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..lines {
        out.extend_from_slice(format!("{i:06} INFO service started, all is well\n").as_bytes());
        if i == lines / 2 {
            out.extend_from_slice(format!("token={secret}\n").as_bytes());
        }
    }
    out
}

/// Makes the image: plain files by `mkfs.btrfs --rootdir`, then through a mount compressing
/// with `codec` the rest. `None` where this machine cannot mount it (outside CI).
fn fixture(codec: &str, seed: u64) -> Option<Fixture> {
    let dir = workdir();
    let tree = dir.path().join("tree");
    let mut s = Secrets::new(seed);
    let mut secrets = BTreeMap::new();
    let mut put = |root: &Path, path: &'static str, bytes: Vec<u8>, secret: String| {
        let at = root.join(path.trim_start_matches('/'));
        fs::create_dir_all(at.parent().unwrap()).unwrap();
        fs::write(at, bytes).unwrap();
        secrets.insert(path, secret);
    };
    let plain = s.aws_key_id();
    put(
        &tree,
        "/etc/app/plain.conf",
        format!("key={plain}\n").into_bytes(),
        plain,
    );
    let big = s.postgres_uri();
    let mut bytes = noise(seed, 300_000);
    bytes.extend_from_slice(big.as_bytes());
    bytes.extend(noise(seed + 1, 5000));
    put(&tree, "/var/lib/big.bin", bytes, big);
    let deep = s.alnum(40);
    put(&tree, "/a/b/c/d/deep.txt", text(&deep, 100), deep);
    let image = dir.path().join("btrfs.img");
    mkfs_btrfs(&image, 160 << 20, Some(&tree));
    let mount = BtrfsMount::new(
        &image,
        &dir.path().join("mnt"),
        &format!("compress-force={codec},max_inline=2048"),
    )?;
    let m = mount.dir.clone();
    let cred = s.aws_key_id();
    put(&m, "/home/u/.aws/credentials", text(&cred, 6000), cred);
    let small = s.alnum(32);
    put(&m, "/etc/small.env", text(&small, 30), small);
    let random = s.jdbc_mysql_uri();
    let mut bytes = noise(seed + 2, 70_000);
    bytes.extend_from_slice(random.as_bytes());
    put(&m, "/rand.bin", bytes, random);
    run(
        "btrfs",
        &["-q", "subvolume", "create", m.join("vol").to_str().unwrap()],
    );
    let token = s.alnum(48);
    put(&m, "/vol/nested/token.txt", text(&token, 3000), token);
    run(
        "btrfs",
        &[
            "-q",
            "subvolume",
            "snapshot",
            m.join("vol").to_str().unwrap(),
            m.join("vol-snap").to_str().unwrap(),
        ],
    );
    let gone = s.alnum(36);
    fs::write(m.join("gone.txt"), format!("removed={gone}\n").repeat(1)).unwrap();
    run("sync", &[]);
    fs::remove_file(m.join("gone.txt")).unwrap();
    run(
        "fallocate",
        &["-l", "1M", m.join("prealloc.bin").to_str().unwrap()],
    );
    let sparse = s.alnum(30);
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = fs::File::create(m.join("sparse.bin")).unwrap();
        f.seek(SeekFrom::Start(1 << 20)).unwrap();
        f.write_all(sparse.as_bytes()).unwrap();
    }
    secrets.insert("/sparse.bin", sparse);
    secrets.insert("(removed)", gone);
    mount.finish();
    let restored = dir.path().join("restored");
    fs::create_dir_all(&restored).unwrap();
    run(
        "btrfs",
        &[
            "restore",
            "-s",
            image.to_str().unwrap(),
            restored.to_str().unwrap(),
        ],
    );
    Some(Fixture {
        _dir: dir,
        image,
        restored,
        secrets,
    })
}

/// The map of `image` (a whole btrfs volume).
fn map(image: &Path) -> (Box<dyn Disk>, BtrfsMap) {
    let disk = snapsift_disk::open(image).unwrap();
    let map = BtrfsMap::build(&*disk, 0..disk.size()).unwrap();
    (disk, map)
}

/// Every file under `root`, by its path from `root`.
fn restored_files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_str().unwrap();
                out.insert(format!("/{rel}"), fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// Every file the map lists, read through its contents, by path.
fn listed_files(disk: &dyn Disk, map: &BtrfsMap) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for file in map.files() {
        let mut bytes = Vec::new();
        file.content
            .reader(disk, 0)
            .read_to_end(&mut bytes)
            .unwrap();
        let path = file
            .path
            .unwrap_or_else(|| panic!("inode {} has no path", file.id));
        assert!(out.insert(path.clone(), bytes).is_none(), "{path} twice");
    }
    out
}

/// Every file, its path and contents, as `btrfs restore` extracts them; compressed extents
/// (regular and inline) among them; the planted secrets in the files that hold them.
fn files_match_restore(codec: &str, seed: u64) {
    let Some(fx) = fixture(codec, seed) else {
        return;
    };
    let (disk, map) = map(&fx.image);
    assert!(map.notes().is_empty(), "{:?}", map.notes());
    let listed = listed_files(&*disk, &map);
    let restored = restored_files(&fx.restored);
    assert_eq!(
        listed.keys().collect::<Vec<_>>(),
        restored.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in &restored {
        assert!(
            listed[path] == *bytes,
            "{path} reads otherwise than restored"
        );
    }
    for (path, secret) in &fx.secrets {
        if let Some(bytes) = listed.get(*path) {
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(found, "{path} holds its secret");
        }
    }
    // The snapshot lists the subvolume's file again, under its own path.
    assert!(listed.contains_key("/vol-snap/nested/token.txt"));
    let pieces: Vec<Piece> = map
        .files()
        .into_iter()
        .flat_map(|f| f.content.spans.into_iter().map(|s| s.piece))
        .collect();
    let compressed = pieces
        .iter()
        .filter(|p| matches!(p, Piece::Compressed { .. }))
        .count();
    assert!(compressed > 0, "{codec}: no compressed extent");
    let held = |at_none: bool| {
        pieces
            .iter()
            .any(|p| matches!(p, Piece::Held { at, .. } if at.is_none() == at_none))
    };
    assert!(held(false), "an inline extent read in place");
    assert!(held(true), "{codec}: a compressed inline extent decoded");
    assert!(
        pieces.contains(&Piece::Zeros),
        "the preallocated file reads as zeros"
    );
}

#[test]
fn zstd_files_match_btrfs_restore() {
    files_match_restore("zstd", 1);
}

#[test]
fn zlib_files_match_btrfs_restore() {
    files_match_restore("zlib", 2);
}

#[test]
fn lzo_files_match_btrfs_restore() {
    files_match_restore("lzo", 3);
}

/// The chunks `dump-tree -t chunk` lists: (logical, length, physical offset of each stripe).
fn dumped_chunks(image: &Path) -> Vec<(u64, u64, Vec<u64>)> {
    let out = run_stdout(
        "btrfs",
        &[
            "inspect-internal",
            "dump-tree",
            "-t",
            "chunk",
            image.to_str().unwrap(),
        ],
    );
    let mut chunks: Vec<(u64, u64, Vec<u64>)> = Vec::new();
    for line in out.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        if line.contains("CHUNK_ITEM") {
            let logical = words[5].trim_end_matches(')').parse().unwrap();
            chunks.push((logical, 0, Vec::new()));
        } else if words.first() == Some(&"length") {
            chunks.last_mut().unwrap().1 = words[1].parse().unwrap();
        } else if words.first() == Some(&"stripe") {
            chunks.last_mut().unwrap().2.push(words[5].parse().unwrap());
        }
    }
    chunks
}

/// Every copy of logical address `logical`, by `chunks`.
fn physical(chunks: &[(u64, u64, Vec<u64>)], logical: u64) -> Vec<u64> {
    let (start, _, stripes) = chunks
        .iter()
        .find(|(start, len, _)| (*start..start + len).contains(&logical))
        .unwrap_or_else(|| panic!("no chunk maps {logical}"));
    stripes.iter().map(|s| s + logical - start).collect()
}

/// The tree object ID `dump-tree` names `owner`.
fn tree_id(owner: &str) -> u64 {
    match owner {
        "ROOT_TREE" => 1,
        "EXTENT_TREE" => 2,
        "CHUNK_TREE" => 3,
        "DEV_TREE" => 4,
        "FS_TREE" => 5,
        "CSUM_TREE" => 7,
        "UUID_TREE" => 9,
        "FREE_SPACE_TREE" => 10,
        "DATA_RELOC_TREE" => u64::MAX - 8,
        n => n.parse().unwrap_or_else(|_| panic!("tree {n}")),
    }
}

/// Every tree block `dump-tree` prints, as (logical address, owner tree).
fn dumped_blocks(image: &Path) -> Vec<(u64, u64)> {
    let out = run_stdout(
        "btrfs",
        &["inspect-internal", "dump-tree", image.to_str().unwrap()],
    );
    out.lines()
        .filter(|l| (l.starts_with("leaf ") || l.starts_with("node ")) && l.contains(" owner "))
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            (words[1].parse().unwrap(), tree_id(words.last().unwrap()))
        })
        .collect()
}

/// Byte-sweep hits in files' uncompressed extents and inline data are attributed to the
/// file's path and inode; every copy of every tree block to its owner tree, as `dump-tree`
/// says; a removed file's bytes to no file; the superblock is metadata.
#[test]
fn sweep_hits_and_tree_blocks_are_attributed() {
    let Some(fx) = fixture("zstd", 4) else {
        return;
    };
    let (_disk, map) = map(&fx.image);
    for path in ["/etc/app/plain.conf", "/var/lib/big.bin", "/rand.bin"] {
        let hits = offsets_of(&fx.image, fx.secrets[path].as_bytes());
        let mut attributed = 0;
        for &hit in &hits {
            let at = map.locate(hit);
            if at.path.is_none() {
                // An old copy of a leaf, freed when the mount rewrote it.
                assert_eq!(at.state, FileState::Unallocated, "hit at {hit}");
                continue;
            }
            assert_eq!(
                (at.state, at.path.as_deref()),
                (FileState::Allocated, Some(path)),
                "hit at {hit}"
            );
            assert!(at.inode.is_some_and(|ino| ino >= 256));
            attributed += 1;
        }
        // Inline data is in a leaf of the DUP metadata: both copies.
        let copies = if path.ends_with(".conf") { 2 } else { 1 };
        assert_eq!(attributed, copies, "{path}: {hits:?}");
    }
    for hit in offsets_of(&fx.image, fx.secrets["(removed)"].as_bytes()) {
        assert_eq!(
            map.locate(hit).path,
            None,
            "a removed file's bytes at {hit}"
        );
    }
    let chunks = dumped_chunks(&fx.image);
    let blocks = dumped_blocks(&fx.image);
    assert!(blocks.len() >= 10, "{blocks:?}");
    for (logical, owner) in blocks {
        for at in physical(&chunks, logical) {
            assert_eq!(
                map.tree_at(at + 100),
                Some(owner),
                "tree block {logical} at {at}"
            );
            assert_eq!(map.locate(at).state, FileState::Metadata);
        }
    }
    assert_eq!(map.locate(0x10000).state, FileState::Metadata);
    assert_eq!(map.locate(0).state, FileState::Unallocated);
    let len = fs::metadata(&fx.image).unwrap().len();
    assert_eq!(map.locate(len + 5).state, FileState::Unallocated);
}

/// Truncated images, a chunk tree whose every copy is damaged, and one of whose two copies
/// is: a clear error, or a map from the copy left.
#[test]
fn truncated_images_and_a_damaged_chunk_tree() {
    let Some(fx) = fixture("lzo", 5) else {
        return;
    };
    let bytes = fs::read(&fx.image).unwrap();
    let build = |bytes: Vec<u8>| {
        let len = bytes.len() as u64;
        BtrfsMap::build(&MemoryDisk::new(bytes), 0..len)
    };
    let err = build(bytes[..0x10000 + 100].to_vec()).unwrap_err();
    assert!(matches!(err, FsError::NotBtrfs(_)), "{err}");
    let err = build(bytes[..0x20000].to_vec()).unwrap_err();
    assert!(matches!(err, FsError::Corrupt(_)), "{err}");
    let cut = build(bytes[..bytes.len() / 4].to_vec()).unwrap();
    assert!(
        !cut.notes().is_empty(),
        "a quarter of the volume maps with notes"
    );
    let chunks = dumped_chunks(&fx.image);
    let (chunk_root, _) = dumped_blocks(&fx.image)
        .into_iter()
        .find(|&(_, owner)| owner == 3)
        .unwrap();
    let copies = physical(&chunks, chunk_root);
    assert_eq!(copies.len(), 2, "the system chunk is DUP");
    let mut one = bytes.clone();
    one[copies[0] as usize + 0x70] ^= 0xff;
    let map = build(one).unwrap();
    assert!(
        map.notes().is_empty(),
        "the second copy is read: {:?}",
        map.notes()
    );
    let mut both = bytes.clone();
    for &at in &copies {
        both[at as usize + 0x70] ^= 0xff;
    }
    let err = build(both).unwrap_err();
    assert!(err.to_string().contains("chunk tree"), "{err}");
}

/// Tree nodes damaged at random, their checksums made right again (what a hostile image
/// holds): every build ends quickly with a map or an error, every listed file reads to its
/// end or fails with an error, and no offset panics.
#[test]
fn randomly_damaged_trees_never_panic_or_hang() {
    let Some(fx) = fixture("zlib", 6) else {
        return;
    };
    let bytes = fs::read(&fx.image).unwrap();
    let chunks = dumped_chunks(&fx.image);
    let nodes: Vec<u64> = dumped_blocks(&fx.image)
        .into_iter()
        .flat_map(|(logical, _)| physical(&chunks, logical))
        .collect();
    let mut rng = Rng::new(7);
    let started = Instant::now();
    for round in 0..60 {
        let mut damaged = bytes.clone();
        for _ in 0..1 + rng.below(3) {
            let at = nodes[rng.below(nodes.len() as u64) as usize] as usize;
            let node = &mut damaged[at..at + 16384];
            damage(node, &mut rng, 0x30..16384);
            btrfs_fix_checksum(node);
        }
        let len = damaged.len() as u64;
        let disk = MemoryDisk::new(damaged);
        let round_start = Instant::now();
        if let Ok(map) = BtrfsMap::build(&disk, 0..len) {
            for file in map.files() {
                // A damaged size may claim exabytes of holes: read 16 MiB at most.
                let mut sink = Vec::new();
                let reader = file.content.reader(&disk, 0);
                let read = reader.take(16 << 20).read_to_end(&mut sink);
                let want = file.content.size.min(16 << 20);
                assert!(read.is_err() || sink.len() as u64 == want);
            }
            for offset in (0..len).step_by(1 << 16) {
                let _ = map.locate(offset);
            }
        }
        assert!(
            round_start.elapsed() < Duration::from_secs(20),
            "round {round} took {:?}",
            round_start.elapsed()
        );
    }
    eprintln!("60 damaged images in {:?}", started.elapsed());
}

/// One device of a two-device filesystem (`mkfs.btrfs -d raid0 -m raid1` on two files): the
/// other device is noted, the mirrored metadata is mapped from this device's copy, and the
/// striped data chunk's bytes here (its device extent, per `dump-tree -t dev`) are in use by
/// nothing the map can tell, noted as swept raw.
#[test]
fn a_device_of_a_striped_filesystem_is_noted() {
    let dir = workdir();
    let (one, two) = (dir.path().join("one.img"), dir.path().join("two.img"));
    for image in [&one, &two] {
        snapsift_testkit::sparse_file(image, 200 << 20);
    }
    run(
        "mkfs.btrfs",
        &[
            "-q",
            "-f",
            "-d",
            "raid0",
            "-m",
            "raid1",
            one.to_str().unwrap(),
            two.to_str().unwrap(),
        ],
    );
    let (_disk, map) = map(&one);
    let notes = map.notes().join("\n");
    assert!(notes.contains("spans 2 devices"), "{notes}");
    assert!(notes.contains("stripe data across devices"), "{notes}");
    assert!(dumped_blocks(&one).iter().any(|&(logical, owner)| {
        physical(&dumped_chunks(&one), logical)
            .iter()
            .any(|&at| map.tree_at(at) == Some(owner))
    }));
    let dev = run_stdout(
        "btrfs",
        &[
            "inspect-internal",
            "dump-tree",
            "-t",
            "dev",
            one.to_str().unwrap(),
        ],
    );
    let mut striped = 0;
    let lines: Vec<&str> = dev.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        // `key (1 DEV_EXTENT PHYSICAL)`, then `chunk_tree ... chunk_offset LOGICAL length N`.
        if line.contains("(1 DEV_EXTENT") {
            let physical: u64 = line
                .split_whitespace()
                .nth(5)
                .unwrap()
                .trim_end_matches(')')
                .parse()
                .unwrap();
            let next = lines[i + 1..]
                .iter()
                .find(|l| l.contains("length"))
                .unwrap();
            let length: u64 = next.split_whitespace().last().unwrap().parse().unwrap();
            if length == 64 << 20 {
                // Half of the 128 MiB RAID0 data chunk.
                striped += 1;
                let at = map.locate(physical + length / 2);
                assert_eq!((at.state, at.path), (FileState::Allocated, None));
            }
        }
    }
    assert_eq!(striped, 1, "{dev}");
}
