//! ext2, ext3 and ext4 images made by real tools (`mkfs.ext4 -d`, `e2fsck -D` for htrees,
//! `debugfs` to delete and to write fragmented files), mapped by [`Ext4Map`] and checked
//! against two oracles: The Sleuth Kit (`fiwalk` for every file's byte runs, `fls` for live
//! and deleted names, `istat` for the journal, `ifind` for a sample of blocks) and
//! e2fsprogs (`dumpe2fs` for the block bitmap and the layout of every group, `debugfs imap`
//! for where inline files' records are).
//!
//! Allocation status comes from `dumpe2fs`, not TSK's `blkls`: TSK 4.11 reads the bitmap of
//! a `BLOCK_UNINIT` group as all free, backup superblocks and descriptors included, where
//! e2fsprogs (and the kernel) count them in use.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;

use snapsift_disk::Disk;
use snapsift_fs::{Ext4Map, FileState, Filesystem, VolumeMap};
use snapsift_testkit::{
    debugfs_script, mkfs_from_tree, noise, run, run_stdout, workdir, write_file,
};

use crate::common::extent_tree_block;

/// The map is built once and shared by scanning threads.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<Ext4Map>();
};

fn map_of(image: &Path) -> (Box<dyn Disk>, Ext4Map) {
    let disk = snapsift_disk::open(image).unwrap();
    let map = Ext4Map::build(&*disk, 0..disk.size()).unwrap();
    (disk, map)
}

/// The layout of a filesystem as `dumpe2fs` prints it.
struct Layout {
    block_size: u64,
    inode_size: u64,
    blocks: u64,
    /// Free per the block bitmaps.
    free: Vec<bool>,
    /// Superblocks, descriptors, reserved descriptors, bitmaps, inode tables.
    metadata: Vec<Range<u64>>,
    /// Inode tables.
    tables: Vec<Range<u64>>,
}

fn parse_range(text: &str) -> Option<Range<u64>> {
    let text = text.trim();
    let end = text
        .find(|c: char| !c.is_ascii_digit() && c != '-')
        .unwrap_or(text.len());
    let text = &text[..end];
    match text.split_once('-') {
        Some((a, b)) => Some(a.parse().ok()?..b.parse::<u64>().ok()? + 1),
        None => {
            let n: u64 = text.parse().ok()?;
            Some(n..n + 1)
        }
    }
}

fn dumpe2fs(image: &Path) -> Layout {
    let out = run_stdout("dumpe2fs", &[image.to_str().unwrap()]);
    let field = |name: &str| -> u64 {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("dumpe2fs: no {name}"))
            .trim()
            .parse()
            .unwrap()
    };
    let block_size = field("Block size:");
    let inode_size = field("Inode size:");
    let blocks = field("Block count:");
    let mut free = vec![false; blocks as usize];
    let mut metadata = Vec::new();
    let mut tables = Vec::new();
    for line in out.lines() {
        if !line.starts_with("  ") {
            continue;
        }
        if let Some(list) = line.trim_start().strip_prefix("Free blocks:") {
            for item in list.split(',') {
                if let Some(range) = parse_range(item) {
                    for b in range {
                        free[b as usize] = true;
                    }
                }
            }
            continue;
        }
        for piece in line.split(", ") {
            let Some((label, rest)) = piece.split_once(" at ") else {
                continue;
            };
            let label = label.trim();
            let is_meta = label.ends_with("superblock")
                || label.starts_with("Group descriptor")
                || label == "Reserved GDT blocks"
                || label == "Block bitmap"
                || label == "Inode bitmap"
                || label == "Inode table";
            if let (true, Some(range)) = (is_meta, parse_range(rest)) {
                if label == "Inode table" {
                    tables.push(range.clone());
                }
                metadata.push(range);
            }
        }
    }
    Layout {
        block_size,
        inode_size,
        blocks,
        free,
        metadata,
        tables,
    }
}

/// One name `fls -r -p` lists.
#[derive(Debug)]
struct Name {
    inode: u64,
    deleted: bool,
    realloc: bool,
    path: String,
}

fn fls(image: &Path) -> Vec<Name> {
    run_stdout("fls", &["-r", "-p", image.to_str().unwrap()])
        .lines()
        .filter_map(|line| {
            // "r/r 3019:\tetc/hardlink", "r/r * 15:\td/f11", "r/r * 13(realloc):\td/f1"
            let (head, path) = line.split_once(":\t")?;
            let mut fields = head.split_whitespace().skip(1).peekable();
            let deleted = fields.peek() == Some(&"*");
            if deleted {
                fields.next();
            }
            let number = fields.next()?;
            let realloc = number.ends_with("(realloc)");
            let inode = number.trim_end_matches("(realloc)").parse().ok()?;
            Some(Name {
                inode,
                deleted,
                realloc,
                path: format!("/{path}"),
            })
        })
        .filter(|n| !n.path.starts_with("/$OrphanFiles"))
        .collect()
}

/// One file `fiwalk` lists.
#[derive(Debug)]
struct FileObject {
    inode: u64,
    allocated: bool,
    meta_type: u32,
    size: u64,
    /// (file offset, image offset, length) of each run stored in blocks.
    runs: Vec<(u64, u64, u64)>,
    resident: bool,
}

fn tag<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find('<')?;
    Some(&text[start..end])
}

fn attr(text: &str, name: &str) -> Option<u64> {
    let key = format!("{name}='");
    let start = text.find(&key)? + key.len();
    let end = start + text[start..].find('\'')?;
    text[start..end].parse().ok()
}

fn fiwalk(image: &Path) -> Vec<FileObject> {
    let xml = image.with_extension("xml");
    let _ = fs::remove_file(&xml);
    run(
        "fiwalk",
        &["-z", "-X", xml.to_str().unwrap(), image.to_str().unwrap()],
    );
    let text = fs::read_to_string(&xml).unwrap();
    let mut objects = Vec::new();
    for object in text.split("<fileobject").skip(1) {
        let object = object.split("</fileobject>").next().unwrap();
        // The parent's inode comes first; ours follows the file name.
        let after_parent = object.split("</parent_object>").nth(1).unwrap_or(object);
        let (Some(inode), Some(size)) = (tag(after_parent, "inode"), tag(object, "filesize"))
        else {
            continue;
        };
        let mut runs = Vec::new();
        let mut resident = false;
        for run in object.split("<byte_run ").skip(1) {
            let run = run.split("/>").next().unwrap();
            if run.contains("resident") {
                resident = true;
                continue;
            }
            if let (Some(file), Some(img), Some(len)) = (
                attr(run, "file_offset"),
                attr(run, "img_offset"),
                attr(run, "len"),
            ) {
                runs.push((file, img, len));
            }
        }
        objects.push(FileObject {
            inode: inode.parse().unwrap(),
            allocated: tag(object, "alloc") == Some("1"),
            meta_type: tag(object, "meta_type").unwrap_or("0").parse().unwrap(),
            size: size.parse().unwrap(),
            runs,
            resident,
        });
    }
    objects
}

/// The blocks `istat` lists for `inode` (direct and indirect).
fn istat_blocks(image: &Path, inode: u64) -> Vec<u64> {
    let out = run_stdout("istat", &[image.to_str().unwrap(), &inode.to_string()]);
    let mut blocks = Vec::new();
    let mut in_list = false;
    for line in out.lines() {
        if line.ends_with("Blocks:") {
            in_list = true;
            continue;
        }
        if in_list {
            let numbers: Vec<u64> = line
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect();
            if numbers.is_empty() {
                in_list = false;
            }
            blocks.extend(numbers);
        }
    }
    blocks
}

/// What one comparison covered, so that tests can insist it covered something.
#[derive(Debug, Default)]
struct Checked {
    blocks: u64,
    file_blocks: u64,
    slack_tails: u64,
    directory_blocks: u64,
    deleted_blocks: u64,
    deleted_named: u64,
    journal_blocks: u64,
    inline_records: u64,
    ifind: u64,
}

/// Compares the map of `image` with dumpe2fs, fiwalk, fls, istat and ifind.
fn compare(image: &Path, map: &Ext4Map) -> Checked {
    let layout = dumpe2fs(image);
    let bs = layout.block_size;
    let mut checked = Checked::default();
    let at = |block: u64| map.locate(block * bs);

    // Every block: free or not as the bitmap says. (Inode tables are checked below: the
    // record of an inline file, deleted or not, is that file's.)
    let in_table = |block: u64| layout.tables.iter().any(|t| t.contains(&block));
    for block in 0..layout.blocks {
        if in_table(block) {
            continue;
        }
        let loc = at(block);
        let free = matches!(loc.state, FileState::Unallocated | FileState::Deleted);
        // A healthy filesystem has no block in use that no inode or structure explains.
        assert!(
            loc.state != FileState::Allocated || loc.inode.is_some(),
            "block {block} is in use by nobody known: {loc:?}"
        );
        assert_eq!(
            free, layout.free[block as usize],
            "block {block}: {loc:?}, free per dumpe2fs: {}",
            layout.free[block as usize]
        );
        checked.blocks += 1;
    }
    // Group structures are metadata; inode tables name their records' inodes.
    for range in &layout.metadata {
        for block in range.clone() {
            let loc = at(block);
            let inline_record = in_table(block)
                && matches!(loc.state, FileState::Allocated | FileState::Deleted)
                && loc.inode.is_some();
            assert!(
                loc.state == FileState::Metadata || inline_record,
                "block {block}: {loc:?}"
            );
        }
    }
    let inode_size = layout.inode_size;
    for table in &layout.tables {
        let first = at(table.start)
            .inode
            .expect("an inode table names its records");
        for i in 1..4 {
            let loc = map.locate(table.start * bs + i * inode_size + 7);
            assert_eq!(loc.inode, Some(first + i), "{table:?}");
        }
    }

    let names = fls(image);
    let mut live_names: HashMap<u64, HashSet<String>> = HashMap::new();
    let mut deleted_names: HashMap<u64, HashSet<String>> = HashMap::new();
    for name in &names {
        let into = if name.deleted {
            &mut deleted_names
        } else {
            &mut live_names
        };
        if !name.realloc {
            into.entry(name.inode)
                .or_default()
                .insert(name.path.clone());
        }
    }

    let objects = fiwalk(image);
    let mut seen = HashSet::new();
    for object in &objects {
        if !seen.insert((object.inode, object.allocated)) {
            continue;
        }
        if object.allocated {
            let Some(paths) = live_names.get(&object.inode) else {
                continue; // Only through a deleted name.
            };
            let expected = match object.meta_type {
                1 | 6 => FileState::Allocated,
                2 => FileState::Metadata,
                _ => continue,
            };
            for &(file_offset, img, len) in &object.runs {
                let mut offsets: Vec<u64> = (img..img + len).step_by(bs as usize).collect();
                offsets.push(img + len - 1);
                for offset in offsets {
                    let loc = map.locate(offset);
                    assert_eq!(
                        loc.state, expected,
                        "byte {offset} of inode {}",
                        object.inode
                    );
                    assert_eq!(loc.inode, Some(object.inode), "byte {offset}: {loc:?}");
                    let path = loc.path.unwrap_or_default();
                    assert!(
                        paths.contains(&path),
                        "inode {}: {path} not in {paths:?}",
                        object.inode
                    );
                    if expected == FileState::Metadata {
                        checked.directory_blocks += 1;
                    } else {
                        checked.file_blocks += 1;
                    }
                }
                let tail = (img + len) % bs;
                if expected == FileState::Allocated && file_offset + len == object.size && tail != 0
                {
                    for offset in [img + len, img + len - tail + bs - 1] {
                        let loc = map.locate(offset);
                        assert_eq!(loc.state, FileState::Slack, "byte {offset}: {loc:?}");
                        assert_eq!(loc.inode, Some(object.inode));
                    }
                    checked.slack_tails += 1;
                }
            }
        } else if matches!(object.meta_type, 1 | 2) && !object.runs.is_empty() {
            // A deleted file or directory whose inode still records its blocks.
            for &(_, img, len) in &object.runs {
                for offset in (img..img + len).step_by(bs as usize) {
                    let block = offset / bs;
                    let loc = map.locate(offset);
                    if !layout.free[block as usize] {
                        assert_ne!(loc.state, FileState::Deleted, "block {block} is in use");
                        continue;
                    }
                    assert_eq!(loc.state, FileState::Deleted, "block {block}: {loc:?}");
                    assert_eq!(loc.inode, Some(object.inode), "block {block}: {loc:?}");
                    checked.deleted_blocks += 1;
                }
            }
            if let Some(paths) = deleted_names.get(&object.inode) {
                let path = map.path_of(object.inode);
                assert!(
                    path.as_ref().is_some_and(|p| paths.contains(p)),
                    "deleted inode {}: {path:?} not in {paths:?}",
                    object.inode
                );
                checked.deleted_named += 1;
            }
        }
    }

    // Inline files: their record in the inode table is theirs.
    let inline: Vec<&FileObject> = objects
        .iter()
        .filter(|o| o.allocated && o.resident && o.meta_type == 1)
        .filter(|o| live_names.contains_key(&o.inode))
        .take(40)
        .collect();
    if !inline.is_empty() {
        let commands: String = inline
            .iter()
            .map(|o| format!("imap <{}>\n", o.inode))
            .collect();
        let script = image.with_extension("imap");
        fs::write(&script, commands).unwrap();
        let out = run_stdout(
            "debugfs",
            &["-f", script.to_str().unwrap(), image.to_str().unwrap()],
        );
        // "Inode 3019 is part of block group 1\n\tlocated at block 1020, offset 0x0200"
        let mut current = None;
        for line in out.lines() {
            if let Some(rest) = line.strip_prefix("Inode ") {
                current = rest
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<u64>().ok());
            } else if let Some(rest) = line.trim().strip_prefix("located at block ") {
                let (block, offset) = rest.split_once(", offset 0x").unwrap();
                let block: u64 = block.parse().unwrap();
                let offset = u64::from_str_radix(offset.trim(), 16).unwrap();
                let inode = current.take().unwrap();
                let loc = map.locate(block * bs + offset + 40);
                assert_eq!(
                    loc.state,
                    FileState::Allocated,
                    "inline inode {inode}: {loc:?}"
                );
                assert_eq!(loc.inode, Some(inode));
                assert!(live_names[&inode].contains(loc.path.as_deref().unwrap()));
                checked.inline_records += 1;
            }
        }
    }

    // The journal.
    let fsstat = run_stdout("fsstat", &[image.to_str().unwrap()]);
    if let Some(journal) = fsstat
        .lines()
        .find_map(|l| l.strip_prefix("Journal Inode: "))
    {
        let journal: u64 = journal.trim().parse().unwrap();
        for block in istat_blocks(image, journal) {
            let loc = at(block);
            assert_eq!(loc.state, FileState::Journal, "journal block {block}");
            assert_eq!(loc.inode, Some(journal));
            checked.journal_blocks += 1;
        }
    }

    // ifind (slow: it walks every inode) on a sample of blocks: every 1999th, and the first
    // and last of a dozen files, deleted ones included.
    let mut sample: Vec<u64> = (0..layout.blocks).step_by(1999).collect();
    for object in objects
        .iter()
        .filter(|o| !o.runs.is_empty())
        .step_by(7)
        .take(12)
    {
        if let (Some(first), Some(last)) = (object.runs.first(), object.runs.last()) {
            sample.push(first.1 / bs);
            sample.push((last.1 + last.2 - 1) / bs);
        }
    }
    sample.sort();
    sample.dedup();
    for block in sample {
        let out = run_stdout(
            "ifind",
            &["-d", &block.to_string(), image.to_str().unwrap()],
        );
        let loc = at(block);
        match out.trim().parse::<u64>() {
            Ok(inode) => {
                if layout.free[block as usize] {
                    // TSK also attributes free blocks to deleted inodes.
                    assert!(
                        loc.state == FileState::Unallocated || loc.inode == Some(inode),
                        "block {block}: ifind {inode}, {loc:?}"
                    );
                } else {
                    assert_eq!(loc.inode, Some(inode), "block {block}: ifind {inode}");
                }
            }
            Err(_) => assert!(
                loc.inode.is_none() || loc.state == FileState::Metadata || in_table(block),
                "block {block}: ifind {}, {loc:?}",
                out.trim()
            ),
        }
        checked.ifind += 1;
    }
    checked
}

/// A tree with nested directories, a secret, files whose sizes are not multiples of the
/// block size, a hard link, a slow symlink, a sparse file, and `dir_files` files in /big.
fn make_tree(root: &Path, dir_files: usize, sparse_at: u64) {
    write_file(
        root,
        "root/.aws/credentials",
        b"[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = \
          wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
    );
    write_file(root, "etc/deep/a/b/c/notes.txt", noise(1, 5000));
    write_file(root, "etc/deep/a/b/c/tiny", b"hi\n");
    write_file(root, "home/u/data.bin", noise(2, 40_000));
    write_file(root, "home/u/exact", noise(3, 8192));
    write_file(root, "home/u/.ssh/id_ed25519", noise(4, 411));
    for i in 0..dir_files {
        write_file(
            root,
            &format!("big/entry_{i:05}"),
            format!("{i}\n").as_bytes(),
        );
    }
    for i in 0..60 {
        write_file(root, &format!("spread/s{i:03}"), noise(100 + i, 2000));
    }
    write_file(root, "trash/old-key.pem", noise(5, 3000));
    write_file(root, "trash/old-notes.txt", noise(6, 700));
    fs::hard_link(root.join("home/u/exact"), root.join("etc/exact-link")).unwrap();
    std::os::unix::fs::symlink("x".repeat(200), root.join("etc/long-link")).unwrap();
    let sparse = fs::File::create(root.join("home/u/sparse")).unwrap();
    use std::os::unix::fs::FileExt;
    sparse.write_all_at(&noise(7, 3000), sparse_at).unwrap();
}

/// Deletes every other file of /spread, writes /frag, a file that must fill the holes
/// (fragmented, with an extent tree deeper than its inode), then deletes the files of
/// /trash and /trash itself.
fn delete_and_fragment(image: &Path, frag_len: usize) {
    let mut commands = String::new();
    for i in (0..60).step_by(2) {
        commands.push_str(&format!("rm /spread/s{i:03}\n"));
    }
    let host = image.with_extension("frag");
    fs::write(&host, noise(9, frag_len)).unwrap();
    commands.push_str(&format!("write {} frag\n", host.display()));
    commands.push_str("rm /trash/old-key.pem\nrm /trash/old-notes.txt\nrmdir /trash\n");
    debugfs_script(image, &commands);
}

/// Reads every file the map lists through its logical contents and compares it: live files
/// with the tree the image was made from (or `icat` for files written later by debugfs) and,
/// where it reads the filesystem (ext4), with `ext4-view` by path; deleted ones with TSK's
/// `icat`, which reads the blocks their inode still records. Returns (live files compared,
/// deleted files compared, files with more than one piece on disk).
fn check_contents(image: &Path, tree: &Path, map: &Ext4Map) -> (usize, usize, usize) {
    let disk = snapsift_disk::open(image).unwrap();
    let view = ext4_view::Ext4::load_from_path(image).ok();
    let (mut live, mut deleted, mut fragmented, mut by_ext4_view) = (0, 0, 0, 0);
    for file in map.files() {
        let mut got = Vec::new();
        std::io::Read::read_to_end(&mut file.content.reader(&*disk, 0), &mut got).unwrap();
        assert_eq!(got.len() as u64, file.content.size);
        // ext4-view refuses some block-mapped files with holes (ext2/3 sparse files): it is
        // an oracle where it reads.
        if let (Some(view), Some(path), FileState::Allocated) = (&view, &file.path, file.state)
            && let Ok(by_path) = view.read(path.as_str())
        {
            assert!(got == by_path, "{path}: ext4-view reads other bytes");
            by_ext4_view += 1;
        }
        let host = file
            .path
            .as_deref()
            .map(|p| tree.join(p.trim_start_matches('/')));
        let expected = match (&file.state, host) {
            (FileState::Allocated, Some(host)) if host.is_file() => {
                live += 1;
                fs::read(host).unwrap()
            }
            _ => {
                if file.state == FileState::Deleted {
                    deleted += 1;
                }
                let out = Command::new("icat")
                    .args([image.to_str().unwrap(), &file.id.to_string()])
                    .output()
                    .unwrap();
                assert!(out.status.success(), "icat {}", file.id);
                out.stdout
            }
        };
        assert!(
            got == expected,
            "{:?} (inode {}) differs",
            file.path,
            file.id
        );
        if !file.content.seams().is_empty() {
            fragmented += 1;
        }
    }
    // ext4-view loads no filesystem with inline data; where it loads, it reads nearly all.
    if view.is_some() {
        assert!(
            by_ext4_view * 10 >= live * 9,
            "{by_ext4_view} of {live} read by ext4-view"
        );
    }
    (live, deleted, fragmented)
}

fn assert_covered(checked: &Checked, journal: bool) {
    assert!(checked.file_blocks > 50, "{checked:?}");
    assert!(checked.slack_tails > 5, "{checked:?}");
    assert!(checked.directory_blocks > 5, "{checked:?}");
    assert!(checked.deleted_blocks > 10, "{checked:?}");
    assert!(checked.deleted_named > 10, "{checked:?}");
    assert!(checked.ifind > 10, "{checked:?}");
    assert_eq!(checked.journal_blocks > 0, journal, "{checked:?}");
}

#[test]
fn ext4_with_inline_data_htree_fragments_and_deleted_files() {
    let dir = workdir();
    let tree = dir.path().join("tree");
    make_tree(&tree, 3000, 9 << 20);
    let image = dir.path().join("ext4.img");
    mkfs_from_tree("mkfs.ext4", &image, &tree, "32M", &["-O", "inline_data"]);
    // Index the directories (mke2fs -d writes them linear), then delete and fragment.
    let fsck = Command::new("e2fsck")
        .args(["-fyD", image.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(fsck.status.code().unwrap() <= 1, "{fsck:?}");
    delete_and_fragment(&image, 40_000);
    let (_, map) = map_of(&image);
    assert!(map.notes().is_empty(), "{:?}", map.notes());
    let checked = compare(&image, &map);
    assert_covered(&checked, true);
    assert!(checked.inline_records > 20, "{checked:?}");
    let (live, deleted, fragmented) = check_contents(&image, &tree, &map);
    assert!(
        live > 3000 && deleted >= 30 && fragmented >= 1,
        "{live} {deleted} {fragmented}"
    );

    // The secret is inline: its record is the file's.
    let names = fls(&image);
    let inode = |path: &str| {
        names
            .iter()
            .find(|n| n.path == path && !n.deleted)
            .unwrap()
            .inode
    };
    assert_eq!(
        map.path_of(inode("/root/.aws/credentials")).as_deref(),
        Some("/root/.aws/credentials")
    );
    // The big directory is indexed, and every entry was found.
    let stat = run_stdout("debugfs", &["-R", "stat /big", image.to_str().unwrap()]);
    assert!(
        stat.contains("Flags: 0x81000") || stat.contains("Flags: 0x1000"),
        "{stat}"
    );
    for i in [0, 1234, 2999] {
        let path = format!("/big/entry_{i:05}");
        assert_eq!(map.path_of(inode(&path)).as_deref(), Some(path.as_str()));
    }
}

#[test]
fn ext4_4k_blocks_extent_tree_slack_and_deleted_files() {
    let dir = workdir();
    let tree = dir.path().join("tree");
    make_tree(&tree, 300, 200 << 20);
    let image = dir.path().join("ext4.img");
    mkfs_from_tree("mkfs.ext4", &image, &tree, "32M", &["-b", "4096"]);
    delete_and_fragment(&image, 60_000);
    let (_, map) = map_of(&image);
    assert!(map.notes().is_empty(), "{:?}", map.notes());
    let checked = compare(&image, &map);
    assert_covered(&checked, true);
    let (live, deleted, fragmented) = check_contents(&image, &tree, &map);
    assert!(
        live > 300 && deleted >= 30 && fragmented >= 1,
        "{live} {deleted} {fragmented}"
    );

    // /frag has more extents than its inode holds: its tree block is metadata of /frag.
    let etb = extent_tree_block(&image, "/frag");
    let loc = map.locate(etb * 4096);
    assert_eq!(loc.state, FileState::Metadata);
    assert_eq!(loc.path.as_deref(), Some("/frag"));

    // A deleted file: its bytes say so, with its inode and old path.
    let names = fls(&image);
    let gone = names
        .iter()
        .find(|n| n.path == "/trash/old-key.pem")
        .unwrap();
    assert!(gone.deleted);
    let blocks = istat_blocks(&image, gone.inode);
    let loc = map.locate(blocks[0] * 4096 + 10);
    assert_eq!(loc.state, FileState::Deleted);
    assert_eq!(loc.inode, Some(gone.inode));
    assert_eq!(loc.path.as_deref(), Some("/trash/old-key.pem"));
    // Its last block's tail is deleted too (3000 bytes in a 4 KiB block).
    assert_eq!(
        map.locate(blocks[0] * 4096 + 3500).state,
        FileState::Deleted
    );
}

#[test]
fn ext3_block_maps_with_double_indirect_blocks() {
    let dir = workdir();
    let tree = dir.path().join("tree");
    make_tree(&tree, 300, 1 << 20);
    write_file(&tree, "home/u/double", noise(8, 300_000));
    let image = dir.path().join("ext3.img");
    mkfs_from_tree("mkfs.ext3", &image, &tree, "24M", &[]);
    delete_and_fragment(&image, 20_000);
    let (_, map) = map_of(&image);
    assert!(map.notes().is_empty(), "{:?}", map.notes());
    let checked = compare(&image, &map);
    assert_covered(&checked, true);
    let (live, deleted, fragmented) = check_contents(&image, &tree, &map);
    assert!(
        live > 300 && deleted >= 30 && fragmented >= 1,
        "{live} {deleted} {fragmented}"
    );
    // The indirect blocks of /home/u/double and /home/u/sparse are theirs, as metadata.
    for path in ["/home/u/double", "/home/u/sparse"] {
        let stat = run_stdout(
            "debugfs",
            &["-R", &format!("stat {path}"), image.to_str().unwrap()],
        );
        for label in ["(IND):", "(DIND):", "(TIND):"] {
            let Some(rest) = stat.split(label).nth(1) else {
                continue;
            };
            let block: u64 = rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap();
            let loc = map.locate(block * 1024);
            assert_eq!(loc.state, FileState::Metadata, "{path} {label}");
            assert_eq!(loc.path.as_deref(), Some(path));
        }
    }
}

#[test]
fn ext2_block_maps_without_journal() {
    let dir = workdir();
    let tree = dir.path().join("tree");
    make_tree(&tree, 300, 1 << 20);
    let image = dir.path().join("ext2.img");
    mkfs_from_tree("mkfs.ext2", &image, &tree, "16M", &[]);
    delete_and_fragment(&image, 20_000);
    let (_, map) = map_of(&image);
    assert!(map.notes().is_empty(), "{:?}", map.notes());
    let checked = compare(&image, &map);
    assert_covered(&checked, false);
    let (live, deleted, fragmented) = check_contents(&image, &tree, &map);
    assert!(
        live > 300 && deleted >= 30 && fragmented >= 1,
        "{live} {deleted} {fragmented}"
    );
}

#[test]
fn meta_bg_descriptors_are_found() {
    let dir = workdir();
    let tree = dir.path().join("tree");
    make_tree(&tree, 50, 1 << 20);
    let image = dir.path().join("meta_bg.img");
    // 1 KiB blocks, 1024 blocks per group: 40 groups, 16 descriptors per block, so three
    // meta groups with their descriptor blocks in groups 0, 1, 15, 16, 17, 31, 32, 33, 39.
    mkfs_from_tree(
        "mkfs.ext4",
        &image,
        &tree,
        "40M",
        &["-b", "1024", "-g", "1024", "-O", "meta_bg,^resize_inode"],
    );
    let (_, map) = map_of(&image);
    assert!(map.notes().is_empty(), "{:?}", map.notes());
    let layout = dumpe2fs(&image);
    assert_eq!(layout.blocks, 40 * 1024);
    for block in 0..layout.blocks {
        let loc = map.locate(block * 1024);
        let free = matches!(loc.state, FileState::Unallocated | FileState::Deleted);
        assert_eq!(free, layout.free[block as usize], "block {block}: {loc:?}");
    }
    for range in &layout.metadata {
        for block in range.clone() {
            assert_eq!(
                map.locate(block * 1024).state,
                FileState::Metadata,
                "{block}"
            );
        }
    }
    let names = fls(&image);
    let secret = names.iter().find(|n| n.path == "/home/u/data.bin").unwrap();
    let blocks = istat_blocks(&image, secret.inode);
    let loc = map.locate(blocks[7] * 1024 + 5);
    assert_eq!(loc.state, FileState::Allocated);
    assert_eq!(loc.path.as_deref(), Some("/home/u/data.bin"));
}

#[test]
fn ext4_inside_a_gpt_partition() {
    const MIB: u64 = 1 << 20;
    let dir = workdir();
    let tree = dir.path().join("tree");
    make_tree(&tree, 10, 1 << 20);
    let disk_path: PathBuf = dir.path().join("disk.img");
    fs::File::create(&disk_path)
        .unwrap()
        .set_len(40 * MIB)
        .unwrap();
    let d = disk_path.to_str().unwrap();
    run(
        "sgdisk",
        &["-n", "1:2048:+4M", "-n", "2:12288:+24M", "-t", "2:8300", d],
    );
    let start = 6 * MIB; // Sector 12288: after the 4 MiB partition 1.
    let offset_arg = format!("offset={start},root_owner=0:0");
    run(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-E",
            &offset_arg,
            "-d",
            tree.to_str().unwrap(),
            d,
            "24M",
        ],
    );
    let disk = snapsift_disk::open(&disk_path).unwrap();
    let volumes = VolumeMap::read(&*disk).unwrap();
    let volume = volumes
        .volumes
        .iter()
        .find(|v| v.number == Some(2))
        .unwrap();
    assert_eq!(volume.range.start, start);
    let map = Ext4Map::build(&*disk, volume.range.clone()).unwrap();
    assert!(map.notes().is_empty(), "{:?}", map.notes());
    // TSK with the partition's sector offset.
    let sectors = (start / 512).to_string();
    let inode: u64 = run_stdout("ifind", &["-o", &sectors, "-n", "/home/u/data.bin", d])
        .trim()
        .parse()
        .unwrap();
    let istat = run_stdout("istat", &["-o", &sectors, d, &inode.to_string()]);
    let first_block: u64 = istat
        .split("Direct Blocks:")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let loc = map.locate(first_block * 1024 + 100);
    assert_eq!(loc.state, FileState::Allocated);
    assert_eq!(loc.inode, Some(inode));
    let ffind = run_stdout("ffind", &["-o", &sectors, d, &inode.to_string()]);
    assert_eq!(loc.path.as_deref(), Some(ffind.trim()));
    // The volume's first bytes are the boot block and superblock, not file data.
    assert_eq!(map.locate(0).state, FileState::Metadata);
}

/// What `debugfs stat` says of a file: its size, its data runs as (first logical block,
/// first physical block, blocks), and its tree blocks (extent tree or indirect blocks).
fn debugfs_blocks(image: &Path, path: &str) -> (u64, Vec<(u64, u64, u64)>, Vec<u64>) {
    let stat = run_stdout(
        "debugfs",
        &["-R", &format!("stat {path}"), image.to_str().unwrap()],
    );
    let size: u64 = stat
        .split("Size: ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let list = stat
        .split("BLOCKS:\n")
        .nth(1)
        .or_else(|| stat.split("EXTENTS:\n").nth(1))
        .unwrap_or("");
    let list = list.split("\nTOTAL").next().unwrap().replace('\n', "");
    let range = |text: &str| -> (u64, u64) {
        match text.split_once('-') {
            Some((a, b)) => (a.parse().unwrap(), b.parse().unwrap()),
            None => (text.parse().unwrap(), text.parse().unwrap()),
        }
    };
    let mut runs = Vec::new();
    let mut tree = Vec::new();
    for item in list.split(", ").filter(|i| !i.trim().is_empty()) {
        // "(0-11):1234-1245", "(IND):1246", "(ETB0):1302", "(1-19[u]):1374-1392"
        let (label, physical) = item.trim().split_once("):").unwrap();
        let label = label.trim_start_matches('(').trim_end_matches("[u]");
        let (p0, p1) = range(physical);
        if label.starts_with(|c: char| c.is_ascii_digit()) {
            let (l0, _) = range(label);
            runs.push((l0, p0, p1 - p0 + 1));
        } else {
            tree.extend(p0..=p1);
        }
    }
    (size, runs, tree)
}

/// Checks every block of the files at `paths` against `debugfs stat`: data before the size
/// is allocated, after it slack, tree blocks metadata, all with the file's inode and path.
fn compare_with_debugfs(image: &Path, map: &Ext4Map, block_size: u64, paths: &[&str]) -> u64 {
    let mut checked = 0;
    for &path in paths {
        let (size, runs, tree) = debugfs_blocks(image, path);
        assert!(!runs.is_empty(), "{path}");
        let inode = map.locate(runs[0].1 * block_size).inode;
        for (logical, physical, count) in runs {
            for i in 0..count {
                let file_start = (logical + i) * block_size;
                let disk_start = (physical + i) * block_size;
                for within in [0, block_size / 2, block_size - 1] {
                    let loc = map.locate(disk_start + within);
                    let expected = if file_start + within < size {
                        FileState::Allocated
                    } else {
                        FileState::Slack
                    };
                    assert_eq!(
                        loc.state,
                        expected,
                        "{path}: block {} + {within}",
                        physical + i
                    );
                    assert_eq!(loc.inode, inode, "{path}");
                    assert_eq!(loc.path.as_deref(), Some(path));
                    checked += 1;
                }
            }
        }
        for block in tree {
            let loc = map.locate(block * block_size);
            assert_eq!(loc.state, FileState::Metadata, "{path}: tree block {block}");
            assert_eq!(loc.path.as_deref(), Some(path));
            checked += 1;
        }
    }
    checked
}

#[test]
fn sparse_files_triple_indirect_blocks_and_preallocation_against_debugfs() {
    let dir = workdir();
    let tree = dir.path().join("tree");
    make_tree(&tree, 10, 70 << 20); // Past 64 MiB of 1 KiB blocks: triple indirect.
    write_file(&tree, "home/u/double", noise(8, 300_000));
    let ext2 = dir.path().join("ext2.img");
    mkfs_from_tree("mkfs.ext2", &ext2, &tree, "16M", &["-b", "1024"]);
    let (_, map) = map_of(&ext2);
    assert!(map.notes().is_empty(), "{:?}", map.notes());
    let paths = [
        "/home/u/sparse",
        "/home/u/double",
        "/home/u/data.bin",
        "/etc/deep/a/b/c/tiny",
    ];
    assert!(compare_with_debugfs(&ext2, &map, 1024, &paths) > 1000);
    let stat = run_stdout(
        "debugfs",
        &["-R", "stat /home/u/sparse", ext2.to_str().unwrap()],
    );
    assert!(stat.contains("(TIND)"), "{stat}");

    // ext4: a sparse file 200 MiB long, and a file with uninitialised blocks past its end.
    let tree = dir.path().join("tree4");
    make_tree(&tree, 10, 200 << 20);
    let ext4 = dir.path().join("ext4.img");
    mkfs_from_tree("mkfs.ext4", &ext4, &tree, "16M", &["-b", "4096"]);
    let host = dir.path().join("hello");
    fs::write(&host, b"hello world\n").unwrap();
    debugfs_script(
        &ext4,
        &format!("write {} pre\nfallocate /pre 0 19\n", host.display()),
    );
    let (_, map) = map_of(&ext4);
    assert!(map.notes().is_empty(), "{:?}", map.notes());
    let paths = [
        "/home/u/sparse",
        "/home/u/data.bin",
        "/pre",
        "/etc/long-link",
    ];
    assert!(compare_with_debugfs(&ext4, &map, 4096, &paths) > 50);
}

#[test]
fn bigalloc_is_mapped_by_clusters() {
    let dir = workdir();
    let tree = dir.path().join("tree");
    make_tree(&tree, 20, 1 << 20);
    let image = dir.path().join("bigalloc.img");
    mkfs_from_tree(
        "mkfs.ext4",
        &image,
        &tree,
        "64M",
        &["-b", "4096", "-C", "16384", "-O", "bigalloc,^resize_inode"],
    );
    let (_, map) = map_of(&image);
    assert!(map.notes().is_empty(), "{:?}", map.notes());
    let layout = dumpe2fs(&image);
    for block in 0..layout.blocks {
        let loc = map.locate(block * 4096);
        let free = matches!(loc.state, FileState::Unallocated | FileState::Deleted);
        // dumpe2fs lists free clusters by the first block of each.
        let cluster_free = layout.free[(block - block % 4) as usize];
        assert_eq!(free, cluster_free, "block {block}: {loc:?}");
    }
    let paths = [
        "/home/u/data.bin",
        "/home/u/.ssh/id_ed25519",
        "/etc/deep/a/b/c/notes.txt",
    ];
    assert!(compare_with_debugfs(&image, &map, 4096, &paths) > 30);
    // A 411-byte file owns a whole cluster: the three blocks it does not use are its slack.
    let (_, runs, _) = debugfs_blocks(&image, "/home/u/.ssh/id_ed25519");
    let cluster = runs[0].1 / 4 * 4;
    for block in cluster..cluster + 4 {
        let loc = map.locate(block * 4096 + 1000);
        assert_eq!(loc.state, FileState::Slack, "block {block}");
        assert_eq!(loc.path.as_deref(), Some("/home/u/.ssh/id_ed25519"));
    }
}

#[test]
fn a_volume_without_ext_is_refused() {
    let disk = snapsift_disk::MemoryDisk::new(vec![0u8; 1 << 20]);
    assert!(matches!(
        Ext4Map::build(&disk, 0..1 << 20),
        Err(snapsift_fs::FsError::NotExt(_))
    ));
    assert!(matches!(
        Ext4Map::build(&disk, 0..100),
        Err(snapsift_fs::FsError::NotExt(_))
    ));
}
