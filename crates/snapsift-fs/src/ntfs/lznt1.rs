//! LZNT1, the compression of NTFS compressed files (no I/O).
//!
//! A compression unit (usually 16 clusters, 64 KiB) is stored as a run of chunks, each
//! standing for 4096 bytes of the unit: a two-byte header (bit 15: compressed; bits 0-11:
//! the chunk's bytes after the header, minus one), then either the 4096 bytes as they are or
//! LZ77 tokens: a flag byte for each eight tokens, a clear bit for a literal byte, a set bit
//! for a two-byte back-reference whose split between offset and length bits depends on how
//! far into the chunk the output is. A zero header ends the unit early; a chunk decoding to
//! fewer than 4096 bytes is followed by zeros, as NTFS reads it.
//!
//! The output never exceeds the `limit` the caller gives (the unit's size), and input that
//! does not decode is an [`Lznt1Error`], never a panic.

/// Bytes of the unit one chunk stands for.
const CHUNK: usize = 4096;

/// Why a unit did not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Lznt1Error {
    /// A chunk's header says it is longer than what is left of the unit.
    #[error("an LZNT1 chunk at byte {0} runs past the compressed data")]
    Truncated(usize),
    /// A back-reference reaches before the chunk's start.
    #[error("an LZNT1 back-reference at byte {0} reaches before its chunk")]
    BadReference(usize),
    /// A chunk decodes to more than 4096 bytes.
    #[error("an LZNT1 chunk at byte {0} decodes to more than 4096 bytes")]
    Overlong(usize),
}

/// Decodes the compressed unit `input` into at most `limit` bytes.
pub(crate) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, Lznt1Error> {
    let mut out: Vec<u8> = Vec::with_capacity(limit.min(16 * CHUNK));
    let mut at = 0usize;
    while out.len() < limit {
        let header = match input.get(at..at.saturating_add(2)) {
            Some(&[lo, hi]) => u16::from_le_bytes([lo, hi]),
            _ => break,
        };
        if header == 0 {
            break;
        }
        let size = usize::from(header & 0x0FFF).saturating_add(1);
        let data_at = at.saturating_add(2);
        let data_end = data_at.saturating_add(size);
        let data = input
            .get(data_at..data_end)
            .ok_or(Lznt1Error::Truncated(at))?;
        let chunk_start = out.len();
        if header & 0x8000 == 0 {
            out.extend_from_slice(&data[..size.min(CHUNK)]);
        } else {
            chunk(data, &mut out, chunk_start).map_err(|e| match e {
                Token::Reference => Lznt1Error::BadReference(at),
                Token::Overlong => Lznt1Error::Overlong(at),
            })?;
        }
        // A chunk short of 4096 bytes reads as followed by zeros.
        out.resize(chunk_start.saturating_add(CHUNK), 0);
        at = data_end;
    }
    out.truncate(limit);
    Ok(out)
}

/// What went wrong inside a compressed chunk.
enum Token {
    Reference,
    Overlong,
}

/// Decodes one compressed chunk's tokens, appending to `out` (whose chunk starts at
/// `chunk_start`).
fn chunk(data: &[u8], out: &mut Vec<u8>, chunk_start: usize) -> Result<(), Token> {
    let mut at = 0usize;
    while let Some(&flags) = data.get(at) {
        at = at.saturating_add(1);
        for bit in 0..8 {
            let Some(&byte) = data.get(at) else {
                return Ok(());
            };
            let written = out.len().saturating_sub(chunk_start);
            if flags & (1 << bit) == 0 {
                if written >= CHUNK {
                    return Err(Token::Overlong);
                }
                out.push(byte);
                at = at.saturating_add(1);
                continue;
            }
            let Some(&high) = data.get(at.saturating_add(1)) else {
                return Ok(());
            };
            let tag = u16::from_le_bytes([byte, high]);
            at = at.saturating_add(2);
            // The further into the chunk, the more bits go to the offset (4 to 12).
            let mut offset_bits = 4u32;
            let mut reach = written.saturating_sub(1) >> 4;
            while reach > 0 {
                offset_bits = offset_bits.saturating_add(1);
                reach >>= 1;
            }
            let offset_bits = offset_bits.min(12);
            let length_bits = 16u32.saturating_sub(offset_bits);
            let back = usize::from(tag >> length_bits).saturating_add(1);
            let mask = (1u16 << length_bits).saturating_sub(1);
            let len = usize::from(tag & mask).saturating_add(3);
            if back > written {
                return Err(Token::Reference);
            }
            if written.saturating_add(len) > CHUNK {
                return Err(Token::Overlong);
            }
            let from = out.len().saturating_sub(back);
            // The copy may overlap what it writes (a run of one repeated byte).
            for i in 0..len {
                let b = out[from.saturating_add(i)];
                out.push(b);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compressed chunk holding `tokens` (each a literal byte or a (back, len) pair),
    /// encoded as NTFS would, with its header.
    fn compressed(tokens: &[Result<u8, (usize, usize)>]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut written = 0usize;
        for group in tokens.chunks(8) {
            let flags_at = body.len();
            body.push(0u8);
            for (bit, token) in group.iter().enumerate() {
                match *token {
                    Ok(byte) => {
                        body.push(byte);
                        written += 1;
                    }
                    Err((back, len)) => {
                        body[flags_at] |= 1 << bit;
                        let mut offset_bits = 4;
                        let mut reach = (written - 1) >> 4;
                        while reach > 0 {
                            offset_bits += 1;
                            reach >>= 1;
                        }
                        let length_bits = 16 - offset_bits;
                        let tag = (((back - 1) << length_bits) | (len - 3)) as u16;
                        body.extend_from_slice(&tag.to_le_bytes());
                        written += len;
                    }
                }
            }
        }
        let header = 0xB000u16 | (body.len() as u16 - 1);
        let mut chunk = header.to_le_bytes().to_vec();
        chunk.extend(body);
        chunk
    }

    #[test]
    fn literals_references_and_overlapping_copies() {
        // "abcabcabc" + 20 x 'z': a reference 3 back of length 6, then one 1 back of 19.
        let tokens = [
            Ok(b'a'),
            Ok(b'b'),
            Ok(b'c'),
            Err((3, 6)),
            Ok(b'z'),
            Err((1, 19)),
        ];
        let unit = compressed(&tokens);
        let out = decompress(&unit, 65536).unwrap();
        assert_eq!(out.len(), 4096, "one chunk, padded to its 4096 bytes");
        assert_eq!(&out[..9], b"abcabcabc");
        assert_eq!(&out[9..29], &[b'z'; 20]);
        assert!(out[29..].iter().all(|&b| b == 0));
        // The limit cuts the output, wherever it falls.
        assert_eq!(decompress(&unit, 5).unwrap(), b"abcab");
    }

    #[test]
    fn offsets_grow_with_the_position_in_the_chunk() {
        // 300 literals, then a reference 290 back: past 256 bytes the offset has 9 bits.
        let mut tokens: Vec<Result<u8, (usize, usize)>> =
            (0..300u32).map(|i| Ok((i % 200) as u8 + 1)).collect();
        tokens.push(Err((290, 10)));
        let out = decompress(&compressed(&tokens), 4096).unwrap();
        let expected: Vec<u8> = (0..300u32).map(|i| (i % 200) as u8 + 1).collect();
        assert_eq!(&out[..300], &expected[..]);
        assert_eq!(&out[300..310], &expected[10..20]);
    }

    #[test]
    fn stored_chunks_and_the_end_marker() {
        let mut unit = (0x3000u16 | 4095).to_le_bytes().to_vec();
        unit.extend(std::iter::repeat_n(7u8, 4096));
        unit.extend(compressed(&[Ok(1), Ok(2)]));
        unit.extend([0, 0]);
        unit.extend(compressed(&[Ok(9)]));
        let out = decompress(&unit, 65536).unwrap();
        assert_eq!(out.len(), 8192, "the end marker stops the unit");
        assert!(out[..4096].iter().all(|&b| b == 7));
        assert_eq!(&out[4096..4098], &[1, 2]);
    }

    #[test]
    fn corrupt_units_are_errors() {
        // A reference before anything was written.
        let mut bad = compressed(&[Ok(1), Err((1, 3))]);
        bad[2] = 0x01; // the flag byte now says the first token is a reference
        assert!(decompress(&bad, 4096).is_err());
        // A chunk longer than the data.
        assert_eq!(
            decompress(&[0x10, 0xB0, 0x00], 4096),
            Err(Lznt1Error::Truncated(0))
        );
        // A chunk decoding past 4096 bytes: many maximal copies.
        let mut overlong = vec![Ok(5u8)];
        overlong.extend(std::iter::repeat_n(Err((1, 18)), 300));
        assert!(matches!(
            decompress(&compressed(&overlong), 65536),
            Err(Lznt1Error::Overlong(0))
        ));
        // Random input: errors or output within the limit, never a panic.
        let mut state = 0x1234_5678_9abc_def1u64;
        for _ in 0..2000 {
            let len = (state % 300) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            if let Ok(out) = decompress(&bytes, 10_000) {
                assert!(out.len() <= 10_000);
            }
        }
    }
}
