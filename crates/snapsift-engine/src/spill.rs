//! Compressed streams (`.img.zst`, `.img.gz`): swept once as they are, or spilled first.
//!
//! A stream can only be read front to back, so its volumes and files cannot be mapped: swept
//! as it is, it gives every secret lying in its bytes in the clear, but none inside files
//! that need decoding (gzip logs, archives, UTF-16 text) and no paths. Given a directory the
//! user allows ([`ScanOptions::spill_dir`](crate::scan::ScanOptions::spill_dir)), it is decompressed once into a sparse temporary
//! file there ([`snapsift_disk::StreamImage::spill`]: mode 0600, never named, gone when the
//! process ends) and scanned as a raw image: the same findings as the raw disk, at the cost
//! of the disk space of its data and a second read of it, from the local file. This was
//! chosen over keeping what the file pass needs from a first pass and decompressing again
//! where it reads: a file's extents are known only once the filesystem's metadata has been
//! read, which lies anywhere in the stream, so most images would need several decompressions
//! of the whole stream.

use std::path::Path;

use snapsift_disk::Image;

use crate::EngineError;
use crate::scan::{Level, Observer, Progress, ScanOptions};

/// `image` as the scan should read it: a stream spilled to a file in the directory `options`
/// allows, and anything else as it is. A stream swept as it is, when the file pass was asked
/// for, is told how to get its files read.
pub(crate) fn prepare(
    name: &str,
    image: Image,
    options: &ScanOptions,
    observer: &dyn Observer,
) -> Result<Image, EngineError> {
    let stream = match image {
        Image::Stream(stream) => stream,
        image => return Ok(image),
    };
    let Some(dir) = options.spill_dir.as_deref() else {
        if options.file_pass {
            observer.message(
                Level::Warning,
                &format!(
                    "{name}: a compressed stream is swept front to back without its files read \
                     (secrets inside compressed files, archives and UTF-16 text are missed, \
                     findings have no paths): --spill-dir DIR decompresses it to a temporary \
                     file first"
                ),
            );
        }
        return Ok(Image::Stream(stream));
    };
    spill(name, stream, dir, observer)
}

/// Spills `stream` (the image named `name`) into a temporary file in `dir`, telling
/// `observer` how far it is, and returns it as a disk: for callers that read a stream's files
/// outside a scan (`snapsift audit`).
pub fn spill(
    name: &str,
    stream: snapsift_disk::StreamImage,
    dir: &Path,
    observer: &dyn Observer,
) -> Result<Image, EngineError> {
    observer.progress(Progress::Total(stream.compressed_len()));
    let disk = stream
        .spill(dir, |read| observer.progress(Progress::Done(read)))
        .map_err(|source| EngineError::Spill {
            image: name.to_owned(),
            source,
        })?;
    let size = snapsift_disk::Disk::size(&disk);
    observer.message(
        Level::Info,
        &format!(
            "{name}: decompressed ({size} bytes) into a temporary file in {}, to be read at \
             random",
            dir.display()
        ),
    );
    Ok(Image::Disk(Box::new(disk)))
}
