//! The engine's one error type.

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
}
