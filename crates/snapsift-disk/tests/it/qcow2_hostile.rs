//! Hostile qcow2 images: real images from `qemu-img` and `qemu-io` with their tables patched to
//! point past the disk or the file, at each other, at metadata, with a virtual size of 2^63,
//! and with compressed clusters that inflate past their size. Each gives a clear error or
//! reads as QEMU reads it; none panics, loops or allocates what the file does not hold.

use std::io::Write;
use std::path::{Path, PathBuf};

use snapsift_disk::DiskError;
use snapsift_testkit::{qemu_img, qemu_io, workdir};

use crate::common::*;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
/// The cluster size of every image here (qemu-img's default).
const CLUSTER: u64 = 64 * KIB;
/// Bits 9-55 of an L1 or L2 entry: the offset in the file.
const OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
/// Bit 62 of an L2 entry: the cluster is compressed.
const COMPRESSED: u64 = 1 << 62;

/// A qcow2 image of `size` made by `qemu-img create`, with `writes` done by `qemu-io`.
fn image(dir: &Path, name: &str, size: &str, writes: &[&str]) -> PathBuf {
    let path = dir.join(name);
    qemu_img(&["create", "-q", "-f", "qcow2", path.to_str().unwrap(), size]);
    qemu_io(&path, "qcow2", writes);
    path
}

/// An image's bytes, to patch its tables.
struct Tables {
    bytes: Vec<u8>,
}

impl Tables {
    fn read(path: &Path) -> Tables {
        Tables {
            bytes: std::fs::read(path).unwrap(),
        }
    }

    fn get(&self, at: u64) -> u64 {
        let at = at as usize;
        u64::from_be_bytes(self.bytes[at..at + 8].try_into().unwrap())
    }

    fn set(&mut self, at: u64, value: u64) {
        let at = at as usize;
        self.bytes[at..at + 8].copy_from_slice(&value.to_be_bytes());
    }

    /// Where L1 entry `index` is.
    fn l1_entry(&self, index: u64) -> u64 {
        self.get(40) + 8 * index
    }

    /// Where entry `index` of the L2 table L1 entry `l1` names is.
    fn l2_entry(&self, l1: u64, index: u64) -> u64 {
        (self.get(self.l1_entry(l1)) & OFFSET_MASK) + 8 * index
    }

    fn write(&self, path: &Path) {
        std::fs::write(path, &self.bytes).unwrap();
    }
}

/// Found by the `qcow2` fuzz target: an L2 table covers more clusters than a small disk has,
/// and entries past the disk's end that name data clusters made data ranges reach past it.
#[test]
fn l2_entries_past_the_virtual_size_are_not_data() {
    let dir = workdir();
    let path = image(dir.path(), "small.qcow2", "2M", &["write -P 0x5a 0 64k"]);
    let mut tables = Tables::read(&path);
    let data = tables.get(tables.l2_entry(0, 0));
    // The disk has 32 clusters; its L2 table has room for 8192.
    for index in [32, 33, 4000, 8191] {
        tables.set(tables.l2_entry(0, index), data);
    }
    tables.write(&path);
    let disk = snapsift_disk::open(&path).unwrap();
    assert_eq!(disk.data_ranges().unwrap(), vec![0..CLUSTER]);
    assert_like_qemu(&path, dir.path());
}

#[test]
fn l1_and_l2_entries_past_the_end_of_the_file_lose_their_stretch_only() {
    let dir = workdir();
    let writes = ["write -P 0x5a 0 64k", "write -P 0x5b 64k 64k"];
    let path = image(dir.path(), "far.qcow2", "2M", &writes);
    let clean = Tables::read(&path);

    // The second cluster's data lies 1 GiB past the end of a file of a few hundred KiB.
    let mut tables = Tables::read(&path);
    tables.set(tables.l2_entry(0, 1), 1 << 30);
    tables.write(&path);
    let disk = snapsift_disk::open(&path).unwrap();
    assert_eq!(disk.data_ranges().unwrap(), vec![0..2 * CLUSTER]);
    let map = disk.data_map().unwrap();
    assert_eq!(map.data, vec![0..2 * CLUSTER]);
    assert_eq!(map.unreadable.len(), 1, "{map:?}");
    assert_eq!(map.unreadable[0].range, CLUSTER..2 * CLUSTER);
    assert!(map.unreadable[0].reason.contains("truncated"), "{map:?}");
    let mut first = vec![0u8; CLUSTER as usize];
    disk.read_exact_at(0, &mut first).unwrap();
    assert!(first.iter().all(|&b| b == 0x5a));
    let error = disk.read_exact_at(CLUSTER, &mut first).unwrap_err();
    assert!(matches!(error, DiskError::Truncated { .. }), "{error}");
    assert!(error.to_string().contains("far.qcow2"), "{error}");

    // The L2 table itself lies past the end of the file.
    let mut tables = clean;
    tables.set(tables.l1_entry(0), 1 << 30);
    tables.write(&path);
    let disk = snapsift_disk::open(&path).unwrap();
    let map = disk.data_map().unwrap();
    assert_eq!(map.data, vec![0..2 << 20]);
    assert_eq!(map.unreadable.len(), 1, "{map:?}");
    assert_eq!(map.unreadable[0].range, 0..2 << 20);
    let reason = &map.unreadable[0].reason;
    assert!(
        reason.contains("L2 table") && reason.contains("truncated"),
        "{reason}"
    );
    let error = disk.read_exact_at(0, &mut first).unwrap_err();
    assert!(matches!(error, DiskError::Truncated { .. }), "{error}");
}

/// Found by the `qcow2` fuzz target: an L2 table cut off with the end of the file lost its
/// whole stretch in the data map, while reads of the clusters whose entries were still there
/// worked. Only the clusters whose entries are past the end are lost.
#[test]
fn an_l2_table_cut_by_the_end_of_the_file_loses_only_the_entries_past_it() {
    let dir = workdir();
    let writes = ["write -P 0x5a 0 128k", "write -P 0x5b 1M 64k"];
    let path = image(dir.path(), "cut.qcow2", "2M", &writes);
    // The table's first 8 entries, moved to a cluster of their own at the end of the file,
    // where the file now ends.
    let mut tables = Tables::read(&path);
    let entries: Vec<u64> = (0..8).map(|i| tables.get(tables.l2_entry(0, i))).collect();
    let moved = (tables.bytes.len() as u64).next_multiple_of(CLUSTER);
    tables.bytes.resize(moved as usize + 64, 0);
    let l1 = tables.l1_entry(0);
    tables.set(l1, moved | (tables.get(l1) & !OFFSET_MASK));
    for (i, entry) in entries.iter().enumerate() {
        tables.set(moved + 8 * i as u64, *entry);
    }
    tables.write(&path);
    let disk = snapsift_disk::open(&path).unwrap();
    let map = disk.data_map().unwrap();
    assert_eq!(map.unreadable.len(), 1, "{map:?}");
    assert_eq!(map.unreadable[0].range, 8 * CLUSTER..2 * MIB);
    assert!(map.unreadable[0].reason.contains("truncated"), "{map:?}");
    let mut cluster = vec![0u8; CLUSTER as usize];
    disk.read_exact_at(CLUSTER, &mut cluster).unwrap();
    assert!(cluster.iter().all(|&b| b == 0x5a), "entry 1 is there");
    let error = disk.read_exact_at(MIB, &mut cluster).unwrap_err();
    assert!(matches!(error, DiskError::Truncated { .. }), "{error}");
}

#[test]
fn an_l2_table_named_by_two_l1_entries_is_a_loop() {
    let dir = workdir();
    // 512 MiB per L2 table: data at 0 and at 600 MiB makes two tables.
    let writes = ["write -P 0x5a 0 64k", "write -P 0x5b 600M 64k"];
    let path = image(dir.path(), "loop.qcow2", "2G", &writes);
    let mut tables = Tables::read(&path);
    let first = tables.get(tables.l1_entry(0));
    tables.set(tables.l1_entry(1), first);
    tables.write(&path);
    let error = snapsift_disk::open(&path).unwrap_err();
    assert!(matches!(error, DiskError::Corrupt { .. }), "{error}");
    assert!(error.to_string().contains("L1 entries 0 and 1"), "{error}");

    // The attack it stops: a 1 TiB disk whose 2048 L1 entries all name one table of 8192
    // entries that all name one data cluster, 1 TiB of data to read from a file of 300 KiB.
    let path = image(dir.path(), "square.qcow2", "1T", &["write -P 0x5a 0 64k"]);
    let mut tables = Tables::read(&path);
    let table = tables.get(tables.l1_entry(0));
    let data = tables.get(tables.l2_entry(0, 0));
    for index in 0..8192 {
        tables.set(tables.l2_entry(0, index), data);
    }
    for index in 0..2048 {
        tables.set(tables.l1_entry(index), table);
    }
    tables.write(&path);
    let error = snapsift_disk::open(&path).unwrap_err();
    assert!(error.to_string().contains("a loop of tables"), "{error}");
}

/// Data entries naming the L2 table's own cluster, the L1 table's, the header's, or a data
/// cluster another entry names too: QEMU reads those bytes as the guest's; so does snapsift.
#[test]
fn data_clusters_shared_or_on_metadata_read_like_qemu() {
    let dir = workdir();
    let writes = ["write -P 0x5a 0 64k", "write -P 0x5b 64k 64k"];
    let path = image(dir.path(), "meta.qcow2", "4M", &writes);
    let mut tables = Tables::read(&path);
    let l2 = tables.get(tables.l1_entry(0)) & OFFSET_MASK;
    let l1 = tables.get(40);
    let shared = tables.get(tables.l2_entry(0, 0));
    let flags = shared & !OFFSET_MASK;
    tables.set(tables.l2_entry(0, 2), l2 | flags);
    tables.set(tables.l2_entry(0, 3), l1 | flags);
    tables.set(tables.l2_entry(0, 4), flags);
    tables.set(tables.l2_entry(0, 5), shared);
    tables.set(tables.l2_entry(0, 6), shared);
    tables.write(&path);
    // Entry 4 has the allocated flag but offset 0: unallocated, as QEMU reads it.
    let disk = snapsift_disk::open(&path).unwrap();
    let ranges = disk.data_ranges().unwrap();
    assert_eq!(ranges, vec![0..4 * CLUSTER, 5 * CLUSTER..7 * CLUSTER]);
    assert_like_qemu(&path, dir.path());
}

#[test]
fn a_virtual_size_of_2_to_the_63_is_refused_clearly() {
    let dir = workdir();
    let path = image(dir.path(), "huge.qcow2", "2M", &["write -P 0x5a 0 64k"]);
    let clean = Tables::read(&path);
    // The size field alone: the L1 table is far too small for it.
    for size in [1u64 << 63, u64::MAX] {
        let mut tables = Tables::read(&path);
        tables.set(24, size);
        tables.write(&path);
        let error = snapsift_disk::open(&path).unwrap_err();
        assert!(matches!(error, DiskError::Corrupt { .. }), "{error}");
        assert!(
            error
                .to_string()
                .contains(&format!("virtual size of {size} bytes")),
            "{error}"
        );
    }
    // An L1 table of 2^32 - 1 entries (32 GiB), for a disk of 1 TiB: never allocated.
    let mut tables = clean;
    tables.set(24, 1 << 40);
    let fields = tables.get(32);
    tables.set(32, fields | 0xffff_ffff);
    tables.write(&path);
    let error = snapsift_disk::open(&path).unwrap_err();
    assert!(matches!(error, DiskError::Unsupported { .. }), "{error}");
    assert!(error.to_string().contains("larger than"), "{error}");
}

/// What `len` bytes of a stream that inflates to 16 MiB decode to: a repeating text.
fn bomb_text() -> Vec<u8> {
    b"0123456789abcdef0123456789ABCDEF-"
        .iter()
        .copied()
        .cycle()
        .take(16 * MIB as usize)
        .collect()
}

/// `raw` converted by `qemu-img convert -c` (with `options`) to `name` beside it, its first
/// cluster then replaced by `stream` ([`plant_compressed`]).
fn with_compressed_cluster(raw: &Path, name: &str, options: &[&str], stream: &[u8]) -> PathBuf {
    let path = raw.with_file_name(name);
    let mut args = vec!["convert", "-q", "-c", "-O", "qcow2"];
    args.extend(options);
    args.extend([raw.to_str().unwrap(), path.to_str().unwrap()]);
    qemu_img(&args);
    let mut tables = Tables::read(&path);
    plant_compressed(&mut tables, stream);
    tables.write(&path);
    path
}

/// Appends `stream` at a sector boundary past the end of `tables` and points L2 entry 0 at
/// it as a compressed cluster.
fn plant_compressed(tables: &mut Tables, stream: &[u8]) {
    let offset = tables.bytes.len().next_multiple_of(512) as u64;
    tables.bytes.resize(offset as usize, 0);
    tables.bytes.extend_from_slice(stream);
    let sectors = (stream.len() as u64).div_ceil(512);
    // 64 KiB clusters: the offset takes 54 bits, the sector count beyond the first the rest.
    assert!(sectors <= 256, "the stream must fit in two clusters");
    let entry = COMPRESSED | ((sectors - 1) << 54) | offset;
    let at = tables.l2_entry(0, 0);
    tables.set(at, entry);
}

#[test]
fn compressed_clusters_that_inflate_past_a_cluster_stop_at_it() {
    let dir = workdir();
    let raw = raw_disk(dir.path(), "disk.raw", 2 * MIB, 5);
    let text = bomb_text();

    // deflate: QEMU reads the first cluster's worth of the stream; so does snapsift.
    let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    deflate.write_all(&text).unwrap();
    let path = with_compressed_cluster(&raw, "deflate.qcow2", &[], &deflate.finish().unwrap());
    assert_like_qemu(&path, dir.path());
    let disk = snapsift_disk::open(&path).unwrap();
    let mut cluster = vec![0u8; CLUSTER as usize];
    disk.read_exact_at(0, &mut cluster).unwrap();
    assert_same_bytes(&cluster, &text[..CLUSTER as usize], "the first cluster");

    // zstd: QEMU refuses a frame that goes on past the cluster; snapsift reads the cluster's
    // worth of it, and never more.
    let zstd_frame = zstd::encode_all(&text[..], 19).unwrap();
    let options = ["-o", "compression_type=zstd"];
    let path = with_compressed_cluster(&raw, "zstd.qcow2", &options, &zstd_frame);
    let disk = snapsift_disk::open(&path).unwrap();
    disk.read_exact_at(0, &mut cluster).unwrap();
    assert_same_bytes(&cluster, &text[..CLUSTER as usize], "the first cluster");
    let mut rest = vec![0u8; (2 * MIB - CLUSTER) as usize];
    disk.read_exact_at(CLUSTER, &mut rest).unwrap();
    let expected = std::fs::read(&raw).unwrap();
    assert_same_bytes(&rest, &expected[CLUSTER as usize..], "the other clusters");
}
