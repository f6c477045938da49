//! The detection rules, restated as plain regexes for xtask's own checks and for ripgrep.
//!
//! `cargo xtask testdata` checks the sample disk against [`RULES`] before writing it: every
//! planted secret is matched exactly where it was put, with exactly its recorded extent, and
//! nothing else matches. That catches a generator producing a secret the scanner would report
//! differently (a URI running on into the next word) before anyone's test fails on it.
//!
//! The patterns mirror the files of `crates/snapsift-match/rules/` (the scanner's source of
//! truth); keep them in step when a rule there changes shape.

use std::ops::Range;

use regex::bytes::{Regex, RegexBuilder};

/// (rule id, pattern) for every rule the sample disk is checked against.
pub const RULES: &[(&str, &str)] = &[
    (
        "aws.access-key-id",
        r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b",
    ),
    (
        "aws.iam-unique-id",
        r"\b(?:AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z2-7]{16}\b",
    ),
    ("alibaba.access-key-id", r"\bLTAI[A-Za-z0-9]{12,20}\b"),
    (
        "private-key.rsa",
        r"-----BEGIN RSA PRIVATE KEY-----[A-Za-z0-9+/=\s:,\\-]{64,}?-----END RSA PRIVATE KEY-----",
    ),
    (
        "private-key.ec",
        r"-----BEGIN EC PRIVATE KEY-----[A-Za-z0-9+/=\s:,\\-]{64,}?-----END EC PRIVATE KEY-----",
    ),
    (
        "private-key.dsa",
        r"-----BEGIN DSA PRIVATE KEY-----[A-Za-z0-9+/=\s:,\\-]{64,}?-----END DSA PRIVATE KEY-----",
    ),
    (
        "private-key.openssh",
        r"-----BEGIN OPENSSH PRIVATE KEY-----[A-Za-z0-9+/=\s:,\\-]{64,}?-----END OPENSSH PRIVATE KEY-----",
    ),
    (
        "private-key.pkcs8",
        r"-----BEGIN PRIVATE KEY-----[A-Za-z0-9+/=\s:,\\-]{64,}?-----END PRIVATE KEY-----",
    ),
    (
        "private-key.pkcs8-encrypted",
        r"-----BEGIN ENCRYPTED PRIVATE KEY-----[A-Za-z0-9+/=\s:,\\-]{64,}?-----END ENCRYPTED PRIVATE KEY-----",
    ),
    (
        "connection-uri.password",
        r#"(?:jdbc:)?(?:postgres(?:ql)?|mysql|mongodb(?:\+srv)?|rediss?|amqps?)://[^\s:@/?#"'<>\x00-\x1f]{0,128}:[^\s@/?#"'<>\x00-\x1f]{1,256}@[A-Za-z0-9._~%\[\]:,-]{1,255}(?:[/?][^\s"'<>\x00-\x1f]{0,512})?"#,
    ),
];

/// The benchmark's ripgrep equivalent of the rules: one regex per rule family, as the task that
/// defined the benchmark wrote them (looser than the rules, which is ripgrep's advantage).
pub const RG_PATTERNS: &[&str] = &[
    r"LTAI[A-Za-z0-9]{12,20}",
    r"(AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}",
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
    r"(postgres|postgresql|mysql|mongodb|mongodb\+srv|redis|rediss|amqp|amqps)://[^:@\s]*:[^@\s]+@",
];

/// One match of one of [`RULES`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleMatch {
    /// The rule's id.
    pub rule: &'static str,
    /// Where the match is in the haystack.
    pub range: Range<usize>,
}

/// Every match of every rule in `haystack`, by position. Like the scanner, a rule's matches
/// are leftmost and non-overlapping, so `jdbc:mysql://...` is one match, not two.
pub fn find_all(haystack: &[u8]) -> Vec<RuleMatch> {
    let mut found: Vec<RuleMatch> = compiled()
        .iter()
        .flat_map(|(rule, regex)| {
            regex.find_iter(haystack).map(|m| RuleMatch {
                rule,
                range: m.range(),
            })
        })
        .collect();
    found.sort_by_key(|m| (m.range.start, m.rule));
    found
}

fn compiled() -> Vec<(&'static str, Regex)> {
    RULES
        .iter()
        .map(|&(rule, pattern)| {
            // Byte-oriented like the scanner's: `\b` and `\s` are ASCII, `[^...]` matches any byte.
            let regex = RegexBuilder::new(pattern)
                .unicode(false)
                .build()
                .unwrap_or_else(|e| panic!("rule {rule}: {e}"));
            (rule, regex)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jdbc_uri_is_one_match() {
        let text = b"url=jdbc:mysql://app:pw123@db.internal:3306/app?useSSL=true\n";
        let found = find_all(text);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].range.start, 4);
        assert_eq!(found[0].range.end, text.len() - 1);
    }

    #[test]
    fn rg_patterns_compile() {
        for p in RG_PATTERNS {
            Regex::new(p).unwrap();
        }
    }
}
