//! The XFS map's layers: which claim wins where claims overlap. The claims and entries are
//! the block filesystems' shared ones ([`crate::block_map`]).

/// Which claim wins where claims overlap: the higher layer, then the earlier claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Layer {
    /// Everything: in use (by nothing the walk found) unless something else says otherwise;
    /// past the filesystem's end, free.
    Base,
    /// Free space, as the free space B+tree (`bnobt`) records it.
    Free,
    /// Blocks of an inode in use: file data, slack, directory, extent tree and attribute
    /// blocks.
    File,
    /// The internal log.
    Log,
    /// AG headers, the AG free list, the AGs' B+tree blocks, inode chunks.
    Structure,
}

impl From<Layer> for u8 {
    fn from(layer: Layer) -> u8 {
        layer as u8
    }
}
