//! Where the report goes, `-o FILE`, under attack and under faults: a device or FIFO is written
//! as it is (`-o /dev/null` keeps its mode), no file the run reads is ever replaced, the
//! previous report survives an interrupted or failed run, a closed pipe ends the run
//! quietly, and a failed write is one message naming the output.

use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use snapsift_testkit::{
    Secrets, hashes_around, qemu_convert, qemu_overlay, run, unavailable, workdir,
};

use crate::common::faulty::FaultyFile;
use crate::common::*;

/// A raw disk of filler text with `n` AWS key IDs on it, one per 4 KiB; returns them.
fn disk_with_keys(path: &Path, n: usize) -> Vec<String> {
    let mut secrets = Secrets::new(77);
    let mut bytes = secrets.filler((n + 16) * 4096);
    let keys: Vec<String> = (0..n).map(|_| secrets.aws_key_id()).collect();
    for (i, key) in keys.iter().enumerate() {
        let line = format!("\nexport AWS_ACCESS_KEY_ID={key}\n");
        let at = (i + 8) * 4096;
        bytes[at..at + line.len()].copy_from_slice(line.as_bytes());
    }
    std::fs::write(path, bytes).unwrap();
    keys
}

/// Runs `snapsift ARGS...`; (exit status, standard error).
fn status_and_stderr(command: &mut Command) -> (i32, String) {
    let output = command.output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The files in `dir` whose names say they are snapsift's temporary files.
fn temporary_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".snapsift-"))
        .collect()
}

/// SHA-256 of the file at `path`, in hex.
fn sha256(path: &Path) -> String {
    hashes_around(&[path], &[])
        .remove(path)
        .expect("a regular file")
}

#[test]
fn dev_null_and_fifos_are_written_as_they_are_never_replaced_or_chmodded() {
    let dir = workdir();
    let disk = path_in(&dir, "disk.img");
    disk_with_keys(&disk, 3);
    let null = Path::new("/dev/null");
    let before = std::fs::metadata(null).unwrap();
    let (code, stderr) =
        status_and_stderr(snapsift().args(["scan", "-q", "-o"]).arg(null).arg(&disk));
    let after = std::fs::metadata(null).unwrap();
    if after.mode() != before.mode() {
        // Put the machine right before failing: every user needs /dev/null.
        std::fs::set_permissions(null, std::fs::Permissions::from_mode(before.mode())).unwrap();
    }
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(after.mode(), before.mode(), "the mode of /dev/null changed");
    assert_eq!((after.ino(), after.rdev()), (before.ino(), before.rdev()));
    assert!(after.file_type().is_char_device());

    // A FIFO with a reader: the report arrives through it, and it stays a FIFO, mode 0644.
    let fifo = path_in(&dir, "report.fifo");
    run("mkfifo", &["-m", "0644", fifo.to_str().unwrap()]);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let (code, stderr) = status_and_stderr(
        snapsift()
            .args(["scan", "-q", "--format", "jsonl", "-o"])
            .arg(&fifo)
            .arg(&disk),
    );
    assert_eq!(code, 1, "{stderr}");
    let report = reader.join().unwrap();
    assert_eq!(
        report.lines().count(),
        4,
        "3 findings and the coverage line"
    );
    let meta = std::fs::symlink_metadata(&fifo).unwrap();
    assert!(meta.file_type().is_fifo());
    assert_eq!(meta.mode() & 0o777, 0o644);
    assert!(temporary_files(dir.path()).is_empty());
}

/// A qcow2 overlay over a raw backing file, a VMDK whose descriptor names a flat extent, a
/// manifest, a baseline and a rule file; `-o` (or `--write-baseline`) naming any of them, or a
/// hard link to one, is refused and the file is unchanged.
#[test]
fn no_file_the_run_reads_is_ever_written_over() {
    let dir = workdir();
    let base = path_in(&dir, "base.raw");
    disk_with_keys(&base, 2);
    let overlay = path_in(&dir, "overlay.qcow2");
    qemu_overlay(&overlay, "base.raw", "raw", true);
    let vmdk_raw = path_in(&dir, "vmdk.raw");
    disk_with_keys(&vmdk_raw, 1);
    let vmdk = path_in(&dir, "disk.vmdk");
    qemu_convert(
        &vmdk_raw,
        "vmdk",
        &["-q", "-o", "subformat=monolithicFlat"],
        &vmdk,
    );
    let extent = path_in(&dir, "disk-flat.vmdk");
    assert!(
        extent.exists(),
        "qemu-img names the flat extent disk-flat.vmdk"
    );
    let baseline = path_in(&dir, "known.json");
    let (code, stderr) = status_and_stderr(
        snapsift()
            .args(["scan", "-q", "--write-baseline"])
            .arg(&baseline)
            .arg(&vmdk),
    );
    assert_eq!(code, 1, "{stderr}");
    let rules = path_in(&dir, "rules.toml");
    std::fs::write(&rules, "rule = []\n").unwrap();
    let manifest = path_in(&dir, "manifest.txt");
    std::fs::write(&manifest, format!("{}\n", vmdk.display())).unwrap();
    let link = path_in(&dir, "link-to-base");
    std::fs::hard_link(&base, &link).unwrap();

    let inputs = [
        "--manifest",
        manifest.to_str().unwrap(),
        "--baseline",
        baseline.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
        overlay.to_str().unwrap(),
    ];
    let hashes = hashes_around(&[&base], &[]);
    for victim in [&base, &link, &extent, &vmdk, &manifest, &baseline, &rules] {
        for option in ["-o", "--write-baseline"] {
            let (code, stderr) = status_and_stderr(
                snapsift()
                    .args(["scan", "-q", option])
                    .arg(victim)
                    .args(inputs),
            );
            assert_eq!(code, 2, "{option} {}: {stderr}", victim.display());
            assert!(
                stderr.contains(&format!(
                    "refusing to write findings to {}",
                    victim.display()
                )) && stderr.contains("which this run reads"),
                "{stderr}"
            );
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert_eq!(hashes_around(&[&base], &[]), hashes, "{}", victim.display());
            assert!(temporary_files(dir.path()).is_empty());
        }
    }

    // merge: never over a report it joins.
    let report = path_in(&dir, "report.jsonl");
    let (code, stderr) = status_and_stderr(
        snapsift()
            .args(["scan", "-q", "--format", "jsonl", "-o"])
            .arg(&report)
            .arg(&vmdk),
    );
    assert_eq!(code, 1, "{stderr}");
    let hash = sha256(&report);
    let (code, stderr) =
        status_and_stderr(snapsift().args(["merge", "-o"]).arg(&report).arg(&report));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("which this run reads"), "{stderr}");
    assert_eq!(sha256(&report), hash);
}

/// Spawns `snapsift scan --format FORMAT -o REPORT fast slow`, waits for its temporary
/// report file to appear and a little more (the fast image's findings are written), and
/// sends it `signal`; returns how it ended.
fn interrupt_scan(format: &str, report: &Path, images: &[&Path], signal: i32) -> ExitStatus {
    let dir = report.parent().unwrap();
    let mut child: Child = snapsift()
        .args(["scan", "-q", "--format", format, "-o"])
        .arg(report)
        .args(images)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while temporary_files(dir).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no temporary file appeared"
        );
        assert!(child.try_wait().unwrap().is_none(), "the scan ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the slow scan must still run"
    );
    // SAFETY: kill only sends a signal to the child, which is alive (not yet waited for).
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the scan did not end on signal {signal}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_interrupted_scan_leaves_the_previous_report_and_no_temporary_file() {
    let dir = workdir();
    let fast = path_in(&dir, "fast.img");
    disk_with_keys(&fast, 5);
    let source = path_in(&dir, "slow-source.img");
    disk_with_keys(&source, 2000);
    // Every read of the slow image waits 250 ms: its scan (dozens of reads even of 1 MiB)
    // takes far longer than the test waits.
    let slow = FaultyFile::mount_slow(&source, Duration::from_millis(250), dir.path());
    let out = workdir();
    for (format, signal, status) in [
        ("jsonl", libc::SIGINT, 130),
        ("text", libc::SIGTERM, 143),
        ("sarif", libc::SIGINT, 130),
    ] {
        let report = out.path().join(format!("report.{format}"));
        std::fs::write(&report, format!("the previous {format} report\n")).unwrap();
        let before = sha256(&report);
        let ended = interrupt_scan(format, &report, &[&fast, &slow.path], signal);
        assert_eq!(ended.code(), Some(status), "{format}: {ended:?}");
        assert_eq!(
            sha256(&report),
            before,
            "{format}: the previous report changed"
        );
        assert!(
            temporary_files(out.path()).is_empty(),
            "{:?}",
            temporary_files(out.path())
        );
    }
}

#[test]
fn a_closed_pipe_ends_the_scan_quietly_with_status_0() {
    let dir = workdir();
    let disk = path_in(&dir, "disk.img");
    disk_with_keys(&disk, 2000);
    // As a shell runs it: far more output than the pipe holds, and head reads one line.
    let script = format!(
        "'{}' scan --format jsonl '{}' | head -1 >/dev/null; echo \"status ${{PIPESTATUS[0]}}\" >&2",
        env!("CARGO_BIN_EXE_snapsift"),
        disk.display()
    );
    let output = Command::new("bash").args(["-c", &script]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert_eq!(last, "status 0", "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");

    // A pipe closed before the first write: every write fails with EPIPE.
    let mut fds = [0; 2];
    // SAFETY: pipe writes two new descriptors into the array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: each descriptor was just created and is owned once.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read_end);
    let output = snapsift()
        .args(["scan", "-q", "--format", "jsonl"])
        .arg(&disk)
        .stdout(Stdio::from(write_end))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_full_disk_is_one_message_naming_the_output_and_status_2() {
    let dir = workdir();
    let disk = path_in(&dir, "disk.img");
    disk_with_keys(&disk, 300);
    let (code, stderr) = status_and_stderr(
        snapsift()
            .args(["scan", "-q", "-o", "/dev/full"])
            .arg(&disk),
    );
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr.trim(),
        "snapsift: error: cannot write findings to /dev/full: No space left on device (os error 28)"
    );
    let output = snapsift()
        .args(["scan", "-q"])
        .arg(&disk)
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        "snapsift: error: cannot write findings to standard output: No space left on device \
         (os error 28)"
    );

    // A report file on a filesystem that fills up: the previous report stays.
    let mount = path_in(&dir, "tiny");
    std::fs::create_dir(&mount).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&mount)
        .output()
        .unwrap();
    if !mounted.status.success() {
        let why = String::from_utf8_lossy(&mounted.stderr);
        unavailable(&format!("cannot mount a tmpfs: {why}"));
        return;
    }
    let report = mount.join("report.jsonl");
    std::fs::write(&report, "the previous report\n").unwrap();
    let (code, stderr) = status_and_stderr(
        snapsift()
            .args(["scan", "-q", "--format", "jsonl", "-o"])
            .arg(&report)
            .arg(&disk),
    );
    let previous = std::fs::read_to_string(&report);
    let left = temporary_files(&mount);
    run("umount", &[mount.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr.trim(),
        format!(
            "snapsift: error: cannot write findings to {}: No space left on device (os error 28)",
            report.display()
        )
    );
    assert_eq!(previous.unwrap(), "the previous report\n");
    assert!(left.is_empty(), "{left:?}");
}
