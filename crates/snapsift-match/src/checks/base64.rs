//! `base64:N`, and the base64 decoder every check uses.
//!
//! **Rule:** the secret (without surrounding quotes and whitespace) decodes as base64 to at
//! least `N` bytes. The standard (`+/`) and URL-safe (`-_`) alphabets are accepted, but not
//! mixed in one value; `=` padding is optional, but where present it must be the right amount
//! and only at the end; line breaks (`\n`, `\r`) and their two-character escapes as written
//! inside JSON strings (`\n`, `\r`) are ignored. Unused low bits of the last character are not
//! required to be zero. A value whose length leaves a single character in its last group
//! cannot be base64 and fails.

use super::Outcome;
use super::text::unquote;

/// Which base64 alphabet a decode accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Alphabet {
    /// `A-Za-z0-9+/` (RFC 4648 §4).
    Standard,
    /// `A-Za-z0-9-_` (RFC 4648 §5).
    UrlSafe,
    /// Either, but not both in one value.
    Either,
}

/// What a decode skips between characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Skip {
    /// Nothing: every byte is data or padding.
    Nothing,
    /// `\n`, `\r`, and the two-character escapes `\n` and `\r`.
    LineBreaks,
    /// Any ASCII whitespace.
    Whitespace,
}

/// The value of base64 character `c`, and whether it belongs to the standard (`Some(true)`)
/// or URL-safe (`Some(false)`) alphabet only.
fn value(c: u8) -> Option<(u8, Option<bool>)> {
    Some(match c {
        b'A'..=b'Z' => (c.wrapping_sub(b'A'), None),
        b'a'..=b'z' => (c.wrapping_sub(b'a').wrapping_add(26), None),
        b'0'..=b'9' => (c.wrapping_sub(b'0').wrapping_add(52), None),
        b'+' => (62, Some(true)),
        b'/' => (63, Some(true)),
        b'-' => (62, Some(false)),
        b'_' => (63, Some(false)),
        _ => return None,
    })
}

/// Decodes `input` as base64 (see the module docs for what is accepted). The error says what
/// is wrong, never what the input holds.
pub(super) fn decode(input: &[u8], alphabet: Alphabet, skip: Skip) -> Result<Vec<u8>, String> {
    // Three bytes out for every four characters in: never more than the input's length.
    let mut out = Vec::with_capacity(input.len().saturating_mul(3) / 4);
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    let mut data_chars: usize = 0;
    let mut pads: usize = 0;
    let (mut standard, mut url_safe) = (false, false);
    let mut rest = input;
    while let Some((&c, tail)) = rest.split_first() {
        rest = tail;
        match (c, skip) {
            (b'\n' | b'\r', Skip::LineBreaks | Skip::Whitespace) => continue,
            (b' ' | b'\t' | 0x0b | 0x0c, Skip::Whitespace) => continue,
            (b'\\', Skip::LineBreaks) => match tail.split_first() {
                Some((b'n' | b'r', after)) => {
                    rest = after;
                    continue;
                }
                _ => return Err("it has a character outside the base64 alphabet".into()),
            },
            (b'=', _) => {
                pads = pads.saturating_add(1);
                if pads > 2 {
                    return Err("it has more than two padding characters".into());
                }
                continue;
            }
            _ => {}
        }
        if pads > 0 {
            return Err("it has data after its padding".into());
        }
        let Some((v, only)) = value(c) else {
            return Err("it has a character outside the base64 alphabet".into());
        };
        match only {
            Some(true) => standard = true,
            Some(false) => url_safe = true,
            None => {}
        }
        match alphabet {
            Alphabet::Standard if url_safe => {
                return Err("it has URL-safe characters where standard base64 is expected".into());
            }
            Alphabet::UrlSafe if standard => {
                return Err("it has standard characters where URL-safe base64 is expected".into());
            }
            _ if standard && url_safe => {
                return Err("it mixes the standard and URL-safe base64 alphabets".into());
            }
            _ => {}
        }
        data_chars = data_chars.saturating_add(1);
        // `acc` holds fewer than 8 pending bits before this character, 6 more after it.
        acc = (acc.wrapping_shl(6) | u32::from(v)) & 0x3fff;
        bits = bits.wrapping_add(6);
        if bits >= 8 {
            bits = bits.wrapping_sub(8);
            out.push((acc.wrapping_shr(bits) & 0xff) as u8);
        }
    }
    if data_chars % 4 == 1 {
        return Err("its length leaves a single character in the last group".into());
    }
    if pads > 0 && !data_chars.saturating_add(pads).is_multiple_of(4) {
        return Err("it has the wrong amount of padding".into());
    }
    Ok(out)
}

/// `base64:N` on a secret.
pub(super) fn check(secret: &[u8], min: usize) -> Outcome {
    let value = unquote(secret);
    if value.is_empty() {
        return Err("the secret is empty".into());
    }
    let decoded = decode(value, Alphabet::Either, Skip::LineBreaks)
        .map_err(|why| format!("the secret is not base64: {why}"))?;
    if decoded.len() < min {
        return Err(format!(
            "the secret decodes to {} bytes, fewer than {min}",
            decoded.len()
        ));
    }
    Ok(Vec::new())
}

/// `bytes` as padded standard base64.
pub(super) fn encode(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3).saturating_mul(4));
    for chunk in bytes.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = byte(0) << 16 | byte(1) << 8 | byte(2);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                let index = usize::try_from(n >> shift & 63).unwrap_or(0);
                s.push(char::from(A.get(index).copied().unwrap_or(b'=')));
            } else {
                s.push('=');
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Result<Vec<u8>, String> {
        decode(s.as_bytes(), Alphabet::Either, Skip::LineBreaks)
    }

    #[test]
    fn decodes_the_rfc_4648_vectors_padded_and_unpadded() {
        for (enc, dec) in [
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
        ] {
            assert_eq!(d(enc).unwrap(), dec.as_bytes(), "{enc}");
            assert_eq!(d(enc.trim_end_matches('=')).unwrap(), dec.as_bytes());
            assert_eq!(encode(dec.as_bytes()), enc);
        }
    }

    #[test]
    fn alphabets() {
        assert_eq!(d("-_-_").unwrap(), d("+/+/").unwrap());
        assert!(d("+/-_").is_err());
        let url = decode(b"-_", Alphabet::Standard, Skip::Nothing);
        assert!(url.is_err());
        assert!(decode(b"+/", Alphabet::UrlSafe, Skip::Nothing).is_err());
        assert!(decode(b"+/", Alphabet::Standard, Skip::Nothing).is_ok());
    }

    #[test]
    fn skips_line_breaks_and_their_escapes() {
        assert_eq!(d("Zm9v\nYmFy").unwrap(), b"foobar");
        assert_eq!(d("Zm9v\r\nYmFy\n").unwrap(), b"foobar");
        assert_eq!(d(r"Zm9v\nYmFy\r\n").unwrap(), b"foobar");
        assert!(d(r"Zm9v\tYmFy").is_err());
        assert!(d("Zm9v YmFy").is_err());
        assert!(decode(b"Zm9v YmFy", Alphabet::Either, Skip::Whitespace).is_ok());
        assert!(decode(b"Zm9v\nYmFy", Alphabet::Either, Skip::Nothing).is_err());
    }

    #[test]
    fn refuses_malformed_input() {
        for bad in [
            "Z",
            "Zm9vY",
            "Zg=",
            "Zg===",
            "Zg==Zg==",
            "Zm9v!",
            "Zm9v\u{e9}",
            "\\",
        ] {
            assert!(d(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_check_counts_decoded_bytes() {
        assert!(check(b"Zm9vYmFy", 6).is_ok());
        assert!(check(b"\"Zm9vYmFy\"", 6).is_ok());
        let short = check(b"Zm9vYmFy", 7).unwrap_err();
        assert!(short.contains("6 bytes"), "{short}");
        assert!(check(b"", 1).is_err());
        assert!(check(b"not base64!", 1).is_err());
        let why = check(b"c2VjcmV0!", 1).unwrap_err();
        assert!(!why.contains("c2VjcmV0"));
    }
}
