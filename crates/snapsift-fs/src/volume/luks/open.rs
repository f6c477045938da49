//! Opening a LUKS1 or LUKS2 volume with a key the user holds, and its plaintext as a
//! read-only [`Disk`]: [`LuksDisk`].
//!
//! The key file is tried as the volume key first where its length is the key's (checked
//! against the header's digest: cheap, and a random passphrase of exactly that length is
//! tried as one too), then as a passphrase against each active keyslot: as it is, and
//! without one trailing newline (`echo secret > file` adds one; cryptsetup's `--key-file`
//! reads the file whole, so both are tried). A keyslot's key derivation costs what its
//! header says, within the caps of `keys`.

use std::ops::Range;
use std::sync::Arc;

use snapsift_disk::{Disk, DiskError};

use super::cipher::SectorCipher;
use super::keys::{self, af_merge};
use super::metadata::{self, LUKS2_BINARY, Metadata};
use crate::FsError;

/// The most bytes of key material read for one keyslot (4000 stripes of a 128-byte key).
const MAX_MATERIAL: u64 = 4000 * 128 + 4096;
/// Bytes decrypted per read at most (the plaintext's sectors are decrypted as they are read).
const MAX_READ_CHUNK: usize = 1 << 20;

/// The plaintext of an opened LUKS volume: its data segment, decrypted sector by sector as
/// it is read. Read-only, like every disk.
#[derive(Debug)]
pub struct LuksDisk {
    disk: Arc<dyn Disk>,
    /// Where the segment's first byte is on the disk.
    start: u64,
    size: u64,
    cipher: SectorCipher,
    sector_size: u64,
    iv_tweak: u64,
    /// `LUKS1` or `LUKS2`, and how it was opened, for [`Disk::notes`].
    opened_by: String,
}

impl LuksDisk {
    /// Where the plaintext's first byte lies on the disk: the data segment's start.
    pub fn payload_start(&self) -> u64 {
        self.start
    }

    /// How the volume was opened: `the volume key` or `keyslot 0`.
    pub fn opened_by(&self) -> &str {
        &self.opened_by
    }
}

impl Disk for LuksDisk {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        if offset
            .checked_add(buf.len() as u64)
            .is_none_or(|end| end > self.size)
        {
            return Err(DiskError::OutOfBounds {
                offset,
                len: buf.len(),
                size: self.size,
            });
        }
        let sector = self.sector_size.max(512);
        let mut done = 0usize;
        while done < buf.len() {
            let at = offset.saturating_add(done as u64);
            let first = at.checked_div(sector).unwrap_or(0);
            let skip = usize::try_from(at.checked_rem(sector).unwrap_or(0)).unwrap_or(0);
            let want = buf.len().saturating_sub(done).min(MAX_READ_CHUNK);
            let sectors = (skip as u64).saturating_add(want as u64).div_ceil(sector);
            let len = usize::try_from(sectors.saturating_mul(sector)).unwrap_or(0);
            let mut cipher = vec![0u8; len];
            self.disk.read_exact_at(
                self.start.saturating_add(first.saturating_mul(sector)),
                &mut cipher,
            )?;
            // IVs count 512-byte units, whatever the sector size.
            let units = sector.checked_div(512).unwrap_or(1);
            let iv = first.wrapping_mul(units).wrapping_add(self.iv_tweak);
            self.cipher
                .decrypt(&mut cipher, usize::try_from(sector).unwrap_or(512), iv);
            let take = want.min(cipher.len().saturating_sub(skip));
            let (Some(to), Some(from)) = (
                buf.get_mut(done..done.saturating_add(take)),
                cipher.get(skip..skip.saturating_add(take)),
            ) else {
                break;
            };
            to.copy_from_slice(from);
            if take == 0 {
                break;
            }
            done = done.saturating_add(take);
        }
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "decrypted LUKS volume"
    }

    fn notes(&self) -> Vec<String> {
        vec![format!("opened with {}", self.opened_by)]
    }
}

/// Opens the LUKS volume at `volume` of `disk` with `key` (a passphrase or the volume key,
/// see the module docs).
///
/// Fails with [`FsError::Luks`] if the header cannot be read or uses what is not supported,
/// or if the key opens no keyslot and is not the volume key (the message says what was
/// tried, and which keyslots were refused for their costs).
pub fn open(disk: Arc<dyn Disk>, volume: Range<u64>, key: &[u8]) -> Result<LuksDisk, FsError> {
    let fail = |what: String| FsError::Luks(what);
    let len = volume.end.saturating_sub(volume.start);
    let read = |at: u64, n: u64| -> Result<Vec<u8>, FsError> {
        if at.checked_add(n).is_none_or(|end| end > len) {
            return Err(fail(format!(
                "bytes {at}..{} lie past the end of the volume ({len} bytes)",
                at.saturating_add(n)
            )));
        }
        let mut buf = vec![0u8; usize::try_from(n).unwrap_or(0)];
        disk.read_exact_at(volume.start.saturating_add(at), &mut buf)?;
        Ok(buf)
    };
    let start = read(0, LUKS2_BINARY as u64)?;
    let header = super::parse(&start).map_err(|p| fail(p.0))?;
    let (metadata, version) = match header.version {
        1 => (metadata::luks1(&start).map_err(fail)?, "LUKS1"),
        _ => (luks2_metadata(&read, &header)?, "LUKS2"),
    };
    let (volume_key, opened_by) = find_key(&metadata, key, &read)?;
    let segment = &metadata.segment;
    let cipher = SectorCipher::new(&segment.cipher, &volume_key).map_err(fail)?;
    let available = len.saturating_sub(segment.offset);
    let size = segment.size.unwrap_or(available).min(available);
    let size = size.saturating_sub(size.checked_rem(segment.sector_size).unwrap_or(0));
    if size == 0 {
        return Err(fail(format!(
            "its data segment (at byte {} of the volume) holds no sector inside the volume",
            segment.offset
        )));
    }
    Ok(LuksDisk {
        disk,
        start: volume.start.saturating_add(segment.offset),
        size,
        cipher,
        sector_size: segment.sector_size,
        iv_tweak: segment.iv_tweak,
        opened_by: format!("{version} {opened_by}"),
    })
}

/// The LUKS2 metadata of the first header copy whose checksum matches.
fn luks2_metadata(
    read: &dyn Fn(u64, u64) -> Result<Vec<u8>, FsError>,
    header: &super::Header,
) -> Result<Metadata, FsError> {
    let Some(size) = header.header_size else {
        return Err(FsError::Luks("the LUKS2 header gives no valid size".into()));
    };
    let mut problems = Vec::new();
    for at in [0, size] {
        let area = match read(at, size) {
            Ok(area) => area,
            Err(error) => {
                problems.push(error.to_string());
                continue;
            }
        };
        match metadata::luks2_json(&area) {
            Ok(json) => return metadata::luks2(json).map_err(FsError::Luks),
            Err(problem) => problems.push(format!("header copy at {at}: {problem}")),
        }
    }
    Err(FsError::Luks(problems.join("; ")))
}

/// The volume key `key` gives: as the volume key itself, or as a passphrase opening a
/// keyslot; with how.
fn find_key(
    metadata: &Metadata,
    key: &[u8],
    read: &dyn Fn(u64, u64) -> Result<Vec<u8>, FsError>,
) -> Result<(Vec<u8>, String), FsError> {
    let digest = &metadata.digest;
    let matches = |candidate: &[u8]| {
        keys::digest_matches(
            candidate,
            digest.hash,
            &digest.salt,
            digest.iterations,
            &digest.value,
        )
    };
    if key.len() == metadata.key_len && matches(key).map_err(FsError::Luks)? {
        return Ok((key.to_vec(), "the volume key".into()));
    }
    let mut passphrases = vec![key];
    for ending in [&b"\r\n"[..], b"\n"] {
        if let Some(trimmed) = key.strip_suffix(ending) {
            passphrases.push(trimmed);
            break;
        }
    }
    let mut refused = Vec::new();
    for slot in &metadata.keyslots {
        let material_len = (metadata.key_len as u64)
            .checked_mul(u64::from(slot.stripes))
            .filter(|&n| n > 0 && n <= MAX_MATERIAL);
        let Some(material_len) = material_len else {
            refused.push(format!(
                "keyslot {}: {} AF stripes",
                slot.name, slot.stripes
            ));
            continue;
        };
        // Whole 512-byte sectors of key material, decrypted from sector 0.
        let sectors_len = material_len.div_ceil(512).saturating_mul(512);
        let cipher_text = match read(slot.offset, sectors_len) {
            Ok(bytes) => bytes,
            Err(error) => {
                refused.push(format!("keyslot {}: {error}", slot.name));
                continue;
            }
        };
        for passphrase in &passphrases {
            let mut slot_key = vec![0u8; slot.cipher_key_len];
            if let Err(why) = slot.kdf.derive(passphrase, &slot.salt, &mut slot_key) {
                refused.push(format!("keyslot {}: {why}", slot.name));
                break;
            }
            let cipher = SectorCipher::new(&slot.cipher, &slot_key).map_err(FsError::Luks)?;
            let mut material = cipher_text.clone();
            cipher.decrypt(&mut material, 512, 0);
            let Some(candidate) = af_merge(&material, metadata.key_len, slot.stripes, slot.af_hash)
            else {
                continue;
            };
            if matches(&candidate).map_err(FsError::Luks)? {
                return Ok((candidate, format!("keyslot {}", slot.name)));
            }
        }
    }
    let mut message = format!(
        "the key file opens none of its {} keyslots and is not its volume key",
        metadata.keyslots.len()
    );
    if !refused.is_empty() {
        message.push_str(&format!(" (not tried: {})", refused.join("; ")));
    }
    Err(FsError::Luks(message))
}

/// Parses the metadata of the LUKS header at the start of `header` without opening anything
/// (LUKS2: its JSON text, its checksum not checked) and says what opening it would do: the
/// cipher, the key's size, the keyslots and their key derivation. For diagnostics and for
/// fuzzing the parsers; no key is derived.
pub fn describe(header: &[u8]) -> Result<String, FsError> {
    let parsed = super::parse(header).map_err(|p| FsError::Luks(p.0))?;
    let metadata = match parsed.version {
        1 => metadata::luks1(header),
        _ => {
            let json = header.get(LUKS2_BINARY..).unwrap_or(&[]);
            let end = json.iter().position(|&b| b == 0).unwrap_or(json.len());
            let text = String::from_utf8_lossy(&json[..end]);
            metadata::luks2(&text)
        }
    }
    .map_err(FsError::Luks)?;
    let segment = &metadata.segment;
    let zeros = vec![0u8; metadata.key_len];
    let cipher = match SectorCipher::new(&segment.cipher, &zeros) {
        Ok(_) => segment.cipher.clone(),
        Err(why) => why,
    };
    let slots: Vec<String> = metadata
        .keyslots
        .iter()
        .map(|slot| format!("keyslot {}: {:?}, {}", slot.name, slot.kdf, slot.cipher))
        .collect();
    Ok(format!(
        "LUKS{}: {cipher}, a key of {} bytes, data at {} in sectors of {}; {}",
        parsed.version,
        metadata.key_len,
        segment.offset,
        segment.sector_size,
        slots.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_parses_without_deriving() {
        let json = r#"{"keyslots":{"0":{"type":"luks2","key_size":64,
            "af":{"type":"luks1","stripes":4000,"hash":"sha256"},
            "area":{"type":"raw","offset":"32768","size":"258048","encryption":"aes-xts-plain64","key_size":64},
            "kdf":{"type":"argon2id","time":4000000,"memory":4294967295,"cpus":2,"salt":"aGk="}}},
            "segments":{"0":{"type":"crypt","offset":"16777216","size":"dynamic","iv_tweak":"0",
            "encryption":"aes-xts-plain64","sector_size":512}},
            "digests":{"0":{"type":"pbkdf2","keyslots":["0"],"segments":["0"],"hash":"sha256",
            "iterations":1000,"salt":"aGk=","digest":"aGk="}}}"#;
        let mut header = vec![0u8; LUKS2_BINARY + json.len()];
        header[..6].copy_from_slice(b"LUKS\xba\xbe");
        header[6..8].copy_from_slice(&2u16.to_be_bytes());
        header[LUKS2_BINARY..].copy_from_slice(json.as_bytes());
        // Costs that opening refuses are described, never paid.
        let text = describe(&header).unwrap();
        assert!(
            text.starts_with("LUKS2: aes-xts-plain64, a key of 64 bytes"),
            "{text}"
        );
        assert!(text.contains("keyslot 0"), "{text}");
        header[LUKS2_BINARY] = b'[';
        assert!(describe(&header).is_err());
        assert!(describe(b"not LUKS").is_err());
    }
}
