//! The ext4 map's claims: who a byte range belongs to and which claim wins where they
//! overlap, painted by the shared painter ([`crate::paint`]) into sorted, non-overlapping
//! intervals (no I/O).

use super::FileState;

/// Who a range belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// Nobody (free space, filesystem structures).
    Nobody,
    /// An inode.
    Inode(u64),
    /// An inode table: the inode is the record the byte falls in.
    InodeTable,
}

/// What a range is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Its state.
    pub(crate) state: FileState,
    /// Its owner.
    pub(crate) owner: Owner,
}

/// Which claim wins where claims overlap: the higher layer, then the earlier claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Layer {
    /// Everything: free unless something else says otherwise.
    Base,
    /// Blocks a deleted inode still records (shown only where nothing in use claims them).
    Deleted,
    /// Blocks the block bitmap marks in use.
    InUse,
    /// Blocks of a file's clusters (bigalloc) that its extents do not map.
    ClusterTail,
    /// Blocks of an inode in use: file data, slack, directory and tree blocks.
    File,
    /// The journal inode's blocks.
    Journal,
    /// Superblocks, descriptors, bitmaps, inode tables.
    Structure,
    /// Inode records holding a file's data (inline data), over their inode table.
    Record,
}

/// A claim of the ext4 map.
pub(crate) type Claim = crate::paint::Claim<Layer, Entry>;

/// A painted interval of the ext4 map.
pub(crate) type Interval = crate::paint::Interval<Entry>;

pub(crate) use crate::paint::{find, paint, range};

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(state: FileState, inode: u64) -> Entry {
        Entry {
            state,
            owner: Owner::Inode(inode),
        }
    }

    fn claim(start: u64, end: u64, layer: Layer, entry: Entry) -> Claim {
        Claim {
            range: (start, end),
            layer,
            entry,
        }
    }

    #[test]
    fn layers_and_order() {
        let free = Entry {
            state: FileState::Unallocated,
            owner: Owner::Nobody,
        };
        let claims = [
            claim(0, 100, Layer::Base, free),
            claim(10, 30, Layer::Deleted, entry(FileState::Deleted, 7)),
            claim(20, 40, Layer::File, entry(FileState::Allocated, 5)),
            claim(35, 50, Layer::File, entry(FileState::Allocated, 6)),
            claim(90, 200, Layer::File, entry(FileState::Allocated, 6)),
        ];
        let painted = paint(&claims, 100);
        let got: Vec<(u64, u64, Entry)> = painted
            .iter()
            .map(|iv| (iv.start, iv.end, iv.entry))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 10, free),
                (10, 20, entry(FileState::Deleted, 7)),
                (20, 40, entry(FileState::Allocated, 5)),
                (40, 50, entry(FileState::Allocated, 6)),
                (50, 90, free),
                (90, 100, entry(FileState::Allocated, 6)),
            ]
        );
        assert_eq!(find(&painted, 0).unwrap().start, 0);
        assert_eq!(
            find(&painted, 39).unwrap().entry,
            entry(FileState::Allocated, 5)
        );
        assert_eq!(find(&painted, 99).unwrap().end, 100);
        assert!(find(&painted, 100).is_none());
    }

    #[test]
    fn neighbours_merge() {
        let a = entry(FileState::Allocated, 5);
        let claims = [
            claim(0, 10, Layer::File, a),
            claim(10, 20, Layer::File, a),
            claim(5, 5, Layer::Record, a),
        ];
        let painted = paint(&claims, 100);
        assert_eq!(painted.len(), 1);
        assert_eq!(range(&painted[0]), 0..20);
        assert!(paint::<Layer, Entry>(&[], 10).is_empty());
    }
}
