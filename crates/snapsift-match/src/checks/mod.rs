//! Offline checks: pure functions that confirm or reject a match of a rule.
//!
//! A rule lists the checks its matches must pass (`checks = ["aws-key-id", "placeholder"]`,
//! see [`crate::rule`]); each entry is a check's name, or `name:argument`, parsed once by
//! [`Check::parse`]. For every match the matcher builds an [`Evidence`] (the match and the
//! secret within it) and runs the rule's checks in order; a check answers with a [`Verdict`]:
//! [`Verdict::Passed`] with the [`Fact`]s it learned (an AWS account id, a key's type and size),
//! or [`Verdict::Failed`] with the reason, for people.
//!
//! There are two kinds of check ([`Check::validates`]):
//!
//! * **validating** checks confirm structure that a random string or a placeholder almost never
//!   has: a checksum holds, a key body parses as the key its label names. Passing one makes a
//!   finding more certain.
//! * **filtering** checks (`placeholder`, `entropy:N`) are heuristics: they only turn away
//!   matches that are very likely not secrets.
//!
//! # Contract
//!
//! Every check, for every input:
//!
//! * is **pure**: it reads only its [`Evidence`], never the network, a file, the clock or any
//!   global state, so the same evidence always gives the same verdict, on any thread;
//! * is **bounded**: it allocates nothing larger than a constant times the evidence, which is
//!   at most [`MAX_EVIDENCE`] bytes (64 KiB, the longest match a rule can report; longer
//!   evidence is refused unread), and every loop is bounded by the evidence's length or by a
//!   constant: lengths and counts read from the evidence are checked against what is there
//!   before anything is reserved or walked, nested DER is descended at most 16 levels, and
//!   all arithmetic on numbers derived from the input is checked or saturating;
//! * **never panics**, whatever the bytes: the evidence comes from hostile disks. (The module
//!   is built with clippy's `indexing_slicing`, `arithmetic_side_effects`, `unwrap_used`,
//!   `expect_used` and `panic` lints denied outside tests, and the tests feed every check
//!   random and mutated inputs.)
//! * **never turns a valid secret away without a stated reason**: every [`Verdict::Failed`]
//!   says why, and the reason never contains the secret (nor decoded bytes of it), so it can
//!   be logged.
//!
//! Each check's exact rule is summarised in [`Check::parse`] and documented in full on its
//! (private) module, `src/checks/<check>.rs`, which `cargo doc --document-private-items` shows.

#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

mod alibaba;
mod aws;
mod base64;
mod crypt;
mod der;
mod docker;
mod entropy;
mod github;
mod jwt;
mod keys;
mod openssh;
mod pem;
mod pgp;
mod placeholder;
mod putty;
mod sshwire;
mod text;
mod uri_password;
mod weak;

#[cfg(test)]
mod testdata;

use std::fmt;

/// The longest evidence (match or secret) a check reads: the longest match a rule may report,
/// [`crate::MAX_RULE_LEN`]. Longer evidence fails every check unread.
pub const MAX_EVIDENCE: usize = crate::MAX_RULE_LEN;

/// What a check looks at: the match as text and the secret within it.
///
/// `matched` is the whole match of the rule's pattern; `secret` is the part of it the rule
/// names as the secret (its `secret` capture group, or the whole match). Checks of a value
/// (`aws-key-id`, `placeholder`, ...) read `secret`; checks of a whole block (`pem-key`,
/// `pgp-private-key`, `putty-key`) read `matched`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evidence<'a> {
    /// The whole match, as bytes from the disk.
    pub matched: &'a [u8],
    /// The secret within the match.
    pub secret: &'a [u8],
    /// Whether the match was cut at its rule's `max_len` ([`crate::Match::truncated`]): a
    /// block check then checks what the cut block shows (`pgp-private-key`: the armor's data
    /// so far begins with a Secret-Key packet) or fails saying the block is cut.
    pub truncated: bool,
}

/// One fact a check learned, reported with the finding, e.g. `("aws_account_id",
/// "123456789012")`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fact {
    /// The fact's name, a lowercase identifier such as `key_type`.
    pub name: &'static str,
    /// The fact's value: text without control characters (values read from the evidence are
    /// reported only when printable, or with control characters shown as `.`).
    pub value: String,
}

impl Fact {
    /// A fact from a name and anything that converts into its value.
    pub fn new(name: &'static str, value: impl Into<String>) -> Fact {
        Fact {
            name,
            value: value.into(),
        }
    }
}

/// A check's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The evidence passed, and these are the facts the check learned (possibly none).
    Passed(Vec<Fact>),
    /// The evidence failed; the reason is for people and never contains the secret.
    Failed(String),
}

impl Verdict {
    /// Whether the verdict is [`Verdict::Passed`].
    pub fn passed(&self) -> bool {
        matches!(self, Verdict::Passed(_))
    }
}

/// Decodes standard base64 (`+/`, padding optional, ASCII whitespace skipped), as SSH public
/// keys are written. The error says what is wrong, never what the input holds.
pub fn decode_base64(text: &[u8]) -> Result<Vec<u8>, String> {
    base64::decode(text, base64::Alphabet::Standard, base64::Skip::Whitespace)
}

/// `bytes` as padded standard base64.
pub fn encode_base64(bytes: &[u8]) -> String {
    base64::encode(bytes)
}

/// The facts of an SSH public key blob (the wire encoding, as the base64 of an
/// `authorized_keys` line holds it): `key_type` (`rsa`, `ed25519`, `ec`...), with `key_bits`
/// for RSA and DSA and `curve` for ECDSA; and the algorithm name the blob begins with.
pub fn ssh_public_key_facts(blob: &[u8]) -> Result<(Vec<u8>, Vec<Fact>), String> {
    sshwire::public_key_facts(blob)
}

/// What a check concluded, before it becomes a [`Verdict`]: facts, or why not.
pub(crate) type Outcome = Result<Vec<Fact>, String>;

/// A parsed check spec: rule files write `"name"` or `"name:argument"`.
///
/// A `Check` is immutable, cheap to clone, and `Send + Sync`: parse it once per rule and run it
/// from any thread.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Placeholder,
    Entropy(f64),
    GithubChecksum,
    AwsKeyId,
    AlibabaKeyId,
    Base64(usize),
    PemKey,
    PgpPrivateKey,
    PuttyKey,
    ShadowHash,
    DockerAuth,
    Jwt,
    UriPassword,
}

/// Every check's name, in the order [`Check::parse`] lists them in its error message.
const NAMES: [&str; 13] = [
    "placeholder",
    "entropy:N",
    "github-checksum",
    "aws-key-id",
    "alibaba-key-id",
    "base64:N",
    "pem-key",
    "pgp-private-key",
    "putty-key",
    "shadow-hash",
    "docker-auth",
    "jwt",
    "uri-password",
];

impl Check {
    /// Parses a check spec, `name` or `name:argument`. An unknown name, a missing, extra or
    /// malformed argument is an error whose message says what was expected.
    ///
    /// | spec | reads | passes when |
    /// | --- | --- | --- |
    /// | `placeholder` | secret | it is not a documented example, mask, template or variable reference, well-known dummy value, description or one repeated character; facts `weak` and `weak_reason` when it is a common, sequential, short or low-entropy value |
    /// | `entropy:N` | secret | its Shannon entropy is at least `N` bits per byte (`0 <= N <= 8`) |
    /// | `github-checksum` | secret | `gh[pousr]_` + 36 base62 characters whose last 6 are the base62 CRC-32 of the 30 before; or a `github_pat_` token of the documented shape (no checksum is public for those) |
    /// | `aws-key-id` | secret | 4 capital letters + 16 of `A-Z2-7`; fact `aws_account_id` where the ID encodes it |
    /// | `alibaba-key-id` | secret | `LTAI` + 12 or 20 of `[A-Za-z0-9]` with letters and digits |
    /// | `base64:N` | secret | it decodes as base64 to at least `N` bytes (`N >= 1`) |
    /// | `pem-key` | match | a PEM private key block whose body parses as its label says |
    /// | `pgp-private-key` | match | an armored OpenPGP private key block, CRC-24 matching, first packet a Secret-Key packet; cut at the rule's `max_len`: the armor's whole lines so far decode to a first packet that is a Secret-Key packet |
    /// | `putty-key` | match | a PuTTY `.ppk` (v2 or v3) with every field in place |
    /// | `shadow-hash` | secret | a crypt(3) hash of a scheme a cracker can attack, not locked |
    /// | `docker-auth` | secret | base64 of `user:password`, both non-empty, the password no placeholder; facts `user`, and `weak` as for `placeholder` |
    /// | `jwt` | secret | three base64url parts, the first a JSON object with `"alg"` |
    /// | `uri-password` | secret | a URI whose `user:password@` password is no placeholder; facts `weak` as for `placeholder` |
    pub fn parse(spec: &str) -> Result<Check, String> {
        let (name, arg) = match spec.split_once(':') {
            Some((name, arg)) => (name, Some(arg)),
            None => (spec, None),
        };
        let no_arg = |kind: Kind| match arg {
            None => Ok(Check { kind }),
            Some(_) => Err(format!("check {name:?} takes no argument (found {spec:?})")),
        };
        match name {
            "placeholder" => no_arg(Kind::Placeholder),
            "github-checksum" => no_arg(Kind::GithubChecksum),
            "aws-key-id" => no_arg(Kind::AwsKeyId),
            "alibaba-key-id" => no_arg(Kind::AlibabaKeyId),
            "pem-key" => no_arg(Kind::PemKey),
            "pgp-private-key" => no_arg(Kind::PgpPrivateKey),
            "putty-key" => no_arg(Kind::PuttyKey),
            "shadow-hash" => no_arg(Kind::ShadowHash),
            "docker-auth" => no_arg(Kind::DockerAuth),
            "jwt" => no_arg(Kind::Jwt),
            "uri-password" => no_arg(Kind::UriPassword),
            "entropy" => {
                let bad = || {
                    format!(
                        "check \"entropy\" needs a minimum in bits per byte, a number from 0 \
                         to 8, as \"entropy:3.0\" (found {spec:?})"
                    )
                };
                let n: f64 = arg.ok_or_else(bad)?.trim().parse().map_err(|_| bad())?;
                if !(0.0..=8.0).contains(&n) {
                    return Err(bad());
                }
                Ok(Check {
                    kind: Kind::Entropy(n),
                })
            }
            "base64" => {
                let bad = || {
                    format!(
                        "check \"base64\" needs the least number of decoded bytes, a whole \
                         number from 1 to {MAX_EVIDENCE}, as \"base64:16\" (found {spec:?})"
                    )
                };
                let n: usize = arg.ok_or_else(bad)?.trim().parse().map_err(|_| bad())?;
                if n == 0 || n > MAX_EVIDENCE {
                    return Err(bad());
                }
                Ok(Check {
                    kind: Kind::Base64(n),
                })
            }
            _ => Err(format!(
                "unknown check {spec:?}; the checks are {}",
                NAMES.join(", ")
            )),
        }
    }

    /// The check's name, without its argument (`entropy` for `entropy:3.0`).
    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::Placeholder => "placeholder",
            Kind::Entropy(_) => "entropy",
            Kind::GithubChecksum => "github-checksum",
            Kind::AwsKeyId => "aws-key-id",
            Kind::AlibabaKeyId => "alibaba-key-id",
            Kind::Base64(_) => "base64",
            Kind::PemKey => "pem-key",
            Kind::PgpPrivateKey => "pgp-private-key",
            Kind::PuttyKey => "putty-key",
            Kind::ShadowHash => "shadow-hash",
            Kind::DockerAuth => "docker-auth",
            Kind::Jwt => "jwt",
            Kind::UriPassword => "uri-password",
        }
    }

    /// `true` for structural validation (a checksum holds, a key body parses): passing it
    /// makes a finding more certain; `false` for heuristics that only filter (`entropy`,
    /// `placeholder`).
    pub fn validates(&self) -> bool {
        !matches!(
            self.kind,
            Kind::Placeholder | Kind::Entropy(_) | Kind::UriPassword
        )
    }

    /// Runs the check on `evidence`. Pure, bounded, and never panics (see the module docs).
    pub fn run(&self, evidence: &Evidence<'_>) -> Verdict {
        if evidence.matched.len() > MAX_EVIDENCE || evidence.secret.len() > MAX_EVIDENCE {
            return Verdict::Failed(format!(
                "the evidence is longer than {MAX_EVIDENCE} bytes, the longest match a rule \
                 can report; not read"
            ));
        }
        let secret = evidence.secret;
        let matched = evidence.matched;
        let outcome = match self.kind {
            Kind::Placeholder => placeholder::check(secret),
            Kind::Entropy(min) => entropy::check(secret, min),
            Kind::GithubChecksum => github::check(secret),
            Kind::AwsKeyId => aws::check(secret),
            Kind::AlibabaKeyId => alibaba::check(secret),
            Kind::Base64(min) => base64::check(secret, min),
            Kind::PemKey | Kind::PuttyKey if evidence.truncated => Err(format!(
                "the block was cut at the rule's max_len, before its end: a {} block this \
                 long is no key",
                self.name()
            )),
            Kind::PemKey => pem::check(matched),
            Kind::PgpPrivateKey if evidence.truncated => pgp::check_cut(matched),
            Kind::PgpPrivateKey => pgp::check(matched),
            Kind::PuttyKey => putty::check(matched),
            Kind::ShadowHash => crypt::check(secret),
            Kind::DockerAuth => docker::check(secret),
            Kind::Jwt => jwt::check(secret),
            Kind::UriPassword => uri_password::check(secret),
        };
        match outcome {
            Ok(facts) => Verdict::Passed(facts),
            Err(why) => Verdict::Failed(why),
        }
    }
}

impl fmt::Display for Check {
    /// The check as a rule file writes it: `name` or `name:argument`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::Entropy(n) => write!(f, "entropy:{n}"),
            Kind::Base64(n) => write!(f, "base64:{n}"),
            _ => f.write_str(self.name()),
        }
    }
}

/// The key bytes of the first PEM block in `text`: its body with escapes undone, RFC 1421
/// headers set aside and base64 decoded; `None` if there is no block or it does not decode.
pub(crate) fn pem_body_bytes(text: &[u8]) -> Option<Vec<u8>> {
    let block = pem::find_block(text).ok()?;
    pem::read_body(block.body).ok().map(|body| body.bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn check_is_send_and_sync() {
        assert_send_sync::<Check>();
        assert_send_sync::<Verdict>();
        assert_send_sync::<Evidence<'static>>();
    }

    #[test]
    fn every_name_parses_and_reports_its_name() {
        for spec in NAMES {
            let spec = spec.replace(":N", ":1");
            let check = Check::parse(&spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(check.to_string(), spec);
            assert_eq!(check.name(), spec.split(':').next().unwrap());
            assert_eq!(
                check.validates(),
                !matches!(check.name(), "placeholder" | "entropy" | "uri-password")
            );
        }
    }

    #[test]
    fn bad_specs_are_refused_with_a_reason() {
        for spec in [
            "",
            "nope",
            "Placeholder",
            "placeholder:1",
            "pem-key:",
            "entropy",
            "entropy:",
            "entropy:x",
            "entropy:-1",
            "entropy:8.5",
            "entropy:NaN",
            "entropy:inf",
            "base64",
            "base64:0",
            "base64:-3",
            "base64:1.5",
            "base64:99999999999999999999999",
            "base64:65537",
        ] {
            let err = Check::parse(spec).expect_err(spec);
            assert!(!err.is_empty());
        }
        assert!(Check::parse("nope").unwrap_err().contains("pem-key"));
    }

    #[test]
    fn arguments_are_kept() {
        assert_eq!(
            Check::parse("entropy:3.5").unwrap().kind,
            Kind::Entropy(3.5)
        );
        assert_eq!(Check::parse("base64:32").unwrap().kind, Kind::Base64(32));
        assert_eq!(
            Check::parse("entropy: 3 ").unwrap().kind,
            Kind::Entropy(3.0)
        );
    }

    #[test]
    fn a_cut_match_is_assessed_as_cut() {
        let set = crate::RuleSet::builtin().unwrap();
        let rule = |id: &str| set.rules().iter().find(|r| r.id == id).unwrap();
        let cut = |text: &str| -> Vec<u8> { text.as_bytes()[..text.len() - 40].to_vec() };
        fn evidence(text: &[u8]) -> Evidence<'_> {
            Evidence {
                matched: text,
                secret: text,
                truncated: true,
            }
        }
        // A PGP key block cut before its END line: what shows of it is a key.
        let pgp = cut(testdata::PGP_ED25519);
        let assessment = rule("pgp.private-key").assess_evidence(evidence(&pgp));
        assert_eq!(assessment.rejected, None);
        assert_eq!(
            assessment.facts,
            [
                Fact::new("truncated", "true"),
                Fact::new("key_type", "ed25519")
            ]
        );
        // Not marked cut, the same bytes lack their END line.
        assert!(!rule("pgp.private-key").assess(&pgp, &pgp).is_valid());
        // A PEM block longer than any key is no key.
        let pem = cut(testdata::RSA_512_PKCS1);
        let assessment = rule("private-key.rsa").assess_evidence(evidence(&pem));
        let rejected = assessment.rejected.unwrap();
        assert_eq!(rejected.check, "pem-key");
        assert!(rejected.reason.contains("cut at the rule's max_len"));
        assert!(assessment.facts.contains(&Fact::new("truncated", "true")));
    }

    #[test]
    fn oversized_evidence_fails_unread() {
        let big = vec![b'A'; MAX_EVIDENCE + 1];
        for spec in NAMES {
            let check = Check::parse(&spec.replace(":N", ":1")).unwrap();
            for (matched, secret) in [(&big[..], &b"x"[..]), (&big[..], &big[..])] {
                let v = check.run(&Evidence {
                    matched,
                    secret,
                    truncated: false,
                });
                assert!(!v.passed(), "{spec}");
            }
        }
    }

    /// A small deterministic generator, so that the hostile-input tests are reproducible.
    pub(crate) struct Rng(u64);

    impl Rng {
        pub(crate) fn new(seed: u64) -> Rng {
            Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
        }
        pub(crate) fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
        pub(crate) fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Every check on `input` as both match and secret, whole and cut: must return, not
    /// panic.
    pub(crate) fn run_all(input: &[u8]) -> Vec<Verdict> {
        NAMES
            .iter()
            .flat_map(|spec| {
                let check = Check::parse(&spec.replace(":N", ":4")).unwrap();
                [false, true].map(|truncated| {
                    check.run(&Evidence {
                        matched: input,
                        secret: input,
                        truncated,
                    })
                })
            })
            .collect()
    }

    #[test]
    fn hostile_inputs_never_panic() {
        let mut rng = Rng::new(1);
        let mut inputs: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![0xff; 100],
            b"$".to_vec(),
            b"$6$".to_vec(),
            b"$2b$99$".to_vec(),
            b"-----BEGIN ".to_vec(),
            b"-----BEGIN RSA PRIVATE KEY-----".to_vec(),
            b"-----BEGIN RSA PRIVATE KEY----------END RSA PRIVATE KEY-----".to_vec(),
            b"-----BEGIN PGP PRIVATE KEY BLOCK-----\n=\n-----END PGP PRIVATE KEY BLOCK-----"
                .to_vec(),
            b"PuTTY-User-Key-File-3: ssh-rsa\nPublic-Lines: 99999999999999999999\n".to_vec(),
            "ghp_\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}"
                .as_bytes()
                .to_vec(),
            "LTAI\u{1F600}\u{1F600}\u{1F600}".as_bytes().to_vec(),
            b"\\\\\\\\\\".to_vec(),
            b"eyJ.eyJ.".to_vec(),
            b"...".to_vec(),
        ];
        for len in [1, 2, 3, 7, 40, 300, 5000] {
            for _ in 0..20 {
                inputs.push((0..len).map(|_| rng.next() as u8).collect());
                // Random text from the characters the formats are made of.
                let alphabet =
                    b"$./:=-_ \n\\ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+";
                inputs.push(
                    (0..len)
                        .map(|_| alphabet[rng.below(alphabet.len())])
                        .collect(),
                );
            }
        }
        for input in &inputs {
            run_all(input);
        }
    }

    #[test]
    fn every_cut_of_every_test_key_is_answered() {
        use super::testdata::*;
        for key in [
            RSA_512_PKCS1,
            RSA_512_PKCS1_ENCRYPTED,
            RSA_512_PKCS8,
            EC_P256_SEC1,
            EC_P256_PKCS8,
            ED25519_PKCS8,
            X25519_PKCS8,
            DSA_1024,
            ED25519_PKCS8_ENCRYPTED,
            OPENSSH_ED25519,
            OPENSSH_ED25519_ENCRYPTED,
            OPENSSH_ECDSA_P256,
            OPENSSH_RSA_1024,
            PGP_ED25519,
            PGP_ED25519_PROTECTED,
            PGP_RSA_1024,
            PUTTY_V3_ED25519,
            PUTTY_V3_ED25519_ENCRYPTED,
            PUTTY_V3_ECDSA_P256,
            PUTTY_V2_ED25519,
            PUTTY_V2_ED25519_ENCRYPTED,
            PUTTY_V2_RSA_1024,
        ] {
            let bytes = key.as_bytes();
            // The whole key passes exactly one of the block checks.
            let passed: Vec<&str> = ["pem-key", "pgp-private-key", "putty-key"]
                .into_iter()
                .filter(|spec| {
                    Check::parse(spec)
                        .unwrap()
                        .run(&Evidence {
                            matched: bytes,
                            secret: bytes,
                            truncated: false,
                        })
                        .passed()
                })
                .collect();
            assert_eq!(passed.len(), 1, "{passed:?}\n{key}");
            for cut in 0..bytes.len() {
                run_all(&bytes[..cut]);
                run_all(&bytes[cut..]);
            }
        }
    }
}
