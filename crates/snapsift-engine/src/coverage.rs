//! What each image's scan covered: the coverage summary every output format carries.
//!
//! A scan that could not read some bytes still scans the rest and says which bytes it did not
//! see: [`ImageCoverage::unreadable`] lists them (disk offsets, merged into ranges), with the
//! first error met in each. An image that could not be scanned at all (not found, not an
//! image, a partition table that cannot be read) has a coverage record too, with its
//! [`ImageCoverage::error`], so that a report over many images says which ones it lacks.
//!
//! An encrypted volume (LUKS1, LUKS2, BitLocker) is swept as it is, but its contents cannot
//! be read without its key: its bytes of data are listed as unreadable too, with the reason
//! `encrypted (LUKS2)` ([`ImageCoverage::add_unreadable`]), so such a scan is never complete.
//!
//! Content a limit of the file pass cut (an archive nested too deep, a suspected
//! decompression bomb, too many members...) was not searched either:
//! [`ImageCoverage::file_problems`] lists every file the pass could not read or expand in
//! full, and one that a limit cut makes the coverage incomplete too.
//!
//! The `snapsift` binary's exit status follows: a scan with unreadable bytes or content cut by
//! a limit never exits 0 or 1.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use snapsift_scan::{ScanSummary, Unreadable};

use crate::Layer;
use crate::place::path_with_members;
use crate::shard::ShardPlan;

/// What the scan of one image covered.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageCoverage {
    /// The image, as given on the command line.
    pub image: String,
    /// What the image is (`qcow2 image`, `block device`); empty if it could not be opened.
    pub format: String,
    /// The size of the disk in bytes.
    pub disk_size: u64,
    /// The bytes of the disk that hold data (the rest reads as zeros and needs no reading).
    pub data_bytes: u64,
    /// The bytes of data read and searched.
    pub scanned_bytes: u64,
    /// The findings reported for the image.
    pub findings: u64,
    /// The bytes in `unreadable`.
    pub unreadable_bytes: u64,
    /// The bytes of data that could not be read, in disk order.
    pub unreadable: Vec<UnreadableRange>,
    /// What the file pass could not read or expand in full, one record per problem (each is
    /// also a note on standard error); the files' bytes on the disk were still swept.
    pub file_problems: Vec<FileProblem>,
    /// What a reader should know about how the image was read, one sentence each: a
    /// container header at the start of a block device, not followed (the device was swept
    /// whole as raw bytes); a volume recovered by its superblock where no partition table
    /// names one. Also on standard error, without `--quiet`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// `true` when every byte of data (of the shard, with `--shard`) was searched, no limit
    /// cut a file's content (no `file_problems` with a `limit`) and the image had no error.
    pub complete: bool,
    /// With `--shard`: which part of the image this scan covered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardCoverage>,
    /// Why the image could not be scanned (to the end), if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One range of unreadable bytes, as the JSON formats write it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnreadableRange {
    /// Disk offset of the first byte.
    pub start: u64,
    /// Disk offset one past the last byte.
    pub end: u64,
    /// Why the first of them could not be read.
    pub reason: String,
}

/// One problem of the file pass: content of one file it could not read or expand in full, as
/// the JSON formats write it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileProblem {
    /// The file's path in the image; `null` for a file without one (deleted, orphaned).
    pub path: Option<String>,
    /// The disk offset of the file's first byte (the file's volume's start when none of its
    /// bytes lies on the disk as such): where to find a file without a path.
    pub offset: u64,
    /// The archive members and decodings from the file down to the problem, outermost
    /// first, each `{"kind", "member"}`; empty for the file itself.
    #[serde(default)]
    pub container: Vec<Layer>,
    /// The limit that cut the content, if a limit did; `null` for data that is corrupt,
    /// encrypted or in an unsupported format.
    #[serde(default)]
    pub limit: Option<LimitRecord>,
    /// What happened, for people.
    pub message: String,
}

/// A limit of the file pass and its value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitRecord {
    /// `max_depth` (layers), `expansion_budget` (bytes one file may decompress to),
    /// `max_entries` (members of one archive), `max_buffered` (bytes of nested zips held in
    /// memory), `max_zstd_window` or `xz_memory` (bytes of decoder memory).
    pub name: String,
    /// Its value.
    pub value: u64,
}

impl FileProblem {
    /// The file's path with its archive members (`/backup.tar.gz!/db/app.env`), or its disk
    /// offset when it has no path.
    pub fn display_place(&self) -> String {
        let members = self.container.iter().filter_map(|l| l.member.as_deref());
        match &self.path {
            Some(path) => path_with_members(path, members),
            None => path_with_members(&format!("(file at disk offset {})", self.offset), members),
        }
    }

    /// Whether a limit cut the content: then it was not all searched.
    pub fn cut_by_limit(&self) -> bool {
        self.limit.is_some()
    }
}

/// The part of an image one shard scanned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardCoverage {
    /// K, from 0.
    pub index: u64,
    /// N.
    pub count: u64,
    /// The disk offsets the shard owns: from `start`...
    pub start: u64,
    /// ...to `end`.
    pub end: u64,
    /// The bytes of data among them.
    pub owned_bytes: u64,
}

impl From<&Unreadable> for UnreadableRange {
    fn from(u: &Unreadable) -> Self {
        UnreadableRange {
            start: u.range.start,
            end: u.range.end,
            reason: u.reason.clone(),
        }
    }
}

impl ImageCoverage {
    /// The coverage of a scan of `image` (a disk of format `format`) that ran to its end,
    /// with what its file pass could not read or expand.
    pub fn of_scan(
        image: &str,
        format: &str,
        summary: &ScanSummary,
        file_problems: Vec<FileProblem>,
    ) -> ImageCoverage {
        let unreadable: Vec<UnreadableRange> = summary
            .unreadable
            .iter()
            .map(UnreadableRange::from)
            .collect();
        let mut coverage = ImageCoverage {
            image: image.to_owned(),
            format: format.to_owned(),
            disk_size: summary.disk_size,
            data_bytes: summary.data_bytes,
            scanned_bytes: summary.scanned_bytes,
            findings: summary.findings,
            unreadable_bytes: summary.unreadable_bytes(),
            complete: false,
            unreadable,
            file_problems,
            notes: Vec::new(),
            shard: None,
            error: None,
        };
        coverage.complete = coverage.covers_all();
        coverage
    }

    /// Lists `ranges` (sorted) as unreadable too, less what is listed already (with its own
    /// reason), and no longer counts their bytes as scanned.
    pub fn add_unreadable(&mut self, ranges: Vec<UnreadableRange>) {
        for range in ranges {
            let mut pieces = Vec::new();
            let mut start = range.start;
            for known in &self.unreadable {
                if known.end <= start || known.start >= range.end {
                    continue;
                }
                if known.start > start {
                    pieces.push(start..known.start);
                }
                start = start.max(known.end);
            }
            if start < range.end {
                pieces.push(start..range.end);
            }
            for piece in pieces {
                let len = piece.end.saturating_sub(piece.start);
                self.unreadable_bytes = self.unreadable_bytes.saturating_add(len);
                self.scanned_bytes = self.scanned_bytes.saturating_sub(len);
                self.unreadable.push(UnreadableRange {
                    start: piece.start,
                    end: piece.end,
                    reason: range.reason.clone(),
                });
            }
            self.unreadable.sort_by_key(|u| u.start);
        }
        self.complete = self.covers_all();
    }

    /// Whether this record says everything was searched: no error, no unreadable bytes, no
    /// file content cut by a limit.
    pub fn covers_all(&self) -> bool {
        self.error.is_none()
            && self.unreadable.is_empty()
            && !self.file_problems.iter().any(FileProblem::cut_by_limit)
    }

    /// How many files a limit cut (one may have several problems).
    pub fn cut_files(&self) -> usize {
        self.file_problems
            .iter()
            .filter(|p| p.cut_by_limit())
            .map(|p| (p.path.as_deref(), p.offset))
            .collect::<HashSet<_>>()
            .len()
    }

    /// Restricts the coverage of a shard's scan (which swept margins beyond its own bytes)
    /// to the bytes the shard owns; `data_bytes` stays the whole image's.
    pub fn restrict_to_shard(&mut self, plan: &ShardPlan) {
        let owned = plan.owned();
        self.unreadable = std::mem::take(&mut self.unreadable)
            .into_iter()
            .filter_map(|u| {
                let start = u.start.max(owned.start);
                let end = u.end.min(owned.end);
                (start < end).then_some(UnreadableRange { start, end, ..u })
            })
            .collect();
        self.unreadable_bytes = self.unreadable.iter().map(|u| u.end - u.start).sum();
        self.data_bytes = plan.data_bytes;
        self.scanned_bytes = plan.owned_bytes.saturating_sub(self.unreadable_bytes);
        self.complete = self.covers_all();
        self.shard = Some(ShardCoverage {
            index: plan.shard.index,
            count: plan.shard.count,
            start: owned.start,
            end: owned.end,
            owned_bytes: plan.owned_bytes,
        });
    }

    /// The coverage of an image that could not be scanned to its end, for `error` (the
    /// whole chain of its causes, on one line).
    pub fn failed(image: &str, error: String) -> ImageCoverage {
        ImageCoverage {
            image: image.to_owned(),
            complete: false,
            error: Some(error),
            ..ImageCoverage::default()
        }
    }

    /// Whether the scan ran to its end but left something unsearched: bytes it could not
    /// read, or file content a limit cut.
    pub fn partial(&self) -> bool {
        self.error.is_none() && !self.complete
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(start: u64, end: u64, reason: &str) -> UnreadableRange {
        UnreadableRange {
            start,
            end,
            reason: reason.into(),
        }
    }

    #[test]
    fn added_ranges_skip_what_is_listed_and_are_not_scanned() {
        let mut coverage = ImageCoverage {
            data_bytes: 1000,
            scanned_bytes: 990,
            unreadable_bytes: 10,
            unreadable: vec![range(100, 110, "I/O")],
            complete: false,
            ..ImageCoverage::default()
        };
        coverage.add_unreadable(vec![
            range(50, 200, "encrypted (LUKS2)"),
            range(150, 300, "encrypted (LUKS1)"),
        ]);
        let listed: Vec<(u64, u64, &str)> = coverage
            .unreadable
            .iter()
            .map(|u| (u.start, u.end, u.reason.as_str()))
            .collect();
        assert_eq!(
            listed,
            vec![
                (50, 100, "encrypted (LUKS2)"),
                (100, 110, "I/O"),
                (110, 200, "encrypted (LUKS2)"),
                (200, 300, "encrypted (LUKS1)"),
            ]
        );
        assert_eq!(coverage.unreadable_bytes, 250);
        assert_eq!(coverage.scanned_bytes + coverage.unreadable_bytes, 1000);
        assert!(!coverage.complete);
        let mut whole = ImageCoverage {
            complete: true,
            ..ImageCoverage::default()
        };
        whole.add_unreadable(Vec::new());
        assert!(whole.complete);
    }
}
