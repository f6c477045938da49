//! The one error type of the disk layer.

use std::io;
use std::path::{Path, PathBuf};

/// Why a disk could not be opened or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiskError {
    /// The path could not be opened or inspected (missing, permission denied, ...).
    #[error("cannot open {}", path.display())]
    Open {
        /// The path given.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The path exists but does not hold a disk.
    #[error("{} is not a disk image or block device: {reason}", path.display())]
    NotADisk {
        /// The path given.
        path: PathBuf,
        /// What it is instead.
        reason: &'static str,
    },
    /// The size of a block device could not be read.
    #[error("cannot read the size of {}", path.display())]
    Size {
        /// The device.
        path: PathBuf,
        /// What the kernel said.
        #[source]
        source: io::Error,
    },
    /// A read failed.
    #[error("read of {len} bytes at offset {offset} failed")]
    Read {
        /// Disk offset of the read.
        offset: u64,
        /// Length of the read.
        len: usize,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// An image's structures are inconsistent or point outside the image.
    #[error("{}: corrupt {format} image: {reason}", path.display())]
    Corrupt {
        /// The image file.
        path: PathBuf,
        /// The container format, such as `qcow2`.
        format: &'static str,
        /// What is wrong, with the offsets involved.
        reason: String,
    },
    /// A read touched a stretch of the virtual disk whose table (or data) in the image is
    /// lost: unreadable, or cut off with the end of the file. The stretch is listed in
    /// [`crate::Disk::data_map`]; the rest of the disk reads as usual.
    #[error("{}: damaged {format} image: {reason}", path.display())]
    Damaged {
        /// The image file.
        path: PathBuf,
        /// The container format, such as `qcow2`.
        format: &'static str,
        /// What is lost, and why.
        reason: String,
    },
    /// An image uses a feature snapsift cannot read.
    #[error("{}: unsupported {format} image: {feature}", path.display())]
    Unsupported {
        /// The image file.
        path: PathBuf,
        /// The container format.
        format: &'static str,
        /// The feature, and what to do about it where something can be done.
        feature: String,
    },
    /// An image ends before a structure it needs.
    #[error(
        "{}: truncated image: {len} bytes at offset {offset} are past its end ({size} bytes)",
        path.display()
    )]
    Truncated {
        /// The image file.
        path: PathBuf,
        /// Offset of the read in the file.
        offset: u64,
        /// Length of the read.
        len: usize,
        /// Size of the image in the file.
        size: u64,
    },
    /// The backing (parent) image of an overlay could not be opened.
    #[error("{}: cannot open its backing image {}", overlay.display(), backing.display())]
    Backing {
        /// The overlay naming the backing image.
        overlay: PathBuf,
        /// The backing image, resolved against the overlay's directory.
        backing: PathBuf,
        /// Why it could not be opened.
        #[source]
        source: Box<DiskError>,
    },
    /// A file an image names (a backing file, a VMDK extent, a parent) lies outside the
    /// directories the [`crate::ReferencePolicy`] allows, and was not opened.
    #[error("{}", refused_message(image, reference, resolved, allow.as_deref()))]
    ReferenceRefused {
        /// The image naming the file.
        image: PathBuf,
        /// The name as the image records it.
        reference: PathBuf,
        /// Where the name leads, symlinks resolved (the name joined to the image's directory
        /// where the file could not be reached).
        resolved: PathBuf,
        /// The directory whose `--allow-path` would allow the file; `None` where the policy
        /// allows no reference at all (an image read from a block device or a remote source).
        allow: Option<PathBuf>,
    },
    /// A chain of backing images loops or is deeper than snapsift follows.
    #[error("{}: backing chain {reason}", path.display())]
    BackingChain {
        /// The image at which the chain was cut.
        path: PathBuf,
        /// What is wrong with the chain.
        reason: String,
    },
    /// A range whose end lies before its start, or too long to address in memory.
    #[error("invalid byte range {start}..{end}")]
    InvalidRange {
        /// Start of the range.
        start: u64,
        /// End of the range.
        end: u64,
    },
    /// A compressed stream could not be spilled to a temporary file (see
    /// [`crate::StreamImage::spill`]): the directory is missing or not writable, or space ran
    /// out.
    #[error(
        "{}: cannot spill the decompressed image to a temporary file in {}",
        image.display(),
        dir.display()
    )]
    Spill {
        /// The compressed image.
        image: PathBuf,
        /// The directory the spill file was to be in.
        dir: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// A read asked for bytes past the end of the disk.
    #[error("read of {len} bytes at offset {offset} is outside the disk ({size} bytes)")]
    OutOfBounds {
        /// Disk offset of the read.
        offset: u64,
        /// Length of the read.
        len: usize,
        /// Size of the disk.
        size: u64,
    },
}

/// The message of [`DiskError::ReferenceRefused`].
fn refused_message(
    image: &Path,
    reference: &Path,
    resolved: &Path,
    allow: Option<&Path>,
) -> String {
    let why = match allow {
        Some(dir) => format!(
            "it lies outside the image's directory and every --allow-path directory (a hostile \
             image could otherwise make snapsift read and report this machine's files); if the \
             file is meant to be read, allow its directory: snapsift scan --allow-path {}",
            dir.display()
        ),
        None => {
            "this image may name no file at all (its names mean nothing on this machine)".to_owned()
        }
    };
    format!(
        "{} names the file {} (resolved: {}), which was not opened: {why}",
        image.display(),
        reference.display(),
        resolved.display()
    )
}
