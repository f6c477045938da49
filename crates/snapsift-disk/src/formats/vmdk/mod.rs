//! VMware VMDK images, read as the virtual disk the guest saw.
//!
//! Supported:
//!
//! * **monolithicSparse**: one hosted sparse extent file (`KDMV`) with an embedded descriptor.
//!   Grains never written read as zeros, or from the parent image of a delta disk
//!   (`parentFileNameHint`, resolved from the image's directory and opened as any image; the
//!   parent's CID is not compared).
//! * **streamOptimized**: a sparse extent whose grains are deflated behind grain markers, with
//!   its real header in the footer when the first one says `GD_AT_END`. Grains are inflated
//!   inside [`Disk::read_exact_at`], so threads reading at once inflate in parallel.
//! * **Descriptor files** (`# Disk DescriptorFile`) naming `FLAT`, `SPARSE` and `ZERO` extents:
//!   monolithicFlat, twoGbMaxExtentFlat, twoGbMaxExtentSparse and hand-written `custom`
//!   descriptors. Extent files are found relative to the descriptor's directory (absolute
//!   names are used as they are), and opened only where the [`crate::ReferencePolicy`] allows.
//!   A flat extent is read like a raw image (with `pread`, holes of the file skipped).
//!
//! Refused with [`DiskError::Unsupported`]: ESX's extent types (`VMFS`, `VMFSSPARSE`/COWD,
//! `SESPARSE`, raw device mappings) and any other unknown extent type; `NOACCESS` extents;
//! descriptors of physical devices (`fullDevice`, `partitionedDevice`), which would have us
//! read the host's own disks; compression other than deflate and compressed grains without
//! markers. Encrypted disks record their keys in the descriptor's database and have encrypted
//! extents of the ordinary types: they are not detected and read as ciphertext.
//!
//! Damage is local: a grain directory or grain table that cannot be read, a sparse extent cut
//! short (a streamOptimized one cut mid-stream is read up to the cut), an extent file that is
//! missing or a flat one shorter than the descriptor says lose the stretch of the disk they
//! hold, listed by [`Disk::data_map`]; the rest of the disk reads as usual.
//!
//! Grain directories, grain tables and descriptors are bounded before they are read (see the
//! limits in [`sparse`] and [`descriptor`]); every offset taken from the image is checked
//! arithmetic, and a structure that points outside its file is a [`DiskError::Truncated`] or a
//! [`DiskError::Corrupt`], never a panic.

mod descriptor;
mod sparse;
mod stream;

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::refusal::Refusal;
use crate::host::Host;
use crate::{DataMap, Disk, DiskError, Opener, RawFile, Unreadable, check_bounds};

use descriptor::{Access, ExtentLine, MAX_DESCRIPTOR_BYTES};
use sparse::{GrainScratch, SECTOR, SparseExtent};

/// The format name in errors.
const FORMAT: &str = "VMDK";

/// Gaps between data ranges shorter than this are read rather than skipped: merging them keeps
/// the range list short on fragmented images, and reading unallocated grains costs a memset.
const MIN_SKIPPED_GAP: u64 = 1 << 20;

/// Opens `host`, a sparse extent file (`KDMV`) or a descriptor file, as the disk it describes.
pub(crate) fn open(host: Host, opener: &mut Opener) -> Result<Box<dyn Disk>, DiskError> {
    let mut magic = [0u8; 4];
    host.read_exact_at(0, &mut magic)?;
    let disk = if &magic == b"KDMV" {
        open_sparse_file(host, opener)?
    } else {
        open_descriptor_file(host, opener)?
    };
    Ok(Box::new(disk))
}

/// What kind of VMDK a disk is, for [`Disk::kind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    MonolithicSparse,
    StreamOptimized,
    FlatExtents,
    SparseExtents,
}

impl Kind {
    /// The description of a disk of this kind, with a parent image or not.
    fn name(self, has_parent: bool) -> &'static str {
        match (self, has_parent) {
            (Kind::MonolithicSparse, false) => "VMDK image (monolithicSparse)",
            (Kind::MonolithicSparse, true) => "VMDK image (monolithicSparse, with parent)",
            (Kind::StreamOptimized, false) => "VMDK image (streamOptimized)",
            (Kind::StreamOptimized, true) => "VMDK image (streamOptimized, with parent)",
            (Kind::FlatExtents, _) => "VMDK image (flat extents)",
            (Kind::SparseExtents, false) => "VMDK image (sparse extents)",
            (Kind::SparseExtents, true) => "VMDK image (sparse extents, with parent)",
        }
    }
}

/// A single sparse extent file: monolithicSparse or streamOptimized.
fn open_sparse_file(host: Host, opener: &mut Opener) -> Result<VmdkDisk, DiskError> {
    let path = host.path_buf();
    let extent = SparseExtent::open(host)?;
    let kind = if extent.header().compressed {
        Kind::StreamOptimized
    } else {
        Kind::MonolithicSparse
    };
    let fields = match extent.embedded_descriptor()? {
        Some(text) => descriptor::parse_fields(&text),
        None => descriptor::Fields::default(),
    };
    let parent = open_parent(&fields, &path, opener)?;
    let size = extent.header().capacity_bytes();
    VmdkDisk::new(
        path,
        vec![Extent {
            start: 0,
            len: size,
            data: ExtentData::Sparse(extent),
        }],
        parent,
        kind,
    )
}

/// The parent image of a delta disk, opened through `opener` (which refuses loops).
fn open_parent(
    fields: &descriptor::Fields,
    path: &Path,
    opener: &mut Opener,
) -> Result<Option<Box<dyn Disk>>, DiskError> {
    match fields.parent().map_err(|p| p.at(path, FORMAT))? {
        Some(hint) => Ok(Some(opener.open_backing(path, hint)?)),
        None => Ok(None),
    }
}

/// A descriptor file and the extents it names.
fn open_descriptor_file(host: Host, opener: &mut Opener) -> Result<VmdkDisk, DiskError> {
    let path = host.path_buf();
    if host.len() > MAX_DESCRIPTOR_BYTES {
        return Err(Refusal::Unsupported(format!(
            "a descriptor file of {} bytes (at most {MAX_DESCRIPTOR_BYTES} are read)",
            host.len()
        ))
        .at(&path, FORMAT));
    }
    let len = usize::try_from(host.len()).unwrap_or(usize::MAX);
    let text = host.read_vec(0, len)?;
    let fields = descriptor::parse_fields(&text);
    if let Some(create_type) = &fields.create_type {
        refuse_create_type(create_type).map_err(|p| p.at(&path, FORMAT))?;
    }
    let lines = descriptor::parse_extents(&text).map_err(|p| p.at(&path, FORMAT))?;
    if lines.is_empty() {
        return Err(Refusal::Corrupt("the descriptor names no extents".into()).at(&path, FORMAT));
    }
    let mut extents = Vec::with_capacity(lines.len());
    let mut start = 0u64;
    let mut kind = Kind::FlatExtents;
    for line in &lines {
        let len = line.sectors.checked_mul(SECTOR).ok_or_else(|| {
            Refusal::Corrupt(format!("an extent of {} sectors", line.sectors)).at(&path, FORMAT)
        })?;
        let next = start.checked_add(len).ok_or_else(|| {
            Refusal::Corrupt("the extents add up to more than 2^64 bytes".into()).at(&path, FORMAT)
        })?;
        if len == 0 {
            continue;
        }
        for (offset, part_len, data) in open_extent(&path, line, opener)? {
            if matches!(data, ExtentData::Sparse(_)) {
                kind = Kind::SparseExtents;
            }
            let part_start = start.checked_add(offset).ok_or_else(|| {
                Refusal::Corrupt("the extents add up to more than 2^64 bytes".into())
                    .at(&path, FORMAT)
            })?;
            extents.push(Extent {
                start: part_start,
                len: part_len,
                data,
            });
        }
        start = next;
    }
    let parent = open_parent(&fields, &path, opener)?;
    VmdkDisk::new(path, extents, parent, kind)
}

/// Refuses descriptors of kinds that are not image files on this host.
fn refuse_create_type(create_type: &str) -> Result<(), Refusal> {
    let lower = create_type.to_ascii_lowercase();
    if lower == "fulldevice" || lower == "partitioneddevice" {
        return Err(Refusal::Unsupported(format!(
            "createType {create_type}: the extents are physical devices of the machine that \
             made the descriptor, not image files"
        )));
    }
    if lower.starts_with("vmfs") || lower == "sesparse" {
        return Err(Refusal::Unsupported(format!(
            "createType {create_type}, an ESX datastore disk (convert it with `qemu-img convert` \
             or `vmkfstools` first)"
        )));
    }
    Ok(())
}

/// Opens one extent of a descriptor at `descriptor_path`: its parts, each `(offset within
/// the extent, length, bytes)`, covering the extent. An extent file that is missing is one
/// lost part; a flat extent file shorter than the descriptor says is the part it holds and a
/// lost part for the rest. Files are opened where `opener`'s policy allows.
fn open_extent(
    descriptor_path: &Path,
    line: &ExtentLine,
    opener: &mut Opener,
) -> Result<Vec<(u64, u64, ExtentData)>, DiskError> {
    let unsupported = |why: String| Refusal::Unsupported(why).at(descriptor_path, FORMAT);
    if line.access == Access::Forbidden {
        return Err(unsupported(
            "a NOACCESS extent, whose bytes may not be read".into(),
        ));
    }
    let len = line.sectors.saturating_mul(SECTOR);
    // A file that is not there loses its stretch of the disk, not the disk; any other failure
    // to open it (a name outside the allowed directories, a block device, a FIFO) still
    // refuses the image.
    let mut open = || {
        let name = line.file.as_deref().ok_or_else(|| {
            Refusal::Corrupt(format!("a {} extent without a file name", line.kind))
                .at(descriptor_path, FORMAT)
        })?;
        match opener.open_reference(descriptor_path, name) {
            Ok(host) => Ok(Ok(host)),
            Err(DiskError::Open { path, source })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Ok(Err(ExtentData::Lost(format!(
                    "its extent file {} is missing ({source})",
                    path.display()
                ))))
            }
            Err(error) => Err(error),
        }
    };
    match line.kind.as_str() {
        "ZERO" => Ok(vec![(0, len, ExtentData::Zero)]),
        "FLAT" => {
            let host = match open()? {
                Ok(host) => host,
                Err(lost) => return Ok(vec![(0, len, lost)]),
            };
            let at = line.offset.checked_mul(SECTOR).ok_or_else(|| {
                Refusal::Corrupt(format!("a flat extent at sector {}", line.offset))
                    .at(descriptor_path, FORMAT)
            })?;
            let present = host.len().saturating_sub(at).min(len);
            let mut parts = Vec::with_capacity(2);
            if present > 0 {
                parts.push((
                    0,
                    present,
                    ExtentData::Flat(RawFile::from_host(host.slice(at, present)?)),
                ));
            }
            if present < len {
                parts.push((
                    present,
                    len.saturating_sub(present),
                    ExtentData::Lost(format!(
                        "its flat extent file {} holds {} bytes, not the {len} the descriptor \
                         gives from byte {at}: the file is truncated",
                        host.path().display(),
                        host.len()
                    )),
                ));
            }
            Ok(parts)
        }
        "SPARSE" => match open()? {
            Ok(host) => Ok(vec![(
                0,
                len,
                ExtentData::Sparse(SparseExtent::open(host)?),
            )]),
            Err(lost) => Ok(vec![(0, len, lost)]),
        },
        "VMFS" | "VMFSSPARSE" | "SESPARSE" | "VMFSRDM" | "VMFSRAW" => Err(unsupported(format!(
            "{} extents, which only ESX reads (convert the disk with `qemu-img convert` or \
             `vmkfstools` first)",
            line.kind
        ))),
        other => Err(unsupported(format!("extent type {other}"))),
    }
}

/// A stretch of the virtual disk and where its bytes are.
#[derive(Debug)]
struct Extent {
    /// Where the extent starts in the virtual disk, in bytes.
    start: u64,
    /// Its length in bytes (more than 0).
    len: u64,
    /// Its bytes.
    data: ExtentData,
}

/// Where an extent's bytes are.
#[derive(Debug)]
enum ExtentData {
    /// One stretch of a file, as a raw image.
    Flat(RawFile),
    /// Nowhere: the extent reads as zeros.
    Zero,
    /// A sparse extent file.
    Sparse(SparseExtent),
    /// Lost, for this reason (a missing extent file, one shorter than the descriptor says):
    /// reads fail.
    Lost(String),
}

/// A VMDK image: extents laid end to end, and the parent image of a delta disk.
#[derive(Debug)]
struct VmdkDisk {
    /// The image (the sparse file or the descriptor), for errors.
    path: PathBuf,
    size: u64,
    /// Sorted, contiguous, covering `0..size`.
    extents: Vec<Extent>,
    /// Where unallocated grains read from; zeros without one.
    parent: Option<Box<dyn Disk>>,
    kind: &'static str,
}

impl VmdkDisk {
    fn new(
        path: PathBuf,
        extents: Vec<Extent>,
        parent: Option<Box<dyn Disk>>,
        kind: Kind,
    ) -> Result<VmdkDisk, DiskError> {
        let size = extents
            .last()
            .map_or(Some(0), |last| last.start.checked_add(last.len))
            .ok_or_else(|| Refusal::Corrupt("the extents overflow".into()).at(&path, FORMAT))?;
        let kind = kind.name(parent.is_some());
        Ok(VmdkDisk {
            path,
            size,
            extents,
            parent,
            kind,
        })
    }

    fn internal(&self, what: &str) -> DiskError {
        Refusal::Corrupt(format!("internal inconsistency: {what}")).at(&self.path, FORMAT)
    }

    /// The extent holding disk offset `at`, which lies within the disk.
    fn extent_at(&self, at: u64) -> Result<&Extent, DiskError> {
        let index = self
            .extents
            .partition_point(|e| e.start.saturating_add(e.len) <= at);
        self.extents
            .get(index)
            .ok_or_else(|| self.internal("no extent holds an offset within the disk"))
    }
}

impl Disk for VmdkDisk {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        check_bounds(offset, buf.len(), self.size)?;
        let mut scratch = GrainScratch::default();
        let mut done = 0usize;
        while done < buf.len() {
            let at = u64::try_from(done)
                .ok()
                .and_then(|done| offset.checked_add(done))
                .ok_or_else(|| self.internal("read offset overflows"))?;
            let extent = self.extent_at(at)?;
            let within = at
                .checked_sub(extent.start)
                .ok_or_else(|| self.internal("extent lookup"))?;
            let left = extent.len.saturating_sub(within);
            let len = usize::try_from(left).map_or(buf.len(), |left| left.min(buf.len()));
            let len = len.min(buf.len().saturating_sub(done));
            let end = done.saturating_add(len);
            let part = buf
                .get_mut(done..end)
                .ok_or_else(|| self.internal("read stretch outside its buffer"))?;
            if part.is_empty() {
                return Err(self.internal("empty extent"));
            }
            match &extent.data {
                ExtentData::Flat(raw) => raw.read_exact_at(within, part)?,
                ExtentData::Zero => part.fill(0),
                ExtentData::Sparse(sparse) => {
                    sparse.read(within, at, part, &mut scratch, self.parent.as_deref())?;
                }
                ExtentData::Lost(reason) => {
                    return Err(DiskError::Damaged {
                        path: self.path.clone(),
                        format: FORMAT,
                        reason: format!("the extent at disk byte {}: {reason}", extent.start),
                    });
                }
            }
            done = end;
        }
        Ok(())
    }

    fn data_ranges(&self) -> Result<Vec<Range<u64>>, DiskError> {
        self.data_map().map(|map| map.data)
    }

    fn data_map(&self) -> Result<DataMap, DiskError> {
        let mut own = DataMap::default();
        // What does not read through to the parent: all but the unwritten grains.
        let mut hidden: Vec<Range<u64>> = Vec::new();
        for extent in &self.extents {
            let whole = 0..extent.len;
            let (within, shadow) = match &extent.data {
                ExtentData::Flat(raw) => (DataMap::readable(raw.data_ranges()?), vec![whole]),
                ExtentData::Zero => (DataMap::default(), vec![whole]),
                ExtentData::Sparse(sparse) => {
                    (sparse.data_map(extent.len), sparse.hidden(extent.len))
                }
                ExtentData::Lost(reason) => (
                    DataMap {
                        data: vec![whole.clone()],
                        unreadable: vec![Unreadable {
                            range: whole,
                            reason: reason.clone(),
                        }],
                    },
                    Vec::new(),
                ),
            };
            let shift = |range: &Range<u64>| {
                let start = extent.start.checked_add(range.start)?;
                let end = extent.start.checked_add(range.end.min(extent.len))?;
                Some(start..end)
            };
            let overflow = || self.internal("data range overflows");
            for range in within.data.iter().chain(&shadow) {
                shift(range).ok_or_else(overflow)?;
            }
            own.data.extend(within.data.iter().filter_map(shift));
            hidden.extend(shadow.iter().filter_map(shift));
            for lost in within.unreadable {
                let range = shift(&lost.range).ok_or_else(overflow)?;
                own.unreadable.push(Unreadable {
                    range,
                    reason: lost.reason,
                });
            }
        }
        own.data = crate::ranges::normalize(own.data);
        let hidden = crate::ranges::normalize(hidden);
        let mut map = crate::ranges::with_parent(own, &hidden, self.parent.as_deref(), self.size)?;
        map.data = crate::ranges::normalize_joining(map.data, MIN_SKIPPED_GAP);
        Ok(map)
    }

    fn kind(&self) -> &'static str {
        self.kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_device_and_esx_create_types() {
        for create_type in [
            "fullDevice",
            "partitionedDevice",
            "vmfsSparse",
            "vmfs",
            "seSparse",
        ] {
            assert!(refuse_create_type(create_type).is_err(), "{create_type}");
        }
        for create_type in [
            "monolithicFlat",
            "twoGbMaxExtentSparse",
            "custom",
            "whatever",
        ] {
            assert!(refuse_create_type(create_type).is_ok(), "{create_type}");
        }
    }
}
