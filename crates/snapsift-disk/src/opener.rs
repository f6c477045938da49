//! [`Opener`]: opening an image and, recursively, the backing images it names.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::host::Host;
use crate::{DiskError, Image};

/// Backing chains deeper than this are refused. Real chains are a few images deep; a longer
/// one is more likely a mistake or an attack than a disk.
pub const MAX_BACKING_DEPTH: usize = 64;

/// Follows a chain of backing (parent) images, refusing loops and chains deeper than
/// [`MAX_BACKING_DEPTH`].
///
/// Formats with overlays (qcow2 backing files, VHD and VHDX differencing disks) call
/// [`Opener::open_backing`] with the name the overlay records; relative names are resolved from
/// the overlay's directory, as the hypervisors that wrote them do.
///
/// It also lists every file an image was read from ([`Opener::files`]), so that a caller can
/// tell whether a file it is about to write is one of them.
#[derive(Debug, Default)]
pub struct Opener {
    /// Canonical paths of the images opened so far along this chain, the top one first.
    chain: Vec<PathBuf>,
    /// Every file opened or looked into so far, in the order opened.
    files: Vec<SourceFile>,
}

/// A file an image was read from: the image file itself, a backing file or parent, a VMDK
/// extent, or a candidate parent whose header was read to check its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// The path it was opened by.
    pub path: PathBuf,
    /// The device holding it (`st_dev`): with `ino`, which file it is, whatever its name.
    pub dev: u64,
    /// Its inode number (`st_ino`).
    pub ino: u64,
}

impl Opener {
    /// A fresh opener, for a top-level image.
    pub fn new() -> Self {
        Opener::default()
    }

    /// Opens `path` read-only as whatever image it holds (as [`crate::open_image`] does),
    /// recording in [`Opener::files`] every file it reads, also when the image is refused.
    pub fn open_image(&mut self, path: &Path) -> Result<Image, DiskError> {
        let host = Host::open(path)?;
        self.record(&host);
        self.enter(path)?;
        crate::formats::open_image(host, self)
    }

    /// The files opened so far (the image, its backing files, parents and extents), each
    /// once, in the order opened.
    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    /// Records that `host`'s file is read.
    pub(crate) fn record(&mut self, host: &Host) {
        if let Ok(meta) = host.metadata() {
            self.record_file(host.path(), &meta);
        }
    }

    /// Records that the file at `path` is looked into (a candidate parent whose id is read).
    pub(crate) fn record_path(&mut self, path: &Path) {
        if let Ok(meta) = std::fs::metadata(path) {
            self.record_file(path, &meta);
        }
    }

    fn record_file(&mut self, path: &Path, meta: &std::fs::Metadata) {
        let (dev, ino) = (meta.dev(), meta.ino());
        if !self.files.iter().any(|f| f.dev == dev && f.ino == ino) {
            self.files.push(SourceFile {
                path: path.to_owned(),
                dev,
                ino,
            });
        }
    }

    /// Records that `path` is being opened as the next image of the chain.
    pub(crate) fn enter(&mut self, path: &Path) -> Result<(), DiskError> {
        let canonical = path.canonicalize().map_err(|source| DiskError::Open {
            path: path.to_owned(),
            source,
        })?;
        if self.chain.contains(&canonical) {
            return Err(DiskError::BackingChain {
                path: path.to_owned(),
                reason: "loops: the image is its own backing image".into(),
            });
        }
        if self.chain.len() >= MAX_BACKING_DEPTH {
            return Err(DiskError::BackingChain {
                path: path.to_owned(),
                reason: format!("is deeper than {MAX_BACKING_DEPTH} images"),
            });
        }
        self.chain.push(canonical);
        Ok(())
    }

    /// Opens the backing image `name`, recorded by the overlay at `overlay`.
    pub(crate) fn open_backing(
        &mut self,
        overlay: &Path,
        name: &Path,
    ) -> Result<Box<dyn crate::Disk>, DiskError> {
        let backing = match overlay.parent() {
            Some(dir) if name.is_relative() => dir.join(name),
            _ => name.to_owned(),
        };
        crate::open_in_chain(&backing, self).map_err(|source| match source {
            // A loop or an over-deep chain is reported once, where it was found.
            chain @ DiskError::BackingChain { .. } => chain,
            source => DiskError::Backing {
                overlay: overlay.to_owned(),
                backing,
                source: Box::new(source),
            },
        })
    }
}
