//! Driving the offline checks that parse key bodies ([`snapsift_match::checks`]) as a rule's
//! assessment does: on a match whole and on one cut at its rule's `max_len`. The check
//! targets hand them either the input as it is (the text a rule matched) or the input's bytes
//! wrapped in the encoding the check peels off first (PEM or armor base64, base64url), so that
//! mutations land on the parsers behind it (DER, OpenPGP packets, SSH wire blobs, JSON).

use snapsift_match::checks::{Check, Evidence, Verdict};

/// Runs check `spec` on `matched` with the secret `secret`, whole and cut, and checks the
/// checks' contract beyond not panicking: a failure says why, and the verdict depends only on
/// the evidence.
pub fn run(spec: &str, matched: &[u8], secret: &[u8]) {
    let check = Check::parse(spec).expect("a check the built-in rules use");
    for truncated in [false, true] {
        let evidence = Evidence {
            matched,
            secret,
            truncated,
        };
        let verdict = check.run(&evidence);
        if let Verdict::Failed(reason) = &verdict {
            assert!(!reason.is_empty(), "{spec} failed without saying why");
        }
        assert_eq!(check.run(&evidence), verdict, "{spec} is not pure");
    }
}

/// The base64 alphabet of RFC 4648.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `bytes` in base64 (RFC 4648), with `=` padding when `padded`; with `url`, the base64url
/// alphabet (`-` and `_`).
pub fn base64(bytes: &[u8], padded: bool, url: bool) -> String {
    let symbol = |index: u32| {
        let c = ALPHABET[(index & 63) as usize];
        match (url, c) {
            (true, b'+') => '-',
            (true, b'/') => '_',
            _ => c as char,
        }
    };
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let word = group
            .iter()
            .enumerate()
            .fold(0u32, |w, (i, &b)| w | u32::from(b) << (16 - 8 * i));
        let symbols = group.len() + 1;
        for i in 0..4 {
            if i < symbols {
                out.push(symbol(word >> (18 - 6 * i)));
            } else if padded {
                out.push('=');
            }
        }
    }
    out
}

/// `bytes` in base64 in lines of 64 characters, as PEM and OpenPGP armor write them.
pub fn base64_lines(bytes: &[u8]) -> String {
    let encoded = base64(bytes, true, false);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 64 + 1);
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes(), true, false), expected);
        }
        assert_eq!(base64(&[0xfb, 0xff], false, true), "-_8");
    }
}
