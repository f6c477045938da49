//! The VHDX structures, parsed from bytes (no I/O): headers, region table, metadata and
//! parent locators, with their GUIDs and CRC-32C checksums.

use crate::formats::bytes;
use crate::formats::refusal::Refusal;

/// 1 MiB: the alignment of regions and blocks, and the unit of BAT file offsets.
pub(super) const MIB: u64 = 1 << 20;

/// The file type identifier's signature, at offset 0.
pub(super) const FILE_SIGNATURE: &[u8; 8] = b"vhdxfile";
/// Where the two headers are.
pub(super) const HEADER_OFFSETS: [u64; 2] = [64 << 10, 128 << 10];
/// The length of a header that its checksum covers.
pub(super) const HEADER_LEN: usize = 4 << 10;
/// Where the two copies of the region table are.
pub(super) const REGION_TABLE_OFFSETS: [u64; 2] = [192 << 10, 256 << 10];
/// The length of a region table, which its checksum covers.
pub(super) const REGION_TABLE_LEN: usize = 64 << 10;
/// The most entries a region table may have (by the specification).
pub(super) const MAX_REGION_ENTRIES: u32 = 2047;
/// The length of the metadata table at the start of the metadata region.
pub(super) const METADATA_TABLE_LEN: usize = 64 << 10;
/// The most entries a metadata table may have (by the specification).
pub(super) const MAX_METADATA_ENTRIES: u16 = 2047;

/// Metadata regions larger than this are refused before they are read. Hyper-V and qemu write
/// 1 MiB; the items in it are a few dozen bytes, plus a parent locator of a few paths.
pub(crate) const MAX_METADATA_REGION_LEN: u64 = 16 << 20;

/// The largest virtual disk the specification allows (64 TiB).
pub(super) const MAX_VIRTUAL_DISK_SIZE: u64 = 64 << 40;

/// A GUID in its on-disk layout: the first three fields little-endian, the rest as written.
pub(super) const fn guid(data1: u32, data2: u16, data3: u16, data4: [u8; 8]) -> [u8; 16] {
    let a = data1.to_le_bytes();
    let b = data2.to_le_bytes();
    let c = data3.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], data4[0], data4[1], data4[2], data4[3],
        data4[4], data4[5], data4[6], data4[7],
    ]
}

/// The BAT region.
pub(super) const REGION_BAT: [u8; 16] = guid(
    0x2DC2_7766,
    0xF623,
    0x4200,
    [0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08],
);
/// The metadata region.
pub(super) const REGION_METADATA: [u8; 16] = guid(
    0x8B7C_A206,
    0x4790,
    0x4B9A,
    [0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E],
);
/// Metadata item: block size and flags.
pub(super) const ITEM_FILE_PARAMETERS: [u8; 16] = guid(
    0xCAA1_6737,
    0xFA36,
    0x4D43,
    [0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B],
);
/// Metadata item: the virtual disk's size.
pub(super) const ITEM_VIRTUAL_DISK_SIZE: [u8; 16] = guid(
    0x2FA5_4224,
    0xCD1B,
    0x4876,
    [0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8],
);
/// Metadata item: the virtual disk's id (not needed to read it).
pub(super) const ITEM_VIRTUAL_DISK_ID: [u8; 16] = guid(
    0xBECA_12AB,
    0xB2E6,
    0x4523,
    [0x93, 0xEF, 0xC3, 0x09, 0xE0, 0x00, 0xC7, 0x46],
);
/// Metadata item: the logical sector size.
pub(super) const ITEM_LOGICAL_SECTOR_SIZE: [u8; 16] = guid(
    0x8141_BF1D,
    0xA96F,
    0x4709,
    [0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F],
);
/// Metadata item: the physical sector size (not needed to read the disk).
pub(super) const ITEM_PHYSICAL_SECTOR_SIZE: [u8; 16] = guid(
    0xCDA3_48C7,
    0x445D,
    0x4471,
    [0x9C, 0xC9, 0xE9, 0x88, 0x52, 0x51, 0xC5, 0x56],
);
/// Metadata item: where the parent of a differencing disk is.
pub(super) const ITEM_PARENT_LOCATOR: [u8; 16] = guid(
    0xA8D3_5F2D,
    0xB30B,
    0x454D,
    [0xAB, 0xF7, 0xD3, 0xD8, 0x48, 0x34, 0xAB, 0x0C],
);
/// The one parent locator type defined: a VHDX parent, located by key-value pairs.
pub(super) const PARENT_LOCATOR_VHDX: [u8; 16] = guid(
    0xB04A_EFB7,
    0xD19E,
    0x4A81,
    [0xB7, 0x89, 0x25, 0xB8, 0xE9, 0x44, 0x59, 0x13],
);

/// The CRC-32C (Castagnoli) lookup table, reflected polynomial 0x82F63B78.
pub(super) const CRC32C_TABLE: [u32; 256] = {
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
pub(super) fn guid_text(id: &[u8; 16]) -> String {
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
