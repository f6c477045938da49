//! zip archives (and jar, war, ear, apk): the central directory, then each member, stored
//! members read in place and deflated ones decoded as they are read.

mod directory;

use std::io::{self, Read};

use ::zip::{CompressionMethod, ZipArchive};

use crate::budget::Metered;
use crate::fuse::Fused;
use crate::source::{Buffer, Window};
use crate::walk::{Body, Fatal, Input, Walker};
use crate::{Kind, Layer, LeafEncoding, Problem, Visitor};

/// A zip read in place.
type Archive<'a> = ZipArchive<Window<'a>>;

/// What the directory says about one member.
struct Member {
    name: String,
    skip: bool,
    encrypted: bool,
    method: CompressionMethod,
    compressed_size: u64,
    size: u64,
    crc32: u32,
}

impl<V: Visitor + ?Sized> Walker<'_, V> {
    /// Walks the members of a zip archive. One that cannot seek is held in memory first (its
    /// directory is at its end), within [`crate::Limits::max_buffered`].
    pub(crate) fn zip(&mut self, input: Input<'_>) -> Result<(), Fatal<V>> {
        let (mut reader, len) = match input {
            Input::Ranged(window) => return self.zip_archive(window),
            Input::Stream(reader, len) => (reader, len),
        };
        let reserved = self.budget.reserve_buffer();
        let held = read_at_most(&mut reader, reserved);
        // Streams do not fail (see `Body::Stream`); were one to, what was read is kept.
        let held = held.unwrap_or_else(|(held, _)| held);
        let held_len = held.len() as u64;
        self.budget.release(reserved.saturating_sub(held_len));
        if let Err(fatal) = self.check_root() {
            self.budget.release(held_len);
            return Err(fatal);
        }
        // A zip that filled all the room it was given may go on: it is too big to hold.
        let result = if held_len == reserved {
            let mut raw = io::Cursor::new(held).chain(reader);
            self.leaf(&mut raw, None, len, LeafEncoding::Bytes, None)
                .and_then(|()| {
                    let max_buffered = self.limits.max_buffered;
                    self.within(Layer::archive(Kind::Zip), |walker| {
                        walker.problem(Problem::TooBigToBuffer { max_buffered })
                    })
                })
        } else {
            let buffer = Buffer(held);
            self.zip_archive(Window::whole(&buffer))
        };
        self.budget.release(held_len);
        result
    }

    /// Walks the members of a zip read in place.
    fn zip_archive(&mut self, window: Window<'_>) -> Result<(), Fatal<V>> {
        let max_entries = self.limits.max_entries;
        let declared = directory::declared_entries(&window);
        self.check_root()?;
        if let Ok(Some(declared)) = declared
            && declared > max_entries
        {
            self.leaf_input(Input::Ranged(window), LeafEncoding::Bytes)?;
            return self.zip_problem(Problem::TooManyEntries {
                kind: Kind::Zip,
                max_entries,
                visited: 0,
            });
        }
        let archive = ZipArchive::new(window.clone());
        self.check_root()?;
        let mut archive = match archive {
            Ok(archive) => archive,
            Err(error) => {
                // Stored members are still in there, readable as they are.
                self.leaf_input(Input::Ranged(window), LeafEncoding::Bytes)?;
                return self.zip_problem(Problem::Corrupt {
                    kind: Kind::Zip,
                    detail: format!(
                        "cannot read its directory ({error}); its bytes are scanned as they are"
                    ),
                });
            }
        };
        let entries = u64::try_from(archive.len()).unwrap_or(u64::MAX);
        for index in 0..archive.len() {
            if self.budget.stopped() {
                return Ok(());
            }
            if index as u64 >= max_entries {
                return self.zip_problem(Problem::TooManyEntries {
                    kind: Kind::Zip,
                    max_entries,
                    visited: max_entries,
                });
            }
            self.zip_member(&mut archive, index, &window)?;
        }
        if archive.has_duplicate_names() {
            self.zip_problem(Problem::Corrupt {
                kind: Kind::Zip,
                detail: format!(
                    "its directory names some members more than once; only {entries} of its \
                     entries, one per name, were read"
                ),
            })?;
        }
        Ok(())
    }

    /// Walks member `index` of `archive`, a zip read in place from `window`.
    fn zip_member(
        &mut self,
        archive: &mut Archive<'_>,
        index: usize,
        window: &Window<'_>,
    ) -> Result<(), Fatal<V>> {
        let member = match archive.by_index_data(index) {
            Ok(entry) => Member {
                name: entry
                    .name()
                    .map(|name| name.into_owned())
                    .unwrap_or_else(|_| String::from_utf8_lossy(entry.name_raw()).into_owned()),
                skip: entry.is_dir() || entry.is_symlink(),
                encrypted: entry.encrypted(),
                method: entry.compression(),
                compressed_size: entry.compressed_size(),
                size: entry.size(),
                crc32: entry.crc32(),
            },
            Err(error) => {
                return self.zip_problem(Problem::Corrupt {
                    kind: Kind::Zip,
                    detail: format!("directory entry {index}: {error}"),
                });
            }
        };
        if member.skip {
            return Ok(());
        }
        let layer = Layer {
            kind: Kind::Zip,
            member: Some(member.name.clone()),
        };
        self.within(layer, |walker| {
            if member.encrypted {
                return walker.problem(Problem::Encrypted);
            }
            match member.method {
                CompressionMethod::Stored => walker.stored(archive, index, window, &member),
                CompressionMethod::Deflated => walker.deflated(archive, index, &member),
                other => {
                    // The number is what the report needs, for any method; the constants the
                    // crate suggests instead only name the methods it was built to decode.
                    #[allow(deprecated)]
                    let method = other.to_u16();
                    walker.problem(Problem::UnsupportedMethod {
                        method,
                        name: CompressionMethod::name_from_u16(method),
                    })
                }
            }
        })
    }

    /// A stored member: a window on the zip's own bytes.
    fn stored(
        &mut self,
        archive: &mut Archive<'_>,
        index: usize,
        window: &Window<'_>,
        member: &Member,
    ) -> Result<(), Fatal<V>> {
        // Where the data starts is in the member's local header, which this reads.
        let data_start = archive.by_index_raw(index).map(|file| file.data_start());
        self.check_root()?;
        let data_start = match data_start {
            Ok(Some(data_start)) => data_start,
            Ok(None) => return self.member_corrupt("its local header cannot be read".into()),
            Err(error) => return self.member_corrupt(error.to_string()),
        };
        let (content, _) = window.sub(data_start, member.compressed_size);
        let present = content.len();
        self.node(Body::Ranged {
            window: content,
            crc32: Some(member.crc32),
        })?;
        if present < member.compressed_size {
            return self.problem(Problem::Truncated {
                kind: Kind::Zip,
                declared: member.compressed_size,
                present,
            });
        }
        Ok(())
    }

    /// A deflated member: decoded as it is read, within the input's expansion budget.
    fn deflated(
        &mut self,
        archive: &mut Archive<'_>,
        index: usize,
        member: &Member,
    ) -> Result<(), Fatal<V>> {
        let file = archive.by_index(index);
        self.check_root()?;
        let file = match file {
            Ok(file) => file,
            Err(error) => return self.member_corrupt(error.to_string()),
        };
        // The zip crate checks the CRC-32 at the end and fails the last read if it is wrong.
        let mut output = Fused::new(Metered::new(file, self.budget), self.faults);
        self.node(Body::Stream {
            reader: &mut output,
            len: Some(member.size),
        })?;
        self.fault(Kind::Zip, output.finish())
    }

    /// Reports the current member as corrupt.
    fn member_corrupt(&mut self, detail: String) -> Result<(), Fatal<V>> {
        self.problem(Problem::Corrupt {
            kind: Kind::Zip,
            detail,
        })
    }

    /// Reports a problem with the zip as a whole.
    fn zip_problem(&mut self, problem: Problem) -> Result<(), Fatal<V>> {
        self.within(Layer::archive(Kind::Zip), |walker| walker.problem(problem))
    }
}

/// The most [`read_at_most`] allocates before it has read anything: the default
/// [`crate::Limits::max_buffered`] and its extra byte.
const UP_FRONT: usize = (64 << 20) + 1;

/// Reads `reader` into memory, `limit` bytes at most. Memory grows with what is read, never
/// past `limit`. On an error, what was read comes back with it.
fn read_at_most(reader: &mut dyn Read, limit: u64) -> Result<Vec<u8>, (Vec<u8>, io::Error)> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    // Room for the whole limit at once (up to 64 MiB; only the pages written count): an
    // allocation this large is mapped apart and given back to the system when freed. Grown by
    // doubling instead, its blocks stayed in the allocator's arena of each thread that freed
    // one (glibc raises its mapping threshold to what was freed), and a file pass on three
    // threads ended up holding three times the pool.
    let mut held = Vec::with_capacity(limit.min(UP_FRONT));
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let left = limit.saturating_sub(held.len());
        if left == 0 {
            return Ok(held);
        }
        let want = chunk.len().min(left);
        let n = match reader.read(&mut chunk[..want]) {
            Ok(0) => return Ok(held),
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err((held, error)),
        };
        if held.capacity().saturating_sub(held.len()) < n {
            // Doubling, but never past the limit.
            let grow = held.capacity().max(n).min(left);
            held.reserve_exact(grow);
        }
        held.extend_from_slice(&chunk[..n]);
    }
}
