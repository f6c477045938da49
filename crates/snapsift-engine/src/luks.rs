//! LUKS volumes opened with the key the user holds ([`crate::scan::ScanOptions::luks_key`]): each is
//! scanned as an image of its own (its plaintext, [`LuksDisk`]), and what that scan finds
//! joins the image's, placed in the volume.
//!
//! A record of the plaintext keeps its filesystem's location (path, inode, state,
//! `volume_offset` in the plaintext) and gets the volume's: the scheme, the partition (its
//! number, type and name) and `volume` naming it (`partition 2 (luks2)`); its `offset` is
//! the disk offset of the ciphertext of its first byte (LUKS keeps sizes: plaintext byte `n`
//! is in the ciphertext sector at the payload's start plus `n`). Bytes of the plaintext its
//! scan could not read are unreadable at those disk offsets. A volume the key does not open
//! stays encrypted: noted, and its bytes unreadable as without a key.
//!
//! The plaintext's scan opens no LUKS volume inside it, and a sharded scan opens none (the
//! decrypted volume has no place in the shards' division of the disk): it says so.

use std::sync::Arc;

use snapsift_disk::Disk;
use snapsift_fs::{LuksDisk, Volume, VolumeMap};

use crate::coverage::UnreadableRange;
use crate::scan::{ImageScan, Level, Observer, Progress, Swept};

/// The contents of a key file: a passphrase or a volume key. Never shown.
pub struct LuksKey(Vec<u8>);

impl LuksKey {
    /// The key file's bytes.
    pub fn new(bytes: Vec<u8>) -> LuksKey {
        LuksKey(bytes)
    }
}

impl std::fmt::Debug for LuksKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LuksKey(..)")
    }
}

/// An opened volume: its index in the volume map, its name, where its plaintext lies and
/// the plaintext (taken when it is scanned).
pub(crate) struct Opened {
    pub(crate) index: usize,
    pub(crate) label: String,
    pub(crate) base: u64,
    pub(crate) size: u64,
    pub(crate) disk: Option<LuksDisk>,
}

/// The observer of a plaintext's scan: its messages name the volume, its progress is not
/// the image's.
pub(crate) struct Within<'a> {
    pub(crate) outer: &'a dyn Observer,
    pub(crate) image: &'a str,
    pub(crate) label: &'a str,
}

impl Observer for Within<'_> {
    fn message(&self, level: Level, text: &str) {
        let prefix = format!("{}: ", self.image);
        let rest = text.strip_prefix(&prefix).unwrap_or(text);
        self.outer
            .message(level, &format!("{}{}: {rest}", prefix, self.label));
    }

    fn progress(&self, _: Progress) {}
}

/// Opens the LUKS volumes of `map` with `key`; tells what it opened and what it could not.
pub(crate) fn open_all(
    image: &str,
    disk: &Arc<dyn Disk>,
    map: &VolumeMap,
    key: &LuksKey,
    observer: &dyn Observer,
    label: impl Fn(&Volume) -> String,
) -> Vec<Opened> {
    let mut opened = Vec::new();
    for (index, volume) in map.volumes.iter().enumerate() {
        if !matches!(volume.content.encryption(), Some("LUKS1" | "LUKS2")) {
            continue;
        }
        let name = label(volume);
        if volume.logical.is_some() {
            observer.message(
                Level::Warning,
                &format!("{image}: {name}: a LUKS volume inside a logical volume is not opened"),
            );
            continue;
        }
        match snapsift_fs::volume::luks::open(Arc::clone(disk), volume.range.clone(), &key.0) {
            Ok(plain) => {
                observer.message(
                    Level::Info,
                    &format!(
                        "{image}: {name}: opened with the key file ({}): its plaintext is \
                         scanned",
                        plain.opened_by()
                    ),
                );
                opened.push(Opened {
                    index,
                    label: name,
                    base: plain.payload_start(),
                    size: plain.size(),
                    disk: Some(plain),
                });
            }
            Err(error) => observer.message(
                Level::Warning,
                &format!("{image}: {name}: {error}; it stays encrypted, its bytes unreadable"),
            ),
        }
    }
    opened
}

/// Joins the scan of the plaintext of `opened` (a volume of `map`) into `outer`.
pub(crate) fn merge(
    outer: &mut ImageScan,
    inner: ImageScan,
    opened: &Opened,
    map: &VolumeMap,
    observer: &dyn Observer,
    image: &str,
) {
    let Some(volume) = map.volumes.get(opened.index) else {
        return;
    };
    let base = opened.base;
    for mut record in inner.records {
        record.offset = record.offset.saturating_add(base);
        if let Some(pair) = &mut record.pair {
            pair.offset = pair.offset.saturating_add(base);
        }
        if let Some(location) = &mut record.location {
            location.scheme = map.scheme;
            location.partition = volume.number;
            location.partition_type = volume.partition_type.clone();
            location.partition_name = volume.name.clone();
            // A volume inside the plaintext (an LVM2 logical volume, as Ubuntu's encrypted
            // install puts the root in) is named after the LUKS volume.
            location.volume = Some(match location.volume.take() {
                Some(inner) => format!("{}: {inner}", opened.label),
                None => opened.label.clone(),
            });
        }
        outer.records.push(record);
    }
    outer.records.sort_by_key(|r| r.offset);
    outer.baseline.extend(inner.baseline);
    outer.baseline.sort();
    outer.stats.rejected = outer.stats.rejected.saturating_add(inner.stats.rejected);
    outer.stats.paired = outer.stats.paired.saturating_add(inner.stats.paired);
    outer.stats.suppressed = outer
        .stats
        .suppressed
        .saturating_add(inner.stats.suppressed);
    let Ok(Swept {
        coverage,
        summary: outer_summary,
    }) = &mut outer.sweep
    else {
        return;
    };
    match inner.sweep {
        Ok(Swept {
            summary,
            coverage: inner_coverage,
        }) => {
            outer_summary.findings = outer_summary.findings.saturating_add(summary.findings);
            coverage.findings = coverage.findings.saturating_add(summary.findings);
            let unreadable = inner_coverage
                .unreadable
                .into_iter()
                .map(|u| UnreadableRange {
                    start: u.start.saturating_add(base),
                    end: u.end.saturating_add(base),
                    reason: format!("{} (decrypted {})", u.reason, opened.label),
                })
                .collect();
            coverage.file_problems.extend(inner_coverage.file_problems);
            coverage.notes.extend(
                inner_coverage
                    .notes
                    .into_iter()
                    .map(|n| format!("{}: {n}", opened.label)),
            );
            coverage.add_unreadable(unreadable);
        }
        Err(error) => {
            observer.message(
                Level::Warning,
                &format!(
                    "{image}: {}: its plaintext could not be swept: {error}",
                    opened.label
                ),
            );
            let end = base.saturating_add(opened.size);
            coverage.add_unreadable(vec![UnreadableRange {
                start: base,
                end,
                reason: format!("decrypted {} not swept: {error}", opened.label),
            }]);
        }
    }
}
