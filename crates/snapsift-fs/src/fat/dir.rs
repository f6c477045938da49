//! FAT directory entries, parsed from a directory's bytes (no I/O): short (8.3) entries,
//! the VFAT long-name entries before them, and deleted entries.
//!
//! A long name belongs to the short entry after it when its entries run from the one marked
//! last down to ordinal 1 with the short name's checksum (live entries). A deleted entry has
//! lost its first byte to 0xE5: its short name keeps its other characters (the first shown
//! as `_`, as The Sleuth Kit shows it); the long-name entries before it are deleted too, and
//! their ordinals with them, so they are taken if they all carry one checksum, and give the
//! whole name. Names are read as UTF-16 (long) or as bytes (short, each byte its Latin-1
//! character); a `/` or NUL in a name becomes U+FFFD, so that a name is one path component.

use super::{Bad, le16, le32};

/// Bytes per directory entry.
pub(crate) const ENTRY: usize = 32;
/// The first byte of a deleted entry.
const DELETED: u8 = 0xe5;
/// Attribute bits.
const ATTR_VOLUME: u8 = 0x08;
const ATTR_DIRECTORY: u8 = 0x10;
/// The attribute value of a long-name entry.
const ATTR_LONG_NAME: u8 = 0x0f;
/// The flag of a long name's last entry (the first on the disk).
const LAST_LONG: u8 = 0x40;
/// Characters per long-name entry.
const LONG_CHARS: usize = 13;

/// One file or directory a directory names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DirEntry {
    /// The index of its short entry in the directory (its place, for its address).
    pub(crate) index: u64,
    /// Its name.
    pub(crate) name: String,
    /// Whether the entry is deleted.
    pub(crate) deleted: bool,
    /// Whether it is a directory.
    pub(crate) directory: bool,
    /// Its first cluster (0: none).
    pub(crate) first_cluster: u64,
    /// Its size in bytes (FAT directories: 0).
    pub(crate) size: u64,
    /// Whether its clusters are one run from the first, not chained in the FAT (exFAT's
    /// NoFatChain; never on FAT12/16/32).
    pub(crate) contiguous: bool,
}

/// The long-name entries seen before a short entry.
#[derive(Default)]
struct Pending {
    /// Their characters, in disk order (the name's last part first).
    parts: Vec<[u16; LONG_CHARS]>,
    /// The checksum they carry.
    checksum: u8,
    /// The ordinal the next one must have (live entries), 0 when they are complete.
    expect: u8,
    /// Whether they are deleted entries.
    deleted: bool,
}

/// The checksum of a short name that its long-name entries carry.
fn checksum(short: &[u8]) -> u8 {
    short
        .iter()
        .fold(0u8, |sum, &b| sum.rotate_right(1).wrapping_add(b))
}

/// The 13 characters of a long-name entry.
fn long_chars(raw: &[u8]) -> [u16; LONG_CHARS] {
    let mut chars = [0u16; LONG_CHARS];
    let places = (1..11)
        .step_by(2)
        .chain((14..26).step_by(2))
        .chain((28..32).step_by(2));
    for (char, at) in chars.iter_mut().zip(places) {
        *char = le16(raw, at);
    }
    chars
}

/// A name made safe to be one path component.
pub(crate) fn component(name: String) -> String {
    if name.contains(['/', '\0']) {
        name.replace(['/', '\0'], "\u{fffd}")
    } else {
        name
    }
}

/// The long name `pending` spells, if its entries make one for a short entry with
/// `short_checksum` (for a deleted entry: any checksum).
fn long_name(pending: &Pending, short_checksum: u8, deleted: bool) -> Option<String> {
    if pending.parts.is_empty() || pending.deleted != deleted {
        return None;
    }
    if !deleted && (pending.expect != 0 || pending.checksum != short_checksum) {
        return None;
    }
    let units: Vec<u16> = pending
        .parts
        .iter()
        .rev()
        .flatten()
        .copied()
        .take_while(|&c| c != 0)
        .collect();
    let name = String::from_utf16_lossy(&units);
    (!name.is_empty()).then(|| component(name))
}

/// The short name of entry `raw`: `NAME.EXT`, lower-cased where the entry's case flags say
/// (byte 12), its first character `_` if deleted.
fn short_name(raw: &[u8], deleted: bool) -> String {
    let flags = raw.get(12).copied().unwrap_or(0);
    let part = |bytes: &[u8], lower: bool| -> String {
        let end = bytes
            .iter()
            .rposition(|&b| b != b' ')
            .map_or(0, |p| p.saturating_add(1));
        bytes[..end]
            .iter()
            .map(|&b| {
                let c = char::from(b);
                if lower { c.to_ascii_lowercase() } else { c }
            })
            .collect()
    };
    let mut base = part(&raw[..8], flags & 0x08 != 0);
    let ext = part(&raw[8..11], flags & 0x10 != 0);
    if deleted {
        base.replace_range(..base.chars().next().map_or(0, char::len_utf8), "_");
    } else if raw[0] == 0x05 {
        // 0x05 stands for a first byte of 0xE5 (a Kanji lead byte).
        base.replace_range(..1, "\u{e5}");
    }
    let name = if ext.is_empty() {
        base
    } else {
        format!("{base}.{ext}")
    };
    component(name)
}

/// Parses the entries of a directory whose bytes are `bytes`, up to its end mark (an entry
/// whose first byte is 0). Skips `.`, `..` and volume labels. Returns the entries and the
/// damage met (long names that do not fit their short entry), with its byte.
pub(crate) fn parse(bytes: &[u8]) -> (Vec<DirEntry>, Vec<Bad>) {
    let mut entries = Vec::new();
    let mut damage = Vec::new();
    let mut pending = Pending::default();
    for (index, raw) in (0u64..).zip(bytes.chunks_exact(ENTRY)) {
        let at = usize::try_from(index)
            .unwrap_or(usize::MAX)
            .saturating_mul(ENTRY);
        let first = raw[0];
        if first == 0 {
            break;
        }
        let deleted = first == DELETED;
        let attr = raw[11];
        if attr & 0x3f == ATTR_LONG_NAME {
            let ordinal = first & 0x1f;
            if deleted {
                if !pending.deleted || pending.checksum != raw[13] {
                    pending = Pending {
                        deleted: true,
                        checksum: raw[13],
                        ..Pending::default()
                    };
                }
            } else if first & LAST_LONG != 0 {
                if !pending.parts.is_empty() && !pending.deleted {
                    damage.push(Bad::at(at, "a long name broken off".into()));
                }
                pending = Pending {
                    checksum: raw[13],
                    expect: ordinal,
                    ..Pending::default()
                };
            } else if pending.deleted || ordinal != pending.expect || raw[13] != pending.checksum {
                damage.push(Bad::at(at, "a long-name entry out of sequence".into()));
                pending = Pending::default();
                continue;
            }
            if !deleted {
                pending.expect = pending.expect.saturating_sub(1);
            }
            pending.parts.push(long_chars(raw));
            continue;
        }
        let taken = std::mem::take(&mut pending);
        if attr & ATTR_VOLUME != 0 {
            continue;
        }
        if raw[..11] == *b".          " || raw[..11] == *b"..         " {
            continue;
        }
        let short = &raw[..11];
        let name = match long_name(&taken, checksum(short), deleted) {
            Some(name) => name,
            None => {
                // (Deleted long-name entries before a live entry are an old name's.)
                if !deleted && !taken.parts.is_empty() && !taken.deleted {
                    damage.push(Bad::at(
                        at,
                        "a long name whose checksum does not match".into(),
                    ));
                }
                short_name(raw, deleted)
            }
        };
        let high = u64::from(le16(raw, 20));
        let low = u64::from(le16(raw, 26));
        let directory = attr & ATTR_DIRECTORY != 0;
        entries.push(DirEntry {
            index,
            name,
            deleted,
            directory,
            first_cluster: (high << 16) | low,
            size: if directory {
                0
            } else {
                u64::from(le32(raw, 28))
            },
            contiguous: false,
        });
    }
    (entries, damage)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short(name: &[u8; 11], attr: u8, cluster: u32, size: u32) -> Vec<u8> {
        let mut raw = vec![0u8; ENTRY];
        raw[..11].copy_from_slice(name);
        raw[11] = attr;
        raw[20..22].copy_from_slice(&((cluster >> 16) as u16).to_le_bytes());
        raw[26..28].copy_from_slice(&(cluster as u16).to_le_bytes());
        raw[28..32].copy_from_slice(&size.to_le_bytes());
        raw
    }

    /// The long-name entries of `name` for short name `short`, in disk order.
    fn long(name: &str, short: &[u8; 11]) -> Vec<u8> {
        let mut units: Vec<u16> = name.encode_utf16().collect();
        units.push(0);
        while !units.len().is_multiple_of(LONG_CHARS) {
            units.push(0xffff);
        }
        let parts: Vec<&[u16]> = units.chunks(LONG_CHARS).collect();
        let mut out = Vec::new();
        for (i, part) in parts.iter().enumerate().rev() {
            let mut raw = vec![0u8; ENTRY];
            raw[0] = (i as u8 + 1) | if i == parts.len() - 1 { LAST_LONG } else { 0 };
            raw[11] = ATTR_LONG_NAME;
            raw[13] = checksum(short);
            let places = (1..11)
                .step_by(2)
                .chain((14..26).step_by(2))
                .chain((28..32).step_by(2));
            for (c, at) in part.iter().zip(places) {
                raw[at..at + 2].copy_from_slice(&c.to_le_bytes());
            }
            out.extend(raw);
        }
        out
    }

    #[test]
    fn long_short_and_deleted_names() {
        let mut dir = Vec::new();
        dir.extend(short(b".          ", 0x10, 5, 0));
        dir.extend(long("A much longer name.txt", b"AMUCHL~1TXT"));
        dir.extend(short(b"AMUCHL~1TXT", 0x20, 7, 5000));
        dir.extend(short(b"README  TXT", 0x20, 9, 6));
        let mut gone = long("deleted-long.txt", b"DELETE~1TXT");
        for raw in gone.chunks_mut(ENTRY) {
            raw[0] = DELETED;
        }
        dir.extend(gone);
        let mut removed = short(b"DELETE~1TXT", 0x20, 11, 100);
        removed[0] = DELETED;
        dir.extend(removed);
        let mut lone = short(b"GONE    TXT", 0x20, 12, 6);
        lone[0] = DELETED;
        dir.extend(lone);
        dir.extend(short(b"SUB        ", 0x10, 0x1_0003, 0));
        dir.extend([0u8; ENTRY]);
        dir.extend(short(b"AFTER   END", 0x20, 13, 1));
        let (entries, damage) = parse(&dir);
        assert!(damage.is_empty(), "{damage:?}");
        let names: Vec<(&str, bool, u64)> = entries
            .iter()
            .map(|e| (e.name.as_str(), e.deleted, e.index))
            .collect();
        assert_eq!(
            names,
            vec![
                ("A much longer name.txt", false, 3),
                ("README.TXT", false, 4),
                ("deleted-long.txt", true, 7),
                ("_ONE.TXT", true, 8),
                ("SUB", false, 9),
            ]
        );
        assert_eq!(entries[0].size, 5000);
        assert_eq!(entries[4].first_cluster, 0x1_0003);
        assert!(entries[4].directory);
    }

    #[test]
    fn damaged_long_names_fall_back_to_the_short_name() {
        let mut dir = long("x/../../etc/passwd", b"X          ");
        dir.extend(short(b"X          ", 0x20, 3, 1));
        dir.extend(long("other", b"WRONG      "));
        dir.extend(short(b"SHORT      ", 0x20, 4, 1));
        let (entries, damage) = parse(&dir);
        assert_eq!(
            entries[0].name,
            "x\u{fffd}..\u{fffd}..\u{fffd}etc\u{fffd}passwd"
        );
        assert_eq!(entries[1].name, "SHORT");
        assert_eq!(damage.len(), 1);
        assert_eq!(damage[0].at, 4 * ENTRY);
        // Cut anywhere, never a panic.
        for len in 0..dir.len() {
            let _ = parse(&dir[..len]);
        }
    }
}
