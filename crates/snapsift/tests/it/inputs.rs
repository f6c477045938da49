//! The files a user names besides the images (a manifest, a baseline, a rule file, reports
//! to merge) and the knobs of a run: nothing blocks (a FIFO or device is refused within
//! seconds), nothing is read without a limit (each limit is an error naming it), and two image
//! paths are always two names, whatever bytes they hold.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

use snapsift_testkit::{Secrets, run, workdir};

use crate::common::*;

/// Seconds after which a run is taken to hang.
const HANG: &str = "20";

/// `snapsift ARGS...` under `timeout`: (exit status, standard error); 124 if it hung.
fn run_timed(args: &[&OsStr]) -> (i32, String) {
    let output = Command::new("timeout")
        .args(["-s", "KILL", HANG])
        .arg(env!("CARGO_BIN_EXE_snapsift"))
        .args(args)
        .output()
        .unwrap();
    let code = output.status.code().unwrap_or(124);
    (code, String::from_utf8_lossy(&output.stderr).into_owned())
}

/// `run_timed` of string arguments.
fn snapsift_timed(args: &[&str]) -> (i32, String) {
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    run_timed(&args)
}

/// A raw disk of filler text with one AWS key ID on it; returns the key.
fn small_disk(path: &Path, seed: u64) -> String {
    let mut secrets = Secrets::new(seed);
    let key = secrets.aws_key_id();
    let mut bytes = secrets.filler(1 << 20);
    let line = format!("\nAWS_ACCESS_KEY_ID={key}\n");
    bytes[4096..4096 + line.len()].copy_from_slice(line.as_bytes());
    std::fs::write(path, bytes).unwrap();
    key
}

#[test]
fn fifos_and_devices_named_as_inputs_are_refused_at_once() {
    let dir = workdir();
    let disk = path_in(&dir, "disk.img");
    small_disk(&disk, 1);
    let fifo = path_in(&dir, "input.fifo");
    run("mkfifo", &[fifo.to_str().unwrap()]);
    let (fifo, disk) = (fifo.to_str().unwrap(), disk.to_str().unwrap());
    for (args, what) in [
        (vec!["scan", "--manifest", fifo], "the manifest"),
        (vec!["scan", "--baseline", fifo, disk], "baseline"),
        (vec!["scan", "--rules", fifo, disk], "rule file"),
        (vec!["rules", "check", fifo], "rule file"),
        (vec!["rules", "list", "--rules", fifo], "rule file"),
        (vec!["merge", fifo], "report"),
    ] {
        let (code, stderr) = snapsift_timed(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("{what} {fifo} is a FIFO, not a regular file")),
            "{args:?}: {stderr}"
        );
    }
    for device in ["/dev/zero", "/dev/urandom"] {
        for args in [
            vec!["merge", device],
            vec!["scan", "--manifest", device],
            vec!["scan", "--baseline", device, disk],
        ] {
            let (code, stderr) = snapsift_timed(&args);
            assert_eq!(code, 2, "{args:?}: {stderr}");
            assert!(
                stderr.contains("is a character device, not a regular file"),
                "{args:?}: {stderr}"
            );
        }
    }
}

/// A FIFO listed in a manifest fails alone: the images after it are scanned. (The disk
/// layer opens images without blocking.)
#[test]
fn a_fifo_in_a_manifest_does_not_stall_the_images_after_it() {
    let dir = workdir();
    let disk = path_in(&dir, "disk.img");
    let key = small_disk(&disk, 2);
    let fifo = path_in(&dir, "image.fifo");
    run("mkfifo", &[fifo.to_str().unwrap()]);
    let manifest = path_in(&dir, "manifest.txt");
    std::fs::write(
        &manifest,
        format!("{}\n{}\n", fifo.display(), disk.display()),
    )
    .unwrap();
    let output = Command::new("timeout")
        .args(["-s", "KILL", HANG])
        .arg(env!("CARGO_BIN_EXE_snapsift"))
        .args(["scan", "-q", "--format", "jsonl", "--manifest"])
        .arg(&manifest)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("FIFO"), "{stderr}");
    assert!(String::from_utf8_lossy(&output.stdout).contains(&key));
}

#[test]
fn knobs_and_inputs_have_limits_each_error_names() {
    let dir = workdir();
    let disk = path_in(&dir, "disk.img");
    small_disk(&disk, 3);
    let disk_arg = disk.to_str().unwrap();

    let (code, stderr) = snapsift_timed(&["scan", "--threads", "100000", disk_arg]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--threads") && stderr.contains("0..=1024"),
        "{stderr}"
    );
    let (code, stderr) = snapsift_timed(&["scan", "-q", "--threads", "1024", disk_arg]);
    assert_eq!(code, 1, "{stderr}");
    let help = snapsift_run(&["scan", "--help"]).1;
    assert!(help.contains("at most 1024"), "{help}");
    assert!(help.contains("N at most 1000000"), "{help}");

    let (code, stderr) = snapsift_timed(&["scan", "--shard", "0/100000000", disk_arg]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--shard") && stderr.contains("at most 1000000"),
        "{stderr}"
    );

    // Files read whole: 64 MiB at most, refused before being read.
    let big = path_in(&dir, "big");
    std::fs::File::create(&big)
        .unwrap()
        .set_len((64 << 20) + 1)
        .unwrap();
    let big = big.to_str().unwrap();
    for (args, what) in [
        (vec!["scan", "--manifest", big], "the manifest"),
        (vec!["scan", "--baseline", big, disk_arg], "baseline"),
        (vec!["scan", "--rules", big, disk_arg], "rule file"),
    ] {
        let (code, stderr) = snapsift_timed(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("{what} {big} is larger than 64 MiB")),
            "{args:?}: {stderr}"
        );
    }
    // Reports are read line by line, a line at most 16 MiB.
    let endless = path_in(&dir, "endless.jsonl");
    std::fs::File::create(&endless)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let (code, stderr) = snapsift_timed(&["merge", endless.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("line 1: longer than 16 MiB"), "{stderr}");
}

/// The memory of `--shard K/N` does not grow with N: the plan never holds N cuts.
#[test]
fn a_million_shards_take_no_more_memory_than_one() {
    let dir = workdir();
    let disk = path_in(&dir, "disk.img");
    small_disk(&disk, 4);
    let peak_rss_kib = |shard: &str| -> u64 {
        let output = Command::new("/usr/bin/time")
            .args(["-f", "%M"])
            .arg(env!("CARGO_BIN_EXE_snapsift"))
            .args(["scan", "-q", "--threads", "1", "--shard", shard])
            .arg(&disk)
            .output()
            .expect("GNU time is installed (apt-get install time)");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.code().is_some_and(|c| c <= 1), "{stderr}");
        stderr.lines().last().unwrap().trim().parse().unwrap()
    };
    let one = peak_rss_kib("0/1");
    let million = peak_rss_kib("999999/1000000");
    assert!(
        million < one + 2048,
        "1,000,000 shards: {million} KiB; one: {one} KiB"
    );
}

#[test]
fn two_paths_that_are_not_utf8_are_two_images() {
    let dir = workdir();
    let a = dir.path().join(OsStr::from_bytes(b"disk-\xff.img"));
    let b = dir.path().join(OsStr::from_bytes(b"disk-\xfe.img"));
    let key_a = small_disk(&a, 5);
    let key_b = small_disk(&b, 6);
    let scan = Scan::run(&[&a, &b], &[]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    let dir_name = dir.path().display();
    let names: Vec<&str> = scan
        .coverage
        .iter()
        .map(|c| c["image"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            format!("{dir_name}/disk-\\xff.img"),
            format!("{dir_name}/disk-\\xfe.img")
        ]
    );
    assert_eq!(scan.only(&key_a)["image"], names[0]);
    assert_eq!(scan.only(&key_b)["image"], names[1]);

    // Listed in a manifest, byte for byte, they are the same two.
    let manifest = path_in(&dir, "manifest.txt");
    let mut text = a.as_os_str().as_bytes().to_vec();
    text.push(b'\n');
    text.extend(b.as_os_str().as_bytes());
    std::fs::write(&manifest, text).unwrap();
    let (code, stdout, stderr) = snapsift_run(&[
        "scan",
        "-q",
        "--format",
        "jsonl",
        "--manifest",
        manifest.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    let listed: Vec<String> = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|v| v["coverage"]["image"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(listed, names);
}
