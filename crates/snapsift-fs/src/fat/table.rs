//! The file allocation table: what each entry says of its cluster, and cluster chains
//! followed with every cluster taken at most once (no I/O).
//!
//! A chain ends at an end-of-chain mark, at a free, bad or reserved entry, at an entry naming
//! no data cluster, or at a cluster already taken (by this chain: a loop; by another: a cross
//! link). Taking each cluster once, for all chains together, bounds the work of every chain
//! of the volume to its number of clusters.
//!
//! exFAT keeps which clusters are free in an allocation bitmap, not in the FAT (a file
//! stored contiguously, "NoFatChain", leaves its FAT entries free): once the bitmap is
//! given ([`Table::set_bitmap`]) it decides, and such files are taken as a run of clusters
//! ([`Table::contiguous`]).

use std::ops::Range;

use super::boot::Kind;

/// What a FAT entry says of its cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Link {
    /// The cluster is free.
    Free,
    /// The chain goes on at this cluster.
    Next(u64),
    /// The chain ends here.
    End,
    /// The cluster is marked bad.
    Bad,
    /// The entry names no data cluster (a reserved value, or past the last cluster).
    Invalid,
}

/// How a chain ended, when it ended early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// At its end-of-chain mark.
    End,
    /// At a cluster already taken: a loop or a cross link.
    Taken,
    /// At a free, bad or invalid entry, or a first cluster that is not a data cluster.
    Broken,
    /// After the clusters asked for at most.
    Limit,
}

/// A FAT, and which clusters chains have taken.
pub(crate) struct Table {
    kind: Kind,
    bytes: Vec<u8>,
    /// Data clusters: valid cluster numbers are 2 to `clusters + 1`.
    clusters: u64,
    /// Clusters taken by a chain, a bit per cluster number.
    taken: Vec<u64>,
    /// exFAT's allocation bitmap: a bit per data cluster from cluster 2, set when in use.
    bitmap: Option<Vec<u8>>,
}

impl Table {
    /// The FAT `bytes` of a volume of `clusters` data clusters.
    pub(crate) fn new(kind: Kind, bytes: Vec<u8>, clusters: u64) -> Table {
        let words = usize::try_from(clusters.saturating_add(2).div_ceil(64)).unwrap_or(0);
        Table {
            kind,
            bytes,
            clusters,
            taken: vec![0; words],
            bitmap: None,
        }
    }

    /// Makes exFAT's allocation `bitmap` decide which clusters are free.
    pub(crate) fn set_bitmap(&mut self, bitmap: Vec<u8>) {
        self.bitmap = Some(bitmap);
    }

    /// Whether `cluster` is free: per the allocation bitmap where there is one (a cluster
    /// past its bytes is in use), else per the FAT.
    pub(crate) fn is_free(&self, cluster: u64) -> bool {
        match &self.bitmap {
            Some(bitmap) => {
                let index = cluster.saturating_sub(2);
                usize::try_from(index / 8)
                    .ok()
                    .and_then(|byte| bitmap.get(byte))
                    .is_some_and(|&b| b & (1 << (index % 8)) == 0)
            }
            None => self.link(cluster) == Link::Free,
        }
    }

    /// Whether `cluster` is a data cluster.
    pub(crate) fn is_data(&self, cluster: u64) -> bool {
        cluster >= 2 && cluster.saturating_sub(2) < self.clusters
    }

    /// The raw entry of `cluster` (0 where the FAT's bytes end before it).
    fn raw(&self, cluster: u64) -> u64 {
        let byte = |at: u64| {
            usize::try_from(at)
                .ok()
                .and_then(|at| self.bytes.get(at))
                .map_or(0, |&b| u64::from(b))
        };
        match self.kind {
            Kind::Fat12 => {
                // Two entries in three bytes: the even one in the low 12 bits.
                let at = cluster.saturating_mul(3) / 2;
                let pair = byte(at) | (byte(at.saturating_add(1)) << 8);
                if cluster.is_multiple_of(2) {
                    pair & 0xfff
                } else {
                    pair >> 4
                }
            }
            Kind::Fat16 => {
                let at = cluster.saturating_mul(2);
                byte(at) | (byte(at.saturating_add(1)) << 8)
            }
            Kind::Fat32 | Kind::ExFat => {
                let at = cluster.saturating_mul(4);
                let word = (0..4u64).fold(0u64, |word, i| {
                    word | (byte(at.saturating_add(i)) << i.saturating_mul(8))
                });
                if self.kind == Kind::Fat32 {
                    word & 0x0fff_ffff
                } else {
                    word
                }
            }
        }
    }

    /// What the entry of `cluster` says.
    pub(crate) fn link(&self, cluster: u64) -> Link {
        let (bad, end) = match self.kind {
            Kind::Fat12 => (0xff7, 0xff8),
            Kind::Fat16 => (0xfff7, 0xfff8),
            Kind::Fat32 => (0x0fff_fff7, 0x0fff_fff8),
            Kind::ExFat => (0xffff_fff7, 0xffff_fff8),
        };
        match self.raw(cluster) {
            0 => Link::Free,
            v if v >= end => Link::End,
            v if v == bad => Link::Bad,
            v if self.is_data(v) => Link::Next(v),
            _ => Link::Invalid,
        }
    }

    /// Whether a chain has taken `cluster`.
    pub(crate) fn is_taken(&self, cluster: u64) -> bool {
        let (word, bit) = bit(cluster);
        self.taken.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }

    /// Takes `cluster`; false if it was taken already (or is no data cluster).
    pub(crate) fn take(&mut self, cluster: u64) -> bool {
        if !self.is_data(cluster) || self.is_taken(cluster) {
            return false;
        }
        let (word, bit) = bit(cluster);
        if let Some(w) = self.taken.get_mut(word) {
            *w |= 1 << bit;
        }
        true
    }

    /// Follows the chain from `first`, taking its clusters, for at most `max` clusters.
    /// Returns its runs of consecutive clusters, in chain order, and how it stopped.
    pub(crate) fn chain(&mut self, first: u64, max: u64) -> (Vec<Range<u64>>, Stop) {
        let mut runs: Vec<Range<u64>> = Vec::new();
        let mut at = first;
        let mut count = 0u64;
        loop {
            if count >= max {
                return (runs, Stop::Limit);
            }
            if !self.is_data(at) {
                return (runs, Stop::Broken);
            }
            if !self.take(at) {
                return (runs, Stop::Taken);
            }
            count = count.saturating_add(1);
            match runs.last_mut() {
                Some(run) if run.end == at => run.end = at.saturating_add(1),
                _ => runs.push(at..at.saturating_add(1)),
            }
            match self.link(at) {
                Link::Next(next) => at = next,
                Link::End => return (runs, Stop::End),
                Link::Free | Link::Bad | Link::Invalid => return (runs, Stop::Broken),
            }
        }
    }

    /// Takes `count` clusters from `first` on, as exFAT stores a file without a FAT chain,
    /// stopping at one that is not a data cluster, that the allocation bitmap marks free (a
    /// size larger than the file's run), or that is taken already.
    pub(crate) fn contiguous(&mut self, first: u64, count: u64) -> (Vec<Range<u64>>, Stop) {
        let mut at = first;
        while at.saturating_sub(first) < count {
            if !self.is_data(at) || (self.bitmap.is_some() && self.is_free(at)) {
                return (runs_of(first..at), Stop::Broken);
            }
            if !self.take(at) {
                return (runs_of(first..at), Stop::Taken);
            }
            at = at.saturating_add(1);
        }
        (runs_of(first..at), Stop::End)
    }

    /// The free clusters (see [`Table::is_free`]), as runs of consecutive cluster numbers.
    pub(crate) fn free_runs(&self) -> Vec<Range<u64>> {
        let mut runs: Vec<Range<u64>> = Vec::new();
        for cluster in 2..self.clusters.saturating_add(2) {
            if self.is_free(cluster) {
                match runs.last_mut() {
                    Some(run) if run.end == cluster => run.end = cluster.saturating_add(1),
                    _ => runs.push(cluster..cluster.saturating_add(1)),
                }
            }
        }
        runs
    }

    /// The clusters marked bad.
    pub(crate) fn bad_clusters(&self) -> impl Iterator<Item = u64> + '_ {
        (2..self.clusters.saturating_add(2)).filter(|&c| self.link(c) == Link::Bad)
    }
}

/// `run` as a list of runs: empty if it is.
fn runs_of(run: Range<u64>) -> Vec<Range<u64>> {
    if run.is_empty() {
        Vec::new()
    } else {
        vec![run]
    }
}

/// The word and bit of `cluster` in a bitset.
fn bit(cluster: u64) -> (usize, u32) {
    (
        usize::try_from(cluster / 64).unwrap_or(usize::MAX),
        u32::try_from(cluster % 64).unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fat16(entries: &[u16]) -> Table {
        let bytes = entries.iter().flat_map(|e| e.to_le_bytes()).collect();
        Table::new(Kind::Fat16, bytes, entries.len() as u64 - 2)
    }

    #[test]
    fn fat12_entries_share_bytes() {
        // Entries 2 = 0x003, 3 = 0xfff (end), packed three bytes per pair.
        let bytes = vec![0xf8, 0xff, 0xff, 0x03, 0xf0, 0xff];
        let table = Table::new(Kind::Fat12, bytes, 2);
        assert_eq!(table.link(2), Link::Next(3));
        assert_eq!(table.link(3), Link::End);
    }

    #[test]
    fn chains_runs_and_stops() {
        let mut table = fat16(&[0xfff8, 0xffff, 3, 4, 7, 0, 0, 0xffff, 0xfff7, 9, 9]);
        assert_eq!(table.chain(2, 100), (vec![2..5, 7..8], Stop::End));
        // 9 points to itself: a loop, cut at the second visit.
        assert_eq!(table.chain(9, 100), (vec![9..10], Stop::Taken));
        // 10 is cross-linked into 9, taken already.
        assert_eq!(table.chain(10, 100), (vec![10..11], Stop::Taken));
        assert_eq!(table.chain(5, 100), (vec![5..6], Stop::Broken), "free");
        assert_eq!(table.chain(8, 100), (vec![8..9], Stop::Broken), "bad");
        assert_eq!(table.chain(1, 100), (vec![], Stop::Broken));
        assert_eq!(table.chain(6, 0), (vec![], Stop::Limit));
        assert_eq!(table.free_runs(), vec![5..7]);
        assert_eq!(table.bad_clusters().collect::<Vec<_>>(), vec![8]);
    }

    #[test]
    fn exfat_entries_runs_and_the_bitmap() {
        // 2 -> 3 -> end; 4 bad; 5..9 free in the FAT (a contiguous file's clusters).
        let entries: [u32; 10] = [
            0xffff_fff8,
            0xffff_ffff,
            3,
            0xffff_ffff,
            0xffff_fff7,
            0,
            0,
            0,
            0,
            0,
        ];
        let bytes = entries.iter().flat_map(|e| e.to_le_bytes()).collect();
        let mut table = Table::new(Kind::ExFat, bytes, 8);
        assert_eq!(table.link(3), Link::End);
        assert_eq!(table.link(4), Link::Bad);
        assert!(table.is_free(6), "the FAT decides without a bitmap");
        // Clusters 2, 3, 5, 6, 7 in use.
        table.set_bitmap(vec![0b0011_1011]);
        assert!(!table.is_free(6) && table.is_free(4) && table.is_free(8));
        assert!(!table.is_free(100), "past the bitmap is in use");
        assert_eq!(table.free_runs(), vec![4..5, 8..10]);
        assert_eq!(table.contiguous(5, 3), (vec![5..8], Stop::End));
        assert_eq!(table.contiguous(7, 2), (vec![], Stop::Taken));
        assert_eq!(table.contiguous(9, 5), (vec![], Stop::Broken), "free");
        table.set_bitmap(vec![0xff]);
        assert_eq!(
            table.contiguous(9, 5),
            (vec![9..10], Stop::Broken),
            "the end"
        );
        assert_eq!(table.chain(2, 10), (vec![2..4], Stop::End));
    }
}
