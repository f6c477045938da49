//! `docker-auth`: the `auth` value of a Docker `config.json`.
//!
//! **Rule:** the secret (without surrounding quotes and whitespace) is standard base64
//! (padding optional) of `user:password`, split at the first `:`, with a non-empty user of
//! at most 256 bytes and no control characters, and a non-empty password that the
//! `placeholder` check does not turn away (the password may be anything else, including the
//! multi-line JSON of a `_json_key` login). Fact: `user` (control characters shown as `.`),
//! and `weak`/`weak_reason` when the password is weak (see `weak`).

use super::base64::{Alphabet, Skip, decode};
use super::text::{lossy, unquote};
use super::{Fact, Outcome};
use super::{placeholder, weak};

/// `docker-auth` on a secret.
pub(super) fn check(secret: &[u8]) -> Outcome {
    let value = unquote(secret);
    if value.is_empty() {
        return Err("the auth value is empty".into());
    }
    let decoded = decode(value, Alphabet::Standard, Skip::Nothing)
        .map_err(|why| format!("the auth value is not base64: {why}"))?;
    let colon = decoded
        .iter()
        .position(|&c| c == b':')
        .ok_or_else(|| "the auth value does not decode to user:password".to_string())?;
    let (user, password) = decoded.split_at(colon);
    let password = password.get(1..).unwrap_or_default();
    if user.is_empty() || password.is_empty() {
        return Err("the auth value decodes to an empty user or password".into());
    }
    if user.len() > 256 || user.iter().any(u8::is_ascii_control) {
        return Err("the auth value's user is not a name".into());
    }
    if let Some(why) = placeholder::reason(password) {
        return Err(format!("the password {why}"));
    }
    let mut facts = vec![Fact::new("user", lossy(user, 256))];
    facts.extend(weak::facts(password));
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::super::base64::encode;
    use super::*;

    #[test]
    fn user_and_password_pass() {
        // Throwaway credentials made up for the test.
        let auth = encode(b"deploy-bot:Zq8uN2rT5vLx0pQe");
        assert_eq!(
            check(auth.as_bytes()),
            Ok(vec![Fact::new("user", "deploy-bot")])
        );
        assert!(check(format!("\"{auth}\"").as_bytes()).is_ok());
        assert!(check(auth.trim_end_matches('=').as_bytes()).is_ok());
        // A password holding colons, and a service-account login with JSON in it.
        assert!(check(encode(b"AWS:eyJwYXlsb2FkIjoi:x9Tq").as_bytes()).is_ok());
        let json = encode(b"_json_key:{\n  \"type\": \"service_account\",\n  \"k\": \"v9Qx\"\n}");
        assert_eq!(
            check(json.as_bytes()),
            Ok(vec![Fact::new("user", "_json_key")])
        );
    }

    #[test]
    fn placeholders_and_malformed_values_fail() {
        for bad in [
            encode(b"user:password"),
            encode(b"admin:changeme"),
            encode(b"me:${REGISTRY_TOKEN}"),
            encode(b"me:xxxxxxxx"),
            encode(b"nocolon"),
            encode(b":Zq8uN2rT5vLx0pQe"),
            encode(b"user:"),
            encode(b"us\ner:Zq8uN2rT5vLx0pQe"),
            String::new(),
            "not base64!".into(),
            "dXNlcjpa-_8=".into(),
        ] {
            assert!(check(bad.as_bytes()).is_err(), "{bad}");
        }
        let why = check(encode(b"me:changeme").as_bytes()).unwrap_err();
        assert!(
            why.starts_with("the password") && !why.contains("changeme"),
            "{why}"
        );
    }
}
