//! Putting chunk results back in disk order and handing them to the sink.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use crate::plan::Chunk;
use crate::salvage::clip;
use crate::{Finding, ScanError, ScanSummary, Sink, Unreadable};

/// What a worker sends back for one chunk.
pub(crate) struct ChunkDone<'m> {
    /// The chunk's number, in disk order from 0.
    pub(crate) index: u64,
    /// The bytes the chunk owns, for progress.
    pub(crate) owned_len: u64,
    /// What was found and what could not be read, or why the chunk could not be scanned.
    pub(crate) result: Result<ChunkScan<'m>, ScanError>,
}

/// What scanning one chunk gave.
pub(crate) struct ChunkScan<'m> {
    /// The findings that start in the chunk's owned range.
    pub(crate) findings: Vec<Finding<'m>>,
    /// The owned bytes that could not be read, in disk order.
    pub(crate) unreadable: Vec<Unreadable>,
}

impl<'m> ChunkScan<'m> {
    /// The findings of a window, and the bytes of it that could not be read (clipped here to
    /// the chunk's owned range: the bytes of the overlap are reported by their own chunk).
    pub(crate) fn new(
        findings: Vec<Finding<'m>>,
        unreadable: Vec<Unreadable>,
        chunk: &Chunk,
    ) -> Self {
        ChunkScan {
            findings,
            unreadable: if unreadable.is_empty() {
                unreadable
            } else {
                clip(unreadable, &chunk.owned)
            },
        }
    }
}

impl<'m> ChunkDone<'m> {
    /// The result of chunk number `index`.
    pub(crate) fn new(index: u64, chunk: &Chunk, result: Result<ChunkScan<'m>, ScanError>) -> Self {
        ChunkDone {
            index,
            owned_len: chunk.owned.end.saturating_sub(chunk.owned.start),
            result,
        }
    }
}

/// Receives chunk results, restores disk order and feeds the sink, until every sender is gone.
///
/// On the first error (a chunk that failed, a sink that cannot write) it sets `stop` so no new
/// chunk starts, keeps draining the channel so that blocked workers can finish, and returns the
/// error. Findings of the chunks before the failed one have been delivered.
pub(crate) fn deliver<'m>(
    received: mpsc::Receiver<ChunkDone<'m>>,
    stop: &AtomicBool,
    sink: &mut dyn Sink<'m>,
    summary: &mut ScanSummary,
) -> Result<(), ScanError> {
    let mut pending: BTreeMap<u64, ChunkDone<'m>> = BTreeMap::new();
    let mut next = 0u64;
    let mut failure: Option<ScanError> = None;
    for done in received {
        if failure.is_some() {
            continue;
        }
        pending.insert(done.index, done);
        while let Some(done) = pending.remove(&next) {
            let outcome = done.result.and_then(|scan| {
                for finding in scan.findings {
                    summary.findings = summary.findings.saturating_add(1);
                    sink.finding(finding).map_err(ScanError::Sink)?;
                }
                for unreadable in scan.unreadable {
                    add_unreadable(&mut summary.unreadable, unreadable);
                }
                Ok(())
            });
            if let Err(error) = outcome {
                stop.store(true, Ordering::Relaxed);
                failure = Some(error);
                break;
            }
            summary.scanned_bytes = summary.scanned_bytes.saturating_add(done.owned_len);
            sink.progress(summary.scanned_bytes);
            next = next.saturating_add(1);
        }
    }
    summary.scanned_bytes = summary
        .scanned_bytes
        .saturating_sub(summary.unreadable_bytes());
    failure.map_or(Ok(()), Err)
}

/// Appends `next` (which lies after every range in `list`) to `list`, merged with the last
/// range if the two touch (as the unreadable bytes of two neighbouring chunks do).
fn add_unreadable(list: &mut Vec<Unreadable>, next: Unreadable) {
    match list.last_mut() {
        Some(last) if last.range.end == next.range.start => last.range.end = next.range.end,
        _ => list.push(next),
    }
}
