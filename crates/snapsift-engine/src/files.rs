//! The file pass of one image, and how its findings meet the byte sweep's.
//!
//! The file pass runs first, over every mapped filesystem. Its findings are of two kinds
//! (see `snapsift_filepass`): those whose secret also lies verbatim on the disk, which the
//! sweep will find again at the same offset, and those it cannot (decoded bytes, secrets
//! across a seam). The first kind waits here, by disk offset, for the sweep: when the sweep
//! reports that offset, the occurrence is printed once, with the file pass's location (it
//! names the archive member). The second kind, and any of the first the sweep did not report,
//! are printed after the sweep.
//!
//! Decoded bytes can still lie verbatim on the disk: compressors store what they cannot
//! shrink (xz and deflate stored blocks), so a short file's secret may be both on the disk,
//! inside the compressed file, and in its decoded stream. When the sweep reports a secret
//! inside a file (per the filesystem map) and the file pass decoded the same secret, by the
//! same rule, from that file, the two are one occurrence: it is printed once, with the file
//! pass's chain and the sweep's exact disk offset. The same holds for a secret in a file's
//! own bytes that are not on the disk as the file reads (a btrfs extent compressed with zstd
//! keeps what it cannot shrink, a unique secret among them, as raw literals): it is paired
//! with the sweep's finding of the same secret inside the same file.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use snapsift_disk::Disk;
use snapsift_filepass::{FileFinding, FilePassConfig};
use snapsift_fs::{FileEntry, FileState, Files, Filesystem, VolumeMap};
use snapsift_match::Matcher;
use snapsift_scan::Finding;

use crate::EngineError;
use crate::coverage::{FileProblem, LimitRecord};
use crate::place::FileAt;
use crate::scan::{Level, Observer, Progress};
use crate::shard::ShardPlan;

/// The file pass's findings of one image, with where each is.
#[derive(Default)]
pub struct FileFindings<'m> {
    /// Findings the sweep will see too, by disk offset.
    twins: HashMap<u64, Pending<'m>>,
    /// Findings in decoded bytes (or file bytes not on the disk as such), by what identifies them: (volume start, file number, rule,
    /// secret). The sweep may see them too, inside the same file.
    decoded: HashMap<DecodedKey, Vec<Pending<'m>>>,
    /// Findings only the file pass sees.
    only: Vec<Pending<'m>>,
    /// How many findings the pass has handed over so far: the next one's place in its order.
    added: u64,
    /// What the pass could not read or expand in full (each told on standard error too), with
    /// the file's volume start and number (a shard reports its own files' only).
    pub problems: Vec<((u64, u64), FileProblem)>,
}

/// One image as the file pass sees it: its disk, volumes and the filesystems mapped on them.
pub struct MappedImage<'a> {
    /// The image's name, as messages give it.
    pub name: &'a str,
    /// The virtual disk.
    pub disk: &'a dyn Disk,
    /// Its volumes.
    pub volumes: &'a VolumeMap,
    /// The filesystem of each volume, where one was recognised.
    pub filesystems: &'a [Option<Box<dyn Filesystem>>],
}

/// What identifies a decoded finding: (volume start, file number, rule id, secret).
type DecodedKey = (u64, u64, String, Vec<u8>);

/// A finding of the file pass waiting for the sweep: its place in the pass's order (files,
/// then their contents), where it is, and the finding. Decoded findings all carry the disk
/// offset of their file's first byte, so that order is what tells them apart.
type Pending<'m> = (u64, FileAt, Finding<'m>);

impl<'m> FileFindings<'m> {
    /// Runs the file pass over the files of every filesystem of the image: all of them, or
    /// those `shard`'s file pass reads.
    pub fn collect(
        image: &MappedImage<'_>,
        matcher: &'m Matcher,
        config: &FilePassConfig,
        shard: Option<&ShardPlan>,
        observer: &dyn Observer,
    ) -> Result<FileFindings<'m>, EngineError> {
        let MappedImage {
            name,
            disk,
            volumes,
            filesystems,
        } = *image;
        let mut found = FileFindings::default();
        // Which files of a filesystem the pass reads: counted first for the progress bar,
        // then read; nothing is kept per file in between.
        let picks = |start: u64, files: Files<'_>, index: usize| {
            shard.is_none_or(|plan| {
                let content = files.content(index).unwrap_or_default();
                files
                    .id(index)
                    .is_some_and(|id| plan.reads(start, id, &content))
            })
        };
        let picked = |start: u64, files: Files<'_>| -> u64 {
            match shard {
                None => files.len() as u64,
                Some(_) => (0..files.len()).filter(|&i| picks(start, files, i)).count() as u64,
            }
        };
        let total: u64 = volumes
            .volumes
            .iter()
            .zip(filesystems)
            .filter_map(|(volume, fs)| Some(picked(volume.range.start, fs.as_ref()?.files())))
            .sum();
        observer.progress(Progress::Files(total));
        let mut done_before = 0u64;
        for (volume, fs) in volumes.volumes.iter().zip(filesystems) {
            let Some(fs) = fs else { continue };
            let start = volume.range.start;
            let files = fs.files();
            let report =
                |done: u64| observer.progress(Progress::Done(done_before.saturating_add(done)));
            let output = snapsift_filepass::run_files(
                disk,
                start,
                &**fs,
                &|index| picks(start, files, index),
                matcher,
                config,
                &report,
            )?;
            done_before = done_before.saturating_add(picked(start, files));
            for problem in output.problems {
                let Some(entry) = files.get(problem.file) else {
                    continue;
                };
                let at = file_at(&**fs, &entry, &problem.chain, None);
                let record = FileProblem {
                    path: at.path,
                    offset: problem.disk_offset,
                    container: at.chain,
                    limit: problem.limit.map(|l| LimitRecord {
                        name: l.name.to_owned(),
                        value: l.value,
                    }),
                    message: problem.message,
                };
                let place = record.display_place();
                observer.message(
                    Level::Warning,
                    &format!("{name}: note: {place}: {}", record.message),
                );
                found
                    .problems
                    .push(((volume.range.start, entry.id), record));
            }
            for finding in output.findings {
                found.add(start, &**fs, files, finding);
            }
        }
        Ok(found)
    }

    /// Files one finding of the file pass.
    fn add(
        &mut self,
        volume_start: u64,
        fs: &dyn Filesystem,
        files: Files<'_>,
        f: FileFinding<'m>,
    ) {
        let Some(entry) = files.get(f.file) else {
            return;
        };
        let at = file_at(fs, &entry, &f.chain, Some(&f));
        let seq = self.added;
        self.added = self.added.saturating_add(1);
        let Some(on_disk) = f.on_disk else {
            // Decoded, or in the file's own bytes that the disk holds compressed: the sweep
            // may still see the secret inside the file (see the module docs).
            if f.decoded_offset.is_some() || f.file_offset.is_some() {
                let key = (
                    volume_start,
                    entry.id,
                    f.finding.rule.id.clone(),
                    f.finding.secret_text().to_vec(),
                );
                self.decoded
                    .entry(key)
                    .or_default()
                    .push((seq, at, f.finding));
            } else {
                self.only.push((seq, at, f.finding));
            }
            return;
        };
        match self.twins.entry(on_disk.start) {
            Entry::Vacant(slot) => {
                slot.insert((seq, at, f.finding));
            }
            // The same disk bytes read through two files: a deleted file whose blocks a live
            // one now holds. The live file names them.
            Entry::Occupied(mut slot) => {
                if slot.get().1.state == FileState::Deleted && at.state != FileState::Deleted {
                    slot.insert((seq, at, f.finding));
                }
            }
        }
    }

    /// The file pass's version of the sweep's finding `finding`, if it has one: the same
    /// occurrence, better located. `volume_start` and `file` say where the filesystem map
    /// places the sweep's finding.
    pub fn take_twin(
        &mut self,
        finding: &Finding<'m>,
        volume_start: Option<u64>,
        file: Option<&FileAt>,
    ) -> Option<(FileAt, Finding<'m>)> {
        if let Some((_, at, twin)) = self.twins.remove(&finding.offset) {
            return Some((at, twin));
        }
        let id = file?.id?;
        let key = (
            volume_start?,
            id,
            finding.rule.id.clone(),
            finding.secret_text().to_vec(),
        );
        let pending = self.decoded.get_mut(&key)?;
        let (_, at, mut decoded) = pending.pop()?;
        if pending.is_empty() {
            self.decoded.remove(&key);
        }
        // The sweep knows where the bytes are, and how they are written there.
        decoded.offset = finding.offset;
        decoded.encoding = finding.encoding;
        Some((at, decoded))
    }

    /// What is left once the sweep is done: the findings only the file pass saw, and twins
    /// the sweep did not report, in disk order, and where that is one, in the file pass's
    /// order: the same from run to run (the maps hold them in no order).
    pub fn into_rest(self) -> Vec<(FileAt, Finding<'m>)> {
        let mut rest: Vec<Pending<'m>> = self.twins.into_values().collect();
        rest.extend(self.decoded.into_values().flatten());
        rest.extend(self.only);
        rest.sort_by_key(|(seq, _, f)| (f.offset, *seq));
        rest.into_iter().map(|(_, at, f)| (at, f)).collect()
    }
}

/// The location of a file-pass finding in `entry` of `fs`.
fn file_at(
    fs: &dyn Filesystem,
    entry: &FileEntry,
    chain: &[snapsift_filepass::Layer],
    finding: Option<&FileFinding<'_>>,
) -> FileAt {
    FileAt {
        filesystem: fs.kind(),
        state: entry.state,
        id_name: fs.id_name(),
        id: Some(entry.id),
        path: entry.path.clone(),
        chain: chain.to_vec(),
        encoding: finding.and_then(|f| f.encoding),
        file_offset: finding.and_then(|f| f.file_offset),
        decoded_offset: finding.and_then(|f| f.decoded_offset),
    }
}
