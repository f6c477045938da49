//! `github-checksum`: GitHub's checksummed token formats.
//!
//! **Rule:** the secret (without surrounding quotes and whitespace) is one of:
//!
//! * `ghp_`, `gho_`, `ghu_`, `ghs_` or `ghr_`, then exactly 36 base62 characters
//!   (`[0-9A-Za-z]`), the last 6 of which are the CRC-32 (IEEE 802.3, as zlib's `crc32`) of
//!   the 30 before them, written in base62 with the digits `0-9A-Za-z` and padded on the left
//!   with `0` to 6 characters. The prefix is not part of the checksummed text. Passed with
//!   the fact `token_type`.
//! * `github_pat_`, then 22 base62 characters, `_`, and 59 base62 characters: a fine-grained
//!   personal access token. No checksum algorithm for these has been published, so only the
//!   shape is checked and it is Passed with no fact.
//!
//! Anything else fails, including a `gh?_` token of another length (such as the 76-character
//! refresh tokens some scanners match): only the 36-character format is known to carry this
//! checksum, so a rule for other lengths should not use this check.
//!
//! The format is described in GitHub's post "Behind GitHub's new authentication token
//! formats" (2021); the algorithm was confirmed against tokens published as examples (see the
//! tests).

use super::text::unquote;
use super::{Fact, Outcome};

/// Base62 digits, in value order.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The CRC-32 of `bytes` (reflected polynomial 0xEDB88320, initial and final value all ones).
pub(super) fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// The value of the base62 number `digits`, or `None` if one is not a base62 digit.
fn base62_value(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &c| {
        let d = BASE62.iter().position(|&x| x == c)?;
        Some(acc.saturating_mul(62).saturating_add(d as u64))
    })
}

/// The kind of token each checksummed prefix names.
const PREFIXES: [(&[u8], &str); 5] = [
    (b"ghp_", "personal-access-token"),
    (b"gho_", "oauth-access-token"),
    (b"ghu_", "user-to-server-token"),
    (b"ghs_", "server-to-server-token"),
    (b"ghr_", "refresh-token"),
];

/// `github-checksum` on a secret.
pub(super) fn check(secret: &[u8]) -> Outcome {
    let token = unquote(secret);
    if let Some(rest) = token.strip_prefix(b"github_pat_") {
        let shape_holds = rest.len() == 22 + 1 + 59
            && rest.iter().enumerate().all(|(i, &c)| {
                if i == 22 {
                    c == b'_'
                } else {
                    c.is_ascii_alphanumeric()
                }
            });
        return if shape_holds {
            Ok(Vec::new())
        } else {
            Err(
                "a github_pat_ token has 22 base62 characters, '_' and 59 more; this has not"
                    .into(),
            )
        };
    }
    let Some((body, kind)) = PREFIXES
        .iter()
        .find_map(|&(prefix, kind)| token.strip_prefix(prefix).map(|body| (body, kind)))
    else {
        return Err("the secret does not start with a GitHub token prefix".into());
    };
    if !body.iter().all(u8::is_ascii_alphanumeric) {
        return Err("the token has characters outside base62".into());
    }
    if body.len() != 36 {
        return Err(format!(
            "the token has {} characters after its prefix; the checksummed format has 36",
            body.len()
        ));
    }
    let (random, checksum) = body.split_at(30);
    if base62_value(checksum) != Some(u64::from(crc32(random))) {
        return Err("the token's checksum (its last 6 characters) does not match".into());
    }
    Ok(vec![Fact::new("token_type", kind)])
}

#[cfg(test)]
mod tests {
    use super::super::tests::Rng;
    use super::*;

    /// A token with a valid checksum, made the way the format describes (test-only).
    fn make(prefix: &str, random: &str) -> String {
        let mut n = crc32(random.as_bytes());
        let mut digits = Vec::new();
        for _ in 0..6 {
            digits.push(BASE62[(n % 62) as usize]);
            n /= 62;
        }
        digits.reverse();
        format!("{prefix}{random}{}", String::from_utf8(digits).unwrap())
    }

    #[test]
    fn crc32_known_value() {
        // The CRC-32 check value of "123456789".
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn published_tokens_pass() {
        // The example in coolaj86's gist on GitHub's token format
        // (gist.github.com/coolaj86/eb8cddfd3e4251258712dfed03e1f86d):
        // "ghp_" + "zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ" + "0mLq17" (note the 0 padding).
        assert_eq!(
            check(b"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"),
            Ok(vec![Fact::new("token_type", "personal-access-token")])
        );
        // An example of Nosey Parker's GitHub rule (praetorian-inc/noseyparker,
        // crates/noseyparker/data/default/builtin/rules/github.yml, rule np.github.1).
        assert!(check(b"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").is_ok());
    }

    #[test]
    fn made_up_documentation_tokens_fail() {
        // Hand-written examples from documentation (here as quoted in Nosey Parker's rules):
        // the right shape, but no checksum.
        for t in [
            "ghu_16C7e42F292c69C2E7C10c838347Ae178B4a",
            "gho_16C7e42F292c6912E7710c838347Ae178B4a",
        ] {
            let why = check(t.as_bytes()).unwrap_err();
            assert!(why.contains("checksum") && !why.contains(&t[4..]), "{why}");
        }
    }

    #[test]
    fn generated_tokens_pass_and_any_change_fails() {
        let mut rng = Rng::new(7);
        for (prefix, kind) in PREFIXES {
            let prefix = std::str::from_utf8(prefix).unwrap();
            let random: String = (0..30).map(|_| BASE62[rng.below(62)] as char).collect();
            let token = make(prefix, &random);
            assert_eq!(
                check(token.as_bytes()),
                Ok(vec![Fact::new("token_type", kind)])
            );
            assert!(check(format!("\"{token}\"").as_bytes()).is_ok());
            for i in 4..token.len() {
                let mut bad = token.clone().into_bytes();
                bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
                assert!(check(&bad).is_err(), "{token} changed at {i}");
            }
        }
    }

    #[test]
    fn wrong_shapes_fail() {
        let good = "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";
        for bad in [
            "",
            "ghp_",
            "ghx_zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ0mLq17",
            &good[..good.len() - 1],
            &format!("{good}A"),
            "ghp_zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ0mLq1-",
            "ghp_zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ0mLq1\u{e9}",
            "ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c3CE1ccbF66C46812d16D5B1A9Dc86A1498",
        ] {
            assert!(check(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn fine_grained_tokens_pass_on_shape_alone() {
        // Nosey Parker's example for rule np.github.7.
        let t = "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";
        assert_eq!(check(t.as_bytes()), Ok(vec![]));
        assert!(check(&t.as_bytes()[..t.len() - 1]).is_err());
        assert!(check(t.replace("zwK_", "zwKa").as_bytes()).is_err());
        assert!(check(t.replace("JYG2", "JY-2").as_bytes()).is_err());
    }
}
