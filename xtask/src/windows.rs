//! `cargo xtask windows`: a stock Windows-like NTFS disk image, scanned by snapsift, every
//! finding printed as a row of a Markdown table with a first guess at why it is there.
//!
//! No Windows installation media can be had here, so the tree is put together from real files
//! that the package registries this project reaches carry, at pinned versions (see [`DEBS`],
//! [`WHEELS`] and [`NPMS`]), in the places Windows keeps such files:
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

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use crate::image::{self, MIB, SECTOR};
use crate::rng::{HEX, Prng};
use crate::stock;
use crate::workspace::{self, display, run_tool};

/// The account whose profile holds the user's files.
const USER: &str = "alex";
/// Where the partition starts on the disk (as Windows' installer puts it, 1 MiB in).
const PARTITION_START: u64 = MIB;

/// Debian packages (name, version) the tree takes Windows files from. `apt-get download` gets
/// them; none is installed.
const DEBS: &[(&str, &str)] = &[
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
const WHEELS: &[(&str, &str)] = &[
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
const NPMS: &[(&str, &str, &str)] = &[
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

/// Runs `cargo xtask windows`.
pub fn run(keep: bool) -> Result<()> {
    let snapsift = workspace::build_snapsift()?;
    let measured = measure(&snapsift, keep)?;
    println!();
    stock::print_summary(std::slice::from_ref(&measured));
    println!();
    stock::print_table(&measured.rows.iter().collect::<Vec<_>>());
    println!();
    println!("Total: {} findings.", measured.rows.len());
    Ok(())
}

/// Builds the image (`target/windows/windows.img`), scans it and returns its findings as rows.
pub fn measure(snapsift: &Path, keep: bool) -> Result<stock::Measured> {
    let dir = workspace::target_dir().join("windows");
    let cache = dir.join("cache");
    fs::create_dir_all(&cache)?;
    let sources = Sources::fetch(&cache)?;
    let tree_dir = dir.join("tree");
    let tree = build_tree(&sources, &tree_dir)?;
    let (files, tree_bytes) = stock::count_files(&tree_dir)?;
    println!(
        "Windows tree: {files} files, {} ({} alternate data streams)",
        workspace::bytes(tree_bytes),
        tree.streams.len()
    );
    let disk = dir.join("windows.img");
    build_disk(&tree, &disk, &dir, tree_bytes)?;
    let scan = stock::scan(snapsift, &disk, &[])?;
    let disk_bytes = fs::metadata(&disk)?.len();
    let rows = stock::rows("windows", &scan.findings, |f| why(f, &tree));
    if !keep {
        let _ = fs::remove_file(&disk);
        let _ = fs::remove_dir_all(&tree_dir);
    }
    Ok(stock::Measured {
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
    let file = stock::file_path(finding);
    let host = file.map(|p| tree.root.join(p.trim_start_matches('/')));
    let mut hints = stock::generic_hints(finding, host.as_deref());
    if let Some(file) = file {
        match tree.origin.get(file.trim_start_matches('/')) {
            Some(origin) => hints.push(format!("from {origin}")),
            None => hints.push("not a file the tree put there (NTFS metadata?)".into()),
        }
    }
    hints.join("; ")
}

/// The downloaded packages, unpacked.
struct Sources {
    /// Debian package name to the directory it is unpacked in.
    debs: HashMap<&'static str, PathBuf>,
    /// Unpacked wheels, in [`WHEELS`] order.
    wheels: Vec<(&'static str, &'static str, PathBuf)>,
    /// Unpacked npm packages (their `package/` directory), in [`NPMS`] order.
    npms: Vec<(&'static str, &'static str, &'static str, PathBuf)>,
}

impl Sources {
    /// Downloads what is not in `cache` yet and unpacks it.
    fn fetch(cache: &Path) -> Result<Sources> {
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
    fn deb(&self, name: &str) -> &Path {
        &self.debs[name]
    }
}

/// The downloaded `.deb` of `name` `version` in `dir`, whatever its architecture (no epochs
/// here, so no `%3a` in the name).
fn find_deb(dir: &Path, name: &str, version: &str) -> Result<Option<PathBuf>> {
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
fn find_wheel(dir: &Path, name: &str, version: &str) -> Result<Option<PathBuf>> {
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
fn unpack(out: &Path, make: impl FnOnce(&Path) -> Result<std::process::Output>) -> Result<()> {
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

/// The tree being put together: a directory on the host, where each file came from, and the
/// alternate data streams to add once it is on NTFS.
struct Tree {
    root: PathBuf,
    /// Path in the tree (no leading '/') to where the file came from.
    origin: HashMap<String, String>,
    /// Lowercased paths taken, so that no two differ only in case (Windows could not tell).
    taken: HashSet<String>,
    /// (file, stream name, contents).
    streams: Vec<(String, String, Vec<u8>)>,
}

impl Tree {
    /// Hard-links `src` to `dest` in the tree (copies it if linking fails). A path already taken
    /// (in any case) is left as it is.
    fn link(&mut self, src: &Path, dest: &str, origin: &str) -> Result<()> {
        if !self.taken.insert(dest.to_lowercase()) {
            return Ok(());
        }
        let host = self.root.join(dest);
        if let Some(dir) = host.parent() {
            fs::create_dir_all(dir)?;
        }
        if fs::hard_link(src, &host).is_err() {
            fs::copy(src, &host).with_context(|| format!("copying {}", src.display()))?;
        }
        self.origin.insert(dest.to_owned(), origin.to_owned());
        Ok(())
    }

    /// Links every regular file under `src` (symbolic links are skipped) for which `to` gives a
    /// destination, given its path relative to `src`.
    fn link_dir(
        &mut self,
        src: &Path,
        origin: &str,
        to: impl Fn(&str) -> Option<String>,
    ) -> Result<usize> {
        let mut files = Vec::new();
        walk(src, src, &mut files)?;
        files.sort();
        let mut n = 0;
        for rel in files {
            if let Some(dest) = to(&rel) {
                self.link(&src.join(&rel), &dest, origin)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Writes a file the tree makes itself.
    fn write(&mut self, dest: &str, bytes: &[u8]) -> Result<()> {
        ensure!(
            self.taken.insert(dest.to_lowercase()),
            "{dest} written twice"
        );
        let host = self.root.join(dest);
        if let Some(dir) = host.parent() {
            fs::create_dir_all(dir)?;
        }
        fs::write(&host, bytes)?;
        self.origin
            .insert(dest.to_owned(), "written by xtask".into());
        Ok(())
    }

    /// Writes `text` as Windows tools write Unicode text: UTF-16LE with a byte order mark and
    /// CRLF line ends.
    fn write_utf16(&mut self, dest: &str, text: &str) -> Result<()> {
        self.write(dest, &utf16le(text))
    }

    /// Writes `text` with CRLF line ends.
    fn write_crlf(&mut self, dest: &str, text: &str) -> Result<()> {
        self.write(dest, crlf(text).as_bytes())
    }

    /// Makes an empty directory.
    fn dir(&self, dest: &str) -> Result<()> {
        fs::create_dir_all(self.root.join(dest))?;
        Ok(())
    }
}

/// Relative paths of the regular files under `dir`.
fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(base, &entry.path(), out)?;
        } else if kind.is_file() {
            let path = entry.path();
            let rel = path.strip_prefix(base)?.to_string_lossy().into_owned();
            out.push(rel);
        }
    }
    Ok(())
}

/// `text` with CRLF line ends.
fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

/// `text` as UTF-16LE with a byte order mark and CRLF line ends.
fn utf16le(text: &str) -> Vec<u8> {
    let text = crlf(text);
    let mut out = vec![0xff, 0xfe];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

/// Puts the tree together in `root` (rebuilt from scratch).
fn build_tree(sources: &Sources, root: &Path) -> Result<Tree> {
    let _ = fs::remove_dir_all(root);
    fs::create_dir_all(root)?;
    let mut tree = Tree {
        root: root.to_path_buf(),
        origin: HashMap::new(),
        taken: HashSet::new(),
        streams: Vec::new(),
    };
    let mut rng = Prng::new(0x717d);
    skeleton(&tree)?;
    system_files(&mut tree, sources)?;
    dotnet(&mut tree, sources)?;
    programs(&mut tree, sources)?;
    written_text(&mut tree, sources, &mut rng)?;
    user_profile(&mut tree, sources, &mut rng)?;
    Ok(tree)
}

/// Directories every Windows installation has, some of them empty.
fn skeleton(tree: &Tree) -> Result<()> {
    let user = format!("Users/{USER}");
    let mut dirs: Vec<String> = [
        "$Recycle.Bin",
        "PerfLogs",
        "Program Files/Common Files/microsoft shared",
        "Program Files/Common Files/System/ado",
        "Program Files/Internet Explorer",
        "Program Files/Windows Defender/Offline",
        "Program Files/Windows NT/Accessories",
        "Program Files/WindowsApps",
        "Program Files (x86)/Common Files/Microsoft Shared",
        "Program Files (x86)/Internet Explorer",
        "Program Files (x86)/Microsoft/Edge/Application",
        "Program Files (x86)/Windows Defender",
        "ProgramData/Microsoft/Windows/Start Menu/Programs/Accessories",
        "ProgramData/Microsoft/Windows/Start Menu/Programs/Administrative Tools",
        "ProgramData/Microsoft/Windows/Start Menu/Programs/StartUp",
        "ProgramData/Microsoft/Windows Defender/Scans",
        "ProgramData/Microsoft/Windows/WER/ReportArchive",
        "ProgramData/Package Cache",
        "Users/Default/AppData/Local/Microsoft/Windows/INetCache",
        "Users/Default/AppData/Local/Temp",
        "Users/Default/AppData/Roaming/Microsoft/Windows/Start Menu/Programs",
        "Users/Default/Desktop",
        "Users/Default/Documents",
        "Users/Default/Downloads",
        "Users/Public/Desktop",
        "Users/Public/Documents",
        "Users/Public/Downloads",
        "Users/Public/Music",
        "Users/Public/Pictures",
        "Users/Public/Videos",
        "Windows/System32/config/systemprofile/AppData/Local",
        "Windows/System32/config/RegBack",
        "Windows/System32/config/TxR",
        "Windows/System32/drivers/etc",
        "Windows/System32/spool/drivers/x64",
        "Windows/System32/wbem/Repository",
        "Windows/System32/Tasks/Microsoft/Windows",
        "Windows/System32/WindowsPowerShell/v1.0/Modules",
        "Windows/SysWOW64/WindowsPowerShell/v1.0/Modules",
        "Windows/Logs/CBS",
        "Windows/Logs/DISM",
        "Windows/Logs/WindowsUpdate",
        "Windows/Panther",
        "Windows/Prefetch",
        "Windows/servicing/Packages",
        "Windows/SoftwareDistribution/Download",
        "Windows/Temp",
        "Windows/WinSxS/Manifests",
    ]
    .iter()
    .map(|d| (*d).to_owned())
    .collect();
    for sub in [
        "AppData/Local/Microsoft/Windows/INetCache",
        "AppData/Local/Temp",
        "AppData/LocalLow",
        "AppData/Roaming/Microsoft/Windows/Start Menu/Programs",
        "Desktop",
        "Documents",
        "Downloads",
        "Music",
        "Pictures",
        "Videos",
    ] {
        dirs.push(format!("{user}/{sub}"));
    }
    for dir in dirs {
        tree.dir(&dir)?;
    }
    Ok(())
}

/// Wine's PE builds of the Windows system files in System32, drivers in `drivers`, NLS tables,
/// fonts, and `wine.inf` in UTF-16LE in `INF`.
fn system_files(tree: &mut Tree, sources: &Sources) -> Result<()> {
    let wine = sources.deb("libwine");
    let origin = "Debian package libwine 8.0~repack-4";
    tree.link_dir(
        &wine.join("usr/lib/x86_64-linux-gnu/wine/x86_64-windows"),
        origin,
        |rel| {
            if rel.contains('/') {
                None
            } else if rel.ends_with(".sys") {
                Some(format!("Windows/System32/drivers/{rel}"))
            } else {
                Some(format!("Windows/System32/{rel}"))
            }
        },
    )?;
    tree.link_dir(&wine.join("usr/share/wine/nls"), origin, |rel| {
        Some(format!("Windows/System32/{}", rel.to_uppercase()))
    })?;
    let inf = fs::read_to_string(wine.join("usr/share/wine/wine.inf"))?;
    tree.write_utf16("Windows/INF/wine.inf", &inf)?;
    tree.origin.insert(
        "Windows/INF/wine.inf".into(),
        format!("{origin} (usr/share/wine/wine.inf, made UTF-16LE)"),
    );
    tree.link_dir(
        &sources.deb("fonts-wine").join("usr/share/wine/fonts"),
        "Debian package fonts-wine 8.0~repack-4",
        |rel| Some(format!("Windows/Fonts/{rel}")),
    )?;
    Ok(())
}

/// Mono's .NET 4.x assemblies and configuration where the .NET Framework keeps its own.
fn dotnet(tree: &mut Tree, sources: &Sources) -> Result<()> {
    let fw64 = "Windows/Microsoft.NET/Framework64/v4.0.30319";
    let fw32 = "Windows/Microsoft.NET/Framework/v4.0.30319";
    let common = sources.deb("mono-runtime-common");
    let origin = "Debian package mono-runtime-common 6.8.0.105+dfsg-3.3+deb12u1";
    for fw in [fw64, fw32] {
        for file in ["machine.config", "web.config"] {
            tree.link(
                &common.join("etc/mono/4.5").join(file),
                &format!("{fw}/Config/{file}"),
                origin,
            )?;
        }
    }
    for file in ["machine.config", "web.config"] {
        tree.link(
            &common.join("etc/mono/2.0").join(file),
            &format!("Windows/Microsoft.NET/Framework64/v2.0.50727/CONFIG/{file}"),
            origin,
        )?;
    }
    for &(name, version) in DEBS {
        if !(name.starts_with("libmono-") || name == "mono-4.0-gac") {
            continue;
        }
        let root = sources.deb(name);
        let origin = format!("Debian package {name} {version}");
        let gac = root.join("usr/lib/mono/gac");
        if gac.exists() {
            // usr/lib/mono/gac/System/4.0.0.0__b77a5c561934e089/System.dll
            tree.link_dir(&gac, &origin, |rel| {
                let parts: Vec<&str> = rel.split('/').collect();
                let [assembly, version, file] = parts[..] else {
                    return None;
                };
                Some(format!(
                    "Windows/Microsoft.NET/assembly/GAC_MSIL/{assembly}/v4.0_{version}/{file}"
                ))
            })?;
            tree.link_dir(&gac, &origin, |rel| {
                let file = rel.rsplit('/').next()?;
                (file.ends_with(".dll") || file.ends_with(".exe")).then(|| format!("{fw64}/{file}"))
            })?;
        }
        let lib = root.join("usr/lib/mono/4.5");
        if lib.exists() {
            tree.link_dir(&lib, &origin, |rel| {
                (!rel.contains('/') && (rel.ends_with(".dll") || rel.ends_with(".exe")))
                    .then(|| format!("{fw64}/{rel}"))
            })?;
        }
    }
    Ok(())
}

/// Program Files: Python with Windows wheels, Node's npm and corepack, Git's MinGW runtime,
/// NSIS; and the user's global npm packages.
fn programs(tree: &mut Tree, sources: &Sources) -> Result<()> {
    let python = "Program Files/Python311";
    for (name, version, dir) in &sources.wheels {
        let origin = format!("PyPI wheel {name} {version} (win_amd64)");
        tree.link_dir(dir, &origin, |rel| {
            // A wheel's `<dist>.data/scripts/` go to Scripts, `.data/{purelib,platlib}/` to
            // site-packages, the rest of `.data/` (headers, data) is dropped.
            let (first, rest) = rel.split_once('/')?;
            if first.ends_with(".data") {
                let (kind, rest) = rest.split_once('/')?;
                return match kind {
                    "scripts" => Some(format!("{python}/Scripts/{rest}")),
                    "purelib" | "platlib" => Some(format!("{python}/Lib/site-packages/{rest}")),
                    _ => None,
                };
            }
            Some(format!("{python}/Lib/site-packages/{rel}"))
        })?;
    }
    for (name, version, dest, dir) in &sources.npms {
        let origin = format!("npm package {name} {version}");
        tree.link_dir(dir, &origin, |rel| Some(format!("{dest}/{rel}")))?;
    }
    let dlls = |rel: &str| rel.ends_with(".dll");
    for (package, dest) in [
        (
            "gcc-mingw-w64-x86-64-win32-runtime",
            "Program Files/Git/mingw64/bin",
        ),
        (
            "gcc-mingw-w64-i686-win32-runtime",
            "Program Files (x86)/Git/mingw32/bin",
        ),
    ] {
        let version = DEBS.iter().find(|(n, _)| *n == package).map_or("", |d| d.1);
        tree.link_dir(
            sources.deb(package),
            &format!("Debian package {package} {version}"),
            |rel| dlls(rel).then(|| format!("{dest}/{}", rel.rsplit('/').next().unwrap_or(rel))),
        )?;
    }
    let zlib = sources.deb("libz-mingw-w64");
    tree.link_dir(zlib, "Debian package libz-mingw-w64 1.2.13+dfsg-1", |rel| {
        if !dlls(rel) {
            None
        } else if rel.contains("x86_64") {
            Some("Program Files/Git/mingw64/bin/zlib1.dll".into())
        } else {
            Some("Program Files (x86)/Git/mingw32/bin/zlib1.dll".into())
        }
    })?;
    tree.link_dir(
        &sources.deb("nsis-common").join("usr/share/nsis"),
        "Debian package nsis-common 3.08-3+deb12u1",
        |rel| Some(format!("Program Files (x86)/NSIS/{rel}")),
    )?;
    Ok(())
}

/// Text files Windows ships in well-known form, and what Windows writes as it runs: logs,
/// PowerShell module manifests.
fn written_text(tree: &mut Tree, sources: &Sources, rng: &mut Prng) -> Result<()> {
    let etc = "Windows/System32/drivers/etc";
    tree.write_crlf(&format!("{etc}/hosts"), HOSTS)?;
    let netbase = sources.deb("netbase");
    let services = fs::read_to_string(netbase.join("etc/services"))?;
    tree.write_crlf(
        &format!("{etc}/services"),
        &format!("{SERVICES_HEADER}{}", strip_comments(&services)),
    )?;
    let protocols = fs::read_to_string(netbase.join("etc/protocols"))?;
    tree.write_crlf(
        &format!("{etc}/protocol"),
        &format!("{PROTOCOL_HEADER}{}", strip_comments(&protocols)),
    )?;
    tree.write_crlf(&format!("{etc}/networks"), NETWORKS)?;
    tree.write_crlf(&format!("{etc}/lmhosts.sam"), LMHOSTS)?;
    for file in ["services", "protocol"] {
        tree.origin.insert(
            format!("{etc}/{file}"),
            "written by xtask from Debian package netbase 6.4's entries".into(),
        );
    }

    // PowerShell's module folders: manifests of the inbox modules (UTF-16LE, as many inbox
    // manifests are) and of the ones under Program Files (UTF-8 with BOM).
    for (module, version, functions) in INBOX_MODULES {
        let text = module_manifest(rng, module, version, functions);
        for system in ["System32", "SysWOW64"] {
            tree.write_utf16(
                &format!("Windows/{system}/WindowsPowerShell/v1.0/Modules/{module}/{module}.psd1"),
                &text,
            )?;
        }
    }
    for (module, version, functions) in PROGRAM_FILES_MODULES {
        let text = module_manifest(rng, module, version, functions);
        let mut bytes = b"\xef\xbb\xbf".to_vec();
        bytes.extend_from_slice(crlf(&text).as_bytes());
        tree.write(
            &format!("Program Files/WindowsPowerShell/Modules/{module}/{version}/{module}.psd1"),
            &bytes,
        )?;
    }

    tree.write_crlf("Windows/Logs/CBS/CBS.log", &cbs_log(rng, 3000))?;
    tree.write_crlf("Windows/Logs/DISM/dism.log", &dism_log(rng, 1500))?;
    tree.write_crlf("Windows/Panther/setupact.log", &setup_log(rng, 2000))?;
    tree.write_crlf("Windows/INF/setupapi.dev.log", &setupapi_log(rng, 400))?;
    tree.write_crlf("Windows/System32/drivers/etc/hosts.ics", "")?;
    tree.write_utf16(
        "$Recycle.Bin/S-1-5-21-3623811015-3361044348-30300820-1001/desktop.ini",
        "[.ShellClassInfo]\nCLSID={645FF040-5081-101B-9F08-00AA002F954E}\nLocalizedResourceName=@%SystemRoot%\\system32\\shell32.dll,-8964\n",
    )?;
    for (dir, id) in [
        ("Users/Public/Desktop", "-21799"),
        ("Users/Public/Documents", "-21801"),
        ("Users/Public/Downloads", "-21798"),
        ("Users/Public/Music", "-21798"),
        ("Users/Public/Pictures", "-21779"),
        ("Users/Public/Videos", "-21791"),
        ("Users/Default/Documents", "-21770"),
    ] {
        tree.write_utf16(
            &format!("{dir}/desktop.ini"),
            &format!("\n[.ShellClassInfo]\nLocalizedResourceName=@%SystemRoot%\\system32\\shell32.dll,{id}\n"),
        )?;
    }
    Ok(())
}

/// The user's profile: Documents, a PowerShell history, a `.reg` export, a virtualenv, a
/// downloaded installer with its `Zone.Identifier` stream.
fn user_profile(tree: &mut Tree, sources: &Sources, rng: &mut Prng) -> Result<()> {
    let user = format!("Users/{USER}");
    tree.write_utf16(
        &format!(
            "{user}/AppData/Roaming/Microsoft/Windows/PowerShell/PSReadLine/ConsoleHost_history.txt"
        ),
        HISTORY,
    )?;
    tree.write_utf16(
        &format!("{user}/Documents/explorer-settings.reg"),
        REG_EXPORT,
    )?;
    for dir in [
        "Documents",
        "Downloads",
        "Desktop",
        "Music",
        "Pictures",
        "Videos",
    ] {
        let id = 21770 + rng.below(40);
        tree.write_utf16(
            &format!("{user}/{dir}/desktop.ini"),
            &format!("\n[.ShellClassInfo]\nLocalizedResourceName=@%SystemRoot%\\system32\\shell32.dll,-{id}\n"),
        )?;
    }
    tree.write_crlf(
        &format!("{user}/.gitconfig"),
        "[user]\n\tname = Alex Example\n\temail = alex@example.com\n[core]\n\tautocrlf = true\n[init]\n\tdefaultBranch = main\n",
    )?;
    tree.write_crlf(
        &format!("{user}/Documents/todo.txt"),
        "- renew the library card\n- back up Pictures to the external disk\n- update Python packages\n",
    )?;
    tree.write_crlf(
        &format!("{user}/AppData/Roaming/npm/etc/npmrc"),
        "prefix=C:\\Users\\alex\\AppData\\Roaming\\npm\n",
    )?;

    // A virtualenv made with the virtualenv wheel's own activation scripts.
    let venv = format!("{user}/source/repos/tools/.venv");
    let (_, version, virtualenv) = sources
        .wheels
        .iter()
        .find(|w| w.0 == "virtualenv")
        .context("virtualenv is one of the wheels")?;
    let activation = virtualenv.join("virtualenv/activation");
    let origin = format!("PyPI wheel virtualenv {version} (activation scripts)");
    for (src, dest) in [
        ("powershell/activate.ps1", "Scripts/activate.ps1"),
        ("batch/activate.bat", "Scripts/activate.bat"),
        ("batch/deactivate.bat", "Scripts/deactivate.bat"),
        ("python/activate_this.py", "Scripts/activate_this.py"),
    ] {
        let src = activation.join(src);
        if src.exists() {
            tree.link(&src, &format!("{venv}/{dest}"), &origin)?;
        }
    }
    tree.write_crlf(
        &format!("{venv}/pyvenv.cfg"),
        "home = C:\\Program Files\\Python311\ninclude-system-site-packages = false\nversion = 3.11.9\nvirtualenv = 21.15.8\n",
    )?;

    // An installer downloaded with a browser: Windows marks it with a Zone.Identifier stream.
    let nsis = sources
        .deb("nsis-common")
        .join("usr/share/nsis/Contrib/UIs/modern.exe");
    let download = format!("{user}/Downloads/nsis-3.08-setup.exe");
    tree.link(
        &nsis,
        &download,
        "Debian package nsis-common 3.08-3+deb12u1",
    )?;
    tree.streams.push((
        download,
        "Zone.Identifier".into(),
        crlf("[ZoneTransfer]\nZoneId=3\nReferrerUrl=https://nsis.sourceforge.io/Download\nHostUrl=https://downloads.sourceforge.net/project/nsis/NSIS%203/3.08/nsis-3.08-setup.exe\n").into_bytes(),
    ));
    Ok(())
}

/// `text` without its comment lines and blank lines (netbase's notes are Debian's, not
/// Windows').
fn strip_comments(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A PowerShell module manifest.
fn module_manifest(rng: &mut Prng, module: &str, version: &str, functions: &[&str]) -> String {
    let guid = format!(
        "{}-{}-{}-{}-{}",
        rng.chars(HEX, 8),
        rng.chars(HEX, 4),
        rng.chars(HEX, 4),
        rng.chars(HEX, 4),
        rng.chars(HEX, 12)
    );
    let functions = functions
        .iter()
        .map(|f| format!("'{f}'"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "@{{\nGUID = '{guid}'\nAuthor = 'Microsoft Corporation'\nCompanyName = 'Microsoft Corporation'\n\
         Copyright = '(c) Microsoft Corporation. All rights reserved.'\nModuleVersion = '{version}'\n\
         PowerShellVersion = '3.0'\nRootModule = '{module}.psm1'\nFunctionsToExport = @({functions})\n\
         CmdletsToExport = @()\nAliasesToExport = @()\nHelpInfoURI = 'https://go.microsoft.com/fwlink/?linkid=390807'\n}}\n"
    )
}

/// A timestamp in November 2026 for log line `i` of `n`.
fn stamp(i: u64, n: u64) -> String {
    let seconds = i * 86_400 / n.max(1);
    format!(
        "2026-11-02 {:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// Windows' component servicing log.
fn cbs_log(rng: &mut Prng, n: u64) -> String {
    const COMPONENTS: [&str; 8] = [
        "microsoft-windows-servicingstack",
        "microsoft-windows-shell32",
        "microsoft-windows-kernel32",
        "microsoft-windows-defender-core",
        "microsoft-windows-powershell-exe",
        "microsoft-windows-tcpip",
        "microsoft-windows-explorer",
        "microsoft-windows-netfx4-machineconfig",
    ];
    let mut out = String::new();
    for i in 0..n {
        let component = COMPONENTS[rng.index(COMPONENTS.len())];
        let build = 2000 + rng.below(1500);
        let line = match rng.below(5) {
            0 => format!(
                "Info                  CBS    Loaded Servicing Stack v10.0.22621.{build} with Core: C:\\Windows\\winsxs\\amd64_{component}_31bf3856ad364e35_10.0.22621.{build}_none_{}\\cbscore.dll",
                rng.chars(HEX, 16)
            ),
            1 => format!(
                "Info                  CSI    {:08x} [SR] Verifying 100 components",
                rng.below(1 << 32)
            ),
            2 => format!(
                "Info                  CBS    Read out cached package applicability for package: Package_for_RollupFix~31bf3856ad364e35~amd64~~22621.{build}.1.{}, ApplicableState: 112, CurrentState:112",
                rng.below(20)
            ),
            3 => "Info                  CBS    TI: --- Initializing Trusted Installer ---".into(),
            _ => format!(
                "Info                  CSI    {:08x} Hashes for file member [l:{}]'{component}.dll' do not match.",
                rng.below(1 << 32),
                component.len() + 4
            ),
        };
        out.push_str(&format!("{}, {line}\n", stamp(i, n)));
    }
    out
}

/// DISM's log.
fn dism_log(rng: &mut Prng, n: u64) -> String {
    let mut out = String::new();
    for i in 0..n {
        let pid = 4000 + rng.below(4000);
        let tid = 4000 + rng.below(4000);
        let line = match rng.below(3) {
            0 => "Info                  DISM   DISM Provider Store: PID={pid} TID={tid} Getting Provider OSServices - CDISMProviderStore::GetProvider".to_string(),
            1 => "Info                  DISM   DISM Package Manager: PID={pid} TID={tid} Finalizing CBS core. - CDISMPackageManager::Finalize".to_string(),
            _ => "Info                  DISM   API: PID={pid} TID={tid} Enter DismGetFeaturesInternal".to_string(),
        }
        .replace("{pid}", &pid.to_string())
        .replace("{tid}", &tid.to_string());
        out.push_str(&format!("{}, {line}\n", stamp(i, n)));
    }
    out
}

/// Windows Setup's action log.
fn setup_log(rng: &mut Prng, n: u64) -> String {
    const LINES: [&str; 5] = [
        "Info                  [windeploy.exe] Process exited with exit code [0x00000000]",
        "Info                  SYSPRP Sysprep_Clean_Validate_Opk: There are no PBR OPK folders to be cleaned",
        "Info                  [Shell Unattend] Running 'oobeSystem' pass",
        "Info                  PnPIBS: Checking for pre-configured driver paths ...",
        "Info                  MIG    Gather started in online mode.",
    ];
    let mut out = String::new();
    for i in 0..n {
        out.push_str(&format!(
            "{}, {}\n",
            stamp(i, n),
            LINES[rng.index(LINES.len())]
        ));
    }
    out
}

/// The device installation log.
fn setupapi_log(rng: &mut Prng, n: u64) -> String {
    let mut out = String::from(
        "[Device Install Log]\n     OS Version = 10.0.22621\n     Service Pack = 0.0\n     Suite = 0x0100\n     ProductType = 1\n     Architecture = amd64\n\n",
    );
    for i in 0..n {
        out.push_str(&format!(
            ">>>  [Device Install (Hardware initiated) - PCI\\VEN_8086&DEV_{:04X}&SUBSYS_{:08X}&REV_{:02X}\\3&11583659&0&{:02X}]\n>>>  Section start {}.{:03}\n     dvi: Selected driver installs from section [{}] in 'c:\\windows\\system32\\driverstore\\filerepository\\machine.inf_amd64_{}\\machine.inf'.\n<<<  Section end {}\n<<<  [Exit status: SUCCESS]\n\n",
            rng.below(0x10000),
            rng.below(1 << 32),
            rng.below(256),
            rng.below(256),
            stamp(i, n).replace('-', "/"),
            rng.below(1000),
            ["PCI_DRV", "NO_DRV", "MSISADRV", "PCI_DRV_ROOT"][rng.index(4)],
            rng.chars(HEX, 16),
            stamp(i, n).replace('-', "/"),
        ));
    }
    out
}

/// Inbox PowerShell modules: name, version, a few of their functions.
const INBOX_MODULES: &[(&str, &str, &[&str])] = &[
    (
        "Microsoft.PowerShell.Archive",
        "1.0.1.0",
        &["Compress-Archive", "Expand-Archive"],
    ),
    (
        "NetTCPIP",
        "1.0.0.0",
        &["Get-NetIPAddress", "Get-NetRoute", "Test-NetConnection"],
    ),
    (
        "SmbShare",
        "2.0.0.0",
        &["Get-SmbShare", "New-SmbShare", "Get-SmbConnection"],
    ),
    (
        "Defender",
        "1.0",
        &["Get-MpComputerStatus", "Start-MpScan", "Update-MpSignature"],
    ),
    (
        "ScheduledTasks",
        "1.0.0.0",
        &["Get-ScheduledTask", "Register-ScheduledTask"],
    ),
    ("BitLocker", "1.0.0.0", &["Get-BitLockerVolume"]),
    (
        "Storage",
        "2.0.0.0",
        &["Get-Disk", "Get-Volume", "Get-Partition"],
    ),
];

/// Modules under `Program Files/WindowsPowerShell/Modules`.
const PROGRAM_FILES_MODULES: &[(&str, &str, &[&str])] = &[
    (
        "PackageManagement",
        "1.0.0.1",
        &["Find-Package", "Install-Package", "Get-PackageProvider"],
    ),
    (
        "PowerShellGet",
        "1.0.0.1",
        &["Find-Module", "Install-Module", "Publish-Module"],
    ),
    ("Pester", "3.4.0", &["Describe", "Context", "It", "Should"]),
    (
        "PSReadline",
        "2.0.0",
        &["Get-PSReadLineOption", "Set-PSReadLineOption"],
    ),
];

/// `drivers/etc/hosts` as Windows ships it.
const HOSTS: &str = "# Copyright (c) 1993-2009 Microsoft Corp.
#
# This is a sample HOSTS file used by Microsoft TCP/IP for Windows.
#
# This file contains the mappings of IP addresses to host names. Each
# entry should be kept on an individual line. The IP address should
# be placed in the first column followed by the corresponding host name.
# The IP address and the host name should be separated by at least one
# space.
#
# Additionally, comments (such as these) may be inserted on individual
# lines or following the machine name denoted by a '#' symbol.
#
# For example:
#
#      102.54.94.97     rhino.acme.com          # source server
#       38.25.63.10     x.acme.com              # x client host

# localhost name resolution is handled within DNS itself.
#\t127.0.0.1       localhost
#\t::1             localhost
";

/// The head of `drivers/etc/services`.
const SERVICES_HEADER: &str = "# Copyright (c) 1993-2004 Microsoft Corp.
#
# This file contains port numbers for well-known services defined by IANA
#
# Format:
#
# <service name>  <port number>/<protocol>  [aliases...]   [#<comment>]
#

";

/// The head of `drivers/etc/protocol`.
const PROTOCOL_HEADER: &str = "# Copyright (c) 1993-2006 Microsoft Corp.
#
# This file contains the Internet protocols as defined by various
# RFCs.  See http://www.iana.org/assignments/protocol-numbers
#
# Format:
#
# <protocol name>  <assigned number>  [aliases...]   [#<comment>]

";

/// `drivers/etc/networks`.
const NETWORKS: &str = "# Copyright (c) 1993-1999 Microsoft Corp.
#
# This file contains network name/network number mappings for
# local networks. Network numbers are recognized in dotted decimal form.
#
# Format:
#
# <network name>  <network number>     [aliases...]  [#<comment>]
#
# For example:
#
#    loopback     127
#    campus       284.122.107
#    london       284.122.108

loopback                 127
";

/// `drivers/etc/lmhosts.sam`, shortened.
const LMHOSTS: &str = "# Copyright (c) 1993-1999 Microsoft Corp.
#
# This is a sample LMHOSTS file used by the Microsoft TCP/IP for Windows.
#
# This file contains the mappings of IP addresses to computernames
# (NetBIOS) names.  Each entry should be kept on an individual line.
# The IP address should be placed in the first column followed by the
# corresponding computername.
#
# 102.54.94.97     rhino         #PRE #DOM:networking  #net group's DC
# 102.54.94.102    \"appname  \\0x14\"                    #special app server
# 102.54.94.123    popular            #PRE             #source server
# 102.54.94.117    localsrv           #PRE             #needed for the include
";

/// An ordinary PowerShell history, without a secret.
const HISTORY: &str = "Get-ChildItem
cd .\\Documents\\
Get-Service | Where-Object Status -eq Running
ipconfig /all
Test-NetConnection example.com -Port 443
winget upgrade --all
python -m pip install --upgrade pip
py -3.11 -m venv .venv
.\\.venv\\Scripts\\Activate.ps1
pip install requests pyyaml
npm install -g esbuild
esbuild --version
Get-ComputerInfo | Select-Object OsName, OsVersion
Get-Volume
Get-Content $env:USERPROFILE\\.gitconfig
Get-ExecutionPolicy -List
Set-ExecutionPolicy -Scope CurrentUser RemoteSigned
Get-Process | Sort-Object CPU -Descending | Select-Object -First 10
Restart-Computer
";

/// A `.reg` export of Explorer settings, as regedit writes it (UTF-16LE).
const REG_EXPORT: &str = "Windows Registry Editor Version 5.00

[HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\Advanced]
\"Hidden\"=dword:00000001
\"HideFileExt\"=dword:00000000
\"ShowSuperHidden\"=dword:00000000
\"LaunchTo\"=dword:00000001
\"TaskbarAl\"=dword:00000000
\"Start_TrackDocs\"=dword:00000001

[HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Themes\\Personalize]
\"AppsUseLightTheme\"=dword:00000000
\"SystemUsesLightTheme\"=dword:00000000
\"EnableTransparency\"=dword:00000001

[HKEY_CURRENT_USER\\Control Panel\\Desktop]
\"WallPaper\"=\"C:\\\\Windows\\\\Web\\\\Wallpaper\\\\Windows\\\\img0.jpg\"
\"ScreenSaveActive\"=\"1\"
";

/// Makes the NTFS file system holding `tree` and the GPT disk `disk` around it.
fn build_disk(tree: &Tree, disk: &Path, dir: &Path, tree_bytes: u64) -> Result<()> {
    // Room for the MFT (1 KiB a file), the cluster rounding of small files and free space.
    let size = (tree_bytes + tree_bytes / 4 + 256 * MIB).next_multiple_of(MIB);
    let volume = dir.join("ntfs.img");
    let _ = fs::remove_file(&volume);
    File::create(&volume)?.set_len(size)?;
    run_tool(
        Command::new("mkntfs")
            .args(["--force", "--quick", "--quiet", "--zero-time"])
            .args(["--sector-size", "512", "--cluster-size", "4096"])
            .arg(format!("--partition-start={}", PARTITION_START / SECTOR))
            .args(["--heads", "255", "--sectors-per-track", "63"])
            .args(["--label", "Windows"])
            .arg(&volume),
    )?;
    let mnt = dir.join("mnt");
    fs::create_dir_all(&mnt)?;
    {
        let mount = Mount::new(&volume, &mnt)?;
        println!(
            "copying the tree onto NTFS ({})",
            workspace::bytes(tree_bytes)
        );
        let mut copy = Command::new("cp");
        copy.arg("-r")
            .arg("--no-preserve=all")
            .arg(format!("{}/.", tree.root.display()))
            .arg(&mnt);
        run_tool(&mut copy)?;
        for (file, stream, bytes) in &tree.streams {
            fs::write(mnt.join(format!("{file}:{stream}")), bytes)
                .with_context(|| format!("writing the stream {file}:{stream}"))?;
        }
        mount.unmount()?;
    }
    let _ = fs::remove_file(disk);
    File::create(disk)?.set_len(size + 2 * MIB)?;
    let first = PARTITION_START / SECTOR;
    let last = first + size / SECTOR - 1;
    run_tool(
        Command::new("sgdisk")
            .arg("--clear")
            .arg("--disk-guid=3f2a4c6e-8b1d-4e7f-9a2c-5d6e7f8a9b0c")
            .arg(format!("--new=1:{first}:{last}"))
            .arg("--typecode=1:0700")
            .arg("--change-name=1:Basic data partition")
            .arg("--partition-guid=1:6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
            .arg(disk),
    )?;
    image::dd_into(&volume, disk, PARTITION_START)?;
    fs::remove_file(&volume)?;
    Ok(())
}

/// An ntfs-3g mount of a file system image, run in the foreground as a child so that unmounting
/// can wait until it has written everything; unmounted on drop if not before.
struct Mount {
    mnt: PathBuf,
    child: Option<Child>,
}

impl Mount {
    fn new(volume: &Path, mnt: &Path) -> Result<Mount> {
        let child = Command::new("ntfs-3g")
            .arg("-o")
            .arg("no_detach,streams_interface=windows,windows_names,silent")
            .arg(volume)
            .arg(mnt)
            .stdout(std::process::Stdio::null())
            .spawn()
            .context("starting ntfs-3g (needs root, /dev/fuse and the ntfs-3g package)")?;
        let mut mount = Mount {
            mnt: mnt.to_path_buf(),
            child: Some(child),
        };
        let started = Instant::now();
        while !mount.mounted()? {
            if let Some(status) = mount.child.as_mut().and_then(|c| c.try_wait().transpose()) {
                mount.child = None;
                bail!("ntfs-3g exited before mounting ({})", status?);
            }
            ensure!(
                started.elapsed() < Duration::from_secs(30),
                "ntfs-3g did not mount {} within 30 s",
                display(mnt)
            );
            thread::sleep(Duration::from_millis(100));
        }
        Ok(mount)
    }

    /// Whether the mount point is in this process's mount table.
    fn mounted(&self) -> Result<bool> {
        let table = fs::read_to_string("/proc/self/mountinfo")?;
        let needle = format!(" {} ", self.mnt.display());
        Ok(table.lines().any(|l| l.contains(&needle)))
    }

    /// Unmounts and waits for ntfs-3g to exit, which it does once the volume is written.
    fn unmount(mut self) -> Result<()> {
        run_tool(Command::new("umount").arg(&self.mnt))?;
        if let Some(mut child) = self.child.take() {
            let status = child.wait()?;
            ensure!(status.success(), "ntfs-3g exited with {status}");
        }
        Ok(())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("umount").arg(&self.mnt).status();
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_text_has_bom_and_crlf() {
        assert_eq!(utf16le("a\nb"), b"\xff\xfea\0\r\0\n\0b\0");
    }

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
