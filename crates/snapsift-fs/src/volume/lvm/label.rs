//! The binary structures of an LVM2 physical volume, parsed from bytes (no I/O): the label
//! with its PV header, and the header of a metadata area with where its current metadata
//! text is (LVM2's `lib/format_text/layout.h`; all little-endian).
//!
//! * The label is one of the first four 512-byte sectors: `LABELONE`, the sector's own
//!   number, a CRC of the rest of the sector, the offset of the PV header, `LVM2 001`.
//! * The PV header: the PV's UUID (32 characters), its size, then two lists of
//!   (offset, size) pairs ended by a zero pair: data areas, then metadata areas.
//! * A metadata area starts with its header (512 bytes): a CRC, a magic, the area's own
//!   offset and size, and the location of the committed metadata text in the area, which is
//!   a ring buffer after the header: text that reaches the area's end wraps to just after
//!   the header.
//!
//! Every CRC is checked as LVM checks it ([`crc`]).

use std::ops::Range;

use super::super::{Problem, le32, le64};

/// A label and its PV header must fit in one sector.
pub(crate) const SECTOR: usize = 512;
/// The label is in one of the first four sectors.
pub(crate) const LABEL_SECTORS: u64 = 4;
/// The size of a metadata area's header, where its ring buffer starts.
pub(crate) const MDA_HEADER_SIZE: u64 = 512;
/// The magic of a metadata area header.
const MDA_MAGIC: &[u8; 16] = b" LVM2 x[5A%r0N*>";
/// LVM's seed for every CRC it writes.
const INITIAL_CRC: u32 = 0xf597_a6cf;
/// A metadata location flag: the area is to be ignored (`pvchange --metadataignore`).
const RAW_LOCN_IGNORED: u32 = 1;

/// LVM's CRC of `bytes`, continued from `previous` (the CRC-32 of `crc32fast`, without
/// its initial and final inversions; [`INITIAL_CRC`] to start).
pub(crate) fn crc(previous: u32, bytes: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new_with_initial(!previous);
    hasher.update(bytes);
    !hasher.finalize()
}

/// What a PV's label says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PvLabel {
    /// The PV's UUID, as the metadata names it without its dashes.
    pub(crate) uuid: String,
    /// Its metadata areas, as byte ranges from the PV's start.
    pub(crate) metadata_areas: Vec<Range<u64>>,
}

/// Finds and parses the label in `start` (the PV's first [`LABEL_SECTORS`] sectors).
pub(crate) fn parse_label(start: &[u8]) -> Result<PvLabel, Problem> {
    let mut problem = Problem("no LVM2 label".into());
    for (number, sector) in (0u64..LABEL_SECTORS).zip(start.chunks_exact(SECTOR)) {
        if sector.get(..8) != Some(b"LABELONE".as_slice()) {
            continue;
        }
        match parse_label_sector(sector, number) {
            Ok(label) => return Ok(label),
            Err(found) => problem = found,
        }
    }
    Err(problem)
}

/// Parses the label in `sector`, sector `number` of the PV.
fn parse_label_sector(sector: &[u8], number: u64) -> Result<PvLabel, Problem> {
    if le64(sector, 8) != number {
        return Err(Problem(format!(
            "the LVM2 label in sector {number} names sector {}",
            le64(sector, 8)
        )));
    }
    if crc(INITIAL_CRC, &sector[20..]) != le32(sector, 16) {
        return Err(Problem("the LVM2 label's checksum does not match".into()));
    }
    if sector.get(24..32) != Some(b"LVM2 001".as_slice()) {
        return Err(Problem("the label is not an LVM2 one".into()));
    }
    let header = usize::try_from(le32(sector, 20))
        .ok()
        .filter(|&at| at >= 32 && at.saturating_add(48) <= SECTOR)
        .ok_or_else(|| Problem("the LVM2 PV header lies outside its sector".into()))?;
    let uuid = &sector[header..header.saturating_add(32)];
    if !uuid.iter().all(u8::is_ascii_alphanumeric) {
        return Err(Problem("the PV's UUID is not one".into()));
    }
    let uuid = String::from_utf8_lossy(uuid).into_owned();
    // Two lists of (offset, size), each ended by a zero pair: data areas, then metadata
    // areas. They must end within the sector.
    let mut at = header.saturating_add(40);
    let mut lists: [Vec<Range<u64>>; 2] = [Vec::new(), Vec::new()];
    for list in &mut lists {
        loop {
            if at.saturating_add(16) > SECTOR {
                return Err(Problem("the LVM2 PV header's area lists do not end".into()));
            }
            let (offset, size) = (le64(sector, at), le64(sector, at.saturating_add(8)));
            at = at.saturating_add(16);
            if offset == 0 && size == 0 {
                break;
            }
            let end = offset
                .checked_add(size)
                .ok_or_else(|| Problem("an LVM2 area runs past the addressable bytes".into()))?;
            list.push(offset..end);
        }
    }
    let [_data, metadata_areas] = lists;
    Ok(PvLabel {
        uuid,
        metadata_areas,
    })
}

/// Where a metadata area's committed text is, from its header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TextLocation {
    /// The text's parts, as byte ranges from the PV's start: one, or two where the text
    /// wraps round the ring buffer.
    pub(crate) parts: Vec<Range<u64>>,
    /// The CRC of the text (its parts in order).
    pub(crate) checksum: u32,
}

/// Parses the header of the metadata area `area` (byte range in the PV) from its first
/// [`MDA_HEADER_SIZE`] bytes: where its committed text is, `None` if the area holds none
/// (empty, or ignored).
pub(crate) fn parse_mda_header(
    header: &[u8],
    area: &Range<u64>,
) -> Result<Option<TextLocation>, Problem> {
    let header = header
        .get(..usize::try_from(MDA_HEADER_SIZE).unwrap_or(SECTOR))
        .ok_or_else(|| Problem("the metadata area header is cut short".into()))?;
    if header.get(4..20) != Some(MDA_MAGIC.as_slice()) {
        return Err(Problem("the metadata area has no LVM2 magic".into()));
    }
    if crc(INITIAL_CRC, &header[4..]) != le32(header, 0) {
        return Err(Problem(
            "the metadata area header's checksum does not match".into(),
        ));
    }
    if le32(header, 20) != 1 {
        return Err(Problem(format!(
            "the metadata area's version {} is not known",
            le32(header, 20)
        )));
    }
    let (start, size) = (le64(header, 24), le64(header, 32));
    if start != area.start || size != area.end.saturating_sub(area.start) {
        return Err(Problem(format!(
            "the metadata area header says it is {size} bytes at {start}, its PV header \
             {} bytes at {}",
            area.end.saturating_sub(area.start),
            area.start
        )));
    }
    if size <= MDA_HEADER_SIZE {
        return Err(Problem(
            "the metadata area is too small to hold text".into(),
        ));
    }
    // The first location is the committed metadata (the second, a precommitted one, is not
    // in use yet).
    let (offset, len) = (le64(header, 40), le64(header, 48));
    let (checksum, flags) = (le32(header, 56), le32(header, 60));
    if (offset == 0 && len == 0) || flags & RAW_LOCN_IGNORED != 0 {
        return Ok(None);
    }
    let room = size.saturating_sub(MDA_HEADER_SIZE);
    if offset < MDA_HEADER_SIZE || offset >= size || len == 0 || len > room {
        return Err(Problem(format!(
            "the metadata text ({len} bytes at {offset}) lies outside its area of {size} bytes"
        )));
    }
    // In range: the PV header's list said the area's end does not overflow, and the text
    // starts inside the area.
    let first_len = len.min(size.saturating_sub(offset));
    let first = start.saturating_add(offset);
    let mut parts = vec![first..first.saturating_add(first_len)];
    if first_len < len {
        let wrapped = start.saturating_add(MDA_HEADER_SIZE);
        parts.push(wrapped..wrapped.saturating_add(len.saturating_sub(first_len)));
    }
    Ok(Some(TextLocation { parts, checksum }))
}

/// Whether `parts`, read from where a [`TextLocation`] says, match its checksum.
pub(crate) fn text_matches(parts: &[&[u8]], checksum: u32) -> bool {
    parts
        .iter()
        .fold(INITIAL_CRC, |crc_so_far, part| crc(crc_so_far, part))
        == checksum
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A label in `sector` of a PV with one data area and one metadata area at 4096.
    pub(crate) fn label(sector: u64) -> Vec<u8> {
        let mut bytes = vec![0u8; SECTOR * LABEL_SECTORS as usize];
        let s = &mut bytes[sector as usize * SECTOR..][..SECTOR];
        s[..8].copy_from_slice(b"LABELONE");
        s[8..16].copy_from_slice(&sector.to_le_bytes());
        s[20..24].copy_from_slice(&32u32.to_le_bytes());
        s[24..32].copy_from_slice(b"LVM2 001");
        s[32..64].copy_from_slice(b"kzX0sf6XYBIjAeN2PT0xXm0cgFKnB39k");
        s[72..80].copy_from_slice(&(1u64 << 20).to_le_bytes());
        s[104..112].copy_from_slice(&4096u64.to_le_bytes());
        s[112..120].copy_from_slice(&(1_044_480u64).to_le_bytes());
        let sum = crc(INITIAL_CRC, &s[20..]);
        s[16..20].copy_from_slice(&sum.to_le_bytes());
        bytes
    }

    #[test]
    fn crc_is_lvms() {
        // LVM's own table-driven CRC, as lib/misc/crc.c computes it, nibble by nibble.
        fn lvm(mut crc: u32, bytes: &[u8]) -> u32 {
            const TAB: [u32; 16] = [
                0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158,
                0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4,
                0xa00ae278, 0xbdbdf21c,
            ];
            for &b in bytes {
                crc ^= u32::from(b);
                crc = (crc >> 4) ^ TAB[(crc & 0xf) as usize];
                crc = (crc >> 4) ^ TAB[(crc & 0xf) as usize];
            }
            crc
        }
        let text = b"vgt {\nid = \"x\"\nseqno = 3\n}\n";
        assert_eq!(crc(INITIAL_CRC, text), lvm(INITIAL_CRC, text));
        let (a, b) = text.split_at(7);
        assert!(text_matches(&[a, b], lvm(INITIAL_CRC, text)));
    }

    #[test]
    fn labels_in_each_sector_and_damaged_ones() {
        for sector in 0..LABEL_SECTORS {
            let pv = parse_label(&label(sector)).unwrap();
            assert_eq!(pv.uuid, "kzX0sf6XYBIjAeN2PT0xXm0cgFKnB39k");
            assert_eq!(pv.metadata_areas, vec![4096..4096 + 1_044_480]);
        }
        let mut moved = label(1);
        moved[SECTOR + 8] = 2;
        assert!(parse_label(&moved).unwrap_err().0.contains("names sector"));
        let mut flipped = label(1);
        flipped[SECTOR + 40] ^= 1;
        assert!(parse_label(&flipped).unwrap_err().0.contains("checksum"));
        assert!(parse_label(&[0u8; 2048]).is_err());
    }

    #[test]
    fn metadata_locations_wrap_round_the_ring() {
        let area = 4096..4096 + 8192;
        let mut header = vec![0u8; 512];
        header[4..20].copy_from_slice(MDA_MAGIC);
        header[20..24].copy_from_slice(&1u32.to_le_bytes());
        header[24..32].copy_from_slice(&4096u64.to_le_bytes());
        header[32..40].copy_from_slice(&8192u64.to_le_bytes());
        header[40..48].copy_from_slice(&7000u64.to_le_bytes());
        header[48..56].copy_from_slice(&2000u64.to_le_bytes());
        let seal = |header: &mut Vec<u8>| {
            let sum = crc(INITIAL_CRC, &header[4..]);
            header[..4].copy_from_slice(&sum.to_le_bytes());
        };
        seal(&mut header);
        let location = parse_mda_header(&header, &area).unwrap().unwrap();
        assert_eq!(location.parts, vec![11096..12288, 4608..5416]);
        header[48..56].copy_from_slice(&8000u64.to_le_bytes());
        seal(&mut header);
        assert!(
            parse_mda_header(&header, &area).is_err(),
            "longer than the ring"
        );
        header[48..56].copy_from_slice(&0u64.to_le_bytes());
        header[40..48].copy_from_slice(&0u64.to_le_bytes());
        seal(&mut header);
        assert_eq!(parse_mda_header(&header, &area).unwrap(), None);
        header[0] ^= 1;
        assert!(parse_mda_header(&header, &area).is_err());
    }
}
