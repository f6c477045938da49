//! GUID partition tables, parsed from bytes (no I/O).

use std::ops::Range;

use super::{Problem, le32, le64};

/// `EFI PART`.
const SIGNATURE: &[u8; 8] = b"EFI PART";
/// Tables with more entries than this are refused: the specification's minimum is 128 and no
/// partitioning tool makes more than a few thousand.
pub(crate) const MAX_ENTRIES: u32 = 16_384;
/// The largest entry size accepted (the specification's is 128, a power of two above it).
const MAX_ENTRY_SIZE: u32 = 4096;

/// What a GPT header says, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// LBA of the other copy of the header.
    pub(crate) alternate_lba: u64,
    /// LBA of the partition entry array.
    pub(crate) entries_lba: u64,
    /// Number of entries in the array.
    pub(crate) entry_count: u32,
    /// Size of one entry.
    pub(crate) entry_size: u32,
    /// CRC32 of the entry array.
    pub(crate) entries_crc: u32,
}

impl Header {
    /// The length of the entry array in bytes (bounded by the limits checked at parse).
    pub(crate) fn entries_len(&self) -> usize {
        usize::try_from(u64::from(self.entry_count).saturating_mul(u64::from(self.entry_size)))
            .unwrap_or(usize::MAX)
    }
}

/// One used partition entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The partition's number: its index in the array plus one, as Linux numbers them.
    pub(crate) number: u32,
    /// The partition type GUID, on-disk layout.
    pub(crate) type_guid: [u8; 16],
    /// First and last LBA, inclusive.
    pub(crate) lbas: Range<u64>,
    /// The partition's name.
    pub(crate) name: String,
}

/// Parses and checks the header in `sector` (one logical sector).
pub(crate) fn parse_header(sector: &[u8]) -> Result<Header, Problem> {
    if sector.get(..8) != Some(SIGNATURE.as_slice()) {
        return Err(Problem("no GPT signature".into()));
    }
    let size = usize::try_from(le32(sector, 12)).unwrap_or(usize::MAX);
    if !(92..=sector.len()).contains(&size) {
        return Err(Problem(format!("GPT header size {size} is invalid")));
    }
    let mut copy = sector[..size].to_vec();
    copy[16..20].fill(0);
    let stored = le32(sector, 16);
    if crc32fast::hash(&copy) != stored {
        return Err(Problem("GPT header checksum mismatch".into()));
    }
    let header = Header {
        alternate_lba: le64(sector, 32),
        entries_lba: le64(sector, 72),
        entry_count: le32(sector, 80),
        entry_size: le32(sector, 84),
        entries_crc: le32(sector, 88),
    };
    if header.entry_count > MAX_ENTRIES
        || header.entry_size < 128
        || header.entry_size > MAX_ENTRY_SIZE
        || !header.entry_size.is_multiple_of(8)
    {
        return Err(Problem(format!(
            "GPT entry array of {} entries of {} bytes is invalid",
            header.entry_count, header.entry_size
        )));
    }
    Ok(header)
}

/// Parses the used entries of the array `bytes`, checking its CRC.
pub(crate) fn parse_entries(bytes: &[u8], header: &Header) -> Result<Vec<Entry>, Problem> {
    if crc32fast::hash(bytes) != header.entries_crc {
        return Err(Problem("GPT partition entries checksum mismatch".into()));
    }
    let size = usize::try_from(header.entry_size).unwrap_or(usize::MAX);
    let mut entries = Vec::new();
    for (index, raw) in bytes.chunks_exact(size).enumerate() {
        let mut type_guid = [0u8; 16];
        type_guid.copy_from_slice(&raw[..16]);
        if type_guid == [0; 16] {
            continue;
        }
        let (first, last) = (le64(raw, 32), le64(raw, 40));
        if last < first {
            return Err(Problem(format!(
                "GPT partition {} ends (LBA {last}) before it starts (LBA {first})",
                index.saturating_add(1)
            )));
        }
        let name: Vec<u16> = raw[56..128]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&c| c != 0)
            .collect();
        entries.push(Entry {
            number: u32::try_from(index).unwrap_or(u32::MAX).saturating_add(1),
            type_guid,
            lbas: first..last.saturating_add(1),
            name: String::from_utf16_lossy(&name),
        });
    }
    Ok(entries)
}

/// A GUID in its usual text form, from its on-disk layout (first three fields little-endian).
pub(crate) fn guid_text(g: &[u8; 16]) -> String {
    format!(
        "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
        u32::from_le_bytes([g[0], g[1], g[2], g[3]]),
        u16::from_le_bytes([g[4], g[5]]),
        u16::from_le_bytes([g[6], g[7]]),
        g[8],
        g[9],
        g[10],
        g[11],
        g[12],
        g[13],
        g[14],
        g[15]
    )
}

/// The name of a well-known partition type, or its GUID.
pub(crate) fn type_name(g: &[u8; 16]) -> String {
    let text = guid_text(g);
    let name = match text.as_str() {
        "0FC63DAF-8483-4772-8E79-3D69D8477DE4" => "Linux filesystem",
        "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709" => "Linux root (x86-64)",
        "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F" => "Linux swap",
        "E6D6D379-F507-44C2-A23C-238F2A3DF928" => "Linux LVM",
        "A19D880F-05FC-4D3B-A006-743F0F84911E" => "Linux RAID",
        "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" => "EFI system",
        "21686148-6449-6E6F-744E-656564454649" => "BIOS boot",
        "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7" => "Microsoft basic data",
        "E3C9E316-0B5C-4DB8-817D-F92DF00215AE" => "Microsoft reserved",
        "DE94BBA4-06D1-4D40-A16A-BFD50179D6AC" => "Windows recovery",
        _ => return text,
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_text_mixes_endianness_as_the_spec_says() {
        let linux = [
            0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47,
            0x7d, 0xe4,
        ];
        assert_eq!(guid_text(&linux), "0FC63DAF-8483-4772-8E79-3D69D8477DE4");
        assert_eq!(type_name(&linux), "Linux filesystem");
    }

    #[test]
    fn a_header_with_a_bad_checksum_is_refused() {
        let mut sector = vec![0u8; 512];
        sector[..8].copy_from_slice(SIGNATURE);
        sector[12..16].copy_from_slice(&92u32.to_le_bytes());
        assert!(parse_header(&sector).unwrap_err().0.contains("checksum"));
    }
}
