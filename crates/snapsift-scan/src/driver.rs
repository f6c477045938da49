//! The parallel scan of one disk: workers search chunks in disk order, the calling thread puts
//! their findings back in order and hands them to the sink.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;

use snapsift_disk::Disk;
use snapsift_match::Matcher;

use crate::deliver::{ChunkDone, ChunkScan, deliver};
use crate::plan::{self, Chunk, Plan};
use crate::salvage;
use crate::window::{WindowScanner, overlap};
use crate::{ScanConfig, ScanError, ScanSummary, Sink, ahead};

/// Scans every data range of `disk` with `matcher` and hands each finding to `sink`, in disk
/// order, exactly once.
///
/// Chunks are searched on `config.threads` threads of a `rayon` pool. Each thread reads its
/// own chunks, except on a disk read best front to back ([`Disk::sequential`], an attached
/// device), where one more thread reads the chunks in order ahead of them. Findings, not disk
/// bytes, travel to the calling thread, so memory stays bounded by a few windows per thread
/// whatever the size of the disk. Stretches the disk lists as unreadable
/// ([`Disk::data_map`]) are not read; other bytes that cannot be read are read around; both
/// are listed in the summary ([`ScanSummary::unreadable`]); the first other error (the data ranges cannot
/// be listed, a sink that cannot write) stops the scan: chunks already handed out finish, no
/// new ones start.
pub fn scan<'m>(
    disk: &dyn Disk,
    matcher: &'m Matcher,
    config: &ScanConfig,
    sink: &mut dyn Sink<'m>,
) -> Result<ScanSummary, ScanError> {
    let map = disk.data_map()?;
    let mut data_ranges = map.data;
    // What the disk knows it cannot read is listed, not read: only the rest is planned, and
    // windows that reach into it read around it.
    let lost_ranges: Vec<_> = map.unreadable.iter().map(|u| u.range.clone()).collect();
    let mut lost = map.unreadable;
    if let Some(only) = &config.only {
        data_ranges = plan::intersect(&data_ranges, only);
        lost = salvage::clip_to(lost, only);
    }
    let plan = Plan::new(
        &plan::intersect(&data_ranges, &plan::gaps(&lost_ranges, disk.size())),
        disk.size(),
        config.chunk_size,
        overlap(matcher),
    );
    let mut summary = ScanSummary {
        disk_size: disk.size(),
        data_bytes: data_ranges
            .iter()
            .map(|r| r.end.saturating_sub(r.start))
            .sum(),
        scanned_bytes: 0,
        findings: 0,
        unreadable: Vec::new(),
    };
    sink.begin(summary.data_bytes);
    let pool = config.pool()?;
    let stop = AtomicBool::new(false);
    // Bounded, so workers wait for a slow sink. Results that arrive out of order wait in
    // `deliver` for their turn; they hold findings, never disk bytes.
    let (results, received) =
        mpsc::sync_channel::<ChunkDone<'m>>(pool.current_num_threads().saturating_mul(2));
    let work = Work {
        disk,
        lost: &lost_ranges,
        plan: &plan,
        matcher,
        pool: &pool,
        stop: &stop,
    };
    let deliver = || deliver(received, &stop, sink, &mut summary);
    if disk.sequential() {
        ahead::scan(&work, results, deliver)?;
    } else {
        each_reads_its_own(&work, results, deliver)?;
    }
    salvage::merge(&mut summary.unreadable, lost);
    Ok(summary)
}

/// What the threads of one scan share.
pub(crate) struct Work<'a, 'm> {
    pub(crate) disk: &'a dyn Disk,
    /// The stretches the disk lists as unreadable (sorted, disjoint): never read.
    pub(crate) lost: &'a [std::ops::Range<u64>],
    pub(crate) plan: &'a Plan,
    pub(crate) matcher: &'m Matcher,
    pub(crate) pool: &'a rayon::ThreadPool,
    /// Set on the first error: no new chunk starts.
    pub(crate) stop: &'a AtomicBool,
}

/// Each worker takes the next chunk, reads its window and searches it; the calling thread runs `deliver` meanwhile.
fn each_reads_its_own<'m>(
    work: &Work<'_, 'm>,
    results: mpsc::SyncSender<ChunkDone<'m>>,
    deliver: impl FnOnce() -> Result<(), ScanError>,
) -> Result<(), ScanError> {
    let next_chunk = AtomicU64::new(0);
    work.pool.in_place_scope(|scope| {
        for _ in 0..work.pool.current_num_threads() {
            let results = results.clone();
            let next_chunk = &next_chunk;
            scope.spawn(move |_| {
                let mut scanner = WindowScanner::new(work.matcher);
                let mut buffer = Vec::new();
                loop {
                    let index = next_chunk.fetch_add(1, Ordering::Relaxed);
                    if index >= work.plan.len() || work.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let chunk = work.plan.chunk(index);
                    let result = scan_own_window(work, &chunk, &mut buffer, &mut scanner);
                    if results.send(ChunkDone::new(index, &chunk, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(results);
        deliver()
    })
}

/// Reads `chunk`'s window into `buffer` and searches it; a window that cannot be read whole is
/// read around its unreadable blocks.
fn scan_own_window<'m>(
    work: &Work<'_, 'm>,
    chunk: &Chunk,
    buffer: &mut Vec<u8>,
    scanner: &mut WindowScanner<'m>,
) -> Result<ChunkScan<'m>, ScanError> {
    let disk = work.disk;
    let owned = chunk.owned_in_window();
    if !salvage::touches(work.lost, &chunk.window)
        && let Ok(window) = disk.window(chunk.window.clone(), buffer)
    {
        let findings = scanner.scan(window, chunk.window.start, owned);
        return Ok(ChunkScan::new(findings, Vec::new(), chunk));
    }
    let len =
        usize::try_from(chunk.window.end.saturating_sub(chunk.window.start)).map_err(|_| {
            snapsift_disk::DiskError::InvalidRange {
                start: chunk.window.start,
                end: chunk.window.end,
            }
        })?;
    let at = snapsift_disk::page_aligned_range(buffer, len);
    let bytes = &mut buffer[at];
    let unreadable = salvage::read_window(disk, chunk.window.clone(), work.lost, bytes);
    let findings = scanner.scan(bytes, chunk.window.start, owned);
    Ok(ChunkScan::new(findings, unreadable, chunk))
}
