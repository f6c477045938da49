//! LUKS1 and LUKS2 volumes: their headers, parsed from bytes (no I/O), enough to name an
//! encrypted volume (its version and UUID); and, with a key the user holds, the volume
//! opened ([`open()`]) and its plaintext read as a [`LuksDisk`].
//!
//! `metadata` reads what opening needs (LUKS1 keyslots, LUKS2 JSON), `keys` derives keys
//! (PBKDF2, Argon2, the AF merge, the digest), `cipher` decrypts sectors (AES-XTS and
//! AES-CBC with ESSIV or plain IVs), `open` does the I/O.
//!
//! Both versions start with the same binary header, big-endian: the magic `LUKS\xba\xbe`,
//! the version, and the UUID at byte 168 (`cryptsetup luksUUID` prints it). LUKS2 puts its
//! header's size at byte 8 and a second copy of the header (magic `SKUL\xba\xbe`) that far in.

mod cipher;
mod keys;
mod metadata;
mod open;

pub use open::{LuksDisk, describe, open};

use super::Problem;

/// The magic of a (primary) LUKS header.
const MAGIC: &[u8; 6] = b"LUKS\xba\xbe";
/// Where the UUID is, and its room (NUL-padded text).
const UUID_AT: usize = 168;
const UUID_LEN: usize = 40;
/// The sizes a LUKS2 header (binary header and JSON area) may have: 16 KiB to 4 MiB, a power
/// of two (cryptsetup's `LUKS2_HDR_16K_LEN` to `LUKS2_HDR_OFFSET_MAX`).
const LUKS2_HEADER_SIZES: std::ops::RangeInclusive<u64> = 0x4000..=0x40_0000;

/// What a LUKS header says, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// 1 or 2.
    pub(crate) version: u16,
    /// The volume's UUID, if the header holds one in the form cryptsetup writes (hex digits
    /// and dashes).
    pub(crate) uuid: Option<String>,
    /// For LUKS2, the size of each of its two header copies in bytes.
    pub(crate) header_size: Option<u64>,
}

/// The version of the LUKS header `start` begins with (1 or 2), if it begins with one.
pub(crate) fn version(start: &[u8]) -> Option<u16> {
    parse(start).ok().map(|h| h.version)
}

/// Parses the LUKS header at the start of `start` (at least its first 208 bytes).
pub(crate) fn parse(start: &[u8]) -> Result<Header, Problem> {
    if start.get(..MAGIC.len()) != Some(MAGIC.as_slice()) {
        return Err(Problem("no LUKS signature".into()));
    }
    let version = start
        .get(6..8)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(|| Problem("the LUKS header is cut short".into()))?;
    let raw_uuid = start
        .get(UUID_AT..UUID_AT.saturating_add(UUID_LEN))
        .ok_or_else(|| Problem("the LUKS header is cut short".into()))?;
    let header_size = match version {
        1 => None,
        2 => {
            let mut size = [0u8; 8];
            size.copy_from_slice(&start[8..16]);
            let size = u64::from_be_bytes(size);
            // A size out of range is a damaged header; the volume is LUKS2 all the same.
            Some(size).filter(|s| LUKS2_HEADER_SIZES.contains(s) && s.is_power_of_two())
        }
        other => return Err(Problem(format!("LUKS version {other} is not known"))),
    };
    Ok(Header {
        version,
        uuid: uuid_text(raw_uuid),
        header_size,
    })
}

/// The UUID in `raw` (NUL-padded), if it is non-empty text of hex digits and dashes.
fn uuid_text(raw: &[u8]) -> Option<String> {
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    let text = raw.get(..end)?;
    let plausible = !text.is_empty() && text.iter().all(|&b| b.is_ascii_hexdigit() || b == b'-');
    plausible.then(|| String::from_utf8_lossy(text).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(version: u16, uuid: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0u8; 4096];
        bytes[..6].copy_from_slice(MAGIC);
        bytes[6..8].copy_from_slice(&version.to_be_bytes());
        bytes[8..16].copy_from_slice(&0x4000u64.to_be_bytes());
        bytes[UUID_AT..UUID_AT + uuid.len()].copy_from_slice(uuid);
        bytes
    }

    #[test]
    fn versions_and_uuids() {
        let uuid = b"0f5e8a5c-3b8e-4a8e-9e7c-2f0a6c1d2e3f";
        let one = parse(&header(1, uuid)).unwrap();
        assert_eq!(one.version, 1);
        assert_eq!(one.uuid.as_deref(), Some(&*String::from_utf8_lossy(uuid)));
        assert_eq!(one.header_size, None);
        let two = parse(&header(2, uuid)).unwrap();
        assert_eq!((two.version, two.header_size), (2, Some(0x4000)));
        assert!(parse(&header(3, uuid)).unwrap_err().0.contains("version 3"));
        assert!(parse(&header(2, uuid)[..100]).is_err(), "cut short");
        assert!(parse(&[0u8; 512]).is_err());
    }

    #[test]
    fn a_uuid_that_is_not_one_is_not_shown() {
        // Attacker-written text never reaches the layout line.
        let hostile = parse(&header(2, b"\x1b[2J-not-a-uuid")).unwrap();
        assert_eq!(hostile.uuid, None);
        assert_eq!(parse(&header(1, b"")).unwrap().uuid, None);
        let mut full = header(1, &[b'a'; UUID_LEN]);
        full[UUID_AT + UUID_LEN] = b'x';
        assert_eq!(parse(&full).unwrap().uuid.unwrap().len(), UUID_LEN);
    }
}
