//! Scanning a whole disk: chunks, threads and the order of findings.
//!
//! This crate joins the two layers below it: it reads a [`snapsift_disk::Disk`] in chunks,
//! searches each with a [`snapsift_match::Matcher`] on a `rayon` pool, and delivers
//! [`Finding`]s to a [`Sink`] in disk order. It knows neither image formats nor rules.
//!
//! # Nothing lost, nothing doubled
//!
//! The disk's data ranges are cut into chunks whose *owned* ranges tile them exactly. Each chunk
//! is read with an overlap on both sides of its owned range: the matcher's
//! [`context_len`](snapsift_match::Matcher::context_len) (the longest match plus one byte of
//! look-around) plus [`CONTEXT_RADIUS`] for the context line. A chunk reports only the matches
//! that *start* in its owned range, and the matcher's overlap contract makes each match, and
//! which of two nested matches is reported, depend only on the disk's bytes, never on where a
//! chunk was cut. So a secret straddling a chunk boundary is found once, by the chunk that owns
//! its first byte. Bytes outside the data ranges are zeros by the disk layer's contract, and no
//! match starts with a zero byte.
//!
//! A raw image compressed as a whole is a stream, not a disk: [`scan_stream`] cuts it into the
//! same chunks, with the same overlap, as it is decompressed front to back.
//!
//! # Unreadable bytes
//!
//! A chunk whose bytes cannot all be read does not stop the scan: its window is read around
//! the bytes that fail, block by block ([`Unreadable`], see `salvage.rs`), those blocks are
//! searched as zeros, and the [`ScanSummary`] lists them, so that a partial scan says which
//! bytes it did not see. Stretches the disk itself knows it cannot read (an image whose table
//! for them is lost: [`snapsift_disk::Disk::data_map`]) are not read at all, only listed.
//! Only an error that is not about the disk's bytes (the sink, the threads) stops a scan.
//!
//! # Memory
//!
//! Each worker holds one window (chunk size plus twice the overlap) at a time; on a disk read
//! front to back by a thread of its own ([`snapsift_disk::Disk::sequential`]), up to three
//! more are read or waiting. Findings are the only other thing queued between threads.
//! Resident memory is bounded by the thread count and the chunk size, not by the size of the
//! disk.

// Nothing here needs `unsafe`: no SIMD, no system calls beyond what std wraps.
#![forbid(unsafe_code)]

use std::ops::Range;

mod ahead;
mod deliver;
mod driver;
mod error;
mod finding;
mod plan;
mod reader;
mod salvage;
mod sink;
mod stream;
mod window;

pub use driver::scan;
pub use error::ScanError;
pub use finding::{CONTEXT_RADIUS, Context, Finding};
pub use plan::intersect;
pub use reader::ReadScanner;
pub use sink::{Collect, Sink};
pub use snapsift_disk::Unreadable;
pub use stream::scan_stream;

/// How a scan is run.
#[derive(Clone, Debug)]
pub struct ScanConfig {
    /// The bytes each chunk owns. Larger chunks amortise per-chunk costs; the window each
    /// thread holds is this plus twice the overlap.
    pub chunk_size: u64,
    /// Scanning threads; 0 means one per core.
    pub threads: usize,
    /// Scan only the disk's data within these ranges (sorted, disjoint), as one shard of a
    /// scan split between processes does; `None` scans all the data.
    pub only: Option<Vec<Range<u64>>>,
}

impl ScanConfig {
    /// The default chunk size: 8 MiB.
    pub const DEFAULT_CHUNK_SIZE: u64 = 8 << 20;
}

impl ScanConfig {
    /// The thread pool a scan runs on.
    fn pool(&self) -> Result<rayon::ThreadPool, ScanError> {
        rayon::ThreadPoolBuilder::new()
            .num_threads(self.threads)
            .thread_name(|i| format!("snapsift-scan-{i}"))
            .build()
            .map_err(|e| ScanError::Threads(e.to_string()))
    }
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            chunk_size: Self::DEFAULT_CHUNK_SIZE,
            threads: 0,
            only: None,
        }
    }
}

/// What a finished scan covered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanSummary {
    /// The size of the disk in bytes.
    pub disk_size: u64,
    /// The bytes in the disk's data ranges (the rest reads as zeros and is skipped).
    pub data_bytes: u64,
    /// The bytes of data ranges read and searched; `data_bytes` less the unreadable bytes
    /// when the scan completed.
    pub scanned_bytes: u64,
    /// The findings delivered to the sink.
    pub findings: u64,
    /// The bytes of the data ranges that could not be read, in disk order, adjacent ones
    /// merged; empty when every byte was read.
    pub unreadable: Vec<Unreadable>,
}

impl ScanSummary {
    /// The number of bytes in [`ScanSummary::unreadable`].
    pub fn unreadable_bytes(&self) -> u64 {
        self.unreadable
            .iter()
            .map(|u| u.range.end.saturating_sub(u.range.start))
            .sum()
    }
}
