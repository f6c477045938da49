//! `--shard K/N`: one of N deterministic parts of an image, so that N processes (on N
//! machines) scan one image together and their reports add up to one full scan.
//!
//! # Which bytes a shard owns
//!
//! The image's data ranges (the bytes the disk layer says hold data; the same list for every
//! process that opens the same image) are laid end to end, and cut into N runs of about equal
//! length; each cut is moved down to a 4 KiB boundary of the disk (never before the start of
//! its data range), so that shards read aligned windows. Shard K owns the disk offsets from
//! cut K to cut K + 1. Cuts depend only on the data ranges and N: not on the chunk size,
//! threads or machine. N is at most [`MAX_SHARDS`]; a cut is worked out when it is needed,
//! so a plan's memory does not grow with N.
//!
//! # Nothing lost, nothing doubled
//!
//! A shard sweeps its own bytes and [`MARGIN`] more on each side, runs the file pass over
//! every file with a byte in that stretch (and the files whose home it is, below), pairs IDs
//! with their secrets over all it found, as a full scan does, and then reports only:
//! * a finding on the disk's bytes (the sweep's, or the file pass's at a file's bytes) whose
//!   offset it owns;
//! * a finding in a file's decoded bytes (a member of a compressed archive, UTF-16 text) of a
//!   file whose **home** it is: the shard that owns the file's first byte on the disk (or, for
//!   a file with no byte on the disk, file number modulo N).
//!
//! Every finding of a full scan has one offset and one file, so exactly one shard reports it.
//! The margin, far wider than the widest match and than the distance over which an ID pairs
//! with its secret (2 KiB in the built-in rules), gives each shard the same neighbours a full
//! scan sees around the findings it keeps.

use std::collections::HashSet;
use std::ops::Range;

use snapsift_fs::{FileContent, Filesystem, Piece, VolumeMap};
use snapsift_scan::intersect;

use crate::EngineError;
use crate::place::Located;
use crate::report::Reported;

/// Bytes swept beyond a shard's own on each side.
pub const MARGIN: u64 = 1 << 20;

/// Cuts are moved down to a multiple of this.
const ALIGN: u64 = 4096;

/// The most shards an image is cut into: far more machines than a scan is ever split
/// between, and a count whose cuts stay cheap to find.
pub const MAX_SHARDS: u64 = 1_000_000;

/// Part K (from 0) of N.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// K: 0 to N - 1.
    pub index: u64,
    /// N: at least 1.
    pub count: u64,
}

impl Shard {
    /// Part `index` (from 0) of `count`: `count` from 1 to [`MAX_SHARDS`], `index` below it.
    pub fn new(index: u64, count: u64) -> Result<Shard, EngineError> {
        if count > MAX_SHARDS {
            return Err(EngineError::TooManyShards { index, count });
        }
        if count == 0 || index >= count {
            return Err(EngineError::NoSuchShard { index, count });
        }
        Ok(Shard { index, count })
    }
}

/// The cuts of one image into N shards, and what shard K sweeps and keeps.
#[derive(Clone, Debug)]
pub struct ShardPlan {
    /// The shard.
    pub shard: Shard,
    /// The data ranges of the disk, each with its start in the data laid end to end.
    data: Vec<(Range<u64>, u64)>,
    /// The size of the disk.
    disk_size: u64,
    /// The disk ranges this shard sweeps: its own data and the margins around it.
    pub swept: Vec<Range<u64>>,
    /// The data bytes it owns.
    pub owned_bytes: u64,
    /// The data bytes of the whole image.
    pub data_bytes: u64,
}

impl ShardPlan {
    /// Cuts a disk of `disk_size` bytes whose data lies in `data_ranges` (sorted, disjoint).
    pub fn new(shard: Shard, data_ranges: &[Range<u64>], disk_size: u64) -> ShardPlan {
        let mut total = 0u64;
        let data = data_ranges
            .iter()
            .map(|r| {
                let start = total;
                total += r.end - r.start;
                (r.clone(), start)
            })
            .collect();
        let mut plan = ShardPlan {
            shard,
            data,
            disk_size,
            swept: Vec::new(),
            owned_bytes: 0,
            data_bytes: total,
        };
        let own = plan.owned();
        let reach = own.start.saturating_sub(MARGIN)..own.end.saturating_add(MARGIN);
        plan.swept = intersect(data_ranges, &[reach]);
        plan.owned_bytes = intersect(data_ranges, &[own])
            .iter()
            .map(|r| r.end - r.start)
            .sum();
        plan
    }

    /// Cut `k` (0 to N): shard k owns `cut(k)..cut(k + 1)`. Cut 0 is the disk's start, cut N
    /// its end, and cut k between them the disk offset of byte k * total / N of the data
    /// ([`ShardPlan::offset_at`]); they never decrease, since offsets of data never do as
    /// the data's bytes go on.
    fn cut(&self, k: u64) -> u64 {
        let count = self.shard.count;
        if k == 0 {
            return 0;
        }
        if k >= count {
            // Past the last data range too, were the ranges to reach past the disk's size.
            return self.disk_size.max(self.cut(count - 1));
        }
        // k * total / count without overflow: both fit in u128.
        let position = (u128::from(k) * u128::from(self.data_bytes) / u128::from(count)) as u64;
        self.offset_at(position).unwrap_or(self.disk_size)
    }

    /// The disk offset of byte `position` of the data laid end to end, moved down to an
    /// [`ALIGN`] boundary within its range; `None` past the end of the data.
    fn offset_at(&self, position: u64) -> Option<u64> {
        if position >= self.data_bytes {
            return None;
        }
        // The last range starting at or before the position: empty ranges before a range
        // that starts at the same position are passed over.
        let i = self
            .data
            .partition_point(|(_, start)| *start <= position)
            .checked_sub(1)?;
        let (range, start) = &self.data[i];
        let exact = range.start + (position - start);
        (exact < range.end).then(|| (exact - exact % ALIGN).max(range.start))
    }

    /// The disk offsets this shard owns.
    pub fn owned(&self) -> Range<u64> {
        let k = self.shard.index;
        self.cut(k)..self.cut(k + 1)
    }

    /// Whether this shard owns disk offset `offset`.
    pub fn owns(&self, offset: u64) -> bool {
        self.owned().contains(&offset)
    }

    /// The shard that owns disk offset `offset`: the last cut at or before it (cut 0 is 0),
    /// found by bisection.
    fn shard_of(&self, offset: u64) -> u64 {
        let (mut low, mut high) = (0u64, self.shard.count);
        while low < high {
            let middle = low + (high - low).div_ceil(2);
            if self.cut(middle) <= offset {
                low = middle;
            } else {
                high = middle - 1;
            }
        }
        low.min(self.shard.count - 1)
    }

    /// Whether this shard is the home of file `id` with `content` (in the volume starting at
    /// `volume_start`): it owns the file's first byte on the disk, or, for a file with none,
    /// the file's number modulo N does.
    pub fn is_home(&self, volume_start: u64, id: u64, content: &FileContent) -> bool {
        let home = match disk_ranges(volume_start, content).map(|r| r.start).min() {
            Some(first) => self.shard_of(first),
            None => id % self.shard.count,
        };
        home == self.shard.index
    }

    /// Whether the file pass of this shard reads file `id` with `content`: its home, or a
    /// file with bytes in the stretch the shard sweeps (so that findings on those bytes keep
    /// the file pass's richer location, as in a full scan).
    pub fn reads(&self, volume_start: u64, id: u64, content: &FileContent) -> bool {
        let own = self.owned();
        let reach = own.start.saturating_sub(MARGIN)..own.end.saturating_add(MARGIN);
        self.is_home(volume_start, id, content)
            || disk_ranges(volume_start, content)
                .any(|r| r.start < reach.end && reach.start < r.end)
    }
}

/// The files (volume start, file number) whose home is `plan`'s shard.
pub fn homes(
    plan: &ShardPlan,
    volumes: Option<&VolumeMap>,
    filesystems: &[Option<Box<dyn Filesystem>>],
) -> HashSet<(u64, u64)> {
    let Some(volumes) = volumes else {
        return HashSet::new();
    };
    let mut homes = HashSet::new();
    for (volume, fs) in volumes.volumes.iter().zip(filesystems) {
        let Some(fs) = fs else { continue };
        let start = volume.range.start;
        let files = fs.files();
        for index in 0..files.len() {
            let (Some(id), Some(content)) = (files.id(index), files.content(index)) else {
                continue;
            };
            if plan.is_home(start, id, &content) {
                homes.insert((start, id));
            }
        }
    }
    homes
}

/// Whether `plan`'s shard reports `r` (see the module docs); `homes` are its files.
pub fn keeps(plan: &ShardPlan, homes: &HashSet<(u64, u64)>, r: &Reported<'_, '_>) -> bool {
    match &r.location.file {
        Some(file) if file.decoded_offset.is_some() => {
            let volume_start = match r.location.volume {
                Located::Volume(volume) => volume.range.start,
                _ => 0,
            };
            file.id
                .is_some_and(|id| homes.contains(&(volume_start, id)))
        }
        _ => plan.owns(r.finding.offset),
    }
}

/// The disk ranges where the bytes of a file with `content` lie (verbatim or compressed).
fn disk_ranges(volume_start: u64, content: &FileContent) -> impl Iterator<Item = Range<u64>> + '_ {
    content.spans.iter().flat_map(move |span| {
        let at = |offset: u64, len: u64| {
            let start = volume_start.saturating_add(offset);
            start..start.saturating_add(len)
        };
        let ranges: Vec<Range<u64>> = match &span.piece {
            Piece::Volume(offset) => vec![at(*offset, span.len)],
            Piece::Held {
                at: Some(offset), ..
            } => vec![at(*offset, span.len)],
            Piece::Lznt1 { runs, .. } => runs.iter().map(|&(o, len)| at(o, len)).collect(),
            Piece::Compressed {
                at: offset, len, ..
            } => vec![at(*offset, *len)],
            _ => Vec::new(),
        };
        ranges
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_is_below_its_count_and_the_count_is_bounded() {
        assert_eq!(Shard::new(2, 5).unwrap(), Shard { index: 2, count: 5 });
        assert!(matches!(
            Shard::new(5, 5),
            Err(EngineError::NoSuchShard { .. })
        ));
        assert!(Shard::new(0, 0).is_err());
        let too_many = Shard::new(0, MAX_SHARDS + 1).unwrap_err();
        assert!(
            too_many.to_string().contains("at most 1000000"),
            "{too_many}"
        );
        assert!(Shard::new(MAX_SHARDS - 1, MAX_SHARDS).is_ok());
    }

    /// The cuts as first written: all N + 1 of them in a vector, each found by a walk over the
    /// ranges. Plans of any version must cut alike, or shards of one scan would not add up.
    fn cuts_as_a_vector(count: u64, data: &[Range<u64>], disk_size: u64) -> Vec<u64> {
        let total: u64 = data.iter().map(|r| r.end - r.start).sum();
        let offset_at = |mut position: u64| {
            for range in data {
                let len = range.end - range.start;
                if position < len {
                    let exact = range.start + position;
                    return Some((exact - exact % ALIGN).max(range.start));
                }
                position -= len;
            }
            None
        };
        let mut cuts = vec![0];
        for k in 1..count {
            let position = (u128::from(k) * u128::from(total) / u128::from(count)) as u64;
            let cut = offset_at(position).unwrap_or(disk_size);
            cuts.push(cut.max(*cuts.last().unwrap()));
        }
        cuts.push(disk_size.max(*cuts.last().unwrap()));
        cuts
    }

    #[test]
    fn cuts_found_when_needed_are_the_cuts_of_a_vector() {
        let layouts: [(&[Range<u64>], u64); 4] = [
            (
                &[
                    0..10_000_000,
                    20_000_000..20_004_096,
                    30_000_000..50_000_000,
                ],
                60_000_000,
            ),
            (
                &[5..6, 6000..6000, 8191..20_000, 1 << 40..(1 << 40) + 12_345],
                1 << 41,
            ),
            (&[], 1 << 20),
            (&[0..4096], 4096),
        ];
        for (data, disk_size) in layouts {
            for count in [1, 2, 3, 7, 64, 1000, 4099] {
                let expected = cuts_as_a_vector(count, data, disk_size);
                let plan = ShardPlan::new(Shard { index: 0, count }, data, disk_size);
                let cuts: Vec<u64> = (0..=count).map(|k| plan.cut(k)).collect();
                assert_eq!(cuts, expected, "{count} shards of {data:?}");
                for (k, pair) in expected.windows(2).enumerate() {
                    if pair[0] < pair[1] {
                        assert_eq!(plan.shard_of(pair[0]), k as u64);
                        assert_eq!(plan.shard_of(pair[1] - 1), k as u64);
                    }
                }
            }
        }
    }

    #[test]
    fn a_million_shards_cost_no_vector_of_cuts() {
        let data = [0..(1u64 << 40)];
        let last = Shard {
            index: MAX_SHARDS - 1,
            count: MAX_SHARDS,
        };
        let plan = ShardPlan::new(last, &data, 1 << 40);
        assert_eq!(plan.owned().end, 1 << 40);
        assert_eq!(plan.shard_of((1 << 40) - 1), MAX_SHARDS - 1);
        assert_eq!(plan.shard_of(0), 0);
        assert_eq!(plan.owned_bytes, plan.owned().end - plan.owned().start);
    }

    #[test]
    fn shards_tile_the_data_on_4k_boundaries() {
        let data = vec![
            0..10_000_000,
            20_000_000..20_004_096,
            30_000_000..50_000_000,
        ];
        for count in [1, 2, 3, 7, 64] {
            let plans: Vec<ShardPlan> = (0..count)
                .map(|index| ShardPlan::new(Shard { index, count }, &data, 60_000_000))
                .collect();
            let owned: u64 = plans.iter().map(|p| p.owned_bytes).sum();
            assert_eq!(owned, 10_000_000 + 4096 + 20_000_000, "{count} shards");
            for (k, plan) in plans.iter().enumerate() {
                let own = plan.owned();
                if k > 0 {
                    assert_eq!(own.start, plans[k - 1].owned().end);
                    assert_eq!(own.start % ALIGN, 0);
                }
                for offset in [own.start, own.end.saturating_sub(1)] {
                    if own.start < own.end {
                        assert_eq!(plans[0].shard_of(offset), k as u64);
                    }
                }
                assert!(
                    plan.swept
                        .iter()
                        .all(|r| data.iter().any(|d| d.start <= r.start && r.end <= d.end))
                );
            }
            assert_eq!(plans.last().unwrap().owned().end, 60_000_000);
            if count < 64 {
                // Even shares, within the alignment.
                let share = 30_004_096 / count;
                for plan in &plans {
                    assert!(plan.owned_bytes.abs_diff(share) <= 2 * ALIGN, "{count}");
                }
            }
        }
    }
}
