//! Scoring a rival's findings against the planted secrets (see the parent module's docs).

use std::fmt::Write as _;

use aho_corasick::AhoCorasick;
use anyhow::Result;

use crate::bench::generate::Manifest;

/// Matches the planted secrets, and the passwords of the planted connection URIs, in reported
/// strings.
pub(super) struct Scorer {
    /// Patterns: every planted secret (pattern i is planted secret i), then each URI password.
    searcher: AhoCorasick,
    /// For pattern `planted.len() + j`, the planted URI whose password it is.
    password_of: Vec<usize>,
    /// Number of planted secrets.
    planted: usize,
}

/// What a rival found.
pub(super) struct Score {
    /// Per planted secret: 1 if a reported string contains it.
    pub(super) found: Vec<u8>,
    /// Per planted secret: 1 if it is a connection URI not found whole but by its password.
    pub(super) by_password: Vec<u8>,
    /// Findings that contain no planted secret (or password).
    other: usize,
}

impl Scorer {
    /// The searcher of `manifest`'s planted secrets.
    pub(super) fn new(manifest: &Manifest) -> Result<Scorer> {
        let mut patterns: Vec<&str> = manifest.planted.iter().map(|p| p.secret.as_str()).collect();
        let mut password_of = Vec::new();
        for (i, p) in manifest.planted.iter().enumerate() {
            if let Some(password) = uri_password(&p.secret) {
                patterns.push(password);
                password_of.push(i);
            }
        }
        Ok(Scorer {
            searcher: AhoCorasick::new(&patterns)?,
            password_of,
            planted: manifest.planted.len(),
        })
    }

    /// Scores the reported strings of each finding.
    pub(super) fn score(&self, findings: &[Vec<String>]) -> Score {
        let mut found = vec![0; self.planted];
        let mut by_password = vec![0; self.planted];
        let mut other = 0;
        for strings in findings {
            let mut any = false;
            for s in strings {
                for m in self.searcher.find_overlapping_iter(s) {
                    any = true;
                    let id = m.pattern().as_usize();
                    match id.checked_sub(self.planted) {
                        None => found[id] = 1,
                        Some(j) => by_password[self.password_of[j]] = 1,
                    }
                }
            }
            other += usize::from(!any);
        }
        for (b, f) in by_password.iter_mut().zip(&found) {
            *b &= 1 - f;
        }
        Score {
            found,
            by_password,
            other,
        }
    }
}

impl Score {
    /// The table's cell: "N / M", with URIs found by password and other findings.
    pub(super) fn summary(&self) -> String {
        let whole: usize = self.found.iter().map(|&f| usize::from(f)).sum();
        let password: usize = self.by_password.iter().map(|&f| usize::from(f)).sum();
        let mut s = format!("{} / {}", whole + password, self.found.len());
        let mut notes = Vec::new();
        if password > 0 {
            notes.push(format!("{password} URIs by their password alone"));
        }
        if self.other > 0 {
            notes.push(format!("+{} other findings", self.other));
        }
        if !notes.is_empty() {
            let _ = write!(s, " ({})", notes.join("; "));
        }
        s
    }
}

/// The password of a connection URI `scheme://user:password@host...`, if `secret` is one.
pub(super) fn uri_password(secret: &str) -> Option<&str> {
    let (_, rest) = secret.split_once("://")?;
    let (userinfo, _) = rest.split_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then_some(password)
}

/// The rule family of a planted secret's rule, for people.
pub(super) fn family(rule: &str) -> &str {
    match rule.split('.').next().unwrap_or(rule) {
        "aws" => "AWS key IDs",
        "alibaba" => "Alibaba key IDs",
        "private-key" => "private keys",
        "connection-uri" => "connection URIs",
        other => other,
    }
}

/// "AWS key IDs 250/250, ..., connection URIs 250/250 (209 by password)": planted secrets
/// found (`found[i]` or `by_password[i]` is 1) per rule family, in the manifest's order.
pub(super) fn by_family(manifest: &Manifest, found: &[u8], by_password: &[u8]) -> String {
    // family -> (found, by password, planted), in order of first appearance.
    let mut families: Vec<(&str, [usize; 3])> = Vec::new();
    for (i, p) in manifest.planted.iter().enumerate() {
        let name = family(&p.rule);
        let at = match families.iter().position(|(f, _)| *f == name) {
            Some(at) => at,
            None => {
                families.push((name, [0; 3]));
                families.len() - 1
            }
        };
        let counts = &mut families[at].1;
        let password = by_password.get(i).copied().unwrap_or(0);
        counts[0] += usize::from(found[i] | password);
        counts[1] += usize::from(password);
        counts[2] += 1;
    }
    families
        .iter()
        .map(|(name, [n, password, of])| {
            if *password > 0 {
                format!("{name} {n}/{of} ({password} by their password alone)")
            } else {
                format!("{name} {n}/{of}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::secrets::Planted;

    fn manifest() -> Manifest {
        Manifest {
            generator_version: 0,
            image_size: 0,
            files: 0,
            data_bytes: 0,
            planted: vec![
                Planted::new("aws", "aws.access-key-id", "AKIAABCDEFGHIJKLMNOP", "/a"),
                Planted::new(
                    "uri",
                    "connection-uri.password",
                    "redis://u:Pw1234567890xy@h:1/0",
                    "/b",
                ),
                Planted::new(
                    "uri",
                    "connection-uri.password",
                    "mysql://u:Zz9876543210ab@h/db",
                    "/c",
                ),
            ],
        }
    }

    #[test]
    fn scores_containment_and_uri_passwords() {
        let manifest = manifest();
        let scorer = Scorer::new(&manifest).unwrap();
        let findings = vec![
            vec!["x AKIAABCDEFGHIJKLMNOP y".to_string()],
            vec!["Pw1234567890xy".to_string()],
            vec![
                "mysql://u:Zz9876543210ab@h/db".to_string(),
                "Zz9876543210ab".into(),
            ],
            vec!["unrelated".to_string()],
        ];
        let score = scorer.score(&findings);
        assert_eq!(score.found, [1, 0, 1]);
        assert_eq!(score.by_password, [0, 1, 0]);
        assert_eq!(score.other, 1);
        assert_eq!(
            score.summary(),
            "3 / 3 (1 URIs by their password alone; +1 other findings)"
        );
        assert_eq!(
            by_family(&manifest, &score.found, &score.by_password),
            "AWS key IDs 1/1, connection URIs 2/2 (1 by their password alone)"
        );
    }
}
