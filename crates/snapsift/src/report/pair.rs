//! Pairing the two halves of a credential: an ID (`LTAI...`, `AKIA...`) and its secret.
//!
//! A rule that finds IDs names, in its `[rule.pair]`, the rule that finds their secrets and
//! how close the two must be. Both halves are findings of their own; where an ID has a secret
//! of the named rule within that distance in the same byte stream ([`Stream`]), the two become
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

use crate::printer::{Layer, Located, Location};

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

/// Folds every pairable secret half into its ID's finding; the rest stay as they are.
/// Only valid findings pair (see the module docs).
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
        if r.assessment.is_valid() {
            by_rule
                .entry(r.finding.rule.id.as_str())
                .or_default()
                .push(i);
        }
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
