//! `cargo xtask sample`: a new user's first run of snapsift, on the committed sample disk.
//!
//! Unpacks testdata/sample-disk.img.zst to target/sample-disk.img (once, and again whenever the
//! compressed image is newer), builds snapsift in release mode, and scans the disk with the
//! command printed first so that it can be copied and varied.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

use crate::testdata::{IMAGE_NAME, SECRETS_NAME};
use crate::workspace::{self, display};

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

/// The sample disk, unpacked to target/sample-disk.img (again if the committed one is newer).
pub fn unpacked_sample() -> Result<PathBuf> {
    let compressed = workspace::root().join("testdata").join(IMAGE_NAME);
    let image = workspace::target_dir().join("sample-disk.img");
    unpack(&compressed, &image)?;
    Ok(image)
}

/// Decompresses `compressed` to `image` unless `image` is already at least as new.
fn unpack(compressed: &Path, image: &Path) -> Result<()> {
    let source_time = fs::metadata(compressed)
        .and_then(|m| m.modified())
        .with_context(|| {
            format!(
                "{} is missing; run `cargo xtask testdata`",
                display(compressed)
            )
        })?;
    let up_to_date = fs::metadata(image)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t >= source_time);
    if up_to_date {
        return Ok(());
    }
    println!("unpacking {} to {}", display(compressed), display(image));
    if let Some(dir) = image.parent() {
        fs::create_dir_all(dir)?;
    }
    // Via a temporary name: an interrupted unpack must not look up to date next time.
    let tmp = image.with_extension("img.tmp");
    let mut decoder = zstd::stream::Decoder::new(File::open(compressed)?)?;
    io::copy(&mut decoder, &mut File::create(&tmp)?)
        .with_context(|| format!("decompressing {}", display(compressed)))?;
    fs::rename(&tmp, image)?;
    Ok(())
}
