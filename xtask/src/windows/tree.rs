//! The Windows-like directory tree: where each file goes, from the packages or written here,
//! and where each came from.

use std::collections::{HashMap, HashSet};
use std::fs::{self};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};

use crate::shared::rng::Prng;

use super::USER;
use super::sources::DEBS;
use super::sources::Sources;
use super::texts::{
    HISTORY, HOSTS, INBOX_MODULES, LMHOSTS, NETWORKS, PROGRAM_FILES_MODULES, PROTOCOL_HEADER,
    REG_EXPORT, SERVICES_HEADER, cbs_log, dism_log, module_manifest, setup_log, setupapi_log,
};

/// The tree being put together: a directory on the host, where each file came from, and the
/// alternate data streams to add once it is on NTFS.
pub(super) struct Tree {
    pub(super) root: PathBuf,
    /// Path in the tree (no leading '/') to where the file came from.
    pub(super) origin: HashMap<String, String>,
    /// Lowercased paths taken, so that no two differ only in case (Windows could not tell).
    taken: HashSet<String>,
    /// (file, stream name, contents).
    pub(super) streams: Vec<(String, String, Vec<u8>)>,
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
pub(super) fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
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
pub(super) fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

/// `text` as UTF-16LE with a byte order mark and CRLF line ends.
pub(super) fn utf16le(text: &str) -> Vec<u8> {
    let text = crlf(text);
    let mut out = vec![0xff, 0xfe];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

/// Puts the tree together in `root` (rebuilt from scratch).
pub(super) fn build_tree(sources: &Sources, root: &Path) -> Result<Tree> {
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
pub(super) fn skeleton(tree: &Tree) -> Result<()> {
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
pub(super) fn system_files(tree: &mut Tree, sources: &Sources) -> Result<()> {
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
pub(super) fn dotnet(tree: &mut Tree, sources: &Sources) -> Result<()> {
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
pub(super) fn programs(tree: &mut Tree, sources: &Sources) -> Result<()> {
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
pub(super) fn written_text(tree: &mut Tree, sources: &Sources, rng: &mut Prng) -> Result<()> {
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
pub(super) fn user_profile(tree: &mut Tree, sources: &Sources, rng: &mut Prng) -> Result<()> {
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
pub(super) fn strip_comments(text: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_text_has_bom_and_crlf() {
        assert_eq!(utf16le("a\nb"), b"\xff\xfea\0\r\0\n\0b\0");
    }
}
