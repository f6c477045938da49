//! An image's layout mapped once, for callers that read its files rather than sweep its
//! bytes (`snapsift audit`): the volumes, the filesystem of each, the files each lists (path,
//! size, state, where their first byte lies on the disk) and one file's logical contents,
//! read up to a bound; and the layout as data ([`DiskLayout`]), for a report to draw.
//!
//! The volumes and filesystems are mapped exactly as the scan maps them
//! ([`crate::scan::scan_image`]), with the same messages to the [`Observer`].

use std::ops::Range;

use serde::Serialize;
use snapsift_disk::{Disk, Image};
/// The state of a listed file (`Allocated`, `Deleted`), as [`ListedFile::state`] gives it.
pub use snapsift_fs::FileState;
use snapsift_fs::{FileLocation, Files, Filesystem, Piece, VolumeMap};

use crate::EngineError;
use crate::scan::{Observer, map_layout, volume_name};

/// A disk with its volumes and their filesystems mapped.
pub struct MappedDisk {
    name: String,
    disk: Box<dyn Disk>,
    volumes: VolumeMap,
    filesystems: Vec<Option<Box<dyn Filesystem>>>,
    /// Each volume's name, as messages give it.
    labels: Vec<String>,
}

/// One mapped filesystem of a [`MappedDisk`].
#[derive(Clone)]
pub struct MappedFilesystem<'a> {
    image: &'a str,
    disk: &'a dyn Disk,
    /// The volume's name as messages give it: `partition 1 (ext4)`, `volume vg/root (xfs)`,
    /// `the disk (ext4)`.
    label: &'a str,
    volume_start: u64,
    /// The disk ranges holding the volume's bytes (a logical volume's extents), relative to
    /// `volume_start`.
    ranges: Vec<Range<u64>>,
    fs: &'a dyn Filesystem,
}

/// One file a filesystem lists, as [`MappedFilesystem::each_file`] gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedFile {
    /// Its index in the filesystem's list: what [`MappedFilesystem::read`] takes.
    pub index: usize,
    /// Its absolute path (`None` if no directory names it any more).
    pub path: Option<String>,
    /// Its size in bytes.
    pub size: u64,
    /// `Allocated` for a file in use, `Deleted` for one whose record is not in use.
    pub state: FileState,
}

/// The first bytes of a file, read up to a bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileBytes {
    /// The bytes read: the whole file, or its first `limit` bytes.
    pub bytes: Vec<u8>,
    /// The file's size.
    pub size: u64,
}

impl FileBytes {
    /// Whether the bound cut the file: `bytes` is only its beginning.
    pub fn cut(&self) -> bool {
        (self.bytes.len() as u64) < self.size
    }
}

/// How a disk is divided, as a report draws it: its size, its partition scheme and each
/// volume with where it lies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DiskLayout {
    /// The disk's size in bytes (for a qcow2, VHD(X) or VMDK image, its virtual disk's).
    pub bytes: u64,
    /// How it is divided: `gpt`, `mbr`, `none` (one filesystem fills it), `recovered` (found
    /// by superblocks), `unknown`.
    pub scheme: String,
    /// The volumes, by start: partitions, and LVM2 logical volumes inside them.
    pub volumes: Vec<VolumeLayout>,
}

/// One volume of a [`DiskLayout`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VolumeLayout {
    /// Its name as messages and the audit's evidence give it: `partition 1 (ext4)`.
    pub label: String,
    /// Its first byte on the disk; for a logical volume, its first extent's.
    pub start: u64,
    /// Its bytes on the disk from `start`; for a logical volume, to the end of its last
    /// extent (the span holding all of them).
    pub bytes: u64,
    /// What it holds, from its signatures: `ext4`, `ntfs`, `lvm2`, `swap`, `unknown`...
    pub content: String,
    /// The partition's number as Linux numbers it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
    /// For an LVM2 logical volume, `vg/lv`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logical_volume: Option<String>,
    /// The GPT partition name, as the table has it (untrusted text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether its filesystem was mapped, so its files were read.
    pub filesystem: bool,
}

impl MappedDisk {
    /// Maps `image` (named `name` in messages and errors): its volumes and the filesystem of
    /// each, telling `observer` about its layout as the scan does. A compressed stream
    /// cannot be read file by file: an error.
    pub fn open(
        name: &str,
        image: Image,
        observer: &dyn Observer,
    ) -> Result<MappedDisk, EngineError> {
        let disk = match image {
            Image::Disk(disk) => disk,
            Image::Stream(_) => {
                return Err(EngineError::StreamNotMappable {
                    image: name.to_owned(),
                });
            }
        };
        let (volumes, filesystems) = map_layout(name, &*disk, false, observer)?;
        let labels = volumes
            .volumes
            .iter()
            .map(|volume| volume_name(volumes.scheme, volume))
            .collect();
        Ok(MappedDisk {
            labels,
            name: name.to_owned(),
            disk,
            volumes,
            filesystems,
        })
    }

    /// The image's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The disk.
    pub fn disk(&self) -> &dyn Disk {
        &*self.disk
    }

    /// The disk's layout: its size, scheme and every volume, with or without a filesystem.
    pub fn layout(&self) -> DiskLayout {
        let volumes = self
            .volumes
            .volumes
            .iter()
            .zip(&self.filesystems)
            .zip(&self.labels)
            .map(|((volume, fs), label)| VolumeLayout {
                label: label.clone(),
                start: volume.range.start,
                bytes: volume.range.end.saturating_sub(volume.range.start),
                content: volume.content.name().to_owned(),
                partition: volume.number,
                logical_volume: volume.logical.as_ref().map(|l| l.name.clone()),
                name: volume.name.clone(),
                filesystem: fs.is_some(),
            })
            .collect();
        DiskLayout {
            bytes: self.disk.size(),
            scheme: self.volumes.scheme.name().to_owned(),
            volumes,
        }
    }

    /// The filesystems mapped, in volume order.
    pub fn filesystems(&self) -> Vec<MappedFilesystem<'_>> {
        self.volumes
            .volumes
            .iter()
            .zip(&self.filesystems)
            .zip(&self.labels)
            .filter_map(|((volume, fs), label)| {
                let start = volume.range.start;
                Some(MappedFilesystem {
                    image: &self.name,
                    disk: &*self.disk,
                    label,
                    volume_start: start,
                    ranges: volume
                        .disk_ranges()
                        .into_iter()
                        .map(|r| r.start.saturating_sub(start)..r.end.saturating_sub(start))
                        .collect(),
                    fs: fs.as_deref()?,
                })
            })
            .collect()
    }
}

impl<'a> MappedFilesystem<'a> {
    /// The name of its volume, as messages give it: `partition 1 (ext4)`,
    /// `volume vg/root (xfs)`, `the disk (ext4)`.
    pub fn label(&self) -> &'a str {
        self.label
    }

    /// The filesystem's kind: `ext4`, `ntfs`, `xfs`, `fat`.
    pub fn kind(&self) -> &'static str {
        self.fs.kind()
    }

    /// How many files it lists.
    pub fn len(&self) -> usize {
        self.fs.files().len()
    }

    /// Whether it lists no file.
    pub fn is_empty(&self) -> bool {
        self.fs.files().is_empty()
    }

    /// Calls `visit` with every file the filesystem lists (see
    /// [`Filesystem::files`]: regular files in use, named streams, deleted files whose
    /// contents the filesystem still records), in list order; one path is built at a time.
    pub fn each_file(&self, mut visit: impl FnMut(ListedFile)) {
        let files: Files<'a> = self.fs.files();
        for index in 0..files.len() {
            let (Some(size), Some(state)) = (files.size(index), files.state(index)) else {
                continue;
            };
            visit(ListedFile {
                index,
                path: files.path(index),
                size,
                state,
            });
        }
    }

    /// The disk offset of the first byte of file `index` that lies verbatim on the disk
    /// (past a leading hole; `None` for a file whose bytes are all holes or compressed).
    pub fn disk_offset(&self, index: usize) -> Option<u64> {
        let content = self.fs.files().content(index)?;
        content.spans.iter().find_map(|span| match &span.piece {
            Piece::Volume(at) | Piece::Held { at: Some(at), .. } => {
                self.volume_start.checked_add(*at)
            }
            _ => None,
        })
    }

    /// The ranges of the disk holding the volume's bytes, relative to the volume's start
    /// (one range, or a logical volume's extents): the offsets [`MappedFilesystem::locate`]
    /// answers for.
    pub fn ranges(&self) -> &[Range<u64>] {
        &self.ranges
    }

    /// What the byte at `offset` (from the volume's start) is, and the run of bytes around
    /// it with the same answer (see [`Filesystem::locate`]).
    pub fn locate(&self, offset: u64) -> FileLocation {
        self.fs.locate(offset)
    }

    /// Reads `buf.len()` bytes of the disk at `offset` from the volume's start (raw bytes,
    /// whatever the filesystem says they are).
    pub fn read_volume(&self, offset: u64, buf: &mut [u8]) -> Result<(), EngineError> {
        let at = self.volume_start.saturating_add(offset);
        self.disk
            .read_exact_at(at, buf)
            .map_err(|source| EngineError::ReadFile {
                file: format!("{}: {}: the bytes at {offset}", self.image, self.label),
                source: Box::new(snapsift_fs::FsError::Disk(source)),
            })
    }

    /// Reads the first `limit` bytes of file `index` (all of it if it is shorter).
    pub fn read(&self, index: usize, limit: u64) -> Result<FileBytes, EngineError> {
        let files = self.fs.files();
        let cannot = |source| EngineError::ReadFile {
            file: format!(
                "{}: {}: {}",
                self.image,
                self.label,
                files
                    .path(index)
                    .unwrap_or_else(|| format!("#{}", files.id(index).unwrap_or_default()))
            ),
            source: Box::new(source),
        };
        let Some(content) = files.content(index) else {
            return Err(cannot(snapsift_fs::FsError::Corrupt(format!(
                "no file {index} in its list"
            ))));
        };
        let want = usize::try_from(content.size.min(limit)).unwrap_or(usize::MAX);
        let mut bytes = vec![0; want];
        let got = content
            .read_at(self.disk, self.volume_start, 0, &mut bytes)
            .map_err(cannot)?;
        bytes.truncate(got);
        Ok(FileBytes {
            bytes,
            size: content.size,
        })
    }
}
