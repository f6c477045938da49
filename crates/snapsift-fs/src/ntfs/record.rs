//! File records: the header, the update sequence fixup, and the attribute headers (no I/O).
//!
//! Every field is read through [`le`], which answers 0 for bytes that are not there, and
//! every offset taken from the record is checked against the record's length before use: a
//! damaged record gives [`Damage`] or a record whose attribute list stops at the damage
//! ([`Record::truncated`]), never a panic.

use std::ops::Range;

/// Records carry an update sequence entry every this many bytes, whatever the sector size.
pub(crate) const STRIDE: usize = 512;

/// The record's flag: in use.
const IN_USE: u16 = 0x0001;
/// The record's flag: a directory.
const DIRECTORY: u16 = 0x0002;

/// Attribute types this map looks at.
pub(crate) mod kind {
    /// `$FILE_NAME`.
    pub(crate) const FILE_NAME: u32 = 0x30;
    /// `$DATA`.
    pub(crate) const DATA: u32 = 0x80;
    /// The end marker of a record's attributes.
    pub(crate) const END: u32 = 0xFFFF_FFFF;
}

/// An attribute's flag: its value is compressed.
pub(crate) const COMPRESSED: u16 = 0x0001;
/// An attribute's flag: its value is encrypted.
pub(crate) const ENCRYPTED: u16 = 0x4000;

/// Why a record could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Damage {
    /// No `FILE` signature: a record never used (zeros), or not a record at all.
    Empty,
    /// A `FILE` record whose header or update sequence does not hold (a torn write, damage).
    Broken,
}

/// A parsed file record (after the fixup).
#[derive(Clone, Debug, Default)]
pub(crate) struct Record {
    /// The sequence number (how often the record was reused).
    pub(crate) sequence: u16,
    /// Whether the record is in use.
    pub(crate) in_use: bool,
    /// Whether it is a directory.
    pub(crate) directory: bool,
    /// For an extension record, the base record's number and sequence.
    pub(crate) base: Option<(u64, u16)>,
    /// Its attributes, in record order.
    pub(crate) attributes: Vec<Attribute>,
    /// Whether the attributes stop at damage rather than at the end marker.
    pub(crate) truncated: bool,
}

/// One attribute header, with where its parts are in the record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Attribute {
    /// Its type ([`kind`]).
    pub(crate) kind: u32,
    /// Its name (a named stream, an index), `None` if unnamed. UTF-16 that does not decode
    /// is replaced.
    pub(crate) name: Option<Box<str>>,
    /// Its flags ([`COMPRESSED`], [`ENCRYPTED`], sparse).
    pub(crate) flags: u16,
    /// Its value.
    pub(crate) value: Value,
}

/// Where an attribute's value is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    /// In the record, at these bytes.
    Resident(Range<usize>),
    /// In clusters, as data runs.
    NonResident(NonResident),
}

/// The header of a non-resident value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NonResident {
    /// The first cluster of the value this attribute maps (not 0 when a value is split over
    /// several records).
    pub(crate) lowest_vcn: u64,
    /// Clusters per compression unit, as a power of two (0: none).
    pub(crate) unit_exponent: u8,
    /// The value's size in bytes (meaningful where `lowest_vcn` is 0).
    pub(crate) size: u64,
    /// The bytes written so far: past them the value reads as zeros.
    pub(crate) initialized: u64,
    /// Where its data runs are in the record.
    pub(crate) runs: Range<usize>,
}

/// The little-endian number of `N` bytes at `at` in `bytes`, 0 if they are not all there.
pub(crate) fn le<const N: usize>(bytes: &[u8], at: usize) -> u64 {
    let Some(slice) = at.checked_add(N).and_then(|end| bytes.get(at..end)) else {
        return 0;
    };
    slice
        .iter()
        .rev()
        .fold(0u64, |acc, &b| acc.wrapping_shl(8) | u64::from(b))
}

/// A 48-bit record number and its 16-bit sequence, as NTFS packs references.
pub(crate) fn reference(bytes: &[u8], at: usize) -> (u64, u16) {
    let raw = le::<8>(bytes, at);
    let sequence = u16::try_from(raw >> 48).unwrap_or(0);
    (raw & 0xFFFF_FFFF_FFFF, sequence)
}

/// Applies the update sequence of a multi-sector structure (`FILE` record or `INDX` block):
/// the last two bytes of each 512-byte stride must hold the sequence number, and get back
/// the bytes kept in the array. Fails if the array does not fit or a stride was torn.
pub(crate) fn fixup(raw: &mut [u8]) -> Result<(), Damage> {
    let offset = usize::try_from(le::<2>(raw, 4)).unwrap_or(usize::MAX);
    let count = usize::try_from(le::<2>(raw, 6)).unwrap_or(0);
    // The sequence number, then one entry per stride.
    let strides = count.checked_sub(1).ok_or(Damage::Broken)?;
    let array_end = count
        .checked_mul(2)
        .and_then(|n| n.checked_add(offset))
        .ok_or(Damage::Broken)?;
    if strides == 0 || array_end > raw.len() || strides.saturating_mul(STRIDE) > raw.len() {
        return Err(Damage::Broken);
    }
    let usn = [raw[offset], raw[offset.saturating_add(1)]];
    for i in 0..strides {
        let entry = offset.saturating_add(2).saturating_add(i.saturating_mul(2));
        let at = i.saturating_add(1).saturating_mul(STRIDE).saturating_sub(2);
        let (Some(kept), true) = (
            raw.get(entry..entry.saturating_add(2))
                .map(|b| [b[0], b[1]]),
            raw.get(at..at.saturating_add(2)) == Some(&usn[..]),
        ) else {
            return Err(Damage::Broken);
        };
        raw[at..at.saturating_add(2)].copy_from_slice(&kept);
    }
    Ok(())
}

/// Whether `range` of a record holds a byte the fixup replaced (the last two of a stride):
/// such bytes differ on the disk from what the record reads.
pub(crate) fn crosses_fixup(range: &Range<usize>) -> bool {
    if range.start >= range.end {
        return false;
    }
    // The first replaced byte at or after the start.
    let in_stride = range.start % STRIDE;
    let first = if in_stride >= STRIDE - 2 {
        range.start
    } else {
        range
            .start
            .saturating_sub(in_stride)
            .saturating_add(STRIDE - 2)
    };
    first < range.end
}

/// Parses a `FILE` record, fixing up `raw` in place.
pub(crate) fn parse(raw: &mut [u8]) -> Result<Record, Damage> {
    if raw.get(..4) != Some(b"FILE") {
        return Err(Damage::Empty);
    }
    fixup(raw)?;
    let flags = u16::try_from(le::<2>(raw, 0x16)).unwrap_or(0);
    let used = usize::try_from(le::<4>(raw, 0x18))
        .unwrap_or(usize::MAX)
        .min(raw.len());
    let first = usize::try_from(le::<2>(raw, 0x14)).unwrap_or(usize::MAX);
    if first < 0x2A || first >= used {
        return Err(Damage::Broken);
    }
    let (base_number, base_sequence) = reference(raw, 0x20);
    let mut record = Record {
        sequence: u16::try_from(le::<2>(raw, 0x10)).unwrap_or(0),
        in_use: flags & IN_USE != 0,
        directory: flags & DIRECTORY != 0,
        base: (base_number != 0).then_some((base_number, base_sequence)),
        attributes: Vec::new(),
        truncated: false,
    };
    let record_bytes = &raw[..used];
    let mut at = first;
    loop {
        let kind = u32::try_from(le::<4>(record_bytes, at)).unwrap_or(0);
        if kind == kind::END {
            break;
        }
        match attribute(record_bytes, at) {
            Some((attribute, len)) => {
                record.attributes.push(attribute);
                at = at.saturating_add(len);
            }
            None => {
                record.truncated = true;
                break;
            }
        }
    }
    Ok(record)
}

/// The attribute at `at` in `record` (the record's bytes in use), and its length; `None` if
/// its header does not hold.
fn attribute(record: &[u8], at: usize) -> Option<(Attribute, usize)> {
    let kind = u32::try_from(le::<4>(record, at)).ok()?;
    let len = usize::try_from(le::<4>(record, at.checked_add(4)?)).ok()?;
    let end = at.checked_add(len)?;
    let non_resident = *record.get(at.checked_add(8)?)? != 0;
    let header = if non_resident { 0x40 } else { 0x18 };
    if len < header || end > record.len() || len % 8 != 0 {
        return None;
    }
    let bytes = &record[at..end];
    let name_chars = usize::from(bytes[9]);
    let name_at = usize::try_from(le::<2>(bytes, 0x0A)).ok()?;
    let name = if name_chars == 0 {
        None
    } else {
        let raw = bytes.get(name_at..name_at.checked_add(name_chars.checked_mul(2)?)?)?;
        Some(utf16(raw).into_boxed_str())
    };
    let flags = u16::try_from(le::<2>(bytes, 0x0C)).ok()?;
    let value = if non_resident {
        let runs_at = usize::try_from(le::<2>(bytes, 0x20)).ok()?;
        if runs_at < header || runs_at > len {
            return None;
        }
        Value::NonResident(NonResident {
            lowest_vcn: le::<8>(bytes, 0x10),
            unit_exponent: bytes[0x22],
            size: le::<8>(bytes, 0x30),
            initialized: le::<8>(bytes, 0x38),
            runs: at.checked_add(runs_at)?..end,
        })
    } else {
        let value_len = usize::try_from(le::<4>(bytes, 0x10)).ok()?;
        let value_at = usize::try_from(le::<2>(bytes, 0x14)).ok()?;
        let value_end = value_at.checked_add(value_len)?;
        if value_end > len {
            return None;
        }
        Value::Resident(at.checked_add(value_at)?..at.checked_add(value_end)?)
    };
    Some((
        Attribute {
            kind,
            name,
            flags,
            value,
        },
        len,
    ))
}

/// UTF-16LE to a string, replacing what does not decode.
pub(crate) fn utf16(raw: &[u8]) -> String {
    let units: Vec<u16> = raw
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1024-byte record with the given attributes (each already padded to 8 bytes), its
    /// update sequence applied as on disk.
    pub(crate) fn record(flags: u16, attributes: &[Vec<u8>]) -> Vec<u8> {
        let mut raw = vec![0u8; 1024];
        raw[..4].copy_from_slice(b"FILE");
        raw[4..6].copy_from_slice(&0x30u16.to_le_bytes());
        raw[6..8].copy_from_slice(&3u16.to_le_bytes());
        raw[0x10..0x12].copy_from_slice(&7u16.to_le_bytes());
        raw[0x14..0x16].copy_from_slice(&0x38u16.to_le_bytes());
        raw[0x16..0x18].copy_from_slice(&flags.to_le_bytes());
        let mut at = 0x38;
        for attribute in attributes {
            raw[at..at + attribute.len()].copy_from_slice(attribute);
            at += attribute.len();
        }
        raw[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        raw[0x18..0x1C].copy_from_slice(&((at + 8) as u32).to_le_bytes());
        raw[0x1C..0x20].copy_from_slice(&1024u32.to_le_bytes());
        // Update sequence number 0x0101: keep the strides' last bytes, write the number.
        raw[0x30..0x32].copy_from_slice(&[1, 1]);
        for i in 0..2 {
            let end = (i + 1) * 512 - 2;
            let kept = [raw[end], raw[end + 1]];
            raw[0x32 + 2 * i..0x34 + 2 * i].copy_from_slice(&kept);
            raw[end..end + 2].copy_from_slice(&[1, 1]);
        }
        raw
    }

    /// A resident attribute of `kind` named `name` holding `value`.
    pub(crate) fn resident(kind: u32, name: &str, value: &[u8]) -> Vec<u8> {
        let name: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let value_at = (0x18 + name.len()).next_multiple_of(8);
        let len = (value_at + value.len()).next_multiple_of(8);
        let mut a = vec![0u8; len];
        a[0..4].copy_from_slice(&kind.to_le_bytes());
        a[4..8].copy_from_slice(&(len as u32).to_le_bytes());
        a[9] = (name.len() / 2) as u8;
        a[0x0A..0x0C].copy_from_slice(&0x18u16.to_le_bytes());
        a[0x18..0x18 + name.len()].copy_from_slice(&name);
        a[0x10..0x14].copy_from_slice(&(value.len() as u32).to_le_bytes());
        a[0x14..0x16].copy_from_slice(&(value_at as u16).to_le_bytes());
        a[value_at..value_at + value.len()].copy_from_slice(value);
        a
    }

    #[test]
    fn a_record_with_a_resident_value_across_a_stride() {
        let value: Vec<u8> = (0..600u32).map(|i| (i % 251) as u8).collect();
        let mut raw = record(1, &[resident(kind::DATA, "ads", &value)]);
        let parsed = parse(&mut raw).unwrap();
        assert!(parsed.in_use && !parsed.directory && !parsed.truncated);
        assert_eq!(parsed.sequence, 7);
        assert_eq!(parsed.attributes.len(), 1);
        let attribute = &parsed.attributes[0];
        assert_eq!(attribute.name.as_deref(), Some("ads"));
        let Value::Resident(range) = &attribute.value else {
            panic!("{attribute:?}")
        };
        assert_eq!(
            &raw[range.clone()],
            &value[..],
            "the fixup restored the bytes"
        );
        assert!(crosses_fixup(range));
        assert!(!crosses_fixup(&(0x38..0x100)));
        assert!(crosses_fixup(&(510..511)));
        assert!(!crosses_fixup(&(512..1022)));
    }

    #[test]
    fn damage_is_refused_or_cut() {
        let good = record(1, &[resident(kind::DATA, "", b"hello")]);
        // A torn stride: its last bytes are not the sequence number.
        let mut torn = good.clone();
        torn[1022] = 9;
        assert_eq!(parse(&mut torn).unwrap_err(), Damage::Broken);
        assert_eq!(parse(&mut vec![0u8; 1024]).unwrap_err(), Damage::Empty);
        // An update sequence array past the end, a first attribute past the bytes in use.
        let mut far = good.clone();
        far[4..6].copy_from_slice(&0xFFFFu16.to_le_bytes());
        assert_eq!(parse(&mut far).unwrap_err(), Damage::Broken);
        let mut first = good.clone();
        first[0x14..0x16].copy_from_slice(&0x3F0u16.to_le_bytes());
        assert_eq!(parse(&mut first).unwrap_err(), Damage::Broken);
        // An attribute whose length runs past the record: the list stops there.
        let mut long = good.clone();
        long[0x3C..0x40].copy_from_slice(&0x1000u32.to_le_bytes());
        let parsed = parse(&mut long).unwrap();
        assert!(parsed.truncated && parsed.attributes.is_empty());
        // A value past its attribute.
        let mut value = good;
        value[0x38 + 0x10..0x38 + 0x14].copy_from_slice(&0x100u32.to_le_bytes());
        assert!(parse(&mut value).unwrap().truncated);
    }

    #[test]
    fn numbers_never_panic() {
        assert_eq!(le::<2>(&[1, 2], 0), 0x0201);
        assert_eq!(le::<4>(&[1, 2], 0), 0);
        assert_eq!(le::<8>(&[1; 8], usize::MAX), 0);
        let mut raw = [0u8; 8];
        raw[..6].copy_from_slice(&[5, 0, 0, 0, 0, 0]);
        raw[6..].copy_from_slice(&3u16.to_le_bytes());
        assert_eq!(reference(&raw, 0), (5, 3));
        assert_eq!(utf16(&[b'a', 0, 0, 0xD8]), "a\u{FFFD}");
    }
}
