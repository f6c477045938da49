//! `--redact`: no full secret anywhere in the report.
//!
//! A finding's own secret is not the only one its record could show: its context line may
//! hold the secret half it was paired with (`AWS_ACCESS_KEY_ID=AKIA… AWS_SECRET_ACCESS_KEY=…`
//! on one shell line) or another finding's secret. So the [`Redactor`] of a report knows
//! every secret in it (each finding's and each pair's) and masks all of them wherever they
//! appear in a context, as written and as UTF-16 text reads in a context (`A.K.I.A.…`), then
//! masks the secret fields themselves. It over-masks rather than under-masks: a short
//! secret's text is masked wherever it appears in a context, secret or not.
//!
//! A context is a window of the disk: a secret cut by its edge shows the part inside, which
//! no pattern of the whole secret matches. That part is at most the window's margin and
//! never a whole secret.

use aho_corasick::{AhoCorasick, MatchKind};
use sha2::{Digest, Sha256};

use crate::printer::shown::{mask, printable};
use crate::record::FindingRecord;

/// Masks the secrets of a set of records.
pub struct Redactor {
    /// Every secret of the records, in the forms a context shows it in; `None` when there
    /// are none.
    secrets: Option<AhoCorasick>,
}

impl Redactor {
    /// A redactor that knows the secrets of `records` (those not yet redacted).
    pub fn new<'a>(records: impl IntoIterator<Item = &'a FindingRecord>) -> Redactor {
        let mut patterns: Vec<String> = Vec::new();
        for record in records.into_iter().filter(|r| !r.redacted) {
            let pair = record.pair.as_ref().map(|p| p.secret.as_str());
            for secret in std::iter::once(record.secret.as_str()).chain(pair) {
                let shown = printable(secret.as_bytes());
                if shown.is_empty() {
                    continue;
                }
                // UTF-16 text, shown byte by byte: each character then a `.` (the NUL).
                let wide = shown
                    .chars()
                    .map(String::from)
                    .collect::<Vec<_>>()
                    .join(".");
                patterns.push(shown);
                patterns.push(wide);
            }
        }
        patterns.sort_unstable();
        patterns.dedup();
        let secrets = (!patterns.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&patterns)
                // Patterns are short strings, far below any size limit of the automaton.
                .expect("an automaton of the report's secrets")
        });
        Redactor { secrets }
    }

    /// Masks `record`'s secret, its pair's, and every known secret in its context.
    pub fn redact(&self, record: &mut FindingRecord) {
        if record.redacted {
            return;
        }
        let mut identity = Sha256::new();
        identity.update(record.rule.as_bytes());
        identity.update([0]);
        identity.update(record.secret_hex.as_deref().unwrap_or(&record.secret));
        if let Some(pair) = &record.pair {
            identity.update([0]);
            identity.update(pair.rule.as_bytes());
            identity.update([0]);
            identity.update(pair.secret.as_bytes());
        }
        record.identity = Some(
            identity.finalize()[..16]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        );
        if let Some(secrets) = &self.secrets {
            let mut context = String::with_capacity(record.context.len());
            secrets.replace_all_with(&record.context, &mut context, |_, found, out| {
                out.push_str(&mask(found.as_bytes()));
                true
            });
            record.context = context;
        }
        record.secret = mask(record.secret.as_bytes());
        record.secret_hex = None;
        if let Some(pair) = &mut record.pair {
            pair.secret = mask(pair.secret.as_bytes());
        }
        record.redacted = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::PairRecord;

    fn record(secret: &str, context: &str, pair: Option<&str>) -> FindingRecord {
        FindingRecord {
            image: "disk.img".into(),
            rule: "aws.access-key-id".into(),
            rule_name: "AWS access key ID".into(),
            confidence: "high".into(),
            fingerprint: "f".into(),
            secret: secret.into(),
            secret_hex: None,
            offset: 0,
            length: 20,
            encoding: None,
            context: context.into(),
            location: None,
            checks: Vec::new(),
            facts: Default::default(),
            valid: true,
            rejected: None,
            pair: pair.map(|s| PairRecord {
                rule: "aws.secret-access-key".into(),
                secret: s.into(),
                offset: 30,
                checks: Vec::new(),
            }),
            redacted: false,
            identity: None,
        }
    }

    #[test]
    fn every_secret_of_the_report_is_masked_in_every_context() {
        let id = "AKIAQ2W3E4R5T6Y7U2I3";
        let key = "wJalrXUtnFEMIK7MDENGbPxRfiCYzq8a3kT0pLmN";
        let other = "LTAI5tQ2w3E4r5T6y7U8";
        let mut records = vec![
            record(id, &format!("ID={id} KEY={key} and {other}"), Some(key)),
            record(
                other,
                &format!("x {other}; A.K.I.A.Q.2.W.3.E.4.R.5.T.6.Y.7.U.2.I.3."),
                None,
            ),
        ];
        let redactor = Redactor::new(&records);
        for r in &mut records {
            redactor.redact(r);
        }
        let text = serde_json::to_string(&records).unwrap();
        for secret in [id, key, other] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(!text.contains("Q.2.W.3.E.4.R.5.T.6.Y.7"), "{text}");
        assert_eq!(records[0].secret, "AKIA************I3");
        assert_eq!(
            records[0].context,
            "ID=AKIA************I3 KEY=wJal************mN and LTAI************U8"
        );
        assert!(records.iter().all(|r| r.redacted));
        assert_ne!(records[0].identity, records[1].identity);
        // Redacting twice changes nothing.
        let once = records[0].clone();
        redactor.redact(&mut records[0]);
        assert_eq!(records[0], once);
    }
}
