//! The benchmark's baseline: reading the image as fast as plain `pread()` allows.
//!
//! Two threads (by default) read alternating 8 MiB chunks, thread t taking chunks t, t + n,
//! t + 2n, ... and touch one byte per 4 KiB page so the reads cannot be optimised away. This is
//! the floor for any scanner of the same bytes with the same parallelism: the time to get them
//! from the page cache into user space, and nothing else.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use anyhow::{Context, Result, ensure};

/// Bytes per read.
const CHUNK: u64 = 8 << 20;
/// Bytes between the bytes folded into the checksum.
const PAGE: usize = 4096;

/// `xtask read-file PATH`: reads the file and prints its size and checksum.
pub fn run(path: &Path, threads: usize) -> Result<()> {
    let (bytes, checksum) = parallel_read(path, threads)?;
    println!("read {bytes} bytes with {threads} threads, checksum {checksum:02x}");
    Ok(())
}

/// Reads all of `path` with `threads` threads of pread()s; returns the byte count and the XOR
/// of the first byte of every 4 KiB.
pub fn parallel_read(path: &Path, threads: usize) -> Result<(u64, u8)> {
    ensure!(threads > 0, "need at least one thread");
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = file.metadata()?.len();
    let checksums = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads as u64)
            .map(|t| {
                let file = &file;
                scope.spawn(move || -> std::io::Result<u8> {
                    // Page-aligned buffer: the kernel's copy into a misaligned one (as the
                    // allocator returns for big blocks: page + 16 bytes) runs at a fraction of
                    // the speed on some CPUs, which would make this baseline a straw man.
                    let mut backing = vec![0u8; CHUNK as usize + PAGE];
                    let skip = backing.as_ptr().align_offset(PAGE);
                    let buf = &mut backing[skip..skip + CHUNK as usize];
                    let mut acc = 0u8;
                    let mut offset = t * CHUNK;
                    while offset < len {
                        let n = (len - offset).min(CHUNK) as usize;
                        file.read_exact_at(&mut buf[..n], offset)?;
                        acc ^= buf[..n].iter().step_by(PAGE).fold(0, |a, b| a ^ b);
                        offset += CHUNK * threads as u64;
                    }
                    Ok(std::hint::black_box(acc))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("reader thread panicked"))
            .collect::<std::io::Result<Vec<u8>>>()
    })?;
    Ok((len, checksums.into_iter().fold(0, |a, b| a ^ b)))
}
