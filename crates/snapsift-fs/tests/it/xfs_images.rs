//! XFS images made by the real tools, mapped by [`XfsMap`] and checked against `xfs_db -r`,
//! which reads an image file without mounting it: `blockget -n` then `blockuse -n` for what
//! every block of every AG is and which inode (and path) owns it, `ncheck` for every inode's
//! path, `bmap` for a file's extents, `print` for the superblock and a fork's B+tree root.
//!
//! Images are made by `mkfs.xfs -p` with a protofile (no mount: directories of every form,
//! small files, symlinks; v5 and v4), and by `mkfs.xfs` then a loop mount for what only the
//! kernel writes: a file punched into 200 extents (an extent B+tree), a sparse file,
//! unwritten extents, reflinked files, a removed file whose directory block keeps its name.
//! Every regular file's contents, read through the map, are compared with the bytes written.

use snapsift_testkit::{Rng, noise, run, run_stdout, workdir};

use crate::common::damage;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use snapsift_disk::{Disk, MemoryDisk};
use snapsift_fs::{FileState, Filesystem, FsError, XfsMap};

/// The map is built once and shared by scanning threads.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<XfsMap>();
};

/// Runs `xfs_db -r` with `commands` on `image`; its standard output.
fn xfs_db(image: &Path, commands: &[&str]) -> String {
    let mut args = vec!["-r"];
    for command in commands {
        args.extend(["-c", command]);
    }
    args.push(image.to_str().unwrap());
    run_stdout("xfs_db", &args)
}

/// The geometry `xfs_db` prints: (block size, blocks per AG, AGs, AG block bits).
fn geometry(image: &Path) -> (u64, u64, u64, u32) {
    let out = xfs_db(
        image,
        &["sb 0", "print blocksize agblocks agcount agblklog"],
    );
    let value = |name: &str| -> u64 {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} = ")))
            .unwrap_or_else(|| panic!("{name} in {out}"))
            .trim()
            .parse()
            .unwrap()
    };
    (
        value("blocksize"),
        value("agblocks"),
        value("agcount"),
        value("agblklog") as u32,
    )
}

/// One block as `blockuse -n` says it: its type, and its inode and path if it has an owner.
#[derive(Debug)]
struct Use {
    kind: String,
    inode: Option<u64>,
    path: Option<String>,
}

/// What every block of the filesystem is, by linear block number.
fn blockuse(image: &Path) -> Vec<Use> {
    let (_, ag_blocks, ag_count, ag_log) = geometry(image);
    let mut commands = vec!["blockget -n".to_string()];
    for ag in 0..ag_count {
        commands.push(format!("fsblock {}", ag << ag_log));
        commands.push(format!("blockuse -n -c {ag_blocks}"));
    }
    let refs: Vec<&str> = commands.iter().map(String::as_str).collect();
    let out = xfs_db(image, &refs);
    let mut uses = Vec::new();
    for line in out.lines().filter(|l| l.starts_with("block ")) {
        // block 24 (0/24) type data inode 131 sparse
        let words: Vec<&str> = line.split_whitespace().collect();
        let (ag, agbno) = words[2]
            .trim_matches(|c| c == '(' || c == ')')
            .split_once('/')
            .unwrap();
        let linear = ag.parse::<u64>().unwrap() * ag_blocks + agbno.parse::<u64>().unwrap();
        assert_eq!(linear as usize, uses.len(), "{line}");
        let inode = (words.get(5) == Some(&"inode")).then(|| words[6].parse().unwrap());
        let path = words.get(7).map(|p| format!("/{p}"));
        uses.push(Use {
            kind: words[4].to_string(),
            inode,
            path,
        });
    }
    uses
}

/// Every inode's path, as `ncheck` gives them (one per inode: no hard links here).
fn ncheck(image: &Path) -> BTreeMap<u64, String> {
    xfs_db(image, &["blockget -n", "ncheck"])
        .lines()
        .filter_map(|l| {
            let (ino, path) = l.trim().split_once(' ')?;
            let path = path.trim().trim_end_matches("/.");
            Some((ino.parse().ok()?, format!("/{path}")))
        })
        .collect()
}

/// The extents of the file at `path` as `bmap` gives them: (file block, linear block,
/// blocks, unwritten).
fn bmap(image: &Path, path: &str) -> Vec<(u64, u64, u64, bool)> {
    let (_, ag_blocks, _, _) = geometry(image);
    xfs_db(image, &[&format!("path {path}"), "bmap"])
        .lines()
        .filter_map(|l| {
            // data offset 0 startblock 24 (0/24) count 199 flag 0
            let w: Vec<&str> = l.split_whitespace().collect();
            let (ag, agbno) = w
                .get(5)?
                .trim_matches(|c| c == '(' || c == ')')
                .split_once('/')?;
            let linear = ag.parse::<u64>().ok()? * ag_blocks + agbno.parse::<u64>().ok()?;
            Some((w[2].parse().ok()?, linear, w[7].parse().ok()?, w[9] == "1"))
        })
        .collect()
}

/// The inode number of `path`, as `xfs_db` finds it.
fn inode_of(image: &Path, path: &str) -> u64 {
    let out = xfs_db(image, &[&format!("path {path}"), "inode"]);
    out.split_whitespace()
        .filter_map(|w| w.parse().ok())
        .next()
        .unwrap_or_else(|| {
            let out = xfs_db(
                image,
                &[&format!("path {path}"), "print core.ino v3.inumber"],
            );
            out.lines()
                .find_map(|l| l.split(" = ").nth(1)?.trim().parse().ok())
                .unwrap_or_else(|| panic!("no inode for {path}: {out}"))
        })
}

fn map_of(image: &Path) -> (Box<dyn Disk>, XfsMap) {
    let disk = snapsift_disk::open(image).unwrap();
    let map = XfsMap::build(&*disk, 0..disk.size()).unwrap();
    (disk, map)
}

/// Compares every block's attribution with `blockuse`; `shared` lists the owners of
/// reflinked blocks (any of them may be named). Returns the blocks checked, by oracle type.
fn compare_blocks(image: &Path, map: &XfsMap, shared: &[u64]) -> BTreeMap<String, u64> {
    let (block_size, ..) = geometry(image);
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    for (block, used) in (0u64..).zip(blockuse(image)) {
        let found = map.locate(block * block_size);
        let what = format!("block {block}: {used:?} is {found:?}");
        let owned = found.inode == used.inode;
        let ok = match used.kind.as_str() {
            "free1" | "free2" => found.state == FileState::Unallocated,
            "log" => found.state == FileState::Journal,
            "sb" | "btbno" | "btcnt" | "btino" | "btfino" | "btrmap" | "btrefcnt" | "freelist" => {
                found.state == FileState::Metadata && found.inode.is_none()
            }
            // The inode the byte's record is in.
            "inode" => found.state == FileState::Metadata,
            "dir" | "attr" | "btbmapd" | "btbmapa" => {
                found.state == FileState::Metadata && owned && found.path == used.path
            }
            // xfs_db counts an extent B+tree block of a file as its data.
            "data" | "symlink" => {
                matches!(
                    found.state,
                    FileState::Allocated | FileState::Slack | FileState::Metadata
                ) && owned
                    && found.path == used.path
            }
            "rldata" => {
                matches!(found.state, FileState::Allocated | FileState::Slack)
                    && found.inode.is_some_and(|i| shared.contains(&i))
            }
            other => panic!("a block type the test does not know: {other} ({what})"),
        };
        assert!(ok, "{what}");
        assert!(found.run.contains(&(block * block_size)), "{what}");
        *seen.entry(used.kind).or_default() += 1;
    }
    seen
}

/// Checks that every inode `ncheck` names has that path in the map.
fn compare_paths(image: &Path, map: &XfsMap) -> usize {
    let paths = ncheck(image);
    for (ino, path) in &paths {
        assert_eq!(
            map.path_of(*ino).as_deref(),
            Some(path.as_str()),
            "inode {ino}"
        );
    }
    paths.len()
}

/// Checks that the map lists exactly the regular files of `expected` (path to contents),
/// each with its contents.
fn compare_files(disk: &dyn Disk, map: &XfsMap, expected: &HashMap<String, Vec<u8>>) {
    let mut listed = HashMap::new();
    for file in map.files() {
        assert_eq!(file.state, FileState::Allocated);
        let path = file.path.clone().expect("every file listed has a path");
        let mut bytes = vec![0u8; file.content.size as usize];
        let n = file.content.read_at(disk, 0, 0, &mut bytes).unwrap();
        assert_eq!(n, bytes.len());
        let want = expected
            .get(&path)
            .unwrap_or_else(|| panic!("{path} is listed but was not written"));
        assert!(bytes == *want, "{path}: the contents differ");
        assert_eq!(map.path_of(file.id).as_deref(), Some(path.as_str()));
        listed.insert(path, file.id);
    }
    let missing: Vec<&String> = expected
        .keys()
        .filter(|p| !listed.contains_key(*p))
        .collect();
    assert!(missing.is_empty(), "not listed: {missing:?}");
}

/// Writes `bytes` at `path` under `root`.
fn write(root: &Path, path: &str, bytes: &[u8]) {
    let path = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

/// The directories of every form, with `(path, contents)` of their files: short form (3
/// entries), block (20 longer names), leaf (300), node (3000 entries; its extents outgrow the inode, so
/// its fork is an extent B+tree).
fn directory_forms() -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for (dir, count, stem) in [
        ("short", 3, "f"),
        ("block", 20, "a-file-in-a-block-directory-"),
        ("leaf", 300, "entry-number-"),
        ("node", 3000, "a-longer-entry-name-for-a-node-directory-"),
    ] {
        for i in 0..count {
            let bytes = format!("{dir} {i}\n").into_bytes();
            files.push((format!("/d/{dir}/{stem}{i}"), bytes));
        }
    }
    files
}

/// Makes a 320 MiB XFS image at `image` with `mkfs.xfs -p`: the files of `files` (paths
/// from the root) from a tree written under `tree`, and two symlinks; `extra` options
/// for `mkfs.xfs`.
fn mkfs_proto(image: &Path, tree: &Path, files: &[(String, Vec<u8>)], extra: &[&str]) {
    // The protofile: each directory's entries, then `$`.
    #[derive(Default)]
    struct Dir {
        files: Vec<(String, PathBuf)>,
        dirs: BTreeMap<String, Dir>,
    }
    let mut root = Dir::default();
    for (path, bytes) in files {
        write(tree, path, bytes);
        let mut parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let name = parts.pop().unwrap();
        let mut dir = &mut root;
        for part in parts {
            dir = dir.dirs.entry(part.to_string()).or_default();
        }
        let host = tree.join(path.trim_start_matches('/'));
        dir.files.push((name.to_string(), host));
    }
    fn emit(dir: &Dir, out: &mut String) {
        for (name, host) in &dir.files {
            out.push_str(&format!("{name} ---644 0 0 {}\n", host.display()));
        }
        for (name, sub) in &dir.dirs {
            out.push_str(&format!("{name} d--755 0 0\n"));
            emit(sub, out);
            out.push_str("$\n");
        }
    }
    let mut proto = String::from("boot\n0 0\nd--755 0 0\n");
    proto.push_str("link l--777 0 0 a-short-target\n");
    proto.push_str(&format!("longlink l--777 0 0 {}\n", "t".repeat(900)));
    emit(&root, &mut proto);
    proto.push_str("$\n");
    let proto_path = tree.with_extension("proto");
    fs::write(&proto_path, proto).unwrap();
    fs::File::create(image).unwrap().set_len(320 << 20).unwrap();
    let mut args = vec!["-q", "-f"];
    args.extend(extra);
    args.extend(["-p", proto_path.to_str().unwrap(), image.to_str().unwrap()]);
    run("mkfs.xfs", &args);
}

/// Checks a protofile image: every block, every path, every file.
fn check_proto_image(extra: &[&str]) -> BTreeMap<String, u64> {
    let dir = workdir();
    let image = dir.path().join("xfs.img");
    let mut files = directory_forms();
    files.push(("/small".into(), b"a small file\n".to_vec()));
    files.push(("/empty".into(), Vec::new()));
    files.push(("/big/noise".into(), noise(7, 3 << 20)));
    files.push(("/big/odd-size".into(), noise(8, 12_345)));
    mkfs_proto(&image, &dir.path().join("tree"), &files, extra);
    let (disk, map) = map_of(&image);
    assert!(map.notes().is_empty(), "{:?}", map.notes());
    let seen = compare_blocks(&image, &map, &[]);
    let named = compare_paths(&image, &map);
    assert!(named > 3300, "{named} paths");
    let expected: HashMap<String, Vec<u8>> = files.into_iter().collect();
    compare_files(&*disk, &map, &expected);
    // Directory forms as xfs_db reads them: short form in the inode, then more blocks.
    let format = |path: &str| xfs_db(&image, &[&format!("path {path}"), "print core.format"]);
    assert!(format("/d/short").contains("local"));
    assert!(format("/d/block").contains("extents"));
    assert!(
        bmap(&image, "/d/leaf")
            .iter()
            .any(|e| e.0 >= (32 << 30) / 4096)
    );
    assert!(format("/d/node").contains("btree"), "{}", format("/d/node"));
    // A hit in a symlink's block, or in a file's slack.
    let long = bmap(&image, "/longlink");
    let at = long[0].1 * 4096;
    assert_eq!(map.locate(at).path.as_deref(), Some("/longlink"));
    let odd = bmap(&image, "/big/odd-size");
    let slack = map.locate(odd[0].1 * 4096 + 12_345);
    assert_eq!(
        (slack.state, slack.path.as_deref()),
        (FileState::Slack, Some("/big/odd-size"))
    );
    seen
}

#[test]
fn xfs_v5_protofile_with_every_directory_form() {
    let seen = check_proto_image(&[]);
    for kind in [
        "dir", "data", "inode", "log", "free2", "btino", "btfino", "btrefcnt",
    ] {
        assert!(seen.contains_key(kind), "no {kind} block checked: {seen:?}");
    }
}

#[test]
fn xfs_v4_protofile() {
    let seen = check_proto_image(&["-m", "crc=0"]);
    assert!(
        seen.contains_key("dir") && !seen.contains_key("btfino"),
        "{seen:?}"
    );
}

/// An image mounted through a loop device, unmounted on drop. `None` (outside CI only)
/// where this machine cannot mount one.
struct Mounted {
    dir: PathBuf,
}

impl Mounted {
    fn new(image: &Path, at: &Path) -> Option<Mounted> {
        fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-o", "loop"])
            .arg(image)
            .arg(at)
            .output()
            .expect("mount runs");
        if out.status.success() {
            return Some(Mounted { dir: at.into() });
        }
        let why = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !std::env::var("CI").is_ok_and(|ci| ci == "true"),
            "XFS tests that need a loop mount cannot run under CI=true: {why}"
        );
        eprintln!("skipped: cannot mount an XFS image here: {why}");
        None
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

/// Runs `program args` in `dir`.
fn run_in(dir: &Path, program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn xfs_extent_btrees_holes_unwritten_reflinks_and_removed_names() {
    let dir = workdir();
    let image = dir.path().join("xfs.img");
    fs::File::create(&image)
        .unwrap()
        .set_len(320 << 20)
        .unwrap();
    run(
        "mkfs.xfs",
        &[
            "-q",
            "-f",
            "-m",
            "rmapbt=1,reflink=1",
            image.to_str().unwrap(),
        ],
    );
    let mut expected: HashMap<String, Vec<u8>> = HashMap::new();
    let removed_ino;
    {
        let Some(mounted) = Mounted::new(&image, &dir.path().join("mnt")) else {
            return;
        };
        let root = mounted.dir.clone();
        for (path, bytes) in directory_forms().into_iter().take(323) {
            write(&root, &path, &bytes);
            expected.insert(path, bytes);
        }
        // 200 extents: every other block punched out of a 400-block file.
        let mut frag = noise(1, 400 * 4096);
        write(&root, "/frag", &frag);
        for i in (0..400).step_by(2) {
            let at = (i * 4096).to_string();
            run_in(&root, "fallocate", &["-p", "-o", &at, "-l", "4096", "frag"]);
            frag[i * 4096..(i + 1) * 4096].fill(0);
        }
        expected.insert("/frag".into(), frag);
        // A sparse file, and one preallocated whose middle alone is written.
        let mut sparse = vec![0u8; 10 << 20];
        sparse[5_000_000..5_000_013].copy_from_slice(b"SPARSE-SECRET");
        run_in(&root, "truncate", &["-s", "10M", "sparse"]);
        let file = fs::OpenOptions::new()
            .write(true)
            .open(root.join("sparse"))
            .unwrap();
        std::os::unix::fs::FileExt::write_at(&file, b"SPARSE-SECRET", 5_000_000).unwrap();
        expected.insert("/sparse".into(), sparse);
        run_in(&root, "fallocate", &["-l", "1M", "unwritten"]);
        let file = fs::OpenOptions::new()
            .write(true)
            .open(root.join("unwritten"))
            .unwrap();
        std::os::unix::fs::FileExt::write_at(&file, b"UNWRITTEN-MID", 500_000).unwrap();
        let mut unwritten = vec![0u8; 1 << 20];
        unwritten[500_000..500_013].copy_from_slice(b"UNWRITTEN-MID");
        expected.insert("/unwritten".into(), unwritten);
        // Reflinked files share their blocks.
        let shared = noise(2, 100_000);
        write(&root, "/ra", &shared);
        run_in(&root, "cp", &["--reflink=always", "ra", "rb"]);
        expected.insert("/ra".into(), shared.clone());
        expected.insert("/rb".into(), shared);
        // A removed file: its name stays in its directory's block.
        write(&root, "/d/block/removed-file", b"gone\n");
        run("sync", &[]);
        removed_ino = fs::metadata(root.join("d/block/removed-file"))
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .unwrap();
        fs::remove_file(root.join("d/block/removed-file")).unwrap();
    }
    let (disk, map) = map_of(&image);
    assert!(map.notes().is_empty(), "{:?}", map.notes());
    let shared = [inode_of(&image, "/ra"), inode_of(&image, "/rb")];
    let seen = compare_blocks(&image, &map, &shared);
    for kind in ["btrmap", "rldata", "freelist"] {
        assert!(seen.contains_key(kind), "no {kind} block checked: {seen:?}");
    }
    compare_paths(&image, &map);
    compare_files(&*disk, &map, &expected);

    // The fragmented file's extents are those bmap gives, under a B+tree block of its own.
    let frag_ino = inode_of(&image, "/frag");
    let extents = bmap(&image, "/frag");
    assert_eq!(extents.len(), 200);
    let file = map.files().into_iter().find(|f| f.id == frag_ino).unwrap();
    let volume: Vec<(u64, u64, u64)> = file
        .content
        .spans
        .iter()
        .filter_map(|s| match s.piece {
            snapsift_fs::Piece::Volume(at) => Some((s.start / 4096, at / 4096, s.len / 4096)),
            _ => None,
        })
        .collect();
    let oracle: Vec<(u64, u64, u64)> = extents.iter().map(|e| (e.0, e.1, e.2)).collect();
    assert_eq!(volume, oracle);
    let root = xfs_db(&image, &["path /frag", "print u3.bmbt.ptrs"]);
    let tree_fsb: u64 = root.rsplit(" = ").next().unwrap().trim().parse().unwrap();
    let (_, ag_blocks, _, ag_log) = geometry(&image);
    let tree_block = (tree_fsb >> ag_log) * ag_blocks + (tree_fsb & ((1 << ag_log) - 1));
    let tree = map.locate(tree_block * 4096);
    assert_eq!(
        (tree.state, tree.inode),
        (FileState::Metadata, Some(frag_ino))
    );

    // Unwritten extents read as zeros but their blocks are the file's.
    let unwritten = bmap(&image, "/unwritten");
    let stale = unwritten.iter().find(|e| e.3).expect("an unwritten extent");
    let file = map
        .files()
        .into_iter()
        .find(|f| f.path.as_deref() == Some("/unwritten"));
    let zeros = file
        .unwrap()
        .content
        .spans
        .into_iter()
        .find(|s| s.start == stale.0 * 4096);
    assert_eq!(
        zeros.map(|s| s.piece),
        Some(snapsift_fs::Piece::Zeros),
        "read as zeros"
    );
    let hit = map.locate(stale.1 * 4096);
    assert_eq!(
        (hit.state, hit.path.as_deref()),
        (FileState::Allocated, Some("/unwritten"))
    );

    // The removed file's record is named by the remnant of its entry.
    let record = map
        .files()
        .into_iter()
        .find(|f| f.path.as_deref() == Some("/d/block/removed-file"));
    assert!(record.is_none(), "a removed file is not listed");
    assert_eq!(
        map.path_of(removed_ino).as_deref(),
        Some("/d/block/removed-file")
    );
    let core = xfs_db(
        &image,
        &[&format!("inode {removed_ino}"), "print core.mode"],
    );
    assert!(core.contains("core.mode = 0"), "{core}");
}

#[test]
fn a_volume_without_xfs_is_refused() {
    let disk = MemoryDisk::new(vec![0u8; 1 << 20]);
    assert!(matches!(
        XfsMap::build(&disk, 0..1 << 20),
        Err(FsError::NotXfs(_))
    ));
    let tiny = MemoryDisk::new(vec![0u8; 100]);
    assert!(matches!(
        XfsMap::build(&tiny, 0..100),
        Err(FsError::NotXfs(_))
    ));
}

/// Damaged copies of a real image's metadata map without panicking or hanging, and never
/// list a file whose contents lie outside the volume.
#[test]
fn damaged_xfs_images_map_without_panics() {
    let dir = workdir();
    let image = dir.path().join("xfs.img");
    let mut files = directory_forms().into_iter().take(323).collect::<Vec<_>>();
    files.push(("/big".into(), noise(3, 200_000)));
    mkfs_proto(
        &image,
        &dir.path().join("tree"),
        &files,
        &["-m", "rmapbt=1"],
    );
    let bytes = fs::read(&image).unwrap();
    // The metadata written: the first blocks of AG 0 (headers, trees, inode chunks and
    // directory blocks, as mkfs lays them out).
    let hot = 0..bytes.len().min(2 << 20);
    let mut rng = Rng::new(0x5eed);
    for round in 0..60 {
        let mut damaged = bytes.clone();
        damage(&mut damaged, &mut rng, hot.clone());
        let len = damaged.len() as u64;
        let disk = MemoryDisk::new(damaged);
        let Ok(map) = XfsMap::build(&disk, 0..len) else {
            continue;
        };
        for file in map.files() {
            for span in &file.content.spans {
                if let snapsift_fs::Piece::Volume(at) = span.piece {
                    assert!(
                        at + span.len <= len,
                        "round {round}: a span outside the volume"
                    );
                }
            }
        }
        for offset in (0..len).step_by(1 << 16) {
            map.locate(offset);
        }
    }
}
