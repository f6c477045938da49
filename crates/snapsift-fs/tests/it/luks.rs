//! LUKS1 and LUKS2 volumes opened with a passphrase and with the volume key, their plaintext
//! compared with the filesystem image encrypted into them by independent encryptors
//! (cryptsetup's own offline encryption for LUKS2; Python's `cryptography` at the payload
//! offset of a `cryptsetup luksFormat` header for LUKS1, see snapsift-testkit), for
//! aes-xts-plain64 (256- and 512-bit keys) and aes-cbc-essiv:sha256, PBKDF2 (SHA-1, SHA-256),
//! Argon2id and Argon2i keyslots, sectors of 512 and 4096 bytes. Hostile headers: costs past
//! their caps, a damaged primary header, random damage.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use snapsift_disk::{Disk, MemoryDisk};
use snapsift_fs::FsError;
use snapsift_fs::volume::luks;
use snapsift_testkit::{
    Rng, luks1_encrypted, luks2_encrypted, mkfs_from_tree, noise, volume_key, workdir,
};

/// A passphrase file (the passphrase generated, no trailing newline).
fn key_file(dir: &Path) -> PathBuf {
    let path = dir.join("passphrase");
    fs::write(
        &path,
        Rng::new(9).pick(b"abcdefghijklmnopqrstuvwxyz0123456789 ", 24),
    )
    .unwrap();
    path
}

/// An ext4 image of 12 MiB with 4 KiB blocks (so that 4096-byte sectors may hold it),
/// holding a file of noise.
fn fs_image(dir: &Path) -> PathBuf {
    let tree = dir.join("tree");
    fs::create_dir_all(tree.join("etc")).unwrap();
    fs::write(tree.join("etc/noise.bin"), noise(3, 300_000)).unwrap();
    let image = dir.join("fs.img");
    mkfs_from_tree("mkfs.ext4", &image, &tree, "12M", &["-b", "4096"]);
    image
}

fn shared(path: &Path) -> (Arc<dyn Disk>, u64) {
    let disk: Arc<dyn Disk> = Arc::from(snapsift_disk::open(path).unwrap());
    let size = disk.size();
    (disk, size)
}

/// Opens `volume` with the passphrase in `key_file` (as it is, and with a newline added), and
/// with its volume key, and checks its plaintext is `fs`'s bytes; a wrong key is refused.
fn check_opens(volume: &Path, fs_image: &Path, key_file: &Path) {
    let (disk, size) = shared(volume);
    let want = fs::read(fs_image).unwrap();
    let passphrase = fs::read(key_file).unwrap();
    let mut with_newline = passphrase.clone();
    with_newline.push(b'\n');
    let volume_key = volume_key(volume, key_file);
    for (key, how) in [
        (&passphrase, "keyslot 0"),
        (&with_newline, "keyslot 0"),
        (&volume_key, "the volume key"),
    ] {
        let plain = luks::open(Arc::clone(&disk), 0..size, key).unwrap();
        assert!(plain.opened_by().ends_with(how), "{}", plain.opened_by());
        assert!(plain.size() >= want.len() as u64);
        let mut got = vec![0u8; want.len()];
        plain.read_exact_at(0, &mut got).unwrap();
        assert!(got == want, "the plaintext differs");
        // A read that starts and ends inside sectors.
        let mut part = vec![0u8; 9000];
        plain.read_exact_at(4097, &mut part).unwrap();
        assert!(part == want[4097..13097]);
        assert!(
            plain
                .read_exact_at(plain.size() - 1, &mut [0u8; 2])
                .is_err()
        );
    }
    let mut wrong = passphrase.clone();
    wrong[0] ^= 1;
    let error = luks::open(Arc::clone(&disk), 0..size, &wrong).unwrap_err();
    assert!(
        matches!(&error, FsError::Luks(m) if m.contains("opens none")),
        "{error}"
    );
    let mut wrong_key = volume_key.clone();
    wrong_key[5] ^= 1;
    assert!(luks::open(disk, 0..size, &wrong_key).is_err());
}

/// Encrypts a filesystem image into a LUKS volume of `version` (1 or 2) with the cryptsetup
/// options `options` (space-separated; LUKS1: the cipher first, for the encryptor too) and
/// checks it opens.
fn check_version(version: u32, options: &str) {
    let dir = workdir();
    let (fs_image, key) = (fs_image(dir.path()), key_file(dir.path()));
    let options: Vec<&str> = options.split(' ').collect();
    let volume = match version {
        2 => luks2_encrypted(dir.path(), &fs_image, &key, &options),
        _ => luks1_encrypted(dir.path(), &fs_image, &key, options[1], &options[2..]),
    };
    check_opens(&volume, &fs_image, &key);
}

/// Argon2 with 8 MiB of memory and 4 passes: cheap.
const ARGON2: &str = "--pbkdf-memory 8192 --pbkdf-force-iterations 4";

#[test]
fn luks2_xts_512_argon2id() {
    check_version(
        2,
        &format!("--cipher aes-xts-plain64 --key-size 512 --pbkdf argon2id {ARGON2}"),
    );
}

#[test]
fn luks2_xts_256_argon2i() {
    check_version(
        2,
        &format!("--cipher aes-xts-plain64 --key-size 256 --pbkdf argon2i {ARGON2}"),
    );
}

#[test]
fn luks2_cbc_essiv_pbkdf2_with_4096_byte_sectors() {
    check_version(
        2,
        "--cipher aes-cbc-essiv:sha256 --key-size 256 --pbkdf pbkdf2 \
         --pbkdf-force-iterations 1000 --sector-size 4096",
    );
}

#[test]
fn luks1_xts_512_sha256() {
    check_version(
        1,
        "--cipher aes-xts-plain64 --key-size 512 --hash sha256 --pbkdf-force-iterations 1000",
    );
}

#[test]
fn luks1_cbc_essiv_sha1() {
    check_version(
        1,
        "--cipher aes-cbc-essiv:sha256 --key-size 256 --hash sha1 --pbkdf-force-iterations 1000",
    );
}

/// The two LUKS2 header copies of `bytes` with `edit` applied to their JSON text, their
/// checksums set again.
fn edit_luks2(bytes: &mut [u8], edit: impl Fn(&str) -> String) {
    let size = u64::from_be_bytes(bytes[8..16].try_into().unwrap()) as usize;
    for at in [0, size] {
        let area = &mut bytes[at..at + size];
        let json = &area[4096..];
        let end = json.iter().position(|&b| b == 0).unwrap();
        let text = edit(std::str::from_utf8(&json[..end]).unwrap());
        assert!(text.len() < size - 4096);
        area[4096..].fill(0);
        area[4096..4096 + text.len()].copy_from_slice(text.as_bytes());
        area[448..512].fill(0);
        let sum = Sha256::digest(&*area);
        area[448..480].copy_from_slice(&sum);
    }
}

/// A small LUKS2 volume (PBKDF2, cheap) as bytes, with its passphrase.
fn luks2_bytes(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let (fs_image, key) = (fs_image(dir), key_file(dir));
    let options = ["--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"];
    let volume = luks2_encrypted(dir, &fs_image, &key, &options);
    (fs::read(volume).unwrap(), fs::read(key).unwrap())
}

fn open_bytes(bytes: Vec<u8>, key: &[u8]) -> Result<luks::LuksDisk, FsError> {
    let len = bytes.len() as u64;
    luks::open(Arc::new(MemoryDisk::new(bytes)), 0..len, key)
}

#[test]
fn costs_past_their_caps_are_refused_with_a_clear_error() {
    let dir = workdir();
    let (bytes, key) = luks2_bytes(dir.path());
    assert!(open_bytes(bytes.clone(), &key).is_ok());
    // A keyslot asking 8 GiB of Argon2 memory, one asking a billion PBKDF2 iterations.
    let mut memory = bytes.clone();
    edit_luks2(&mut memory, |json| {
        json.replace(
            r#""type":"pbkdf2","hash":"sha256","iterations":1000"#,
            r#""type":"argon2id","time":4,"memory":8388608,"cpus":1"#,
        )
    });
    let started = Instant::now();
    let error = open_bytes(memory, &key).unwrap_err().to_string();
    assert!(
        error.contains("4 GiB") && error.contains("keyslot 0"),
        "{error}"
    );
    let mut iterations = bytes.clone();
    edit_luks2(&mut iterations, |json| {
        json.replacen(r#""iterations":1000"#, r#""iterations":1000000000"#, 1)
    });
    let error = open_bytes(iterations, &key).unwrap_err().to_string();
    assert!(error.contains("PBKDF2 iterations"), "{error}");
    // A data segment past the volume's end, a keyslot area key of a billion bytes.
    let mut past = bytes.clone();
    edit_luks2(&mut past, |json| {
        json.replace(r#""offset":"16777216""#, r#""offset":"999999999999""#)
    });
    let error = open_bytes(past, &key).unwrap_err().to_string();
    assert!(error.contains("holds no sector"), "{error}");
    let mut area_key = bytes.clone();
    edit_luks2(&mut area_key, |json| {
        json.replace(
            r#""encryption":"aes-xts-plain64","key_size":64"#,
            r#""encryption":"aes-xts-plain64","key_size":1000000000"#,
        )
    });
    let error = open_bytes(area_key, &key).unwrap_err().to_string();
    assert!(error.contains("for its area"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_damaged_primary_header_is_read_from_its_copy_and_damage_never_panics() {
    let dir = workdir();
    let (bytes, key) = luks2_bytes(dir.path());
    let mut primary = bytes.clone();
    primary[4096 + 10] ^= 1; // its JSON, under its checksum
    assert!(open_bytes(primary.clone(), &key).is_ok());
    // Both copies damaged: a clear error.
    let size = u64::from_be_bytes(bytes[8..16].try_into().unwrap()) as usize;
    primary[size + 4096 + 10] ^= 1;
    let error = open_bytes(primary, &key).unwrap_err().to_string();
    assert!(error.contains("checksum"), "{error}");
    // Random damage to the headers and keyslot area: an error or a disk, never a panic.
    let mut rng = Rng::new(0x1a75);
    let started = Instant::now();
    for _ in 0..200 {
        let mut hostile = bytes.clone();
        for _ in 0..1 + rng.below(20) {
            let at = rng.below(64 << 10) as usize;
            hostile[at] = rng.next() as u8;
        }
        if let Ok(plain) = open_bytes(hostile, &key) {
            let mut buf = vec![0u8; 4096];
            let _ = plain.read_exact_at(0, &mut buf);
        }
    }
    assert!(started.elapsed() < Duration::from_secs(60));
}
