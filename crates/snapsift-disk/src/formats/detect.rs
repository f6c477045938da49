//! Telling image formats apart by their content, never by their file names.

use crate::DiskError;
use crate::host::Host;

/// The container formats snapsift recognises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// The file's bytes are the disk's bytes.
    Raw,
    /// QEMU copy-on-write, versions 2 and 3.
    Qcow2,
    /// Virtual PC / Hyper-V / Azure VHD (fixed, dynamic or differencing).
    Vhd,
    /// Hyper-V VHDX.
    Vhdx,
    /// VMware sparse extent (`KDMV`: monolithicSparse or streamOptimized).
    VmdkSparse,
    /// VMware descriptor file (text naming the extents).
    VmdkDescriptor,
    /// A tar archive, as an OVA is: the disk is the first VMDK inside.
    Tar,
    /// A raw image compressed as a whole with zstd.
    Zstd,
    /// A raw image compressed as a whole with gzip.
    Gzip,
}

impl Format {
    /// The format's usual name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Raw => "raw",
            Format::Qcow2 => "qcow2",
            Format::Vhd => "VHD",
            Format::Vhdx => "VHDX",
            Format::VmdkSparse => "VMDK sparse extent",
            Format::VmdkDescriptor => "VMDK descriptor",
            Format::Tar => "tar (OVA)",
            Format::Zstd => "zstd-compressed",
            Format::Gzip => "gzip-compressed",
        }
    }
}

/// The VHD footer cookie, in the last 512 bytes of every VHD (a dynamic VHD also has a copy in
/// its first 512).
const VHD_COOKIE: &[u8; 8] = b"conectix";

/// Reads the first and last sector of `host` and names its format.
///
/// Anything that carries no recognised signature is raw: a raw disk has no header of its own.
/// The signatures are checked from the most to the least specific, so that a raw disk that
/// merely starts with text is not taken for a descriptor.
pub(crate) fn detect(host: &Host) -> Result<Format, DiskError> {
    let len = host.len();
    let head_len = usize::try_from(len.min(512)).unwrap_or(512);
    let head = host.read_vec(0, head_len)?;
    if head.starts_with(b"QFI\xfb") {
        return Ok(Format::Qcow2);
    }
    if head.starts_with(b"vhdxfile") {
        return Ok(Format::Vhdx);
    }
    if head.starts_with(b"KDMV") {
        return Ok(Format::VmdkSparse);
    }
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Ok(Format::Zstd);
    }
    // gzip: magic, then compression method 8 (deflate), the only one defined.
    if head.starts_with(&[0x1f, 0x8b, 0x08]) {
        return Ok(Format::Gzip);
    }
    if head.get(257..262) == Some(b"ustar") {
        return Ok(Format::Tar);
    }
    // A dynamic VHD starts with a copy of its footer: seen here, a VHD cut before its end is
    // still reported as a (truncated) VHD rather than scanned as raw bytes.
    if head.starts_with(VHD_COOKIE) {
        return Ok(Format::Vhd);
    }
    if head.starts_with(b"# Disk DescriptorFile") {
        return Ok(Format::VmdkDescriptor);
    }
    // A VHD ends with a 512-byte footer (511 bytes in images from old Virtual PC versions).
    for footer_len in [512u64, 511] {
        if let Some(at) = len.checked_sub(footer_len) {
            let mut cookie = [0u8; 8];
            host.read_exact_at(at, &mut cookie)?;
            if &cookie == VHD_COOKIE {
                return Ok(Format::Vhd);
            }
        }
    }
    Ok(Format::Raw)
}
