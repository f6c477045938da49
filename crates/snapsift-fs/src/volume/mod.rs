//! Volumes: how a disk is divided (GPT, MBR with extended partitions, one filesystem filling the
//! disk, or nothing recognised), what each part holds, and the LVM2 logical volumes on them.
//!
//! [`VolumeMap::read`] never fails on a damaged or hostile table: it falls back to what it can
//! trust (the backup GPT, the MBR, the whole disk as one unknown volume) and says so in
//! [`VolumeMap::notes`], because the byte sweep reads every byte whatever the tables say. A
//! first sector or GPT header that cannot be read (a damaged image) is a table not trusted.
//! Partitions that reach past the end of the disk are cut at it, and noted. A table that
//! names no volume (empty, zeroed, or a protective MBR whose GPT is lost with its backup)
//! leaves the disk to a bounded search for filesystem superblocks (the `recover` module):
//! what it finds are the volumes, [`Scheme::Recovered`].
//!
//! LVM2 logical volumes (see the `lvm` module) are volumes too, whose bytes lie on the disk where
//! their [`Extents`] say, inside their physical volumes; [`VolumeMap::volume_at`] finds a
//! byte of one in it rather than in its PV.

mod apfs;
mod content;
mod extents;
mod gpt;
pub mod luks;
mod lvm;
mod mbr;
mod recover;

use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use snapsift_disk::Disk;

pub use content::Content;
pub use extents::{Extents, LogicalDisk};

use crate::FsError;
pub(crate) use crate::bytes::{le32, le64};

/// Why a table was not trusted; becomes a note.
#[derive(Debug)]
pub(crate) struct Problem(pub(crate) String);

/// How the disk is divided (serialized by its [`name`](Scheme::name)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Scheme {
    /// A GUID partition table.
    Gpt,
    /// An MBR partition table (with logical partitions in extended ones).
    Mbr,
    /// No partition table: one filesystem (or other known content) fills the disk, as on a
    /// partition device such as `/dev/nvme1n1p1`.
    #[serde(rename = "none")]
    Whole,
    /// Nothing recognised: the disk is swept as raw bytes only.
    Unknown,
    /// No partition table names a volume (it is empty, zeroed, or damaged beyond its
    /// backup), but filesystems were found by their superblocks: those are the volumes.
    Recovered,
}

impl Scheme {
    /// The scheme's name, as output shows it.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Gpt => "gpt",
            Scheme::Mbr => "mbr",
            Scheme::Whole => "none",
            Scheme::Unknown => "unknown",
            Scheme::Recovered => "recovered",
        }
    }
}

/// One part of the disk: a partition, the whole disk, or an LVM2 logical volume.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Volume {
    /// The partition's number as Linux numbers it (GPT: entry index + 1; MBR: 1-4 primary,
    /// 5 and up logical); `None` for the whole disk and for a logical volume.
    pub number: Option<u32>,
    /// Where it is on the disk; for a logical volume, the smallest range holding all its
    /// extents, whose bytes between them may belong to others (see [`Volume::logical`]).
    /// Offsets a filesystem map of the volume gives are relative to its start.
    pub range: Range<u64>,
    /// The partition type: a GPT type's name (or GUID) or an MBR type byte as `0x83`.
    pub partition_type: Option<String>,
    /// The GPT partition name, if any.
    pub name: Option<String>,
    /// What it holds, from its signatures.
    pub content: Content,
    /// The UUID its header records, where it says what the volume is (LUKS, swap, an APFS
    /// container).
    pub uuid: Option<String>,
    /// For an LVM2 logical volume: its name and where its bytes are.
    pub logical: Option<Arc<LogicalVolume>>,
}

/// An LVM2 logical volume mapped on the disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogicalVolume {
    /// `vg/lv`.
    pub name: String,
    /// Where its bytes lie on the disk.
    pub extents: Extents,
}

impl Volume {
    /// Whether disk offset `offset` is one of the volume's bytes.
    pub fn holds(&self, offset: u64) -> bool {
        match &self.logical {
            Some(logical) => logical.extents.to_volume(offset).is_some(),
            None => self.range.contains(&offset),
        }
    }

    /// The offset in the volume (for a logical volume, as the volume reads) of disk offset
    /// `offset`, one of its bytes.
    pub fn offset_of(&self, offset: u64) -> u64 {
        match &self.logical {
            Some(logical) => logical.extents.to_volume(offset).map_or(0, |(at, _)| at),
            None => offset.saturating_sub(self.range.start),
        }
    }

    /// The disk bytes around `offset` (one of the volume's bytes) that lie end to end in the
    /// volume too: the volume's range, or a logical volume's chunk.
    pub fn run_at(&self, offset: u64) -> Range<u64> {
        match &self.logical {
            Some(logical) => logical
                .extents
                .to_volume(offset)
                .map_or(offset..offset.saturating_add(1), |(_, run)| run),
            None => self.range.clone(),
        }
    }

    /// The disk ranges holding the volume's bytes, sorted.
    pub fn disk_ranges(&self) -> Vec<Range<u64>> {
        match &self.logical {
            Some(logical) => logical.extents.disk_ranges().collect(),
            None => vec![self.range.clone()],
        }
    }
}

/// The volumes of a disk.
#[derive(Clone, Debug)]
pub struct VolumeMap {
    /// How the disk is divided.
    pub scheme: Scheme,
    /// The volumes, sorted by start; partitions may overlap only if the table says so (noted).
    pub volumes: Vec<Volume>,
    /// What was found wrong or surprising on the way, for the user.
    pub notes: Vec<String>,
}

/// Logical sector sizes tried for a GPT: 512 bytes, then 4 KiB (4Kn disks).
const SECTOR_SIZES: [u64; 2] = [512, 4096];

impl VolumeMap {
    /// Reads the partition table of `disk`, and probes each volume's content.
    pub fn read(disk: &dyn Disk) -> Result<VolumeMap, FsError> {
        let size = disk.size();
        let mut notes = Vec::new();
        // A disk whose first sectors cannot be read (an image whose table for them is lost)
        // has no table to trust: it is swept as raw bytes.
        let at_start = match probe(disk, 0) {
            Ok(bytes) => bytes,
            Err(error) => {
                return Ok(VolumeMap {
                    scheme: Scheme::Unknown,
                    volumes: vec![Volume {
                        range: 0..size,
                        ..Volume::default()
                    }],
                    notes: vec![format!(
                        "the start of the disk cannot be read ({error}): no partition table is \
                         read, the disk is swept as raw bytes"
                    )],
                });
            }
        };
        // A boot sector of NTFS, FAT or exFAT carries the MBR signature too, so filesystems
        // that fill the disk are recognised first.
        let whole_content = content::detect(&at_start);
        let gpt = if whole_content == Content::Unknown {
            read_gpt(disk, &mut notes)?
        } else {
            None
        };
        let (scheme, mut volumes) = match gpt {
            Some(volumes) => (Scheme::Gpt, volumes),
            None if whole_content != Content::Unknown => (Scheme::Whole, Vec::new()),
            None => match read_mbr(disk, &at_start, &mut notes)? {
                Some(volumes) => (Scheme::Mbr, volumes),
                None => (Scheme::Unknown, Vec::new()),
            },
        };
        for volume in &mut volumes {
            if volume.range.end > size {
                notes.push(format!(
                    "partition {} reaches past the end of the disk ({} > {size} bytes); read up \
                     to the end",
                    volume.number.unwrap_or(0),
                    volume.range.end
                ));
                volume.range.end = size;
            }
            if volume.range.start < volume.range.end {
                match probe(disk, volume.range.start) {
                    Ok(bytes) => {
                        volume.content = content::detect(&bytes);
                        volume.uuid = content::uuid(&bytes, volume.content);
                        let what = format!("partition {}", volume.number.unwrap_or(0));
                        look_inside(disk, volume, &what, &mut notes);
                    }
                    Err(error) => notes.push(format!(
                        "the start of partition {} cannot be read ({error})",
                        volume.number.unwrap_or(0)
                    )),
                }
            }
        }
        volumes.retain(|v| v.range.start < v.range.end);
        volumes.sort_by_key(|v| (v.range.start, v.number));
        for pair in volumes.windows(2) {
            if pair[1].range.start < pair[0].range.end {
                notes.push(format!(
                    "partitions {} and {} overlap",
                    pair[0].number.unwrap_or(0),
                    pair[1].number.unwrap_or(0)
                ));
            }
        }
        // A table that names no volume, or only the protective partition of a GPT lost with
        // its backup, leaves the disk to a search for filesystems.
        let lost = match scheme {
            Scheme::Unknown => true,
            Scheme::Gpt => volumes.is_empty(),
            Scheme::Mbr => volumes
                .iter()
                .all(|v| v.partition_type.as_deref() == Some(mbr::GPT_PROTECTIVE_NAME)),
            Scheme::Whole | Scheme::Recovered => false,
        };
        if lost {
            let recovered = recover::search(disk, &mut notes)?;
            if !recovered.is_empty() {
                return Ok(VolumeMap {
                    scheme: Scheme::Recovered,
                    volumes: recovered,
                    notes,
                });
            }
        }
        if matches!(scheme, Scheme::Whole | Scheme::Unknown) {
            let mut whole = Volume {
                range: 0..size,
                content: whole_content,
                uuid: content::uuid(&at_start, whole_content),
                ..Volume::default()
            };
            look_inside(disk, &mut whole, "the disk", &mut notes);
            volumes.push(whole);
        }
        let logical = lvm::logical_volumes(disk, &volumes, &mut notes);
        if !logical.is_empty() {
            volumes.extend(logical);
            volumes.sort_by_key(|v| (v.range.start, v.number));
        }
        Ok(VolumeMap {
            scheme,
            volumes,
            notes,
        })
    }

    /// The volume holding disk offset `offset`: a logical volume holding it, else the
    /// partition (the first, if partitions overlap) or whole disk; `None` for bytes outside
    /// every partition.
    pub fn volume_at(&self, offset: u64) -> Option<&Volume> {
        let after = self.volumes.partition_point(|v| v.range.start <= offset);
        let before = &self.volumes[..after];
        before
            .iter()
            .find(|v| v.logical.is_some() && v.holds(offset))
            .or_else(|| {
                before
                    .iter()
                    .find(|v| v.logical.is_none() && v.range.contains(&offset))
            })
    }
}

/// Reads further into `volume` (`what`, for notes) where its signature tells only part of what
/// it is: the volume superblocks of an APFS container say whether any is encrypted. A
/// container whose volumes cannot be read is noted, and left as not known to be encrypted.
fn look_inside(disk: &dyn Disk, volume: &mut Volume, what: &str, notes: &mut Vec<String>) {
    if !matches!(volume.content, Content::Apfs { .. }) {
        return;
    }
    match apfs::read(disk, volume.range.clone()) {
        Ok(container) => {
            volume.content = Content::Apfs {
                encrypted: container.encrypted(),
            };
            volume.uuid = Some(container.uuid.clone());
            notes.push(format!(
                "{what} is an APFS container with {}: its files are not read, its bytes are \
                 swept as they are",
                container.describe()
            ));
        }
        Err(error) => notes.push(format!(
            "{what} is an APFS container whose volumes cannot be read ({error}): whether any \
             is encrypted is not known; its bytes are swept as they are"
        )),
    }
}

/// The first [`content::PROBE_LEN`] bytes at `offset` (fewer at the end of the disk).
fn probe(disk: &dyn Disk, offset: u64) -> Result<Vec<u8>, FsError> {
    let available = disk.size().saturating_sub(offset);
    let len = usize::try_from(available)
        .unwrap_or(usize::MAX)
        .min(content::PROBE_LEN);
    let mut buf = vec![0u8; len];
    disk.read_exact_at(offset, &mut buf)?;
    Ok(buf)
}

/// The GPT's partitions, from the primary header or, if it is damaged, the backup; `None`
/// without a valid GPT.
fn read_gpt(disk: &dyn Disk, notes: &mut Vec<String>) -> Result<Option<Vec<Volume>>, FsError> {
    for sector_size in SECTOR_SIZES {
        let last_lba = disk
            .size()
            .checked_div(sector_size)
            .unwrap_or(0)
            .saturating_sub(1);
        let mut damaged = Vec::new();
        for lba in [1, last_lba] {
            // A header that cannot be read (the end of an image cut short) is a damaged one.
            let read = read_gpt_at(disk, sector_size, lba)
                .unwrap_or_else(|error| Err(Problem(format!("it cannot be read ({error})"))));
            match read {
                Ok(volumes) => {
                    if !damaged.is_empty() {
                        notes.push(format!(
                            "the primary GPT is damaged ({}); the backup GPT was used",
                            damaged.join("; ")
                        ));
                    }
                    return Ok(Some(volumes));
                }
                Err(Problem(reason)) if reason != "no GPT signature" => damaged.push(reason),
                Err(_) => {}
            }
        }
        if !damaged.is_empty() {
            notes.push(format!("the GPT is damaged: {}", damaged.join("; ")));
        }
    }
    Ok(None)
}

/// The partitions of the GPT whose header is at `lba`.
fn read_gpt_at(
    disk: &dyn Disk,
    sector_size: u64,
    lba: u64,
) -> Result<Result<Vec<Volume>, Problem>, FsError> {
    let Some(at) = lba.checked_mul(sector_size).filter(|&at| {
        at.checked_add(sector_size)
            .is_some_and(|end| end <= disk.size())
    }) else {
        return Ok(Err(Problem("no GPT signature".into())));
    };
    let mut sector = vec![0u8; usize::try_from(sector_size).unwrap_or(512)];
    disk.read_exact_at(at, &mut sector)?;
    let header = match gpt::parse_header(&sector) {
        Ok(header) => header,
        Err(problem) => return Ok(Err(problem)),
    };
    let entries_at = header.entries_lba.checked_mul(sector_size);
    let len = header.entries_len();
    let fits = entries_at
        .and_then(|at| at.checked_add(len as u64))
        .is_some_and(|end| end <= disk.size());
    let Some(entries_at) = entries_at.filter(|_| fits) else {
        return Ok(Err(Problem(
            "the GPT entry array lies outside the disk".into(),
        )));
    };
    let mut bytes = vec![0u8; len];
    disk.read_exact_at(entries_at, &mut bytes)?;
    Ok(gpt::parse_entries(&bytes, &header).map(|entries| {
        entries
            .into_iter()
            .map(|e| Volume {
                number: Some(e.number),
                range: e.lbas.start.saturating_mul(sector_size)
                    ..e.lbas.end.saturating_mul(sector_size),
                partition_type: Some(gpt::type_name(&e.type_guid)),
                name: Some(e.name).filter(|n| !n.is_empty()),
                ..Volume::default()
            })
            .collect()
    }))
}

/// The MBR's partitions, logical ones included; `None` without a plausible MBR.
fn read_mbr(
    disk: &dyn Disk,
    first_sector: &[u8],
    notes: &mut Vec<String>,
) -> Result<Option<Vec<Volume>>, FsError> {
    const SECTOR: u64 = 512;
    let Ok(entries) = mbr::parse(first_sector) else {
        return Ok(None);
    };
    if entries.is_empty() {
        return Ok(None);
    }
    let mut volumes = Vec::new();
    let volume = |number: u32, start: u64, entry: &mbr::Entry| Volume {
        number: Some(number),
        range: start.saturating_mul(SECTOR)
            ..start
                .saturating_add(u64::from(entry.sectors))
                .saturating_mul(SECTOR),
        partition_type: Some(format!("{:#04x}", entry.kind)),
        ..Volume::default()
    };
    for (slot, entry) in &entries {
        if entry.kind == mbr::GPT_PROTECTIVE {
            notes.push("the MBR is protective but no valid GPT was found".into());
        }
        if !entry.is_extended() {
            volumes.push(volume(*slot, u64::from(entry.start), entry));
            continue;
        }
        // Logical partitions: a chain of EBRs, each with the partition (relative to itself)
        // and the next EBR (relative to the extended partition), numbered from 5.
        let extended_start = u64::from(entry.start);
        let mut ebr = extended_start;
        let mut visited = Vec::new();
        for number in 5u32.. {
            if visited.contains(&ebr) || visited.len() >= mbr::MAX_LOGICAL {
                notes.push("the chain of logical partitions loops; it was cut".into());
                break;
            }
            visited.push(ebr);
            let Some(at) = ebr
                .checked_mul(SECTOR)
                .filter(|at| at.saturating_add(SECTOR) <= disk.size())
            else {
                notes.push(format!("an EBR at sector {ebr} lies outside the disk"));
                break;
            };
            let mut sector = vec![0u8; 512];
            disk.read_exact_at(at, &mut sector)?;
            let Ok(links) = mbr::parse(&sector) else {
                notes.push(format!("the EBR at sector {ebr} is damaged"));
                break;
            };
            let mut next = None;
            for (_, link) in &links {
                if link.is_extended() {
                    next = Some(extended_start.saturating_add(u64::from(link.start)));
                } else {
                    volumes.push(volume(
                        number,
                        ebr.saturating_add(u64::from(link.start)),
                        link,
                    ));
                }
            }
            match next {
                Some(next) => ebr = next,
                None => break,
            }
        }
    }
    Ok(Some(volumes))
}
