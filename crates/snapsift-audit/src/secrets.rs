//! The "hard-coded credentials" item: the secret scan's findings (the binary runs the scan
//! with `snapsift-engine`, as `snapsift scan` does), each as evidence: its rule, place and
//! fingerprint; its value only when asked for.

use snapsift_engine::record::FindingRecord;

use crate::check::{CheckSet, Kind};
use crate::report::{Evidence, Item};

/// Fills the item of each `secrets` check of `checks` in `items` (as [`crate::audit`] made
/// them) with `records`, the secret scan's findings (redacted already if the report is to
/// be); `show_secrets` puts each secret in its evidence. `scan_gap` says what the scan did
/// not search, if anything (it stopped, bytes could not be read, a limit cut files): a
/// warning at least.
pub fn fill(
    items: &mut [Item],
    checks: &CheckSet,
    records: &[FindingRecord],
    scan_gap: Option<&str>,
    show_secrets: bool,
) {
    for (check, item) in checks.checks.iter().zip(items.iter_mut()) {
        if check.kind != Kind::Secrets {
            continue;
        }
        for record in records {
            let place = match (&record.location, record.display_path()) {
                (_, Some(path)) => Some(path),
                (Some(location), None) => location.state.map(|s| s.as_str().to_owned()),
                (None, None) => None,
            };
            let detail = format!(
                "{}{} at disk offset {}, fingerprint {}",
                record.rule_name,
                if record.valid {
                    ""
                } else {
                    " (rejected by its check)"
                },
                record.offset,
                record.fingerprint,
            );
            item.add(
                check.status,
                Evidence {
                    volume: record.location.as_ref().and_then(volume_name),
                    path: place,
                    offset: Some(record.offset),
                    detail,
                    rule: Some(record.rule.clone()),
                    secret: show_secrets.then(|| record.secret.clone()),
                    ..Evidence::default()
                },
            );
        }
        if let Some(gap) = scan_gap {
            item.add(
                crate::check::Status::Warn,
                Evidence {
                    detail: gap.to_owned(),
                    ..Evidence::default()
                },
            );
        }
    }
}

/// `partition 1 (ext4)` or `volume vg/root (ext4)`, as the audit's other evidence names it.
fn volume_name(location: &snapsift_engine::record::LocationRecord) -> Option<String> {
    let content = location.filesystem.as_deref().unwrap_or("unknown");
    match (&location.volume, location.partition) {
        (Some(volume), _) => Some(format!("volume {volume} ({content})")),
        (None, Some(n)) => Some(format!("partition {n} ({content})")),
        (None, None) => location
            .filesystem
            .as_ref()
            .map(|_| format!("the disk ({content})")),
    }
}
