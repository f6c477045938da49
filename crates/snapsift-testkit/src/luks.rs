//! LUKS volumes made by the real tools, holding a filesystem image's bytes as their
//! plaintext, without device-mapper:
//!
//! * LUKS2: `cryptsetup reencrypt --encrypt` encrypts an image file in place (offline, with
//!   the kernel's crypto API, no dm-crypt): cryptsetup itself writes both the header and the
//!   ciphertext, an oracle independent of snapsift's decryption;
//! * LUKS1: `cryptsetup luksFormat` writes the header on a file, and the plaintext is
//!   encrypted at its payload offset with the volume key `cryptsetup luksDump
//!   --dump-volume-key` prints, by Python's `cryptography` (OpenSSL), another independent
//!   encryptor (cryptsetup's offline encryption of LUKS1 needs device-mapper).

use std::fs;
use std::path::{Path, PathBuf};

use crate::run;

/// The room `reencrypt --encrypt` takes at the start of the device: the header, and as much
/// again for moving the data.
const REDUCE: u64 = 32 << 20;

/// A LUKS2 volume (a new file in `dir`) whose plaintext begins with the bytes of `fs_image`,
/// encrypted by `cryptsetup reencrypt --encrypt` with the passphrase in `key_file` and the
/// extra options `options` (`--cipher`, `--pbkdf`...).
pub fn luks2_encrypted(dir: &Path, fs_image: &Path, key_file: &Path, options: &[&str]) -> PathBuf {
    let volume = dir.join(format!(
        "{}.luks2",
        fs_image.file_name().unwrap().to_string_lossy()
    ));
    fs::copy(fs_image, &volume).unwrap();
    let len = fs::metadata(&volume).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&volume)
        .unwrap()
        .set_len(len + REDUCE)
        .unwrap();
    let reduce = format!("{}M", REDUCE >> 20);
    let mut args = vec![
        "reencrypt",
        "--encrypt",
        "-q",
        "--type",
        "luks2",
        "--reduce-device-size",
        &reduce,
        "--key-file",
        key_file.to_str().unwrap(),
    ];
    args.extend_from_slice(options);
    args.push(volume.to_str().unwrap());
    run("cryptsetup", &args);
    volume
}

/// A LUKS1 volume (a new file in `dir`) made by `cryptsetup luksFormat` with the passphrase
/// in `key_file` and `options`, whose plaintext is the bytes of `fs_image`, encrypted with
/// `cipher` (the one `options` names, `aes-xts-plain64` if none) by Python's `cryptography`.
pub fn luks1_encrypted(
    dir: &Path,
    fs_image: &Path,
    key_file: &Path,
    cipher: &str,
    options: &[&str],
) -> PathBuf {
    let volume = dir.join(format!(
        "{}.luks1",
        fs_image.file_name().unwrap().to_string_lossy()
    ));
    let plain = fs::read(fs_image).unwrap();
    fs::File::create(&volume)
        .unwrap()
        .set_len(plain.len() as u64 + (4 << 20))
        .unwrap();
    let mut args = vec![
        "luksFormat",
        "-q",
        "--type",
        "luks1",
        "--cipher",
        cipher,
        "--key-file",
        key_file.to_str().unwrap(),
    ];
    args.extend_from_slice(options);
    args.push(volume.to_str().unwrap());
    run("cryptsetup", &args);
    let dump = String::from_utf8(run("cryptsetup", &["luksDump", volume.to_str().unwrap()]).stdout)
        .unwrap();
    let payload: u64 = dump
        .lines()
        .find_map(|l| l.strip_prefix("Payload offset:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let key = volume_key(&volume, key_file);
    encrypt_into(&volume, payload * 512, fs_image, &key, cipher, 512);
    volume
}

/// The volume key of the LUKS volume `volume`, as `cryptsetup luksDump --dump-volume-key`
/// gives it with the passphrase in `key_file`.
pub fn volume_key(volume: &Path, key_file: &Path) -> Vec<u8> {
    let out = volume.with_extension("volume-key");
    // cryptsetup writes no key over an existing file.
    let _ = fs::remove_file(&out);
    run(
        "cryptsetup",
        &[
            "luksDump",
            "-q",
            "--dump-volume-key",
            "--volume-key-file",
            out.to_str().unwrap(),
            "--key-file",
            key_file.to_str().unwrap(),
            volume.to_str().unwrap(),
        ],
    );
    fs::read(out).unwrap()
}

/// Writes `plain_file` encrypted with `key` (`cipher`: `aes-xts-plain64` or
/// `aes-cbc-essiv:sha256`, sectors of `sector` bytes numbered from 0) into `volume` at byte
/// `offset`, by Python's `cryptography`.
pub fn encrypt_into(
    volume: &Path,
    offset: u64,
    plain_file: &Path,
    key: &[u8],
    cipher: &str,
    sector: u64,
) {
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let script = r#"
import hashlib, sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
volume, offset, plain, key, spec, sector = sys.argv[1:7]
key, offset, sector = bytes.fromhex(key), int(offset), int(sector)
data = open(plain, 'rb').read()
data += bytes(-len(data) % sector)
out = bytearray()
for n in range(len(data) // sector):
    block = data[n * sector:(n + 1) * sector]
    iv = n.to_bytes(16, 'little')
    if spec == 'aes-xts-plain64':
        enc = Cipher(algorithms.AES(key), modes.XTS(iv)).encryptor()
    elif spec == 'aes-cbc-essiv:sha256':
        salt = hashlib.sha256(key).digest()
        essiv = Cipher(algorithms.AES(salt), modes.ECB()).encryptor()
        enc = Cipher(algorithms.AES(key), modes.CBC(essiv.update(iv))).encryptor()
    else:
        sys.exit('unknown cipher ' + spec)
    out += enc.update(block) + enc.finalize()
with open(volume, 'r+b') as f:
    f.seek(offset)
    f.write(out)
"#;
    run(
        "python3",
        &[
            "-c",
            script,
            volume.to_str().unwrap(),
            &offset.to_string(),
            plain_file.to_str().unwrap(),
            &hex,
            cipher,
            &sector.to_string(),
        ],
    );
}
