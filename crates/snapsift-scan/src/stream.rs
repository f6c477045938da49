//! Scanning a stream (a raw image compressed as a whole): one thread reads and decompresses
//! front to back, the pool scans the chunks it cuts, the calling thread delivers findings.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};

use snapsift_match::Matcher;

use crate::deliver::{ChunkDone, ChunkScan, deliver};
use crate::window::{WindowScanner, overlap};
use crate::{ScanConfig, ScanError, ScanSummary, Sink};

/// One chunk cut from the stream, with its window of context.
struct Job {
    index: u64,
    /// Stream offset of the window's first byte.
    window_start: u64,
    /// The window's bytes.
    bytes: Vec<u8>,
    /// The owned part, as offsets into `bytes`.
    owned: std::ops::Range<usize>,
}

/// Scans `stream`, the bytes of a disk read front to back, with the same chunking, overlap and
/// ordering guarantees as [`crate::scan`]: every finding once, in order.
///
/// The stream is read on a thread of its own (decompression is usually the bottleneck), cut
/// into chunks of `config.chunk_size` bytes with the overlap carried from one chunk to the
/// next, and the chunks are scanned on the pool. Memory is bounded by a few windows in flight.
/// A read error (corrupt or cut compressed data) ends the stream there: every byte read before
/// it is scanned and its findings delivered, then the scan fails with [`ScanError::Stream`]. `sink.begin` is told 0 bytes: a stream's size is only
/// known at its end.
pub fn scan_stream<'m>(
    stream: &mut (dyn Read + Send),
    matcher: &'m Matcher,
    config: &ScanConfig,
    sink: &mut dyn Sink<'m>,
) -> Result<ScanSummary, ScanError> {
    let overlap = usize::try_from(overlap(matcher)).unwrap_or(usize::MAX);
    let chunk_size = usize::try_from(config.chunk_size.max(1)).unwrap_or(usize::MAX);
    let pool = config.pool()?;
    let workers = pool.current_num_threads();
    let stop = AtomicBool::new(false);
    let (jobs, job_queue) = mpsc::sync_channel::<Job>(workers);
    let job_queue = Mutex::new(job_queue);
    // Window buffers go back to the reader, so that a long stream allocates a few of them.
    let (free, free_buffers) = mpsc::channel::<Vec<u8>>();
    let (results, received) = mpsc::sync_channel::<ChunkDone<'m>>(workers.saturating_mul(2));
    let mut summary = ScanSummary::default();
    sink.begin(0);

    let (total, delivered) = std::thread::scope(|threads| {
        let stop = &stop;
        let reader = threads
            .spawn(move || cut_chunks(stream, chunk_size, overlap, jobs, &free_buffers, stop));
        let delivered = pool.in_place_scope(|scope| {
            for _ in 0..workers {
                let (results, free, job_queue) = (results.clone(), free.clone(), &job_queue);
                scope.spawn(move |_| {
                    let mut scanner = WindowScanner::new(matcher);
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match job_queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => break,
                        };
                        let Ok(job) = job else { break };
                        let findings =
                            scanner.scan(&job.bytes, job.window_start, job.owned.clone());
                        let done = ChunkDone {
                            index: job.index,
                            owned_len: job.owned.len() as u64,
                            result: Ok(ChunkScan {
                                findings,
                                unreadable: Vec::new(),
                            }),
                        };
                        let _ = free.send(job.bytes);
                        if results.send(done).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(results);
            deliver(received, stop, sink, &mut summary)
        });
        // A delivery failure sets `stop`, which ends the reader at its next chunk.
        let total = reader
            .join()
            .unwrap_or_else(|_| Err(ScanError::Threads("the stream reader panicked".into())));
        (total, delivered)
    });
    delivered?;
    let total = total?;
    summary.disk_size = total;
    summary.data_bytes = total;
    Ok(summary)
}

/// Reads `stream` to its end, sending each chunk with its window to `jobs`. Returns the
/// stream's length.
fn cut_chunks(
    stream: &mut (dyn Read + Send),
    chunk_size: usize,
    overlap: usize,
    jobs: mpsc::SyncSender<Job>,
    free_buffers: &mpsc::Receiver<Vec<u8>>,
    stop: &AtomicBool,
) -> Result<u64, ScanError> {
    let mut cutter = Cutter::new(chunk_size, overlap);
    let mut index = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let Some(window) = cutter.next(stream) else {
            break;
        };
        let mut bytes = free_buffers.try_recv().unwrap_or_default();
        bytes.clear();
        bytes.extend_from_slice(window.bytes);
        let job = Job {
            index,
            window_start: window.start,
            owned: window.owned,
            bytes,
        };
        if jobs.send(job).is_err() {
            break;
        }
        index = index.saturating_add(1);
    }
    cutter.finish()
}

/// One window cut from a stream: its bytes, the stream offset of the first, and the owned
/// part as offsets into the bytes.
pub(crate) struct Window<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) start: u64,
    pub(crate) owned: std::ops::Range<usize>,
}

/// Cuts a stream read front to back into windows: owned chunks of `chunk_size` bytes that
/// tile the stream, each with `overlap` bytes of the stream on both sides (fewer at its
/// edges), carried from one window to the next so nothing is read twice.
///
/// A read error ends the stream where it happened: what was read before it is still cut
/// into windows (nothing readable is lost), and [`Cutter::finish`] returns the error.
pub(crate) struct Cutter {
    chunk_size: usize,
    overlap: usize,
    /// The stream from offset `base`: the overlap before the next owned range, then
    /// whatever has been read ahead.
    pending: Vec<u8>,
    base: u64,
    owned_start: u64,
    eof: bool,
    failure: Option<ScanError>,
}

impl Cutter {
    pub(crate) fn new(chunk_size: usize, overlap: usize) -> Self {
        Cutter {
            chunk_size: chunk_size.max(1),
            overlap,
            pending: Vec::new(),
            base: 0,
            owned_start: 0,
            eof: false,
            failure: None,
        }
    }

    /// The next window, or `None` at the stream's end (or at a read error).
    pub(crate) fn next(&mut self, stream: &mut dyn Read) -> Option<Window<'_>> {
        // Drop what the previous window no longer needs: all but the overlap before the
        // next owned range.
        let owned_at =
            usize::try_from(self.owned_start.saturating_sub(self.base)).unwrap_or(usize::MAX);
        let keep_from = owned_at
            .saturating_sub(self.overlap)
            .min(self.pending.len());
        self.pending.drain(..keep_from);
        self.base = self.base.saturating_add(keep_from as u64);
        let owned_at = owned_at.saturating_sub(keep_from);
        // The next window needs the owned range and the overlap after it.
        let wanted = owned_at
            .saturating_add(self.chunk_size)
            .saturating_add(self.overlap);
        while !self.eof && self.pending.len() < wanted {
            match fill(stream, &mut self.pending, wanted, self.base) {
                Ok(ended) => self.eof = ended,
                Err(error) => {
                    self.failure = Some(error);
                    self.eof = true;
                }
            }
        }
        if owned_at >= self.pending.len() {
            return None;
        }
        let owned_end = owned_at
            .saturating_add(self.chunk_size)
            .min(self.pending.len());
        let window_start = owned_at.saturating_sub(self.overlap);
        let window_end = owned_end
            .saturating_add(self.overlap)
            .min(self.pending.len());
        self.owned_start = self.base.saturating_add(owned_end as u64);
        Some(Window {
            bytes: &self.pending[window_start..window_end],
            start: self.base.saturating_add(window_start as u64),
            owned: owned_at.saturating_sub(window_start)..owned_end.saturating_sub(window_start),
        })
    }

    /// The stream's length as read, or the read error that ended it.
    pub(crate) fn finish(self) -> Result<u64, ScanError> {
        match self.failure {
            Some(error) => Err(error),
            None => Ok(self.base.saturating_add(self.pending.len() as u64)),
        }
    }
}

/// Reads from `stream` into `pending` until it holds `wanted` bytes; returns whether the stream
/// ended. `base` is the stream offset of `pending[0]`, for errors.
fn fill(
    stream: &mut dyn Read,
    pending: &mut Vec<u8>,
    wanted: usize,
    base: u64,
) -> Result<bool, ScanError> {
    let old = pending.len();
    pending.resize(wanted, 0);
    let mut filled = old;
    while filled < wanted {
        match stream.read(&mut pending[filled..]) {
            Ok(0) => {
                pending.truncate(filled);
                return Ok(true);
            }
            Ok(n) => filled = filled.saturating_add(n),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => {
                pending.truncate(filled);
                return Err(ScanError::Stream {
                    offset: base.saturating_add(filled as u64),
                    source,
                });
            }
        }
    }
    Ok(false)
}
