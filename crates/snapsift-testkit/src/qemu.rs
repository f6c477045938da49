//! `qemu-img` and `qemu-io`: real images of every container format, and the independent
//! oracle of what a virtual disk holds.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::run;

/// Runs `qemu-img ARGS...`, failing the test if it fails.
pub fn qemu_img(args: &[&str]) -> Output {
    run("qemu-img", args)
}

/// Runs `qemu-io -f FORMAT -c COMMAND... IMAGE`: writes (`write -P 0x11 0 64k`), discards
/// and reads through qemu's own driver.
pub fn qemu_io(image: &Path, format: &str, commands: &[&str]) {
    let mut args = vec!["-f", format];
    for command in commands {
        args.extend(["-c", command]);
    }
    args.push(image.to_str().unwrap());
    run("qemu-io", &args);
}

/// `qemu-img convert -f raw -O FORMAT ARGS... RAW IMAGE`: a real image of the raw file `raw`
/// in `format`; `args` adds options (`["-o", "subformat=streamOptimized"]`, `["-c"]`).
pub fn qemu_convert(raw: &Path, format: &str, args: &[&str], image: &Path) {
    let mut all = vec!["convert", "-f", "raw", "-O", format];
    all.extend_from_slice(args);
    all.extend([raw.to_str().unwrap(), image.to_str().unwrap()]);
    qemu_img(&all);
}

/// Converts `image` to the raw file `dir/NAME.oracle.raw` with `qemu-img convert -O raw`
/// (`-f FORMAT` where `format` is given: qemu probes a fixed VHD as raw): the independent
/// oracle of the virtual disk's bytes. Returns its path.
pub fn qemu_to_raw(image: &Path, format: Option<&str>, dir: &Path) -> PathBuf {
    let raw = dir.join(format!(
        "{}.oracle.raw",
        image.file_name().unwrap().to_string_lossy()
    ));
    let mut args = vec!["convert"];
    if let Some(format) = format {
        args.extend(["-f", format]);
    }
    args.extend(["-O", "raw", image.to_str().unwrap(), raw.to_str().unwrap()]);
    qemu_img(&args);
    raw
}

/// `qemu-img create -q -f qcow2 -b BACKING -F FORMAT [-u] IMAGE [1M]`: an empty qcow2 overlay
/// naming `backing` exactly as written. With `checked`, qemu opens the backing file (which
/// must exist) and the overlay takes its size; without (`-u`), the name is written as is and
/// the overlay is 1 MiB, for names that must not resolve.
pub fn qemu_overlay(image: &Path, backing: &str, backing_format: &str, checked: bool) {
    let mut args = vec!["create", "-q", "-f", "qcow2", "-b", backing];
    args.extend(["-F", backing_format]);
    if !checked {
        args.push("-u");
    }
    args.push(image.to_str().unwrap());
    if !checked {
        args.push("1M");
    }
    qemu_img(&args);
}

/// `qemu-img map --output=json IMAGE`: where qemu says each stretch of the virtual disk lies
/// in the image file (`start`, `length`, `data`, `offset`).
pub fn qemu_map(image: &Path) -> Vec<Value> {
    let map = qemu_img(&["map", "--output=json", image.to_str().unwrap()]);
    serde_json::from_slice(&map.stdout).unwrap()
}
