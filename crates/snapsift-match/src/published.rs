//! Secrets that are public: key material and tokens that ship inside widely distributed
//! software (self-test vectors compiled into a crypto library, keys in its test suite).
//!
//! Such a secret is on every machine that installed the package; it protects nothing, and no
//! one can rotate it. Reporting it would only teach users to skip findings. The list is data
//! (`published.toml` in this crate): each entry is the SHA-256 of the secret's [`normal_form`] (never
//! the secret itself) and where it is published, which is what `--include-invalid` shows.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::checks;

/// The list compiled into snapsift.
const PUBLISHED: &str = include_str!("../published.toml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishedFile {
    published: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    sha256: String,
    source: String,
}

/// A list of published secrets, by the hash of their normal form.
#[derive(Debug)]
pub(crate) struct Published {
    sources: HashMap<String, String>,
}

impl Published {
    /// Parses a list in the format of `published.toml`.
    pub(crate) fn from_toml(text: &str) -> Result<Published, String> {
        let file: PublishedFile = toml::from_str(text).map_err(|e| e.to_string())?;
        Ok(Published {
            sources: file
                .published
                .into_iter()
                .map(|e| (e.sha256.to_ascii_lowercase(), e.source))
                .collect(),
        })
    }

    /// The built-in list.
    pub(crate) fn builtin() -> &'static Published {
        static LIST: OnceLock<Published> = OnceLock::new();
        // The built-in list is checked by the tests; a broken one would be a build defect.
        LIST.get_or_init(|| {
            Published::from_toml(PUBLISHED).unwrap_or_else(|_| Published {
                sources: HashMap::new(),
            })
        })
    }

    /// Where `secret` is published, if it is.
    pub(crate) fn source_of(&self, secret: &[u8]) -> Option<&str> {
        if self.sources.is_empty() {
            return None;
        }
        let digest = Sha256::digest(normal_form(secret));
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        self.sources.get(&hex).map(String::as_str)
    }
}

/// What is hashed: for a PEM block, its decoded key bytes (the same key is stored with or
/// without line breaks, or JSON-escaped, in different programs); for anything else, or a block
/// that does not decode, the secret as it is.
pub(crate) fn normal_form(secret: &[u8]) -> Vec<u8> {
    secret
        .starts_with(b"-----BEGIN ")
        .then(|| checks::pem_body_bytes(secret))
        .flatten()
        .unwrap_or_else(|| secret.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_list_loads() {
        let list = Published::from_toml(PUBLISHED).unwrap();
        assert!(!list.sources.is_empty());
        assert!(list.sources.keys().all(|k| k.len() == 64));
    }

    #[test]
    fn a_pem_key_is_the_same_with_or_without_line_breaks_or_escapes() {
        let plain =
            b"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIP/ab+\ncd\n-----END EC PRIVATE KEY-----";
        let one_line =
            b"-----BEGIN EC PRIVATE KEY-----MHcCAQEEIP\\/ab+cd-----END EC PRIVATE KEY-----";
        let json =
            b"-----BEGIN EC PRIVATE KEY-----\\nMHcCAQEEIP/ab+\\ncd\\n-----END EC PRIVATE KEY-----";
        // The decoded bytes of "MHcCAQEEIP/ab+cd".
        let key: &[u8] = &[48, 119, 2, 1, 1, 4, 32, 255, 218, 111, 231, 29];
        assert_eq!(normal_form(plain), key);
        assert_eq!(normal_form(one_line), key);
        assert_eq!(normal_form(json), key);
        assert_eq!(
            normal_form(b"AKIAQ2W3E4R5T6Y7U2I3"),
            b"AKIAQ2W3E4R5T6Y7U2I3"
        );
        // A block that does not decode is hashed as it is.
        let broken = b"-----BEGIN EC PRIVATE KEY-----\n!!\n-----END EC PRIVATE KEY-----";
        assert_eq!(normal_form(broken), broken);
    }

    #[test]
    fn a_listed_secret_is_found_with_its_source() {
        let key =
            b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEILn6\n-----END PRIVATE KEY-----";
        let hash: String = Sha256::digest(normal_form(key))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let list = Published::from_toml(&format!(
            "[[published]]\nsha256 = \"{hash}\"\nsource = \"a test vector\"\n"
        ))
        .unwrap();
        assert_eq!(list.source_of(key), Some("a test vector"));
        assert_eq!(
            list.source_of(
                b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEILn7\n-----END PRIVATE KEY-----"
            ),
            None
        );
    }
}
