//! Bytes with random access: the root input, a nested zip held in memory, and windows on them.

use std::cell::RefCell;
use std::io::{self, Read, Seek, SeekFrom};

/// Bytes that can be read at any offset.
pub(crate) trait Source {
    /// The number of bytes.
    fn len(&self) -> u64;

    /// Reads at `offset` into `buf`; 0 at or past the end.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;

    /// Whether offsets in this source are offsets in the root input.
    fn is_root(&self) -> bool;

    /// The first failure of the underlying reader, taken (the root's only: it is the caller's
    /// error, not a problem of the content).
    fn take_failure(&self) -> Option<(u64, io::Error)> {
        None
    }
}

/// Reads of the root are served from a block this size when they are smaller: tar headers and
/// zip records are read 512 bytes or less at a time, and each would otherwise be a system call.
const CACHE: usize = 64 << 10;

/// The root input: the caller's `Read + Seek`, shared by every window on it.
pub(crate) struct Root<R> {
    len: u64,
    state: RefCell<RootState<R>>,
    failure: RefCell<Option<(u64, io::Error)>>,
}

struct RootState<R> {
    reader: R,
    /// Where the reader is, if known (saves a seek per sequential read).
    position: Option<u64>,
    /// The bytes at `cache_start..cache_start + cache.len()`.
    cache: Vec<u8>,
    cache_start: u64,
}

impl<R: Read + Seek> Root<R> {
    /// The first `len` bytes of `reader`.
    pub(crate) fn new(reader: R, len: u64) -> Self {
        Root {
            len,
            state: RefCell::new(RootState {
                reader,
                position: None,
                cache: Vec::new(),
                cache_start: 0,
            }),
            failure: RefCell::new(None),
        }
    }
}

impl<R: Read + Seek> RootState<R> {
    /// Reads at most `buf.len()` bytes at `offset`, straight from the reader.
    fn read_direct(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if self.position != Some(offset) {
            self.position = None;
            self.reader.seek(SeekFrom::Start(offset))?;
        }
        let n = loop {
            match self.reader.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other?,
            }
        };
        self.position = Some(offset.saturating_add(n as u64));
        Ok(n)
    }

    /// Refills the cache with up to `want` bytes at `offset` (a short read is fine: it is what
    /// is there).
    fn fill_cache(&mut self, offset: u64, want: usize) -> io::Result<()> {
        let mut cache = std::mem::take(&mut self.cache);
        cache.resize(want, 0);
        self.cache_start = offset;
        let mut filled = 0;
        while filled < want {
            let at = offset.saturating_add(filled as u64);
            match self.read_direct(at, &mut cache[filled..]) {
                Ok(0) => break,
                Ok(n) => filled = filled.saturating_add(n),
                Err(e) => {
                    cache.clear();
                    self.cache = cache;
                    return Err(e);
                }
            }
        }
        cache.truncate(filled);
        self.cache = cache;
        Ok(())
    }
}

impl<R: Read + Seek> Source for Root<R> {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(offset);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let mut state = self.state.borrow_mut();
        let result = if want >= CACHE {
            state.read_direct(offset, &mut buf[..want])
        } else {
            let cached = offset
                .checked_sub(state.cache_start)
                .and_then(|skip| usize::try_from(skip).ok())
                .filter(|&skip| skip < state.cache.len());
            let skip = match cached {
                Some(skip) => Ok(skip),
                None => {
                    let block = usize::try_from(left).unwrap_or(usize::MAX).min(CACHE);
                    state.fill_cache(offset, block).map(|()| 0)
                }
            };
            skip.map(|skip| {
                let available = state.cache.get(skip..).unwrap_or_default();
                let n = available.len().min(want);
                buf[..n].copy_from_slice(&available[..n]);
                n
            })
        };
        result.map_err(|error| {
            // The first failure goes to the caller as it is; the content's readers only see
            // that a read failed.
            let seen = io::Error::new(error.kind(), error.to_string());
            let mut failure = self.failure.borrow_mut();
            if failure.is_none() {
                *failure = Some((offset, error));
            }
            seen
        })
    }

    fn is_root(&self) -> bool {
        true
    }

    fn take_failure(&self) -> Option<(u64, io::Error)> {
        self.failure.borrow_mut().take()
    }
}

/// Bytes held in memory: a zip nested in a layer that cannot seek.
pub(crate) struct Buffer(pub(crate) Vec<u8>);

impl Source for Buffer {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let bytes = usize::try_from(offset)
            .ok()
            .and_then(|start| self.0.get(start..))
            .unwrap_or_default();
        let n = bytes.len().min(buf.len());
        buf[..n].copy_from_slice(&bytes[..n]);
        Ok(n)
    }

    fn is_root(&self) -> bool {
        false
    }
}

/// `len` bytes of a source from `start`, read and seeked like a file of their own.
#[derive(Clone)]
pub(crate) struct Window<'s> {
    source: &'s dyn Source,
    start: u64,
    len: u64,
    position: u64,
}

impl<'s> Window<'s> {
    /// All of `source`.
    pub(crate) fn whole(source: &'s dyn Source) -> Self {
        Window {
            source,
            start: 0,
            len: source.len(),
            position: 0,
        }
    }

    /// The bytes `offset..offset + len` of this window, cut at its end; the second value says
    /// whether it was cut.
    pub(crate) fn sub(&self, offset: u64, len: u64) -> (Window<'s>, bool) {
        let offset = offset.min(self.len);
        let available = self.len.saturating_sub(offset);
        let window = Window {
            source: self.source,
            start: self.start.saturating_add(offset),
            len: len.min(available),
            position: 0,
        };
        (window, len > available)
    }

    /// The window's length.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Where the window starts in the root input, if its source is the root.
    pub(crate) fn origin(&self) -> Option<u64> {
        self.source.is_root().then_some(self.start)
    }

    /// Reads at `offset` within the window, without moving its position, until `buf` is full
    /// or the window ends; returns the bytes read.
    pub(crate) fn read_full_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            let at = offset.saturating_add(filled as u64);
            let left = self.len.saturating_sub(at);
            let want =
                (buf.len().saturating_sub(filled)).min(usize::try_from(left).unwrap_or(usize::MAX));
            if want == 0 {
                break;
            }
            let end = filled.saturating_add(want);
            match self
                .source
                .read_at(self.start.saturating_add(at), &mut buf[filled..end])?
            {
                0 => break,
                n => filled = filled.saturating_add(n),
            }
        }
        Ok(filled)
    }
}

impl Read for Window<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.position);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let at = self.start.saturating_add(self.position);
        let n = self.source.read_at(at, &mut buf[..want])?;
        self.position = self.position.saturating_add(n as u64);
        Ok(n)
    }
}

impl Seek for Window<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(at) => Some(at),
            SeekFrom::End(delta) => self.len.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        };
        let target = target.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the data",
            )
        })?;
        self.position = target;
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn windows_read_their_range_through_the_cache() {
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let root = Root::new(Cursor::new(bytes.clone()), bytes.len() as u64);
        let (mut window, cut) = Window::whole(&root).sub(70_000, 100_000);
        assert!(!cut);
        assert_eq!(window.origin(), Some(70_000));
        let mut got = Vec::new();
        let mut small = [0u8; 333];
        loop {
            let n = window.read(&mut small).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&small[..n]);
        }
        assert_eq!(got, bytes[70_000..170_000]);
        window.seek(SeekFrom::End(-10)).unwrap();
        let mut tail = Vec::new();
        window.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, bytes[169_990..170_000]);
        let (nested, cut) = window.sub(99_990, 20);
        assert!(cut);
        assert_eq!((nested.origin(), nested.len()), (Some(169_990), 10));
    }

    #[test]
    fn reads_stop_at_the_declared_length() {
        let root = Root::new(Cursor::new(vec![7u8; 100]), 60);
        let mut all = Vec::new();
        Window::whole(&root).read_to_end(&mut all).unwrap();
        assert_eq!(all.len(), 60);
    }
}
