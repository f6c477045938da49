//! How many entries a zip's end record declares, read before the `zip` crate loads the whole
//! central directory into memory (which it does for as many entries as declared).

use std::io;

use crate::source::Window;

/// The end-of-central-directory record: signature and fixed part.
const END: [u8; 4] = *b"PK\x05\x06";
const END_LEN: usize = 22;
/// The largest archive comment, which may follow the end record.
const MAX_COMMENT: usize = 0xFFFF;
/// The zip64 end locator, just before the end record: signature and fixed part.
const LOCATOR: [u8; 4] = *b"PK\x06\x07";
const LOCATOR_LEN: usize = 20;
/// The zip64 end record, where the locator points.
const END64: [u8; 4] = *b"PK\x06\x06";
const END64_LEN: usize = 56;

/// The number of entries the last end record of `zip` declares (its zip64 record's when it
/// has one), or `None` if there is no readable end record, which the `zip` crate will find
/// out for itself.
pub(crate) fn declared_entries(zip: &Window<'_>) -> io::Result<Option<u64>> {
    let tail_len = zip.len().min((END_LEN + MAX_COMMENT) as u64);
    let tail_start = zip.len().saturating_sub(tail_len);
    let mut tail = vec![0u8; usize::try_from(tail_len).unwrap_or(0)];
    let got = zip.read_full_at(tail_start, &mut tail)?;
    tail.truncate(got);
    if tail.len() < END_LEN {
        return Ok(None);
    }
    let last_start = tail.len().saturating_sub(END_LEN);
    let Some(end) = tail
        .get(..last_start.saturating_add(4))
        .and_then(|candidates| candidates.windows(4).rposition(|w| w == END))
    else {
        return Ok(None);
    };
    let entries = u16_at(&tail, end.saturating_add(10)).unwrap_or(0);
    if entries != 0xFFFF {
        return Ok(Some(u64::from(entries)));
    }
    // A zip64 archive: the locator sits right before the end record.
    let locator = end
        .checked_sub(LOCATOR_LEN)
        .and_then(|at| tail.get(at..end))
        .filter(|locator| locator.starts_with(&LOCATOR));
    let Some(end64_at) = locator.and_then(|locator| u64_at(locator, 8)) else {
        return Ok(Some(u64::from(entries)));
    };
    let mut end64 = [0u8; END64_LEN];
    if zip.read_full_at(end64_at, &mut end64)? < END64_LEN || !end64.starts_with(&END64) {
        return Ok(None);
    }
    Ok(u64_at(&end64, 32))
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    let field = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes(field.try_into().ok()?))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    let field = bytes.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(field.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Buffer;

    fn end_record(entries: u16, comment: &[u8]) -> Vec<u8> {
        let mut record = END.to_vec();
        record.extend_from_slice(&[0; 4]);
        record.extend_from_slice(&entries.to_le_bytes());
        record.extend_from_slice(&entries.to_le_bytes());
        record.extend_from_slice(&[0; 8]);
        record.extend_from_slice(&(comment.len() as u16).to_le_bytes());
        record.extend_from_slice(comment);
        record
    }

    #[test]
    fn reads_the_count_of_the_last_end_record() {
        let mut zip = b"PK\x03\x04 local stuff".to_vec();
        zip.extend(end_record(3, b""));
        zip.extend(end_record(7, b"a comment"));
        let buffer = Buffer(zip);
        assert_eq!(declared_entries(&Window::whole(&buffer)).unwrap(), Some(7));
        let buffer = Buffer(b"PK\x03\x04 no end".to_vec());
        assert_eq!(declared_entries(&Window::whole(&buffer)).unwrap(), None);
    }

    #[test]
    fn follows_the_zip64_locator() {
        let mut zip = b"PK\x03\x04 local stuff".to_vec();
        let end64_at = zip.len() as u64;
        let mut end64 = END64.to_vec();
        end64.resize(32, 0);
        end64.extend_from_slice(&5_000_000u64.to_le_bytes());
        end64.resize(END64_LEN, 0);
        zip.extend(end64);
        zip.extend_from_slice(&LOCATOR);
        zip.extend_from_slice(&[0; 4]);
        zip.extend_from_slice(&end64_at.to_le_bytes());
        zip.extend_from_slice(&[1, 0, 0, 0]);
        zip.extend(end_record(0xFFFF, b""));
        let buffer = Buffer(zip);
        assert_eq!(
            declared_entries(&Window::whole(&buffer)).unwrap(),
            Some(5_000_000)
        );
    }
}
