//! snapsift's engine: what one finding is.
//!
//! (Contract: see the end of the move; this crate grows step by step.)

#![forbid(unsafe_code)]

pub mod place;
pub mod record;
pub mod report;
pub mod shown;

pub use snapsift_unpack::{Kind as LayerKind, Layer, LeafEncoding};
