//! Reading a disk the way the byte sweep does, and checking the [`Disk`] contract on the way.

use std::ops::Range;

use snapsift_disk::Disk;

use crate::READ_BUDGET;

/// The sweep reads in windows this large (its chunks are 8 MiB; smaller keeps inputs fast).
const WINDOW: u64 = 1 << 20;
/// How many ranges get their tail and the gap after them read once the budget is spent.
const MAX_RANGES_PROBED: usize = 4096;
/// Bytes read at each range's end and at each gap's start.
const PROBE: u64 = 4096;

/// Lists `disk`'s data map and reads its data ranges front to back through [`Disk::window`],
/// as the sweep does, up to [`READ_BUDGET`]; then the last bytes of every range and the first
/// bytes of every gap, where tables run out, and the first bytes of every stretch the map
/// lists as unreadable (a damaged table, a file cut short).
///
/// Panics where the disk breaks its contract: ranges unsorted, overlapping or past the disk's
/// size, a window of the wrong length, a gap between data ranges that does not read as zeros,
/// an unreadable stretch outside the data ranges or that reads, `data_ranges` and the map
/// disagreeing, or a read past the end that does not fail.
pub fn sweep(disk: &dyn Disk) {
    let size = disk.size();
    let Ok(map) = disk.data_map() else {
        return;
    };
    let ranges = map.data;
    check_ranges(&ranges, size);
    let lost: Vec<Range<u64>> = map.unreadable.iter().map(|u| u.range.clone()).collect();
    check_ranges(&lost, size);
    for stretch in &lost {
        assert!(
            ranges
                .iter()
                .any(|r| r.start <= stretch.start && stretch.end <= r.end),
            "unreadable {stretch:?} lies outside the data ranges {ranges:?}"
        );
        let mut probe = vec![0u8; (stretch.end - stretch.start).min(512) as usize];
        assert!(
            disk.read_exact_at(stretch.start, &mut probe).is_err(),
            "unreadable {stretch:?} reads"
        );
    }
    if let Ok(listed) = disk.data_ranges() {
        assert_eq!(listed, ranges, "data_ranges and data_map disagree");
    }
    let mut buf = Vec::new();
    let mut budget = READ_BUDGET;
    'ranges: for range in &ranges {
        let mut pos = range.start;
        while pos < range.end {
            if budget == 0 {
                break 'ranges;
            }
            let len = (range.end - pos).min(WINDOW).min(budget);
            match disk.window(pos..pos + len, &mut buf) {
                Ok(window) => assert_eq!(window.len() as u64, len, "window at {pos}"),
                // An error is an answer; the sweep reports it and goes on to the next range.
                Err(_) => break,
            }
            budget -= len;
            pos += len;
        }
    }
    for (i, range) in ranges.iter().enumerate().take(MAX_RANGES_PROBED) {
        let tail = range.end - (range.end - range.start).min(PROBE);
        let _ = disk.window(tail..range.end, &mut buf);
        let gap_end = ranges.get(i + 1).map_or(size, |next| next.start);
        check_zeros(
            disk,
            range.end..gap_end.min(range.end.saturating_add(PROBE)),
        );
    }
    if let Some(first) = ranges.first() {
        check_zeros(disk, 0..first.start.min(PROBE));
    }
    let mut sector = [0u8; 512];
    assert!(
        disk.read_exact_at(size, &mut sector).is_err(),
        "a read past the end of a disk of {size} bytes succeeded"
    );
    if let Some(last) = size.checked_sub(512) {
        let _ = disk.read_exact_at(last, &mut sector);
    }
}

/// Data ranges are sorted, non-empty, non-overlapping and within the disk.
fn check_ranges(ranges: &[Range<u64>], size: u64) {
    let mut end = 0;
    for range in ranges {
        assert!(
            range.start >= end && range.start < range.end && range.end <= size,
            "data range {range:?} after {end} on a disk of {size} bytes"
        );
        end = range.end;
    }
}

/// Bytes outside the data ranges read as zeros (or the read fails, which the sweep reports).
fn check_zeros(disk: &dyn Disk, gap: Range<u64>) {
    if gap.is_empty() {
        return;
    }
    let mut buf = vec![0u8; (gap.end - gap.start) as usize];
    if disk.read_exact_at(gap.start, &mut buf).is_ok() {
        assert!(
            buf.iter().all(|&b| b == 0),
            "bytes in {gap:?}, outside every data range, are not zero"
        );
    }
}

/// Opens the image `data` holds (see [`crate::image`]) with [`snapsift_disk::open_with`] if its
/// first file is of the format `is_format` recognises, then does what a scan does: sweeps
/// it ([`sweep`]) and walks its volumes and filesystems ([`crate::filesystem::volumes`]).
pub fn open_and_scan(data: &[u8], is_format: fn(&[u8]) -> bool) {
    if !is_format(crate::image::first(data)) {
        return;
    }
    let Some(path) = crate::image::write(data) else {
        return;
    };
    let Ok(disk) = snapsift_disk::open_with(&path, crate::image::references()) else {
        return;
    };
    sweep(&*disk);
    crate::filesystem::volumes(&*disk);
}

/// Opens `data`, written to a file, with [`snapsift_disk::open_image`] and, when it is a
/// compressed stream (zstd or gzip), reads the decompressed disk front to back, as the scan
/// does, up to [`READ_BUDGET`]. An error is an answer; a panic or a stream that claims more
/// bytes than asked for is not.
pub fn open_and_stream(data: &[u8]) {
    use std::io::Read;

    let first = crate::image::first(data);
    if !(first.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) || first.starts_with(&[0x1f, 0x8b])) {
        return;
    }
    let Some(path) = crate::image::write(data) else {
        return;
    };
    let Ok(snapsift_disk::Image::Stream(mut stream)) = snapsift_disk::open_image(&path) else {
        return;
    };
    let mut buf = vec![0u8; 1 << 20];
    let mut budget = READ_BUDGET;
    while budget > 0 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                assert!(n <= buf.len(), "a read of {} bytes returned {n}", buf.len());
                budget = budget.saturating_sub(n as u64);
            }
        }
    }
}
