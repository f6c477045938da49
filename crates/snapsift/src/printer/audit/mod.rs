//! How `snapsift audit` writes its report: a checklist for people (text), one JSON document
//! (`docs/audit.md` lists its keys), a SARIF 2.1.0 log ([`sarif`]) or a self-contained HTML
//! page with the disk layout drawn ([`html`]). Text from the image (paths, users, comments,
//! options, secrets) is written escaped ([`super::escape`]).

pub mod html;
pub mod sarif;

use std::io::{self, Write};

use serde::Serialize;
use snapsift_audit::{Evidence, ImageAudit, Item, Status};

use super::escape;

/// The version of the JSON document's layout: it changes only when a key changes meaning
/// or goes away.
pub const AUDIT_JSON_VERSION: u32 = 1;

/// Writes one image's checklist: a headline, then its items, failed first, then warnings,
/// then passes (each group in the checks' order); each item with its evidence and, unless
/// it passed, its remediation.
pub fn text(out: &mut dyn Write, audit: &ImageAudit) -> io::Result<()> {
    let count = |status| audit.items.iter().filter(|i| i.status == status).count();
    let mut head = format!(
        "{}{}: {}: {} fail, {} warn, {} pass",
        audit.image,
        audit
            .format
            .as_deref()
            .map(|f| format!(" ({f})"))
            .unwrap_or_default(),
        audit.status.as_str().to_uppercase(),
        count(Status::Fail),
        count(Status::Warn),
        count(Status::Pass),
    );
    if !audit.filesystems.is_empty() {
        head.push_str(&format!("; read: {}", audit.filesystems.join(", ")));
    }
    line(out, 0, &head)?;
    if let Some(error) = &audit.error {
        line(out, 2, &format!("ERROR: {error}"))?;
    }
    for status in [Status::Fail, Status::Warn, Status::Pass] {
        for item in audit.items.iter().filter(|i| i.status == status) {
            write_item(out, item)?;
        }
    }
    writeln!(out)
}

/// One item of the checklist.
fn write_item(out: &mut dyn Write, item: &Item) -> io::Result<()> {
    let tag = match item.status {
        Status::Pass => "pass",
        Status::Warn => "WARN",
        Status::Fail => "FAIL",
    };
    line(out, 2, &format!("[{tag}] {}  ({})", item.title, item.id))?;
    for evidence in &item.evidence {
        line(out, 8, &format!("- {}", describe(evidence)))?;
    }
    if item.evidence_omitted > 0 {
        line(out, 8, &format!("- and {} more", item.evidence_omitted))?;
    }
    if item.status != Status::Pass {
        line(out, 8, &format!("fix: {}", item.remediation))?;
    }
    Ok(())
}

/// One piece of evidence on one line: where, whose, what, and the key's or finding's
/// particulars.
fn describe(e: &Evidence) -> String {
    let mut text = String::new();
    let mut place: Vec<&str> = Vec::new();
    if let Some(volume) = &e.volume {
        place.push(volume);
    }
    if let Some(path) = &e.path {
        place.push(path);
    }
    if !place.is_empty() {
        text.push_str(&place.join(": "));
        text.push_str(": ");
    }
    if let Some(user) = &e.user {
        text.push_str(&format!("user {user}: "));
    }
    text.push_str(&e.detail);
    if let Some(comment) = &e.comment {
        text.push_str(&format!(", comment {comment:?}"));
    }
    if let Some(options) = &e.options {
        text.push_str(&format!(", options {options}"));
    }
    if let Some(secret) = &e.secret {
        text.push_str(&format!(", secret {secret}"));
    }
    text
}

/// Writes `text` escaped, indented by `indent` spaces.
fn line(out: &mut dyn Write, indent: usize, text: &str) -> io::Result<()> {
    writeln!(out, "{:indent$}{}", "", escape::text(text))
}

/// The JSON document: every image's audit and how many items came out how.
#[derive(Serialize)]
struct Document<'a> {
    audit_version: u32,
    tool_version: &'static str,
    images: &'a [ImageAudit],
    summary: Summary,
}

/// The counts of a document.
#[derive(Default, Serialize)]
struct Summary {
    images: u64,
    failed_images: u64,
    errors: u64,
    items_fail: u64,
    items_warn: u64,
    items_pass: u64,
}

/// Writes every image's audit as one JSON document.
pub fn json(out: &mut dyn Write, audits: &[ImageAudit]) -> io::Result<()> {
    let mut summary = Summary::default();
    for audit in audits {
        summary.images += 1;
        summary.failed_images += u64::from(audit.status == Status::Fail);
        summary.errors += u64::from(audit.error.is_some());
        for item in &audit.items {
            match item.status {
                Status::Fail => summary.items_fail += 1,
                Status::Warn => summary.items_warn += 1,
                Status::Pass => summary.items_pass += 1,
            }
        }
    }
    let document = Document {
        audit_version: AUDIT_JSON_VERSION,
        tool_version: super::TOOL_VERSION,
        images: audits,
        summary,
    };
    escape::write_json(out, &document, true)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_the_image_are_escaped() {
        let audit = ImageAudit {
            image: "disk.img".into(),
            status: Status::Fail,
            items: vec![Item {
                id: "x".into(),
                title: "X".into(),
                category: "c".into(),
                status: Status::Fail,
                evidence: vec![Evidence {
                    path: Some("/tmp/\x1b]0;pwned\x07\nFAKE".into()),
                    user: Some("ev\u{202e}il".into()),
                    detail: "1 bytes".into(),
                    ..Evidence::default()
                }],
                evidence_omitted: 0,
                remediation: "r".into(),
            }],
            ..ImageAudit::default()
        };
        let mut out = Vec::new();
        text(&mut out, &audit).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(!out.contains('\x1b') && !out.contains('\u{202e}'), "{out}");
        assert!(out.contains("/tmp/\\u{1b}]0;pwned\\u{7}\\nFAKE"), "{out}");
        assert_eq!(out.lines().count(), 5, "{out}");
    }
}
