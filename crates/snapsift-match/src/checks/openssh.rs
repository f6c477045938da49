//! OpenSSH's own private key format, `openssh-key-v1` (OpenSSH's `PROTOCOL.key`), as
//! `pem-key` reads it inside `-----BEGIN OPENSSH PRIVATE KEY-----`.
//!
//! **Rule:** the bytes begin `openssh-key-v1\0`, then the strings cipher name, KDF name and
//! KDF options, a key count of 1 to 16, that many public key strings and the private section
//! string (an AEAD tag may follow it). The cipher and KDF names are printable; `none` cipher
//! goes with `none` KDF and any other cipher with a KDF other than `none`; the private section
//! is a non-empty multiple of 8 bytes. Unencrypted, the private section must open with two
//! equal check numbers and then the first public key's algorithm name (a corrupted or
//! random body fails here). Facts: `key_type` (with `key_bits` for RSA and DSA, `curve` for
//! ECDSA) from the first public key; `encrypted` yes and `cipher` when it is encrypted.

use super::sshwire::{Wire, public_key_facts};
use super::text::printable;
use super::{Fact, Outcome};

/// The most keys one file is read for (OpenSSH itself writes and reads exactly one).
const MAX_KEYS: u32 = 16;

/// Parses the bytes of an OpenSSH private key.
pub(super) fn parse(bytes: &[u8]) -> Outcome {
    let rest = bytes.strip_prefix(b"openssh-key-v1\0").ok_or_else(|| {
        "the OpenSSH key does not begin with its magic openssh-key-v1".to_string()
    })?;
    let mut w = Wire::new(rest);
    let cipher = w.string("the cipher name")?;
    let cipher_name = printable(cipher, 64)
        .ok_or_else(|| "the cipher name is empty or not printable".to_string())?;
    let kdf = w.string("the KDF name")?;
    if printable(kdf, 64).is_none() {
        return Err("the KDF name is empty or not printable".into());
    }
    w.string("the KDF options")?;
    let encrypted = cipher != b"none";
    if encrypted == (kdf == b"none") {
        return Err("the cipher and the KDF disagree on whether the key is encrypted".into());
    }
    let count = w.u32("the number of keys")?;
    if count == 0 || count > MAX_KEYS {
        return Err(format!("the key count is {count}, not 1 to {MAX_KEYS}"));
    }
    let first_public = w.string("the public key")?;
    for _ in 1..count {
        w.string("a further public key")?;
    }
    let private = w.string("the private section")?;
    if private.is_empty() || !private.len().is_multiple_of(8) {
        return Err(format!(
            "the private section has {} bytes, not a non-empty multiple of 8",
            private.len()
        ));
    }
    let (algorithm, mut facts) = public_key_facts(first_public)?;
    if encrypted {
        facts.push(Fact::new("encrypted", "yes"));
        facts.push(Fact::new("cipher", cipher_name));
    } else {
        let mut p = Wire::new(private);
        let check1 = p.u32("the first check number")?;
        let check2 = p.u32("the second check number")?;
        if check1 != check2 {
            return Err("the private section's check numbers differ: the key is corrupt".into());
        }
        if p.string("the private key's algorithm")? != algorithm.as_slice() {
            return Err("the private key's algorithm is not the public key's".into());
        }
    }
    Ok(facts)
}
