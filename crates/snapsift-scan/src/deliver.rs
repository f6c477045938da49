//! Putting chunk results back in disk order and handing them to the sink.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use crate::plan::Chunk;
use crate::{Finding, ScanError, ScanSummary, Sink};

/// What a worker sends back for one chunk.
pub(crate) struct ChunkDone<'m> {
    /// The chunk's number, in disk order from 0.
    pub(crate) index: u64,
    /// The bytes the chunk owns, for progress.
    pub(crate) owned_len: u64,
    /// Its findings, or why it could not be scanned.
    pub(crate) result: Result<Vec<Finding<'m>>, ScanError>,
}

impl<'m> ChunkDone<'m> {
    /// The result of chunk number `index`.
    pub(crate) fn new(
        index: u64,
        chunk: &Chunk,
        result: Result<Vec<Finding<'m>>, ScanError>,
    ) -> Self {
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
            let outcome = done.result.and_then(|findings| {
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
            summary.scanned_bytes = summary.scanned_bytes.saturating_add(done.owned_len);
            sink.progress(summary.scanned_bytes);
            next = next.saturating_add(1);
        }
    }
    failure.map_or(Ok(()), Err)
}
