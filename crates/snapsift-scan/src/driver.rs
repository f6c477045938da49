//! The parallel scan of one disk: workers pull chunks in disk order, the calling thread puts
//! their findings back in order and hands them to the sink.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;

use snapsift_disk::Disk;
use snapsift_match::Matcher;

use crate::deliver::{ChunkDone, deliver};
use crate::plan::Plan;
use crate::window::{WindowScanner, overlap};
use crate::{ScanConfig, ScanError, ScanSummary, Sink};

/// Scans every data range of `disk` with `matcher` and hands each finding to `sink`, in disk
/// order, exactly once.
///
/// Chunks are read and searched on `config.threads` threads of a `rayon` pool; findings, not
/// disk bytes, travel between threads, so memory stays bounded by one window per thread
/// whatever the size of the disk. The first error (a failed read, a sink that cannot write)
/// stops the scan: chunks already handed out finish, no new ones start.
pub fn scan<'m>(
    disk: &dyn Disk,
    matcher: &'m Matcher,
    config: &ScanConfig,
    sink: &mut dyn Sink<'m>,
) -> Result<ScanSummary, ScanError> {
    let data_ranges = disk.data_ranges()?;
    let plan = Plan::new(
        &data_ranges,
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
    };
    sink.begin(summary.data_bytes);
    let pool = config.pool()?;
    let workers = pool.current_num_threads();
    let next_chunk = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    // Bounded, so workers wait for a slow sink. Results that arrive out of order wait in
    // `deliver` for their turn; they hold findings, never disk bytes.
    let (results, received) = mpsc::sync_channel::<ChunkDone<'m>>(workers.saturating_mul(2));

    pool.in_place_scope(|scope| {
        for _ in 0..workers {
            let results = results.clone();
            let (plan, next_chunk, stop) = (&plan, &next_chunk, &stop);
            scope.spawn(move |_| {
                let mut scanner = WindowScanner::new(matcher);
                let mut buffer = Vec::new();
                loop {
                    let index = next_chunk.fetch_add(1, Ordering::Relaxed);
                    if index >= plan.len() || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let chunk = plan.chunk(index);
                    let result = disk
                        .window(chunk.window.clone(), &mut buffer)
                        .map(|window| {
                            scanner.scan(&window, chunk.window.start, chunk.owned_in_window())
                        })
                        .map_err(ScanError::from);
                    let done = ChunkDone {
                        index,
                        owned_len: chunk.owned.end.saturating_sub(chunk.owned.start),
                        result,
                    };
                    if results.send(done).is_err() {
                        break;
                    }
                }
            });
        }
        drop(results);
        deliver(received, &stop, sink, &mut summary)
    })?;
    Ok(summary)
}
