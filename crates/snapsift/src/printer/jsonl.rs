//! JSON Lines: one object per finding, for other tools.

use std::io::{self, Write};

use serde::Serialize;
use snapsift_scan::Finding;

use super::shown::Shown;
use super::{Located, Location, Printer};

/// Writes each finding as one JSON object on one line.
///
/// Fields: `image`, `rule`, `rule_name`, `confidence`, `secret`, `offset`, `length`, `context`,
/// `location` (see [`Location`]), and `secret_hex` when the secret is not valid UTF-8 (then
/// `secret` is a lossy rendering) and not redacted.
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
    secret: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_hex: Option<String>,
    offset: u64,
    length: u64,
    context: &'a str,
    location: Option<JsonLocation<'a>>,
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
    fn print(
        &mut self,
        out: &mut dyn Write,
        image: &str,
        location: &Location<'_>,
        finding: &Finding<'_>,
    ) -> io::Result<()> {
        let shown = Shown::new(finding, self.redact);
        let secret_hex = (!self.redact && std::str::from_utf8(&finding.secret).is_err())
            .then(|| finding.secret.iter().map(|b| format!("{b:02x}")).collect());
        let record = Record {
            image,
            rule: &finding.rule.id,
            rule_name: &finding.rule.name,
            confidence: finding.rule.confidence.as_str(),
            secret: &shown.secret,
            secret_hex,
            offset: finding.offset,
            length: finding.length(),
            context: &shown.context,
            location: JsonLocation::new(location, finding.offset),
        };
        serde_json::to_writer(&mut *out, &record)?;
        out.write_all(b"\n")
    }
}
