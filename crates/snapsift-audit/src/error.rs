//! The audit's one error type.

use snapsift_engine::EngineError;

/// What the audit fails with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// A check file does not parse or says something the audit cannot do.
    #[error("checks: {0}")]
    Checks(String),
    /// A registry hive is not what its format says: `offset` is the file offset of the
    /// byte found wrong.
    #[error("registry hive: at byte {offset}: {reason}")]
    Hive {
        /// Where, from the start of the hive file.
        offset: u64,
        /// What is wrong there.
        reason: String,
    },
    /// A file could not be read from the image (boxed: the error type stays small).
    #[error(transparent)]
    Read(Box<EngineError>),
}
