//! What the walkers of block filesystems (ext2/3/4, XFS) share: a reader of the volume's
//! blocks that refuses what lies outside the volume, and capped notes.

use snapsift_disk::Disk;

use crate::FsError;

/// Notes kept at most; further ones are counted.
const MAX_NOTES: usize = 64;

/// Reads blocks of the volume, refusing what lies outside it.
pub(crate) struct Reader<'d> {
    /// The disk holding the volume.
    pub(crate) disk: &'d dyn Disk,
    /// The volume's first byte on the disk.
    pub(crate) start: u64,
    /// The volume's length.
    pub(crate) len: u64,
    /// Bytes per block.
    pub(crate) block_size: u64,
}

impl Reader<'_> {
    /// `len` bytes at volume offset `offset`, or `None` if they are not all in the volume.
    pub(crate) fn bytes(&self, offset: u64, len: u64) -> Result<Option<Vec<u8>>, FsError> {
        let inside = offset.checked_add(len).is_some_and(|end| end <= self.len);
        let (Some(at), Ok(size), true) =
            (self.start.checked_add(offset), usize::try_from(len), inside)
        else {
            return Ok(None);
        };
        let mut buf = vec![0u8; size];
        self.disk.read_exact_at(at, &mut buf)?;
        Ok(Some(buf))
    }

    /// `count` blocks from `block`, or `None` if they are not all in the volume.
    pub(crate) fn blocks(&self, block: u64, count: u64) -> Result<Option<Vec<u8>>, FsError> {
        match (
            block.checked_mul(self.block_size),
            count.checked_mul(self.block_size),
        ) {
            (Some(offset), Some(len)) => self.bytes(offset, len),
            _ => Ok(None),
        }
    }
}

/// Notes, capped.
#[derive(Default)]
pub(crate) struct Notes {
    kept: Vec<String>,
    dropped: u64,
}

impl Notes {
    /// Keeps `note`, or counts it past [`MAX_NOTES`].
    pub(crate) fn push(&mut self, note: String) {
        if self.kept.len() < MAX_NOTES {
            self.kept.push(note);
        } else {
            self.dropped = self.dropped.saturating_add(1);
        }
    }

    /// The notes kept, and a last one counting those that were not.
    pub(crate) fn finish(mut self) -> Vec<String> {
        if self.dropped > 0 {
            self.kept
                .push(format!("{} more problems were not listed", self.dropped));
        }
        self.kept
    }
}
