//! snapsift's engine: what one finding is.
//!
//! (Contract: see the end of the move; this crate grows step by step.)

#![forbid(unsafe_code)]

pub mod coverage;
mod error;
pub mod place;
pub mod record;
pub mod redact;
pub mod report;
pub mod shard;
pub mod shown;

pub use error::EngineError;

pub use snapsift_unpack::{Kind as LayerKind, Layer, LeafEncoding};
