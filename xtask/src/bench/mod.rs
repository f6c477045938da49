//! `cargo xtask bench`: how fast snapsift scans a dense disk image, against two references on
//! the same bytes:
//!
//! * a plain parallel read (the floor: no scanner can beat getting the bytes), and `cat`;
//! * ripgrep with regexes equivalent to the rules (a fast general-purpose matcher);
//! * Kingfisher and Betterleaks, secret scanners installed from PyPI (see [`rivals`]), with
//!   their own rules.
//!
//! Then the same data as a sparse 1 TiB raw file, and the image attached as a read-only loop
//! device, read by `dd` and by snapsift with a cold cache (see [`device`]; needs root). Last,
//! the matcher alone on adversarial bytes against random bytes (see [`worstcase`]).
//!
//! The image (see [`generate`]) is cached under target/bench/. Every tool runs on it with a
//! warm page cache (the loop device rows excepted), three times, under GNU time for peak
//! memory; the median run is reported. The table goes to stdout and to
//! target/bench/results.md.

mod device;
mod generate;
mod measure;
pub mod read;
mod report;
mod rivals;
pub mod worstcase;

use anyhow::{Result, ensure};

use crate::shared::image::MIB;
use crate::shared::workspace;

/// Runs the benchmark on an image of `size_gib` GiB; `keep` leaves intermediate files; a rival
/// scanner's run is killed after `rival_timeout` seconds.
pub fn run(size_gib: f64, keep: bool, rival_timeout: u64) -> Result<()> {
    ensure!(
        size_gib.is_finite() && (0.0625..=1024.0).contains(&size_gib),
        "--size-gib must be between 0.0625 (64 MiB) and 1024"
    );
    let size = (size_gib * 1024.0).round() as u64 * MIB;
    measure::check_tools()?;
    println!("building snapsift (release)");
    let snapsift = workspace::build_snapsift()?;
    let dir = workspace::target_dir().join("bench");
    let manifest = generate::ensure_image(&dir, size, keep)?;
    let mut report = measure::run(
        &dir,
        &dir.join("disk.img"),
        &manifest,
        &snapsift,
        keep,
        rival_timeout,
    )?;
    // The matcher on bytes made to be slow, against random bytes (see `worstcase`).
    println!("timing the matcher on adversarial bytes");
    let worst = worstcase::measure(1.0, None)?;
    report.push('\n');
    report.push_str(&worst.table());
    println!();
    println!("{report}");
    let results = dir.join("results.md");
    std::fs::write(&results, &report)?;
    println!("(written to {})", workspace::display(&results));
    Ok(())
}
