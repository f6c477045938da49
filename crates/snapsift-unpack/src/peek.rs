//! Looking at the first bytes of a stream without losing them.

use std::io::{self, Read};

use crate::SNIFF_LEN;

/// A stream whose first [`SNIFF_LEN`] bytes (or all of it, if shorter) have been read ahead to
/// be sniffed; reading it yields them, then the rest.
pub(crate) struct Peeked<'a> {
    head: Vec<u8>,
    position: usize,
    rest: &'a mut dyn Read,
}

impl<'a> Peeked<'a> {
    /// Reads ahead the head of `rest`.
    pub(crate) fn new(rest: &'a mut dyn Read) -> io::Result<Self> {
        let mut head = Vec::with_capacity(SNIFF_LEN);
        rest.take(SNIFF_LEN as u64).read_to_end(&mut head)?;
        Ok(Peeked {
            head,
            position: 0,
            rest,
        })
    }

    /// The bytes read ahead.
    pub(crate) fn head(&self) -> &[u8] {
        &self.head
    }
}

impl Read for Peeked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let ahead = self.head.get(self.position..).unwrap_or_default();
        if ahead.is_empty() {
            return self.rest.read(buf);
        }
        let n = ahead.len().min(buf.len());
        buf[..n].copy_from_slice(&ahead[..n]);
        self.position = self.position.saturating_add(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yields_the_head_then_the_rest() {
        let bytes: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
        let mut source = &bytes[..];
        let mut peeked = Peeked::new(&mut source).unwrap();
        assert_eq!(peeked.head(), &bytes[..SNIFF_LEN]);
        let mut all = Vec::new();
        peeked.read_to_end(&mut all).unwrap();
        assert_eq!(all, bytes);

        let mut short: &[u8] = b"abc";
        let mut peeked = Peeked::new(&mut short).unwrap();
        assert_eq!(peeked.head(), b"abc");
        let mut all = Vec::new();
        peeked.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"abc");
    }
}
