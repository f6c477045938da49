//! `shadow-hash`: a crypt(3) password hash a cracker can attack.
//!
//! **Rule:** the secret (the password field of a `shadow` line; surrounding quotes and
//! whitespace removed) is one of these, where `H` is a character of `./0-9A-Za-z` and a salt
//! is made of printable ASCII other than `$`, `:` and spaces:
//!
//! | scheme (fact `scheme`) | form |
//! | --- | --- |
//! | md5-crypt | `$1$` salt of 0 to 8 characters `$` 22 `H` |
//! | sha256-crypt | `$5$` optional `rounds=N$` (N of 1 to 9 digits) salt of 0 to 16 `$` 43 `H` |
//! | sha512-crypt | `$6$` likewise, then 86 `H` |
//! | yescrypt | `$y$` parameters (1 or more `H`) `$` salt (1 to 86 `H`) `$` 43 `H` |
//! | gost-yescrypt | `$gy$`, the same fields as yescrypt |
//! | scrypt | `$7$` 11 or more `H` (N, r, p and the salt) `$` 43 `H` |
//! | bcrypt | `$2a$`, `$2b$`, `$2x$` or `$2y$`, a cost of 2 digits from 04 to 31, `$`, 53 `H` |
//!
//! It fails for the values that mean no password can be used: empty (no password at all),
//! `*`, `!`, `!!`, `!*`, `x` (the hash is in `/etc/shadow`), `*LK*`, `*NP*`; for a locked hash
//! (any of those forms behind `!` or `*`, as `passwd -l` writes); for another scheme
//! (DES crypt, NT hashes, SunMD5, ...), which this check does not recognise; and for a
//! malformed hash.

use super::text::{is_crypt64, unquote};
use super::{Fact, Outcome};

fn all_crypt64(s: &[u8]) -> bool {
    s.iter().all(|&c| is_crypt64(c))
}

fn salt_ok(salt: &[u8], max: usize) -> bool {
    salt.len() <= max
        && salt
            .iter()
            .all(|&c| c.is_ascii_graphic() && c != b'$' && c != b':')
}

/// The `$`-separated fields of `rest` (after the scheme's `$id$`).
fn fields(rest: &[u8]) -> Vec<&[u8]> {
    rest.split(|&c| c == b'$').collect()
}

/// The scheme of a well-formed hash, or why it is not one.
fn scheme(hash: &[u8]) -> Result<&'static str, String> {
    let malformed = |scheme: &str| Err(format!("the secret is a malformed {scheme} hash"));
    if let Some(rest) = hash.strip_prefix(b"$1$") {
        return match fields(rest).as_slice() {
            [salt, h] if salt_ok(salt, 8) && h.len() == 22 && all_crypt64(h) => Ok("md5-crypt"),
            _ => malformed("md5-crypt"),
        };
    }
    for (prefix, name, len) in [
        (&b"$5$"[..], "sha256-crypt", 43),
        (&b"$6$"[..], "sha512-crypt", 86),
    ] {
        if let Some(rest) = hash.strip_prefix(prefix) {
            let f = fields(rest);
            let f = match f.as_slice() {
                [rounds, tail @ ..] if rounds.starts_with(b"rounds=") => {
                    let n = rounds.get(7..).unwrap_or_default();
                    if n.is_empty() || n.len() > 9 || !n.iter().all(u8::is_ascii_digit) {
                        return malformed(name);
                    }
                    tail
                }
                all => all,
            };
            return match f {
                [salt, h] if salt_ok(salt, 16) && h.len() == len && all_crypt64(h) => Ok(name),
                _ => malformed(name),
            };
        }
    }
    for (prefix, name) in [(&b"$y$"[..], "yescrypt"), (&b"$gy$"[..], "gost-yescrypt")] {
        if let Some(rest) = hash.strip_prefix(prefix) {
            return match fields(rest).as_slice() {
                [params, salt, h]
                    if !params.is_empty()
                        && all_crypt64(params)
                        && (1..=86).contains(&salt.len())
                        && all_crypt64(salt)
                        && h.len() == 43
                        && all_crypt64(h) =>
                {
                    Ok(name)
                }
                _ => malformed(name),
            };
        }
    }
    if let Some(rest) = hash.strip_prefix(b"$7$") {
        return match fields(rest).as_slice() {
            [params, h]
                if params.len() >= 11 && all_crypt64(params) && h.len() == 43 && all_crypt64(h) =>
            {
                Ok("scrypt")
            }
            _ => malformed("scrypt"),
        };
    }
    for prefix in [&b"$2a$"[..], b"$2b$", b"$2x$", b"$2y$"] {
        if let Some(rest) = hash.strip_prefix(prefix) {
            return match fields(rest).as_slice() {
                [cost, h]
                    if cost.len() == 2
                        && cost.iter().all(u8::is_ascii_digit)
                        && (&b"04"[..]..=&b"31"[..]).contains(cost)
                        && h.len() == 53
                        && all_crypt64(h) =>
                {
                    Ok("bcrypt")
                }
                _ => malformed("bcrypt"),
            };
        }
    }
    Err("the secret is not a crypt(3) hash of a scheme this check recognises".into())
}

/// `shadow-hash` on a secret.
pub(super) fn check(secret: &[u8]) -> Outcome {
    let hash = unquote(secret);
    match hash {
        b"" => return Err("the password field is empty: no password, nothing to crack".into()),
        b"*" | b"!" | b"!!" | b"!*" | b"*LK*" | b"*NP*" => {
            return Err(
                "the password field holds no hash: the account has no usable password".into(),
            );
        }
        b"x" => return Err("the password field is x: the hash is kept in the shadow file".into()),
        _ => {}
    }
    if let Some(locked) = hash.strip_prefix(b"!").or_else(|| hash.strip_prefix(b"*")) {
        let locked = locked.strip_prefix(b"!").unwrap_or(locked);
        if scheme(locked).is_ok() {
            return Err("the hash is locked ('!' before it): password login is disabled".into());
        }
    }
    Ok(vec![Fact::new("scheme", scheme(hash)?)])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes of the throwaway password "hunter2", generated for this test with
    /// `openssl passwd -1/-5/-6` and `mkpasswd -m yescrypt|gost-yescrypt|scrypt|bcrypt|bcrypt-a`
    /// (Debian's whois package, libxcrypt).
    const HASHES: &[(&str, &str)] = &[
        ("$1$saltsalt$ZliGyAN3DciDHEkDboonh/", "md5-crypt"),
        ("$1$uHfEgEdG$he3dzcXfxCSyWvzt9s5Oj/", "md5-crypt"),
        (
            "$5$saltsaltsalt$g1jS0B6yOBBZqrJEhPEM5XNnoxWIh2QfY2N0iDi9s73",
            "sha256-crypt",
        ),
        (
            "$5$rounds=1000$zdMlanzgiUXYELm/$xvCRBCZvAs1mUNOFO51AeNR9fNQaF76c7gQ6hD8oRM1",
            "sha256-crypt",
        ),
        (
            "$6$saltsalt$8iYtNHxjWRl.NF6oNZ5tF.iKFlQREaXBLlSmZKP6dy9l5z3vsooWNW0/GZ6Nej73/TFug6pIPSqbJoCT6dfnj.",
            "sha512-crypt",
        ),
        (
            "$6$HmqrmNCJ8HlbfRDQ$smozXM8U6sxSa5OYRaPuBlw/g3e7a5TR8JVNNhFMW9RShoSZjEvtx23xzpNMiGmRzm7heucEZokWDoLDd9s1p/",
            "sha512-crypt",
        ),
        (
            "$y$j9T$9Qx7hbsMezRfmT/oH47BM1$2HrnUJD/SjcWJJjsQ3gb6tQJLuKke7riyv.qAWaP.Y7",
            "yescrypt",
        ),
        (
            "$gy$j9T$IP6VvWpJuWVp.lB6dB9jj1$KuDQKvM5EBlrcWGAEayPe.AOwHQfiOgI.V.YM12zsv1",
            "gost-yescrypt",
        ),
        (
            "$7$CU..../....dq0KUK/nqZkkwGHndjszZ0$z6pzBEPs4CCM8saee89bjVFpHpuAnA/X50185Wd/ah0",
            "scrypt",
        ),
        (
            "$2b$05$pBNzxBdxzgzmENpdQjwGhe9AHf6CHibrFe8TtCE2ka0CpPV8YgW56",
            "bcrypt",
        ),
        (
            "$2a$05$JgQWueb5CQ1mui77I6t1xeQoTErYNEVoB2dctgDfCkbOlBUYu.hTy",
            "bcrypt",
        ),
    ];

    #[test]
    fn generated_hashes_pass_with_their_scheme() {
        for (hash, name) in HASHES {
            assert_eq!(
                check(hash.as_bytes()),
                Ok(vec![Fact::new("scheme", *name)]),
                "{hash}"
            );
            assert!(check(format!("\"{hash}\"").as_bytes()).is_ok());
        }
    }

    #[test]
    fn no_password_values_and_locked_hashes_fail() {
        for v in ["", "*", "!", "!!", "!*", "x", "*LK*", "*NP*", " ! "] {
            assert!(check(v.as_bytes()).is_err(), "{v:?}");
        }
        for (hash, _) in HASHES {
            for lock in ["!", "!!", "*", "*!"] {
                let why = check(format!("{lock}{hash}").as_bytes()).unwrap_err();
                assert!(why.contains("locked") && !why.contains(hash), "{why}");
            }
        }
    }

    #[test]
    fn every_truncation_and_extension_fails() {
        for (hash, _) in HASHES {
            // Some prefixes of a hash are well-formed hashes in their own right: a shorter
            // salt. The hash part never is, so cut inside it only.
            let last = hash.rfind('$').unwrap();
            for cut in last + 1..hash.len() {
                assert!(check(&hash.as_bytes()[..cut]).is_err(), "{}", &hash[..cut]);
            }
            assert!(check(format!("{hash}A").as_bytes()).is_err());
            assert!(check(format!("{hash}$").as_bytes()).is_err());
            let mut bad = hash.as_bytes().to_vec();
            *bad.last_mut().unwrap() = b'!';
            assert!(check(&bad).is_err());
        }
    }

    #[test]
    fn malformed_and_unknown_schemes_fail() {
        for v in [
            "$1$toolongsalt$ZliGyAN3DciDHEkDboonh/",
            "$5$rounds=$salt$g1jS0B6yOBBZqrJEhPEM5XNnoxWIh2QfY2N0iDi9s73",
            "$5$rounds=12345678901$salt$g1jS0B6yOBBZqrJEhPEM5XNnoxWIh2QfY2N0iDi9s73",
            "$2b$3$pBNzxBdxzgzmENpdQjwGhe9AHf6CHibrFe8TtCE2ka0CpPV8YgW56",
            "$2b$32$pBNzxBdxzgzmENpdQjwGhe9AHf6CHibrFe8TtCE2ka0CpPV8YgW56",
            "$2c$05$pBNzxBdxzgzmENpdQjwGhe9AHf6CHibrFe8TtCE2ka0CpPV8YgW56",
            "$y$$9Qx7hbsMezRfmT/oH47BM1$2HrnUJD/SjcWJJjsQ3gb6tQJLuKke7riyv.qAWaP.Y7",
            "$7$CU..$z6pzBEPs4CCM8saee89bjVFpHpuAnA/X50185Wd/ah0",
            "abJnggxhB/yWI",
            "$3$$8846f7eaee8fb117ad06bdd830b7586c",
            "$md5$rounds=904$Vc3VgyFx$kFq0OKsmbFsL.b7b2uCyZ1",
            "$",
            "$$$",
            "$6$s\u{e9}lt$8iYtNHxjWRl.NF6oNZ5tF.iKFlQREaXBLlSmZKP6dy9l5z3vsooWNW0/GZ6Nej73/TFug6pIPSqbJoCT6dfnj.",
        ] {
            assert!(check(v.as_bytes()).is_err(), "{v}");
        }
    }
}
