//! VHDX images (Hyper-V, Azure Stack, qemu `vhdx`), read as the disk the guest saw.
//!
//! # Supported
//!
//! * **Fixed and dynamic** disks: the current header (of the two, the valid one with the higher
//!   sequence number; CRC-32C checked), the region table (the first valid copy), the metadata
//!   (block size, virtual disk size, logical sector size, has-parent, parent locator) and the
//!   block allocation table (BAT), whose payload entries are interleaved with sector bitmap
//!   entries (one per *chunk* of `2^23 * logical sector size / block size` blocks).
//! * Payload block states: `FULLY_PRESENT` blocks read from the file, contiguous blocks in one
//!   read; `NOT_PRESENT`, `UNDEFINED`, `ZERO` and `UNMAPPED` blocks read as zeros.
//! * **Differencing** disks: `NOT_PRESENT`, `UNDEFINED` and `UNMAPPED` blocks read from the
//!   parent (as libvhdi reads them; `ZERO` stays zeros), `PARTIALLY_PRESENT` blocks read the
//!   sectors whose bit is set in the chunk's sector bitmap from the file and the others from the
//!   parent. The parent is found through the parent locator's `relative_path`, then
//!   `absolute_win32_path`, then their file names beside the child, and must carry the data
//!   write GUID the child records as `parent_linkage` (or `parent_linkage2`) when it is a VHDX.
//!   A parent smaller than the child reads as zeros past its end.
//!
//! # Refused
//!
//! * **An unreplayed log.** A header whose log GUID is not zero says the log may hold writes
//!   that the BAT, metadata and payload do not have yet (the image was not closed cleanly, e.g.
//!   copied out of a running VM). This reader does not replay logs; it refuses the image with a
//!   [`DiskError::Unsupported`] that says how to replay it (`qemu-img check -r all` on a copy,
//!   or attaching it once in Hyper-V) rather than read a half-written state.
//! * Headers, region tables and metadata that fail their checks (signatures, CRC-32C, sizes,
//!   offsets inside the file), BAT entries in reserved states or pointing past the end of the
//!   file: [`DiskError::Corrupt`] or [`DiskError::Truncated`].
//! * Regions and metadata items marked *required* that this reader does not know, and tables
//!   larger than the limits below ([`MAX_BAT_BYTES`], [`MAX_METADATA_REGION_LEN`]).

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::assemble::{Assembler, Source};
use super::bytes;
use super::parent::{self, windows_file_name, windows_path};
use super::refusal::Refusal;
use crate::host::Host;
use crate::{Disk, DiskError, Opener, check_bounds};

/// The format's name in errors.
const FORMAT: &str = "VHDX";

/// 1 MiB: the alignment of regions and blocks, and the unit of BAT file offsets.
const MIB: u64 = 1 << 20;

/// The file type identifier's signature, at offset 0.
const FILE_SIGNATURE: &[u8; 8] = b"vhdxfile";
/// Where the two headers are.
const HEADER_OFFSETS: [u64; 2] = [64 << 10, 128 << 10];
/// The length of a header that its checksum covers.
const HEADER_LEN: usize = 4 << 10;
/// Where the two copies of the region table are.
const REGION_TABLE_OFFSETS: [u64; 2] = [192 << 10, 256 << 10];
/// The length of a region table, which its checksum covers.
const REGION_TABLE_LEN: usize = 64 << 10;
/// The most entries a region table may have (by the specification).
const MAX_REGION_ENTRIES: u32 = 2047;
/// The length of the metadata table at the start of the metadata region.
const METADATA_TABLE_LEN: usize = 64 << 10;
/// The most entries a metadata table may have (by the specification).
const MAX_METADATA_ENTRIES: u16 = 2047;

/// BATs larger than this are refused before they are read: 256 MiB of entries map 32 TiB in
/// 1 MiB blocks, or the format's maximum of 64 TiB in the 32 MiB blocks Hyper-V uses, while a
/// lying region table cannot make us allocate gigabytes.
pub(crate) const MAX_BAT_BYTES: u64 = 256 << 20;

/// Metadata regions larger than this are refused before they are read. Hyper-V and qemu write
/// 1 MiB; the items in it are a few dozen bytes, plus a parent locator of a few paths.
pub(crate) const MAX_METADATA_REGION_LEN: u64 = 16 << 20;

/// The largest virtual disk the specification allows (64 TiB).
const MAX_VIRTUAL_DISK_SIZE: u64 = 64 << 40;

/// A GUID in its on-disk layout: the first three fields little-endian, the rest as written.
const fn guid(data1: u32, data2: u16, data3: u16, data4: [u8; 8]) -> [u8; 16] {
    let a = data1.to_le_bytes();
    let b = data2.to_le_bytes();
    let c = data3.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], data4[0], data4[1], data4[2], data4[3],
        data4[4], data4[5], data4[6], data4[7],
    ]
}

/// The BAT region.
const REGION_BAT: [u8; 16] = guid(
    0x2DC2_7766,
    0xF623,
    0x4200,
    [0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08],
);
/// The metadata region.
const REGION_METADATA: [u8; 16] = guid(
    0x8B7C_A206,
    0x4790,
    0x4B9A,
    [0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E],
);
/// Metadata item: block size and flags.
const ITEM_FILE_PARAMETERS: [u8; 16] = guid(
    0xCAA1_6737,
    0xFA36,
    0x4D43,
    [0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B],
);
/// Metadata item: the virtual disk's size.
const ITEM_VIRTUAL_DISK_SIZE: [u8; 16] = guid(
    0x2FA5_4224,
    0xCD1B,
    0x4876,
    [0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8],
);
/// Metadata item: the virtual disk's id (not needed to read it).
const ITEM_VIRTUAL_DISK_ID: [u8; 16] = guid(
    0xBECA_12AB,
    0xB2E6,
    0x4523,
    [0x93, 0xEF, 0xC3, 0x09, 0xE0, 0x00, 0xC7, 0x46],
);
/// Metadata item: the logical sector size.
const ITEM_LOGICAL_SECTOR_SIZE: [u8; 16] = guid(
    0x8141_BF1D,
    0xA96F,
    0x4709,
    [0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F],
);
/// Metadata item: the physical sector size (not needed to read the disk).
const ITEM_PHYSICAL_SECTOR_SIZE: [u8; 16] = guid(
    0xCDA3_48C7,
    0x445D,
    0x4471,
    [0x9C, 0xC9, 0xE9, 0x88, 0x52, 0x51, 0xC5, 0x56],
);
/// Metadata item: where the parent of a differencing disk is.
const ITEM_PARENT_LOCATOR: [u8; 16] = guid(
    0xA8D3_5F2D,
    0xB30B,
    0x454D,
    [0xAB, 0xF7, 0xD3, 0xD8, 0x48, 0x34, 0xAB, 0x0C],
);
/// The one parent locator type defined: a VHDX parent, located by key-value pairs.
const PARENT_LOCATOR_VHDX: [u8; 16] = guid(
    0xB04A_EFB7,
    0xD19E,
    0x4A81,
    [0xB7, 0x89, 0x25, 0xB8, 0xE9, 0x44, 0x59, 0x13],
);

/// Payload block states (the low three bits of a BAT entry).
mod state {
    /// Not in the file: zeros, or the parent's bytes in a differencing disk.
    pub(super) const NOT_PRESENT: u64 = 0;
    /// Contents undefined: read as zeros, or the parent's bytes in a differencing disk.
    pub(super) const UNDEFINED: u64 = 1;
    /// All zeros.
    pub(super) const ZERO: u64 = 2;
    /// Unmapped (trimmed) by the guest: read as zeros, or the parent's bytes.
    pub(super) const UNMAPPED: u64 = 3;
    /// All of the block is in the file.
    pub(super) const FULLY_PRESENT: u64 = 6;
    /// Some sectors are in the file, as the sector bitmap says; the others are the parent's.
    pub(super) const PARTIALLY_PRESENT: u64 = 7;
    /// A sector bitmap entry's state when its bitmap block is in the file.
    pub(super) const BITMAP_PRESENT: u64 = 6;
}

/// The CRC-32C (Castagnoli) lookup table, reflected polynomial 0x82F63B78.
const CRC32C_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i: u32 = 0;
    while i < 256 {
        let mut crc = i;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i as usize] = crc;
        i += 1;
    }
    table
};

/// The CRC-32C of `data` with the 4-byte checksum field at `checksum_at` taken as zeros, as
/// VHDX headers and region tables are checksummed.
pub(crate) fn crc32c(data: &[u8], checksum_at: usize) -> u32 {
    let field = checksum_at..checksum_at.saturating_add(4);
    let crc = data.iter().enumerate().fold(!0u32, |crc, (i, &b)| {
        let b = if field.contains(&i) { 0 } else { b };
        let index = usize::from(crc.to_le_bytes()[0] ^ b);
        (crc >> 8) ^ CRC32C_TABLE[index]
    });
    !crc
}

/// The fields of a header this reader uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// Which header is newer: the higher sequence number.
    pub(crate) sequence_number: u64,
    /// Changes whenever the disk's data changes; a child records its parent's.
    pub(crate) data_write_guid: [u8; 16],
    /// Not zero when the log may hold writes still to replay.
    pub(crate) log_guid: [u8; 16],
}

/// Parses and checks a 4 KiB header.
pub(crate) fn parse_header(data: &[u8]) -> Result<Header, Refusal> {
    if data.len() < HEADER_LEN || data.get(..4) != Some(b"head".as_slice()) {
        return Err(Refusal::Corrupt(
            "the header has no `head` signature".into(),
        ));
    }
    let data = data.get(..HEADER_LEN).unwrap_or(data);
    let stored = bytes::le32(data, 4);
    let computed = crc32c(data, 4);
    if stored != computed {
        return Err(Refusal::Corrupt(format!(
            "the header's CRC-32C is {stored:#010x} but its bytes give {computed:#010x}"
        )));
    }
    let version = bytes::le16(data, 66);
    if version != 1 {
        return Err(Refusal::Unsupported(format!(
            "format version {version} (only 1 exists)"
        )));
    }
    Ok(Header {
        sequence_number: bytes::le64(data, 8),
        data_write_guid: bytes::array(data, 32),
        log_guid: bytes::array(data, 48),
    })
}

/// Of two header parse results, the current header: the valid one with the higher sequence
/// number. Both invalid is the first one's error.
pub(crate) fn current_header(
    first: Result<Header, Refusal>,
    second: Result<Header, Refusal>,
) -> Result<Header, Refusal> {
    match (first, second) {
        (Ok(a), Ok(b)) => Ok(if b.sequence_number > a.sequence_number {
            b
        } else {
            a
        }),
        (Ok(a), Err(_)) => Ok(a),
        (Err(_), Ok(b)) => Ok(b),
        (Err(Refusal::Corrupt(a)), Err(Refusal::Corrupt(b))) => Err(Refusal::Corrupt(format!(
            "neither header is valid: {a}; {b}"
        ))),
        (Err(a), Err(_)) => Err(a),
    }
}

/// Where the BAT and the metadata are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Regions {
    /// The BAT region: file offset and length.
    pub(crate) bat: (u64, u32),
    /// The metadata region: file offset and length.
    pub(crate) metadata: (u64, u32),
}

/// Parses and checks a 64 KiB region table.
pub(crate) fn parse_region_table(data: &[u8]) -> Result<Regions, Refusal> {
    if data.len() < REGION_TABLE_LEN || data.get(..4) != Some(b"regi".as_slice()) {
        return Err(Refusal::Corrupt(
            "the region table has no `regi` signature".into(),
        ));
    }
    let data = data.get(..REGION_TABLE_LEN).unwrap_or(data);
    let stored = bytes::le32(data, 4);
    let computed = crc32c(data, 4);
    if stored != computed {
        return Err(Refusal::Corrupt(format!(
            "the region table's CRC-32C is {stored:#010x} but its bytes give {computed:#010x}"
        )));
    }
    let count = bytes::le32(data, 8);
    if count > MAX_REGION_ENTRIES {
        return Err(Refusal::Corrupt(format!(
            "the region table has {count} entries (at most {MAX_REGION_ENTRIES} fit)"
        )));
    }
    let (mut bat, mut metadata) = (None, None);
    for index in 0..count {
        // count <= 2047, so the entry lies within the 64 KiB table.
        let at = usize::try_from(index)
            .unwrap_or(0)
            .saturating_mul(32)
            .saturating_add(16);
        let id: [u8; 16] = bytes::array(data, at);
        let offset = bytes::le64(data, at.saturating_add(16));
        let len = bytes::le32(data, at.saturating_add(24));
        let required = bytes::le32(data, at.saturating_add(28)) & 1 != 0;
        if id == REGION_BAT {
            bat = Some((offset, len));
        } else if id == REGION_METADATA {
            metadata = Some((offset, len));
        } else if required {
            return Err(Refusal::Unsupported(format!(
                "a required region {} that this reader does not know",
                guid_text(&id)
            )));
        }
    }
    match (bat, metadata) {
        (Some(bat), Some(metadata)) => Ok(Regions { bat, metadata }),
        _ => Err(Refusal::Corrupt(
            "the region table lacks the BAT or the metadata region".into(),
        )),
    }
}

/// What the metadata says about the disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Metadata {
    /// The size of a payload block: a power of two from 1 MiB to 256 MiB.
    pub(crate) block_size: u32,
    /// Whether the disk is a differencing disk.
    pub(crate) has_parent: bool,
    /// The virtual disk's size in bytes.
    pub(crate) virtual_disk_size: u64,
    /// 512 or 4096: the unit of sector bitmaps.
    pub(crate) logical_sector_size: u32,
    /// The parent locator's key-value pairs (differencing disks).
    pub(crate) parent_locator: Vec<(String, String)>,
}

/// Parses the metadata region (its table and the items it points to).
pub(crate) fn parse_metadata(region: &[u8]) -> Result<Metadata, Refusal> {
    let corrupt = |reason: &str| Refusal::Corrupt(format!("metadata: {reason}"));
    if region.len() < METADATA_TABLE_LEN || region.get(..8) != Some(b"metadata".as_slice()) {
        return Err(corrupt("the table has no `metadata` signature"));
    }
    let count = bytes::le16(region, 10);
    if count > MAX_METADATA_ENTRIES {
        return Err(corrupt(&format!(
            "the table has {count} entries (at most {MAX_METADATA_ENTRIES} fit)"
        )));
    }
    let mut file_parameters = None;
    let mut virtual_disk_size = None;
    let mut logical_sector_size = None;
    let mut parent_locator = None;
    for index in 0..usize::from(count) {
        let at = index.saturating_mul(32).saturating_add(32);
        let id: [u8; 16] = bytes::array(region, at);
        let offset = usize::try_from(bytes::le32(region, at.saturating_add(16))).ok();
        let len = usize::try_from(bytes::le32(region, at.saturating_add(20))).ok();
        let required = bytes::le32(region, at.saturating_add(24)) & 4 != 0;
        let item = offset
            .zip(len)
            .and_then(|(offset, len)| region.get(offset..offset.checked_add(len)?))
            .ok_or_else(|| {
                corrupt(&format!(
                    "item {} lies outside the metadata region",
                    guid_text(&id)
                ))
            })?;
        match id {
            ITEM_FILE_PARAMETERS if item.len() >= 8 => file_parameters = Some(item),
            ITEM_VIRTUAL_DISK_SIZE if item.len() >= 8 => virtual_disk_size = Some(item),
            ITEM_LOGICAL_SECTOR_SIZE if item.len() >= 4 => logical_sector_size = Some(item),
            ITEM_PARENT_LOCATOR => parent_locator = Some(item),
            ITEM_FILE_PARAMETERS | ITEM_VIRTUAL_DISK_SIZE | ITEM_LOGICAL_SECTOR_SIZE => {
                return Err(corrupt(&format!("item {} is too short", guid_text(&id))));
            }
            ITEM_VIRTUAL_DISK_ID | ITEM_PHYSICAL_SECTOR_SIZE => {}
            _ if required => {
                return Err(Refusal::Unsupported(format!(
                    "a required metadata item {} that this reader does not know",
                    guid_text(&id)
                )));
            }
            _ => {}
        }
    }
    let file_parameters = file_parameters.ok_or_else(|| corrupt("no file parameters"))?;
    let block_size = bytes::le32(file_parameters, 0);
    let has_parent = bytes::le32(file_parameters, 4) & 2 != 0;
    let virtual_disk_size = bytes::le64(
        virtual_disk_size.ok_or_else(|| corrupt("no virtual disk size"))?,
        0,
    );
    let logical_sector_size = bytes::le32(
        logical_sector_size.ok_or_else(|| corrupt("no logical sector size"))?,
        0,
    );
    if !block_size.is_power_of_two() || !(1 << 20..=256 << 20).contains(&block_size) {
        return Err(corrupt(&format!(
            "the block size {block_size} is not a power of two from 1 MiB to 256 MiB"
        )));
    }
    if logical_sector_size != 512 && logical_sector_size != 4096 {
        return Err(corrupt(&format!(
            "the logical sector size {logical_sector_size} is neither 512 nor 4096"
        )));
    }
    if virtual_disk_size > MAX_VIRTUAL_DISK_SIZE {
        return Err(corrupt(&format!(
            "the virtual disk size {virtual_disk_size} exceeds the format's 64 TiB"
        )));
    }
    let parent_locator = match (has_parent, parent_locator) {
        (true, Some(item)) => parse_parent_locator(item)?,
        (true, None) => return Err(corrupt("a differencing disk without a parent locator")),
        (false, _) => Vec::new(),
    };
    Ok(Metadata {
        block_size,
        has_parent,
        virtual_disk_size,
        logical_sector_size,
        parent_locator,
    })
}

/// Parses a parent locator item into its key-value pairs (UTF-16LE strings).
pub(crate) fn parse_parent_locator(item: &[u8]) -> Result<Vec<(String, String)>, Refusal> {
    let corrupt = |reason: String| Refusal::Corrupt(format!("parent locator: {reason}"));
    let kind: [u8; 16] = bytes::array(item, 0);
    if kind != PARENT_LOCATOR_VHDX {
        return Err(Refusal::Unsupported(format!(
            "a parent locator of type {} (only VHDX parents are defined)",
            guid_text(&kind)
        )));
    }
    let count = usize::from(bytes::le16(item, 18));
    let string = |offset: u32, len: u16| -> Result<String, Refusal> {
        let start = usize::try_from(offset).map_err(|_| corrupt("offset overflows".into()))?;
        let bytes = start
            .checked_add(usize::from(len))
            .and_then(|end| item.get(start..end))
            .ok_or_else(|| corrupt(format!("a string at {offset} lies outside the item")))?;
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|unit| u16::from_le_bytes([unit[0], unit[1]]))
            .collect();
        String::from_utf16(&units).map_err(|_| corrupt("a string is not UTF-16".into()))
    };
    (0..count)
        .map(|index| {
            let at = index.saturating_mul(12).saturating_add(20);
            if at.saturating_add(12) > item.len() {
                return Err(corrupt(format!("entry {index} lies outside the item")));
            }
            let key = string(
                bytes::le32(item, at),
                bytes::le16(item, at.saturating_add(8)),
            )?;
            let value = string(
                bytes::le32(item, at.saturating_add(4)),
                bytes::le16(item, at.saturating_add(10)),
            )?;
            Ok((key, value))
        })
        .collect()
}

/// A GUID in its usual text form, for messages.
fn guid_text(id: &[u8; 16]) -> String {
    let d1 = u32::from_le_bytes([id[0], id[1], id[2], id[3]]);
    let d2 = u16::from_le_bytes([id[4], id[5]]);
    let d3 = u16::from_le_bytes([id[6], id[7]]);
    let tail: String = id[8..].iter().map(|b| format!("{b:02X}")).collect();
    format!("{d1:08X}-{d2:04X}-{d3:04X}-{}-{}", &tail[..4], &tail[4..])
}

/// A GUID from its text form (`{...}` braces optional), in the on-disk layout.
pub(crate) fn parse_guid(text: &str) -> Option<[u8; 16]> {
    let text = text.trim().trim_start_matches('{').trim_end_matches('}');
    let parts: Vec<&str> = text.split('-').collect();
    let [d1, d2, d3, d4a, d4b] = parts.as_slice() else {
        return None;
    };
    if (d1.len(), d2.len(), d3.len(), d4a.len(), d4b.len()) != (8, 4, 4, 4, 12) {
        return None;
    }
    let mut data4 = [0u8; 8];
    let tail = format!("{d4a}{d4b}");
    for (i, byte) in data4.iter_mut().enumerate() {
        let at = i.checked_mul(2)?;
        *byte = u8::from_str_radix(tail.get(at..at.checked_add(2)?)?, 16).ok()?;
    }
    Some(guid(
        u32::from_str_radix(d1, 16).ok()?,
        u16::from_str_radix(d2, 16).ok()?,
        u16::from_str_radix(d3, 16).ok()?,
        data4,
    ))
}

/// The geometry of a disk's blocks and of its BAT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The virtual disk's size in bytes.
    pub(crate) size: u64,
    /// The size of a payload block.
    pub(crate) block_size: u64,
    /// The logical sector size: one bit of a sector bitmap stands for this many bytes.
    pub(crate) sector_size: u64,
    /// Payload blocks per chunk: each chunk's entries are followed by its sector bitmap entry.
    pub(crate) chunk_ratio: u64,
    /// The number of payload blocks the disk spans.
    pub(crate) blocks: u64,
    /// The number of BAT entries the reader needs.
    pub(crate) entries: u64,
}

/// Derives the block and BAT geometry from the metadata, checking the BAT region is large
/// enough and within [`MAX_BAT_BYTES`].
pub(crate) fn layout(metadata: &Metadata, bat_region_len: u32) -> Result<Layout, Refusal> {
    let block_size = u64::from(metadata.block_size);
    let sector_size = u64::from(metadata.logical_sector_size);
    let size = metadata.virtual_disk_size;
    // A sector bitmap block (1 MiB, 2^23 bits) covers 2^23 sectors: this many blocks. The
    // metadata checks bound the block size to 1..=256 MiB and the sector size to 512 or 4096.
    let chunk_ratio = (1u64 << 23)
        .saturating_mul(sector_size)
        .checked_div(block_size)
        .filter(|&ratio| ratio > 0)
        .ok_or_else(|| Refusal::Corrupt(format!("block size {block_size}")))?;
    let blocks = size.div_ceil(block_size);
    let chunks = blocks.div_ceil(chunk_ratio);
    let entries = if metadata.has_parent {
        // Every chunk, the last one included, has its sector bitmap entry.
        chunks.saturating_mul(chunk_ratio.saturating_add(1))
    } else {
        // The payload entries and the bitmap entries between chunks.
        blocks.saturating_add(
            blocks
                .saturating_sub(1)
                .checked_div(chunk_ratio)
                .unwrap_or(0),
        )
    };
    let bat_bytes = entries.saturating_mul(8);
    if bat_bytes > MAX_BAT_BYTES {
        return Err(Refusal::Unsupported(format!(
            "a BAT of {bat_bytes} bytes (at most {MAX_BAT_BYTES} are read)"
        )));
    }
    if bat_bytes > u64::from(bat_region_len) {
        return Err(Refusal::Corrupt(format!(
            "the disk needs {entries} BAT entries ({bat_bytes} bytes) but the BAT region holds \
             {bat_region_len} bytes"
        )));
    }
    Ok(Layout {
        size,
        block_size,
        sector_size,
        chunk_ratio,
        blocks,
        entries,
    })
}

impl Layout {
    /// The BAT index of payload block `block`.
    fn payload_index(&self, block: u64) -> Option<u64> {
        block.checked_add(block.checked_div(self.chunk_ratio)?)
    }

    /// The BAT index of the sector bitmap covering payload block `block`.
    fn bitmap_index(&self, block: u64) -> Option<u64> {
        let chunk = block.checked_div(self.chunk_ratio)?;
        chunk
            .checked_mul(self.chunk_ratio.checked_add(1)?)?
            .checked_add(self.chunk_ratio)
    }
}

/// The file offset a BAT entry points to.
fn entry_offset(entry: u64) -> u64 {
    // The offset field is bits 20..64 in units of 1 MiB: the entry with its low bits cleared.
    entry & !(MIB - 1)
}

/// The state of a BAT entry.
fn entry_state(entry: u64) -> u64 {
    entry & 7
}

/// Checks every BAT entry the disk uses: states that exist, present blocks and bitmaps inside
/// the file's first `file_len` bytes, partial blocks only in a differencing disk.
pub(crate) fn check_bat(
    bat: &[u64],
    layout: &Layout,
    has_parent: bool,
    file_len: u64,
) -> Result<(), Refusal> {
    for (index, &entry) in (0u64..).zip(bat) {
        let is_bitmap =
            index.checked_rem(layout.chunk_ratio.saturating_add(1)) == Some(layout.chunk_ratio);
        let state = entry_state(entry);
        let (present, len) = if is_bitmap {
            match state {
                state::BITMAP_PRESENT => (true, MIB),
                0 => (false, 0),
                other => {
                    return Err(Refusal::Corrupt(format!(
                        "BAT entry {index} (a sector bitmap) has the reserved state {other}"
                    )));
                }
            }
        } else {
            match state {
                state::NOT_PRESENT | state::UNDEFINED | state::ZERO | state::UNMAPPED => (false, 0),
                state::FULLY_PRESENT => (true, layout.block_size),
                state::PARTIALLY_PRESENT if has_parent => (true, layout.block_size),
                state::PARTIALLY_PRESENT => {
                    return Err(Refusal::Corrupt(format!(
                        "BAT entry {index} is partially present in a disk without a parent"
                    )));
                }
                other => {
                    return Err(Refusal::Corrupt(format!(
                        "BAT entry {index} has the reserved state {other}"
                    )));
                }
            }
        };
        let offset = entry_offset(entry);
        if present && (offset < MIB || offset.checked_add(len).is_none_or(|end| end > file_len)) {
            return Err(Refusal::Corrupt(format!(
                "BAT entry {index} points at offset {offset}, outside the image's {file_len} \
                 bytes: the image is truncated or corrupt"
            )));
        }
    }
    Ok(())
}

/// Parses BAT entries (little-endian).
pub(crate) fn parse_bat(data: &[u8]) -> Vec<u64> {
    data.chunks_exact(8)
        .map(|e| u64::from_le_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]))
        .collect()
}

/// Opens `host` as a VHDX image.
pub(crate) fn open(host: Host, opener: &mut Opener) -> Result<Box<dyn Disk>, DiskError> {
    Ok(Box::new(VhdxDisk::open(host, opener)?))
}

/// A VHDX image: fixed, dynamic or differencing.
#[derive(Debug)]
pub(crate) struct VhdxDisk {
    host: Host,
    layout: Layout,
    /// The BAT entries, checked at open.
    bat: Vec<u64>,
    /// The parent of a differencing disk.
    parent: Option<Box<dyn Disk>>,
}

/// Reads the current header of the VHDX in `host`.
fn read_current_header(host: &Host) -> Result<Header, DiskError> {
    let path = host.path();
    let signature = host.read_vec(0, FILE_SIGNATURE.len())?;
    if signature != FILE_SIGNATURE {
        return Err(Refusal::Corrupt("no `vhdxfile` signature".into()).at(path, FORMAT));
    }
    let [first, second] = HEADER_OFFSETS;
    current_header(
        parse_header(&host.read_vec(first, HEADER_LEN)?),
        parse_header(&host.read_vec(second, HEADER_LEN)?),
    )
    .map_err(|r| r.at(path, FORMAT))
}

impl VhdxDisk {
    /// Reads and checks the headers, region table, metadata and BAT, and opens the parent.
    fn open(host: Host, opener: &mut Opener) -> Result<VhdxDisk, DiskError> {
        let path = host.path();
        let at = |r: Refusal| r.at(path, FORMAT);
        let header = read_current_header(&host)?;
        if header.log_guid != [0; 16] {
            return Err(at(Refusal::Unsupported(
                "the image has an unreplayed log (its header's log GUID is set: it was not \
                 closed cleanly, e.g. copied from a running VM), and snapsift does not replay \
                 VHDX logs; replay it on a copy first, with `qemu-img check -r all COPY.vhdx` \
                 or by attaching the copy once in Hyper-V, then scan the copy"
                    .into(),
            )));
        }
        let [first, second] = REGION_TABLE_OFFSETS;
        let regions = match parse_region_table(&host.read_vec(first, REGION_TABLE_LEN)?) {
            Ok(regions) => regions,
            Err(first_error) => parse_region_table(&host.read_vec(second, REGION_TABLE_LEN)?)
                .map_err(|_| at(first_error))?,
        };

        let (metadata_offset, metadata_len) = regions.metadata;
        if u64::from(metadata_len) > MAX_METADATA_REGION_LEN {
            return Err(at(Refusal::Unsupported(format!(
                "a metadata region of {metadata_len} bytes (at most {MAX_METADATA_REGION_LEN} \
                 are read)"
            ))));
        }
        let metadata_len = usize::try_from(metadata_len).unwrap_or(usize::MAX);
        let metadata =
            parse_metadata(&host.read_vec(metadata_offset, metadata_len)?).map_err(at)?;

        let (bat_offset, bat_region_len) = regions.bat;
        let layout = layout(&metadata, bat_region_len).map_err(at)?;
        // `layout` bounded the BAT to MAX_BAT_BYTES.
        let bat_len = usize::try_from(layout.entries.saturating_mul(8)).unwrap_or(usize::MAX);
        let bat = parse_bat(&host.read_vec(bat_offset, bat_len)?);
        check_bat(&bat, &layout, metadata.has_parent, host.len()).map_err(at)?;

        let parent = if metadata.has_parent {
            Some(open_parent(&host, &metadata.parent_locator, opener)?)
        } else {
            None
        };
        Ok(VhdxDisk {
            host,
            layout,
            bat,
            parent,
        })
    }

    /// A corrupt-image error for this file.
    fn corrupt(&self, reason: String) -> DiskError {
        Refusal::Corrupt(reason).at(self.host.path(), FORMAT)
    }

    /// The BAT entry at `index`.
    fn entry(&self, index: Option<u64>) -> Result<u64, DiskError> {
        index
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.bat.get(i).copied())
            .ok_or_else(|| self.corrupt(format!("BAT entry {index:?} is missing")))
    }

    /// Where the bytes of a block that is not in the file come from.
    fn absent_source(&self) -> Source {
        match self.parent {
            Some(_) => Source::Parent,
            None => Source::Zero,
        }
    }

    /// Pushes `len` bytes at `within` of partially present payload block `block` (stored at
    /// `data_at`): sectors whose bit is set in the chunk's sector bitmap from the file, the
    /// others from the parent.
    fn push_partial(
        &self,
        assembler: &mut Assembler<'_>,
        block: u64,
        data_at: u64,
        within: u64,
        len: u64,
    ) -> Result<(), DiskError> {
        let overflow = || self.corrupt(format!("payload block {block} overflows"));
        let bitmap_entry = self.entry(self.layout.bitmap_index(block))?;
        if entry_state(bitmap_entry) != state::BITMAP_PRESENT {
            return Err(self.corrupt(format!(
                "payload block {block} is partially present but its sector bitmap is not"
            )));
        }
        let sector = self.layout.sector_size;
        let sectors_per_block = self
            .layout
            .block_size
            .checked_div(sector)
            .ok_or_else(overflow)?;
        // Bit offset of this block's first sector in the chunk's bitmap, then of the read.
        let block_bit = block
            .checked_rem(self.layout.chunk_ratio)
            .ok_or_else(overflow)?
            .checked_mul(sectors_per_block)
            .ok_or_else(overflow)?;
        let end = within.checked_add(len).ok_or_else(overflow)?;
        let first_bit = within
            .checked_div(sector)
            .and_then(|s| block_bit.checked_add(s))
            .ok_or_else(overflow)?;
        let last_bit = block_bit
            .checked_add(
                end.saturating_sub(1)
                    .checked_div(sector)
                    .ok_or_else(overflow)?,
            )
            .ok_or_else(overflow)?;
        let first_byte = first_bit / 8;
        let bitmap_len = usize::try_from((last_bit / 8).saturating_sub(first_byte))
            .map_err(|_| overflow())?
            .saturating_add(1);
        let bitmap_at = entry_offset(bitmap_entry)
            .checked_add(first_byte)
            .ok_or_else(overflow)?;
        let bitmap = self.host.read_vec(bitmap_at, bitmap_len)?;
        // VHDX bitmaps are little-endian within each byte: sector 0 is the byte's lowest bit.
        let bit = |n: u64| -> bool {
            let byte = (n / 8)
                .checked_sub(first_byte)
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| bitmap.get(i).copied())
                .unwrap_or(0);
            byte & (1 << (n % 8)) != 0
        };
        let mut run_start = first_bit;
        while run_start <= last_bit {
            let present = bit(run_start);
            let mut run_end = run_start.saturating_add(1);
            while run_end <= last_bit && bit(run_end) == present {
                run_end = run_end.saturating_add(1);
            }
            // Back to byte offsets within the block, clipped to the read.
            let lo = (run_start.saturating_sub(block_bit))
                .saturating_mul(sector)
                .max(within);
            let hi = (run_end.saturating_sub(block_bit))
                .saturating_mul(sector)
                .min(end);
            let source = if present {
                Source::Host(data_at.checked_add(lo).ok_or_else(overflow)?)
            } else {
                Source::Parent
            };
            assembler.push(source, to_usize(hi.saturating_sub(lo))?)?;
            run_start = run_end;
        }
        Ok(())
    }
}

/// A length within one read buffer as `usize`.
fn to_usize(len: u64) -> Result<usize, DiskError> {
    usize::try_from(len).map_err(|_| DiskError::InvalidRange { start: 0, end: len })
}

/// Finds and opens the parent named by a differencing disk's parent locator.
fn open_parent(
    host: &Host,
    locator: &[(String, String)],
    opener: &mut Opener,
) -> Result<Box<dyn Disk>, DiskError> {
    let value = |key: &str| {
        locator
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let mut candidates: Vec<PathBuf> = Vec::new();
    // Relative paths survive a move of the whole chain, so they come first; a volume path
    // (`\\?\Volume{...}\...`) names nothing here. Last, the parent's file name beside the child.
    for key in ["relative_path", "absolute_win32_path"] {
        candidates.extend(value(key).and_then(windows_path));
    }
    for key in ["relative_path", "absolute_win32_path", "volume_path"] {
        candidates.extend(value(key).and_then(windows_file_name));
    }
    let mut unique = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        if !unique.contains(&candidate) {
            unique.push(candidate);
        }
    }
    // `parent_linkage2` is the id a parent may carry instead, after an interrupted update.
    let expected: Vec<[u8; 16]> = ["parent_linkage", "parent_linkage2"]
        .into_iter()
        .filter_map(|key| value(key).and_then(parse_guid))
        .collect();
    parent::open_parent(
        host.path(),
        &unique,
        &expected,
        vhdx_data_write_guid,
        opener,
        FORMAT,
    )
}

/// The data write GUID of the current header of the VHDX at `path`, or `None` if it is not a
/// readable VHDX.
fn vhdx_data_write_guid(path: &Path) -> Option<[u8; 16]> {
    let host = Host::open(path).ok()?;
    read_current_header(&host).ok().map(|h| h.data_write_guid)
}

impl Disk for VhdxDisk {
    fn size(&self) -> u64 {
        self.layout.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        check_bounds(offset, buf.len(), self.size())?;
        let len = u64::try_from(buf.len()).map_err(|_| DiskError::InvalidRange {
            start: offset,
            end: u64::MAX,
        })?;
        // In bounds, so offset + len <= size.
        let end = offset.saturating_add(len);
        let block_size = self.layout.block_size;
        let mut assembler = Assembler::new(&self.host, self.parent.as_deref(), offset, buf);
        let mut pos = offset;
        while pos < end {
            // The block size was checked to be a power of two, so neither can fail.
            let (Some(block), Some(within)) =
                (pos.checked_div(block_size), pos.checked_rem(block_size))
            else {
                return Err(self.corrupt(format!("block size {block_size}")));
            };
            let n = block_size
                .saturating_sub(within)
                .min(end.saturating_sub(pos));
            let entry = self.entry(self.layout.payload_index(block))?;
            let data_at = entry_offset(entry);
            match entry_state(entry) {
                state::FULLY_PRESENT => {
                    let at = data_at
                        .checked_add(within)
                        .ok_or_else(|| self.corrupt(format!("payload block {block} overflows")))?;
                    assembler.push(Source::Host(at), to_usize(n)?)?;
                }
                state::PARTIALLY_PRESENT => {
                    self.push_partial(&mut assembler, block, data_at, within, n)?;
                }
                state::ZERO => assembler.push(Source::Zero, to_usize(n)?)?,
                // NOT_PRESENT, UNDEFINED, UNMAPPED (check_bat refused the reserved states).
                _ => assembler.push(self.absent_source(), to_usize(n)?)?,
            }
            pos = pos.saturating_add(n);
        }
        assembler.finish()
    }

    fn data_ranges(&self) -> Result<Vec<Range<u64>>, DiskError> {
        let block_size = self.layout.block_size;
        let mut own = Vec::new();
        for block in 0..self.layout.blocks {
            let state = entry_state(self.entry(self.layout.payload_index(block))?);
            if state == state::FULLY_PRESENT || state == state::PARTIALLY_PRESENT {
                let start = block.saturating_mul(block_size);
                own.push(start..start.saturating_add(block_size).min(self.layout.size));
            }
        }
        crate::ranges::with_parent(own, self.parent.as_deref(), self.layout.size)
    }

    fn kind(&self) -> &'static str {
        match self.parent {
            Some(_) => "VHDX image (differencing)",
            None => "VHDX image",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        assert_eq!(crc32c(b"123456789", usize::MAX), 0xE306_9283);
    }

    #[test]
    fn guids_round_trip_through_text() {
        assert_eq!(
            parse_guid("{2DC27766-F623-4200-9D64-115E9BFD4A08}"),
            Some(REGION_BAT)
        );
        assert_eq!(
            guid_text(&REGION_BAT),
            "2DC27766-F623-4200-9D64-115E9BFD4A08"
        );
        assert_eq!(parse_guid("{2DC27766-F623-4200-9D64}"), None);
        assert_eq!(parse_guid("zzzzzzzz-F623-4200-9D64-115E9BFD4A08"), None);
    }

    fn header(sequence_number: u64) -> Vec<u8> {
        let mut h = vec![0u8; HEADER_LEN];
        h[..4].copy_from_slice(b"head");
        h[8..16].copy_from_slice(&sequence_number.to_le_bytes());
        h[66..68].copy_from_slice(&1u16.to_le_bytes());
        let crc = crc32c(&h, 4);
        h[4..8].copy_from_slice(&crc.to_le_bytes());
        h
    }

    #[test]
    fn picks_the_valid_header_with_the_higher_sequence_number() {
        let (a, b) = (header(5), header(6));
        let pick = |a: &[u8], b: &[u8]| current_header(parse_header(a), parse_header(b));
        assert_eq!(pick(&a, &b).unwrap().sequence_number, 6);
        assert_eq!(pick(&b, &a).unwrap().sequence_number, 6);
        let mut bad = b.clone();
        bad[100] ^= 1;
        assert_eq!(pick(&a, &bad).unwrap().sequence_number, 5);
        assert!(matches!(pick(&bad, &bad), Err(Refusal::Corrupt(r)) if r.contains("CRC")));
    }

    #[test]
    fn layout_interleaves_sector_bitmap_entries() {
        let metadata = |block_size, has_parent| Metadata {
            block_size,
            has_parent,
            virtual_disk_size: 10 << 30,
            logical_sector_size: 512,
            parent_locator: vec![],
        };
        // 32 MiB blocks with 512-byte sectors: 128 blocks per chunk, 320 blocks.
        let l = layout(&metadata(32 << 20, false), 1 << 20).unwrap();
        assert_eq!((l.chunk_ratio, l.blocks, l.entries), (128, 320, 322));
        assert_eq!(l.payload_index(128), Some(129));
        assert_eq!(l.bitmap_index(200), Some(257));
        let l = layout(&metadata(32 << 20, true), 1 << 20).unwrap();
        assert_eq!(l.entries, 3 * 129);
        assert!(layout(&metadata(32 << 20, true), 1024).is_err());
    }

    #[test]
    fn check_bat_refuses_reserved_states_and_blocks_past_the_end() {
        let l = layout(
            &Metadata {
                block_size: 1 << 20,
                has_parent: false,
                virtual_disk_size: 2 << 20,
                logical_sector_size: 512,
                parent_locator: vec![],
            },
            1 << 20,
        )
        .unwrap();
        let present = |mib: u64| (mib << 20) | state::FULLY_PRESENT;
        assert!(check_bat(&[present(1), 0], &l, false, 2 << 20).is_ok());
        assert!(check_bat(&[present(2), 0], &l, false, 2 << 20).is_err());
        assert!(check_bat(&[4, 0], &l, false, 2 << 20).is_err());
        assert!(check_bat(&[present(0), 0], &l, false, 2 << 20).is_err());
        assert!(check_bat(&[(1 << 20) | 7, 0], &l, false, 2 << 20).is_err());
    }

    #[test]
    fn parses_a_parent_locator() {
        let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
        let (key, value) = (utf16("relative_path"), utf16(r".\p.vhdx"));
        let mut item = PARENT_LOCATOR_VHDX.to_vec();
        item.extend_from_slice(&[0, 0, 1, 0]);
        let key_at = 32u32;
        let value_at = key_at + key.len() as u32;
        item.extend_from_slice(&key_at.to_le_bytes());
        item.extend_from_slice(&value_at.to_le_bytes());
        item.extend_from_slice(&(key.len() as u16).to_le_bytes());
        item.extend_from_slice(&(value.len() as u16).to_le_bytes());
        item.extend_from_slice(&key);
        item.extend_from_slice(&value);
        assert_eq!(
            parse_parent_locator(&item).unwrap(),
            vec![("relative_path".to_string(), r".\p.vhdx".to_string())]
        );
        item.truncate(item.len() - 2);
        assert!(parse_parent_locator(&item).is_err());
    }
}
