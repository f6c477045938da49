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
//! of all rules (their *anchors*), cut to shared prefixes where they share their first 4
//! bytes (`heads`), are searched in one SIMD pass (`teddy16`: Teddy with 16 buckets, on
//! x86_64 with AVX2), which skips through non-matching bytes at several GB/s and verifies its
//! candidates exactly. Elsewhere `aho-corasick`'s searcher does the same in passes of at most
//! 32 heads ([`AnchorSearch`]). At a hit the anchors beginning with that head are compared,
//! and where one is there, the rule's regex (`regex-automata`) is run, anchored at the hit and
//! bounded by the rule's maximum length. Runs from nearby hits of one rule share their work
//! (`runs`), so that bytes written to make every hit read far (a PEM header repeated without
//! its footer) cost a bounded amount per byte, not hits × length ([`Confirmation`]). Where
//! hits come so densely that confirming them one by one would cost more than reading the
//! bytes with an automaton (`AKIA AKIA AKIA ...`), the region goes to the dense filter
//! (`dense`, [`Matcher::with_dense_filter`]): one reverse lazy DFA of every rule at once,
//! which reports only the positions where a match may begin. Because anchors are extracted
//! from the patterns rather than written beside them, and cut only to prefixes, the prefilter
//! cannot miss a match: every match starts with a head.
//!
//! UTF-16LE text (Windows' own encoding) is found by a cheap pass for runs of UTF-16LE ASCII
//! (`utf16_runs`), which are read one byte per character ([`Encoding`]) and searched like any
//! other text, so every rule finds its UTF-16LE form without a literal of its own.
//!
//! The trade-off is that rules must be written with literal prefixes of at least 3 bytes
//! (`AKIA`, `-----BEGIN `, `mysql://`) and a bounded length; the rule compiler refuses others
//! with a [`RuleError`] that says why.
//!
//! # How sure a match is
//!
//! A match's shape is not proof. Each rule lists offline [`checks`] (a GitHub token's CRC32, a
//! PEM body that parses as the key it claims to be, a value that is not a placeholder);
//! [`Rule::assess`] runs them on a match and says which passed, what they learned, and which
//! rejected it. Secrets that ship inside widely distributed software (a crypto library's
//! self-test keys) are listed by hash and rejected too. Nothing here touches the network.
//!
//! # Chunks
//!
//! [`Matcher::find_in`] reports matches starting inside a span of its haystack and uses the
//! bytes around the span as context; its documentation states the overlap contract under which
//! chunked scanning neither loses nor doubles a match.

// `unsafe` is for SIMD alone: entering the AVX2 passes, whose safety `cpu` argues once, and
// loading vectors from byte arrays; and for reading bytes as words in `zero`.
#![deny(unsafe_code)]

mod assess;
pub mod checks;
mod compile;
#[allow(unsafe_code)]
mod cpu;
mod dense;
mod encoding;
mod error;
mod examples;
mod gate;
mod heads;
mod matcher;
mod published;
pub mod rule;
mod runs;
mod teddy16;
#[doc(hidden)]
pub mod testing;
mod text_bytes;
#[allow(unsafe_code)]
mod utf16_runs;
#[allow(unsafe_code)]
mod zero;

pub use assess::{Assessment, Rejection};
pub use compile::MAX_RULE_LEN;
pub use encoding::{Encoding, utf16le_ascii};
pub use error::RuleError;
pub use examples::{ExampleFailure, check_examples};
pub use matcher::{AnchorSearch, Confirmation, Match, Matcher, Scratch};
pub use rule::{BUILTIN_FAMILIES, Confidence, Rule, RuleSet};
