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
//! # Damage
//!
//! Damage is local. BAT entries that cannot be read (an I/O error, or a BAT cut off with the
//! end of the file) and payload blocks or sector bitmaps that lie past the end of a file cut
//! short lose their blocks: [`Disk::data_map`] lists them as unreadable, reads of them fail,
//! and the rest of the disk reads as usual. Headers, region tables and metadata that cannot be
//! read lose the image: without them the disk's geometry is unknown.
//!
//! # Refused
//!
//! * **An unreplayed log.** A header whose log GUID is not zero says the log may hold writes
//!   that the BAT, metadata and payload do not have yet (the image was not closed cleanly, e.g.
//!   copied out of a running VM). This reader does not replay logs; it refuses the image with a
//!   [`DiskError::Unsupported`] that says how to replay it (`qemu-img check -r all` on a copy,
//!   or attaching it once in Hyper-V) rather than read a half-written state.
//! * Headers, region tables and metadata that fail their checks (signatures, CRC-32C, sizes,
//!   offsets inside the file), BAT entries in reserved states or pointing into the headers:
//!   [`DiskError::Corrupt`] or [`DiskError::Truncated`].
//! * Regions and metadata items marked *required* that this reader does not know, and tables
//!   larger than their limits ([`bat::MAX_BAT_BYTES`], [`structures::MAX_METADATA_REGION_LEN`]).

use std::ops::Range;
use std::path::PathBuf;

use super::assemble::{Assembler, Source, block_pieces, to_usize};
use super::lost::{LostBlocks, Table, read_table};
use super::parent::{self, windows_file_name, windows_path};
use super::refusal::Refusal;
use crate::host::Host;
use crate::{DataMap, Disk, DiskError, Opener, check_bounds};

mod bat;
mod structures;

use bat::{Layout, check_bat, entry_offset, entry_state, layout, parse_bat, state};
use structures::{
    FILE_SIGNATURE, HEADER_LEN, HEADER_OFFSETS, Header, MAX_METADATA_REGION_LEN, REGION_TABLE_LEN,
    REGION_TABLE_OFFSETS, current_header, parse_guid, parse_header, parse_metadata,
    parse_region_table,
};

/// The format's name in errors.
const FORMAT: &str = "VHDX";

/// Opens `host` as a VHDX image.
pub(crate) fn open(host: Host, opener: &mut Opener) -> Result<Box<dyn Disk>, DiskError> {
    Ok(Box::new(VhdxDisk::open(host, opener)?))
}

/// A VHDX image: fixed, dynamic or differencing.
#[derive(Debug)]
pub(crate) struct VhdxDisk {
    host: Host,
    layout: Layout,
    /// The BAT entries up to the end of the file, checked at open.
    bat: Vec<u64>,
    /// The payload blocks whose BAT entry (or sector bitmap entry) cannot be read, or whose
    /// bytes lie past the end of the file.
    lost: LostBlocks,
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
        let table = read_table(
            &host,
            bat_offset,
            layout.entries.saturating_mul(8),
            "the BAT",
        );
        let bat = parse_bat(&table.bytes);
        let past_the_end = check_bat(&bat, &layout, metadata.has_parent, host.len()).map_err(at)?;
        let lost = lost_blocks(&bat, &layout, &table, &past_the_end, host.len());

        let parent = if metadata.has_parent {
            Some(open_parent(&host, &metadata.parent_locator, opener)?)
        } else {
            None
        };
        Ok(VhdxDisk {
            host,
            layout,
            bat,
            lost,
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

/// The payload blocks that cannot be read: their entry in `table` is lost, or the entry (of
/// `bat`) is among `past_the_end` (present, with bytes past the end of a file of `file_len`
/// bytes); for a partially present block, the same of its chunk's sector bitmap entry.
fn lost_blocks(
    bat: &[u64],
    layout: &Layout,
    table: &Table,
    past_the_end: &[u64],
    file_len: u64,
) -> LostBlocks {
    let mut lost = LostBlocks::default();
    if table.lost.is_empty() && past_the_end.is_empty() {
        return lost;
    }
    let cut =
        format!("it lies past the end of the file ({file_len} bytes): the image is truncated");
    let why = |index: Option<u64>| -> Option<&str> {
        let index = index?;
        let at = index.saturating_mul(8);
        table.lost_in(at..at.saturating_add(8)).or_else(|| {
            past_the_end
                .binary_search(&index)
                .is_ok()
                .then_some(cut.as_str())
        })
    };
    for block in 0..layout.blocks {
        let payload = layout.payload_index(block);
        let mut reason = why(payload);
        let partial = payload
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| bat.get(i))
            .is_some_and(|&entry| entry_state(entry) == state::PARTIALLY_PRESENT);
        if reason.is_none() && partial {
            reason = why(layout.bitmap_index(block)).map(|_| "its sector bitmap is lost");
        }
        if let Some(reason) = reason {
            lost.add(block..block.saturating_add(1), reason);
        }
    }
    lost
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

/// The data write GUID of the current header of the VHDX in `host`, or `None` if it is not a
/// readable VHDX.
fn vhdx_data_write_guid(host: &Host) -> Option<[u8; 16]> {
    read_current_header(host).ok().map(|h| h.data_write_guid)
}

impl Disk for VhdxDisk {
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
                    reason: format!("payload block {block}: {reason}"),
                });
            }
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
        }
        assembler.finish()
    }

    fn data_ranges(&self) -> Result<Vec<Range<u64>>, DiskError> {
        self.data_map().map(|map| map.data)
    }

    fn data_map(&self) -> Result<DataMap, DiskError> {
        let block_size = self.layout.block_size;
        let mut own = DataMap::default();
        // Blocks that do not read through to the parent (a superset: the clear bits of a
        // partially present block do).
        let mut hidden = Vec::new();
        for block in 0..self.layout.blocks {
            let start = block.saturating_mul(block_size);
            let stretch = start..start.saturating_add(block_size).min(self.layout.size);
            if self.lost.reason(block).is_some() {
                crate::ranges::push_merged(&mut own.data, stretch);
                continue;
            }
            let state = entry_state(self.entry(self.layout.payload_index(block))?);
            if state == state::FULLY_PRESENT || state == state::PARTIALLY_PRESENT {
                crate::ranges::push_merged(&mut own.data, stretch.clone());
            }
            if state == state::FULLY_PRESENT
                || state == state::PARTIALLY_PRESENT
                || state == state::ZERO
            {
                crate::ranges::push_merged(&mut hidden, stretch);
            }
        }
        own.unreadable = self
            .lost
            .unreadable(block_size, self.layout.size, "payload block");
        crate::ranges::with_parent(own, &hidden, self.parent.as_deref(), self.layout.size)
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
    use super::bat::*;
    use super::structures::*;
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
    fn check_bat_refuses_reserved_states_and_lists_blocks_past_the_end() {
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
        assert_eq!(check_bat(&[present(1), 0], &l, false, 2 << 20), Ok(vec![]));
        assert_eq!(
            check_bat(&[present(1), present(2)], &l, false, 2 << 20),
            Ok(vec![1]),
            "a block past the end of the file is lost, not the image"
        );
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
