//! The painted map of a block filesystem whose files are listed (ext2/3/4, XFS): packed
//! entries (a state and an owner) claimed over byte ranges, and the lookup that tells a
//! listed file's data from its slack (no I/O).
//!
//! Entries are packed into 4 bytes (a filesystem of millions of files has millions of
//! claims and intervals): the state in the high bits, the owner in the low ones. A claim on
//! a run of a listed file names the file's span instead ([`Claimed::span`]), and so does
//! the painted interval: the map tells the file's data from its slack when asked, from the
//! span and the file's size, so that a small file costs one claim and one interval, not
//! two. Each filesystem brings its own layers.

use std::ops::Range;

use crate::content::{Piece, Span};
use crate::file_list::{FileList, SpanRef};
use crate::filesystem::FileState;

/// Painted intervals a location's run reaches over at most, on each side, when neighbours
/// painted apart (the spans of one file, contiguous on the disk) say the same: past them the
/// run stops short (every byte of it still says the same).
const MAX_RUN_INTERVALS: usize = 1 << 12;

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

/// The claims of a block filesystem's map.
pub(crate) type Claims = crate::paint::Claims<Claimed>;

/// A block filesystem's painted claims.
pub(crate) type Painted = crate::paint::Painted<Claimed>;

/// The states of a listed file's span, data then slack, for a file in `state`.
pub(crate) fn span_states(state: FileState) -> (FileState, FileState) {
    match state {
        FileState::Deleted => (FileState::Deleted, FileState::Deleted),
        _ => (FileState::Allocated, FileState::Slack),
    }
}

/// The painted map and the files its span claims name.
#[derive(Clone, Debug)]
pub(crate) struct BlockMap {
    /// Regular files, for the file pass.
    pub(crate) files: FileList,
    /// Sorted, non-overlapping intervals covering the volume; a listed file's run is one
    /// interval, its data and its slack told apart when asked.
    pub(crate) painted: Painted,
}

impl BlockMap {
    /// What the byte at `offset` is, and the bytes around it that say the same (as far as
    /// [`MAX_RUN_INTERVALS`] neighbours on each side); `None` where no claim covers it.
    pub(crate) fn resolve(&self, offset: u64) -> Option<(Entry, Range<u64>)> {
        let index = self.painted.index(offset)?;
        let (entry, mut run) = self.piece(index, offset)?;
        let mut left = index;
        for _ in 0..MAX_RUN_INTERVALS {
            let Some(before) = left.checked_sub(1) else {
                break;
            };
            let edge = run.start.checked_sub(1);
            match edge.and_then(|at| self.piece(before, at)) {
                Some((said, piece)) if said == entry && piece.end == run.start => {
                    run.start = piece.start;
                    left = before;
                }
                _ => break,
            }
        }
        let mut right = index;
        for _ in 0..MAX_RUN_INTERVALS {
            let after = right.saturating_add(1);
            match self.piece(after, run.end) {
                Some((said, piece)) if said == entry && piece.start == run.end => {
                    run.end = piece.end;
                    right = after;
                }
                _ => break,
            }
        }
        Some((entry, run))
    }

    /// What the byte at `offset` of painted interval `index` is, and the bytes of the
    /// interval that say the same (a listed file's data, or its slack); `None` for a gap or
    /// an offset outside the interval.
    pub(crate) fn piece(&self, index: usize, offset: u64) -> Option<(Entry, Range<u64>)> {
        let (claimed, range) = self.painted.get(index)?;
        if !range.contains(&offset) {
            return None;
        }
        let span = match claimed.unpack() {
            Ok(entry) => return Some((entry, range)),
            Err(span) => span,
        };
        let (file, span) = self.files.span_at(span)?;
        let id = self.files.id(file)?;
        let size = self.files.size(file)?;
        let (data, slack) = span_states(self.files.state(file)?);
        // The span's bytes before the file's size are its data, the rest its slack.
        let split = match span {
            Span {
                start,
                len,
                piece: Piece::Volume(at),
            } => at.saturating_add(size.saturating_sub(start).min(len)),
            _ => u64::MAX,
        };
        let owner = Owner::Inode(id);
        Some(if offset < split {
            (Entry::new(data, owner), range.start..range.end.min(split))
        } else {
            (Entry::new(slack, owner), range.start.max(split)..range.end)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
