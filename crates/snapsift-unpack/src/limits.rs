//! [`Limits`]: how far one input may be expanded.

/// How far [`crate::unpack`] may go with one input. Reaching a limit is reported as a
/// [`crate::Problem`] (whose [`crate::Problem::limit`] names it); the content read up to that
/// point is still visited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most layers in a chain (a tar.gz is two: gzip, then tar): a container found deeper
    /// is not expanded, and its bytes are visited as they are. 0 expands nothing.
    pub max_depth: u32,
    /// The most bytes decompression may produce from one input, all layers together,
    /// whatever its size: the cap on [`Limits::expansion_budget`].
    pub max_expanded: u64,
    /// The bytes decompression may produce from one input per byte of the input (all layers
    /// together), past [`Limits::expansion_floor`]: see [`Limits::expansion_budget`].
    pub expansion_ratio: u64,
    /// What decompression may produce from any input, however small: small files of
    /// repetitive text and archives holding long runs of zeros (a preallocated database file)
    /// are read in full.
    pub expansion_floor: u64,
    /// The most bytes held in memory at once for zips nested in layers that cannot seek (a
    /// zip's directory is at its end). A larger nested zip is visited as raw bytes.
    pub max_buffered: u64,
    /// The most members one archive may hold. A tar is visited up to the limit; a zip whose
    /// directory declares more is not opened (its directory would have to be held whole) and
    /// is visited as raw bytes.
    pub max_entries: u64,
    /// The largest window a zstd stream's decoder may hold (zstd frames declare theirs; the
    /// decoder holds that much memory, or the frame's size if it is smaller). A frame that
    /// asks for more is not decoded.
    pub max_zstd_window: u64,
}

impl Limits {
    /// The default depth: 20 layers, ten levels of tar.gz (a jar in a war in a tar.gz needs
    /// 4 layers).
    pub const DEFAULT_MAX_DEPTH: u32 = 20;
    /// The default cap on expansion: 1 GiB.
    pub const DEFAULT_MAX_EXPANDED: u64 = 1 << 30;
    /// The default expansion per input byte: text compresses about 10:1 and ordinary files
    /// rarely past 100:1.
    pub const DEFAULT_EXPANSION_RATIO: u64 = 200;
    /// The default floor: 128 MiB, decoded in well under a second.
    pub const DEFAULT_EXPANSION_FLOOR: u64 = 128 << 20;
    /// The default memory for nested zips: 64 MiB.
    pub const DEFAULT_MAX_BUFFERED: u64 = 64 << 20;
    /// The default members per archive.
    pub const DEFAULT_MAX_ENTRIES: u64 = 100_000;
    /// The default zstd window: 8 MiB, the window the zstd format asks every decoder to
    /// support and the most that levels 1 to 19 use; `--ultra` levels and `--long` use more.
    pub const DEFAULT_MAX_ZSTD_WINDOW: u64 = 8 << 20;

    /// The most bytes decompression may produce from an input of `input_len` bytes, all
    /// layers together: [`Limits::expansion_ratio`] per input byte, at least
    /// [`Limits::expansion_floor`], at most [`Limits::max_expanded`]. When it is spent the
    /// layer being read ends there and nothing more of the input is visited.
    ///
    /// Every decompressed byte counts, zeros too: a decompression bomb is made of zeros, and
    /// what it costs is the time to decode them. Scanning them costs next to nothing, so the
    /// floor is generous.
    pub fn expansion_budget(&self, input_len: u64) -> u64 {
        self.expansion_ratio
            .saturating_mul(input_len)
            .max(self.expansion_floor)
            .min(self.max_expanded)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: Self::DEFAULT_MAX_DEPTH,
            max_expanded: Self::DEFAULT_MAX_EXPANDED,
            expansion_ratio: Self::DEFAULT_EXPANSION_RATIO,
            expansion_floor: Self::DEFAULT_EXPANSION_FLOOR,
            max_buffered: Self::DEFAULT_MAX_BUFFERED,
            max_entries: Self::DEFAULT_MAX_ENTRIES,
            max_zstd_window: Self::DEFAULT_MAX_ZSTD_WINDOW,
        }
    }
}
