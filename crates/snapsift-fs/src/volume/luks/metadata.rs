//! What opening a LUKS volume needs from its header, from LUKS1's binary keyslots or LUKS2's
//! JSON metadata, parsed from bytes (no I/O): the volume key's size and digest, the keyslots
//! (their key derivation, where their key material lies, its cipher and AF stripes) and the
//! data segment (offset, size, cipher, sector size, IV offset).
//!
//! LUKS1 (big endian): the cipher name and mode at 8 and 40, the hash at 72, the payload
//! offset in 512-byte sectors at 104, the key's bytes at 108, the key digest (20 bytes), its
//! salt and iterations at 112, 132 and 164, and eight 48-byte keyslots from 208 (active
//! mark, iterations, salt, key material sector, stripes).
//!
//! LUKS2: a 4 KiB binary header whose SHA-256 checksum covers the header area (the binary
//! header with its checksum field zeroed, then the JSON text), followed by the JSON text; a
//! second copy of both follows the first. The first copy whose checksum matches is read.

use serde_json::Value;

use super::keys::{Hash, Kdf, MAX_KEY_BYTES, base64};
use crate::bytes::be32;
use sha2::{Digest, Sha256};

/// The active mark of a LUKS1 keyslot.
const LUKS1_ACTIVE: u32 = 0x00ac_71f3;
/// LUKS1 keyslots.
const LUKS1_KEYSLOTS: usize = 8;
/// LUKS2 keyslots read at most (cryptsetup allows 32).
const MAX_KEYSLOTS: usize = 32;
/// Where the LUKS2 checksum is, and its room.
const CSUM_AT: usize = 448;
const CSUM_LEN: usize = 64;
/// The binary part of a LUKS2 header.
pub(crate) const LUKS2_BINARY: usize = 4096;

/// A keyslot: how a passphrase opens it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Keyslot {
    /// Its name (`0`...).
    pub(crate) name: String,
    /// How the passphrase becomes the key of its material.
    pub(crate) kdf: Kdf,
    /// The KDF's salt.
    pub(crate) salt: Vec<u8>,
    /// Where its key material lies, in bytes from the volume's start.
    pub(crate) offset: u64,
    /// The cipher of its key material, and its key's bytes.
    pub(crate) cipher: String,
    pub(crate) cipher_key_len: usize,
    /// AF stripes and hash.
    pub(crate) stripes: u32,
    pub(crate) af_hash: Hash,
}

/// The digest a right volume key matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeyDigest {
    pub(crate) hash: Hash,
    pub(crate) salt: Vec<u8>,
    pub(crate) iterations: u32,
    pub(crate) value: Vec<u8>,
}

/// The encrypted data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    /// Its offset from the volume's start, in bytes.
    pub(crate) offset: u64,
    /// Its size in bytes; `None`: to the volume's end.
    pub(crate) size: Option<u64>,
    /// Its cipher (`aes-xts-plain64`).
    pub(crate) cipher: String,
    /// Its sector size: 512 to 4096, a power of two.
    pub(crate) sector_size: u64,
    /// The IV of its first sector.
    pub(crate) iv_tweak: u64,
}

/// What opening a LUKS volume needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Metadata {
    /// The volume key's bytes.
    pub(crate) key_len: usize,
    pub(crate) digest: KeyDigest,
    /// The active keyslots.
    pub(crate) keyslots: Vec<Keyslot>,
    pub(crate) segment: Segment,
}

/// NUL-padded text at `at..at + len`.
fn text(bytes: &[u8], at: usize, len: usize) -> String {
    let raw = bytes.get(at..at.saturating_add(len)).unwrap_or(&[]);
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    String::from_utf8_lossy(&raw[..end]).into_owned()
}

/// Parses a LUKS1 header (its first 592 bytes).
pub(crate) fn luks1(header: &[u8]) -> Result<Metadata, String> {
    if header.len() < 592 {
        return Err("the LUKS1 header is cut short".into());
    }
    let cipher = format!("{}-{}", text(header, 8, 32), text(header, 40, 32));
    let hash = Hash::named(&text(header, 72, 32))?;
    let key_len = usize::try_from(be32(header, 108)).unwrap_or(usize::MAX);
    if key_len == 0 || key_len > MAX_KEY_BYTES {
        return Err(format!("a volume key of {key_len} bytes"));
    }
    let digest = KeyDigest {
        hash,
        salt: header[132..164].to_vec(),
        iterations: be32(header, 164),
        value: header[112..132].to_vec(),
    };
    let mut keyslots = Vec::new();
    for slot in 0..LUKS1_KEYSLOTS {
        let at = 208usize.saturating_add(slot.saturating_mul(48));
        if be32(header, at) != LUKS1_ACTIVE {
            continue;
        }
        keyslots.push(Keyslot {
            name: slot.to_string(),
            kdf: Kdf::Pbkdf2 {
                hash,
                iterations: be32(header, at.saturating_add(4)),
            },
            salt: header[at.saturating_add(8)..at.saturating_add(40)].to_vec(),
            offset: u64::from(be32(header, at.saturating_add(40))).saturating_mul(512),
            cipher: cipher.clone(),
            cipher_key_len: key_len,
            stripes: be32(header, at.saturating_add(44)),
            af_hash: hash,
        });
    }
    Ok(Metadata {
        key_len,
        digest,
        keyslots,
        segment: Segment {
            offset: u64::from(be32(header, 104)).saturating_mul(512),
            size: None,
            cipher,
            sector_size: 512,
            iv_tweak: 0,
        },
    })
}

/// The JSON text of the LUKS2 header copy `area` (its binary header and JSON area, the size
/// its binary header gives), if its checksum matches.
pub(crate) fn luks2_json(area: &[u8]) -> Result<&str, String> {
    let algorithm = text(area, 72, 32);
    if algorithm != "sha256" {
        return Err(format!(
            "a header checksum of {algorithm:?} (only sha256 is read)"
        ));
    }
    let stored = area
        .get(CSUM_AT..CSUM_AT + 32)
        .ok_or("the LUKS2 header is cut short")?;
    let mut hasher = Sha256::new();
    hasher.update(&area[..CSUM_AT]);
    hasher.update([0u8; CSUM_LEN]);
    hasher.update(area.get(CSUM_AT + CSUM_LEN..).unwrap_or(&[]));
    if hasher.finalize().as_slice() != stored {
        return Err("the LUKS2 header fails its checksum".into());
    }
    let json = area.get(LUKS2_BINARY..).unwrap_or(&[]);
    let end = json.iter().position(|&b| b == 0).unwrap_or(json.len());
    std::str::from_utf8(&json[..end]).map_err(|_| "the LUKS2 metadata is not UTF-8".into())
}

/// A JSON number, or a number written as a string (LUKS2 writes offsets and sizes so).
fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A field that must be a number.
fn field_u64(object: &Value, name: &str, what: &str) -> Result<u64, String> {
    number(&object[name]).ok_or_else(|| format!("{what} has no {name}"))
}

/// A field that must be a string.
fn field_str<'v>(object: &'v Value, name: &str, what: &str) -> Result<&'v str, String> {
    object[name]
        .as_str()
        .ok_or_else(|| format!("{what} has no {name}"))
}

/// A base64 field.
fn field_b64(object: &Value, name: &str, what: &str) -> Result<Vec<u8>, String> {
    base64(field_str(object, name, what)?).ok_or_else(|| format!("{what}: {name} is not base64"))
}

/// A `u32` field.
fn field_u32(object: &Value, name: &str, what: &str) -> Result<u32, String> {
    u32::try_from(field_u64(object, name, what)?).map_err(|_| format!("{what}: {name} too large"))
}

/// Parses LUKS2 JSON metadata: the first crypt segment, the digest of its key, the keyslots
/// that digest names.
pub(crate) fn luks2(json: &str) -> Result<Metadata, String> {
    let root: Value =
        serde_json::from_str(json).map_err(|e| format!("the LUKS2 metadata is not JSON: {e}"))?;
    let segments = root["segments"]
        .as_object()
        .ok_or("the LUKS2 metadata has no segments")?;
    let (segment_name, segment) = segments
        .iter()
        .filter(|(_, s)| s["type"] == "crypt")
        .min_by_key(|(name, _)| name.parse::<u64>().unwrap_or(u64::MAX))
        .ok_or("the LUKS2 metadata has no crypt segment")?;
    let what = "the LUKS2 segment";
    let sector_size = field_u64(segment, "sector_size", what)?;
    if !(512..=4096).contains(&sector_size) || !sector_size.is_power_of_two() {
        return Err(format!("a sector size of {sector_size} bytes"));
    }
    let segment_out = Segment {
        offset: field_u64(segment, "offset", what)?,
        size: number(&segment["size"]),
        cipher: field_str(segment, "encryption", what)?.to_owned(),
        sector_size,
        iv_tweak: field_u64(segment, "iv_tweak", what).unwrap_or(0),
    };
    let names_segment = |digest: &&Value| {
        digest["segments"]
            .as_array()
            .is_some_and(|list| list.iter().any(|s| s.as_str() == Some(segment_name)))
    };
    let digest = root["digests"]
        .as_object()
        .and_then(|all| all.values().find(names_segment))
        .ok_or("no LUKS2 digest names the segment")?;
    let what = "the LUKS2 digest";
    if digest["type"] != "pbkdf2" {
        return Err(format!(
            "a digest of type {} (only pbkdf2 is read)",
            digest["type"]
        ));
    }
    let key_digest = KeyDigest {
        hash: Hash::named(field_str(digest, "hash", what)?)?,
        salt: field_b64(digest, "salt", what)?,
        iterations: field_u32(digest, "iterations", what)?,
        value: field_b64(digest, "digest", what)?,
    };
    let slot_names: Vec<&str> = digest["keyslots"]
        .as_array()
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut keyslots = Vec::new();
    let mut key_len = None;
    for name in slot_names.iter().take(MAX_KEYSLOTS) {
        let slot = &root["keyslots"][*name];
        let what = format!("LUKS2 keyslot {name}");
        let what = what.as_str();
        if slot["type"] != "luks2" || slot["area"]["type"] != "raw" {
            continue;
        }
        let kdf = &slot["kdf"];
        let kind = field_str(kdf, "type", what)?;
        let parsed_kdf = match kind {
            "pbkdf2" => Kdf::Pbkdf2 {
                hash: Hash::named(field_str(kdf, "hash", what)?)?,
                iterations: field_u32(kdf, "iterations", what)?,
            },
            "argon2i" | "argon2id" => Kdf::Argon2 {
                id: kind == "argon2id",
                time: field_u32(kdf, "time", what)?,
                memory: field_u32(kdf, "memory", what)?,
                lanes: field_u32(kdf, "cpus", what)?,
            },
            other => {
                return Err(format!(
                    "{what}: a KDF {other:?} (pbkdf2, argon2i, argon2id)"
                ));
            }
        };
        let area = &slot["area"];
        let af = &slot["af"];
        if af["type"] != "luks1" {
            return Err(format!("{what}: an AF of type {}", af["type"]));
        }
        let len = usize::try_from(field_u64(slot, "key_size", what)?).unwrap_or(usize::MAX);
        key_len = Some(len);
        let cipher_key_len =
            usize::try_from(field_u64(area, "key_size", what)?).unwrap_or(usize::MAX);
        if cipher_key_len == 0 || cipher_key_len > MAX_KEY_BYTES {
            return Err(format!(
                "{what}: a key of {cipher_key_len} bytes for its area"
            ));
        }
        keyslots.push(Keyslot {
            name: (*name).to_owned(),
            kdf: parsed_kdf,
            salt: field_b64(kdf, "salt", what)?,
            offset: field_u64(area, "offset", what)?,
            cipher: field_str(area, "encryption", what)?.to_owned(),
            cipher_key_len,
            stripes: field_u32(af, "stripes", what)?,
            af_hash: Hash::named(field_str(af, "hash", what)?)?,
        });
    }
    // Without a keyslot, the key's size is the digest's to give: the cipher's key.
    let key_len = key_len.unwrap_or(64);
    if key_len == 0 || key_len > MAX_KEY_BYTES {
        return Err(format!("a volume key of {key_len} bytes"));
    }
    Ok(Metadata {
        key_len,
        digest: key_digest,
        keyslots,
        segment: segment_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The metadata `cryptsetup luksFormat --type luks2 --pbkdf argon2id` writes, in the
    /// fields read.
    const JSON: &str = r#"{"keyslots":{"0":{"type":"luks2","key_size":64,
        "af":{"type":"luks1","stripes":4000,"hash":"sha256"},
        "area":{"type":"raw","offset":"32768","size":"258048","encryption":"aes-xts-plain64","key_size":64},
        "kdf":{"type":"argon2id","time":4,"memory":8192,"cpus":2,"salt":"aGVsbG8="}}},
        "tokens":{},
        "segments":{"0":{"type":"crypt","offset":"16777216","size":"dynamic","iv_tweak":"0",
        "encryption":"aes-xts-plain64","sector_size":4096}},
        "digests":{"0":{"type":"pbkdf2","keyslots":["0"],"segments":["0"],"hash":"sha256",
        "iterations":1000,"salt":"aGVsbG8=","digest":"aGVsbG8="}},
        "config":{"json_size":"12288","keyslots_size":"16744448"}}"#;

    #[test]
    fn luks2_metadata() {
        let meta = luks2(JSON).unwrap();
        assert_eq!(meta.key_len, 64);
        assert_eq!(meta.segment.offset, 16 << 20);
        assert_eq!(meta.segment.size, None);
        assert_eq!(meta.segment.sector_size, 4096);
        assert_eq!(meta.keyslots.len(), 1);
        let slot = &meta.keyslots[0];
        assert_eq!(slot.offset, 32768);
        assert_eq!(slot.stripes, 4000);
        assert_eq!(
            slot.kdf,
            Kdf::Argon2 {
                id: true,
                time: 4,
                memory: 8192,
                lanes: 2
            }
        );
        assert_eq!(meta.digest.value, b"hello");
    }

    #[test]
    fn hostile_luks2_metadata_is_refused_with_a_reason() {
        let cases = [
            (JSON.replace("4096}", "1000}"), "sector size"),
            (
                JSON.replace(r#""kdf":{"type":"argon2id""#, r#""kdf":{"type":"scrypt""#),
                "KDF",
            ),
            (
                JSON.replace(r#""salt":"aGVsbG8=","digest""#, r#""salt":"!!","digest""#),
                "base64",
            ),
            (
                JSON.replace(r#""type":"crypt""#, r#""type":"linear""#),
                "no crypt segment",
            ),
            (
                JSON.replace(r#""segments":["0"]"#, r#""segments":["7"]"#),
                "no LUKS2 digest",
            ),
            ("[1, 2".to_string(), "not JSON"),
            (
                JSON.replace(r#""key_size":64,"#, r#""key_size":100000,"#),
                "volume key",
            ),
        ];
        for (json, want) in cases {
            let error = luks2(&json).unwrap_err();
            assert!(error.contains(want), "{want}: {error}");
        }
    }

    #[test]
    fn luks1_keyslots() {
        let mut header = vec![0u8; 592];
        header[8..11].copy_from_slice(b"aes");
        header[40..51].copy_from_slice(b"xts-plain64");
        header[72..78].copy_from_slice(b"sha256");
        header[104..108].copy_from_slice(&4096u32.to_be_bytes());
        header[108..112].copy_from_slice(&64u32.to_be_bytes());
        let slot = 208 + 48;
        header[slot..slot + 4].copy_from_slice(&LUKS1_ACTIVE.to_be_bytes());
        header[slot + 4..slot + 8].copy_from_slice(&1000u32.to_be_bytes());
        header[slot + 40..slot + 44].copy_from_slice(&8u32.to_be_bytes());
        header[slot + 44..slot + 48].copy_from_slice(&4000u32.to_be_bytes());
        let meta = luks1(&header).unwrap();
        assert_eq!(meta.segment.cipher, "aes-xts-plain64");
        assert_eq!(meta.segment.offset, 4096 * 512);
        assert_eq!(meta.keyslots.len(), 1);
        assert_eq!(meta.keyslots[0].name, "1");
        assert_eq!(meta.keyslots[0].offset, 8 * 512);
        header[72..78].copy_from_slice(b"md5\0\0\0");
        assert!(luks1(&header).unwrap_err().contains("md5"));
        assert!(luks1(&header[..300]).is_err());
    }
}
