//! Weak secrets: real values that are easy to guess. A weak password that guards a real system
//! is a worse leak than a strong one, so it is kept as a finding, marked `weak`; only
//! placeholders (see `placeholder`) are turned away.
//!
//! **Rule:** the secret is taken as `placeholder` takes it (without surrounding whitespace
//! and quotes, compared case-insensitively). It is weak, for each of these reasons that holds:
//!
//! * **common password**: it is one of [`COMMON`] (`123456`, `qwerty`, `letmein`,
//!   `passw0rd`, ...), or one of those or of `placeholder`'s dummy words with digits, `_`,
//!   `-` or `!` added (`Welcome1!`, `Qwerty123!`, `Password123!`, `MyPassword2024!`), or
//!   base64 of such a value (a Kubernetes Secret's `data`);
//! * **mostly sequential characters**: a run of at least 4 characters each one more (or each
//!   one less) than the one before (`12345`, `abcd`, `9876`) makes up more than half of it
//!   (from 16 characters on, such a value is a fill that `placeholder` turns away);
//! * **short**: it has fewer than [`MIN_LEN`] characters;
//! * **low entropy**: its Shannon entropy is below [`MIN_ENTROPY`] bits per byte
//!   (`Hunter22`, 2.75).
//!
//! Facts: `weak` = `true` and `weak_reason`, the reasons joined with `, `.

use super::Fact;
use super::base64::{Alphabet, Skip, decode};
use super::entropy::shannon;
use super::placeholder::{is_dummy, longest_sequential_run, suffix_stem};
use super::text::unquote;

/// Passwords from every list of the most used ones, compared with the whole value or with
/// its stem before a suffix of digits and symbols. Lower case.
pub(super) const COMMON: &[&str] = &[
    "123456",
    "1234",
    "12345",
    "123123",
    "111111",
    "654321",
    "abc123",
    "qwerty",
    "qwerty123",
    "qwertz",
    "azerty",
    "asdf",
    "asdfgh",
    "zxcvbn",
    "1q2w3e4r",
    "1qaz2wsx",
    "zaq12wsx",
    "letmein",
    "welcome",
    "admin",
    "administrator",
    "root",
    "toor",
    "guest",
    "user",
    "login",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "pa$$word",
    "iloveyou",
    "monkey",
    "dragon",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "master",
    "shadow",
    "hunter",
    "hunter2",
    "trustno1",
    "superman",
    "batman",
    "starwars",
    "summer",
    "winter",
    "spring",
    "autumn",
];

/// Shorter than this many characters is short.
pub(super) const MIN_LEN: usize = 8;

/// Below this Shannon entropy, in bits per byte, a value is low-entropy.
pub(super) const MIN_ENTROPY: f64 = 3.0;

/// The reasons `value` is weak, joined with `, `; `None` when it is not.
pub(super) fn reasons(value: &[u8]) -> Option<String> {
    let v = unquote(value);
    let lower = v.to_ascii_lowercase();
    let mut why: Vec<&str> = Vec::new();
    if is_common(&lower) || is_encoded_common(v) {
        why.push("common password");
    }
    if longest_sequential_run(&lower).saturating_mul(2) > lower.len() {
        why.push("mostly sequential characters");
    }
    if v.len() < MIN_LEN {
        why.push("short");
    }
    if shannon(v) < MIN_ENTROPY {
        why.push("low entropy");
    }
    (!why.is_empty()).then(|| why.join(", "))
}

/// The facts that mark a weak value, or none.
pub(super) fn facts(value: &[u8]) -> Vec<Fact> {
    match reasons(value) {
        Some(why) => vec![Fact::new("weak", "true"), Fact::new("weak_reason", why)],
        None => Vec::new(),
    }
}

/// Whether `lower` is a common password, as it is or with a suffix.
fn is_common(lower: &[u8]) -> bool {
    let listed = |w: &[u8]| COMMON.iter().any(|c| c.as_bytes() == w);
    let stem = suffix_stem(lower);
    listed(lower) || (stem.len() >= 4 && (listed(stem) || is_dummy(stem)))
}

/// Whether `v` is base64 of readable text that is a common password.
fn is_encoded_common(v: &[u8]) -> bool {
    if v.len() < 8 || v.len() > 512 {
        return false;
    }
    let Ok(decoded) = decode(v, Alphabet::Either, Skip::Nothing) else {
        return false;
    };
    !decoded.is_empty()
        && decoded.iter().all(u8::is_ascii_graphic)
        && is_common(&decoded.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_values_say_why() {
        for (value, why) in [
            ("Password123!", "common password"),
            ("Welcome1!", "common password"),
            ("Qwerty123!", "common password"),
            ("Passw0rd!", "common password"),
            ("Letmein123", "common password"),
            ("12345Qw!", "mostly sequential characters"),
            ("Hunter22", "low entropy"),
            ("x9!Kq", "short"),
            // base64 of "MyPassword2024!".
            ("TXlQYXNzd29yZDIwMjQh", "common password"),
        ] {
            let got = reasons(value.as_bytes()).unwrap_or_default();
            assert!(got.contains(why), "{value}: {got:?}");
        }
    }

    #[test]
    fn strong_values_are_not_weak() {
        for value in [
            "q8KmZ2xLw0PzR7tY",
            "Tr0ub4dor&3",
            "correct horse battery staple",
            "zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ0mLq17",
        ] {
            assert_eq!(reasons(value.as_bytes()), None, "{value}");
            assert!(facts(value.as_bytes()).is_empty());
        }
        assert_eq!(
            facts(b"Password123!"),
            vec![
                Fact::new("weak", "true"),
                Fact::new("weak_reason", "common password")
            ]
        );
    }
}
