//! A read-only reader of Windows registry hive files (`regf`: `SAM`, `NTUSER.DAT`), from
//! bytes an image holds.
//!
//! The layout: a 4 KiB base block (`regf`: sequence numbers, the root key's cell, the size
//! of the bins), then `hbin` blocks of cells. A cell is a 32-bit size (negative when in use)
//! and its content: a key (`nk`), a value (`vk`), a list of subkeys (`lf`, `lh`, `li`, or an
//! `ri` list of such lists), a list of values (offsets), a big value's segment list (`db`)
//! or data. Cell offsets count from the first bin.
//!
//! Every offset read from the hive is checked against the bins before it is followed, and
//! every length against its cell: a bad one is an [`AuditError::Hive`] with the file offset
//! of the byte that was wrong. Nothing recurses on the hive's say-so (an `ri` list holds
//! leaf lists only) and a listing stops at [`MAX_LISTED`] entries, so a hostile hive costs
//! time in proportion to what is asked of it. (The `nt-hive` crate reads the same format
//! but is GPL-2.0-or-later; this workspace is MIT or Apache-2.0.)

use crate::AuditError;

/// The bytes before the first bin.
const BASE_BLOCK: usize = 4096;
/// The most subkeys one listing returns: past it the hive is refused as hostile.
pub const MAX_LISTED: usize = 1_000_000;
/// The most values one key may have: a key with more is refused as hostile (the keys the
/// checks read hold a few dozen), so that reading every value of many keys stays bounded.
pub const MAX_VALUES: usize = 4096;
/// The most bytes one segment of a big value (`db`) holds.
const SEGMENT: usize = 16344;
/// `nk` flag: the name is Latin-1, not UTF-16LE.
const KEY_COMP_NAME: u16 = 0x0020;
/// `vk` flag: the name is Latin-1, not UTF-16LE.
const VALUE_COMP_NAME: u16 = 0x0001;
/// A value's data size with this bit set: the data (4 bytes at most) is the offset field.
const DATA_IN_OFFSET: u32 = 0x8000_0000;

/// A hive, parsed as far as its base block; keys and values are read when asked for.
#[derive(Clone, Copy, Debug)]
pub struct Hive<'a> {
    /// The whole file.
    bytes: &'a [u8],
    /// The bins: from the end of the base block to the end the base block gives (or of the
    /// file, if it is cut).
    bins: &'a [u8],
    /// The root key's cell.
    root: u32,
    /// The format's minor version (big values are `db` lists from 4 on).
    minor: u32,
    /// The two sequence numbers differ: Windows did not finish writing the hive, and changes
    /// may be only in its `.LOG1`/`.LOG2` files (not read).
    pub dirty: bool,
    /// The base block's checksum does not match it.
    pub bad_checksum: bool,
}

/// A key of a [`Hive`].
#[derive(Clone, Copy, Debug)]
pub struct Key<'a> {
    hive: Hive<'a>,
    /// Its cell's offset.
    offset: u32,
    /// Its cell's content (from `nk`).
    cell: &'a [u8],
}

/// A value of a [`Key`].
#[derive(Clone, Debug)]
pub struct Value<'a> {
    hive: Hive<'a>,
    /// Its cell's offset.
    offset: u32,
    /// Its name (`""` for the key's default value).
    pub name: String,
    /// Its type as stored (`REG_SZ` 1, `REG_BINARY` 3, `REG_DWORD` 4...; the `SAM`'s
    /// `Names` subkeys keep a RID here).
    pub kind: u32,
    /// Its data size as stored (the top bit cleared).
    pub size: u32,
    /// The raw size field.
    size_field: u32,
    /// The raw offset field.
    data_offset: u32,
}

/// `REG_SZ`.
pub const REG_SZ: u32 = 1;
/// `REG_EXPAND_SZ`.
pub const REG_EXPAND_SZ: u32 = 2;

/// Reads a little-endian u16 at `at` of `bytes`.
fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    let end = at.checked_add(2)?;
    Some(u16::from_le_bytes(bytes.get(at..end)?.try_into().ok()?))
}

/// Reads a little-endian u32 at `at` of `bytes`.
fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let end = at.checked_add(4)?;
    Some(u32::from_le_bytes(bytes.get(at..end)?.try_into().ok()?))
}

/// Latin-1 bytes as a string.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// UTF-16LE bytes as a string (bad surrogates replaced, an odd last byte left out).
pub fn utf16le(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// A registry name compared as Windows compares them: case-insensitively.
fn same_name(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || a.to_uppercase() == b.to_uppercase()
}

impl<'a> Hive<'a> {
    /// Parses the base block of `bytes` (a whole hive file).
    pub fn parse(bytes: &'a [u8]) -> Result<Hive<'a>, AuditError> {
        let bad = |offset: usize, reason: &str| AuditError::Hive {
            offset: offset as u64,
            reason: reason.to_owned(),
        };
        if bytes.get(..4) != Some(b"regf") {
            return Err(bad(0, "no regf signature: not a registry hive"));
        }
        let base = bytes
            .get(..BASE_BLOCK)
            .ok_or_else(|| bad(bytes.len(), "the file ends inside its 4 KiB base block"))?;
        let field = |at: usize| u32_at(base, at).unwrap_or_default();
        if field(20) != 1 {
            return Err(bad(20, "major version is not 1"));
        }
        let checksum = (0..508).step_by(4).fold(0u32, |sum, at| sum ^ field(at));
        let bins_size = usize::try_from(field(40)).unwrap_or(usize::MAX);
        let bins_end = BASE_BLOCK.saturating_add(bins_size).min(bytes.len());
        let hive = Hive {
            bytes,
            bins: bytes.get(BASE_BLOCK..bins_end).unwrap_or_default(),
            root: field(36),
            minor: field(24),
            dirty: field(4) != field(8),
            bad_checksum: checksum != field(508),
        };
        if hive.bins.get(..4) != Some(b"hbin") {
            return Err(bad(BASE_BLOCK, "no hbin block after the base block"));
        }
        hive.root_key()?;
        Ok(hive)
    }

    /// The file offset of cell offset `cell` (plus `within`), for errors.
    fn file_offset(cell: u32, within: usize) -> u64 {
        (BASE_BLOCK as u64)
            .saturating_add(u64::from(cell))
            .saturating_add(within as u64)
    }

    /// An error at byte `within` of cell `cell`.
    fn error(cell: u32, within: usize, reason: impl Into<String>) -> AuditError {
        AuditError::Hive {
            offset: Hive::file_offset(cell, within),
            reason: reason.into(),
        }
    }

    /// The content of the cell at `offset` (after its size field), checked to lie in the
    /// bins.
    fn cell(&self, offset: u32) -> Result<&'a [u8], AuditError> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let Some(size) = u32_at(self.bins, start) else {
            return Err(Hive::error(
                offset,
                0,
                "cell offset past the end of the bins",
            ));
        };
        // In use: negative. A free cell referenced is read all the same (as Windows' own
        // reader does not, but the bytes are what they are).
        let size = i32::from_le_bytes(size.to_le_bytes()).unsigned_abs() as usize;
        let end = start.checked_add(size);
        match end.and_then(|end| self.bins.get(start.saturating_add(4)..end)) {
            Some(content) if size >= 4 => Ok(content),
            _ => Err(Hive::error(
                offset,
                0,
                format!("cell of {size} bytes does not fit in the bins"),
            )),
        }
    }

    /// The root key.
    pub fn root_key(&self) -> Result<Key<'a>, AuditError> {
        self.key(self.root)
    }

    /// The key whose `nk` cell is at `offset`.
    fn key(&self, offset: u32) -> Result<Key<'a>, AuditError> {
        let cell = self.cell(offset)?;
        if cell.get(..2) != Some(b"nk") {
            return Err(Hive::error(offset, 4, "not a key (nk) cell"));
        }
        if cell.len() < 76 {
            return Err(Hive::error(offset, 0, "key cell shorter than a key record"));
        }
        Ok(Key {
            hive: *self,
            offset,
            cell,
        })
    }

    /// The whole file, as given.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl<'a> Key<'a> {
    /// A field of the `nk` record (its length checked when the key was read).
    fn field(&self, at: usize) -> u32 {
        u32_at(self.cell, at).unwrap_or_default()
    }

    /// Its name.
    pub fn name(&self) -> Result<String, AuditError> {
        let flags = u16_at(self.cell, 2).unwrap_or_default();
        let len = usize::from(u16_at(self.cell, 72).unwrap_or_default());
        let bytes = self
            .cell
            .get(76..76usize.saturating_add(len))
            .ok_or_else(|| Hive::error(self.offset, 76, "key name past its cell"))?;
        Ok(if flags & KEY_COMP_NAME != 0 {
            latin1(bytes)
        } else {
            utf16le(bytes)
        })
    }

    /// Its subkeys, in the hive's order (at most [`MAX_LISTED`]).
    pub fn subkeys(&self) -> Result<Vec<Key<'a>>, AuditError> {
        let count = self.field(20);
        if count == 0 {
            return Ok(Vec::new());
        }
        let mut offsets = Vec::new();
        self.list(self.field(28), true, &mut offsets)?;
        offsets.into_iter().map(|o| self.hive.key(o)).collect()
    }

    /// Appends the key offsets of the subkey list at `offset` to `out`; an `ri` list's
    /// leaves when `root` (one level only).
    fn list(&self, offset: u32, root: bool, out: &mut Vec<u32>) -> Result<(), AuditError> {
        let cell = self.hive.cell(offset)?;
        let count = usize::from(u16_at(cell, 2).unwrap_or_default());
        let (stride, nested) = match cell.get(..2) {
            Some(b"lf" | b"lh") => (8usize, false),
            Some(b"li") => (4, false),
            Some(b"ri") if root => (4, true),
            Some(b"ri") => return Err(Hive::error(offset, 4, "an ri list inside an ri list")),
            _ => return Err(Hive::error(offset, 4, "not a subkey list (lf, lh, li, ri)")),
        };
        let needed = count.saturating_mul(stride).saturating_add(4);
        if needed > cell.len() {
            return Err(Hive::error(
                offset,
                6,
                format!("subkey list of {count} entries does not fit in its cell"),
            ));
        }
        for i in 0..count {
            let entry =
                u32_at(cell, 4usize.saturating_add(i.saturating_mul(stride))).unwrap_or_default();
            if nested {
                self.list(entry, false, out)?;
            } else {
                if out.len() >= MAX_LISTED {
                    return Err(Hive::error(
                        offset,
                        0,
                        format!("more than {MAX_LISTED} subkeys"),
                    ));
                }
                out.push(entry);
            }
        }
        Ok(())
    }

    /// Its subkey named `name` (case-insensitively), if it has one.
    pub fn subkey(&self, name: &str) -> Result<Option<Key<'a>>, AuditError> {
        for key in self.subkeys()? {
            if same_name(&key.name()?, name) {
                return Ok(Some(key));
            }
        }
        Ok(None)
    }

    /// The key at `path` below it (`Software\Microsoft`), if there is one.
    pub fn descend(&self, path: &str) -> Result<Option<Key<'a>>, AuditError> {
        let mut key = *self;
        for part in path.split('\\').filter(|p| !p.is_empty()) {
            match key.subkey(part)? {
                Some(next) => key = next,
                None => return Ok(None),
            }
        }
        Ok(Some(key))
    }

    /// Its values, in the hive's order (more than [`MAX_VALUES`] is an error).
    pub fn values(&self) -> Result<Vec<Value<'a>>, AuditError> {
        let count = usize::try_from(self.field(36)).unwrap_or(usize::MAX);
        if count == 0 {
            return Ok(Vec::new());
        }
        if count > MAX_VALUES {
            return Err(Hive::error(
                self.offset,
                40,
                format!("{count} values: more than the {MAX_VALUES} a key is read with"),
            ));
        }
        let list_offset = self.field(40);
        let list = self.hive.cell(list_offset)?;
        if count.saturating_mul(4) > list.len() {
            return Err(Hive::error(
                self.offset,
                40,
                format!("{count} values do not fit in the value list"),
            ));
        }
        (0..count)
            .map(|i| {
                let at = i.saturating_mul(4);
                self.value_at(u32_at(list, at).unwrap_or_default())
            })
            .collect()
    }

    /// The value whose `vk` cell is at `offset`.
    fn value_at(&self, offset: u32) -> Result<Value<'a>, AuditError> {
        let cell = self.hive.cell(offset)?;
        if cell.get(..2) != Some(b"vk") || cell.len() < 20 {
            return Err(Hive::error(offset, 4, "not a value (vk) cell"));
        }
        let len = usize::from(u16_at(cell, 2).unwrap_or_default());
        let flags = u16_at(cell, 16).unwrap_or_default();
        let name = cell
            .get(20..20usize.saturating_add(len))
            .ok_or_else(|| Hive::error(offset, 24, "value name past its cell"))?;
        let size_field = u32_at(cell, 4).unwrap_or_default();
        Ok(Value {
            hive: self.hive,
            offset,
            name: if flags & VALUE_COMP_NAME != 0 {
                latin1(name)
            } else {
                utf16le(name)
            },
            kind: u32_at(cell, 12).unwrap_or_default(),
            size: size_field & !DATA_IN_OFFSET,
            size_field,
            data_offset: u32_at(cell, 8).unwrap_or_default(),
        })
    }

    /// Its value named `name` (case-insensitively; `""` for the default value).
    pub fn value(&self, name: &str) -> Result<Option<Value<'a>>, AuditError> {
        Ok(self
            .values()?
            .into_iter()
            .find(|v| same_name(&v.name, name)))
    }
}

impl Value<'_> {
    /// Its data: stored in the value itself, in one cell, or in a big value's segments.
    pub fn data(&self) -> Result<Vec<u8>, AuditError> {
        let size = usize::try_from(self.size).unwrap_or(usize::MAX);
        if self.size_field & DATA_IN_OFFSET != 0 {
            let inline = self.data_offset.to_le_bytes();
            return inline
                .get(..size)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| Hive::error(self.offset, 8, "inline data longer than 4 bytes"));
        }
        if size == 0 {
            return Ok(Vec::new());
        }
        if size > self.hive.bins.len() {
            return Err(Hive::error(
                self.offset,
                8,
                format!("data of {size} bytes is larger than the hive"),
            ));
        }
        let cell = self.hive.cell(self.data_offset)?;
        if size > SEGMENT && self.hive.minor >= 4 && cell.get(..2) == Some(b"db") {
            return self.big_data(cell, size);
        }
        cell.get(..size).map(<[u8]>::to_vec).ok_or_else(|| {
            Hive::error(
                self.data_offset,
                0,
                format!("data of {size} bytes does not fit in its cell"),
            )
        })
    }

    /// A big value's data: its `db` cell lists segment cells of up to 16,344 bytes each.
    fn big_data(&self, db: &[u8], size: usize) -> Result<Vec<u8>, AuditError> {
        let count = usize::from(u16_at(db, 2).unwrap_or_default());
        let list_offset = u32_at(db, 4).unwrap_or_default();
        let list = self.hive.cell(list_offset)?;
        if count.saturating_mul(4) > list.len() {
            return Err(Hive::error(
                list_offset,
                0,
                format!("{count} segments do not fit in the segment list"),
            ));
        }
        let mut data = Vec::with_capacity(size);
        for i in 0..count {
            let remaining = size.saturating_sub(data.len());
            if remaining == 0 {
                break;
            }
            let segment = u32_at(list, i.saturating_mul(4)).unwrap_or_default();
            let bytes = self.hive.cell(segment)?;
            let take = remaining.min(SEGMENT).min(bytes.len());
            data.extend_from_slice(bytes.get(..take).unwrap_or_default());
        }
        if data.len() < size {
            return Err(Hive::error(
                self.data_offset,
                0,
                format!(
                    "big value's segments hold {} of its {size} bytes",
                    data.len()
                ),
            ));
        }
        Ok(data)
    }

    /// Its data as a string (`REG_SZ`, `REG_EXPAND_SZ`: UTF-16LE up to the first NUL),
    /// if it is one.
    pub fn string(&self) -> Result<Option<String>, AuditError> {
        if self.kind != REG_SZ && self.kind != REG_EXPAND_SZ {
            return Ok(None);
        }
        let data = self.data()?;
        let text = utf16le(&data);
        Ok(Some(match text.find('\0') {
            Some(end) => text[..end].to_owned(),
            None => text,
        }))
    }
}

#[cfg(test)]
pub(crate) mod build {
    //! Hives built in memory for the unit tests: a base block, one bin, cells appended.

    /// A hive being built: cells appended to one bin.
    pub(crate) struct HiveBuilder {
        pub(crate) bins: Vec<u8>,
    }

    impl HiveBuilder {
        /// An empty bin (its 32-byte header).
        pub(crate) fn new() -> HiveBuilder {
            let mut bins = b"hbin".to_vec();
            bins.resize(32, 0);
            HiveBuilder { bins }
        }

        /// Appends a cell holding `content`; returns its offset.
        pub(crate) fn cell(&mut self, content: &[u8]) -> u32 {
            let offset = self.bins.len() as u32;
            let size = (content.len() + 4).next_multiple_of(8);
            self.bins.extend_from_slice(&(-(size as i32)).to_le_bytes());
            self.bins.extend_from_slice(content);
            self.bins.resize(offset as usize + size, 0);
            offset
        }

        /// Appends a key named `name` with these subkey and value lists.
        pub(crate) fn key(&mut self, name: &str, subkeys: &[u32], values: &[u32]) -> u32 {
            let list = (!subkeys.is_empty()).then(|| {
                let mut lf = b"lf".to_vec();
                lf.extend_from_slice(&(subkeys.len() as u16).to_le_bytes());
                for s in subkeys {
                    lf.extend_from_slice(&s.to_le_bytes());
                    lf.extend_from_slice(&[0; 4]);
                }
                self.cell(&lf)
            });
            let value_list = (!values.is_empty()).then(|| {
                let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                self.cell(&bytes)
            });
            let mut nk = vec![0u8; 76];
            nk[..2].copy_from_slice(b"nk");
            nk[2..4].copy_from_slice(&0x20u16.to_le_bytes());
            nk[20..24].copy_from_slice(&(subkeys.len() as u32).to_le_bytes());
            nk[28..32].copy_from_slice(&list.unwrap_or(u32::MAX).to_le_bytes());
            nk[36..40].copy_from_slice(&(values.len() as u32).to_le_bytes());
            nk[40..44].copy_from_slice(&value_list.unwrap_or(u32::MAX).to_le_bytes());
            nk[72..74].copy_from_slice(&(name.len() as u16).to_le_bytes());
            nk.extend_from_slice(name.as_bytes());
            self.cell(&nk)
        }

        /// Appends a value named `name` of type `kind` holding `data` (in a cell of its own).
        pub(crate) fn value(&mut self, name: &str, kind: u32, data: &[u8]) -> u32 {
            let data_offset = self.cell(data);
            let mut vk = vec![0u8; 20];
            vk[..2].copy_from_slice(b"vk");
            vk[2..4].copy_from_slice(&(name.len() as u16).to_le_bytes());
            vk[4..8].copy_from_slice(&(data.len() as u32).to_le_bytes());
            vk[8..12].copy_from_slice(&data_offset.to_le_bytes());
            vk[12..16].copy_from_slice(&kind.to_le_bytes());
            vk[16..18].copy_from_slice(&1u16.to_le_bytes());
            vk.extend_from_slice(name.as_bytes());
            self.cell(&vk)
        }

        /// The hive file, `root` its root key.
        pub(crate) fn finish(mut self, root: u32) -> Vec<u8> {
            let size = self.bins.len().next_multiple_of(4096);
            self.bins.resize(size, 0);
            self.bins[8..12].copy_from_slice(&(size as u32).to_le_bytes());
            let mut base = vec![0u8; 4096];
            base[..4].copy_from_slice(b"regf");
            base[4..8].copy_from_slice(&1u32.to_le_bytes());
            base[8..12].copy_from_slice(&1u32.to_le_bytes());
            base[20..24].copy_from_slice(&1u32.to_le_bytes());
            base[24..28].copy_from_slice(&5u32.to_le_bytes());
            base[32..36].copy_from_slice(&1u32.to_le_bytes());
            base[36..40].copy_from_slice(&root.to_le_bytes());
            base[40..44].copy_from_slice(&(size as u32).to_le_bytes());
            let sum = (0..508).step_by(4).fold(0u32, |s, at| {
                s ^ u32::from_le_bytes(base[at..at + 4].try_into().unwrap())
            });
            base[508..512].copy_from_slice(&sum.to_le_bytes());
            base.extend_from_slice(&self.bins);
            base
        }
    }

    /// UTF-16LE of `text` and a NUL, as `REG_SZ` data.
    pub(crate) fn reg_sz(text: &str) -> Vec<u8> {
        text.encode_utf16()
            .chain([0])
            .flat_map(u16::to_le_bytes)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::build::{HiveBuilder, reg_sz};
    use super::*;

    fn sample() -> Vec<u8> {
        let mut b = HiveBuilder::new();
        let host = b.value("HostName", REG_SZ, &reg_sz("db.example"));
        let bin = b.value("Blob", 3, &[1, 2, 3, 4, 5]);
        let big = vec![7u8; 40_000];
        // A big value: a db cell, its segment list, three segments.
        let segments: Vec<u32> = big.chunks(SEGMENT).map(|c| b.cell(c)).collect();
        let list: Vec<u8> = segments.iter().flat_map(|s| s.to_le_bytes()).collect();
        let list = b.cell(&list);
        let mut db = b"db".to_vec();
        db.extend_from_slice(&(segments.len() as u16).to_le_bytes());
        db.extend_from_slice(&list.to_le_bytes());
        let db = b.cell(&db);
        let mut vk = vec![0u8; 20];
        vk[..2].copy_from_slice(b"vk");
        vk[2..4].copy_from_slice(&3u16.to_le_bytes());
        vk[4..8].copy_from_slice(&(big.len() as u32).to_le_bytes());
        vk[8..12].copy_from_slice(&db.to_le_bytes());
        vk[12..16].copy_from_slice(&3u32.to_le_bytes());
        vk[16..18].copy_from_slice(&1u16.to_le_bytes());
        vk.extend_from_slice(b"Big");
        let big_value = b.cell(&vk);
        let session = b.key("prod", &[], &[host, bin, big_value]);
        let sessions = b.key("Sessions", &[session], &[]);
        let root = b.key("ROOT", &[sessions], &[]);
        b.finish(root)
    }

    #[test]
    fn keys_values_and_big_data() {
        let bytes = sample();
        let hive = Hive::parse(&bytes).unwrap();
        assert!(!hive.dirty && !hive.bad_checksum);
        let root = hive.root_key().unwrap();
        assert_eq!(root.name().unwrap(), "ROOT");
        let prod = root.descend("SESSIONS\\Prod").unwrap().unwrap();
        assert_eq!(prod.name().unwrap(), "prod");
        let host = prod.value("hostname").unwrap().unwrap();
        assert_eq!(host.string().unwrap().as_deref(), Some("db.example"));
        let blob = prod.value("Blob").unwrap().unwrap();
        assert_eq!(blob.data().unwrap(), [1, 2, 3, 4, 5]);
        assert_eq!(blob.string().unwrap(), None);
        let big = prod.value("Big").unwrap().unwrap();
        assert_eq!(big.data().unwrap(), vec![7u8; 40_000]);
        assert!(root.descend("Sessions\\nope").unwrap().is_none());
    }

    #[test]
    fn bad_offsets_are_errors_with_their_position() {
        let bytes = sample();
        // Every cell offset field of the hive pointed past the bins, one at a time, and the
        // whole hive read: errors, never a panic.
        let hive_len = bytes.len();
        for at in (4096..hive_len).step_by(4) {
            let mut bad = bytes.clone();
            bad[at..at + 4].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
            let _ = walk(&bad);
        }
        let mut bad = bytes.clone();
        bad[36..40].copy_from_slice(&0x0100_0000u32.to_le_bytes());
        match Hive::parse(&bad) {
            Err(AuditError::Hive { offset, reason }) => {
                assert_eq!(offset, 4096 + 0x0100_0000);
                assert!(reason.contains("past the end"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(Hive::parse(b"regf").is_err());
        assert!(Hive::parse(b"nope").is_err());
    }

    /// Reads every key and value of a hive, to a bounded depth.
    fn walk(bytes: &[u8]) -> Result<usize, AuditError> {
        let hive = Hive::parse(bytes)?;
        let mut seen = 0;
        let mut stack = vec![(hive.root_key()?, 0)];
        while let Some((key, depth)) = stack.pop() {
            seen += 1;
            key.name()?;
            for value in key.values()? {
                value.data()?;
            }
            if depth < 8 {
                stack.extend(key.subkeys()?.into_iter().map(|k| (k, depth + 1)));
            }
        }
        Ok(seen)
    }

    #[test]
    fn a_key_with_too_many_values_is_refused() {
        let mut b = HiveBuilder::new();
        let value = b.value("x", REG_SZ, &reg_sz("y"));
        let many = vec![value; MAX_VALUES + 1];
        let root = b.key("ROOT", &[], &many);
        let bytes = b.finish(root);
        let hive = Hive::parse(&bytes).unwrap();
        let error = hive.root_key().unwrap().values().unwrap_err().to_string();
        assert!(error.contains("4097 values: more than the 4096"), "{error}");
    }

    #[test]
    fn an_ri_list_of_itself_is_refused_and_huge_fan_out_is_cut() {
        let mut b = HiveBuilder::new();
        let leaf = b.key("leaf", &[], &[]);
        let mut lf = b"lf".to_vec();
        lf.extend_from_slice(&20u16.to_le_bytes());
        for _ in 0..20 {
            lf.extend_from_slice(&leaf.to_le_bytes());
            lf.extend_from_slice(&[0; 4]);
        }
        let lf = b.cell(&lf);
        // An ri listing the same 20-entry lf 65,535 times: 1.3 million subkeys.
        let mut ri = b"ri".to_vec();
        ri.extend_from_slice(&u16::MAX.to_le_bytes());
        for _ in 0..u16::MAX {
            ri.extend_from_slice(&lf.to_le_bytes());
        }
        let ri = b.cell(&ri);
        let mut outer = b"ri".to_vec();
        outer.extend_from_slice(&1u16.to_le_bytes());
        outer.extend_from_slice(&ri.to_le_bytes());
        let outer = b.cell(&outer);
        let root = b.key("ROOT", &[], &[]);
        let mut bytes = b.finish(root);
        // The root's subkey count and list patched to the ri lists.
        let nk = 4096 + root as usize + 4;
        bytes[nk + 20..nk + 24].copy_from_slice(&1u32.to_le_bytes());
        bytes[nk + 28..nk + 32].copy_from_slice(&outer.to_le_bytes());
        let hive = Hive::parse(&bytes).unwrap();
        let error = hive.root_key().unwrap().subkeys().unwrap_err().to_string();
        assert!(error.contains("ri list inside an ri list"), "{error}");
        bytes[nk + 28..nk + 32].copy_from_slice(&ri.to_le_bytes());
        let hive = Hive::parse(&bytes).unwrap();
        let error = hive.root_key().unwrap().subkeys().unwrap_err().to_string();
        assert!(error.contains("more than 1000000 subkeys"), "{error}");
    }
}
