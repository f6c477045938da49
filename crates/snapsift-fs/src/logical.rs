//! Filesystems on LVM2 logical volumes: a map built on the volume as it reads
//! ([`crate::LogicalDisk`]), its offsets translated to the disk's.
//!
//! The scan knows a volume by where it starts on the disk and takes every offset a map gives
//! as relative to that start. A logical volume's bytes are not one run of the disk, so
//! [`OnExtents`] gives the scan the disk's view: offsets relative to the start of the
//! volume's [`Volume::range`](crate::Volume::range) (its first extent), a file's spans cut
//! where its bytes stop being contiguous on the disk (a stripe chunk's or an extent's end:
//! seams, as between two extents of a fragmented file), and runs that never leave one chunk.

use std::sync::Arc;

use crate::content::{FileContent, Piece, Span};
use crate::file_list::{Files, Remap};
use crate::filesystem::{FileLocation, FileState, Filesystem};
use crate::volume::LogicalVolume;

/// A filesystem map of a logical volume, seen from the disk (see the module docs).
#[derive(Debug)]
pub struct OnExtents {
    inner: Box<dyn Filesystem>,
    translate: Translate,
}

/// Volume offsets to offsets from `base` on the disk.
#[derive(Debug)]
struct Translate {
    logical: Arc<LogicalVolume>,
    base: u64,
}

impl OnExtents {
    /// `inner`, a map built on `logical` as it reads, seen from the disk: offsets relative
    /// to disk offset `base` (the start of the volume's range).
    pub fn new(inner: Box<dyn Filesystem>, logical: Arc<LogicalVolume>, base: u64) -> OnExtents {
        OnExtents {
            inner,
            translate: Translate { logical, base },
        }
    }
}

impl Translate {
    /// The pieces of the disk, relative to `base`, holding volume bytes `start..start + len`.
    fn pieces(&self, start: u64, len: u64) -> Vec<(u64, u64)> {
        self.logical
            .extents
            .pieces(start..start.saturating_add(len))
            .into_iter()
            .map(|p| {
                (
                    p.start.saturating_sub(self.base),
                    p.end.saturating_sub(p.start),
                )
            })
            .collect()
    }
}

impl Remap for Translate {
    fn remap(&self, content: FileContent) -> FileContent {
        let mut spans = Vec::with_capacity(content.spans.len());
        for span in content.spans {
            match span.piece {
                Piece::Volume(at) => {
                    // Bytes past the volume's end hold nothing: left out, they read as zeros.
                    let mut start = span.start;
                    for (disk, len) in self.pieces(at, span.len) {
                        spans.push(Span {
                            start,
                            len,
                            piece: Piece::Volume(disk),
                        });
                        start = start.saturating_add(len);
                    }
                }
                Piece::Held { bytes, at } => {
                    let at = at.and_then(|at| match self.pieces(at, span.len).as_slice() {
                        [(disk, len)] if *len == span.len => Some(*disk),
                        _ => None,
                    });
                    spans.push(Span {
                        piece: Piece::Held { bytes, at },
                        ..span
                    });
                }
                Piece::Lznt1 { runs, skip } => {
                    let runs = runs
                        .iter()
                        .flat_map(|&(at, len)| self.pieces(at, len))
                        .collect();
                    spans.push(Span {
                        piece: Piece::Lznt1 { runs, skip },
                        ..span
                    });
                }
                piece => spans.push(Span { piece, ..span }),
            }
        }
        FileContent {
            size: content.size,
            spans,
        }
    }
}

impl Filesystem for OnExtents {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn id_name(&self) -> &'static str {
        self.inner.id_name()
    }

    /// What the byte at `offset` (from the start of the volume's range) is. A byte between
    /// the volume's extents is not the volume's: `unallocated`, a run of one byte.
    fn locate(&self, offset: u64) -> FileLocation {
        let base = self.translate.base;
        let disk = base.saturating_add(offset);
        let Some((at, chunk)) = self.translate.logical.extents.to_volume(disk) else {
            return FileLocation {
                state: FileState::Unallocated,
                inode: None,
                path: None,
                run: offset..offset.saturating_add(1),
            };
        };
        let mut found = self.inner.locate(at);
        // The chunk in volume offsets; the run is cut to it, then moved onto the disk.
        let chunk_start = at.saturating_sub(disk.saturating_sub(chunk.start));
        let chunk_end = at.saturating_add(chunk.end.saturating_sub(disk));
        let start = found.run.start.max(chunk_start);
        let end = found.run.end.min(chunk_end);
        let (start, end) = if start <= at && at < end {
            (start, end)
        } else {
            (at, at.saturating_add(1))
        };
        let on_disk = |volume: u64| {
            chunk
                .start
                .saturating_add(volume.saturating_sub(chunk_start))
                .saturating_sub(base)
        };
        found.run = on_disk(start)..on_disk(end);
        found
    }

    fn files(&self) -> Files<'_> {
        self.inner.files().remapped(&self.translate)
    }

    fn notes(&self) -> &[String] {
        self.inner.notes()
    }
}
