//! The one error type of the unpack crate.

use std::io;

/// Why [`crate::unpack`] stopped before the end of its input.
///
/// Corrupt, truncated or hostile content is not an error (it is a [`crate::Problem`]); only a
/// failure to read the input itself, or the visitor's own error, stops the walk. `E` is the
/// visitor's error type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnpackError<E> {
    /// Reading the root input failed.
    #[error("cannot read the input at offset {offset}")]
    Read {
        /// Offset in the root input of the read that failed.
        offset: u64,
        /// What the reader said.
        #[source]
        source: io::Error,
    },
    /// The visitor returned an error, which ends the walk.
    #[error(transparent)]
    Visitor(E),
}
