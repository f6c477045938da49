//! The committed sample disk (testdata/): its file names, and unpacking it for a scan.
//!
//! `cargo xtask testdata` writes it, `sample` scans it, `dist` scans it with the static
//! binary, and `fuzz-seeds` cuts seeds from it.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::shared::workspace::{self, display};

/// The compressed image and the secrets list, in testdata/.
pub const IMAGE_NAME: &str = "sample-disk.img.zst";
/// The list of planted secrets, in testdata/.
pub const SECRETS_NAME: &str = "sample-disk.secrets.json";

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
