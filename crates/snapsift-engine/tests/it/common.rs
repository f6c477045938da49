//! What the engine's tests share: fake secrets, images, and a scan that keeps its messages.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

use snapsift_disk::{Image, MemoryDisk};
use snapsift_engine::record::FindingRecord;
use snapsift_engine::report::ReportOptions;
use snapsift_engine::scan::{ImageScan, Level, Observer, Progress, ScanOptions, scan_image};
use snapsift_match::{Matcher, RuleSet};
use snapsift_scan::ScanConfig;

/// How close the built-in rules want an ID and its secret (`within` of their `[rule.pair]`).
pub const WITHIN: usize = 1024;

/// The built-in rules, compiled once.
pub fn matcher() -> &'static Matcher {
    static MATCHER: OnceLock<Matcher> = OnceLock::new();
    MATCHER.get_or_init(|| Matcher::new(&RuleSet::builtin().unwrap()).unwrap())
}

/// The options of a default scan: file pass on, rejected matches dropped, nothing redacted.
pub fn options() -> ScanOptions {
    ScanOptions {
        chunk_size: ScanConfig::DEFAULT_CHUNK_SIZE,
        threads: 2,
        shard: None,
        file_pass: true,
        report: ReportOptions::default(),
        redact: false,
        baseline_entries: false,
        luks_key: None,
        spill_dir: None,
    }
}

/// An observer that keeps the messages it is told.
#[derive(Default)]
pub struct Heard {
    /// The messages, in the order told.
    pub messages: Mutex<Vec<(Level, String)>>,
}

impl Observer for Heard {
    fn message(&self, level: Level, text: &str) {
        self.messages.lock().unwrap().push((level, text.to_owned()));
    }

    fn progress(&self, _progress: Progress) {}
}

/// Scans the disk `bytes` (named `disk.img`) with `options`; the sweep must run to its end.
pub fn scan(bytes: Vec<u8>, options: &ScanOptions) -> ImageScan {
    let image = Image::Disk(Box::new(MemoryDisk::new(bytes)));
    let scan = scan_image("disk.img", image, matcher(), options, &Heard::default())
        .expect("the image is scanned");
    assert!(scan.sweep.is_ok(), "{:?}", scan.sweep);
    scan
}

/// The one record whose own secret is `secret`.
pub fn only<'r>(records: &'r [FindingRecord], secret: &str) -> &'r FindingRecord {
    let found: Vec<&FindingRecord> = records.iter().filter(|r| r.secret == secret).collect();
    assert_eq!(found.len(), 1, "one record of {secret}: {records:#?}");
    found[0]
}

/// Runs `program args...`, failing the test with its output if it does not succeed (or is
/// not installed: a test never passes without its tools).
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

/// An ext4 image of `size_mib` MiB in `dir` (1 KiB blocks) holding `files`, written by
/// `debugfs` one after the other: small files then lie next to each other on the disk.
/// Returns its bytes.
pub fn ext4_with_files(dir: &Path, size_mib: u64, files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let image = dir.join("fs.img");
    let image_arg = image.to_str().unwrap();
    run(
        "mkfs.ext4",
        &["-q", "-F", "-b", "1024", image_arg, &format!("{size_mib}M")],
    );
    let mut commands = String::new();
    for (i, (name, content)) in files.iter().enumerate() {
        let staged = dir.join(format!("file-{i}"));
        std::fs::write(&staged, content).unwrap();
        commands.push_str(&format!("write {} {name}\n", staged.display()));
    }
    let script = dir.join("debugfs-commands");
    std::fs::write(&script, commands).unwrap();
    run(
        "debugfs",
        &["-w", "-f", script.to_str().unwrap(), image_arg],
    );
    std::fs::read(&image).unwrap()
}

/// Where `needle` lies in `haystack`: every offset.
pub fn offsets_of(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
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

    /// `n` letters and digits.
    pub fn alnum(&mut self, n: usize) -> String {
        self.pick(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            n,
        )
    }

    /// An AWS access key ID: AKIA and 16 base32 characters.
    pub fn aws_key_id(&mut self) -> String {
        format!("AKIA{}", self.pick(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16))
    }

    /// A current-format Alibaba Cloud AccessKey ID (24 characters).
    pub fn alibaba_key_id(&mut self) -> String {
        format!("LTAI5t{}", self.alnum(18))
    }

    /// `n` bytes of lowercase words: text in which no rule's anchor lies.
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
