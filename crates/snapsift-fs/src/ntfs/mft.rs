//! The boot sector and the MFT's place on the volume, through the `ntfs` crate, and reading
//! the MFT's bytes through that place.
//!
//! The crate validates the boot sector ([`Ntfs::new`]: sector and cluster sizes, record
//! size, MFT position) and decodes the `$MFT` record's own `$DATA` runs. It indexes record
//! bytes without bounds checks in places (an attribute header cut short makes it panic), so
//! the `$MFT` record is first checked here ([`record::parse`]: every attribute header whole,
//! the list ending with its end marker) and handed to the crate only then.

use std::ops::Range;

use ntfs::attribute_value::NtfsAttributeValue;
use ntfs::{Ntfs, NtfsAttributeType};

use super::io::Volume;
use super::record;
use super::runs::MAX_RUNS;
use crate::FsError;

/// Bytes of the boot sector the crate reads.
const BOOT_SECTOR: usize = 512;

/// Records larger than this are refused (NTFS uses 1 KiB, some 4 KiB).
const MAX_RECORD: u64 = 64 << 10;

/// Records read at most (64 GiB of MFT at 1 KiB a record); the rest is mapped as the MFT
/// without being read.
pub(crate) const MAX_RECORDS: u64 = 1 << 26;

/// The filesystem's geometry, from its boot sector.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    /// Bytes per sector.
    pub(crate) sector: u64,
    /// Bytes per cluster.
    pub(crate) cluster: u64,
    /// Bytes per file record.
    pub(crate) record: u64,
    /// The filesystem's size in bytes (the boot sector's count of sectors).
    pub(crate) bytes: u64,
    /// Its clusters.
    pub(crate) clusters: u64,
}

/// One stretch of the MFT: `len` bytes from MFT offset `mft_offset`, at volume offset `at`
/// (`None`: a sparse run, reading as zeros).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Piece {
    mft_offset: u64,
    at: Option<u64>,
    len: u64,
}

/// Where the MFT's bytes are.
#[derive(Clone, Debug, Default)]
pub(crate) struct Mft {
    /// Its pieces, in MFT order.
    pieces: Vec<Piece>,
    /// Its size in bytes (the `$DATA` value's size).
    pub(crate) size: u64,
}

impl Mft {
    /// Fills `buf` with the MFT's bytes from `offset`; bytes of no piece read as zeros.
    pub(crate) fn read(
        &self,
        volume: &Volume<'_>,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), FsError> {
        buf.fill(0);
        let end = offset.saturating_add(buf.len() as u64);
        let first = self
            .pieces
            .partition_point(|p| p.mft_offset.saturating_add(p.len) <= offset);
        for piece in self.pieces.get(first..).unwrap_or(&[]) {
            if piece.mft_offset >= end {
                break;
            }
            let Some(at) = piece.at else {
                continue;
            };
            let from = piece.mft_offset.max(offset);
            let to = piece.mft_offset.saturating_add(piece.len).min(end);
            let into = usize::try_from(from.saturating_sub(offset)).unwrap_or(0)
                ..usize::try_from(to.saturating_sub(offset)).unwrap_or(0);
            let disk_at = at.saturating_add(from.saturating_sub(piece.mft_offset));
            if let Some(dest) = buf.get_mut(into) {
                volume.read(disk_at, dest)?;
            }
        }
        Ok(())
    }

    /// The volume offset of MFT bytes `offset..offset + len`, if they lie there contiguously.
    pub(crate) fn at(&self, offset: u64, len: u64) -> Option<u64> {
        let index = self
            .pieces
            .partition_point(|p| p.mft_offset.saturating_add(p.len) <= offset);
        let piece = self.pieces.get(index)?;
        let into = offset.checked_sub(piece.mft_offset)?;
        if into.checked_add(len)? > piece.len {
            return None;
        }
        piece.at?.checked_add(into)
    }

    /// The MFT's stretches on the volume as (volume range, MFT offset of its first byte),
    /// sorted by volume offset.
    pub(crate) fn extents(&self) -> Vec<(Range<u64>, u64)> {
        let mut extents: Vec<(Range<u64>, u64)> = self
            .pieces
            .iter()
            .filter_map(|p| Some((p.at?..p.at?.checked_add(p.len)?, p.mft_offset)))
            .collect();
        extents.sort_by_key(|(range, _)| range.start);
        extents
    }
}

/// Reads the boot sector and finds the MFT. Fails if the volume holds no NTFS the crate
/// recognises, if its geometry is beyond what the map reads, or if the `$MFT` record is
/// damaged (nothing else can be found without it). Notes what was cut.
pub(crate) fn open(volume: &Volume<'_>) -> Result<(Geometry, Mft, Vec<String>), FsError> {
    // The crate parses the boot sector with binrw, whose I/O errors it does not expect there
    // (a volume shorter than a sector panics): it gets the sector from memory.
    let mut boot = [0u8; BOOT_SECTOR];
    if !volume.read(0, &mut boot)? {
        return Err(FsError::NotNtfs(
            "the volume is too small to hold a boot sector".into(),
        ));
    }
    let ntfs = Ntfs::new(&mut std::io::Cursor::new(&boot[..]))
        .map_err(|e| FsError::NotNtfs(e.to_string()))?;
    let mut reader = volume.reader();
    let sector = u64::from(ntfs.sector_size());
    let cluster = u64::from(ntfs.cluster_size());
    let record = u64::from(ntfs.file_record_size());
    if record > MAX_RECORD || record.checked_rem(record::STRIDE as u64) != Some(0) {
        return Err(FsError::Corrupt(format!(
            "file records of {record} bytes (the map reads multiples of 512 up to \
             {MAX_RECORD})"
        )));
    }
    let geometry = Geometry {
        sector,
        cluster,
        record,
        bytes: ntfs.size(),
        clusters: ntfs.size().checked_div(cluster).unwrap_or(0),
    };
    let mft_at = ntfs.mft_position().value().map_or(0, u64::from);
    let mut raw = vec![0u8; usize::try_from(record).unwrap_or(0)];
    if !volume.read(mft_at, &mut raw)? {
        return Err(FsError::Corrupt(format!(
            "the MFT would start at byte {mft_at}, past the volume's end"
        )));
    }
    match record::parse(&mut raw) {
        Ok(parsed) if !parsed.truncated => {}
        _ => {
            return Err(FsError::Corrupt(
                "the $MFT's own record is damaged: the MFT cannot be found".into(),
            ));
        }
    }
    let (runs, size) = mft_runs(&ntfs, &mut reader)
        .map_err(|e| FsError::Corrupt(format!("the $MFT's own record: {e}")))?;
    let mut notes = Vec::new();
    let mut mft = Mft {
        pieces: Vec::with_capacity(runs.len()),
        size,
    };
    let mut mft_offset = 0u64;
    for (at, len) in runs {
        let inside = at.is_none_or(|at| at.checked_add(len).is_some_and(|end| end <= volume.len));
        if !inside {
            notes.push(format!(
                "the MFT's runs leave the volume after {mft_offset} bytes: records past them \
                 are not read"
            ));
            break;
        }
        mft.pieces.push(Piece {
            mft_offset,
            at,
            len,
        });
        mft_offset = mft_offset.saturating_add(len);
    }
    if mft_offset < mft.size {
        if notes.is_empty() {
            notes.push(format!(
                "the $MFT's runs in its own record cover {mft_offset} of its {} bytes (the \
                 rest is in extension records, not followed): records past them are not read",
                mft.size
            ));
        }
        mft.size = mft_offset;
    }
    Ok((geometry, mft, notes))
}

/// Runs as (volume offset, `None` if sparse; bytes).
type Runs = Vec<(Option<u64>, u64)>;

/// The `$MFT`'s unnamed `$DATA` runs as (volume offset, bytes), and its size, through the
/// crate.
fn mft_runs<T>(ntfs: &Ntfs, reader: &mut T) -> Result<(Runs, u64), String>
where
    T: std::io::Read + std::io::Seek,
{
    let file = ntfs.file(reader, 0).map_err(|e| e.to_string())?;
    for attribute in file.attributes_raw() {
        let attribute = attribute.map_err(|e| e.to_string())?;
        let is_data = attribute.ty().is_ok_and(|t| t == NtfsAttributeType::Data);
        if !is_data || !attribute.name().is_ok_and(|n| n.is_empty()) {
            continue;
        }
        let NtfsAttributeValue::NonResident(value) =
            attribute.value(reader).map_err(|e| e.to_string())?
        else {
            return Err("its $DATA is not stored in runs".into());
        };
        let mut runs = Vec::new();
        for run in value.data_runs().take(MAX_RUNS) {
            let run = run.map_err(|e| e.to_string())?;
            runs.push((
                run.data_position().value().map(u64::from),
                run.allocated_size(),
            ));
        }
        return Ok((runs, value.len()));
    }
    Err("it has no $DATA".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use snapsift_disk::MemoryDisk;

    #[test]
    fn mft_bytes_through_its_pieces() {
        let disk = MemoryDisk::new((0..=255u8).cycle().take(4096).collect());
        let volume = Volume {
            disk: &disk,
            start: 0,
            len: 4096,
        };
        let mft = Mft {
            pieces: vec![
                Piece {
                    mft_offset: 0,
                    at: Some(1000),
                    len: 10,
                },
                Piece {
                    mft_offset: 10,
                    at: None,
                    len: 5,
                },
                Piece {
                    mft_offset: 15,
                    at: Some(100),
                    len: 10,
                },
            ],
            size: 25,
        };
        let mut buf = [9u8; 10];
        mft.read(&volume, 8, &mut buf).unwrap();
        assert_eq!(buf, [240, 241, 0, 0, 0, 0, 0, 100, 101, 102]);
        assert_eq!(mft.at(2, 8), Some(1002));
        assert_eq!(mft.at(2, 9), None, "crosses into the sparse piece");
        assert_eq!(mft.at(16, 3), Some(101));
        assert_eq!(mft.at(30, 1), None);
        assert_eq!(mft.extents(), vec![(100..110, 15), (1000..1010, 0)]);
    }

    #[test]
    fn a_volume_without_ntfs_is_refused() {
        let disk = MemoryDisk::new(vec![0u8; 1 << 16]);
        let volume = Volume {
            disk: &disk,
            start: 0,
            len: 1 << 16,
        };
        assert!(matches!(open(&volume), Err(FsError::NotNtfs(_))));
    }
}
