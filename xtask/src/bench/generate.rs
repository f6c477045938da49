//! The benchmark's disk image: a GPT disk whose one ext4 partition is ~90% full of a
//! realistic mix, with secrets planted in live files and in the free blocks of deleted ones;
//! and the same files (the same deleted) on a disk of the same size whose partition is XFS
//! ([`XFS_IMAGE`]; made through a loop mount, see [`FsKind`]).
//!
//! Content, by share of the file data:
//! * log text (42%): access logs, JSON lines, syslog (see [`crate::shared::text`]), with the live
//!   planted secrets spread through them;
//! * binaries (24%): ELF files of this machine (/usr/bin, /usr/lib, ...) concatenated;
//! * random data (24%): incompressible, like media, archives, encrypted blobs;
//! * small text files (3%): thousands of 1-16 KiB files, for a realistic amount of metadata;
//! * deleted logs (7%): log files with their own planted secrets, removed with debugfs after
//!   mkfs (on XFS, through the mount) so that their blocks are free but still hold them.
//!
//! Generation streams: each file is written in 1 MiB pieces by one of several threads, each
//! file from its own generator stream, so the text and the secrets do not depend on scheduling.
//! The images are cached (target/bench/disk.img and disk-xfs.img with planted.json beside them)
//! and rebuilt only when missing, of another size, or made by another [`GENERATOR_VERSION`].

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Result, anyhow};
use serde::{Deserialize, Serialize};

use crate::shared::filesystem::{FsKind, Names};
use crate::shared::image::{self, Ext4, GptDisk, MIB};
use crate::shared::locate;
use crate::shared::rng::Prng;
use crate::shared::secrets::{self, ALIBABA_KEY_ID, AWS_KEY_ID, CONNECTION_URI, PemKind, Planted};
use crate::shared::text::{Flavor, TextGen};
use crate::shared::workspace::{bytes, display, run_tool};

/// Bump when the generated image changes, so cached images are rebuilt.
pub const GENERATOR_VERSION: u32 = 3;
/// The file name of the image with the same files on XFS.
pub const XFS_IMAGE: &str = "disk-xfs.img";
/// Seed of the text and the secrets (the binaries are whatever this machine has).
const SEED: u64 = 0xbe4c_5a4d_0001;
/// Secrets planted in live files, per rule family (AWS, Alibaba, private keys, URIs).
const PER_FAMILY: usize = 200;
/// Secrets planted in files that are then deleted, per rule family.
const PER_FAMILY_DELETED: usize = 50;
/// Share of the file system's size given to file data; with ext4's metadata (inode tables,
/// journal) it is about 90% full before the deletions.
const FILL: f64 = 0.86;
/// Bytes written at a time.
const WRITE_BUF: usize = 1 << 20;

/// What was generated: the record written to planted.json.
#[derive(Serialize, Deserialize)]
pub struct Manifest {
    /// [`GENERATOR_VERSION`] of the generator that made the image.
    pub generator_version: u32,
    /// Size of the disk image in bytes.
    pub image_size: u64,
    /// Number of files written to the file system (including the deleted ones).
    pub files: usize,
    /// Bytes of file data written.
    pub data_bytes: u64,
    /// Every planted secret, with its offset on the disk when it is stored in one piece.
    pub planted: Vec<Planted>,
}

/// Returns the manifest of the cached image `dir/disk.img`, generating the image first if it
/// is missing or stale. With `keep`, the file tree and bare file system are left in `dir`.
pub fn ensure_image(dir: &Path, size: u64, keep: bool) -> Result<Manifest> {
    let image = dir.join("disk.img");
    let manifest_path = dir.join("planted.json");
    let cached = fs::read(&manifest_path)
        .ok()
        .and_then(|json| serde_json::from_slice::<Manifest>(&json).ok())
        .filter(|m| m.generator_version == GENERATOR_VERSION && m.image_size == size)
        .filter(|_| {
            [&image, &dir.join(XFS_IMAGE)]
                .iter()
                .all(|i| fs::metadata(i).is_ok_and(|m| m.len() == size))
        });
    if let Some(manifest) = cached {
        println!(
            "using the cached image {} ({})",
            display(&image),
            bytes(size)
        );
        return Ok(manifest);
    }
    // The manifest is written last and marks a complete image: remove it first, so that an
    // interrupted generation is redone.
    let _ = fs::remove_file(&manifest_path);
    fs::create_dir_all(dir)?;
    let manifest = generate(dir, &image, size, keep)?;
    fs::write(
        &manifest_path,
        serde_json::to_string_pretty(&manifest)? + "\n",
    )?;
    Ok(manifest)
}

/// One file to write.
struct FilePlan {
    /// Absolute path inside the file system.
    path: String,
    /// Bytes to write (text files end on a whole line, so they may run a little over).
    size: u64,
    kind: Kind,
    /// Planted secrets in this file: (byte position, index into the planted list).
    secrets: Vec<(u64, usize)>,
}

/// What a file holds.
#[derive(Clone, Copy)]
enum Kind {
    /// Log text, live secrets planted in the larger files.
    Text(Flavor),
    /// Concatenated ELF files.
    Binary,
    /// Incompressible random bytes.
    Random,
    /// Log text with its own planted secrets, deleted after mkfs.
    Deleted,
}

/// The groups of files: (share of the data budget, smallest and largest file).
const GROUPS: [(Group, f64, u64, u64); 5] = [
    (Group::Logs, 0.42, 2 * MIB, 32 * MIB),
    (Group::Binaries, 0.24, MIB, 48 * MIB),
    (Group::Blobs, 0.24, 4 * MIB, 64 * MIB),
    (Group::SmallFiles, 0.03, 1 << 10, 16 << 10),
    (Group::ToDelete, 0.07, MIB, 8 * MIB),
];

/// A group of similar files, in a directory of their own.
#[derive(Clone, Copy)]
enum Group {
    Logs,
    Binaries,
    Blobs,
    SmallFiles,
    ToDelete,
}

impl Group {
    /// Path and kind of the group's file number `n`.
    fn file(self, rng: &mut Prng, n: usize) -> (String, Kind) {
        match self {
            Group::Logs => {
                let flavor = Flavor::ALL[rng.index(Flavor::ALL.len())];
                let name = match flavor {
                    Flavor::Access => "nginx/access",
                    Flavor::Json => "app/orders",
                    Flavor::Syslog => "syslog",
                };
                (format!("/var/log/{name}-{n:04}.log"), Kind::Text(flavor))
            }
            Group::Binaries => (format!("/opt/vendor/lib/libbundle-{n:04}.so"), Kind::Binary),
            Group::Blobs => (format!("/srv/data/blobs/blob-{n:04}.bin"), Kind::Random),
            Group::SmallFiles => (
                // A hundred per directory, like a mail or job spool.
                format!("/var/spool/app/{:03}/msg-{n:06}.txt", n / 100),
                Kind::Text(Flavor::ALL[n % Flavor::ALL.len()]),
            ),
            Group::ToDelete => (format!("/var/tmp/export/export-{n:04}.log"), Kind::Deleted),
        }
    }
}

/// Builds the image: plans the files and secrets, writes the tree, makes the file system and
/// deletes the files to delete, assembles the GPT disk, then locates every planted secret.
fn generate(dir: &Path, image: &Path, size: u64, keep: bool) -> Result<Manifest> {
    let started = Instant::now();
    let fs_size = size - 2 * MIB; // 1 MiB before the partition, 1 MiB after for the backup GPT
    let data_budget = ((fs_size as f64 * FILL) as u64).max(8 * MIB);
    let mut rng = Prng::new(SEED);
    let mut files = plan_files(&mut rng, data_budget);
    let (mut planted, live) = plan_secrets(&mut rng);
    place_secrets(&mut rng, &mut files, &mut planted, live);
    let data_bytes: u64 = files.iter().map(|f| f.size).sum();

    let tree = dir.join("tree");
    if tree.exists() {
        fs::remove_dir_all(&tree)?;
    }
    println!(
        "generating {} in {} files under {} ({} threads)",
        bytes(data_bytes),
        files.len(),
        display(&tree),
        workers()
    );
    write_tree(&tree, &files, &planted)?;
    println!("  done in {:.1} s", started.elapsed().as_secs_f64());
    let deleted: Vec<String> = files
        .iter()
        .filter(|f| matches!(f.kind, Kind::Deleted))
        .map(|f| f.path.clone())
        .collect();

    let step = Instant::now();
    let xfs_image = dir.join(XFS_IMAGE);
    FsKind::Xfs.make_disk(
        &tree,
        &deleted,
        &xfs_image,
        fs_size,
        &Names {
            label: "bench-root",
            fs_uuid: "5a4d5349-4654-4000-8000-0000000000c1",
            disk_guid: "5A4D5349-4654-4000-8000-0000000000C2",
            partition_guid: "5A4D5349-4654-4000-8000-0000000000C3",
        },
        dir,
    )?;
    println!(
        "the same files on XFS ({}) in {:.1} s",
        display(&xfs_image),
        step.elapsed().as_secs_f64()
    );

    let step = Instant::now();
    let fs_image = dir.join("fs.img");
    Ext4 {
        label: "bench-root",
        uuid: "5a4d5349-4654-4000-8000-0000000000b1",
        size: fs_size,
        fake_time: None,
    }
    .make(&fs_image, &tree)?;
    if !keep {
        fs::remove_dir_all(&tree)?;
    }
    let deletions: Vec<String> = deleted.iter().map(|p| format!("rm {p}")).collect();
    let before = allocated_percent(&fs_image)?;
    image::debugfs(&fs_image, &deletions, None)?;
    println!(
        "mkfs.ext4 -d and {} deletions done in {:.1} s: the file system is {before:.0}% full, {:.0}% after the deletions",
        deletions.len(),
        step.elapsed().as_secs_f64(),
        allocated_percent(&fs_image)?
    );

    let step = Instant::now();
    GptDisk {
        size,
        disk_guid: "5A4D5349-4654-4000-8000-0000000000B2",
        partition_guid: "5A4D5349-4654-4000-8000-0000000000B3",
        partition_name: "bench-root",
        partition_start: MIB,
        partition_size: fs_size,
    }
    .make(image)?;
    image::dd_into(&fs_image, image, MIB)?;
    if !keep {
        fs::remove_file(&fs_image)?;
    }
    println!("disk assembled in {:.1} s", step.elapsed().as_secs_f64());

    let step = Instant::now();
    let needles: Vec<&[u8]> = planted.iter().map(|p| p.secret.as_bytes()).collect();
    let found = locate::find_all(image, &needles)?;
    let mut split = 0;
    for (p, offsets) in planted.iter_mut().zip(found) {
        // Each secret is written once; absent means a fragmented file split it.
        p.offset = offsets.first().copied();
        split += usize::from(offsets.is_empty());
    }
    println!(
        "located the {} planted secrets in {:.1} s{}",
        planted.len(),
        step.elapsed().as_secs_f64(),
        if split > 0 {
            format!(" ({split} split across fragments)")
        } else {
            String::new()
        }
    );
    println!(
        "image ready in {:.0} s: {}",
        started.elapsed().as_secs_f64(),
        display(image)
    );
    Ok(Manifest {
        generator_version: GENERATOR_VERSION,
        image_size: size,
        files: files.len(),
        data_bytes,
        planted,
    })
}

/// Lays out the files: sizes and paths, about `budget` bytes in all.
fn plan_files(rng: &mut Prng, budget: u64) -> Vec<FilePlan> {
    let mut files = Vec::new();
    for (group, share, min, max) in GROUPS {
        let mut left = (budget as f64 * share) as u64;
        let mut n = 0;
        // Stop when what is left is too small to bother with (tiny files for the small group).
        while left >= min.min(64 << 10) {
            let size = rng.range(min, max).min(left);
            left -= size;
            let (path, kind) = group.file(rng, n);
            files.push(FilePlan {
                path,
                size,
                kind,
                secrets: Vec::new(),
            });
            n += 1;
        }
    }
    files
}

/// The secrets to plant, without a location yet: [`PER_FAMILY`] per rule family for live files,
/// then [`PER_FAMILY_DELETED`] per family for the files to delete. Returns them and the number
/// of live ones (which come first).
fn plan_secrets(rng: &mut Prng) -> (Vec<Planted>, usize) {
    let mut planted = Vec::new();
    for (count, state) in [(PER_FAMILY, "live"), (PER_FAMILY_DELETED, "deleted")] {
        for i in 0..count {
            let prefix = ["AKIA", "AKIA", "AKIA", "ASIA", "ABIA", "ACCA"][i % 6];
            let aws = secrets::aws_key_id(rng, prefix);
            planted.push(Planted::new(
                format!("{state} aws #{i}"),
                AWS_KEY_ID,
                aws,
                "",
            ));
            // A third are old-style 16-character IDs.
            let alibaba = secrets::alibaba_key_id(rng, if i % 3 == 0 { 16 } else { 24 });
            planted.push(Planted::new(
                format!("{state} alibaba #{i}"),
                ALIBABA_KEY_ID,
                alibaba,
                "",
            ));
            let kind = PemKind::ALL[i % PemKind::ALL.len()];
            let key = secrets::fake_pem(rng, kind);
            planted.push(Planted::new(
                format!("{state} private key #{i}"),
                kind.rule(),
                key,
                "",
            ));
            let uri = secrets::connection_uri(rng);
            planted.push(Planted::new(
                format!("{state} uri #{i}"),
                CONNECTION_URI,
                uri,
                "",
            ));
        }
    }
    (planted, 4 * PER_FAMILY)
}

/// Assigns each secret a file and a position in it, and sets its location: the first `live`
/// secrets go to the log files of 1 MiB or more, the others to the files to delete; uniformly
/// by byte, so bigger files get more.
fn place_secrets(rng: &mut Prng, files: &mut [FilePlan], planted: &mut [Planted], live: usize) {
    let logs: Vec<usize> = (0..files.len())
        .filter(|&i| matches!(files[i].kind, Kind::Text(_)) && files[i].size >= MIB)
        .collect();
    let to_delete: Vec<usize> = (0..files.len())
        .filter(|&i| matches!(files[i].kind, Kind::Deleted))
        .collect();
    for (index, p) in planted.iter_mut().enumerate() {
        let candidates = if index < live { &logs } else { &to_delete };
        let total: u64 = candidates.iter().map(|&i| files[i].size).sum();
        let mut at = rng.below(total);
        for &i in candidates {
            if at < files[i].size {
                files[i].secrets.push((at, index));
                p.location = if index < live {
                    files[i].path.clone()
                } else {
                    format!("deleted: {}", files[i].path)
                };
                break;
            }
            at -= files[i].size;
        }
    }
    for f in files {
        f.secrets.sort_unstable();
    }
}

/// The number of generator threads.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Writes every planned file under `tree`, in parallel.
fn write_tree(tree: &Path, files: &[FilePlan], planted: &[Planted]) -> Result<()> {
    let mut dirs: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| Path::new(&f.path[1..]).parent().map(|d| tree.join(d)))
        .collect();
    dirs.dedup();
    for d in dirs {
        fs::create_dir_all(d)?;
    }
    let elves = elf_files();
    let next = AtomicUsize::new(0);
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..workers() {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= files.len() || failure.lock().expect("lock").is_some() {
                        break;
                    }
                    let path = tree.join(&files[i].path[1..]);
                    if let Err(e) = write_file(&path, i, &files[i], planted, &elves) {
                        *failure.lock().expect("lock") =
                            Some(e.context(format!("writing {}", path.display())));
                    }
                }
            });
        }
    });
    match failure.into_inner().expect("lock") {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Writes file number `index` of the plan.
fn write_file(
    path: &Path,
    index: usize,
    plan: &FilePlan,
    planted: &[Planted],
    elves: &[PathBuf],
) -> Result<()> {
    let mut out = BufWriter::with_capacity(WRITE_BUF, File::create(path)?);
    let mut rng = Prng::stream(SEED, 1 + index as u64);
    match plan.kind {
        Kind::Text(flavor) => write_text(&mut out, rng, flavor, plan, planted)?,
        Kind::Deleted => {
            let flavor = Flavor::ALL[index % Flavor::ALL.len()];
            write_text(&mut out, rng, flavor, plan, planted)?;
        }
        Kind::Random => {
            let mut buf = vec![0u8; WRITE_BUF];
            let mut left = plan.size;
            while left > 0 {
                let n = left.min(WRITE_BUF as u64) as usize;
                rng.fill(&mut buf[..n]);
                out.write_all(&buf[..n])?;
                left -= n as u64;
            }
        }
        Kind::Binary => write_binary(&mut out, &mut rng, plan.size, elves)?,
    }
    out.flush()?;
    Ok(())
}

/// Log text of about `plan.size` bytes with the file's secrets at their planned positions.
fn write_text(
    out: &mut impl Write,
    rng: Prng,
    flavor: Flavor,
    plan: &FilePlan,
    planted: &[Planted],
) -> Result<()> {
    let host = format!("node-{:02}", rng_host(&plan.path));
    let mut text = TextGen::new(rng, &host);
    let mut buf = Vec::with_capacity(WRITE_BUF + 64 * 1024);
    let mut written = 0u64;
    let mut secrets = plan.secrets.iter().peekable();
    while written + (buf.len() as u64) < plan.size {
        let here = written + buf.len() as u64;
        match secrets.next_if(|(at, _)| *at <= here) {
            Some(&(_, i)) => text.secret_line(&mut buf, &planted[i]),
            None => text.line(&mut buf, flavor),
        }
        if buf.len() >= WRITE_BUF {
            out.write_all(&buf)?;
            written += buf.len() as u64;
            buf.clear();
        }
    }
    // Secrets planned near the end, past the last line.
    for &(_, i) in secrets {
        text.secret_line(&mut buf, &planted[i]);
    }
    out.write_all(&buf)?;
    Ok(())
}

/// A host number derived from a path, so files of one directory do not all share a host.
fn rng_host(path: &str) -> u32 {
    path.bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % 40
}

/// `size` bytes of ELF files of this machine, concatenated from a random starting point (the
/// last one cut short). Falls back to random bytes on a machine without readable ELF files.
fn write_binary(out: &mut impl Write, rng: &mut Prng, size: u64, elves: &[PathBuf]) -> Result<()> {
    let mut left = size;
    let mut next = if elves.is_empty() {
        0
    } else {
        rng.index(elves.len())
    };
    let mut misses = 0;
    while left > 0 && misses < 100 && !elves.is_empty() {
        let copied = match File::open(&elves[next]) {
            Ok(f) => io::copy(&mut f.take(left), out)?,
            Err(_) => 0,
        };
        misses = if copied == 0 { misses + 1 } else { 0 };
        left -= copied;
        next = (next + 1) % elves.len();
    }
    let mut buf = vec![0u8; WRITE_BUF];
    while left > 0 {
        let n = left.min(WRITE_BUF as u64) as usize;
        rng.fill(&mut buf[..n]);
        out.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// The ELF files (executables, shared libraries) under /usr, sorted by path.
fn elf_files() -> Vec<PathBuf> {
    let mut found = Vec::new();
    for root in ["/usr/bin", "/usr/sbin", "/usr/lib", "/usr/libexec"] {
        collect_elves(Path::new(root), 4, &mut found);
    }
    found.sort();
    found
}

fn collect_elves(dir: &Path, depth: u32, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // symlink_metadata: a symlinked binary is counted once, as its target.
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() && depth > 0 {
            collect_elves(&path, depth - 1, found);
        } else if meta.is_file() && meta.len() >= 16 << 10 && is_elf(&path) {
            found.push(path);
        }
    }
}

fn is_elf(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| magic == *b"\x7fELF")
}

/// How full the file system image is, in percent of its blocks, per `dumpe2fs -h`.
fn allocated_percent(fs_image: &Path) -> Result<f64> {
    let output = run_tool(
        std::process::Command::new("dumpe2fs")
            .arg("-h")
            .arg(fs_image),
    )?;
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| -> Result<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| anyhow!("dumpe2fs printed no {name}"))
    };
    let blocks = field("Block count:")?;
    let free = field("Free blocks:")?;
    Ok(100.0 * (blocks - free) as f64 / blocks as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_fills_the_budget_and_places_every_secret() {
        let mut rng = Prng::new(1);
        let budget = 900 * MIB;
        let mut files = plan_files(&mut rng, budget);
        let total: u64 = files.iter().map(|f| f.size).sum();
        assert!(total <= budget && total > budget / 100 * 95, "{total}");
        let (mut planted, live) = plan_secrets(&mut rng);
        assert_eq!(planted.len(), 4 * (PER_FAMILY + PER_FAMILY_DELETED));
        place_secrets(&mut rng, &mut files, &mut planted, live);
        let placed: usize = files.iter().map(|f| f.secrets.len()).sum();
        assert_eq!(placed, planted.len());
        assert!(
            planted
                .iter()
                .all(|p| p.location.starts_with('/') || p.location.starts_with("deleted: /"))
        );
    }
}
