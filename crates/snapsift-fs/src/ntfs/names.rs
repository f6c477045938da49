//! Names of file records: each record's `$FILE_NAME` (its parent directory and its name),
//! from which paths are built on demand (no I/O).
//!
//! NTFS keeps a file's name and its parent's reference in the file's own record, in use or
//! not, so a deleted file keeps its old name and parent as long as its record is not reused.
//! A parent reference counts only if the parent record still is the directory it names: the
//! same sequence number, or, for a parent no longer in use, the one NTFS gave it when it
//! freed the record (one more). Otherwise the record has no path (as TSK's orphans).

use std::collections::HashMap;

use super::record::{le, reference, utf16};
use crate::file_list::PathOf;

/// The root directory's record.
pub(crate) const ROOT: u64 = 5;

/// Paths deeper than this are not built.
pub(crate) const MAX_DEPTH: usize = 1024;

/// The DOS namespace: an 8.3 alias, used only when a record has no other name.
const DOS: u8 = 2;

/// One `$FILE_NAME` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FileName {
    /// The parent directory's record number.
    pub(crate) parent: u64,
    /// The sequence number the parent had when the name was written.
    pub(crate) parent_sequence: u16,
    /// The namespace: 0 POSIX, 1 Win32, 2 DOS, 3 Win32 and DOS.
    pub(crate) namespace: u8,
    /// The name, with UTF-16 that does not decode replaced.
    pub(crate) name: Box<str>,
}

/// Parses a `$FILE_NAME` value; `None` if it is cut short.
pub(crate) fn parse(value: &[u8]) -> Option<FileName> {
    let (parent, parent_sequence) = reference(value, 0);
    let chars = usize::try_from(le::<1>(value, 0x40)).ok()?;
    let namespace = u8::try_from(le::<1>(value, 0x41)).ok()?;
    let raw = value.get(0x42..0x42usize.checked_add(chars.checked_mul(2)?)?)?;
    Some(FileName {
        parent,
        parent_sequence,
        namespace,
        name: utf16(raw).into_boxed_str(),
    })
}

/// The name a record goes by: the first that is not only a DOS alias, else the first.
pub(crate) fn preferred(names: &[FileName]) -> Option<&FileName> {
    names
        .iter()
        .find(|n| n.namespace != DOS)
        .or_else(|| names.first())
}

/// What the names of the MFT's records say.
#[derive(Clone, Debug, Default)]
pub(crate) struct Names {
    /// Each named record's (parent, name).
    links: HashMap<u64, (u64, Box<str>)>,
}

/// What a parent reference is checked against: the record's sequence number, and whether
/// it is in use and a directory.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Parent {
    /// Its sequence number.
    pub(crate) sequence: u16,
    /// Whether it is in use.
    pub(crate) in_use: bool,
    /// Whether it is a directory.
    pub(crate) directory: bool,
}

impl Names {
    /// Records that `record` is called `name` in `parent`, if `parent` (as `lookup` finds
    /// it) still is the directory the name refers to.
    pub(crate) fn add(
        &mut self,
        record: u64,
        name: &FileName,
        lookup: impl Fn(u64) -> Option<Parent>,
    ) {
        let Some(parent) = lookup(name.parent) else {
            return;
        };
        let same = parent.sequence == name.parent_sequence
            || (!parent.in_use && parent.sequence == name.parent_sequence.wrapping_add(1));
        if parent.directory && same && (record != name.parent || record == ROOT) {
            self.links.insert(record, (name.parent, name.name.clone()));
        }
    }

    /// The absolute path of `record`, if it and every directory up to the root are named;
    /// `None` past [`MAX_DEPTH`] or in a loop.
    pub(crate) fn path(&self, record: u64) -> Option<String> {
        let mut parts: Vec<&str> = Vec::new();
        let mut at = record;
        while at != ROOT {
            if parts.len() >= MAX_DEPTH {
                return None;
            }
            let (parent, name) = self.links.get(&at)?;
            parts.push(name);
            at = *parent;
        }
        parts.reverse();
        Some(format!("/{}", parts.join("/")))
    }

    /// Whether `record` lies under `directory` (or is it), following names up to the root.
    pub(crate) fn is_under(&self, record: u64, directory: u64) -> bool {
        let mut at = record;
        for _ in 0..=MAX_DEPTH {
            if at == directory {
                return true;
            }
            match self.links.get(&at) {
                Some((parent, _)) if at != ROOT => at = *parent,
                _ => return false,
            }
        }
        false
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

    fn name(parent: u64, parent_sequence: u16, namespace: u8, name: &str) -> FileName {
        FileName {
            parent,
            parent_sequence,
            namespace,
            name: name.into(),
        }
    }

    #[test]
    fn file_name_values() {
        let mut value = vec![0u8; 0x42];
        value[..8].copy_from_slice(&(64u64 | (3u64 << 48)).to_le_bytes());
        value[0x40] = 2;
        value[0x41] = 1;
        value.extend_from_slice(&[b'h', 0, b'i', 0]);
        assert_eq!(parse(&value), Some(name(64, 3, 1, "hi")));
        assert_eq!(parse(&value[..0x43]), None);
        let names = [name(5, 5, 2, "SECRET~1.TXT"), name(5, 5, 1, "secret.txt")];
        assert_eq!(&*preferred(&names).unwrap().name, "secret.txt");
        assert_eq!(&*preferred(&names[..1]).unwrap().name, "SECRET~1.TXT");
        assert!(preferred(&[]).is_none());
    }

    #[test]
    fn paths_parents_and_loops() {
        let dirs: HashMap<u64, Parent> = [
            (5, (5, true)),
            (64, (2, true)),
            (65, (4, false)),
            (70, (1, true)),
            (71, (1, true)),
        ]
        .into_iter()
        .map(|(r, (sequence, in_use))| {
            (
                r,
                Parent {
                    sequence,
                    in_use,
                    directory: true,
                },
            )
        })
        .collect();
        let lookup = |r: u64| dirs.get(&r).copied();
        let mut names = Names::default();
        names.add(5, &name(5, 5, 3, "."), lookup);
        names.add(64, &name(5, 5, 1, "Users"), lookup);
        names.add(65, &name(64, 2, 1, "bob"), lookup);
        // A deleted file in a deleted directory: the directory's sequence went up by one.
        names.add(66, &name(65, 3, 1, "secret.txt"), lookup);
        // A parent reused since (sequence 1 now, 9 named).
        names.add(67, &name(70, 9, 1, "stale"), lookup);
        // A loop: 70 in 71, 71 in 70.
        names.add(70, &name(71, 1, 1, "a"), lookup);
        names.add(71, &name(70, 1, 1, "b"), lookup);
        assert_eq!(names.path(5).as_deref(), Some("/"));
        assert_eq!(names.path(66).as_deref(), Some("/Users/bob/secret.txt"));
        assert_eq!(names.path(67), None);
        assert_eq!(names.path(70), None);
        assert_eq!(names.path(99), None);
        assert!(names.is_under(66, 64));
        assert!(!names.is_under(66, 70));
        assert!(!names.is_under(70, 64));
    }
}
