//! The block allocation table (BAT): the geometry of blocks and chunks, and the entries' states
//! and offsets, parsed and checked from bytes (no I/O).

use super::structures::{MIB, Metadata};
use crate::formats::refusal::Refusal;

/// BATs larger than this are refused before they are read: 256 MiB of entries map 32 TiB in
/// 1 MiB blocks, or the format's maximum of 64 TiB in the 32 MiB blocks Hyper-V uses, while a
/// lying region table cannot make us allocate gigabytes.
pub(crate) const MAX_BAT_BYTES: u64 = 256 << 20;

/// Payload block states (the low three bits of a BAT entry).
pub(super) mod state {
    /// Not in the file: zeros, or the parent's bytes in a differencing disk.
    pub(in crate::formats::vhdx) const NOT_PRESENT: u64 = 0;
    /// Contents undefined: read as zeros, or the parent's bytes in a differencing disk.
    pub(in crate::formats::vhdx) const UNDEFINED: u64 = 1;
    /// All zeros.
    pub(in crate::formats::vhdx) const ZERO: u64 = 2;
    /// Unmapped (trimmed) by the guest: read as zeros, or the parent's bytes.
    pub(in crate::formats::vhdx) const UNMAPPED: u64 = 3;
    /// All of the block is in the file.
    pub(in crate::formats::vhdx) const FULLY_PRESENT: u64 = 6;
    /// Some sectors are in the file, as the sector bitmap says; the others are the parent's.
    pub(in crate::formats::vhdx) const PARTIALLY_PRESENT: u64 = 7;
    /// A sector bitmap entry's state when its bitmap block is in the file.
    pub(in crate::formats::vhdx) const BITMAP_PRESENT: u64 = 6;
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
    pub(super) fn payload_index(&self, block: u64) -> Option<u64> {
        block.checked_add(block.checked_div(self.chunk_ratio)?)
    }

    /// Whether BAT entry `index` is a sector bitmap entry (the last of each chunk's entries).
    pub(super) fn is_bitmap_index(&self, index: u64) -> bool {
        index.checked_rem(self.chunk_ratio.saturating_add(1)) == Some(self.chunk_ratio)
    }

    /// The BAT index of the sector bitmap covering payload block `block`.
    pub(super) fn bitmap_index(&self, block: u64) -> Option<u64> {
        let chunk = block.checked_div(self.chunk_ratio)?;
        chunk
            .checked_mul(self.chunk_ratio.checked_add(1)?)?
            .checked_add(self.chunk_ratio)
    }
}

/// The file offset a BAT entry points to.
pub(super) fn entry_offset(entry: u64) -> u64 {
    // The offset field is bits 20..64 in units of 1 MiB: the entry with its low bits cleared.
    entry & !(MIB - 1)
}

/// The state of a BAT entry.
pub(super) fn entry_state(entry: u64) -> u64 {
    entry & 7
}

/// Checks every BAT entry the disk uses: states that exist, present blocks and bitmaps past
/// the file's first MiB (its headers), partial blocks only in a differencing disk. Returns
/// the indexes of the present entries whose bytes run past the file's first `file_len` bytes
/// (a file cut short), in order.
pub(crate) fn check_bat(
    bat: &[u64],
    layout: &Layout,
    has_parent: bool,
    file_len: u64,
) -> Result<Vec<u64>, Refusal> {
    let mut past_the_end = Vec::new();
    for (index, &entry) in (0u64..).zip(bat) {
        let is_bitmap = layout.is_bitmap_index(index);
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
        if present && offset < MIB {
            return Err(Refusal::Corrupt(format!(
                "BAT entry {index} points at offset {offset}, into the image's headers"
            )));
        }
        if present && offset.checked_add(len).is_none_or(|end| end > file_len) {
            past_the_end.push(index);
        }
    }
    Ok(past_the_end)
}

/// Parses BAT entries (little-endian).
pub(crate) fn parse_bat(data: &[u8]) -> Vec<u64> {
    data.chunks_exact(8)
        .map(|e| u64::from_le_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]))
        .collect()
}
