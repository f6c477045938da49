//! `snapsift audit --format html`: one self-contained HTML file a person opens in a browser.
//!
//! Per image: the checklist (failed items first, then warnings, then passes; each with its
//! evidence and remediation) and the disk layout drawn as inline SVG: the disk as a bar,
//! each partition a box on it proportional to its size, LVM2 logical volumes on a second
//! row, and a mark under the bar where each piece of failed or warned evidence lies on the
//! disk.
//!
//! Nothing is fetched: no script, font, image or style sheet comes from elsewhere, and the
//! page's Content-Security-Policy forbids it (`default-src 'none'`; the one inline style
//! sheet is allowed by its hash). Every string from the image (paths, users, partition
//! names, key comments) is written through [`escape::html`].

use std::fmt::Write as _;
use std::io::{self, Write};

use sha2::{Digest, Sha256};
use snapsift_audit::{Evidence, ImageAudit, Item, Status};
use snapsift_engine::mapped::DiskLayout;

use super::describe;
use crate::printer::{TOOL_VERSION, escape};

/// The page's one style sheet (allowed by its hash in the Content-Security-Policy).
const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#1d2330;background:#fff}
h1{font-size:1.6em;margin-bottom:.2em}
h2{font-size:1.25em;border-bottom:1px solid #ccd;padding-bottom:.3em;margin-top:2em;word-break:break-all}
h3{font-size:1.05em;margin:1.4em 0 .5em}
.summary{color:#555}
.badge{display:inline-block;min-width:3.2em;text-align:center;font-weight:700;font-size:.8em;padding:.15em .4em;border-radius:.3em;margin-right:.6em;color:#fff}
.badge.fail{background:#c62828}.badge.warn{background:#b26a00}.badge.pass{background:#2e7d32}
.checklist{list-style:none;padding:0;margin:0}
.item{border:1px solid #dde;border-left-width:.35em;border-radius:.3em;margin:.5em 0;padding:.5em .8em}
.item.fail{border-left-color:#c62828}.item.warn{border-left-color:#b26a00}.item.pass{border-left-color:#2e7d32;color:#444}
.item .id{color:#667;font-family:ui-monospace,monospace;font-size:.85em}
.evidence{margin:.4em 0 .2em 1.2em;padding:0;font-family:ui-monospace,monospace;font-size:.85em;word-break:break-all}
.evidence li{margin:.15em 0}
.fix{margin:.3em 0 0;font-size:.92em}.fix b{color:#333}
.error{background:#fdecea;border:1px solid #c62828;padding:.5em .8em;border-radius:.3em}
svg.layout{width:100%;height:auto;display:block;margin:.3em 0}
svg .disk{fill:#eceff1;stroke:#90a4ae}
svg .volume rect{stroke:#37474f;stroke-width:1}
svg .volume.read rect{fill:#bbdefb}svg .volume.unread rect{fill:#cfd8dc}svg .volume.lv rect{fill:#c8e6c9}
svg text{font:12px system-ui,sans-serif;fill:#1d2330}
svg .mark.fail{fill:#c62828}svg .mark.warn{fill:#b26a00}
table.volumes{border-collapse:collapse;font-size:.9em;margin-top:.4em}
table.volumes td,table.volumes th{border:1px solid #ccd;padding:.25em .6em;text-align:left}
table.volumes td.n{text-align:right;font-variant-numeric:tabular-nums}
";

/// The drawing's width, in SVG units.
const WIDTH: f64 = 1000.0;
/// The most marks drawn per image: one per SVG unit at most, and no more than this.
const MAX_MARKS: usize = 1000;

/// `bytes` for people: `32.0 MiB`.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The x position of disk offset `offset` on a disk of `disk` bytes.
fn x_of(offset: u64, disk: u64) -> f64 {
    if disk == 0 {
        return 0.0;
    }
    (offset.min(disk) as f64 / disk as f64) * WIDTH
}

/// The Content-Security-Policy of the page: nothing from anywhere, but its own style sheet.
fn policy() -> String {
    let hash = Sha256::digest(STYLE.as_bytes());
    let mut b64 = String::new();
    base64_into(&hash, &mut b64);
    format!(
        "default-src 'none'; style-src 'sha256-{b64}'; img-src 'none'; font-src 'none'; \
         connect-src 'none'; script-src 'none'; base-uri 'none'; form-action 'none'"
    )
}

/// Standard base64 (with padding) of `bytes`, appended to `out`.
fn base64_into(bytes: &[u8], out: &mut String) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let index = (n >> (18 - 6 * i)) & 63;
                out.push(char::from(ALPHABET[index as usize]));
            } else {
                out.push('=');
            }
        }
    }
}

/// Writes every image's audit as one HTML page.
pub fn write(out: &mut dyn Write, audits: &[ImageAudit]) -> io::Result<()> {
    let mut page = String::new();
    let count = |status| {
        audits
            .iter()
            .flat_map(|a| &a.items)
            .filter(|i| i.status == status)
            .count()
    };
    // Writing to a String cannot fail: the results of write! are ignored below.
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>snapsift audit</title>\n<style>{STYLE}</style>\n</head><body>\n\
         <h1>snapsift audit</h1>\n<p class=\"summary\">{} image(s): {} failed item(s), {} \
         warning(s), {} passed. snapsift {TOOL_VERSION}.</p>\n",
        policy(),
        audits.len(),
        count(Status::Fail),
        count(Status::Warn),
        count(Status::Pass),
    );
    for (n, audit) in audits.iter().enumerate() {
        image(&mut page, n, audit);
    }
    page.push_str("</body></html>\n");
    out.write_all(page.as_bytes())
}

/// One image's section: headline, layout, checklist.
fn image(page: &mut String, n: usize, audit: &ImageAudit) {
    let count = |status| audit.items.iter().filter(|i| i.status == status).count();
    let _ = write!(
        page,
        "<section class=\"image\" id=\"image-{n}\" data-status=\"{}\">\n<h2><span class=\"badge \
         {}\">{}</span>{}{}</h2>\n<p class=\"summary\">{} fail, {} warn, {} pass",
        audit.status.as_str(),
        audit.status.as_str(),
        audit.status.as_str().to_uppercase(),
        escape::html(&audit.image),
        audit
            .format
            .as_deref()
            .map(|f| format!(" ({})", escape::html(f)))
            .unwrap_or_default(),
        count(Status::Fail),
        count(Status::Warn),
        count(Status::Pass),
    );
    if !audit.filesystems.is_empty() {
        let _ = write!(
            page,
            "; filesystems read: {}",
            escape::html(&audit.filesystems.join(", "))
        );
    }
    page.push_str(".</p>\n");
    if let Some(error) = &audit.error {
        let _ = writeln!(
            page,
            "<p class=\"error\">Not audited in full: {}</p>",
            escape::html(error)
        );
    }
    if let Some(layout) = &audit.layout {
        draw_layout(page, audit, layout);
    }
    page.push_str("<h3>Checklist</h3>\n<ol class=\"checklist\">\n");
    for status in [Status::Fail, Status::Warn, Status::Pass] {
        for item in audit.items.iter().filter(|i| i.status == status) {
            write_item(page, item);
        }
    }
    page.push_str("</ol>\n</section>\n");
}

/// One item of the checklist.
fn write_item(page: &mut String, item: &Item) {
    let status = item.status.as_str();
    let _ = write!(
        page,
        "<li class=\"item {status}\" data-id=\"{}\" data-status=\"{status}\"><span class=\"badge \
         {status}\">{}</span><b>{}</b> <span class=\"id\">{}</span>",
        escape::html(&item.id),
        status.to_uppercase(),
        escape::html(&item.title),
        escape::html(&item.id),
    );
    if !item.evidence.is_empty() {
        page.push_str("\n<ul class=\"evidence\">");
        for evidence in &item.evidence {
            let _ = write!(page, "<li>{}", escape::html(&describe(evidence)));
            if let Some(offset) = evidence
                .offset
                .filter(|_| !evidence.detail.contains("offset"))
            {
                let _ = write!(page, " <span class=\"id\">(disk offset {offset})</span>");
            }
            page.push_str("</li>");
        }
        if item.evidence_omitted > 0 {
            let _ = write!(page, "<li>and {} more</li>", item.evidence_omitted);
        }
        page.push_str("</ul>");
    }
    if item.status != Status::Pass {
        let _ = write!(
            page,
            "\n<p class=\"fix\"><b>Fix:</b> {}</p>",
            escape::html(&item.remediation)
        );
    }
    page.push_str("</li>\n");
}

/// The evidence of the items that failed or warned, with their status.
fn flagged(audit: &ImageAudit) -> impl Iterator<Item = (Status, &Evidence)> {
    audit
        .items
        .iter()
        .filter(|i| i.status != Status::Pass)
        .flat_map(|i| i.evidence.iter().map(move |e| (i.status, e)))
}

/// The layout: the disk as a bar, its partitions on it, logical volumes below, a mark where
/// each flagged piece of evidence lies; then a table of the volumes with their findings.
fn draw_layout(page: &mut String, audit: &ImageAudit, layout: &DiskLayout) {
    let disk = layout.bytes;
    let has_lv = layout.volumes.iter().any(|v| v.logical_volume.is_some());
    let bar = 48.0;
    let lv_top = bar + 12.0;
    let marks_top = if has_lv {
        lv_top + bar + 8.0
    } else {
        bar + 8.0
    };
    let height = marks_top + 24.0;
    let _ = write!(
        page,
        "<h3>Disk layout</h3>\n<svg class=\"layout\" viewBox=\"0 0 {WIDTH} {height}\" \
         xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"disk layout\">\n\
         <title>{} disk, {} ({} partition scheme)</title>\n\
         <rect class=\"disk\" x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{bar}\"/>\n",
        escape::html(&audit.image),
        size(disk),
        escape::html(&layout.scheme),
    );
    for volume in &layout.volumes {
        let x = x_of(volume.start, disk);
        let end = x_of(volume.start.saturating_add(volume.bytes), disk);
        let width = (end - x).max(1.0);
        let logical = volume.logical_volume.is_some();
        let y = if logical { lv_top } else { 0.0 };
        let class = if logical {
            "volume lv"
        } else if volume.filesystem {
            "volume read"
        } else {
            "volume unread"
        };
        let label = escape::html(&volume.label);
        let _ = write!(
            page,
            "<g class=\"{class}\" data-volume=\"{label}\"><title>{label}: {} at offset {}{}</title>\
             <rect x=\"{x:.2}\" y=\"{y}\" width=\"{width:.2}\" height=\"{bar}\"/>",
            size(volume.bytes),
            volume.start,
            volume
                .name
                .as_deref()
                .map(|n| format!(", named {}", escape::html(n)))
                .unwrap_or_default(),
        );
        // A label only where it fits (about 6.5 units a character).
        let text = volume.label.chars().count() as f64 * 6.5;
        if width > text + 8.0 {
            let _ = write!(
                page,
                "<text x=\"{:.2}\" y=\"{}\">{label}</text><text x=\"{:.2}\" y=\"{}\">{}</text>",
                x + 4.0,
                y + 20.0,
                x + 4.0,
                y + 38.0,
                size(volume.bytes)
            );
        }
        page.push_str("</g>\n");
    }
    let mut drawn = vec![Status::Pass; WIDTH as usize + 1];
    let mut marks = 0usize;
    for (status, evidence) in flagged(audit) {
        let Some(offset) = evidence.offset else {
            continue;
        };
        let x = x_of(offset, disk);
        let Some(slot) = drawn.get_mut(x as usize) else {
            continue;
        };
        if *slot >= status || marks >= MAX_MARKS {
            continue;
        }
        *slot = status;
        marks += 1;
        let _ = writeln!(
            page,
            "<path class=\"mark {}\" d=\"M{x:.2} {marks_top} l-5 12 h10 z\"><title>{}</title></path>",
            status.as_str(),
            escape::html(&describe(evidence)),
        );
    }
    page.push_str("</svg>\n");
    page.push_str(
        "<p class=\"summary\">Blue: volumes whose files were read; grey: volumes snapsift reads \
         no files of; green: LVM2 logical volumes. &#9650; where a failed (red) or warned (amber) \
         item's evidence lies on the disk.</p>\n",
    );
    page.push_str(
        "<table class=\"volumes\"><tr><th>volume</th><th>start</th><th>size</th><th>holds</th>\
         <th>files read</th><th>fail / warn evidence</th></tr>\n",
    );
    for volume in &layout.volumes {
        let in_it = |status| {
            flagged(audit)
                .filter(|(s, e)| *s == status && e.volume.as_deref() == Some(&volume.label))
                .count()
        };
        let _ = writeln!(
            page,
            "<tr data-volume=\"{}\"><td>{}{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td>{}</td><td>{}</td><td class=\"n\">{} / {}</td></tr>",
            escape::html(&volume.label),
            escape::html(&volume.label),
            volume
                .name
                .as_deref()
                .map(|n| format!(" &ldquo;{}&rdquo;", escape::html(n)))
                .unwrap_or_default(),
            volume.start,
            size(volume.bytes),
            escape::html(&volume.content),
            if volume.filesystem { "yes" } else { "no" },
            in_it(Status::Fail),
            in_it(Status::Warn),
        );
    }
    page.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use snapsift_engine::mapped::VolumeLayout;

    #[test]
    fn base64_is_standard() {
        let mut out = String::new();
        base64_into(b"snapsift", &mut out);
        assert_eq!(out, "c25hcHNpZnQ=");
        out.clear();
        base64_into(b"ab", &mut out);
        assert_eq!(out, "YWI=");
    }

    #[test]
    fn names_from_the_image_never_become_markup() {
        let hostile = "<img src=x onerror=alert(1)>\"'&\u{202e}";
        let audit = ImageAudit {
            image: "disk.img".into(),
            status: Status::Fail,
            layout: Some(DiskLayout {
                bytes: 100,
                scheme: "gpt".into(),
                volumes: vec![VolumeLayout {
                    label: "partition 1 (ext4)".into(),
                    start: 10,
                    bytes: 80,
                    content: "ext4".into(),
                    partition: Some(1),
                    name: Some(hostile.into()),
                    filesystem: true,
                    ..VolumeLayout::default()
                }],
            }),
            items: vec![Item {
                id: "x".into(),
                title: "X".into(),
                category: "c".into(),
                status: Status::Fail,
                evidence: vec![Evidence {
                    path: Some(format!("/tmp/{hostile}")),
                    user: Some(hostile.into()),
                    offset: Some(50),
                    detail: "1 bytes".into(),
                    ..Evidence::default()
                }],
                evidence_omitted: 0,
                remediation: "r".into(),
            }],
            ..ImageAudit::default()
        };
        let mut out = Vec::new();
        write(&mut out, &[audit]).unwrap();
        let page = String::from_utf8(out).unwrap();
        assert!(!page.contains("<img"), "{page}");
        assert!(!page.contains('\u{202e}'), "{page}");
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;\\u{202e}"));
        assert!(page.contains("class=\"mark fail\" d=\"M500.00 "), "{page}");
        // The policy's hash is the style sheet's: the browser applies it and nothing else.
        assert!(page.contains(&policy()));
        assert!(page.contains("default-src 'none'"));
    }
}
