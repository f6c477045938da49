//! `uri-password`: the password in a URI's user information is no placeholder.
//!
//! **Rule:** the secret is a URI, `scheme://user:password@host...` (after an optional prefix
//! such as `jdbc:`); the password is what lies between the first `:` after `://` and the
//! first `@` after it (a URI's password holds no `@` or `/`: those must be percent-encoded).
//! It fails when there is no such password, or when `placeholder` turns the password away
//! (`${DB_PASSWORD}`, `$MONGODB_PASSWORD`, `password`), with that check's reason; otherwise
//! it passes with `placeholder`'s facts for the password (`weak`, `weak_reason`). The finding
//! stays the whole URI, so that its fingerprint names the place and the host.

use super::text::find;
use super::{Outcome, placeholder, weak};

/// The password in the user information of `uri`, if it has one.
fn password(uri: &[u8]) -> Option<&[u8]> {
    let after_scheme = find(uri, b"://").and_then(|at| uri.get(at.checked_add(3)?..))?;
    let colon = after_scheme.iter().position(|&c| c == b':')?;
    let rest = after_scheme.get(colon.checked_add(1)?..)?;
    let at = rest.iter().position(|&c| c == b'@')?;
    rest.get(..at)
}

/// `uri-password` on a secret.
pub(super) fn check(secret: &[u8]) -> Outcome {
    let password = password(secret)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| "the URI holds no password".to_string())?;
    if let Some(why) = placeholder::reason(password) {
        return Err(format!("the password {why}"));
    }
    Ok(weak::facts(password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_found_and_judged() {
        assert_eq!(
            password(b"jdbc:postgresql://app:Zq8u:N2rT@db:5432/x?y=1"),
            Some(&b"Zq8u:N2rT"[..])
        );
        assert_eq!(password(b"redis://:Zq8uN2rT@db"), Some(&b"Zq8uN2rT"[..]));
        assert_eq!(password(b"redis://db:6379"), None);
        assert!(
            check(b"postgres://u:q8KmZ2xLw0PzR7tY@db/x")
                .unwrap()
                .is_empty()
        );
        for bad in [
            &b"postgres://u:${DB_PASSWORD}@db/x"[..],
            b"mongodb://u:$MONGODB_PASSWORD@db",
            b"mysql://user:password@localhost/x",
            b"mysql://user:@localhost/x",
            b"postgres://db/x",
        ] {
            assert!(check(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let weak = check(b"postgres://u:Welcome1!@db/x").unwrap();
        assert_eq!(weak.first().map(|f| f.value.as_str()), Some("true"));
    }
}
