//! Image container formats: each read as the virtual disk the guest saw.
//!
//! Every format module parses its headers and tables apart from I/O where it can (plain
//! functions over byte slices, which the fuzzers reach directly) and reads through a [`Host`],
//! so a truncated or lying image gives a [`DiskError`], never a panic or a read outside the
//! file. Offsets reported by every reader are virtual-disk offsets.

mod assemble;
mod bytes;
mod detect;
mod lost;
mod ova;
mod parent;
mod qcow2;
mod refusal;
mod spill;
mod stream;
mod vhd;
mod vhdx;
mod vmdk;

pub use detect::Format;
pub use stream::StreamImage;

use crate::host::Host;
use crate::{BlockDevice, Disk, DiskError, Opener, RawFile};

/// What an image file holds: a disk to read at random, or a stream to read once.
#[derive(Debug)]
pub enum Image {
    /// A disk: raw, a block device, or a container read as its virtual disk.
    Disk(Box<dyn Disk>),
    /// A raw image compressed as a whole, read front to back.
    Stream(StreamImage),
}

/// Opens `host` as whatever image it holds.
pub(crate) fn open_image(host: Host, opener: &mut Opener) -> Result<Image, DiskError> {
    if host.is_block_device() {
        return Ok(Image::Disk(open_block_device(host)?));
    }
    match detect::detect(&host)? {
        format @ (Format::Zstd | Format::Gzip) => {
            Ok(Image::Stream(StreamImage::new(host, format)?))
        }
        format => open_as(host, format, opener).map(Image::Disk),
    }
}

/// Opens `host` as the disk its format describes.
pub(crate) fn open(host: Host, opener: &mut Opener) -> Result<Box<dyn Disk>, DiskError> {
    if host.is_block_device() {
        return open_block_device(host);
    }
    let format = detect::detect(&host)?;
    open_as(host, format, opener)
}

/// Opens the block device `host` as its raw bytes, whatever it starts with.
///
/// A container header at the start of an attached device (qcow2, VHD, VMDK, a tar, a zstd
/// stream, ...) is not followed: whoever controls the device wrote it, and following it would
/// hide the device's bytes behind a small image (a 1 MiB qcow2 at LBA 0 of a 32 GiB disk) or
/// name files of this machine as backing files and extents. The device is swept whole, and
/// the header is a note ([`Disk::notes`]).
fn open_block_device(host: Host) -> Result<Box<dyn Disk>, DiskError> {
    let notes = match detect::detect(&host)? {
        Format::Raw => Vec::new(),
        format => vec![format!(
            "the device carries a {} header or footer, which was not followed: on an attached \
             device it is written by whoever controls the device, so the whole device was \
             swept as raw bytes (to read the image inside, copy it to a file and scan that)",
            format.name()
        )],
    };
    Ok(Box::new(BlockDevice::from_host(host, notes)))
}

/// Opens `host`, of `format`, as a disk.
fn open_as(host: Host, format: Format, opener: &mut Opener) -> Result<Box<dyn Disk>, DiskError> {
    match format {
        Format::Raw => Ok(Box::new(RawFile::from_host(host))),
        Format::Qcow2 => qcow2::open(host, opener),
        Format::Vhd => vhd::open(host, opener),
        Format::Vhdx => vhdx::open(host, opener),
        Format::VmdkSparse | Format::VmdkDescriptor => vmdk::open(host, opener),
        Format::Tar => ova::open(host, opener),
        Format::Zstd | Format::Gzip => Err(DiskError::Unsupported {
            path: host.path_buf(),
            format: format.name(),
            feature: "a compressed stream can only be read front to back, not as a disk \
                      (snapsift_disk::open_image reads it as a stream)"
                .into(),
        }),
    }
}
