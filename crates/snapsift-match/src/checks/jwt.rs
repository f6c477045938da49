//! `jwt`: a JSON Web Token (JWS compact serialisation).
//!
//! **Rule:** the secret (without surrounding quotes and whitespace) is three parts separated
//! by `.`: a header and a payload, each non-empty base64url (RFC 7515; `=` padding tolerated),
//! and a signature of base64url characters (empty only for `"alg": "none"`). The header
//! decodes to text that is a JSON object (first and last non-blank characters `{` and `}`)
//! with an `"alg"` member whose value is a string. Fact: `alg` (printable, at most 32
//! characters; left out otherwise).

use super::base64::{Alphabet, Skip, decode};
use super::text::{printable, unquote};
use super::{Fact, Outcome};

/// The string value of the `"alg"` member of a JSON object's text, as raw bytes (escapes
/// kept), or `None` if there is none.
fn alg_value(json: &[u8]) -> Option<&[u8]> {
    const KEY: &[u8] = b"\"alg\"";
    let mut from = 0usize;
    loop {
        let rest = json.get(from..)?;
        let at = rest.windows(KEY.len()).position(|w| w == KEY)?;
        let after = rest.get(at.saturating_add(KEY.len())..)?;
        from = from.saturating_add(at).saturating_add(KEY.len());
        let after = after.trim_ascii_start();
        let Some(value) = after.strip_prefix(b":") else {
            continue; // "alg" as a value, not a member name.
        };
        let value = value.trim_ascii_start().strip_prefix(b"\"")?;
        let mut escaped = false;
        let end = value.iter().position(|&c| {
            let end = c == b'"' && !escaped;
            escaped = c == b'\\' && !escaped;
            end
        })?;
        return value.get(..end);
    }
}

/// `jwt` on a secret.
pub(super) fn check(secret: &[u8]) -> Outcome {
    let token = unquote(secret);
    let parts: Vec<&[u8]> = token.splitn(4, |&c| c == b'.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return Err("a JWT has three parts separated by '.'".into());
    };
    if header.is_empty() || payload.is_empty() {
        return Err("the JWT's header or payload is empty".into());
    }
    let header = decode(header, Alphabet::UrlSafe, Skip::Nothing)
        .map_err(|why| format!("the JWT's header is not base64url: {why}"))?;
    decode(payload, Alphabet::UrlSafe, Skip::Nothing)
        .map_err(|why| format!("the JWT's payload is not base64url: {why}"))?;
    decode(signature, Alphabet::UrlSafe, Skip::Nothing)
        .map_err(|why| format!("the JWT's signature is not base64url: {why}"))?;
    let json = header.trim_ascii();
    if !(json.starts_with(b"{") && json.ends_with(b"}")) {
        return Err("the JWT's header is not a JSON object".into());
    }
    let alg = alg_value(json).ok_or_else(|| "the JWT's header has no \"alg\"".to_string())?;
    if signature.is_empty() && !alg.eq_ignore_ascii_case(b"none") {
        return Err("the JWT has no signature but its alg is not none".into());
    }
    Ok(printable(alg, 32)
        .map(|a| vec![Fact::new("alg", a)])
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64url(s: &[u8]) -> String {
        super::super::base64::encode(s)
            .trim_end_matches('=')
            .replace('+', "-")
            .replace('/', "_")
    }

    #[test]
    fn rfc_7519_example_passes() {
        // RFC 7519 §3.1's example JWT (a published example, HS256 with the RFC's key).
        let t = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9\
                 .eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ\
                 .dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(check(t.as_bytes()), Ok(vec![Fact::new("alg", "HS256")]));
        assert!(check(format!("\"{t}\"").as_bytes()).is_ok());
    }

    #[test]
    fn made_tokens() {
        let token = |header: &str, sig: &str| {
            format!(
                "{}.{}.{sig}",
                b64url(header.as_bytes()),
                b64url(b"{\"sub\":\"1\"}")
            )
        };
        assert_eq!(
            check(token(r#"{"alg":"RS256","typ":"JWT"}"#, "c2ln").as_bytes()),
            Ok(vec![Fact::new("alg", "RS256")])
        );
        assert_eq!(
            check(token(r#" { "typ" : "alg", "alg" : "ES256" } "#, "c2ln").as_bytes()),
            Ok(vec![Fact::new("alg", "ES256")])
        );
        assert_eq!(
            check(token(r#"{"alg":"none"}"#, "").as_bytes()),
            Ok(vec![Fact::new("alg", "none")])
        );
        for bad in [
            token(r#"{"alg":"HS256"}"#, ""),
            token(r#"{"typ":"JWT"}"#, "c2ln"),
            token(r#"["alg"]"#, "c2ln"),
            token(r#"{"alg":HS256}"#, "c2ln"),
            token(r#"{"alg":"HS256"}"#, "c2ln!"),
            format!("{}..c2ln", b64url(br#"{"alg":"HS256"}"#)),
            format!("{}.e30", b64url(br#"{"alg":"HS256"}"#)),
            format!("{}.e30.c2ln.c2ln", b64url(br#"{"alg":"HS256"}"#)),
            "eyJ.eyJ.".into(),
            "a.b.c".into(),
            String::new(),
            "....".into(),
        ] {
            assert!(check(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn alg_parsing() {
        assert_eq!(alg_value(br#"{"alg":"a\"b"}"#), Some(&br#"a\"b"#[..]));
        assert_eq!(alg_value(br#"{"x":"alg","alg":"HS1"}"#), Some(&b"HS1"[..]));
        assert_eq!(alg_value(br#"{"alg":"unterminated}"#), None);
        assert_eq!(alg_value(br#"{"alg"}"#), None);
    }
}
