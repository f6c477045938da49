//! The files a filesystem map lists for the file pass, kept compact: a filesystem may hold
//! tens of millions of files, and the list stays in memory for the whole scan.
//!
//! A listed file costs one record of 24 bytes: its size, number and state, and, for the
//! usual small file whose contents are one run of whole blocks (clusters) from its start,
//! that run. Other files' spans are kept apart, 16 bytes each for a span that lies in whole
//! blocks of the volume or reads as zeros (file offset, length and volume offset in units of
//! the filesystem's block), plus 8 bytes per such file to find its spans' file again. Spans
//! that do not fit that form (bytes held in metadata, compressed units, unaligned pieces) are
//! kept whole, and named streams' names too. Paths are not kept here: each map builds them
//! on demand from its names ([`Files`]).
//!
//! [`Files`] gives each file back as a [`FileEntry`], built when asked for.

use std::fmt;

use crate::content::{FileContent, Piece, Span};
use crate::filesystem::{FileEntry, FileState};

/// The record's number field: the file's number in the low bits, this bit set for a file
/// whose record is not in use ([`FileState::Deleted`])...
const DELETED: u32 = 1 << 31;
/// ...and this one for a file whose one span is in its record.
const ONLY: u32 = 1 << 30;
/// The file number's bits.
const NUMBER: u32 = ONLY - 1;
/// In a compact span's volume offset, this bit marks a span that reads as zeros.
const ZEROS: u64 = 1 << 63;

/// One listed file.
#[derive(Clone, Copy, Debug)]
struct Record {
    /// Its size in bytes.
    size: u64,
    /// With [`ONLY`]: the volume unit where its one span lies. Without: its first span in
    /// [`FileList::spans`].
    at: u64,
    /// Its number, with [`DELETED`] and [`ONLY`].
    id: u32,
    /// With [`ONLY`]: the units its one span (from the file's start) covers. Without: how
    /// many spans it has.
    count: u32,
}

/// A span of the list, as the map's claims name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SpanRef {
    /// The one span of file `0`, kept in its record.
    Only(u32),
    /// Span `0` of [`FileList::spans`].
    Kept(u32),
}

/// Where a file went in the list.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Listed {
    index: u32,
    /// Its first span in [`FileList::spans`]; `None` if its one span is in its record.
    first_span: Option<u32>,
}

impl Listed {
    /// The file's span `j` (in file order).
    pub(crate) fn span(self, j: u32) -> Option<SpanRef> {
        match self.first_span {
            None => (j == 0).then_some(SpanRef::Only(self.index)),
            Some(first) => first.checked_add(j).map(SpanRef::Kept),
        }
    }
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
    /// The files whose spans are in `spans`, as (first span, file index), sorted.
    spread: Vec<(u32, u32)>,
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
    pub(crate) fn push(
        &mut self,
        id: u64,
        state: FileState,
        content: FileContent,
        stream: Option<Box<str>>,
    ) -> Result<Listed, Refused> {
        let mut id = u32::try_from(id)
            .ok()
            .filter(|&id| id & !NUMBER == 0)
            .ok_or(Refused::Number)?;
        let index = u32::try_from(self.records.len())
            .ok()
            .filter(|&index| index & !NUMBER == 0)
            .ok_or(Refused::Full)?;
        if state == FileState::Deleted {
            id |= DELETED;
        }
        let only = match content.spans.as_slice() {
            [span] => self
                .pack(span)
                .filter(|p| p.start == 0 && p.at & ZEROS == 0),
            _ => None,
        };
        let listed = if let Some(packed) = only {
            self.records.push(Record {
                size: content.size,
                at: packed.at,
                id: id | ONLY,
                count: packed.len,
            });
            Listed {
                index,
                first_span: None,
            }
        } else {
            let first_span = u32::try_from(self.spans.len()).map_err(|_| Refused::Full)?;
            let count = u32::try_from(content.spans.len()).map_err(|_| Refused::Full)?;
            if first_span.checked_add(count).is_none() {
                return Err(Refused::Full);
            }
            for span in content.spans {
                let packed = match self.pack(&span) {
                    Some(packed) => packed,
                    None => {
                        let at = self.wide.len() as u64;
                        self.wide.push(span);
                        Packed {
                            start: 0,
                            len: 0,
                            at,
                        }
                    }
                };
                self.spans.push(packed);
            }
            self.spread.push((first_span, index));
            self.records.push(Record {
                size: content.size,
                at: u64::from(first_span),
                id,
                count,
            });
            Listed {
                index,
                first_span: Some(first_span),
            }
        };
        if let Some(name) = stream {
            self.streams.push((index, name));
        }
        Ok(listed)
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
            .map(|record| u64::from(record.id & NUMBER))
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
        let spans = if record.id & ONLY != 0 {
            vec![self.only_span(record)?]
        } else {
            let first = u32::try_from(record.at).ok()?;
            (0..record.count)
                .map(|j| self.span(first.checked_add(j)?))
                .collect::<Option<Vec<Span>>>()?
        };
        Some(FileContent {
            size: record.size,
            spans,
        })
    }

    /// The one span a record holds.
    fn only_span(&self, record: &Record) -> Option<Span> {
        Some(Span {
            start: 0,
            len: u64::from(record.count).checked_mul(self.unit)?,
            piece: Piece::Volume(record.at.checked_mul(self.unit)?),
        })
    }

    /// Span `k` of [`FileList::spans`].
    fn span(&self, k: u32) -> Option<Span> {
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

    /// The span `at` names, and the index of its file.
    pub(crate) fn span_at(&self, at: SpanRef) -> Option<(usize, Span)> {
        match at {
            SpanRef::Only(index) => {
                let index = usize::try_from(index).ok()?;
                let record = self.records.get(index)?;
                if record.id & ONLY == 0 {
                    return None;
                }
                Some((index, self.only_span(record)?))
            }
            SpanRef::Kept(k) => {
                let after = self.spread.partition_point(|&(first, _)| first <= k);
                let &(_, index) = self.spread.get(after.checked_sub(1)?)?;
                let index = usize::try_from(index).ok()?;
                let record = self.records.get(index)?;
                let first = u32::try_from(record.at).ok()?;
                if k.checked_sub(first)? >= record.count {
                    return None;
                }
                Some((index, self.span(k)?))
            }
        }
    }
}

/// How a filesystem map names its files: the path of a file (inode, MFT record) number.
pub(crate) trait PathOf: Sync {
    /// The absolute path of file `id`, as [`crate::FileLocation::path`] gives it.
    fn path_of(&self, id: u64) -> Option<String>;

    /// The number output gives file `id` of the list: `id` itself, unless the map lists its
    /// files under numbers of its own (XFS inode numbers have 64 bits, the list's 30).
    fn number(&self, id: u64) -> u64 {
        id
    }
}

/// How a map's file contents are translated as they are given out: a map built on a logical
/// volume lists them in the volume's offsets, the scan needs the disk's
/// ([`crate::logical`]).
pub(crate) trait Remap: Sync + fmt::Debug {
    /// `content` as the scan reads it.
    fn remap(&self, content: FileContent) -> FileContent;
}

/// A filesystem's files, as [`crate::Filesystem::files`] gives them: each built into a
/// [`FileEntry`] (its path included) when asked for.
#[derive(Clone, Copy)]
pub struct Files<'a> {
    list: &'a FileList,
    names: &'a dyn PathOf,
    remap: Option<&'a dyn Remap>,
}

impl fmt::Debug for Files<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.list.fmt(f)
    }
}

impl<'a> Files<'a> {
    /// The files of `list`, named by `names`.
    pub(crate) fn new(list: &'a FileList, names: &'a dyn PathOf) -> Files<'a> {
        Files {
            list,
            names,
            remap: None,
        }
    }

    /// The same files, their contents translated by `remap`.
    pub(crate) fn remapped(self, remap: &'a dyn Remap) -> Files<'a> {
        Files {
            remap: Some(remap),
            ..self
        }
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
            id: self.id(index)?,
            path: self.path(index),
            state: self.list.state(index)?,
            content: self.content(index)?,
        })
    }

    /// The number (inode, MFT record) of file `index`.
    pub fn id(&self, index: usize) -> Option<u64> {
        self.list.id(index).map(|id| self.names.number(id))
    }

    /// The size in bytes of file `index` (no path or contents built).
    pub fn size(&self, index: usize) -> Option<u64> {
        self.list.size(index)
    }

    /// The state of file `index`: `Allocated` for a file in use, `Deleted` for one whose
    /// record is not.
    pub fn state(&self, index: usize) -> Option<FileState> {
        self.list.state(index)
    }

    /// The logical contents of file `index` (what the file pass reads; no path built).
    pub fn content(&self, index: usize) -> Option<FileContent> {
        let content = self.list.content(index)?;
        Some(match self.remap {
            Some(remap) => remap.remap(content),
            None => content,
        })
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
            // One run from the start: kept in the record.
            FileContent::new(20, vec![span(0, 8192, Piece::Volume(4096 * 3))]),
        ];
        let states = [
            FileState::Allocated,
            FileState::Deleted,
            FileState::Allocated,
            FileState::Deleted,
        ];
        let streams = [None, None, Some("ads".into()), None];
        let mut listed = Vec::new();
        for (i, ((content, state), stream)) in contents.iter().zip(states).zip(streams).enumerate()
        {
            let id = [12, 9, 40, 41][i];
            listed.push(list.push(id, state, content.clone(), stream).unwrap());
        }
        let files = Files::new(&list, &Named);
        assert_eq!(files.len(), 4);
        let got: Vec<FileEntry> = files.iter().collect();
        assert_eq!(got[0].content, contents[0]);
        assert_eq!(got[0].path.as_deref(), Some("/f12"));
        assert_eq!(got[1].state, FileState::Deleted);
        assert_eq!(got[1].path, None);
        assert_eq!(got[2].content, contents[2]);
        assert_eq!(got[2].path.as_deref(), Some("/f40:ads"));
        assert_eq!(got[3].content, contents[3]);
        assert_eq!(got[3].state, FileState::Deleted);
        // Spans as claims name them: each gives its file and itself back.
        for (i, (listed, content)) in listed.iter().zip(&contents).enumerate() {
            for (j, span) in (0u32..).zip(&content.spans) {
                let at = listed.span(j).unwrap();
                assert_eq!(list.span_at(at), Some((i, span.clone())), "{i} {j}");
            }
        }
        assert_eq!(listed[3].span(0), Some(SpanRef::Only(3)));
        assert_eq!(listed[3].span(1), None);
        assert_eq!(
            list.span_at(SpanRef::Only(0)),
            None,
            "file 0's spans are kept apart"
        );
        assert_eq!(list.span_at(SpanRef::Kept(6)), None);
        assert!(files.get(4).is_none());
        // The record holds one span; of the others only the aligned volume span and the zeros
        // are compact.
        assert_eq!((list.spans.len(), list.wide.len()), (6, 4));
    }

    #[test]
    fn numbers_that_do_not_fit_are_refused() {
        let mut list = FileList::new(512);
        let empty = FileContent::default();
        for id in [1 << 30, 1 << 31, 1 << 40] {
            assert_eq!(
                list.push(id, FileState::Allocated, empty.clone(), None)
                    .err(),
                Some(Refused::Number)
            );
        }
        assert!(list.push(7, FileState::Deleted, empty, None).is_ok());
        assert_eq!(list.id(0), Some(7));
        assert_eq!(list.state(0), Some(FileState::Deleted));
    }
}
