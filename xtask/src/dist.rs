//! `cargo xtask dist`: the static release build of snapsift, checked in an empty root.
//!
//! Builds `snapsift` for `x86_64-unknown-linux-musl` (Rust's musl target links statically;
//! the C parts, zstd, xz and bzip2, are compiled with `musl-gcc` from Debian's musl-tools),
//! stripped, and checks what a container `FROM scratch` needs:
//! * the ELF file asks for no program interpreter (no dynamic loader, no shared libc);
//! * run as root, it scans the sample disk inside a `chroot` holding nothing but itself
//!   and the image, and finds the sample's secrets (not as root: the same scan, outside a
//!   chroot, and a note).
//!
//! Output: `target/dist/snapsift` and `target/dist/snapsift-VERSION-x86_64-unknown-linux-musl.tar.gz`.
//! The `Dockerfile` at the root runs this in its build stage.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::shared::sample_disk;
use crate::shared::workspace::{self, display, is_root, on_path, run_tool};

/// The target of the static build.
const TARGET: &str = "x86_64-unknown-linux-musl";

/// Builds, checks and packs the static binary.
pub fn run() -> Result<()> {
    let installed = run_tool(Command::new("rustup").args(["target", "list", "--installed"]))?;
    if !String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|t| t.trim() == TARGET)
    {
        run_tool(Command::new("rustup").args(["target", "add", TARGET])).with_context(|| {
            format!("the {TARGET} target is needed: rustup target add {TARGET}")
        })?;
    }
    if !on_path("musl-gcc") {
        bail!(
            "musl-gcc is needed to compile the C libraries statically: apt-get install musl-tools"
        );
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "snapsift",
            "--target",
            TARGET,
        ])
        // The cc crate would look for x86_64-linux-musl-gcc; Debian names it musl-gcc.
        .env("CC_x86_64_unknown_linux_musl", "musl-gcc")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "symbols")
        .current_dir(workspace::root())
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("the static build failed ({status})");
    }
    let built = workspace::target_dir()
        .join(TARGET)
        .join("release")
        .join("snapsift");
    let elf = fs::read(&built).with_context(|| format!("reading {}", display(&built)))?;
    if let Some(interpreter) = interpreter(&elf)? {
        bail!(
            "{} is not static: it asks for the program interpreter {interpreter}",
            display(&built)
        );
    }
    let dist = workspace::target_dir().join("dist");
    fs::create_dir_all(&dist)?;
    let binary = dist.join("snapsift");
    fs::copy(&built, &binary)?;
    println!(
        "{}: static (no program interpreter), {:.1} MiB",
        display(&binary),
        elf.len() as f64 / f64::from(1 << 20)
    );
    smoke_test(&binary, &dist)?;

    let version = String::from_utf8(run_tool(Command::new(&binary).arg("--version"))?.stdout)?;
    let version = version.trim().trim_start_matches("snapsift ").to_owned();
    let archive = dist.join(format!("snapsift-{version}-{TARGET}.tar.gz"));
    run_tool(
        Command::new("tar")
            .arg("-czf")
            .arg(&archive)
            .arg("-C")
            .arg(&dist)
            .arg("snapsift"),
    )?;
    println!("{}", display(&archive));
    Ok(())
}

/// Scans the sample disk with `binary`: in a chroot holding only the two of them when run as
/// root, so that nothing of the build machine (a libc, /proc, /etc) can be what makes it work.
fn smoke_test(binary: &Path, dist: &Path) -> Result<()> {
    let image = sample_disk::unpacked_sample()?;
    let root_dir = dist.join("empty-root");
    if root_dir.exists() {
        fs::remove_dir_all(&root_dir)?;
    }
    fs::create_dir_all(&root_dir)?;
    fs::copy(binary, root_dir.join("snapsift"))?;
    fs::copy(&image, root_dir.join("sample-disk.img"))?;
    let root = is_root();
    let output = if root {
        Command::new("chroot")
            .arg(&root_dir)
            .args([
                "/snapsift",
                "scan",
                "--quiet",
                "--format",
                "jsonl",
                "/sample-disk.img",
            ])
            .output()
    } else {
        println!("note: not root, so the static binary is tried outside a chroot");
        Command::new(root_dir.join("snapsift"))
            .args(["scan", "--quiet", "--format", "jsonl"])
            .arg(root_dir.join("sample-disk.img"))
            .output()
    }
    .context("running the static binary")?;
    fs::remove_dir_all(&root_dir)?;
    let findings = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| l.contains("\"rule\""))
        .count();
    if output.status.code() != Some(1) || findings == 0 {
        bail!(
            "the static binary's scan of the sample disk found {findings} secrets ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    println!(
        "the static binary found {findings} secrets in the sample disk{}",
        if root {
            ", in a chroot with nothing else"
        } else {
            ""
        }
    );
    Ok(())
}

/// The program interpreter an ELF64 little-endian executable names (`PT_INTERP`), if any.
fn interpreter(elf: &[u8]) -> Result<Option<String>> {
    const PT_INTERP: u32 = 3;
    let field = |at: usize, len: usize| -> Result<u64> {
        let bytes = elf
            .get(at..at.checked_add(len).context("ELF offset overflow")?)
            .context("truncated ELF file")?;
        Ok(bytes
            .iter()
            .rev()
            .fold(0u64, |v, &b| (v << 8) | u64::from(b)))
    };
    if elf.get(..6) != Some(b"\x7fELF\x02\x01") {
        bail!("not an ELF64 little-endian file");
    }
    let phoff = usize::try_from(field(0x20, 8)?)?;
    let phentsize = usize::try_from(field(0x36, 2)?)?;
    let phnum = usize::try_from(field(0x38, 2)?)?;
    for i in 0..phnum {
        let header = phoff
            .checked_add(i.checked_mul(phentsize).context("ELF header overflow")?)
            .context("ELF header overflow")?;
        if field(header, 4)? == u64::from(PT_INTERP) {
            let offset = usize::try_from(field(header + 8, 8)?)?;
            let size = usize::try_from(field(header + 32, 8)?)?;
            let name = elf
                .get(offset..offset.saturating_add(size))
                .context("truncated ELF file")?;
            return Ok(Some(
                String::from_utf8_lossy(name)
                    .trim_end_matches('\0')
                    .to_owned(),
            ));
        }
    }
    Ok(None)
}
