//! A finding as the printers see it: everything said of it, owned, in the JSON Lines schema.
//!
//! Inside the engine a finding is borrowed from the matcher's rules and the image's
//! filesystem maps. What leaves the engine is a [`FindingRecord`]: plain data, exactly the
//! object `--format jsonl` prints on a line. Every printer works from records, so `snapsift merge`, which reads
//! records back from JSON Lines files, prints what `snapsift scan` would have printed, in any
//! format. Fields that take one of a known set of values are enums, serialized by the names
//! the JSON Lines schema has always used.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use snapsift_fs::{FileState, Scheme};
use snapsift_match::{Confidence, Encoding};
use snapsift_unpack::{Layer, LeafEncoding};

use crate::place::{Located, Location, path_with_members};
use crate::report::Reported;
use crate::shown::Shown;

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
    pub confidence: Confidence,
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
    /// How the match is written on the disk; written out only where it is not UTF-8
    /// (`utf-16le`).
    #[serde(default = "utf8", skip_serializing_if = "is_utf8")]
    pub encoding: Encoding,
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationRecord {
    /// The partition scheme.
    pub scheme: Scheme,
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
    pub state: Option<ByteState>,
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
    pub container: Vec<Layer>,
    /// The encoding the secret was decoded from (`utf-16le`, `utf-16be`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<LeafEncoding>,
    /// The secret's offset in the file's own bytes (file pass).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_offset: Option<u64>,
    /// The secret's offset in the innermost decoded stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoded_offset: Option<u64>,
}

impl Default for LocationRecord {
    /// A location in no volume of a disk whose layout is not known, with nothing else said.
    fn default() -> Self {
        LocationRecord {
            scheme: Scheme::Unknown,
            partition: None,
            partition_type: None,
            partition_name: None,
            volume: None,
            filesystem: None,
            volume_offset: None,
            state: None,
            path: None,
            inode: None,
            mft_record: None,
            container: Vec::new(),
            encoding: None,
            file_offset: None,
            decoded_offset: None,
        }
    }
}

/// What the bytes of a finding are: what a filesystem map says of them, or, on a partitioned
/// disk, that they lie outside every partition. Serialized as one string: the
/// [`FileState`]'s name, or `unpartitioned`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ByteState {
    /// What the filesystem says of them.
    File(FileState),
    /// Outside every partition.
    Unpartitioned,
}

impl ByteState {
    /// `allocated`, `slack`, `deleted`... (see [`FileState::as_str`]) or `unpartitioned`.
    pub fn as_str(self) -> &'static str {
        match self {
            ByteState::File(state) => state.as_str(),
            ByteState::Unpartitioned => "unpartitioned",
        }
    }
}

impl fmt::Display for ByteState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ByteState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ByteState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        if name == "unpartitioned" {
            return Ok(ByteState::Unpartitioned);
        }
        let state =
            FileState::deserialize(serde::de::value::StrDeserializer::<D::Error>::new(&name))?;
        Ok(ByteState::File(state))
    }
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
            confidence: r.confidence(),
            fingerprint: r.fingerprint.clone(),
            secret: shown.secret,
            secret_hex: std::str::from_utf8(secret)
                .is_err()
                .then(|| secret.iter().map(|b| format!("{b:02x}")).collect()),
            offset: finding.offset,
            length: finding.length(),
            encoding: finding.encoding,
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
            scheme: location.scheme?,
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
            Located::Unpartitioned => record.state = Some(ByteState::Unpartitioned),
            Located::Unknown => {}
        }
        if let Some(file) = &location.file {
            record.filesystem = Some(file.filesystem.to_owned());
            record.state = Some(ByteState::File(file.state));
            record.path = file.path.clone();
            match file.id_name {
                "mft_record" => record.mft_record = file.id,
                _ => record.inode = file.id,
            }
            record.container = file.chain.clone();
            record.encoding = file.encoding;
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

/// The default of [`FindingRecord::encoding`], which is written out only when it is not this.
fn utf8() -> Encoding {
    Encoding::Utf8
}

/// Whether `encoding` is UTF-8 (and goes without saying).
fn is_utf8(encoding: &Encoding) -> bool {
    *encoding == Encoding::Utf8
}

/// `names` as owned strings.
fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|&n| n.to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each enum of the schema is written by the name its `as_str` gives, as the JSON Lines
    /// schema has always written it, and read back from it.
    #[test]
    fn enums_are_written_by_their_documented_names() {
        fn name<T: Serialize>(value: T) -> String {
            serde_json::to_value(value)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        }
        fn back<T: for<'de> Deserialize<'de>>(name: &str) -> T {
            serde_json::from_value(serde_json::Value::from(name)).unwrap()
        }
        for c in [Confidence::Low, Confidence::Medium, Confidence::High] {
            assert_eq!(name(c), c.as_str());
            assert_eq!(back::<Confidence>(c.as_str()), c);
        }
        for e in [Encoding::Utf8, Encoding::Utf16Le] {
            assert_eq!(name(e), e.as_str());
            assert_eq!(back::<Encoding>(e.as_str()), e);
        }
        for s in [Scheme::Gpt, Scheme::Mbr, Scheme::Whole, Scheme::Unknown] {
            assert_eq!(name(s), s.name());
            assert_eq!(back::<Scheme>(s.name()), s);
        }
        let states = [
            FileState::Allocated,
            FileState::Slack,
            FileState::Deleted,
            FileState::Unallocated,
            FileState::Metadata,
            FileState::Journal,
        ];
        let states = states
            .into_iter()
            .map(ByteState::File)
            .chain([ByteState::Unpartitioned]);
        for s in states {
            assert_eq!(name(s), s.as_str());
            assert_eq!(back::<ByteState>(s.as_str()), s);
        }
        assert!(serde_json::from_str::<ByteState>("\"elsewhere\"").is_err());
        use snapsift_unpack::Kind;
        let kinds = [
            Kind::Gzip,
            Kind::Zip,
            Kind::Tar,
            Kind::Zstd,
            Kind::Xz,
            Kind::Bzip2,
            Kind::Utf16Le,
            Kind::Utf16Be,
        ];
        for k in kinds {
            assert_eq!(name(k), k.as_str());
            assert_eq!(back::<Kind>(k.as_str()), k);
        }
        for e in [
            LeafEncoding::Bytes,
            LeafEncoding::Utf16Le,
            LeafEncoding::Utf16Be,
        ] {
            assert_eq!(name(e), e.as_str());
        }
    }

    /// A record is written with the documented names, the UTF-8 encoding and empty fields
    /// left out, and read back as it was.
    #[test]
    fn a_record_is_written_with_its_documented_names_and_read_back() {
        let record = FindingRecord {
            image: "disk.img".into(),
            rule: "aws.access-key-id".into(),
            rule_name: "AWS access key ID".into(),
            confidence: Confidence::High,
            fingerprint: "f".into(),
            secret: "AKIAQ2W3E4R5T6Y7U2I3".into(),
            secret_hex: None,
            offset: 7,
            length: 40,
            encoding: Encoding::Utf16Le,
            context: "k=A.K.I.A".into(),
            location: Some(LocationRecord {
                scheme: Scheme::Whole,
                filesystem: Some("ext4".into()),
                volume_offset: Some(7),
                state: Some(ByteState::File(FileState::Deleted)),
                path: Some("/a.zip".into()),
                inode: Some(12),
                container: vec![Layer {
                    kind: snapsift_unpack::Kind::Zip,
                    member: Some("b.txt".into()),
                }],
                encoding: Some(LeafEncoding::Utf16Be),
                decoded_offset: Some(3),
                ..LocationRecord::default()
            }),
            checks: vec!["aws-key-id".into()],
            facts: BTreeMap::new(),
            valid: true,
            rejected: None,
            pair: None,
            redacted: false,
            identity: None,
        };
        let json = serde_json::to_string(&record).unwrap();
        assert_eq!(
            json,
            r#"{"image":"disk.img","rule":"aws.access-key-id","rule_name":"AWS access key ID","confidence":"high","fingerprint":"f","secret":"AKIAQ2W3E4R5T6Y7U2I3","offset":7,"length":40,"encoding":"utf-16le","context":"k=A.K.I.A","location":{"scheme":"none","partition":null,"filesystem":"ext4","volume_offset":7,"state":"deleted","path":"/a.zip","inode":12,"container":[{"kind":"zip","member":"b.txt"}],"encoding":"utf-16be","decoded_offset":3},"checks":["aws-key-id"],"valid":true}"#
        );
        let back: FindingRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, record);
        let utf8 = FindingRecord {
            encoding: Encoding::Utf8,
            ..record
        };
        let json = serde_json::to_string(&utf8).unwrap();
        assert!(!json.contains("\"encoding\":\"utf-8\""), "{json}");
        assert_eq!(serde_json::from_str::<FindingRecord>(&json).unwrap(), utf8);
    }
}
