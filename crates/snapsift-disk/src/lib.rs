//! Read-only random access to a virtual disk.
//!
//! This is snapsift's block-device reader layer. Whatever holds the disk (a raw image file, an
//! attached block device, a qcow2, VHD, VHDX or VMDK container, the first disk of an OVA) is
//! exposed through one trait, [`Disk`]: the size of the virtual disk, a positional read, and
//! the list of byte ranges worth reading. A raw image compressed as a whole (zstd, gzip) can
//! only be read front to back: it is a [`StreamImage`] ([`open_image`]).
//!
//! # Contract
//!
//! * **Read-only.** Nothing in this crate opens anything for writing, and no method takes
//!   `&mut self`: a disk is shared between scanning threads as `&dyn Disk`.
//! * **Offsets are virtual-disk offsets.** Every offset a [`Disk`] takes or returns is a byte
//!   offset in the disk the guest saw, whatever the container.
//! * **Data ranges are a promise about zeros.** Bytes outside [`Disk::data_ranges`] read as zero
//!   (holes of a sparse file, unallocated clusters). A scanner may skip them and lose nothing, as
//!   long as nothing it looks for can consist of zero bytes only.
//! * **Damage is local.** A container whose tables cannot all be read (an I/O error on a
//!   table, a file cut short, a missing extent file) still opens when its header and geometry
//!   can be read: [`Disk::data_map`] lists the stretches of the virtual disk that the lost
//!   structures map as [`Unreadable`], with the cause, every read that touches one fails,
//!   and the rest of the disk reads as usual.
//! * **Errors, not panics.** Out-of-range reads and I/O failures come back as [`DiskError`].
//!
//! [`open`] picks the implementation for a path by its content: [`RawFile`] for a raw image,
//! [`BlockDevice`] for a block device, a container reader for qcow2 and the other image formats
//! ([`Format`]), and a [`DiskError::NotADisk`] for anything else.

// `unsafe` is for the system calls std does not wrap, in `host` alone (see there).
#![deny(unsafe_code)]
// Offsets and sizes here come from images we do not trust: no arithmetic may wrap or panic.
#![cfg_attr(
    not(test),
    warn(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)
)]

mod block_device;
mod data_map;
mod error;
mod formats;
// The system calls std does not wrap (posix_fadvise, fcntl, lseek with SEEK_DATA/SEEK_HOLE,
// the BLKGETSIZE64 and BLKSSZGET ioctls): each is given an open descriptor and, where it
// writes, a pointer to a local of the type the call writes; its result is checked.
#[allow(unsafe_code)]
mod host;
mod memory;
mod opener;
mod ranges;
mod raw_file;
mod window;

use std::ops::Range;
use std::path::Path;

pub use block_device::BlockDevice;
pub use data_map::{DataMap, Unreadable};
pub use error::DiskError;
pub use formats::{Format, Image, StreamImage};
pub use memory::MemoryDisk;
pub use opener::{MAX_BACKING_DEPTH, Opener, ReferencePolicy, SourceFile};
pub use raw_file::RawFile;
pub use window::page_aligned_range;

use host::Host;

/// A read-only virtual disk.
///
/// Implementations must be cheap to share between threads: scanning threads call
/// [`Disk::read_exact_at`] and [`Disk::window`] concurrently.
pub trait Disk: Send + Sync + std::fmt::Debug {
    /// The size of the virtual disk in bytes.
    fn size(&self) -> u64;

    /// Reads exactly `buf.len()` bytes starting at `offset`.
    ///
    /// Fails with [`DiskError::OutOfBounds`] if the range extends past [`Disk::size`].
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError>;

    /// The byte ranges worth reading, sorted, non-overlapping and within `0..size()`.
    ///
    /// Every byte outside these ranges reads as zero. The default is the whole disk, which is
    /// always correct; implementations that know where their holes are override it.
    fn data_ranges(&self) -> Result<Vec<Range<u64>>, DiskError> {
        Ok(vec![0..self.size()])
    }

    /// The data ranges ([`DataMap::data`], as [`Disk::data_ranges`] gives them) and the
    /// stretches of them that cannot be read because the image's own structures for them are
    /// lost ([`DataMap::unreadable`]): a table that cannot be read, a part of the file that
    /// was cut off. A scan skips the unreadable stretches and reports them, rather than
    /// failing reads of them block by block.
    ///
    /// The default is [`Disk::data_ranges`] with nothing unreadable; containers whose tables
    /// can be damaged override it (and their `data_ranges` is its `data`).
    fn data_map(&self) -> Result<DataMap, DiskError> {
        Ok(DataMap::readable(self.data_ranges()?))
    }

    /// The bytes of `range`, read with [`Disk::read_exact_at`] into a page-aligned stretch of
    /// `buf` (growing `buf` when it is too small, otherwise reusing its allocation: the kernel
    /// copies into page-aligned memory several times faster).
    ///
    /// The bytes are always copied into the caller's buffer, so a scanner that reuses one
    /// buffer per thread holds as much memory as the windows it holds at once, whatever the
    /// size of the disk. No disk hands out memory mappings: a mapped page whose read fails
    /// raises `SIGBUS`, which no scan can read around, where a failed read is an error.
    fn window<'a>(&self, range: Range<u64>, buf: &'a mut Vec<u8>) -> Result<&'a [u8], DiskError> {
        let len = window::range_len(&range)?;
        let aligned = window::page_aligned(buf, len);
        self.read_exact_at(range.start, aligned)?;
        Ok(aligned)
    }

    /// Whether the disk is read fastest front to back by a single thread.
    ///
    /// An attached device is ([`BlockDevice`]): one stream of large reads in disk order, kept
    /// going while other threads search what was read, gets its bytes fastest. A scanner then
    /// reads the windows in disk order on one thread, ahead of the threads that search them,
    /// with [`Disk::read_exact_at`] into page-aligned buffers (see [`page_aligned_range`]).
    /// The default, `false`, suits disks read from the page cache, where each scanning
    /// thread reading its own windows costs nothing more.
    fn sequential(&self) -> bool {
        false
    }

    /// A short human description of what backs this disk, such as `raw image file`.
    fn kind(&self) -> &'static str;

    /// What a reader of a scan's results should know about how the disk was read, one
    /// sentence each: a container header on a block device that was not followed. None by
    /// default.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A shared disk is the disk it shares: a view that reads a disk the scan also reads (the
/// plaintext of an encrypted volume) holds it so. Every method is the disk's own.
impl<D: Disk + ?Sized> Disk for std::sync::Arc<D> {
    fn size(&self) -> u64 {
        (**self).size()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        (**self).read_exact_at(offset, buf)
    }

    fn data_ranges(&self) -> Result<Vec<Range<u64>>, DiskError> {
        (**self).data_ranges()
    }

    fn data_map(&self) -> Result<DataMap, DiskError> {
        (**self).data_map()
    }

    fn window<'a>(&self, range: Range<u64>, buf: &'a mut Vec<u8>) -> Result<&'a [u8], DiskError> {
        (**self).window(range, buf)
    }

    fn sequential(&self) -> bool {
        (**self).sequential()
    }

    fn kind(&self) -> &'static str {
        (**self).kind()
    }

    fn notes(&self) -> Vec<String> {
        (**self).notes()
    }
}

/// Opens `path` read-only as the disk it holds, whatever the container.
///
/// The format is detected from the content (magic numbers, headers, footers), never from the
/// file name: a raw image or a block device is read as it is, a qcow2, VHD, VHDX or VMDK image
/// as the virtual disk the guest saw, with its backing images. Anything that is not a disk (a
/// directory, a character device, a FIFO, an empty file) is refused with
/// [`DiskError::NotADisk`] before it is opened for reading, so that a typo never turns into a
/// silent, empty scan or a scan that waits forever.
///
/// A block device is always read as its raw bytes, whatever header it starts with: the header
/// is written by whoever controls the device, and following it would let them hide the
/// device's bytes or name this machine's files. [`Disk::notes`] says what header was seen.
///
/// Files the image names (backing files, parents, extents) are opened only inside the image's
/// directory tree: see [`open_with`] to allow more, or less.
pub fn open(path: &Path) -> Result<Box<dyn Disk>, DiskError> {
    open_with(path, &ReferencePolicy::default())
}

/// [`open`], with the files the image names opened as `policy` allows.
pub fn open_with(path: &Path, policy: &ReferencePolicy) -> Result<Box<dyn Disk>, DiskError> {
    let mut opener = Opener::new(policy.clone());
    let host = Host::open(path)?;
    opener.enter(path)?;
    formats::open(host, &mut opener)
}

/// Opens `path` read-only as whatever image it holds: a [`Disk`] to read at random, or, for a
/// raw image compressed as a whole (zstd, gzip), a [`StreamImage`] to read front to back. As
/// [`open`] does, it reads a block device as its raw bytes and opens the files an image names
/// only inside its directory tree.
pub fn open_image(path: &Path) -> Result<Image, DiskError> {
    open_image_with(path, &ReferencePolicy::default())
}

/// [`open_image`], with the files the image names opened as `policy` allows.
///
/// [`Opener::open_image`] does the same and also lists the files the image was read from.
pub fn open_image_with(path: &Path, policy: &ReferencePolicy) -> Result<Image, DiskError> {
    Opener::new(policy.clone()).open_image(path)
}

/// Checks that `offset..offset + len` lies within a disk of `size` bytes; returns its end.
fn check_bounds(offset: u64, len: usize, size: u64) -> Result<u64, DiskError> {
    let out_of_bounds = || DiskError::OutOfBounds { offset, len, size };
    let len64 = u64::try_from(len).map_err(|_| out_of_bounds())?;
    let end = offset.checked_add(len64).ok_or_else(out_of_bounds)?;
    if end > size {
        return Err(out_of_bounds());
    }
    Ok(end)
}
