//! The audit's one error type.

use snapsift_engine::EngineError;

/// What the audit fails with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// A check file does not parse or says something the audit cannot do.
    #[error("checks: {0}")]
    Checks(String),
    /// A file could not be read from the image (boxed: the error type stays small).
    #[error(transparent)]
    Read(Box<EngineError>),
}
