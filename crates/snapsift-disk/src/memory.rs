//! [`MemoryDisk`]: a disk held in memory, for tests, fuzzing and small decoded images.

use std::ops::Range;

use crate::{Disk, DiskError, check_bounds};

/// A disk whose bytes are a `Vec<u8>`.
///
/// It goes through the trait's default [`Disk::window`] (a copy into the caller's buffer), the
/// same path as a block device, and can declare data ranges to stand in for a sparse image.
#[derive(Clone, Debug)]
pub struct MemoryDisk {
    bytes: Vec<u8>,
    data_ranges: Option<Vec<Range<u64>>>,
}

impl MemoryDisk {
    /// A disk of exactly these bytes, all of them data.
    pub fn new(bytes: Vec<u8>) -> Self {
        MemoryDisk {
            bytes,
            data_ranges: None,
        }
    }

    /// Declares which ranges hold data. The caller promises that every byte outside them is
    /// zero, as the [`Disk::data_ranges`] contract requires.
    pub fn with_data_ranges(mut self, ranges: Vec<Range<u64>>) -> Self {
        self.data_ranges = Some(ranges);
        self
    }
}

impl Disk for MemoryDisk {
    fn size(&self) -> u64 {
        u64::try_from(self.bytes.len()).unwrap_or(u64::MAX)
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        check_bounds(offset, buf.len(), self.size())?;
        // In bounds of a Vec, so both ends fit in usize.
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(buf.len());
        buf.copy_from_slice(&self.bytes[start..end]);
        Ok(())
    }

    fn data_ranges(&self) -> Result<Vec<Range<u64>>, DiskError> {
        Ok(self
            .data_ranges
            .clone()
            .unwrap_or_else(|| vec![0..self.size()]))
    }

    fn kind(&self) -> &'static str {
        "in-memory disk"
    }
}
