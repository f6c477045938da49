//! Decoding btrfs's compressed extents: zlib and zstd streams, and LZO1X in btrfs's own
//! framing; [`read_extent`] reads an extent's bytes for the file pass, the rest does no I/O.
//!
//! Every decode is bounded: the caller gives the most bytes it wants, and the decoders stop
//! there (the sizes an image records are never trusted for an allocation).

use std::io::Read;

use snapsift_disk::Disk;

use crate::FsError;
use crate::content::Compression;

/// Compressed bytes one extent may hold, and decoded bytes it may give. btrfs compresses at
/// most 128 KiB into one extent; this leaves room, and refuses what only a hostile image
/// claims.
pub(crate) const MAX_EXTENT: u64 = 1 << 20;

/// The codec of an extent's compression byte: 1 zlib, 2 lzo, 3 zstd.
pub(crate) fn codec(byte: u8) -> Option<Compression> {
    match byte {
        1 => Some(Compression::Zlib),
        2 => Some(Compression::BtrfsLzo),
        3 => Some(Compression::Zstd),
        _ => None,
    }
}

/// Decodes `compressed` with `codec`, giving at most `limit` bytes; `sector` is the
/// filesystem's sector size (LZO's framing pads to it). An error says what was wrong.
pub(crate) fn decode(
    codec: Compression,
    compressed: &[u8],
    limit: usize,
    sector: usize,
) -> Result<Vec<u8>, String> {
    let limit = limit.min(usize::try_from(MAX_EXTENT).unwrap_or(usize::MAX));
    let mut out = Vec::new();
    let bound = u64::try_from(limit).unwrap_or(u64::MAX);
    match codec {
        Compression::Zlib => {
            flate2::read::ZlibDecoder::new(compressed)
                .take(bound)
                .read_to_end(&mut out)
                .map_err(|e| format!("zlib: {e}"))?;
        }
        Compression::Zstd => {
            zstd::stream::read::Decoder::with_buffer(compressed)
                .map_err(|e| format!("zstd: {e}"))?
                .single_frame()
                .take(bound)
                .read_to_end(&mut out)
                .map_err(|e| format!("zstd: {e}"))?;
        }
        Compression::BtrfsLzo => return lzo(compressed, limit, sector),
    }
    Ok(out)
}

/// Decodes btrfs's LZO framing: the total length (4 bytes, little-endian, itself included),
/// then segments, each its length (4 bytes) and an LZO1X stream of at most one sector; a
/// segment's length never straddles a sector (the rest of the sector is padding then).
fn lzo(compressed: &[u8], limit: usize, sector: usize) -> Result<Vec<u8>, String> {
    let word = |at: usize| {
        at.checked_add(4)
            .and_then(|end| compressed.get(at..end))
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .and_then(|v| usize::try_from(v).ok())
    };
    let total = word(0).ok_or("lzo: no total length")?;
    if total < 4 || total > compressed.len() {
        return Err(format!(
            "lzo: a total length of {total} bytes in an extent of {}",
            compressed.len()
        ));
    }
    let sector = sector.max(4096);
    let mut out = Vec::new();
    let mut segment = vec![0u8; sector];
    let mut at = 4usize;
    while at < total && out.len() < limit {
        if sector.saturating_sub(at.checked_rem(sector).unwrap_or(0)) < 4 {
            at = at.div_ceil(sector).saturating_mul(sector);
            if at >= total {
                break;
            }
        }
        let len = word(at).ok_or("lzo: a segment length past the extent")?;
        let start = at.saturating_add(4);
        let end = start.saturating_add(len);
        let input = compressed
            .get(start..end.min(total))
            .filter(|_| end <= total && len > 0)
            .ok_or_else(|| format!("lzo: a segment of {len} bytes at {at} past the extent"))?;
        let n = lzokay::decompress::decompress(input, &mut segment)
            .map_err(|e| format!("lzo: segment at {at}: {e}"))?;
        out.extend_from_slice(&segment[..n.min(segment.len())]);
        at = end;
    }
    out.truncate(limit);
    Ok(out)
}

/// Reads the compressed btrfs extent (codec, volume offset, bytes, sector size) through
/// `disk` and decodes its first `upto` bytes (at most
/// [`MAX_EXTENT`] either way).
pub(crate) fn read_extent(
    disk: &dyn Disk,
    volume_start: u64,
    (codec, at, len, sector): (Compression, u64, u64, u32),
    upto: u64,
) -> Result<Vec<u8>, FsError> {
    if len > MAX_EXTENT || upto > MAX_EXTENT {
        return Err(FsError::Corrupt(format!(
            "a compressed btrfs extent larger than {MAX_EXTENT} bytes"
        )));
    }
    let at = at.checked_add(volume_start).ok_or_else(|| {
        FsError::Corrupt("a compressed extent lies past the end of addressable bytes".into())
    })?;
    let mut compressed = vec![0u8; usize::try_from(len).unwrap_or(0)];
    disk.read_exact_at(at, &mut compressed)?;
    let limit = usize::try_from(upto).unwrap_or(0);
    let sector = usize::try_from(sector).unwrap_or(4096);
    decode(codec, &compressed, limit, sector)
        .map_err(|e| FsError::Corrupt(format!("a compressed btrfs extent: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn zlib_and_zstd_decode_within_their_limit() {
        let text = b"secret ".repeat(1000);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&text).unwrap();
        let z = z.finish().unwrap();
        assert_eq!(decode(Compression::Zlib, &z, 1 << 20, 4096).unwrap(), text);
        assert_eq!(
            decode(Compression::Zlib, &z, 10, 4096).unwrap(),
            &text[..10]
        );
        let mut zs = zstd::encode_all(&text[..], 3).unwrap();
        // btrfs pads the frame to a sector: the padding is not read.
        zs.resize(4096, 0);
        assert_eq!(decode(Compression::Zstd, &zs, 1 << 20, 4096).unwrap(), text);
        assert!(decode(Compression::Zstd, b"junk", 100, 4096).is_err());
        assert!(decode(Compression::Zlib, b"junk", 100, 4096).is_err());
    }

    #[test]
    fn compressed_spans_decode_when_read() {
        use crate::content::{FileContent, Piece, Span};
        use snapsift_disk::MemoryDisk;
        let text = b"0123456789".repeat(100);
        let zs = zstd::encode_all(&text[..], 3).unwrap();
        let mut bytes = vec![0xaau8; 100];
        bytes.extend_from_slice(&zs);
        let disk = MemoryDisk::new(bytes);
        let span = |len: u64| Span {
            start: 0,
            len: 50,
            piece: Piece::Compressed {
                codec: Compression::Zstd,
                at: 100,
                len,
                skip: 5,
                sector: 4096,
            },
        };
        let content = FileContent::new(50, vec![span(zs.len() as u64)]);
        let mut buf = [0u8; 50];
        assert_eq!(content.read_at(&disk, 0, 0, &mut buf).unwrap(), 50);
        assert_eq!(&buf[..], &text[5..55]);
        assert_eq!(
            content.volume_range(0..10),
            None,
            "never verbatim on the disk"
        );
        let mut part = [0u8; 4];
        content.read_at(&disk, 0, 10, &mut part).unwrap();
        assert_eq!(&part, b"5678");
        // An extent claiming more than an extent holds, or past the disk: errors.
        let huge = FileContent::new(50, vec![span(MAX_EXTENT + 1)]);
        assert!(huge.read_at(&disk, 0, 0, &mut buf).is_err());
        let past = FileContent::new(50, vec![span(1 << 19)]);
        assert!(past.read_at(&disk, 0, 0, &mut buf).is_err());
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let zeros = vec![0u8; 8 << 20];
        let zs = zstd::encode_all(&zeros[..], 3).unwrap();
        let out = decode(Compression::Zstd, &zs, usize::MAX, 4096).unwrap();
        assert_eq!(out.len() as u64, MAX_EXTENT);
    }

    /// An LZO1X stream of `literal` alone (a literal run, then the end marker).
    fn lzo_literal(literal: &[u8]) -> Vec<u8> {
        assert!(literal.len() > 3 && literal.len() < 238);
        let mut s = vec![17 + literal.len() as u8];
        s.extend_from_slice(literal);
        s.extend_from_slice(&[0x11, 0, 0]);
        s
    }

    /// btrfs's LZO framing of `segments`, padding to the next sector where fewer than 4
    /// bytes of a sector are left for a segment's length.
    fn lzo_framed(segments: &[Vec<u8>]) -> Vec<u8> {
        let mut framed = vec![0u8; 4];
        for segment in segments {
            if 4096 - framed.len() % 4096 < 4 {
                framed.resize(framed.len().div_ceil(4096) * 4096, 0);
            }
            framed.extend_from_slice(&(segment.len() as u32).to_le_bytes());
            framed.extend_from_slice(segment);
        }
        let total = framed.len() as u32;
        framed[..4].copy_from_slice(&total.to_le_bytes());
        framed
    }

    #[test]
    fn lzo_framing_with_padding_and_hostile_lengths() {
        // 16 segments of 240 bytes and 2 of 125 end 2 bytes before the sector's end: the
        // 19th segment's length is on the next sector.
        let mut segments: Vec<Vec<u8>> = (0..16u8).map(|i| lzo_literal(&[b'a' + i; 232])).collect();
        segments.push(lzo_literal(&[b'x'; 117]));
        segments.push(lzo_literal(&[b'y'; 117]));
        segments.push(lzo_literal(b"after the padding"));
        let framed = lzo_framed(&segments);
        assert_eq!(framed.len(), 4096 + 4 + 21);
        let out = decode(Compression::BtrfsLzo, &framed, 1 << 20, 4096).unwrap();
        assert_eq!(out.len(), 16 * 232 + 2 * 117 + 17);
        assert!(out.ends_with(b"yyyafter the padding"));
        assert_eq!(
            decode(Compression::BtrfsLzo, &framed, 5, 4096).unwrap(),
            b"aaaaa"
        );
        // A segment claiming more than the extent, a total past the bytes, junk.
        let mut long = framed.clone();
        long[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(Compression::BtrfsLzo, &long, 1000, 4096).is_err());
        let mut past = framed.clone();
        past[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(Compression::BtrfsLzo, &past, 1000, 4096).is_err());
        assert!(decode(Compression::BtrfsLzo, &[8, 0, 0, 0, 0, 0, 0, 0], 1000, 4096).is_err());
        assert!(decode(Compression::BtrfsLzo, &[], 1000, 4096).is_err());
    }
}
