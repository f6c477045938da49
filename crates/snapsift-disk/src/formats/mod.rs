//! Image container formats: each read as the virtual disk the guest saw.
//!
//! Every format module parses its headers and tables apart from I/O where it can (plain
//! functions over byte slices, which the fuzzers reach directly) and reads through a [`Host`],
//! so a truncated or lying image gives a [`DiskError`], never a panic or a read outside the
//! file. Offsets reported by every reader are virtual-disk offsets.

mod detect;
mod ova;
mod qcow2;
mod vhd;
mod vhdx;
mod vmdk;

pub use detect::Format;

use crate::host::Host;
use crate::{BlockDevice, Disk, DiskError, Opener, RawFile};

/// Opens `host` as the disk its format describes.
pub(crate) fn open(host: Host, opener: &mut Opener) -> Result<Box<dyn Disk>, DiskError> {
    let format = detect::detect(&host)?;
    match format {
        Format::Raw if host.is_block_device() => Ok(Box::new(BlockDevice::from_host(host))),
        Format::Raw => Ok(Box::new(RawFile::from_host(host))),
        Format::Qcow2 => qcow2::open(host, opener),
        Format::Vhd => vhd::open(host, opener),
        Format::Vhdx => vhdx::open(host, opener),
        Format::VmdkSparse | Format::VmdkDescriptor => vmdk::open(host, opener),
        Format::Tar => ova::open(host, opener),
        other => Err(DiskError::Unsupported {
            path: host.path_buf(),
            format: other.name(),
            feature: "this image format is not supported yet".into(),
        }),
    }
}
