//! SSH files as an image holds them: `authorized_keys` lines (options, key type, base64
//! blob, comment), the SHA256 fingerprint of a key as `ssh-keygen -l` computes it, and the
//! `AuthorizedKeysFile` and `Include` directives of `sshd_config`.

use sha2::{Digest, Sha256};
use snapsift_match::checks::{decode_base64, encode_base64, ssh_public_key_facts};

/// The longest `authorized_keys` line read as a key: OpenSSH's own limit is 8 KiB
/// (`SSH_MAX_PUBKEY_BYTES` is 16 KiB for a blob); a longer line is counted as unreadable.
const MAX_LINE: usize = 32 * 1024;

/// One key of an `authorized_keys` file (or a `.pub` file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    /// Its type, as the blob names it: `ed25519`, `rsa`, `ec`, `ed25519-sk`...
    pub key_type: String,
    /// Its size in bits, for RSA and DSA.
    pub bits: Option<String>,
    /// `SHA256:` and the unpadded base64 of the SHA-256 of the blob.
    pub fingerprint: String,
    /// The comment after the blob (empty if none).
    pub comment: String,
    /// The options before the key type (empty if none).
    pub options: String,
}

/// The keys of an `authorized_keys` file, and how many lines that are not blank or
/// comments could not be read as a key.
pub fn parse_authorized_keys(bytes: &[u8]) -> (Vec<PublicKey>, u64) {
    let mut keys = Vec::new();
    let mut unreadable = 0u64;
    for line in bytes.split(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(line);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match (line.len() <= MAX_LINE)
            .then(|| parse_key_line(line))
            .flatten()
        {
            Some(key) => keys.push(key),
            None => unreadable = unreadable.saturating_add(1),
        }
    }
    (keys, unreadable)
}

/// One key line: `[options] type base64 [comment]`. Options come first when the first word
/// is not a key type whose blob decodes (OpenSSH's own rule).
pub fn parse_key_line(line: &str) -> Option<PublicKey> {
    if let Some(key) = key_fields(line, "") {
        return Some(key);
    }
    let (options, rest) = split_options(line)?;
    key_fields(rest.trim_start(), options)
}

/// `type base64 [comment]`, with `options` in front of it.
fn key_fields(text: &str, options: &str) -> Option<PublicKey> {
    let mut words = text.splitn(3, [' ', '\t']);
    let named = words.next()?;
    let base64 = words.next()?;
    let comment = words.next().unwrap_or("").trim();
    let blob = decode_base64(base64.as_bytes()).ok()?;
    let (algorithm, facts) = ssh_public_key_facts(&blob).ok()?;
    // The word before the blob must name the blob's own algorithm.
    if algorithm != named.as_bytes() {
        return None;
    }
    let fact = |name: &str| {
        facts
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.clone())
    };
    Some(PublicKey {
        key_type: fact("key_type")?,
        bits: fact("key_bits"),
        fingerprint: fingerprint(&blob),
        comment: comment.to_owned(),
        options: options.to_owned(),
    })
}

/// The options word of a key line (up to the first blank outside double quotes), and the
/// rest.
fn split_options(line: &str) -> Option<(&str, &str)> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ' ' | '\t' if !quoted => return Some((&line[..i], &line[i..])),
            _ => {}
        }
    }
    None
}

/// `SHA256:` and the unpadded base64 of the SHA-256 of `blob`, as `ssh-keygen -l` writes it.
pub fn fingerprint(blob: &[u8]) -> String {
    let digest = Sha256::digest(blob);
    let text = encode_base64(&digest);
    format!("SHA256:{}", text.trim_end_matches('='))
}

/// What `sshd_config` text says about where keys are: the `AuthorizedKeysFile` values
/// (every one, `Match` blocks included: the audit looks at every file sshd may read; `none`
/// left out) and the `Include` patterns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SshdConfig {
    /// `AuthorizedKeysFile` values, as written (`%h/.ssh/authorized_keys`, `.ssh/keys`).
    pub authorized_keys_files: Vec<String>,
    /// `Include` values, as written.
    pub includes: Vec<String>,
}

/// Reads `AuthorizedKeysFile` and `Include` lines of an `sshd_config` (keywords in any case,
/// `keyword value...` or `keyword=value...`, values optionally double-quoted).
pub fn parse_sshd_config(bytes: &[u8]) -> SshdConfig {
    let mut config = SshdConfig::default();
    for line in String::from_utf8_lossy(bytes).lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let split = line
            .find(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or(line.len());
        let (keyword, rest) = line.split_at(split);
        let rest = rest.trim_start().strip_prefix('=').unwrap_or(rest).trim();
        let values = rest
            .split_whitespace()
            .map(|v| v.trim_matches('"').to_owned())
            .filter(|v| !v.is_empty());
        if keyword.eq_ignore_ascii_case("AuthorizedKeysFile") {
            config
                .authorized_keys_files
                .extend(values.filter(|v| !v.eq_ignore_ascii_case("none")));
        } else if keyword.eq_ignore_ascii_case("Include") {
            config.includes.extend(values);
        }
    }
    config
}

/// `AuthorizedKeysFile` value `value` for the account `user` (home `home`, UID `uid`): `%h`,
/// `%u`, `%U` and `%%` replaced, and a relative path taken from the home. `None` for an
/// unknown `%` token (sshd refuses those too).
pub fn expand_keys_file(value: &str, user: &str, uid: &str, home: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '%' => out.push('%'),
            'h' => out.push_str(home),
            'u' => out.push_str(user),
            'U' => out.push_str(uid),
            _ => return None,
        }
    }
    if out.starts_with('/') {
        Some(out)
    } else {
        Some(format!("{}/{out}", home.trim_end_matches('/')))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ed25519 key line `ssh-keygen` wrote (a key made for this test, used nowhere).
    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFSk9OXwZUL3cm0Dv87LRIsS5tLpEK20PWSH+Z3rSGu+ test@example";
    /// Its fingerprint, as `ssh-keygen -lf` printed it.
    const ED25519_FP: &str = "SHA256:mMoFJmlRRr1nvoGRsJlVvKX5Mb29WXUhulnL5RlG21A";

    #[test]
    fn key_lines_with_and_without_options() {
        let key = parse_key_line(ED25519).unwrap();
        assert_eq!(key.key_type, "ed25519");
        assert_eq!(key.fingerprint, ED25519_FP);
        assert_eq!(key.comment, "test@example");
        assert_eq!(key.options, "");
        let with = format!("from=\"10.0.0.1,10.0.0.2\",command=\"echo a b\",no-pty {ED25519}");
        let key = parse_key_line(&with).unwrap();
        assert_eq!(
            key.options,
            "from=\"10.0.0.1,10.0.0.2\",command=\"echo a b\",no-pty"
        );
        assert_eq!(key.fingerprint, ED25519_FP);
        // The type word must name the blob's algorithm.
        assert!(parse_key_line(&ED25519.replace("ssh-ed25519", "ssh-rsa")).is_none());
        assert!(parse_key_line("ssh-ed25519 !!!notbase64").is_none());
    }

    #[test]
    fn files_count_what_is_not_a_key() {
        let text = format!(
            "# keys\n\n{ED25519}\ngarbage line\n{}\n",
            "x".repeat(40_000)
        );
        let (keys, unreadable) = parse_authorized_keys(text.as_bytes());
        assert_eq!(keys.len(), 1);
        assert_eq!(unreadable, 2);
    }

    #[test]
    fn sshd_config_directives() {
        let config = parse_sshd_config(
            b"# AuthorizedKeysFile /nope\nauthorizedkeysfile .ssh/authorized_keys /etc/ssh/keys/%u\n\
              Include /etc/ssh/sshd_config.d/*.conf\nMatch User bob\n  AuthorizedKeysFile=\"/srv/%h/k\" none\n",
        );
        assert_eq!(
            config.authorized_keys_files,
            [".ssh/authorized_keys", "/etc/ssh/keys/%u", "/srv/%h/k"]
        );
        assert_eq!(config.includes, ["/etc/ssh/sshd_config.d/*.conf"]);
    }

    #[test]
    fn keys_file_tokens() {
        let e = |v| expand_keys_file(v, "bob", "1001", "/home/bob");
        assert_eq!(
            e(".ssh/authorized_keys").unwrap(),
            "/home/bob/.ssh/authorized_keys"
        );
        assert_eq!(e("/etc/ssh/keys/%u").unwrap(), "/etc/ssh/keys/bob");
        assert_eq!(e("%h/k%%").unwrap(), "/home/bob/k%");
        assert_eq!(e("/k/%U").unwrap(), "/k/1001");
        assert_eq!(e("/k/%x"), None);
        assert_eq!(e("/k/%"), None);
    }
}
