//! `alibaba-key-id`: Alibaba Cloud AccessKey IDs.
//!
//! **Rule:** the secret (without surrounding quotes and whitespace) is `LTAI` followed by 12
//! or 20 characters of `[A-Za-z0-9]` (16 or 24 in all: older IDs are 16 characters long,
//! current ones 24), among which there is at least one letter (`LTAI123456789012` is a
//! number, not an ID). Generated IDs draw each character from 62, so one without a digit is
//! common (one in eight 16-character IDs) and is not rejected; a run like `LTAIabcdefghijkl`
//! is left to the `placeholder` check.

use super::Outcome;
use super::text::unquote;

/// `alibaba-key-id` on a secret.
pub(super) fn check(secret: &[u8]) -> Outcome {
    let id = unquote(secret);
    let Some(body) = id.strip_prefix(b"LTAI") else {
        return Err("an Alibaba Cloud AccessKey ID starts with LTAI".into());
    };
    if body.len() != 12 && body.len() != 20 {
        return Err(format!(
            "an Alibaba Cloud AccessKey ID has 12 or 20 characters after LTAI; this has {}",
            body.len()
        ));
    }
    if !body.iter().all(u8::is_ascii_alphanumeric) {
        return Err("an Alibaba Cloud AccessKey ID has only letters and digits".into());
    }
    if !body.iter().any(u8::is_ascii_alphabetic) {
        return Err("generated AccessKey IDs have letters after LTAI; this has only digits".into());
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_both_lengths_pass() {
        // The built-in rule's examples (generated for the tests).
        for id in [
            "LTAI5tFtVrPodKPp6dyhv8LZ",
            "LTAIGQlOgm6tq0sT",
            "LTAImo1sR0kTSo8gGRnV"[..16].as_ref(),
            "'LTAI5tFtVrPodKPp6dyhv8LZ'",
            // No digit after LTAI: one generated ID in eight looks like this.
            "LTAIRBwAlMQaEKee",
        ] {
            assert_eq!(check(id.as_bytes()), Ok(vec![]), "{id}");
        }
    }

    #[test]
    fn look_alikes_fail() {
        for bad in [
            "",
            "LTAI",
            "LTAI123456789012",
            "LTAIUvAY5g2BR4D",
            "LTAIBGKL6vKq3fUEDkYjYpnRR",
            "LTAI5tFtVrPodKPp6dyhv8L",
            "LTAI****************",
            "LTAI_PKcp6OD0Bqh9h2zK",
            "ltai5tFtVrPodKPp6dyhv8LZ",
            "LTAI5tFtVrPodKPp6dyhv8L\u{e9}",
        ] {
            assert!(check(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
