//! The sector ciphers of LUKS volumes and keyslots, decryption only: AES in XTS mode with
//! `plain64` (or `plain`) sector numbers, and AES in CBC mode with `essiv:sha256`, `plain64`
//! or `plain` IVs, as dm-crypt names them (`aes-xts-plain64`, `aes-cbc-essiv:sha256`).
//!
//! A sector's IV (XTS: its tweak) is its number, counted in 512-byte units from the start of
//! the encrypted area whatever the sector size (as dm-crypt without `iv_large_sectors`, and
//! cryptsetup's own offline encryption, number a LUKS2 volume's 4096-byte sectors: 0, 8,
//! 16...), plus the area's IV offset: 64-bit little endian
//! (`plain64`) or its low 32 bits (`plain`), zero-padded to 16 bytes. ESSIV encrypts that
//! block with AES whose key is the SHA-256 of the volume key.

use aes::cipher::{Array, KeyInit};
use aes::cipher::{BlockCipherEncrypt, BlockModeDecrypt, InnerIvInit};
use aes::{Aes128, Aes192, Aes256};
use sha2::{Digest, Sha256};
use xts_mode::Xts128;

/// AES with a key of 128, 192 or 256 bits.
#[derive(Clone)]
enum Aes {
    A128(Aes128),
    A192(Aes192),
    A256(Aes256),
}

impl Aes {
    /// AES with `key` (16, 24 or 32 bytes).
    fn new(key: &[u8]) -> Option<Aes> {
        Some(match key.len() {
            16 => Aes::A128(Aes128::new_from_slice(key).ok()?),
            24 => Aes::A192(Aes192::new_from_slice(key).ok()?),
            32 => Aes::A256(Aes256::new_from_slice(key).ok()?),
            _ => return None,
        })
    }

    /// Encrypts one block in place.
    fn encrypt(&self, block: &mut [u8; 16]) {
        let mut array = Array::from(*block);
        match self {
            Aes::A128(aes) => aes.encrypt_block(&mut array),
            Aes::A192(aes) => aes.encrypt_block(&mut array),
            Aes::A256(aes) => aes.encrypt_block(&mut array),
        }
        block.copy_from_slice(&array);
    }

    /// Decrypts whole 16-byte blocks of `data` in CBC mode from `iv` (a tail shorter than a
    /// block is left as it is).
    fn decrypt_cbc(&self, iv: &[u8; 16], data: &mut [u8]) {
        let iv = Array::from(*iv);
        let (blocks, _) = Array::slice_as_chunks_mut(data);
        match self {
            Aes::A128(aes) => {
                cbc::Decryptor::inner_iv_init(aes.clone(), &iv).decrypt_blocks(blocks)
            }
            Aes::A192(aes) => {
                cbc::Decryptor::inner_iv_init(aes.clone(), &iv).decrypt_blocks(blocks)
            }
            Aes::A256(aes) => {
                cbc::Decryptor::inner_iv_init(aes.clone(), &iv).decrypt_blocks(blocks)
            }
        }
    }
}

/// How a sector's number becomes its IV.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Iv {
    /// 64-bit little endian.
    Plain64,
    /// The low 32 bits, little endian.
    Plain,
}

impl Iv {
    /// The IV block of sector `sector`.
    fn block(self, sector: u64) -> [u8; 16] {
        let mut block = [0u8; 16];
        match self {
            Iv::Plain64 => block[..8].copy_from_slice(&sector.to_le_bytes()),
            Iv::Plain => block[..4].copy_from_slice(&sector.to_le_bytes()[..4]),
        }
        block
    }
}

/// The mode, with its keys.
enum Mode {
    /// XTS: the key's halves, data and tweak.
    Xts128(Box<Xts128<Aes128>>),
    Xts256(Box<Xts128<Aes256>>),
    /// CBC, with ESSIV's cipher where the IV is ESSIV.
    Cbc {
        data: Box<Aes>,
        essiv: Option<Box<Aes>>,
    },
}

/// A sector cipher with its key: decrypts sectors by number.
pub(crate) struct SectorCipher {
    mode: Mode,
    iv: Iv,
}

impl std::fmt::Debug for SectorCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.write_str("SectorCipher")
    }
}

/// The cipher specs read: `aes-xts-plain64` and the others the module docs name.
pub(crate) const SUPPORTED: &str =
    "aes-xts-plain64, aes-xts-plain, aes-cbc-essiv:sha256, aes-cbc-plain64, aes-cbc-plain";

impl SectorCipher {
    /// The cipher `spec` (`aes-xts-plain64`) keyed with `key`; an error names what is not
    /// supported or a key of the wrong size.
    pub(crate) fn new(spec: &str, key: &[u8]) -> Result<SectorCipher, String> {
        let unsupported = || format!("the cipher {spec:?} is not supported (only {SUPPORTED})");
        let mode = spec.strip_prefix("aes-").ok_or_else(unsupported)?;
        let (chaining, iv) = mode.split_once('-').ok_or_else(unsupported)?;
        let (iv, essiv) = match iv {
            "plain64" => (Iv::Plain64, false),
            "plain" => (Iv::Plain, false),
            "essiv:sha256" => (Iv::Plain64, true),
            _ => return Err(unsupported()),
        };
        let wrong_key = || format!("a key of {} bytes for {spec}", key.len());
        let mode = match (chaining, essiv) {
            ("xts", false) => {
                let (first, second) = key.split_at(key.len() / 2);
                match key.len() {
                    32 => Mode::Xts128(Box::new(Xts128::new(
                        Aes128::new_from_slice(first).map_err(|_| wrong_key())?,
                        Aes128::new_from_slice(second).map_err(|_| wrong_key())?,
                    ))),
                    64 => Mode::Xts256(Box::new(Xts128::new(
                        Aes256::new_from_slice(first).map_err(|_| wrong_key())?,
                        Aes256::new_from_slice(second).map_err(|_| wrong_key())?,
                    ))),
                    _ => return Err(wrong_key()),
                }
            }
            ("cbc", essiv) => {
                let data = Box::new(Aes::new(key).ok_or_else(wrong_key)?);
                let essiv = if essiv {
                    let salt = Sha256::digest(key);
                    Some(Box::new(Aes::new(&salt).ok_or_else(wrong_key)?))
                } else {
                    None
                };
                Mode::Cbc { data, essiv }
            }
            _ => return Err(unsupported()),
        };
        Ok(SectorCipher { mode, iv })
    }

    /// Decrypts `data`, whole sectors of `sector_size` bytes (a multiple of 16) whose first
    /// has the IV number `first` (IV offset included), in place.
    pub(crate) fn decrypt(&self, data: &mut [u8], sector_size: usize, first: u64) {
        let step = u64::try_from(sector_size.checked_div(512).unwrap_or(1).max(1)).unwrap_or(1);
        for (index, chunk) in (0u64..).zip(data.chunks_mut(sector_size.max(16))) {
            let iv = self.iv.block(first.wrapping_add(index.wrapping_mul(step)));
            match &self.mode {
                Mode::Xts128(xts) => xts.decrypt_sector(chunk, Array::from(iv)),
                Mode::Xts256(xts) => xts.decrypt_sector(chunk, Array::from(iv)),
                Mode::Cbc { data, essiv } => {
                    let mut iv = iv;
                    if let Some(essiv) = essiv {
                        essiv.encrypt(&mut iv);
                    }
                    data.decrypt_cbc(&iv, chunk);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_and_key_sizes() {
        assert!(SectorCipher::new("aes-xts-plain64", &[1; 64]).is_ok());
        assert!(SectorCipher::new("aes-xts-plain64", &[1; 32]).is_ok());
        assert!(SectorCipher::new("aes-cbc-essiv:sha256", &[1; 32]).is_ok());
        assert!(SectorCipher::new("aes-cbc-plain", &[1; 16]).is_ok());
        let wrong = SectorCipher::new("aes-xts-plain64", &[1; 48]).unwrap_err();
        assert!(wrong.contains("48 bytes"), "{wrong}");
        for spec in ["serpent-xts-plain64", "aes-ecb", "aes-xts-benbi", "aes"] {
            let error = SectorCipher::new(spec, &[1; 32]).unwrap_err();
            assert!(error.contains("not supported"), "{error}");
        }
    }

    #[test]
    fn xts_is_the_ieee_vector() {
        // IEEE 1619 vector 4 (AES-128-XTS, data unit 0 of 512 bytes): its first ciphertext
        // block decrypts to the first plaintext block (bytes 0..16 = 00 01 .. 0f).
        let key = hex("2718281828459045235360287471352631415926535897932384626433832795");
        let cipher = SectorCipher::new("aes-xts-plain64", &key).unwrap();
        let mut sector = hex(concat!(
            "27a7479befa1d476489f308cd4cfa6e2a96e4bbe3208ff25287dd3819616e89c",
            "c78cf7f5e543445f8333d8fa7f56000005279fa5d8b5e4ad40e736ddb4d35412",
        ));
        sector.resize(512, 0);
        cipher.decrypt(&mut sector, 512, 0);
        assert_eq!(&sector[..16], &(0u8..16).collect::<Vec<_>>()[..]);
    }

    #[test]
    fn cbc_essiv_matches_an_independent_encryptor() {
        // Python's `cryptography` (OpenSSL): AES-256-CBC, IV = AES(SHA-256(key), sector 5),
        // over bytes 0, 1, 2...: its first two ciphertext blocks.
        let key: Vec<u8> = (0..32).collect();
        let cipher = SectorCipher::new("aes-cbc-essiv:sha256", &key).unwrap();
        let mut sector = hex("48c016b397feb53b0a508d772a0084ecde018ddb544876d2bccb55ea791ac980");
        sector.resize(512, 0);
        cipher.decrypt(&mut sector, 512, 5);
        assert_eq!(&sector[..32], &(0u8..32).collect::<Vec<_>>()[..]);
    }

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }
}
