//! `aws-key-id`: AWS access key IDs and IAM unique IDs, and the account they belong to.
//!
//! **Rule:** the secret (without surrounding quotes and whitespace) is 4 capital letters (the
//! type prefix: `AKIA`, `ASIA`, `AIDA`, ...) then 16 characters of the base32 alphabet
//! `A-Z2-7`. Passed, with the fact `aws_account_id` (12 digits, zero-padded) where the ID
//! encodes its account:
//!
//! * the 16 characters after the prefix are base32-decoded (RFC 4648, 10 bytes); the first 6
//!   bytes, read as a big-endian integer, masked with `0x7fffffffff80` and shifted right by
//!   7, are the account id (Tal Be'ery, "A short note on AWS KEY ID", 2023; the same decoding
//!   is in TruffleHog's AWS detector);
//! * this holds only for IDs whose first character after the prefix is in `Q-Z` or `2-7`,
//!   that is whose top bit, the one the mask drops, is set. IDs issued before about 2019
//!   begin `AKIAI…`/`AKIAJ…` (and `ASIAI…`/`ASIAJ…`), do not encode the account (Aidan
//!   Steele, "AWS Access Key ID formats", 2020: such a key gives a negative account; AWS's own
//!   documentation example `AKIAIOSFODNN7EXAMPLE` is one), and pass with no fact; so does any
//!   ID that would decode to more than 12 digits.
//!
//! The account is a fact for the finding, not a secret: `sts:GetAccessKeyInfo` gives it to
//! anyone holding the ID.

use super::text::unquote;
use super::{Fact, Outcome};

/// The value of a character of the base32 alphabet `A-Z2-7`.
fn base32_value(c: u8) -> Option<u64> {
    match c {
        b'A'..=b'Z' => Some(u64::from(c.wrapping_sub(b'A'))),
        b'2'..=b'7' => Some(u64::from(c.wrapping_sub(b'2').wrapping_add(26))),
        _ => None,
    }
}

/// The account id an AWS key ID encodes, or `None` where it encodes none (see the module
/// docs). `body` is the 16 characters after the prefix.
fn account_id(body: &[u8]) -> Option<u64> {
    // The first 6 bytes are the first 48 bits: the first 10 characters give 50 bits, of which
    // the top 48 are kept.
    let first10 = body.get(..10)?;
    let bits50 = first10
        .iter()
        .try_fold(0u64, |acc, &c| Some((acc << 5) | base32_value(c)?))?;
    let first6 = bits50 >> 2;
    if first6 & 0x8000_0000_0000 == 0 {
        return None; // An old-style ID: no account encoded.
    }
    let account = (first6 & 0x7fff_ffff_ff80) >> 7;
    (account <= 999_999_999_999).then_some(account)
}

/// `aws-key-id` on a secret.
pub(super) fn check(secret: &[u8]) -> Outcome {
    let id = unquote(secret);
    if id.len() != 20 {
        return Err(format!(
            "an AWS key ID has 20 characters; the secret has {}",
            id.len()
        ));
    }
    let (prefix, body) = id.split_at(4);
    if !prefix.iter().all(u8::is_ascii_uppercase) {
        return Err("an AWS key ID starts with 4 capital letters".into());
    }
    if !body.iter().all(|&c| base32_value(c).is_some()) {
        return Err("an AWS key ID ends with 16 characters of A-Z and 2-7".into());
    }
    Ok(account_id(body)
        .map(|a| vec![Fact::new("aws_account_id", format!("{a:012}"))])
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: &str) -> Option<String> {
        match check(id.as_bytes()) {
            Ok(facts) => {
                assert!(facts.len() <= 1);
                facts.first().map(|f| {
                    assert_eq!(f.name, "aws_account_id");
                    f.value.clone()
                })
            }
            Err(e) => panic!("{id}: {e}"),
        }
    }

    #[test]
    fn published_ids_give_their_published_accounts() {
        // Aidan Steele, "AWS Access Key ID formats" (2020): `aws sts get-access-key-info` on
        // this ID answered 609629065308.
        assert_eq!(
            account("ASIAY34FZKBOKMUTVV7A").as_deref(),
            Some("609629065308")
        );
        // TruffleHog's AWS detector tests (a canarytokens.org key) and the docs of the
        // aws_account_id_from_key_id crate: 171436882533.
        assert_eq!(
            account("AKIASP2TPHJSQH3FJXYZ").as_deref(),
            Some("171436882533")
        );
        // psanford/aws-account-id-from-key's README.
        assert_eq!(
            account("ASIAVJ2E6QGR2WZILJFM").as_deref(),
            Some("364679954851")
        );
        // LocalStack's account-id extraction (the zero account), and the padding.
        assert_eq!(
            account("ASIAQAAAAAAAGMKEM7X5").as_deref(),
            Some("000000000000")
        );
    }

    #[test]
    fn changing_the_random_tail_keeps_the_account() {
        // Aidan Steele: characters 13..20 do not change the account.
        assert_eq!(
            account("ASIAY34FZKBOKAAAAAAA").as_deref(),
            Some("609629065308")
        );
        // Character 11 `O` -> `N` lowers it by 2 (same source).
        assert_eq!(
            account("ASIAY34FZKBNKMUTVV7A").as_deref(),
            Some("609629065306")
        );
    }

    #[test]
    fn old_style_ids_pass_without_an_account() {
        // AWS's documentation example: an old-style ID (and a placeholder, which the
        // `placeholder` check turns away; this check only reads the structure).
        assert_eq!(account("AKIAIOSFODNN7EXAMPLE"), None);
        assert_eq!(account("AKIAJ2345ABCDEFGHIJK"), None);
        assert_eq!(account("AKIAAAAAAAAAAAAAAAAA"), None);
        // Above 999999999999: no 12-digit account.
        assert_eq!(account("AKIA77777777AAAAAAAA"), None);
    }

    #[test]
    fn the_builtin_rules_examples_pass() {
        for id in [
            "AKIANQCGPOYRDS3YHZFR",
            "ASIAE6F6Y652ZSUILG5F",
            "ABIAQFJ6JORL7DG7GDXO",
            "ACCAZYE4YYA6DUTIJTEX",
            "AIDACEBBXPA26LSIBHYK",
            "\"AROALEUM6GLAET5REY6V\"",
        ] {
            assert!(check(id.as_bytes()).is_ok(), "{id}");
        }
    }

    #[test]
    fn malformed_ids_fail() {
        for bad in [
            "",
            "AKIA",
            "AKIANQCGPOYRDS3YHZF",
            "AKIANQCGPOYRDS3YHZFRQ",
            "akianqcgpoyrds3yhzfr",
            "AKIA0189Y4VFWPOR6LIP",
            "AK1ANQCGPOYRDS3YHZFR",
            "AKIA NQCGPOYRDS3YHZF",
            "AKIANQCGPOYRDS3YHZ\u{c9}",
        ] {
            assert!(check(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
