//! JSON Lines: one object per finding, for other tools.

use std::io::{self, Write};

use serde::Serialize;
use std::collections::BTreeMap;

use snapsift_match::Encoding;

use super::shown::{self, Shown};
use super::{Located, Location, Printer};
use crate::coverage::ImageCoverage;
use crate::report::Reported;

/// Writes each finding as one JSON object on one line.
///
/// Fields: `image`, `rule`, `rule_name`, `confidence` (the rule's, raised by a validating check
/// or a pair), `fingerprint` (stable, see `report::fingerprint`), `secret`, `offset`, `length`,
/// `encoding` (`utf-16le` for a match written as UTF-16LE on the disk), `context`,
/// `location` (see [`Location`]), `checks` (the offline checks passed), `facts` (what they
/// learned, such as `aws_account_id`), `valid` (`false` only with `--include-invalid`, then
/// `rejected` says by which check and why), `pair` (for an ID, its secret half: `rule`,
/// `secret`, `offset`, `checks`), and `secret_hex` when the secret is not valid UTF-8 (then
/// `secret` is a lossy rendering) and not redacted.
///
/// After each image's findings comes one line `{"coverage": {...}}` (the only line without
/// a `rule`): what the scan of that image covered, see [`ImageCoverage`] for its fields
/// (`image`, `format`, `disk_size`, `data_bytes`, `scanned_bytes`, `unreadable_bytes`,
/// `unreadable`: `[{"start", "end", "reason"}]`, `file_problems`, `complete`, `error`).
#[derive(Debug)]
pub struct JsonlPrinter {
    redact: bool,
}

impl JsonlPrinter {
    /// A printer that masks secrets if `redact`.
    pub fn new(redact: bool) -> Self {
        JsonlPrinter { redact }
    }
}

#[derive(Serialize)]
struct Record<'a> {
    image: &'a str,
    rule: &'a str,
    rule_name: &'a str,
    confidence: &'a str,
    fingerprint: &'a str,
    secret: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_hex: Option<String>,
    offset: u64,
    length: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding: Option<&'static str>,
    context: &'a str,
    location: Option<JsonLocation<'a>>,
    /// The checks the secret passed.
    checks: &'a [&'static str],
    /// What the checks learned, by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    facts: BTreeMap<&'static str, &'a str>,
    /// `false` for a match a check rejected (shown only with `--include-invalid`).
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejected: Option<JsonRejection<'a>>,
    /// The secret half of a credential whose ID this is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pair: Option<JsonPair<'a>>,
}

/// Where a finding is.
///
/// Volume level: `scheme` is `gpt`, `mbr`, `none` (a filesystem fills the disk) or `unknown`
/// (raw sweep only); `partition` is the partition number as Linux numbers it, `null` outside
/// partitions and on disks without a table; `volume_offset` is the offset from the start of
/// the partition (or of the disk). File level, where the filesystem is mapped (ext2/3/4,
/// NTFS): `state` (`allocated`, `slack`, `deleted`, `unallocated`, `metadata`, `journal`;
/// `unpartitioned` outside every partition), `path`, `inode` or `mft_record`, and for secrets
/// found inside a file's decoded contents `container` (the layers from the file to the
/// secret, outermost first, each `{"kind", "member"}`), `encoding` (`utf-16le`/`utf-16be`
/// when the secret was decoded from UTF-16), `decoded_offset` (its offset in the decoded
/// bytes) or `file_offset` (for a secret the file pass found in the file's own bytes: across
/// two pieces of a fragmented file, in an NTFS-compressed file). The location of a finding in a compressed image stream is `null`.
#[derive(Serialize)]
struct JsonLocation<'a> {
    scheme: &'static str,
    partition: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    partition_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    partition_name: Option<&'a str>,
    filesystem: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    volume_offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inode: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mft_record: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    container: Vec<JsonLayer<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    decoded_offset: Option<u64>,
}

#[derive(Serialize)]
struct JsonLayer<'a> {
    kind: &'static str,
    member: Option<&'a str>,
}

impl<'a> JsonLocation<'a> {
    fn new(location: &'a Location<'a>, offset: u64) -> Option<JsonLocation<'a>> {
        let mut json = JsonLocation {
            scheme: location.scheme?.name(),
            partition: None,
            partition_type: None,
            partition_name: None,
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
        };
        match location.volume {
            Located::Volume(volume) => {
                json.partition = volume.number;
                json.partition_type = volume.partition_type.as_deref();
                json.partition_name = volume.name.as_deref();
                json.filesystem = Some(volume.content.name());
                json.volume_offset = Some(offset.saturating_sub(volume.range.start));
            }
            Located::Unpartitioned => json.state = Some("unpartitioned"),
            Located::Unknown => {}
        }
        if let Some(file) = &location.file {
            json.filesystem = Some(file.filesystem);
            json.state = Some(file.state.as_str());
            json.path = file.path.clone();
            match file.id_name {
                "mft_record" => json.mft_record = file.id,
                _ => json.inode = file.id,
            }
            json.container = file
                .chain
                .iter()
                .map(|l| JsonLayer {
                    kind: l.kind,
                    member: l.member.as_deref(),
                })
                .collect();
            json.encoding = file.encoding;
            json.file_offset = file.file_offset;
            json.decoded_offset = file.decoded_offset;
        }
        Some(json)
    }
}

impl Printer for JsonlPrinter {
    fn print(&mut self, out: &mut dyn Write, r: &Reported<'_, '_>) -> io::Result<()> {
        serde_json::to_writer(&mut *out, &finding_object(r, self.redact))?;
        out.write_all(b"\n")
    }

    fn coverage(&mut self, out: &mut dyn Write, coverage: &ImageCoverage) -> io::Result<()> {
        serde_json::to_writer(&mut *out, &serde_json::json!({ "coverage": coverage }))?;
        out.write_all(b"\n")
    }
}

/// One finding as the JSON object JSON Lines prints on a line (and the JSON array holds).
pub fn finding_object(r: &Reported<'_, '_>, redact: bool) -> serde_json::Value {
    let finding = &r.finding;
    let location = &r.location;
    let image = r.image;
    {
        let shown = Shown::new(finding, redact);
        let secret = finding.secret_text();
        let secret_hex = (!redact && std::str::from_utf8(secret).is_err())
            .then(|| secret.iter().map(|b| format!("{b:02x}")).collect());
        let record = Record {
            image,
            rule: &finding.rule.id,
            rule_name: &finding.rule.name,
            confidence: r.confidence().as_str(),
            fingerprint: &r.fingerprint,
            secret: &shown.secret,
            secret_hex,
            offset: finding.offset,
            length: finding.length(),
            encoding: (finding.encoding != Encoding::Utf8).then(|| finding.encoding.as_str()),
            context: &shown.context,
            location: JsonLocation::new(location, finding.offset),
            checks: &r.assessment.passed,
            facts: r
                .assessment
                .facts
                .iter()
                .map(|f| (f.name, f.value.as_str()))
                .collect(),
            valid: r.assessment.is_valid(),
            rejected: r.assessment.rejected.as_ref().map(|x| JsonRejection {
                check: x.check,
                reason: &x.reason,
            }),
            pair: r.pair.as_ref().map(|p| JsonPair {
                rule: &p.rule.id,
                secret: if redact {
                    shown::mask(&p.secret)
                } else {
                    String::from_utf8_lossy(&p.secret).into_owned()
                },
                offset: p.offset,
                checks: &p.assessment.passed,
            }),
        };
        serde_json::to_value(&record).unwrap_or(serde_json::Value::Null)
    }
}

/// Why a check turned a match away (with `--include-invalid`).
#[derive(Serialize)]
struct JsonRejection<'a> {
    check: &'static str,
    reason: &'a str,
}

/// The secret half paired with an ID.
#[derive(Serialize)]
struct JsonPair<'a> {
    rule: &'a str,
    secret: String,
    offset: u64,
    checks: &'a [&'static str],
}
