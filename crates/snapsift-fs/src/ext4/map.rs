//! The ext4 map's claims: who a byte range belongs to and which claim wins where they
//! overlap, painted by the shared painter ([`crate::paint`]) into sorted, non-overlapping
//! intervals (no I/O).
//!
//! Entries are packed into 4 bytes (a filesystem of millions of files has millions of
//! claims and intervals): the state in the high bits, the owner in the low ones. A claim on
//! a run of a listed file names the file's span instead ([`Claimed::span`]), and so does
//! the painted interval: the map tells the file's data from its slack when asked, from the
//! span and the file's size, so that a small file costs one claim and one interval, not
//! two.

use super::FileState;
use crate::file_list::SpanRef;

/// Bits of a packed entry that hold the owner.
const OWNER_BITS: u32 = 28;
/// The owner's bits.
const OWNER_MASK: u32 = (1 << OWNER_BITS) - 1;
/// The owner value for an inode table (inode numbers stay below it: at most 2^27 are read).
const INODE_TABLE: u32 = OWNER_MASK;
/// In a claim's packed entry, this bit marks a span of the file list...
const SPAN: u32 = 1 << 31;
/// ...and this one, with it, a file's one span kept in its record ([`SpanRef::Only`]).
const ONLY: u32 = 1 << 30;

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

/// What a range is: a state and an owner, packed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry(u32);

/// The states, by their packed number.
const STATES: [FileState; 6] = [
    FileState::Allocated,
    FileState::Slack,
    FileState::Deleted,
    FileState::Unallocated,
    FileState::Metadata,
    FileState::Journal,
];

impl Entry {
    /// The entry of stretches no claim covers (the map has none inside the volume).
    pub(crate) const GAP: Entry = Entry(u32::MAX);

    /// `state`, owned by `owner` (an inode number too large to pack is owned by nobody;
    /// the walk reads no such inode).
    pub(crate) fn new(state: FileState, owner: Owner) -> Entry {
        let state_bits = STATES
            .iter()
            .position(|&s| s == state)
            .and_then(|i| u32::try_from(i).ok())
            .unwrap_or(0);
        let owner_bits = match owner {
            Owner::Nobody => 0,
            Owner::Inode(inode) => u32::try_from(inode)
                .ok()
                .filter(|&inode| inode < INODE_TABLE)
                .unwrap_or(0),
            Owner::InodeTable => INODE_TABLE,
        };
        Entry((state_bits << OWNER_BITS) | owner_bits)
    }

    /// Its state.
    pub(crate) fn state(self) -> FileState {
        let index = usize::try_from(self.0 >> OWNER_BITS).unwrap_or(0);
        STATES.get(index).copied().unwrap_or(FileState::Unallocated)
    }

    /// Its owner.
    pub(crate) fn owner(self) -> Owner {
        match self.0 & OWNER_MASK {
            0 => Owner::Nobody,
            INODE_TABLE => Owner::InodeTable,
            inode => Owner::Inode(u64::from(inode)),
        }
    }
}

/// What a claim (and a painted interval) says, packed: an entry, or a span of the file
/// list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Claimed(u32);

impl Claimed {
    /// What stretches no claim covers say (no entry has its state bits).
    pub(crate) const GAP: Claimed = Claimed(Entry::GAP.0 & !SPAN);

    /// The claim says `entry`.
    pub(crate) fn is(entry: Entry) -> Claimed {
        Claimed(entry.0 & !SPAN)
    }

    /// The claim is span `span` of the file list (its data, then its slack); `None` if the
    /// index does not fit.
    pub(crate) fn span(span: SpanRef) -> Option<Claimed> {
        let (index, kind) = match span {
            SpanRef::Only(index) => (index, SPAN | ONLY),
            SpanRef::Kept(index) => (index, SPAN),
        };
        (index & (SPAN | ONLY) == 0).then_some(Claimed(index | kind))
    }

    /// What it says: an entry, or a span of the file list.
    pub(crate) fn unpack(self) -> Result<Entry, SpanRef> {
        let index = self.0 & !(SPAN | ONLY);
        match (self.0 & SPAN != 0, self.0 & ONLY != 0) {
            (false, _) => Ok(Entry(self.0)),
            (true, true) => Err(SpanRef::Only(index)),
            (true, false) => Err(SpanRef::Kept(index)),
        }
    }
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

impl From<Layer> for u8 {
    fn from(layer: Layer) -> u8 {
        layer as u8
    }
}

/// The claims of the ext4 map.
pub(crate) type Claims = crate::paint::Claims<Claimed>;

/// The painted ext4 map.
pub(crate) type Painted = crate::paint::Painted<Claimed>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paint::paint;

    fn entry(state: FileState, inode: u64) -> Entry {
        Entry::new(state, Owner::Inode(inode))
    }

    #[test]
    fn entries_pack_and_unpack() {
        for state in STATES {
            for owner in [Owner::Nobody, Owner::Inode(1 << 27), Owner::InodeTable] {
                let packed = Entry::new(state, owner);
                assert_eq!((packed.state(), packed.owner()), (state, owner));
                assert_eq!(Claimed::is(packed).unpack(), Ok(packed));
            }
        }
        assert_eq!(
            Entry::new(FileState::Slack, Owner::Inode(1 << 40)).owner(),
            Owner::Nobody
        );
        for span in [
            SpanRef::Only(77),
            SpanRef::Kept(77),
            SpanRef::Kept(ONLY - 1),
        ] {
            assert_eq!(Claimed::span(span).unwrap().unpack(), Err(span));
        }
        assert_eq!(Claimed::span(SpanRef::Kept(ONLY)), None);
        assert_eq!(Claimed::span(SpanRef::Only(SPAN)), None);
        assert_ne!(Entry::GAP, entry(FileState::Journal, 0));
        assert_eq!(
            Claimed::GAP.unpack().map(Entry::state),
            Ok(FileState::Unallocated)
        );
        assert_ne!(
            Claimed::GAP,
            Claimed::span(SpanRef::Only(ONLY - 1)).unwrap()
        );
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
