//! Sealing LVM2 structures in a fuzz input: their checksums made to match, so that mutations
//! of the metadata text and of the headers' fields reach the parsers behind the checks
//! (libFuzzer cannot compute a CRC). Only a PV that fills the input's disk is sealed; the
//! checks themselves are exercised by inputs left as they are.

/// LVM's CRC (lib/misc/crc.c) of `bytes`, continued from `previous`: CRC-32 without its
/// initial and final inversions.
fn crc(previous: u32, bytes: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new_with_initial(!previous);
    hasher.update(bytes);
    !hasher.finalize()
}

const INITIAL: u32 = 0xf597_a6cf;

fn le32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_le_bytes(s.try_into().unwrap()))
}

fn le64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .map_or(0, |s| u64::from_le_bytes(s.try_into().unwrap()))
}

/// Seals the label, the metadata area headers and their committed texts of a PV at the start
/// of `disk`, where they lie inside it.
pub fn seal(disk: &mut [u8]) {
    for sector in 0..4usize {
        let at = sector * 512;
        if disk.get(at..at + 8) != Some(b"LABELONE".as_slice()) || disk.len() < at + 512 {
            continue;
        }
        let header = at + (le32(disk, at + 20) as usize).min(512);
        // The data areas' list, then the metadata areas'.
        let mut entry = header + 40;
        let mut lists = 0;
        while lists < 2 && entry + 16 <= at + 512 {
            let (offset, size) = (le64(disk, entry), le64(disk, entry + 8));
            entry += 16;
            if offset == 0 && size == 0 {
                lists += 1;
            } else if lists == 1 {
                seal_area(disk, offset, size);
            }
        }
        let sum = crc(INITIAL, &disk[at + 20..at + 512]);
        disk[at + 16..at + 20].copy_from_slice(&sum.to_le_bytes());
        return;
    }
}

/// Seals the metadata area of `size` bytes at `offset`.
fn seal_area(disk: &mut [u8], offset: u64, size: u64) {
    let (Ok(start), Ok(size)) = (usize::try_from(offset), usize::try_from(size)) else {
        return;
    };
    if size <= 512 || start.checked_add(size).is_none_or(|end| end > disk.len()) {
        return;
    }
    let (text_at, len) = (
        le64(disk, start + 40) as usize,
        le64(disk, start + 48) as usize,
    );
    if (512..size).contains(&text_at) && len > 0 && len <= size - 512 {
        let first = len.min(size - text_at);
        let mut sum = crc(INITIAL, &disk[start + text_at..start + text_at + first]);
        sum = crc(sum, &disk[start + 512..start + 512 + (len - first)]);
        disk[start + 56..start + 60].copy_from_slice(&sum.to_le_bytes());
    }
    let sum = crc(INITIAL, &disk[start + 4..start + 512]);
    disk[start..start + 4].copy_from_slice(&sum.to_le_bytes());
}
