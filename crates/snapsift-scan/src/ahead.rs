//! Reading a disk front to back on one thread, ahead of the workers that search it: for disks
//! read best that way ([`Disk::sequential`](snapsift_disk::Disk::sequential)), attached
//! devices.
//!
//! Why a reader of its own: the device then sees one stream of large reads in disk order,
//! kept going while the workers search the windows read before, at most [`AHEAD`] windows
//! ahead of them. A block device serves these reads with direct I/O (see
//! `snapsift_disk::BlockDevice`): each 8 MiB read reaches the device at once, as a batch of
//! large requests, and the reader's next read follows as soon as it is handed over. On a
//! read-only loop device over a 4 GiB image, cold cache, a scan with a few rules ran at
//! 95-120% of `dd bs=8M`'s rate reading the same device, where workers each reading their
//! own windows through the page cache ran at about 77%. With the full rule pack and the file
//! pass (`cargo xtask bench`) the scan reaches 42-59% of `dd`: there the two cores, shared with
//! the loop device's kernel thread, are short of CPU, not of bytes. Two things measured and
//! not used: this reader reading through the page cache
//! (slower than the workers' own reads: one read in flight is then one readahead window),
//! and `posix_fadvise(POSIX_FADV_WILLNEED)` on the windows ahead (two to four times slower
//! than plain reads: the pages it brings in carry no readahead marks, so the kernel's own
//! readahead stops).
//!
//! Windows are read with [`Disk::read_exact_at`](snapsift_disk::Disk::read_exact_at) into
//! page-aligned buffers, whole windows (chunk size plus overlap, page-aligned offsets and
//! lengths) at a time. Buffers go round between the reader and the workers, so the scan holds
//! at most one per worker, [`AHEAD`] read and waiting, and one being read.

use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, mpsc};

use snapsift_disk::{DiskError, page_aligned_range};

use crate::deliver::{ChunkDone, ChunkScan};
use crate::driver::Work;
use crate::window::WindowScanner;
use crate::{ScanError, Unreadable, salvage};

/// Windows read and not yet taken by a worker, at most.
const AHEAD: usize = 2;

/// A window read by the reader.
struct Read {
    /// The chunk's number.
    index: u64,
    /// The buffer the window was read into.
    buffer: Vec<u8>,
    /// Where in `buffer` the window's bytes are (unreadable blocks zeroed), or why the window
    /// has no bytes (a range too long to address).
    bytes: Result<Range<usize>, DiskError>,
    /// The window's bytes that could not be read.
    unreadable: Vec<Unreadable>,
}

/// Scans `work` with one thread reading the windows in order and the pool's threads searching
/// them; the calling thread runs `deliver` meanwhile.
pub(crate) fn scan<'m>(
    work: &Work<'_, 'm>,
    results: mpsc::SyncSender<ChunkDone<'m>>,
    deliver: impl FnOnce() -> Result<(), ScanError>,
) -> Result<(), ScanError> {
    let (filled, to_search) = mpsc::sync_channel::<Read>(AHEAD);
    let (recycle, recycled) = mpsc::channel::<Vec<u8>>();
    std::thread::scope(|threads| {
        std::thread::Builder::new()
            .name("snapsift-read".into())
            .spawn_scoped(threads, || read_in_order(work, filled, recycled))
            .map_err(|e| ScanError::Threads(e.to_string()))?;
        let to_search = Mutex::new(to_search);
        let outcome = work.pool.in_place_scope(|scope| {
            for _ in 0..work.pool.current_num_threads() {
                let (results, recycle, to_search) = (results.clone(), recycle.clone(), &to_search);
                scope.spawn(move |_| {
                    let mut scanner = WindowScanner::new(work.matcher);
                    loop {
                        // The lock is held while waiting for the next window, never while
                        // searching one.
                        let next = match to_search.lock() {
                            Ok(to_search) => to_search.recv(),
                            Err(_) => break,
                        };
                        let Ok(read) = next else { break };
                        if work.stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let chunk = work.plan.chunk(read.index);
                        let unreadable = read.unreadable;
                        let result = read
                            .bytes
                            .map(|bytes| {
                                let findings = scanner.scan(
                                    &read.buffer[bytes],
                                    chunk.window.start,
                                    chunk.owned_in_window(),
                                );
                                ChunkScan::new(findings, unreadable, &chunk)
                            })
                            .map_err(ScanError::from);
                        // The reader may have finished: then the buffer is simply freed.
                        let _ = recycle.send(read.buffer);
                        if results
                            .send(ChunkDone::new(read.index, &chunk, result))
                            .is_err()
                        {
                            break;
                        }
                    }
                });
            }
            drop((results, recycle));
            deliver()
        });
        // The workers are done; a reader still waiting to hand over a window must not wait
        // for them (it does only if they stopped early, on an error).
        work.stop.store(true, Ordering::Relaxed);
        drop(to_search);
        outcome
    })
}

/// The reader: every window of the plan in disk order, until the end or a stop.
fn read_in_order(
    work: &Work<'_, '_>,
    filled: mpsc::SyncSender<Read>,
    recycled: mpsc::Receiver<Vec<u8>>,
) {
    for index in 0..work.plan.len() {
        if work.stop.load(Ordering::Relaxed) {
            break;
        }
        let window = work.plan.chunk(index).window;
        let mut buffer = recycled.try_recv().unwrap_or_default();
        let mut unreadable = Vec::new();
        let bytes = usize::try_from(window.end.saturating_sub(window.start))
            .map_err(|_| DiskError::InvalidRange {
                start: window.start,
                end: window.end,
            })
            .map(|len| {
                let at = page_aligned_range(&mut buffer, len);
                let bytes = &mut buffer[at.clone()];
                unreadable = salvage::read_window(work.disk, window.clone(), work.lost, bytes);
                at
            });
        if filled
            .send(Read {
                index,
                buffer,
                bytes,
                unreadable,
            })
            .is_err()
        {
            break;
        }
    }
}
