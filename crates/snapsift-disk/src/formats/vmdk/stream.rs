//! streamOptimized extents: markers, the footer, and compressed grains.
//!
//! A streamOptimized extent is written front to back: each grain is a grain marker (the grain's
//! first sector and the length of its compressed bytes) followed by the grain deflated with a
//! zlib wrapper; grain tables and the grain directory follow their own metadata markers, and
//! since they are only known at the end, the header at the start of the file may say
//! `gdOffset = GD_AT_END`, meaning the real header is the footer: a footer marker, a copy of the
//! header, and the end-of-stream marker, in the last three sectors of the file.
//!
//! Grain tables still point at grains (at their markers), so once the footer is read the
//! extent is read like any sparse extent, except that each grain is inflated as it is read.
//!
//! A file cut short has lost its footer, and with it the only grain directory. Its grains are
//! still where they were: [`recover`] walks the markers from the first grain to the cut.

use flate2::{Decompress, FlushDecompress, Status};

use super::sparse::{HEADER_BYTES, SECTOR, SparseHeader};
use crate::data_map::describe;
use crate::formats::refusal::Refusal;
use crate::host::Host;

/// Marker type of the end-of-stream marker, the file's last sector.
const MARKER_END_OF_STREAM: u32 = 0;
/// Marker type of a grain table's marker.
const MARKER_GRAIN_TABLE: u32 = 1;
/// Marker type of the grain directory's marker.
const MARKER_GRAIN_DIRECTORY: u32 = 2;
/// Marker type of the footer marker, which precedes the footer (a copy of the header).
const MARKER_FOOTER: u32 = 3;

/// At most this many grains are recovered from a stream without a footer (1 TiB of 64 KiB
/// grains; 256 MiB of memory while they are sorted): the grains after them are reported lost.
const MAX_RECOVERED_GRAINS: usize = 1 << 24;

/// The bytes at the end of a streamOptimized file that hold its footer: the footer marker, the
/// footer and the end-of-stream marker, one sector each.
pub(super) const FOOTER_TAIL_BYTES: u64 = 3 * SECTOR;

/// The length of a grain marker's header (`lba: u64, size: u32`); the compressed bytes follow.
pub(super) const GRAIN_MARKER_BYTES: usize = 12;

/// The header of a compressed grain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct GrainMarker {
    /// The grain's first sector in the extent.
    pub(super) lba: u64,
    /// The length of its compressed bytes.
    pub(super) size: u32,
}

/// Parses a grain marker's 12-byte header.
pub(super) fn parse_grain_marker(bytes: &[u8; GRAIN_MARKER_BYTES]) -> GrainMarker {
    let (lba, size) = bytes.split_at(8);
    GrainMarker {
        lba: u64::from_le_bytes(lba.try_into().unwrap_or_default()),
        size: u32::from_le_bytes(size.try_into().unwrap_or_default()),
    }
}

/// A metadata marker (`numSectors: u64, size: u32 = 0, type: u32`): its type, or `None` if the
/// sector is not a metadata marker.
fn metadata_marker_type(sector: &[u8]) -> Option<u32> {
    let size = u32::from_le_bytes(*sector.get(8..)?.first_chunk::<4>()?);
    let kind = u32::from_le_bytes(*sector.get(12..)?.first_chunk::<4>()?);
    (size == 0).then_some(kind)
}

/// The footer (a sparse header) inside the last [`FOOTER_TAIL_BYTES`] of a streamOptimized
/// file, after checking the markers around it.
pub(super) fn footer(tail: &[u8]) -> Result<&[u8], Refusal> {
    let sector = usize::try_from(SECTOR).unwrap_or(usize::MAX);
    let missing = |what: &str| {
        Refusal::Corrupt(format!(
            "the header says the grain directory is at the end (GD_AT_END), but {what}"
        ))
    };
    let mut sectors = tail.chunks_exact(sector);
    let (Some(footer_marker), Some(footer), Some(end_marker), None) = (
        sectors.next(),
        sectors.next(),
        sectors.next(),
        sectors.next(),
    ) else {
        return Err(missing("the file is too short to hold a footer"));
    };
    if metadata_marker_type(footer_marker) != Some(MARKER_FOOTER) {
        return Err(missing(
            "there is no footer marker 1536 bytes before the file's end",
        ));
    }
    if metadata_marker_type(end_marker) != Some(MARKER_END_OF_STREAM) {
        return Err(missing(
            "the file does not end with an end-of-stream marker",
        ));
    }
    Ok(footer)
}

/// What [`recover`] found of a stream without its footer.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Recovered {
    /// `(grain, sector of its marker)`, sorted by grain, each grain once (the last copy the
    /// stream holds).
    pub(super) grains: Vec<(u64, u32)>,
    /// Whether the grains came in disk order, as VMware and qemu write them; if so, the grains
    /// lost with the cut are those after the last one found, from the grain the cut went
    /// through if its marker says which.
    pub(super) ordered: bool,
    /// The grain whose bytes the cut went through, when its marker was read.
    pub(super) cut_grain: Option<u64>,
    /// Why the walk stopped: where the stream is cut.
    pub(super) cut: String,
}

/// Walks the markers of the streamOptimized file in `host` (whose first header is `header`)
/// from its first grain to where it is cut (the end of the file, a read that fails, a grain
/// whose bytes run past the end, or bytes that are no marker), and returns the whole grains
/// found. Each step reads one sector and moves on by at least one, so the walk is bounded by
/// the file's length.
pub(super) fn recover(host: &Host, header: &SparseHeader) -> Recovered {
    let file_len = host.len();
    let mut found = Recovered {
        ordered: true,
        ..Recovered::default()
    };
    // Grains start after the metadata (`overHead`); without it, after the descriptor.
    let mut at = match header.overhead {
        0 => header
            .descriptor_offset
            .saturating_add(header.descriptor_sectors)
            .max(1),
        overhead => overhead,
    };
    let grain_sectors = header.grain_sectors.max(1);
    let stop = loop {
        let Some(pos) = at.checked_mul(SECTOR).filter(|&pos| pos < file_len) else {
            break format!("the file ends at byte {file_len}");
        };
        if found.grains.len() >= MAX_RECOVERED_GRAINS {
            break format!(
                "it holds more than {MAX_RECOVERED_GRAINS} grains, and no more are read"
            );
        }
        let mut sector = [0u8; HEADER_BYTES];
        let n = usize::try_from(file_len.saturating_sub(pos))
            .map_or(sector.len(), |n| n.min(sector.len()));
        let Some(bytes) = sector.get_mut(..n) else {
            break format!("the file ends at byte {file_len}");
        };
        if let Err(error) = host.read_exact_at(pos, bytes) {
            break format!("byte {pos} cannot be read: {}", describe(&error));
        }
        if n < 16 {
            break format!("the file ends inside the marker at byte {pos}");
        }
        let value = u64::from_le_bytes(sector[..8].try_into().unwrap_or_default());
        let size = u32::from_le_bytes(sector[8..12].try_into().unwrap_or_default());
        let kind = u32::from_le_bytes(sector[12..16].try_into().unwrap_or_default());
        let next = if size != 0 {
            // A grain marker: the grain's first sector, then its compressed bytes.
            let end = pos
                .checked_add(GRAIN_MARKER_BYTES as u64)
                .and_then(|end| end.checked_add(u64::from(size)));
            if end.is_none_or(|end| end > file_len) {
                found.cut_grain = value.checked_div(grain_sectors);
                break format!("the file ends inside the grain at sector {value}");
            }
            let (Ok(sector_no), true) = (
                u32::try_from(at),
                value.is_multiple_of(grain_sectors) && value < header.capacity,
            ) else {
                break format!("byte {pos} holds no grain marker a stream would have");
            };
            let grain = value.checked_div(grain_sectors).unwrap_or(0);
            if found.grains.last().is_some_and(|&(last, _)| grain <= last) {
                found.ordered = false;
            }
            found.grains.push((grain, sector_no));
            let len = (GRAIN_MARKER_BYTES as u64).saturating_add(u64::from(size));
            at.checked_add(len.div_ceil(SECTOR))
        } else {
            match kind {
                MARKER_END_OF_STREAM => {
                    break format!("its end-of-stream marker (byte {pos}) has no footer before it");
                }
                MARKER_GRAIN_TABLE | MARKER_GRAIN_DIRECTORY | MARKER_FOOTER => {
                    at.checked_add(1).and_then(|next| next.checked_add(value))
                }
                _ => break format!("byte {pos} holds no marker a stream would have"),
            }
        };
        match next {
            Some(next) => at = next,
            None => break format!("the marker at byte {pos} points past 2^64 bytes"),
        }
    };
    found.cut = format!(
        "the streamOptimized file has no footer (it is truncated or damaged: {stop}); the grains \
         not found before that are lost"
    );
    // Stable: of two copies of a grain, the one later in the stream stays last, and is kept.
    found.grains.sort_by_key(|&(grain, _)| grain);
    let before = found.grains.len();
    found.grains.reverse();
    found.grains.dedup_by_key(|&mut (grain, _)| grain);
    found.grains.reverse();
    if found.grains.len() != before {
        found.ordered = false;
    }
    found
}

/// Inflates one grain's compressed bytes (zlib-wrapped deflate) into `out`, which is one grain
/// long, and returns how many bytes the stream held. Fewer bytes than a grain are allowed (the
/// caller reads the rest as zeros, as for the last grain of a disk whose size is not a whole
/// number of grains); more, a damaged stream, or one that ends early are corrupt.
pub(super) fn inflate_grain(
    compressed: &[u8],
    out: &mut [u8],
    inflater: &mut Decompress,
) -> Result<usize, Refusal> {
    let corrupt = |why: String| Refusal::Corrupt(format!("a compressed grain {why}"));
    inflater.reset(true);
    let status = inflater
        .decompress(compressed, out, FlushDecompress::Finish)
        .map_err(|err| corrupt(format!("does not inflate: {err}")))?;
    let produced = usize::try_from(inflater.total_out()).unwrap_or(usize::MAX);
    if status == Status::StreamEnd {
        return Ok(produced);
    }
    if produced < out.len() {
        return Err(corrupt(
            "ends before its deflate stream does (truncated compressed data)".into(),
        ));
    }
    // The grain is full but the stream has not said it ended: only its trailer may remain.
    let consumed = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX);
    let rest = compressed.get(consumed..).unwrap_or_default();
    let mut overflow = [0u8; 1];
    let status = inflater
        .decompress(rest, &mut overflow, FlushDecompress::Finish)
        .map_err(|err| corrupt(format!("does not inflate: {err}")))?;
    let total_out = usize::try_from(inflater.total_out()).unwrap_or(usize::MAX);
    if total_out > out.len() {
        return Err(corrupt(format!(
            "inflates to more than a grain ({} bytes)",
            out.len()
        )));
    }
    if status != Status::StreamEnd {
        return Err(corrupt(
            "ends before its deflate stream does (truncated compressed data)".into(),
        ));
    }
    Ok(produced)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::ZlibEncoder;

    use super::*;

    fn deflate(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn grain(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn inflates_a_whole_grain() {
        let data = grain(65536);
        let mut out = vec![0u8; 65536];
        let mut inflater = Decompress::new(true);
        assert_eq!(
            inflate_grain(&deflate(&data), &mut out, &mut inflater),
            Ok(65536)
        );
        assert_eq!(out, data);
        // The inflater is reused: the second grain must not see the first one's state.
        let other = vec![9u8; 65536];
        assert_eq!(
            inflate_grain(&deflate(&other), &mut out, &mut inflater),
            Ok(65536)
        );
        assert_eq!(out, other);
    }

    #[test]
    fn allows_a_short_grain() {
        let mut out = vec![0u8; 4096];
        let got = inflate_grain(&deflate(&grain(1000)), &mut out, &mut Decompress::new(true));
        assert_eq!(got, Ok(1000));
    }

    #[test]
    fn refuses_overlong_truncated_and_garbage_grains() {
        let mut inflater = Decompress::new(true);
        let mut out = vec![0u8; 4096];
        let long = deflate(&grain(4097));
        assert!(inflate_grain(&long, &mut out, &mut inflater).is_err());
        let full = deflate(&grain(4096));
        for cut in [0, 1, 2, full.len() / 2, full.len() - 1] {
            let got = inflate_grain(&full[..cut], &mut out, &mut inflater);
            assert!(got.is_err(), "cut at {cut}: {got:?}");
        }
        let garbage = vec![0x5a; 300];
        assert!(inflate_grain(&garbage, &mut out, &mut inflater).is_err());
    }

    #[test]
    fn checks_the_footer_markers() {
        let mut tail = vec![0u8; 1536];
        tail[12] = 3; // footer marker
        tail[512..516].copy_from_slice(b"KDMV");
        assert_eq!(footer(&tail).map(|f| &f[..4]), Ok(&b"KDMV"[..]));
        tail[12] = 2;
        assert!(footer(&tail).is_err());
        tail[12] = 3;
        tail[1024 + 12] = 1;
        assert!(footer(&tail).is_err());
        assert!(footer(&tail[..1024]).is_err());
    }

    #[test]
    fn parses_grain_markers() {
        let mut bytes = [0u8; 12];
        bytes[..8].copy_from_slice(&256u64.to_le_bytes());
        bytes[8..].copy_from_slice(&1234u32.to_le_bytes());
        assert_eq!(
            parse_grain_marker(&bytes),
            GrainMarker {
                lba: 256,
                size: 1234
            }
        );
    }
}
