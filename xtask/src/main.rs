//! Project automation for snapsift, run as `cargo xtask <command>`.
//!
//! * `cargo xtask sample`: the first command a new user runs: scans the committed sample disk.
//! * `cargo xtask test`: installs the tools the tests drive (as root, with apt-get) and runs every
//!   test; what CI runs.
//! * `cargo xtask dist`: the static (musl) release binary, checked alone in an empty root, packed
//!   in target/dist/ (the Dockerfile's build stage runs it).
//! * `cargo xtask testdata`: regenerates the sample disk and the list of secrets planted in it.
//! * `cargo xtask debian`: scans a real Debian root filesystem (debootstrap), stock and with a
//!   planted tree of secrets, and checks each planted secret's reported path; audits it stock,
//!   with an unclean instance's leftovers and cleaned, and checks each leftover's item.
//! * `cargo xtask windows`: builds a Windows-like NTFS image from real Windows files that
//!   Debian, PyPI and npm packages carry, scans it and lists every finding.
//! * `cargo xtask stock`: the noise measurement of record: the stock Debian image and the
//!   Windows-like image, every finding in one table; fails if there are more than 5.
//! * `cargo xtask fuzz-seeds`: builds the fuzz targets' seed corpora (fuzz/corpus/) from the
//!   sample disk and with the real tools.
//! * `cargo xtask bench`: builds a dense multi-GiB disk image and times snapsift against a plain
//!   read of the same bytes, against ripgrep, and against the secret scanners Kingfisher and
//!   Betterleaks (installed from PyPI into a venv under target/bench/tools/).
//!
//! The alias lives in `.cargo/config.toml`: `xtask = "run --package xtask --release --"`.
//! xtask drives external tools (mkfs.ext4, debugfs, sgdisk, dd, rg, GNU time); see
//! `shared::image` and `bench` for which.
//!
//! Each task is a module of its own, named after its command (a directory where it has parts:
//! `bench`, `debian`, `windows`); what more than one task uses is in [`shared`].

// xtask only ever handles data it generated itself, so overflow and truncation checks would be
// noise here; the workspace-wide lints stay on for the crates that parse untrusted disks.
#![allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
#![forbid(unsafe_code)]

mod bench;
mod debian;
mod dist;
mod fuzz_seeds;
mod sample;
mod shared;
mod stock;
mod test;
mod testdata;
mod windows;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::shared::filesystem::FsKind;

/// Command line of `cargo xtask`.
#[derive(Parser)]
#[command(name = "cargo xtask", about = "snapsift's project tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `cargo xtask debian --fs`: one file system, or all of them.
#[derive(Clone, Copy, ValueEnum)]
enum FsChoice {
    /// ext4, XFS, Btrfs (zstd) and ext4 in LVM2, one after the other.
    All,
    Ext4,
    Xfs,
    Btrfs,
    LvmExt4,
}

#[derive(Subcommand)]
enum Command {
    /// Scan the sample disk (testdata/sample-disk.img.zst) with a release build of snapsift.
    Sample,
    /// Install the tools the tests drive (as root, with apt-get) and run every test.
    Test,
    /// Build the static (musl) release binary, check it runs alone in an empty root, and pack
    /// it (target/dist/).
    Dist,
    /// Regenerate testdata/sample-disk.img.zst and testdata/sample-disk.secrets.json.
    Testdata {
        /// Keep the work directory (testdata/work/: the file tree, the bare file system and the
        /// uncompressed disk) for inspection.
        #[arg(long)]
        keep: bool,
    },
    /// Benchmark snapsift against a plain read, ripgrep, Kingfisher and Betterleaks on a dense
    /// disk image.
    Bench {
        /// Size of the generated disk image in GiB (fractions such as 0.25 work, for quick runs).
        #[arg(long, default_value_t = 4.0)]
        size_gib: f64,
        /// Keep the intermediate files: the generated file tree, the bare file system and the
        /// scanners' outputs (target/bench/). The image itself is always kept, as a cache.
        #[arg(long)]
        keep: bool,
        /// Seconds after which a run of a rival scanner (Kingfisher, Betterleaks) is killed and
        /// reported as such.
        #[arg(long, default_value_t = 1800)]
        rival_timeout: u64,
    },
    /// The matcher's speed on adversarial bytes: for every built-in rule's anchors, haystacks
    /// of the anchor repeated with the separators that make its regex read furthest, against
    /// random bytes of the same size (one thread). Part of `bench`; this runs it alone.
    BenchWorstcase {
        /// Size of each haystack in MiB.
        #[arg(long, default_value_t = 4.0)]
        mib: f64,
        /// Only the rules whose id contains this.
        #[arg(long)]
        only: Option<String>,
    },
    /// Scan a Debian root filesystem made by debootstrap, stock and with planted secrets, and
    /// check that every planted secret is reported at its path; audit it stock, with an
    /// unclean instance's leftovers and cleaned, and check each leftover's item.
    Debian {
        /// Keep the disk images (target/debian/*.img).
        #[arg(long)]
        keep: bool,
        /// The file systems to put the planted tree on (ext4, xfs, btrfs, lvm-ext4, or all);
        /// all but ext4 need root and loop devices.
        #[arg(long, default_value = "all")]
        fs: FsChoice,
    },
    /// Build a Windows-like NTFS disk image (Wine's, Mono's, PyPI's and npm's Windows files in a
    /// Windows directory tree), scan it and list every finding with why it is there.
    Windows {
        /// Keep the disk image and the tree (target/windows/windows.img, target/windows/tree).
        #[arg(long)]
        keep: bool,
    },
    /// The noise measurement: scan the stock Debian image and the Windows-like image, list every
    /// finding in one table, and fail if there are more than 5 in all.
    Stock {
        /// Keep the disk images (target/debian/stock.img, target/windows/windows.img).
        #[arg(long)]
        keep: bool,
    },
    /// Build the seed corpora of the fuzz targets (fuzz/corpus/TARGET/) from the sample disk
    /// and with the real tools (qemu-img, mkfs.ext4, mkntfs and ntfs-3g, sgdisk, tar, zip...).
    FuzzSeeds,
    /// The "plain read" baseline of the benchmark: read a file with parallel pread()s and print a
    /// checksum. Run by `bench` as a separate process so GNU time can measure it like the others.
    #[command(hide = true)]
    ReadFile {
        /// The file to read.
        path: PathBuf,
        /// Number of reader threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sample => sample::run(),
        Command::Test => test::run(),
        Command::Dist => dist::run().map(|()| ExitCode::SUCCESS),
        Command::Testdata { keep } => testdata::run(keep).map(|()| ExitCode::SUCCESS),
        Command::Bench {
            size_gib,
            keep,
            rival_timeout,
        } => bench::run(size_gib, keep, rival_timeout).map(|()| ExitCode::SUCCESS),
        Command::BenchWorstcase { mib, only } => {
            bench::worstcase::run(mib, only.as_deref()).map(|()| ExitCode::SUCCESS)
        }
        Command::Debian { keep, fs } => {
            let kinds = match fs {
                FsChoice::All => FsKind::ALL.to_vec(),
                FsChoice::Ext4 => vec![FsKind::Ext4],
                FsChoice::Xfs => vec![FsKind::Xfs],
                FsChoice::Btrfs => vec![FsKind::Btrfs],
                FsChoice::LvmExt4 => vec![FsKind::LvmExt4],
            };
            debian::run(keep, &kinds).map(|()| ExitCode::SUCCESS)
        }
        Command::Windows { keep } => windows::run(keep).map(|()| ExitCode::SUCCESS),
        Command::Stock { keep } => stock::run(keep),
        Command::FuzzSeeds => fuzz_seeds::run().map(|()| ExitCode::SUCCESS),
        Command::ReadFile { path, threads } => {
            bench::read::run(&path, threads).map(|()| ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
