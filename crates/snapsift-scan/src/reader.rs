//! Scanning a stream on the calling thread: for the many small streams of the file pass
//! (files, archive members, decompressed and decoded text), where starting a pool per stream
//! would cost more than the scan, and where parallelism comes from scanning many streams at
//! once instead.

use std::io::Read;

use snapsift_match::Matcher;

use crate::stream::Cutter;
use crate::window::{WindowScanner, overlap};
use crate::{Finding, ScanError};

/// One thread's scanner of streams: the matcher's scratch and a window buffer, reused from
/// one stream to the next. Same overlap contract as [`crate::scan_stream`]: every match of
/// the stream is found once, with its offset in the stream.
pub struct ReadScanner<'m> {
    scanner: WindowScanner<'m>,
    chunk_size: usize,
    overlap: usize,
}

impl<'m> ReadScanner<'m> {
    /// A scanner cutting streams into chunks of `chunk_size` bytes (its window holds that
    /// plus twice the matcher's overlap).
    pub fn new(matcher: &'m Matcher, chunk_size: usize) -> Self {
        ReadScanner {
            scanner: WindowScanner::new(matcher),
            chunk_size: chunk_size.max(1),
            overlap: usize::try_from(overlap(matcher)).unwrap_or(usize::MAX),
        }
    }

    /// Scans `stream` to its end, giving each finding (offset in the stream) to `found` in
    /// stream order. Returns the stream's length; a read error ends the scan after the bytes
    /// read before it were scanned, and is returned as [`ScanError::Stream`].
    pub fn scan(
        &mut self,
        stream: &mut dyn Read,
        found: &mut dyn FnMut(Finding<'m>),
    ) -> Result<u64, ScanError> {
        let mut cutter = Cutter::new(self.chunk_size, self.overlap);
        while let Some(window) = cutter.next(stream) {
            for finding in self.scanner.scan(window.bytes, window.start, window.owned) {
                found(finding);
            }
        }
        cutter.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use snapsift_match::RuleSet;

    #[test]
    fn finds_every_match_once_whatever_the_chunk_size() {
        let rules = RuleSet::builtin().unwrap();
        let matcher = Matcher::new(&rules).unwrap();
        let mut text = Vec::new();
        let mut expected = Vec::new();
        for i in 0..50u64 {
            text.extend(std::iter::repeat_n(b'.', 997 + (i as usize * 37) % 500));
            expected.push(text.len() as u64);
            text.extend_from_slice(format!("LTAI5t{:018}\n", i * 7919).as_bytes());
        }
        for chunk in [1, 100, 4096, 1 << 20] {
            let mut scanner = ReadScanner::new(&matcher, chunk);
            let mut offsets = Vec::new();
            let len = scanner
                .scan(&mut text.as_slice(), &mut |f| offsets.push(f.offset))
                .unwrap();
            assert_eq!(len, text.len() as u64);
            assert_eq!(offsets, expected, "chunk size {chunk}");
        }
    }
}
