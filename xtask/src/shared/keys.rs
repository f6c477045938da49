//! Real RSA private keys, generated deterministically, in the formats found on real disks.
//!
//! The sample disk must come out byte for byte the same on every regeneration, so that
//! `cargo xtask testdata` gives no diff unless something changed; `ssh-keygen` and
//! `openssl genrsa` draw fresh randomness each run. So the keys are generated here from the
//! seeded [`Prng`]: two random primes (trial division, then Miller-Rabin), e = 65537. They are
//! real, valid keys (`cargo xtask testdata` checks them with openssl and ssh-keygen), in the three
//! encodings a scanner meets: PKCS#1 PEM, PKCS#8 PEM and OpenSSH's own format.
//!
//! Never use this for anything but test data: the generator is seeded with a constant.

use num_bigint::BigUint;
use num_traits::{One, Zero};

use crate::shared::rng::Prng;

/// An RSA private key with its CRT parameters, as PKCS#1 lists them.
pub struct RsaKey {
    n: BigUint,
    e: BigUint,
    d: BigUint,
    p: BigUint,
    q: BigUint,
    dp: BigUint,
    dq: BigUint,
    qinv: BigUint,
}

impl RsaKey {
    /// Generates a key whose modulus has exactly `bits` bits.
    pub fn generate(rng: &mut Prng, bits: u64) -> RsaKey {
        let e = BigUint::from(65_537u32);
        let one = BigUint::one();
        loop {
            let p = random_prime(rng, bits - bits / 2, &e);
            let q = random_prime(rng, bits / 2, &e);
            // Both primes have their top two bits set, so the product has exactly `bits` bits;
            // the check guards the arithmetic rather than a real possibility.
            let n = &p * &q;
            if p == q || n.bits() != bits {
                continue;
            }
            // OpenSSL's convention: p > q.
            let (p, q) = if p > q { (p, q) } else { (q, p) };
            let p1 = &p - &one;
            let q1 = &q - &one;
            let Some(d) = e.modinv(&(&p1 * &q1)) else {
                continue;
            };
            let Some(qinv) = q.modinv(&p) else {
                continue;
            };
            let dp = &d % &p1;
            let dq = &d % &q1;
            return RsaKey {
                n,
                e,
                d,
                p,
                q,
                dp,
                dq,
                qinv,
            };
        }
    }

    /// PKCS#1 `RSAPrivateKey` as PEM: `-----BEGIN RSA PRIVATE KEY-----`.
    pub fn pkcs1_pem(&self) -> String {
        pem("RSA PRIVATE KEY", &self.pkcs1_der(), 64)
    }

    /// PKCS#8 `PrivateKeyInfo` wrapping the PKCS#1 key, as PEM: `-----BEGIN PRIVATE KEY-----`.
    pub fn pkcs8_pem(&self) -> String {
        // AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }
        let algorithm = der_seq(&[
            &[
                0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
            ],
            &[0x05, 0x00],
        ]);
        let der = der_seq(&[
            &der_uint(&BigUint::zero()),
            &algorithm,
            &der_tlv(0x04, &self.pkcs1_der()),
        ]);
        pem("PRIVATE KEY", &der, 64)
    }

    /// The key in OpenSSH's format (`openssh-key-v1`, unencrypted), as `ssh-keygen` writes it:
    /// `-----BEGIN OPENSSH PRIVATE KEY-----`. `check` fills the two check words that OpenSSH
    /// draws at random, so that the output is reproducible.
    pub fn openssh_pem(&self, comment: &str, check: u32) -> String {
        let mut private = Vec::new();
        ssh_u32(&mut private, check);
        ssh_u32(&mut private, check);
        ssh_string(&mut private, b"ssh-rsa");
        for value in [&self.n, &self.e, &self.d, &self.qinv, &self.p, &self.q] {
            ssh_mpint(&mut private, value);
        }
        ssh_string(&mut private, comment.as_bytes());
        // Pad to the cipher block size ("none" counts as 8) with the bytes 1, 2, 3, ...
        let mut pad = 1u8;
        while private.len() % 8 != 0 {
            private.push(pad);
            pad += 1;
        }
        let mut blob = b"openssh-key-v1\0".to_vec();
        ssh_string(&mut blob, b"none"); // cipher
        ssh_string(&mut blob, b"none"); // KDF
        ssh_string(&mut blob, b""); // KDF options
        ssh_u32(&mut blob, 1); // number of keys
        ssh_string(&mut blob, &self.ssh_public_blob());
        ssh_string(&mut blob, &private);
        pem("OPENSSH PRIVATE KEY", &blob, 70)
    }

    /// The public key as an `authorized_keys` line: `ssh-rsa AAAA... comment`.
    pub fn openssh_public(&self, comment: &str) -> String {
        format!("ssh-rsa {} {comment}", base64(&self.ssh_public_blob()))
    }

    fn ssh_public_blob(&self) -> Vec<u8> {
        let mut blob = Vec::new();
        ssh_string(&mut blob, b"ssh-rsa");
        ssh_mpint(&mut blob, &self.e);
        ssh_mpint(&mut blob, &self.n);
        blob
    }

    fn pkcs1_der(&self) -> Vec<u8> {
        let fields = [
            &BigUint::zero(), // version
            &self.n,
            &self.e,
            &self.d,
            &self.p,
            &self.q,
            &self.dp,
            &self.dq,
            &self.qinv,
        ];
        let encoded: Vec<Vec<u8>> = fields.iter().map(|v| der_uint(v)).collect();
        let parts: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
        der_seq(&parts)
    }
}

/// A random prime of exactly `bits` bits whose top two bits are set and for which `e` is
/// invertible modulo p - 1.
fn random_prime(rng: &mut Prng, bits: u64, e: &BigUint) -> BigUint {
    let small = small_primes();
    let mut bytes = vec![0u8; bits.div_ceil(8) as usize];
    loop {
        rng.fill(&mut bytes);
        let mut candidate = BigUint::from_bytes_be(&bytes) >> (bytes.len() as u64 * 8 - bits);
        candidate.set_bit(bits - 1, true);
        candidate.set_bit(bits - 2, true);
        candidate.set_bit(0, true);
        // Trial division discards most candidates for a fraction of a Miller-Rabin round.
        if small.iter().any(|&p| (&candidate % p).is_zero()) {
            continue;
        }
        if ((&candidate - 1u32) % e).is_zero() {
            continue;
        }
        if is_probable_prime(rng, &candidate) {
            return candidate;
        }
    }
}

/// Miller-Rabin with random bases; 32 rounds leave an error probability below 2^-64.
fn is_probable_prime(rng: &mut Prng, n: &BigUint) -> bool {
    let one = BigUint::one();
    let two = BigUint::from(2u32);
    let n1 = n - &one;
    let s = n1.trailing_zeros().expect("n > 1");
    let d = &n1 >> s;
    let mut base_bytes = vec![0u8; n.to_bytes_be().len()];
    'rounds: for _ in 0..32 {
        rng.fill(&mut base_bytes);
        let a = BigUint::from_bytes_be(&base_bytes) % (n - 3u32) + &two;
        let mut x = a.modpow(&d, n);
        if x == one || x == n1 {
            continue;
        }
        for _ in 1..s {
            x = x.modpow(&two, n);
            if x == n1 {
                continue 'rounds;
            }
        }
        return false;
    }
    true
}

/// The odd primes below 2000, for trial division.
fn small_primes() -> Vec<u32> {
    (3..2000u32)
        .step_by(2)
        .filter(|&n| {
            (3..)
                .step_by(2)
                .take_while(|d| d * d <= n)
                .all(|d| n % d != 0)
        })
        .collect()
}

/// DER tag-length-value.
fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let len_bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | len_bytes.len() as u8);
        out.extend_from_slice(&len_bytes);
    }
    out.extend_from_slice(content);
    out
}

/// DER SEQUENCE of already encoded elements.
fn der_seq(elements: &[&[u8]]) -> Vec<u8> {
    der_tlv(0x30, &elements.concat())
}

/// DER INTEGER of a non-negative value (a leading zero byte keeps it positive).
fn der_uint(value: &BigUint) -> Vec<u8> {
    let mut bytes = value.to_bytes_be();
    if bytes[0] & 0x80 != 0 {
        bytes.insert(0, 0);
    }
    der_tlv(0x02, &bytes)
}

fn ssh_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_be_bytes());
}

/// SSH wire `string`: a 32-bit length, then the bytes.
fn ssh_string(out: &mut Vec<u8>, bytes: &[u8]) {
    ssh_u32(out, bytes.len() as u32);
    out.extend_from_slice(bytes);
}

/// SSH wire `mpint` of a non-negative value: two's complement, so a leading zero byte when the
/// top bit is set.
fn ssh_mpint(out: &mut Vec<u8>, value: &BigUint) {
    if value.is_zero() {
        ssh_u32(out, 0);
        return;
    }
    let mut bytes = value.to_bytes_be();
    if bytes[0] & 0x80 != 0 {
        bytes.insert(0, 0);
    }
    ssh_string(out, &bytes);
}

/// PEM armour: BEGIN line, base64 body wrapped at `width` columns, END line, final newline.
pub fn pem(label: &str, der: &[u8], width: usize) -> String {
    let body = base64(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(width) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Standard base64 with padding (RFC 4648).
pub fn base64(data: &[u8]) -> String {
    let alphabet = crate::shared::rng::BASE64;
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn der_lengths() {
        assert_eq!(der_tlv(0x04, &[1, 2]), [0x04, 2, 1, 2]);
        let long = der_tlv(0x04, &[0; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(der_uint(&BigUint::from(0x80u32)), [0x02, 2, 0, 0x80]);
    }

    #[test]
    fn small_key_is_consistent() {
        let mut rng = Prng::new(3);
        let key = RsaKey::generate(&mut rng, 512);
        assert_eq!(key.n.bits(), 512);
        // e * d = 1 mod (p-1)(q-1): encrypting then decrypting gives the message back.
        let m = BigUint::from(123_456_789u32);
        assert_eq!(m.modpow(&key.e, &key.n).modpow(&key.d, &key.n), m);
        assert_eq!((&key.qinv * &key.q) % &key.p, BigUint::one());
        assert!(
            key.pkcs1_pem()
                .starts_with("-----BEGIN RSA PRIVATE KEY-----\nMII")
        );
    }
}
