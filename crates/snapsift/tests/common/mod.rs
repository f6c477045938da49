//! Shared by the integration tests: real images built with real tools, generated secrets, an
//! independent oracle for where bytes are, and a way to run the `snapsift` binary.
//!
//! Missing tools are failures, not skips: `.ci/run` installs them.

#![allow(dead_code)] // Each test binary uses a different part of this module.

pub mod faulty;
pub mod loop_device;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Whether the tests run under CI (`CI=true`), where every tool, privilege and CPU feature a
/// test needs must be there.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|ci| ci == "true")
}

/// A test cannot run here, for `reason` (a privilege, a device or a kernel feature is
/// missing): fails it under `CI=true`, else prints `SKIPPED: reason` for the caller, which
/// then returns. The one way a test of this crate may skip.
pub fn unavailable(reason: &str) {
    assert!(!under_ci(), "unavailable under CI=true: {reason}");
    println!("SKIPPED: {reason}");
}

/// Runs `program args...`, failing the test with its output if it does not succeed.
pub fn run(program: &str, args: &[&str]) -> Output {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (is it installed?): {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A deterministic generator of fake secrets (splitmix64), so failures reproduce.
pub struct Secrets(u64);

impl Secrets {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Secrets(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn pick(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize] as char)
            .collect()
    }

    /// An AWS access key ID: AKIA and 16 base32 characters.
    pub fn aws_key_id(&mut self) -> String {
        format!("AKIA{}", self.pick(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16))
    }

    /// A current-format Alibaba Cloud AccessKey ID (24 characters).
    pub fn alibaba_key_id(&mut self) -> String {
        format!("LTAI5t{}", self.alnum(18))
    }

    /// A PostgreSQL URI with a password.
    pub fn postgres_uri(&mut self) -> String {
        format!(
            "postgres://app:{}@db-{}.internal:5432/app",
            self.alnum(16),
            self.pick(b"abcdefghijklmnopqrstuvwxyz", 6)
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
        self.pick(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            n,
        )
    }

    /// `n` bytes of filler text that cannot contain any rule's anchor: lowercase words only.
    pub fn filler(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| match self.next() % 8 {
                0 if i % 61 == 60 => b'\n',
                0 => b' ',
                r => b"etaoinsh"[r as usize],
            })
            .collect()
    }
}

/// A fresh OpenSSH private key made by `ssh-keygen`, as the text of the key file.
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

/// A fresh RSA private key in PEM (PKCS#1) made by `openssl`.
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
    let mut bytes = Secrets::new(photo_len as u64);
    photo.extend((0..photo_len).map(|_| bytes.next() as u8));
    photo.extend([0xff, 0xd9]);
    let photo_path = dir.join("photo.jpg");
    fs::write(&photo_path, photo).unwrap();
    // `addphoto` asks for the file, then whether so large a photo is meant.
    let mut edit = Command::new("gpg")
        .args(gpg_with(&["--command-fd", "0", "--edit-key", uid]))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("gpg is installed");
    let commands = format!("addphoto\n{}\ny\nsave\n", photo_path.display());
    std::io::Write::write_all(&mut edit.stdin.take().unwrap(), commands.as_bytes()).unwrap();
    assert!(edit.wait().unwrap().success(), "gpg --edit-key addphoto");
    let out = run_gpg(&["--armor", "--export-secret-keys", uid]);
    String::from_utf8(out.stdout).unwrap()
}

/// Writes `files` (path relative to the root, content) under `root`.
pub fn write_tree(root: &Path, files: &[(&str, String)]) {
    for (path, content) in files {
        let path = root.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
}

/// Writes the gzipped tar `archive` (and its missing directories) of `member`, a path in
/// `dir`, with `tar -czf`.
pub fn tar_gz(archive: &Path, dir: &Path, member: &str) {
    fs::create_dir_all(archive.parent().unwrap()).unwrap();
    run(
        "tar",
        &[
            "-czf",
            archive.to_str().unwrap(),
            "-C",
            dir.to_str().unwrap(),
            member,
        ],
    );
}

/// Builds an ext4 filesystem image of `size_mib` MiB from the directory `tree`, with
/// `mkfs.ext4 -d`.
pub fn mkfs_ext4(image: &Path, tree: &Path, size_mib: u64) {
    run(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-E",
            "root_owner=0:0",
            "-d",
            tree.to_str().unwrap(),
            image.to_str().unwrap(),
            &format!("{size_mib}M"),
        ],
    );
}

/// Removes `path` from the ext4 image with `debugfs`: the file's blocks are freed, not wiped.
pub fn debugfs_rm(image: &Path, path: &str) {
    run(
        "debugfs",
        &["-w", "-R", &format!("rm {path}"), image.to_str().unwrap()],
    );
}

/// Runs `debugfs` commands (one per line) in write mode on the ext4 image.
pub fn debugfs_script(image: &Path, commands: &str) {
    let script = image.with_extension("debugfs-commands");
    fs::write(&script, commands).unwrap();
    run(
        "debugfs",
        &[
            "-w",
            "-f",
            script.to_str().unwrap(),
            image.to_str().unwrap(),
        ],
    );
    fs::remove_file(script).unwrap();
}

/// Makes `image` an empty ext4 filesystem of `size_mib` MiB with 1 KiB blocks, then writes
/// `files` (name in the root directory, content) into it in order with `debugfs write`, which
/// gives each file the next free blocks: small files written one after the other lie next to
/// each other on the disk. The contents are staged in `stage`.
pub fn ext4_with_files(image: &Path, stage: &Path, size_mib: u64, files: &[(&str, Vec<u8>)]) {
    run(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-b",
            "1024",
            image.to_str().unwrap(),
            &format!("{size_mib}M"),
        ],
    );
    fs::create_dir_all(stage).unwrap();
    let mut commands = String::new();
    for (i, (name, content)) in files.iter().enumerate() {
        let staged = stage.join(format!("file-{i}"));
        fs::write(&staged, content).unwrap();
        commands.push_str(&format!("write {} {name}\n", staged.display()));
    }
    debugfs_script(image, &commands);
}

/// Runs a shell command line in `dir` (for tools that compress in place or work on
/// relative paths).
pub fn sh(dir: &Path, script: &str) {
    let status = Command::new("sh")
        .args(["-ec", script])
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "{script}");
}

/// `qemu-img convert -f raw -O FORMAT RAW IMAGE`: a real image of `raw` in `format`.
pub fn qemu_convert(raw: &Path, format: &str, image: &Path) {
    run(
        "qemu-img",
        &[
            "convert",
            "-f",
            "raw",
            "-O",
            format,
            raw.to_str().unwrap(),
            image.to_str().unwrap(),
        ],
    );
}

/// Creates a sparse file of `size` bytes.
pub fn sparse_file(path: &Path, size: u64) {
    fs::File::create(path).unwrap().set_len(size).unwrap();
}

/// Makes `disk` a sparse 24 MiB GPT disk whose partition 1 ("root", Linux, 16 MiB from 1 MiB)
/// holds the filesystem image `fs_image`.
pub fn gpt_disk_with_root(disk: &Path, fs_image: &Path) {
    sparse_file(disk, 24 << 20);
    run(
        "sgdisk",
        &[
            "-n",
            "1:2048:+16M",
            "-t",
            "1:8300",
            "-c",
            "1:root",
            disk.to_str().unwrap(),
        ],
    );
    dd_into(disk, fs_image, 1 << 20);
}

/// Copies `src` into `disk` at byte `offset`, with `dd conv=notrunc`.
pub fn dd_into(disk: &Path, src: &Path, offset: u64) {
    run(
        "dd",
        &[
            &format!("if={}", src.display()),
            &format!("of={}", disk.display()),
            "bs=4096",
            &format!("seek={offset}"),
            "oflag=seek_bytes",
            "conv=notrunc,sparse",
            "status=none",
        ],
    );
}

/// Writes `bytes` into the file at `offset`.
pub fn write_at(path: &Path, offset: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let file = fs::OpenOptions::new().write(true).open(path).unwrap();
    file.write_all_at(bytes, offset).unwrap();
}

/// The oracle: every offset at which `needle` occurs in the file, by plain byte comparison.
pub fn offsets_of(path: &Path, needle: &[u8]) -> Vec<u64> {
    let hay = fs::read(path).unwrap();
    hay.windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i as u64)
        .collect()
}

/// The `snapsift` binary under test.
pub fn snapsift() -> Command {
    Command::new(env!("CARGO_BIN_EXE_snapsift"))
}

/// Runs `snapsift ARGS...`; returns (exit status, standard output, standard error).
pub fn snapsift_run(args: &[&str]) -> (i32, String, String) {
    let output = snapsift().args(args).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).expect("output is UTF-8"),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs `snapsift scan --quiet --format jsonl --shard K/N -o REPORT IMAGE`; returns (exit
/// status, standard error).
pub fn scan_shard_into(image: &Path, k: u64, n: u64, report: &Path) -> (i32, String) {
    let shard = format!("{k}/{n}");
    let (code, _, stderr) = snapsift_run(&[
        "scan",
        "--quiet",
        "--format",
        "jsonl",
        "--shard",
        &shard,
        "-o",
        report.to_str().unwrap(),
        image.to_str().unwrap(),
    ]);
    (code, stderr)
}

/// A finding's file path with its archive members, each after `!/` (`/a.tar.gz!/b.txt`);
/// `?` for a finding without a path.
pub fn member_path(finding: &Value) -> String {
    let location = &finding["location"];
    let mut path = location["path"].as_str().unwrap_or("?").to_owned();
    for layer in location["container"].as_array().into_iter().flatten() {
        if let Some(member) = layer["member"].as_str() {
            path.push_str("!/");
            path.push_str(member);
        }
    }
    path
}

/// The result of one `snapsift scan --format jsonl` run.
pub struct Scan {
    /// The exit status code.
    pub code: i32,
    /// The findings, one JSON object each.
    pub findings: Vec<Value>,
    /// The coverage record of each image (the `coverage` lines), in the order scanned.
    pub coverage: Vec<Value>,
    /// Standard error.
    pub stderr: String,
}

impl Scan {
    /// Runs `snapsift scan --format jsonl --quiet EXTRA... PATHS...`, and checks that the scan
    /// wrote nothing: every file in the directories of `paths` (the images, their backing
    /// files and extents), the files it writes itself (`-o`, `--write-baseline`) aside, has
    /// the same SHA-256 after the scan as before.
    ///
    /// A default scan (no `extra`) is run again with `--include-invalid`, and its findings
    /// must be exactly the `valid: true` findings of that run, field for field and in the
    /// same order: a match a check rejects may only add findings, never take, hide or change
    /// a valid one. Every test image scanned with default options is checked so.
    pub fn run(paths: &[&Path], extra: &[&str]) -> Scan {
        let scan = Scan::run_once(paths, extra);
        if extra.is_empty() {
            let all = Scan::run_once(paths, &["--include-invalid"]);
            scan.assert_valid_findings_of(&all, paths);
        }
        scan
    }

    /// Checks that `self`, a default scan of `paths`, found exactly the valid findings of
    /// `all`, a scan with `--include-invalid`.
    fn assert_valid_findings_of(&self, all: &Scan, paths: &[&Path]) {
        assert_eq!(
            self.code == 2,
            all.code == 2,
            "{}\n{}",
            self.stderr,
            all.stderr
        );
        let valid: Vec<&Value> = all.findings.iter().filter(|f| f["valid"] == true).collect();
        let default: Vec<&Value> = self.findings.iter().collect();
        if default != valid {
            let missing: Vec<&&Value> = default.iter().filter(|f| !valid.contains(f)).collect();
            let changed: Vec<&&Value> = valid.iter().filter(|f| !default.contains(f)).collect();
            panic!(
                "--include-invalid changed the valid findings of {paths:?}\n\
                 in the default scan only: {missing:#?}\n\
                 valid with --include-invalid only: {changed:#?}\n\
                 (if both are empty, their order changed)"
            );
        }
        assert!(
            self.findings.iter().all(|f| f["valid"] == true),
            "a default scan reports valid findings only"
        );
    }

    /// Runs `snapsift scan` once, as [`Scan::run`] says.
    fn run_once(paths: &[&Path], extra: &[&str]) -> Scan {
        let written: Vec<PathBuf> = extra
            .windows(2)
            .filter(|w| ["-o", "--output", "--write-baseline"].contains(&w[0]))
            .map(|w| PathBuf::from(w[1]))
            .collect();
        let before = hashes_around(paths, &written);
        let output = snapsift()
            .args(["scan", "--format", "jsonl", "--quiet"])
            .args(extra)
            .args(paths)
            .output()
            .unwrap();
        let stdout = String::from_utf8(output.stdout).expect("output is UTF-8");
        let (coverage, findings): (Vec<Value>, Vec<Value>) = stdout
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("each line is JSON"))
            .partition(|v| v.get("coverage").is_some());
        let scan = Scan {
            code: output.status.code().expect("snapsift exited normally"),
            findings,
            coverage: coverage
                .into_iter()
                .map(|c| c["coverage"].clone())
                .collect(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        assert_eq!(
            hashes_around(paths, &written),
            before,
            "the scan changed a file next to an image"
        );
        // (An error before the first image, such as a bad option, has none.)
        if scan.code != 2 {
            assert_eq!(
                scan.coverage.len(),
                paths.len(),
                "one coverage line per image\n{}",
                scan.stderr
            );
        }
        scan
    }

    /// For each secret found, the offsets it was found at, and the rule that found it.
    pub fn by_secret(&self) -> BTreeMap<String, (String, Vec<u64>)> {
        let mut map: BTreeMap<String, (String, Vec<u64>)> = BTreeMap::new();
        for f in &self.findings {
            let entry = map
                .entry(f["secret"].as_str().unwrap().to_owned())
                .or_insert_with(|| (f["rule"].as_str().unwrap().to_owned(), Vec::new()));
            entry.1.push(f["offset"].as_u64().unwrap());
        }
        map
    }

    /// The one finding of `secret`, failing the test if it was reported more or less than
    /// once.
    pub fn only(&self, secret: &str) -> &Value {
        let found: Vec<&Value> = self
            .findings
            .iter()
            .filter(|f| f["secret"] == secret)
            .collect();
        assert_eq!(found.len(), 1, "{secret}: {found:?}\n{}", self.stderr);
        found[0]
    }

    /// (rule, offset, secret) of every finding, in output order.
    pub fn triples(&self) -> Vec<(String, u64, String)> {
        self.findings
            .iter()
            .map(|f| {
                (
                    f["rule"].as_str().unwrap().to_owned(),
                    f["offset"].as_u64().unwrap(),
                    f["secret"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

/// The SHA-256 of every regular file in the directories of those `paths` that are regular
/// files (images; not devices), and of those files themselves, but `except`. A file that cannot be read whole (a FUSE
/// file with bad sectors) has no hash: the test that made it checks its own source.
pub fn hashes_around(paths: &[&Path], except: &[PathBuf]) -> BTreeMap<PathBuf, String> {
    use sha2::{Digest, Sha256};
    // Regular files only, never through a symlink (`/dev/stdout` is one).
    let is_file = |f: &Path| f.symlink_metadata().is_ok_and(|m| m.is_file());
    let mut files: Vec<PathBuf> = Vec::new();
    for path in paths.iter().filter(|p| is_file(p)) {
        files.push(path.to_path_buf());
        if let Some(entries) = path.parent().and_then(|dir| fs::read_dir(dir).ok()) {
            files.extend(entries.flatten().map(|e| e.path()));
        }
    }
    files
        .into_iter()
        .filter(|f| is_file(f) && !except.contains(f))
        .filter_map(|f| {
            use std::io::Read;
            let mut hasher = Sha256::new();
            let mut file = fs::File::open(&f).ok()?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                match file.read(&mut buf).ok()? {
                    0 => break,
                    n => hasher.update(&buf[..n]),
                }
            }
            let hash: String = hasher
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            Some((f, hash))
        })
        .collect()
}

/// What [`scan_measured`] saw: the exit status, the findings, the coverage record and the
/// peak RSS in KiB.
pub struct Measured {
    pub code: i32,
    pub findings: Vec<Value>,
    pub coverage: Value,
    pub rss: u64,
}

/// Runs `snapsift scan --format jsonl --quiet EXTRA... PATH` under `/usr/bin/time -f %M`.
pub fn scan_measured(path: &Path, extra: &[&str]) -> Measured {
    let output = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(env!("CARGO_BIN_EXE_snapsift"))
        .args(["scan", "--format", "jsonl", "--quiet"])
        .args(extra)
        .arg(path)
        .output()
        .expect("GNU time is installed (apt-get install time)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let code = output.status.code();
    assert!(matches!(code, Some(0 | 1 | 3)), "exit {code:?}: {stderr}");
    let rss = stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no RSS from GNU time in {stderr}"));
    let (coverage, findings): (Vec<Value>, Vec<Value>) = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .partition(|v| v.get("coverage").is_some());
    Measured {
        code: code.unwrap_or(-1),
        findings,
        coverage: coverage[0]["coverage"].clone(),
        rss,
    }
}

/// A temporary directory for one test's images.
pub fn workdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("snapsift-test-")
        .tempdir()
        .unwrap()
}

/// A path inside `dir`.
pub fn path_in(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

/// A line holding `hidden`, an AWS secret access key after its keyword, then `shown` 174
/// bytes after the line's start: the context of `shown` (160 bytes on each side of it)
/// starts inside the keyword, so it shows `hidden` whole, but no rule can find it there.
pub fn line_hiding_a_keyword(hidden: &str, shown: &str) -> String {
    let line = format!(
        "aws_secret_access_key = {hidden} {}db={shown}\n",
        "x".repeat(106)
    );
    assert_eq!(line.find(shown), Some(174));
    line
}

/// The parts of `secret` that `text` shows: every run of 8 of its characters it holds (a
/// masked secret shows 4).
pub fn shown_parts<'s>(text: &str, secret: &'s str) -> Vec<&'s str> {
    (0..=secret.len().saturating_sub(8))
        .map(|i| &secret[i..(i + 8).min(secret.len())])
        .filter(|part| text.contains(part))
        .collect()
}
