//! From a passphrase to a LUKS volume key: the key derivation functions of keyslots (PBKDF2
//! with SHA-1, SHA-256 or SHA-512; Argon2i and Argon2id), the anti-forensic splitter's merge
//! (LUKS1's AF, used by LUKS2 keyslots too) and the digest that tells a right volume key.
//!
//! Every cost comes from a header an attacker may have written: PBKDF2 iterations, Argon2
//! time and memory and the AF stripes are capped (see the constants), and past a cap the
//! keyslot is refused with an error that says so, before any work.

use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

/// PBKDF2 iterations at most (cryptsetup's two seconds are a few million on fast machines).
pub(crate) const MAX_PBKDF2_ITERATIONS: u32 = 100_000_000;
/// Argon2 memory at most, in KiB: 4 GiB (cryptsetup's own maximum).
pub(crate) const MAX_ARGON2_MEMORY_KIB: u32 = 4 << 20;
/// Argon2 passes at most.
pub(crate) const MAX_ARGON2_TIME: u32 = 1000;
/// Argon2 lanes at most.
pub(crate) const MAX_ARGON2_LANES: u32 = 64;
/// AF stripes at most (cryptsetup always writes 4000).
pub(crate) const MAX_STRIPES: u32 = 4000;
/// A volume key's bytes at most.
pub(crate) const MAX_KEY_BYTES: usize = 128;

/// A hash by its LUKS name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha1,
    Sha256,
    Sha512,
}

impl Hash {
    /// The hash `name` (`sha256`) names.
    pub(crate) fn named(name: &str) -> Result<Hash, String> {
        match name.to_ascii_lowercase().as_str() {
            "sha1" => Ok(Hash::Sha1),
            "sha256" => Ok(Hash::Sha256),
            "sha512" => Ok(Hash::Sha512),
            _ => Err(format!(
                "the hash {name:?} is not supported (only sha1, sha256, sha512)"
            )),
        }
    }

    /// The digest's bytes.
    fn len(self) -> usize {
        match self {
            Hash::Sha1 => 20,
            Hash::Sha256 => 32,
            Hash::Sha512 => 64,
        }
    }

    /// The digest of `parts`, one after the other.
    fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn of<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut hasher = D::new();
            for part in parts {
                hasher.update(part);
            }
            hasher.finalize().to_vec()
        }
        match self {
            Hash::Sha1 => of::<Sha1>(parts),
            Hash::Sha256 => of::<Sha256>(parts),
            Hash::Sha512 => of::<Sha512>(parts),
        }
    }

    /// PBKDF2-HMAC of `secret` and `salt`, `iterations` rounds, into `out`.
    pub(crate) fn pbkdf2(
        self,
        secret: &[u8],
        salt: &[u8],
        iterations: u32,
        out: &mut [u8],
    ) -> Result<(), String> {
        if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS {
            return Err(format!(
                "{iterations} PBKDF2 iterations (at most {MAX_PBKDF2_ITERATIONS} are run)"
            ));
        }
        match self {
            Hash::Sha1 => pbkdf2::pbkdf2_hmac::<Sha1>(secret, salt, iterations, out),
            Hash::Sha256 => pbkdf2::pbkdf2_hmac::<Sha256>(secret, salt, iterations, out),
            Hash::Sha512 => pbkdf2::pbkdf2_hmac::<Sha512>(secret, salt, iterations, out),
        }
        Ok(())
    }
}

/// A keyslot's key derivation function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kdf {
    /// PBKDF2 with this hash and iterations.
    Pbkdf2 { hash: Hash, iterations: u32 },
    /// Argon2i or Argon2id (`id`) with its time, memory (KiB) and lanes.
    Argon2 {
        id: bool,
        time: u32,
        memory: u32,
        lanes: u32,
    },
}

impl Kdf {
    /// Derives `out.len()` bytes from `passphrase` and `salt`; an error says why the
    /// keyslot is refused (a cost past its cap).
    pub(crate) fn derive(
        &self,
        passphrase: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), String> {
        match *self {
            Kdf::Pbkdf2 { hash, iterations } => hash.pbkdf2(passphrase, salt, iterations, out),
            Kdf::Argon2 {
                id,
                time,
                memory,
                lanes,
            } => {
                if memory > MAX_ARGON2_MEMORY_KIB {
                    return Err(format!(
                        "Argon2 memory of {memory} KiB (at most {MAX_ARGON2_MEMORY_KIB} KiB, 4 \
                         GiB, are given)"
                    ));
                }
                if time == 0 || time > MAX_ARGON2_TIME || lanes == 0 || lanes > MAX_ARGON2_LANES {
                    return Err(format!(
                        "Argon2 with {time} passes and {lanes} lanes (at most {MAX_ARGON2_TIME} \
                         and {MAX_ARGON2_LANES})"
                    ));
                }
                let params = argon2::Params::new(memory, time, lanes, Some(out.len()))
                    .map_err(|e| format!("Argon2 parameters refused: {e}"))?;
                let algorithm = if id {
                    argon2::Algorithm::Argon2id
                } else {
                    argon2::Algorithm::Argon2i
                };
                argon2::Argon2::new(algorithm, argon2::Version::V0x13, params)
                    .hash_password_into(passphrase, salt, out)
                    .map_err(|e| format!("Argon2 failed: {e}"))
            }
        }
    }
}

/// Merges the `stripes` stripes of `material` (each `key_len` bytes) split with `hash` into
/// the key they hide: each stripe but the last XORed into the running key and diffused, the
/// last XORed in.
pub(crate) fn af_merge(
    material: &[u8],
    key_len: usize,
    stripes: u32,
    hash: Hash,
) -> Option<Vec<u8>> {
    if stripes == 0 || stripes > MAX_STRIPES || key_len == 0 || key_len > MAX_KEY_BYTES {
        return None;
    }
    let stripes = usize::try_from(stripes).ok()?;
    let material = material.get(..key_len.checked_mul(stripes)?)?;
    let mut key = vec![0u8; key_len];
    let (rest, last) = material.split_at(key_len.checked_mul(stripes.checked_sub(1)?)?);
    for stripe in rest.chunks_exact(key_len) {
        key.iter_mut().zip(stripe).for_each(|(k, s)| *k ^= s);
        key = diffuse(&key, hash);
    }
    key.iter_mut().zip(last).for_each(|(k, s)| *k ^= s);
    Some(key)
}

/// AF's diffusion: each hash-sized block of `data` replaced by the hash of its index (32-bit
/// big endian) and itself, cut to its length.
fn diffuse(data: &[u8], hash: Hash) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    for (index, block) in (0u32..).zip(data.chunks(hash.len())) {
        let digest = hash.digest(&[&index.to_be_bytes(), block]);
        out.extend_from_slice(digest.get(..block.len()).unwrap_or(&digest));
    }
    out
}

/// Whether `key` is the volume key a digest of `expected` (PBKDF2 with `hash`, `salt` and
/// `iterations`) records.
pub(crate) fn digest_matches(
    key: &[u8],
    hash: Hash,
    salt: &[u8],
    iterations: u32,
    expected: &[u8],
) -> Result<bool, String> {
    if expected.is_empty() || expected.len() > 64 {
        return Ok(false);
    }
    let mut out = vec![0u8; expected.len()];
    hash.pbkdf2(key, salt, iterations, &mut out)?;
    // Not secret-dependent timing that matters here: the key is the user's, read offline.
    Ok(out == expected)
}

/// Decodes standard base64 (LUKS2 writes salts and digests so); `None` if it is not.
pub(crate) fn base64(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(text.len());
    let mut acc = 0u32;
    let mut bits = 0u32;
    for c in text.bytes().filter(|&c| c != b'=') {
        let value = ALPHABET.iter().position(|&a| a == c)?;
        acc = (acc << 6) | u32::try_from(value).ok()?;
        bits = bits.wrapping_add(6);
        if bits >= 8 {
            bits = bits.wrapping_sub(8);
            out.push((acc >> bits).to_le_bytes()[0]);
            acc &= (1u32 << bits).wrapping_sub(1);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn af_merge_undoes_a_split() {
        // A split made by hand: random stripes, the last one chosen so they merge to `key`.
        let key: Vec<u8> = (0..32).collect();
        let stripes = 5;
        let mut material = Vec::new();
        let mut running = vec![0u8; 32];
        for i in 0..stripes - 1 {
            let stripe: Vec<u8> = (0..32).map(|j| (i * 31 + j * 7) as u8).collect();
            running.iter_mut().zip(&stripe).for_each(|(r, s)| *r ^= s);
            running = diffuse(&running, Hash::Sha256);
            material.extend(stripe);
        }
        material.extend(running.iter().zip(&key).map(|(r, k)| r ^ k));
        assert_eq!(af_merge(&material, 32, stripes, Hash::Sha256), Some(key));
        assert_eq!(af_merge(&material[..100], 32, stripes, Hash::Sha256), None);
        assert_eq!(af_merge(&material, 32, 0, Hash::Sha256), None);
        assert_eq!(af_merge(&material, 32, MAX_STRIPES + 1, Hash::Sha256), None);
    }

    #[test]
    fn costs_past_their_caps_are_refused_before_any_work() {
        let mut out = [0u8; 32];
        let pbkdf2 = Kdf::Pbkdf2 {
            hash: Hash::Sha256,
            iterations: u32::MAX,
        };
        assert!(
            pbkdf2
                .derive(b"x", b"salt", &mut out)
                .unwrap_err()
                .contains("iterations")
        );
        let memory = Kdf::Argon2 {
            id: true,
            time: 4,
            memory: u32::MAX,
            lanes: 1,
        };
        assert!(
            memory
                .derive(b"x", b"salt", &mut out)
                .unwrap_err()
                .contains("4 GiB")
        );
        let time = Kdf::Argon2 {
            id: true,
            time: u32::MAX,
            memory: 64,
            lanes: 1,
        };
        assert!(
            time.derive(b"x", b"salt", &mut out)
                .unwrap_err()
                .contains("passes")
        );
    }

    #[test]
    fn pbkdf2_and_argon2_vectors() {
        // RFC 6070: PBKDF2-HMAC-SHA1("password", "salt", 2, 20).
        let mut out = [0u8; 20];
        Hash::Sha1
            .pbkdf2(b"password", b"salt", 2, &mut out)
            .unwrap();
        assert_eq!(out[..4], [0xea, 0x6c, 0x01, 0x4d]);
        // Argon2 runs with small costs, and the variants differ.
        let (mut i, mut id) = ([0u8; 32], [0u8; 32]);
        let argon = |id_variant: bool, out: &mut [u8]| {
            Kdf::Argon2 {
                id: id_variant,
                time: 1,
                memory: 64,
                lanes: 1,
            }
            .derive(b"passphrase", b"somesaltsomesalt", out)
            .unwrap()
        };
        argon(false, &mut i);
        argon(true, &mut id);
        assert_ne!(i, id);
    }

    #[test]
    fn base64_decodes() {
        assert_eq!(base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64("").unwrap(), b"");
        assert_eq!(base64("a$b"), None);
    }
}
