//! Spilling a compressed stream to a sparse temporary file, so that it can be read at random
//! (the volumes, filesystems and file pass need that) after one decompression.
//!
//! The file is made with `tempfile` in the directory the user allows: mode 0600 and, on
//! Linux, `O_TMPFILE` (or created and unlinked at once where the filesystem lacks it), so it
//! never has a name another process could open, and it is gone when the process ends,
//! however it ends. Blocks of zeros are not written: they stay holes, so the file takes the
//! space of the image's data, and [`Disk::data_ranges`](crate::Disk::data_ranges) skips them.

use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::Ordering;

use crate::DiskError;
use crate::formats::{Format, StreamImage};
use crate::host::Host;
use crate::raw_file::RawFile;

/// The spill reads the stream in pieces of this many bytes...
const READ_LEN: usize = 1 << 20;
/// ...and leaves each block of this many zeros as a hole.
const BLOCK: usize = 64 << 10;

impl StreamImage {
    /// Decompresses the whole stream into a sparse temporary file in `dir` (see the module's
    /// docs) and returns it as a raw disk, whose [`Disk::kind`](crate::Disk::kind) says it
    /// was spilled. `progress` hears how many compressed bytes have been read, now and then.
    ///
    /// A stream that cannot be decompressed is a [`DiskError::Read`] at the decompressed
    /// offset where it failed; a spill file that cannot be made or written (no such
    /// directory, no space left) is a [`DiskError::Spill`] naming the directory.
    pub fn spill(
        mut self,
        dir: &Path,
        mut progress: impl FnMut(u64),
    ) -> Result<RawFile, DiskError> {
        let image = self.path.clone();
        let spill_error = |source| DiskError::Spill {
            image: image.clone(),
            dir: dir.to_owned(),
            source,
        };
        let file = tempfile::tempfile_in(dir).map_err(spill_error)?;
        let mut buf = Vec::with_capacity(READ_LEN);
        let mut len = 0u64;
        loop {
            buf.clear();
            (&mut self)
                .take(READ_LEN as u64)
                .read_to_end(&mut buf)
                .map_err(|source| DiskError::Read {
                    offset: len,
                    len: READ_LEN,
                    source,
                })?;
            if buf.is_empty() {
                break;
            }
            let mut at = len;
            for block in buf.chunks(BLOCK) {
                if block.iter().any(|&b| b != 0) {
                    file.write_all_at(block, at).map_err(spill_error)?;
                }
                at = at.saturating_add(block.len() as u64);
            }
            len = at;
            progress(self.compressed_read.load(Ordering::Relaxed));
        }
        file.set_len(len).map_err(spill_error)?;
        if len == 0 {
            return Err(DiskError::NotADisk {
                path: self.path.clone(),
                reason: "it decompresses to nothing (0 bytes)",
            });
        }
        let host = Host::from_file(file, &self.path, len);
        let kind = match self.format() {
            Format::Gzip => "gzip-compressed raw image, spilled",
            _ => "zstd-compressed raw image, spilled",
        };
        Ok(RawFile::spilled(host, kind))
    }
}
