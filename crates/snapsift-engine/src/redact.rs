//! Redaction (`--redact`): no full secret anywhere in the report.
//!
//! A finding's own secret is not the only one its record could show: its context line may
//! hold the secret half it was paired with (`AWS_ACCESS_KEY_ID=AKIA… AWS_SECRET_ACCESS_KEY=…`
//! on one shell line), another finding's secret, a secret the baseline suppressed or, in a
//! shard, one a neighbouring shard reports; and a file or archive member may be named after a
//! token. So the [`Redactor`] masks, in every string of a record that comes from the image
//! (the context, the path, the archive members, the partition's name and type, the checks'
//! facts and reasons):
//! * every secret it is told of, as written and as UTF-16 text reads in a context
//!   (`A.K.I.A.…`): `snapsift scan` tells it every secret the image's scan found in full, the
//!   reported ones, those the baseline suppressed and, in a shard, those its margins found
//!   that another shard reports; `snapsift merge` those of every record it merges;
//! * every secret the rules find in the string itself (checks or not; also with each `.`,
//!   which a context shows for a control character, read as a space): a token in a file
//!   name, a secret in a context that no record reports (in a merged shard report whose
//!   scan's baseline suppressed it).
//!
//! Then it masks the secret fields themselves. It over-masks rather than under-masks: a short
//! secret's text is masked wherever it appears, secret or not.
//!
//! A context is a window of the disk: a secret cut by its edge shows the part inside, which
//! no pattern of the whole secret matches. That part is at most the window's margin and
//! never a whole secret.

use std::ops::Range;

use aho_corasick::{AhoCorasick, MatchKind};
use sha2::{Digest, Sha256};
use snapsift_match::{Match, Matcher, Scratch};

use crate::record::FindingRecord;
use crate::shown::{mask, printable};

/// Masks the secrets of a set of records.
pub struct Redactor<'m> {
    /// Every secret it was told of, in the forms a context shows it in; `None` when there
    /// are none.
    secrets: Option<AhoCorasick>,
    /// The rules, to find the secrets a string shows that no finding told of.
    matcher: &'m Matcher,
    scratch: Scratch,
    matches: Vec<Match>,
}

impl<'m> Redactor<'m> {
    /// A redactor that knows `secrets` (as the records of findings hold them: see
    /// [`secrets_of`]) and finds others with `matcher`'s rules.
    pub fn new<'s>(
        matcher: &'m Matcher,
        secrets: impl IntoIterator<Item = &'s [u8]>,
    ) -> Redactor<'m> {
        let mut patterns: Vec<String> = Vec::new();
        for secret in secrets {
            let shown = printable(secret);
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
        patterns.sort_unstable();
        patterns.dedup();
        let secrets = (!patterns.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&patterns)
                // Patterns are short strings, far below any size limit of the automaton.
                .expect("an automaton of the report's secrets")
        });
        Redactor {
            secrets,
            matcher,
            scratch: matcher.scratch(),
            matches: Vec::new(),
        }
    }

    /// Masks `record`'s secret, its pair's, and every secret in the strings it holds from
    /// the image (see the module docs).
    pub fn redact(&mut self, record: &mut FindingRecord) {
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
        self.mask_in_place(&mut record.context);
        if let Some(location) = &mut record.location {
            let names = [
                &mut location.partition_type,
                &mut location.partition_name,
                &mut location.volume,
                &mut location.path,
            ];
            for name in names.into_iter().flatten() {
                self.mask_in_place(name);
            }
            for layer in &mut location.container {
                if let Some(member) = &mut layer.member {
                    self.mask_in_place(member);
                }
            }
        }
        for value in record.facts.values_mut() {
            self.mask_in_place(value);
        }
        if let Some(rejected) = &mut record.rejected {
            self.mask_in_place(&mut rejected.reason);
        }
        record.secret = mask(record.secret.as_bytes());
        record.secret_hex = None;
        if let Some(pair) = &mut record.pair {
            pair.secret = mask(pair.secret.as_bytes());
        }
        record.redacted = true;
    }

    /// `text` with every secret it shows masked: those the redactor knows, then those the
    /// rules find in it.
    pub fn masked(&mut self, text: &str) -> String {
        let known = match &self.secrets {
            Some(secrets) => {
                let mut out = String::with_capacity(text.len());
                secrets.replace_all_with(text, &mut out, |_, found, out| {
                    out.push_str(&mask(found.as_bytes()));
                    true
                });
                out
            }
            None => text.to_owned(),
        };
        self.mask_matches(known)
    }

    /// Replaces `text` by [`Redactor::masked`]'s `text`.
    fn mask_in_place(&mut self, text: &mut String) {
        if !text.is_empty() {
            *text = self.masked(text);
        }
    }

    /// `text` with the secret of every match of the rules in it masked: in it as shown, and
    /// with each `.` read as a space (a context shows a control character such as a tab as
    /// `.`, which the rules' separators do not match).
    fn mask_matches(&mut self, text: String) -> String {
        self.matches.clear();
        self.matcher.find_in(
            text.as_bytes(),
            0..text.len(),
            &mut self.scratch,
            &mut self.matches,
        );
        if text.contains('.') {
            // One byte for one: the matches' offsets are the text's.
            let spaced = text.replace('.', " ");
            self.matcher.find_in(
                spaced.as_bytes(),
                0..spaced.len(),
                &mut self.scratch,
                &mut self.matches,
            );
        }
        let mut spans: Vec<Range<usize>> = self
            .matches
            .iter()
            .map(|m| char_floor(&text, m.secret_start)..char_ceil(&text, m.secret_end))
            .filter(|span| !span.is_empty())
            .collect();
        if spans.is_empty() {
            return text;
        }
        spans.sort_by_key(|span| (span.start, span.end));
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for span in spans {
            // Overlapping secrets: the part not masked yet.
            let start = span.start.max(at);
            if start >= span.end {
                continue;
            }
            out.push_str(&text[at..start]);
            out.push_str(&mask(&text.as_bytes()[start..span.end]));
            at = span.end;
        }
        out.push_str(&text[at..]);
        out
    }
}

/// The secrets `record` shows in full: its own and its pair's; none once it is redacted.
pub fn secrets_of(record: &FindingRecord) -> impl Iterator<Item = &[u8]> {
    let pair = record.pair.as_ref().map(|p| p.secret.as_bytes());
    std::iter::once(record.secret.as_bytes())
        .chain(pair)
        .filter(|_| !record.redacted)
}

/// The start of the character of `text` that byte `at` is in.
fn char_floor(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The end of the character of `text` that byte `at` is in (`at` itself on a boundary).
fn char_ceil(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use snapsift_match::RuleSet;

    use super::*;
    use crate::Layer;
    use crate::record::{LocationRecord, PairRecord};
    use snapsift_match::{Confidence, Encoding};

    fn matcher() -> Matcher {
        Matcher::new(&RuleSet::builtin().unwrap()).unwrap()
    }

    fn record(secret: &str, context: &str, pair: Option<&str>) -> FindingRecord {
        FindingRecord {
            image: "disk.img".into(),
            rule: "aws.access-key-id".into(),
            rule_name: "AWS access key ID".into(),
            confidence: Confidence::High,
            fingerprint: "f".into(),
            secret: secret.into(),
            secret_hex: None,
            offset: 0,
            length: 20,
            encoding: Encoding::Utf8,
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
        let matcher = matcher();
        let mut redactor = Redactor::new(&matcher, records.iter().flat_map(secrets_of));
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

    #[test]
    fn secrets_it_is_told_of_and_secrets_the_rules_find_are_masked_in_every_name() {
        // Known only from a finding the report does not print (a baseline's).
        let suppressed = "Zq8hunter2hunter2Xy";
        // In no finding: the rules find it in the name itself.
        let token = "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";
        let id = "AKIAQ2W3E4R5T6Y7U2I3";
        let mut r = record(id, &format!("k={id} old={suppressed}"), None);
        r.location = Some(LocationRecord {
            path: Some(format!("/home/u/{token}.txt")),
            partition_name: Some(format!("p-{suppressed}")),
            container: vec![Layer {
                kind: crate::LayerKind::Tar,
                member: Some(format!("keys/{suppressed}/{token}")),
            }],
            ..LocationRecord::default()
        });
        r.facts.insert("user".into(), suppressed.into());
        let matcher = matcher();
        let mut redactor = Redactor::new(&matcher, secrets_of(&r).chain([suppressed.as_bytes()]));
        redactor.redact(&mut r);
        let text = serde_json::to_string(&r).unwrap();
        for part in [&id[4..], &suppressed[4..], &token[4..]] {
            assert!(!text.contains(part), "{part} in {text}");
        }
        assert_eq!(r.context, "k=AKIA************I3 old=Zq8h************Xy");
        assert_eq!(
            r.display_path().unwrap(),
            "/home/u/ghp_************xW.txt!/keys/Zq8h************Xy/ghp_************xW"
        );
        // Told of no secret, it still masks the token the rules find, and only that.
        let mut r = record(id, "x", None);
        r.location = Some(LocationRecord {
            path: Some(format!("/{suppressed}/{token}")),
            ..LocationRecord::default()
        });
        let mut redactor = Redactor::new(&matcher, secrets_of(&r));
        redactor.redact(&mut r);
        assert_eq!(
            r.location.unwrap().path.unwrap(),
            format!("/{suppressed}/ghp_************xW")
        );
    }

    #[test]
    fn a_control_a_context_shows_as_a_dot_does_not_hide_a_secret_from_the_rules() {
        // `aws_secret_access_key =<TAB>…`: the tab shows as `.`, which the rule's separators
        // do not match; read as a space, it does.
        let key = "wJalrXUtnFEMIK7MDENGbPxRfiCYzq8a3kT0pLmN";
        let mut r = record("AKIAQ2W3E4R5T6Y7U2I3", "", None);
        r.context = format!("aws_secret_access_key =.{key} at db-1.internal");
        let matcher = matcher();
        let mut redactor = Redactor::new(&matcher, std::iter::empty());
        redactor.redact(&mut r);
        assert_eq!(
            r.context,
            "aws_secret_access_key =.wJal************mN at db-1.internal"
        );
    }
}
