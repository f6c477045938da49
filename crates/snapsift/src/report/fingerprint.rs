//! Stable fingerprints: one secret at one place keeps its fingerprint from scan to scan.
//!
//! The fingerprint is the SHA-256 of three things, as 32 hex digits: the rule's id, the
//! SHA-256 of the secret (so the fingerprint alone never reveals it), and the place, told in
//! terms that survive the disk being copied, converted to another image format or rescanned
//! after unrelated changes:
//! * in a file: the partition number, the path (or file number where no name survives) and
//!   the archive members down to the secret; not the offset, which moves when the file is
//!   edited above the secret or its blocks move;
//! * elsewhere (free space, slack, a disk without a filesystem snapsift maps): the partition
//!   number and the offset in the partition (or on the disk).
//!
//! The image's own name is not part of it: a baseline made on one export of a disk applies
//! to the next. For a paired credential, the ID is the secret that counts.

use sha2::{Digest, Sha256};

use crate::printer::Located;

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
    let (partition, volume_start) = match r.location.volume {
        Located::Volume(v) => (
            v.number
                .map_or_else(|| "disk".to_owned(), |n| format!("p{n}")),
            v.range.start,
        ),
        Located::Unpartitioned => ("unpartitioned".to_owned(), 0),
        Located::Unknown => ("disk".to_owned(), 0),
    };
    if let Some(file) = &r.location.file
        && file.id.is_some()
    {
        let name = file
            .display_path()
            .unwrap_or_else(|| format!("{} {}", file.id_name, file.id.unwrap_or(0)));
        return format!("{partition}:{}:{name}", file.state.as_str());
    }
    let offset = r.finding.offset.saturating_sub(volume_start);
    format!("{partition}@{offset}")
}
