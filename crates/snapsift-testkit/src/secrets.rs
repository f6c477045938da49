//! Generated secrets: fake keys of the shapes the rules find, and real keys made by real tools
//! (`ssh-keygen`, `openssl`, `gpg`) for this test only. Never a real credential.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::{Rng, run};

/// Letters and digits.
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A deterministic generator of fake secrets, so failures reproduce.
pub struct Secrets(Rng);

impl Secrets {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Secrets(Rng::new(seed))
    }

    /// An AWS access key ID: AKIA and 16 base32 characters.
    pub fn aws_key_id(&mut self) -> String {
        format!(
            "AKIA{}",
            self.0.pick(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
        )
    }

    /// A current-format Alibaba Cloud AccessKey ID (`LTAI5t` and 18 letters and digits).
    pub fn alibaba_key_id(&mut self) -> String {
        format!("LTAI5t{}", self.alnum(18))
    }

    /// A PostgreSQL URI with a password.
    pub fn postgres_uri(&mut self) -> String {
        format!(
            "postgres://app:{}@db-{}.internal:5432/app",
            self.alnum(16),
            self.0.pick(b"abcdefghijklmnopqrstuvwxyz", 6)
        )
    }

    /// A MySQL JDBC URI with a password.
    pub fn jdbc_mysql_uri(&mut self) -> String {
        format!(
            "jdbc:mysql://svc:{}@mysql.internal:3306/shop",
            self.alnum(20)
        )
    }

    /// `n` letters and digits.
    pub fn alnum(&mut self, n: usize) -> String {
        self.0.pick(ALNUM, n)
    }

    /// `n` bytes of filler text that cannot contain any rule's anchor: lowercase words only.
    pub fn filler(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| match self.0.below(8) {
                0 if i % 61 == 60 => b'\n',
                0 => b' ',
                r => b"etaoinsh"[r as usize],
            })
            .collect()
    }

    /// `n` random bytes (binary content, not text).
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        self.0.bytes(n)
    }
}

/// A fresh OpenSSH private key made by `ssh-keygen` (Ed25519, no passphrase) at `dir/name`,
/// as the text of the key file.
pub fn openssh_key(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    run(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "test@snapsift",
            "-f",
            path.to_str().unwrap(),
        ],
    );
    fs::read_to_string(&path).unwrap()
}

/// A fresh 1024-bit RSA private key in PEM (PKCS#1) made by `openssl`.
pub fn rsa_pem_key() -> String {
    rsa_pem_key_of(1024)
}

/// A fresh RSA private key of `bits` bits in PEM (PKCS#1) made by `openssl`.
pub fn rsa_pem_key_of(bits: u32) -> String {
    let out = run("openssl", &["genrsa", "-traditional", &bits.to_string()]);
    String::from_utf8(out.stdout).unwrap()
}

/// A fresh OpenPGP private key block made by `gpg` (in a keyring of its own in `dir`): an
/// Ed25519 key with a photo ID of `photo_len` bytes (a JPEG header and random bytes), which
/// makes the block about 4/3 of that long, as `gpg --armor --export-secret-keys` writes it.
pub fn pgp_key_with_photo(dir: &Path, photo_len: usize) -> String {
    let home = dir.join("gnupg");
    fs::create_dir_all(&home).unwrap();
    fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let home = home.to_str().unwrap();
    let uid = "snapsift test <test@snapsift.invalid>";
    let gpg_with = |args: &[&str]| -> Vec<String> {
        ["--homedir", home, "--batch", "--pinentry-mode", "loopback"]
            .iter()
            .chain(&["--passphrase", ""])
            .chain(args)
            .map(|a| a.to_string())
            .collect()
    };
    let run_gpg = |args: &[&str]| {
        let args = gpg_with(args);
        run("gpg", &args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    run_gpg(&["--quick-gen-key", uid, "ed25519", "sign", "never"]);
    let mut photo = vec![0xff, 0xd8, 0xff, 0xe0, 0, 16, b'J', b'F', b'I', b'F', 0];
    photo.extend(Rng::new(photo_len as u64).bytes(photo_len));
    photo.extend([0xff, 0xd9]);
    let photo_path = dir.join("photo.jpg");
    fs::write(&photo_path, photo).unwrap();
    // `addphoto` asks for the file, then whether so large a photo is meant.
    let mut edit = Command::new("gpg")
        .args(gpg_with(&["--command-fd", "0", "--edit-key", uid]))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("gpg is installed");
    let commands = format!("addphoto\n{}\ny\nsave\n", photo_path.display());
    std::io::Write::write_all(&mut edit.stdin.take().unwrap(), commands.as_bytes()).unwrap();
    assert!(edit.wait().unwrap().success(), "gpg --edit-key addphoto");
    let out = run_gpg(&["--armor", "--export-secret-keys", uid]);
    String::from_utf8(out.stdout).unwrap()
}
