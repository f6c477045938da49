//! The runs `locate` gives on ext4 are exact: every byte of a run says what its offset says,
//! and the bytes just outside it say something else (metadata left aside: an inode table is
//! one run of many owners). The map keeps a listed file's run as one
//! interval and tells its data from its slack when asked, and neighbouring intervals (the
//! extents of one file, contiguous on the disk) are joined when asked: the runs must come out
//! as whole as a map painting every state apart would give them.

use std::fs;

use snapsift_disk::MemoryDisk;
use snapsift_fs::{Ext4Map, FileLocation, FileState};
use snapsift_testkit::{debugfs_script, noise, run, workdir};

/// What a location says of its byte.
fn said(location: &FileLocation) -> (FileState, Option<u64>, Option<String>) {
    (location.state, location.inode, location.path.clone())
}

#[test]
fn runs_are_whole_and_say_one_thing() {
    let dir = workdir();
    let tree = dir.path().join("tree");
    fs::create_dir_all(tree.join("small")).unwrap();
    // Sizes around the block size (1 KiB): empty, inline-sized, one byte short of a block,
    // whole blocks, a block and a bit.
    let sizes = [0usize, 1, 50, 1023, 1024, 1025, 2048, 3000, 5000];
    for (i, size) in (0u64..).zip(sizes.iter().cycle().take(300)) {
        fs::write(tree.join(format!("small/f{i:03}")), noise(i, *size)).unwrap();
    }
    // Larger than one extent can map (32768 blocks): several extents, contiguous on the disk.
    fs::write(tree.join("big"), noise(1000, 40 << 20)).unwrap();
    let image = dir.path().join("fs.img");
    run(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-b",
            "1024",
            // No superblock copies in later groups, no journal, no reserved descriptor
            // blocks: the big file's extents lie end to end.
            "-O",
            "sparse_super2,^has_journal,^resize_inode",
            "-E",
            "root_owner=0:0,num_backup_sb=0",
            "-d",
            tree.to_str().unwrap(),
            image.to_str().unwrap(),
            "64M",
        ],
    );
    // Deleted files (their blocks still recorded), and blocks allocated past a file's end.
    let mut commands = String::new();
    for i in (0..300).step_by(7) {
        commands.push_str(&format!("rm /small/f{i:03}\n"));
    }
    commands.push_str("fallocate /small/f001 0 40\n");
    commands.push_str("fallocate /small/f005 10 60\n");
    debugfs_script(&image, &commands);

    let bytes = fs::read(&image).unwrap();
    let len = bytes.len() as u64;
    let disk = MemoryDisk::new(bytes);
    let map = Ext4Map::build(&disk, 0..len).unwrap();
    // Every block's first and last byte, and the first bytes past each file's size.
    let mut offsets: Vec<u64> = (0..len / 1024)
        .flat_map(|block| [block * 1024, block * 1024 + 1023])
        .collect();
    for file in snapsift_fs::Filesystem::files(&map) {
        for span in &file.content.spans {
            if let snapsift_fs::Piece::Volume(at) = span.piece {
                let data = file.content.size.saturating_sub(span.start).min(span.len);
                offsets.extend([at + data.saturating_sub(1), at + data]);
            }
        }
    }
    // Two extents of the big file that lie end to end on the disk.
    let big = snapsift_fs::Filesystem::files(&map)
        .iter()
        .find(|f| f.path.as_deref() == Some("/big"))
        .unwrap();
    let volume_at = |span: &snapsift_fs::Span| match span.piece {
        snapsift_fs::Piece::Volume(at) => Some((at, at + span.len)),
        _ => None,
    };
    let joint = big
        .content
        .spans
        .windows(2)
        .find_map(|pair| {
            let (a, b) = (volume_at(&pair[0])?, volume_at(&pair[1])?);
            (a.1 == b.0).then_some(a.1)
        })
        .expect("two extents of /big lie end to end");
    let across = map.locate(joint - 1);
    assert_eq!(across.path.as_deref(), Some("/big"));
    assert!(across.run.contains(&joint), "{across:?} stops at {joint}");
    let mut checked = 0;
    for offset in offsets {
        let location = map.locate(offset);
        if location.state == FileState::Metadata {
            // An inode table is one run whose records belong to one inode each: its runs
            // say "metadata", not one owner.
            continue;
        }
        let what = said(&location);
        let run = location.run.clone();
        assert!(run.contains(&offset), "{offset}: {location:?}");
        assert_eq!(said(&map.locate(run.start)), what, "{offset}: {run:?}");
        assert_eq!(said(&map.locate(run.end - 1)), what, "{offset}: {run:?}");
        if run.start > 0 {
            let before = map.locate(run.start - 1);
            assert_ne!(said(&before), what, "{offset}: {run:?} could start earlier");
        }
        if run.end < len {
            let after = map.locate(run.end);
            assert_ne!(said(&after), what, "{offset}: {run:?} could end later");
        }
        checked += 1;
    }
    assert!(checked > 100_000, "{checked} offsets");
}
