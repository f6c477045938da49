//! What each image's scan covered: the coverage summary every output format carries.
//!
//! A scan that could not read some bytes still scans the rest and says which bytes it did not
//! see: [`ImageCoverage::unreadable`] lists them (disk offsets, merged into ranges), with the
//! first error met in each. An image that could not be scanned at all (not found, not an
//! image, a partition table that cannot be read) has a coverage record too, with its
//! [`ImageCoverage::error`], so that a report over many images says which ones it lacks.
//!
//! The process's exit status follows ([`crate::EXIT_PARTIAL`]): a scan with unreadable bytes
//! never exits 0 or 1.

use serde::{Deserialize, Serialize};
use snapsift_scan::{ScanSummary, Unreadable};

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
    /// Files whose contents the file pass could not read or expand in full (each is also a
    /// note on standard error); their bytes on the disk were still swept.
    pub file_problems: u64,
    /// What a reader should know about how the image was read, one sentence each: a
    /// container header at the start of a block device, not followed (the device was swept
    /// whole as raw bytes). Also on standard error, without `--quiet`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// `true` when every byte of data (of the shard, with `--shard`) was searched and the
    /// image had no error.
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
    /// The coverage of a scan of `image` (a disk of format `format`) that ran to its end.
    pub fn of_scan(
        image: &str,
        format: &str,
        summary: &ScanSummary,
        file_problems: u64,
    ) -> ImageCoverage {
        let unreadable: Vec<UnreadableRange> = summary
            .unreadable
            .iter()
            .map(UnreadableRange::from)
            .collect();
        ImageCoverage {
            image: image.to_owned(),
            format: format.to_owned(),
            disk_size: summary.disk_size,
            data_bytes: summary.data_bytes,
            scanned_bytes: summary.scanned_bytes,
            findings: summary.findings,
            unreadable_bytes: summary.unreadable_bytes(),
            complete: unreadable.is_empty(),
            unreadable,
            file_problems,
            notes: Vec::new(),
            shard: None,
            error: None,
        }
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
        self.complete = self.unreadable.is_empty();
        self.shard = Some(ShardCoverage {
            index: plan.shard.index,
            count: plan.shard.count,
            start: owned.start,
            end: owned.end,
            owned_bytes: plan.owned_bytes,
        });
    }

    /// The coverage of an image that could not be scanned to its end, for `error`.
    pub fn failed(image: &str, error: &anyhow::Error) -> ImageCoverage {
        ImageCoverage {
            image: image.to_owned(),
            complete: false,
            error: Some(format!("{error:#}")),
            ..ImageCoverage::default()
        }
    }

    /// Whether the scan ran to its end but left bytes unread.
    pub fn partial(&self) -> bool {
        self.error.is_none() && !self.unreadable.is_empty()
    }

    /// The summary for people: one line, then one line per unreadable range.
    pub fn text_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(error) = &self.error {
            lines.push(format!("{}: not scanned: {error}", self.image));
            return lines;
        }
        if self.complete {
            lines.push(format!(
                "{}: complete: {} of data scanned ({} disk)",
                self.image,
                human(self.scanned_bytes),
                human(self.disk_size)
            ));
        } else {
            lines.push(format!(
                "{}: PARTIAL: {} of data unreadable in {} range(s), {} scanned ({} disk)",
                self.image,
                human(self.unreadable_bytes),
                self.unreadable.len(),
                human(self.scanned_bytes),
                human(self.disk_size)
            ));
        }
        for u in &self.unreadable {
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
        for note in &self.notes {
            lines.push(format!("  note: {note}"));
        }
        if self.file_problems > 0 {
            lines.push(format!(
                "  {} file(s) could not be read or expanded in full (notes on standard error)",
                self.file_problems
            ));
        }
        lines
    }
}

/// `bytes` in binary units, for people.
fn human(bytes: u64) -> String {
    indicatif::BinaryBytes(bytes).to_string()
}
