//! The file allocation table: what each entry says of its cluster, and cluster chains
//! followed with every cluster taken at most once (no I/O).
//!
//! A chain ends at an end-of-chain mark, at a free, bad or reserved entry, at an entry naming
//! no data cluster, or at a cluster already taken (by this chain: a loop; by another: a cross
//! link). Taking each cluster once, for all chains together, bounds the work of every chain
//! of the volume to its number of clusters.

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
            Kind::Fat32 => {
                let at = cluster.saturating_mul(4);
                let word = (0..4u64).fold(0u64, |word, i| {
                    word | (byte(at.saturating_add(i)) << i.saturating_mul(8))
                });
                word & 0x0fff_ffff
            }
        }
    }

    /// What the entry of `cluster` says.
    pub(crate) fn link(&self, cluster: u64) -> Link {
        let (bad, end) = match self.kind {
            Kind::Fat12 => (0xff7, 0xff8),
            Kind::Fat16 => (0xfff7, 0xfff8),
            Kind::Fat32 => (0x0fff_fff7, 0x0fff_fff8),
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

    /// The free clusters, as runs of consecutive cluster numbers.
    pub(crate) fn free_runs(&self) -> Vec<Range<u64>> {
        let mut runs: Vec<Range<u64>> = Vec::new();
        for cluster in 2..self.clusters.saturating_add(2) {
            if self.link(cluster) == Link::Free {
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
}
