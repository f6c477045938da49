//! `cargo xtask windows`: a stock Windows-like NTFS disk image, scanned by snapsift, every
//! finding printed as a row of a Markdown table with a first guess at why it is there.
//!
//! No Windows installation media can be had here, so the tree is put together from real files
//! that the package registries this project reaches carry, at pinned versions (see
//! [`sources::DEBS`], [`sources::WHEELS`] and [`sources::NPMS`]), in the places Windows keeps
//! such files:
//!
//! * `Windows/System32`: Wine's PE builds of the Windows DLLs, EXEs and drivers (Debian's
//!   `libwine`), its NLS tables; `Windows/Fonts`: Wine's fonts; `Windows/INF/wine.inf`, turned
//!   into UTF-16LE as Windows' own INF files are.
//! * `Windows/Microsoft.NET`: Mono's .NET 4.x assemblies (CIL PE files) in `Framework64` and in
//!   the GAC, its `machine.config` and `web.config` in `Config`.
//! * `Program Files/Python311`: Windows wheels from PyPI (`.pyd`, DLLs, Python sources);
//!   `Program Files/nodejs/node_modules/npm`: npm as Node's Windows installer ships it;
//!   `Users/<user>/AppData/Roaming/npm/node_modules`: native Windows tools from npm (esbuild,
//!   rollup, biome); MinGW runtime DLLs where Git for Windows keeps them; NSIS.
//! * Written by this module: `drivers/etc` (hosts, and services and protocol from Debian's
//!   netbase entries, with Windows' headers), PowerShell module manifests, logs, `.reg` exports,
//!   `desktop.ini` files, a PowerShell history (UTF-16LE, ordinary commands), a download with its
//!   `Zone.Identifier` alternate data stream. Nothing planted: no secret anywhere.
//!
//! The tree goes into an NTFS file system made by `mkntfs` in a file of its own and filled
//! through an `ntfs-3g` FUSE mount (root only, no loop device), which is then copied into the
//! partition of a GPT disk. Downloads and unpacked packages are cached in
//! `target/windows/cache`; the tree and the disk are rebuilt on each run.
//!
//! `sources` fetches the packages, `tree` lays out the tree (with the text files of `texts`),
//! and `disk` puts it on the disk image.

mod disk;
mod sources;
mod texts;
mod tree;

use std::fs::{self};
use std::path::Path;

use anyhow::Result;
use serde_json::Value;

use crate::shared::findings;
use crate::shared::image::MIB;
use crate::shared::workspace::{self};

use disk::build_disk;
use sources::Sources;
use tree::{Tree, build_tree};

/// The account whose profile holds the user's files.
pub(super) const USER: &str = "alex";
/// Where the partition starts on the disk (as Windows' installer puts it, 1 MiB in).
pub(super) const PARTITION_START: u64 = MIB;

/// Runs `cargo xtask windows`.
pub fn run(keep: bool) -> Result<()> {
    let snapsift = workspace::build_snapsift()?;
    let measured = measure(&snapsift, keep)?;
    println!();
    findings::print_summary(std::slice::from_ref(&measured));
    println!();
    findings::print_table(&measured.rows.iter().collect::<Vec<_>>());
    println!();
    println!("Total: {} findings.", measured.rows.len());
    Ok(())
}

/// Builds the image (`target/windows/windows.img`), scans it and returns its findings as rows.
pub fn measure(snapsift: &Path, keep: bool) -> Result<findings::Measured> {
    let dir = workspace::target_dir().join("windows");
    let cache = dir.join("cache");
    fs::create_dir_all(&cache)?;
    let sources = Sources::fetch(&cache)?;
    let tree_dir = dir.join("tree");
    let tree = build_tree(&sources, &tree_dir)?;
    let (files, tree_bytes) = findings::count_files(&tree_dir)?;
    println!(
        "Windows tree: {files} files, {} ({} alternate data streams)",
        workspace::bytes(tree_bytes),
        tree.streams.len()
    );
    let disk = dir.join("windows.img");
    build_disk(&tree, &disk, &dir, tree_bytes)?;
    let scan = findings::scan(snapsift, &disk, &[])?;
    let disk_bytes = fs::metadata(&disk)?.len();
    let rows = findings::rows("windows", &scan.findings, |f| why(f, &tree));
    if !keep {
        let _ = fs::remove_file(&disk);
        let _ = fs::remove_dir_all(&tree_dir);
    }
    Ok(findings::Measured {
        name: "windows",
        description: "Windows-like tree from Wine, Mono, PyPI and npm files, NTFS on GPT".into(),
        disk_bytes,
        files,
        tree_bytes,
        seconds: scan.seconds,
        rows,
    })
}

/// A first guess at why `finding` is in the Windows image: the generic hints, and where the file
/// came from (which package, or written by this module).
fn why(finding: &Value, tree: &Tree) -> String {
    let file = findings::file_path(finding);
    let host = file.map(|p| tree.root.join(p.trim_start_matches('/')));
    let mut hints = findings::generic_hints(finding, host.as_deref());
    if let Some(file) = file {
        match tree.origin.get(file.trim_start_matches('/')) {
            Some(origin) => hints.push(format!("from {origin}")),
            None => hints.push("not a file the tree put there (NTFS metadata?)".into()),
        }
    }
    hints.join("; ")
}
