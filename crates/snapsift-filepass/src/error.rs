//! The one error type of the file pass.

/// Why a file pass could not run. Problems with single files are not errors: they are
/// [`crate::Problem`]s, and the pass goes on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FilePassError {
    /// The pass's thread pool could not be started, or one of its threads panicked.
    #[error("cannot run the file pass's threads: {0}")]
    Threads(String),
}
