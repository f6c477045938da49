//! `cargo xtask sample`: a new user's first run of snapsift, on the committed sample disk.
//!
//! Unpacks testdata/sample-disk.img.zst to target/sample-disk.img (once, and again whenever the
//! compressed image is newer), builds snapsift in release mode, and scans the disk with the
//! command printed first so that it can be copied and varied.

use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

use crate::shared::sample_disk::{SECRETS_NAME, unpacked_sample};
use crate::shared::workspace::{self, display};

/// Runs the sample scan; exits 0 when snapsift reports findings (status 1) or none (status 0),
/// and with snapsift's status when it fails.
pub fn run() -> Result<ExitCode> {
    let root = workspace::root();
    let image = unpacked_sample()?;
    let snapsift = workspace::build_snapsift()?;

    let mut cmd = Command::new(&snapsift);
    cmd.arg("scan").arg(display(&image)).current_dir(&root);
    println!();
    println!("$ {} scan {}", display(&snapsift), display(&image));
    let status = cmd
        .status()
        .with_context(|| format!("running {}", display(&snapsift)))?;
    println!();
    match status.code() {
        // Findings are what the sample is for: they are success here.
        Some(0 | 1) => {
            println!(
                "The secrets planted in the sample disk, and where, are listed in testdata/{SECRETS_NAME}."
            );
            println!(
                "Try `--format jsonl` for machine-readable output, or `--redact` to mask the secrets."
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(code) => {
            eprintln!("xtask: snapsift failed (exit status {code})");
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(2)))
        }
        None => bail!("snapsift was killed ({status})"),
    }
}
