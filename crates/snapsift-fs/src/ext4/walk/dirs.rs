//! The directory walk: breadth first from the root, naming every inode reachable, and
//! deleted inodes from the deleted entries (and deleted directories) met on the way.

use std::collections::{HashSet, VecDeque};

use super::{CHUNK, DirData, Walker};
use crate::FsError;
use crate::ext4::dir::{self, BlockKind};
use crate::ext4::inode::Kind;
use crate::ext4::superblock::{self, INCOMPAT_FILETYPE};
use crate::names::{self, Names};

impl Walker<'_> {
    /// Walks the directories from the root, breadth first, naming every inode reachable,
    /// and deleted inodes from the deleted entries met on the way.
    pub(super) fn walk_directories(&mut self) -> Result<Names, FsError> {
        let in_use: u64 = self.live.iter().map(|w| u64::from(w.count_ones())).sum();
        let root = superblock::ROOT_INODE;
        let mut names = Names::with_room(root, in_use);
        if !self.dirs.contains_key(&root) {
            self.notes
                .push("the root directory cannot be read: no file has a path".into());
            return Ok(names.sorted());
        }
        let format = dir::Format {
            filetype: self.sb.has_incompat(INCOMPAT_FILETYPE),
            inodes_count: self.sb.inodes_count,
            block_size: self.sb.block_size,
        };
        let mut visited: HashSet<u64> = HashSet::from([root]);
        // (directory, depth, deleted)
        let mut queue: VecDeque<(u64, usize, bool)> = VecDeque::from([(root, 0, false)]);
        let mut too_deep = false;
        while let Some((dir_inode, depth, deleted)) = queue.pop_front() {
            let data = if deleted {
                self.deleted_dirs.remove(&dir_inode)
            } else {
                self.dirs.remove(&dir_inode)
            };
            let Some(data) = data else {
                continue;
            };
            for entries in self.read_dir(&data, format)? {
                if entries.damaged.is_some() && !deleted {
                    self.counts.damaged_dirs = self.counts.damaged_dirs.saturating_add(1);
                }
                let live_entries = entries.live.into_iter().map(|e| (e, deleted));
                let deleted_entries = entries.deleted.into_iter().map(|e| (e, true));
                for (entry, is_deleted) in live_entries.chain(deleted_entries) {
                    let child = entry.inode;
                    if child == root || child > self.sb.inodes_count {
                        continue;
                    }
                    let child_live = self.is_live(child);
                    if !is_deleted && !child_live {
                        self.counts.dangling = self.counts.dangling.saturating_add(1);
                    }
                    // Only an entry in use names a file in use (a deleted one naming it is
                    // an old name of a reused inode); a deleted file's entry must not be
                    // older than the inode's last (deleted) life. An inode is named once.
                    let named = !self.is_named(child)
                        && if child_live {
                            !is_deleted
                        } else {
                            self.type_matches(child, entry.file_type)
                        }
                        && self.name(&mut names, child, dir_inode, &entry.name);
                    let is_dir = if child_live {
                        self.dirs.contains_key(&child)
                    } else {
                        self.deleted_dirs.contains_key(&child)
                            && (entry.file_type == dir::TYPE_DIRECTORY || entry.file_type == 0)
                    };
                    if named && is_dir && visited.insert(child) {
                        if depth < names::MAX_DEPTH {
                            queue.push_back((child, depth.saturating_add(1), !child_live));
                        } else {
                            too_deep = true;
                        }
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

    /// Names `child` `name` in `parent`; false if the name cannot be kept (noted). Inodes
    /// past those read (`MAX_INODES`) are not named: the map lists none of them and claims
    /// none of their blocks (a byte of their inode table is located without a path).
    fn name(&mut self, names: &mut Names, child: u64, parent: u64, name: &[u8]) -> bool {
        let (word, bit) = super::bit_index(child);
        let Some(w) = self.named.get_mut(word) else {
            return false;
        };
        if names.add(child, parent, name).is_err() {
            self.names_full = true;
            return false;
        }
        *w |= 1 << bit;
        true
    }

    /// Whether the walk named `inode` already.
    fn is_named(&self, inode: u64) -> bool {
        let (word, bit) = super::bit_index(inode);
        self.named.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }

    /// Whether a deleted inode's kind agrees with the file type an entry gives it (always,
    /// if either is unknown).
    fn type_matches(&self, inode: u64, file_type: u8) -> bool {
        let kind = self
            .deleted_kinds
            .binary_search_by_key(&inode, |&(number, _)| u64::from(number))
            .ok()
            .and_then(|at| self.deleted_kinds.get(at))
            .map(|&(_, kind)| kind);
        let expected: &[u8] = match kind {
            Some(Kind::Regular) => &[1],
            Some(Kind::Directory) => &[2],
            Some(Kind::Symlink) => &[7],
            Some(Kind::Special) => &[3, 4, 5, 6],
            Some(Kind::None) | None => return true,
        };
        file_type == 0 || expected.contains(&file_type)
    }

    /// The entries of each block (or inline area) of a directory.
    fn read_dir(
        &mut self,
        data: &DirData,
        format: dir::Format,
    ) -> Result<Vec<dir::Entries>, FsError> {
        let mut all = Vec::new();
        match data {
            DirData::Inline(areas) => {
                for area in areas {
                    all.push(dir::parse(area, format, BlockKind::Linear));
                }
            }
            DirData::Blocks { runs, indexed } => {
                let bs = self.sb.block_size;
                let chunk_blocks = CHUNK.checked_div(bs).unwrap_or(1).max(1);
                let block_len = usize::try_from(bs).unwrap_or(1024);
                for run in runs {
                    let mut done = 0u64;
                    while done < run.len {
                        let n = chunk_blocks.min(run.len.saturating_sub(done));
                        if !self.spend(n) {
                            return Ok(all);
                        }
                        let first = run.physical.saturating_add(done);
                        let Some(bytes) = self.reader.blocks(first, n)? else {
                            break;
                        };
                        for (i, block) in (0u64..).zip(bytes.chunks_exact(block_len)) {
                            let logical = run.logical.saturating_add(done).saturating_add(i);
                            let kind = match (indexed, logical) {
                                (false, _) => BlockKind::Linear,
                                (true, 0) => BlockKind::HtreeRoot,
                                (true, _) => BlockKind::HtreeOther,
                            };
                            all.push(dir::parse(block, format, kind));
                        }
                        done = done.saturating_add(n);
                    }
                }
            }
        }
        Ok(all)
    }
}
