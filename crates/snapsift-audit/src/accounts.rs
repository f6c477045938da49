//! `passwd(5)` and `shadow(5)`, as an image holds them: lines of `:`-separated fields,
//! parsed without trusting a field's length or content. Nothing here keeps a password hash:
//! a shadow entry is reduced to what its field means ([`Password`]).

use snapsift_match::checks::{Check as MatchCheck, Evidence as MatchEvidence, Verdict};

/// One `/etc/passwd` account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Its name.
    pub name: String,
    /// Its UID field as written (not always a number in a hostile file).
    pub uid: String,
    /// Its home directory.
    pub home: String,
    /// Its shell (empty means `/bin/sh`).
    pub shell: String,
}

/// The accounts of a `passwd` file's text (bytes that are not UTF-8 replaced), one at a
/// time: lines of 7 fields; comments, blank lines and NIS `+`/`-` lines left out.
pub fn parse_passwd(text: &str) -> impl Iterator<Item = Account> + '_ {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with(['#', '+', '-']))
        .filter_map(|line| {
            let fields: Vec<&str> = line.splitn(7, ':').collect();
            let [name, _, uid, _, _, home, shell] = fields.as_slice() else {
                return None;
            };
            Some(Account {
                name: (*name).to_owned(),
                uid: (*uid).to_owned(),
                home: (*home).to_owned(),
                shell: shell.trim_end_matches('\r').to_owned(),
            })
        })
}

/// What a shadow entry's password field means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Password {
    /// Empty: the account logs in without a password.
    Empty,
    /// A hash that can be used to log in, of this scheme (`sha512-crypt`, `yescrypt`, ...,
    /// or `unknown scheme` for one the hash check does not name).
    Usable(String),
    /// A hash behind `!` or `*` (`passwd -l`): login by password is off, but the hash can
    /// still be cracked.
    Locked,
    /// No hash: `*`, `!`, `!!`, `x`...
    NoHash,
}

/// One shadow entry: the account and what its password field means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShadowEntry {
    /// The account's name.
    pub name: String,
    /// Its password field, reduced to its meaning.
    pub password: Password,
}

/// The entries of a `shadow` file's text (lines with at least two fields), one at a time.
pub fn parse_shadow(text: &str) -> impl Iterator<Item = ShadowEntry> + '_ {
    let hash_check = MatchCheck::parse("shadow-hash").ok();
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with(['#', '+', '-']))
        .filter_map(move |line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let field = fields.next()?.trim_end_matches('\r');
            Some(ShadowEntry {
                name: name.to_owned(),
                password: meaning(field, hash_check.as_ref()),
            })
        })
}

/// What password field `field` means; `check` is the secret scan's `shadow-hash` check,
/// which names a hash's scheme.
fn meaning(field: &str, check: Option<&MatchCheck>) -> Password {
    const NO_HASH: [&str; 8] = ["*", "!", "!!", "!*", "*!", "x", "*LK*", "*NP*"];
    if field.is_empty() {
        return Password::Empty;
    }
    if NO_HASH.contains(&field) {
        return Password::NoHash;
    }
    if field.starts_with(['!', '*']) {
        return Password::Locked;
    }
    let evidence = MatchEvidence {
        matched: field.as_bytes(),
        secret: field.as_bytes(),
        truncated: false,
    };
    let scheme = match check.map(|c| c.run(&evidence)) {
        Some(Verdict::Passed(facts)) => facts
            .into_iter()
            .find(|f| f.name == "scheme")
            .map(|f| f.value),
        _ => None,
    };
    // A field that is no known hash still lets a login try it (DES crypt, a typo): usable.
    Password::Usable(scheme.unwrap_or_else(|| "unknown scheme".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lines() {
        let accounts: Vec<Account> = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\n# comment\n\nbad line\n+nis\n\
              toor:x:0:0::/root:/bin/sh\r\nalice:x:1000:1000:A,,,:/home/alice:\n",
        )
        .collect();
        let names: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["root", "toor", "alice"]);
        assert_eq!(accounts[1].shell, "/bin/sh");
        assert_eq!(accounts[2].home, "/home/alice");
        assert_eq!(accounts[2].shell, "");
    }

    #[test]
    fn shadow_fields() {
        let sha512 = "$6$abcdefgh$".to_string() + &"A".repeat(86);
        let text = format!(
            "root:*:19000:0:99999:7:::\nalice:{sha512}:19000::::::\nbob::19000::::::\n\
             carol:!{sha512}:1::::::\ndave:!!:1::::::\neve:$1$x$notreallyahash:1::::::\nshort\n"
        );
        let entries: Vec<ShadowEntry> = parse_shadow(&text).collect();
        let got: Vec<(&str, &Password)> = entries
            .iter()
            .map(|e| (e.name.as_str(), &e.password))
            .collect();
        assert_eq!(
            got,
            [
                ("root", &Password::NoHash),
                ("alice", &Password::Usable("sha512-crypt".into())),
                ("bob", &Password::Empty),
                ("carol", &Password::Locked),
                ("dave", &Password::NoHash),
                ("eve", &Password::Usable("unknown scheme".into())),
            ]
        );
    }
}
