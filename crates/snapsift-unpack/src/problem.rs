//! [`Problem`]: what could not be expanded, and why.

use std::fmt;

use crate::Kind;

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
    /// Decompression produced [`crate::Limits::max_expanded`] bytes; the layer being read was
    /// cut there and nothing more of the input is visited.
    ExpandedLimit {
        /// The limit.
        max_expanded: u64,
    },
    /// A compressed layer would have produced more than [`crate::Limits::max_ratio`] bytes
    /// per byte it read: a suspected decompression bomb, cut there.
    RatioLimit {
        /// The compression of the layer (a deflated zip member is [`Kind::Zip`]).
        kind: Kind,
        /// Bytes the layer produced before it was cut (the most the ratio allowed).
        produced: u64,
        /// Compressed bytes it had read.
        consumed: u64,
        /// The limit.
        max_ratio: u64,
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

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::TooDeep { kind, max_depth } => write!(
                f,
                "{kind} nested more than {max_depth} layers deep is not expanded; its bytes are \
                 scanned as they are"
            ),
            Problem::ExpandedLimit { max_expanded } => write!(
                f,
                "decompression stopped after {max_expanded} bytes (the limit for one file); the \
                 rest of the file is not read"
            ),
            Problem::RatioLimit {
                kind,
                produced,
                consumed,
                max_ratio,
            } => write!(
                f,
                "suspected decompression bomb: {kind} data expanded {consumed} bytes into more \
                 than {produced} (the limit is {max_ratio} to 1); cut there"
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
