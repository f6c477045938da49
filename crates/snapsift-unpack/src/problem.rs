//! [`Problem`]: what could not be expanded, and why.

use std::fmt;

use crate::Kind;

/// The most memory an xz stream may make its decoder take. xz's heaviest preset (-9) needs
/// 65 MiB; a stream that asks for more than this is refused rather than obeyed.
pub const XZ_MEMORY_LIMIT: u64 = 256 << 20;

/// A limit a [`Problem`] reached, so that a report can say which content a limit cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LimitReached {
    /// The limit, named as the [`crate::Limits`] field that sets it (`max_depth`,
    /// `max_entries`, `max_buffered`, `max_zstd_window`), or `expansion_budget` (the input's,
    /// see [`crate::Limits::expansion_budget`]) and `xz_memory` ([`XZ_MEMORY_LIMIT`]).
    pub name: &'static str,
    /// Its value: layers, members or bytes.
    pub value: u64,
}

/// Something in the input that could not be expanded fully. Handed to
/// [`crate::Visitor::problem`] with the chain it concerns, after the content it concerns has
/// been visited; the walk goes on with the rest of the input.
///
/// The chain ends with the layer being read: a member (`Layer { kind: Zip, member: Some(..) }`)
/// for a problem with one member, the container itself (`member: None`) for a problem with a
/// whole archive or stream.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// A container nested deeper than [`crate::Limits::max_depth`]; its bytes were visited as
    /// they are.
    TooDeep {
        /// What the container is.
        kind: Kind,
        /// The limit.
        max_depth: u32,
    },
    /// Decompression produced the input's expansion budget
    /// ([`crate::Limits::expansion_budget`]): a suspected decompression bomb. The layer being
    /// read was cut there and nothing more of the input is visited.
    ExpandedLimit {
        /// The budget: what decompression could produce from this input, all layers together.
        budget: u64,
    },
    /// An archive holds more members than [`crate::Limits::max_entries`].
    TooManyEntries {
        /// The archive format.
        kind: Kind,
        /// The limit.
        max_entries: u64,
        /// Members visited before the limit (0 for a zip, which is then not opened and is
        /// visited as raw bytes).
        visited: u64,
    },
    /// A zip nested in a layer that cannot seek is larger than the memory
    /// [`crate::Limits::max_buffered`] (and the [`crate::BufferPool`] shared with other calls)
    /// leaves for it; its bytes were visited as they are.
    TooBigToBuffer {
        /// The limit.
        max_buffered: u64,
    },
    /// A compressed stream asks for more decoder memory (its window) than allowed: zstd past
    /// [`crate::Limits::max_zstd_window`], xz past [`XZ_MEMORY_LIMIT`]. It is not decoded.
    TooMuchMemory {
        /// The compression of the stream.
        kind: Kind,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The data is corrupt (or ends early) where this layer was being read: the content
    /// visited ends there, or the container was visited as raw bytes.
    Corrupt {
        /// The format being read.
        kind: Kind,
        /// What was wrong, as the decoder said.
        detail: String,
    },
    /// A member ends before the length its archive declares: the input is cut short.
    Truncated {
        /// The archive format.
        kind: Kind,
        /// The length declared for the member.
        declared: u64,
        /// The bytes present.
        present: u64,
    },
    /// A zip member compressed with a method other than stored or deflate; it is not read.
    UnsupportedMethod {
        /// The method number from the zip header.
        method: u16,
        /// Its usual name.
        name: &'static str,
    },
    /// An encrypted zip member; it is not read.
    Encrypted,
}

impl Problem {
    /// The limit this problem reached, if it is one: content a limit cut (not expanded, or
    /// not read to its end), as opposed to content that is corrupt, encrypted or in an
    /// unsupported format.
    pub fn limit(&self) -> Option<LimitReached> {
        let (name, value) = match *self {
            Problem::TooDeep { max_depth, .. } => ("max_depth", u64::from(max_depth)),
            Problem::ExpandedLimit { budget } => ("expansion_budget", budget),
            Problem::TooManyEntries { max_entries, .. } => ("max_entries", max_entries),
            Problem::TooBigToBuffer { max_buffered } => ("max_buffered", max_buffered),
            Problem::TooMuchMemory {
                kind: Kind::Xz,
                limit,
            } => ("xz_memory", limit),
            Problem::TooMuchMemory { limit, .. } => ("max_zstd_window", limit),
            Problem::Corrupt { .. }
            | Problem::Truncated { .. }
            | Problem::UnsupportedMethod { .. }
            | Problem::Encrypted => return None,
        };
        Some(LimitReached { name, value })
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::TooDeep { kind, max_depth } => write!(
                f,
                "{kind} nested more than {max_depth} layers deep is not expanded; its bytes are \
                 scanned as they are"
            ),
            Problem::ExpandedLimit { budget } => write!(
                f,
                "suspected decompression bomb: decompression stopped after {budget} bytes (the \
                 expansion budget of this file); the rest of the file is not read"
            ),
            Problem::TooManyEntries {
                kind,
                max_entries,
                visited,
            } => write!(
                f,
                "{kind} archive with more than {max_entries} members; only the first {visited} \
                 were read"
            ),
            Problem::TooBigToBuffer { max_buffered } => write!(
                f,
                "nested zip larger than the memory left to hold it in (at most {max_buffered} \
                 bytes); not expanded, its bytes are scanned as they are"
            ),
            Problem::TooMuchMemory { kind, limit } => write!(
                f,
                "{kind} data needs more than {} MiB of decoder memory for its window (the \
                 limit); not decoded",
                limit >> 20
            ),
            Problem::Corrupt { kind, detail } => write!(f, "corrupt {kind} data: {detail}"),
            Problem::Truncated {
                kind,
                declared,
                present,
            } => write!(
                f,
                "truncated {kind} member: {declared} bytes declared, {present} present"
            ),
            Problem::UnsupportedMethod { method, name } => write!(
                f,
                "zip member compressed with method {method} ({name}), which is not supported; \
                 not read"
            ),
            Problem::Encrypted => write!(f, "encrypted zip member; not read"),
        }
    }
}
