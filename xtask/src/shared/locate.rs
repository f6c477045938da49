//! Finding where planted secrets ended up on a disk image.
//!
//! A secret written into a file lands wherever the file system put the file's blocks, so its
//! disk offset is only known by looking. Looking also checks the image: a secret must be there
//! exactly once, in one piece (a file fragmented across it would split it, and a raw scanner
//! could not see it then).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use aho_corasick::AhoCorasick;
use anyhow::{Context, Result};

/// Bytes read from the image at a time.
const CHUNK: usize = 8 << 20;

/// For each of `needles`, the byte offsets of all its occurrences in the file at `path`
/// (overlapping ones included), in increasing order. Streams the file: memory use is a few
/// chunks, however large the image.
pub fn find_all(path: &Path, needles: &[&[u8]]) -> Result<Vec<Vec<u64>>> {
    let mut found = vec![Vec::new(); needles.len()];
    if needles.is_empty() {
        return Ok(found);
    }
    let automaton = AhoCorasick::new(needles).context("building the secret finder")?;
    // Keep the last `overlap` bytes of each chunk in front of the next, so that a needle
    // crossing a chunk boundary is seen whole. A match lying entirely in that carried-over part
    // was already reported with the previous chunk.
    let overlap = needles.iter().map(|n| n.len()).max().unwrap_or(1) - 1;
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut buf = vec![0u8; overlap + CHUNK];
    let mut carried = 0; // bytes at the start of buf kept from the previous chunk
    let mut buf_offset = 0u64; // file offset of buf[0]
    loop {
        let read = read_full(&mut file, &mut buf[carried..])?;
        if read == 0 {
            break;
        }
        let filled = carried + read;
        for m in automaton.find_overlapping_iter(&buf[..filled]) {
            if m.end() > carried {
                found[m.pattern().as_usize()].push(buf_offset + m.start() as u64);
            }
        }
        let keep = overlap.min(filled);
        buf.copy_within(filled - keep..filled, 0);
        buf_offset += (filled - keep) as u64;
        carried = keep;
    }
    for offsets in &mut found {
        offsets.sort_unstable();
    }
    Ok(found)
}

/// Reads until `buf` is full or the file ends; returns the number of bytes read.
fn read_full(file: &mut File, buf: &mut [u8]) -> Result<usize> {
    let mut total = 0;
    while total < buf.len() {
        match file.read(&mut buf[total..])? {
            0 => break,
            n => total += n,
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_needles_across_chunk_boundaries() {
        let dir = std::env::temp_dir().join(format!("xtask-locate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("img");
        let mut data = vec![0u8; CHUNK * 2 + 100];
        let at = [5usize, CHUNK - 3, CHUNK * 2 + 90];
        for &i in &at {
            data[i..i + 6].copy_from_slice(b"SECRET");
        }
        data[CHUNK + 10..CHUNK + 15].copy_from_slice(b"OTHER");
        std::fs::write(&path, &data).unwrap();
        let found = find_all(&path, &[b"SECRET", b"OTHER", b"ABSENT"]).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(found[0], at.map(|i| i as u64));
        assert_eq!(found[1], [(CHUNK + 10) as u64]);
        assert!(found[2].is_empty());
    }
}
