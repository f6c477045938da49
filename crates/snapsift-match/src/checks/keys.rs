//! The DER structures of private keys, as `pem-key` reads them.
//!
//! Each parser reads the outermost SEQUENCE of its structure and checks its fields as the
//! structure's standard defines them; bytes after that SEQUENCE are ignored (as OpenSSL's
//! readers ignore them), but within it nothing unexpected is allowed.

use super::Fact;
use super::der::{self, BIT_STRING, NULL, OCTET_STRING, OID, Reader, SEQUENCE, unsigned_bits};

/// Known algorithm and curve OBJECT IDENTIFIERs, with the names facts give them.
const OIDS: &[(&str, &str)] = &[
    // PKCS#8 private key algorithms (RFC 8017, RFC 5480, RFC 8410, RFC 3279).
    ("1.2.840.113549.1.1.1", "rsa"),
    ("1.2.840.113549.1.1.10", "rsa-pss"),
    ("1.2.840.10045.2.1", "ec"),
    ("1.2.840.10040.4.1", "dsa"),
    ("1.2.840.113549.1.3.1", "dh"),
    ("1.2.840.10046.2.1", "dh"),
    ("1.3.101.110", "x25519"),
    ("1.3.101.111", "x448"),
    ("1.3.101.112", "ed25519"),
    ("1.3.101.113", "ed448"),
    ("1.2.156.10197.1.301", "sm2"),
    // Named curves (RFC 5480, SEC 2).
    ("1.2.840.10045.3.1.7", "P-256"),
    ("1.3.132.0.34", "P-384"),
    ("1.3.132.0.35", "P-521"),
    ("1.3.132.0.10", "secp256k1"),
    ("1.2.840.10045.3.1.1", "P-192"),
    ("1.3.132.0.33", "P-224"),
    ("1.3.36.3.3.2.8.1.1.7", "brainpoolP256r1"),
    ("1.3.36.3.3.2.8.1.1.11", "brainpoolP384r1"),
    ("1.3.36.3.3.2.8.1.1.13", "brainpoolP512r1"),
    // Encryption schemes of PKCS#8 (RFC 8018, RFC 7292).
    ("1.2.840.113549.1.5.13", "pbes2"),
    ("1.2.840.113549.1.5.3", "pbe-md5-des"),
    ("1.2.840.113549.1.5.10", "pbe-sha1-des"),
    ("1.2.840.113549.1.12.1.3", "pbe-sha1-3des"),
    ("1.2.840.113549.1.12.1.6", "pbe-sha1-rc2-40"),
];

/// The name of OID `content`, or its dotted form if it has no name here.
fn oid_name(content: &[u8]) -> Result<String, String> {
    let dotted =
        der::oid_string(content).ok_or_else(|| "an OBJECT IDENTIFIER is malformed".to_string())?;
    Ok(OIDS
        .iter()
        .find(|(oid, _)| *oid == dotted)
        .map(|(_, name)| (*name).to_string())
        .unwrap_or(dotted))
}

fn ensure_done(r: &Reader<'_>, what: &str) -> Result<(), String> {
    if r.is_empty() {
        Ok(())
    } else {
        Err(format!("{what} has unexpected elements at its end"))
    }
}

fn positive_bits(content: &[u8], what: &str) -> Result<usize, String> {
    match unsigned_bits(content) {
        Some(0) | None => Err(format!("{what} is not a positive INTEGER")),
        Some(bits) => Ok(bits),
    }
}

/// PKCS#1 `RSAPrivateKey` (RFC 8017 A.1.2): SEQUENCE { version 0 (or 1 with other prime
/// infos), n, e, d, p, q, d mod (p-1), d mod (q-1), q^-1 mod p, [otherPrimeInfos] }.
/// Facts: `key_type` rsa, `key_bits`.
pub(super) fn rsa(der: &[u8]) -> Result<Vec<Fact>, String> {
    let seq = Reader::new(der).expect(SEQUENCE, "the RSA key")?;
    let mut r = Reader::new(seq.content);
    let version = r.small_integer("the RSA key's version", &[0, 1])?;
    let n = r.integer("the RSA modulus")?;
    let bits = positive_bits(n, "the RSA modulus")?;
    positive_bits(
        r.integer("the RSA public exponent")?,
        "the RSA public exponent",
    )?;
    for what in [
        "the RSA private exponent",
        "the RSA prime p",
        "the RSA prime q",
        "the RSA exponent d mod (p-1)",
        "the RSA exponent d mod (q-1)",
        "the RSA coefficient",
    ] {
        r.integer(what)?;
    }
    if version == 1 {
        let others = r.expect(SEQUENCE, "the RSA key's other prime infos")?;
        der::well_formed(others.content, 2)?;
    }
    ensure_done(&r, "the RSA key")?;
    Ok(vec![
        Fact::new("key_type", "rsa"),
        Fact::new("key_bits", bits.to_string()),
    ])
}

/// SEC 1 `ECPrivateKey` (RFC 5915): SEQUENCE { version 1, privateKey OCTET STRING,
/// [0] parameters OPTIONAL, [1] publicKey BIT STRING OPTIONAL }. Facts: `key_type` ec, and
/// `curve` where the parameters name one.
pub(super) fn ec(der: &[u8]) -> Result<Vec<Fact>, String> {
    let seq = Reader::new(der).expect(SEQUENCE, "the EC key")?;
    let mut r = Reader::new(seq.content);
    r.small_integer("the EC key's version", &[1])?;
    let private = r.expect(OCTET_STRING, "the EC private key")?;
    if private.content.is_empty() || private.content.len() > 128 {
        return Err("the EC private key has an impossible length".into());
    }
    let mut facts = vec![Fact::new("key_type", "ec")];
    if r.peek().is_some_and(|t| t.is_context(0)) {
        let params = r.read()?;
        let mut p = Reader::new(params.content);
        let curve = p.read().map_err(|e| format!("the EC parameters: {e}"))?;
        if curve.is(OID, false) {
            facts.push(Fact::new("curve", oid_name(curve.content)?));
        } else if curve.is(SEQUENCE, true) {
            der::well_formed(curve.content, 3)?; // Explicit parameters.
        } else if !curve.is(NULL, false) {
            return Err("the EC parameters are neither a curve name nor a curve".into());
        }
        ensure_done(&p, "the EC parameters")?;
    }
    if r.peek().is_some_and(|t| t.is_context(1)) {
        let public = r.read()?;
        let bits = Reader::new(public.content).expect(BIT_STRING, "the EC public key")?;
        if bits.content.is_empty() {
            return Err("the EC public key is empty".into());
        }
    }
    ensure_done(&r, "the EC key")?;
    Ok(facts)
}

/// OpenSSL's traditional DSA private key: SEQUENCE { version 0, p, q, g, y, x }. Facts:
/// `key_type` dsa, `key_bits` (of p).
pub(super) fn dsa(der: &[u8]) -> Result<Vec<Fact>, String> {
    let seq = Reader::new(der).expect(SEQUENCE, "the DSA key")?;
    let mut r = Reader::new(seq.content);
    r.small_integer("the DSA key's version", &[0])?;
    let bits = positive_bits(r.integer("the DSA prime p")?, "the DSA prime p")?;
    for what in [
        "the DSA subprime q",
        "the DSA generator g",
        "the DSA public key",
        "the DSA private key",
    ] {
        r.integer(what)?;
    }
    ensure_done(&r, "the DSA key")?;
    Ok(vec![
        Fact::new("key_type", "dsa"),
        Fact::new("key_bits", bits.to_string()),
    ])
}

/// PKCS#8 `PrivateKeyInfo` / `OneAsymmetricKey` (RFC 5208, RFC 5958): SEQUENCE { version 0
/// or 1, AlgorithmIdentifier SEQUENCE { OID, parameters OPTIONAL }, privateKey OCTET STRING,
/// [0] attributes OPTIONAL, [1] publicKey OPTIONAL }. The private key inside is parsed too
/// for RSA (PKCS#1), EC (SEC 1), DSA (an INTEGER), and the RFC 8410 curves (an OCTET STRING
/// of the curve's key size). Facts: `key_type` (the algorithm's name, or `algorithm` with the
/// dotted OID for one not known here), with `key_bits` or `curve` where known.
pub(super) fn pkcs8(der: &[u8]) -> Result<Vec<Fact>, String> {
    let seq = Reader::new(der).expect(SEQUENCE, "the PKCS#8 key")?;
    let mut r = Reader::new(seq.content);
    r.small_integer("the PKCS#8 version", &[0, 1])?;
    let alg = r.expect(SEQUENCE, "the PKCS#8 algorithm")?;
    let mut a = Reader::new(alg.content);
    let oid = a.expect(OID, "the PKCS#8 algorithm's identifier")?;
    let params = a.rest();
    der::well_formed(params, 2)?;
    let private = r.expect(OCTET_STRING, "the PKCS#8 private key")?;
    if private.content.is_empty() {
        return Err("the PKCS#8 private key is empty".into());
    }
    for number in [0, 1] {
        if let Some(t) = r.peek().filter(|t| t.is_context(number)) {
            r.read()?;
            if t.constructed {
                der::well_formed(t.content, 2)?;
            }
        }
    }
    ensure_done(&r, "the PKCS#8 key")?;

    let name = oid_name(oid.content)?;
    let inner = private.content;
    let mut facts = match name.as_str() {
        "rsa" | "rsa-pss" => {
            let mut f = rsa(inner).map_err(|e| format!("inside PKCS#8: {e}"))?;
            if name == "rsa-pss" {
                f = vec![Fact::new("key_type", "rsa-pss")]
                    .into_iter()
                    .chain(f.into_iter().filter(|f| f.name != "key_type"))
                    .collect();
            }
            f
        }
        "ec" | "sm2" => {
            let mut f = ec(inner).map_err(|e| format!("inside PKCS#8: {e}"))?;
            if name == "sm2" {
                f.retain(|f| f.name != "key_type");
                f.insert(0, Fact::new("key_type", "sm2"));
            }
            // The curve is named in the algorithm's parameters, not (usually) inside.
            let mut p = Reader::new(params);
            if let Some(curve) = p.read().ok().filter(|t| t.is(OID, false)) {
                f.retain(|f| f.name != "curve");
                f.push(Fact::new("curve", oid_name(curve.content)?));
            }
            f
        }
        "dsa" => {
            Reader::new(inner).integer("the DSA private key inside PKCS#8")?;
            let mut f = vec![Fact::new("key_type", "dsa")];
            // The parameters are SEQUENCE { p, q, g }: p gives the size.
            let bits = Reader::new(params)
                .expect(SEQUENCE, "the DSA parameters")
                .and_then(|pqg| Reader::new(pqg.content).integer("the DSA prime p"))
                .and_then(|p| positive_bits(p, "the DSA prime p"));
            if let Ok(bits) = bits {
                f.push(Fact::new("key_bits", bits.to_string()));
            }
            f
        }
        "ed25519" | "x25519" | "ed448" | "x448" => {
            let size = match name.as_str() {
                "ed25519" | "x25519" => 32,
                "ed448" => 57,
                _ => 56,
            };
            let key = Reader::new(inner).expect(OCTET_STRING, "the curve private key")?;
            if key.content.len() != size {
                return Err(format!(
                    "the {name} private key has {} bytes instead of {size}",
                    key.content.len()
                ));
            }
            vec![Fact::new("key_type", name.clone())]
        }
        "dh" => vec![Fact::new("key_type", "dh")],
        dotted => vec![Fact::new("algorithm", dotted.to_string())],
    };
    facts.dedup();
    Ok(facts)
}

/// PKCS#8 `EncryptedPrivateKeyInfo` (RFC 5208 §6): SEQUENCE { AlgorithmIdentifier SEQUENCE
/// { OID, parameters }, encryptedData OCTET STRING }, the data not empty. Facts: `encrypted`
/// yes, `encryption` (the scheme's name, such as `pbes2`, or its dotted OID).
pub(super) fn encrypted_pkcs8(der: &[u8]) -> Result<Vec<Fact>, String> {
    let seq = Reader::new(der).expect(SEQUENCE, "the encrypted PKCS#8 key")?;
    let mut r = Reader::new(seq.content);
    let alg = r.expect(SEQUENCE, "the encryption algorithm")?;
    let mut a = Reader::new(alg.content);
    let oid = a.expect(OID, "the encryption algorithm's identifier")?;
    der::well_formed(a.rest(), 2)?;
    let data = r.expect(OCTET_STRING, "the encrypted data")?;
    if data.content.is_empty() {
        return Err("the encrypted data is empty".into());
    }
    ensure_done(&r, "the encrypted PKCS#8 key")?;
    Ok(vec![
        Fact::new("encrypted", "yes"),
        Fact::new("encryption", oid_name(oid.content)?),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oid_names() {
        assert_eq!(oid_name(&[0x2b, 0x65, 0x70]).unwrap(), "ed25519");
        assert_eq!(
            oid_name(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]).unwrap(),
            "P-256"
        );
        assert_eq!(oid_name(&[0x2b, 0x06, 0x01]).unwrap(), "1.3.6.1");
        assert!(oid_name(&[0x86]).is_err());
    }

    #[test]
    fn rsa_structure_is_enforced() {
        // SEQUENCE { 0, n=0x00c1, e=3, d..qinv = 1 }
        let mut body = vec![0x02, 0x01, 0x00, 0x02, 0x02, 0x00, 0xc1, 0x02, 0x01, 0x03];
        for _ in 0..6 {
            body.extend_from_slice(&[0x02, 0x01, 0x01]);
        }
        let der = [vec![0x30, body.len() as u8], body.clone()].concat();
        assert_eq!(
            rsa(&der).unwrap(),
            vec![Fact::new("key_type", "rsa"), Fact::new("key_bits", "8")]
        );
        // One INTEGER fewer, one more, a version of 2, a negative modulus.
        let short = [
            vec![0x30, (body.len() - 3) as u8],
            body[..body.len() - 3].to_vec(),
        ]
        .concat();
        assert!(rsa(&short).is_err());
        let long = [
            vec![0x30, (body.len() + 3) as u8],
            body.clone(),
            vec![0x02, 0x01, 0x01],
        ]
        .concat();
        assert!(rsa(&long).is_err());
        let mut v2 = der.clone();
        v2[4] = 2;
        assert!(rsa(&v2).is_err());
        let mut neg = der.clone();
        neg[7] = 0x80;
        assert!(rsa(&neg).is_err());
    }
}

#[cfg(test)]
mod structure_tests {
    use super::*;

    /// A DER element with a short or long length.
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let len = content.len();
        let head = if len < 128 {
            vec![tag, len as u8]
        } else {
            vec![tag, 0x82, (len >> 8) as u8, len as u8]
        };
        [head, content.to_vec()].concat()
    }

    fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
        tlv(0x30, &parts.concat())
    }

    fn int(v: &[u8]) -> Vec<u8> {
        tlv(0x02, v)
    }

    const ED25519: [u8; 5] = [0x06, 0x03, 0x2b, 0x65, 0x70];

    #[test]
    fn pkcs8_optional_fields_and_unknown_algorithms() {
        let inner = tlv(0x04, &tlv(0x04, &[9; 32]));
        let alg = seq(&[ED25519.to_vec()]);
        let attrs = tlv(0xa0, &seq(&[]));
        let public = tlv(0x81, &[0, 1, 2]);
        let v1 = seq(&[int(&[1]), alg.clone(), inner.clone(), attrs.clone(), public]);
        assert_eq!(pkcs8(&v1).unwrap(), vec![Fact::new("key_type", "ed25519")]);
        let with_attrs = seq(&[int(&[0]), alg.clone(), inner.clone(), attrs]);
        assert!(pkcs8(&with_attrs).is_ok());
        // An Ed25519 key of 31 bytes.
        let short = seq(&[int(&[0]), alg.clone(), tlv(0x04, &tlv(0x04, &[9; 31]))]);
        assert!(pkcs8(&short).is_err());
        // A trailing element that is not [0] or [1].
        let extra = seq(&[int(&[0]), alg, inner.clone(), int(&[5])]);
        assert!(pkcs8(&extra).is_err());
        // An algorithm not known here: its OID as a fact.
        let other = seq(&[
            int(&[0]),
            seq(&[tlv(0x06, &[0x2b, 0x06, 0x01, 0x04])]),
            inner,
        ]);
        assert_eq!(
            pkcs8(&other).unwrap(),
            vec![Fact::new("algorithm", "1.3.6.1.4")]
        );
    }

    #[test]
    fn sec1_parameters_and_public_key() {
        let p256 = tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]);
        let key = tlv(0x04, &[5; 32]);
        let public = tlv(0xa1, &tlv(0x03, &[0, 4, 1, 2]));
        let full = seq(&[int(&[1]), key.clone(), tlv(0xa0, &p256), public.clone()]);
        assert_eq!(
            ec(&full).unwrap(),
            vec![Fact::new("key_type", "ec"), Fact::new("curve", "P-256")]
        );
        assert!(ec(&seq(&[int(&[1]), key.clone()])).is_ok());
        assert!(ec(&seq(&[int(&[1]), key.clone(), public.clone()])).is_ok());
        for bad in [
            seq(&[int(&[0]), key.clone()]),
            seq(&[int(&[1]), tlv(0x04, &[])]),
            seq(&[int(&[1]), key.clone(), tlv(0xa0, &int(&[1]))]),
            seq(&[int(&[1]), key.clone(), tlv(0xa1, &tlv(0x03, &[]))]),
            seq(&[int(&[1]), key.clone(), public.clone(), tlv(0xa0, &p256)]),
            seq(&[int(&[1])]),
        ] {
            assert!(ec(&bad).is_err(), "{bad:02x?}");
        }
    }

    #[test]
    fn dsa_and_encrypted_pkcs8_structures() {
        let six = |v: u8| {
            seq(&[
                int(&[v]),
                int(&[0x7f; 128]),
                int(&[3]),
                int(&[2]),
                int(&[5]),
                int(&[1]),
            ])
        };
        assert_eq!(
            dsa(&six(0)).unwrap(),
            vec![Fact::new("key_type", "dsa"), Fact::new("key_bits", "1023")]
        );
        assert!(dsa(&six(1)).is_err());
        let pbes2 = tlv(
            0x06,
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d],
        );
        let enc = seq(&[seq(&[pbes2.clone(), seq(&[])]), tlv(0x04, &[1; 16])]);
        assert_eq!(
            encrypted_pkcs8(&enc).unwrap(),
            vec![
                Fact::new("encrypted", "yes"),
                Fact::new("encryption", "pbes2")
            ]
        );
        assert!(
            encrypted_pkcs8(&seq(&[seq(std::slice::from_ref(&pbes2)), tlv(0x04, &[])])).is_err()
        );
        assert!(encrypted_pkcs8(&seq(&[seq(&[int(&[1])]), tlv(0x04, &[1])])).is_err());
        assert!(encrypted_pkcs8(&seq(&[seq(&[pbes2]), tlv(0x04, &[1]), int(&[0])])).is_err());
    }
}
