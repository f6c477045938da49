//! The matcher core: finds secrets in byte slices.
//!
//! This crate knows nothing of disks, files or images. It takes a [`RuleSet`] (rules as data,
//! see [`rule`]), compiles it once into a [`Matcher`], and finds matches in byte slices handed
//! to [`Matcher::find_in`], from any number of threads, each with its own [`Scratch`].
//!
//! # How matching works, and why
//!
//! A disk is mostly bytes that contain no secret, so the cost that matters is the cost of
//! ruling bytes out. Every rule's pattern must begin with literal text; the literal prefixes
//! of all rules (their *anchors*) go into one Aho-Corasick automaton, whose SIMD prefilter
//! (Teddy) skips through non-matching bytes at memory speed. Each anchor hit is then confirmed
//! by that rule's regex (`regex-automata`), anchored at the hit and bounded by the rule's
//! maximum length. Because anchors are extracted from the patterns rather than written beside
//! them, the prefilter cannot miss a match: every match starts with one of its rule's anchors.
//!
//! The trade-off is that rules must be written with literal prefixes of at least 3 bytes
//! (`AKIA`, `-----BEGIN `, `mysql://`) and a bounded length; the rule compiler refuses others
//! with a [`RuleError`] that says why.
//!
//! # Chunks
//!
//! [`Matcher::find_in`] reports matches starting inside a span of its haystack and uses the
//! bytes around the span as context; its documentation states the overlap contract under which
//! chunked scanning neither loses nor doubles a match.

pub mod checks;
mod compile;
mod error;
mod examples;
mod matcher;
pub mod rule;
mod zero;

pub use compile::MAX_RULE_LEN;
pub use error::RuleError;
pub use examples::{ExampleFailure, check_examples};
pub use matcher::{Match, Matcher, Scratch};
pub use rule::{Confidence, Rule, RuleSet};
