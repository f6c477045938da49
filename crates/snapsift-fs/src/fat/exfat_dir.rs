//! exFAT directory entries, parsed from a directory's bytes (no I/O): the entry sets of files
//! and directories (a file entry, a stream extension entry, file name entries), the
//! allocation bitmap and up-case table entries, and deleted entry sets.
//!
//! An entry's type byte has its InUse bit (0x80) set while it is in use; deleting a file
//! clears that bit in every entry of its set and leaves the rest as it was, so a deleted set
//! (types 0x05, 0x40, 0x41) still gives the name, the first cluster and the size. The set's
//! checksum (in its file entry) is computed over the entries as they were in use, so it is
//! checked with the InUse bits set back. A live set whose checksum does not match is read
//! all the same and reported as damage; a deleted one whose secondary entries are not a
//! stream extension and its name entries (reused since) is not read.

use super::Bad;
use super::dir::{DirEntry, ENTRY, component};
use crate::bytes::{le16, le32, le64};

/// The InUse bit of an entry's type.
const IN_USE: u8 = 0x80;
/// Entry types (in use).
const END: u8 = 0x00;
const BITMAP: u8 = 0x81;
const UP_CASE: u8 = 0x82;
const FILE: u8 = 0x85;
const STREAM: u8 = 0xc0;
const NAME: u8 = 0xc1;
/// The file attribute of a directory.
const ATTR_DIRECTORY: u16 = 0x10;
/// Stream extension flags: clusters are allocated; they are contiguous, not chained.
const ALLOCATION_POSSIBLE: u8 = 0x01;
const NO_FAT_CHAIN: u8 = 0x02;
/// Name characters per file name entry, and entries a name of 255 takes.
const NAME_CHARS: usize = 15;
/// Secondary entries a file's set holds: a stream extension, 1 to 17 names, and others.
const MIN_SECONDARY: usize = 2;

/// A structure of the filesystem the root directory names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Structure {
    /// The allocation bitmap (of the first FAT).
    Bitmap,
    /// The up-case table.
    UpCase,
}

impl Structure {
    /// The name The Sleuth Kit gives its entry.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Structure::Bitmap => "$ALLOC_BITMAP",
            Structure::UpCase => "$UPCASE_TABLE",
        }
    }
}

/// A structure's entry: what it is, where, and its clusters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StructureEntry {
    /// Which structure.
    pub(crate) structure: Structure,
    /// Its entry's index in the directory.
    pub(crate) index: u64,
    /// Its first cluster.
    pub(crate) first_cluster: u64,
    /// Its size in bytes.
    pub(crate) size: u64,
}

/// What a directory holds.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// Its files and directories, live and deleted.
    pub(crate) entries: Vec<DirEntry>,
    /// The structures it names (the root only).
    pub(crate) structures: Vec<StructureEntry>,
    /// Damage met, with its byte.
    pub(crate) damage: Vec<Bad>,
    /// Deleted entry sets whose checksum does not match (partly overwritten).
    pub(crate) deleted_mismatched: u64,
}

/// The checksum of entry set `set` (its entries' bytes), the file entry's checksum field
/// left out, each type byte taken with its InUse bit set.
fn set_checksum(set: &[u8]) -> u16 {
    set.iter().enumerate().fold(0u16, |sum, (i, &b)| {
        let b = if i % ENTRY == 0 { b | IN_USE } else { b };
        if matches!(i, 2 | 3) {
            sum
        } else {
            sum.rotate_right(1).wrapping_add(u16::from(b))
        }
    })
}

/// Parses the entries of a directory whose bytes are `bytes`, up to its end mark (a type
/// of 0).
pub(crate) fn parse(bytes: &[u8]) -> Parsed {
    let mut parsed = Parsed::default();
    let raws: Vec<&[u8]> = bytes.chunks_exact(ENTRY).collect();
    let mut index = 0usize;
    while let Some(raw) = raws.get(index) {
        let at = index.saturating_mul(ENTRY);
        let kind = raw[0];
        let next = index.saturating_add(1);
        match kind {
            END => break,
            BITMAP | UP_CASE => {
                let structure = if kind == BITMAP {
                    Structure::Bitmap
                } else {
                    Structure::UpCase
                };
                // Bit 0 of the bitmap's flags: the bitmap of the second FAT (TexFAT).
                if kind == UP_CASE || raw[1] & 1 == 0 {
                    parsed.structures.push(StructureEntry {
                        structure,
                        index: index as u64,
                        first_cluster: u64::from(le32(raw, 20)),
                        size: le64(raw, 24),
                    });
                }
            }
            FILE | 0x05 => match entry_set(&raws, index) {
                Ok((entry, secondary, checksum_ok)) => {
                    let deleted = kind & IN_USE == 0;
                    if !checksum_ok {
                        if deleted {
                            parsed.deleted_mismatched = parsed.deleted_mismatched.saturating_add(1);
                        } else {
                            parsed.damage.push(Bad::at(
                                at,
                                "an entry set whose checksum does not match".into(),
                            ));
                        }
                    }
                    parsed.entries.push(entry);
                    index = next.saturating_add(secondary);
                    continue;
                }
                Err(what) => {
                    if kind == FILE {
                        parsed.damage.push(Bad::at(at, what));
                    }
                }
            },
            STREAM | NAME => parsed.damage.push(Bad::at(
                at,
                "a secondary entry without its file entry".into(),
            )),
            // Volume label, GUID, TexFAT padding, vendor entries; free and deleted entries.
            _ => {}
        }
        index = next;
    }
    parsed
}

/// The file or directory whose entry set begins at `raws[first]`: the entry, its number of
/// secondary entries, whether its checksum matches. An error says why the set is not one.
fn entry_set(raws: &[&[u8]], first: usize) -> Result<(DirEntry, usize, bool), String> {
    let file = raws[first];
    let in_use = file[0] & IN_USE;
    let secondary = usize::from(file[1]);
    if secondary < MIN_SECONDARY {
        return Err("a file entry with too few secondary entries".into());
    }
    let end = first.saturating_add(1).saturating_add(secondary);
    let Some(set) = raws.get(first.saturating_add(1)..end) else {
        return Err("an entry set cut short by the directory's end".into());
    };
    let stream = set[0];
    if stream[0] != (STREAM & !IN_USE) | in_use {
        return Err("a file entry without its stream extension".into());
    }
    let name_len = usize::from(stream[3]);
    let name_entries = name_len.div_ceil(NAME_CHARS);
    if name_len == 0 || name_entries > secondary.saturating_sub(1) {
        return Err("a name length the entry set has no room for".into());
    }
    let mut units = Vec::with_capacity(name_len);
    for raw in &set[1..=name_entries] {
        if raw[0] != (NAME & !IN_USE) | in_use {
            return Err("an entry set whose name entries are missing".into());
        }
        units.extend((0..NAME_CHARS).map(|i| le16(raw, i.saturating_mul(2).saturating_add(2))));
    }
    units.truncate(name_len);
    let mut bytes = Vec::with_capacity(end.saturating_sub(first).saturating_mul(ENTRY));
    for raw in &raws[first..end] {
        bytes.extend_from_slice(raw);
    }
    let checksum_ok = set_checksum(&bytes) == le16(file, 2);
    let flags = stream[1];
    let directory = le16(file, 4) & ATTR_DIRECTORY != 0;
    let first_cluster = if flags & ALLOCATION_POSSIBLE != 0 {
        u64::from(le32(stream, 20))
    } else {
        0
    };
    let entry = DirEntry {
        index: first as u64,
        name: component(String::from_utf16_lossy(&units)),
        deleted: in_use == 0,
        directory,
        first_cluster,
        size: le64(stream, 24),
        contiguous: flags & NO_FAT_CHAIN != 0,
    };
    Ok((entry, secondary, checksum_ok))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The entry set of `name`, in use, its checksum set.
    pub(crate) fn file_set(
        name: &str,
        directory: bool,
        cluster: u32,
        size: u64,
        contiguous: bool,
    ) -> Vec<u8> {
        let units: Vec<u16> = name.encode_utf16().collect();
        let name_entries = units.len().div_ceil(NAME_CHARS);
        let mut set = vec![0u8; ENTRY * (2 + name_entries)];
        set[0] = FILE;
        set[1] = (1 + name_entries) as u8;
        set[4] = if directory { 0x10 } else { 0x20 };
        let stream = &mut set[ENTRY..2 * ENTRY];
        stream[0] = STREAM;
        stream[1] = ALLOCATION_POSSIBLE | if contiguous { NO_FAT_CHAIN } else { 0 };
        stream[3] = units.len() as u8;
        stream[8..16].copy_from_slice(&size.to_le_bytes());
        stream[20..24].copy_from_slice(&cluster.to_le_bytes());
        stream[24..32].copy_from_slice(&size.to_le_bytes());
        for (i, part) in units.chunks(NAME_CHARS).enumerate() {
            let raw = &mut set[(2 + i) * ENTRY..(3 + i) * ENTRY];
            raw[0] = NAME;
            for (j, unit) in part.iter().enumerate() {
                raw[2 + 2 * j..4 + 2 * j].copy_from_slice(&unit.to_le_bytes());
            }
        }
        let sum = set_checksum(&set);
        set[2..4].copy_from_slice(&sum.to_le_bytes());
        set
    }

    /// `set` with its entries' InUse bits cleared, as deleting leaves it.
    pub(crate) fn deleted(mut set: Vec<u8>) -> Vec<u8> {
        for raw in set.chunks_mut(ENTRY) {
            raw[0] &= !IN_USE;
        }
        set
    }

    #[test]
    fn sets_structures_and_deleted_sets() {
        let mut dir = vec![0u8; ENTRY];
        dir[0] = 0x83; // volume label
        let mut bitmap = vec![0u8; ENTRY];
        bitmap[0] = BITMAP;
        bitmap[20..24].copy_from_slice(&2u32.to_le_bytes());
        bitmap[24..32].copy_from_slice(&192u64.to_le_bytes());
        dir.extend(bitmap);
        let long: String = "\u{e9}".repeat(255);
        dir.extend(file_set("dir", true, 5, 4096, false));
        dir.extend(file_set(&long, false, 9, 100_000, true));
        dir.extend(deleted(file_set("gone.txt", false, 40, 5, true)));
        dir.extend(file_set("a/../b", false, 0, 0, false));
        dir.extend([0u8; ENTRY]);
        dir.extend(file_set("after-end", false, 50, 1, false));
        let parsed = parse(&dir);
        assert!(parsed.damage.is_empty(), "{:?}", parsed.damage);
        assert_eq!(parsed.deleted_mismatched, 0);
        assert_eq!(
            parsed.structures,
            vec![StructureEntry {
                structure: Structure::Bitmap,
                index: 1,
                first_cluster: 2,
                size: 192
            }]
        );
        let seen: Vec<(&str, u64, bool, bool, u64, u64, bool)> = parsed
            .entries
            .iter()
            .map(|e| {
                (
                    e.name.as_str(),
                    e.index,
                    e.deleted,
                    e.directory,
                    e.first_cluster,
                    e.size,
                    e.contiguous,
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                ("dir", 2, false, true, 5, 4096, false),
                (&*long, 5, false, false, 9, 100_000, true),
                ("gone.txt", 24, true, false, 40, 5, true),
                ("a\u{fffd}..\u{fffd}b", 27, false, false, 0, 0, false),
            ]
        );
    }

    #[test]
    fn damaged_sets_are_reported_never_a_panic() {
        let mut dir = file_set("checksum.txt", false, 9, 10, false);
        dir[ENTRY + 24] ^= 1; // the size, after the checksum was taken
        let mut no_stream = file_set("x", false, 9, 10, false);
        no_stream[ENTRY] = 0x20;
        dir.extend(no_stream);
        let mut overwritten = deleted(file_set("old.txt", false, 9, 10, false));
        overwritten[ENTRY + 24] ^= 1;
        dir.extend(overwritten);
        let mut reused = deleted(file_set("reused.txt", false, 9, 10, false));
        reused[2 * ENTRY] = 0x85;
        dir.extend(reused);
        let mut long_claim = file_set("short", false, 9, 10, false);
        long_claim[ENTRY + 3] = 200;
        dir.extend(long_claim);
        let parsed = parse(&dir);
        let names: Vec<&str> = parsed.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, vec!["checksum.txt", "old.txt"]);
        assert_eq!(parsed.deleted_mismatched, 1);
        let what: Vec<&str> = parsed.damage.iter().map(|d| d.what.as_str()).collect();
        assert!(what[0].contains("checksum"), "{what:?}");
        assert_eq!(parsed.damage[0].at, 0);
        assert!(
            what.iter().any(|w| w.contains("stream extension")),
            "{what:?}"
        );
        assert!(what.iter().any(|w| w.contains("no room")), "{what:?}");
        // Cut anywhere, never a panic.
        for len in 0..dir.len() {
            let _ = parse(&dir[..len]);
        }
    }
}
