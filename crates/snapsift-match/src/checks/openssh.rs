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

#[cfg(test)]
mod tests {
    use super::super::pem::tests::unwrap;
    use super::super::testdata::{OPENSSH_ED25519, OPENSSH_ED25519_ENCRYPTED, OPENSSH_RSA_1024};
    use super::*;

    /// An SSH wire `string`.
    fn s(bytes: &[u8]) -> Vec<u8> {
        [&(bytes.len() as u32).to_be_bytes()[..], bytes].concat()
    }

    /// An openssh-key-v1 file from its fields.
    fn file(cipher: &[u8], kdf: &[u8], count: u32, publics: &[&[u8]], private: &[u8]) -> Vec<u8> {
        let mut f = b"openssh-key-v1\0".to_vec();
        f.extend(s(cipher));
        f.extend(s(kdf));
        f.extend(s(b""));
        f.extend(count.to_be_bytes());
        for p in publics {
            f.extend(s(p));
        }
        f.extend(s(private));
        f
    }

    fn ed25519_public() -> Vec<u8> {
        [s(b"ssh-ed25519"), s(&[7; 32])].concat()
    }

    #[test]
    fn generated_keys_parse() {
        assert_eq!(
            parse(&unwrap(OPENSSH_ED25519)),
            Ok(vec![Fact::new("key_type", "ed25519")])
        );
        assert!(parse(&unwrap(OPENSSH_ED25519_ENCRYPTED)).is_ok());
        assert!(parse(&unwrap(OPENSSH_RSA_1024)).is_ok());
    }

    #[test]
    fn built_files_follow_the_rules() {
        let public = ed25519_public();
        let private = [&[1, 2, 3, 4, 1, 2, 3, 4][..], &s(b"ssh-ed25519"), &[1]].concat();
        assert_eq!(private.len() % 8, 0);
        assert!(parse(&file(b"none", b"none", 1, &[&public], &private)).is_ok());
        // Two keys are read (OpenSSH writes one, the format allows more).
        assert!(parse(&file(b"none", b"none", 2, &[&public, &public], &private)).is_ok());
        for (bytes, why) in [
            (file(b"none", b"none", 0, &[], &private), "key count"),
            (
                file(b"none", b"none", 17, &[&public], &private),
                "key count",
            ),
            (file(b"none", b"none", 2, &[&public], &private), "cut short"),
            (
                file(b"none", b"bcrypt", 1, &[&public], &private),
                "disagree",
            ),
            (
                file(b"aes256-ctr", b"none", 1, &[&public], &[0; 16]),
                "disagree",
            ),
            (file(b"", b"none", 1, &[&public], &private), "cipher name"),
            (
                file(b"none", b"none", 1, &[&public], &private[..12]),
                "multiple of 8",
            ),
            (file(b"none", b"none", 1, &[&public], &[]), "multiple of 8"),
            (
                file(
                    b"none",
                    b"none",
                    1,
                    &[&public],
                    &[[1, 2, 3, 4, 1, 2, 3, 5], [0; 8]].concat(),
                ),
                "check numbers",
            ),
            (
                file(
                    b"none",
                    b"none",
                    1,
                    &[&public],
                    &[
                        &[1, 2, 3, 4, 1, 2, 3, 4][..],
                        &s(b"ssh-rsa"),
                        &[1, 2, 3, 4, 5],
                    ]
                    .concat(),
                ),
                "algorithm",
            ),
            (b"openssh-key-v2\0".to_vec(), "magic"),
            (
                file(b"none", b"none", 1, &[b"\xff\xff"], &private),
                "public key",
            ),
        ] {
            let err = parse(&bytes).unwrap_err();
            assert!(err.contains(why), "{why}: {err}");
        }
        // A huge string length is refused before anything is read.
        let mut huge = b"openssh-key-v1\0".to_vec();
        huge.extend([0xff, 0xff, 0xff, 0xff]);
        assert!(parse(&huge).is_err());
    }
}
