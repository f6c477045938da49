//! What the filesystem tests share beyond snapsift-testkit: hostile damage to real images,
//! and the NTFS trees and The Sleuth Kit oracle ([`ntfs`]).

use std::path::Path;

use snapsift_testkit::{Rng, run_stdout};

pub mod ntfs;

/// Damages 1 to 40 places of `bytes` inside `hot`: a flipped bit, a random byte, or a
/// 32-bit word set to 0, all ones, 1 or a random value (what hostile lengths and offsets
/// look like).
pub fn damage(bytes: &mut [u8], rng: &mut Rng, hot: std::ops::Range<usize>) {
    let flips = 1 + rng.below(40);
    for _ in 0..flips {
        let at = hot.start + rng.below((hot.end - hot.start) as u64) as usize;
        match rng.below(3) {
            0 => bytes[at] ^= 1 << rng.below(8),
            1 => bytes[at] = rng.next() as u8,
            _ => {
                let at = at & !3;
                let value = [0u32, u32::MAX, 1, rng.next() as u32][rng.below(4) as usize];
                bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
            }
        }
    }
}

/// The first extent tree block (`ETB0`) of the file at `path` in the ext4 image, as `debugfs
/// stat` lists it: a file with more extents than its inode holds has one.
pub fn extent_tree_block(image: &Path, path: &str) -> u64 {
    let stat = run_stdout(
        "debugfs",
        &["-R", &format!("stat {path}"), image.to_str().unwrap()],
    );
    stat.split("(ETB0):")
        .nth(1)
        .expect("an extent tree block")
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}
