//! [`DataMap`]: where a disk's data is, and which stretches of it cannot be read.

use std::ops::Range;

/// Bytes of a disk that could not be read, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    /// The disk bytes.
    pub range: Range<u64>,
    /// Why they could not be read (the error and its causes, for people).
    pub reason: String,
}

/// A disk's data ranges and the stretches of them that cannot be read, as
/// [`Disk::data_map`](crate::Disk::data_map) returns them.
///
/// A damaged image (a table that cannot be read, a file cut short) loses the stretches of the
/// virtual disk that the lost structures map, not the whole disk: those stretches are listed
/// in `unreadable`, by virtual offset, with the cause, and the rest of the disk reads as usual.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DataMap {
    /// The bytes that may hold data, as [`Disk::data_ranges`](crate::Disk::data_ranges): sorted,
    /// non-overlapping, within the disk; every byte outside them reads as zero. The unreadable
    /// stretches lie within them (what they held is unknown).
    pub data: Vec<Range<u64>>,
    /// Stretches of `data` whose bytes cannot be read, sorted and non-overlapping: every read
    /// that touches one fails. Not every failing byte is listed: an I/O error on a data
    /// cluster shows only when it is read.
    pub unreadable: Vec<Unreadable>,
}

impl DataMap {
    /// A map of `data` with nothing unreadable.
    pub fn readable(data: Vec<Range<u64>>) -> DataMap {
        DataMap {
            data,
            unreadable: Vec::new(),
        }
    }
}

impl Unreadable {
    /// The bytes `range`, unreadable because of `error`: the reason is the error and its
    /// causes, joined with `: `.
    pub fn because(range: Range<u64>, error: &dyn std::error::Error) -> Unreadable {
        Unreadable {
            range,
            reason: describe(error),
        }
    }
}

/// The error `error` and its causes, joined with `: `.
pub(crate) fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
