//! The files a user names for a run to read besides the images: a manifest, a baseline, a
//! rule file, the reports `snapsift merge` joins.
//!
//! Each is opened without blocking (`O_NONBLOCK`: opening a FIFO for reading would otherwise
//! wait for a writer forever), checked to be a regular file from the open descriptor (a FIFO,
//! socket or device could block the run or never end: `/dev/zero`), and read within a limit:
//! [`MAX_FILE_BYTES`] for a file read whole, [`MAX_LINE_BYTES`] per line for a report read
//! line by line.
//!
//! [`ReadFiles`] keeps which files a run reads (these and the images, with every file an image
//! reads), so that its outputs never replace one of them.

use std::collections::HashMap;
use std::fs::{File, FileType, OpenOptions};
use std::io::{BufRead, BufReader, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The most bytes read of a file read whole (manifest, baseline, rule file).
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// The longest line read of a report being merged.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// Which file a file is, whatever its name: its device and inode numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    /// The identity of the file `meta` describes.
    pub fn of(meta: &std::fs::Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// The files a run reads, each with the path it was first named by.
#[derive(Debug, Default)]
pub struct ReadFiles {
    files: HashMap<FileId, PathBuf>,
}

impl ReadFiles {
    /// Records that the file `id`, named `path`, is read.
    pub fn add(&mut self, id: FileId, path: &Path) {
        self.files.entry(id).or_insert_with(|| path.to_owned());
    }

    /// Records that the file at `path` will be read, if it exists (an image, before it is
    /// opened: so that a misplaced output is refused before anything is scanned).
    pub fn add_path(&mut self, path: &Path) {
        if let Ok(meta) = std::fs::metadata(path) {
            self.add(FileId::of(&meta), path);
        }
    }

    /// Records every file an image was read from.
    pub fn add_image_files(&mut self, files: &[snapsift_disk::SourceFile]) {
        for file in files {
            let id = FileId {
                dev: file.dev,
                ino: file.ino,
            };
            self.add(id, &file.path);
        }
    }

    /// The path of the read file `id`, if the run reads it.
    pub fn find(&self, id: FileId) -> Option<&Path> {
        self.files.get(&id).map(PathBuf::as_path)
    }
}

/// Opens `path`, which the user named as `what` (`the manifest`), for reading: refused,
/// without blocking, unless it is a regular file. Records it in `reads`.
pub fn open(path: &Path, what: &str, reads: &mut ReadFiles) -> anyhow::Result<File> {
    let cannot = || format!("cannot open {what} {}", path.display());
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
    {
        Ok(file) => file,
        // A socket cannot be opened at all: say what it is rather than "no such device".
        Err(_) if std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket()) => {
            bail!("{what} {} is a socket, not a regular file", path.display())
        }
        Err(error) => return Err(error).with_context(cannot),
    };
    let meta = file.metadata().with_context(cannot)?;
    let kind = meta.file_type();
    if !kind.is_file() {
        bail!(
            "{what} {} is {}, not a regular file (reading it could block or never end)",
            path.display(),
            kind_name(kind)
        );
    }
    blocking(&file).with_context(cannot)?;
    reads.add(FileId::of(&meta), path);
    Ok(file)
}

/// What a file of type `kind` is, for messages: `a FIFO`, `a directory`.
pub fn kind_name(kind: FileType) -> &'static str {
    if kind.is_file() {
        "a regular file"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "of an unknown type"
    }
}

/// Clears `O_NONBLOCK`, which was only for the open: reads of a regular file then wait for
/// their bytes (as they do anyway on local filesystems; a FUSE or network file could differ).
fn blocking(file: &File) -> std::io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl F_GETFL/F_SETFL only read and set the flags of an open descriptor.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The bytes of `path` (named `what`), opened as [`open`] does, if no more than
/// [`MAX_FILE_BYTES`].
pub fn read_bytes(path: &Path, what: &str, reads: &mut ReadFiles) -> anyhow::Result<Vec<u8>> {
    let file = open(path, what, reads)?;
    let too_large = || {
        anyhow::anyhow!(
            "{what} {} is larger than {} MiB, the most snapsift reads of it",
            path.display(),
            MAX_FILE_BYTES >> 20
        )
    };
    if file.metadata().is_ok_and(|m| m.len() > MAX_FILE_BYTES) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    // One byte more than the limit tells a file that grew past it while read.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

/// The text of `path` (named `what`), read as [`read_bytes`] does; it must be UTF-8.
pub fn read_text(path: &Path, what: &str, reads: &mut ReadFiles) -> anyhow::Result<String> {
    String::from_utf8(read_bytes(path, what, reads)?)
        .map_err(|_| anyhow::anyhow!("{what} {} is not UTF-8 text", path.display()))
}

/// A file (opened as [`open`] does) read one line at a time, each at most
/// [`MAX_LINE_BYTES`] long: a file with no line breaks never grows a buffer past that.
pub struct Lines {
    reader: BufReader<File>,
    path: PathBuf,
    /// The number of the last line read, from 1.
    number: usize,
}

impl Lines {
    /// Opens `path`, named `what`.
    pub fn open(path: &Path, what: &str, reads: &mut ReadFiles) -> anyhow::Result<Lines> {
        Ok(Lines {
            reader: BufReader::new(open(path, what, reads)?),
            path: path.to_owned(),
            number: 0,
        })
    }

    /// Reads the next line into `line` (without its line break); `false` at the end.
    pub fn next_line(&mut self, line: &mut Vec<u8>) -> anyhow::Result<bool> {
        line.clear();
        self.number = self.number.saturating_add(1);
        let limit = MAX_LINE_BYTES as u64 + 1;
        let read = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', line)
            .with_context(|| format!("cannot read {}", self.at()))?;
        if read == 0 {
            return Ok(false);
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        } else if line.len() > MAX_LINE_BYTES {
            bail!(
                "{}: longer than {} MiB, the longest line snapsift reads",
                self.at(),
                MAX_LINE_BYTES >> 20
            );
        }
        Ok(true)
    }

    /// `PATH, line N`, of the last line read, for messages.
    pub fn at(&self) -> String {
        format!("{}, line {}", self.path.display(), self.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_longer_than_the_limit_are_refused_and_others_read() {
        let dir = std::env::temp_dir().join(format!("snapsift-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("report.jsonl");
        let mut text = b"one\r\n\ntwo\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES));
        text.extend(b"\nthree");
        std::fs::write(&path, &text).unwrap();
        let mut lines = Lines::open(&path, "report", &mut ReadFiles::default()).unwrap();
        let mut line = Vec::new();
        let mut got = Vec::new();
        while lines.next_line(&mut line).unwrap() {
            got.push(line.len());
        }
        assert_eq!(got, [4, 0, 3, MAX_LINE_BYTES, 5]);

        text.extend(std::iter::repeat_n(b'y', MAX_LINE_BYTES + 1));
        std::fs::write(&path, &text).unwrap();
        let mut lines = Lines::open(&path, "report", &mut ReadFiles::default()).unwrap();
        let error = loop {
            match lines.next_line(&mut line) {
                Ok(true) => {}
                Ok(false) => panic!("the long line was read"),
                Err(error) => break format!("{error:#}"),
            }
        };
        assert!(error.contains("line 5: longer than 16 MiB"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
