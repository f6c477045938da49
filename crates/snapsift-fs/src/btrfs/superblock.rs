//! The btrfs superblock and the chunk map: which physical bytes of the device each logical
//! address is (no I/O).
//!
//! Every address in btrfs's trees is logical; chunks map logical ranges onto one or more
//! stripes on the filesystem's devices. The chunks needed to read the chunk tree itself are
//! copied into the superblock (`sys_chunk_array`); the rest are the chunk tree's items.
//! Only the stripes on this device are kept. Profiles whose copies are whole (single, DUP,
//! RAID1, RAID1C3, RAID1C4) map each logical byte to one physical byte per copy; striped
//! profiles (RAID0, RAID10, RAID5, RAID6) are recorded unmapped (their bytes are swept raw).

use super::{le16, le32, le64};

/// Where the primary superblock is, and its copies (when the device reaches them).
pub(crate) const SUPERBLOCK_OFFSETS: [u64; 3] = [0x1_0000, 0x400_0000, 0x40_0000_0000];
/// Bytes of a superblock.
pub(crate) const SUPERBLOCK_LEN: usize = 4096;
/// The magic at byte 0x40 of a superblock.
const MAGIC: &[u8; 8] = b"_BHRfS_M";
/// Bytes of the superblock's copy of the system chunks, at most.
const SYS_CHUNK_ARRAY_MAX: usize = 2048;
/// Where the copy of the system chunks starts in the superblock.
const SYS_CHUNK_ARRAY_AT: usize = 0x32b;
/// Bytes of a key: objectid, type, offset.
pub(crate) const KEY_LEN: usize = 17;
/// The item type of a chunk.
pub(crate) const CHUNK_ITEM: u8 = 228;
/// Bytes of a chunk item before its stripes, and of each stripe.
const CHUNK_LEN: usize = 48;
const STRIPE_LEN: usize = 32;
/// Tree nodes of more than 64 KiB do not exist (btrfs's limit).
const MAX_NODE_SIZE: u32 = 1 << 16;
/// Incompatible feature: the trees' nodes carry a metadata UUID, not the filesystem's.
pub(crate) const INCOMPAT_METADATA_UUID: u64 = 1 << 10;

/// A chunk's profile bits that stripe data across devices (not mapped): RAID0, RAID10,
/// RAID5, RAID6.
const STRIPED: u64 = 8 | 64 | 128 | 256;

/// The fields of a superblock the map uses.
#[derive(Clone, Debug)]
pub(crate) struct Superblock {
    /// The filesystem's UUID, which tree nodes repeat (unless `INCOMPAT_METADATA_UUID`).
    pub(crate) fsid: [u8; 16],
    /// Logical address and level of the root tree, of the chunk tree, of the log tree (0: none).
    pub(crate) root: u64,
    pub(crate) root_level: u8,
    pub(crate) chunk_root: u64,
    pub(crate) chunk_root_level: u8,
    pub(crate) log_root: u64,
    pub(crate) log_root_level: u8,
    /// Devices of the filesystem.
    pub(crate) num_devices: u64,
    /// Bytes per data sector and per tree node.
    pub(crate) sector_size: u32,
    pub(crate) node_size: u32,
    pub(crate) incompat: u64,
    /// The checksum algorithm: 0 CRC-32C, 1 xxhash64, 2 SHA-256, 3 BLAKE2b.
    pub(crate) csum_type: u16,
    /// This device's number, and its size as the filesystem records it.
    pub(crate) devid: u64,
    pub(crate) dev_bytes: u64,
    /// The system chunks copied into the superblock.
    pub(crate) sys_chunks: Vec<Chunk>,
}

impl Superblock {
    /// The name of the checksum algorithm.
    pub(crate) fn csum_name(&self) -> &'static str {
        match self.csum_type {
            0 => "crc32c",
            1 => "xxhash64",
            2 => "sha256",
            3 => "blake2b",
            _ => "unknown",
        }
    }
}

/// Parses a superblock; a message saying what is wrong if it is not one.
pub(crate) fn parse(bytes: &[u8]) -> Result<Superblock, String> {
    let bytes = bytes
        .get(..SUPERBLOCK_LEN)
        .ok_or("the superblock is cut short")?;
    if bytes.get(0x40..0x48) != Some(&MAGIC[..]) {
        return Err("no btrfs magic at byte 0x40 of the superblock".into());
    }
    let csum_type = le16(bytes, 0xc4);
    if csum_type == 0 && crc32c(&bytes[0x20..]) != le32(bytes, 0) {
        return Err("the superblock's CRC-32C does not match".into());
    }
    let sector_size = le32(bytes, 0x90);
    let node_size = le32(bytes, 0x94);
    let power = |v: u32| v.is_power_of_two() && (4096..=MAX_NODE_SIZE).contains(&v);
    if !power(sector_size) || !power(node_size) || node_size < sector_size {
        return Err(format!(
            "sector size {sector_size} or node size {node_size} out of range"
        ));
    }
    let sys_len = usize::try_from(le32(bytes, 0xa0)).unwrap_or(usize::MAX);
    if sys_len > SYS_CHUNK_ARRAY_MAX {
        return Err(format!("a system chunk array of {sys_len} bytes"));
    }
    let end = SYS_CHUNK_ARRAY_AT.saturating_add(sys_len);
    let sys = bytes.get(SYS_CHUNK_ARRAY_AT..end).unwrap_or(&[]);
    let sys_chunks = parse_sys_chunks(sys)?;
    let mut fsid = [0u8; 16];
    fsid.copy_from_slice(&bytes[0x20..0x30]);
    Ok(Superblock {
        fsid,
        root: le64(bytes, 0x50),
        root_level: bytes[0xc6],
        chunk_root: le64(bytes, 0x58),
        chunk_root_level: bytes[0xc7],
        log_root: le64(bytes, 0x60),
        log_root_level: bytes[0xc8],
        num_devices: le64(bytes, 0x88),
        sector_size,
        node_size,
        incompat: le64(bytes, 0xbc),
        csum_type,
        devid: le64(bytes, 0xc9),
        dev_bytes: le64(bytes, 0xd1),
        sys_chunks,
    })
}

/// The (key, chunk item) pairs of the superblock's system chunk array.
fn parse_sys_chunks(mut array: &[u8]) -> Result<Vec<Chunk>, String> {
    let mut chunks = Vec::new();
    while !array.is_empty() {
        let key = array
            .get(..KEY_LEN)
            .ok_or("the system chunk array ends inside a key")?;
        if key[8] != CHUNK_ITEM {
            return Err(format!(
                "an item of type {} in the system chunk array",
                key[8]
            ));
        }
        let rest = &array[KEY_LEN..];
        let len = chunk_len(rest).ok_or("the system chunk array ends inside a chunk")?;
        chunks.push(parse_chunk(le64(key, 9), &rest[..len])?);
        array = &rest[len..];
    }
    Ok(chunks)
}

/// The bytes of the chunk item at the start of `bytes`, if they are all there.
fn chunk_len(bytes: &[u8]) -> Option<usize> {
    let stripes = usize::from(le16(bytes, 44));
    let len = STRIPE_LEN.checked_mul(stripes)?.checked_add(CHUNK_LEN)?;
    (bytes.len() >= len).then_some(len)
}

/// One chunk: a logical range and where its copies lie on this device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// Its first logical address.
    pub(crate) logical: u64,
    /// Its bytes (logical).
    pub(crate) length: u64,
    /// Its type and profile bits.
    pub(crate) flags: u64,
    /// Its stripes as (device number, physical offset), on every device.
    pub(crate) stripes: Vec<(u64, u64)>,
}

impl Chunk {
    /// Whether its profile stripes data (the map does not follow those).
    pub(crate) fn striped(&self) -> bool {
        self.flags & STRIPED != 0
    }
}

/// Parses the chunk item `bytes` whose key's offset (its logical address) is `logical`.
pub(crate) fn parse_chunk(logical: u64, bytes: &[u8]) -> Result<Chunk, String> {
    let len = chunk_len(bytes).ok_or("a chunk item cut short")?;
    let length = le64(bytes, 0);
    let stripes = usize::from(le16(bytes, 44));
    if stripes == 0 || length == 0 || logical.checked_add(length).is_none() {
        return Err(format!(
            "chunk at {logical}: {length} bytes, {stripes} stripes"
        ));
    }
    let stripes = (0..stripes)
        .filter_map(|i| {
            let at = CHUNK_LEN.checked_add(i.checked_mul(STRIPE_LEN)?)?;
            (at < len).then(|| (le64(bytes, at), le64(bytes, at.saturating_add(8))))
        })
        .collect();
    Ok(Chunk {
        logical,
        length,
        flags: le64(bytes, 24),
        stripes,
    })
}

/// The chunks, sorted by logical address, with only the copies on this device.
#[derive(Clone, Debug, Default)]
pub(crate) struct ChunkMap {
    chunks: Vec<Chunk>,
}

impl ChunkMap {
    /// Adds `chunk`, keeping only the stripes of device `devid`. Refuses (false) a chunk
    /// overlapping one already there (the first is kept).
    pub(crate) fn add(&mut self, mut chunk: Chunk, devid: u64) -> bool {
        chunk.stripes.retain(|&(dev, _)| dev == devid);
        let end = chunk.logical.saturating_add(chunk.length);
        let at = self.chunks.partition_point(|c| c.logical < chunk.logical);
        let before = at
            .checked_sub(1)
            .and_then(|i| self.chunks.get(i))
            .is_some_and(|c| c.logical.saturating_add(c.length) > chunk.logical);
        let after = self.chunks.get(at).is_some_and(|c| c.logical < end);
        if before || after {
            return self.chunks.get(at) == Some(&chunk);
        }
        self.chunks.insert(at, chunk);
        true
    }

    /// The chunks, sorted.
    pub(crate) fn chunks(&self) -> &[Chunk] {
        &self.chunks
    }

    /// Where the logical byte `logical` lies on this device: the physical offset of each
    /// copy, and the bytes left in its chunk from it. `None` if no chunk maps it here (or its
    /// chunk's profile stripes data).
    pub(crate) fn map(&self, logical: u64) -> Option<(Vec<u64>, u64)> {
        let at = self.chunks.partition_point(|c| c.logical <= logical);
        let chunk = self.chunks.get(at.checked_sub(1)?)?;
        let into = logical.checked_sub(chunk.logical)?;
        if into >= chunk.length || chunk.striped() || chunk.stripes.is_empty() {
            return None;
        }
        let copies = chunk
            .stripes
            .iter()
            .filter_map(|&(_, physical)| physical.checked_add(into))
            .collect();
        Some((copies, chunk.length.saturating_sub(into)))
    }

    /// The physical ranges of every copy of logical bytes `logical..logical + len`, cut at
    /// chunk edges, as (file-relative offset, physical copies, bytes). Bytes no chunk maps
    /// are left out.
    pub(crate) fn ranges(&self, logical: u64, len: u64) -> Vec<(u64, Vec<u64>, u64)> {
        let mut out = Vec::new();
        let mut done = 0u64;
        while done < len {
            let Some(at) = logical.checked_add(done) else {
                break;
            };
            match self.map(at) {
                Some((copies, left)) => {
                    let n = left.min(len.saturating_sub(done));
                    out.push((done, copies, n));
                    done = done.saturating_add(n);
                }
                None => {
                    // Skip to the next chunk that starts after `at`.
                    let next = self.chunks.partition_point(|c| c.logical <= at);
                    match self.chunks.get(next) {
                        Some(c) => done = c.logical.saturating_sub(logical),
                        None => break,
                    }
                }
            }
        }
        out
    }
}

/// CRC-32C (Castagnoli) of `bytes`, as btrfs stores it (little-endian, in the first four
/// bytes of the checksum field), by a table of 256 entries.
// The table's indexes are below 256 and a CRC's low byte is a byte: nothing truncates.
#[allow(clippy::cast_possible_truncation)]
pub(crate) fn crc32c(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut crc = i as u32;
            let mut bit = 0;
            while bit < 8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0x82f6_3b78
                } else {
                    crc >> 1
                };
                bit += 1;
            }
            table[i] = crc;
            i += 1;
        }
        table
    };
    let mut crc = u32::MAX;
    for &byte in bytes {
        let index = usize::from((crc as u8) ^ byte);
        crc = (crc >> 8) ^ TABLE[index];
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_is_castagnoli() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    fn chunk(logical: u64, length: u64, flags: u64, stripes: &[(u64, u64)]) -> Chunk {
        Chunk {
            logical,
            length,
            flags,
            stripes: stripes.to_vec(),
        }
    }

    #[test]
    fn logical_addresses_map_to_every_copy_on_this_device() {
        let mut map = ChunkMap::default();
        assert!(map.add(chunk(1000, 100, 1, &[(1, 5000)]), 1));
        assert!(map.add(chunk(2000, 100, 32, &[(1, 7000), (1, 9000)]), 1));
        assert!(map.add(chunk(3000, 100, 8, &[(1, 100), (2, 100)]), 1));
        assert!(map.add(chunk(4000, 100, 0, &[(2, 100)]), 1));
        assert!(!map.add(chunk(1050, 100, 0, &[(1, 1)]), 1), "overlap");
        assert_eq!(map.map(1010), Some((vec![5010], 90)));
        assert_eq!(map.map(2099), Some((vec![7099, 9099], 1)));
        assert_eq!(map.map(3000), None, "RAID0 is not mapped");
        assert_eq!(map.map(4000), None, "another device");
        assert_eq!(map.map(999), None);
        assert_eq!(map.map(1100), None);
        assert_eq!(
            map.ranges(1090, 1000),
            vec![(0, vec![5090], 10), (910, vec![7000, 9000], 90)]
        );
        assert_eq!(map.ranges(u64::MAX - 1, 10), vec![]);
    }

    #[test]
    fn hostile_superblocks_are_refused() {
        let mut sb = vec![0u8; SUPERBLOCK_LEN];
        assert!(parse(&sb).is_err());
        sb[0x40..0x48].copy_from_slice(MAGIC);
        sb[0x90..0x94].copy_from_slice(&4096u32.to_le_bytes());
        sb[0x94..0x98].copy_from_slice(&16384u32.to_le_bytes());
        // A system chunk array claiming more than its room.
        sb[0xa0..0xa4].copy_from_slice(&4000u32.to_le_bytes());
        let sum = crc32c(&sb[0x20..]);
        sb[..4].copy_from_slice(&sum.to_le_bytes());
        assert!(parse(&sb).unwrap_err().contains("system chunk array"));
        // A chunk with 65535 stripes in a short array.
        sb[0xa0..0xa4].copy_from_slice(&(KEY_LEN as u32 + 48).to_le_bytes());
        sb[SYS_CHUNK_ARRAY_AT + 8] = CHUNK_ITEM;
        sb[SYS_CHUNK_ARRAY_AT + KEY_LEN + 44] = 0xff;
        sb[SYS_CHUNK_ARRAY_AT + KEY_LEN + 45] = 0xff;
        let sum = crc32c(&sb[0x20..]);
        sb[..4].copy_from_slice(&sum.to_le_bytes());
        assert!(parse(&sb).unwrap_err().contains("ends inside a chunk"));
        sb[0x50] ^= 1;
        assert!(parse(&sb).unwrap_err().contains("CRC-32C"));
        assert!(parse(&sb[..100]).is_err());
    }
}
