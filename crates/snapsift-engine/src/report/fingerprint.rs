//! Stable fingerprints: one secret at one place keeps its fingerprint from scan to scan.
//!
//! The fingerprint is the SHA-256 of three things, as 32 hex digits: the rule's id, the
//! SHA-256 of the secret (so the fingerprint alone never reveals it), and the place, told in
//! terms that survive the disk being copied, converted to another image format or rescanned
//! after unrelated changes:
//! * in a file: the partition number (an LVM2 logical volume's `vg/lv`), the path (or file
//!   number where no name survives) and the archive members down to the secret; not the
//!   offset, which moves when the file is edited above the secret or its blocks move;
//! * elsewhere (free space, slack, a disk without a filesystem snapsift maps): the partition
//!   number (or `vg/lv`) and the offset in the partition (logical volume, or disk).
//!
//! The image's own name is not part of it: a baseline made on one export of a disk applies
//! to the next. For a paired credential, the ID is the secret that counts.

use std::collections::HashSet;

use sha2::{Digest, Sha256};

use crate::place::Located;

use super::Reported;

/// The fingerprint of `r`.
pub fn of(r: &Reported<'_, '_>) -> String {
    let secret_hash = Sha256::digest(r.finding.secret_text());
    let mut hasher = Sha256::new();
    hasher.update(r.finding.rule.id.as_bytes());
    hasher.update([0]);
    hasher.update(secret_hash);
    hasher.update([0]);
    hasher.update(place(r).as_bytes());
    hasher.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The place part of the fingerprint (see the module docs).
pub fn place(r: &Reported<'_, '_>) -> String {
    let (partition, offset) = match r.location.volume {
        Located::Volume(v) => (
            match (&v.logical, v.number) {
                (Some(logical), _) => format!("lv:{}", logical.name),
                (None, Some(n)) => format!("p{n}"),
                (None, None) => "disk".to_owned(),
            },
            v.offset_of(r.finding.offset),
        ),
        Located::Unpartitioned | Located::Unknown => {
            let name = match r.location.volume {
                Located::Unpartitioned => "unpartitioned",
                _ => "disk",
            };
            (name.to_owned(), r.finding.offset)
        }
    };
    if let Some(file) = &r.location.file
        && file.id.is_some()
    {
        let name = file
            .display_path()
            .unwrap_or_else(|| format!("{} {}", file.id_name, file.id.unwrap_or(0)));
        return format!("{partition}:{}:{name}", file.state.as_str());
    }
    format!("{partition}@{offset}")
}

/// The fingerprints of the findings a team has already dealt with (a baseline file's): the
/// findings that have one are suppressed.
#[derive(Debug, Default)]
pub struct Baseline {
    fingerprints: HashSet<String>,
}

impl Baseline {
    /// The baseline of `fingerprints`.
    pub fn new(fingerprints: impl IntoIterator<Item = String>) -> Baseline {
        Baseline {
            fingerprints: fingerprints.into_iter().collect(),
        }
    }

    /// Whether the baseline lists `fingerprint`.
    pub fn contains(&self, fingerprint: &str) -> bool {
        self.fingerprints.contains(fingerprint)
    }
}
