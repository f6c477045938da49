//! What the visitor is handed: leaves, the layers that led to them, and the visitor trait.

use std::fmt;
use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::{Kind, Problem};

/// One layer between the root input and a leaf. Serialized as `{"kind": "zip", "member":
/// "a/b.txt"}` (`member` `null` where there is none), as reports write it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Layer {
    /// The format of the layer.
    pub kind: Kind,
    /// For an archive (zip, tar), the member's path as the archive stores it (decoded as UTF-8,
    /// invalid sequences replaced; zip names without the UTF-8 flag as code page 437). `None`
    /// for streams and UTF-16, and for a problem with an archive as a whole.
    pub member: Option<String>,
}

impl Layer {
    /// The layer of an archive as a whole, for its problems.
    pub(crate) fn archive(kind: Kind) -> Self {
        Layer { kind, member: None }
    }
}

impl fmt::Display for Layer {
    /// `gzip`, or `zip:path/in/archive`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.member {
            Some(member) => write!(f, "{}:{member}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

/// What a leaf's bytes were before the visitor got them (serialized by its
/// [`as_str`](LeafEncoding::as_str) name). Not the encoding a match is written in on the disk,
/// which is `snapsift_match::Encoding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LeafEncoding {
    /// The bytes as they are in the input (after the decompression of the chain's layers).
    #[serde(rename = "bytes")]
    Bytes,
    /// UTF-16 little-endian text, transcoded to UTF-8 (unpaired surrogates and a final odd
    /// byte become U+FFFD, a leading byte-order mark is dropped).
    #[serde(rename = "utf-16le")]
    Utf16Le,
    /// UTF-16 big-endian text, transcoded to UTF-8 likewise.
    #[serde(rename = "utf-16be")]
    Utf16Be,
}

impl LeafEncoding {
    /// `bytes`, `utf-16le` or `utf-16be`.
    pub fn as_str(self) -> &'static str {
        match self {
            LeafEncoding::Bytes => "bytes",
            LeafEncoding::Utf16Le => "utf-16le",
            LeafEncoding::Utf16Be => "utf-16be",
        }
    }
}

impl fmt::Display for LeafEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A leaf: content that is not itself a container, as [`Visitor::leaf`] gets it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Leaf<'a> {
    /// The layers from the root to this leaf, outermost first; empty when the root itself is
    /// the leaf.
    pub chain: &'a [Layer],
    /// Where the leaf's bytes lie verbatim in the root input: set when every layer stored them
    /// as they are (tar members, stored zip members, nested to any depth), `None` as soon as one
    /// layer transformed them (decompression, transcoding, a zip held in memory).
    pub origin: Option<u64>,
    /// The length its container declares, when it declares one. Untrusted: the content's end
    /// is where the [`Read`] ends. `None` for streams and transcoded text.
    pub len: Option<u64>,
    /// Whether the content was transcoded to UTF-8.
    pub encoding: LeafEncoding,
}

/// Receives the leaves and problems of one input.
///
/// Calls come in the order of the input: each leaf, then any problem with it; a problem with a
/// whole container after its members.
pub trait Visitor {
    /// What the visitor may fail with; returned as [`crate::UnpackError::Visitor`], which ends
    /// the walk.
    type Error;

    /// One leaf. `content` yields its bytes and ends early if the input is cut or corrupt
    /// there (a problem follows); it never returns an error. The visitor need not read it to
    /// the end.
    fn leaf(&mut self, leaf: &Leaf<'_>, content: &mut dyn Read) -> Result<(), Self::Error>;

    /// A problem found while reading the layers of `chain`.
    fn problem(&mut self, chain: &[Layer], problem: &Problem) -> Result<(), Self::Error>;
}
