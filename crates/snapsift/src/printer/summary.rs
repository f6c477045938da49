//! The coverage summary for people, as the text report ends with it.

use snapsift_engine::coverage::ImageCoverage;

/// The coverage summary of one image, for people: one line, then one line per unreadable range
/// and per file a limit cut, then the count of file problems.
pub fn coverage_lines(coverage: &ImageCoverage) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(error) = &coverage.error {
        lines.push(format!("{}: not scanned: {error}", coverage.image));
        return lines;
    }
    if coverage.complete {
        lines.push(format!(
            "{}: complete: {} of data scanned ({} disk)",
            coverage.image,
            human(coverage.scanned_bytes),
            human(coverage.disk_size)
        ));
    } else {
        let cut = coverage.cut_files();
        let cut = if cut > 0 {
            format!(", {cut} file(s) cut by a limit")
        } else {
            String::new()
        };
        lines.push(format!(
            "{}: PARTIAL: {} of data unreadable in {} range(s){cut}, {} scanned ({} disk)",
            coverage.image,
            human(coverage.unreadable_bytes),
            coverage.unreadable.len(),
            human(coverage.scanned_bytes),
            human(coverage.disk_size)
        ));
    }
    for u in &coverage.unreadable {
        lines.push(format!(
            "  unreadable: offset {} (0x{:x}) to {} (0x{:x}), {}: {}",
            u.start,
            u.start,
            u.end,
            u.end,
            human(u.end.saturating_sub(u.start)),
            u.reason
        ));
    }
    for note in &coverage.notes {
        lines.push(format!("  note: {note}"));
    }
    for p in coverage.file_problems.iter().filter(|p| p.cut_by_limit()) {
        let limit = p
            .limit
            .as_ref()
            .map_or(String::new(), |l| format!(" ({} {})", l.name, l.value));
        lines.push(format!(
            "  cut by a limit{limit}: {}: {}",
            p.display_place(),
            p.message
        ));
    }
    if !coverage.file_problems.is_empty() {
        lines.push(format!(
            "  {} file problem(s): content that could not be read or expanded in full \
             (notes on standard error)",
            coverage.file_problems.len()
        ));
    }
    lines
}

/// `bytes` in binary units, for people.
fn human(bytes: u64) -> String {
    indicatif::BinaryBytes(bytes).to_string()
}
