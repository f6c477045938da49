//! What the checks read: the files of one filesystem, listed and read up to a bound.
//!
//! [`FileTree`] is what a check sees of an image; [`MappedFilesystem`] (the engine's map of
//! one volume's filesystem) is the one the binary gives it. The unit tests give a tree held
//! in memory.

use std::ops::Range;

use snapsift_engine::mapped::{FileBytes, FileState, ListedFile, MappedFilesystem};

use crate::AuditError;

/// The files of one filesystem.
pub trait FileTree {
    /// The volume's name, as evidence gives it: `partition 1 (ext4)`.
    fn label(&self) -> &str;

    /// The filesystem's kind, as `snapsift` names it (`ext4`, `xfs`, `ntfs`...); empty where
    /// it is not known.
    fn kind(&self) -> &str {
        ""
    }

    /// Calls `visit` with every file listed: files in use and deleted files whose contents
    /// the filesystem still records (see [`snapsift_engine::mapped`]).
    fn each_file(&self, visit: &mut dyn FnMut(ListedFile));

    /// The first `limit` bytes of file `index` (as [`ListedFile::index`] gives it).
    fn read(&self, index: usize, limit: u64) -> Result<FileBytes, AuditError>;

    /// Where file `index`'s first byte lies on the disk, if it lies there as such.
    fn disk_offset(&self, _index: usize) -> Option<u64> {
        None
    }

    /// Whether its names are compared case-insensitively (NTFS, FAT, exFAT): the checks'
    /// paths then match whatever the case.
    fn case_insensitive(&self) -> bool;

    /// The ranges of volume offsets its map answers for ([`FileTree::locate`]).
    fn ranges(&self) -> Vec<Range<u64>>;

    /// What the byte at volume offset `offset` is, and the run of bytes around it that is
    /// the same.
    fn locate(&self, offset: u64) -> (FileState, Range<u64>);

    /// Fills `buf` with the volume's bytes at `offset`, whatever they are.
    fn read_volume(&self, offset: u64, buf: &mut [u8]) -> Result<(), AuditError>;
}

impl FileTree for MappedFilesystem<'_> {
    fn label(&self) -> &str {
        MappedFilesystem::label(self)
    }

    fn kind(&self) -> &str {
        MappedFilesystem::kind(self)
    }

    fn each_file(&self, visit: &mut dyn FnMut(ListedFile)) {
        MappedFilesystem::each_file(self, visit);
    }

    fn read(&self, index: usize, limit: u64) -> Result<FileBytes, AuditError> {
        MappedFilesystem::read(self, index, limit).map_err(|e| AuditError::Read(Box::new(e)))
    }

    fn disk_offset(&self, index: usize) -> Option<u64> {
        MappedFilesystem::disk_offset(self, index)
    }

    fn case_insensitive(&self) -> bool {
        matches!(self.kind(), "ntfs" | "fat" | "exfat")
    }

    fn ranges(&self) -> Vec<Range<u64>> {
        MappedFilesystem::ranges(self).to_vec()
    }

    fn locate(&self, offset: u64) -> (FileState, Range<u64>) {
        let found = MappedFilesystem::locate(self, offset);
        (found.state, found.run)
    }

    fn read_volume(&self, offset: u64, buf: &mut [u8]) -> Result<(), AuditError> {
        MappedFilesystem::read_volume(self, offset, buf).map_err(|e| AuditError::Read(Box::new(e)))
    }
}

#[cfg(test)]
pub(crate) mod memory {
    //! A tree held in memory, for the unit tests.

    use std::ops::Range;

    use snapsift_engine::mapped::FileState;
    use snapsift_engine::mapped::{FileBytes, ListedFile};

    use super::FileTree;
    use crate::AuditError;

    /// Files as (path, contents, deleted); the volume's bytes and its free ranges; whether
    /// names are compared case-insensitively.
    #[derive(Default)]
    pub(crate) struct MemoryTree {
        pub(crate) files: Vec<(String, Vec<u8>, bool)>,
        pub(crate) volume: Vec<u8>,
        pub(crate) free: Vec<Range<u64>>,
        pub(crate) case_insensitive: bool,
    }

    impl MemoryTree {
        /// A tree of these live files.
        pub(crate) fn of(files: &[(&str, &[u8])]) -> MemoryTree {
            MemoryTree {
                files: files
                    .iter()
                    .map(|(p, c)| (p.to_string(), c.to_vec(), false))
                    .collect(),
                ..MemoryTree::default()
            }
        }
    }

    impl FileTree for MemoryTree {
        fn label(&self) -> &str {
            "the disk (ext4)"
        }

        fn each_file(&self, visit: &mut dyn FnMut(ListedFile)) {
            for (index, (path, bytes, deleted)) in self.files.iter().enumerate() {
                visit(ListedFile {
                    index,
                    path: Some(path.clone()),
                    size: bytes.len() as u64,
                    state: if *deleted {
                        FileState::Deleted
                    } else {
                        FileState::Allocated
                    },
                });
            }
        }

        fn read(&self, index: usize, limit: u64) -> Result<FileBytes, AuditError> {
            let bytes = &self.files[index].1;
            let n = bytes.len().min(limit as usize);
            Ok(FileBytes {
                bytes: bytes[..n].to_vec(),
                size: bytes.len() as u64,
            })
        }

        fn case_insensitive(&self) -> bool {
            self.case_insensitive
        }

        fn ranges(&self) -> Vec<Range<u64>> {
            vec![0..self.volume.len() as u64]
        }

        fn locate(&self, offset: u64) -> (FileState, Range<u64>) {
            // Free ranges as listed (sorted), the bytes between them allocated.
            let i = self.free.partition_point(|f| f.end <= offset);
            let before = i.checked_sub(1).map_or(0, |p| self.free[p].end);
            match self.free.get(i) {
                Some(free) if free.start <= offset => (FileState::Unallocated, free.clone()),
                Some(free) => (FileState::Allocated, before..free.start),
                None => (FileState::Allocated, before..self.volume.len() as u64),
            }
        }

        fn read_volume(&self, offset: u64, buf: &mut [u8]) -> Result<(), AuditError> {
            let start = offset as usize;
            buf.copy_from_slice(&self.volume[start..start + buf.len()]);
            Ok(())
        }
    }
}
