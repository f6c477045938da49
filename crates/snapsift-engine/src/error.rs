//! The engine's one error type.

use snapsift_disk::DiskError;
use snapsift_filepass::FilePassError;
use snapsift_fs::FsError;
use snapsift_scan::ScanError;

use crate::shard::MAX_SHARDS;

/// What the engine fails with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A shard whose count is above [`MAX_SHARDS`].
    #[error("shard {index}/{count}: the count N is at most {MAX_SHARDS}")]
    TooManyShards {
        /// K.
        index: u64,
        /// N.
        count: u64,
    },
    /// A shard whose index is not below its count (or a count of zero).
    #[error("shard {index}/{count}: the index must be below the count, from 0")]
    NoSuchShard {
        /// K.
        index: u64,
        /// N.
        count: u64,
    },
    /// The disk cannot say which of its bytes hold data.
    #[error("{image}: cannot list its data")]
    DataRanges {
        /// The image's name.
        image: String,
        /// Why.
        #[source]
        source: DiskError,
    },
    /// The partition table cannot be read.
    #[error("{image}: cannot read its partition table")]
    PartitionTable {
        /// The image's name.
        image: String,
        /// Why.
        #[source]
        source: FsError,
    },
    /// A compressed image stream cannot be cut into shards.
    #[error(
        "{image}: a compressed stream is read front to back and cannot be split into shards: \
         decompress it first (--spill-dir DIR), or scan it without --shard"
    )]
    StreamNotShardable {
        /// The image's name.
        image: String,
    },
    /// A compressed image stream could not be spilled to a temporary file.
    #[error("{image}: cannot decompress it to a temporary file")]
    Spill {
        /// The image's name.
        image: String,
        /// Why.
        #[source]
        source: snapsift_disk::DiskError,
    },
    /// A compressed image stream cannot be read file by file.
    #[error(
        "{image}: a compressed stream is read front to back: its files cannot be listed and \
         read; decompress it first (--spill-dir DIR)"
    )]
    StreamNotMappable {
        /// The image's name.
        image: String,
    },
    /// A file of a mapped filesystem could not be read.
    #[error("cannot read {file}")]
    ReadFile {
        /// The file: `image: volume: path` (`#number` for a file without a path).
        file: String,
        /// Why (boxed: the error type stays small).
        #[source]
        source: Box<FsError>,
    },
    /// The file pass failed as a whole (not one file: those are coverage's file problems).
    #[error(transparent)]
    FilePass(#[from] FilePassError),
    /// The sweep stopped before the end of the image.
    #[error("{image} ({format})")]
    Sweep {
        /// The image's name.
        image: String,
        /// What the image is.
        format: &'static str,
        /// Why (boxed: the error type stays small).
        #[source]
        source: Box<ScanError>,
    },
}
