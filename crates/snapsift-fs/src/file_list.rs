//! The files a filesystem map lists for the file pass, kept compact: a filesystem may hold
//! tens of millions of files, and the list stays in memory for the whole scan.
//!
//! A listed file costs 16 bytes plus 16 per span that lies in whole blocks (clusters) of the
//! volume or reads as zeros: its size, number, state and first span in one record; each
//! span's file offset, length and volume offset in units of the filesystem's block. Spans
//! that do not fit that form (bytes held in metadata, compressed units, unaligned pieces)
//! are kept whole beside it, and named streams' names too. Paths are not kept here: each
//! map builds them on demand from its names ([`Files`]).
//!
//! [`Files`] gives each file back as a [`FileEntry`], built when asked for.

use std::fmt;

use crate::content::{FileContent, Piece, Span};
use crate::filesystem::{FileEntry, FileState};

/// The record's number field: the file's number in the low bits, this bit set for a file
/// whose record is not in use ([`FileState::Deleted`]).
const DELETED: u32 = 1 << 31;
/// In a compact span's volume offset, this bit marks a span that reads as zeros.
const ZEROS: u64 = 1 << 63;

/// One listed file.
#[derive(Clone, Copy, Debug)]
struct Record {
    /// Its size in bytes.
    size: u64,
    /// Its number, with [`DELETED`].
    id: u32,
    /// Its first span in [`FileList::spans`]; its spans end where the next file's start.
    first_span: u32,
}

/// One span, compact: `len` units from unit `start` of the file, at unit `at` of the volume
/// (or zeros, with [`ZEROS`]). A `len` of 0 marks a span kept whole: `at` is then its
/// index in [`FileList::wide`].
#[derive(Clone, Copy, Debug)]
struct Packed {
    start: u32,
    len: u32,
    at: u64,
}

/// The files a filesystem lists, compact (see the module docs).
#[derive(Clone, Default)]
pub struct FileList {
    /// Bytes per unit of compact spans: the filesystem's block or cluster size.
    unit: u64,
    records: Vec<Record>,
    spans: Vec<Packed>,
    /// Spans kept whole.
    wide: Vec<Span>,
    /// Named streams' names, as (file index, name), sorted by file index.
    streams: Vec<(u32, Box<str>)>,
}

impl fmt::Debug for FileList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileList")
            .field("files", &self.records.len())
            .field("spans", &self.spans.len())
            .field("wide", &self.wide.len())
            .finish()
    }
}

/// Why a file could not be listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Its number does not fit the list's records.
    Number,
    /// The list holds as many files or spans as its indexes can count.
    Full,
}

impl FileList {
    /// An empty list whose compact spans count in units of `unit` bytes.
    pub(crate) fn new(unit: u64) -> FileList {
        FileList {
            unit: unit.max(1),
            ..FileList::default()
        }
    }

    /// Lists file `id` with `content` and `state` (`Deleted` for a record not in use, any
    /// other state for one in use), and the name of the stream it is, for a named stream.
    /// Returns the index of the first of its spans in the list (see [`FileList::span`]).
    pub(crate) fn push(
        &mut self,
        id: u64,
        state: FileState,
        content: FileContent,
        stream: Option<Box<str>>,
    ) -> Result<u32, Refused> {
        let id = u32::try_from(id)
            .ok()
            .filter(|&id| id & DELETED == 0)
            .ok_or(Refused::Number)?;
        let index = u32::try_from(self.records.len()).map_err(|_| Refused::Full)?;
        let first_span = u32::try_from(self.spans.len()).map_err(|_| Refused::Full)?;
        let span_count = u32::try_from(content.spans.len()).map_err(|_| Refused::Full)?;
        if first_span.checked_add(span_count).is_none() {
            return Err(Refused::Full);
        }
        for span in content.spans {
            let packed = match self.pack(&span) {
                Some(packed) => packed,
                None => {
                    let at = self.wide.len() as u64;
                    self.wide.push(span);
                    Packed { start: 0, len: 0, at }
                }
            };
            self.spans.push(packed);
        }
        let deleted = if state == FileState::Deleted {
            DELETED
        } else {
            0
        };
        self.records.push(Record {
            size: content.size,
            id: id | deleted,
            first_span,
        });
        if let Some(name) = stream {
            self.streams.push((index, name));
        }
        Ok(first_span)
    }

    /// `span` in compact form, if it has one.
    fn pack(&self, span: &Span) -> Option<Packed> {
        let units = |bytes: u64| {
            (bytes.checked_rem(self.unit) == Some(0))
                .then(|| bytes.checked_div(self.unit))
                .flatten()
        };
        let start = u32::try_from(units(span.start)?).ok()?;
        let len = u32::try_from(units(span.len)?)
            .ok()
            .filter(|&len| len > 0)?;
        let at = match span.piece {
            Piece::Volume(at) => units(at).filter(|&at| at & ZEROS == 0)?,
            Piece::Zeros => ZEROS,
            _ => return None,
        };
        Some(Packed { start, len, at })
    }

    /// How many files are listed.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no file is listed.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The number (inode, MFT record) of file `index`.
    pub fn id(&self, index: usize) -> Option<u64> {
        self.records
            .get(index)
            .map(|record| u64::from(record.id & !DELETED))
    }

    /// The state of file `index`: `Allocated` for a file in use, `Deleted` for one whose
    /// record is not.
    pub fn state(&self, index: usize) -> Option<FileState> {
        self.records.get(index).map(|record| {
            if record.id & DELETED != 0 {
                FileState::Deleted
            } else {
                FileState::Allocated
            }
        })
    }

    /// The size of file `index`.
    pub fn size(&self, index: usize) -> Option<u64> {
        self.records.get(index).map(|record| record.size)
    }

    /// The name of the stream file `index` is, for a named stream.
    pub fn stream(&self, index: usize) -> Option<&str> {
        let index = u32::try_from(index).ok()?;
        let at = self.streams.binary_search_by_key(&index, |s| s.0).ok()?;
        self.streams.get(at).map(|(_, name)| &**name)
    }

    /// The logical contents of file `index`.
    pub fn content(&self, index: usize) -> Option<FileContent> {
        let record = self.records.get(index)?;
        let spans = self.span_range(index)?;
        let spans = spans.map(|k| self.span(k)).collect::<Option<Vec<Span>>>()?;
        Some(FileContent {
            size: record.size,
            spans,
        })
    }

    /// The indexes of file `index`'s spans.
    fn span_range(&self, index: usize) -> Option<std::ops::Range<u32>> {
        let first = self.records.get(index)?.first_span;
        let end = match self.records.get(index.checked_add(1)?) {
            Some(next) => next.first_span,
            None => u32::try_from(self.spans.len()).ok()?,
        };
        Some(first..end)
    }

    /// Span `k` of the whole list (files' spans follow each other in file order).
    pub(crate) fn span(&self, k: u32) -> Option<Span> {
        let packed = self.spans.get(usize::try_from(k).ok()?)?;
        if packed.len == 0 {
            return self.wide.get(usize::try_from(packed.at).ok()?).cloned();
        }
        let bytes = |units: u64| units.checked_mul(self.unit);
        let piece = if packed.at & ZEROS != 0 {
            Piece::Zeros
        } else {
            Piece::Volume(bytes(packed.at)?)
        };
        Some(Span {
            start: bytes(u64::from(packed.start))?,
            len: bytes(u64::from(packed.len))?,
            piece,
        })
    }

    /// The file whose spans include span `k`.
    pub(crate) fn file_of_span(&self, k: u32) -> Option<usize> {
        let after = self.records.partition_point(|r| r.first_span <= k);
        let index = after.checked_sub(1)?;
        self.span_range(index)?.contains(&k).then_some(index)
    }
}

/// How a filesystem map names its files: the path of a file (inode, MFT record) number.
pub(crate) trait PathOf: Sync {
    /// The absolute path of file `id`, as [`crate::FileLocation::path`] gives it.
    fn path_of(&self, id: u64) -> Option<String>;
}

/// A filesystem's files, as [`crate::Filesystem::files`] gives them: each built into a
/// [`FileEntry`] (its path included) when asked for.
#[derive(Clone, Copy)]
pub struct Files<'a> {
    list: &'a FileList,
    names: &'a dyn PathOf,
}

impl fmt::Debug for Files<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.list.fmt(f)
    }
}

impl<'a> Files<'a> {
    /// The files of `list`, named by `names`.
    pub(crate) fn new(list: &'a FileList, names: &'a dyn PathOf) -> Files<'a> {
        Files { list, names }
    }

    /// How many files are listed.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether no file is listed.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// File `index`, path and contents built.
    pub fn get(&self, index: usize) -> Option<FileEntry> {
        Some(FileEntry {
            id: self.list.id(index)?,
            path: self.path(index),
            state: self.list.state(index)?,
            content: self.list.content(index)?,
        })
    }

    /// The number (inode, MFT record) of file `index`.
    pub fn id(&self, index: usize) -> Option<u64> {
        self.list.id(index)
    }

    /// The logical contents of file `index` (what the file pass reads; no path built).
    pub fn content(&self, index: usize) -> Option<FileContent> {
        self.list.content(index)
    }

    /// The path of file `index`, as [`FileEntry::path`] gives it: the path of its number,
    /// `path:stream` for a named stream (none if its record has no path).
    pub fn path(&self, index: usize) -> Option<String> {
        let path = self.names.path_of(self.list.id(index)?)?;
        Some(match self.list.stream(index) {
            Some(stream) => format!("{path}:{stream}"),
            None => path,
        })
    }

    /// Every file, in list order.
    pub fn iter(&self) -> impl Iterator<Item = FileEntry> + 'a {
        let files = *self;
        (0..files.len()).filter_map(move |index| files.get(index))
    }
}

impl<'a> IntoIterator for Files<'a> {
    type Item = FileEntry;
    type IntoIter = Box<dyn Iterator<Item = FileEntry> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    struct Named;

    impl PathOf for Named {
        fn path_of(&self, id: u64) -> Option<String> {
            (id != 9).then(|| format!("/f{id}"))
        }
    }

    fn span(start: u64, len: u64, piece: Piece) -> Span {
        Span { start, len, piece }
    }

    #[test]
    fn files_come_back_as_listed() {
        let mut list = FileList::new(4096);
        let contents = [
            FileContent::new(
                10_000,
                vec![
                    span(0, 8192, Piece::Volume(4096 * 7)),
                    span(8192, 4096, Piece::Zeros),
                ],
            ),
            FileContent::new(0, Vec::new()),
            // Held bytes, an unaligned piece, a compressed unit: kept whole.
            FileContent::new(
                9000,
                vec![
                    span(
                        0,
                        4,
                        Piece::Held {
                            bytes: Arc::from(&b"abcd"[..]),
                            at: Some(12),
                        },
                    ),
                    span(4096, 100, Piece::Volume(5)),
                    span(
                        8192,
                        500,
                        Piece::Lznt1 {
                            runs: vec![(0, 10)],
                            skip: 3,
                        },
                    ),
                    span(8692, 4096, Piece::Volume(1 << 62)),
                ],
            ),
        ];
        let states = [
            FileState::Allocated,
            FileState::Deleted,
            FileState::Allocated,
        ];
        let streams = [None, None, Some("ads".into())];
        for (i, ((content, state), stream)) in contents.iter().zip(states).zip(streams).enumerate()
        {
            let id = [12, 9, 40][i];
            list.push(id, state, content.clone(), stream).unwrap();
        }
        let files = Files::new(&list, &Named);
        assert_eq!(files.len(), 3);
        let got: Vec<FileEntry> = files.iter().collect();
        assert_eq!(got[0].content, contents[0]);
        assert_eq!(got[0].path.as_deref(), Some("/f12"));
        assert_eq!(got[1].state, FileState::Deleted);
        assert_eq!(got[1].path, None);
        assert_eq!(got[2].content, contents[2]);
        assert_eq!(got[2].path.as_deref(), Some("/f40:ads"));
        assert_eq!(list.file_of_span(1), Some(0));
        assert_eq!(list.file_of_span(2), Some(2));
        assert_eq!(list.file_of_span(6), None);
        assert!(files.get(3).is_none());
        // Only the aligned volume span and the zeros are compact.
        assert_eq!(list.wide.len(), 4);
    }

    #[test]
    fn numbers_that_do_not_fit_are_refused() {
        let mut list = FileList::new(512);
        let empty = FileContent::default();
        assert_eq!(
            list.push(1 << 31, FileState::Allocated, empty.clone(), None),
            Err(Refused::Number)
        );
        assert_eq!(
            list.push(1 << 40, FileState::Allocated, empty.clone(), None),
            Err(Refused::Number)
        );
        assert_eq!(list.push(7, FileState::Deleted, empty, None), Ok(0));
        assert_eq!(list.id(0), Some(7));
        assert_eq!(list.state(0), Some(FileState::Deleted));
    }
}
