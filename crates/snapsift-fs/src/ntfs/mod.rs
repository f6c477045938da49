//! NTFS: from a byte offset in the volume to what the filesystem keeps there, and the files'
//! logical contents for the file pass.
//!
//! [`NtfsMap::build`] reads a volume once (boot sector, the MFT through `$MFT`'s own runs,
//! every file record in use or not, with its update sequence applied, and `$Bitmap`) and
//! paints an interval map over the volume's bytes; [`NtfsMap::locate`] then answers, for a
//! hit found by the byte sweep, what the byte is ([`FileState`]), which MFT record owns it
//! and its path (`/Users/bob/secret.txt`, `path:stream` for an alternate data stream).
//!
//! What each state covers:
//! * `allocated`: the data of a file's streams in use (its unnamed `$DATA` and each named
//!   one), up to the stream's initialized size; the compressed clusters of a compressed
//!   unit (the compressed form is the file's data); in the MFT, the bytes of a resident
//!   `$DATA` value, owned by its file. Clusters `$Bitmap` marks in use that no record
//!   claims are `allocated` with no record.
//! * `slack`: a stream's clusters past its size (or initialized size) to their end.
//! * `deleted`: clusters still recorded by a record no longer in use (data, index blocks
//!   alike) where `$Bitmap` says free and no record in use claims them; the resident
//!   `$DATA` bytes of such a record. The path is the record's old name (its `$FILE_NAME`)
//!   and its parent chain.
//! * `unallocated`: free clusters, and bytes of the volume past the filesystem's end.
//! * `metadata`: the MFT (with the record the byte is in), `$MFTMirr`, `$Bitmap`, `$Boot`
//!   and the boot sector's backup, `$Secure`, `$UpCase`, `$AttrDef`, the files of
//!   `$Extend`, and each file's non-data attributes stored in clusters: directories' index
//!   blocks (owned by the directory), attribute lists, non-resident bitmaps.
//! * `journal`: `$LogFile`.
//!
//! ## What the `ntfs` crate does, and what is parsed here
//!
//! The `ntfs` crate (`Ntfs::new`) reads and validates the boot sector (sector, cluster and
//! record sizes, the MFT's position) and decodes the `$MFT` record's `$DATA` runs
//! (`NtfsAttributeValue::NonResident`, `data_runs()`), which say where the rest of the MFT
//! lies; it reads through `io::VolumeReader`, a `Read + Seek` view of the volume. The rest
//! is parsed here, and why:
//! * Hostile records: from its source, the crate reads some attribute fields without
//!   checking them against the record's length (a non-resident header cut short indexes past
//!   the record and panics), it panics on an I/O error inside the boot sector (seen: a volume
//!   shorter than a sector), and its index iterator follows B-tree subnodes with no visited
//!   set (a node naming itself never returns). The map reads images it does not trust and
//!   must neither panic nor hang, so a record may reach the crate only once it has been
//!   validated here, which already takes parsing it: every record, in use or not, is parsed
//!   once, here (`record`: header, update
//!   sequence, attribute headers; `runs`: data runs). The boot sector is handed to the
//!   crate from memory, and the `$MFT` record only after `record` accepted it.
//! * Indexes are not walked at all: names come from each record's own `$FILE_NAME` (which
//!   also names deleted files, whose index entries are gone), so index blocks are mapped as
//!   their directory's metadata but not read, and need no budget.
//! * Update sequences: whether a resident value lies verbatim on the disk depends on which
//!   bytes the fixup replaced, which the crate does not expose.
//! * Data runs at cluster 0: the crate reads a run whose offset is 0 as sparse, but
//!   `$Boot`'s run is one byte of offset 0 (cluster 0, not sparse).
//! * Compression (`lznt1`) and mapping every byte (`stream`, the painter): the crate
//!   decompresses nothing and maps nothing.
//!
//! Parsing is kept apart from I/O: `record`, `runs`, `names`, `stream` and `lznt1` read byte
//! slices; `mft` and `walk` do the reading. Every on-disk number is checked before use;
//! work and memory are bounded (see `walk`'s limits), and an inconsistent image gives a
//! partial map with [`NtfsMap::notes`], never a panic or a hang.

mod io;
pub(crate) mod lznt1;
mod mft;
mod names;
mod record;
mod runs;
mod stream;
mod walk;

use std::ops::Range;

use snapsift_disk::Disk;

use crate::FsError;
use crate::file_list::{FileList, Files};
use crate::filesystem::{FileLocation, FileState, Filesystem};
use crate::paint;
use names::Names;

/// Who a range belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    /// Nobody (free space, the boot sector's backup, clusters no record explains).
    Nobody,
    /// A file record (its unnamed data, or an attribute that is not data).
    File(u64),
    /// A named data stream: an index into [`NtfsMap::streams`].
    Stream(u32),
    /// The MFT: the record is the one the byte is in.
    Mft,
}

/// What a range is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    /// Its state.
    state: FileState,
    /// Its owner.
    owner: Owner,
}

impl Entry {
    /// The entry of stretches no claim covers (no claim gives the MFT free bytes).
    const GAP: Entry = Entry {
        state: FileState::Unallocated,
        owner: Owner::Mft,
    };
}

/// Which claim wins where claims overlap: the higher layer, then the earlier claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    /// Everything: free unless something else says otherwise.
    Base,
    /// Clusters a record not in use still records (shown only where nothing else is).
    Deleted,
    /// Clusters `$Bitmap` marks in use.
    InUse,
    /// Clusters of a record in use, and the boot sectors.
    File,
    /// Resident data in an MFT record, over the MFT.
    Record,
}

impl From<Layer> for u8 {
    fn from(layer: Layer) -> u8 {
        layer as u8
    }
}

/// The map of one NTFS volume, built once and then queried per hit.
#[derive(Clone, Debug)]
pub struct NtfsMap {
    /// Streams for the file pass.
    files: FileList,
    /// Sorted, non-overlapping intervals covering the volume.
    painted: paint::Painted<Entry>,
    /// The MFT's stretches on the volume as (volume range, MFT offset), sorted.
    mft: Vec<(Range<u64>, u64)>,
    /// Bytes per record.
    record_size: u64,
    /// Records the MFT holds.
    records: u64,
    /// Who is called what.
    names: Names,
    /// Named streams owning bytes, as (record, stream name).
    streams: Vec<(u64, Box<str>)>,
    /// Problems met while mapping.
    notes: Vec<String>,
}

impl NtfsMap {
    /// Reads the NTFS in `disk` at byte range `volume` and maps it.
    ///
    /// Fails if the volume holds no NTFS (or one whose boot sector or `$MFT` record is too
    /// damaged to find the MFT), or if the disk cannot be read. Damage elsewhere is not an
    /// error: what can be mapped is, and [`NtfsMap::notes`] says what could not.
    pub fn build(disk: &dyn Disk, volume: Range<u64>) -> Result<NtfsMap, FsError> {
        walk::build(disk, volume)
    }

    /// What the byte at `offset` (relative to the volume start) is. Offsets past the volume
    /// are `unallocated`, with a `run` from the offset to the end of addressable bytes.
    pub fn locate(&self, offset: u64) -> FileLocation {
        let Some((entry, run)) = self.painted.find(offset) else {
            return FileLocation {
                state: FileState::Unallocated,
                inode: None,
                path: None,
                run: offset..u64::MAX,
            };
        };
        let (record, stream) = match entry.owner {
            Owner::Nobody => (None, None),
            Owner::File(record) => (Some(record), None),
            Owner::Stream(index) => match self
                .streams
                .get(usize::try_from(index).unwrap_or(usize::MAX))
            {
                Some((record, name)) => (Some(*record), Some(&**name)),
                None => (None, None),
            },
            Owner::Mft => (self.record_at(offset), None),
        };
        let path = record
            .and_then(|r| self.names.path(r))
            .map(|path| match stream {
                Some(stream) => format!("{path}:{stream}"),
                None => path,
            });
        FileLocation {
            state: entry.state,
            inode: record,
            path,
            run,
        }
    }

    /// The path of record `record`, as [`FileLocation::path`] gives it for its unnamed data.
    pub fn path_of(&self, record: u64) -> Option<String> {
        self.names.path(record)
    }

    /// Problems met while mapping: damaged records, runs outside the filesystem, loops cut,
    /// limits reached. Empty for a healthy filesystem.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The record whose bytes hold `offset`, in the MFT.
    fn record_at(&self, offset: u64) -> Option<u64> {
        let after = self.mft.partition_point(|(range, _)| range.start <= offset);
        let (range, mft_offset) = self.mft[..after].last()?;
        if !range.contains(&offset) {
            return None;
        }
        let into = mft_offset.checked_add(offset.checked_sub(range.start)?)?;
        into.checked_div(self.record_size)
            .filter(|&record| record < self.records)
    }
}

impl Filesystem for NtfsMap {
    fn kind(&self) -> &'static str {
        "ntfs"
    }

    fn id_name(&self) -> &'static str {
        "mft_record"
    }

    fn locate(&self, offset: u64) -> FileLocation {
        NtfsMap::locate(self, offset)
    }

    fn files(&self) -> Files<'_> {
        Files::new(&self.files, &self.names)
    }

    fn notes(&self) -> &[String] {
        &self.notes
    }
}
