//! What the file pass reports: findings placed in a file (and its containers), and problems.

use std::ops::Range;

use snapsift_scan::Finding;
use snapsift_unpack::{Layer, LeafEncoding, LimitReached};

/// A secret the file pass found in a file.
#[derive(Clone, Debug)]
pub struct FileFinding<'m> {
    /// The finding. Its `offset` is the disk offset of the secret's first byte where that is
    /// known (the secret's bytes lie in the file's own bytes), else the disk offset of the
    /// file's first byte (the secret was decoded: see `decoded_offset`).
    pub finding: Finding<'m>,
    /// The file, as an index into the filesystem's [`files`](snapsift_fs::Filesystem::files).
    pub file: usize,
    /// The containers and decodings from the file to the secret, outermost first; empty when
    /// the secret is in the file's own bytes.
    pub chain: Vec<Layer>,
    /// The secret's offset in the file, when it lies in the file's own bytes (a plain file,
    /// a tar member, a stored zip entry).
    pub file_offset: Option<u64>,
    /// The secret's offset in the decoded bytes of the innermost layer, when it was decoded
    /// (decompressed, or transcoded from UTF-16).
    pub decoded_offset: Option<u64>,
    /// The encoding the secret was decoded from (UTF-16LE, UTF-16BE), if any; never
    /// [`LeafEncoding::Bytes`].
    pub encoding: Option<LeafEncoding>,
    /// The disk bytes the secret lies in, verbatim and contiguously, if it does: then the byte
    /// sweep finds it too, at `on_disk.start`, and the two are one occurrence.
    pub on_disk: Option<Range<u64>>,
}

/// Something the file pass could not read or expand: never skipped silently.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file, as an index into the filesystem's files.
    pub file: usize,
    /// The disk offset of the file's first byte that lies on the disk (the volume's start if
    /// none does): where to find a file that has no path.
    pub disk_offset: u64,
    /// The layers down to where the problem is; empty for the file itself.
    pub chain: Vec<Layer>,
    /// The limit that cut the content, when a limit did (see
    /// [`snapsift_unpack::Problem::limit`]): then some of the file's content was not searched.
    pub limit: Option<LimitReached>,
    /// What went wrong, for people.
    pub message: String,
}
