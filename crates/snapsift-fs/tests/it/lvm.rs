//! LVM2 volume groups written by the real tools (see `common/lvm.rs`), read back: every
//! logical volume's bytes where `lvs` and `pvs` say they are, ext4 inside linear and striped
//! volumes attributed like on a partition, the newest of several metadata copies, metadata
//! wrapped round its ring buffer, damaged copies, and the kinds that are noted, not mapped.

use std::io::Read;
use std::path::Path;

use snapsift_fs::{Content, Volume, VolumeMap};
use snapsift_testkit::lvm::{Chunk, Lvm, PARTS, disk_offset, two_pv_disk, write_volume};
use snapsift_testkit::{Rng, mkfs_from_tree, run_stdout, workdir};

const MIB: u64 = 1 << 20;
/// The test disk in `dir`, its first `pvs` partitions made PVs with `options` and joined in
/// group `vg0`; `None` where loop devices are unavailable (outside CI).
fn group(dir: &Path, pvs: usize, options: &[&str]) -> Option<(std::path::PathBuf, Lvm)> {
    let image = dir.join("lvm.img");
    two_pv_disk(&image);
    let lvm = Lvm::attach(&image, &PARTS[..pvs])?;
    let devices: Vec<String> = (0..pvs).map(|i| lvm.device(i)).collect();
    let mut args = vec!["pvcreate", "-y"];
    args.extend_from_slice(options);
    args.extend(devices.iter().map(String::as_str));
    lvm.run(&args);
    let mut args = vec!["vgcreate", "vg0"];
    args.extend(devices.iter().map(String::as_str));
    lvm.run(&args);
    Some((image, lvm))
}

/// Asserts that every volume of `layout` (the oracle's, for group `vg0`) is mapped as it
/// says.
fn assert_group(map: &VolumeMap, layout: &std::collections::BTreeMap<String, Vec<Chunk>>) {
    for (name, chunks) in layout {
        assert_layout(map, logical(map, &format!("vg0/{name}")), chunks);
    }
}

fn read(path: &Path) -> VolumeMap {
    let disk = snapsift_disk::open(path).unwrap();
    VolumeMap::read(&*disk).unwrap()
}

/// The logical volume `name` (`vg/lv`) of `map`.
fn logical<'m>(map: &'m VolumeMap, name: &str) -> &'m Volume {
    map.volumes
        .iter()
        .find(|v| v.logical.as_ref().is_some_and(|l| l.name == name))
        .unwrap_or_else(|| panic!("no {name} in {:?}; notes {:?}", map.volumes, map.notes))
}

/// Asserts that `volume` lays its bytes out as `chunks` (the oracle's) say: first, middle and
/// last byte of every chunk, both ways.
fn assert_layout(map: &VolumeMap, volume: &Volume, chunks: &[Chunk]) {
    let extents = &volume.logical.as_ref().unwrap().extents;
    let total: u64 = chunks.iter().map(|c| c.len).sum();
    assert_eq!(extents.size(), total);
    for chunk in chunks {
        for into in [0, chunk.len / 2, chunk.len - 1] {
            let (at, disk) = (chunk.volume + into, chunk.disk + into);
            assert_eq!(
                extents.to_disk(at).map(|d| d.0),
                Some(disk),
                "volume byte {at}"
            );
            let found = map.volume_at(disk).unwrap();
            assert_eq!(found, volume, "disk byte {disk}");
            assert_eq!(found.offset_of(disk), at);
        }
    }
}

/// A tree of text files, one larger than a stripe chunk.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut rng = Rng::new(7);
    let big: Vec<u8> = (0..300_000)
        .map(|_| b"abcdefgh \n"[rng.below(10) as usize])
        .collect();
    files.push(("/home/notes.txt".to_owned(), big));
    files.push((
        "/etc/app.conf".to_owned(),
        b"password = \"Zq8mUv2LwX9pR4t\"\n".to_vec(),
    ));
    for (path, bytes) in &files {
        let at = dir.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        std::fs::write(at, bytes).unwrap();
    }
    files
}

/// Maps the ext4 filesystem in `volume` of the image at `path` and checks that it lists
/// every file of `files` with its path and contents, and that each block of the big one lies
/// where `debugfs` (in `fs_image`) and the oracle's `chunks` put it.
/// Returns how many seams the big file has.
fn assert_files(
    path: &Path,
    volume: &Volume,
    files: &[(String, Vec<u8>)],
    fs_image: &Path,
    chunks: &[Chunk],
) -> usize {
    let disk = snapsift_disk::open(path).unwrap();
    let fs = snapsift_fs::open(&*disk, volume).unwrap().unwrap();
    let base = volume.range.start;
    let listed: Vec<_> = fs.files().iter().collect();
    for (name, bytes) in files {
        let entry = listed
            .iter()
            .find(|e| e.path.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{name} not listed"));
        let mut read = Vec::new();
        entry
            .content
            .reader(&*disk, base)
            .read_to_end(&mut read)
            .unwrap();
        assert_eq!(&read, bytes, "{name}");
    }
    let big = listed
        .iter()
        .find(|e| e.path.as_deref() == Some("/home/notes.txt"))
        .unwrap();
    let blocks = files[0].1.len().div_ceil(4096) as u64;
    let mut expected_seams = Vec::new();
    let mut previous_end = None;
    for block in 0..blocks {
        let out = run_stdout(
            "debugfs",
            &[
                "-R",
                &format!("bmap /home/notes.txt {block}"),
                fs_image.to_str().unwrap(),
            ],
        );
        let lv_block: u64 = out.trim().parse().unwrap();
        let disk_at = disk_offset(chunks, lv_block * 4096);
        if previous_end.is_some_and(|end| end != disk_at) {
            expected_seams.push(block * 4096);
        }
        previous_end = Some(disk_at + 4096);
        let len = (files[0].1.len() as u64 - block * 4096).min(4096);
        let range = block * 4096..block * 4096 + len;
        assert_eq!(
            big.content.volume_range(range.clone()),
            Some(disk_at - base..disk_at - base + len),
            "block {block}"
        );
        // The sweep's bytes are attributed to the file as they lie on the disk.
        let found = fs.locate(disk_at - base);
        assert_eq!(found.path.as_deref(), Some("/home/notes.txt"));
        assert!(found.run.contains(&(disk_at - base)));
        assert!(
            chunks.iter().any(|c| c.disk <= base + found.run.start && base + found.run.end <= c.disk + c.len),
            "a run never leaves its chunk: {:?}",
            found.run
        );
    }
    // Where the file's bytes stop being contiguous on the disk (a stripe chunk ends), the
    // file pass sees a seam, and nowhere else.
    assert_eq!(big.content.seams(), expected_seams);
    expected_seams.len()
}

#[test]
fn linear_and_striped_volumes_lie_where_lvs_says() {
    let dir = workdir();
    let Some((image, lvm)) = group(dir.path(), 2, &[]) else {
        return;
    };
    let (a, b) = (lvm.device(0), lvm.device(1));
    lvm.lvcreate("vg0", "lin", &["-L", "8M"], &[&a]);
    lvm.lvcreate("vg0", "str", &["-L", "8M", "-i", "2", "-I", "64k"], &[]);
    lvm.lvcreate("vg0", "other", &["-L", "4M"], &[&a]);
    // A second segment, apart from the first.
    lvm.run(&[
        "lvextend",
        "--driverloaded",
        "n",
        "-L",
        "+8M",
        "vg0/lin",
        &b,
    ]);
    let layout = lvm.layout("vg0");
    drop(lvm);
    assert_eq!(layout.len(), 3, "{layout:?}");
    assert!(layout["str"].iter().any(|c| c.len == 64 << 10));

    let stage = dir.path().join("tree");
    let files = tree(&stage);
    let fs_image = dir.path().join("fs.img");
    mkfs_from_tree("mkfs.ext4", &fs_image, &stage, "8M", &["-b", "4096"]);
    let bytes = std::fs::read(&fs_image).unwrap();
    write_volume(&image, &layout["str"], &bytes);
    write_volume(&image, &layout["lin"], &bytes);

    let map = read(&image);
    assert!(map.notes.is_empty(), "{:?}", map.notes);
    for (name, chunks) in &layout {
        let volume = logical(&map, &format!("vg0/{name}"));
        assert_layout(&map, volume, chunks);
        assert_eq!(volume.number, None);
    }
    let partitions: Vec<(Option<u32>, Content)> = map
        .volumes
        .iter()
        .filter(|v| v.logical.is_none())
        .map(|v| (v.number, v.content))
        .collect();
    assert_eq!(
        partitions,
        vec![(Some(1), Content::Lvm), (Some(2), Content::Lvm)]
    );
    let mut seams = Vec::new();
    for name in ["str", "lin"] {
        let volume = logical(&map, &format!("vg0/{name}"));
        assert_eq!(volume.content, Content::Ext, "{name}");
        seams.push(assert_files(
            &image,
            volume,
            &files,
            &fs_image,
            &layout[name],
        ));
    }
    // 300,000 bytes in 64 KiB chunks cross at least 4 chunk ends; linear, none.
    assert!(seams[0] >= 4, "{seams:?}");
    assert_eq!(seams[1], 0);
    assert_eq!(logical(&map, "vg0/other").content, Content::Unknown);
}

/// The value `pvck --dump headers` gives `field` (`mda_header_1.raw_locn[0].offset`).
fn pvck_header(lvm: &Lvm, device: &str, field: &str) -> u64 {
    let out = lvm.run(&["pvck", "--dump", "headers", device]);
    let prefix = format!("{field} ");
    out.lines()
        .find_map(|line| line.trim().strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{field} not in {out}"))
        .trim()
        .parse()
        .unwrap()
}

/// The sequence number of the metadata `pvck --dump metadata` reads on `device`.
fn pvck_seqno(lvm: &Lvm, device: &str) -> u64 {
    let out = lvm.run(&["pvck", "--dump", "metadata", device]);
    let line = out.lines().find(|l| l.contains("seqno")).unwrap();
    line.rsplit("seqno").next().unwrap().trim().parse().unwrap()
}

/// The bytes `range` of the image at `path`.
fn bytes_at(path: &Path, range: std::ops::Range<u64>) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; (range.end - range.start) as usize];
    std::fs::File::open(path)
        .unwrap()
        .read_exact_at(&mut buf, range.start)
        .unwrap();
    buf
}

fn put(path: &Path, at: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .write_all_at(bytes, at)
        .unwrap();
}

/// The names of the logical volumes `map` maps.
fn names(map: &VolumeMap) -> Vec<String> {
    let mut names: Vec<String> = map
        .volumes
        .iter()
        .filter_map(|v| Some(v.logical.as_ref()?.name.clone()))
        .collect();
    names.sort();
    names
}

#[test]
fn the_newest_metadata_copy_is_used_whichever_pv_holds_it() {
    let dir = workdir();
    let Some((image, lvm)) = group(dir.path(), 2, &[]) else {
        return;
    };
    let (a, b) = (lvm.device(0), lvm.device(1));
    lvm.lvcreate("vg0", "first", &["-L", "4M"], &[&a]);
    // Each PV's metadata area, from its header to its first extent.
    let area = |part: (u64, u64)| part.0 + 4096..part.0 + MIB;
    let old = [
        bytes_at(&image, area(PARTS[0])),
        bytes_at(&image, area(PARTS[1])),
    ];
    lvm.lvcreate("vg0", "second", &["-L", "4M"], &[&b]);
    let layout = lvm.layout("vg0");
    let new = [
        bytes_at(&image, area(PARTS[0])),
        bytes_at(&image, area(PARTS[1])),
    ];
    for stale in 0..2 {
        put(&image, area(PARTS[stale]).start, &old[stale]);
        put(&image, area(PARTS[1 - stale]).start, &new[1 - stale]);
        let device = lvm.device(stale);
        let other = lvm.device(1 - stale);
        assert_eq!(pvck_seqno(&lvm, &device) + 1, pvck_seqno(&lvm, &other));
        let map = read(&image);
        assert_eq!(
            names(&map),
            ["vg0/first", "vg0/second"],
            "stale copy on PV {stale}"
        );
        assert_group(&map, &layout);
    }
}

#[test]
fn metadata_that_wraps_round_its_ring_buffer_is_read() {
    let dir = workdir();
    // A metadata area of 60 KiB: some tens of changes go round it.
    let options = ["--metadatasize", "16k", "--dataalignment", "64k"];
    let Some((image, lvm)) = group(dir.path(), 1, &options) else {
        return;
    };
    let a = lvm.device(0);
    lvm.lvcreate("vg0", "kept", &["-L", "4M"], &[]);
    lvm.lvcreate("vg0", "also", &["-L", "4M"], &[]);
    let size = pvck_header(&lvm, &a, "mda_header_1.size");
    let wraps = || {
        pvck_header(&lvm, &a, "mda_header_1.raw_locn[0].offset")
            + pvck_header(&lvm, &a, "mda_header_1.raw_locn[0].size")
            > size
    };
    let mut changes = 0;
    while !wraps() {
        changes += 1;
        assert!(changes < 500, "the metadata never wrapped");
        let name = format!("t{changes}");
        lvm.lvcreate("vg0", &name, &["-L", "4M"], &[]);
        lvm.run(&[
            "lvremove",
            "--driverloaded",
            "n",
            "-y",
            &format!("vg0/{name}"),
        ]);
    }

    let layout = lvm.layout("vg0");
    drop(lvm);
    let map = read(&image);
    assert!(map.notes.is_empty(), "{:?}", map.notes);
    let mut expected: Vec<String> = layout.keys().map(|k| format!("vg0/{k}")).collect();
    expected.sort();
    assert_eq!(names(&map), expected);
    assert_group(&map, &layout);
}

#[test]
fn a_damaged_metadata_copy_is_passed_over_and_noted() {
    let dir = workdir();
    let Some((image, lvm)) = group(dir.path(), 1, &["--pvmetadatacopies", "2"]) else {
        return;
    };
    let a = lvm.device(0);
    lvm.lvcreate("vg0", "root", &["-L", "4M"], &[]);
    let layout = lvm.layout("vg0");
    // "metadata text at 4608 crc 0x... # vgname vg0 seqno 2": bytes from the PV's start.
    let text_at = |mda: &str| -> u64 {
        let out = lvm.run(&["pvck", "--dump", "metadata", "--settings", mda, &a]);
        let line = out
            .lines()
            .find(|l| l.contains("metadata text at"))
            .unwrap();
        line.split_whitespace().nth(3).unwrap().parse().unwrap()
    };
    let texts = [text_at("mda_num=1"), text_at("mda_num=2")];
    drop(lvm);
    assert_ne!(texts[0], texts[1]);
    let flip = |at: u64| {
        let at = PARTS[0].0 + at + 20;
        let mut byte = bytes_at(&image, at..at + 1);
        byte[0] ^= 0x20;
        put(&image, at, &byte);
    };
    flip(texts[0]);
    let map = read(&image);
    assert_eq!(names(&map), ["vg0/root"]);
    assert_layout(&map, logical(&map, "vg0/root"), &layout["root"]);
    assert_eq!(map.notes.len(), 1, "{:?}", map.notes);
    assert!(
        map.notes[0].contains("checksum does not match"),
        "{:?}",
        map.notes
    );
    flip(texts[1]);
    let map = read(&image);
    assert!(names(&map).is_empty());
    assert_eq!(map.notes.len(), 2, "{:?}", map.notes);
    // The PV is still a volume, swept as it is.
    assert_eq!(map.volume_at(PARTS[0].0 + 2 * MIB).unwrap().number, Some(1));
}

#[test]
fn thin_pools_and_snapshots_are_noted_not_mapped() {
    let dir = workdir();
    let Some((image, lvm)) = group(dir.path(), 1, &[]) else {
        return;
    };
    lvm.lvcreate("vg0", "base", &["-L", "8M"], &[]);
    // lvcreate needs device-mapper for these kinds; vgcfgrestore writes them as LVM does.
    let backup = dir.path().join("vg0.txt");
    lvm.run(&["vgcfgbackup", "-f", backup.to_str().unwrap(), "vg0"]);
    let text = std::fs::read_to_string(&backup).unwrap();
    let lv = |name: &str, id: &str, status: &str, segment: &str| {
        format!(
            "\t\t{name} {{\n\t\t\tid = \"{id}-aaaa-bbbb-cccc-dddd-eeee-ffffff\"\n\t\t\tstatus = \
             {status}\n\t\t\tflags = []\n\t\t\tsegment_count = 1\n\t\t\tsegment1 {{\n{segment}\n\
             \t\t\t}}\n\t\t}}\n"
        )
    };
    let linear = |count: u32, pe: u32| {
        format!(
            "start_extent = 0\nextent_count = {count}\ntype = \"striped\"\nstripe_count = 1\n\
             stripes = [\"pv0\", {pe}]"
        )
    };
    let added = [
        lv("snap", "snapaa", "[\"READ\", \"WRITE\"]", &linear(1, 2)),
        lv(
            "snapshot0",
            "snapbb",
            "[\"READ\"]",
            "start_extent = 0\nextent_count = 2\ntype = \"snapshot\"\nchunk_size = 8\n\
             origin = \"base\"\ncow_store = \"snap\"",
        ),
        lv(
            "pool",
            "poolaa",
            "[\"READ\", \"WRITE\", \"VISIBLE\"]",
            "start_extent = 0\nextent_count = 2\ntype = \"thin-pool\"\nmetadata = \
             \"pool_tmeta\"\npool = \"pool_tdata\"\ntransaction_id = 1\nchunk_size = 128\n\
             discards = \"passdown\"\nzero_new_blocks = 1",
        ),
        lv(
            "thin",
            "thinaa",
            "[\"READ\", \"WRITE\", \"VISIBLE\"]",
            "start_extent = 0\nextent_count = 4\ntype = \"thin\"\nthin_pool = \"pool\"\n\
             transaction_id = 0\ndevice_id = 1",
        ),
        lv(
            "pool_tmeta",
            "poolbb",
            "[\"READ\", \"WRITE\"]",
            &linear(1, 3),
        ),
        lv(
            "pool_tdata",
            "poolcc",
            "[\"READ\", \"WRITE\"]",
            &linear(2, 4),
        ),
    ]
    .concat();
    let end = text.rfind("\t}\n").unwrap();
    let edited = format!("{}{added}{}", &text[..end], &text[end..]);
    std::fs::write(&backup, edited).unwrap();
    lvm.run(&[
        "vgcfgrestore",
        "--force",
        "-f",
        backup.to_str().unwrap(),
        "vg0",
    ]);
    let listed = lvm.run(&[
        "lvs",
        "-a",
        "--noheadings",
        "-o",
        "lv_name,segtype,origin",
        "vg0",
    ]);
    let listed: Vec<Vec<&str>> = listed
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    for line in [
        &["pool", "thin-pool"][..],
        &["thin", "thin"],
        &["snap", "linear", "base"],
    ] {
        assert!(listed.iter().any(|l| l == line), "{line:?} in {listed:?}");
    }
    let layout = lvm.layout("vg0");
    drop(lvm);
    let map = read(&image);
    assert_eq!(names(&map), ["vg0/base"]);
    assert_layout(&map, logical(&map, "vg0/base"), &layout["base"]);
    let mut notes = map.notes.clone();
    notes.sort();
    assert_eq!(
        notes,
        [
            "logical volume vg0/pool is not mapped (type thin-pool): its bytes are swept raw",
            "logical volume vg0/snap is not mapped (a snapshot of vg0/base): its bytes are swept \
             raw",
            "logical volume vg0/thin is not mapped (type thin): its bytes are swept raw",
        ]
    );
    // The bytes of the pool's data belong to the PV.
    let tdata = layout["pool_tdata"][0].disk;
    assert_eq!(map.volume_at(tdata).unwrap().number, Some(1));
}

#[test]
fn a_pv_filling_the_disk() {
    let dir = workdir();
    let image = dir.path().join("pv.img");
    std::fs::File::create(&image)
        .unwrap()
        .set_len(32 * MIB)
        .unwrap();
    let Some(lvm) = Lvm::attach(&image, &[(0, 32 * MIB)]) else {
        return;
    };
    let a = lvm.device(0);
    lvm.run(&["pvcreate", "-y", &a]);
    lvm.run(&["vgcreate", "vg1", &a]);
    lvm.lvcreate("vg1", "root", &["-L", "8M"], &[]);
    let layout = lvm.layout("vg1");
    drop(lvm);
    let map = read(&image);
    assert_eq!(map.scheme, snapsift_fs::Scheme::Whole);
    assert_eq!(names(&map), ["vg1/root"]);
    assert_layout(&map, logical(&map, "vg1/root"), &layout["root"]);
    let pv = map.volume_at(100).unwrap();
    assert_eq!((pv.number, pv.content), (None, Content::Lvm));
}
