//! The map's own numbers for XFS inodes (no I/O). An XFS inode number has up to 64 bits (the
//! AG, the block and the slot in it), the file list, the names and the packed entries count
//! files in at most 28: each inode chunk read (64 inodes) takes the next 64 numbers, from 1
//! (0 is nobody's).

/// Numbers given at most (the packed entries' owner bits, with room for the inode table's
/// marker).
pub(crate) const MAX_NUMBERS: u64 = 1 << 27;
/// Inodes per chunk.
const CHUNK: u64 = super::btree::CHUNK_INODES;

/// Chunks numbered, in increasing inode order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Numbering {
    /// Each chunk's first inode and the number of that inode.
    chunks: Vec<(u64, u64)>,
}

impl Numbering {
    /// Numbers the chunk whose first inode is `first`; its inode `i` gets the returned number
    /// plus `i`. `None` if the numbers are spent or `first` does not come after the chunks
    /// already numbered (overlapping or unsorted chunks: a damaged tree).
    pub(crate) fn push(&mut self, first: u64) -> Option<u64> {
        let next = match self.chunks.last() {
            Some(&(last, number)) => {
                if first < last.checked_add(CHUNK)? {
                    return None;
                }
                number.checked_add(CHUNK)?
            }
            None => 1,
        };
        if next.checked_add(CHUNK)? > MAX_NUMBERS {
            return None;
        }
        self.chunks.push((first, next));
        Some(next)
    }

    /// The number of inode `ino`, if a chunk numbered holds it.
    pub(crate) fn number(&self, ino: u64) -> Option<u64> {
        let after = self.chunks.partition_point(|&(first, _)| first <= ino);
        let &(first, number) = self.chunks.get(after.checked_sub(1)?)?;
        let i = ino.checked_sub(first).filter(|&i| i < CHUNK)?;
        number.checked_add(i)
    }

    /// The inode that has number `number`.
    pub(crate) fn ino(&self, number: u64) -> Option<u64> {
        let after = self.chunks.partition_point(|&(_, n)| n <= number);
        let &(first, n) = self.chunks.get(after.checked_sub(1)?)?;
        let i = number.checked_sub(n).filter(|&i| i < CHUNK)?;
        first.checked_add(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_both_ways() {
        let mut numbering = Numbering::default();
        assert_eq!(numbering.push(128), Some(1));
        assert_eq!(numbering.push(1 << 40), Some(65));
        assert_eq!(numbering.push(1 << 39), None, "unsorted");
        assert_eq!(numbering.push((1 << 40) + 63), None, "overlapping");
        assert_eq!(numbering.number(131), Some(4));
        assert_eq!(numbering.ino(4), Some(131));
        assert_eq!(numbering.number((1 << 40) + 2), Some(67));
        assert_eq!(numbering.ino(67), Some((1 << 40) + 2));
        assert_eq!(numbering.number(127), None);
        assert_eq!(numbering.number(192), None);
        assert_eq!(numbering.ino(0), None);
        assert_eq!(numbering.ino(129), None);
    }

    #[test]
    fn numbers_run_out() {
        let mut numbering = Numbering::default();
        let chunks = MAX_NUMBERS / CHUNK;
        for i in 0..chunks - 1 {
            assert!(numbering.push(i * 64).is_some());
        }
        assert_eq!(numbering.push(u64::MAX - 100), None);
    }
}
