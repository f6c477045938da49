//! A hostile image, a hostile path: an image naming the scanning machine's own files as its
//! backing file is refused (unless `--allow-path` allows them) and their secrets never
//! reported; a FIFO never hangs a scan; a container header at the start of a block device is
//! a note, and the whole device is swept as raw bytes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use snapsift_testkit::{
    Secrets, attach_or_skip, dd_into, offsets_of, qemu_overlay, run, sparse_file, workdir, write_at,
};

use crate::common::*;

const MIB: u64 = 1 << 20;

/// `dir/host/credentials`: a 1 MiB raw disk standing for a file of the scanning machine,
/// holding a generated connection string; returns its path and the string.
fn host_credentials(dir: &Path, seed: u64) -> (PathBuf, String) {
    let host = dir.join("host");
    fs::create_dir_all(&host).unwrap();
    let credentials = host.join("credentials");
    let mut secrets = Secrets::new(seed);
    fs::write(&credentials, secrets.filler(MIB as usize)).unwrap();
    let secret = secrets.postgres_uri();
    write_at(
        &credentials,
        4096,
        format!("\nDATABASE_URL={secret}\n").as_bytes(),
    );
    (credentials, secret)
}

/// Runs `snapsift ARGS...` under `timeout 20`: (exit status, stdout, stderr). A status of
/// 124 is the timeout's: the scan hung.
fn snapsift_within_seconds(args: &[&str]) -> (i32, String, String) {
    let output = Command::new("timeout")
        .arg("20")
        .arg(env!("CARGO_BIN_EXE_snapsift"))
        .args(args)
        .output()
        .unwrap();
    let code = output.status.code().unwrap_or(-1);
    assert_ne!(code, 124, "snapsift {args:?} hung");
    (
        code,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_backing_file_outside_the_image_directory_is_refused_unless_allowed() {
    let dir = workdir();
    let (credentials, secret) = host_credentials(dir.path(), 41);
    let images = dir.path().join("images");
    fs::create_dir(&images).unwrap();
    let top = images.join("top.qcow2");
    let reference = credentials.to_str().unwrap();
    qemu_overlay(&top, reference, "raw", false);
    let top_arg = top.to_str().unwrap();

    for format in ["text", "jsonl", "json", "sarif"] {
        let (code, stdout, stderr) =
            snapsift_within_seconds(&["scan", "--format", format, top_arg]);
        assert_eq!(code, 2, "{format}: {stdout}\n{stderr}");
        for part in [top_arg, reference, "--allow-path"] {
            assert!(stderr.contains(part), "{format}: {part} not in: {stderr}");
        }
        let host_dir = credentials.parent().unwrap().canonicalize().unwrap();
        assert!(
            stderr.contains(&format!("--allow-path {}", host_dir.display())),
            "{stderr}"
        );
        assert!(
            !stdout.contains(&secret) && !stderr.contains(&secret),
            "{format}: the host file's secret was reported:\n{stdout}\n{stderr}"
        );
    }

    // Allowed: the backing file is read, and its secret found through the overlay.
    let host = credentials.parent().unwrap();
    let scan = Scan::run(&[&top], &["--allow-path", host.to_str().unwrap()]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    assert_eq!(scan.only(&secret)["offset"], 4096 + 14);
}

#[test]
fn an_allow_path_that_is_not_a_directory_is_an_error() {
    let dir = workdir();
    let (credentials, _) = host_credentials(dir.path(), 42);
    let (code, _, stderr) = snapsift_run(&[
        "scan",
        "--allow-path",
        credentials.to_str().unwrap(),
        credentials.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--allow-path"), "{stderr}");
}

#[test]
fn a_fifo_never_hangs_a_scan() {
    let dir = workdir();
    let fifo = path_in(&dir, "fifo");
    run("mkfifo", &[fifo.to_str().unwrap()]);
    let top = path_in(&dir, "top.qcow2");
    qemu_overlay(&top, "fifo", "raw", false);
    let descriptor = path_in(&dir, "disk.vmdk");
    fs::write(
        &descriptor,
        "# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\nRW 2048 FLAT \"fifo\" 0\n",
    )
    .unwrap();
    // As the scan path, as a backing file, as an extent.
    for path in [&fifo, &top, &descriptor] {
        let (code, _, stderr) = snapsift_within_seconds(&["scan", path.to_str().unwrap()]);
        assert_eq!(code, 2, "{stderr}");
        assert!(
            stderr.contains(&format!("{}", fifo.display())) && stderr.contains("it is a FIFO"),
            "{stderr}"
        );
    }
}

/// The coverage record of a `--format jsonl` run's output.
fn coverage_of(stdout: &str) -> Value {
    stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find_map(|v| v.get("coverage").cloned())
        .expect("a coverage line")
}

/// Scans `device` in every format but SARIF and checks what is common to the runs: exit 1,
/// the note naming `header`, and never `forbidden`. Returns the JSON Lines run's findings'
/// (secret, offset) pairs.
fn scan_device_with_header(device: &Path, header: &str, forbidden: &str) -> Vec<(String, u64)> {
    let device = device.to_str().unwrap();
    let note = format!("the device carries a {header} header or footer, which was not followed");
    let (code, stdout, stderr) = snapsift_within_seconds(&["scan", "--format", "text", device]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stderr.contains(&format!("note: {note}")), "{stderr}");
    assert!(stdout.contains(&format!("note: {note}")), "{stdout}");
    assert!(!stdout.contains(forbidden) && !stderr.contains(forbidden));

    let (code, stdout, stderr) =
        snapsift_within_seconds(&["scan", "--quiet", "--format", "sarif", device]);
    assert_eq!(code, 1, "{stderr}");
    let sarif: Value = serde_json::from_str(&stdout).unwrap();
    let notifications = &sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"];
    assert!(
        notifications.as_array().unwrap().iter().any(|n| n["level"] == "note"
            && n["message"]["text"].as_str().unwrap().contains(&note)),
        "{notifications}"
    );

    let (code, stdout, stderr) =
        snapsift_within_seconds(&["scan", "--quiet", "--format", "jsonl", device]);
    assert_eq!(code, 1, "{stderr}");
    assert!(!stdout.contains(forbidden));
    let coverage = coverage_of(&stdout);
    assert_eq!(coverage["format"], "block device", "{coverage}");
    assert_eq!(coverage["complete"], true, "{coverage}");
    assert_eq!(
        coverage["scanned_bytes"], coverage["disk_size"],
        "{coverage}"
    );
    let notes = coverage["notes"].as_array().expect("notes");
    assert!(
        notes.iter().any(|n| n.as_str().unwrap().contains(&note)),
        "{coverage}"
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v.get("secret").is_some())
        .map(|v| {
            (
                v["secret"].as_str().unwrap().to_owned(),
                v["offset"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_qcow2_header_on_a_block_device_neither_hides_it_nor_opens_its_backing_file() {
    // The guest wrote an empty 1 MiB qcow2 at LBA 0 of its 32 MiB disk, naming a file of the
    // scanning machine as backing file; a connection string lies at 8 MiB.
    let dir = workdir();
    let (credentials, host_secret) = host_credentials(dir.path(), 43);
    let small = path_in(&dir, "small.qcow2");
    qemu_overlay(&small, credentials.to_str().unwrap(), "raw", false);
    let disk = path_in(&dir, "disk.img");
    sparse_file(&disk, 32 * MIB);
    dd_into(&disk, &small, 0);
    let secret = Secrets::new(44).postgres_uri();
    write_at(&disk, 8 * MIB, format!("\n{secret}\n").as_bytes());
    let Some(device) = attach_or_skip(&disk) else {
        return;
    };
    let found = scan_device_with_header(&device.device, "qcow2", &host_secret);
    assert_eq!(found, vec![(secret, 8 * MIB + 1)]);
}

#[test]
fn a_tar_on_a_block_device_is_swept() {
    // An OVA written to a device: its bytes, and the bytes after it, are all swept.
    let dir = workdir();
    let mut secrets = Secrets::new(45);
    let raw = path_in(&dir, "disk.img");
    fs::write(&raw, secrets.filler(MIB as usize)).unwrap();
    let inside = secrets.postgres_uri();
    write_at(&raw, 1000, format!("\n{inside}\n").as_bytes());
    let ova = path_in(&dir, "appliance.ova");
    run(
        "tar",
        &[
            "-C",
            dir.path().to_str().unwrap(),
            "-cf",
            ova.to_str().unwrap(),
            "disk.img",
        ],
    );
    let device_image = path_in(&dir, "device.img");
    sparse_file(&device_image, 8 * MIB);
    dd_into(&device_image, &ova, 0);
    let after = secrets.postgres_uri();
    write_at(&device_image, 6 * MIB, format!("\n{after}\n").as_bytes());
    let inside_at = offsets_of(&device_image, inside.as_bytes());
    assert_eq!(inside_at.len(), 1);
    let Some(device) = attach_or_skip(&device_image) else {
        return;
    };
    let mut found = scan_device_with_header(&device.device, "tar (OVA)", "\u{0}never\u{0}");
    found.sort_by_key(|(_, offset)| *offset);
    assert_eq!(found, vec![(inside, inside_at[0]), (after, 6 * MIB + 1)]);
}
