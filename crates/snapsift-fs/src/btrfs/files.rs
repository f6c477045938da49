//! The items of a subvolume's FS tree gathered per inode (its mode and size, its first
//! name, its file extents), and a regular file's extents turned into its logical contents
//! (no I/O: compressed inline extents are decoded from the leaf's bytes, the others when the
//! file pass reads them).

use std::ops::Range;
use std::sync::Arc;

use super::compress::{self, MAX_EXTENT};
use super::superblock::ChunkMap;
use super::tree::Item;
use super::{le16, le32, le64};
use crate::content::{FileContent, Piece, Span};

/// Item types of an FS tree.
const INODE_ITEM: u8 = 1;
const INODE_REF: u8 = 12;
const INODE_EXTREF: u8 = 13;
const EXTENT_DATA: u8 = 108;
/// The mode bits of a regular file.
const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
/// Bytes of a file extent item before its inline data, and of a regular one.
const INLINE_AT: usize = 21;
const REGULAR_LEN: usize = 53;
/// File extents kept per inode at most (a 16 TiB file of 128 KiB extents has 2^27).
const MAX_EXTENTS: usize = 1 << 27;

/// One file extent item.
#[derive(Clone, Debug)]
pub(crate) enum Extent {
    /// Data held in the leaf: the bytes, where each copy of them lies on the device, and
    /// how they are compressed (0: not) with their decoded size.
    Inline {
        file_offset: u64,
        compression: u8,
        ram_bytes: u64,
        data: Arc<[u8]>,
        copies: Vec<u64>,
    },
    /// Data in an extent: `num_bytes` of the file from the extent's (decoded) byte
    /// `offset`; `disk_bytenr` 0 is a hole. A preallocated extent reads as zeros.
    Regular {
        file_offset: u64,
        prealloc: bool,
        compression: u8,
        ram_bytes: u64,
        disk_bytenr: u64,
        disk_num_bytes: u64,
        offset: u64,
        num_bytes: u64,
    },
}

/// One inode of an FS tree, as its items say.
#[derive(Clone, Debug, Default)]
pub(crate) struct Inode {
    pub(crate) ino: u64,
    /// Its mode and size, if its inode item was read.
    pub(crate) mode: Option<u32>,
    pub(crate) size: u64,
    /// Its first name: the directory and the name's bytes.
    pub(crate) name: Option<(u64, Vec<u8>)>,
    /// Its file extents, in key order (regular files only).
    pub(crate) extents: Vec<Extent>,
}

impl Inode {
    /// Whether it is a regular file.
    pub(crate) fn is_file(&self) -> bool {
        self.mode.is_some_and(|mode| mode & S_IFMT == S_IFREG)
    }
}

/// Gathers the inodes of an FS tree from its items, in key order.
#[derive(Default)]
pub(crate) struct Gather {
    current: Option<Inode>,
    /// Inodes done.
    pub(crate) inodes: Vec<Inode>,
    /// Items too short for their type, or extents past [`MAX_EXTENTS`].
    pub(crate) damaged: u64,
}

impl Gather {
    /// Takes in `item`, from a leaf whose copies lie at `copies` on the device.
    pub(crate) fn item(&mut self, item: &Item<'_>, copies: &[u64]) {
        let kind = item.key.kind;
        if ![INODE_ITEM, INODE_REF, INODE_EXTREF, EXTENT_DATA].contains(&kind) {
            return;
        }
        let ino = item.key.objectid;
        if self.current.as_ref().is_none_or(|c| c.ino != ino) {
            self.flush();
            self.current = Some(Inode {
                ino,
                ..Inode::default()
            });
        }
        let Some(inode) = self.current.as_mut() else {
            return;
        };
        let data = item.data;
        let ok = match kind {
            INODE_ITEM if data.len() >= 160 => {
                inode.mode = Some(le32(data, 52));
                inode.size = le64(data, 16);
                true
            }
            INODE_REF => name_at(data, 8)
                .map(|name| {
                    if inode.name.is_none() {
                        inode.name = Some((item.key.offset, name.to_vec()));
                    }
                })
                .is_some(),
            INODE_EXTREF => name_at(data, 16)
                .map(|name| {
                    if inode.name.is_none() {
                        inode.name = Some((le64(data, 0), name.to_vec()));
                    }
                })
                .is_some(),
            EXTENT_DATA if inode.mode.is_none_or(|_| inode.is_file()) => {
                match parse_extent(item, copies) {
                    Some(extent) if inode.extents.len() < MAX_EXTENTS => {
                        inode.extents.push(extent);
                        true
                    }
                    _ => false,
                }
            }
            EXTENT_DATA => true,
            _ => false,
        };
        if !ok {
            self.damaged = self.damaged.saturating_add(1);
        }
    }

    /// Ends the inode being gathered.
    pub(crate) fn flush(&mut self) {
        if let Some(mut inode) = self.current.take() {
            if !inode.is_file() {
                inode.extents = Vec::new();
            }
            self.inodes.push(inode);
        }
    }
}

/// The name of an inode reference whose name length (2 bytes) is at `at`, the name after it.
fn name_at(data: &[u8], at: usize) -> Option<&[u8]> {
    let len = usize::from(le16(data, at));
    let start = at.checked_add(2)?;
    data.get(start..start.checked_add(len)?)
        .filter(|name| !name.is_empty() && name.len() <= 255)
}

/// Parses a file extent item; `None` if it is too short for its type.
fn parse_extent(item: &Item<'_>, copies: &[u64]) -> Option<Extent> {
    let data = item.data;
    let file_offset = item.key.offset;
    let compression = *data.get(16)?;
    let ram_bytes = le64(data, 8);
    match *data.get(20)? {
        0 => {
            let inline = data.get(INLINE_AT..)?;
            let at = item.at.checked_add(INLINE_AT as u64)?;
            Some(Extent::Inline {
                file_offset,
                compression,
                ram_bytes,
                data: Arc::from(inline),
                copies: copies.iter().filter_map(|c| c.checked_add(at)).collect(),
            })
        }
        kind @ (1 | 2) if data.len() >= REGULAR_LEN => Some(Extent::Regular {
            file_offset,
            prealloc: kind == 2,
            compression,
            ram_bytes,
            disk_bytenr: le64(data, 21),
            disk_num_bytes: le64(data, 29),
            offset: le64(data, 37),
            num_bytes: le64(data, 45),
        }),
        _ => None,
    }
}

/// A regular file's contents, and the device bytes that are its own but are not the file's
/// bytes verbatim in order (the other copies of DUP extents and of inline data, compressed
/// extents, preallocated extents).
#[derive(Debug, Default)]
pub(crate) struct Built {
    pub(crate) content: FileContent,
    /// Physical ranges of the file's own bytes outside its verbatim spans, and whether each
    /// lies in a leaf (inline data).
    pub(crate) owned: Vec<(Range<u64>, bool)>,
    /// What could not be read, one message per extent.
    pub(crate) problems: Vec<String>,
}

/// Builds the contents of regular file `inode` through `chunks`; `sector` is the
/// filesystem's sector size.
pub(crate) fn build(inode: &Inode, chunks: &ChunkMap, sector: u32) -> Built {
    let mut built = Built::default();
    let mut spans = Vec::new();
    let sector_len = usize::try_from(sector).unwrap_or(4096);
    for extent in &inode.extents {
        match extent {
            Extent::Inline {
                file_offset,
                compression,
                ram_bytes,
                data,
                copies,
            } => {
                let len = data.len() as u64;
                for &at in copies.iter().skip(1) {
                    built.owned.push((at..at.saturating_add(len), true));
                }
                let piece = if *compression == 0 {
                    Piece::Held {
                        bytes: data.clone(),
                        at: copies.first().copied(),
                    }
                } else {
                    if let Some(&at) = copies.first() {
                        built.owned.push((at..at.saturating_add(len), true));
                    }
                    let decoded = compress::codec(*compression)
                        .ok_or_else(|| format!("compression type {compression}"))
                        .and_then(|codec| {
                            let limit = usize::try_from(*ram_bytes).unwrap_or(usize::MAX);
                            compress::decode(codec, data, limit, sector_len)
                        });
                    match decoded {
                        Ok(bytes) => Piece::Held {
                            bytes: Arc::from(bytes),
                            at: None,
                        },
                        Err(e) => {
                            built.problems.push(format!("inline extent: {e}"));
                            continue;
                        }
                    }
                };
                let len = match &piece {
                    Piece::Held { bytes, .. } => bytes.len() as u64,
                    _ => 0,
                };
                spans.push(Span {
                    start: *file_offset,
                    len,
                    piece,
                });
            }
            Extent::Regular {
                file_offset,
                prealloc,
                compression,
                ram_bytes,
                disk_bytenr,
                disk_num_bytes,
                offset,
                num_bytes,
            } => {
                if *disk_bytenr == 0 || *num_bytes == 0 {
                    continue;
                }
                if *compression == 0 || *prealloc {
                    let Some(logical) = disk_bytenr.checked_add(*offset) else {
                        built
                            .problems
                            .push(format!("extent at {disk_bytenr}: offset {offset}"));
                        continue;
                    };
                    let ranges = chunks.ranges(logical, *num_bytes);
                    let mapped: u64 = ranges.iter().map(|r| r.2).fold(0, u64::saturating_add);
                    if mapped < *num_bytes {
                        built.problems.push(format!(
                            "extent at logical {logical}: {} of {num_bytes} bytes not mapped",
                            num_bytes.saturating_sub(mapped)
                        ));
                    }
                    for (rel, copies, n) in ranges {
                        let start = file_offset.saturating_add(rel);
                        let mut copies = copies.into_iter();
                        let first = copies.next();
                        for at in first.filter(|_| *prealloc).into_iter().chain(copies) {
                            built.owned.push((at..at.saturating_add(n), false));
                        }
                        let piece = match first {
                            Some(at) if !*prealloc => Piece::Volume(at),
                            _ => Piece::Zeros,
                        };
                        spans.push(Span {
                            start,
                            len: n,
                            piece,
                        });
                    }
                    continue;
                }
                match compressed(
                    *compression,
                    *disk_bytenr,
                    *disk_num_bytes,
                    *offset,
                    *num_bytes,
                    *ram_bytes,
                    chunks,
                    sector,
                ) {
                    Ok((piece, copies)) => {
                        for at in copies {
                            built
                                .owned
                                .push((at..at.saturating_add(*disk_num_bytes), false));
                        }
                        spans.push(Span {
                            start: *file_offset,
                            len: *num_bytes,
                            piece,
                        });
                    }
                    Err(e) => built.problems.push(e),
                }
            }
        }
    }
    built.content = FileContent::new(inode.size, spans);
    built
}

/// The piece of a compressed extent and the physical offsets of its copies; a message if
/// it cannot be read (its sizes out of bounds, its bytes not in one mapped chunk).
#[allow(clippy::too_many_arguments)]
fn compressed(
    compression: u8,
    disk_bytenr: u64,
    disk_num_bytes: u64,
    offset: u64,
    num_bytes: u64,
    ram_bytes: u64,
    chunks: &ChunkMap,
    sector: u32,
) -> Result<(Piece, Vec<u64>), String> {
    let codec = compress::codec(compression)
        .ok_or_else(|| format!("extent at {disk_bytenr}: compression type {compression}"))?;
    let within = offset
        .checked_add(num_bytes)
        .is_some_and(|end| end <= ram_bytes);
    if disk_num_bytes > MAX_EXTENT || ram_bytes > MAX_EXTENT || !within {
        return Err(format!(
            "compressed extent at {disk_bytenr}: {disk_num_bytes} bytes decoding to \
             {ram_bytes}, {num_bytes} of them from {offset}"
        ));
    }
    match chunks.ranges(disk_bytenr, disk_num_bytes).as_slice() {
        [(0, copies, n)] if *n == disk_num_bytes && !copies.is_empty() => Ok((
            Piece::Compressed {
                codec,
                at: copies[0],
                len: disk_num_bytes,
                skip: offset,
                sector,
            },
            copies.clone(),
        )),
        _ => Err(format!(
            "compressed extent at {disk_bytenr}: its bytes are not in one mapped chunk"
        )),
    }
}
