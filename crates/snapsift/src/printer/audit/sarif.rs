//! `snapsift audit --format sarif`: the checklist as one SARIF 2.1.0 log, for the dashboards
//! that read scanners' SARIF (the `scan` printer's log, [`crate::printer::sarif`], with a
//! rule per check instead of per secret rule).

use std::io::{self, Write};

use serde_json::{Value, json};
use snapsift_audit::{CheckSet, Evidence, ImageAudit, Item, Status};

use super::describe;
use crate::printer::sarif::{Run, identifier, image_location, write_log};

/// The SARIF level of a status (a pass is no result).
fn level(status: Status) -> &'static str {
    match status {
        Status::Fail => "error",
        Status::Warn => "warning",
        Status::Pass => "none",
    }
}

/// The reporting descriptor of one check: its id, title, remediation (as `help`), the level
/// a finding earns and its category and kind.
fn descriptor(check: &snapsift_audit::Check) -> Value {
    json!({
        "id": check.id,
        "name": identifier(&check.id),
        "shortDescription": {"text": check.title},
        "help": {"text": check.remediation},
        "defaultConfiguration": {"level": level(check.status)},
        "properties": {
            "category": check.category,
            "kind": check.kind,
            "tags": ["security", "image-cleanup", check.category.as_str()],
        },
    })
}

/// One location of a result: the image (with the region where the evidence lies on its disk,
/// where known), the file as a logical location, the evidence in a few words as its message,
/// and every field of the evidence but the path in its properties (`volume` among them).
fn location(id: usize, image_artifact: &Value, evidence: &Evidence) -> Value {
    let mut physical = json!({"artifactLocation": image_artifact});
    if let Some(offset) = evidence.offset {
        physical["region"] = json!({"byteOffset": offset});
    }
    let mut location = json!({
        "id": id,
        "physicalLocation": physical,
        "message": {"text": describe(evidence)},
    });
    if let Some(path) = &evidence.path {
        let name = path
            .rsplit('/')
            .find(|s| !s.is_empty())
            .unwrap_or(path)
            .to_owned();
        location["logicalLocations"] = json!([{
            "name": name,
            "fullyQualifiedName": path,
            "kind": "file",
        }]);
    }
    if let Ok(Value::Object(mut properties)) = serde_json::to_value(evidence) {
        properties.remove("path");
        properties.remove("detail");
        properties.remove("offset");
        if !properties.is_empty() {
            location["properties"] = Value::Object(properties);
        }
    }
    location
}

/// The result of an item that failed or warned: its check, level, a message (the title, how
/// much evidence, the remediation) and a location per piece of evidence.
fn result(audit: &ImageAudit, item: &Item, rule_index: Option<usize>) -> Value {
    let (artifact, _) = image_location(&audit.image);
    let locations: Vec<Value> = item
        .evidence
        .iter()
        .enumerate()
        .map(|(id, e)| location(id, &artifact, e))
        .collect();
    let pieces = u64::try_from(item.evidence.len())
        .unwrap_or(u64::MAX)
        .saturating_add(item.evidence_omitted);
    let mut result = json!({
        "ruleId": item.id,
        "level": level(item.status),
        "message": {"text": format!(
            "{}: {} in {} ({pieces} piece(s) of evidence). Fix: {}",
            item.title,
            item.status.as_str(),
            audit.image,
            item.remediation
        )},
        "locations": if locations.is_empty() {
            vec![json!({"physicalLocation": {"artifactLocation": artifact}})]
        } else {
            locations
        },
        "partialFingerprints": {"snapsiftAuditItem/v1": format!("{}:{}", audit.image, item.id)},
        "properties": {
            "status": item.status,
            "category": item.category,
            "image": audit.image,
            "evidence_omitted": item.evidence_omitted,
        },
    });
    if let Some(index) = rule_index {
        result["ruleIndex"] = json!(index);
    }
    result
}

/// Writes every image's audit as one SARIF 2.1.0 log: one run whose driver has a rule per
/// check in force (built-in and `--checks`), whose results are the items that failed or
/// warned (a passing item is no result), and whose invocation is unsuccessful when an
/// image could not be audited (an `error` notification says why).
pub fn write(out: &mut dyn Write, checks: &CheckSet, audits: &[ImageAudit]) -> io::Result<()> {
    let rules: Vec<Value> = checks.checks.iter().map(descriptor).collect();
    let mut results = Vec::new();
    let mut notifications = Vec::new();
    let mut relative = false;
    for audit in audits {
        let (artifact, is_relative) = image_location(&audit.image);
        relative |= is_relative;
        if let Some(error) = &audit.error {
            notifications.push(json!({
                "level": "error",
                "message": {"text": format!("{}: not audited: {error}", audit.image)},
                "locations": [{"physicalLocation": {"artifactLocation": artifact}}],
            }));
        }
        for item in audit.items.iter().filter(|i| i.status != Status::Pass) {
            let index = checks.checks.iter().position(|c| c.id == item.id);
            results.push(result(audit, item, index));
        }
    }
    let run = Run {
        rules,
        complete: audits.iter().all(|a| a.error.is_none()),
        notifications,
        results,
        relative,
    };
    write_log(out, run)
}
