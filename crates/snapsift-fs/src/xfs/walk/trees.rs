//! Following B+trees: the short-form trees of an AG (their blocks claimed, their leaf
//! records gathered) and the forks of an inode (extent lists and extent B+trees), with
//! loops cut and reads budgeted.

use std::collections::HashSet;

use super::{Roles, Run, Walker};
use crate::FsError;
use crate::block_map::Owner;
use crate::filesystem::FileState;
use crate::xfs::Bad;
use crate::xfs::btree::{self, Kind, Node};
use crate::xfs::inode::{self, Extent, Format};
use crate::xfs::map::Layer;

impl Walker<'_> {
    /// Follows AG `ag`'s tree of `kind` from AG block `root`, `levels` deep: claims its
    /// blocks as metadata and returns its leaf records, end to end.
    pub(super) fn ag_tree(
        &mut self,
        ag: u64,
        root: u32,
        levels: u32,
        kind: Kind,
    ) -> Result<Vec<u8>, FsError> {
        let mut records = Vec::new();
        let Some(top) = u16::try_from(levels)
            .ok()
            .filter(|&l| (1..=btree::MAX_LEVELS).contains(&l))
        else {
            self.notes.push(format!(
                "AG {ag}'s {} has {levels} levels: not read",
                kind.name
            ));
            return Ok(records);
        };
        let mut seen = HashSet::new();
        let mut stack = vec![(u64::from(root), top.saturating_sub(1))];
        while let Some((agbno, expected)) = stack.pop() {
            let Some(block) = self.sb.ag_block(ag, agbno) else {
                self.counts.outside = self.counts.outside.saturating_add(1);
                continue;
            };
            if !seen.insert(block) {
                self.counts.loops = self.counts.loops.saturating_add(1);
                continue;
            }
            if !self.spend(1) {
                break;
            }
            let Some(bytes) = self.reader.blocks(block, 1)? else {
                continue;
            };
            self.claim_blocks(
                block,
                1,
                Layer::Structure,
                FileState::Metadata,
                Owner::Nobody,
            );
            let at = block.saturating_mul(self.sb.block_size);
            match btree::parse(&bytes, kind, self.sb.v5) {
                Ok(Node::Leaf(leaf)) if expected == 0 => records.extend_from_slice(leaf),
                Ok(Node::Index { level, children }) if level == expected => {
                    let below = level.saturating_sub(1);
                    stack.extend(children.into_iter().map(|child| (child, below)));
                }
                Ok(_) => self.damaged(
                    &format!("AG {ag}'s {}", kind.name),
                    at,
                    &Bad::at(
                        4,
                        format!("a block at the wrong level ({expected} expected)"),
                    ),
                ),
                Err(bad) => self.damaged(&format!("AG {ag}'s {}", kind.name), at, &bad),
            }
        }
        Ok(records)
    }

    /// The runs of a fork (`fork`, at volume offset `fork_at`) in `format` holding `count`
    /// extents, its extent B+tree blocks claimed for `roles`.
    pub(super) fn fork_runs(
        &mut self,
        fork: &[u8],
        fork_at: u64,
        format: Format,
        count: u64,
        roles: Roles,
    ) -> Result<Vec<Run>, FsError> {
        let extents = match format {
            Format::Extents => {
                let room = (fork.len() / inode::EXTENT) as u64;
                if count > room {
                    self.broken(
                        fork_at,
                        &Bad::at(0, format!("{count} extents in room for {room}")),
                    );
                }
                inode::extents(fork, count)
            }
            Format::Btree => self.tree_extents(fork, fork_at, roles)?,
            Format::Device | Format::Local | Format::Other(_) => Vec::new(),
        };
        let mut runs = Vec::with_capacity(extents.len());
        for extent in extents {
            if extent.blocks == 0 {
                continue;
            }
            match self.sb.fs_block(extent.start) {
                Some((physical, left)) if extent.blocks <= left => runs.push(Run {
                    logical: extent.offset,
                    physical,
                    len: extent.blocks,
                    unwritten: extent.unwritten,
                }),
                _ => self.counts.outside = self.counts.outside.saturating_add(1),
            }
        }
        runs.sort_by_key(|run| run.logical);
        Ok(runs)
    }

    /// The extents of an extent B+tree whose root is `fork`; its blocks are claimed for
    /// `roles` (their tree state).
    fn tree_extents(
        &mut self,
        fork: &[u8],
        fork_at: u64,
        roles: Roles,
    ) -> Result<Vec<Extent>, FsError> {
        let mut extents = Vec::new();
        let (level, children) = match btree::parse_root(fork) {
            Ok(root) => root,
            Err(bad) => {
                self.broken(fork_at, &bad);
                return Ok(extents);
            }
        };
        let below = level.saturating_sub(1);
        let mut stack: Vec<(u64, u16)> = children.into_iter().map(|c| (c, below)).collect();
        let mut seen = HashSet::new();
        while let Some((fsb, expected)) = stack.pop() {
            let Some((block, _)) = self.sb.fs_block(fsb) else {
                self.counts.outside = self.counts.outside.saturating_add(1);
                continue;
            };
            if !seen.insert(block) {
                self.counts.loops = self.counts.loops.saturating_add(1);
                continue;
            }
            if !self.spend(1) {
                break;
            }
            let Some(bytes) = self.reader.blocks(block, 1)? else {
                continue;
            };
            self.claim_blocks(
                block,
                1,
                Layer::File,
                roles.tree,
                Owner::Inode(roles.number),
            );
            let at = block.saturating_mul(self.sb.block_size);
            match btree::parse(&bytes, btree::BMAP, self.sb.v5) {
                Ok(Node::Leaf(records)) if expected == 0 => {
                    extents.extend(records.chunks_exact(inode::EXTENT).map(inode::extent));
                }
                Ok(Node::Index { level, children }) if level == expected => {
                    let below = level.saturating_sub(1);
                    stack.extend(children.into_iter().map(|child| (child, below)));
                }
                Ok(_) => self.broken(
                    at,
                    &Bad::at(
                        4,
                        format!("a block at the wrong level ({expected} expected)"),
                    ),
                ),
                Err(bad) => self.broken(at, &bad),
            }
        }
        Ok(extents)
    }

    /// Notes that an inode in use's fork could not all be mapped: `bad`, in the structure
    /// at volume offset `at`.
    fn broken(&mut self, at: u64, bad: &Bad) {
        self.counts.broken_forks = self.counts.broken_forks.saturating_add(1);
        self.damaged("an inode's fork", at, bad);
    }
}
