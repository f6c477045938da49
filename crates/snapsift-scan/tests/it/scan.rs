//! The scan driver over disks that exercise its paths: windows read by each worker or ahead
//! of them, declared holes, failing reads, stretches a disk lists as lost, and failing sinks.

use std::io;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use snapsift_disk::{DataMap, Disk, DiskError, MemoryDisk};
use snapsift_match::{Matcher, RuleSet};
use snapsift_scan::{Collect, Finding, ScanConfig, ScanError, Sink, Unreadable, scan};

fn matcher() -> Matcher {
    Matcher::new(&RuleSet::builtin().unwrap()).unwrap()
}

const KEY: &[u8] = b"AKIAQ2W3E4R5T6Y7U2I3";

fn disk_with_keys(size: usize, offsets: &[usize]) -> Vec<u8> {
    let mut bytes = vec![0u8; size];
    for &at in offsets {
        bytes[at..at + KEY.len()].copy_from_slice(KEY);
    }
    bytes
}

fn config(chunk_size: u64) -> ScanConfig {
    ScanConfig {
        chunk_size,
        threads: 2,
        only: None,
    }
}

#[test]
fn copied_windows_find_what_they_should() {
    let matcher = matcher();
    let offsets = [0, 4090, 65_530, 1_000_000 - KEY.len()];
    let disk = MemoryDisk::new(disk_with_keys(1_000_000, &offsets));
    let mut sink = Collect::default();
    let summary = scan(&disk, &matcher, &config(4096), &mut sink).unwrap();
    let found: Vec<u64> = sink.findings.iter().map(|f| f.offset).collect();
    assert_eq!(found, offsets.map(|o| o as u64));
    assert_eq!(summary.findings, 4);
    assert_eq!(summary.scanned_bytes, 1_000_000);
    assert_eq!(summary.data_bytes, 1_000_000);
}

#[test]
fn only_data_ranges_are_scanned_and_context_crosses_holes() {
    let matcher = matcher();
    // The key starts in a data range and ends in a hole's first bytes would be impossible
    // (holes are zero); here it ends exactly where the data range does.
    let bytes = disk_with_keys(10 << 20, &[(3 << 20) - KEY.len(), 7 << 20]);
    let disk =
        MemoryDisk::new(bytes).with_data_ranges(vec![(2 << 20)..(3 << 20), (7 << 20)..(8 << 20)]);
    let mut sink = Collect::default();
    let summary = scan(&disk, &matcher, &config(1 << 20), &mut sink).unwrap();
    assert_eq!(summary.data_bytes, 2 << 20);
    assert_eq!(summary.scanned_bytes, 2 << 20);
    assert_eq!(sink.findings.len(), 2);
}

/// A disk whose reads fail inside one range, as a bad sector would.
#[derive(Debug)]
struct FailingDisk {
    inner: MemoryDisk,
    bad: Range<u64>,
}

impl Disk for FailingDisk {
    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        let end = offset + buf.len() as u64;
        if offset < self.bad.end && self.bad.start < end {
            return Err(DiskError::Read {
                offset,
                len: buf.len(),
                source: io::Error::from_raw_os_error(5),
            });
        }
        self.inner.read_exact_at(offset, buf)
    }

    fn kind(&self) -> &'static str {
        "failing disk"
    }
}

/// Scans a disk with a bad sector at 5 MiB and keys around it (one inside the bad block) and
/// checks that the scan reads around it: everything but the bad block is searched, the block
/// is listed, and no key outside it is lost.
fn assert_reads_around_a_bad_sector(wrap: impl Fn(FailingDisk) -> Box<dyn Disk>) {
    let matcher = matcher();
    let bad_block = (5 << 20)..(5 << 20) + 4096;
    // Keys: far before, just before the bad block (straddling into it is lost: see below),
    // inside it, just after it, at the next chunk boundary, and far after.
    let keys = [
        100,
        (5 << 20) - 40,
        (5 << 20) + 2000,
        (5 << 20) + 4096,
        6 << 20,
        7 << 20,
    ];
    for chunk in [1 << 20, 3 << 20, 8 << 20] {
        let disk = wrap(FailingDisk {
            inner: MemoryDisk::new(disk_with_keys(8 << 20, &keys)),
            bad: (5 << 20) + 700..(5 << 20) + 701,
        });
        let mut sink = Collect::default();
        let summary = scan(&*disk, &matcher, &config(chunk), &mut sink).unwrap();
        let found: Vec<u64> = sink.findings.iter().map(|f| f.offset).collect();
        assert_eq!(
            found,
            vec![100, (5 << 20) - 40, (5 << 20) + 4096, 6 << 20, 7 << 20],
            "chunk size {chunk}: every key but the one in the bad block"
        );
        assert_eq!(summary.unreadable.len(), 1, "chunk size {chunk}");
        assert_eq!(summary.unreadable[0].range, bad_block, "chunk size {chunk}");
        assert!(
            summary.unreadable[0].reason.contains("os error 5"),
            "{:?}",
            summary.unreadable[0]
        );
        assert_eq!(summary.data_bytes, 8 << 20);
        assert_eq!(summary.scanned_bytes, (8 << 20) - 4096);
        assert_eq!(summary.unreadable_bytes(), 4096);
    }
}

#[test]
fn a_failing_read_is_read_around_and_listed() {
    assert_reads_around_a_bad_sector(|disk| Box::new(disk));
}

#[test]
fn a_failing_read_ahead_is_read_around_and_listed() {
    assert_reads_around_a_bad_sector(|disk| Box::new(Sequential(disk)));
}

/// A sink that cannot write, as a full disk would.
struct BrokenSink;

impl<'m> Sink<'m> for BrokenSink {
    fn finding(&mut self, _: Finding<'m>) -> io::Result<()> {
        Err(io::Error::from_raw_os_error(28))
    }
}

#[test]
fn a_failing_sink_stops_the_scan() {
    let matcher = matcher();
    let disk = MemoryDisk::new(disk_with_keys(64 << 20, &[100, 50 << 20]));
    let error = scan(&disk, &matcher, &config(1 << 20), &mut BrokenSink).unwrap_err();
    assert!(
        matches!(error, ScanError::Sink(ref e) if e.raw_os_error() == Some(28)),
        "{error:?}"
    );
}

/// A disk read best front to back, as a block device is: the scan reads its windows in order
/// on a thread of its own, ahead of the workers.
#[derive(Debug)]
struct Sequential<D>(D);

impl<D: Disk> Disk for Sequential<D> {
    fn size(&self) -> u64 {
        self.0.size()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        self.0.read_exact_at(offset, buf)
    }

    fn data_ranges(&self) -> Result<Vec<Range<u64>>, DiskError> {
        self.0.data_ranges()
    }

    fn data_map(&self) -> Result<DataMap, DiskError> {
        self.0.data_map()
    }

    fn sequential(&self) -> bool {
        true
    }

    fn kind(&self) -> &'static str {
        "sequential disk"
    }
}

#[test]
fn windows_read_ahead_in_order_find_what_each_worker_finds() {
    let matcher = matcher();
    let offsets: Vec<usize> = (0..200).map(|i| i * 49_999 + i % 7).collect();
    let bytes = disk_with_keys(10_000_000, &offsets);
    let ranges = vec![0..3_000_000, 3_100_000..10_000_000];
    let in_data = offsets
        .iter()
        .filter(|&&o| ranges.iter().any(|r| r.contains(&(o as u64))))
        .count();
    assert!(in_data < offsets.len());
    for chunk in [4096, 100_000, 1 << 20, 16 << 20] {
        let plain = MemoryDisk::new(bytes.clone()).with_data_ranges(ranges.clone());
        let mut expected = Collect::default();
        let summary = scan(&plain, &matcher, &config(chunk), &mut expected).unwrap();
        let mut found = Collect::default();
        let ahead = scan(&Sequential(plain), &matcher, &config(chunk), &mut found).unwrap();
        assert_eq!(ahead, summary, "chunk size {chunk}");
        let offsets = |c: &Collect| c.findings.iter().map(|f| f.offset).collect::<Vec<_>>();
        assert_eq!(offsets(&found), offsets(&expected), "chunk size {chunk}");
        assert_eq!(summary.findings as usize, in_data, "chunk size {chunk}");
    }
}

#[test]
fn a_failing_sink_stops_a_scan_that_reads_ahead() {
    let matcher = matcher();
    let disk = Sequential(MemoryDisk::new(disk_with_keys(64 << 20, &[100, 50 << 20])));
    let error = scan(&disk, &matcher, &config(1 << 20), &mut BrokenSink).unwrap_err();
    assert!(
        matches!(error, ScanError::Sink(ref e) if e.raw_os_error() == Some(28)),
        "{error:?}"
    );
}

/// A disk whose data map lists `lost` as unreadable (a lost table of an image), whose reads
/// fail there, and which counts the reads that touch it.
#[derive(Debug)]
struct DamagedDisk {
    inner: MemoryDisk,
    lost: Range<u64>,
    lost_reads: Arc<AtomicU64>,
}

impl Disk for DamagedDisk {
    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        let end = offset + buf.len() as u64;
        if offset < self.lost.end && self.lost.start < end {
            self.lost_reads.fetch_add(1, Ordering::Relaxed);
            return Err(DiskError::InvalidRange { start: offset, end });
        }
        self.inner.read_exact_at(offset, buf)
    }

    fn data_map(&self) -> Result<DataMap, DiskError> {
        Ok(DataMap {
            data: vec![0..self.size()],
            unreadable: vec![Unreadable {
                range: self.lost.clone(),
                reason: "the table for it is lost".into(),
            }],
        })
    }

    fn kind(&self) -> &'static str {
        "damaged disk"
    }
}

/// Scans a disk whose map lists 2..6 MiB as lost and checks that the stretch is listed with
/// its reason and never read (not even by the windows of its neighbours, which reach into it;
/// reading around 4 MiB that fail takes over two thousand reads), and that every key outside
/// it is found.
fn assert_lists_a_lost_stretch(wrap: impl Fn(DamagedDisk) -> Box<dyn Disk>) {
    let matcher = matcher();
    let keys = [100, (2 << 20) - 40, 3 << 20, 6 << 20, 7 << 20];
    for chunk in [1 << 20, 3 << 20] {
        let lost_reads = Arc::new(AtomicU64::new(0));
        let disk = wrap(DamagedDisk {
            inner: MemoryDisk::new(disk_with_keys(8 << 20, &keys)),
            lost: (2 << 20)..(6 << 20),
            lost_reads: lost_reads.clone(),
        });
        let mut sink = Collect::default();
        let summary = scan(&*disk, &matcher, &config(chunk), &mut sink).unwrap();
        let found: Vec<u64> = sink.findings.iter().map(|f| f.offset).collect();
        assert_eq!(
            found,
            vec![100, (2 << 20) - 40, 6 << 20, 7 << 20],
            "chunk {chunk}"
        );
        assert_eq!(summary.unreadable.len(), 1, "{:?}", summary.unreadable);
        assert_eq!(summary.unreadable[0].range, (2 << 20)..(6 << 20));
        assert_eq!(summary.unreadable[0].reason, "the table for it is lost");
        assert_eq!(summary.data_bytes, 8 << 20);
        assert_eq!(summary.scanned_bytes, 4 << 20);
        let reads = lost_reads.load(Ordering::Relaxed);
        assert!(
            reads < 100,
            "chunk {chunk}: {reads} reads touched the lost stretch"
        );
    }
}

#[test]
fn a_stretch_the_disk_lists_as_lost_is_listed_not_read() {
    assert_lists_a_lost_stretch(|disk| Box::new(disk));
}

#[test]
fn a_stretch_the_disk_lists_as_lost_is_listed_not_read_ahead() {
    assert_lists_a_lost_stretch(|disk| Box::new(Sequential(disk)));
}
