//! From what the scan found to what is reported.
//!
//! The scan hands over every match with where it is. Before anything is printed, each is
//! assessed by its rule's offline checks (a match they reject is dropped unless
//! `--include-invalid`), the ID half of a credential is paired with its secret half found
//! nearby in the same file or run of free space ([`pair`]; rejected matches never pair),
//! every finding gets a stable fingerprint ([`fingerprint`]), and findings a baseline already
//! lists are suppressed ([`fingerprint::Baseline`]). What a rejected match may change is only whether it
//! is reported itself: the valid findings are the same with or without `--include-invalid`.

pub mod fingerprint;
pub mod pair;

use std::collections::{HashMap, HashSet};

use snapsift_match::{Assessment, Confidence, Rule};
use snapsift_scan::Finding;

use crate::place::Location;

/// One finding as reported: what it is, where, how sure, and what it pairs with.
#[derive(Debug)]
pub struct Reported<'a, 'm> {
    /// The image's path, as given.
    pub image: &'a str,
    /// Where it is.
    pub location: Location<'a>,
    /// What was found.
    pub finding: Finding<'m>,
    /// What its rule's checks say of it.
    pub assessment: Assessment,
    /// The secret half of a credential whose ID this finding is.
    pub pair: Option<Paired<'m>>,
    /// A stable identifier of this secret at this place (see [`fingerprint`]).
    pub fingerprint: String,
}

/// The secret half of a credential, reported with its ID.
#[derive(Clone, Debug)]
pub struct Paired<'m> {
    /// The rule that found it.
    pub rule: &'m Rule,
    /// The secret, as text.
    pub secret: Vec<u8>,
    /// Offset of its first byte on the disk (for a secret in decoded bytes, where the file's
    /// bytes begin, as for any finding there).
    pub offset: u64,
    /// What its rule's checks say of it.
    pub assessment: Assessment,
}

impl Reported<'_, '_> {
    /// The secrets it shows in full, as text: its own and its pair's.
    pub fn secrets(&self) -> impl Iterator<Item = &[u8]> {
        let pair = self.pair.as_ref().map(|p| p.secret.as_slice());
        std::iter::once(self.finding.secret_text()).chain(pair)
    }

    /// How sure the report is: a credential found with both halves is certain enough to act on.
    pub fn confidence(&self) -> Confidence {
        match &self.pair {
            Some(_) => Confidence::High,
            None => self.assessment.confidence,
        }
    }
}

/// What to do with the findings of one image before they are printed.
#[derive(Debug, Default)]
pub struct ReportOptions {
    /// Keep the matches a check rejected (marked invalid).
    pub include_invalid: bool,
    /// Fingerprints to suppress.
    pub baseline: Option<fingerprint::Baseline>,
}

/// What [`prepare`] did, for the summary line.
#[derive(Debug, Default, Clone, Copy)]
pub struct PrepareStats {
    /// Matches turned away by a check (and not kept).
    pub rejected: u64,
    /// Secret halves folded into their ID's finding.
    pub paired: u64,
    /// Findings the baseline suppressed.
    pub suppressed: u64,
}

impl PrepareStats {
    /// `, 2 rejected by checks, 1 pair, 3 in the baseline` (only the parts that are not zero).
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.rejected > 0 {
            parts.push(format!("{} rejected by checks", self.rejected));
        }
        if self.paired > 0 {
            parts.push(format!("{} paired with their IDs", self.paired));
        }
        if self.suppressed > 0 {
            parts.push(format!("{} in the baseline", self.suppressed));
        }
        parts.iter().map(|p| format!(", {p}")).collect()
    }
}

/// Keeps one finding where several rules report the same secret bytes (`password=ghp_...` is
/// a GitHub token, not also a password): a valid one over a rejected one, then the highest
/// confidence, then the rule listed first in the pack.
fn one_per_secret<'a, 'm>(found: Vec<Reported<'a, 'm>>, rules: &[Rule]) -> Vec<Reported<'a, 'm>> {
    let order: HashMap<&str, usize> = rules
        .iter()
        .enumerate()
        .map(|(i, rule)| (rule.id.as_str(), i))
        .collect();
    let mut best: HashMap<(Option<pair::Stream>, u64, usize), usize> = HashMap::new();
    let rank = |r: &Reported<'_, '_>| {
        (
            r.assessment.is_valid(),
            r.assessment.confidence,
            std::cmp::Reverse(order.get(r.finding.rule.id.as_str()).copied()),
        )
    };
    for (i, r) in found.iter().enumerate() {
        // The same bytes: on the disk, at one offset whatever file a rule's finding names
        // (the file pass names the member of a tar, the sweep only the tar); decoded, at one
        // position of one decoded stream.
        let (stream, at) = pair::position(&r.location, r);
        let decoded = r
            .location
            .file
            .as_ref()
            .is_some_and(|f| f.decoded_offset.is_some());
        let key = (decoded.then_some(stream), at, r.finding.secret.len());
        match best.get(&key) {
            Some(&j) if rank(&found[j]) >= rank(r) => {}
            _ => {
                best.insert(key, i);
            }
        }
    }
    let keep: HashSet<usize> = best.into_values().collect();
    found
        .into_iter()
        .enumerate()
        .filter_map(|(i, r)| keep.contains(&i).then_some(r))
        .collect()
}

/// The findings of one image, ready to print.
#[derive(Debug, Default)]
pub struct Prepared<'a, 'm> {
    /// What is reported, in disk order.
    pub reported: Vec<Reported<'a, 'm>>,
    /// What the baseline suppressed: not reported, but their secrets may show in a reported
    /// finding's context, where `--redact` masks them.
    pub suppressed: Vec<Reported<'a, 'm>>,
    /// What was done, for the summary line.
    pub stats: PrepareStats,
}

/// Assesses, pairs, fingerprints and filters the findings of one image, in disk order;
/// `rules` are the matcher's, in order.
pub fn prepare<'a, 'm>(
    image: &'a str,
    found: Vec<(Location<'a>, Finding<'m>)>,
    rules: &[Rule],
    options: &ReportOptions,
) -> Prepared<'a, 'm> {
    let mut stats = PrepareStats::default();
    let mut assessed: Vec<Reported<'a, 'm>> = Vec::with_capacity(found.len());
    for (location, finding) in found {
        let assessment = finding.assess();
        if !assessment.is_valid() && !options.include_invalid {
            stats.rejected = stats.rejected.saturating_add(1);
            continue;
        }
        assessed.push(Reported {
            image,
            location,
            finding,
            assessment,
            pair: None,
            fingerprint: String::new(),
        });
    }
    let assessed = one_per_secret(assessed, rules);
    let before = assessed.len();
    let mut reported = pair::pair_up(assessed);
    stats.paired = u64::try_from(before.saturating_sub(reported.len())).unwrap_or(u64::MAX);
    for r in &mut reported {
        r.fingerprint = fingerprint::of(r);
    }
    let mut suppressed = Vec::new();
    if let Some(baseline) = &options.baseline {
        (suppressed, reported) = reported
            .into_iter()
            .partition(|r| baseline.contains(&r.fingerprint));
        stats.suppressed = u64::try_from(suppressed.len()).unwrap_or(u64::MAX);
    }
    Prepared {
        reported,
        suppressed,
        stats,
    }
}
