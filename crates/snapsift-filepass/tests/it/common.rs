//! An image opened the way the snapsift command opens it, and the file pass run over it.

use std::path::Path;
use std::sync::LazyLock;

use snapsift_disk::Disk;
use snapsift_filepass::{FileFinding, FilePassConfig, FilePassOutput};
use snapsift_fs::{Filesystem, VolumeMap};
use snapsift_match::{Matcher, RuleSet};
use snapsift_testkit::run_stdout;

/// The built-in rules, compiled once for all tests.
pub static MATCHER: LazyLock<Matcher> =
    LazyLock::new(|| Matcher::new(&RuleSet::builtin().unwrap()).unwrap());

/// An image's disk and the filesystem of its one volume.
pub struct Opened {
    /// The disk.
    pub disk: Box<dyn Disk>,
    /// The filesystem.
    pub fs: Box<dyn Filesystem>,
    /// Where its volume starts on the disk.
    pub volume_start: u64,
}

impl Opened {
    /// Opens `image` and the filesystem of its first volume (the whole disk, here).
    pub fn new(image: &Path) -> Opened {
        let disk = snapsift_disk::open(image).unwrap();
        let volumes = VolumeMap::read(&*disk).unwrap();
        let volume = &volumes.volumes[0];
        let fs = snapsift_fs::open(&*disk, volume)
            .unwrap()
            .expect("a filesystem");
        Opened {
            volume_start: volume.range.start,
            disk,
            fs,
        }
    }

    /// Runs the file pass over every file with `config`.
    pub fn pass(&self, config: &FilePassConfig) -> FilePassOutput<'static> {
        snapsift_filepass::run(
            &*self.disk,
            self.volume_start,
            &*self.fs,
            &MATCHER,
            config,
            &|_| {},
        )
        .unwrap()
    }

    /// The index of the file at `path`.
    pub fn index_of(&self, path: &str) -> usize {
        let files = self.fs.files();
        (0..files.len())
            .find(|&i| files.path(i).as_deref() == Some(path))
            .unwrap_or_else(|| panic!("no file {path}"))
    }

    /// The path of file `index`.
    pub fn path_of(&self, index: usize) -> String {
        self.fs.files().path(index).unwrap_or_default()
    }
}

/// The secret a finding holds, as text.
pub fn secret(finding: &FileFinding) -> String {
    String::from_utf8_lossy(finding.finding.secret_text()).into_owned()
}

/// The one finding of `secret` in `output`, failing the test if there are more or fewer.
pub fn only<'o>(
    output: &'o FilePassOutput<'static>,
    secret_text: &str,
) -> &'o FileFinding<'static> {
    let found: Vec<_> = output
        .findings
        .iter()
        .filter(|f| secret(f) == secret_text)
        .collect();
    assert_eq!(found.len(), 1, "{secret_text}: {:#?}", output.findings);
    found[0]
}

/// Each layer of a finding's chain as it displays (`gzip`, `tar:etc/db.conf`).
pub fn chain(finding: &FileFinding) -> Vec<String> {
    finding.chain.iter().map(|l| l.to_string()).collect()
}

/// The disk offset of byte `offset` of `path` in the ext4 image (4 KiB blocks), from
/// `debugfs bmap`: an oracle independent of snapsift-fs.
pub fn ext4_disk_offset(image: &Path, path: &str, offset: u64) -> u64 {
    let request = format!("bmap {path} {}", offset / 4096);
    let block: u64 = run_stdout("debugfs", &["-R", &request, image.to_str().unwrap()])
        .trim()
        .parse()
        .unwrap();
    block * 4096 + offset % 4096
}

/// Checks what every finding says of the disk against the image's bytes: a finding with
/// `on_disk` lies there verbatim, at the finding's offset (the byte sweep finds the same
/// occurrence); one without does not lie at its offset (the sweep cannot have reported it).
pub fn assert_on_disk_is_true(image: &Path, output: &FilePassOutput) {
    let bytes = std::fs::read(image).unwrap();
    let at = |start: u64, len: usize| bytes.get(start as usize..start as usize + len);
    for finding in &output.findings {
        let secret = finding.finding.secret_text();
        match &finding.on_disk {
            Some(range) => {
                assert_eq!(at(range.start, secret.len()), Some(secret), "{finding:?}");
                assert_eq!(range.end - range.start, secret.len() as u64, "{finding:?}");
                assert_eq!(finding.finding.offset, range.start, "{finding:?}");
            }
            None => assert_ne!(
                at(finding.finding.offset, secret.len()),
                Some(secret),
                "{finding:?} says it is not on the disk at its offset"
            ),
        }
    }
}
