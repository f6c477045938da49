//! Shared by the filesystem tests: running the real tools that build images, and generated
//! content.

#![allow(dead_code)] // Each test binary uses a different part of this module.

pub mod lvm;
pub mod ntfs;

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `program args...`, failing the test with its standard error if it does not succeed;
/// returns its standard output.
pub fn run(program: &str, args: &[&str]) -> String {
    run_with_input(program, args, "")
}

/// [`run`], with `input` on the program's standard input.
pub fn run_with_input(program: &str, args: &[&str], input: &str) -> String {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program} (is it installed?): {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A temporary directory for one test's images.
pub fn workdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("snapsift-fs-test-")
        .tempdir()
        .unwrap()
}

/// Deterministic pseudo-random numbers (xorshift64).
pub struct Rng(pub u64);

impl Rng {
    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

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

/// Deterministic bytes with no zero byte (mke2fs -d turns zero blocks into holes).
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    (0..len).map(|_| (rng.below(255) + 1) as u8).collect()
}
