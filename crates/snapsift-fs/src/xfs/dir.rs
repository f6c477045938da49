//! Directories, parsed from bytes (no I/O): the short form kept in the inode, and the data
//! blocks of the other forms (block, leaf, node and B+tree directories keep their entries in
//! data blocks alike; their leaf, node and free-index blocks only index them).
//!
//! A removed entry of a data block becomes free space whose header overwrites the first four
//! bytes of its inode number (the high half); its name and its tag (the entry's own offset in
//! the block) stay until the space is reused. Such remnants are read as deleted entries (one
//! at the start of the free space with the low half of its inode number only); the walk keeps
//! those that name a free inode.

use super::{Bad, be16, be32, be64};

/// Magic numbers of a single-block directory's block (v4, v5) and of a data block.
const BLOCK_MAGICS: [u32; 2] = [0x5844_3242, 0x5844_4233];
/// Magic numbers of a data block of a larger directory (v4, v5).
const DATA_MAGICS: [u32; 2] = [0x5844_3244, 0x5844_4433];
/// The tag of free space in a data block.
const FREE_TAG: u16 = 0xffff;

/// One entry: an inode number and a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The inode it names.
    pub(crate) ino: u64,
    /// The name, as stored.
    pub(crate) name: Vec<u8>,
    /// The file type it records (0 if the filesystem records none).
    pub(crate) file_type: u8,
}

/// The entries of one directory block or short-form directory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Entries {
    /// Entries in use (not `.` and `..`).
    pub(crate) live: Vec<Entry>,
    /// Remnants of removed entries; their inode numbers keep only their low 32 bits.
    pub(crate) deleted: Vec<Entry>,
    /// Where the entries stopped making sense, if they did.
    pub(crate) damaged: Option<Bad>,
}

/// Parses a short-form directory (the data fork of a local-format directory, `size` bytes
/// long); `ftype` when entries carry a file type. Returns its entries and its parent.
pub(crate) fn short_form(fork: &[u8], size: u64, ftype: bool) -> (Entries, u64) {
    let mut out = Entries::default();
    let size = usize::try_from(size).unwrap_or(usize::MAX).min(fork.len());
    let fork = &fork[..size];
    let count = usize::from(fork.first().copied().unwrap_or(0));
    let wide = fork.get(1).is_some_and(|&n| n > 0);
    let ino_len: usize = if wide { 8 } else { 4 };
    let ino_at = |at: usize| {
        if wide {
            be64(fork, at)
        } else {
            u64::from(be32(fork, at))
        }
    };
    let parent = ino_at(2);
    let mut at = 2usize.saturating_add(ino_len);
    for _ in 0..count {
        let Some(&len) = fork.get(at) else {
            out.damaged = Some(Bad::at(at, "a short-form entry past the fork's end".into()));
            break;
        };
        let name_at = at.saturating_add(3);
        let name_end = name_at.saturating_add(usize::from(len));
        let type_len = usize::from(ftype);
        let ino_pos = name_end.saturating_add(type_len);
        let end = ino_pos.saturating_add(ino_len);
        let name = fork.get(name_at..name_end).filter(|name| valid_name(name));
        let (Some(name), true) = (name, end <= fork.len()) else {
            out.damaged = Some(Bad::at(at, "a short-form entry cut short".into()));
            break;
        };
        let file_type = if ftype {
            fork.get(name_end).copied().unwrap_or(0)
        } else {
            0
        };
        out.live.push(Entry {
            ino: ino_at(ino_pos),
            name: name.to_vec(),
            file_type,
        });
        at = end;
    }
    (out, parent)
}

/// Parses a directory data block (of a single-block directory or a larger one); `None` if
/// the block is not one (a leaf, node or free-index block, or damage). `v5` for version 5
/// headers, `ftype` when entries carry a file type.
pub(crate) fn data_block(block: &[u8], v5: bool, ftype: bool) -> Option<Entries> {
    let magic = be32(block, 0);
    let single = BLOCK_MAGICS.contains(&magic);
    if !single && !DATA_MAGICS.contains(&magic) {
        return None;
    }
    let mut out = Entries::default();
    let header: usize = if v5 { 64 } else { 16 };
    let end = if single {
        // The leaf entries (8 bytes each) and their tail (8 bytes) end the block.
        let leaves = usize::try_from(be32(block, block.len().saturating_sub(8))).unwrap_or(0);
        let end = leaves
            .checked_mul(8)
            .and_then(|l| block.len().checked_sub(l.checked_add(8)?))
            .filter(|&end| end >= header);
        match end {
            Some(end) => end,
            None => {
                out.damaged = Some(Bad::at(
                    block.len().saturating_sub(8),
                    format!("a directory block of {leaves} leaf entries"),
                ));
                return Some(out);
            }
        }
    } else {
        block.len()
    };
    let type_len = usize::from(ftype);
    let mut at = header;
    while at < end {
        if be16(block, at) == FREE_TAG {
            let len = usize::from(be16(block, at.saturating_add(2)));
            let next = at.saturating_add(len);
            if len < 8 || len % 8 != 0 || next > end {
                out.damaged = Some(Bad::at(at, format!("free space of {len} bytes")));
                break;
            }
            remnants(block, at, next, type_len, &mut out.deleted);
            at = next;
            continue;
        }
        let len = usize::from(block.get(at.saturating_add(8)).copied().unwrap_or(0));
        let name_at = at.saturating_add(9);
        let name_end = name_at.saturating_add(len);
        let next = entry_end(at, len, type_len);
        let name = block.get(name_at..name_end).filter(|name| valid_name(name));
        let (Some(name), true) = (name, next <= end) else {
            out.damaged = Some(Bad::at(at, "a directory entry cut short".into()));
            break;
        };
        if name != b"." && name != b".." {
            out.live.push(Entry {
                ino: be64(block, at),
                name: name.to_vec(),
                file_type: if ftype {
                    block.get(name_end).copied().unwrap_or(0)
                } else {
                    0
                },
            });
        }
        at = next;
    }
    Some(out)
}

/// One past the last byte of an entry at `at` with a name of `len` bytes: inode number,
/// name length, name, file type, then the tag, rounded up to 8 bytes.
fn entry_end(at: usize, len: usize, type_len: usize) -> usize {
    let bytes = 8usize
        .saturating_add(1)
        .saturating_add(len)
        .saturating_add(type_len)
        .saturating_add(2);
    at.saturating_add(bytes.div_ceil(8).saturating_mul(8))
}

/// The remnants of removed entries in the free space `start..end` of `block`: at each
/// 8-byte boundary, an entry whose name is plausible and whose tag (its last two bytes)
/// is its own offset. The first four bytes of the free space are its header: an entry
/// there keeps only the low half of its inode number.
fn remnants(block: &[u8], start: usize, end: usize, type_len: usize, out: &mut Vec<Entry>) {
    let mut at = start;
    while at.saturating_add(16) <= end {
        let len = usize::from(block.get(at.saturating_add(8)).copied().unwrap_or(0));
        let next = entry_end(at, len, type_len);
        let name_at = at.saturating_add(9);
        let name = block
            .get(name_at..name_at.saturating_add(len))
            .filter(|name| valid_name(name) && *name != b"." && *name != b"..");
        let tag_ok =
            next <= end && usize::from(be16(block, next.saturating_sub(2))) == at && len > 0;
        match name {
            Some(name) if tag_ok => {
                let ino = if at == start {
                    u64::from(be32(block, at.saturating_add(4)))
                } else {
                    be64(block, at)
                };
                let file_type = if type_len > 0 {
                    block.get(name_at.saturating_add(len)).copied().unwrap_or(0)
                } else {
                    0
                };
                out.push(Entry {
                    ino,
                    name: name.to_vec(),
                    file_type,
                });
                at = next;
            }
            _ => at = at.saturating_add(8),
        }
    }
}

/// Whether `name` can be a directory entry's name: not empty, no NUL or `/`.
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && !name.iter().any(|&b| b == 0 || b == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes an entry at `at` of `block`; returns where the next one goes.
    fn put(block: &mut [u8], at: usize, ino: u64, name: &[u8]) -> usize {
        block[at..at + 8].copy_from_slice(&ino.to_be_bytes());
        block[at + 8] = name.len() as u8;
        block[at + 9..at + 9 + name.len()].copy_from_slice(name);
        block[at + 9 + name.len()] = 1;
        let next = entry_end(at, name.len(), 1);
        block[next - 2..next].copy_from_slice(&(at as u16).to_be_bytes());
        next
    }

    #[test]
    fn data_blocks_with_removed_entries() {
        let mut block = vec![0u8; 4096];
        block[..4].copy_from_slice(b"XDD3");
        let a = put(&mut block, 64, 128, b".");
        let b = put(&mut block, a, 131, b"kept");
        let c = put(&mut block, b, 132, b"gone");
        let d = put(&mut block, c, 0x1_0000_0085, b"also-gone");
        // "gone" and "also-gone" removed: one free region from `b`'s end to the block's.
        block[b..b + 2].copy_from_slice(&FREE_TAG.to_be_bytes());
        block[b + 2..b + 4].copy_from_slice(&((4096 - b) as u16).to_be_bytes());
        block[4094..4096].copy_from_slice(&(b as u16).to_be_bytes());
        assert!(d < 4096);
        let entries = data_block(&block, true, true).unwrap();
        assert_eq!(entries.damaged, None);
        let names: Vec<(&[u8], u64)> = entries.live.iter().map(|e| (&e.name[..], e.ino)).collect();
        assert_eq!(names, vec![(&b"kept"[..], 131)]);
        let gone: Vec<(&[u8], u64)> = entries
            .deleted
            .iter()
            .map(|e| (&e.name[..], e.ino))
            .collect();
        assert_eq!(
            gone,
            vec![(&b"gone"[..], 132), (&b"also-gone"[..], 0x1_0000_0085)]
        );
        // Not a data block.
        block[..4].copy_from_slice(b"XDF3");
        assert_eq!(data_block(&block, true, true), None);
    }

    #[test]
    fn damage_is_reported_where_it_is() {
        let mut block = vec![0u8; 512];
        block[..4].copy_from_slice(b"XD2D");
        let next = put(&mut block, 16, 131, b"a");
        block[next..next + 2].copy_from_slice(&FREE_TAG.to_be_bytes());
        block[next + 2..next + 4].copy_from_slice(&3u16.to_be_bytes());
        let entries = data_block(&block, false, true).unwrap();
        assert_eq!(entries.live.len(), 1);
        assert_eq!(entries.damaged.unwrap().at, next);
        // A single-block directory whose leaf count does not fit.
        let mut single = vec![0u8; 512];
        single[..4].copy_from_slice(b"XDB3");
        single[504..508].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            data_block(&single, true, true).unwrap().damaged.unwrap().at,
            504
        );
    }

    #[test]
    fn short_forms() {
        // Parent 128, then "f" (offset 0x60, type 1, inode 131) and "sub" (type 2, 133).
        let fork = [
            2, 0, 0, 0, 0, 128, 1, 0, 0x60, b'f', 1, 0, 0, 0, 131, 3, 0, 0x70, b's', b'u', b'b', 2,
            0, 0, 0, 133,
        ];
        let (entries, parent) = short_form(&fork, fork.len() as u64, true);
        assert_eq!(parent, 128);
        assert_eq!(entries.live.len(), 2);
        assert_eq!(entries.live[1].ino, 133);
        assert_eq!(entries.live[1].file_type, 2);
        // Cut short: what fits is read, the rest is damage.
        let (cut, _) = short_form(&fork, 20, true);
        assert_eq!(cut.live.len(), 1);
        assert_eq!(cut.damaged.unwrap().at, 15);
        let (none, _) = short_form(&[], 100, true);
        assert!(none.live.is_empty());
    }
}
