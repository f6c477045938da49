//! Where findings go: standard output, or a file only its owner can read.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// Findings hold secrets: output files are readable by their owner only.
const OUTPUT_MODE: u32 = 0o600;

/// Opens where findings are written: `path` if given, else standard output.
///
/// A file is created with mode 0600 (and an existing one is truncated and set to 0600), with
/// its missing parent directories. The
/// output may not be one of the files the run reads (`inputs`: the disks being scanned, the
/// reports being merged), nor a block device, nor a symbolic link: a misplaced `-o` must
/// never write over evidence.
pub fn open(path: Option<&Path>, inputs: &[PathBuf]) -> anyhow::Result<Box<dyn Write>> {
    let Some(path) = path else {
        return Ok(Box::new(BufWriter::new(io::stdout().lock())));
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_symlink() {
            bail!(
                "refusing to write findings to {}: it is a symbolic link",
                path.display()
            );
        }
        if meta.file_type().is_block_device() {
            bail!(
                "refusing to write findings to {}: it is a block device",
                path.display()
            );
        }
        for input in inputs {
            if std::fs::metadata(input)
                .is_ok_and(|d| d.dev() == meta.dev() && d.ino() == meta.ino())
            {
                bail!(
                    "refusing to write findings to {}: it is {}, which this run reads",
                    path.display(),
                    input.display()
                );
            }
        }
    }
    // A fleet's workers write into a directory per disk that may not exist yet.
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create the directory {}", parent.display()))?;
    }
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(OUTPUT_MODE)
        // O_NOFOLLOW: a symbolic link placed between the check above and this open is refused.
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .with_context(|| format!("cannot create output file {}", path.display()))?;
    restrict(&file).with_context(|| format!("cannot set mode 0600 on {}", path.display()))?;
    Ok(Box::new(BufWriter::new(file)))
}

/// An existing file keeps its old mode on open; set it to 0600 before anything is written.
fn restrict(file: &File) -> io::Result<()> {
    file.set_permissions(Permissions::from_mode(OUTPUT_MODE))
}
