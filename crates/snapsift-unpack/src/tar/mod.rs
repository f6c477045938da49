//! tar archives: members walked in order, read in place when the archive itself is.
//!
//! The headers are parsed here rather than by the `tar` crate, which reads GNU long names and
//! pax records whole into memory whatever size they declare (a hostile archive could make it
//! allocate as much as its own size), and whose raw mode, which avoids that, drops the pax size
//! that overrides the header's.

pub(crate) mod header;

use std::cell::Cell;
use std::io::{self, Read};

use crate::budget::Counted;
use crate::peek::Peeked;
use crate::source::Window;
use crate::walk::{Body, Fatal, Input, Walker, describe};
use crate::{Kind, Layer, Problem, Visitor};

use header::{BLOCK, Entry, Header, Pax};

/// The largest GNU long name or pax record set held in memory; a larger one is skipped, and
/// the next member keeps the name in its own header.
const MAX_RECORD: u64 = 1 << 20;

/// Where the archive is read from.
enum Archive<'a> {
    /// In place: members are windows on the same source.
    Ranged { window: Window<'a>, position: u64 },
    /// As a stream: members are read through it, and skipped by reading.
    Stream { reader: Peeked<'a>, position: u64 },
}

impl Archive<'_> {
    /// Offset in the archive of the next byte.
    fn position(&self) -> u64 {
        match self {
            Archive::Ranged { position, .. } | Archive::Stream { position, .. } => *position,
        }
    }

    /// Reads until `buf` is full or the archive ends; returns the bytes read.
    fn read_full(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self {
            Archive::Ranged { window, position } => window.read_full_at(*position, buf)?,
            Archive::Stream { reader, .. } => {
                let mut filled = 0;
                while filled < buf.len() {
                    match reader.read(&mut buf[filled..])? {
                        0 => break,
                        n => filled = filled.saturating_add(n),
                    }
                }
                filled
            }
        };
        self.advance(n as u64);
        Ok(n)
    }

    /// Skips `n` bytes; returns how many there were.
    fn skip(&mut self, n: u64) -> io::Result<u64> {
        let skipped = match self {
            Archive::Ranged { window, position } => n.min(window.len().saturating_sub(*position)),
            Archive::Stream { reader, .. } => io::copy(&mut reader.take(n), &mut io::sink())?,
        };
        self.advance(skipped);
        Ok(skipped)
    }

    fn advance(&mut self, n: u64) {
        match self {
            Archive::Ranged { position, .. } | Archive::Stream { position, .. } => {
                *position = position.saturating_add(n);
            }
        }
    }
}

/// Records read for the next header.
#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    pax: Pax,
}

/// Whether the walk of the archive goes on after a member.
enum Next {
    Continue,
    Stop,
}

/// A long-name or pax record, read.
enum Record {
    /// Its bytes.
    Kept(Vec<u8>),
    /// Too large to keep (reported); the walk goes on.
    Skipped,
    /// The archive ends (reported).
    End,
}

impl<V: Visitor + ?Sized> Walker<'_, V> {
    /// Walks the members of a tar archive.
    pub(crate) fn tar(&mut self, input: Input<'_>) -> Result<(), Fatal<V>> {
        let mut archive = match input {
            Input::Ranged(window) => Archive::Ranged {
                window,
                position: 0,
            },
            Input::Stream(reader, _) => Archive::Stream {
                reader,
                position: 0,
            },
        };
        let mut pending = Pending::default();
        let mut entries = 0u64;
        loop {
            if self.budget.stopped() {
                return Ok(());
            }
            let at = archive.position();
            let mut block = [0u8; BLOCK];
            let Some(got) = self.read_or_stop(archive.read_full(&mut block))? else {
                return Ok(());
            };
            if got == 0 {
                // The end of the data without an end-of-archive block: some writers stop there.
                if pending.long_name.is_some() || pending.pax != Pax::default() {
                    return self.archive_truncated(format!(
                        "after a long-name or pax record, at offset {at}"
                    ));
                }
                return Ok(());
            }
            if got < BLOCK {
                return self.archive_truncated(format!("inside the header at offset {at}"));
            }
            let header = Header::new(&block);
            if header.is_zero() {
                return Ok(());
            }
            if !header.checksum_ok() {
                return self.archive_problem(format!(
                    "the header at offset {at} has a wrong checksum; the rest of the archive is \
                     not read"
                ));
            }
            let entry = header.entry();
            let extension = matches!(entry, Entry::LongName | Entry::Pax);
            // A pax size is for the member the records describe, not for another record.
            let pax_size = pending.pax.size.filter(|_| !extension);
            let Some(size) = pax_size.or_else(|| header.size()) else {
                return self.archive_problem(format!(
                    "the header at offset {at} has an unreadable size; the rest of the archive \
                     is not read"
                ));
            };
            if extension {
                match self.record(&mut archive, at, size)? {
                    Record::Kept(record) if entry == Entry::LongName => {
                        let end = record.iter().position(|&b| b == 0).unwrap_or(record.len());
                        pending.long_name = Some(record[..end].to_vec());
                    }
                    Record::Kept(record) => pending.pax = Pax::parse(&record),
                    Record::Skipped => {}
                    Record::End => return Ok(()),
                }
                continue;
            }
            let Pending { long_name, pax } = std::mem::take(&mut pending);
            if entries >= self.limits.max_entries {
                let max_entries = self.limits.max_entries;
                return self.within(Layer::archive(Kind::Tar), |walker| {
                    walker.problem(Problem::TooManyEntries {
                        kind: Kind::Tar,
                        max_entries,
                        visited: max_entries,
                    })
                });
            }
            entries = entries.saturating_add(1);
            if header.has_sparse_extension() {
                // The sparse map goes on in blocks before the data; the data is the file's
                // non-hole parts, back to back, which is what is worth scanning.
                loop {
                    let mut extension = [0u8; BLOCK];
                    let Some(got) = self.read_or_stop(archive.read_full(&mut extension))? else {
                        return Ok(());
                    };
                    if got < BLOCK {
                        return self.archive_truncated(format!(
                            "in the sparse map of the member at offset {at}"
                        ));
                    }
                    if !header::sparse_extension_continues(&extension) {
                        break;
                    }
                }
            }
            let next = if entry == Entry::File {
                let path = pax.path.or(long_name).unwrap_or_else(|| header.path());
                let member = Layer {
                    kind: Kind::Tar,
                    member: Some(String::from_utf8_lossy(&path).into_owned()),
                };
                self.within(member, |walker| walker.tar_member(&mut archive, size))?
            } else {
                self.skip_data(&mut archive, size)?
            };
            if let Next::Stop = next {
                return Ok(());
            }
        }
    }

    /// Walks one member's `size` bytes of content and moves past them and their padding.
    fn tar_member(&mut self, archive: &mut Archive<'_>, size: u64) -> Result<Next, Fatal<V>> {
        let present = match archive {
            Archive::Ranged { window, position } => {
                let (member, _) = window.sub(*position, size);
                let present = member.len();
                self.node(Body::Ranged {
                    window: member,
                    crc32: None,
                })?;
                present
            }
            Archive::Stream { reader, .. } => {
                let count = Cell::new(0);
                let mut member = Counted::new(reader.take(size), &count);
                self.node(Body::Stream {
                    reader: &mut member,
                    len: Some(size),
                })?;
                // What the visitor left unread is skipped to reach the next header.
                self.read_or_stop(io::copy(&mut member, &mut io::sink()))?;
                let read = count.get();
                archive.advance(read);
                read
            }
        };
        if present < size {
            // An enclosing layer's failure, or the expansion limit, explains it already.
            if !self.faults.any_open() {
                self.problem(Problem::Truncated {
                    kind: Kind::Tar,
                    declared: size,
                    present,
                })?;
            }
            return Ok(Next::Stop);
        }
        if let Archive::Ranged { .. } = archive {
            archive.advance(size);
        }
        self.skip_padding(archive, size)
    }

    /// Skips the data of an entry that is not walked, and its padding.
    fn skip_data(&mut self, archive: &mut Archive<'_>, size: u64) -> Result<Next, Fatal<V>> {
        let Some(skipped) = self.read_or_stop(archive.skip(size))? else {
            return Ok(Next::Stop);
        };
        if skipped < size {
            self.archive_truncated(format!(
                "in an entry of {size} bytes, {skipped} of which are present"
            ))?;
            return Ok(Next::Stop);
        }
        self.skip_padding(archive, size)
    }

    /// Skips the padding after `size` bytes of data to the next block. Padding cut short is
    /// the end of the archive, not a problem.
    fn skip_padding(&mut self, archive: &mut Archive<'_>, size: u64) -> Result<Next, Fatal<V>> {
        let padding = (BLOCK as u64)
            .saturating_sub(size.checked_rem(BLOCK as u64).unwrap_or(0))
            .checked_rem(BLOCK as u64)
            .unwrap_or(0);
        Ok(match self.read_or_stop(archive.skip(padding))? {
            Some(_) => Next::Continue,
            None => Next::Stop,
        })
    }

    /// Reads a long-name or pax record of `size` bytes, and its padding.
    fn record(
        &mut self,
        archive: &mut Archive<'_>,
        at: u64,
        size: u64,
    ) -> Result<Record, Fatal<V>> {
        if size > MAX_RECORD {
            self.archive_problem(format!(
                "the {size}-byte name record at offset {at} is larger than {MAX_RECORD} bytes; \
                 skipped"
            ))?;
            return Ok(match self.skip_data(archive, size)? {
                Next::Continue => Record::Skipped,
                Next::Stop => Record::End,
            });
        }
        // At most MAX_RECORD, so it fits.
        let mut record = vec![0u8; usize::try_from(size).unwrap_or(0)];
        let Some(got) = self.read_or_stop(archive.read_full(&mut record))? else {
            return Ok(Record::End);
        };
        if (got as u64) < size {
            self.archive_truncated(format!("in the name record at offset {at}"))?;
            return Ok(Record::End);
        }
        Ok(match self.skip_padding(archive, size)? {
            Next::Continue => Record::Kept(record),
            Next::Stop => Record::End,
        })
    }

    /// The value of a read of the archive; a failure ends the archive (reported unless it is
    /// the root's, which is fatal).
    fn read_or_stop<T>(&mut self, result: io::Result<T>) -> Result<Option<T>, Fatal<V>> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(error) => {
                self.check_root()?;
                self.archive_problem(describe(&error))?;
                Ok(None)
            }
        }
    }

    /// Reports that the archive's data ends early at `place`, unless an enclosing layer's
    /// failure (already reported) explains it.
    fn archive_truncated(&mut self, place: String) -> Result<(), Fatal<V>> {
        if self.faults.any_open() {
            return Ok(());
        }
        self.archive_problem(format!("the data ends early (truncated) {place}"))
    }

    /// Reports a problem with the archive as a whole.
    fn archive_problem(&mut self, detail: String) -> Result<(), Fatal<V>> {
        self.within(Layer::archive(Kind::Tar), |walker| {
            walker.problem(Problem::Corrupt {
                kind: Kind::Tar,
                detail,
            })
        })
    }
}
