//! The parallel scan of one disk: workers pull chunks in disk order, the calling thread puts
//! their findings back in order and hands them to the sink.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;

use snapsift_disk::{Disk, DiskError};
use snapsift_match::{Match, Matcher};

use crate::finding::{CONTEXT_RADIUS, Context};
use crate::plan::{Chunk, Plan};
use crate::{Finding, ScanConfig, ScanError, ScanSummary, Sink};

/// What a worker sends back for one chunk.
type ChunkResult<'m> = Result<Vec<Finding<'m>>, DiskError>;

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
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads)
        .thread_name(|i| format!("snapsift-scan-{i}"))
        .build()
        .map_err(|e| ScanError::Threads(e.to_string()))?;
    let workers = pool.current_num_threads();
    let next_chunk = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    // Bounded, so workers wait for a slow sink. Results that arrive out of order wait in
    // `deliver` for their turn; they hold findings, never disk bytes.
    let (results, received) =
        mpsc::sync_channel::<(u64, ChunkResult<'m>)>(workers.saturating_mul(2));

    pool.in_place_scope(|scope| {
        for _ in 0..workers {
            let results = results.clone();
            let (plan, next_chunk, stop) = (&plan, &next_chunk, &stop);
            scope.spawn(move |_| {
                let mut worker = Worker::new(disk, matcher);
                loop {
                    let index = next_chunk.fetch_add(1, Ordering::Relaxed);
                    if index >= plan.len() || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let result = worker.scan_chunk(&plan.chunk(index));
                    if results.send((index, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(results);
        deliver(&plan, received, &stop, sink, &mut summary)
    })?;
    Ok(summary)
}

/// Windows extend this far beyond their owned range on each side: the matcher's context
/// (longest match and look-around) plus the finding's context line, rounded up to whole pages so
/// that windows of page-aligned chunks stay page-aligned for mappings and device reads.
fn overlap(matcher: &Matcher) -> u64 {
    const PAGE: u64 = 4096;
    let needed =
        u64::try_from(matcher.context_len().saturating_add(CONTEXT_RADIUS)).unwrap_or(u64::MAX);
    needed.div_ceil(PAGE).saturating_mul(PAGE)
}

/// Receives chunk results, restores disk order and feeds the sink. Returns the first error.
fn deliver<'m>(
    plan: &Plan,
    received: mpsc::Receiver<(u64, ChunkResult<'m>)>,
    stop: &AtomicBool,
    sink: &mut dyn Sink<'m>,
    summary: &mut ScanSummary,
) -> Result<(), ScanError> {
    let mut pending: BTreeMap<u64, ChunkResult<'m>> = BTreeMap::new();
    let mut next = 0;
    let mut failure: Option<ScanError> = None;
    // Keep receiving after a failure so that workers blocked on a full channel can finish.
    for (index, result) in received {
        if failure.is_some() {
            continue;
        }
        pending.insert(index, result);
        while let Some(result) = pending.remove(&next) {
            let outcome = result.map_err(ScanError::from).and_then(|findings| {
                for finding in findings {
                    summary.findings = summary.findings.saturating_add(1);
                    sink.finding(finding).map_err(ScanError::Sink)?;
                }
                Ok(())
            });
            if let Err(error) = outcome {
                stop.store(true, Ordering::Relaxed);
                failure = Some(error);
                break;
            }
            let chunk = plan.chunk(next);
            summary.scanned_bytes = summary
                .scanned_bytes
                .saturating_add(chunk.owned.end.saturating_sub(chunk.owned.start));
            sink.progress(summary.scanned_bytes);
            next = next.saturating_add(1);
        }
    }
    failure.map_or(Ok(()), Err)
}

/// One scanning thread's state: its matcher scratch and its read buffer.
struct Worker<'d, 'm> {
    disk: &'d dyn Disk,
    matcher: &'m Matcher,
    scratch: snapsift_match::Scratch,
    buffer: Vec<u8>,
    matches: Vec<Match>,
}

impl<'d, 'm> Worker<'d, 'm> {
    fn new(disk: &'d dyn Disk, matcher: &'m Matcher) -> Self {
        Worker {
            disk,
            matcher,
            scratch: matcher.scratch(),
            buffer: Vec::new(),
            matches: Vec::new(),
        }
    }

    fn scan_chunk(&mut self, chunk: &Chunk) -> ChunkResult<'m> {
        let window = self.disk.window(chunk.window.clone(), &mut self.buffer)?;
        self.matches.clear();
        self.matcher.find_in(
            &window,
            chunk.owned_in_window(),
            &mut self.scratch,
            &mut self.matches,
        );
        let rules = self.matcher.rules();
        Ok(self
            .matches
            .iter()
            .map(|m| Finding {
                rule: &rules[m.rule],
                // A match lies within the window, itself within the disk.
                offset: chunk.window.start.saturating_add(m.start as u64),
                secret: window[m.start..m.end].to_vec(),
                context: Context::around(&window, m.start..m.end),
            })
            .collect())
    }
}
