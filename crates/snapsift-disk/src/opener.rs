//! [`Opener`]: opening an image and, recursively, the backing images it names.

use std::path::{Path, PathBuf};

use crate::DiskError;

/// Backing chains deeper than this are refused. Real chains are a few images deep; a longer
/// one is more likely a mistake or an attack than a disk.
pub const MAX_BACKING_DEPTH: usize = 64;

/// Follows a chain of backing (parent) images, refusing loops and chains deeper than
/// [`MAX_BACKING_DEPTH`].
///
/// Formats with overlays (qcow2 backing files, VHD and VHDX differencing disks) call
/// [`Opener::open_backing`] with the name the overlay records; relative names are resolved from
/// the overlay's directory, as the hypervisors that wrote them do.
#[derive(Debug, Default)]
pub struct Opener {
    /// Canonical paths of the images opened so far along this chain, the top one first.
    chain: Vec<PathBuf>,
}

impl Opener {
    /// A fresh opener, for a top-level image.
    pub fn new() -> Self {
        Opener::default()
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
