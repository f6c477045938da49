//! Pairing the two halves of a credential: an ID (`LTAI...`, `AKIA...`) and its secret.
//!
//! A rule that finds IDs names, in its `[rule.pair]`, the rule that finds their secrets and
//! how close the two must be. Both halves are findings of their own; where an ID has a secret
//! of the named rule within that distance in the same byte stream (`Stream`), the two become
//! one finding: the ID's, with the secret attached. Each secret pairs with at most one ID, the
//! nearest one still unpaired, IDs taken in order. A secret half no ID claims stays a finding
//! of its own, and so does an ID alone.
//!
//! A byte stream is what belongs together: one file's contents, one member of an archive, one
//! decoded stream; outside files, one run of bytes that no file boundary crosses (a stretch of
//! free space, a file's slack, the bytes between two partitions). Small files lie next to each
//! other on the disk, and an ID at the end of one is no credential with a secret at the start
//! of the next.
//!
//! Only valid halves pair: a match a check rejected (shown with `--include-invalid`) never
//! takes a secret from a valid ID, nor is given to one, so the valid findings are the same
//! with or without `--include-invalid`.

use std::collections::HashMap;

use snapsift_fs::FileState;
use snapsift_unpack::Layer;

use crate::place::{Located, Location};

use super::{Paired, Reported};

/// The byte stream a finding's position counts in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Stream {
    /// The bytes of one file, as the file's number tells it: its contents (`Allocated`,
    /// `Deleted`) or its structures (`Metadata`: a directory's blocks, a file's extent tree,
    /// its inode record), or, through `layers`, one archive member or decoded stream of it.
    File {
        /// The first disk byte of the file's volume.
        volume: u64,
        /// The file's number (inode, MFT record).
        id: u64,
        /// What its bytes are.
        state: FileState,
        /// The containers and decodings from the file to the stream, outermost first.
        layers: Vec<Layer>,
    },
    /// Bytes that are no file's contents (free space, slack, filesystem structures of no
    /// file, the bytes between partitions, a volume whose filesystem is not mapped), as far as
    /// the layout says the same of them: told by the first disk byte of that run.
    Run(u64),
    /// The whole image: its layout is not known (a compressed image stream).
    Image,
}

/// Which stream of bytes a finding's secret counts in, and its position there.
///
/// Secrets in a file's decoded bytes (an archive member of a compressed archive, a
/// decompressed file) are placed by their offset in that decoded stream; the others by their
/// bytes on the disk.
pub(super) fn position(location: &Location<'_>, r: &Reported<'_, '_>) -> (Stream, u64) {
    let at = match location.file.as_ref().and_then(|f| f.decoded_offset) {
        Some(decoded) => {
            let secret_start = u64::try_from(r.finding.secret.start).unwrap_or(u64::MAX);
            decoded.saturating_add(secret_start)
        }
        None => r.finding.secret_offset(),
    };
    (stream(location), at)
}

/// The stream `location` lies in (see [`Stream`]).
fn stream(location: &Location<'_>) -> Stream {
    let volume = match location.volume {
        Located::Volume(v) => v.range.start,
        Located::Unpartitioned | Located::Unknown => 0,
    };
    if let Some(file) = &location.file
        && let Some(id) = file.id
    {
        let in_the_file = matches!(
            file.state,
            FileState::Allocated | FileState::Deleted | FileState::Metadata
        );
        // Slack and the journal carry a file's number, but their bytes are what lay there
        // before: a run like free space. A file pass's findings (no run) are in the file.
        if in_the_file || !file.chain.is_empty() || location.run.is_none() {
            return Stream::File {
                volume,
                id,
                state: file.state,
                layers: file.chain.clone(),
            };
        }
    }
    match &location.run {
        Some(run) => Stream::Run(run.start),
        None => Stream::Image,
    }
}

/// The bytes between two spans (zero if they touch or overlap).
fn gap(a: (u64, u64), b: (u64, u64)) -> u64 {
    // At most one of the two differences is positive.
    b.0.saturating_sub(a.1).max(a.0.saturating_sub(b.1))
}

/// The valid findings of one rule in one stream, in order of their start there, and the
/// longest of their spans: where to look for an ID's secret half without reading them all.
#[derive(Default)]
struct Halves {
    /// Finding indices, by start.
    by_start: Vec<usize>,
    /// The longest span's length.
    longest: u64,
}

/// Folds every pairable secret half into its ID's finding; the rest stay as they are.
/// Only valid findings pair (see the module docs).
///
/// Each ID looks only at the secret halves that start within its rule's distance (plus the
/// longest half) of it: the cost grows with the findings, not with IDs times secrets.
pub fn pair_up<'a, 'm>(findings: Vec<Reported<'a, 'm>>) -> Vec<Reported<'a, 'm>> {
    let spans: Vec<_> = findings
        .iter()
        .map(|r| {
            let (stream, start) = position(&r.location, r);
            let len = u64::try_from(r.finding.secret.len()).unwrap_or(0);
            (stream, (start, start.saturating_add(len)))
        })
        .collect();
    let mut halves_of: HashMap<(&str, &Stream), Halves> = HashMap::new();
    for (i, r) in findings.iter().enumerate() {
        if r.assessment.is_valid() {
            let (stream, (start, end)) = &spans[i];
            let halves = halves_of
                .entry((r.finding.rule.id.as_str(), stream))
                .or_default();
            halves.by_start.push(i);
            halves.longest = halves.longest.max(end.saturating_sub(*start));
        }
    }
    for halves in halves_of.values_mut() {
        halves.by_start.sort_by_key(|&i| spans[i].1.0);
    }
    // partner[id] = the secret half paired with the ID finding `id`.
    let mut partner: Vec<Option<usize>> = vec![None; findings.len()];
    let mut taken = vec![false; findings.len()];
    for (id, r) in findings.iter().enumerate() {
        let Some(pairing) = &r.finding.rule.pair else {
            continue;
        };
        if !r.assessment.is_valid() {
            continue;
        }
        let (stream, (id_start, id_end)) = &spans[id];
        let Some(halves) = halves_of.get(&(pairing.secret.as_str(), stream)) else {
            continue;
        };
        // A half within reach starts no earlier than this, and no later than `last`.
        let first = id_start
            .saturating_sub(pairing.within)
            .saturating_sub(halves.longest);
        let last = id_end.saturating_add(pairing.within);
        let from = halves.by_start.partition_point(|&s| spans[s].1.0 < first);
        let nearest = halves.by_start[from..]
            .iter()
            .take_while(|&&s| spans[s].1.0 <= last)
            .filter(|&&s| s != id && !taken[s] && partner[s].is_none())
            .map(|&s| (gap(spans[id].1, spans[s].1), s))
            .filter(|&(distance, _)| distance <= pairing.within)
            .min();
        if let Some((_, s)) = nearest {
            taken[s] = true;
            partner[id] = Some(s);
        }
    }
    let mut halves: HashMap<usize, Paired<'m>> = partner
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use snapsift_match::{Assessment, Confidence, Encoding, Rejection, Rule, RuleSet};
    use snapsift_scan::{Context, Finding};

    use super::*;

    fn rule<'r>(rules: &'r RuleSet, id: &str) -> &'r Rule {
        rules.rules().iter().find(|r| r.id == id).unwrap()
    }

    /// A finding of `rule` at disk offset `offset`, in the run of free space that starts at
    /// `run`; `valid` or rejected by a check.
    fn found<'m>(rule: &'m Rule, offset: u64, run: u64, valid: bool) -> Reported<'static, 'm> {
        let secret = format!("{offset:030}");
        Reported {
            image: "disk.img",
            location: Location {
                volume: Located::Unknown,
                scheme: None,
                file: None,
                run: Some(run..run + (1 << 40)),
            },
            finding: Finding {
                rule,
                offset,
                encoding: Encoding::Utf8,
                text: secret.clone().into_bytes(),
                secret: 0..secret.len(),
                context: Context {
                    bytes: secret.clone().into_bytes(),
                    secret: 0..secret.len(),
                },
                truncated: false,
            },
            assessment: Assessment {
                confidence: Confidence::Medium,
                passed: Vec::new(),
                facts: Vec::new(),
                rejected: (!valid).then(|| Rejection {
                    check: "placeholder",
                    reason: "a documented example".to_owned(),
                }),
            },
            pair: None,
            fingerprint: String::new(),
        }
    }

    /// (offset, offset of its pair) of each finding left.
    fn pairs(reported: &[Reported<'_, '_>]) -> Vec<(u64, Option<u64>)> {
        reported
            .iter()
            .map(|r| (r.finding.offset, r.pair.as_ref().map(|p| p.offset)))
            .collect()
    }

    #[test]
    fn only_valid_halves_pair_and_only_in_their_run() {
        let rules = RuleSet::builtin().unwrap();
        let id = rule(&rules, "alibaba.access-key-id");
        let secret = rule(&rules, "alibaba.access-key-secret");
        let reported = pair_up(vec![
            // A rejected ID does not take the real secret after it.
            found(id, 0, 0, false),
            found(secret, 50, 0, true),
            // A real ID passes over the rejected secret nearer to it.
            found(id, 2000, 0, true),
            found(secret, 2040, 0, false),
            found(secret, 2100, 0, true),
            // The next run starts at 5000: the secret after it is no one's.
            found(id, 4960, 0, true),
            found(secret, 5000, 5000, true),
        ]);
        assert_eq!(
            pairs(&reported),
            [
                (0, None),
                (50, None),
                (2000, Some(2100)),
                (2040, None),
                (4960, None),
                (5000, None)
            ]
        );
    }

    #[test]
    fn many_halves_pair_in_time_linear_in_their_number() {
        let rules = RuleSet::builtin().unwrap();
        let id = rule(&rules, "alibaba.access-key-id");
        let secret = rule(&rules, "alibaba.access-key-secret");
        // All the IDs, then all the secrets: each ID once compared with every secret took
        // IDs times secrets steps (minutes here; days on a disk full of them).
        let n = 40_000u64;
        let mut findings: Vec<Reported<'_, '_>> =
            (0..n).map(|i| found(id, i * 100, 0, true)).collect();
        findings.extend((0..n).map(|i| found(secret, (n + i) * 100, 0, true)));
        let started = Instant::now();
        let reported = pair_up(findings);
        let took = started.elapsed();
        // The last 10 IDs end within 1024 bytes of the first 10 secrets: 10 pairs.
        assert_eq!(reported.len() as u64, 2 * n - 10);
        assert!(took < Duration::from_secs(2), "{took:?}");
    }
}
