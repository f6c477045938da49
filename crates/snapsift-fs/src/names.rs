//! Names of inodes (ext2/3/4 inodes, or the map's own numbers for XFS inodes): one link
//! (parent directory and name) per inode, from which a path is built on demand. Storing links rather than whole paths keeps memory to one name per file:
//! each link is 12 bytes, sorted by inode once the walk is done, and the names lie end to end
//! in blocks of [`BLOCK`] bytes, each its length byte then its bytes exactly as the directory
//! holds them (bytes that are not UTF-8 are replaced only when a path is built).
//!
//! Neither grows by copying: the links are reserved for the inodes in use up front, and the
//! names fill one block after another. (A vector that doubles as it grows copies itself,
//! and below the allocator's threshold for mapping pages of their own, the old copies stay
//! in the process's heap: the names would cost twice what they hold.)

use crate::file_list::PathOf;

/// Paths deeper than this are not built (the directory walk stops there too).
pub(crate) const MAX_DEPTH: usize = 1024;

/// Bytes of names kept at most, all names together (a name's place is 32 bits).
pub(crate) const MAX_NAME_BYTES: u64 = 1 << 32;
/// Bytes per block of names (a name never straddles two).
const BLOCK: usize = 1 << 20;

/// Where an inode is named: its parent directory and its name's place among the names.
#[derive(Clone, Copy, Debug)]
struct Link {
    inode: u32,
    parent: u32,
    /// Where the name is among the names' bytes (block, then offset in the block): its
    /// length (ext4 names are at most 255 bytes), then its bytes.
    name: u32,
}

/// The names found by the directory walk: inodes in use reachable from the root (the first
/// link the walk met, breadth first, so one of the shortest paths of a hard-linked file),
/// and inodes not in use named by a deleted entry (or by an entry of a deleted directory).
/// An inode has one name at most: it is in use or not.
#[derive(Clone, Debug)]
pub(crate) struct Names {
    /// The root directory's number: its path is `/`.
    root: u64,
    /// Links, in the order added until [`Names::sorted`].
    links: Vec<Link>,
    /// The names' bytes, in blocks of [`BLOCK`] bytes.
    blocks: Vec<Vec<u8>>,
}

/// Why a name was not kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NamesFull;

impl Names {
    /// No names yet under `root`, room reserved for `expected` links (if it can be: a hint
    /// only).
    pub(crate) fn with_room(root: u64, expected: u64) -> Names {
        let mut links = Vec::new();
        if let Ok(expected) = usize::try_from(expected) {
            // The pages are taken only as links fill them.
            let _ = links.try_reserve_exact(expected);
        }
        Names {
            root,
            links,
            blocks: Vec::new(),
        }
    }

    /// Records that `inode` is called `name` in `parent`. The caller adds each inode once.
    pub(crate) fn add(&mut self, inode: u64, parent: u64, name: &[u8]) -> Result<(), NamesFull> {
        let (Ok(inode), Ok(parent), Ok(len)) = (
            u32::try_from(inode),
            u32::try_from(parent),
            u8::try_from(name.len()),
        ) else {
            return Err(NamesFull);
        };
        let stored = name.len().saturating_add(1);
        let full = self
            .blocks
            .last()
            .is_none_or(|block| block.len().saturating_add(stored) > BLOCK);
        if full {
            let kept = (self.blocks.len() as u64).saturating_mul(BLOCK as u64);
            if kept.saturating_add(BLOCK as u64) > MAX_NAME_BYTES {
                return Err(NamesFull);
            }
            self.blocks.push(Vec::with_capacity(BLOCK));
        }
        let blocks = self.blocks.len().saturating_sub(1);
        let Some(block) = self.blocks.last_mut() else {
            return Err(NamesFull);
        };
        let at = (blocks as u64)
            .saturating_mul(BLOCK as u64)
            .saturating_add(block.len() as u64);
        let at = u32::try_from(at).map_err(|_| NamesFull)?;
        block.push(len);
        block.extend_from_slice(name);
        self.links.push(Link {
            inode,
            parent,
            name: at,
        });
        Ok(())
    }

    /// The names, sorted for lookups: call once every name is added.
    pub(crate) fn sorted(mut self) -> Names {
        self.links.sort_unstable_by_key(|link| link.inode);
        self
    }

    /// The link of `inode`.
    fn link(&self, inode: u64) -> Option<&Link> {
        let inode = u32::try_from(inode).ok()?;
        let at = self.links.binary_search_by_key(&inode, |l| l.inode).ok()?;
        self.links.get(at)
    }

    /// The bytes of `link`'s name.
    fn name(&self, link: &Link) -> &[u8] {
        let at = usize::try_from(link.name).unwrap_or(usize::MAX);
        let (block, within) = (at / BLOCK, at % BLOCK);
        let Some(block) = self.blocks.get(block) else {
            return &[];
        };
        let len = block.get(within).copied().map_or(0, usize::from);
        within
            .checked_add(1)
            .and_then(|start| block.get(start..start.checked_add(len)?))
            .unwrap_or(&[])
    }

    /// The absolute path of `inode`, if the walk named it and every directory up to the
    /// root is named too.
    pub(crate) fn path(&self, inode: u64) -> Option<String> {
        let mut parts: Vec<&[u8]> = Vec::new();
        let mut at = inode;
        for _ in 0..=MAX_DEPTH {
            if at == self.root {
                if parts.is_empty() {
                    return Some("/".into());
                }
                let mut path = String::new();
                for part in parts.iter().rev() {
                    path.push('/');
                    path.push_str(&String::from_utf8_lossy(part));
                }
                return Some(path);
            }
            let link = self.link(at)?;
            parts.push(self.name(link));
            at = u64::from(link.parent);
        }
        None
    }
}

impl PathOf for Names {
    fn path_of(&self, id: u64) -> Option<String> {
        self.path(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let mut names = Names::with_room(2, 0);
        for (inode, parent, name) in [
            (13, 12, &b".aws"[..]),
            (12, 2, b"root"),
            (20, 13, b"credentials"),
            (30, 31, b"orphan"),
            (40, 41, b"a"),
            (41, 40, b"b"),
            (50, 2, b"caf\xe9"),
        ] {
            names.add(inode, parent, name).unwrap();
        }
        let names = names.sorted();
        assert_eq!(names.path(2).as_deref(), Some("/"));
        assert_eq!(names.path(13).as_deref(), Some("/root/.aws"));
        assert_eq!(names.path(20).as_deref(), Some("/root/.aws/credentials"));
        assert_eq!(names.path(30), None, "a parent without a name");
        assert_eq!(names.path(40), None, "a loop");
        assert_eq!(names.path(99), None);
        assert_eq!(names.path(1 << 40), None);
        assert_eq!(names.path(50).as_deref(), Some("/caf\u{fffd}"));
    }

    #[test]
    fn names_that_cannot_be_kept() {
        let mut names = Names::with_room(2, 0);
        assert_eq!(names.add(1 << 32, 2, b"x"), Err(NamesFull));
        assert_eq!(names.add(12, 2, &[b'x'; 256]), Err(NamesFull));
        assert_eq!(names.add(12, 2, &[b'x'; 255]), Ok(()));
        assert_eq!(
            names.sorted().path(12).map(|p| p.len()),
            Some(256),
            "the longest name, whole"
        );
    }

    #[test]
    fn names_fill_block_after_block() {
        let mut names = Names::with_room(2, 3);
        let name = |i: u64| format!("{i:0>250}");
        for i in 0..10_000 {
            names.add(100 + i, 2, name(i).as_bytes()).unwrap();
        }
        let names = names.sorted();
        assert!(names.blocks.len() > 2, "{} blocks", names.blocks.len());
        for i in (0..10_000).step_by(97) {
            assert_eq!(names.path(100 + i), Some(format!("/{}", name(i))));
        }
    }
}
