//! What the checks read: the files of one filesystem, listed and read up to a bound.
//!
//! [`FileTree`] is what a check sees of an image; [`MappedFilesystem`] (the engine's map of
//! one volume's filesystem) is the one the binary gives it. The unit tests give a tree held
//! in memory.

use snapsift_engine::mapped::{FileBytes, ListedFile, MappedFilesystem};

use crate::AuditError;

/// The files of one filesystem.
pub trait FileTree {
    /// The volume's name, as evidence gives it: `partition 1 (ext4)`.
    fn label(&self) -> &str;

    /// Calls `visit` with every file listed: files in use and deleted files whose contents
    /// the filesystem still records (see [`snapsift_engine::mapped`]).
    fn each_file(&self, visit: &mut dyn FnMut(ListedFile));

    /// The first `limit` bytes of file `index` (as [`ListedFile::index`] gives it).
    fn read(&self, index: usize, limit: u64) -> Result<FileBytes, AuditError>;

    /// Where file `index`'s first byte lies on the disk, if it lies there as such.
    fn disk_offset(&self, _index: usize) -> Option<u64> {
        None
    }
}

impl FileTree for MappedFilesystem<'_> {
    fn label(&self) -> &str {
        MappedFilesystem::label(self)
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
}

#[cfg(test)]
pub(crate) mod memory {
    //! A tree held in memory, for the unit tests.

    use snapsift_engine::mapped::FileState;
    use snapsift_engine::mapped::{FileBytes, ListedFile};

    use super::FileTree;
    use crate::AuditError;

    /// Files as (path, contents, deleted).
    #[derive(Default)]
    pub(crate) struct MemoryTree {
        pub(crate) files: Vec<(String, Vec<u8>, bool)>,
    }

    impl MemoryTree {
        /// A tree of these live files.
        pub(crate) fn of(files: &[(&str, &[u8])]) -> MemoryTree {
            MemoryTree {
                files: files
                    .iter()
                    .map(|(p, c)| (p.to_string(), c.to_vec(), false))
                    .collect(),
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
    }
}
