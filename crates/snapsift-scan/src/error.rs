//! The one error type of the scan crate.

use snapsift_disk::DiskError;

/// Why a scan stopped before the end of the disk.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// Reading the disk failed.
    #[error(transparent)]
    Disk(#[from] DiskError),
    /// Reading a stream failed (for example, corrupt compressed data).
    #[error("cannot read the stream at decompressed offset {offset}")]
    Stream {
        /// Offset in the decompressed stream where reading failed.
        offset: u64,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The sink refused a finding (for example, the output could not be written).
    #[error("cannot write findings")]
    Sink(#[source] std::io::Error),
    /// The scan's thread pool could not be started.
    #[error("cannot start scanning threads: {0}")]
    Threads(String),
}
