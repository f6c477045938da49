//! Nothing lost, nothing doubled: secrets straddling every chunk boundary, at the first byte
//! and ending at the last byte of the disk are each found exactly once, at the right offset,
//! whatever the chunk size and thread count.

mod common;

use std::path::Path;

use common::*;

const CHUNK: u64 = 64 * 1024;

/// Builds a disk of filler text with a secret across every `CHUNK` boundary, one at offset 0
/// and one ending at the last byte. Returns (offset, secret) of each.
fn disk_with_straddling_secrets(disk: &Path, size: u64, dir: &Path) -> Vec<(u64, String)> {
    let mut secrets = Secrets::new(7);
    let mut bytes = secrets.filler(size as usize);
    let ssh_key = openssh_key(dir, "straddle_key").trim_end().to_owned();
    let mut planted = Vec::new();
    let mut plant = |bytes: &mut Vec<u8>, offset: u64, secret: String| {
        let at = offset as usize;
        bytes[at..at + secret.len()].copy_from_slice(secret.as_bytes());
        // Separators, so that no planted secret runs into its neighbour's bytes.
        if at > 0 {
            bytes[at - 1] = b'\n';
        }
        if let Some(after) = bytes.get_mut(at + secret.len()) {
            *after = b'\n';
        }
        planted.push((offset, secret));
    };
    plant(&mut bytes, 0, secrets.aws_key_id());
    let mut boundary = CHUNK;
    let mut i = 0u64;
    while boundary + CHUNK < size {
        let secret = match i % 5 {
            0 => secrets.aws_key_id(),
            1 => secrets.alibaba_key_id(),
            2 => secrets.postgres_uri(),
            3 => secrets.jdbc_mysql_uri(),
            _ => ssh_key.clone(),
        };
        // Cut the secret at a different place each time, from its first byte to its last.
        let before = 1 + (i * 7) % (secret.len() as u64 - 1);
        plant(&mut bytes, boundary - before, secret);
        boundary += CHUNK;
        i += 1;
    }
    let last = secrets.postgres_uri();
    plant(&mut bytes, size - last.len() as u64, last);
    std::fs::write(disk, &bytes).unwrap();
    planted.sort();
    planted
}

#[test]
fn every_boundary_secret_is_found_once() {
    let dir = workdir();
    let disk = path_in(&dir, "straddle.img");
    let size = 40 * CHUNK + 123;
    let planted = disk_with_straddling_secrets(&disk, size, dir.path());
    assert!(planted.len() > 40);
    for (chunk_size, threads) in [(CHUNK, "2"), (CHUNK, "1"), (4096, "2"), (8 << 20, "2")] {
        let scan = Scan::run(
            &[&disk],
            &[
                "--chunk-size",
                &chunk_size.to_string(),
                "--threads",
                threads,
            ],
        );
        assert_eq!(scan.code, 1, "{}", scan.stderr);
        let found: Vec<(u64, String)> = scan
            .triples()
            .into_iter()
            .map(|(_, offset, secret)| (offset, secret))
            .collect();
        assert_eq!(
            found, planted,
            "chunk size {chunk_size}, {threads} thread(s)"
        );
    }
}

#[test]
fn output_does_not_depend_on_chunking() {
    let dir = workdir();
    let disk = path_in(&dir, "straddle.img");
    disk_with_straddling_secrets(&disk, 20 * CHUNK, dir.path());
    let reference = Scan::run(&[&disk], &[]).findings;
    for chunk_size in ["4096", "65536", "100000"] {
        assert_eq!(
            Scan::run(&[&disk], &["--chunk-size", chunk_size]).findings,
            reference
        );
    }
}
