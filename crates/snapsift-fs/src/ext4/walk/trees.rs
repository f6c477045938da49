//! Following an inode's block mapping: extent trees and the old block maps (direct,
//! indirect, double and triple indirect blocks), with loops cut and reads budgeted.

use std::collections::HashSet;

use super::{Run, Walker};
use crate::FsError;
use crate::ext4::extent::{self, Node};
use crate::ext4::inode::I_BLOCK_LEN;

/// Direct block pointers in `i_block`, before the indirect, double and triple ones.
const DIRECT_BLOCKS: usize = 12;

/// What following one block map collects.
#[derive(Default)]
pub(super) struct Mapped {
    /// The data runs, by logical block.
    pub(super) runs: Vec<Run>,
    /// The tree blocks (extent index and leaf blocks, indirect blocks).
    pub(super) tree: Vec<u64>,
    /// Tree blocks already read in this inode: met again, they are a loop.
    seen: HashSet<u64>,
}

impl Walker<'_> {
    /// The runs of an extent-mapped inode, and its tree blocks.
    pub(super) fn extent_runs(
        &mut self,
        number: u64,
        root: &[u8; I_BLOCK_LEN],
        live: bool,
    ) -> Result<Mapped, FsError> {
        let mut out = Mapped::default();
        let mut problem: Option<String> = None;
        // Nodes to visit, with the depth they must have.
        let mut stack: Vec<(Node, Option<u16>)> = match extent::parse_node(root) {
            Ok(node) => vec![(node, None)],
            Err(p) => {
                if live {
                    self.broken(number, &p.0);
                }
                return Ok(out);
            }
        };
        while let Some((node, expected)) = stack.pop() {
            match node {
                Node::Leaf(extents) => {
                    if expected.is_some_and(|d| d != 0) {
                        problem = Some("an extent leaf at the wrong depth".into());
                        continue;
                    }
                    for e in extents {
                        if e.len == 0 {
                            continue;
                        }
                        if !self.valid_blocks(e.start, e.len) {
                            if live {
                                self.counts.outside = self.counts.outside.saturating_add(1);
                            }
                            continue;
                        }
                        out.runs.push(Run {
                            logical: e.logical,
                            physical: e.start,
                            len: e.len,
                            unwritten: e.uninit,
                        });
                    }
                }
                Node::Index { depth, children } => {
                    if expected.is_some_and(|d| d != depth) {
                        problem = Some(format!(
                            "an extent index at depth {depth} where another depth was due"
                        ));
                        continue;
                    }
                    for child in children {
                        if !self.valid_blocks(child, 1) {
                            if live {
                                self.counts.outside = self.counts.outside.saturating_add(1);
                            }
                            continue;
                        }
                        if !out.seen.insert(child) {
                            if live {
                                self.counts.loops = self.counts.loops.saturating_add(1);
                            }
                            continue;
                        }
                        if !self.spend(1) {
                            break;
                        }
                        let Some(bytes) = self.reader.blocks(child, 1)? else {
                            continue;
                        };
                        out.tree.push(child);
                        match extent::parse_node(&bytes) {
                            Ok(node) => stack.push((node, Some(depth.saturating_sub(1)))),
                            Err(p) => problem = Some(p.0),
                        }
                    }
                }
            }
        }
        if let Some(problem) = problem.filter(|_| live) {
            self.broken(number, &problem);
        }
        Ok(out)
    }

    /// The runs of a block-mapped inode, and its indirect blocks.
    pub(super) fn block_map_runs(
        &mut self,
        block: &[u8; I_BLOCK_LEN],
        live: bool,
    ) -> Result<Mapped, FsError> {
        let mut out = Mapped::default();
        let pointers: Vec<u64> = block
            .chunks_exact(4)
            .map(|p| u64::from(u32::from_le_bytes([p[0], p[1], p[2], p[3]])))
            .collect();
        let per_block = self.sb.block_size.checked_div(4).unwrap_or(256);
        for (logical, &ptr) in (0u64..).zip(pointers.iter().take(DIRECT_BLOCKS)) {
            self.push_pointer(&mut out.runs, logical, ptr, live);
        }
        // Indirect, double and triple indirect: each level covers `per_block` times more.
        let mut base = DIRECT_BLOCKS as u64;
        let mut span = per_block;
        for (level, &ptr) in (1u32..).zip(pointers.iter().skip(DIRECT_BLOCKS)) {
            if ptr != 0 {
                self.walk_indirect(ptr, level, base, &mut out, live)?;
            }
            base = base.saturating_add(span);
            span = span.saturating_mul(per_block);
        }
        Ok(out)
    }

    /// Walks the indirect block `block` of depth `level` whose first pointer maps logical
    /// block `base`.
    fn walk_indirect(
        &mut self,
        block: u64,
        level: u32,
        base: u64,
        out: &mut Mapped,
        live: bool,
    ) -> Result<(), FsError> {
        if !self.valid_blocks(block, 1) {
            if live {
                self.counts.outside = self.counts.outside.saturating_add(1);
            }
            return Ok(());
        }
        if !out.seen.insert(block) {
            if live {
                self.counts.loops = self.counts.loops.saturating_add(1);
            }
            return Ok(());
        }
        if !self.spend(1) {
            return Ok(());
        }
        let Some(bytes) = self.reader.blocks(block, 1)? else {
            return Ok(());
        };
        out.tree.push(block);
        let per_block = self.sb.block_size.checked_div(4).unwrap_or(256);
        // Logical blocks each pointer of this level covers.
        let span = per_block.saturating_pow(level.saturating_sub(1));
        for (i, p) in (0u64..).zip(bytes.chunks_exact(4)) {
            let ptr = u64::from(u32::from_le_bytes([p[0], p[1], p[2], p[3]]));
            if ptr == 0 {
                continue;
            }
            let logical = base.saturating_add(i.saturating_mul(span));
            if level <= 1 {
                self.push_pointer(&mut out.runs, logical, ptr, live);
            } else {
                self.walk_indirect(ptr, level.saturating_sub(1), logical, out, live)?;
            }
        }
        Ok(())
    }

    /// Adds data block `ptr` at `logical` to `runs`, extending the last run if contiguous.
    fn push_pointer(&mut self, runs: &mut Vec<Run>, logical: u64, ptr: u64, live: bool) {
        if ptr == 0 {
            return;
        }
        if !self.valid_blocks(ptr, 1) {
            if live {
                self.counts.outside = self.counts.outside.saturating_add(1);
            }
            return;
        }
        if let Some(last) = runs.last_mut().filter(|last| {
            !last.unwritten
                && last.logical.checked_add(last.len) == Some(logical)
                && last.physical.checked_add(last.len) == Some(ptr)
        }) {
            last.len = last.len.saturating_add(1);
            return;
        }
        runs.push(Run {
            logical,
            physical: ptr,
            len: 1,
            unwritten: false,
        });
    }

    /// Notes that a live inode's blocks could not all be mapped.
    fn broken(&mut self, number: u64, why: &str) {
        self.counts.broken_trees = self.counts.broken_trees.saturating_add(1);
        self.notes.push(format!(
            "inode {number}: {why}; its blocks are mapped in part"
        ));
    }
}
