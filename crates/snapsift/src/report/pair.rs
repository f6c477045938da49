//! Pairing the two halves of a credential: an ID (`LTAI...`, `AKIA...`) and its secret.
//!
//! A rule that finds IDs names, in its `[rule.pair]`, the rule that finds their secrets and
//! how close the two must be. Both halves are findings of their own; where an ID has a secret
//! of the named rule within that distance, in the same byte stream (the disk, or the decoded
//! bytes of one file), the two become one finding: the ID's, with the secret attached. Each
//! secret pairs with at most one ID, the nearest one still unpaired, IDs taken in order.
//! A secret half no ID claims stays a finding of its own, and so does an ID alone.

use std::collections::HashMap;

use crate::printer::Location;

use super::{Paired, Reported};

/// The byte stream a position counts in: the disk (`None`), or the decoded bytes of a file
/// (its number and its layer chain).
pub(super) type Stream = Option<(Option<u64>, String)>;

/// Which stream of bytes a finding's position counts in, and its position there.
///
/// Findings in a file's decoded bytes (an archive member, a decompressed file) count in that
/// file's layer chain; the others by their bytes on the disk.
pub(super) fn position(location: &Location<'_>, r: &Reported<'_, '_>) -> (Stream, u64) {
    let secret_start = u64::try_from(r.finding.secret.start).unwrap_or(u64::MAX);
    match &location.file {
        Some(file) if file.decoded_offset.is_some() => {
            let layers: Vec<String> = file
                .chain
                .iter()
                .map(|l| format!("{}:{}", l.kind, l.member.as_deref().unwrap_or("")))
                .collect();
            let stream = (file.id, layers.join("/"));
            let at = file
                .decoded_offset
                .unwrap_or(0)
                .saturating_add(secret_start);
            (Some(stream), at)
        }
        _ => (None, r.finding.secret_offset()),
    }
}

/// The bytes between two spans (zero if they touch or overlap).
fn gap(a: (u64, u64), b: (u64, u64)) -> u64 {
    // At most one of the two differences is positive.
    b.0.saturating_sub(a.1).max(a.0.saturating_sub(b.1))
}

/// Folds every pairable secret half into its ID's finding; the rest stay as they are.
pub fn pair_up<'a, 'm>(findings: Vec<Reported<'a, 'm>>) -> Vec<Reported<'a, 'm>> {
    let spans: Vec<_> = findings
        .iter()
        .map(|r| {
            let (stream, start) = position(&r.location, r);
            let len = u64::try_from(r.finding.secret.len()).unwrap_or(0);
            (stream, (start, start.saturating_add(len)))
        })
        .collect();
    let mut by_rule: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, r) in findings.iter().enumerate() {
        by_rule
            .entry(r.finding.rule.id.as_str())
            .or_default()
            .push(i);
    }
    // partner[id] = the secret half paired with the ID finding `id`.
    let mut partner: Vec<Option<usize>> = vec![None; findings.len()];
    let mut taken = vec![false; findings.len()];
    for (id, r) in findings.iter().enumerate() {
        let Some(pairing) = &r.finding.rule.pair else {
            continue;
        };
        let Some(secrets) = by_rule.get(pairing.secret.as_str()) else {
            continue;
        };
        let nearest = secrets
            .iter()
            .filter(|&&s| s != id && !taken[s] && partner[s].is_none() && spans[s].0 == spans[id].0)
            .map(|&s| (gap(spans[id].1, spans[s].1), s))
            .filter(|&(distance, _)| distance <= pairing.within)
            .min();
        if let Some((_, s)) = nearest {
            taken[s] = true;
            partner[id] = Some(s);
        }
    }
    let halves: HashMap<usize, Paired<'m>> = partner
        .iter()
        .flatten()
        .map(|&s| {
            let r = &findings[s];
            let half = Paired {
                rule: r.finding.rule,
                secret: r.finding.secret_text().to_vec(),
                offset: r.finding.secret_offset(),
                assessment: r.assessment.clone(),
            };
            (s, half)
        })
        .collect();
    let mut halves = halves;
    findings
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !taken[*i])
        .map(|(i, mut r)| {
            r.pair = partner[i].and_then(|s| halves.remove(&s));
            r
        })
        .collect()
}
