//! JSON Lines: one object per finding, for other tools.

use std::io::{self, Write};

use serde::Serialize;
use snapsift_scan::Finding;

use super::shown::Shown;
use super::{Located, Place, Printer};

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
    location: Option<Location<'a>>,
}

/// Where on the disk a finding is.
///
/// `partition` is the partition number as Linux numbers it, `null` outside partitions and on
/// disks without a table; `volume_offset` is the offset from the start of the partition (or of
/// the disk); `state` is `unpartitioned` for bytes outside every partition of a partitioned
/// disk. `scheme` is `gpt`, `mbr`, `none` (a filesystem fills the disk) or `unknown` (raw sweep
/// only); the location of a finding in a compressed stream is `null`.
#[derive(Serialize)]
struct Location<'a> {
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
}

impl<'a> Location<'a> {
    fn new(place: &Place<'a>, offset: u64) -> Option<Location<'a>> {
        let scheme = place.volumes?.scheme.name();
        let empty = Location {
            scheme,
            partition: None,
            partition_type: None,
            partition_name: None,
            filesystem: None,
            volume_offset: None,
            state: None,
        };
        Some(match place.locate(offset) {
            Located::Volume(volume) => Location {
                partition: volume.number,
                partition_type: volume.partition_type.as_deref(),
                partition_name: volume.name.as_deref(),
                filesystem: Some(volume.content.name()),
                volume_offset: Some(offset.saturating_sub(volume.range.start)),
                ..empty
            },
            Located::Unpartitioned => Location {
                state: Some("unpartitioned"),
                ..empty
            },
            Located::Unknown => empty,
        })
    }
}

impl Printer for JsonlPrinter {
    fn print(
        &mut self,
        out: &mut dyn Write,
        place: &Place<'_>,
        finding: &Finding<'_>,
    ) -> io::Result<()> {
        let shown = Shown::new(finding, self.redact);
        let secret_hex = (!self.redact && std::str::from_utf8(&finding.secret).is_err())
            .then(|| finding.secret.iter().map(|b| format!("{b:02x}")).collect());
        let record = Record {
            image: place.image,
            rule: &finding.rule.id,
            rule_name: &finding.rule.name,
            confidence: finding.rule.confidence.as_str(),
            secret: &shown.secret,
            secret_hex,
            offset: finding.offset,
            length: finding.length(),
            context: &shown.context,
            location: Location::new(place, finding.offset),
        };
        serde_json::to_writer(&mut *out, &record)?;
        out.write_all(b"\n")
    }
}
