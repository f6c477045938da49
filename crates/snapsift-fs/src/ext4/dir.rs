//! Directory blocks, parsed from bytes (no I/O): the live entries, and the names of deleted
//! entries still readable in the unused space of the records around them.
//!
//! Every directory block, htree-indexed or not, is a chain of records (`inode`, `rec_len`,
//! `name_len`, `file_type`, name). An htree's internal nodes hide inside records that look
//! empty, so walking the chain of every block finds every live entry; the internal nodes
//! are only recognised so that their hashes are not mistaken for deleted names.

use super::{le16, le32};

/// `file_type` values of directory entries: unknown, regular, directory, character device,
/// block device, FIFO, socket, symlink.
const MAX_FILE_TYPE: u8 = 7;
/// `file_type` of a directory.
pub(crate) const TYPE_DIRECTORY: u8 = 2;
/// The header of a record: inode, rec_len, name_len, file_type.
const HEADER: usize = 8;

/// One entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The inode it names.
    pub(crate) inode: u64,
    /// The name's bytes.
    pub(crate) name: Vec<u8>,
    /// The file type byte (0 without the filetype feature).
    pub(crate) file_type: u8,
}

/// What one block (or inline directory area) holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Entries {
    /// Entries in use, `.` and `..` left out.
    pub(crate) live: Vec<Entry>,
    /// Plausible deleted entries found in the space records do not use.
    pub(crate) deleted: Vec<Entry>,
    /// Why the chain of records stopped early, if it did.
    pub(crate) damaged: Option<String>,
}

/// How to read a block.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Format {
    /// Entries carry a file type byte (otherwise `name_len` has 16 bits).
    pub(crate) filetype: bool,
    /// The largest valid inode number.
    pub(crate) inodes_count: u64,
    /// The filesystem's block size (64 KiB blocks encode `rec_len` specially).
    pub(crate) block_size: u64,
}

/// What kind of block of a directory this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlockKind {
    /// An ordinary block of records.
    Linear,
    /// Block 0 of an htree directory: `.`, `..` (whose record hides the root of the index).
    HtreeRoot,
    /// Any other block of an htree directory: a leaf of records, or an internal node.
    HtreeOther,
}

/// Parses the records of `bytes`, a directory block or an inline directory area.
pub(crate) fn parse(bytes: &[u8], format: Format, kind: BlockKind) -> Entries {
    let mut entries = Entries::default();
    if kind == BlockKind::HtreeOther && is_htree_node(bytes, format) {
        return entries;
    }
    let mut at = 0usize;
    let mut index = 0usize;
    while at < bytes.len() {
        let Some(record) = record_at(bytes, at, format) else {
            entries.damaged = Some(format!("a damaged directory record at byte {at}"));
            break;
        };
        if record.inode != 0 && !record.name.is_empty() && !is_dot(record.name) {
            entries.live.push(Entry {
                inode: record.inode,
                name: record.name.to_vec(),
                file_type: record.file_type,
            });
        }
        // The htree root hides in the `..` record: its unused space is no deleted name.
        let hides_index = kind == BlockKind::HtreeRoot && index == 1;
        if !hides_index {
            let used = HEADER.saturating_add(record.name.len()).next_multiple_of(4);
            let slack_start = at.saturating_add(used);
            let slack_end = at.saturating_add(record.rec_len);
            if let Some(slack) = bytes.get(slack_start..slack_end) {
                deleted_in(slack, format, &mut entries.deleted);
            }
        }
        at = at.saturating_add(record.rec_len);
        index = index.saturating_add(1);
    }
    entries
}

/// A record's fields.
struct Record<'b> {
    inode: u64,
    rec_len: usize,
    name: &'b [u8],
    file_type: u8,
}

/// The record at `at`, if it is well formed and fits in `bytes`.
fn record_at(bytes: &[u8], at: usize, format: Format) -> Option<Record<'_>> {
    let header = bytes.get(at..at.checked_add(HEADER)?)?;
    let rec_len = decode_rec_len(le16(header, 4), format.block_size);
    let (name_len, file_type) = if format.filetype {
        (usize::from(header[6]), header[7])
    } else {
        (usize::from(le16(header, 6)), 0)
    };
    if rec_len < HEADER || !rec_len.is_multiple_of(4) || HEADER.saturating_add(name_len) > rec_len {
        return None;
    }
    let end = at.checked_add(rec_len)?;
    if end > bytes.len() {
        return None;
    }
    let name_at = at.checked_add(HEADER)?;
    Some(Record {
        inode: u64::from(le32(header, 0)),
        rec_len,
        name: bytes.get(name_at..name_at.checked_add(name_len)?)?,
        file_type,
    })
}

/// `rec_len` in bytes: 64 KiB blocks store 65536 as 0 or 65535.
fn decode_rec_len(raw: u16, block_size: u64) -> usize {
    if block_size >= 65536 && (raw == 0 || raw == u16::MAX) {
        65536
    } else {
        usize::from(raw)
    }
}

/// Whether `name` is `.` or `..`.
fn is_dot(name: &[u8]) -> bool {
    name == b"." || name == b".."
}

/// Adds the plausible deleted entries in `slack` (the unused end of a record) to `found`.
fn deleted_in(slack: &[u8], format: Format, found: &mut Vec<Entry>) {
    let mut at = 0usize;
    while at.saturating_add(HEADER) < slack.len() {
        match plausible_deleted(slack, at, format) {
            Some(entry) => {
                let used = HEADER.saturating_add(entry.name.len()).next_multiple_of(4);
                found.push(entry);
                at = at.saturating_add(used);
            }
            None => at = at.saturating_add(4),
        }
    }
}

/// A deleted entry at `at`, if the bytes there make a believable one: an inode number in
/// range, a name that fits and has no NUL or `/`, a record length that could have held it,
/// a valid file type.
fn plausible_deleted(slack: &[u8], at: usize, format: Format) -> Option<Entry> {
    let header = slack.get(at..at.checked_add(HEADER)?)?;
    let inode = u64::from(le32(header, 0));
    if inode == 0 || inode > format.inodes_count {
        return None;
    }
    let rec_len = decode_rec_len(le16(header, 4), format.block_size);
    let (name_len, file_type) = if format.filetype {
        (usize::from(header[6]), header[7])
    } else {
        (usize::from(le16(header, 6)), 0)
    };
    if name_len == 0 || name_len > 255 {
        return None;
    }
    if format.filetype && (file_type == 0 || file_type > MAX_FILE_TYPE) {
        return None;
    }
    let used = HEADER.saturating_add(name_len).next_multiple_of(4);
    if rec_len < used || !rec_len.is_multiple_of(4) || rec_len as u64 > format.block_size {
        return None;
    }
    let name_at = at.checked_add(HEADER)?;
    let name = slack.get(name_at..name_at.checked_add(name_len)?)?;
    if name.iter().any(|&b| b == 0 || b == b'/') || is_dot(name) {
        return None;
    }
    Some(Entry {
        inode,
        name: name.to_vec(),
        file_type,
    })
}

/// Whether `bytes` is an htree internal node: one empty record spanning the block, followed
/// by the node's count and limit of index entries.
fn is_htree_node(bytes: &[u8], format: Format) -> bool {
    let Some(header) = bytes.get(..12) else {
        return false;
    };
    let rec_len = decode_rec_len(le16(header, 4), format.block_size);
    if le32(header, 0) != 0 || rec_len != bytes.len() || header[6] != 0 {
        return false;
    }
    let limit = usize::from(le16(header, 8));
    let count = usize::from(le16(header, 10));
    // Eight bytes per index entry after the fake record; a checksum tail takes eight more.
    let room = bytes.len().saturating_sub(8) / 8;
    (limit == room || limit == room.saturating_sub(1)) && count <= limit
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORMAT: Format = Format {
        filetype: true,
        inodes_count: 1000,
        block_size: 1024,
    };

    fn put(block: &mut [u8], at: usize, inode: u32, rec_len: u16, name: &[u8], file_type: u8) {
        block[at..at + 4].copy_from_slice(&inode.to_le_bytes());
        block[at + 4..at + 6].copy_from_slice(&rec_len.to_le_bytes());
        block[at + 6] = name.len() as u8;
        block[at + 7] = file_type;
        block[at + 8..at + 8 + name.len()].copy_from_slice(name);
    }

    #[test]
    fn live_and_deleted_entries() {
        let mut block = vec![0u8; 1024];
        put(&mut block, 0, 2, 12, b".", 2);
        put(&mut block, 12, 2, 12, b"..", 2);
        // "gone" (inode 13) was deleted: "keep" absorbed its record.
        put(&mut block, 24, 12, 1000, b"keep", 1);
        put(&mut block, 36, 13, 988, b"gone", 1);
        let entries = parse(&block, FORMAT, BlockKind::Linear);
        assert_eq!(entries.live.len(), 1);
        assert_eq!(entries.live[0].name, b"keep");
        assert_eq!(entries.deleted.len(), 1);
        assert_eq!(entries.deleted[0].inode, 13);
        assert_eq!(entries.deleted[0].name, b"gone");
        assert_eq!(entries.damaged, None);
    }

    #[test]
    fn damaged_chain_stops() {
        let mut block = vec![0u8; 1024];
        put(&mut block, 0, 5, 12, b"a", 1);
        put(&mut block, 12, 6, 3, b"b", 1);
        let entries = parse(&block, FORMAT, BlockKind::Linear);
        assert_eq!(entries.live.len(), 1);
        assert!(entries.damaged.is_some());
        // A zero rec_len must not loop.
        let entries = parse(&[0u8; 64], FORMAT, BlockKind::Linear);
        assert!(entries.damaged.is_some());
    }

    #[test]
    fn htree_nodes_are_skipped() {
        let mut block = vec![0u8; 1024];
        block[4..6].copy_from_slice(&1024u16.to_le_bytes());
        block[8..10].copy_from_slice(&127u16.to_le_bytes());
        block[10..12].copy_from_slice(&3u16.to_le_bytes());
        // Index entries that would read as a deleted name.
        put(&mut block, 16, 70, 12, b"G", 1);
        let entries = parse(&block, FORMAT, BlockKind::HtreeOther);
        assert_eq!(entries, Entries::default());
        let entries = parse(&block, FORMAT, BlockKind::Linear);
        assert_eq!(entries.deleted.len(), 1);
    }
}
