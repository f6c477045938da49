//! [`Limits`]: how far one input may be expanded.

/// How far [`crate::unpack`] may go with one input. Reaching a limit is reported as a
/// [`crate::Problem`]; the content read up to that point is still visited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most layers in a chain: a container found deeper is not expanded, and its bytes
    /// are visited as they are. 0 expands nothing.
    pub max_depth: u32,
    /// The most bytes decompression may produce from one input, all layers together. When it
    /// is reached the layer being read ends there and nothing more of the input is visited.
    pub max_expanded: u64,
    /// The most bytes one compressed layer (a stream or a deflated zip member) may produce per
    /// compressed byte it has read, once it has produced [`Limits::ratio_grace`] bytes. Beyond
    /// it the layer is taken for a decompression bomb and cut; the rest of the input goes on.
    pub max_ratio: u64,
    /// What a compressed layer may produce before [`Limits::max_ratio`] applies, so that small
    /// files of repetitive text are never taken for bombs.
    pub ratio_grace: u64,
    /// The most bytes held in memory at once for zips nested in layers that cannot seek (a
    /// zip's directory is at its end). A larger nested zip is visited as raw bytes.
    pub max_buffered: u64,
    /// The most members one archive may hold. A tar is visited up to the limit; a zip whose
    /// directory declares more is not opened (its directory would have to be held whole) and
    /// is visited as raw bytes.
    pub max_entries: u64,
}

impl Limits {
    /// The default depth: a jar in a war in a tar.gz needs 4.
    pub const DEFAULT_MAX_DEPTH: u32 = 6;
    /// The default total expansion: 1 GiB.
    pub const DEFAULT_MAX_EXPANDED: u64 = 1 << 30;
    /// The default ratio: text compresses about 10:1 and ordinary files rarely past 100:1.
    pub const DEFAULT_MAX_RATIO: u64 = 200;
    /// The default grace before the ratio applies: 1 MiB.
    pub const DEFAULT_RATIO_GRACE: u64 = 1 << 20;
    /// The default memory for nested zips: 64 MiB.
    pub const DEFAULT_MAX_BUFFERED: u64 = 64 << 20;
    /// The default members per archive.
    pub const DEFAULT_MAX_ENTRIES: u64 = 100_000;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: Self::DEFAULT_MAX_DEPTH,
            max_expanded: Self::DEFAULT_MAX_EXPANDED,
            max_ratio: Self::DEFAULT_MAX_RATIO,
            ratio_grace: Self::DEFAULT_RATIO_GRACE,
            max_buffered: Self::DEFAULT_MAX_BUFFERED,
            max_entries: Self::DEFAULT_MAX_ENTRIES,
        }
    }
}
