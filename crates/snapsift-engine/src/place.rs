//! Where a finding is, beyond its disk offset: the image, the volume, the file, and for a
//! secret found inside a file's decoded contents, the chain of containers that led to it.

use std::ops::Range;

use snapsift_fs::{FileState, Filesystem, Scheme, Volume, VolumeMap};
use snapsift_unpack::{Layer, LeafEncoding};

/// The image being scanned and what is known of its layout.
#[derive(Clone, Copy, Debug)]
pub struct Place<'a> {
    /// Its volumes; `None` for a stream, whose layout is not read.
    pub volumes: Option<&'a VolumeMap>,
    /// The map of each volume's filesystem, in the order of `volumes.volumes` (`None` where
    /// the volume holds no filesystem snapsift maps, or it could not be mapped).
    pub filesystems: &'a [Option<Box<dyn Filesystem>>],
}

/// Where one offset of the image lies, at the volume level.
#[derive(Clone, Copy, Debug)]
pub enum Located<'a> {
    /// In this volume (a partition, or the whole disk).
    Volume(&'a Volume),
    /// On a partitioned disk, outside every partition.
    Unpartitioned,
    /// The layout is not known.
    Unknown,
}

/// What a filesystem says of a finding's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileAt {
    /// The filesystem: `ext4` or `ntfs`.
    pub filesystem: &'static str,
    /// The state of the bytes (for a file-pass finding, of the file).
    pub state: FileState,
    /// What `id` numbers: `inode` or `mft_record`.
    pub id_name: &'static str,
    /// The file's number.
    pub id: Option<u64>,
    /// The file's path.
    pub path: Option<String>,
    /// The containers and decodings from the file to the secret, outermost first; empty for
    /// a secret in the file's own bytes.
    pub chain: Vec<Layer>,
    /// The encoding the secret was decoded from (UTF-16LE, UTF-16BE), if any.
    pub encoding: Option<LeafEncoding>,
    /// For a secret in the file's own bytes found by the file pass, its offset in the file.
    pub file_offset: Option<u64>,
    /// For a secret found in decoded bytes (decompressed, decoded from UTF-16), its offset in
    /// the decoded stream of the innermost layer; `None` when the secret lies on the disk.
    pub decoded_offset: Option<u64>,
}

impl FileAt {
    /// The path with its archive members: `/opt/app.jar!/BOOT-INF/application.properties`.
    pub fn display_path(&self) -> Option<String> {
        let members = self.chain.iter().filter_map(|l| l.member.as_deref());
        Some(path_with_members(self.path.as_deref()?, members))
    }
}

/// `path` with the archive `members` that lead from it to a secret, each after `!/`.
pub fn path_with_members<'a>(path: &str, members: impl Iterator<Item = &'a str>) -> String {
    let mut out = path.to_owned();
    for member in members {
        out.push_str("!/");
        out.push_str(member.trim_start_matches('/'));
    }
    out
}

/// Everything known of where a finding is.
#[derive(Clone, Debug)]
pub struct Location<'a> {
    /// The volume level.
    pub volume: Located<'a>,
    /// The volume's partition scheme; `None` for a stream.
    pub scheme: Option<Scheme>,
    /// The file level, where a filesystem map knows it.
    pub file: Option<FileAt>,
    /// For a byte the sweep found, the disk bytes around it that the layout says the same of:
    /// the filesystem map's run (one file's data, one stretch of free space, one file's
    /// slack), the stretch between two partitions, or the whole volume where no filesystem
    /// is mapped. `None` for a finding of the file pass, and where the layout is not known.
    pub run: Option<Range<u64>>,
}

impl<'a> Place<'a> {
    /// Where the disk byte `offset` lies: its volume, and what its filesystem says of it.
    pub fn locate(&self, offset: u64) -> Location<'a> {
        let volume = self.volume_at(offset);
        let (file, run) = match volume {
            Located::Volume(v) => match self.filesystem_of(v) {
                Some(fs) => {
                    let start = v.range.start;
                    let found = fs.locate(offset.saturating_sub(start));
                    // The map's run is in volume offsets, and may run past the volume's end.
                    let run = start.saturating_add(found.run.start)
                        ..start.saturating_add(found.run.end).min(v.range.end);
                    let file = FileAt {
                        filesystem: fs.kind(),
                        state: found.state,
                        id_name: fs.id_name(),
                        id: found.inode,
                        path: found.path,
                        chain: Vec::new(),
                        encoding: None,
                        file_offset: None,
                        decoded_offset: None,
                    };
                    (Some(file), Some(run))
                }
                None => (None, Some(v.run_at(offset))),
            },
            Located::Unpartitioned => (None, self.between_partitions(offset)),
            Located::Unknown => (None, None),
        };
        Location {
            volume,
            scheme: self.volumes.map(|m| m.scheme),
            file,
            run,
        }
    }

    /// The location of a finding of the file pass: in `file` of the volume holding `offset`.
    pub fn in_file(&self, offset: u64, file: FileAt) -> Location<'a> {
        Location {
            volume: self.volume_at(offset),
            scheme: self.volumes.map(|m| m.scheme),
            file: Some(file),
            run: None,
        }
    }

    /// The bytes around `offset`, which lies outside every partition, up to the partitions
    /// on either side (from the disk's start, to the end of what can be addressed).
    fn between_partitions(&self, offset: u64) -> Option<Range<u64>> {
        let volumes = &self.volumes?.volumes;
        let start = volumes
            .iter()
            .map(|v| v.range.end)
            .filter(|&end| end <= offset)
            .max()
            .unwrap_or(0);
        let end = volumes
            .iter()
            .map(|v| v.range.start)
            .filter(|&start| start > offset)
            .min()
            .unwrap_or(u64::MAX);
        Some(start..end)
    }

    /// The volume holding `offset`.
    fn volume_at(&self, offset: u64) -> Located<'a> {
        match self.volumes {
            None => Located::Unknown,
            Some(map) => match map.volume_at(offset) {
                Some(volume) => Located::Volume(volume),
                None if matches!(map.scheme, Scheme::Gpt | Scheme::Mbr | Scheme::Recovered) => {
                    Located::Unpartitioned
                }
                None => Located::Unknown,
            },
        }
    }

    /// The filesystem map of `volume`, if there is one.
    fn filesystem_of(&self, volume: &Volume) -> Option<&'a dyn Filesystem> {
        let map = self.volumes?;
        let index = map.volumes.iter().position(|v| std::ptr::eq(v, volume))?;
        self.filesystems.get(index)?.as_deref()
    }
}
