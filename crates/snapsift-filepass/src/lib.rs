//! The file pass: finding the secrets a byte sweep of the disk cannot see, by reading files
//! the way the filesystem gives them.
//!
//! The byte sweep (`snapsift-scan`) reads every byte of the disk once and finds every secret
//! that lies on it as plain, contiguous bytes. Three kinds of secret escape it:
//! * secrets in files whose bytes are transformed on the disk: compressed (gzip, zstd, xz,
//!   bzip2, zip and jar entries, NTFS compression) or encoded (UTF-16 text);
//! * secrets in archives whose members the sweep sees but cannot name (a tar or a stored zip
//!   member: the sweep finds the bytes, only the file pass knows the member's name);
//! * secrets split between two pieces of a fragmented file (or of a file's data held apart,
//!   like inline data and resident attributes), which lie on the disk in two places.
//!
//! [`run`] reads, for each file a [`Filesystem`] lists, the file's first bytes and asks
//! `snapsift-unpack` what they are. Containers and UTF-16 text are expanded (within the
//! [`Limits`]) and every leaf is scanned; other files are read only around their seams
//! ([`FileContent::seams`](snapsift_fs::FileContent::seams)), where the file's bytes stop being
//! contiguous on the disk, and only the findings that cross a seam are kept.
//!
//! # One occurrence, one finding
//!
//! Every [`FileFinding`] says whether its secret also lies verbatim on the disk
//! ([`FileFinding::on_disk`]): then the sweep finds the same bytes at the same offset, and the
//! caller reports the occurrence once, with the file pass's richer location (the archive
//! member). Findings that cross a seam or come from decoded bytes are not on the disk as such,
//! and the sweep cannot have reported them. Within one file, a finding seen from two seams is
//! kept once.
//!
//! # Cost
//!
//! Every file costs one small read of its head; only containers, UTF-16 text and the bytes
//! around seams are read further. Files are spread over the scan's threads, each with its own
//! matcher scratch. Memory is bounded by [`Limits`] and the findings kept.

// Nothing here needs `unsafe`: no SIMD, no system calls beyond what std wraps.
#![forbid(unsafe_code)]

mod error;
mod file;
mod finding;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use snapsift_disk::Disk;
use snapsift_fs::Filesystem;
use snapsift_match::Matcher;
use snapsift_scan::ReadScanner;
use snapsift_unpack::BufferPool;

pub use error::FilePassError;
pub use finding::{FileFinding, Problem};
pub use snapsift_unpack::{Kind, Layer, LeafEncoding, LimitReached, Limits};

/// How the file pass runs.
#[derive(Clone, Debug)]
pub struct FilePassConfig {
    /// Limits on expanding containers (depth, expansion budget, entries, buffering, decoder
    /// windows).
    pub limits: Limits,
    /// Threads; 0 means one per core.
    pub threads: usize,
    /// The chunk size leaves are scanned in (their window holds this plus the overlap).
    pub chunk_size: usize,
}

impl Default for FilePassConfig {
    fn default() -> Self {
        FilePassConfig {
            limits: Limits::default(),
            threads: 0,
            chunk_size: 1 << 20,
        }
    }
}

/// What a file pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilePassSummary {
    /// Files whose head was read.
    pub files: u64,
    /// Files expanded as containers or decoded text.
    pub expanded: u64,
    /// Leaves scanned inside them.
    pub leaves: u64,
    /// Bytes of leaves scanned.
    pub leaf_bytes: u64,
    /// Seams read around.
    pub seams: u64,
}

/// The result of a file pass over one filesystem.
#[derive(Debug, Default)]
pub struct FilePassOutput<'m> {
    /// The findings, in the order of the filesystem's files, then of their contents.
    pub findings: Vec<FileFinding<'m>>,
    /// What could not be read or expanded, file by file (never silent).
    pub problems: Vec<Problem>,
    /// What was done.
    pub summary: FilePassSummary,
}

/// Runs the file pass over every file `fs` lists, reading through `disk` where the volume
/// starts at `volume_start`. `progress` is told the number of files done as they finish.
///
/// A file that cannot be read or expanded is a [`Problem`], and the pass goes on; an error is
/// returned only when the pass itself cannot run (its threads).
pub fn run<'m>(
    disk: &dyn Disk,
    volume_start: u64,
    fs: &dyn Filesystem,
    matcher: &'m Matcher,
    config: &FilePassConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<FilePassOutput<'m>, FilePassError> {
    run_files(disk, volume_start, fs, &|_| true, matcher, config, progress)
}

/// As [`run`], over the files of `fs` whose index (into [`Filesystem::files`]) `select`
/// picks (one shard of a scan split between processes reads its own share). Each file is
/// built from the compact list as its turn comes: the pass holds no list of its own.
pub fn run_files<'m>(
    disk: &dyn Disk,
    volume_start: u64,
    fs: &dyn Filesystem,
    select: &(dyn Fn(usize) -> bool + Sync),
    matcher: &'m Matcher,
    config: &FilePassConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<FilePassOutput<'m>, FilePassError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads)
        .thread_name(|i| format!("snapsift-files-{i}"))
        .build()
        .map_err(|e| FilePassError::Threads(e.to_string()))?;
    let files = fs.files();
    let seam_radius = u64::try_from(
        matcher
            .context_len()
            .saturating_add(snapsift_scan::CONTEXT_RADIUS),
    )
    .unwrap_or(u64::MAX);
    let done = AtomicU64::new(0);
    let merged = Mutex::new(FilePassOutput::default());
    // One pool for all threads: nested zips held in memory cost max_buffered in all, not per
    // thread (a pass on many cores would otherwise hold that much per core).
    let buffers = Arc::new(BufferPool::for_limits(&config.limits));
    pool.install(|| {
        (0..files.len())
            .into_par_iter()
            .filter(|&i| select(i))
            .for_each_init(
                || ReadScanner::new(matcher, config.chunk_size),
                |scanner, index| {
                    let content = files.content(index).unwrap_or_default();
                    let reader = file::FileReader {
                        disk,
                        volume_start,
                        index,
                        content: &content,
                        limits: &config.limits,
                        buffers: &buffers,
                        seam_radius,
                    };
                    let out = reader.scan(scanner);
                    if let Ok(mut merged) = merged.lock() {
                        merged.findings.extend(out.findings);
                        merged.problems.extend(out.problems);
                        add(&mut merged.summary, &out.summary);
                    }
                    progress(done.fetch_add(1, Ordering::Relaxed).saturating_add(1));
                },
            );
    });
    let mut output = merged
        .into_inner()
        .map_err(|_| FilePassError::Threads("a file pass thread panicked".into()))?;
    // Threads finish in any order: give the caller a stable one (the sort is stable, so each
    // file's findings keep the order they were found in).
    output.findings.sort_by_key(|f| f.file);
    output.problems.sort_by_key(|p| p.file);
    Ok(output)
}

/// Adds `more` to `total`.
fn add(total: &mut FilePassSummary, more: &FilePassSummary) {
    total.files = total.files.saturating_add(more.files);
    total.expanded = total.expanded.saturating_add(more.expanded);
    total.leaves = total.leaves.saturating_add(more.leaves);
    total.leaf_bytes = total.leaf_bytes.saturating_add(more.leaf_bytes);
    total.seams = total.seams.saturating_add(more.seams);
}
