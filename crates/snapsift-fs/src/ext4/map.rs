//! The ext4 map's layers: which claim wins where claims overlap. The claims and entries are
//! the block filesystems' shared ones ([`crate::block_map`]), painted by the shared painter
//! ([`crate::paint`]) into sorted, non-overlapping intervals (no I/O).

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

impl From<Layer> for u8 {
    fn from(layer: Layer) -> u8 {
        layer as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block_map::{Claimed, Claims, Entry, Owner};
    use crate::filesystem::FileState;
    use crate::paint::paint;

    fn entry(state: FileState, inode: u64) -> Entry {
        Entry::new(state, Owner::Inode(inode))
    }

    #[test]
    fn layers_and_order() {
        let free = Entry::new(FileState::Unallocated, Owner::Nobody);
        let mut claims = Claims::new(100);
        let mut claim =
            |start, end, layer, entry| claims.add(start, end, layer, Claimed::is(entry));
        claim(0, 100, Layer::Base, free);
        claim(10, 30, Layer::Deleted, entry(FileState::Deleted, 7));
        claim(20, 40, Layer::File, entry(FileState::Allocated, 5));
        claim(35, 50, Layer::File, entry(FileState::Allocated, 6));
        claim(90, 200, Layer::File, entry(FileState::Allocated, 6));
        let painted = paint(&mut claims.list, 100, Claimed::GAP);
        let intervals: Vec<(u64, u64, Entry)> = painted
            .intervals()
            .into_iter()
            .map(|(start, end, claimed)| (start, end, claimed.unpack().unwrap()))
            .collect();
        assert_eq!(
            intervals,
            vec![
                (0, 10, free),
                (10, 20, entry(FileState::Deleted, 7)),
                (20, 40, entry(FileState::Allocated, 5)),
                (40, 50, entry(FileState::Allocated, 6)),
                (50, 90, free),
                (90, 100, entry(FileState::Allocated, 6)),
            ]
        );
        assert_eq!(painted.find(0).unwrap().1, 0..10);
        assert_eq!(
            painted.find(39).unwrap().0,
            Claimed::is(entry(FileState::Allocated, 5))
        );
        assert_eq!(painted.find(99).unwrap().1, 90..100);
        assert!(painted.find(100).is_none());
    }
}
