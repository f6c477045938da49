//! VHD images (Virtual PC, Hyper-V, Azure, Xen, qemu `vpc`), read as the disk the guest saw.
//!
//! # Supported
//!
//! * **Fixed** disks: the file is the disk followed by a 512-byte footer (511 bytes in images
//!   from old Virtual PC versions). Read through [`RawFile`].
//! * **Dynamic** disks: a block allocation table (BAT) of blocks, each a sector bitmap followed
//!   by the block's data. A sector whose bitmap bit is clear reads as zero; so does a block the
//!   BAT leaves unallocated.
//! * **Differencing** disks: a dynamic disk whose clear bits and unallocated blocks read from the
//!   parent. The parent is found through the parent locators (`W2ru` relative and `W2ku`
//!   absolute Windows paths in UTF-16LE, `MacX` file URLs, the deprecated `Wi2r`/`Wi2k` ANSI
//!   paths), then through the parent's name in the dynamic header, resolved from the overlay's
//!   directory; the first that exists and is the parent the disk was made from (same unique id,
//!   when the parent is a VHD) is opened through [`Opener::open_backing`]. A parent smaller than
//!   the child reads as zeros past its end.
//!
//! The virtual size is the footer's *current size*, which is what Hyper-V, Azure and libvhdi
//! use. qemu sizes images whose creator is `vpc ` or `qemu` by their CHS geometry instead, but
//! the images qemu writes store the geometry's size as their current size, so the two agree on
//! them; on a Virtual PC image whose current size exceeds its geometry we read the larger,
//! current size, which loses no byte of the disk.
//!
//! # Damage
//!
//! Damage is local. A dynamic disk cut short (its footer at the end gone) is opened from the
//! footer copy at its start; BAT entries that cannot be read (an I/O error, or a BAT cut off
//! with the end of the file) and blocks that lie past the end of the file's data lose their
//! blocks: [`Disk::data_map`] lists them as unreadable, reads of them fail, and the rest of the
//! disk reads as usual.
//!
//! # Refused
//!
//! * Footers and dynamic headers with a bad checksum, or that cannot be read
//!   ([`DiskError::Corrupt`] or [`DiskError::Truncated`]): without them the disk's geometry is
//!   unknown.
//! * Disk types other than fixed, dynamic and differencing (`None` and the deprecated types 1, 5
//!   and 6), and block sizes that are not a power of two or exceed [`MAX_BLOCK_SIZE`].
//! * Tables larger than the limits below ([`MAX_BAT_BYTES`], [`MAX_LOCATOR_LEN`]).
//! * Mac OS alias (`Mac `) parent locators are not decoded; the parent's name in the dynamic
//!   header stands in for them.

pub(crate) use std::ops::Range;
use std::path::PathBuf;

use super::assemble::{Assembler, Source, block_pieces, to_usize};
use super::bytes;
use super::lost::{LostBlocks, read_table};
use super::parent::{self, windows_file_name, windows_path};
use super::refusal::Refusal;
use crate::host::Host;
use crate::{DataMap, Disk, DiskError, Opener, RawFile, check_bounds};

/// The format's name in errors.
const FORMAT: &str = "VHD";

/// The VHD sector: BAT entries and bitmap bits count in these.
const SECTOR: u64 = 512;

/// The footer's length; images from old Virtual PC versions end with 511 of these bytes.
const FOOTER_LEN: usize = 512;

/// The dynamic disk header's length.
const DYNAMIC_HEADER_LEN: usize = 1024;

/// The footer's signature, at its start.
const FOOTER_COOKIE: &[u8; 8] = b"conectix";

/// The dynamic disk header's signature.
const DYNAMIC_HEADER_COOKIE: &[u8; 8] = b"cxsparse";

/// A BAT entry for a block that is not in the file.
const UNALLOCATED: u32 = 0xFFFF_FFFF;

/// BATs larger than this are refused before they are read. The format allows disks of at most
/// 2040 GiB, whose BAT with the smallest block size any known tool writes (512 KiB, Virtual
/// PC) takes 16 MiB; four times that leaves room for odd writers while a lying header cannot
/// make us allocate gigabytes.
pub(crate) const MAX_BAT_BYTES: u64 = 64 << 20;

/// Blocks larger than this are refused. Every known writer uses 512 KiB or 2 MiB; the limit
/// keeps the sector bitmap of one block (read on every read of the block) at most 64 KiB.
pub(crate) const MAX_BLOCK_SIZE: u64 = 256 << 20;

/// Parent locators longer than this are refused before they are read: a Windows path is at
/// most 32767 UTF-16 units (64 KiB), and a URL for it is of the same order.
pub(crate) const MAX_LOCATOR_LEN: u32 = 128 << 10;

/// Platform code of a relative Windows path in UTF-16LE.
const PLATFORM_W2RU: u32 = u32::from_be_bytes(*b"W2ru");
/// Platform code of an absolute Windows path in UTF-16LE.
const PLATFORM_W2KU: u32 = u32::from_be_bytes(*b"W2ku");
/// Platform code of a Mac OS X file URL in UTF-8.
const PLATFORM_MACX: u32 = u32::from_be_bytes(*b"MacX");
/// Platform code of a relative Windows path in the system code page (deprecated).
const PLATFORM_WI2R: u32 = u32::from_be_bytes(*b"Wi2r");
/// Platform code of an absolute Windows path in the system code page (deprecated).
const PLATFORM_WI2K: u32 = u32::from_be_bytes(*b"Wi2k");

/// The kinds of VHD this reader opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DiskType {
    /// The disk's bytes, then the footer.
    Fixed,
    /// Blocks allocated as they are written.
    Dynamic,
    /// Blocks that differ from a parent disk.
    Differencing,
}

/// The fields of the footer this reader uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Footer {
    /// Where the dynamic disk header is (dynamic and differencing disks).
    pub(crate) data_offset: u64,
    /// The application that created the image, such as `win ` or `qemu`.
    pub(crate) creator_app: [u8; 4],
    /// The virtual disk's size in bytes.
    pub(crate) current_size: u64,
    /// Fixed, dynamic or differencing.
    pub(crate) disk_type: DiskType,
    /// The image's identifier, which a differencing child records as its parent's.
    pub(crate) unique_id: [u8; 16],
}

/// The VHD checksum of `data` with the 4-byte checksum field at `checksum_at` left out: the
/// one's complement of the byte sum.
fn checksum(data: &[u8], checksum_at: usize) -> u32 {
    let field = checksum_at..checksum_at.saturating_add(4);
    let sum = data
        .iter()
        .enumerate()
        .filter(|(i, _)| !field.contains(i))
        .fold(0u32, |sum, (_, &b)| sum.wrapping_add(u32::from(b)));
    !sum
}

/// Parses a footer: 512 bytes, or the 511 of an old image (the missing byte is reserved and
/// zero, so it adds nothing to the checksum).
pub(crate) fn parse_footer(data: &[u8]) -> Result<Footer, Refusal> {
    if data.get(..8) != Some(FOOTER_COOKIE.as_slice()) {
        return Err(Refusal::Corrupt(
            "the footer has no `conectix` cookie".into(),
        ));
    }
    let stored = bytes::be32(data, 64);
    let computed = checksum(data, 64);
    if stored != computed {
        return Err(Refusal::Corrupt(format!(
            "the footer's checksum is {stored:#010x} but its bytes sum to {computed:#010x}"
        )));
    }
    let disk_type = match bytes::be32(data, 60) {
        2 => DiskType::Fixed,
        3 => DiskType::Dynamic,
        4 => DiskType::Differencing,
        other => {
            return Err(Refusal::Unsupported(format!(
                "disk type {other} (only fixed (2), dynamic (3) and differencing (4) disks exist \
                 in current VHD writers)"
            )));
        }
    };
    Ok(Footer {
        data_offset: bytes::be64(data, 16),
        creator_app: bytes::array(data, 28),
        current_size: bytes::be64(data, 48),
        disk_type,
        unique_id: bytes::array(data, 68),
    })
}

/// A parent locator entry of the dynamic disk header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Locator {
    /// How the locator's data encodes the parent's path (`W2ru`, `W2ku`, `MacX`, ...).
    pub(crate) platform: u32,
    /// The length of the locator's data in bytes.
    pub(crate) data_len: u32,
    /// Where the locator's data is in the file.
    pub(crate) data_offset: u64,
}

/// The fields of the dynamic disk header this reader uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DynamicHeader {
    /// Where the BAT is in the file.
    pub(crate) table_offset: u64,
    /// The number of BAT entries.
    pub(crate) max_table_entries: u32,
    /// The size of a block's data in bytes.
    pub(crate) block_size: u32,
    /// The parent's unique id (differencing disks).
    pub(crate) parent_unique_id: [u8; 16],
    /// The parent's file name, from the header's UTF-16BE field (differencing disks).
    pub(crate) parent_name: Option<String>,
    /// The parent locator entries in use.
    pub(crate) locators: Vec<Locator>,
}

/// Parses the 1024-byte dynamic disk header.
pub(crate) fn parse_dynamic_header(data: &[u8]) -> Result<DynamicHeader, Refusal> {
    if data.len() < DYNAMIC_HEADER_LEN || data.get(..8) != Some(DYNAMIC_HEADER_COOKIE.as_slice()) {
        return Err(Refusal::Corrupt(
            "the dynamic disk header has no `cxsparse` cookie".into(),
        ));
    }
    let stored = bytes::be32(data, 36);
    let computed = checksum(data.get(..DYNAMIC_HEADER_LEN).unwrap_or(data), 36);
    if stored != computed {
        return Err(Refusal::Corrupt(format!(
            "the dynamic disk header's checksum is {stored:#010x} but its bytes sum to \
             {computed:#010x}"
        )));
    }
    let name_units: Vec<u16> = (0..256usize)
        .map(|i| bytes::be16(data, 64usize.saturating_add(i.saturating_mul(2))))
        .take_while(|&unit| unit != 0)
        .collect();
    let parent_name = (!name_units.is_empty()).then(|| String::from_utf16_lossy(&name_units));
    let locators = (0..8usize)
        .map(|i| 576usize.saturating_add(i.saturating_mul(24)))
        .map(|at| Locator {
            platform: bytes::be32(data, at),
            data_len: bytes::be32(data, at.saturating_add(8)),
            data_offset: bytes::be64(data, at.saturating_add(16)),
        })
        .filter(|locator| locator.platform != 0 && locator.data_len != 0)
        .collect();
    Ok(DynamicHeader {
        table_offset: bytes::be64(data, 16),
        max_table_entries: bytes::be32(data, 28),
        block_size: bytes::be32(data, 32),
        parent_unique_id: bytes::array(data, 40),
        parent_name,
        locators,
    })
}

/// The geometry of a dynamic or differencing disk's blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The virtual disk's size in bytes.
    pub(crate) size: u64,
    /// The size of a block's data; a power of two.
    pub(crate) block_size: u64,
    /// The length of the sector bitmap in front of each block: one bit per sector, padded to
    /// whole sectors.
    pub(crate) bitmap_len: u64,
    /// The number of blocks the disk's size spans (BAT entries past these are ignored).
    pub(crate) blocks: u64,
}

/// Checks a dynamic header against the disk's size and derives the block layout.
pub(crate) fn layout(size: u64, header: &DynamicHeader) -> Result<Layout, Refusal> {
    let block_size = u64::from(header.block_size);
    if !block_size.is_power_of_two() || block_size < SECTOR {
        return Err(Refusal::Corrupt(format!(
            "the block size {block_size} is not a power of two of at least 512 bytes"
        )));
    }
    if block_size > MAX_BLOCK_SIZE {
        return Err(Refusal::Unsupported(format!(
            "a block size of {block_size} bytes (at most {MAX_BLOCK_SIZE} are read)"
        )));
    }
    let blocks = size.div_ceil(block_size);
    if blocks > u64::from(header.max_table_entries) {
        return Err(Refusal::Corrupt(format!(
            "the disk's {size} bytes need {blocks} blocks of {block_size} bytes but the BAT \
             has {} entries",
            header.max_table_entries
        )));
    }
    let bat_bytes = blocks.saturating_mul(4);
    if bat_bytes > MAX_BAT_BYTES {
        return Err(Refusal::Unsupported(format!(
            "a BAT of {bat_bytes} bytes (at most {MAX_BAT_BYTES} are read)"
        )));
    }
    // One bit per sector, rounded up to whole bytes, then to whole sectors.
    let bitmap_len = (block_size / SECTOR)
        .div_ceil(8)
        .div_ceil(SECTOR)
        .saturating_mul(SECTOR);
    Ok(Layout {
        size,
        block_size,
        bitmap_len,
        blocks,
    })
}

/// Parses BAT entries (big-endian sector offsets of each block's bitmap).
pub(crate) fn parse_bat(data: &[u8]) -> Vec<u32> {
    data.chunks_exact(4)
        .map(|entry| u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]]))
        .collect()
}

/// The file offset of the sector bitmap of a block whose BAT entry is `entry`, and the end of
/// the block's data, if they fit in 64 bits.
fn block_extent(entry: u32, layout: &Layout) -> Option<Range<u64>> {
    let start = u64::from(entry).checked_mul(SECTOR)?;
    let end = start
        .checked_add(layout.bitmap_len)?
        .checked_add(layout.block_size)?;
    Some(start..end)
}

/// The allocated blocks of `bat` that do not lie within the first `data_end` bytes of the
/// file, by number, in order.
pub(crate) fn blocks_outside<'a>(
    bat: &'a [u32],
    layout: &'a Layout,
    data_end: u64,
) -> impl Iterator<Item = u64> + 'a {
    (0u64..).zip(bat).filter_map(move |(index, &entry)| {
        let outside = entry != UNALLOCATED
            && block_extent(entry, layout).is_none_or(|extent| extent.end > data_end);
        outside.then_some(index)
    })
}

/// Decodes a parent locator's data into a path, if its platform is one we read.
///
/// Windows paths get `/` separators; a path on a drive letter or a UNC share cannot name a file
/// here and gives `None` (the parent's name in the header still finds a parent beside the
/// child).
pub(crate) fn decode_locator(platform: u32, data: &[u8]) -> Option<PathBuf> {
    let text = match platform {
        PLATFORM_W2RU | PLATFORM_W2KU => {
            let units: Vec<u16> = data
                .chunks_exact(2)
                .map(|unit| u16::from_le_bytes([unit[0], unit[1]]))
                .take_while(|&unit| unit != 0)
                .collect();
            String::from_utf16(&units).ok()?
        }
        PLATFORM_WI2R | PLATFORM_WI2K => data
            .iter()
            .take_while(|&&b| b != 0)
            .map(|&b| char::from(b))
            .collect(),
        PLATFORM_MACX => {
            let url = std::str::from_utf8(data).ok()?.trim_end_matches('\0');
            return file_url_path(url);
        }
        _ => return None,
    };
    windows_path(&text)
}

/// The path of a `file://` URL, as Mac OS X and Xen's `vhd-util` write them:
/// `file://localhost/abs/path`, `file:///abs/path`, or `file://./relative/path`.
fn file_url_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("file://")?;
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    let decoded = percent_decode(rest)?;
    (!decoded.is_empty()).then(|| PathBuf::from(decoded))
}

/// `%XX` escapes decoded; `None` for a malformed escape or a result that is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            let hex = std::str::from_utf8(&hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

/// Reads the footer at the end of the file, 512 bytes or the 511 of old images, and returns it
/// with its length; for a dynamic disk cut short, the footer copy at its start, and 0.
fn read_footer(host: &Host) -> Result<(Footer, u64), DiskError> {
    let len = host.len();
    let corrupt = |reason: String| Refusal::Corrupt(reason).at(host.path(), FORMAT);
    for footer_len in [FOOTER_LEN, FOOTER_LEN.saturating_sub(1)] {
        let footer_len64 = footer_len as u64;
        let Some(at) = len.checked_sub(footer_len64) else {
            continue;
        };
        let footer = host.read_vec(at, footer_len)?;
        if footer.starts_with(FOOTER_COOKIE) {
            let parsed = parse_footer(&footer).map_err(|r| r.at(host.path(), FORMAT))?;
            return Ok((parsed, footer_len64));
        }
    }
    // A dynamic disk starts with a copy of its footer: if only that copy is left, the end of
    // the file (with the footer and likely data) is missing, and the copy stands in for it.
    let head_len = usize::try_from(len.min(FOOTER_LEN as u64)).unwrap_or(FOOTER_LEN);
    let head = host.read_vec(0, head_len)?;
    if head.starts_with(FOOTER_COOKIE) {
        let copy = parse_footer(&head).map_err(|r| r.at(host.path(), FORMAT))?;
        if copy.disk_type == DiskType::Fixed {
            return Err(corrupt(format!(
                "the footer at the end is missing and the copy at the start is of a fixed disk, \
                 which has none: the image is truncated or corrupt (its file holds {len} bytes)"
            )));
        }
        return Ok((copy, 0));
    }
    Err(corrupt(
        "there is no VHD footer at the end of the file".into(),
    ))
}

/// Opens `host` as a VHD image: fixed, dynamic or differencing.
pub(crate) fn open(host: Host, opener: &mut Opener) -> Result<Box<dyn Disk>, DiskError> {
    let (footer, footer_len) = read_footer(&host)?;
    match footer.disk_type {
        DiskType::Fixed => open_fixed(host, &footer, footer_len),
        DiskType::Dynamic | DiskType::Differencing => {
            Ok(Box::new(open_sparse(host, &footer, footer_len, opener)?))
        }
    }
}

/// A fixed VHD: the file's first `current_size` bytes are the disk.
#[derive(Debug)]
pub(crate) struct FixedVhd {
    raw: RawFile,
}

fn open_fixed(host: Host, footer: &Footer, footer_len: u64) -> Result<Box<dyn Disk>, DiskError> {
    let data_len = host.len().saturating_sub(footer_len);
    if footer.current_size > data_len {
        return Err(DiskError::Truncated {
            path: host.path_buf(),
            offset: data_len,
            len: usize::try_from(footer.current_size.saturating_sub(data_len))
                .unwrap_or(usize::MAX),
            size: host.len(),
        });
    }
    let raw = RawFile::from_host(host.slice(0, footer.current_size)?);
    Ok(Box::new(FixedVhd { raw }))
}

impl Disk for FixedVhd {
    fn size(&self) -> u64 {
        self.raw.size()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        self.raw.read_exact_at(offset, buf)
    }

    fn data_ranges(&self) -> Result<Vec<Range<u64>>, DiskError> {
        self.raw.data_ranges()
    }

    fn kind(&self) -> &'static str {
        "VHD image (fixed)"
    }
}

/// A dynamic or differencing VHD.
#[derive(Debug)]
pub(crate) struct SparseVhd {
    host: Host,
    layout: Layout,
    /// One entry per block of the disk, up to the end of the file; [`UNALLOCATED`] or the
    /// sector of the block's bitmap, checked at open to lie within the file unless the block
    /// is lost.
    bat: Vec<u32>,
    /// The blocks whose BAT entry cannot be read or whose bytes lie past the end of the file.
    lost: LostBlocks,
    /// The parent of a differencing disk.
    parent: Option<Box<dyn Disk>>,
}

fn open_sparse(
    host: Host,
    footer: &Footer,
    footer_len: u64,
    opener: &mut Opener,
) -> Result<SparseVhd, DiskError> {
    let path = host.path();
    let header_bytes = host.read_vec(footer.data_offset, DYNAMIC_HEADER_LEN)?;
    let header = parse_dynamic_header(&header_bytes).map_err(|r| r.at(path, FORMAT))?;
    let layout = layout(footer.current_size, &header).map_err(|r| r.at(path, FORMAT))?;
    // `layout` bounded the BAT to MAX_BAT_BYTES.
    let table = read_table(
        &host,
        header.table_offset,
        layout.blocks.saturating_mul(4),
        "the BAT",
    );
    let bat = parse_bat(&table.bytes);
    let mut lost = LostBlocks::default();
    for (bytes, reason) in &table.lost {
        lost.add(bytes.start / 4..bytes.end.div_ceil(4), reason);
    }
    let data_end = host.len().saturating_sub(footer_len);
    let past_the_end = format!(
        "it lies past the end of the file's data ({data_end} bytes): the image is truncated"
    );
    for block in blocks_outside(&bat, &layout, data_end) {
        lost.add(block..block.saturating_add(1), &past_the_end);
    }
    let lost = lost.sorted();
    let parent = match footer.disk_type {
        DiskType::Differencing => Some(open_parent(&host, &header, opener)?),
        _ => None,
    };
    Ok(SparseVhd {
        host,
        layout,
        bat,
        lost,
        parent,
    })
}

/// The names under which a differencing disk records its parent, most specific first.
fn parent_candidates(host: &Host, header: &DynamicHeader) -> Result<Vec<PathBuf>, DiskError> {
    // Relative paths survive a move of the whole chain, so they come first.
    const PREFERENCE: [u32; 5] = [
        PLATFORM_W2RU,
        PLATFORM_W2KU,
        PLATFORM_MACX,
        PLATFORM_WI2R,
        PLATFORM_WI2K,
    ];
    let mut candidates = Vec::new();
    for platform in PREFERENCE {
        for locator in header.locators.iter().filter(|l| l.platform == platform) {
            if locator.data_len > MAX_LOCATOR_LEN {
                return Err(Refusal::Corrupt(format!(
                    "a parent locator of {} bytes (paths take at most {MAX_LOCATOR_LEN})",
                    locator.data_len
                ))
                .at(host.path(), FORMAT));
            }
            let len = usize::try_from(locator.data_len).unwrap_or(usize::MAX);
            let data = host.read_vec(locator.data_offset, len)?;
            if let Some(path) = decode_locator(platform, &data) {
                candidates.push(path);
            }
        }
    }
    // The name in the header is a bare file name; a Windows path's last component stands in
    // for it where a writer put a whole path there.
    if let Some(name) = header.parent_name.as_deref().and_then(windows_file_name) {
        candidates.push(name);
    }
    candidates.dedup();
    Ok(candidates)
}

/// Finds and opens the parent of a differencing disk.
fn open_parent(
    host: &Host,
    header: &DynamicHeader,
    opener: &mut Opener,
) -> Result<Box<dyn Disk>, DiskError> {
    let candidates = parent_candidates(host, header)?;
    // Old writers leave the parent's id zero: then there is nothing to check it against.
    let expected: &[[u8; 16]] = if header.parent_unique_id == [0; 16] {
        &[]
    } else {
        std::slice::from_ref(&header.parent_unique_id)
    };
    parent::open_parent(
        host.path(),
        &candidates,
        expected,
        vhd_unique_id,
        opener,
        FORMAT,
    )
}

/// The unique id in the footer of the VHD in `host`, or `None` if it is not a readable VHD.
fn vhd_unique_id(host: &Host) -> Option<[u8; 16]> {
    read_footer(host).ok().map(|(footer, _)| footer.unique_id)
}

impl SparseVhd {
    /// Where the bytes of a block the BAT leaves out come from.
    fn absent(&self) -> Source {
        match self.parent {
            Some(_) => Source::Parent,
            None => Source::Zero,
        }
    }

    /// A corrupt-image error for this file.
    fn corrupt(&self, reason: String) -> DiskError {
        Refusal::Corrupt(reason).at(self.host.path(), FORMAT)
    }

    /// Pushes `len` bytes at `within` of the allocated block whose bitmap sits at sector
    /// `entry`: sectors whose bit is set from the file, the others from the parent or zeros.
    fn push_allocated(
        &self,
        assembler: &mut Assembler<'_>,
        entry: u32,
        within: u64,
        len: u64,
    ) -> Result<(), DiskError> {
        let overflow = || self.corrupt(format!("block at sector {entry} overflows"));
        let extent = block_extent(entry, &self.layout).ok_or_else(overflow)?;
        let data_at = extent
            .start
            .checked_add(self.layout.bitmap_len)
            .ok_or_else(overflow)?;
        let end = within.checked_add(len).ok_or_else(overflow)?;
        // `len` > 0 and `within + len` <= block size, so these are sector and byte indexes
        // inside the bitmap.
        let first_sector = within / SECTOR;
        let last_sector = end.saturating_sub(1) / SECTOR;
        let first_byte = first_sector / 8;
        let bitmap_len = usize::try_from((last_sector / 8).saturating_sub(first_byte))
            .map_err(|_| overflow())?
            .saturating_add(1);
        let bitmap_at = extent.start.checked_add(first_byte).ok_or_else(overflow)?;
        let bitmap = self.host.read_vec(bitmap_at, bitmap_len)?;
        if bitmap.iter().all(|&b| b == 0xff) {
            let at = data_at.checked_add(within).ok_or_else(overflow)?;
            return assembler.push(Source::Host(at), to_usize(len)?);
        }
        // VHD bitmaps are big-endian within each byte: sector 0 is the byte's top bit.
        let bit = |sector: u64| -> bool {
            let Some(index) = (sector / 8).checked_sub(first_byte) else {
                return false;
            };
            let byte = usize::try_from(index)
                .ok()
                .and_then(|i| bitmap.get(i).copied())
                .unwrap_or(0);
            byte & (0x80 >> (sector % 8)) != 0
        };
        let mut run_start = first_sector;
        while run_start <= last_sector {
            let present = bit(run_start);
            let mut run_end = run_start.saturating_add(1);
            while run_end <= last_sector && bit(run_end) == present {
                run_end = run_end.saturating_add(1);
            }
            let lo = run_start.saturating_mul(SECTOR).max(within);
            let hi = run_end.saturating_mul(SECTOR).min(end);
            let source = if present {
                Source::Host(data_at.checked_add(lo).ok_or_else(overflow)?)
            } else {
                self.absent()
            };
            assembler.push(source, to_usize(hi.saturating_sub(lo))?)?;
            run_start = run_end;
        }
        Ok(())
    }
}

impl Disk for SparseVhd {
    fn size(&self) -> u64 {
        self.layout.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        let end = check_bounds(offset, buf.len(), self.size())?;
        let block_size = self.layout.block_size;
        let mut assembler = Assembler::new(&self.host, self.parent.as_deref(), offset, buf);
        for (block, within, n) in block_pieces(offset, end, block_size) {
            if let Some(reason) = self.lost.reason(block) {
                return Err(DiskError::Damaged {
                    path: self.host.path_buf(),
                    format: FORMAT,
                    reason: format!("block {block}: {reason}"),
                });
            }
            let entry = usize::try_from(block)
                .ok()
                .and_then(|b| self.bat.get(b).copied())
                .ok_or_else(|| self.corrupt(format!("block {block} has no BAT entry")))?;
            if entry == UNALLOCATED {
                assembler.push(self.absent(), to_usize(n)?)?;
            } else {
                self.push_allocated(&mut assembler, entry, within, n)?;
            }
        }
        assembler.finish()
    }

    fn data_ranges(&self) -> Result<Vec<Range<u64>>, DiskError> {
        self.data_map().map(|map| map.data)
    }

    fn data_map(&self) -> Result<DataMap, DiskError> {
        let block_size = self.layout.block_size;
        let stretch = |blocks: &Range<u64>| {
            blocks.start.saturating_mul(block_size)..blocks.end.saturating_mul(block_size)
        };
        // Allocated blocks: a superset of what does not read through to the parent (a block
        // whose bitmap has clear bits does, for those sectors).
        let allocated: Vec<Range<u64>> = (0u64..)
            .zip(&self.bat)
            .filter(|&(block, &entry)| entry != UNALLOCATED && self.lost.reason(block).is_none())
            .map(|(block, _)| stretch(&(block..block.saturating_add(1))))
            .collect();
        let mut data = allocated.clone();
        data.extend(self.lost.runs().map(stretch));
        let own = DataMap {
            data: crate::ranges::normalize(data),
            unreadable: self.lost.unreadable(block_size, self.layout.size, "block"),
        };
        crate::ranges::with_parent(own, &allocated, self.parent.as_deref(), self.layout.size)
    }

    fn kind(&self) -> &'static str {
        match self.parent {
            Some(_) => "VHD image (differencing)",
            None => "VHD image (dynamic)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn footer_bytes(disk_type: u32, size: u64) -> Vec<u8> {
        let mut f = vec![0u8; FOOTER_LEN];
        f[..8].copy_from_slice(FOOTER_COOKIE);
        f[16..24].copy_from_slice(&512u64.to_be_bytes());
        f[28..32].copy_from_slice(b"test");
        f[48..56].copy_from_slice(&size.to_be_bytes());
        f[60..64].copy_from_slice(&disk_type.to_be_bytes());
        let sum = checksum(&f, 64);
        f[64..68].copy_from_slice(&sum.to_be_bytes());
        f
    }

    #[test]
    fn parses_a_footer_and_its_511_byte_variant() {
        let f = footer_bytes(3, 1 << 20);
        let footer = parse_footer(&f).unwrap();
        assert_eq!(footer.disk_type, DiskType::Dynamic);
        assert_eq!(footer.current_size, 1 << 20);
        assert_eq!(parse_footer(&f[..511]).unwrap(), footer);
    }

    #[test]
    fn refuses_a_footer_with_a_bad_checksum_or_type() {
        let mut f = footer_bytes(2, 4096);
        f[50] ^= 1;
        assert!(matches!(parse_footer(&f), Err(Refusal::Corrupt(r)) if r.contains("checksum")));
        assert!(matches!(
            parse_footer(&footer_bytes(5, 4096)),
            Err(Refusal::Unsupported(_))
        ));
        assert!(parse_footer(&[0u8; 3]).is_err());
    }

    #[test]
    fn layout_checks_the_bat_and_block_size() {
        let header = |block_size, entries| DynamicHeader {
            table_offset: 1536,
            max_table_entries: entries,
            block_size,
            parent_unique_id: [0; 16],
            parent_name: None,
            locators: vec![],
        };
        let l = layout(5 << 20, &header(2 << 20, 3)).unwrap();
        assert_eq!((l.blocks, l.bitmap_len), (3, 512));
        assert!(layout(5 << 20, &header(2 << 20, 2)).is_err());
        assert!(layout(5 << 20, &header(3 << 20, 3)).is_err());
        assert!(matches!(
            layout(1 << 40, &header(512, u32::MAX)),
            Err(Refusal::Unsupported(_))
        ));
    }

    #[test]
    fn finds_blocks_past_the_end() {
        let l = layout(
            4 << 20,
            &DynamicHeader {
                table_offset: 0,
                max_table_entries: 2,
                block_size: 2 << 20,
                parent_unique_id: [0; 16],
                parent_name: None,
                locators: vec![],
            },
        )
        .unwrap();
        let bat = [3, UNALLOCATED];
        let end_of_block = 3 * 512 + 512 + (2 << 20);
        assert_eq!(blocks_outside(&bat, &l, end_of_block).count(), 0);
        assert_eq!(
            blocks_outside(&bat, &l, end_of_block - 1).collect::<Vec<_>>(),
            vec![0]
        );
        assert_eq!(blocks_outside(&[u32::MAX - 1], &l, u64::MAX).count(), 0);
    }

    #[test]
    fn a_dynamic_vhd_cut_before_its_footer_opens_from_the_copy_and_loses_the_rest() {
        // The footer copy at the start survives a cut; the footer at the end does not. The
        // BAT (at 512) holds block 0 at sector 3; the file ends inside that block.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.vhd");
        let mut bytes = footer_bytes(3, 8 << 20);
        let mut header = vec![0u8; DYNAMIC_HEADER_LEN];
        header[..8].copy_from_slice(DYNAMIC_HEADER_COOKIE);
        header[16..24].copy_from_slice(&1536u64.to_be_bytes());
        header[28..32].copy_from_slice(&4u32.to_be_bytes());
        header[32..36].copy_from_slice(&(2u32 << 20).to_be_bytes());
        let sum = checksum(&header, 36);
        header[36..40].copy_from_slice(&sum.to_be_bytes());
        bytes.extend_from_slice(&header);
        for entry in [4u32, UNALLOCATED, UNALLOCATED, UNALLOCATED] {
            bytes.extend_from_slice(&entry.to_be_bytes());
        }
        bytes.resize(64 << 10, 0x11);
        std::fs::write(&path, bytes).unwrap();
        let host = Host::open(&path).unwrap();
        let disk = open(host, &mut Opener::default()).unwrap();
        let map = disk.data_map().unwrap();
        assert_eq!(map.data, vec![0..2 << 20]);
        assert_eq!(map.unreadable.len(), 1);
        assert_eq!(map.unreadable[0].range, 0..2 << 20);
        assert!(map.unreadable[0].reason.contains("truncated"), "{map:?}");
        let mut buf = [0u8; 512];
        let err = disk.read_exact_at(4096, &mut buf).unwrap_err();
        assert!(matches!(err, DiskError::Damaged { .. }), "{err}");
        disk.read_exact_at(2 << 20, &mut buf).unwrap();
        assert_eq!(buf, [0; 512]);
    }

    #[test]
    fn decodes_parent_locators() {
        let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
        assert_eq!(
            decode_locator(PLATFORM_W2RU, &utf16(r".\dir\parent.vhd")),
            Some(PathBuf::from("./dir/parent.vhd"))
        );
        assert_eq!(
            decode_locator(PLATFORM_W2KU, &utf16(r"C:\vms\parent.vhd")),
            None
        );
        assert_eq!(
            decode_locator(PLATFORM_W2KU, &utf16("/srv/parent.vhd\0\0")),
            Some(PathBuf::from("/srv/parent.vhd"))
        );
        assert_eq!(
            decode_locator(PLATFORM_MACX, b"file://localhost/Users/a%20b/p.vhd"),
            Some(PathBuf::from("/Users/a b/p.vhd"))
        );
        assert_eq!(
            decode_locator(PLATFORM_MACX, b"file://./p.vhd"),
            Some(PathBuf::from("./p.vhd"))
        );
        assert_eq!(decode_locator(PLATFORM_MACX, b"file://%zz"), None);
        assert_eq!(decode_locator(u32::from_be_bytes(*b"Mac "), b"alias"), None);
    }
}
