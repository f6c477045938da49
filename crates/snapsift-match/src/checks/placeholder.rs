//! `placeholder`: turns away values that stand in for a secret rather than being one.
//!
//! **Rule:** the secret is taken without surrounding ASCII whitespace and up to two layers of
//! quotes, and compared case-insensitively. It fails when it:
//!
//! 1. is empty;
//! 2. is or contains a documented example: it contains `example` in any case (AWS's
//!    `AKIAIOSFODNN7EXAMPLE` and `wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY` among them);
//! 3. is a mask: it contains `***`, `...`, `…` or `•••`/`●●●`, or ends with 4 or more `x`/`X`
//!    (`LTAIxxxx`), or contains 6 or more `x`/`X` in a row; or it is a bracketed name,
//!    `<password>`, `[password]`, `{password}`, `<redacted>` (a word of letters, digits, `_`,
//!    `-`, `.` or spaces between `<>`, `[]` or `{}`);
//! 4. is a template or variable reference: it starts with `${`, `$(`, `#{`, `{{`, `<%`, or
//!    `%(`; or is `$NAME` with `NAME` an identifier all in capitals or all in lower case
//!    (`$DB_PASSWORD`, `$db_pass`; a mixed-case `$Xk9q` may be a real password); or
//!    `%NAME%`; or `@@name@@`; or a format placeholder (`%s`, `%(name)s`, `{}`, `{0}`, `?`),
//!    or a format string's field naming an attribute (`{self.password}`, with anything
//!    after it), or a hexadecimal literal as code writes it (`0x10`), or a version number or
//!    address (`1.302190`, `10.0.0.1`), or a URL (it holds `://`), or a Debian architecture
//!    name (`amd64`, after `base-passwd:` in dpkg's log);
//! 5. is, as a whole, one of the well-known dummy values in [`DUMMIES`] (`changeme`,
//!    `password`, `secret`, `test`, `none`, `redacted`, ...), or one of the longer ones
//!    written in lower case with digits, `_`, `-` or `!` added (`changeme123`,
//!    `your_password_1`). Only whole values count: a random value that merely contains `pass`
//!    or `test` is kept, and so is a dummy word with capitals and a suffix (`Password123!`),
//!    which is how a password policy makes people write a real one;
//! 6. is a description of the value: it holds a space, ends with `:`, `?` or `here`, or
//!    starts with `your` or `enter`, and names it (`password`, `secret`, `token`, ...), as
//!    `Enter your password`, `Password:` or `your_password_here`;
//! 7. is base64 of readable text that names a password or an example and is prose
//!    (`bm90IG15IHJlYWwgcGFzc3dvcmQ=`, "not my real password") or a placeholder by the rules
//!    above;
//! 8. is one character repeated (`aaaaaaaa`, `00000000`);
//! 9. is 16 characters or more, more than half of them one run of at least 4 characters each
//!    one more (or each one less) than the one before (`LTAIabcdefghijklmnopqrst`): a fill.
//!
//! Everything else passes. A value that passes but is easy to guess (a common password,
//! mostly sequential, short, low entropy: see `weak`) passes with the facts `weak` = `true`
//! and `weak_reason`: it is a real secret, and a weak one guarding a real system is a worse
//! leak, not a lesser one.

use super::Outcome;
use super::base64::{Alphabet, Skip, decode};
use super::text::unquote;
use super::weak;

/// Well-known dummy values, compared case-insensitively with the whole secret. One group per
/// line of thought; add to the group a new value belongs to.
pub(super) const DUMMIES: &[&[&str]] = &[
    // Instructions to replace the value.
    &[
        "changeme",
        "change_me",
        "change-me",
        "changeit",
        "replace_me",
        "replaceme",
        "replace-me",
        "todo",
        "tbd",
        "fixme",
        "fill_me_in",
        "enter_password_here",
    ],
    // The name of the thing instead of the thing.
    &[
        "password",
        "passwd",
        "pass",
        "pwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "api-key",
        "access_key",
        "secret_key",
        "private_key",
        "credentials",
    ],
    // Addressed to the reader.
    &[
        "your_password",
        "yourpassword",
        "your-password",
        "your_secret",
        "your-secret",
        "your_token",
        "your-token",
        "your_api_key",
        "your-api-key",
        "yourapikey",
        "your_key",
        "your-key",
        "my_secret",
        "mysecret",
        "my-secret",
        "my_password",
        "mypassword",
    ],
    // Test and sample values.
    &[
        "test", "testing", "test123", "dummy", "sample", "foo", "bar", "baz", "foobar", "fake",
        "mock", "xyz", "demo",
    ],
    // Empty, unset and boolean values written out.
    &[
        "none",
        "null",
        "nil",
        "undefined",
        "true",
        "false",
        "empty",
        "hidden",
        "default",
        "unset",
        "n/a",
        "na",
    ],
    // Values removed by a tool or a person.
    &[
        "redacted",
        "<redacted>",
        "[redacted]",
        "removed",
        "masked",
        "***",
        "********",
        "censored",
    ],
];

/// The reason a value is a placeholder, phrased to follow "the secret" or "the password".
pub(super) fn reason(value: &[u8]) -> Option<&'static str> {
    plain_reason(value).or_else(|| {
        is_encoded_placeholder(unquote(value)).then_some("is placeholder text, base64-encoded")
    })
}

/// [`reason`] for the value as text, without looking into base64.
fn plain_reason(value: &[u8]) -> Option<&'static str> {
    let v = unquote(value);
    if v.is_empty() {
        return Some("is empty");
    }
    let lower = v.to_ascii_lowercase();
    let has = |needle: &[u8]| lower.windows(needle.len()).any(|w| w == needle);
    if has(b"example") {
        return Some("is a documented example value");
    }
    if is_mask(&lower) {
        return Some("is a mask, not a value");
    }
    if is_reference(v) {
        return Some("is a template or variable reference");
    }
    if is_format_spec(v) {
        return Some("is a format placeholder filled in at run time");
    }
    if is_hex_literal(&lower) {
        return Some("is a number written as code");
    }
    if ARCHITECTURES
        .iter()
        .any(|a| a.as_bytes() == lower.as_slice())
    {
        return Some("is a machine architecture (`base-passwd:amd64` in dpkg's log)");
    }
    if is_version(v) {
        return Some("is a version number or an address");
    }
    // Only a URL: a path cannot be told from base64 that starts with `/`.
    if has(b"://") {
        return Some("is a URL");
    }
    if is_dummy(&lower) {
        return Some("is a well-known dummy value");
    }
    // A dummy written as a word with a number or a separator added (`changeme123`,
    // `your_password_1`): only for the longer dummy words, and only in lower case. With
    // capitals (`Password123!`, `MyPassword2024!`) it is what a password policy asks for: a
    // real, weak password (see `weak`).
    let stem = suffix_stem(&lower);
    let has_capital = v.iter().any(u8::is_ascii_uppercase);
    if !has_capital && stem.len() >= 6 && stem.len() < lower.len() && is_dummy(stem) {
        return Some("is a well-known dummy value with a suffix");
    }
    if is_description(&lower) {
        return Some("is a description of the value, not the value");
    }
    if lower.iter().all(|&c| Some(&c) == lower.first()) {
        return Some("is one character repeated");
    }
    // A long value that is mostly a run is a fill (`LTAIabcdefghijklmnopqrst`): no generated
    // token looks so, nor anyone's password. A shorter one (`12345Qw!`) is a weak password.
    if lower.len() >= LONG_RUN_MIN_LEN
        && longest_sequential_run(&lower).saturating_mul(2) > lower.len()
    {
        return Some("is mostly a run of sequential characters");
    }
    None
}

/// From this length on, a value that is mostly a run of sequential characters is a fill, not
/// a weak password.
const LONG_RUN_MIN_LEN: usize = 16;

/// `lower` without trailing digits, `_`, `-` and `!`: the word a suffix was added to.
pub(super) fn suffix_stem(lower: &[u8]) -> &[u8] {
    lower
        .iter()
        .rposition(|c| !(c.is_ascii_digit() || matches!(c, b'_' | b'-' | b'!')))
        .and_then(|end| lower.get(..=end))
        .unwrap_or_default()
}

/// Words that, in text of several words or in a label, say what the value is for.
const DESCRIBING_WORDS: [&[u8]; 6] = [
    b"password",
    b"passwd",
    b"passphrase",
    b"secret",
    b"token",
    b"placeholder",
];

/// A phrase or label about the value (`Enter your password`, `Password:`,
/// `your_password_here`): it holds a space, ends with `:` or `?`, starts with `your` or
/// `enter` or ends with `here`, and names what the value is.
fn is_description(lower: &[u8]) -> bool {
    let phrase = lower.contains(&b' ')
        || lower.ends_with(b":")
        || lower.ends_with(b"?")
        || lower.starts_with(b"your")
        || lower.starts_with(b"enter")
        || lower.ends_with(b"here");
    phrase
        && DESCRIBING_WORDS
            .iter()
            .any(|w| lower.windows(w.len()).any(|x| x == *w))
}

/// Whether `lower` is one of the [`DUMMIES`].
pub(super) fn is_dummy(lower: &[u8]) -> bool {
    DUMMIES
        .iter()
        .flat_map(|group| group.iter())
        .any(|d| d.as_bytes() == lower)
}

/// Format placeholders a program fills in: printf's `%s`, `%d`, `%(name)s`; `{}`, `{0}`;
/// SQL's `?`.
fn is_format_spec(v: &[u8]) -> bool {
    match v {
        [b'%', conv] => conv.is_ascii_alphabetic(),
        [b'%', b'(', inner @ .., b')', conv] => {
            conv.is_ascii_alphabetic()
                && inner
                    .iter()
                    .all(|&c| c.is_ascii_alphanumeric() || c == b'_')
        }
        [b'{', inner @ .., b'}'] => inner.iter().all(u8::is_ascii_digit),
        [b'?'] => true,
        _ => false,
    }
}

/// A hexadecimal literal as code writes it, `0x10`: a constant, not a password.
fn is_hex_literal(lower: &[u8]) -> bool {
    lower.strip_prefix(b"0x").is_some_and(|digits| {
        (1..=16).contains(&digits.len()) && digits.iter().all(u8::is_ascii_hexdigit)
    })
}

/// Debian's architecture names, which follow package names such as `base-passwd:` in dpkg's
/// and apt's logs.
const ARCHITECTURES: [&str; 10] = [
    "amd64", "i386", "arm64", "armhf", "armel", "ppc64el", "s390x", "mips64el", "riscv64", "all",
];

/// Numbers joined by dots, `1.302190`, `10.0.0.1`, `^7.0.3` (a version range, as npm's
/// `"minipass": "^7.0.3"`): versions and addresses.
fn is_version(v: &[u8]) -> bool {
    let start = v
        .iter()
        .position(|c| !matches!(c, b'^' | b'~' | b'>' | b'<' | b'=' | b'v'))
        .unwrap_or(v.len());
    let mut parts = v.get(start..).unwrap_or_default().split(|&c| c == b'.');
    let all_numbers = parts
        .clone()
        .all(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit));
    all_numbers && parts.nth(1).is_some()
}

/// Base64 that decodes to readable text about a password or an example
/// (`bm90IG15IHJlYWwgcGFzc3dvcmQ=` is "not my real password"): documentation, not a secret.
fn is_encoded_placeholder(v: &[u8]) -> bool {
    const WORDS: [&[u8]; 8] = [
        b"password",
        b"example",
        b"dummy",
        b"fake",
        b"sample",
        b"placeholder",
        b"changeme",
        b"not real",
    ];
    if v.len() < 8 || v.len() > 512 {
        return false;
    }
    let Ok(decoded) = decode(v, Alphabet::Either, Skip::Nothing) else {
        return false;
    };
    let readable =
        !decoded.is_empty() && decoded.iter().all(|&c| c.is_ascii_graphic() || c == b' ');
    if !readable {
        return false;
    }
    // Prose about a password is documentation; a single word holding `password` is only a
    // placeholder if it is one as text (`password1` is, `MyPassword2024!` is a weak password).
    let lower = decoded.to_ascii_lowercase();
    let names_one = WORDS
        .iter()
        .any(|w| lower.windows(w.len()).any(|x| x == *w));
    // One layer only: the decoded text is judged as plain text, never decoded again.
    names_one && (decoded.contains(&b' ') || plain_reason(&decoded).is_some())
}

/// Masks: runs of `*`, ellipses, bullets, trailing or long runs of `x`, bracketed names.
fn is_mask(lower: &[u8]) -> bool {
    let has = |needle: &[u8]| lower.windows(needle.len()).any(|w| w == needle);
    if has(b"***")
        || has(b"...")
        || has("\u{2026}".as_bytes())
        || has("\u{2022}\u{2022}\u{2022}".as_bytes())
        || has("\u{25cf}\u{25cf}\u{25cf}".as_bytes())
        || has(b"xxxxxx")
    {
        return true;
    }
    let trailing_x = lower.iter().rev().take_while(|&&c| c == b'x').count();
    if trailing_x >= 4 {
        return true;
    }
    if let [open, inner @ .., close] = lower {
        let pair = matches!((open, close), (b'<', b'>') | (b'[', b']') | (b'{', b'}'));
        let word = !inner.is_empty()
            && inner.len() <= 64
            && inner
                .iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b' '));
        if pair && word {
            return true;
        }
    }
    false
}

/// Template and variable references, `${X}`, `$X`, `%X%`, `{{ .X }}`, `@@x@@`, ...
fn is_reference(v: &[u8]) -> bool {
    const OPENERS: [&[u8]; 6] = [b"${", b"$(", b"#{", b"{{", b"<%", b"%("];
    if OPENERS.iter().any(|o| v.starts_with(o)) {
        return true;
    }
    let ident = |s: &[u8]| {
        s.first()
            .is_some_and(|&c| c.is_ascii_alphabetic() || c == b'_')
            && s.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
    };
    if let Some(name) = v.strip_prefix(b"$") {
        let single_case =
            !name.iter().any(u8::is_ascii_lowercase) || !name.iter().any(u8::is_ascii_uppercase);
        if ident(name) && single_case {
            return true;
        }
    }
    // A format string's field naming an attribute, `{self.password}`, with what follows it
    // (`{abc}x` may be a password).
    if let Some(rest) = v.strip_prefix(b"{") {
        let name_end = rest.iter().position(|&c| c == b'}');
        let name = name_end.and_then(|end| rest.get(..end)).unwrap_or_default();
        let dotted = |s: &[u8]| s.split(|&c| c == b'.').all(ident);
        if name.contains(&b'.') && dotted(name) {
            return true;
        }
    }
    let percent = v.strip_prefix(b"%").and_then(|r| r.strip_suffix(b"%"));
    let at_at = v.strip_prefix(b"@@").and_then(|r| r.strip_suffix(b"@@"));
    percent.is_some_and(ident) || at_at.is_some_and(|name| !name.is_empty())
}

/// The length of the longest run of characters each one more, or each one less, than the one
/// before (`9` is followed by `0` in ascending digit runs), counting only runs of 4 or more.
pub(super) fn longest_sequential_run(v: &[u8]) -> usize {
    let next = |a: u8, b: u8, up: bool| {
        if up {
            b == a.wrapping_add(1) || (a == b'9' && b == b'0')
        } else {
            a == b.wrapping_add(1)
        }
    };
    let mut best = 0usize;
    for up in [true, false] {
        let mut run = 1usize;
        for w in v.windows(2) {
            if let [a, b] = *w {
                if next(a, b, up) {
                    run = run.saturating_add(1);
                } else {
                    run = 1;
                }
                if run >= 4 {
                    best = best.max(run);
                }
            }
        }
    }
    best
}

/// `placeholder` on a secret: a placeholder fails; any other value passes, with the facts
/// that mark it weak if it is (see `weak`).
pub(super) fn check(secret: &[u8]) -> Outcome {
    match reason(secret) {
        Some(why) => Err(format!("the secret {why}")),
        None => Ok(weak::facts(secret)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::Fact;

    #[test]
    fn format_placeholders_dummies_with_suffixes_and_encoded_text_are_placeholders() {
        for value in [
            "%s",
            "%(password)s",
            "{}",
            "{0}",
            "?",
            "changeme123",
            "your_password_1",
            "password!",
            "0x10",
            "0XdeadBEEF",
            "1.302190",
            "^7.0.3",
            ">=1.2",
            "amd64",
            "10.0.0.1",
            "http://github.com/org/repo/issues",
            "{self.password}'",
            "{password}",
        ] {
            assert!(reason(value.as_bytes()).is_some(), "{value}");
        }
        // base64 of "not my real password".
        assert!(reason(b"bm90IG15IHJlYWwgcGFzc3dvcmQ=").is_some());
        // Real values stay: a short dummy with digits may be a real (weak) password, and base64
        // of random bytes is no text.
        for value in [
            "admin2024",
            "%sxq7Lw0Pz",
            "{abc}x",
            "c2VjcmV0IGtleTogOUs3Zg==x",
            "q8KmZ2xLw0PzR7tY",
        ] {
            assert_eq!(reason(value.as_bytes()), None, "{value}");
        }
        assert_eq!(reason(b"3q2+7wABAgMEBQYHCAkKCw=="), None);
    }

    fn fails(v: &str) -> bool {
        check(v.as_bytes()).is_err()
    }

    #[test]
    fn documented_examples_fail() {
        for v in [
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "my-example-token",
            "ExAmPlE",
        ] {
            assert!(fails(v), "{v}");
        }
    }

    #[test]
    fn masks_fail() {
        for v in [
            "LTAI****",
            "LTAI****************",
            "****",
            "xxxx",
            "xxxx...",
            "XXXXXXXX",
            "AKIAXXXXXXXXXXXXXXXX",
            "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "LTAIxxxx",
            "...",
            "abc\u{2026}",
            "\u{2022}\u{2022}\u{2022}\u{2022}",
            "<password>",
            "[password]",
            "{password}",
            "<your api key>",
            "<redacted>",
            "[REDACTED]",
        ] {
            assert!(fails(v), "{v}");
        }
    }

    #[test]
    fn references_fail() {
        for v in [
            "${DB_PASSWORD}",
            "${db.password:-x}",
            "$DB_PASSWORD",
            "$db_password",
            "%DB_PASSWORD%",
            "{{ .Password }}",
            "{{password}}",
            "$(cat /run/secrets/db)",
            "#{dbPassword}",
            "@@db_password@@",
            "<%= ENV['DB'] %>",
            "%(password)s",
        ] {
            assert!(fails(v), "{v}");
        }
    }

    #[test]
    fn dummy_values_fail_in_any_case_and_quotes() {
        for group in DUMMIES {
            for v in *group {
                assert!(fails(v), "{v}");
                assert!(fails(&v.to_ascii_uppercase()), "{v}");
                assert!(fails(&format!("\"{v}\"")), "{v}");
                assert!(fails(&format!(" '{v}' ")), "{v}");
            }
        }
        for v in [
            "changeme",
            "change_me",
            "password",
            "secret",
            "your_password",
            "yourpassword",
            "your-api-key",
            "my_secret",
            "test",
            "testing",
            "dummy",
            "sample",
            "foo",
            "bar",
            "foobar",
            "none",
            "null",
            "nil",
            "undefined",
            "true",
            "false",
            "redacted",
            "REPLACE_ME",
            "TODO",
            "tbd",
            "***",
            "pass",
            "default",
            "empty",
            "hidden",
            "<redacted>",
            "",
        ] {
            assert!(fails(v), "{v}");
        }
    }

    #[test]
    fn repeated_values_and_long_runs_fail() {
        for v in [
            "aaaaaaaa",
            "0000000000000000",
            "a",
            "XXXXXXXXXX",
            "abcdefghijklmnopqrst",
            "LTAIabcdefghijklmnopqrst",
            "98765432109876543",
        ] {
            assert!(fails(v), "{v}");
        }
    }

    #[test]
    fn descriptions_fail() {
        for v in [
            "Enter your password",
            "Password:",
            "the secret key?",
            "your_password_here",
            "YOUR-SECRET-TOKEN",
            "\"token for the API\"",
        ] {
            assert!(fails(v), "{v}");
        }
    }

    /// Real passwords that are easy to guess pass, marked weak, with the reason.
    #[test]
    fn weak_values_pass_marked_weak() {
        for (v, why) in [
            ("abcdefgh", "mostly sequential characters"),
            ("12345678", "mostly sequential characters"),
            ("87654321", "mostly sequential characters"),
            ("ABCDEFGHIJ", "mostly sequential characters"),
            ("123456", "common password"),
            ("qwerty", "common password"),
            ("admin", "common password"),
            ("Password123!", "common password"),
            ("MyPassword2024!", "common password"),
            ("Passw0rd!", "common password"),
            ("Hunter22", "low entropy"),
        ] {
            let facts = check(v.as_bytes()).unwrap_or_else(|e| panic!("{v}: {e}"));
            assert_eq!(facts.first(), Some(&Fact::new("weak", "true")), "{v}");
            let reason = facts.get(1).map(|f| f.value.as_str()).unwrap_or_default();
            assert!(reason.contains(why), "{v}: {reason}");
        }
    }

    #[test]
    fn real_looking_secrets_pass() {
        for v in [
            "AKIANQCGPOYRDS3YHZFR",
            "LTAI5tFtVrPodKPp6dyhv8LZ",
            "zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ0mLq17",
            // Contains short dummy words, but is not one.
            "passX9q2Lw7tTestRootAdmin",
            "Tr0ub4dor&3-secret-2f9a",
            "s3cr3t-Pa55word-9f8e7d",
            "$Xk9qLw2",
            // base64 may start with `/`: it is no path.
            "/K7MDENGbPxRfiCYzQ8+wJalrXUtnFEMI9x2Lp0e",
            "x7Kq2xxxB9",
            "abcd1234XYZ!",
            "1234abcdQzW9kLp0",
            "p@ss{word}1",
            "{\"k\":1}",
            "%DB%PASSWORD",
            "\u{00e9}\u{00e8}\u{00ea}\u{00eb}",
        ] {
            assert!(check(v.as_bytes()).is_ok(), "{v}");
        }
    }

    #[test]
    fn reasons_never_repeat_the_secret() {
        for v in [
            "password",
            "${DB_PASSWORD}",
            "LTAI****",
            "aaaaaaaa",
            "EXAMPLE",
        ] {
            let why = check(v.as_bytes()).unwrap_err();
            assert!(!why.contains(v), "{why}");
        }
    }

    #[test]
    fn non_ascii_and_binary_are_handled() {
        assert!(check(b"\xff\xfe\x00\x01\x80\x90\xa0\xb0").is_ok());
        assert!(check(b"\xff\xff\xff").is_err());
    }
}
