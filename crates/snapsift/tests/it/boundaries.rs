//! Nothing lost, nothing doubled: secrets straddling every chunk boundary, at the first byte
//! and ending at the last byte of the disk are each found exactly once, at the right offset,
//! whatever the chunk size and thread count.

use std::path::Path;

use snapsift_testkit::{Secrets, openssh_key, pgp_key_with_photo, rsa_pem_key_of, workdir};

use crate::common::*;

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

/// The overlap contract, for keys longer than a page: an 8192-bit RSA key (6.2 KiB) and a
/// 71 KiB PGP key block (a photo ID makes it long) planted across chunk boundaries, cut after
/// their first byte, in their middle and before their last byte, are each found once, at
/// their offset, whole (the PGP block cut at its rule's 64 KiB and marked so) and valid,
/// at chunk sizes from one page to the default. An overlap of one page loses them.
#[test]
fn keys_longer_than_a_page_across_chunk_boundaries_are_found() {
    const MIB: u64 = 1 << 20;
    const PGP_REACH: usize = 65536;
    let dir = workdir();
    let rsa = rsa_pem_key_of(8192).trim_end().to_owned();
    let pgp = pgp_key_with_photo(dir.path(), 54_000).trim_end().to_owned();
    assert!(rsa.len() > 6000, "{}", rsa.len());
    assert!(pgp.len() > 70 * 1024, "{}", pgp.len());
    let mut secrets = Secrets::new(19);
    let mut bytes = secrets.filler(8 * MIB as usize);
    // Every MiB is a chunk boundary at each chunk size below.
    let plants: Vec<(u64, &str)> = vec![
        (MIB - 1, &rsa),
        (2 * MIB - rsa.len() as u64 / 2, &rsa),
        (3 * MIB - (rsa.len() as u64 - 1), &rsa),
        (4 * MIB - 1, &pgp),
        (5 * MIB - 30_000, &pgp),
        (6 * MIB - PGP_REACH as u64, &pgp),
        (7 * MIB - (pgp.len() as u64 - 1), &pgp),
    ];
    for &(offset, key) in &plants {
        let at = offset as usize;
        bytes[at - 1] = b'\n';
        bytes[at..at + key.len()].copy_from_slice(key.as_bytes());
        bytes[at + key.len()] = b'\n';
    }
    let disk = path_in(&dir, "long-keys.img");
    std::fs::write(&disk, &bytes).unwrap();
    let expected: Vec<(String, u64, String)> = plants
        .iter()
        .map(|&(offset, key)| match key.strip_prefix("-----BEGIN PGP") {
            Some(_) => ("pgp.private-key".into(), offset, key[..PGP_REACH].into()),
            None => ("private-key.rsa".into(), offset, key.into()),
        })
        .collect();
    for chunk_size in [4096, 65536, MIB, 8 * MIB] {
        let scan = Scan::run(
            &[&disk],
            &["--chunk-size", &chunk_size.to_string(), "--threads", "2"],
        );
        assert_eq!(scan.code, 1, "{}", scan.stderr);
        assert_eq!(scan.triples(), expected, "chunk size {chunk_size}");
        for finding in &scan.findings {
            assert_eq!(finding["valid"], true, "{finding}");
            let truncated = finding["facts"]["truncated"].as_str();
            match finding["rule"].as_str() {
                Some("pgp.private-key") => assert_eq!(truncated, Some("true")),
                _ => assert_eq!(truncated, None),
            }
        }
    }
}
