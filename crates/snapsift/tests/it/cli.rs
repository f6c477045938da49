//! The command line as a user meets it: exit statuses, error messages, output files, redaction,
//! formats and progress.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use snapsift_testkit::{Secrets, offsets_of, sparse_file, workdir, write_at};

use crate::common::*;

/// A small disk of filler text with one AWS key ID and one PostgreSQL URI on it.
fn small_disk(path: &Path) -> (String, String) {
    let mut secrets = Secrets::new(5);
    let (aws, pg) = (secrets.aws_key_id(), secrets.postgres_uri());
    let mut bytes = secrets.filler(1 << 20);
    let line = format!("\nexport AWS_ACCESS_KEY_ID={aws}\nDATABASE_URL={pg}\n");
    bytes[300_000..300_000 + line.len()].copy_from_slice(line.as_bytes());
    std::fs::write(path, bytes).unwrap();
    (aws, pg)
}

fn stderr_of(command: &mut Command) -> (i32, String, String) {
    let output = command.output().unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_clean_disk_exits_0_and_prints_nothing() {
    let dir = workdir();
    let disk = path_in(&dir, "zeros.img");
    std::fs::write(&disk, vec![0u8; 3 << 20]).unwrap();
    let scan = Scan::run(&[&disk], &[]);
    assert_eq!(scan.code, 0);
    assert!(scan.findings.is_empty());
    assert!(
        scan.stderr.is_empty(),
        "--quiet prints nothing: {}",
        scan.stderr
    );
}

#[test]
fn findings_exit_1_with_every_jsonl_field() {
    let dir = workdir();
    let disk = path_in(&dir, "disk.img");
    let (aws, pg) = small_disk(&disk);
    let scan = Scan::run(&[&disk], &[]);
    assert_eq!(scan.code, 1);
    assert_eq!(scan.findings.len(), 2);
    let f = &scan.findings[0];
    assert_eq!(f["rule"], "aws.access-key-id");
    assert_eq!(f["rule_name"], "AWS access key ID");
    assert_eq!(f["confidence"], "high");
    assert_eq!(f["secret"], aws.as_str());
    assert_eq!(f["offset"], offsets_of(&disk, aws.as_bytes())[0]);
    assert_eq!(f["length"], 20);
    assert_eq!(
        f["context"],
        format!("export AWS_ACCESS_KEY_ID={aws}").as_str()
    );
    assert_eq!(f["image"], disk.to_str().unwrap());
    assert_eq!(scan.findings[1]["secret"], pg.as_str());
    assert_eq!(
        scan.findings[1]["context"],
        format!("DATABASE_URL={pg}").as_str()
    );
}

#[test]
fn only_runs_the_rules_it_names_and_refuses_unknown_ones() {
    let dir = workdir();
    let disk = path_in(&dir, "disk.img");
    let (aws, _) = small_disk(&disk);
    let scan = Scan::run(&[&disk], &["--only", "aws.*,private-key.rsa"]);
    assert_eq!(scan.code, 1);
    assert_eq!(scan.findings.len(), 1, "{:?}", scan.findings);
    assert_eq!(scan.findings[0]["secret"], aws.as_str());
    let scan = Scan::run(&[&disk], &["--only", "private-key.*"]);
    assert_eq!((scan.code, scan.findings.len()), (0, 0));
    let (code, _, stderr) = stderr_of(snapsift().args(["scan", "--only", "aws.nope"]).arg(&disk));
    assert_eq!(code, 2);
    assert!(stderr.contains("no rule is \"aws.nope\""), "{stderr}");
}

#[test]
fn text_output_says_where_and_what() {
    let dir = workdir();
    let disk = path_in(&dir, "disk.img");
    let (aws, _) = small_disk(&disk);
    let offset = offsets_of(&disk, aws.as_bytes())[0];
    let (code, stdout, _) = stderr_of(snapsift().args(["scan", "-q"]).arg(&disk));
    assert_eq!(code, 1);
    assert!(
        stdout.contains(&format!(
            "{}  offset {offset} ({offset:#x})  20 bytes",
            disk.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("aws.access-key-id [high] AWS access key ID"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("  secret:  {aws}")), "{stdout}");
    assert!(
        stdout.contains(&format!("  context: export AWS_ACCESS_KEY_ID={aws}")),
        "{stdout}"
    );
}

#[test]
fn errors_name_the_path_and_the_cause_and_exit_2() {
    let dir = workdir();
    let empty = path_in(&dir, "empty.img");
    std::fs::write(&empty, b"").unwrap();
    let cases: [(&Path, &str); 4] = [
        (
            Path::new("/nonexistent/disk.img"),
            "cannot open /nonexistent/disk.img: No such file or directory",
        ),
        (
            dir.path(),
            "is not a disk image or block device: it is a directory",
        ),
        (
            Path::new("/dev/null"),
            "/dev/null is not a disk image or block device: it is a character device",
        ),
        (
            &empty,
            "is not a disk image or block device: it is empty (0 bytes)",
        ),
    ];
    for (path, message) in cases {
        let (code, stdout, stderr) = stderr_of(snapsift().arg("scan").arg(path));
        assert_eq!(code, 2, "{path:?}");
        // The report says which image it lacks, and why.
        assert!(stdout.starts_with("coverage:\n"), "{stdout}");
        assert!(stdout.contains("not scanned: "), "{stdout}");
        assert!(stdout.contains(message), "{stdout}");
        assert!(stderr.contains(message), "{path:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn permission_denied_is_reported() {
    let dir = workdir();
    let disk = path_in(&dir, "private.img");
    small_disk(&disk);
    std::fs::set_permissions(&disk, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // Root reads everything; run the scan as an unprivileged user instead.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        let (code, _, stderr) = stderr_of(snapsift().arg("scan").arg(&disk));
        assert_eq!(
            code,
            if stderr.contains("Permission denied") {
                2
            } else {
                1
            }
        );
        return;
    }
    let (code, _, stderr) = stderr_of(
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_snapsift"))
            .arg("scan")
            .arg(&disk),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot open {}: Permission denied",
            disk.display()
        )),
        "{stderr}"
    );
}

#[test]
fn one_bad_path_does_not_stop_the_others() {
    let dir = workdir();
    let disk = path_in(&dir, "disk.img");
    small_disk(&disk);
    let missing = path_in(&dir, "missing.img");
    let scan = Scan::run(&[&missing, &disk], &[]);
    assert_eq!(scan.code, 2, "an error wins over findings");
    assert_eq!(scan.findings.len(), 2, "the good disk is still scanned");
    assert!(scan.stderr.contains("missing.img"), "{}", scan.stderr);
}

#[test]
fn output_file_is_0600_even_when_it_existed() {
    let dir = workdir();
    let disk = path_in(&dir, "disk.img");
    let (aws, _) = small_disk(&disk);
    let out = path_in(&dir, "findings.jsonl");
    std::fs::write(&out, "old contents").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, stdout, _) = stderr_of(
        snapsift()
            .args(["scan", "-q", "--format", "jsonl", "-o"])
            .arg(&out)
            .arg(&disk),
    );
    assert_eq!(code, 1);
    assert!(stdout.is_empty(), "findings go to the file, not stdout");
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(!written.contains("old contents"));
    // Two findings and the coverage line.
    assert_eq!(written.lines().count(), 3);
    assert!(written.contains(&aws));

    let fresh = path_in(&dir, "fresh.txt");
    let (code, _, _) = stderr_of(snapsift().args(["scan", "-q", "-o"]).arg(&fresh).arg(&disk));
    assert_eq!(code, 1);
    assert_eq!(
        std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn output_never_overwrites_the_scanned_disk() {
    let dir = workdir();
    let disk = path_in(&dir, "disk.img");
    small_disk(&disk);
    let before = std::fs::read(&disk).unwrap();
    let (code, _, stderr) = stderr_of(snapsift().args(["scan", "-o"]).arg(&disk).arg(&disk));
    assert_eq!(code, 2);
    assert!(stderr.contains("refusing to write findings"), "{stderr}");
    assert_eq!(std::fs::read(&disk).unwrap(), before);

    let link = path_in(&dir, "link.jsonl");
    std::os::unix::fs::symlink(&disk, &link).unwrap();
    let (code, _, stderr) = stderr_of(snapsift().args(["scan", "-o"]).arg(&link).arg(&disk));
    assert_eq!(code, 2);
    assert!(stderr.contains("it is a symbolic link"), "{stderr}");
    assert_eq!(std::fs::read(&disk).unwrap(), before);
}

#[test]
fn redact_leaves_no_secret_in_any_format() {
    let dir = workdir();
    let disk = path_in(&dir, "disk.img");
    let (aws, pg) = small_disk(&disk);
    let password = pg.split(['@', ':']).nth(2).unwrap().to_owned();
    assert_eq!(password.len(), 16);
    for format in ["text", "jsonl"] {
        let (code, stdout, stderr) = stderr_of(
            snapsift()
                .args(["scan", "--redact", "--format", format])
                .arg(&disk),
        );
        assert_eq!(code, 1);
        for secret in [&aws[4..], password.as_str(), pg.as_str()] {
            assert!(
                !stdout.contains(secret),
                "{format} shows {secret}: {stdout}"
            );
            assert!(!stderr.contains(secret));
        }
        assert!(stdout.contains("AKIA****"), "{stdout}");
    }
}

#[test]
fn no_progress_bar_when_stderr_is_not_a_terminal() {
    let dir = workdir();
    let disk = path_in(&dir, "disk.img");
    small_disk(&disk);
    let (_, _, stderr) = stderr_of(snapsift().arg("scan").arg(&disk));
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "the layout and the summary: {stderr:?}");
    assert!(
        lines[0].ends_with("no partition table or filesystem recognised: raw sweep only"),
        "{stderr}"
    );
    assert!(lines[1].contains("2 finding(s)"), "{stderr}");
    assert!(
        !stderr.contains('\r') && !stderr.contains('\x1b'),
        "{stderr:?}"
    );
}

#[test]
fn progress_bar_on_a_terminal() {
    let dir = workdir();
    let disk = path_in(&dir, "disk.img");
    // Enough work for the bar to draw: 256 MiB in small chunks on one thread.
    std::fs::write(&disk, Secrets::new(3).filler(256 << 20)).unwrap();
    let command = format!(
        "{} scan --threads 1 --chunk-size 1048576 {}",
        env!("CARGO_BIN_EXE_snapsift"),
        disk.display()
    );
    // `script` runs the command on a pseudo-terminal and copies what it shows to stdout.
    let (code, shown, _) = stderr_of(Command::new("script").args(["-qfec", &command, "/dev/null"]));
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains("MiB/256.00 MiB") && shown.contains("ETA"),
        "{shown:?}"
    );

    let quiet = format!("{command} --quiet");
    let (_, shown, _) = stderr_of(Command::new("script").args(["-qfec", &quiet, "/dev/null"]));
    assert!(shown.is_empty(), "{shown:?}");
}

#[test]
fn sparse_images_are_scanned_by_their_data() {
    let dir = workdir();
    let disk = path_in(&dir, "sparse.img");
    sparse_file(&disk, 4 << 30);
    let mut secrets = Secrets::new(8);
    let planted = [
        (0u64, secrets.aws_key_id()),
        (1 << 30, secrets.postgres_uri()),
        ((4 << 30) - 20, secrets.aws_key_id()),
    ];
    for (offset, secret) in &planted {
        write_at(&disk, *offset, secret.as_bytes());
    }
    let output = snapsift()
        .args(["scan", "--format", "jsonl"])
        .arg(&disk)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let offsets: Vec<u64> = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("coverage").is_none())
        .map(|v| v["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, planted.iter().map(|p| p.0).collect::<Vec<_>>());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("(raw image file, 4.00 GiB)"), "{stderr}");
    // Only the allocated blocks are read, not 4 GiB of holes.
    assert!(
        stderr.contains(" KiB of data scanned") || stderr.contains(" MiB of data scanned"),
        "{stderr}"
    );
}
