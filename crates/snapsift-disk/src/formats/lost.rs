//! Tables read from a damaged image: the bytes that could be read, and which could not.
//!
//! An I/O error on a sector of a table, or a table that runs past the end of a file cut short,
//! loses the entries there, not the image: [`read_table`] reads what it can and says what it
//! could not, so that a reader lists the stretches of the virtual disk those entries map as
//! unreadable ([`crate::DataMap`]) and reads the rest.

use std::ops::Range;

use crate::Unreadable;
use crate::data_map::describe;
use crate::host::Host;

/// A table that fails to read whole is read again in pieces this long: a sector, the unit in
/// which disks fail.
const PIECE: usize = 512;

/// A table read from an image.
#[derive(Debug, Default)]
pub(crate) struct Table {
    /// The table's bytes up to the end of the file (so shorter than asked for when the file
    /// is cut short); pieces that could not be read are zeros.
    pub(crate) bytes: Vec<u8>,
    /// The bytes of the table (offsets from its start) that could not be read, in order, with
    /// why.
    pub(crate) lost: Vec<(Range<u64>, String)>,
}

impl Table {
    /// Why any of the table's bytes `range` could not be read, if any could not.
    pub(crate) fn lost_in(&self, range: Range<u64>) -> Option<&str> {
        // `lost` is sorted: the first piece that ends after `range` starts is the only candidate.
        let at = self.lost.partition_point(|(r, _)| r.end <= range.start);
        self.lost
            .get(at)
            .filter(|(r, _)| r.start < range.end)
            .map(|(_, reason)| reason.as_str())
    }
}

/// The blocks (of one size, numbered from the disk's start) whose table entries or data are
/// lost, in runs, with why.
#[derive(Debug, Default)]
pub(crate) struct LostBlocks(Vec<(Range<u64>, String)>);

impl LostBlocks {
    /// Adds blocks `blocks`, lost for `reason`; [`LostBlocks::sorted`] puts them in order.
    pub(crate) fn add(&mut self, blocks: Range<u64>, reason: &str) {
        match self.0.last_mut() {
            Some((last, why)) if last.end == blocks.start && why == reason => {
                last.end = blocks.end;
            }
            _ => self.0.push((blocks, reason.to_owned())),
        }
    }

    /// The runs sorted by their first block, for [`LostBlocks::reason`].
    pub(crate) fn sorted(mut self) -> LostBlocks {
        self.0.sort_by_key(|(blocks, _)| blocks.start);
        self
    }

    /// Why block `block` is lost, if it is.
    pub(crate) fn reason(&self, block: u64) -> Option<&str> {
        let at = self.0.partition_point(|(blocks, _)| blocks.end <= block);
        self.0
            .get(at)
            .filter(|(blocks, _)| blocks.start <= block)
            .map(|(_, reason)| reason.as_str())
    }

    /// The lost stretches of a disk of `size` bytes in blocks of `block_size`, as unreadable
    /// virtual bytes; each reason says which blocks (called `noun`s, such as `block`) and why.
    pub(crate) fn unreadable(&self, block_size: u64, size: u64, noun: &str) -> Vec<Unreadable> {
        self.0
            .iter()
            .map(|(blocks, reason)| Unreadable {
                range: blocks.start.saturating_mul(block_size).min(size)
                    ..blocks.end.saturating_mul(block_size).min(size),
                reason: if blocks.end.saturating_sub(blocks.start) == 1 {
                    format!("{noun} {}: {reason}", blocks.start)
                } else {
                    format!("{noun}s {}..{}: {reason}", blocks.start, blocks.end)
                },
            })
            .filter(|u| u.range.start < u.range.end)
            .collect()
    }

    /// The runs, in order.
    pub(crate) fn runs(&self) -> impl Iterator<Item = &Range<u64>> {
        self.0.iter().map(|(blocks, _)| blocks)
    }
}

/// Reads the `len` bytes of the table `what` (such as `the BAT`) at file offset `offset`: the
/// bytes past the end of the file are left out, and pieces whose read fails are zeroed; both
/// are listed in [`Table::lost`]. Callers bound `len` before they call.
pub(crate) fn read_table(host: &Host, offset: u64, len: u64, what: &str) -> Table {
    let available = host.len().saturating_sub(offset).min(len);
    let mut table = Table::default();
    if let Ok(size) = usize::try_from(available) {
        table.bytes = vec![0; size];
        if host.read_exact_at(offset, &mut table.bytes).is_err() {
            read_in_pieces(host, offset, &mut table, what);
        }
    }
    let read = u64::try_from(table.bytes.len()).unwrap_or(0);
    if read < len {
        table.lost.push((
            read..len,
            format!(
                "{what} runs past the end of the file ({} bytes): the image is truncated",
                host.len()
            ),
        ));
    }
    table
}

/// Reads `table.bytes` (at `offset`) [`PIECE`] by piece, zeroing and listing those that fail.
fn read_in_pieces(host: &Host, offset: u64, table: &mut Table, what: &str) {
    let mut start = 0u64;
    for piece in table.bytes.chunks_mut(PIECE) {
        let end = start.saturating_add(piece.len() as u64);
        if let Err(error) = host.read_exact_at(offset.saturating_add(start), piece) {
            piece.fill(0);
            let reason = format!("{what} cannot be read: {}", describe(&error));
            match table.lost.last_mut() {
                Some((last, _)) if last.end == start => last.end = end,
                _ => table.lost.push((start..end, reason)),
            }
        }
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_blocks_are_found_by_number_and_mapped_to_bytes() {
        let mut lost = LostBlocks::default();
        lost.add(10..12, "past the end");
        lost.add(12..13, "past the end");
        lost.add(2..3, "the BAT cannot be read");
        let lost = lost.sorted();
        assert_eq!(lost.reason(2), Some("the BAT cannot be read"));
        assert_eq!(lost.reason(3), None);
        assert_eq!(lost.reason(12), Some("past the end"));
        assert_eq!(lost.reason(13), None);
        let unreadable = lost.unreadable(100, 1250, "block");
        let ranges: Vec<_> = unreadable.iter().map(|u| u.range.clone()).collect();
        assert_eq!(ranges, vec![200..300, 1000..1250]);
        assert_eq!(unreadable[1].reason, "blocks 10..13: past the end");
    }

    #[test]
    fn a_table_past_the_end_of_the_file_loses_its_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.img");
        std::fs::write(&path, vec![7u8; 1000]).unwrap();
        let host = Host::open(&path).unwrap();
        let table = read_table(&host, 600, 1024, "the table");
        assert_eq!(table.bytes, vec![7u8; 400]);
        assert_eq!(table.lost.len(), 1);
        assert_eq!(table.lost[0].0, 400..1024);
        assert!(table.lost[0].1.contains("truncated"), "{:?}", table.lost);
        assert_eq!(table.lost_in(0..400), None);
        assert!(table.lost_in(392..400).is_none());
        assert!(table.lost_in(396..404).is_some());
        let beyond = read_table(&host, 5000, 16, "the table");
        assert!(beyond.bytes.is_empty());
        assert_eq!(beyond.lost[0].0, 0..16);
    }
}
