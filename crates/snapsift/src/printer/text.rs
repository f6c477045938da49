//! Readable text: each secret once, with every place it was found.

use std::collections::HashMap;
use std::io::{self, Write};

use snapsift_engine::coverage::ImageCoverage;
use snapsift_engine::record::{ByteState, FindingRecord, LocationRecord};
use snapsift_engine::shown::printable;
use snapsift_match::Encoding;

use super::{Printer, escape, summary};

/// Writes the report once every image is scanned: one block per secret, however many places
/// hold it (copies, backups, the old blocks of a deleted file), with each place on a line.
///
/// ```text
/// aws.access-key-id [high] AWS access key ID
///   checks:  aws-key-id; aws_account_id 123456789012
///   secret:  AKIAQ2W3E4R5T6Y7U2I3
///   context: aws_access_key_id = AKIAQ2W3E4R5T6Y7U2I3
///   found in 2 places:
///     /root/.aws/credentials  (allocated, inode 12)  disk.img  partition 1 (ext4, "root")  offset 1048576 (0x100000)  20 bytes
///     (no name)  (deleted, inode 14)  disk.img  partition 1 (ext4, "root")  offset 2101248 (0x201000)  20 bytes
///       context: AWS_ACCESS_KEY_ID=AKIAQ2W3E4R5T6Y7U2I3
/// ```
///
/// The heading says what: the rule, how sure (`[high]`, with `INVALID:` and the reason for a
/// match a check rejected, shown with `--include-invalid`), the checks passed and what they
/// learned, the secret (a key block keeps its lines, aligned under the first), and
/// `paired:` the secret half of an ID. Then the context line (the line the secret is on, as
/// at its first place) and the places, in disk order: the file first where a filesystem map
/// knows it (path with archive members, state, inode or MFT record), then the image, the
/// partition and the offset on the disk; a place whose line differs from the first's shows
/// its own `context:`. With `--redact` secrets come masked (see `snapsift_engine::redact`). Every line
/// is written escaped ([`escape::text`]): `\\` for a backslash, `\n`, `\r`, `\t`, and
/// `\u{1b}` for any other control, separator or invisible format character (`\u{202e}`),
/// so that a name or context from the image cannot forge a line or command the terminal.
///
/// One block is one rule, one secret and, for an ID, one paired secret, with the same
/// assessment (confidence, checks, validity). Blocks come in the order of their first place
/// (images in the order scanned, then disk offset). A secret found in several images is one
/// block listing its places in each.
///
/// Last comes the coverage summary, when some image was not scanned in full or has notes:
/// `coverage:`, then for each image `complete`, `PARTIAL` with each unreadable range and each
/// file a limit cut, or `not scanned` with the error, the number of file problems, and its
/// notes (see `ImageCoverage`).
#[derive(Debug)]
pub struct TextPrinter {
    /// The blocks, in the order their first place was printed.
    groups: Vec<Group>,
    /// The block of each key in `groups`.
    by_key: HashMap<GroupKey, usize>,
    /// The images with findings, in the order first seen: a place's image rank.
    images: Vec<String>,
    /// Places printed so far: breaks ties in the ordering.
    seen: u64,
    /// The coverage summary's lines, image by image.
    coverage: Vec<String>,
    /// Whether every image so far was scanned in full (then the summary is not shown).
    complete: bool,
    /// Whether some image's coverage has notes (which the summary then shows).
    noted: bool,
}

/// What makes two findings the same secret, shown under one heading.
#[derive(Debug, PartialEq, Eq, Hash)]
struct GroupKey {
    rule: String,
    /// The secret, or what tells a masked one apart.
    secret: String,
    /// The paired secret half: its rule and secret.
    pair: Option<(String, String)>,
    /// The heading as shown: findings that the checks assessed differently are not merged.
    heading: Vec<String>,
}

/// One secret and the places it was found.
#[derive(Debug)]
struct Group {
    heading: Vec<String>,
    places: Vec<PlaceLine>,
}

/// One place a secret was found.
#[derive(Debug)]
struct PlaceLine {
    /// (image rank, disk offset, arrival): the order places and blocks are shown in.
    order: (usize, u64, u64),
    /// The place, on one line.
    line: String,
    /// The context line there.
    context: String,
}

impl TextPrinter {
    /// A printer with nothing printed yet.
    pub fn new() -> Self {
        TextPrinter {
            groups: Vec::new(),
            by_key: HashMap::new(),
            images: Vec::new(),
            seen: 0,
            coverage: Vec::new(),
            complete: true,
            noted: false,
        }
    }

    /// The rank of `image` among the images with findings.
    fn image_rank(&mut self, image: &str) -> usize {
        match self.images.iter().position(|i| i == image) {
            Some(rank) => rank,
            None => {
                self.images.push(image.to_owned());
                self.images.len() - 1
            }
        }
    }

    /// The heading of `r`'s block: what it is, not where.
    fn heading(r: &FindingRecord) -> Vec<String> {
        let mut lines = vec![format!(
            "{} [{}] {}",
            r.rule,
            r.confidence.as_str(),
            r.rule_name
        )];
        if !r.checks.is_empty() || !r.facts.is_empty() {
            let facts: Vec<String> = r
                .facts
                .iter()
                .map(|(name, value)| format!("{name} {value}"))
                .collect();
            let checks = r.checks.join(", ");
            lines.push(format!(
                "  checks:  {checks}{}",
                join_prefixed("; ", &facts)
            ));
        }
        if let Some(rejected) = &r.rejected {
            lines.push(format!(
                "  INVALID: {} ({})",
                rejected.reason, rejected.check
            ));
        }
        // A multi-line secret (a key block) keeps its lines, aligned under the first.
        let mut secret = r.secret.lines();
        lines.push(format!("  secret:  {}", secret.next().unwrap_or_default()));
        lines.extend(secret.map(|line| format!("           {line}")));
        if let Some(pair) = &r.pair {
            lines.push(format!(
                "  paired:  {} {}",
                pair.rule,
                printable(pair.secret.as_bytes())
            ));
        }
        lines
    }
}

impl Default for TextPrinter {
    fn default() -> Self {
        TextPrinter::new()
    }
}

impl Printer for TextPrinter {
    fn print(&mut self, _out: &mut dyn Write, r: &FindingRecord) -> io::Result<()> {
        let heading = Self::heading(r);
        let mut line = match r.location.as_ref().filter(|l| in_a_file(l)) {
            Some(location) => format!("{}  ", file_label(location)),
            None => String::new(),
        };
        line.push_str(&format!(
            "{image}{volume}  offset {offset} ({offset:#x})  {length} bytes",
            image = r.image,
            volume = volume_label(r.location.as_ref()),
            offset = r.offset,
            length = r.length
        ));
        if r.encoding != Encoding::Utf8 {
            line.push_str(&format!(" of {}", r.encoding.as_str()));
        }
        let place = PlaceLine {
            order: (self.image_rank(&r.image), r.offset, self.seen),
            line,
            context: r.context.clone(),
        };
        self.seen = self.seen.saturating_add(1);
        // Masked secrets are told apart by what they were, where that is known; a report
        // redacted before it came here (`snapsift merge` of redacted files) gives each place
        // its own block rather than risk joining two secrets that mask alike.
        let secret = match (&r.identity, r.redacted) {
            (Some(identity), _) => identity.clone(),
            (None, true) => format!("fingerprint {}", r.fingerprint),
            (None, false) => r.secret_hex.clone().unwrap_or_else(|| r.secret.clone()),
        };
        let key = GroupKey {
            rule: r.rule.clone(),
            secret,
            pair: r.pair.as_ref().map(|p| (p.rule.clone(), p.secret.clone())),
            heading,
        };
        let index = match self.by_key.get(&key) {
            Some(&index) => index,
            None => {
                let index = self.groups.len();
                self.groups.push(Group {
                    heading: key.heading.clone(),
                    places: Vec::new(),
                });
                self.by_key.insert(key, index);
                index
            }
        };
        self.groups[index].places.push(place);
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        self.by_key.clear();
        let mut groups = std::mem::take(&mut self.groups);
        for group in &mut groups {
            group.places.sort_by_key(|p| p.order);
        }
        groups.sort_by_key(|g| g.places.first().map(|p| p.order));
        for group in groups {
            for line in &group.heading {
                write_line(out, line)?;
            }
            let first = group.places.first().map_or("", |p| p.context.as_str());
            write_line(out, &format!("  context: {first}"))?;
            let n = group.places.len();
            write_line(
                out,
                &format!(
                    "  found in {n} {}:",
                    if n == 1 { "place" } else { "places" }
                ),
            )?;
            for place in &group.places {
                write_line(out, &format!("    {}", place.line))?;
                if place.context != first {
                    write_line(out, &format!("      context: {}", place.context))?;
                }
            }
            writeln!(out)?;
        }
        if !self.complete || self.noted {
            writeln!(out, "coverage:")?;
            for line in std::mem::take(&mut self.coverage) {
                write_line(out, &format!("  {line}"))?;
            }
        }
        Ok(())
    }

    fn coverage(&mut self, _out: &mut dyn Write, coverage: &ImageCoverage) -> io::Result<()> {
        self.complete &= coverage.complete;
        self.noted |= !coverage.notes.is_empty();
        self.coverage.extend(summary::coverage_lines(coverage));
        Ok(())
    }
}

/// Writes `line` and a line break, escaped (see [`escape`]): whatever the image put in a name
/// or a context, it stays on this one line and no terminal acts on it.
fn write_line(out: &mut dyn Write, line: &str) -> io::Result<()> {
    writeln!(out, "{}", escape::text(line))
}

/// `facts` joined by `, `, after `prefix`; nothing if there are none.
fn join_prefixed(prefix: &str, facts: &[String]) -> String {
    if facts.is_empty() {
        String::new()
    } else {
        format!("{prefix}{}", facts.join(", "))
    }
}

/// Whether `location` is at the file level: a filesystem map says what the bytes are.
pub(super) fn in_a_file(location: &LocationRecord) -> bool {
    location
        .state
        .is_some_and(|state| state != ByteState::Unpartitioned)
}

/// The file line: `/etc/app.jar!/config.properties  (allocated, inode 12, zip, utf-16le)`,
/// or the state alone where no file is known: `unallocated  (ext4, no file)`.
pub(super) fn file_label(location: &LocationRecord) -> String {
    let state = location.state.map_or("", ByteState::as_str);
    let mut facts = vec![state.to_owned()];
    let id = location.file_id();
    if let Some((id_name, id)) = id {
        let name = match id_name {
            "mft_record" => "MFT record",
            other => other,
        };
        facts.push(format!("{name} {id}"));
    }
    facts.extend(
        location
            .container
            .iter()
            .map(|l| l.kind.as_str().to_owned()),
    );
    facts.extend(location.encoding.map(|e| e.as_str().to_owned()));
    if let Some(offset) = location.decoded_offset {
        facts.push(format!("decoded offset {offset}"));
    }
    let facts = facts.join(", ");
    match location.display_path() {
        Some(path) => format!("{path}  ({facts})"),
        None if id.is_some() => format!("(no name)  ({facts})"),
        None => format!(
            "{state}  ({}, no file)",
            location.filesystem.as_deref().unwrap_or_default()
        ),
    }
}

/// `  partition 2 (ext4, "root")`, `  volume vg/root (ext4)`, `  unpartitioned space`, or
/// nothing where unknown.
pub(super) fn volume_label(location: Option<&LocationRecord>) -> String {
    let Some(location) = location else {
        return String::new();
    };
    if location.state == Some(ByteState::Unpartitioned) {
        return "  unpartitioned space".into();
    }
    // Only a finding in a volume has an offset in it.
    if location.volume_offset.is_none() {
        return String::new();
    }
    let content = location.filesystem.as_deref().unwrap_or("unknown");
    let name = location
        .partition_name
        .as_deref()
        .map(|n| format!(", \"{n}\""))
        .unwrap_or_default();
    if let Some(volume) = &location.volume {
        return format!("  volume {volume} ({content})");
    }
    match location.partition {
        Some(number) => format!("  partition {number} ({content}{name})"),
        // A disk with nothing recognised on it: nothing to say beyond the offset.
        None if content == "unknown" => String::new(),
        None => format!("  ({content})"),
    }
}

#[cfg(test)]
mod tests {
    use snapsift_engine::record::PairRecord;
    use snapsift_engine::redact::{Redactor, secrets_of};
    use snapsift_match::{Confidence, Matcher, RuleSet};

    use super::*;

    /// A finding of the AWS key ID `secret` at `offset` of `image`, located nowhere in
    /// particular, with `pair` its paired connection URI.
    fn record(image: &str, secret: &str, offset: u64, pair: Option<&str>) -> FindingRecord {
        FindingRecord {
            image: image.into(),
            rule: "aws.access-key-id".into(),
            rule_name: "AWS access key ID".into(),
            confidence: Confidence::High,
            fingerprint: String::new(),
            secret: secret.into(),
            secret_hex: None,
            offset,
            length: secret.len() as u64,
            encoding: Encoding::Utf8,
            context: format!("key = {secret}"),
            location: None,
            checks: Vec::new(),
            facts: Default::default(),
            valid: true,
            rejected: None,
            pair: pair.map(|secret| PairRecord {
                rule: "connection-uri.password".into(),
                secret: secret.into(),
                offset: 520,
                checks: Vec::new(),
            }),
            redacted: false,
            identity: None,
        }
    }

    fn report(findings: &[FindingRecord], redact: bool) -> String {
        let mut records = findings.to_vec();
        if redact {
            let matcher = Matcher::new(&RuleSet::builtin().unwrap()).unwrap();
            let mut redactor = Redactor::new(&matcher, records.iter().flat_map(secrets_of));
            records.iter_mut().for_each(|r| redactor.redact(r));
        }
        let mut printer = TextPrinter::new();
        let mut out = Vec::new();
        for r in &records {
            printer.print(&mut out, r).unwrap();
        }
        assert!(out.is_empty(), "nothing is written before finish");
        printer.finish(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn one_block_per_secret_in_order_of_its_first_place() {
        let (x, y) = ("AKIAQ2W3E4R5T6Y7U2I3", "AKIAZZZZE4R5T6Y7U2I3");
        let pair = "postgres://u:hunter2hunter2@db/x";
        // Not in disk order: the report sorts.
        let findings = [
            record("a.img", x, 700, None),
            record("a.img", y, 100, None),
            record("a.img", x, 300, None),
            record("a.img", x, 500, Some(pair)),
            record("b.img", x, 10, None),
        ];
        let text = report(&findings, false);
        let blocks: Vec<&str> = text.split("\n\n").filter(|b| !b.is_empty()).collect();
        assert_eq!(blocks.len(), 3, "{text}");
        assert!(blocks[0].contains(&format!("  secret:  {y}")), "{text}");
        assert!(blocks[1].contains(&format!("  secret:  {x}")), "{text}");
        assert!(!blocks[1].contains("paired:"), "{text}");
        assert!(
            blocks[1].ends_with(
                "  found in 3 places:\n\
                 \x20   a.img  offset 300 (0x12c)  20 bytes\n\
                 \x20   a.img  offset 700 (0x2bc)  20 bytes\n\
                 \x20   b.img  offset 10 (0xa)  20 bytes"
            ),
            "{text}"
        );
        assert!(
            blocks[2]
                .contains("  paired:  connection-uri.password postgres://u:hunter2hunter2@db/x"),
            "a paired secret is another block: {text}"
        );
        assert!(blocks[2].contains("  found in 1 place:\n    a.img  offset 500"));

        let redacted = report(&findings, true);
        for secret in [&x[4..], &y[4..], "hunter2"] {
            assert!(!redacted.contains(secret), "{redacted}");
        }
        assert_eq!(redacted.matches("found in").count(), 3, "{redacted}");
    }

    #[test]
    fn masked_secrets_read_back_are_grouped_by_fingerprint_only() {
        let rules = RuleSet::builtin().unwrap();
        // Two secrets that mask alike, the first at two places.
        let (x, y) = ("AKIAQ2W3E4R5T6Y7U2I3", "AKIAZZZZE4R5T6Y7U2I3");
        let findings = [
            record("a.img", x, 100, None),
            record("a.img", y, 200, None),
            record("a.img", x, 300, None),
        ];
        let mut records = findings.to_vec();
        for (r, fingerprint) in records.iter_mut().zip(["fx", "fy", "fx"]) {
            r.fingerprint = fingerprint.into();
        }
        let matcher = Matcher::new(&rules).unwrap();
        let mut redactor = Redactor::new(&matcher, records.iter().flat_map(secrets_of));
        records.iter_mut().for_each(|r| redactor.redact(r));
        // As `snapsift merge` reads a redacted report: what told the secrets apart is gone.
        let read_back: Vec<FindingRecord> = records
            .iter()
            .map(|r| serde_json::from_value(serde_json::to_value(r).unwrap()).unwrap())
            .collect();
        assert!(read_back.iter().all(|r| r.redacted && r.identity.is_none()));
        let mut printer = TextPrinter::new();
        let mut out = Vec::new();
        for r in &read_back {
            printer.print(&mut out, r).unwrap();
        }
        printer.finish(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        // Not one block for the three places: the fingerprints keep x and y apart.
        assert_eq!(text.matches("found in 2 places").count(), 1, "{text}");
        assert_eq!(text.matches("found in 1 place:").count(), 1, "{text}");
    }

    #[test]
    fn names_and_contexts_from_the_image_are_escaped_on_their_line() {
        let findings = [record("a.img", "AKIAQ2W3E4R5T6Y7U2I3", 10, None)];
        let mut record = findings[0].clone();
        record.context = "key \\u{1b} = AKIAQ2W3E4R5T6Y7U2I3 \u{202e}".into();
        record.location = Some(LocationRecord {
            scheme: snapsift_fs::Scheme::Gpt,
            partition: Some(1),
            partition_name: Some("ro\x1bot".into()),
            filesystem: Some("ext4".into()),
            volume_offset: Some(10),
            state: Some(ByteState::File(snapsift_fs::FileState::Allocated)),
            path: Some(
                "/tmp/x\x1b]0;pwned\x07\r\n    forged  (allocated)\u{202e}gpj.exe\\n".into(),
            ),
            inode: Some(12),
            container: vec![snapsift_engine::Layer {
                kind: snapsift_engine::LayerKind::Tar,
                member: Some("m\u{85}\u{7f}".into()),
            }],
            ..LocationRecord::default()
        });
        let mut printer = TextPrinter::new();
        let mut out = Vec::new();
        printer.print(&mut out, &record).unwrap();
        printer.finish(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            !text.chars().any(|c| c != '\n' && escape::is_unsafe(c)),
            "{text:?}"
        );
        assert_eq!(text.lines().count(), 6, "{text}");
        assert!(
            text.contains(
                "    /tmp/x\\u{1b}]0;pwned\\u{7}\\r\\n    forged  (allocated)\\u{202e}gpj.exe\\\\n\
                 !/m\\u{85}\\u{7f}  (allocated, inode 12, tar)  a.img  partition 1 (ext4, \"ro\\u{1b}ot\")"
            ),
            "{text}"
        );
        assert!(
            text.contains("  context: key \\\\u{1b} = AKIAQ2W3E4R5T6Y7U2I3 \\u{202e}\n"),
            "{text}"
        );
    }
}
