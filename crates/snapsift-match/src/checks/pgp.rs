//! `pgp-private-key`: an ASCII-armored OpenPGP private key block.
//!
//! **Rule:** the match holds `-----BEGIN PGP PRIVATE KEY BLOCK-----` and its END line (the
//! body possibly JSON-escaped, as for `pem-key`). Armor headers (`Version:`, `Comment:`, ...
//! up to a blank line) are skipped; the body up to the checksum line decodes as base64; the
//! checksum line (`=` and 4 base64 characters), when present, is the CRC-24 of the decoded
//! bytes (RFC 4880 §6.1; RFC 9580 makes it optional); and the first packet, in the old or the
//! new packet format, is a Secret-Key packet (tag 5) that fits in the data, of version 2 to 6.
//!
//! Facts, where the packet's public key material is of an algorithm known here and parses:
//! `key_type` (rsa, dsa, elgamal, ec, ecdh, ed25519, x25519, ed448, x448), `key_bits` (RSA,
//! DSA, Elgamal) or `curve` (ECDSA, ECDH), and `encrypted` yes when the secret material is
//! protected (its S2K usage octet is not 0). A packet of an algorithm not known here passes
//! with no fact.

use super::base64::{Alphabet, Skip, decode};
use super::der::oid_string;
use super::pem::find_block;
use super::text::{find, lines, unescape};
use super::{Fact, Outcome};

/// The CRC-24 of RFC 4880 §6.1.
pub(super) fn crc24(bytes: &[u8]) -> u32 {
    let mut crc: u32 = 0x00B7_04CE;
    for &b in bytes {
        crc ^= u32::from(b) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x0100_0000 != 0 {
                crc ^= 0x0186_4CFB;
            }
        }
    }
    crc & 0x00FF_FFFF
}

/// The armored data: decoded bytes, and the checksum if the armor has one.
fn dearmor(body: &[u8]) -> Result<(Vec<u8>, Option<u32>), String> {
    let text = unescape(body);
    let mut data = Vec::with_capacity(text.len());
    let mut checksum = None;
    let mut in_headers = true;
    let mut seen_header = false;
    for line in lines(&text) {
        if in_headers {
            if line.is_empty() {
                in_headers = !seen_header;
                continue;
            }
            if line.contains(&b':') {
                seen_header = true;
                continue;
            }
            in_headers = false;
        }
        if checksum.is_some() {
            if line.is_empty() {
                continue;
            }
            return Err("data follows the armor checksum line".into());
        }
        if let Some(sum) = line.strip_prefix(b"=") {
            let bytes = decode(sum, Alphabet::Standard, Skip::Nothing)
                .ok()
                .filter(|b| b.len() == 3 && sum.len() == 4)
                .ok_or_else(|| {
                    "the armor checksum line is not = and 4 base64 characters".to_string()
                })?;
            let value = bytes.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
            checksum = Some(value);
            continue;
        }
        data.extend_from_slice(line);
    }
    if data.is_empty() {
        return Err("the armor holds no data".into());
    }
    let bytes = decode(&data, Alphabet::Standard, Skip::Whitespace)
        .map_err(|why| format!("the armored data is not base64: {why}"))?;
    Ok((bytes, checksum))
}

/// Splits the first `n` bytes off `bytes`.
fn take<'a>(bytes: &mut &'a [u8], n: usize, what: &str) -> Result<&'a [u8], String> {
    if n > bytes.len() {
        return Err(format!("{what} is cut short"));
    }
    let (head, tail) = bytes.split_at(n);
    *bytes = tail;
    Ok(head)
}

fn byte(bytes: &mut &[u8], what: &str) -> Result<u8, String> {
    let b = take(bytes, 1, what)?;
    b.first()
        .copied()
        .ok_or_else(|| format!("{what} is cut short"))
}

fn be(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
}

/// The first packet's tag and body (RFC 4880 §4.2, RFC 9580 §4.2).
fn first_packet(data: &[u8]) -> Result<(u8, &[u8]), String> {
    let (tag, len, mut rest) = first_packet_header(data)?;
    let body = take(&mut rest, len, "the Secret-Key packet")?;
    Ok((tag, body))
}

/// The first packet's header: its tag, which must be a Secret-Key packet's, the body's
/// length, and the bytes after the header.
fn first_packet_header(data: &[u8]) -> Result<(u8, usize, &[u8]), String> {
    let mut rest = data;
    let head = byte(&mut rest, "the first packet")?;
    if head & 0x80 == 0 {
        return Err("the data does not begin with an OpenPGP packet header".into());
    }
    let (tag, len) = if head & 0x40 != 0 {
        let tag = head & 0x3f;
        let first = byte(&mut rest, "the packet length")?;
        let len = match first {
            0..=191 => usize::from(first),
            192..=223 => {
                let second = byte(&mut rest, "the packet length")?;
                (usize::from(first.wrapping_sub(192)) << 8)
                    .saturating_add(usize::from(second))
                    .saturating_add(192)
            }
            255 => be(take(&mut rest, 4, "the packet length")?),
            _ => {
                return Err(
                    "the first packet has a partial length, which key packets never have".into(),
                );
            }
        };
        (tag, len)
    } else {
        let tag = (head >> 2) & 0x0f;
        let len = match head & 3 {
            0 => be(take(&mut rest, 1, "the packet length")?),
            1 => be(take(&mut rest, 2, "the packet length")?),
            2 => be(take(&mut rest, 4, "the packet length")?),
            _ => rest.len(),
        };
        (tag, len)
    };
    if tag != 5 {
        let name = match tag {
            1 => "a Public-Key Encrypted Session Key packet",
            2 => "a Signature packet",
            3 => "a Symmetric-Key Encrypted Session Key packet",
            6 => "a Public-Key packet",
            7 => "a Secret-Subkey packet",
            8 => "a Compressed Data packet",
            11 => "a Literal Data packet",
            13 => "a User ID packet",
            14 => "a Public-Subkey packet",
            _ => "another packet",
        };
        return Err(format!(
            "the first packet is {name} (tag {tag}), not a Secret-Key packet (tag 5)"
        ));
    }
    Ok((tag, len, rest))
}

/// Skips a multiprecision integer and returns its bit count.
fn mpi(bytes: &mut &[u8], what: &str) -> Result<usize, String> {
    let bits = be(take(bytes, 2, what)?);
    take(bytes, bits.saturating_add(7) / 8, what)?;
    Ok(bits)
}

/// The name of an OpenPGP curve OID (RFC 9580 §9.2).
fn curve_name(oid: &[u8]) -> String {
    let dotted = oid_string(oid).unwrap_or_else(|| "unknown".into());
    match dotted.as_str() {
        "1.2.840.10045.3.1.7" => "P-256".into(),
        "1.3.132.0.34" => "P-384".into(),
        "1.3.132.0.35" => "P-521".into(),
        "1.3.36.3.3.2.8.1.1.7" => "brainpoolP256r1".into(),
        "1.3.36.3.3.2.8.1.1.11" => "brainpoolP384r1".into(),
        "1.3.36.3.3.2.8.1.1.13" => "brainpoolP512r1".into(),
        "1.3.6.1.4.1.11591.15.1" | "1.3.101.112" => "Ed25519".into(),
        "1.3.6.1.4.1.3029.1.5.1" | "1.3.101.110" => "Curve25519".into(),
        "1.3.101.113" => "Ed448".into(),
        "1.3.101.111" => "X448".into(),
        _ => dotted,
    }
}

fn curve_oid<'a>(bytes: &mut &'a [u8]) -> Result<&'a [u8], String> {
    let len = byte(bytes, "the curve OID")?;
    if len == 0 || len == 0xff {
        return Err("the curve OID has a reserved length".into());
    }
    take(bytes, usize::from(len), "the curve OID")
}

/// Reads the public key material of algorithm `alg` and returns its facts, or `None` for an
/// algorithm not known here.
fn material(alg: u8, m: &mut &[u8]) -> Result<Option<Vec<Fact>>, String> {
    let facts = match alg {
        1..=3 => {
            let bits = mpi(m, "the RSA modulus")?;
            mpi(m, "the RSA exponent")?;
            vec![
                Fact::new("key_type", "rsa"),
                Fact::new("key_bits", bits.to_string()),
            ]
        }
        17 => {
            let bits = mpi(m, "the DSA prime p")?;
            for what in ["the DSA q", "the DSA g", "the DSA y"] {
                mpi(m, what)?;
            }
            vec![
                Fact::new("key_type", "dsa"),
                Fact::new("key_bits", bits.to_string()),
            ]
        }
        16 | 20 => {
            let bits = mpi(m, "the Elgamal prime p")?;
            mpi(m, "the Elgamal g")?;
            mpi(m, "the Elgamal y")?;
            vec![
                Fact::new("key_type", "elgamal"),
                Fact::new("key_bits", bits.to_string()),
            ]
        }
        19 | 22 => {
            let curve = curve_name(curve_oid(m)?);
            mpi(m, "the public point")?;
            if alg == 22 && curve == "Ed25519" {
                vec![Fact::new("key_type", "ed25519")]
            } else if alg == 22 {
                vec![Fact::new("key_type", "eddsa"), Fact::new("curve", curve)]
            } else {
                vec![Fact::new("key_type", "ec"), Fact::new("curve", curve)]
            }
        }
        18 => {
            let curve = curve_name(curve_oid(m)?);
            mpi(m, "the public point")?;
            let kdf = byte(m, "the KDF parameters")?;
            take(m, usize::from(kdf), "the KDF parameters")?;
            if curve == "Curve25519" {
                vec![Fact::new("key_type", "x25519")]
            } else {
                vec![Fact::new("key_type", "ecdh"), Fact::new("curve", curve)]
            }
        }
        25..=28 => {
            let (name, size) = match alg {
                25 => ("x25519", 32),
                26 => ("x448", 56),
                27 => ("ed25519", 32),
                _ => ("ed448", 57),
            };
            take(m, size, "the public key")?;
            vec![Fact::new("key_type", name)]
        }
        _ => return Ok(None),
    };
    Ok(Some(facts))
}

/// The facts of a Secret-Key packet body (RFC 9580 §5.5.2, §5.5.3).
fn secret_key(mut body: &[u8]) -> Outcome {
    let version = byte(&mut body, "the key packet's version")?;
    match version {
        2..=4 => {
            take(&mut body, 4, "the creation time")?;
            if version < 4 {
                take(&mut body, 2, "the validity period")?;
            }
            let alg = byte(&mut body, "the algorithm")?;
            let Some(mut facts) =
                material(alg, &mut body).map_err(|e| format!("the Secret-Key packet: {e}"))?
            else {
                return Ok(Vec::new());
            };
            if byte(&mut body, "the S2K usage")? != 0 {
                facts.push(Fact::new("encrypted", "yes"));
            }
            Ok(facts)
        }
        5 | 6 => {
            take(&mut body, 4, "the creation time")?;
            let alg = byte(&mut body, "the algorithm")?;
            let len = be(take(&mut body, 4, "the key material's length")?);
            let mut m = take(&mut body, len, "the key material")?;
            let Some(mut facts) =
                material(alg, &mut m).map_err(|e| format!("the Secret-Key packet: {e}"))?
            else {
                return Ok(Vec::new());
            };
            if byte(&mut body, "the S2K usage")? != 0 {
                facts.push(Fact::new("encrypted", "yes"));
            }
            Ok(facts)
        }
        _ => Err(format!(
            "the Secret-Key packet has version {version}, not 2 to 6"
        )),
    }
}

/// `pgp-private-key` on a match.
pub(super) fn check(matched: &[u8]) -> Outcome {
    let block = find_block(matched)?;
    if block.label != b"PGP PRIVATE KEY BLOCK" {
        return Err("the armor is not a PGP PRIVATE KEY BLOCK".into());
    }
    let (data, checksum) = dearmor(block.body)?;
    if checksum.is_some_and(|sum| sum != crc24(&data)) {
        return Err("the armor checksum does not match the data: it is corrupt or altered".into());
    }
    let (_, body) = first_packet(&data)?;
    secret_key(body)
}

/// `pgp-private-key` on a match cut at its rule's `max_len`: no END line, no checksum in
/// view. The armor's whole lines (the last one may stop inside a base64 quad) decode as
/// base64 to data whose first packet is a Secret-Key packet; that packet, where it lies whole
/// within the cut, must parse, and gives its facts.
pub(super) fn check_cut(matched: &[u8]) -> Outcome {
    const BEGIN: &[u8] = b"-----BEGIN PGP PRIVATE KEY BLOCK-----";
    let start = find(matched, BEGIN)
        .ok_or_else(|| "there is no -----BEGIN PGP PRIVATE KEY BLOCK----- line".to_string())?;
    let text = unescape(
        matched
            .get(start.saturating_add(BEGIN.len())..)
            .unwrap_or_default(),
    );
    let whole_lines = text
        .iter()
        .rposition(|&b| b == b'\n')
        .and_then(|end| text.get(..end))
        .unwrap_or_default();
    let (data, _) = dearmor(whole_lines)?;
    let (_, len, body) = first_packet_header(&data)?;
    match body.get(..len) {
        Some(body) => secret_key(body),
        None => {
            // Cut inside the packet: its version is all there is to check.
            let version = body.first().copied().unwrap_or(0);
            if (2..=6).contains(&version) {
                Ok(Vec::new())
            } else {
                Err(format!(
                    "the Secret-Key packet has version {version}, not 2 to 6"
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::base64::encode;
    use super::super::testdata::{PGP_ED25519, PGP_ED25519_PROTECTED, PGP_RSA_1024};
    use super::super::tests::Rng;
    use super::*;

    fn armor(data: &[u8], with_crc: bool) -> String {
        let b64 = encode(data);
        let body: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let crc = crc24(data).to_be_bytes();
        let sum = if with_crc {
            format!("={}\n", encode(&crc[1..]))
        } else {
            String::new()
        };
        format!(
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{}\n{sum}-----END PGP PRIVATE KEY BLOCK-----\n",
            body.join("\n")
        )
    }

    fn data_of(text: &str) -> Vec<u8> {
        dearmor(find_block(text.as_bytes()).unwrap().body)
            .unwrap()
            .0
    }

    #[test]
    fn crc24_known_value() {
        // The CRC-24 of RFC 4880 over "123456789" (the catalogue's CRC-24/OPENPGP check).
        assert_eq!(crc24(b"123456789"), 0x21CF02);
        assert_eq!(crc24(b""), 0xB704CE);
    }

    #[test]
    fn generated_keys_pass() {
        assert_eq!(
            check(PGP_ED25519.as_bytes()),
            Ok(vec![Fact::new("key_type", "ed25519")])
        );
        assert_eq!(
            check(PGP_ED25519_PROTECTED.as_bytes()),
            Ok(vec![
                Fact::new("key_type", "ed25519"),
                Fact::new("encrypted", "yes")
            ])
        );
        assert_eq!(
            check(PGP_RSA_1024.as_bytes()),
            Ok(vec![
                Fact::new("key_type", "rsa"),
                Fact::new("key_bits", "1024")
            ])
        );
        // The armor rebuilt by this test's encoder, with and without its checksum.
        let data = data_of(PGP_ED25519);
        assert_eq!(armor(&data, true), format!("{PGP_ED25519}\n"));
        assert!(check(armor(&data, false).as_bytes()).is_ok());
    }

    /// `key`'s armor with `extra` bytes of a further packet after its data: a key block
    /// made long (as a photo ID makes it), cut at `cut` characters as a rule's `max_len`
    /// cuts a match.
    fn long_and_cut(key: &str, extra: usize, cut: usize) -> Vec<u8> {
        let mut data = data_of(key);
        data.extend([0xd1, 0xff]); // A User Attribute packet (new format, tag 17).
        data.extend((extra as u32).to_be_bytes());
        data.extend((0..extra).map(|i| i as u8));
        armor(&data, true).as_bytes()[..cut].to_vec()
    }

    #[test]
    fn a_cut_key_block_passes_on_its_first_packet() {
        for (key, facts) in [
            (PGP_ED25519, vec![Fact::new("key_type", "ed25519")]),
            (
                PGP_RSA_1024,
                vec![Fact::new("key_type", "rsa"), Fact::new("key_bits", "1024")],
            ),
        ] {
            let first_packet_armored = key.len() * 3 / 4;
            for cut in [first_packet_armored, 5000, 50_000, 65_536] {
                let block = long_and_cut(key, 70_000, cut);
                assert_eq!(check_cut(&block), Ok(facts.clone()), "cut at {cut}");
                // Whole checks need the END line.
                assert!(check(&block).is_err());
            }
            // Cut inside the Secret-Key packet: its version is all that shows.
            assert_eq!(check_cut(&long_and_cut(key, 70_000, 150)), Ok(vec![]));
        }
    }

    #[test]
    fn a_cut_block_that_is_no_secret_key_fails() {
        // A public key block's first packet, under a private key block's BEGIN line.
        let mut public = data_of(PGP_ED25519);
        public[0] = 0x98; // Old format, tag 6 (Public-Key), one length byte.
        public.extend(std::iter::repeat_n(7, 30_000));
        let block = armor(&public, false);
        let cut = &block.as_bytes()[..20_000];
        let why = check_cut(cut).unwrap_err();
        assert!(why.contains("Public-Key packet"), "{why}");
        // No BEGIN line; no data before the cut; data that is not base64.
        assert!(check_cut(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n").is_err());
        assert!(check_cut(b"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlFgEaw").is_err());
        assert!(check_cut(b"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n!!!!\n\n").is_err());
    }

    #[test]
    fn headers_escapes_and_crlf_are_read() {
        let with_headers = PGP_ED25519.replace(
            "BLOCK-----\n\n",
            "BLOCK-----\nVersion: GnuPG v2\nComment: for a test\n\n",
        );
        let json = PGP_ED25519.replace('\n', "\\n");
        let crlf = PGP_ED25519.replace('\n', "\r\n");
        for text in [with_headers, json, crlf] {
            assert!(check(text.as_bytes()).is_ok(), "{text}");
        }
    }

    #[test]
    fn the_new_packet_format_passes() {
        // The first packet is written in the old format (0x94: tag 5, one-byte length).
        let data = data_of(PGP_ED25519);
        assert_eq!(data[0], 0x94);
        let mut new = data.clone();
        new[0] = 0xc0 | 5;
        assert!(check(armor(&new, true).as_bytes()).is_ok());
        // A two-byte new-format length (192 + ...), same body.
        let len = usize::from(data[1]);
        assert!(len < 192);
        // ((192 - 192) << 8) + 0 + 192 = 192: the body padded to 192 bytes.
        let two = vec![0xc5, 192, 0];
        let mut padded = data[2..2 + len].to_vec();
        padded.resize(192, 0);
        let framed = [two, padded].concat();
        assert!(check(armor(&framed, true).as_bytes()).is_ok());
    }

    #[test]
    fn corrupt_and_wrong_blocks_fail() {
        let data = data_of(PGP_ED25519);
        // The checksum line of another block.
        let bad_crc = PGP_ED25519.replace("=ZiFi", "=ZiFj");
        let why = check(bad_crc.as_bytes()).unwrap_err();
        assert!(why.contains("checksum"), "{why}");
        // A Public-Key packet first (tag 6, 0x98), checksum recomputed.
        let mut public = data.clone();
        public[0] = 0x98;
        let why = check(armor(&public, true).as_bytes()).unwrap_err();
        assert!(why.contains("Public-Key packet"), "{why}");
        // Every truncation, checksum recomputed.
        for cut in 0..data.len() - 1 {
            let first_packet_end = 2 + usize::from(data[1]);
            if cut < first_packet_end {
                assert!(
                    check(armor(&data[..cut], true).as_bytes()).is_err(),
                    "cut {cut}"
                );
            }
        }
        for bad in [
            "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEawSeqxYJKwYBBAHaRw8BAQdA\n-----END PGP PUBLIC KEY BLOCK-----",
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n-----END PGP PRIVATE KEY BLOCK-----",
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\n...\n-----END PGP PRIVATE KEY BLOCK-----",
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nAAAA\n=AAAA\nAAAA\n-----END PGP PRIVATE KEY BLOCK-----",
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlFgE\n=AAA\n-----END PGP PRIVATE KEY BLOCK-----",
            "",
        ] {
            assert!(check(bad.as_bytes()).is_err(), "{bad}");
        }
        // A partial length, and a version 9 key packet.
        assert!(check(armor(&[0xc5, 0xe1, 1, 2], true).as_bytes()).is_err());
        assert!(check(armor(&[0x94, 0x01, 9], true).as_bytes()).is_err());
    }

    #[test]
    fn mutated_keys_never_panic() {
        let mut rng = Rng::new(5);
        for key in [PGP_ED25519, PGP_ED25519_PROTECTED, PGP_RSA_1024] {
            let data = data_of(key);
            for _ in 0..2000 {
                let mut m = data.clone();
                for _ in 0..=rng.below(3) {
                    let i = rng.below(m.len());
                    m[i] = rng.next() as u8;
                }
                let _ = check(armor(&m, true).as_bytes());
            }
        }
    }
}
