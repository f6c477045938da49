//! `free-space`: whether the filesystem's free space still holds old file contents.
//!
//! The filesystem's map says what every byte of its volume is ([`FileTree::locate`]); its
//! unallocated runs are gathered (following at most [`MAX_RUNS`] runs of the map), then
//! [`SAMPLES`] blocks of [`BLOCK`] bytes are read, spread evenly over the free bytes: those
//! not all zeros hold old contents. The evidence says how many were sampled and what the
//! share found suggests of the whole; a sample, not a proof that the rest is clean.

use std::ops::Range;

use snapsift_engine::mapped::FileState;

use super::why;
use crate::check::{Check, Status};
use crate::report::{Evidence, Item};
use crate::tree::FileTree;

/// The most runs of the map followed (one lookup each): past them the rest of the volume is
/// not sampled, and the evidence says so.
pub(super) const MAX_RUNS: usize = 1_000_000;
/// The blocks of free space read at most.
pub(super) const SAMPLES: u64 = 1024;
/// The bytes of one sampled block.
const BLOCK: u64 = 4096;

/// The unallocated runs of `tree` (merged where they touch), and the volume offset where the
/// walk stopped if [`MAX_RUNS`] cut it.
fn free_runs(tree: &dyn FileTree) -> (Vec<Range<u64>>, Option<u64>) {
    let mut free: Vec<Range<u64>> = Vec::new();
    let mut steps = 0usize;
    for range in tree.ranges() {
        let mut offset = range.start;
        while offset < range.end {
            if steps >= MAX_RUNS {
                return (free, Some(offset));
            }
            steps = steps.saturating_add(1);
            let (state, run) = tree.locate(offset);
            // A run that does not move on (a damaged map) moves on by a byte.
            let end = if run.end > offset {
                run.end.min(range.end)
            } else {
                offset.saturating_add(1)
            };
            if state == FileState::Unallocated {
                match free.last_mut() {
                    Some(last) if last.end == offset => last.end = end,
                    _ => free.push(offset..end),
                }
            }
            offset = end;
        }
    }
    (free, None)
}

/// The `index`th of `count` blocks spread over the concatenated `free` runs (of `total`
/// bytes): its volume range, within one run.
fn sample_at(free: &[Range<u64>], total: u64, index: u64, count: u64) -> Option<Range<u64>> {
    let stride = total.checked_div(count)?;
    let mut target = index.checked_mul(stride)?.checked_add(stride / 2)?;
    for run in free {
        let len = run.end.saturating_sub(run.start);
        if target < len {
            let at = run.start.checked_add(target)?;
            let block = BLOCK.min(len);
            let start = at.min(run.end.saturating_sub(block));
            return Some(start..start.checked_add(block)?);
        }
        target = target.saturating_sub(len);
    }
    None
}

/// Samples the free space of `tree` (see the module docs).
pub(super) fn free_space(tree: &dyn FileTree, check: &Check, item: &mut Item) {
    let (free, cut) = free_runs(tree);
    let total: u64 = free
        .iter()
        .map(|r| r.end.saturating_sub(r.start))
        .fold(0, u64::saturating_add);
    let count = SAMPLES.min(total.div_ceil(BLOCK));
    let mut holding = 0u64;
    let mut unread = Vec::new();
    let mut buf = vec![0u8; BLOCK as usize];
    for index in 0..count {
        let Some(block) = sample_at(&free, total, index, count) else {
            continue;
        };
        let len = usize::try_from(block.end.saturating_sub(block.start)).unwrap_or(0);
        let Some(bytes) = buf.get_mut(..len) else {
            continue;
        };
        match tree.read_volume(block.start, bytes) {
            Ok(()) if bytes.iter().any(|&b| b != 0) => holding = holding.saturating_add(1),
            Ok(()) => {}
            Err(error) => unread.push((block.start, why(&error))),
        }
    }
    // At most `total`; in u128 the product cannot overflow.
    let estimate = (u128::from(total).saturating_mul(u128::from(holding)))
        .checked_div(u128::from(count))
        .and_then(|e| u64::try_from(e).ok())
        .unwrap_or(0);
    let status = if holding > 0 {
        check.status
    } else {
        Status::Pass
    };
    let mut detail = format!(
        "{total} bytes of free space in {} run(s); {holding} of {count} sampled 4 KiB blocks \
         hold old contents (about {estimate} bytes of it, by the sample)",
        free.len()
    );
    if let Some(offset) = cut {
        detail.push_str(&format!(
            "; only the free space before volume offset {offset} was sampled (the map's \
             first {MAX_RUNS} runs)"
        ));
    }
    item.add(
        status,
        Evidence {
            volume: Some(tree.label().to_owned()),
            detail,
            count: Some(holding),
            bytes: Some(estimate),
            ..Evidence::default()
        },
    );
    if cut.is_some() {
        item.add(
            Status::Warn,
            Evidence {
                volume: Some(tree.label().to_owned()),
                detail: "the free space past the map's first runs was not sampled".to_owned(),
                ..Evidence::default()
            },
        );
    }
    for (offset, reason) in unread {
        item.add(
            Status::Warn,
            Evidence {
                volume: Some(tree.label().to_owned()),
                detail: format!(
                    "the free block at volume offset {offset} cannot be read: {reason}"
                ),
                ..Evidence::default()
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::CheckSet;
    use crate::tree::memory::MemoryTree;

    fn check() -> Check {
        CheckSet::builtin()
            .checks
            .into_iter()
            .find(|c| c.id == "residual.free-space")
            .unwrap()
    }

    #[test]
    fn old_contents_in_free_space_are_found_by_sampling() {
        let mut tree = MemoryTree {
            volume: vec![0u8; 64 << 20],
            free: vec![4096..(32 << 20), (40 << 20)..(64 << 20)],
            ..MemoryTree::default()
        };
        let mut item = crate::report::Item::new(&check());
        free_space(&tree, &check(), &mut item);
        assert_eq!(item.status, Status::Pass, "{item:?}");
        // Old contents in a quarter of the free space, and in allocated bytes (not counted).
        for b in &mut tree.volume[(48 << 20)..(60 << 20)] {
            *b = 0x5a;
        }
        for b in &mut tree.volume[(32 << 20)..(40 << 20)] {
            *b = 0x11;
        }
        let mut item = crate::report::Item::new(&check());
        free_space(&tree, &check(), &mut item);
        assert_eq!(item.status, Status::Fail);
        let evidence = &item.evidence[0];
        let total = (32u64 << 20) - 4096 + (24 << 20);
        assert!(evidence.detail.starts_with(&format!("{total} bytes")));
        // 12 MiB of 56: about 21%.
        let holding = evidence.count.unwrap();
        assert!((200..240).contains(&holding), "{evidence:?}");
        let estimate = evidence.bytes.unwrap();
        assert!(estimate.abs_diff(12 << 20) < (1 << 20), "{estimate}");
    }

    #[test]
    fn a_map_of_many_runs_is_cut_and_said() {
        // Free and used bytes alternating, a run each: more runs than are followed.
        let len = (MAX_RUNS as u64 + 10) * 2;
        let tree = MemoryTree {
            volume: vec![1u8; len as usize],
            free: (0..len / 2).map(|i| i * 2..i * 2 + 1).collect(),
            ..MemoryTree::default()
        };
        let started = std::time::Instant::now();
        let mut item = crate::report::Item::new(&check());
        free_space(&tree, &check(), &mut item);
        assert!(started.elapsed().as_secs() < 60);
        assert_eq!(item.status, Status::Fail);
        assert!(
            item.evidence[0]
                .detail
                .contains("only the free space before")
        );
    }
}
