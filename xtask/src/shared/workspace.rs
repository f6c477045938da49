//! Where things are in the workspace, and running the commands xtask depends on (and
//! whether they are there).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result, bail};

/// The workspace root (the parent of xtask/), whatever directory cargo was run from.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ sits in the workspace root")
        .to_path_buf()
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` if set, else `target/` in the workspace.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

/// The release build of the snapsift binary.
pub fn snapsift_bin() -> PathBuf {
    target_dir().join("release").join("snapsift")
}

/// `path` relative to the workspace root when it is inside it, for messages and for command
/// lines a user can paste (xtask runs its commands from the root).
pub fn display(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Builds snapsift in release mode (`cargo build --release -p snapsift`), showing cargo's output.
pub fn build_snapsift() -> Result<PathBuf> {
    // `cargo run` sets $CARGO to the cargo that is running us; use the same one.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "snapsift"])
        .current_dir(root())
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("`cargo build --release -p snapsift` failed ({status})");
    }
    Ok(snapsift_bin())
}

/// Runs `cmd` to completion with its output captured; fails with that output if it does not
/// exit 0. Most tools here (sgdisk, mkfs, debugfs) are chatty on success and only their failure
/// output is worth showing.
pub fn run_tool(cmd: &mut Command) -> Result<Output> {
    let shown = describe(cmd);
    let output = cmd
        .output()
        .with_context(|| format!("could not start `{shown}` (is it installed?)"))?;
    if !output.status.success() {
        bail!(
            "`{shown}` failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output)
}

/// A command as a shell-like line, for messages.
pub fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quotes one argument for display if the shell would need it.
fn quote(arg: &OsStr) -> String {
    let s = arg.to_string_lossy();
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@%+".contains(&b));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Human-readable byte count (KiB, MiB, GiB).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Whether `tool` is an executable in $PATH or in the sbin directories (not in a non-root
/// user's PATH on Debian, though their tools run fine on image files).
pub fn on_path(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(Into::into))
        .any(|dir| Path::new(&dir).join(tool).is_file())
}

/// Whether this process runs as root, by its effective uid in /proc/self/status.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}
