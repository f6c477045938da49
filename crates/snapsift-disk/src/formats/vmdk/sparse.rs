//! Hosted sparse extents (`KDMV`): monolithicSparse, the extents of twoGbMaxExtentSparse, and
//! streamOptimized.
//!
//! A sparse extent cuts its virtual bytes into grains (64 KiB by default). The grain directory
//! points at grain tables, and each grain table entry at a grain: 0 for a grain never written
//! (it reads from the parent of a delta disk, or as zeros), 1 for a grain written as zeros, and
//! otherwise the sector where the grain's bytes are (or, in a compressed extent, its grain
//! marker: see [`super::stream`]). The redundant grain directory is ignored.
//!
//! The whole grain directory and every grain table are read when the extent is opened, within
//! the limits below, so a read never touches metadata and needs no lock.
//!
//! Damage is local: directory entries and grain tables that cannot be read (an I/O error, or a
//! file cut short before them) lose the grains they map, and grains past the end of a cut file
//! lose themselves; those grains are listed as unreadable and reads of them fail. A
//! streamOptimized file cut before its footer, which holds the only grain directory, is read
//! through its grain markers from the start instead ([`super::stream::recover`]): every whole
//! grain before the cut is read, the rest of the disk is lost.

use std::collections::HashMap;
use std::ops::Range;

use flate2::Decompress;

use super::FORMAT;
use super::stream::{self, FOOTER_TAIL_BYTES, GRAIN_MARKER_BYTES};
use crate::formats::assemble::{Assembler, Source};
use crate::formats::lost::{LostBlocks, read_table};
use crate::formats::refusal::Refusal;
use crate::host::Host;
use crate::{DataMap, Disk, DiskError};

/// The unit of every offset in a sparse header and in grain tables.
pub(super) const SECTOR: u64 = 512;

/// The length of a sparse extent header.
pub(super) const HEADER_BYTES: usize = 512;

/// `gdOffset` of a streamOptimized header whose real header is the footer.
const GD_AT_END: u64 = u64::MAX;

/// Flag: the header's newline-detection characters are valid.
const FLAG_NEWLINE_TEST: u32 = 1;
/// Flag: metadata and grain markers are present (streamOptimized).
const FLAG_MARKERS: u32 = 1 << 17;

/// `compressAlgorithm`: none.
const COMPRESSION_NONE: u16 = 0;
/// `compressAlgorithm`: deflate (zlib-wrapped), the only algorithm VMware defines.
const COMPRESSION_DEFLATE: u16 = 1;

/// Grains longer than this (in sectors, 1 GiB) are refused, as qemu refuses them: no writer
/// makes them (VMware writes 64 KiB), and grain arithmetic stays far from overflow.
const MAX_GRAIN_SECTORS: u64 = 1 << 21;

/// Compressed grains longer than this (in sectors, 16 MiB) are refused: each read that covers
/// part of a compressed grain inflates it into a buffer of its own, so this bounds the memory
/// every reading thread may need.
const MAX_COMPRESSED_GRAIN_SECTORS: u64 = 1 << 15;

/// Grain tables with more entries than this are refused (VMware and qemu write 512; qemu refuses
/// more). Bounds the memory of one table and the arithmetic on table indices.
const MAX_GTES_PER_GT: u32 = 1 << 16;

/// Grain directories with more entries than this (256 MiB of directory) are refused before they
/// are read. A 62 TiB disk with 64 KiB grains and 512-entry tables, VMware's largest, needs
/// about 2 million.
const MAX_DIRECTORY_ENTRIES: u64 = 1 << 26;

/// At most this many bytes of grain tables are held in memory for one extent (4 bytes per
/// grain: 1 GiB covers 16 TiB of allocated 64 KiB grains). Tables that several directory entries
/// share are counted once, so an image cannot inflate this much beyond its own size.
const MAX_TABLE_BYTES: u64 = 1 << 30;

/// The fields of a sparse extent header that reading needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct SparseHeader {
    /// Format version (1 to 3).
    pub(super) version: u32,
    /// The extent's size, in sectors.
    pub(super) capacity: u64,
    /// The grain size, in sectors (a power of two).
    pub(super) grain_sectors: u64,
    /// Where the embedded descriptor is, in sectors (0 for none).
    pub(super) descriptor_offset: u64,
    /// The embedded descriptor's length, in sectors.
    pub(super) descriptor_sectors: u64,
    /// Entries per grain table.
    pub(super) gtes_per_gt: u32,
    /// Where the grain directory is, in sectors, or `GD_AT_END`.
    pub(super) gd_offset: u64,
    /// The sectors before the first grain (`overHead`): where a stream's grains start.
    pub(super) overhead: u64,
    /// Whether grains are deflated behind grain markers (streamOptimized).
    pub(super) compressed: bool,
}

/// Reads a little-endian field of `N` bytes at `at`.
fn field<const N: usize>(bytes: &[u8], at: usize) -> Result<[u8; N], Refusal> {
    bytes
        .get(at..)
        .and_then(<[u8]>::first_chunk::<N>)
        .copied()
        .ok_or_else(|| Refusal::Corrupt("the sparse extent header is cut short".into()))
}

/// Parses and checks a sparse extent header (the first 512 bytes of a `KDMV` file, or its
/// footer). Refuses ESX's COWD (vmfsSparse) extents and anything whose geometry is outside the
/// limits above.
pub(super) fn parse_header(bytes: &[u8]) -> Result<SparseHeader, Refusal> {
    let corrupt = |why: String| Refusal::Corrupt(format!("sparse extent header: {why}"));
    if bytes.len() < HEADER_BYTES {
        return Err(corrupt(format!("only {} bytes", bytes.len())));
    }
    match &field::<4>(bytes, 0)? {
        b"KDMV" => {}
        b"COWD" => {
            return Err(Refusal::Unsupported(
                "ESX vmfsSparse (COWD) extents are not supported".into(),
            ));
        }
        _ => return Err(corrupt("no KDMV magic number".into())),
    }
    let u32_at = |at| field::<4>(bytes, at).map(u32::from_le_bytes);
    let u64_at = |at| field::<8>(bytes, at).map(u64::from_le_bytes);
    let version = u32_at(4)?;
    let flags = u32_at(8)?;
    let capacity = u64_at(12)?;
    let grain_sectors = u64_at(20)?;
    let descriptor_offset = u64_at(28)?;
    let descriptor_sectors = u64_at(36)?;
    let gtes_per_gt = u32_at(44)?;
    let gd_offset = u64_at(56)?;
    let overhead = u64_at(64)?;
    let newline_chars = field::<4>(bytes, 73)?;
    let compression = field::<2>(bytes, 77).map(u16::from_le_bytes)?;

    if !(1..=3).contains(&version) {
        return Err(Refusal::Unsupported(format!(
            "sparse extent version {version} (versions 1 to 3 are supported)"
        )));
    }
    if flags & FLAG_NEWLINE_TEST != 0 && newline_chars != *b"\n \r\n" {
        return Err(corrupt(
            "its newline-detection bytes were altered: the file was probably transferred in \
             text mode (FTP ASCII)"
                .into(),
        ));
    }
    let compressed = match compression {
        COMPRESSION_NONE => false,
        COMPRESSION_DEFLATE => true,
        other => {
            return Err(Refusal::Unsupported(format!(
                "grain compression algorithm {other} (only deflate is defined)"
            )));
        }
    };
    if compressed && flags & FLAG_MARKERS == 0 {
        return Err(Refusal::Unsupported(
            "compressed grains without grain markers".into(),
        ));
    }
    if !grain_sectors.is_power_of_two() || grain_sectors > MAX_GRAIN_SECTORS {
        return Err(corrupt(format!(
            "grain size of {grain_sectors} sectors (a power of two up to {MAX_GRAIN_SECTORS})"
        )));
    }
    if compressed && grain_sectors > MAX_COMPRESSED_GRAIN_SECTORS {
        return Err(Refusal::Unsupported(format!(
            "compressed grains of {grain_sectors} sectors (at most \
             {MAX_COMPRESSED_GRAIN_SECTORS} are read)"
        )));
    }
    if gtes_per_gt == 0 || gtes_per_gt > MAX_GTES_PER_GT {
        return Err(corrupt(format!(
            "{gtes_per_gt} entries per grain table (1 to {MAX_GTES_PER_GT})"
        )));
    }
    if capacity.checked_mul(SECTOR).is_none() {
        return Err(corrupt(format!("capacity of {capacity} sectors")));
    }
    let header = SparseHeader {
        version,
        capacity,
        grain_sectors,
        descriptor_offset,
        descriptor_sectors,
        gtes_per_gt,
        gd_offset,
        overhead,
        compressed,
    };
    header.directory_entries()?;
    Ok(header)
}

impl SparseHeader {
    /// Whether the real header is the footer (streamOptimized written front to back).
    pub(super) fn directory_at_end(&self) -> bool {
        self.gd_offset == GD_AT_END
    }

    /// The extent's size in bytes (checked by [`parse_header`] to fit).
    pub(super) fn capacity_bytes(&self) -> u64 {
        self.capacity.saturating_mul(SECTOR)
    }

    /// The grain size in bytes (at most 1 GiB, by [`parse_header`]).
    pub(super) fn grain_bytes(&self) -> u64 {
        self.grain_sectors.saturating_mul(SECTOR)
    }

    /// The number of grain directory entries: one per grain table the capacity needs.
    pub(super) fn directory_entries(&self) -> Result<u64, Refusal> {
        let sectors_per_table = self
            .grain_sectors
            .checked_mul(u64::from(self.gtes_per_gt))
            .ok_or_else(|| Refusal::Corrupt("grain tables span more than 2^64 sectors".into()))?;
        let entries = self.capacity.div_ceil(sectors_per_table.max(1));
        if entries > MAX_DIRECTORY_ENTRIES {
            return Err(Refusal::Unsupported(format!(
                "a grain directory of {entries} entries (at most {MAX_DIRECTORY_ENTRIES})"
            )));
        }
        Ok(entries)
    }
}

/// Little-endian `u32`s, as grain directories and grain tables store them.
pub(super) fn parse_u32s(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks_exact(4)
        .map(|chunk| u32::from_le_bytes(chunk.try_into().unwrap_or_default()))
        .collect()
}

/// Where one grain's bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Grain {
    /// Never written: reads from the parent, or as zeros.
    Unallocated,
    /// Written as zeros.
    Zero,
    /// Stored uncompressed at this sector.
    Stored(u64),
    /// Stored compressed behind a grain marker at this sector.
    Compressed(u64),
}

/// The grain directory and tables of one extent, in memory.
pub(super) struct GrainMap {
    /// Entries per grain table.
    gtes_per_gt: u64,
    /// For each directory entry, 1 + the index of its table among `tables`, or 0 for none.
    directory: Vec<u32>,
    /// The grain tables, `gtes_per_gt` entries each, one after the other.
    tables: Vec<u32>,
}

impl std::fmt::Debug for GrainMap {
    // The tables run to millions of entries: their sizes say enough.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrainMap")
            .field("gtes_per_gt", &self.gtes_per_gt)
            .field("directory_entries", &self.directory.len())
            .field("table_entries", &self.tables.len())
            .finish()
    }
}

impl GrainMap {
    /// Builds the map from the directory's entries, reading each table (by its sector) with
    /// `read_table`. Tables named by several entries are read and held once; the total is
    /// bounded by [`MAX_TABLE_BYTES`].
    fn build(
        directory_entries: &[u32],
        gtes_per_gt: u32,
        mut read_table: impl FnMut(u64) -> Result<Vec<u32>, DiskError>,
        too_big: impl Fn(String) -> DiskError,
    ) -> Result<GrainMap, DiskError> {
        let table_bytes = u64::from(gtes_per_gt).saturating_mul(4);
        let mut first_index: HashMap<u32, u32> = HashMap::new();
        let mut directory = Vec::with_capacity(directory_entries.len());
        let mut tables: Vec<u32> = Vec::new();
        let mut table_count: u32 = 0;
        for &sector in directory_entries {
            if sector == 0 {
                directory.push(0);
                continue;
            }
            if let Some(&slot) = first_index.get(&sector) {
                directory.push(slot);
                continue;
            }
            let held = u64::from(table_count)
                .saturating_add(1)
                .saturating_mul(table_bytes);
            if held > MAX_TABLE_BYTES {
                return Err(too_big(format!(
                    "its grain tables take more than {MAX_TABLE_BYTES} bytes of memory"
                )));
            }
            let table = read_table(u64::from(sector))?;
            tables.extend_from_slice(&table);
            table_count = table_count
                .checked_add(1)
                .ok_or_else(|| too_big("too many grain tables".into()))?;
            first_index.insert(sector, table_count);
            directory.push(table_count);
        }
        Ok(GrainMap {
            gtes_per_gt: u64::from(gtes_per_gt),
            directory,
            tables,
        })
    }

    /// Builds the map of a stream from its grains: `(grain, sector of its marker)`, sorted by
    /// grain, each grain once. Only the tables that hold a grain are made; their memory is
    /// bounded as [`GrainMap::build`] bounds it.
    pub(super) fn from_grains(
        grains: &[(u64, u32)],
        gtes_per_gt: u32,
        directory_entries: u64,
        too_big: impl Fn(String) -> DiskError,
    ) -> Result<GrainMap, DiskError> {
        let per_table = u64::from(gtes_per_gt).max(1);
        let entries = usize::try_from(directory_entries)
            .map_err(|_| too_big(format!("a grain directory of {directory_entries} entries")))?;
        let mut directory = vec![0u32; entries];
        let mut tables: Vec<u32> = Vec::new();
        let mut table_count: u32 = 0;
        let mut current: Option<u64> = None;
        for &(grain, sector) in grains {
            let table = grain.checked_div(per_table).unwrap_or(0);
            if current != Some(table) {
                let slot = usize::try_from(table)
                    .ok()
                    .and_then(|t| directory.get_mut(t))
                    .ok_or_else(|| too_big(format!("grain {grain} is past the disk's end")))?;
                let held = u64::from(table_count)
                    .saturating_add(1)
                    .saturating_mul(per_table.saturating_mul(4));
                if held > MAX_TABLE_BYTES {
                    return Err(too_big(format!(
                        "its grain tables take more than {MAX_TABLE_BYTES} bytes of memory"
                    )));
                }
                table_count = table_count
                    .checked_add(1)
                    .ok_or_else(|| too_big("too many grain tables".into()))?;
                *slot = table_count;
                tables.resize(
                    tables
                        .len()
                        .saturating_add(usize::try_from(per_table).unwrap_or(0)),
                    0,
                );
                current = Some(table);
            }
            let at = usize::try_from(
                u64::from(table_count.saturating_sub(1))
                    .saturating_mul(per_table)
                    .saturating_add(grain.checked_rem(per_table).unwrap_or(0)),
            )
            .unwrap_or(usize::MAX);
            if let Some(entry) = tables.get_mut(at) {
                *entry = sector;
            }
        }
        Ok(GrainMap {
            gtes_per_gt: per_table,
            directory,
            tables,
        })
    }

    /// The grain table entry of grain `grain`, or 0 (unallocated) where there is none.
    fn entry(&self, grain: u64) -> u32 {
        self.lookup(grain).unwrap_or(0)
    }

    fn lookup(&self, grain: u64) -> Option<u32> {
        let table = usize::try_from(grain.checked_div(self.gtes_per_gt)?).ok()?;
        let within = grain.checked_rem(self.gtes_per_gt)?;
        let slot = u64::from(*self.directory.get(table)?.checked_sub(1).as_ref()?);
        let index = slot.checked_mul(self.gtes_per_gt)?.checked_add(within)?;
        self.tables.get(usize::try_from(index).ok()?).copied()
    }

    /// Each directory entry with a table, and its entries: (first grain, entries).
    fn tables(&self) -> impl Iterator<Item = (u64, &[u32])> {
        let per_table = usize::try_from(self.gtes_per_gt).unwrap_or(usize::MAX);
        self.directory
            .iter()
            .enumerate()
            .filter_map(move |(table, &slot)| {
                let slot = usize::try_from(slot.checked_sub(1)?).ok()?;
                let start = slot.checked_mul(per_table)?;
                let entries = self.tables.get(start..start.checked_add(per_table)?)?;
                let first_grain = u64::try_from(table).ok()?.checked_mul(self.gtes_per_gt)?;
                Some((first_grain, entries))
            })
    }
}

/// Per-read buffers for compressed grains, made on first use within one read: reads run
/// concurrently, so nothing here is shared between them.
#[derive(Default)]
pub(super) struct GrainScratch {
    inflater: Option<Decompress>,
    compressed: Vec<u8>,
    grain: Vec<u8>,
}

/// One sparse extent, opened with its grain map in memory.
#[derive(Debug)]
pub(super) struct SparseExtent {
    host: Host,
    header: SparseHeader,
    map: GrainMap,
    /// The grain size in bytes.
    grain_bytes: u64,
    /// The grain size in bytes, as an index into buffers.
    grain_len: usize,
    /// The extent's size in bytes.
    capacity_bytes: u64,
    /// The grains whose directory entry, grain table or bytes are lost.
    lost: LostBlocks,
}

impl SparseExtent {
    /// Opens the sparse extent in `host`: its header (or its footer, for a streamOptimized
    /// file), grain directory and grain tables.
    pub(super) fn open(host: Host) -> Result<SparseExtent, DiskError> {
        let path = host.path_buf();
        let head = host.read_vec(0, HEADER_BYTES)?;
        let mut header = parse_header(&head).map_err(|p| p.at(&path, FORMAT))?;
        if header.directory_at_end() {
            match read_footer(&host)? {
                Some(footer) => header = footer,
                None => return SparseExtent::recover(host, header),
            }
        }
        let corrupt = |why: String| Refusal::Corrupt(why).at(&path, FORMAT);
        let too_big = |why| Refusal::Unsupported(why).at(&path, FORMAT);
        let entries = header
            .directory_entries()
            .map_err(|p| p.at(&path, FORMAT))?;
        let directory_at = header
            .gd_offset
            .checked_mul(SECTOR)
            .ok_or_else(|| corrupt(format!("grain directory at sector {}", header.gd_offset)))?;
        // `parse_header` bounded the directory's length.
        let directory_table = read_table(
            &host,
            directory_at,
            entries.saturating_mul(4),
            "the grain directory",
        );
        let directory = parse_u32s(&directory_table.bytes);
        let table_len = u64::from(header.gtes_per_gt).saturating_mul(4);
        let per_table = u64::from(header.gtes_per_gt);
        let mut lost = LostBlocks::default();
        for (bytes, reason) in &directory_table.lost {
            let tables = bytes.start / 4..bytes.end.div_ceil(4);
            lost.add(
                tables.start.saturating_mul(per_table)..tables.end.saturating_mul(per_table),
                reason,
            );
        }
        // Tables that cannot be read whole are lost whole (their entries read as unallocated
        // in the map, and every grain they map is listed as lost).
        let mut lost_tables: HashMap<u64, String> = HashMap::new();
        let map = GrainMap::build(
            &directory,
            header.gtes_per_gt,
            |sector| {
                let at = sector.checked_mul(SECTOR).ok_or_else(|| {
                    Refusal::Corrupt(format!("grain table at sector {sector}")).at(&path, FORMAT)
                })?;
                let table = read_table(&host, at, table_len, "the grain table");
                if let Some((_, reason)) = table.lost.first() {
                    lost_tables.insert(sector, format!("{reason} (at sector {sector})"));
                    return Ok(vec![0; usize::try_from(per_table).unwrap_or(0)]);
                }
                Ok(parse_u32s(&table.bytes))
            },
            too_big,
        )?;
        for (index, sector) in (0u64..).zip(&directory) {
            if let Some(reason) = lost_tables.get(&u64::from(*sector)) {
                let first = index.saturating_mul(per_table);
                lost.add(first..first.saturating_add(per_table), reason);
            }
        }
        SparseExtent::assemble(host, header, map, lost)
    }

    /// Opens a streamOptimized extent cut before its footer through its grain markers (see
    /// [`stream::recover`]): the grains found are read, the stretch after the cut is lost.
    fn recover(host: Host, header: SparseHeader) -> Result<SparseExtent, DiskError> {
        let path = host.path_buf();
        let too_big = |why| Refusal::Unsupported(why).at(&path, FORMAT);
        let entries = header
            .directory_entries()
            .map_err(|p| p.at(&path, FORMAT))?;
        let recovered = stream::recover(&host, &header);
        let map = GrainMap::from_grains(&recovered.grains, header.gtes_per_gt, entries, too_big)?;
        let grains = header
            .capacity_bytes()
            .div_ceil(header.grain_bytes().max(1));
        let mut lost = LostBlocks::default();
        if recovered.ordered {
            // Grains are written in disk order: what the stream lost lies after its last grain,
            // from the grain the cut went through when its marker says which.
            let last = recovered
                .grains
                .last()
                .map_or(0, |&(g, _)| g.saturating_add(1));
            let after = recovered.cut_grain.filter(|&g| g >= last).unwrap_or(last);
            if after < grains {
                lost.add(after..grains, &recovered.cut);
            }
        } else {
            // Out of order: any grain not found may have been after the cut.
            let mut next = 0u64;
            for &(grain, _) in &recovered.grains {
                if grain > next {
                    lost.add(next..grain, &recovered.cut);
                }
                next = grain.saturating_add(1);
            }
            if next < grains {
                lost.add(next..grains, &recovered.cut);
            }
        }
        SparseExtent::assemble(host, header, map, lost)
    }

    /// The extent of `host` with its grain `map` and the grains already `lost`, to which
    /// those past the end of a file cut short are added.
    fn assemble(
        host: Host,
        header: SparseHeader,
        map: GrainMap,
        lost: LostBlocks,
    ) -> Result<SparseExtent, DiskError> {
        let grain_bytes = header.grain_bytes();
        let grain_len = usize::try_from(grain_bytes).map_err(|_| {
            Refusal::Corrupt(format!("grains of {grain_bytes} bytes")).at(host.path(), FORMAT)
        })?;
        let mut extent = SparseExtent {
            capacity_bytes: header.capacity_bytes(),
            host,
            header,
            map,
            grain_bytes,
            grain_len,
            lost,
        };
        extent.lose_grains_past_the_end();
        Ok(extent)
    }

    /// Adds to the lost grains those whose bytes (or grain marker) lie past the end of a file
    /// cut short, and sorts them for lookups.
    fn lose_grains_past_the_end(&mut self) {
        let file_len = self.host.len();
        let reason =
            format!("it lies past the end of the file ({file_len} bytes): the image is truncated");
        // A compressed grain's marker must be there; its compressed bytes, when cut, fail the
        // read that inflates them.
        let needed = if self.header.compressed {
            GRAIN_MARKER_BYTES as u64
        } else {
            self.grain_bytes
        };
        let mut past_the_end = Vec::new();
        for (first_grain, entries) in self.map.tables() {
            for (grain, &entry) in (first_grain..).zip(entries) {
                let end = u64::from(entry)
                    .checked_mul(SECTOR)
                    .and_then(|at| at.checked_add(needed));
                if entry > 1 && end.is_none_or(|end| end > file_len) {
                    past_the_end.push(grain);
                }
            }
        }
        let mut lost = std::mem::take(&mut self.lost);
        for grain in past_the_end {
            lost.add(grain..grain.saturating_add(1), &reason);
        }
        self.lost = lost.sorted();
    }

    /// The header in force (the footer's, for a streamOptimized file).
    pub(super) fn header(&self) -> &SparseHeader {
        &self.header
    }

    /// The embedded descriptor's bytes, if the header names one, at most
    /// [`super::descriptor::MAX_DESCRIPTOR_BYTES`] of them.
    pub(super) fn embedded_descriptor(&self) -> Result<Option<Vec<u8>>, DiskError> {
        let header = &self.header;
        if header.descriptor_offset == 0 || header.descriptor_sectors == 0 {
            return Ok(None);
        }
        let path = self.host.path();
        let len = header
            .descriptor_sectors
            .checked_mul(SECTOR)
            .filter(|&len| len <= super::descriptor::MAX_DESCRIPTOR_BYTES)
            .and_then(|len| usize::try_from(len).ok())
            .ok_or_else(|| {
                Refusal::Unsupported(format!(
                    "an embedded descriptor of {} sectors (at most {} bytes are read)",
                    header.descriptor_sectors,
                    super::descriptor::MAX_DESCRIPTOR_BYTES
                ))
                .at(path, FORMAT)
            })?;
        let at = header
            .descriptor_offset
            .checked_mul(SECTOR)
            .ok_or_else(|| {
                Refusal::Corrupt(format!(
                    "embedded descriptor at sector {}",
                    header.descriptor_offset
                ))
                .at(path, FORMAT)
            })?;
        self.host.read_vec(at, len).map(Some)
    }

    /// Where the grain holding extent offset `at` is, and how many bytes from `at` (at most
    /// `max`) lie in that grain and within the extent's capacity.
    fn locate(&self, at: u64, max: usize) -> Result<(Grain, u64, usize), DiskError> {
        let overflow = || {
            Refusal::Corrupt(format!("offset {at} overflows the grain arithmetic"))
                .at(self.host.path(), FORMAT)
        };
        if at >= self.capacity_bytes {
            // Past the extent's own capacity (a descriptor may give it more): never written.
            return Ok((Grain::Unallocated, 0, max));
        }
        let grain = at.checked_div(self.grain_bytes).ok_or_else(overflow)?;
        if let Some(reason) = self.lost.reason(grain) {
            return Err(DiskError::Damaged {
                path: self.host.path_buf(),
                format: FORMAT,
                reason: format!("grain {grain}: {reason}"),
            });
        }
        let within = at.checked_rem(self.grain_bytes).ok_or_else(overflow)?;
        let grain_end = grain
            .checked_add(1)
            .and_then(|g| g.checked_mul(self.grain_bytes))
            .ok_or_else(overflow)?
            .min(self.capacity_bytes);
        let left = grain_end.checked_sub(at).ok_or_else(overflow)?;
        let len = usize::try_from(left).map_or(max, |left| left.min(max));
        let location = match self.map.entry(grain) {
            0 => Grain::Unallocated,
            1 => Grain::Zero,
            sector if self.header.compressed => Grain::Compressed(u64::from(sector)),
            sector => Grain::Stored(u64::from(sector)),
        };
        Ok((location, within, len))
    }

    /// Reads `buf.len()` bytes at extent offset `offset` (the caller checks that they lie within
    /// the extent), which is disk offset `disk_offset`; stretches never written come from
    /// `parent` at their disk offset (zeros without one). Neighbouring grains that are
    /// consecutive in the file are read with one read, and runs of zero or unwritten grains are
    /// served at once.
    pub(super) fn read(
        &self,
        offset: u64,
        disk_offset: u64,
        buf: &mut [u8],
        scratch: &mut GrainScratch,
        parent: Option<&dyn Disk>,
    ) -> Result<(), DiskError> {
        let overflow = || {
            Refusal::Corrupt(format!("a read at offset {offset} overflows"))
                .at(self.host.path(), FORMAT)
        };
        let len = buf.len();
        let mut assembler = Assembler::new(&self.host, parent, disk_offset, buf);
        let mut done = 0usize;
        while done < len {
            let at = u64::try_from(done)
                .ok()
                .and_then(|done| offset.checked_add(done))
                .ok_or_else(overflow)?;
            let max = len.checked_sub(done).ok_or_else(overflow)?;
            let (grain, within, n) = self.locate(at, max)?;
            match grain {
                Grain::Unallocated => assembler.push(Source::Parent, n)?,
                Grain::Zero => assembler.push(Source::Zero, n)?,
                Grain::Stored(sector) => {
                    let host = sector
                        .checked_mul(SECTOR)
                        .and_then(|start| start.checked_add(within))
                        .ok_or_else(overflow)?;
                    assembler.push(Source::Host(host), n)?;
                }
                Grain::Compressed(sector) => assembler.direct(n, |out| {
                    self.read_compressed(at, sector, within, out, scratch)
                })?,
            }
            done = done.checked_add(n).ok_or_else(overflow)?;
        }
        assembler.finish()
    }

    /// Reads `out.len()` bytes from offset `within` of the compressed grain holding extent
    /// offset `at`, whose grain marker is at sector `sector`. A read of a whole grain inflates
    /// straight into `out`; a partial one inflates into the scratch grain and copies.
    fn read_compressed(
        &self,
        at: u64,
        sector: u64,
        within: u64,
        out: &mut [u8],
        scratch: &mut GrainScratch,
    ) -> Result<(), DiskError> {
        let path = self.host.path();
        let corrupt = |why: String| Refusal::Corrupt(why).at(path, FORMAT);
        let marker_at = sector
            .checked_mul(SECTOR)
            .ok_or_else(|| corrupt(format!("grain marker at sector {sector}")))?;
        let mut marker = [0u8; GRAIN_MARKER_BYTES];
        self.host.read_exact_at(marker_at, &mut marker)?;
        let marker = stream::parse_grain_marker(&marker);
        let grain_lba = at
            .checked_sub(within)
            .and_then(|start| start.checked_div(SECTOR))
            .ok_or_else(|| corrupt(format!("grain offset {at}")))?;
        if marker.lba != grain_lba {
            return Err(corrupt(format!(
                "the grain marker at byte {marker_at} is for sector {}, but the grain table \
                 puts it at sector {grain_lba}",
                marker.lba
            )));
        }
        let compressed_len = usize::try_from(marker.size).unwrap_or(usize::MAX);
        // Deflate never grows data by more than a few bytes per 16 KiB block; twice a grain is
        // already nonsense, and bounds the buffer a lying marker can make us allocate.
        let max_compressed = self.grain_len.saturating_mul(2).saturating_add(4096);
        if compressed_len == 0 || compressed_len > max_compressed {
            return Err(corrupt(format!(
                "the grain marker at byte {marker_at} gives {compressed_len} compressed bytes \
                 for a grain of {} bytes",
                self.grain_len
            )));
        }
        let data_at = marker_at
            .checked_add(GRAIN_MARKER_BYTES as u64)
            .ok_or_else(|| corrupt(format!("grain marker at byte {marker_at}")))?;
        scratch.compressed.resize(compressed_len, 0);
        self.host.read_exact_at(data_at, &mut scratch.compressed)?;
        let inflater = scratch
            .inflater
            .get_or_insert_with(|| Decompress::new(true));
        let within = usize::try_from(within).map_err(|_| corrupt(format!("offset {within}")))?;
        let whole = within == 0 && out.len() == self.grain_len;
        let target: &mut [u8] = if whole {
            out
        } else {
            scratch.grain.resize(self.grain_len, 0);
            &mut scratch.grain
        };
        let produced =
            stream::inflate_grain(&scratch.compressed, target, inflater).map_err(|p| match p {
                Refusal::Corrupt(why) => corrupt(format!("{why} (marker at byte {marker_at})")),
                other => other.at(path, FORMAT),
            })?;
        // A stream shorter than a grain leaves the rest of it zero.
        if let Some(rest) = target.get_mut(produced..) {
            rest.fill(0);
        }
        if !whole {
            let end = within.saturating_add(out.len());
            let part = scratch
                .grain
                .get(within..end)
                .ok_or_else(|| corrupt(format!("grain stretch {within}..{end}")))?;
            out.copy_from_slice(part);
        }
        Ok(())
    }

    /// The extent offsets within `0..len` of allocated grains (written and not zero) and of
    /// lost ones, sorted and merged, with the lost ones listed as unreadable.
    pub(super) fn data_map(&self, len: u64) -> DataMap {
        let limit = len.min(self.capacity_bytes);
        let mut map = DataMap::default();
        let lost = self.lost.runs().map(|grains| {
            grains.start.saturating_mul(self.grain_bytes)
                ..grains.end.saturating_mul(self.grain_bytes)
        });
        let mut ranges: Vec<Range<u64>> = lost.collect();
        for (first_grain, entries) in self.map.tables() {
            for (grain, &entry) in (first_grain..).zip(entries) {
                if entry <= 1 {
                    continue;
                }
                let Some(start) = grain.checked_mul(self.grain_bytes).filter(|&s| s < limit) else {
                    break;
                };
                let end = start.saturating_add(self.grain_bytes).min(limit);
                match ranges.last_mut() {
                    Some(last) if last.end == start => last.end = end,
                    _ => ranges.push(start..end),
                }
            }
        }
        map.data = crate::ranges::normalize(
            ranges
                .into_iter()
                .map(|r| r.start.min(limit)..r.end.min(limit))
                .collect(),
        );
        map.unreadable = self.lost.unreadable(self.grain_bytes, limit, "grain");
        map
    }

    /// The extent offsets within `0..len` that do not read through to a parent: grains
    /// written (zero or not) and lost ones.
    pub(super) fn hidden(&self, len: u64) -> Vec<Range<u64>> {
        let limit = len.min(self.capacity_bytes);
        let mut ranges: Vec<Range<u64>> = Vec::new();
        for (first_grain, entries) in self.map.tables() {
            for (grain, &entry) in (first_grain..).zip(entries) {
                let Some(start) = grain.checked_mul(self.grain_bytes).filter(|&s| s < limit) else {
                    break;
                };
                if entry != 0 {
                    let end = start.saturating_add(self.grain_bytes).min(limit);
                    crate::ranges::push_merged(&mut ranges, start..end);
                }
            }
        }
        ranges
    }
}

/// The header in the footer of a streamOptimized file whose first header says the grain
/// directory is at the end; `None` when the file has no footer to read (cut short, or its
/// tail unreadable), so that its grains are found through their markers instead.
fn read_footer(host: &Host) -> Result<Option<SparseHeader>, DiskError> {
    let path = host.path();
    let Some(tail_at) = host.len().checked_sub(FOOTER_TAIL_BYTES) else {
        return Ok(None);
    };
    let Ok(tail) = host.read_vec(tail_at, 3 * HEADER_BYTES) else {
        return Ok(None);
    };
    let Ok(footer) = stream::footer(&tail) else {
        return Ok(None);
    };
    let header = parse_header(footer).map_err(|p| p.at(path, FORMAT))?;
    if header.directory_at_end() {
        return Err(Refusal::Corrupt(
            "the footer, too, says the grain directory is at the end".into(),
        )
        .at(path, FORMAT));
    }
    Ok(Some(header))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A monolithicSparse header as qemu writes it for a 1 GiB disk.
    fn header_bytes() -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..4].copy_from_slice(b"KDMV");
        h[4..8].copy_from_slice(&1u32.to_le_bytes());
        h[8..12].copy_from_slice(&3u32.to_le_bytes());
        h[12..20].copy_from_slice(&(2u64 << 20).to_le_bytes());
        h[20..28].copy_from_slice(&128u64.to_le_bytes());
        h[28..36].copy_from_slice(&1u64.to_le_bytes());
        h[36..44].copy_from_slice(&20u64.to_le_bytes());
        h[44..48].copy_from_slice(&512u32.to_le_bytes());
        h[56..64].copy_from_slice(&21u64.to_le_bytes());
        h[73..77].copy_from_slice(b"\n \r\n");
        h
    }

    #[test]
    fn parses_a_header() {
        let header = parse_header(&header_bytes()).unwrap();
        assert_eq!(header.capacity_bytes(), 1 << 30);
        assert_eq!(header.grain_bytes(), 65536);
        assert_eq!(header.directory_entries(), Ok(32));
        assert!(!header.compressed);
    }

    #[test]
    fn refuses_bad_headers() {
        let with = |at: usize, bytes: &[u8]| {
            let mut h = header_bytes();
            h[at..at + bytes.len()].copy_from_slice(bytes);
            parse_header(&h)
        };
        assert!(matches!(with(0, b"COWD"), Err(Refusal::Unsupported(_))));
        assert!(matches!(with(0, b"XXXX"), Err(Refusal::Corrupt(_))));
        assert!(matches!(
            with(4, &[9, 0, 0, 0]),
            Err(Refusal::Unsupported(_))
        ));
        assert!(matches!(with(73, b"\n \n\n"), Err(Refusal::Corrupt(_))));
        assert!(matches!(with(77, &[1, 0]), Err(Refusal::Unsupported(_))));
        assert!(matches!(with(77, &[7, 0]), Err(Refusal::Unsupported(_))));
        assert!(matches!(with(20, &[100]), Err(Refusal::Corrupt(_))));
        assert!(matches!(with(20, &[0]), Err(Refusal::Corrupt(_))));
        assert!(matches!(with(44, &[0, 0]), Err(Refusal::Corrupt(_))));
        assert!(with(12, &[0xff; 8]).is_err());
        let mut huge = header_bytes();
        huge[12..20].copy_from_slice(&(1u64 << 50).to_le_bytes());
        huge[20..28].copy_from_slice(&1u64.to_le_bytes());
        assert!(matches!(parse_header(&huge), Err(Refusal::Unsupported(_))));
        assert!(parse_header(&header_bytes()[..100]).is_err());
    }

    #[test]
    fn maps_grains_and_shares_tables() {
        let tables: HashMap<u64, Vec<u32>> =
            HashMap::from([(10, vec![0, 1, 50, 51]), (20, vec![60, 0, 0, 61])]);
        let map = GrainMap::build(
            &[10, 0, 20, 10],
            4,
            |sector| Ok(tables[&sector].clone()),
            |why| panic!("{why}"),
        )
        .unwrap();
        assert_eq!(map.tables.len(), 8, "the shared table is held once");
        let entries: Vec<u32> = (0..18).map(|g| map.entry(g)).collect();
        assert_eq!(
            entries,
            [0, 1, 50, 51, 0, 0, 0, 0, 60, 0, 0, 61, 0, 1, 50, 51, 0, 0]
        );
        let firsts: Vec<u64> = map.tables().map(|(first, _)| first).collect();
        assert_eq!(firsts, [0, 8, 12]);
    }
}
