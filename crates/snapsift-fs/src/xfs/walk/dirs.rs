//! The directory walk: breadth first from the root, naming every inode reachable, and free
//! inodes from the remnants of removed entries met on the way.

use std::collections::{HashSet, VecDeque};

use super::{DirData, Run, Walker};
use crate::FsError;
use crate::names::{self, Names};
use crate::xfs::dir::{self, Entries};

/// Where a directory's leaf and free-index blocks start in its data fork: data blocks lie
/// below 32 GiB of it.
const LEAF_OFFSET: u64 = 32 << 30;

impl Walker<'_> {
    /// Walks the directories from the root, breadth first, naming every inode reachable,
    /// and free inodes from the removed entries met on the way.
    pub(super) fn walk_directories(&mut self) -> Result<Names, FsError> {
        let in_use: u64 = self.live.iter().map(|w| u64::from(w.count_ones())).sum();
        let root = self.numbering.number(self.sb.root_ino);
        let mut names = Names::with_room(root.unwrap_or(0), in_use);
        let Some(root) = root.filter(|root| self.dirs.contains_key(root)) else {
            self.notes
                .push("the root directory cannot be read: no file has a path".into());
            return Ok(names.sorted());
        };
        let mut visited: HashSet<u64> = HashSet::from([root]);
        let mut queue: VecDeque<(u64, usize)> = VecDeque::from([(root, 0)]);
        let mut too_deep = false;
        while let Some((parent, depth)) = queue.pop_front() {
            let Some(data) = self.dirs.remove(&parent) else {
                continue;
            };
            for entries in self.read_dir(&data)? {
                if entries.damaged.is_some() {
                    self.counts.damaged_dirs = self.counts.damaged_dirs.saturating_add(1);
                }
                for entry in entries.live {
                    let Some(child) = self.numbering.number(entry.ino).filter(|&c| c != root)
                    else {
                        self.counts.dangling = self.counts.dangling.saturating_add(1);
                        continue;
                    };
                    if !self.is_live(child) {
                        self.counts.dangling = self.counts.dangling.saturating_add(1);
                        continue;
                    }
                    if self.is_named(child) || !self.name(&mut names, child, parent, &entry.name) {
                        continue;
                    }
                    if self.dirs.contains_key(&child) && visited.insert(child) {
                        if depth < names::MAX_DEPTH {
                            queue.push_back((child, depth.saturating_add(1)));
                        } else {
                            too_deep = true;
                        }
                    }
                }
                // A removed entry names its inode only if that inode is free now (not
                // reused) and no other removed entry named it first.
                for entry in entries.deleted {
                    let Some(child) = self.numbering.number(entry.ino) else {
                        continue;
                    };
                    if child != root && !self.is_live(child) && !self.is_named(child) {
                        self.name(&mut names, child, parent, &entry.name);
                    }
                }
            }
        }
        if too_deep {
            self.notes.push(format!(
                "directories deeper than {} levels were not walked",
                names::MAX_DEPTH
            ));
        }
        if self.names_full {
            self.notes.push(format!(
                "more than {} bytes of names: further files have no path",
                names::MAX_NAME_BYTES
            ));
        }
        self.named = Vec::new();
        Ok(names.sorted())
    }

    /// Names `child` `name` in `parent`; false if the name cannot be kept (noted).
    fn name(&mut self, names: &mut Names, child: u64, parent: u64, name: &[u8]) -> bool {
        if names.add(child, parent, name).is_err() {
            self.names_full = true;
            return false;
        }
        Self::set_bit(&mut self.named, child);
        true
    }

    /// Whether the walk named `number` already.
    fn is_named(&self, number: u64) -> bool {
        let (word, bit) = super::bit_index(number);
        self.named.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }

    /// The entries of a directory: its short form, or each of its data blocks.
    fn read_dir(&mut self, data: &DirData) -> Result<Vec<Entries>, FsError> {
        let runs = match data {
            DirData::Short(fork, size) => {
                return Ok(vec![dir::short_form(fork, *size, self.sb.ftype).0]);
            }
            DirData::Blocks(runs) => runs,
        };
        let per_block = 1u64 << self.sb.dir_block_log;
        let data_blocks = LEAF_OFFSET >> self.sb.block_log;
        // The directory blocks the data runs reach, each once, in order.
        let mut blocks: Vec<u64> = Vec::new();
        for run in runs.iter().filter(|run| run.logical < data_blocks) {
            let last = run
                .logical
                .saturating_add(run.len)
                .min(data_blocks)
                .saturating_sub(1);
            let shift = u32::from(self.sb.dir_block_log);
            let (mut first, last) = (run.logical >> shift, last >> shift);
            if blocks.last() == Some(&first) {
                first = first.saturating_add(1);
            }
            let count = last.saturating_add(1).saturating_sub(first);
            if !self.spend(count.saturating_mul(per_block)) {
                break;
            }
            blocks.extend(first..=last);
        }
        let mut all = Vec::new();
        for index in blocks {
            let first = index.saturating_mul(per_block);
            let Some(bytes) = self.read_logical(runs, first, per_block)? else {
                continue;
            };
            if let Some(entries) = dir::data_block(&bytes, self.sb.v5, self.sb.ftype) {
                all.push(entries);
            }
        }
        Ok(all)
    }

    /// Blocks `first..first + count` of a fork mapped by `runs` (sorted), if each is mapped
    /// and written.
    fn read_logical(
        &mut self,
        runs: &[Run],
        first: u64,
        count: u64,
    ) -> Result<Option<Vec<u8>>, FsError> {
        let mut out = Vec::new();
        let mut at = first;
        let end = first.saturating_add(count);
        while at < end {
            let after = runs.partition_point(|run| run.logical <= at);
            let Some(run) = after.checked_sub(1).and_then(|i| runs.get(i)) else {
                return Ok(None);
            };
            let into = at.saturating_sub(run.logical);
            if into >= run.len || run.unwritten {
                return Ok(None);
            }
            let n = run.len.saturating_sub(into).min(end.saturating_sub(at));
            let Some(bytes) = self.reader.blocks(run.physical.saturating_add(into), n)? else {
                return Ok(None);
            };
            out.extend_from_slice(&bytes);
            at = at.saturating_add(n);
        }
        Ok(Some(out))
    }
}
