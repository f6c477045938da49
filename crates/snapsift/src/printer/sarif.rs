//! SARIF 2.1.0: the OASIS Static Analysis Results Interchange Format, for code-scanning
//! dashboards and the other tools that read it.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;

use serde_json::{Map, Value, json};
use snapsift_engine::coverage::ImageCoverage;
use snapsift_engine::record::FindingRecord;
use snapsift_engine::shown::{self, printable};
use snapsift_match::{Confidence, Rule};

use super::text::{file_label, in_a_file, volume_label};
use super::{Printer, TOOL_VERSION, escape, jsonl};

/// The `$schema` of the log.
const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The name of the partial fingerprint that holds snapsift's own fingerprint.
pub const FINGERPRINT_NAME: &str = "snapsiftFingerprint/v1";

/// The `uriBaseId` of an image given by a relative path: the directory snapsift ran in.
pub const CWD_BASE: &str = "CWD";

/// Writes one SARIF 2.1.0 log once every image is scanned: one `run` whose results are the
/// findings, in the order `--format jsonl` prints them.
///
/// * `runs[0].tool.driver`: `name` `snapsift`, `version`, `informationUri` (the package's
///   repository or homepage, where Cargo.toml names one) and `rules`: **every** rule in force
///   (built-in and `--rules`), whether or not it found anything, so that `ruleIndex` is the
///   rule's position in `snapsift rules list` and a consumer can tell which rules ran. Each
///   rule: `id`, `name` (the id as an identifier: `AwsAccessKeyId`), `shortDescription` (the
///   rule's name), `help`, `defaultConfiguration.level` (from the rule's confidence) and
///   `properties`: `confidence`, `checks` (the offline checks it runs), `pairs_with` (for an
///   ID rule, the rule of its secret half), `tags`.
/// * each result: `ruleId`, `ruleIndex`, `level` (`error` for high confidence, `warning` for
///   medium, `note` for low and for matches a check rejected, shown with
///   `--include-invalid`), `message.text` (the rule's name, the secret **masked** even
///   without `--redact`, and where it is), one `location` and `partialFingerprints`
///   (`snapsiftFingerprint/v1`: the stable fingerprint of `--write-baseline`).
/// * the location: `physicalLocation.artifactLocation.uri` is the image (a `file:` URI for
///   an absolute path; a relative reference with `uriBaseId` `CWD` for a relative one, and
///   `runs[0].originalUriBaseIds.CWD` the directory snapsift ran in); `region.byteOffset`
///   and `byteLength` are the secret's match on the disk the image presents (the `offset`
///   and `length` of JSON Lines; for a qcow2, VHD(X) or VMDK image, offsets in its virtual
///   disk, as for a raw copy of it). Where the bytes do not lie on the disk as such (a
///   secret in decoded or fragmented file contents) the region has no `byteLength`: it is
///   the point where the file's bytes begin, and `decoded_offset` or `file_offset` in the
///   result's properties says where in the file. Where the file's path is known,
///   `logicalLocations[0]` names it: `fullyQualifiedName` the path with its archive members
///   (`/opt/app.jar!/BOOT-INF/application.properties`), `name` its last part, `kind`
///   `file`, or `member` for a secret inside an archive (SARIF's own kinds describe code and
///   documents; the spec lets a tool name its own).
/// * `runs[0].invocations[0]`: `executionSuccessful` is `false` when some image could not be
///   scanned in full, and `toolExecutionNotifications` says why: one `error` notification per
///   image that could not be scanned and per range of unreadable bytes (its `region` on the
///   image, as for results), and one per file problem of the coverage record (`error` when a
///   limit cut the file's content, with `properties.limit`; `warning` otherwise), its
///   `region` the file's first byte on the disk.
/// * the result's `properties`: what JSON Lines says that SARIF has no place for:
///   `confidence`, `checks`, `facts`, `valid` and `rejected`, `encoding`, `pair` (the secret
///   half, masked with `--redact`), `secret` (complete, or masked with `--redact`),
///   `secret_hex`, `context`, and the fields of JSON Lines' `location` (`scheme`,
///   `partition`, `volume`, `filesystem`, `volume_offset`, `state`, `path`, `inode` or `mft_record`,
///   `container`, `decoded_offset`, `file_offset`...), inline.
#[derive(Debug)]
pub struct SarifPrinter {
    /// The reporting descriptors of the rules, in the matcher's order.
    rules: Vec<Value>,
    /// The position of each rule id in `rules`.
    rule_index: HashMap<String, usize>,
    results: Vec<Value>,
    /// Whether some image was given by a relative path (then `originalUriBaseIds` says what
    /// it is relative to).
    relative: bool,
    /// What kept images from being scanned in full (errors) and their notes, as
    /// notifications.
    notifications: Vec<Value>,
    /// Whether every image so far was scanned in full.
    complete: bool,
}

impl SarifPrinter {
    /// A printer that describes `rules` (all the rules in force).
    pub fn new(rules: &[Rule]) -> Self {
        let mut printer = SarifPrinter {
            rules: Vec::with_capacity(rules.len()),
            rule_index: HashMap::new(),
            results: Vec::new(),
            notifications: Vec::new(),
            complete: true,
            relative: false,
        };
        for rule in rules {
            printer.add_rule(&rule.id, descriptor(rule));
        }
        printer
    }

    /// Adds the descriptor of the rule `id`, if it has none yet; returns its index.
    fn add_rule(&mut self, id: &str, descriptor: Value) -> usize {
        if let Some(&index) = self.rule_index.get(id) {
            return index;
        }
        let index = self.rules.len();
        self.rules.push(descriptor);
        self.rule_index.insert(id.to_owned(), index);
        index
    }

    /// The index of the rule of `r` in the descriptors. A rule not among those in force (a
    /// merged report's findings may come from rule files this run does not have) is
    /// described from what the finding says of it.
    fn index_of(&mut self, r: &FindingRecord) -> usize {
        match self.rule_index.get(&r.rule) {
            Some(&index) => index,
            None => self.add_rule(&r.rule, descriptor_of_finding(r)),
        }
    }
}

/// The SARIF level of a confidence.
fn level(confidence: Confidence) -> &'static str {
    match confidence {
        Confidence::High => "error",
        Confidence::Medium => "warning",
        Confidence::Low => "note",
    }
}

/// `aws.access-key-id` as an identifier: `AwsAccessKeyId`.
pub(super) fn identifier(id: &str) -> String {
    id.split(|c: char| !c.is_ascii_alphanumeric())
        .flat_map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase())
                .into_iter()
                .chain(chars)
        })
        .collect()
}

/// The reporting descriptor of `rule`.
fn descriptor(rule: &Rule) -> Value {
    let checks: Vec<&str> = rule.checks.iter().map(|c| c.name()).collect();
    let mut properties = json!({
        "confidence": rule.confidence.as_str(),
        "checks": checks,
        "tags": ["security", "secret"],
    });
    if let Some(pair) = &rule.pair {
        properties["pairs_with"] = Value::from(pair.secret.as_str());
    }
    let mut descriptor = basic_descriptor(&rule.id, &rule.name);
    descriptor["defaultConfiguration"] = json!({"level": level(rule.confidence)});
    descriptor["properties"] = properties;
    descriptor
}

/// The reporting descriptor of a rule known only by a finding of it.
fn descriptor_of_finding(r: &FindingRecord) -> Value {
    let mut descriptor = basic_descriptor(&r.rule, &r.rule_name);
    descriptor["properties"] = json!({"tags": ["security", "secret"]});
    descriptor
}

/// What every descriptor says of the rule `id` named `name`: ids, description and help.
fn basic_descriptor(id: &str, name: &str) -> Value {
    json!({
        "id": id,
        "name": identifier(id),
        "shortDescription": {"text": name},
        "help": {"text": format!(
            "Found in a disk image: {name}. Treat a credential found in an image as leaked: \
             revoke or rotate it, then remove it from the image and from every copy of it \
             (backups, deleted files, free space)."
        )},
    })
}

/// `bytes` percent-encoded for a URI path: all but unreserved characters and `/`.
fn percent_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `path` without `.` and empty segments (SARIF §3.10.2), with its leading `/` if it has one.
fn normalized(path: &str) -> String {
    let segments: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let joined = segments.join("/");
    if path.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

/// The artifact location of the image `image` (its path as given): a `file:` URI for an
/// absolute path, a relative reference against [`CWD_BASE`] otherwise. Returns it and
/// whether it is relative.
pub(super) fn image_location(image: &str) -> (Value, bool) {
    let mut path = normalized(image);
    if path.split('/').any(|s| s == "..") {
        // SARIF asks for the canonical path where `..` would otherwise hide a symbolic link.
        if let Ok(canonical) = std::fs::canonicalize(Path::new(image)) {
            path = canonical.to_string_lossy().into_owned();
        }
    }
    if path.starts_with('/') {
        (
            json!({"uri": format!("file://{}", percent_encode(&path))}),
            false,
        )
    } else {
        (
            json!({"uri": percent_encode(&path), "uriBaseId": CWD_BASE}),
            true,
        )
    }
}

/// The directory snapsift runs in, as an absolute `file:` URI ending in `/`.
fn cwd_uri() -> Option<String> {
    let cwd = std::env::current_dir().ok()?;
    let cwd = normalized(&cwd.to_string_lossy());
    let cwd = cwd.trim_end_matches('/');
    Some(format!("file://{}/", percent_encode(cwd)))
}

/// The result's message: what, the secret masked, and where.
///
/// `Connection URI with a password post************re in /etc/app/config.yaml (allocated,
/// inode 14), partition 1 (ext4, "root") of disk.img, disk offset 5693544.`
fn message(r: &FindingRecord) -> String {
    let masked = |secret: &str| {
        if r.redacted {
            secret.to_owned()
        } else {
            shown::mask(secret.as_bytes())
        }
    };
    let mut text = format!("{} {}", r.rule_name, masked(&r.secret));
    text.push_str(" in ");
    if let Some(location) = r.location.as_ref().filter(|l| in_a_file(l)) {
        text.push_str(&format!("{}, ", file_label(location).replace("  ", " ")));
    }
    let volume = volume_label(r.location.as_ref());
    match volume.trim() {
        "" => text.push_str(&r.image),
        volume => text.push_str(&format!("{volume} of {}", r.image)),
    }
    text.push_str(&format!(", disk offset {}.", r.offset));
    if let Some(pair) = &r.pair {
        text.push_str(&format!(
            " Paired with its secret ({} {}).",
            pair.rule,
            masked(&pair.secret)
        ));
    }
    if let Some(rejected) = &r.rejected {
        text.push_str(&format!(
            " Rejected by the {} check: {}.",
            rejected.check,
            printable(rejected.reason.as_bytes())
        ));
    }
    text
}

/// The logical location of the file the finding is in, where its path is known.
fn logical_location(r: &FindingRecord) -> Option<Value> {
    let location = r.location.as_ref()?;
    let full = r.display_path()?;
    let in_member = location.container.iter().any(|l| l.member.is_some());
    let name = full
        .rsplit(['/', '!'])
        .find(|s| !s.is_empty())
        .unwrap_or(&full)
        .to_owned();
    Some(json!({
        "name": name,
        "fullyQualifiedName": full,
        "kind": if in_member { "member" } else { "file" },
    }))
}

/// Fields of the JSON Lines object SARIF holds elsewhere (or, for `location`, inline).
const HELD_ELSEWHERE: [&str; 7] = [
    "image",
    "rule",
    "rule_name",
    "fingerprint",
    "offset",
    "length",
    "location",
];

/// The result's property bag: the JSON Lines object without what SARIF says elsewhere, with
/// its `location`'s fields inline.
fn properties(object: Value) -> Value {
    let Value::Object(mut object) = object else {
        return Value::Object(Map::new());
    };
    let location = object.remove("location");
    for key in HELD_ELSEWHERE {
        object.remove(key);
    }
    if let Some(Value::Object(location)) = location {
        for (key, value) in location {
            object.entry(key).or_insert(value);
        }
    }
    Value::Object(object)
}

impl Printer for SarifPrinter {
    fn print(&mut self, _out: &mut dyn Write, r: &FindingRecord) -> io::Result<()> {
        let rule_index = self.index_of(r);
        let (artifact, relative) = image_location(&r.image);
        self.relative |= relative;
        let region = if r.on_disk_as_such() {
            json!({"byteOffset": r.offset, "byteLength": r.length})
        } else {
            json!({"byteOffset": r.offset})
        };
        let mut location = json!({
            "physicalLocation": {"artifactLocation": artifact, "region": region},
        });
        if let Some(logical) = logical_location(r) {
            location["logicalLocations"] = json!([logical]);
        }
        let level = if r.valid { level(r.confidence) } else { "note" };
        self.results.push(json!({
            "ruleId": r.rule,
            "ruleIndex": rule_index,
            "level": level,
            "message": {"text": message(r)},
            "locations": [location],
            "partialFingerprints": {FINGERPRINT_NAME: r.fingerprint},
            "properties": properties(jsonl::finding_object(r)),
        }));
        Ok(())
    }

    fn coverage(&mut self, _out: &mut dyn Write, coverage: &ImageCoverage) -> io::Result<()> {
        self.complete &= coverage.complete;
        let (artifact, relative) = image_location(&coverage.image);
        self.relative |= relative;
        if let Some(error) = &coverage.error {
            self.notifications.push(json!({
                "level": "error",
                "message": {"text": format!("{}: not scanned: {error}", coverage.image)},
                "locations": [{"physicalLocation": {"artifactLocation": artifact.clone()}}],
            }));
        }
        for note in &coverage.notes {
            self.notifications.push(json!({
                "level": "note",
                "message": {"text": format!("{}: {note}", coverage.image)},
                "locations": [{"physicalLocation": {"artifactLocation": artifact.clone()}}],
            }));
        }
        for u in &coverage.unreadable {
            self.notifications.push(json!({
                "level": "error",
                "message": {"text": format!(
                    "{}: {} bytes at offset {} could not be read and were not scanned: {}",
                    coverage.image,
                    u.end.saturating_sub(u.start),
                    u.start,
                    u.reason
                )},
                "locations": [{"physicalLocation": {
                    "artifactLocation": artifact.clone(),
                    "region": {"byteOffset": u.start, "byteLength": u.end.saturating_sub(u.start)},
                }}],
            }));
        }
        for p in &coverage.file_problems {
            let mut notification = json!({
                "level": if p.cut_by_limit() { "error" } else { "warning" },
                "message": {"text": format!(
                    "{}: {}: {}",
                    coverage.image,
                    p.display_place(),
                    p.message
                )},
                "locations": [{"physicalLocation": {
                    "artifactLocation": artifact.clone(),
                    "region": {"byteOffset": p.offset},
                }}],
            });
            if let Some(limit) = &p.limit {
                notification["properties"] = json!({"limit": limit});
            }
            self.notifications.push(notification);
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let run = Run {
            rules: std::mem::take(&mut self.rules),
            complete: self.complete,
            notifications: std::mem::take(&mut self.notifications),
            results: std::mem::take(&mut self.results),
            relative: self.relative,
        };
        write_log(out, run)
    }
}

/// What one SARIF run of snapsift holds: the `scan` printer's and the `audit` printer's.
pub(super) struct Run {
    /// The reporting descriptors (`tool.driver.rules`).
    pub(super) rules: Vec<Value>,
    /// Whether every image was read in full (`executionSuccessful`).
    pub(super) complete: bool,
    /// `toolExecutionNotifications`.
    pub(super) notifications: Vec<Value>,
    pub(super) results: Vec<Value>,
    /// Whether some image was given by a relative path (see [`image_location`]).
    pub(super) relative: bool,
}

/// Writes the SARIF 2.1.0 log of `run`: the driver `snapsift` with its version and
/// `informationUri`, the invocation, the results and, for relative image paths, the
/// `originalUriBaseIds` entry of [`CWD_BASE`].
pub(super) fn write_log(out: &mut dyn Write, run: Run) -> io::Result<()> {
    let mut driver = json!({
        "name": "snapsift",
        "version": TOOL_VERSION,
        "semanticVersion": TOOL_VERSION,
        "rules": run.rules,
    });
    let information = [env!("CARGO_PKG_HOMEPAGE"), env!("CARGO_PKG_REPOSITORY")];
    if let Some(uri) = information.into_iter().find(|u| !u.is_empty()) {
        driver["informationUri"] = Value::from(uri);
    }
    let mut sarif_run = json!({
        "tool": {"driver": driver},
        "invocations": [{
            "executionSuccessful": run.complete,
            "toolExecutionNotifications": run.notifications,
        }],
        "results": run.results,
    });
    if run.relative
        && let Some(cwd) = cwd_uri()
    {
        sarif_run["originalUriBaseIds"] = json!({
            CWD_BASE: {
                "uri": cwd,
                "description": {"text": "The directory snapsift ran in: images given by a relative path are relative to it."},
            },
        });
    }
    let log = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [sarif_run],
    });
    escape::write_json(out, &log, true)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_become_identifiers() {
        assert_eq!(identifier("aws.access-key-id"), "AwsAccessKeyId");
        assert_eq!(
            identifier("private-key.pkcs8-encrypted"),
            "PrivateKeyPkcs8Encrypted"
        );
    }

    #[test]
    fn image_paths_become_uri_references() {
        let (abs, relative) = image_location("/srv/images//a b/./disk:1.img");
        assert!(!relative);
        assert_eq!(abs["uri"], "file:///srv/images/a%20b/disk%3A1.img");
        assert!(abs.get("uriBaseId").is_none());
        let (rel, relative) = image_location("./x/disk.img");
        assert!(relative);
        assert_eq!(rel["uri"], "x/disk.img");
        assert_eq!(rel["uriBaseId"], CWD_BASE);
        assert_eq!(percent_encode("ä%"), "%C3%A4%25");
    }
}
