//! Where a report goes: standard output, or a file only its owner can read.
//!
//! A report file is written to a temporary file beside it (created new, `O_EXCL`, mode 0600)
//! and renamed over it only once complete ([`Output::finish`]): a run that fails, or is
//! interrupted by SIGINT or SIGTERM ([`crate::interrupt`]), leaves the previous report as it
//! was. A character device or a FIFO (`-o /dev/null`, a named pipe) is written directly: it is
//! never replaced and its mode never changed. A symbolic link, a block device, a directory, a
//! socket, and any file the run reads ([`ReadFiles`]: the images and every file they read, the
//! manifest, the baseline, the rule file, the reports merged) are refused, when the output is
//! opened, as each image is opened, and again right before the rename: a misplaced `-o` must
//! never write over evidence.
//!
//! A write that fails is an [`OutputError`]: the run stops (where an image's error only
//! fails that image), and a closed pipe (`snapsift scan ... | head -1`) ends it quietly.

use std::ffi::OsString;
use std::fmt;
use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::Context;

use crate::input::{self, FileId, ReadFiles};
use crate::interrupt;

/// Findings hold secrets: output files are readable by their owner only.
const OUTPUT_MODE: u32 = 0o600;

/// Why the report cannot be written: the run stops.
#[derive(Debug)]
pub enum OutputError {
    /// A write (or the final flush, sync or rename) failed.
    Write {
        /// The output: its path, or `standard output`.
        name: String,
        /// What the operating system said.
        source: io::Error,
    },
    /// The output may not be written there.
    Refused {
        /// The output's path.
        name: String,
        /// Why.
        reason: String,
    },
}

impl OutputError {
    /// Whether the reader of the output went away (`| head -1`): the run ends quietly.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, OutputError::Write { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }

    /// The `OutputError` that `error` is, if it is one (a printer's error is the writer's).
    pub fn from_io(error: io::Error) -> anyhow::Error {
        if !error.get_ref().is_some_and(|e| e.is::<OutputError>()) {
            return anyhow::Error::new(error).context("cannot write findings");
        }
        match error
            .into_inner()
            .map(|inner| inner.downcast::<OutputError>())
        {
            Some(Ok(output)) => anyhow::Error::new(*output),
            Some(Err(other)) => anyhow::anyhow!(other),
            None => anyhow::anyhow!("cannot write findings"),
        }
    }
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputError::Write { name, .. } => write!(f, "cannot write findings to {name}"),
            OutputError::Refused { name, reason } => {
                write!(f, "refusing to write findings to {name}: {reason}")
            }
        }
    }
}

impl std::error::Error for OutputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OutputError::Write { source, .. } => Some(source),
            OutputError::Refused { .. } => None,
        }
    }
}

/// Where the bytes go.
enum Sink {
    Stdout(io::Stdout),
    File(File),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Stdout(out) => out.write(buf),
            Sink::File(file) => file.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Stdout(out) => out.flush(),
            Sink::File(file) => file.flush(),
        }
    }
}

/// A report file being written to a temporary file, to be renamed over `target`.
struct Replace {
    temporary: PathBuf,
    target: PathBuf,
}

/// An open output: standard output, a device or FIFO written directly, or a report file
/// written in its temporary file. Dropped without [`Output::finish`], it removes the
/// temporary file.
pub struct Output {
    /// Its path, or `standard output`, for messages.
    name: String,
    writer: BufWriter<Sink>,
    replace: Option<Replace>,
}

impl Output {
    /// Opens where a report is written: `path` if given (see the module docs), else standard
    /// output. `reads` are the files the run reads, so far.
    pub fn open(path: Option<&Path>, reads: &ReadFiles) -> anyhow::Result<Output> {
        let Some(path) = path else {
            return Ok(Output {
                name: "standard output".to_owned(),
                writer: BufWriter::new(Sink::Stdout(io::stdout())),
                replace: None,
            });
        };
        let name = path.display().to_string();
        let existing = match std::fs::symlink_metadata(path) {
            Ok(meta) => Some(meta),
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(error) => {
                return Err(error).with_context(|| format!("cannot look at output file {name}"));
            }
        };
        if let Some(meta) = &existing {
            let kind = meta.file_type();
            if kind.is_char_device() || kind.is_fifo() {
                return Ok(Output {
                    writer: BufWriter::new(Sink::File(open_device(path)?)),
                    name,
                    replace: None,
                });
            }
        }
        check_target(path, reads)?;
        // A fleet's workers write into a directory per disk that may not exist yet.
        let dir = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(parent) => {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create the directory {}", parent.display()))?;
                parent
            }
            None => Path::new("."),
        };
        let (file, temporary) = interrupt::create_temporary(|| create_temporary(dir, path))
            .with_context(|| {
                format!(
                    "cannot create a temporary file in {} for {name}",
                    dir.display()
                )
            })?;
        Ok(Output {
            name,
            writer: BufWriter::new(Sink::File(file)),
            replace: Some(Replace {
                temporary,
                target: path.to_owned(),
            }),
        })
    }

    /// Refuses to go on if the file this output is to replace is now one the run reads (an
    /// image just opened, or a file it read): called as each image is opened.
    pub fn check(&self, reads: &ReadFiles) -> anyhow::Result<()> {
        match &self.replace {
            Some(replace) => check_target(&replace.target, reads),
            None => Ok(()),
        }
    }

    /// Writes out what is buffered and puts the report in place: the temporary file is
    /// synced and renamed over the output file, once the output file is checked again.
    pub fn finish(mut self, reads: &ReadFiles) -> anyhow::Result<()> {
        self.flush().map_err(OutputError::from_io)?;
        let Some(replace) = self.replace.take() else {
            return Ok(());
        };
        let fail = |source: io::Error| OutputError::Write {
            name: self.name.clone(),
            source,
        };
        let result = (|| {
            if let Sink::File(file) = self.writer.get_ref() {
                file.sync_all().map_err(fail)?;
            }
            check_target(&replace.target, reads)?;
            interrupt::keep(&replace.temporary, || {
                std::fs::rename(&replace.temporary, &replace.target)
            })
            .map_err(fail)?;
            Ok(())
        })();
        if result.is_err() {
            interrupt::discard(&replace.temporary);
        }
        result
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf).map_err(|e| self.failed(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush().map_err(|e| self.failed(e))
    }
}

impl Output {
    /// `error` as an [`OutputError`] naming this output, inside an `io::Error` for the
    /// printers to pass on ([`OutputError::from_io`] takes it out).
    fn failed(&self, error: io::Error) -> io::Error {
        let kind = error.kind();
        io::Error::new(
            kind,
            OutputError::Write {
                name: self.name.clone(),
                source: error,
            },
        )
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if let Some(replace) = self.replace.take() {
            interrupt::discard(&replace.temporary);
        }
    }
}

/// Refuses the output file `path` if it exists as anything but a regular file the run does
/// not read.
fn check_target(path: &Path, reads: &ReadFiles) -> anyhow::Result<()> {
    let refuse = |reason: String| {
        Err(OutputError::Refused {
            name: path.display().to_string(),
            reason,
        }
        .into())
    };
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => {
            return Err(error)
                .with_context(|| format!("cannot look at output file {}", path.display()));
        }
    };
    let kind = meta.file_type();
    if !kind.is_file() {
        return refuse(format!("it is {}", input::kind_name(kind)));
    }
    if let Some(input) = reads.find(FileId::of(&meta)) {
        return refuse(format!("it is {}, which this run reads", input.display()));
    }
    Ok(())
}

/// Opens the character device or FIFO `path` for writing, as it is: no truncation, no mode
/// change.
fn open_device(path: &Path) -> anyhow::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        // O_NOFOLLOW: a symbolic link swapped in since the look is refused.
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .with_context(|| format!("cannot open output {}", path.display()))?;
    let kind = file
        .metadata()
        .with_context(|| format!("cannot open output {}", path.display()))?
        .file_type();
    if !(kind.is_char_device() || kind.is_fifo()) {
        return Err(OutputError::Refused {
            name: path.display().to_string(),
            reason: "it changed while it was opened".to_owned(),
        }
        .into());
    }
    Ok(file)
}

/// Creates a new temporary file in `dir` for the report `target`, mode 0600: its path is
/// `.NAME.snapsift-PID-N.tmp`.
fn create_temporary(dir: &Path, target: &Path) -> io::Result<(File, PathBuf)> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = target.file_name().map_or(&[][..], |n| n.as_bytes());
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut file_name = OsString::from(".");
        file_name.push(std::ffi::OsStr::from_bytes(name));
        file_name.push(format!(".snapsift-{}-{n}.tmp", std::process::id()));
        let path = dir.join(file_name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(OUTPUT_MODE)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
        {
            // Created by us: 0600 whatever the umask left.
            Ok(file) => {
                if let Err(error) = file.set_permissions(Permissions::from_mode(OUTPUT_MODE)) {
                    let _ = std::fs::remove_file(&path);
                    return Err(error);
                }
                return Ok((file, path));
            }
            // Left by another run, or being made by one: try the next name.
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists && attempts < 100 => {}
            Err(error) => return Err(error),
        }
    }
}
