//! `putty-key`: a PuTTY private key file (`.ppk`), format version 2 or 3.
//!
//! **Rule:** the match holds, from `PuTTY-User-Key-File-`, these lines in this order (line
//! ends `\n` or `\r\n`, or JSON-escaped as for `pem-key`):
//!
//! 1. `PuTTY-User-Key-File-2: <algorithm>` or `...-3: <algorithm>`;
//! 2. `Encryption: <none or a cipher>`;
//! 3. `Comment: <anything>`;
//! 4. `Public-Lines: N` (1 to 1024), then N lines of base64 that decode to an SSH public key
//!    blob beginning with the algorithm named in line 1;
//! 5. any `Name: value` lines (version 3 puts the key derivation here: `Key-Derivation`,
//!    `Argon2-Memory`, ...);
//! 6. `Private-Lines: M` (1 to 1024), then M lines of base64 decoding to a non-empty private
//!    blob, a multiple of 16 bytes when encrypted (AES-256-CBC);
//! 7. `Private-MAC: <hex>` (40 hex digits in version 2, 64 in version 3), or in version 2
//!    `Private-Hash: <40 hex digits>`.
//!
//! Facts: `key_type` (rsa, dsa, ec, ed25519, ... from the algorithm), `key_bits` (RSA, DSA)
//! or `curve` (ECDSA) from the public key, and `encrypted` yes or no (`Encryption` is not
//! `none`).

use super::base64::{Alphabet, Skip, decode};
use super::sshwire::public_key_facts;
use super::text::{find, lines, printable, unescape};
use super::{Fact, Outcome};

/// The most lines a block of a `.ppk` is read for (a 16384-bit RSA key needs about 60).
const MAX_LINES: usize = 1024;

/// The value of the line `name: value`, if `line` is that line.
fn field<'a>(line: &'a [u8], name: &str) -> Option<&'a [u8]> {
    line.strip_prefix(name.as_bytes())?
        .strip_prefix(b":")
        .map(<[u8]>::trim_ascii)
}

fn expect<'a>(line: Option<&'a [u8]>, name: &str) -> Result<&'a [u8], String> {
    line.and_then(|l| field(l, name))
        .ok_or_else(|| format!("the {name} line is missing or out of place"))
}

/// Reads the N base64 lines after a `...-Lines: N` count, and decodes them.
fn block<'a>(
    count: &[u8],
    what: &str,
    lines: &mut impl Iterator<Item = &'a [u8]>,
) -> Result<Vec<u8>, String> {
    let n: usize = std::str::from_utf8(count)
        .ok()
        .filter(|s| (1..=4).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .filter(|n| (1..=MAX_LINES).contains(n))
        .ok_or_else(|| format!("the {what} count is not a number from 1 to {MAX_LINES}"))?;
    let mut text = Vec::new();
    for _ in 0..n {
        let line = lines
            .next()
            .ok_or_else(|| format!("the {what} block ends before its last line"))?;
        if line.is_empty() || line.contains(&b':') {
            return Err(format!("the {what} block has fewer lines than it says"));
        }
        text.extend_from_slice(line);
    }
    decode(&text, Alphabet::Standard, Skip::Nothing)
        .map_err(|why| format!("the {what} block is not base64: {why}"))
}

/// `putty-key` on a match.
pub(super) fn check(matched: &[u8]) -> Outcome {
    let start = find(matched, b"PuTTY-User-Key-File-")
        .ok_or_else(|| "there is no PuTTY-User-Key-File- line".to_string())?;
    let text = unescape(matched.get(start..).unwrap_or_default());
    let mut lines = lines(&text);

    let first = lines.next().unwrap_or_default();
    let (version, algorithm) = if let Some(a) = field(first, "PuTTY-User-Key-File-2") {
        (2, a)
    } else if let Some(a) = field(first, "PuTTY-User-Key-File-3") {
        (3, a)
    } else {
        return Err("the file is not PuTTY-User-Key-File-2 or -3".into());
    };
    if printable(algorithm, 64).is_none() || algorithm.contains(&b' ') {
        return Err("the key algorithm in the first line is not a name".into());
    }
    let encryption = expect(lines.next(), "Encryption")?;
    if printable(encryption, 64).is_none() {
        return Err("the Encryption line names no cipher".into());
    }
    let encrypted = encryption != b"none";
    expect(lines.next(), "Comment")?;
    let count = expect(lines.next(), "Public-Lines")?;
    let public = block(count, "Public-Lines", &mut lines)?;
    let (public_algorithm, mut facts) = public_key_facts(&public)?;
    if public_algorithm != algorithm {
        return Err("the public key's algorithm is not the one the file names".into());
    }

    // Optional fields (the key derivation), then the private block.
    let private = loop {
        let line = lines
            .next()
            .ok_or_else(|| "the Private-Lines line is missing".to_string())?;
        if let Some(count) = field(line, "Private-Lines") {
            break block(count, "Private-Lines", &mut lines)?;
        }
        if !line.contains(&b':') {
            return Err("a line between the public and private blocks is not a field".into());
        }
    };
    if private.is_empty() || (encrypted && !private.len().is_multiple_of(16)) {
        return Err(format!(
            "the private block has {} bytes, which its encryption cannot produce",
            private.len()
        ));
    }

    let last = lines.next().unwrap_or_default();
    let (mac, digits) = match (field(last, "Private-MAC"), field(last, "Private-Hash")) {
        (Some(mac), _) => (mac, if version == 2 { 40 } else { 64 }),
        (None, Some(hash)) if version == 2 => (hash, 40),
        _ => return Err("the Private-MAC line is missing or out of place".into()),
    };
    if mac.len() != digits || !mac.iter().all(u8::is_ascii_hexdigit) {
        return Err(format!("the MAC is not {digits} hex digits"));
    }
    facts.push(Fact::new("encrypted", if encrypted { "yes" } else { "no" }));
    Ok(facts)
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn generated_keys_pass_with_their_facts() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            (
                PUTTY_V3_ED25519,
                &[("key_type", "ed25519"), ("encrypted", "no")],
            ),
            (
                PUTTY_V3_ED25519_ENCRYPTED,
                &[("key_type", "ed25519"), ("encrypted", "yes")],
            ),
            (
                PUTTY_V3_ECDSA_P256,
                &[("key_type", "ec"), ("curve", "P-256"), ("encrypted", "no")],
            ),
            (
                PUTTY_V2_ED25519,
                &[("key_type", "ed25519"), ("encrypted", "no")],
            ),
            (
                PUTTY_V2_ED25519_ENCRYPTED,
                &[("key_type", "ed25519"), ("encrypted", "yes")],
            ),
            (
                PUTTY_V2_RSA_1024,
                &[
                    ("key_type", "rsa"),
                    ("key_bits", "1024"),
                    ("encrypted", "no"),
                ],
            ),
        ];
        for (text, want) in cases {
            assert_eq!(facts(text), f(want), "{text}");
            assert_eq!(facts(&text.replace('\n', "\r\n")), f(want));
            assert_eq!(
                facts(&format!("prefix text {}", text.replace('\n', "\\n"))),
                f(want)
            );
        }
        // Version 2's older Private-Hash line.
        let hash = PUTTY_V2_ED25519.replace("Private-MAC:", "Private-Hash:");
        assert!(check(hash.as_bytes()).is_ok());
    }

    #[test]
    fn broken_files_fail() {
        let key = PUTTY_V3_ED25519;
        let lines: Vec<&str> = key.lines().collect();
        // Every prefix of lines is incomplete.
        for n in 0..lines.len() {
            let cut = lines[..n].join("\n");
            assert!(check(cut.as_bytes()).is_err(), "{cut}");
        }
        // Any one line dropped.
        for n in 0..lines.len() {
            let dropped = [&lines[..n], &lines[n + 1..]].concat().join("\n");
            assert!(check(dropped.as_bytes()).is_err(), "{dropped}");
        }
        for bad in [
            key.replace("File-3", "File-1"),
            key.replace("File-3: ssh-ed25519", "File-3: ssh-rsa"),
            key.replace("Public-Lines: 2", "Public-Lines: 3"),
            key.replace("Public-Lines: 2", "Public-Lines: 1"),
            key.replace("Public-Lines: 2", "Public-Lines: 99999999999999999999"),
            key.replace("Public-Lines: 2", "Public-Lines: -2"),
            key.replace("Private-Lines: 1", "Private-Lines: 0"),
            key.replace("Private-MAC: 57f5", "Private-MAC: zzzz"),
            key.replace("Private-MAC:", "Private-Hash:"),
            PUTTY_V2_ED25519.replace("Private-MAC: 4e77", "Private-MAC: 4e"),
            PUTTY_V3_ED25519_ENCRYPTED.replace(
                "Pev29gti105MostQM4ChUzh8xORaGDslNebxKMhbGlBeabTxAczKGhrnQNWtVqim",
                "Pev29gti105MostQM4ChUzh8xORaGDslNebxKMhbGlBeabTxAczKGhrnQNWtVq",
            ),
            "PuTTY-User-Key-File-3: <your key here>".into(),
            String::new(),
        ] {
            assert!(check(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn mutated_files_never_panic() {
        let mut rng = Rng::new(11);
        for key in [
            PUTTY_V2_RSA_1024,
            PUTTY_V3_ED25519_ENCRYPTED,
            PUTTY_V3_ECDSA_P256,
        ] {
            for _ in 0..2000 {
                let mut m = key.as_bytes().to_vec();
                for _ in 0..=rng.below(3) {
                    let i = rng.below(m.len());
                    m[i] = b"AZaz09+/=:\n -"[rng.below(13)];
                }
                let _ = check(&m);
            }
        }
    }
}
