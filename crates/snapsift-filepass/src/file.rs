//! One file of the file pass: its head sniffed, then either expanded (containers, UTF-16
//! text) or read around its seams.

use std::collections::HashSet;
use std::io::Read;
use std::ops::Range;
use std::sync::Arc;

use snapsift_disk::Disk;
use snapsift_fs::{FileContent, Piece};
use snapsift_scan::{Finding, ReadScanner};
use snapsift_unpack::{BufferPool, Layer, Leaf, LeafEncoding, LimitReached, Limits, Visitor};

use crate::{FileFinding, FilePassSummary, Problem};

/// Bytes of a file's head given to the sniffer.
const HEAD: u64 = 4096;

/// What one file gave.
#[derive(Default)]
pub(crate) struct FileOutput<'m> {
    pub(crate) findings: Vec<FileFinding<'m>>,
    pub(crate) problems: Vec<Problem>,
    pub(crate) summary: FilePassSummary,
}

/// Reads one file of a filesystem.
pub(crate) struct FileReader<'a> {
    pub(crate) disk: &'a dyn Disk,
    /// The volume's first byte on the disk.
    pub(crate) volume_start: u64,
    /// The file's index in the filesystem's list.
    pub(crate) index: usize,
    /// The file's contents.
    pub(crate) content: &'a FileContent,
    pub(crate) limits: &'a Limits,
    /// The memory for nested zips, shared by the pass's threads.
    pub(crate) buffers: &'a Arc<BufferPool>,
    /// Bytes read on each side of a seam: enough for any match that crosses it, with its
    /// look-around and context line.
    pub(crate) seam_radius: u64,
}

impl FileReader<'_> {
    /// Scans the file: sniffs its head, then expands it or reads around its seams.
    pub(crate) fn scan<'m>(&self, scanner: &mut ReadScanner<'m>) -> FileOutput<'m> {
        let mut out = FileOutput::default();
        let content = self.content;
        if content.size == 0 {
            return out;
        }
        out.summary.files = 1;
        let mut head = vec![0u8; usize::try_from(content.size.min(HEAD)).unwrap_or(0)];
        if let Err(error) = content.read_at(self.disk, self.volume_start, 0, &mut head) {
            self.problem(
                &mut out,
                Vec::new(),
                format!("cannot read the file: {error}"),
            );
            return out;
        }
        if snapsift_unpack::sniff(&head).is_some() {
            self.expand(scanner, &mut out);
        } else if has_hidden_bytes(content) {
            self.whole_file(scanner, &mut out);
        } else {
            self.around_seams(scanner, &mut out);
        }
        out
    }

    /// Scans the whole file, keeping the findings that do not lie contiguously on the disk:
    /// for files with bytes the sweep cannot read as they are (NTFS compression units,
    /// held bytes an update sequence interrupts).
    fn whole_file<'m>(&self, scanner: &mut ReadScanner<'m>, out: &mut FileOutput<'m>) {
        let content = self.content;
        let mut found = Vec::new();
        let mut reader = content.reader(self.disk, self.volume_start);
        if let Err(error) = scanner.scan(&mut reader, &mut |f| found.push(f)) {
            self.problem(out, Vec::new(), format!("cannot read the file: {error}"));
        }
        for finding in found {
            let start = finding.offset;
            let end = start.saturating_add(finding.length());
            if content.volume_range(start..end).is_none() {
                out.findings
                    .push(self.in_file_bytes(finding, start, Vec::new()));
            }
        }
    }

    /// Expands the file and scans every leaf.
    fn expand<'m>(&self, scanner: &mut ReadScanner<'m>, out: &mut FileOutput<'m>) {
        out.summary.expanded = 1;
        let content = self.content;
        let root = content.reader(self.disk, self.volume_start);
        let mut visitor = LeafScanner {
            file: self,
            scanner,
            out,
        };
        let expanded = snapsift_unpack::unpack_with_pool(
            root,
            content.size,
            self.limits,
            self.buffers,
            &mut visitor,
        );
        if let Err(error) = expanded {
            let message = format!("cannot expand the file: {error}");
            self.problem(visitor.out, Vec::new(), message);
        }
    }

    /// Reads the file around each seam and keeps the findings that cross one and do not lie
    /// contiguously on the disk (the sweep sees the others).
    fn around_seams<'m>(&self, scanner: &mut ReadScanner<'m>, out: &mut FileOutput<'m>) {
        let content = self.content;
        let seams = content.seams();
        if seams.is_empty() {
            return;
        }
        out.summary.seams = seams.len() as u64;
        let mut seen: HashSet<(String, u64)> = HashSet::new();
        for (window, inside) in seam_windows(&seams, self.seam_radius, content.size) {
            let mut bytes =
                vec![0u8; usize::try_from(window.end.saturating_sub(window.start)).unwrap_or(0)];
            if let Err(error) =
                content.read_at(self.disk, self.volume_start, window.start, &mut bytes)
            {
                let message = format!("cannot read bytes {window:?} of the file: {error}");
                self.problem(out, Vec::new(), message);
                continue;
            }
            let mut found = Vec::new();
            let _ = scanner.scan(&mut bytes.as_slice(), &mut |f| found.push(f));
            for finding in found {
                let start = window.start.saturating_add(finding.offset);
                let end = start.saturating_add(finding.length());
                let crosses = inside.iter().any(|&s| start < s && s < end);
                if !crosses || content.volume_range(start..end).is_some() {
                    continue;
                }
                if !seen.insert((finding.rule.id.clone(), start)) {
                    continue;
                }
                out.findings
                    .push(self.in_file_bytes(finding, start, Vec::new()));
            }
        }
    }

    /// A finding in the file's own bytes at file offset `start`.
    fn in_file_bytes<'m>(
        &self,
        mut finding: Finding<'m>,
        start: u64,
        chain: Vec<Layer>,
    ) -> FileFinding<'m> {
        let content = self.content;
        let end = start.saturating_add(finding.length());
        let on_disk = content.volume_range(start..end).map(|r| self.disk_range(r));
        finding.offset = match &on_disk {
            Some(range) => range.start,
            None => self.disk_offset_of(content, start),
        };
        FileFinding {
            finding,
            file: self.index,
            chain,
            file_offset: Some(start),
            decoded_offset: None,
            encoding: None,
            on_disk,
        }
    }

    /// A finding in decoded bytes, at `decoded` in the innermost layer of `chain`.
    fn in_decoded<'m>(
        &self,
        mut finding: Finding<'m>,
        decoded: u64,
        chain: Vec<Layer>,
        encoding: LeafEncoding,
    ) -> FileFinding<'m> {
        finding.offset = self.disk_offset_of(self.content, 0);
        FileFinding {
            finding,
            file: self.index,
            chain,
            file_offset: None,
            decoded_offset: Some(decoded),
            encoding: (encoding != LeafEncoding::Bytes).then_some(encoding),
            on_disk: None,
        }
    }

    /// The disk offset of the file's byte `at`, or of the first byte after it that lies on
    /// the disk, or the volume's start if none does.
    fn disk_offset_of(&self, content: &FileContent, at: u64) -> u64 {
        // The span holding `at` comes first (its start clipped to `at`), then the ones after.
        let on_disk = content.spans.iter().filter(|s| s.end() > at).find_map(|s| {
            let from = s.start.max(at);
            content.volume_range(from..from.saturating_add(1))
        });
        match on_disk {
            Some(range) => self.volume_start.saturating_add(range.start),
            None => self.volume_start,
        }
    }

    fn disk_range(&self, volume: Range<u64>) -> Range<u64> {
        self.volume_start.saturating_add(volume.start)..self.volume_start.saturating_add(volume.end)
    }

    /// Reports a problem that is not a limit (the file cannot be read).
    fn problem(&self, out: &mut FileOutput<'_>, chain: Vec<Layer>, message: String) {
        self.problem_with(out, chain, None, message);
    }

    fn problem_with(
        &self,
        out: &mut FileOutput<'_>,
        chain: Vec<Layer>,
        limit: Option<LimitReached>,
        message: String,
    ) {
        out.problems.push(Problem {
            file: self.index,
            disk_offset: self.disk_offset_of(self.content, 0),
            chain,
            limit,
            message,
        });
    }
}

/// Whether some of the file's bytes lie nowhere on the disk as they read (compressed, or
/// interrupted by an update sequence): then the sweep cannot see them, seam or not.
fn has_hidden_bytes(content: &FileContent) -> bool {
    content.spans.iter().any(|span| match &span.piece {
        Piece::Volume(_) | Piece::Zeros | Piece::Held { at: Some(_), .. } => false,
        // Held bytes interrupted on disk, compression units, and whatever comes next.
        _ => true,
    })
}

/// Windows around `seams` (sorted): each seam with `radius` bytes on each side, clipped to
/// the file, windows that touch merged, each with the seams inside it.
fn seam_windows(seams: &[u64], radius: u64, size: u64) -> Vec<(Range<u64>, Vec<u64>)> {
    let mut windows: Vec<(Range<u64>, Vec<u64>)> = Vec::new();
    for &seam in seams {
        let window = seam.saturating_sub(radius)..seam.saturating_add(radius).min(size);
        match windows.last_mut() {
            Some((last, inside)) if window.start <= last.end => {
                last.end = last.end.max(window.end);
                inside.push(seam);
            }
            _ => windows.push((window, vec![seam])),
        }
    }
    windows
}

/// The unpacking visitor: scans each leaf and places its findings.
struct LeafScanner<'a, 'b, 'm> {
    file: &'a FileReader<'a>,
    scanner: &'b mut ReadScanner<'m>,
    out: &'b mut FileOutput<'m>,
}

impl Visitor for LeafScanner<'_, '_, '_> {
    type Error = std::convert::Infallible;

    fn leaf(&mut self, leaf: &Leaf<'_>, content: &mut dyn Read) -> Result<(), Self::Error> {
        self.out.summary.leaves = self.out.summary.leaves.saturating_add(1);
        let mut found = Vec::new();
        let scanned = self.scanner.scan(content, &mut |f| found.push(f));
        let chain = leaf.chain.to_vec();
        match scanned {
            Ok(len) => {
                self.out.summary.leaf_bytes = self.out.summary.leaf_bytes.saturating_add(len);
            }
            Err(error) => {
                let message = format!("cannot read to the end: {error}");
                self.file.problem(self.out, chain.clone(), message);
            }
        }
        for finding in found {
            let placed = match leaf.origin {
                Some(origin) => {
                    let start = origin.saturating_add(finding.offset);
                    self.file.in_file_bytes(finding, start, chain.clone())
                }
                None => {
                    let decoded = finding.offset;
                    self.file
                        .in_decoded(finding, decoded, chain.clone(), leaf.encoding)
                }
            };
            self.out.findings.push(placed);
        }
        Ok(())
    }

    fn problem(
        &mut self,
        chain: &[Layer],
        problem: &snapsift_unpack::Problem,
    ) -> Result<(), Self::Error> {
        self.file.problem_with(
            self.out,
            chain.to_vec(),
            problem.limit(),
            problem.to_string(),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_merge_and_clip() {
        assert_eq!(
            seam_windows(&[10, 30, 100], 15, 110),
            vec![(0..45, vec![10, 30]), (85..110, vec![100])]
        );
        assert!(seam_windows(&[], 15, 110).is_empty());
    }
}
