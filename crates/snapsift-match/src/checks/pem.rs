//! `pem-key`: a PEM private key block whose body is the key its label says.
//!
//! **Rule:** the match holds `-----BEGIN <LABEL>-----`, then later `-----END <LABEL>-----`
//! with the same label (1 to 64 characters of `A-Z`, `0-9` and spaces). The body between them
//! may be JSON-escaped (`\n`, `\r`, `\t` as two characters, `\/` for `/`, also doubly
//! escaped) and indented. It may open with RFC 1421 headers (`Name: value` lines, such as
//! `Proc-Type: 4,ENCRYPTED` and `DEK-Info: AES-128-CBC,<hex IV>`), which end at a blank line
//! or at the first line without a colon; the rest must be base64 (whitespace ignored, see
//! [`super::base64`]) and decode to bytes that parse as the label says:
//!
//! | label | structure ([`super::keys`], [`super::openssh`]) |
//! | --- | --- |
//! | `RSA PRIVATE KEY` | PKCS#1: SEQUENCE of INTEGER version 0 and 8 more INTEGERs |
//! | `EC PRIVATE KEY` | SEC 1: SEQUENCE { INTEGER 1, OCTET STRING, [0] parameters, [1] public key } |
//! | `DSA PRIVATE KEY` | SEQUENCE of 6 INTEGERs, version 0 |
//! | `PRIVATE KEY` | PKCS#8: SEQUENCE { INTEGER 0 or 1, SEQUENCE { OID, ... }, OCTET STRING, ... }, the inner key parsed for RSA, EC, DSA, Ed25519/X25519/Ed448/X448 |
//! | `ENCRYPTED PRIVATE KEY` | SEQUENCE { SEQUENCE { OID, ... }, OCTET STRING } |
//! | `OPENSSH PRIVATE KEY` | `openssh-key-v1\0`, cipher, KDF, key count, keys |
//!
//! A block with `Proc-Type: 4,ENCRYPTED` (legacy OpenSSL encryption of the first four
//! labels) must also have a `DEK-Info: <cipher>,<hex IV>` header (an IV of at least 8 bytes),
//! and its body must decode to a non-empty multiple of 8 bytes; the ciphertext cannot be
//! parsed further.
//!
//! Facts: `key_type` (rsa, ec, dsa, ed25519, ...) where the structure or label says, with
//! `key_bits` (RSA modulus, DSA prime) or `curve` (P-256, ...) where known; `encrypted` yes,
//! with `cipher` (legacy PEM and OpenSSH) or `encryption` (PKCS#8), when the key is encrypted.
//! A PKCS#8 key of an algorithm not known here passes with `algorithm` (its dotted OID).
//! Bytes after the key's outermost SEQUENCE are ignored, as OpenSSL ignores them.

use super::base64::{Alphabet, Skip, decode};
use super::text::{find, lines, printable, unescape};
use super::{Fact, Outcome, keys, openssh};

/// The private key labels this check reads.
const LABELS: [&str; 6] = [
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
    "DSA PRIVATE KEY",
    "PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
    "OPENSSH PRIVATE KEY",
];

/// A PEM block's label and (still escaped) body.
pub(super) struct Block<'a> {
    /// The label, between `-----BEGIN ` and `-----`.
    pub label: &'a [u8],
    /// Everything between the BEGIN and the END line.
    pub body: &'a [u8],
}

/// Finds the first `-----BEGIN <LABEL>-----` in `text` and its END line.
pub(super) fn find_block(text: &[u8]) -> Result<Block<'_>, String> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    let start = find(text, BEGIN).ok_or_else(|| "there is no -----BEGIN line".to_string())?;
    let after = text
        .get(start.saturating_add(BEGIN.len())..)
        .unwrap_or_default();
    let label_len = find(after, b"-----")
        .filter(|&n| (1..=64).contains(&n))
        .ok_or_else(|| "the BEGIN line has no label of 1 to 64 characters".to_string())?;
    let (label, rest) = after.split_at(label_len);
    if !label
        .iter()
        .all(|&c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b' ')
    {
        return Err("the BEGIN line's label is not capital letters, digits and spaces".into());
    }
    let rest = rest.get(5..).unwrap_or_default();
    let mut end = b"-----END ".to_vec();
    end.extend_from_slice(label);
    end.extend_from_slice(b"-----");
    let body_len = find(rest, &end).ok_or_else(|| {
        format!(
            "there is no END line for the label {}",
            String::from_utf8_lossy(label)
        )
    })?;
    Ok(Block {
        label,
        body: rest.get(..body_len).unwrap_or_default(),
    })
}

/// A PEM body split into its RFC 1421 headers and its decoded bytes.
pub(super) struct Body {
    /// The headers, as (name, value) pairs with surrounding whitespace removed.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// The decoded base64.
    pub bytes: Vec<u8>,
}

/// Unescapes a PEM (or armor) body, splits off its headers and decodes the rest.
pub(super) fn read_body(body: &[u8]) -> Result<Body, String> {
    let text = unescape(body);
    let mut headers = Vec::new();
    let mut data = Vec::with_capacity(text.len());
    let mut in_headers = true;
    for line in lines(&text) {
        if in_headers {
            if line.is_empty() {
                if !headers.is_empty() {
                    in_headers = false;
                }
                continue;
            }
            if let Some(colon) = line.iter().position(|&c| c == b':') {
                let (name, value) = line.split_at(colon);
                let value = value.get(1..).unwrap_or_default();
                headers.push((name.trim_ascii().to_vec(), value.trim_ascii().to_vec()));
                continue;
            }
            in_headers = false;
        }
        if line.contains(&b':') {
            return Err("a header line appears inside the base64 body".into());
        }
        data.extend_from_slice(line);
    }
    if data.is_empty() {
        return Err("the body is empty".into());
    }
    let bytes = decode(&data, Alphabet::Standard, Skip::Whitespace)
        .map_err(|why| format!("the body is not base64: {why}"))?;
    Ok(Body { headers, bytes })
}

fn header<'h>(headers: &'h [(Vec<u8>, Vec<u8>)], name: &str) -> Option<&'h [u8]> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, v)| v.as_slice())
}

/// The key type a traditional label names.
fn label_key_type(label: &str) -> Option<&'static str> {
    match label {
        "RSA PRIVATE KEY" => Some("rsa"),
        "EC PRIVATE KEY" => Some("ec"),
        "DSA PRIVATE KEY" => Some("dsa"),
        _ => None,
    }
}

/// A legacy encrypted PEM body: DEK-Info present and sane, ciphertext a multiple of 8.
fn legacy_encrypted(label: &str, body: &Body) -> Outcome {
    let dek = header(&body.headers, "DEK-Info")
        .ok_or_else(|| "Proc-Type says ENCRYPTED but there is no DEK-Info header".to_string())?;
    let (cipher, iv) = match dek.iter().position(|&c| c == b',') {
        Some(comma) => {
            let (c, iv) = dek.split_at(comma);
            (c.trim_ascii(), iv.get(1..).unwrap_or_default().trim_ascii())
        }
        None => return Err("the DEK-Info header has no IV".into()),
    };
    let cipher = printable(cipher, 32)
        .filter(|c| {
            c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .ok_or_else(|| "the DEK-Info header names no cipher".to_string())?;
    if iv.len() < 16 || iv.len() % 2 != 0 || !iv.iter().all(u8::is_ascii_hexdigit) {
        return Err("the DEK-Info header's IV is not hex of at least 8 bytes".into());
    }
    if body.bytes.is_empty() || !body.bytes.len().is_multiple_of(8) {
        return Err(format!(
            "the encrypted body has {} bytes, not a non-empty multiple of 8",
            body.bytes.len()
        ));
    }
    let mut facts = Vec::new();
    if let Some(t) = label_key_type(label) {
        facts.push(Fact::new("key_type", t));
    }
    facts.push(Fact::new("encrypted", "yes"));
    facts.push(Fact::new("cipher", cipher));
    Ok(facts)
}

/// `pem-key` on a match.
pub(super) fn check(matched: &[u8]) -> Outcome {
    let block = find_block(matched)?;
    let Some(label) = LABELS.iter().copied().find(|l| l.as_bytes() == block.label) else {
        return Err(format!(
            "the PEM label {} is not a private key label this check reads",
            String::from_utf8_lossy(block.label)
        ));
    };
    let body = read_body(block.body).map_err(|why| format!("the {label}: {why}"))?;
    let proc_encrypted = header(&body.headers, "Proc-Type")
        .is_some_and(|v| v.windows(9).any(|w| w.eq_ignore_ascii_case(b"ENCRYPTED")));
    let outcome =
        if proc_encrypted && !matches!(label, "ENCRYPTED PRIVATE KEY" | "OPENSSH PRIVATE KEY") {
            legacy_encrypted(label, &body)
        } else {
            match label {
                "RSA PRIVATE KEY" => keys::rsa(&body.bytes),
                "EC PRIVATE KEY" => keys::ec(&body.bytes),
                "DSA PRIVATE KEY" => keys::dsa(&body.bytes),
                "PRIVATE KEY" => keys::pkcs8(&body.bytes),
                "ENCRYPTED PRIVATE KEY" => keys::encrypted_pkcs8(&body.bytes),
                _ => openssh::parse(&body.bytes),
            }
        };
    outcome.map_err(|why| format!("the {label} does not parse: {why}"))
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::base64::encode;
    use super::super::testdata::*;
    use super::super::tests::Rng;
    use super::*;

    fn facts(text: &str) -> Vec<(&'static str, String)> {
        match check(text.as_bytes()) {
            Ok(f) => f.into_iter().map(|f| (f.name, f.value)).collect(),
            Err(e) => panic!("{e}\n{text}"),
        }
    }

    fn f(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        pairs.iter().map(|(n, v)| (*n, v.to_string())).collect()
    }

    /// A PEM block of `der` under `label`, 64 characters a line.
    pub(in super::super) fn wrap(label: &str, der: &[u8]) -> String {
        let b64 = encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    /// The DER inside a PEM block.
    pub(in super::super) fn unwrap(text: &str) -> Vec<u8> {
        read_body(find_block(text.as_bytes()).unwrap().body)
            .unwrap()
            .bytes
    }

    #[test]
    fn generated_keys_pass_with_their_facts() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            (RSA_512_PKCS1, &[("key_type", "rsa"), ("key_bits", "512")]),
            (RSA_512_PKCS8, &[("key_type", "rsa"), ("key_bits", "512")]),
            (EC_P256_SEC1, &[("key_type", "ec"), ("curve", "P-256")]),
            (EC_P256_PKCS8, &[("key_type", "ec"), ("curve", "P-256")]),
            (ED25519_PKCS8, &[("key_type", "ed25519")]),
            (X25519_PKCS8, &[("key_type", "x25519")]),
            (DSA_1024, &[("key_type", "dsa"), ("key_bits", "1024")]),
            (
                RSA_512_PKCS1_ENCRYPTED,
                &[
                    ("key_type", "rsa"),
                    ("encrypted", "yes"),
                    ("cipher", "AES-128-CBC"),
                ],
            ),
            (
                ED25519_PKCS8_ENCRYPTED,
                &[("encrypted", "yes"), ("encryption", "pbes2")],
            ),
            (OPENSSH_ED25519, &[("key_type", "ed25519")]),
            (
                OPENSSH_ED25519_ENCRYPTED,
                &[
                    ("key_type", "ed25519"),
                    ("encrypted", "yes"),
                    ("cipher", "aes256-ctr"),
                ],
            ),
            (
                OPENSSH_ECDSA_P256,
                &[("key_type", "ec"), ("curve", "P-256")],
            ),
            (
                OPENSSH_RSA_1024,
                &[("key_type", "rsa"), ("key_bits", "1024")],
            ),
        ];
        for (text, want) in cases {
            assert_eq!(facts(text), f(want), "{text}");
        }
    }

    #[test]
    fn the_builtin_rules_examples_pass() {
        // Keys from crates/snapsift-match/rules/private-keys.toml (generated for those tests).
        let set = crate::RuleSet::builtin().unwrap();
        let mut seen = 0;
        for rule in set.rules() {
            if !rule.id.starts_with("private-key.") {
                continue;
            }
            for ex in &rule.examples {
                assert!(
                    check(ex.as_bytes()).is_ok(),
                    "{:?}\n{ex}",
                    check(ex.as_bytes())
                );
                seen += 1;
            }
            // The negative examples that are no private key at all (the others are keys
            // under another rule's label, which this check passes).
            for ex in &rule.negative_examples {
                let not_a_key = ["<paste", "...", "CERTIFICATE", "PUBLIC KEY", "ssh-ed25519 "]
                    .iter()
                    .any(|s| ex.contains(s))
                    || !ex.contains("-----END");
                if not_a_key {
                    assert!(check(ex.as_bytes()).is_err(), "{ex}");
                }
            }
        }
        assert!(seen >= 6, "{seen}");
    }

    #[test]
    fn escaped_indented_and_crlf_bodies_pass() {
        for key in [
            RSA_512_PKCS1,
            EC_P256_SEC1,
            RSA_512_PKCS1_ENCRYPTED,
            OPENSSH_ED25519,
        ] {
            let want = check(key.as_bytes()).unwrap();
            let json = format!(
                "{{\"key\": \"{}\\n\"}}",
                key.replace('\n', "\\n").replace('/', "\\/")
            );
            let double = key.replace('\n', "\\\\n");
            let crlf = key.replace('\n', "\r\n");
            let indented = key.replace('\n', "\n      ");
            let one_line = key.replace('\n', " ");
            for variant in [json, double, crlf, indented] {
                assert_eq!(check(variant.as_bytes()), Ok(want.clone()), "{variant}");
            }
            // Without line breaks the headers of an encrypted key run into the body.
            if !key.contains("Proc-Type") {
                assert_eq!(check(one_line.as_bytes()), Ok(want.clone()), "{one_line}");
            }
        }
    }

    #[test]
    fn non_keys_and_placeholders_fail() {
        for bad in [
            "",
            "-----BEGIN RSA PRIVATE KEY-----",
            "-----BEGIN RSA PRIVATE KEY-----\n<paste your key here>\n-----END RSA PRIVATE KEY-----",
            "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
            "-----BEGIN RSA PRIVATE KEY-----\n\n-----END RSA PRIVATE KEY-----",
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----",
            "-----BEGIN rsa private key-----\nAAAA\n-----END rsa private key-----",
            "-----BEGIN -----\nAAAA\n-----END -----",
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA0Zr3PLq7Hc0sAcEkNASWRQ1eOlotV37GTCoPJsRs5IQ=\n-----END PUBLIC KEY-----",
        ] {
            assert!(check(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_body_under_the_wrong_label_fails() {
        let pairs = [
            (EC_P256_SEC1, "RSA PRIVATE KEY"),
            (RSA_512_PKCS1, "EC PRIVATE KEY"),
            (RSA_512_PKCS1, "DSA PRIVATE KEY"),
            (DSA_1024, "RSA PRIVATE KEY"),
            (RSA_512_PKCS1, "PRIVATE KEY"),
            (RSA_512_PKCS8, "RSA PRIVATE KEY"),
            (ED25519_PKCS8, "ENCRYPTED PRIVATE KEY"),
            (ED25519_PKCS8_ENCRYPTED, "PRIVATE KEY"),
            (RSA_512_PKCS1, "OPENSSH PRIVATE KEY"),
            (OPENSSH_ED25519, "PRIVATE KEY"),
        ];
        for (key, label) in pairs {
            let relabelled = wrap(label, &unwrap(key));
            let why = check(relabelled.as_bytes()).unwrap_err();
            assert!(why.contains(label), "{why}");
        }
    }

    #[test]
    fn truncated_and_corrupted_bodies_fail() {
        for key in [
            RSA_512_PKCS1,
            EC_P256_PKCS8,
            DSA_1024,
            OPENSSH_ED25519,
            ED25519_PKCS8_ENCRYPTED,
        ] {
            let der = unwrap(key);
            let label = find_block(key.as_bytes()).unwrap().label;
            let label = std::str::from_utf8(label).unwrap();
            for cut in 0..der.len() {
                let text = wrap(label, &der[..cut]);
                assert!(check(text.as_bytes()).is_err(), "{label} cut at {cut}");
            }
            // A body line dropped.
            let lines: Vec<&str> = key.lines().collect();
            let dropped = [&lines[..2], &lines[3..]].concat().join("\n");
            assert!(check(dropped.as_bytes()).is_err(), "{dropped}");
            // A character outside base64.
            let bad = key.replacen("A", "!", 1);
            assert!(check(bad.as_bytes()).is_err());
        }
        // The OpenSSH check numbers, changed.
        let mut der = unwrap(OPENSSH_ED25519);
        let at = der.windows(4).rposition(|w| w == [0, 0, 0, 0x90]).unwrap() + 4;
        der[at] ^= 1;
        let why = check(wrap("OPENSSH PRIVATE KEY", &der).as_bytes()).unwrap_err();
        assert!(why.contains("check numbers"), "{why}");
    }

    #[test]
    fn legacy_encryption_needs_its_headers() {
        let key = RSA_512_PKCS1_ENCRYPTED;
        let no_dek: String = key
            .lines()
            .filter(|l| !l.starts_with("DEK-Info"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(check(no_dek.as_bytes()).is_err());
        let bad_iv = key.replace("CB546009C87B35183DAF72B8BBAAB7E6", "XYZ");
        assert!(check(bad_iv.as_bytes()).is_err());
        // 7 bytes of ciphertext.
        let short = format!(
            "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: DES-EDE3-CBC,0011223344556677\n\n{}\n-----END EC PRIVATE KEY-----",
            encode(&[1, 2, 3, 4, 5, 6, 7])
        );
        assert!(check(short.as_bytes()).is_err());
        assert!(
            check(
                short
                    .replace(&encode(&[1, 2, 3, 4, 5, 6, 7]), &encode(&[9; 16]))
                    .as_bytes()
            )
            .is_ok()
        );
    }

    #[test]
    fn hostile_der_fails_without_panicking() {
        // A huge length, an indefinite length, a 5-byte length.
        for der in [
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01, 0x00][..],
            &[0x30, 0x80, 0x02, 0x01, 0x00, 0x00, 0x00],
            &[0x30, 0x85, 0x01, 0x00, 0x00, 0x00, 0x00],
            &[0x30, 0x00],
            &[0x02, 0x01, 0x00],
        ] {
            for label in LABELS {
                assert!(
                    check(wrap(label, der).as_bytes()).is_err(),
                    "{label} {der:02x?}"
                );
            }
        }
        // A PKCS#8 key whose algorithm parameters are 5000 nested SEQUENCEs.
        let mut bomb: Vec<u8> = vec![0x05, 0x00];
        for _ in 0..5000 {
            let len = (bomb.len() as u32).to_be_bytes();
            bomb = [vec![0x30, 0x84], len.to_vec(), bomb].concat();
        }
        let oid = [0x06, 0x03, 0x2b, 0x65, 0x70];
        let alg = [
            &[0x30, 0x84][..],
            &((oid.len() + bomb.len()) as u32).to_be_bytes(),
            &oid,
            &bomb,
        ]
        .concat();
        let key = [&[0x02, 0x01, 0x00][..], &alg, &[0x04, 0x02, 0x04, 0x00]].concat();
        let der = [&[0x30, 0x84][..], &(key.len() as u32).to_be_bytes(), &key].concat();
        let why = check(wrap("PRIVATE KEY", &der).as_bytes()).unwrap_err();
        assert!(why.contains("deeper"), "{why}");
    }

    #[test]
    fn mutated_keys_never_panic() {
        let mut rng = Rng::new(3);
        for key in [
            RSA_512_PKCS1,
            RSA_512_PKCS8,
            EC_P256_SEC1,
            EC_P256_PKCS8,
            ED25519_PKCS8,
            DSA_1024,
            ED25519_PKCS8_ENCRYPTED,
            OPENSSH_ED25519,
            OPENSSH_ED25519_ENCRYPTED,
            OPENSSH_ECDSA_P256,
            OPENSSH_RSA_1024,
        ] {
            let der = unwrap(key);
            let label = std::str::from_utf8(find_block(key.as_bytes()).unwrap().label).unwrap();
            for _ in 0..300 {
                let mut m = der.clone();
                for _ in 0..=rng.below(3) {
                    let i = rng.below(m.len());
                    m[i] = rng.next() as u8;
                }
                let _ = check(wrap(label, &m).as_bytes());
            }
        }
    }
}
