//! Names of inodes: one link (parent directory and name) per inode, from which a path is
//! built on demand. Storing links rather than whole paths keeps memory to one name per file.

use std::collections::HashMap;

use super::superblock::ROOT_INODE;

/// Paths deeper than this are not built (the directory walk stops there too).
pub(crate) const MAX_DEPTH: usize = 1024;

/// Where an inode is named.
#[derive(Clone, Debug)]
pub(crate) struct Link {
    /// The directory naming it.
    pub(crate) parent: u64,
    /// The name, with bytes that are not UTF-8 replaced.
    pub(crate) name: Box<str>,
}

/// The names found by the directory walk.
#[derive(Clone, Debug, Default)]
pub(crate) struct Names {
    /// Inodes in use reachable from the root: the first link the walk met (breadth first,
    /// so one of the shortest paths of a hard-linked file).
    pub(crate) live: HashMap<u64, Link>,
    /// Inodes not in use named by a deleted entry (or by an entry of a deleted directory).
    pub(crate) deleted: HashMap<u64, Link>,
}

impl Names {
    /// The absolute path of `inode`, if the walk named it and every directory up to the
    /// root is named too.
    pub(crate) fn path(&self, inode: u64) -> Option<String> {
        let mut parts: Vec<&str> = Vec::new();
        let mut at = inode;
        for _ in 0..=MAX_DEPTH {
            if at == ROOT_INODE {
                if parts.is_empty() {
                    return Some("/".into());
                }
                let mut path = String::new();
                for part in parts.iter().rev() {
                    path.push('/');
                    path.push_str(part);
                }
                return Some(path);
            }
            let link = self.live.get(&at).or_else(|| self.deleted.get(&at))?;
            parts.push(&link.name);
            at = link.parent;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(parent: u64, name: &str) -> Link {
        Link {
            parent,
            name: name.into(),
        }
    }

    #[test]
    fn paths() {
        let mut names = Names::default();
        names.live.insert(12, link(2, "root"));
        names.live.insert(13, link(12, ".aws"));
        names.deleted.insert(20, link(13, "credentials"));
        names.deleted.insert(30, link(31, "orphan"));
        names.live.insert(40, link(41, "a"));
        names.live.insert(41, link(40, "b"));
        assert_eq!(names.path(2).as_deref(), Some("/"));
        assert_eq!(names.path(13).as_deref(), Some("/root/.aws"));
        assert_eq!(names.path(20).as_deref(), Some("/root/.aws/credentials"));
        assert_eq!(names.path(30), None, "a parent without a name");
        assert_eq!(names.path(40), None, "a loop");
        assert_eq!(names.path(99), None);
    }
}
