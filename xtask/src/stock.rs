//! `cargo xtask stock`: the noise measurement of record. Scans a stock Debian root image
//! (debootstrap, nothing planted; see `debian`) and a stock Windows-like NTFS image (see
//! `windows`) with the release snapsift, prints every finding of both as one Markdown table
//! with a column saying why it is there, and fails if there are more than [`BUDGET`] in all.
//!
//! What the two measurements share (running a scan, its findings as table rows) is in
//! [`crate::shared::findings`].

use std::process::ExitCode;

use anyhow::Result;

use crate::shared::findings::{Row, print_summary, print_table};
use crate::shared::workspace;
use crate::{debian, windows};

/// Findings the two stock images may give in all.
pub const BUDGET: usize = 5;

/// Runs `cargo xtask stock`: both stock images, one table, the total against [`BUDGET`].
pub fn run(keep: bool) -> Result<ExitCode> {
    let snapsift = workspace::build_snapsift()?;
    let measured = [
        debian::measure_stock(&snapsift, keep)?,
        windows::measure(&snapsift, keep)?,
    ];
    println!();
    print_summary(&measured);
    let rows: Vec<&Row> = measured.iter().flat_map(|m| &m.rows).collect();
    println!();
    print_table(&rows);
    let total = rows.len();
    println!();
    if total > BUDGET {
        println!("Total: {total} findings on the stock images: over the budget of {BUDGET}.");
        Ok(ExitCode::FAILURE)
    } else {
        println!("Total: {total} findings on the stock images (budget {BUDGET}).");
        Ok(ExitCode::SUCCESS)
    }
}
