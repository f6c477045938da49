//! A finding as the printers see it: everything said of it, owned, in the JSON Lines schema.
//!
//! The scan reports a finding as a [`Reported`] that borrows from the matcher's rules and the
//! image's filesystem maps. Before it is printed it becomes a [`FindingRecord`]: plain data,
//! exactly the object `--format jsonl` prints on a line. Every printer works from records, so
//! `snapsift merge`, which reads records back from JSON Lines files, prints what `snapsift
//! scan` would have printed, in any format.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use snapsift_fs::Scheme;
use snapsift_match::{Confidence, Encoding};

use crate::printer::shown::Shown;
use crate::printer::{Located, Location, path_with_members};
use crate::report::Reported;

/// One finding. Fields, as JSON Lines names them:
///
/// `image`, `rule`, `rule_name`, `confidence` (the rule's, raised by a validating check or a
/// pair), `fingerprint` (stable, see `report::fingerprint`), `secret`, `offset`, `length`,
/// `encoding` (`utf-16le` for a match written as UTF-16LE on the disk), `context`,
/// `location` (see [`LocationRecord`]), `checks` (the offline checks passed), `facts` (what
/// they learned, such as `aws_account_id`), `valid` (`false` only with `--include-invalid`,
/// then `rejected` says by which check and why), `pair` (for an ID, its secret half: `rule`,
/// `secret`, `offset`, `checks`), `secret_hex` when the secret is not valid UTF-8 (then
/// `secret` is a lossy rendering) and not redacted, and `redacted: true` when secrets are
/// masked (`--redact`: in the secret fields, and wherever the strings from the image show one,
/// see `crate::redact`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FindingRecord {
    /// The image's path, as given.
    pub image: String,
    /// The rule's id.
    pub rule: String,
    /// The rule's name, for people.
    pub rule_name: String,
    /// `high`, `medium` or `low`.
    pub confidence: String,
    /// The stable fingerprint of this secret at this place.
    pub fingerprint: String,
    /// The secret (masked when `redacted`; lossy where it is not UTF-8).
    pub secret: String,
    /// The secret's bytes in hex, when they are not valid UTF-8 (never when redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_hex: Option<String>,
    /// Offset of the match's first byte on the disk.
    pub offset: u64,
    /// The match's length on the disk.
    pub length: u64,
    /// How the match is written on the disk, where it is not UTF-8 (`utf-16le`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// The line the secret is on, printable (controls as `.`).
    pub context: String,
    /// Where it is; `null` in a compressed image stream.
    pub location: Option<LocationRecord>,
    /// The checks the secret passed.
    pub checks: Vec<String>,
    /// What the checks learned, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub facts: BTreeMap<String, String>,
    /// `false` for a match a check rejected (shown only with `--include-invalid`).
    pub valid: bool,
    /// Why a check rejected the match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<RejectionRecord>,
    /// The secret half of a credential whose ID this is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<PairRecord>,
    /// Whether the secrets of this record are masked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
    /// What the secret was before it was masked, as a digest: tells two masked secrets apart
    /// (text groups places by secret). Never printed.
    #[serde(skip)]
    pub identity: Option<String>,
}

/// Where a finding is.
///
/// Volume level: `scheme` is `gpt`, `mbr`, `none` (a filesystem fills the disk) or `unknown`
/// (raw sweep only); `partition` is the partition number as Linux numbers it, `null` outside
/// partitions, on disks without a table and in LVM2 logical volumes, which `volume` names
/// (`vg/lv`); `volume_offset` is the offset from the start of the partition (logical volume,
/// or disk). File level, where the filesystem is mapped (ext2/3/4,
/// NTFS): `state` (`allocated`, `slack`, `deleted`, `unallocated`, `metadata`, `journal`;
/// `unpartitioned` outside every partition), `path`, `inode` or `mft_record`, and for secrets
/// found inside a file's decoded contents `container` (the layers from the file to the
/// secret, outermost first, each `{"kind", "member"}`), `encoding` (`utf-16le`/`utf-16be`
/// when the secret was decoded from UTF-16), `decoded_offset` (its offset in the decoded
/// bytes) or `file_offset` (for a secret the file pass found in the file's own bytes: across
/// two pieces of a fragmented file, in an NTFS-compressed file).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationRecord {
    /// The partition scheme.
    pub scheme: String,
    /// The partition number.
    pub partition: Option<u32>,
    /// The partition's type, as its table names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_type: Option<String>,
    /// The partition's name (GPT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_name: Option<String>,
    /// The volume, where it is not a partition: an LVM2 logical volume as `vg/lv`, or
    /// `recovered at 1048576` for one no partition table names, found by its superblock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// What the volume holds: `ext4`, `ntfs`, `unknown`...
    pub filesystem: Option<String>,
    /// The offset from the start of the volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_offset: Option<u64>,
    /// The state of the bytes (`allocated`, `deleted`...; `unpartitioned`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The file's path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The file's inode (ext4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inode: Option<u64>,
    /// The file's MFT record (NTFS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mft_record: Option<u64>,
    /// The containers from the file to the secret, outermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container: Vec<LayerRecord>,
    /// The encoding the secret was decoded from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// The secret's offset in the file's own bytes (file pass).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_offset: Option<u64>,
    /// The secret's offset in the innermost decoded stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoded_offset: Option<u64>,
}

/// One container or decoding between a file and a secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    /// `zip`, `tar`, `gzip`, `utf-16le`...
    pub kind: String,
    /// The member's name inside an archive.
    pub member: Option<String>,
}

/// Why a check turned a match away (with `--include-invalid`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectionRecord {
    /// The check.
    pub check: String,
    /// Why.
    pub reason: String,
}

/// The secret half paired with an ID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairRecord {
    /// Its rule's id.
    pub rule: String,
    /// The secret (masked when the record is redacted).
    pub secret: String,
    /// Its offset on the disk.
    pub offset: u64,
    /// The checks it passed.
    pub checks: Vec<String>,
}

impl FindingRecord {
    /// The record of `r`, secrets in full.
    pub fn new(r: &Reported<'_, '_>) -> FindingRecord {
        let finding = &r.finding;
        let shown = Shown::new(finding, false);
        let secret = finding.secret_text();
        FindingRecord {
            image: r.image.to_owned(),
            rule: finding.rule.id.clone(),
            rule_name: finding.rule.name.clone(),
            confidence: r.confidence().as_str().to_owned(),
            fingerprint: r.fingerprint.clone(),
            secret: shown.secret,
            secret_hex: std::str::from_utf8(secret)
                .is_err()
                .then(|| secret.iter().map(|b| format!("{b:02x}")).collect()),
            offset: finding.offset,
            length: finding.length(),
            encoding: (finding.encoding != Encoding::Utf8)
                .then(|| finding.encoding.as_str().to_owned()),
            context: shown.context,
            location: LocationRecord::new(&r.location, finding.offset),
            checks: strings(&r.assessment.passed),
            facts: r
                .assessment
                .facts
                .iter()
                .map(|f| (f.name.to_owned(), f.value.clone()))
                .collect(),
            valid: r.assessment.is_valid(),
            rejected: r.assessment.rejected.as_ref().map(|x| RejectionRecord {
                check: x.check.to_owned(),
                reason: x.reason.clone(),
            }),
            pair: r.pair.as_ref().map(|p| PairRecord {
                rule: p.rule.id.clone(),
                secret: String::from_utf8_lossy(&p.secret).into_owned(),
                offset: p.offset,
                checks: strings(&p.assessment.passed),
            }),
            redacted: false,
            identity: None,
        }
    }

    /// The confidence, as the rules grade it (`low` for a value no rule would write).
    pub fn confidence(&self) -> Confidence {
        match self.confidence.as_str() {
            "high" => Confidence::High,
            "medium" => Confidence::Medium,
            _ => Confidence::Low,
        }
    }

    /// Whether the bytes of the match lie on the disk as such, at `offset` for `length`
    /// bytes: not for a secret in decoded or fragmented file contents, whose `offset` is
    /// where the file's bytes begin.
    pub fn on_disk_as_such(&self) -> bool {
        self.location
            .as_ref()
            .is_none_or(|l| l.decoded_offset.is_none() && l.file_offset.is_none())
    }

    /// The file's path with its archive members (see [`LocationRecord::display_path`]).
    pub fn display_path(&self) -> Option<String> {
        self.location.as_ref()?.display_path()
    }
}

impl LocationRecord {
    /// The file's path with its archive members: `/opt/app.jar!/BOOT-INF/application.properties`.
    pub fn display_path(&self) -> Option<String> {
        let members = self.container.iter().filter_map(|l| l.member.as_deref());
        Some(path_with_members(self.path.as_deref()?, members))
    }

    /// The record of `location`, for the finding at disk offset `offset`; `None` where the
    /// layout is not known (a compressed stream).
    fn new(location: &Location<'_>, offset: u64) -> Option<LocationRecord> {
        let mut record = LocationRecord {
            scheme: location.scheme?.name().to_owned(),
            ..LocationRecord::default()
        };
        match location.volume {
            Located::Volume(volume) => {
                record.partition = volume.number;
                record.partition_type = volume.partition_type.clone();
                record.partition_name = volume.name.clone();
                record.volume = match &volume.logical {
                    Some(logical) => Some(logical.name.clone()),
                    None if location.scheme == Some(Scheme::Recovered) => {
                        Some(format!("recovered at {}", volume.range.start))
                    }
                    None => None,
                };
                record.filesystem = Some(volume.content.name().to_owned());
                record.volume_offset = Some(volume.offset_of(offset));
            }
            Located::Unpartitioned => record.state = Some("unpartitioned".to_owned()),
            Located::Unknown => {}
        }
        if let Some(file) = &location.file {
            record.filesystem = Some(file.filesystem.to_owned());
            record.state = Some(file.state.as_str().to_owned());
            record.path = file.path.clone();
            match file.id_name {
                "mft_record" => record.mft_record = file.id,
                _ => record.inode = file.id,
            }
            record.container = file
                .chain
                .iter()
                .map(|l| LayerRecord {
                    kind: l.kind.to_owned(),
                    member: l.member.clone(),
                })
                .collect();
            record.encoding = file.encoding.map(str::to_owned);
            record.file_offset = file.file_offset;
            record.decoded_offset = file.decoded_offset;
        }
        Some(record)
    }

    /// The file's number and what it numbers (`inode`, `mft_record`), if one is known.
    pub fn file_id(&self) -> Option<(&'static str, u64)> {
        match (self.inode, self.mft_record) {
            (Some(inode), _) => Some(("inode", inode)),
            (None, Some(record)) => Some(("mft_record", record)),
            (None, None) => None,
        }
    }
}

/// `names` as owned strings.
fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|&n| n.to_owned()).collect()
}
