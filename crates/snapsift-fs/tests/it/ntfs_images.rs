//! NTFS images made by real tools (`mkntfs`, files written through an `ntfs-3g` mount: nested
//! directories, resident and non-resident files, a directory with an index in clusters, a
//! sparse file, alternate data streams, compressed files, a fragmented file, deleted files),
//! mapped by [`NtfsMap`] and checked against The Sleuth Kit: `icat $Bitmap` for which
//! clusters are free, `fls` for live and deleted names, `istat` for every record's runs,
//! resident values and old names, `ifind` for a sample of clusters, and `icat` (which
//! decompresses LZNT1) for every stream's contents, next to the tree written in.

use std::collections::HashMap;
use std::fs;

use snapsift_disk::Disk;
use snapsift_fs::{FileState, Filesystem, NtfsMap, Piece, VolumeMap};
use snapsift_testkit::{Mount, mkntfs, noise, run, run_stdout, workdir};

use crate::common::ntfs::{CREDENTIALS, Istat, Name, Tree, fls, icat, istat, populate};

/// The map is built once and shared by scanning threads.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<NtfsMap>();
};

const CLUSTER: u64 = 4096;
const RECORD: u64 = 1024;

/// An image, its map and what TSK says of it.
struct Fixture {
    image: std::path::PathBuf,
    disk: Box<dyn Disk>,
    map: NtfsMap,
    names: Vec<Name>,
    records: HashMap<u64, Istat>,
    tree: Tree,
    /// Free clusters per `$Bitmap` (read by TSK).
    free: Vec<bool>,
    _dir: tempfile::TempDir,
}

/// Builds a `size`-byte NTFS image holding [`populate`]'s tree with `many` entries in /many.
fn fixture(size: u64, many: usize) -> Fixture {
    let dir = workdir();
    let image = dir.path().join("ntfs.img");
    mkntfs(&image, size, Some(CLUSTER as u32));
    let mount = Mount::new(&image, &dir.path().join("mnt"));
    let tree = populate(&mount.dir, many);
    mount.finish();
    let disk = snapsift_disk::open(&image).unwrap();
    let map = NtfsMap::build(&*disk, 0..disk.size()).unwrap();
    let names = fls(&image, 0);
    let mut wanted: Vec<u64> = names.iter().map(|n| n.record).collect();
    wanted.extend(0..16);
    wanted.sort_unstable();
    wanted.dedup();
    let records = wanted
        .into_iter()
        .map(|r| (r, istat(&image, 0, r)))
        .collect();
    let bitmap = icat(&image, 0, "6");
    // mkntfs leaves the last sector to the boot sector's backup, out of the filesystem: the
    // last, partial cluster is no cluster (though $Bitmap marks it in use).
    let clusters = (size - 512) / CLUSTER;
    let free = (0..clusters)
        .map(|c| bitmap[(c / 8) as usize] & (1 << (c % 8)) == 0)
        .collect();
    Fixture {
        image,
        disk,
        map,
        names,
        records,
        tree,
        free,
        _dir: dir,
    }
}

/// What one comparison covered, so that tests can insist it covered something.
#[derive(Debug, Default)]
struct Checked {
    clusters: u64,
    file_clusters: u64,
    slack_tails: u64,
    compressed_clusters: u64,
    index_clusters: u64,
    deleted_clusters: u64,
    deleted_named: u64,
    journal_clusters: u64,
    mft_records: u64,
    resident_values: u64,
    ifind: u64,
}

impl Fixture {
    /// The record's path from `fls` (without a stream).
    fn path_of(&self, record: u64) -> Option<String> {
        if record == 5 {
            return Some("/".into());
        }
        self.names
            .iter()
            .filter(|n| n.record == record && !n.path.starts_with("/$OrphanFiles"))
            .map(|n| n.path.split(':').next().unwrap().to_string())
            .next()
    }

    /// Is `record` one of the filesystem's own files?
    fn system(&self, record: u64) -> bool {
        record < 24
            || self
                .path_of(record)
                .is_some_and(|p| p.starts_with("/$Extend"))
    }

    /// The volume offset of MFT record `record`, through `$MFT`'s clusters.
    fn record_offset(&self, record: u64) -> u64 {
        let mft = self.records[&0]
            .attributes
            .iter()
            .find(|a| a.kind == "$DATA")
            .unwrap();
        let byte = record * RECORD;
        mft.clusters[(byte / CLUSTER) as usize] * CLUSTER + byte % CLUSTER
    }

    /// Compares the map with TSK.
    fn compare(&self) -> Checked {
        let map = &self.map;
        let mut checked = Checked::default();
        // Every cluster: free or not as $Bitmap says; in use means someone known.
        for (cluster, &free) in self.free.iter().enumerate() {
            let loc = map.locate(cluster as u64 * CLUSTER);
            let looks_free = matches!(loc.state, FileState::Unallocated | FileState::Deleted);
            assert_eq!(looks_free, free, "cluster {cluster}: {loc:?}");
            assert!(
                loc.state != FileState::Allocated || loc.inode.is_some(),
                "cluster {cluster} is in use by nobody known: {loc:?}"
            );
            checked.clusters += 1;
        }

        // Every attribute stored in clusters, of every record TSK lists.
        for (&record, stat) in &self.records {
            if record == 0 {
                continue; // The MFT: below.
            }
            let path = self.path_of(record);
            for attribute in stat.attributes.iter().filter(|a| !a.resident) {
                let is_data = attribute.kind == "$DATA";
                let expected_path = match (&path, &attribute.name) {
                    (Some(p), Some(n)) if is_data => Some(format!("{p}:{n}")),
                    (p, _) => p.clone(),
                };
                for (vcn, &cluster) in attribute.clusters.iter().enumerate() {
                    if cluster == 0 && record != 7 {
                        continue; // Sparse.
                    }
                    let offset = cluster * CLUSTER;
                    let loc = map.locate(offset + 1);
                    if !stat.allocated {
                        if self.free[cluster as usize] {
                            assert_eq!(loc.state, FileState::Deleted, "record {record}: {loc:?}");
                            assert_eq!(loc.inode, Some(record), "cluster {cluster}");
                            checked.deleted_clusters += 1;
                        } else {
                            assert_ne!(loc.state, FileState::Deleted, "cluster {cluster}");
                        }
                        continue;
                    }
                    let file_offset = vcn as u64 * CLUSTER;
                    let expected = if record == 2 {
                        FileState::Journal
                    } else if self.system(record) || !is_data {
                        FileState::Metadata
                    } else if attribute.compressed || file_offset < attribute.size {
                        FileState::Allocated
                    } else {
                        FileState::Slack
                    };
                    assert_eq!(
                        loc.state, expected,
                        "record {record} {attribute:?}: {loc:?}"
                    );
                    assert_eq!(loc.inode, Some(record), "cluster {cluster}");
                    assert_eq!(loc.path, expected_path, "cluster {cluster}");
                    match expected {
                        FileState::Journal => checked.journal_clusters += 1,
                        FileState::Metadata if attribute.kind == "$INDEX_ALLOCATION" => {
                            checked.index_clusters += 1
                        }
                        FileState::Allocated if attribute.compressed => {
                            checked.compressed_clusters += 1
                        }
                        FileState::Allocated => checked.file_clusters += 1,
                        _ => {}
                    }
                    // The last cluster's tail, past the size: slack.
                    let tail = attribute.size % CLUSTER;
                    let last = attribute.size.div_ceil(CLUSTER) - 1;
                    if expected == FileState::Allocated
                        && !attribute.compressed
                        && vcn as u64 == last
                        && tail != 0
                    {
                        let loc = map.locate(offset + tail);
                        assert_eq!(loc.state, FileState::Slack, "record {record}");
                        assert_eq!(map.locate(offset + tail - 1).state, FileState::Allocated);
                        checked.slack_tails += 1;
                    }
                }
            }
            // A deleted record's old name, from its $FILE_NAME.
            if !stat.allocated && !stat.names.is_empty() {
                let (name, parent) = &stat.names[stat.names.len() - 1];
                let got = map.path_of(record);
                if let Some(parent_path) = self.path_of(*parent) {
                    let expected = format!("{}/{name}", parent_path.trim_end_matches('/'));
                    let dos = stat.names.iter().any(|(n, _)| {
                        got.as_deref()
                            == Some(&format!("{}/{n}", parent_path.trim_end_matches('/')))
                    });
                    assert!(
                        got.as_deref() == Some(&expected) || dos,
                        "record {record}: {got:?} vs {expected}"
                    );
                    checked.deleted_named += 1;
                }
            }
        }

        // The MFT: each record's header bytes are metadata of that record; resident values
        // of files are theirs.
        let mft_records = self.records[&0]
            .attributes
            .iter()
            .find(|a| a.kind == "$DATA")
            .unwrap()
            .size
            / RECORD;
        for record in 0..mft_records {
            let at = self.record_offset(record);
            let loc = map.locate(at + 8);
            assert_eq!(loc.state, FileState::Metadata, "record {record}");
            assert_eq!(loc.inode, Some(record), "record {record}");
            checked.mft_records += 1;
            let Some(stat) = self.records.get(&record) else {
                continue;
            };
            let raw = self.read(at, RECORD);
            for attribute in &stat.attributes {
                if attribute.kind != "$DATA"
                    || !attribute.resident
                    || attribute.size < 8
                    || self.system(record)
                {
                    continue;
                }
                let address = format!("{record}-{}", attribute.id);
                let value = icat(&self.image, 0, &address);
                // Where the value lies in the record (verbatim unless a fixup hides a byte).
                let Some(p) = raw.windows(8).position(|w| w == &value[..8]) else {
                    continue;
                };
                let loc = map.locate(at + p as u64);
                let state = if stat.allocated {
                    FileState::Allocated
                } else {
                    FileState::Deleted
                };
                assert_eq!(
                    loc.state, state,
                    "record {record} resident {address}: {loc:?}"
                );
                assert_eq!(loc.inode, Some(record));
                if stat.allocated {
                    let path = self.path_of(record).unwrap();
                    let expected = match &attribute.name {
                        Some(n) => format!("{path}:{n}"),
                        None => path,
                    };
                    assert_eq!(loc.path.as_deref(), Some(expected.as_str()));
                }
                checked.resident_values += 1;
            }
        }

        // ifind on a sample of clusters: every 37th, and the first of a dozen files.
        let mut sample: Vec<u64> = (0..self.free.len() as u64).step_by(37).collect();
        for stat in self.records.values().step_by(5).take(12) {
            for attribute in stat.attributes.iter().filter(|a| !a.resident) {
                sample.extend(attribute.clusters.iter().filter(|&&c| c != 0).take(1));
            }
        }
        sample.sort_unstable();
        sample.dedup();
        for cluster in sample {
            let out = run_stdout(
                "ifind",
                &["-d", &cluster.to_string(), self.image.to_str().unwrap()],
            );
            let loc = map.locate(cluster * CLUSTER);
            match out.trim().split('-').next().unwrap().parse::<u64>() {
                // An MFT cluster: the map names the record the byte is in, checked above.
                Ok(0) => assert!(loc.inode.is_some(), "cluster {cluster}: {loc:?}"),
                Ok(record) if self.free[cluster as usize] => assert!(
                    loc.state == FileState::Unallocated || loc.inode == Some(record),
                    "cluster {cluster}: ifind {record}, {loc:?}"
                ),
                // TSK also names deleted records for clusters reused since.
                Ok(record) if self.records.get(&record).is_some_and(|s| !s.allocated) => {
                    assert!(loc.inode.is_some(), "cluster {cluster}: {loc:?}")
                }
                Ok(record) => assert_eq!(loc.inode, Some(record), "cluster {cluster}: {loc:?}"),
                Err(_) => assert!(
                    loc.inode.is_none() || self.free[cluster as usize],
                    "cluster {cluster}: ifind {}, {loc:?}",
                    out.trim()
                ),
            }
            checked.ifind += 1;
        }
        checked
    }

    fn read(&self, at: u64, len: u64) -> Vec<u8> {
        let mut buf = vec![0u8; len as usize];
        self.disk.read_exact_at(at, &mut buf).unwrap();
        buf
    }

    /// Reads every stream the map lists and compares it with the tree written in (live) or
    /// with `icat` (deleted, and live ones not in the tree). Returns (live, deleted,
    /// compressed, streams, fragmented) counts.
    fn check_contents(&self) -> [usize; 5] {
        let mut counts = [0usize; 5];
        for file in self.map.files() {
            let mut got = Vec::new();
            std::io::Read::read_to_end(&mut file.content.reader(&*self.disk, 0), &mut got).unwrap();
            assert_eq!(got.len() as u64, file.content.size, "{:?}", file.path);
            let path = file.path.clone().unwrap_or_default();
            let stream = path
                .rsplit_once(':')
                .map(|(_, s)| s.to_string())
                .filter(|_| path.len() > 1);
            let stat = &self.records[&file.id];
            let attribute = stat
                .attributes
                .iter()
                .find(|a| a.kind == "$DATA" && a.name == stream)
                .unwrap_or_else(|| panic!("record {} has no stream {stream:?}", file.id));
            let expected = match (file.state, self.tree.live.get(&path)) {
                (FileState::Allocated, Some(bytes)) => bytes.clone(),
                _ => icat(&self.image, 0, &format!("{}-{}", file.id, attribute.id)),
            };
            assert!(got == expected, "{path} (record {}) differs", file.id);
            if file.state == FileState::Deleted {
                counts[1] += 1;
                if let (Some(bytes), true) =
                    (self.tree.deleted.get(&path), path.starts_with("/trash"))
                {
                    assert!(&got == bytes, "{path}");
                }
            } else {
                counts[0] += 1;
            }
            if file
                .content
                .spans
                .iter()
                .any(|s| matches!(s.piece, Piece::Lznt1 { .. }))
            {
                assert!(attribute.compressed, "{path}");
                counts[2] += 1;
            }
            if stream.is_some() {
                counts[3] += 1;
            }
            if !file.content.seams().is_empty() {
                counts[4] += 1;
            }
        }
        counts
    }
}

/// The stream the map lists at `path`.
fn listed(map: &NtfsMap, path: &str) -> snapsift_fs::FileEntry {
    map.files()
        .iter()
        .find(|f| f.path.as_deref() == Some(path))
        .unwrap_or_else(|| panic!("{path} is not listed"))
}

#[test]
fn ntfs_volume_against_the_sleuth_kit() {
    let fixture = fixture(24 << 20, 150);
    let map = &fixture.map;
    assert!(map.notes().is_empty(), "{:?}", map.notes());
    assert_eq!(map.kind(), "ntfs");
    assert_eq!(map.id_name(), "mft_record");
    let checked = fixture.compare();
    eprintln!("{checked:?}");
    assert!(checked.file_clusters > 1000, "{checked:?}");
    assert!(checked.slack_tails > 4, "{checked:?}");
    assert!(checked.compressed_clusters > 5, "{checked:?}");
    assert!(checked.index_clusters > 0, "{checked:?}");
    assert!(checked.deleted_clusters > 50, "{checked:?}");
    assert!(checked.deleted_named > 50, "{checked:?}");
    assert!(checked.journal_clusters > 10, "{checked:?}");
    assert!(checked.mft_records > 300, "{checked:?}");
    assert!(checked.resident_values > 100, "{checked:?}");
    assert!(checked.ifind > 100, "{checked:?}");
    let [live, deleted, compressed, streams, fragmented] = fixture.check_contents();
    eprintln!("{live} {deleted} {compressed} {streams} {fragmented}");
    assert!(live > 300 && deleted > 50 && compressed >= 3 && streams >= 4 && fragmented >= 1);

    // The credentials are resident: their bytes in the MFT record are the file's.
    let record = fixture
        .names
        .iter()
        .find(|n| n.path == "/Users/bob/.aws/credentials")
        .unwrap()
        .record;
    let at = fixture.record_offset(record);
    let raw = fixture.read(at, RECORD);
    let p = raw
        .windows(20)
        .position(|w| w == &CREDENTIALS[..20])
        .unwrap();
    let loc = map.locate(at + p as u64 + 30);
    assert_eq!(loc.state, FileState::Allocated);
    assert_eq!(loc.path.as_deref(), Some("/Users/bob/.aws/credentials"));
    let file = map.files().iter().find(|f| f.id == record).unwrap();
    assert!(
        matches!(&file.content.spans[0].piece, Piece::Held { at: Some(a), .. } if *a == at + p as u64)
    );
    // A 600-byte resident value crosses a stride end: not verbatim on disk.
    let file = listed(map, "/Users/bob/resident-600.bin");
    assert!(
        matches!(&file.content.spans[0].piece, Piece::Held { at: None, .. }),
        "{:?}",
        file.content
    );
    // The fragmented file has seams, the compressed ones no volume range.
    let frag = listed(map, "/frag.bin");
    assert!(frag.content.seams().len() > 3, "{:?}", frag.content);
    let log = listed(map, "/comp/log.txt");
    assert_eq!(log.content.volume_range(0..100), None);
    assert!(!log.content.seams().is_empty());
    // Random data does not compress: stored as it is, it lies on the disk.
    let random = listed(map, "/comp/random.bin");
    assert!(
        random.content.volume_range(0..100).is_some(),
        "{:?}",
        random.content
    );
    // The sparse file reads zeros where it has no clusters.
    let sparse = listed(map, "/sparse.img");
    assert!(sparse.content.spans.iter().any(|s| s.piece == Piece::Zeros));
    // A deleted file: its clusters say so, with its old path.
    let key = fixture
        .names
        .iter()
        .find(|n| n.path == "/trash/old-key.pem");
    let record = match key {
        Some(n) => n.record,
        None => listed(map, "/trash/old-key.pem").id,
    };
    let stat = &fixture
        .records
        .get(&record)
        .cloned()
        .unwrap_or_else(|| istat(&fixture.image, 0, record));
    let cluster = stat
        .attributes
        .iter()
        .find(|a| a.kind == "$DATA")
        .unwrap()
        .clusters[0];
    let loc = map.locate(cluster * CLUSTER + 10);
    assert_eq!(loc.state, FileState::Deleted);
    assert_eq!(loc.path.as_deref(), Some("/trash/old-key.pem"));
    // Free space past the last file.
    let free = fixture.free.iter().rposition(|&f| f).unwrap() as u64;
    assert!(matches!(
        map.locate(free * CLUSTER).state,
        FileState::Unallocated | FileState::Deleted
    ));
    // The boot sector, and bytes past the volume.
    assert_eq!(map.locate(0).state, FileState::Metadata);
    assert_eq!(map.locate(u64::MAX - 1).state, FileState::Unallocated);
}

#[test]
fn ntfs_inside_a_gpt_partition() {
    const MIB: u64 = 1 << 20;
    let dir = workdir();
    let part = dir.path().join("part.img");
    mkntfs(&part, 12 * MIB, Some(CLUSTER as u32));
    let mount = Mount::new(&part, &dir.path().join("mnt"));
    let mut tree = Tree::default();
    tree.put(&mount.dir, "Windows/System32/config/creds.txt", CREDENTIALS);
    tree.put(&mount.dir, "data/blob.bin", &noise(77, 50_000));
    mount.finish();
    let disk_path = dir.path().join("disk.img");
    fs::File::create(&disk_path)
        .unwrap()
        .set_len(20 * MIB)
        .unwrap();
    let d = disk_path.to_str().unwrap();
    run("sgdisk", &["-n", "1:2048:+12M", "-t", "1:0700", d]);
    let start = 2048 * 512;
    let bytes = fs::read(&part).unwrap();
    let disk_file = fs::OpenOptions::new().write(true).open(&disk_path).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&disk_file, &bytes, start).unwrap();
    drop(disk_file);
    let disk = snapsift_disk::open(&disk_path).unwrap();
    let volumes = VolumeMap::read(&*disk).unwrap();
    let volume = volumes
        .volumes
        .iter()
        .find(|v| v.number == Some(1))
        .unwrap();
    assert_eq!(volume.range.start, start);
    let fs = snapsift_fs::open(&*disk, volume)
        .unwrap()
        .expect("NTFS is mapped");
    assert_eq!(fs.kind(), "ntfs");
    assert!(fs.notes().is_empty(), "{:?}", fs.notes());
    let names = fls(&disk_path, 2048);
    let blob = names.iter().find(|n| n.path == "/data/blob.bin").unwrap();
    let stat = istat(&disk_path, 2048, blob.record);
    let data = stat.attributes.iter().find(|a| a.kind == "$DATA").unwrap();
    for &cluster in &data.clusters {
        let loc = fs.locate(cluster * CLUSTER + 7);
        assert_eq!(loc.state, FileState::Allocated);
        assert_eq!(loc.inode, Some(blob.record));
        assert_eq!(loc.path.as_deref(), Some("/data/blob.bin"));
    }
    for file in fs.files() {
        let mut got = Vec::new();
        std::io::Read::read_to_end(&mut file.content.reader(&*disk, start), &mut got).unwrap();
        let path = file.path.as_deref().unwrap();
        assert_eq!(&got, &tree.live[path], "{path}");
    }
    assert_eq!(fs.files().len(), 2);
}

#[test]
fn a_volume_without_ntfs_is_refused() {
    let disk = snapsift_disk::MemoryDisk::new(vec![0u8; 1 << 20]);
    assert!(matches!(
        NtfsMap::build(&disk, 0..1 << 20),
        Err(snapsift_fs::FsError::NotNtfs(_))
    ));
    assert!(NtfsMap::build(&disk, 0..100).is_err());
}

#[test]
fn a_file_with_more_streams_than_its_record_holds_spans_extension_records() {
    let dir = workdir();
    let image = dir.path().join("ntfs.img");
    mkntfs(&image, 8 << 20, Some(CLUSTER as u32));
    let mount = Mount::new(&image, &dir.path().join("mnt"));
    // Forty resident streams of 300 bytes do not fit in one 1 KiB record: ntfs-3g moves
    // attributes to extension records listed by an $ATTRIBUTE_LIST.
    let mut tree = Tree::default();
    tree.put(&mount.dir, "streams.bin", &noise(1, 50_000));
    for i in 0..40 {
        tree.put(
            &mount.dir,
            &format!("streams.bin:s{i:02}"),
            &noise(100 + i, 300),
        );
    }
    mount.finish();

    let disk = snapsift_disk::open(&image).unwrap();
    let map = NtfsMap::build(&*disk, 0..disk.size()).unwrap();
    assert!(map.notes().is_empty(), "{:?}", map.notes());
    let record = fls(&image, 0)
        .iter()
        .find(|n| n.path == "/streams.bin")
        .unwrap()
        .record;
    let stat = istat(&image, 0, record);
    assert!(
        stat.attributes.iter().any(|a| a.kind == "$ATTRIBUTE_LIST"),
        "{stat:?}"
    );
    let listed: Vec<_> = map.files().iter().filter(|f| f.id == record).collect();
    assert_eq!(listed.len(), 41);
    for file in &listed {
        let path = file.path.as_deref().unwrap();
        let mut got = Vec::new();
        std::io::Read::read_to_end(&mut file.content.reader(&*disk, 0), &mut got).unwrap();
        assert!(got == tree.live[path], "{path}");
    }
    // Each stream's bytes, wherever in the MFT they are, are its own.
    let image_bytes = fs::read(&image).unwrap();
    let mut found = 0;
    for i in 0..40 {
        let path = format!("/streams.bin:s{i:02}");
        let value = &tree.live[&path];
        let Some(at) = image_bytes.windows(32).position(|w| w == &value[..32]) else {
            continue;
        };
        let loc = map.locate(at as u64 + 1);
        assert_eq!(loc.state, FileState::Allocated, "{path}");
        assert_eq!(loc.inode, Some(record), "{path}");
        assert_eq!(loc.path.as_deref(), Some(path.as_str()));
        found += 1;
    }
    assert!(found >= 30, "{found}");
    let data = stat
        .attributes
        .iter()
        .find(|a| a.kind == "$DATA" && a.name.is_none())
        .unwrap();
    let loc = map.locate(data.clusters[0] * CLUSTER);
    assert_eq!(loc.path.as_deref(), Some("/streams.bin"));
}
